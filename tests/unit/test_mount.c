// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for libext3snap's path and mountinfo helpers (lib/mount.c).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "ext3snap.h"
#include "libext3snap.h"

/* ---- e3s_mountinfo_parse ------------------------------------------------- */

START_TEST(parse_plain_line)
{
	char line[] = "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3snap /dev/root rw,errors=continue\n";
	struct e3s_mount m;

	ck_assert_int_eq(e3s_mountinfo_parse(line, &m), 0);
	ck_assert_uint_eq(m.major, 98);
	ck_assert_uint_eq(m.minor, 0);
	ck_assert_str_eq(m.root, "/mnt1");
	ck_assert_str_eq(m.mountpoint, "/mnt/parent");
	ck_assert_str_eq(m.mount_opts, "rw,noatime");
	ck_assert_str_eq(m.fstype, "ext3snap");
	ck_assert_str_eq(m.source, "/dev/root");
	ck_assert_str_eq(m.super_opts, "rw,errors=continue");
	ck_assert_ptr_null(m.buf);
}
END_TEST

START_TEST(parse_without_optional_fields)
{
	char line[] = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw";
	struct e3s_mount m;

	ck_assert_int_eq(e3s_mountinfo_parse(line, &m), 0);
	ck_assert_str_eq(m.mountpoint, "/");
	ck_assert_str_eq(m.fstype, "ext4");
	ck_assert_str_eq(m.super_opts, "rw");
}
END_TEST

START_TEST(parse_many_optional_fields)
{
	char line[] = "40 22 253:3 / /srv rw shared:5 master:2 propagate_from:1 unbindable - ext3snap /dev/mapper/vg-a rw,data=ordered";
	struct e3s_mount m;

	ck_assert_int_eq(e3s_mountinfo_parse(line, &m), 0);
	ck_assert_uint_eq(m.major, 253);
	ck_assert_uint_eq(m.minor, 3);
	ck_assert_str_eq(m.fstype, "ext3snap");
	ck_assert_str_eq(m.source, "/dev/mapper/vg-a");
}
END_TEST

START_TEST(parse_unescapes_paths)
{
	char line[] = "40 22 7:0 /a\\134b /mnt/with\\040space\\011tab rw - ext3snap /dev/my\\040disk rw";
	struct e3s_mount m;

	ck_assert_int_eq(e3s_mountinfo_parse(line, &m), 0);
	ck_assert_str_eq(m.root, "/a\\b");
	ck_assert_str_eq(m.mountpoint, "/mnt/with space\ttab");
	ck_assert_str_eq(m.source, "/dev/my disk");
}
END_TEST

START_TEST(parse_empty_source)
{
	char line[] = "50 22 0:45 / /run/x rw - tmpfs  rw,size=10k";
	struct e3s_mount m;

	ck_assert_int_eq(e3s_mountinfo_parse(line, &m), 0);
	ck_assert_str_eq(m.fstype, "tmpfs");
	ck_assert_str_eq(m.source, "");
	ck_assert_str_eq(m.super_opts, "rw,size=10k");
}
END_TEST

START_TEST(parse_refuses_malformed_lines)
{
	const char *bad[] = {
		"",
		"36 35",
		"36 35 98 / /mnt rw - ext3 /dev/x rw",		/* no minor */
		"36 35 x:0 / /mnt rw - ext3 /dev/x rw",
		"36 35 98:0x / /mnt rw - ext3 /dev/x rw",
		"36 35 98:0 / /mnt rw shared:1 ext3 /dev/x rw",	/* no "-" */
		"36 35 98:0 / /mnt rw - ext3 /dev/x",		/* no super opts */
	};
	struct e3s_mount m;
	char line[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(line, bad[i]);
		ck_assert_msg(e3s_mountinfo_parse(line, &m) == -1,
			      "accepted: '%s'", bad[i]);
	}
}
END_TEST

/* ---- e3s_find_mount ------------------------------------------------------ */

static const char mountinfo[] =
	"22 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw\n"
	"23 22 0:5 / /dev rw - devtmpfs udev rw\n"
	"30 22 254:16 / /mnt/src rw,relatime - ext3snap /dev/vdb rw,data=ordered\n"
	"31 22 254:16 /sub /srv/bind ro,relatime - ext3snap /dev/vdb rw,data=ordered\n"
	"32 30 254:32 / /mnt/src/inner rw - ext3snap /dev/vdc rw,data=journal\n"
	"this line is not mountinfo\n"
	"33 22 254:48 / /mnt/over rw - ext3 /dev/vdd rw\n"
	"34 22 254:64 / /mnt/over rw - ext3snap /dev/vde rw\n"
	"35 22 0:50 / /mnt/btr rw - btrfs /dev/vdf rw\n";

static int find(unsigned int maj, unsigned int min, const char *path,
		struct e3s_mount *m)
{
	FILE *f = fmemopen((void *)mountinfo, sizeof(mountinfo) - 1, "r");
	int ret;

	ck_assert_ptr_nonnull(f);
	ret = e3s_find_mount(f, makedev(maj, min), path, m);
	fclose(f);
	return ret;
}

