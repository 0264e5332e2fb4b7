// SPDX-License-Identifier: GPL-2.0
/*
 * logreplay: list and replay the log written by the dm-log-writes target,
 * to check a filesystem at every point where the disk was flushed (see
 * tests/vm/snap-logwrites.sh and logwrites.h for the format).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "logwrites.h"

#define PROG "logreplay"

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " --list LOG\n"
"       " PROG " --find-mark NAME LOG\n"
"       " PROG " --flush-points-after NAME LOG\n"
"       " PROG " --replay LOG DEV (--to-mark NAME | --limit N) [--from N]\n"
"\n"
"LOG is the log device (or an image of it) of a dm-log-writes target.\n"
"\n"
"  --list                 one line per entry: index, sector, number of\n"
"                         sectors (in the log's sector size), flags\n"
"                         (WRITE, or FLUSH|FUA|DISCARD|MARK|METADATA),\n"
"                         and a mark's text; '#' lines are comments\n"
"  --find-mark NAME       index of the first mark named NAME\n"
"  --flush-points-after NAME\n"
"                         indexes of the FLUSH and FUA entries after the\n"
"                         first mark named NAME, one a line\n"
"  --replay LOG DEV       write the logged writes to DEV (a block device\n"
"                         or a file at least as big as the logged device),\n"
"                         discards as zeroes, in log order, then fsync\n"
"    --to-mark NAME       entries up to and including the mark NAME\n"
"    --limit N            entries 0..N-1\n"
"    --from N             skip entries before N (DEV already holds them)\n"
"  -h, --help             this text\n"
"\n"
"Exit status: 0 done, 1 error (bad log, mark not found, I/O), 2 usage.\n");
}

static void die_usage(const char *msg, const char *arg)
{
	fprintf(stderr, PROG ": %s%s%s (" PROG " --help for usage)\n", msg,
		arg ? ": " : "", arg ? arg : "");
	exit(2);
}

static uint64_t parse_count(const char *s, const char *opt)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!*s || *s == '-')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	return v;
bad:
	fprintf(stderr, PROG ": %s wants a non-negative decimal number, not '%s'\n",
		opt, s);
	exit(2);
}

static int fail_log(struct lw_log *log)
{
	fprintf(stderr, PROG ": %s\n", log->err);
	lw_close(log);
	return 1;
}

static int open_log(struct lw_log *log, const char *path)
{
	if (lw_open(log, path)) {
		fprintf(stderr, PROG ": %s\n", log->err);
		exit(1);
	}
	return 0;
}

static int do_list(const char *path)
{
	struct lw_log log;
	struct lw_entry e;
	char flags[128];
	int r;

	open_log(&log, path);
	printf("# %s: %llu entries, sector size %u\n", path,
	       (unsigned long long)log.nr_entries, log.sectorsize);
	printf("# index sector nr_sectors flags mark\n");
	while ((r = lw_next(&log, &e)) == 1) {
		lw_flag_names(e.flags, flags, sizeof(flags));
		printf("%llu %llu %llu %s%s%s\n", (unsigned long long)e.index,
		       (unsigned long long)e.sector,
		       (unsigned long long)e.nr_sectors, flags,
		       e.flags & LW_MARK ? " " : "", e.mark);
	}
	if (r < 0)
		return fail_log(&log);
	lw_close(&log);
	return 0;
}

static int find_mark_or_fail(struct lw_log *log, const char *name,
			     uint64_t *index)
{
	int r = lw_find_mark(log, name, index);

	if (r < 0)
		return fail_log(log);
	if (r == 0) {
		fprintf(stderr, PROG ": %s: no mark named '%s' among its %llu entries\n",
			log->path, name, (unsigned long long)log->nr_entries);
		lw_close(log);
		return 1;
	}
	return 0;
}

static int do_find_mark(const char *name, const char *path)
{
	struct lw_log log;
	uint64_t index;

	open_log(&log, path);
	if (find_mark_or_fail(&log, name, &index))
		return 1;
	printf("%llu\n", (unsigned long long)index);
	lw_close(&log);
	return 0;
}

static int do_flush_points(const char *name, const char *path)
{
	struct lw_log log;
	struct lw_entry e;
	uint64_t index;
	int r;

	open_log(&log, path);
	if (find_mark_or_fail(&log, name, &index))
		return 1;
	/* The cursor is right after the mark. */
	while ((r = lw_next(&log, &e)) == 1) {
		if (e.flags & (LW_FLUSH | LW_FUA))
			printf("%llu\n", (unsigned long long)e.index);
	}
	if (r < 0)
		return fail_log(&log);
	lw_close(&log);
	return 0;
}

