// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for libext3snap's listing helpers (lib/list.c): sizes, times,
 * JSON strings, the table and the JSON of e3snapconfig -l, the progress
 * line of a delete, and finding a file's name from its directory's handle.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>

#include "ext3snap.h"
#include "libext3snap.h"

/* What FN wrote to a memory stream, NUL-terminated (free it). */
#define CAPTURE(buf, call)						\
	do {								\
		size_t _len;						\
		FILE *out = open_memstream(&(buf), &_len);		\
		ck_assert_ptr_nonnull(out);				\
		call;							\
		fclose(out);						\
	} while (0)

static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

/* ---- sizes and times ------------------------------------------------------ */

START_TEST(human_sizes)
{
	char b[E3S_FMT_LEN];

	ck_assert_str_eq(e3s_human_size(0, b, sizeof(b)), "0 B");
	ck_assert_str_eq(e3s_human_size(1023, b, sizeof(b)), "1023 B");
	ck_assert_str_eq(e3s_human_size(1024, b, sizeof(b)), "1.0 KiB");
	ck_assert_str_eq(e3s_human_size(4096, b, sizeof(b)), "4.0 KiB");
	ck_assert_str_eq(e3s_human_size(1536 * 1024, b, sizeof(b)), "1.5 MiB");
	/* Just under a unit rounds up into it, never "1024.0 KiB". */
	ck_assert_str_eq(e3s_human_size(1024 * 1024 - 1, b, sizeof(b)),
			 "1.0 MiB");
	ck_assert_str_eq(e3s_human_size(1023ULL * 1024 * 1024 * 1024 / 10 * 10,
					b, sizeof(b)), "1023.0 GiB");
	ck_assert_str_eq(e3s_human_size(3ULL << 40, b, sizeof(b)), "3.0 TiB");
	ck_assert_str_eq(e3s_human_size(~0ULL, b, sizeof(b)), "16.0 EiB");
}
END_TEST

START_TEST(times_in_local_time)
{
	char b[E3S_FMT_LEN];

	utc();
	ck_assert_str_eq(e3s_format_time(0, E3S_TIME_TEXT, b, sizeof(b)),
			 "1970-01-01 00:00:00");
	ck_assert_str_eq(e3s_format_time(1700000000, E3S_TIME_TEXT, b,
					 sizeof(b)), "2023-11-14 22:13:20");
	ck_assert_str_eq(e3s_format_time(1700000000, E3S_TIME_ISO, b,
					 sizeof(b)), "2023-11-14T22:13:20+0000");
	setenv("TZ", "CET-1", 1);
	tzset();
	ck_assert_str_eq(e3s_format_time(1700000000, E3S_TIME_TEXT, b,
					 sizeof(b)), "2023-11-14 23:13:20");
	ck_assert_str_eq(e3s_format_time(1700000000, E3S_TIME_ISO, b,
					 sizeof(b)), "2023-11-14T23:13:20+0100");
	utc();
}
END_TEST

START_TEST(time_that_does_not_fit)
{
	char b[8];

	ck_assert_str_eq(e3s_format_time(12, E3S_TIME_TEXT, b, sizeof(b)),
			 "@12");
}
END_TEST

/* ---- JSON strings ----------------------------------------------------------- */

static char *json(const char *s)
{
	char *buf = NULL;

	CAPTURE(buf, e3s_json_string(out, s));
	return buf;
}

#define JSON_EQ(in, want)						\
	do {								\
		char *_got = json(in);					\
		ck_assert_str_eq(_got, want);				\
		free(_got);						\
	} while (0)