START_TEST(find_by_device_and_path)
{
	struct e3s_mount m;

	ck_assert_int_eq(find(254, 16, "/mnt/src/dir/x", &m), 0);
	ck_assert_str_eq(m.mountpoint, "/mnt/src");
	ck_assert_str_eq(m.fstype, "ext3snap");
	ck_assert_ptr_nonnull(m.buf);
	e3s_mount_free(&m);
	ck_assert_ptr_null(m.buf);
}
END_TEST

START_TEST(find_picks_the_bind_mount_the_path_is_under)
{
	struct e3s_mount m;

	ck_assert_int_eq(find(254, 16, "/srv/bind/a", &m), 0);
	ck_assert_str_eq(m.mountpoint, "/srv/bind");
	ck_assert_str_eq(m.mount_opts, "ro,relatime");
	ck_assert(e3s_has_option(m.mount_opts, "ro"));
	e3s_mount_free(&m);
}
END_TEST

START_TEST(find_trusts_the_device_over_the_longest_prefix)
{
	struct e3s_mount m;

	/* The path looks like /mnt/src's, but the device is the inner one. */
	ck_assert_int_eq(find(254, 32, "/mnt/src/inner/d", &m), 0);
	ck_assert_str_eq(m.mountpoint, "/mnt/src/inner");
	ck_assert(e3s_has_option(m.super_opts, "data=journal"));
	e3s_mount_free(&m);
	ck_assert_int_eq(find(254, 16, "/mnt/src/inner", &m), 0);
	ck_assert_str_eq(m.mountpoint, "/mnt/src");
	e3s_mount_free(&m);
}
END_TEST

START_TEST(find_device_without_path)
{
	struct e3s_mount m;

	ck_assert_int_eq(find(254, 16, NULL, &m), 0);
	ck_assert_str_eq(m.source, "/dev/vdb");
	e3s_mount_free(&m);
}
END_TEST

START_TEST(find_on_top_wins)
{
	struct e3s_mount m;

	/* Two mounts on /mnt/over; the path's device is unknown (0:0). */
	ck_assert_int_eq(find(0, 0, "/mnt/over/f", &m), 0);
	ck_assert_str_eq(m.fstype, "ext3snap");
	ck_assert_str_eq(m.source, "/dev/vde");
	e3s_mount_free(&m);
}
END_TEST

START_TEST(find_falls_back_to_the_longest_prefix)
{
	struct e3s_mount m;

	/* btrfs reports a device number that is not in mountinfo. */
	ck_assert_int_eq(find(0, 99, "/mnt/btr/subvol/f", &m), 0);
	ck_assert_str_eq(m.fstype, "btrfs");
	e3s_mount_free(&m);
	ck_assert_int_eq(find(0, 99, "/home/user", &m), 0);
	ck_assert_str_eq(m.mountpoint, "/");
	e3s_mount_free(&m);
}
END_TEST

START_TEST(find_nothing)
{
	struct e3s_mount m;

	ck_assert_int_eq(find(1, 2, NULL, &m), -1);
	ck_assert_ptr_null(m.buf);
	ck_assert_ptr_null(m.fstype);
}
END_TEST

/* ---- e3s_path_under, e3s_has_option --------------------------------------- */

START_TEST(path_under)
{
	ck_assert_int_eq(e3s_path_under("/mnt", "/mnt"), 4);
	ck_assert_int_eq(e3s_path_under("/mnt", "/mnt/a/b"), 4);
	ck_assert_int_eq(e3s_path_under("/mnt", "/mnt2"), -1);
	ck_assert_int_eq(e3s_path_under("/mnt", "/mn"), -1);
	ck_assert_int_eq(e3s_path_under("/mnt/a", "/mnt"), -1);
	ck_assert_int_eq(e3s_path_under("/", "/"), 1);
	ck_assert_int_eq(e3s_path_under("/", "/x"), 1);
	ck_assert_int_eq(e3s_path_under("/", "x"), -1);
}
END_TEST

START_TEST(has_option)
{
	ck_assert(e3s_has_option("ro", "ro"));
	ck_assert(e3s_has_option("rw,ro", "ro"));
	ck_assert(e3s_has_option("ro,relatime", "ro"));
	ck_assert(!e3s_has_option("rw,relatime", "ro"));
	ck_assert(!e3s_has_option("rootcontext=x", "ro"));
	ck_assert(!e3s_has_option("", "ro"));
	ck_assert(e3s_has_option("rw,data=journal", "data=journal"));
	ck_assert(!e3s_has_option("rw,data=journaled", "data=journal"));
	ck_assert(!e3s_has_option("rw,data=ordered", "data=journal"));
}
END_TEST

/* ---- e3s_split_path ------------------------------------------------------ */

static int split(const char *path, char *dir, char *name, char *msg)
{
	msg[0] = '\0';
	return e3s_split_path(path, dir, 64, name, msg);
}

