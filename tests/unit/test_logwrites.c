// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the dm-log-writes reader and replayer behind
 * build/tests/logreplay (tests/tools/logwrites.c), on small logs crafted
 * here the way the target lays them out.
 */
#include <check.h>
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "logwrites.h"

#define DEV_SECTORS	64

static char dir[] = "/tmp/e3s-logw-XXXXXX";
static char logpath[128], devpath[128];
static FILE *lf;
static uint32_t ss;
static uint64_t nr_written;

/* ---- crafting --------------------------------------------------------- */

static void put_super(uint64_t magic, uint64_t version, uint64_t nr,
		      uint32_t sectorsize)
{
	char *unit = calloc(1, sectorsize < 512 ? 512 : sectorsize);
	struct lw_disk_super sb = {
		.magic = htole64(magic),
		.version = htole64(version),
		.nr_entries = htole64(nr),
		.sectorsize = htole32(sectorsize),
	};

	ck_assert_ptr_nonnull(unit);
	memcpy(unit, &sb, sizeof(sb));
	ck_assert_int_eq(fseek(lf, 0, SEEK_SET), 0);
	ck_assert_int_eq(fwrite(unit, sectorsize < 512 ? 512 : sectorsize, 1,
				lf), 1);
	free(unit);
}

static void start_log(uint32_t sectorsize)
{
	ss = sectorsize;
	nr_written = 0;
	lf = fopen(logpath, "w+");
	ck_assert_ptr_nonnull(lf);
	put_super(LW_MAGIC, LW_VERSION, 0, ss);
}

/* Append an entry; data, if any, is nr sectors filled with byte fill. */
static void put_entry(uint64_t sector, uint64_t nr, uint64_t flags,
		      const char *mark, int fill)
{
	char *unit = calloc(1, ss);
	struct lw_disk_entry de = {
		.sector = htole64(sector),
		.nr_sectors = htole64(nr),
		.flags = htole64(flags),
		.data_len = htole64(mark ? strlen(mark) : 0),
	};
	uint64_t i;

	ck_assert_ptr_nonnull(unit);
	memcpy(unit, &de, sizeof(de));
	if (mark)
		memcpy(unit + sizeof(de), mark, strlen(mark));
	ck_assert_int_eq(fseek(lf, 0, SEEK_END), 0);
	ck_assert_int_eq(fwrite(unit, ss, 1, lf), 1);
	if (!(flags & LW_DISCARD)) {
		memset(unit, fill, ss);
		for (i = 0; i < nr; i++)
			ck_assert_int_eq(fwrite(unit, ss, 1, lf), 1);
	}
	free(unit);
	nr_written++;
}

static void end_log(void)
{
	put_super(LW_MAGIC, LW_VERSION, nr_written, ss);
	ck_assert_int_eq(fclose(lf), 0);
	lf = NULL;
}

/*
 * The log every test starts from (sector size 512):
 *   0 DISCARD 0..63            (mkfs)
 *   1 WRITE   0..3   'a'
 *   2 FLUSH
 *   3 MARK    "mkfs"
 *   4 WRITE   8..9   'b'
 *   5 WRITE|METADATA 2 'c'
 *   6 FLUSH
 *   7 FUA     4..5   'd'
 *   8 MARK    "snap"
 *   9 WRITE   0..1   'e'
 *  10 DISCARD 8..8
 *  11 FLUSH|FUA 20 'f'     (a flush with data, FUA)
 *  12 FLUSH
 *  13 MARK    "dm-log-writes-end"
 */
static void craft_standard(uint32_t sectorsize)
{
	start_log(sectorsize);
	put_entry(0, DEV_SECTORS, LW_DISCARD, NULL, 0);
	put_entry(0, 4, 0, NULL, 'a');
	put_entry(0, 0, LW_FLUSH, NULL, 0);
	put_entry(0, 0, LW_MARK, "mkfs", 0);
	put_entry(8, 2, 0, NULL, 'b');
	put_entry(2, 1, LW_METADATA, NULL, 'c');
	put_entry(0, 0, LW_FLUSH, NULL, 0);
	put_entry(4, 2, LW_FUA, NULL, 'd');
	put_entry(0, 0, LW_MARK, "snap", 0);
	put_entry(0, 2, 0, NULL, 'e');
	put_entry(8, 1, LW_DISCARD, NULL, 0);
	put_entry(20, 1, LW_FLUSH | LW_FUA, NULL, 'f');
	put_entry(0, 0, LW_FLUSH, NULL, 0);
	put_entry(0, 0, LW_MARK, "dm-log-writes-end", 0);
	end_log();
}

