// SPDX-License-Identifier: GPL-2.0
/*
 * e3snapconfig: take, list and delete ext3snap snapshots.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: e3snapconfig -c FILE        take a snapshot into FILE\n"
		"       e3snapconfig -d FILE        delete the snapshot FILE\n"
		"       e3snapconfig -l MOUNTPOINT  list the snapshots of a filesystem\n"
		"       e3snapconfig -h             this text\n");
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "c:d:l:h")) != -1) {
		switch (opt) {
		case 'c':
		case 'd':
		case 'l':
			fprintf(stderr,
				"e3snapconfig: -%c is not implemented in this version of ext3snap\n",
				opt);
			return 1;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	usage(stderr);
	return 2;
}