START_TEST(json_plain_and_special)
{
	JSON_EQ("", "\"\"");
	JSON_EQ("/mnt/src/snap.img", "\"/mnt/src/snap.img\"");
	JSON_EQ("a\"b\\c", "\"a\\\"b\\\\c\"");
	JSON_EQ("new\nline\ttab", "\"new\\nline\\ttab\"");
	JSON_EQ("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
}
END_TEST

START_TEST(json_utf8_passes)
{
	JSON_EQ("caf\xc3\xa9", "\"caf\xc3\xa9\"");			/* é */
	JSON_EQ("\xe2\x82\xac", "\"\xe2\x82\xac\"");			/* € */
	JSON_EQ("\xf0\x9f\x93\xb7", "\"\xf0\x9f\x93\xb7\"");		/* U+1F4F7 */
}
END_TEST

START_TEST(json_bad_utf8_is_escaped_byte_by_byte)
{
	JSON_EQ("a\xff", "\"a\\udcff\"");				/* never UTF-8 */
	JSON_EQ("\xc3", "\"\\udcc3\"");					/* truncated */
	JSON_EQ("\xc3(", "\"\\udcc3(\"");				/* bad continuation */
	JSON_EQ("\xc0\xaf", "\"\\udcc0\\udcaf\"");			/* overlong '/' */
	JSON_EQ("\xed\xa0\x80", "\"\\udced\\udca0\\udc80\"");		/* surrogate */
	JSON_EQ("\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\"");	/* > U+10FFFF */
}
END_TEST

/* ---- the listing -------------------------------------------------------------- */

static const unsigned int dev0[] = { 0 }, dev37[] = { 3, 7 };

static const struct e3s_snap_row rows[] = {
	{ .path = "/mnt/src/b/s3.img", .ino = 14, .generation = 5, .id = 3,
	  .state = EXT3SNAP_STATE_ACTIVE, .time = 1700000300,
	  .file_blocks = 256, .bound = 1, .ndev = 1, .devs = dev0 },
	{ .path = NULL, .ino = 13, .generation = 9, .id = 2,
	  .state = EXT3SNAP_STATE_DELETING, .time = 1700000200,
	  .file_blocks = 0 },
	{ .path = "/mnt/src/a/s\"1\n.img", .ino = 12, .generation = 7,
	  .id = 1, .state = EXT3SNAP_STATE_OK, .time = 1700000100,
	  .file_blocks = 300000, .bound = 2, .ndev = 2, .devs = dev37 },
};

START_TEST(text_table)
{
	char *buf = NULL;

	utc();
	CAPTURE(buf, e3s_list_text(out, rows, 3, 4096));
	ck_assert_str_eq(buf,
		"PATH                 ID  TAKEN                STATE        HELD  DEVICES\n"
		"/mnt/src/b/s3.img     3  2023-11-14 22:18:20  active    1.0 MiB  /dev/ssdev/0\n"
		"?inode=13             2  2023-11-14 22:16:40  deleting      0 B  -\n"
		"/mnt/src/a/s\"1?.img   1  2023-11-14 22:15:00  ok        1.1 GiB  /dev/ssdev/3,/dev/ssdev/7\n");
	free(buf);
}
END_TEST

START_TEST(text_table_empty_is_the_header)
{
	char *buf = NULL;

	CAPTURE(buf, e3s_list_text(out, rows, 0, 4096));
	ck_assert_str_eq(buf,
		"PATH  ID  TAKEN                STATE  HELD  DEVICES\n");
	free(buf);
}
END_TEST

START_TEST(text_bound_devices_not_found)
{
	struct e3s_snap_row r = rows[0];
	char *buf = NULL;

	r.ndev = 0;
	r.bound = 2;
	CAPTURE(buf, e3s_list_text(out, &r, 1, 4096));
	ck_assert_msg(strstr(buf, "  2 devices\n"), "table was:\n%s", buf);
	free(buf);
	r.ndev = 1;
	r.bound = 3;
	buf = NULL;
	CAPTURE(buf, e3s_list_text(out, &r, 1, 4096));
	ck_assert_msg(strstr(buf, "  /dev/ssdev/0,+2\n"), "table was:\n%s", buf);
	free(buf);
}
END_TEST

START_TEST(json_listing)
{
	char *buf = NULL;

	utc();
	CAPTURE(buf, e3s_list_json(out, rows, 3, 4096));
	ck_assert_str_eq(buf,
		"[\n"
		"  {\"path\": \"/mnt/src/b/s3.img\", \"ino\": 14, \"generation\": 5, \"id\": 3, \"state\": \"active\", \"time\": 1700000300, \"taken\": \"2023-11-14T22:18:20+0000\", \"file_blocks\": 256, \"block_size\": 4096, \"bytes\": 1048576, \"bound\": 1, \"devices\": [\"/dev/ssdev/0\"]},\n"
		"  {\"path\": null, \"ino\": 13, \"generation\": 9, \"id\": 2, \"state\": \"deleting\", \"time\": 1700000200, \"taken\": \"2023-11-14T22:16:40+0000\", \"file_blocks\": 0, \"block_size\": 4096, \"bytes\": 0, \"bound\": 0, \"devices\": []},\n"
		"  {\"path\": \"/mnt/src/a/s\\\"1\\n.img\", \"ino\": 12, \"generation\": 7, \"id\": 1, \"state\": \"ok\", \"time\": 1700000100, \"taken\": \"2023-11-14T22:15:00+0000\", \"file_blocks\": 300000, \"block_size\": 4096, \"bytes\": 1228800000, \"bound\": 2, \"devices\": [\"/dev/ssdev/3\", \"/dev/ssdev/7\"]}\n"
		"]\n");
	free(buf);
}
END_TEST

START_TEST(json_listing_empty)
{
	char *buf = NULL;

	CAPTURE(buf, e3s_list_json(out, rows, 0, 4096));
	ck_assert_str_eq(buf, "[]\n");
	free(buf);
}
END_TEST

/* ---- progress -------------------------------------------------------------------- */

START_TEST(progress_line)
{
	const unsigned long long mib = 1 << 20;
	char b[256];

	e3s_delete_progress("/s.img", 0, 340 * mib, b, sizeof(b));
	ck_assert_str_eq(b, "deleting /s.img: 0 MiB of 340 MiB freed");
	e3s_delete_progress("/s.img", 12 * mib + 5, 340 * mib, b, sizeof(b));
	ck_assert_str_eq(b, "deleting /s.img: 12 MiB of 340 MiB freed");
	/* Others freeing or taking space meanwhile: clamped. */
	e3s_delete_progress("/s.img", -5 * (long long)mib, 340 * mib, b,
			    sizeof(b));
	ck_assert_str_eq(b, "deleting /s.img: 0 MiB of 340 MiB freed");
	e3s_delete_progress("/s.img", 900 * mib, 340 * mib, b, sizeof(b));
	ck_assert_str_eq(b, "deleting /s.img: 340 MiB of 340 MiB freed");
	/* Not all freed is never shown as all. */
	e3s_delete_progress("/s.img", 340 * mib - 1, 340 * mib + 1, b,
			    sizeof(b));
	ck_assert_str_eq(b, "deleting /s.img: 339 MiB of 341 MiB freed");
	e3s_delete_progress("/s.img", 4096, 8192, b, sizeof(b));
	ck_assert_str_eq(b, "deleting /s.img: 0 MiB of 1 MiB freed");
}
END_TEST

/* ---- finding a file's name by its directory's handle ------------------------------ */

static char tmp[] = "/tmp/e3s-list-XXXXXX";

static int have_handles(void)
{
	struct {
		struct file_handle fh;
		char room[64];
	} h;
	int mnt;

	h.fh.handle_bytes = sizeof(h.room);
	if (geteuid() != 0 ||
	    name_to_handle_at(AT_FDCWD, tmp, &h.fh, &mnt, 0) ||
	    h.fh.handle_type != 1)	/* FILEID_INO32_GEN: ext2/3/4 */
		return 0;
	return 1;
}

static __u32 generation(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int gen = 0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ioctl(fd, FS_IOC_GETVERSION, &gen), 0);
	close(fd);
	return (__u32)gen;
}

