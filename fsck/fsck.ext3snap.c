// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.ext3snap: check an ext3snap filesystem.
 *
 * Takes e2fsck's options and exit codes, so 'fsck -t ext3snap DEV' works.
 * It refuses a filesystem ext3snap does not handle, then hands the
 * ordinary checks to e2fsck itself rather than re-implementing them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libext3snap.h"

/* e2fsck's exit codes (see e2fsck(8)). */
#define FSCK_ERROR	8
#define FSCK_USAGE	16

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fsck.ext3snap [-n|-p|-a|-y] [-f] [-v] [e2fsck options] DEVICE\n"
		"\n"
		"Checks an ext3 filesystem used with ext3snap: refuses formats ext3snap\n"
		"does not handle, then runs e2fsck with the same options. Exit codes are\n"
		"e2fsck's (0 clean, 1 fixed, 4 left uncorrected, 8 operational error,\n"
		"16 usage error).\n");
}

int main(int argc, char **argv)
{
	char msg[E3S_MSG_LEN];
	const char *dev = NULL;
	char **args;
	int i;

	if (argc < 2) {
		usage(stderr);
		return FSCK_USAGE;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
	}
	/* The device is e2fsck's last argument. */
	dev = argv[argc - 1];
	if (dev[0] == '-') {
		fprintf(stderr, "fsck.ext3snap: no device given\n");
		usage(stderr);
		return FSCK_USAGE;
	}
	if (e3s_check_device(dev, msg)) {
		fprintf(stderr, "fsck.ext3snap: %s\n", msg);
		fprintf(stderr, "fsck.ext3snap: check it with e2fsck instead\n");
		return FSCK_ERROR;
	}

	args = calloc(argc + 1, sizeof(*args));
	if (!args) {
		perror("fsck.ext3snap");
		return FSCK_ERROR;
	}
	args[0] = "e2fsck";
	for (i = 1; i < argc; i++)
		args[i] = argv[i];
	execvp("e2fsck", args);
	fprintf(stderr, "fsck.ext3snap: cannot run e2fsck: %s (install e2fsprogs)\n",
		strerror(errno));
	return FSCK_ERROR;
}