/* A target of DEV_SECTORS sectors full of 0xee (what a replay overwrites). */
static int make_dev(uint64_t bytes)
{
	char *buf = malloc(bytes);
	int fd;

	ck_assert_ptr_nonnull(buf);
	memset(buf, 0xee, bytes);
	fd = open(devpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, bytes, 0), (ssize_t)bytes);
	free(buf);
	return fd;
}

/* Byte of sector s of the target. */
static int dev_byte(int fd, uint64_t s)
{
	unsigned char b[2];

	ck_assert_int_eq(pread(fd, b, 1, s * ss), 1);
	ck_assert_int_eq(pread(fd, b + 1, 1, s * ss + ss - 1), 1);
	ck_assert_int_eq(b[0], b[1]);
	return b[0];
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	snprintf(devpath, sizeof(devpath), "%s/dev", dir);
}

static void teardown(void)
{
	unlink(logpath);
	unlink(devpath);
	rmdir(dir);
	strcpy(dir, "/tmp/e3s-logw-XXXXXX");
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(parse_entries)
{
	static const uint64_t flags[] = {
		LW_DISCARD, 0, LW_FLUSH, LW_MARK, 0, LW_METADATA, LW_FLUSH,
		LW_FUA, LW_MARK, 0, LW_DISCARD, LW_FLUSH | LW_FUA, LW_FLUSH,
		LW_MARK
	};
	struct lw_log log;
	struct lw_entry e;
	uint64_t i = 0, off = 512;

	craft_standard(512);
	ck_assert_int_eq(lw_open(&log, logpath), 0);
	ck_assert_uint_eq(log.nr_entries, 14);
	ck_assert_uint_eq(log.sectorsize, 512);
	while (lw_next(&log, &e) == 1) {
		ck_assert_uint_eq(e.index, i);
		ck_assert_uint_eq(e.offset, off);
		ck_assert_uint_eq(e.flags, flags[i]);
		off += 512 + (e.flags & LW_DISCARD ? 0 : e.nr_sectors * 512);
		i++;
	}
	ck_assert_uint_eq(i, 14);
	lw_rewind(&log);
	for (i = 0; i < 9; i++)
		ck_assert_int_eq(lw_next(&log, &e), 1);
	ck_assert_str_eq(e.mark, "snap");
	ck_assert_uint_eq(e.data_len, 4);
	ck_assert_int_eq(lw_next(&log, &e), 1);
	ck_assert_uint_eq(e.sector, 0);
	ck_assert_uint_eq(e.nr_sectors, 2);
	lw_close(&log);
}
END_TEST

START_TEST(find_marks)
{
	struct lw_log log;
	uint64_t i = 99;

	craft_standard(512);
	ck_assert_int_eq(lw_open(&log, logpath), 0);
	ck_assert_int_eq(lw_find_mark(&log, "mkfs", &i), 1);
	ck_assert_uint_eq(i, 3);
	ck_assert_int_eq(lw_find_mark(&log, "snap", &i), 1);
	ck_assert_uint_eq(i, 8);
	ck_assert_int_eq(lw_find_mark(&log, "dm-log-writes-end", &i), 1);
	ck_assert_uint_eq(i, 13);
	ck_assert_int_eq(lw_find_mark(&log, "sna", &i), 0);
	ck_assert_int_eq(lw_find_mark(&log, "", &i), 0);
	lw_close(&log);
}
END_TEST

START_TEST(flag_names)
{
	char b[64];

	lw_flag_names(0, b, sizeof(b));
	ck_assert_str_eq(b, "WRITE");
	lw_flag_names(LW_FLUSH | LW_FUA | LW_METADATA, b, sizeof(b));
	ck_assert_str_eq(b, "FLUSH|FUA|METADATA");
	lw_flag_names(LW_DISCARD | 0x100, b, sizeof(b));
	ck_assert_str_eq(b, "DISCARD|0x100");
	lw_flag_names(LW_MARK, b, 3);
	ck_assert_str_eq(b, "MA");
}
END_TEST

/* Replay in steps gives what one replay gives, entry by entry. */
static void check_replay(uint32_t sectorsize)
{
	struct lw_log log;
	int fd;

	craft_standard(sectorsize);
	fd = make_dev((uint64_t)DEV_SECTORS * sectorsize);
	ck_assert_int_eq(lw_open(&log, logpath), 0);

	ck_assert_int_eq(lw_replay(&log, fd, DEV_SECTORS * ss, 0, 1), 0);
	ck_assert_int_eq(dev_byte(fd, 0), 0);		/* discarded */
	ck_assert_int_eq(dev_byte(fd, 63), 0);

	ck_assert_int_eq(lw_replay(&log, fd, DEV_SECTORS * ss, 1, 4), 0);
	ck_assert_int_eq(dev_byte(fd, 3), 'a');
	ck_assert_int_eq(dev_byte(fd, 4), 0);

	ck_assert_int_eq(lw_replay(&log, fd, DEV_SECTORS * ss, 4, 9), 0);
	ck_assert_int_eq(dev_byte(fd, 0), 'a');
	ck_assert_int_eq(dev_byte(fd, 2), 'c');
	ck_assert_int_eq(dev_byte(fd, 4), 'd');
	ck_assert_int_eq(dev_byte(fd, 5), 'd');
	ck_assert_int_eq(dev_byte(fd, 8), 'b');
	ck_assert_int_eq(dev_byte(fd, 9), 'b');

	ck_assert_int_eq(lw_replay(&log, fd, DEV_SECTORS * ss, 9, 14), 0);
	ck_assert_int_eq(dev_byte(fd, 0), 'e');
	ck_assert_int_eq(dev_byte(fd, 1), 'e');
	ck_assert_int_eq(dev_byte(fd, 2), 'c');
	ck_assert_int_eq(dev_byte(fd, 8), 0);
	ck_assert_int_eq(dev_byte(fd, 9), 'b');
	ck_assert_int_eq(dev_byte(fd, 20), 'f');
	ck_assert_int_eq(dev_byte(fd, 21), 0);

	/* Nothing to do is fine; past the end is not. */
	ck_assert_int_eq(lw_replay(&log, fd, DEV_SECTORS * ss, 14, 14), 0);
	ck_assert_int_eq(lw_replay(&log, fd, DEV_SECTORS * ss, 0, 15), -1);
	ck_assert_ptr_nonnull(strstr(log.err, "has 14 entries"));
	ck_assert_int_eq(lw_replay(&log, fd, DEV_SECTORS * ss, 5, 4), -1);
	ck_assert_ptr_nonnull(strstr(log.err, "start is after the end"));
	lw_close(&log);
	close(fd);
}

START_TEST(replay_512)
{
	check_replay(512);
}
END_TEST

START_TEST(replay_4096)
{
	check_replay(4096);
}
END_TEST

START_TEST(target_too_small)
{
	struct lw_log log;
	int fd;

	craft_standard(512);
	fd = make_dev(16 * 512);
	ck_assert_int_eq(lw_open(&log, logpath), 0);
	ck_assert_int_eq(lw_replay(&log, fd, 16 * 512, 0, 1), -1);
	ck_assert_ptr_nonnull(strstr(log.err, "entry 0 writes sectors 0..63"));
	ck_assert_ptr_nonnull(strstr(log.err, "only 8192 bytes"));
	/* Entries after 0 fit: a replay from 1 goes through up to 11. */
	ck_assert_int_eq(lw_replay(&log, fd, 16 * 512, 1, 11), 0);
	ck_assert_int_eq(lw_replay(&log, fd, 16 * 512, 1, 12), -1);
	ck_assert_ptr_nonnull(strstr(log.err, "entry 11 writes sectors 20..20"));
	lw_close(&log);
	close(fd);
}
END_TEST

START_TEST(bad_super)
{
	struct lw_log log;

	craft_standard(512);
	lf = fopen(logpath, "r+");
	put_super(LW_MAGIC + 1, LW_VERSION, 14, 512);
	fclose(lf);
	ck_assert_int_eq(lw_open(&log, logpath), -1);
	ck_assert_ptr_nonnull(strstr(log.err, "bad magic"));

	lf = fopen(logpath, "r+");
	put_super(LW_MAGIC, 2, 14, 512);
	fclose(lf);
	ck_assert_int_eq(lw_open(&log, logpath), -1);
	ck_assert_ptr_nonnull(strstr(log.err, "version 2"));

	lf = fopen(logpath, "r+");
	put_super(LW_MAGIC, LW_VERSION, 14, 1000);
	fclose(lf);
	ck_assert_int_eq(lw_open(&log, logpath), -1);
	ck_assert_ptr_nonnull(strstr(log.err, "sector size 1000"));

	ck_assert_int_eq(truncate(logpath, 100), 0);
	ck_assert_int_eq(lw_open(&log, logpath), -1);
	ck_assert_ptr_nonnull(strstr(log.err, "too small"));

	ck_assert_int_eq(lw_open(&log, "/nonexistent/log"), -1);
	ck_assert_ptr_nonnull(strstr(log.err, "cannot open"));
}
END_TEST

/* A log cut short, or claiming more entries than it has, is an error. */
START_TEST(truncated)
{
	struct lw_log log;
	struct lw_entry e;
	int r;

	craft_standard(512);
	/* Cut inside the data of entry 11 (offset: super + 11 entries...). */
	ck_assert_int_eq(lw_open(&log, logpath), 0);
	while ((r = lw_next(&log, &e)) == 1 && e.index < 11)
		;
	ck_assert_int_eq(r, 1);
	lw_close(&log);
	ck_assert_int_eq(truncate(logpath, e.offset + 512 + 100), 0);
	ck_assert_int_eq(lw_open(&log, logpath), 0);
	while ((r = lw_next(&log, &e)) == 1)
		;
	ck_assert_int_eq(r, -1);
	ck_assert_ptr_nonnull(strstr(log.err, "entry 11 at byte"));
	ck_assert_ptr_nonnull(strstr(log.err, "past the end of the log"));
	lw_close(&log);

	craft_standard(512);
	lf = fopen(logpath, "r+");
	put_super(LW_MAGIC, LW_VERSION, 15, 512);
	fclose(lf);
	ck_assert_int_eq(lw_open(&log, logpath), 0);
	while ((r = lw_next(&log, &e)) == 1)
		;
	ck_assert_int_eq(r, -1);
	ck_assert_ptr_nonnull(strstr(log.err, "entry 14 would start"));
	lw_close(&log);
}
END_TEST

START_TEST(bad_mark)
{
	struct lw_log log;
	struct lw_entry e;
	char longmark[600];

	memset(longmark, 'x', sizeof(longmark) - 1);
	longmark[sizeof(longmark) - 1] = '\0';
	start_log(4096);
	put_entry(0, 0, LW_MARK, longmark, 0);	/* fits in 4096 */
	end_log();
	ck_assert_int_eq(lw_open(&log, logpath), 0);
	ck_assert_int_eq(lw_next(&log, &e), 1);
	ck_assert_str_eq(e.mark, longmark);
	lw_close(&log);

	/* The same text cannot fit in a 512-byte sector. */
	start_log(512);
	put_entry(0, 0, LW_MARK, "ok", 0);
	end_log();
	lf = fopen(logpath, "r+");
	{
		uint64_t len = htole64(600);

		ck_assert_int_eq(fseek(lf, 512 + 24, SEEK_SET), 0);
		ck_assert_int_eq(fwrite(&len, 8, 1, lf), 1);
	}
	fclose(lf);
	ck_assert_int_eq(lw_open(&log, logpath), 0);
	ck_assert_int_eq(lw_next(&log, &e), -1);
	ck_assert_ptr_nonnull(strstr(log.err, "does not fit"));
	lw_close(&log);
}
END_TEST

/* The command-line tool itself, if built: --list and --flush-points-after. */
START_TEST(tool)
{
	char cmd[512], out[256];
	FILE *p;
	size_t n;

	if (access("build/tests/logreplay", X_OK))
		return;		/* make builds it for make check */
	craft_standard(512);
	snprintf(cmd, sizeof(cmd),
		 "build/tests/logreplay --flush-points-after mkfs %s | tr '\\n' ' '",
		 logpath);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_str_eq(out, "6 7 11 12 ");

	snprintf(cmd, sizeof(cmd),
		 "build/tests/logreplay --list %s | grep -v '^#' | sed -n 9p",
		 logpath);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_str_eq(out, "8 0 0 MARK snap\n");

	snprintf(cmd, sizeof(cmd),
		 "build/tests/logreplay --find-mark nosuch %s 2>&1", logpath);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	ck_assert_int_eq(WEXITSTATUS(pclose(p)), 1);
	ck_assert_ptr_nonnull(strstr(out, "no mark named 'nosuch'"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("logwrites");
	TCase *tc = tcase_create("logwrites");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, parse_entries);
	tcase_add_test(tc, find_marks);
	tcase_add_test(tc, flag_names);
	tcase_add_test(tc, replay_512);
	tcase_add_test(tc, replay_4096);
	tcase_add_test(tc, target_too_small);
	tcase_add_test(tc, bad_super);
	tcase_add_test(tc, truncated);
	tcase_add_test(tc, bad_mark);
	tcase_add_test(tc, tool);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