static int do_replay(const char *path, const char *dev, const char *mark,
		     int have_limit, uint64_t limit, uint64_t from)
{
	struct lw_log log;
	uint64_t size, index;
	struct stat st;
	int fd;

	open_log(&log, path);
	if (mark) {
		if (find_mark_or_fail(&log, mark, &index))
			return 1;
		limit = index + 1;
	} else if (!have_limit) {
		limit = 0;	/* not reached: main insists on one of them */
	}
	fd = open(dev, O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, PROG ": cannot open the target %s for writing: %s\n",
			dev, strerror(errno));
		lw_close(&log);
		return 1;
	}
	if (fstat(fd, &st) ||
	    (S_ISBLK(st.st_mode) ? ioctl(fd, BLKGETSIZE64, &size) != 0 :
	     !S_ISREG(st.st_mode))) {
		fprintf(stderr, PROG ": cannot get the size of the target %s (a block device or a regular file is needed)\n",
			dev);
		close(fd);
		lw_close(&log);
		return 1;
	}
	if (S_ISREG(st.st_mode))
		size = st.st_size;
	if (lw_replay(&log, fd, size, from, limit)) {
		close(fd);
		return fail_log(&log);
	}
	if (close(fd)) {
		fprintf(stderr, PROG ": closing the target %s: %s\n", dev,
			strerror(errno));
		lw_close(&log);
		return 1;
	}
	if (limit > from)
		printf("replayed entries %llu..%llu (of %llu) onto %s\n",
		       (unsigned long long)from, (unsigned long long)(limit - 1),
		       (unsigned long long)log.nr_entries, dev);
	else
		printf("no entries to replay\n");
	lw_close(&log);
	return 0;
}

int main(int argc, char **argv)
{
	enum { LIST = 1, FIND, POINTS, REPLAY, TO_MARK, LIMIT, FROM };
	static const struct option opts[] = {
		{ "list", no_argument, NULL, LIST },
		{ "find-mark", required_argument, NULL, FIND },
		{ "flush-points-after", required_argument, NULL, POINTS },
		{ "replay", no_argument, NULL, REPLAY },
		{ "to-mark", required_argument, NULL, TO_MARK },
		{ "limit", required_argument, NULL, LIMIT },
		{ "from", required_argument, NULL, FROM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name = NULL, *to_mark = NULL;
	int mode = 0, have_limit = 0, have_from = 0, c;
	uint64_t limit = 0, from = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case LIST:
		case FIND:
		case POINTS:
		case REPLAY:
			if (mode)
				die_usage("give only one of --list, --find-mark, --flush-points-after and --replay",
					  NULL);
			mode = c;
			name = optarg;
			break;
		case TO_MARK:
			to_mark = optarg;
			break;
		case LIMIT:
			limit = parse_count(optarg, "--limit");
			have_limit = 1;
			break;
		case FROM:
			from = parse_count(optarg, "--from");
			have_from = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, PROG ": " PROG " --help for usage\n");
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (!mode)
		die_usage("say what to do: --list, --find-mark, --flush-points-after or --replay",
			  NULL);
	if (mode != REPLAY && (to_mark || have_limit || have_from))
		die_usage("--to-mark, --limit and --from go with --replay only",
			  NULL);

	switch (mode) {
	case LIST:
		if (argc != 1)
			die_usage("--list takes one argument, the log", NULL);
		return do_list(argv[0]);
	case FIND:
		if (argc != 1)
			die_usage("--find-mark NAME takes one more argument, the log",
				  NULL);
		return do_find_mark(name, argv[0]);
	case POINTS:
		if (argc != 1)
			die_usage("--flush-points-after NAME takes one more argument, the log",
				  NULL);
		return do_flush_points(name, argv[0]);
	}
	if (argc != 2)
		die_usage("--replay takes two arguments, the log and the target device",
			  NULL);
	if (!!to_mark + have_limit != 1)
		die_usage("--replay needs exactly one of --to-mark NAME and --limit N",
			  NULL);
	if (!*argv[1])
		die_usage("empty target device name", NULL);
	return do_replay(argv[0], argv[1], to_mark, have_limit, limit, from);
}