START_TEST(path_from_handle)
{
	char dir[256], file[300], other[300], buf[4096];
	struct stat sd, sf;
	int mfd;

	if (!have_handles()) {
		fprintf(stderr, "path_from_handle: skipped (needs root and %s on ext2/3/4)\n",
			tmp);
		return;
	}
	snprintf(dir, sizeof(dir), "%s/dir with space", tmp);
	snprintf(file, sizeof(file), "%s/snap.img", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	close(open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0400));
	ck_assert_int_eq(stat(dir, &sd), 0);
	ck_assert_int_eq(stat(file, &sf), 0);
	mfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(mfd, 0);

	ck_assert_int_eq(e3s_snap_path(mfd, (__u32)sf.st_ino, (__u32)sd.st_ino,
				       generation(dir), buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, file);

	/* No room for the name. */
	errno = 0;
	ck_assert_int_eq(e3s_snap_path(mfd, (__u32)sf.st_ino, (__u32)sd.st_ino,
				       generation(dir), buf, strlen(file)), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	/* Not in that directory. */
	errno = 0;
	ck_assert_int_eq(e3s_snap_path(mfd, 999999, (__u32)sd.st_ino,
				       generation(dir), buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* The wrong generation: another directory. */
	errno = 0;
	ck_assert_int_eq(e3s_snap_path(mfd, (__u32)sf.st_ino, (__u32)sd.st_ino,
				       generation(dir) + 1, buf, sizeof(buf)),
			 -1);
	ck_assert_int_eq(errno, ESTALE);
	/* The directory removed. */
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(unlink(other), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_int_eq(e3s_snap_path(mfd, (__u32)sf.st_ino, (__u32)sd.st_ino,
				       0, buf, sizeof(buf)), -1);
	close(mfd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("list");
	TCase *fmt = tcase_create("format");
	TCase *list = tcase_create("listing");
	TCase *names = tcase_create("names");
	SRunner *sr;
	int failed;

	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	tcase_add_test(fmt, human_sizes);
	tcase_add_test(fmt, times_in_local_time);
	tcase_add_test(fmt, time_that_does_not_fit);
	tcase_add_test(fmt, json_plain_and_special);
	tcase_add_test(fmt, json_utf8_passes);
	tcase_add_test(fmt, json_bad_utf8_is_escaped_byte_by_byte);
	tcase_add_test(fmt, progress_line);
	tcase_add_test(list, text_table);
	tcase_add_test(list, text_table_empty_is_the_header);
	tcase_add_test(list, text_bound_devices_not_found);
	tcase_add_test(list, json_listing);
	tcase_add_test(list, json_listing_empty);
	tcase_add_test(names, path_from_handle);
	suite_add_tcase(s, fmt);
	suite_add_tcase(s, list);
	suite_add_tcase(s, names);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rmdir(tmp);
	return failed ? 1 : 0;
}