START_TEST(split_good_paths)
{
	char dir[64], name[EXT3SNAP_NAME_LEN], msg[E3S_MSG_LEN];

	ck_assert_int_eq(split("/mnt/src/snapshot.img", dir, name, msg), 0);
	ck_assert_str_eq(dir, "/mnt/src");
	ck_assert_str_eq(name, "snapshot.img");
	ck_assert_int_eq(split("snap", dir, name, msg), 0);
	ck_assert_str_eq(dir, ".");
	ck_assert_str_eq(name, "snap");
	ck_assert_int_eq(split("/snap", dir, name, msg), 0);
	ck_assert_str_eq(dir, "/");
	ck_assert_int_eq(split("//snap", dir, name, msg), 0);
	ck_assert_str_eq(dir, "/");
	ck_assert_int_eq(split("a//b///c", dir, name, msg), 0);
	ck_assert_str_eq(dir, "a//b");
	ck_assert_str_eq(name, "c");
	ck_assert_int_eq(split("../x/.hidden", dir, name, msg), 0);
	ck_assert_str_eq(dir, "../x");
	ck_assert_str_eq(name, ".hidden");
	ck_assert_int_eq(split("/m/..x", dir, name, msg), 0);
	ck_assert_str_eq(name, "..x");
	ck_assert_str_eq(msg, "");
}
END_TEST

START_TEST(split_refuses_bad_names)
{
	char dir[64], name[EXT3SNAP_NAME_LEN], msg[E3S_MSG_LEN];

	ck_assert_int_eq(split("", dir, name, msg), -1);
	ck_assert_msg(strstr(msg, "empty"), "message was: %s", msg);
	ck_assert_int_eq(split("/mnt/src/", dir, name, msg), -1);
	ck_assert_msg(strstr(msg, "names a directory"), "message was: %s", msg);
	ck_assert_int_eq(split("/", dir, name, msg), -1);
	ck_assert_int_eq(split("/mnt/.", dir, name, msg), -1);
	ck_assert_msg(strstr(msg, "'.' is not a file name"), "message was: %s", msg);
	ck_assert_int_eq(split("..", dir, name, msg), -1);
	ck_assert_msg(strstr(msg, "'..' is not a file name"), "message was: %s", msg);
}
END_TEST

START_TEST(split_name_length)
{
	char dir[64], name[EXT3SNAP_NAME_LEN], msg[E3S_MSG_LEN];
	char path[300] = "/m/";

	memset(path + 3, 'a', 255);
	path[258] = '\0';
	ck_assert_int_eq(split(path, dir, name, msg), 0);
	ck_assert_uint_eq(strlen(name), 255);
	strcat(path, "a");
	ck_assert_int_eq(split(path, dir, name, msg), -1);
	ck_assert_msg(strstr(msg, "256 bytes long; at most 255"),
		      "message was: %s", msg);
}
END_TEST

START_TEST(split_directory_too_long)
{
	char dir[64], name[EXT3SNAP_NAME_LEN], msg[E3S_MSG_LEN];
	char path[100];

	memset(path, 'd', 64);
	strcpy(path + 64, "/x");
	ck_assert_int_eq(split(path, dir, name, msg), -1);
	ck_assert_msg(strstr(msg, "too long"), "message was: %s", msg);
	path[63] = '/';
	path[64] = '\0';
	strcat(path, "x");
	ck_assert_int_eq(split(path, dir, name, msg), 0);
	ck_assert_uint_eq(strlen(dir), 63);
}
END_TEST

START_TEST(state_names)
{
	ck_assert_str_eq(e3s_state_name(EXT3SNAP_STATE_ACTIVE), "active");
	ck_assert_str_eq(e3s_state_name(EXT3SNAP_STATE_BROKEN), "broken");
	ck_assert_str_eq(e3s_state_name(EXT3SNAP_STATE_INACTIVE), "inactive");
	ck_assert_str_eq(e3s_state_name(0), "unknown");
	ck_assert_str_eq(e3s_state_name(99), "unknown");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mount");
	TCase *parse = tcase_create("mountinfo");
	TCase *paths = tcase_create("paths");
	SRunner *sr;
	int failed;

	tcase_add_test(parse, parse_plain_line);
	tcase_add_test(parse, parse_without_optional_fields);
	tcase_add_test(parse, parse_many_optional_fields);
	tcase_add_test(parse, parse_unescapes_paths);
	tcase_add_test(parse, parse_empty_source);
	tcase_add_test(parse, parse_refuses_malformed_lines);
	tcase_add_test(parse, find_by_device_and_path);
	tcase_add_test(parse, find_picks_the_bind_mount_the_path_is_under);
	tcase_add_test(parse, find_trusts_the_device_over_the_longest_prefix);
	tcase_add_test(parse, find_device_without_path);
	tcase_add_test(parse, find_on_top_wins);
	tcase_add_test(parse, find_falls_back_to_the_longest_prefix);
	tcase_add_test(parse, find_nothing);
	tcase_add_test(parse, has_option);
	tcase_add_test(paths, path_under);
	tcase_add_test(paths, split_good_paths);
	tcase_add_test(paths, split_refuses_bad_names);
	tcase_add_test(paths, split_name_length);
	tcase_add_test(paths, split_directory_too_long);
	tcase_add_test(paths, state_names);
	suite_add_tcase(s, parse);
	suite_add_tcase(s, paths);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
