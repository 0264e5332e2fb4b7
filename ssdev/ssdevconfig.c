// SPDX-License-Identifier: GPL-2.0
/*
 * ssdevconfig: bind ext3snap snapshots to read-only ssdev block devices.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ssdevconfig -c SNAPSHOT-FILE /dev/ssdev/N   bind\n"
		"       ssdevconfig -d /dev/ssdev/N                 unbind\n"
		"       ssdevconfig -l                              list bindings\n"
		"       ssdevconfig -h                              this text\n");
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "c:d:lh")) != -1) {
		switch (opt) {
		case 'c':
		case 'd':
		case 'l':
			fprintf(stderr,
				"ssdevconfig: -%c is not implemented in this version of ext3snap\n",
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
