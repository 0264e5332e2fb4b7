// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for libext3snap's format check, on images made by mke2fs.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libext3snap.h"

static char dir[] = "/tmp/e3s-unit-XXXXXX";

static void make_image(const char *img, const char *mkfs_args)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "mke2fs -q -F %s %s 8M >/dev/null 2>&1",
		 mkfs_args, img);
	ck_assert_msg(system(cmd) == 0, "mke2fs %s failed", mkfs_args);
}

static int check_image(const char *mkfs_args, char *msg)
{
	char img[128];

	snprintf(img, sizeof(img), "%s/fs.img", dir);
	make_image(img, mkfs_args);
	return e3s_check_device(img, msg);
}

START_TEST(ext3_is_accepted)
{
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(check_image("-t ext3", msg), 0);
	ck_assert_str_eq(msg, "");
}
END_TEST

START_TEST(ext3_1k_blocks_is_accepted)
{
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(check_image("-t ext3 -b 1024", msg), 0);
}
END_TEST

START_TEST(ext4_is_refused_naming_extent)
{
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(check_image("-t ext4", msg), -1);
	ck_assert_msg(strstr(msg, "'extent'"), "message was: %s", msg);
	ck_assert_msg(strstr(msg, "ext3-format"), "message was: %s", msg);
}
END_TEST

START_TEST(ext3_with_one_ext4_feature_is_refused)
{
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(check_image("-t ext3 -O dir_nlink", msg), -1);
	ck_assert_msg(strstr(msg, "'dir_nlink'"), "message was: %s", msg);
}
END_TEST

START_TEST(ext2_is_refused_for_lack_of_journal)
{
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(check_image("-t ext2", msg), -1);
	ck_assert_msg(strstr(msg, "no journal"), "message was: %s", msg);
	ck_assert_msg(strstr(msg, "tune2fs -j"), "message was: %s", msg);
}
END_TEST

START_TEST(not_a_filesystem_is_reported)
{
	char msg[E3S_MSG_LEN] = "";
	char img[128];
	FILE *f;

	snprintf(img, sizeof(img), "%s/zero.img", dir);
	f = fopen(img, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(ftruncate(fileno(f), 1 << 20), 0);
	fclose(f);
	ck_assert_int_eq(e3s_check_device(img, msg), -1);
	ck_assert_msg(strstr(msg, "cannot open"), "message was: %s", msg);
}
END_TEST

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	strcpy(dir, "/tmp/e3s-unit-XXXXXX");
}

int main(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("check_format");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ext3_is_accepted);
	tcase_add_test(tc, ext3_1k_blocks_is_accepted);
	tcase_add_test(tc, ext4_is_refused_naming_extent);
	tcase_add_test(tc, ext3_with_one_ext4_feature_is_refused);
	tcase_add_test(tc, ext2_is_refused_for_lack_of_journal);
	tcase_add_test(tc, not_a_filesystem_is_reported);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
