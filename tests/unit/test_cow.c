// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for copy-before-write offline (lib/cow.c): which blocks it
 * saves, the records it writes (read back with e3s_bij_walk, as replay
 * reads them), the ring filling up, and the state shared with a second
 * handle as the e2fsck shim has it. On an ext3 image made by mke2fs with
 * a snapshot crafted as the kernel's take leaves it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bij-craft.h"

#define BS	EXT3SNAP_BLOCK_SIZE
#define LEN	8		/* journal blocks, header included */

static char dir[] = "/tmp/e3s-cow-XXXXXX";
static char img[128];
static ext2_filsys fs;
static ext2_ino_t ino;
static struct e3s_cow *cow;
static int fd = -1;
static blk64_t itable1;		/* group 1's first inode table block */

static int dev_read(void *ctx, __u64 blk, void *buf)
{
	(void)ctx;
	return pread(fd, buf, BS, blk * BS) == BS ? 0 : -EIO;
}

static int dev_write(void *ctx, __u64 blk, const void *buf)
{
	(void)ctx;
	return pwrite(fd, buf, BS, blk * BS) == BS ? 0 : -EIO;
}

static int dev_flush(void *ctx)
{
	(void)ctx;
	return fsync(fd) ? -errno : 0;
}

static const struct e3s_cow_dev dev = { dev_read, dev_write, dev_flush,
					NULL };

static void setup(void)
{
	char cmd[256], msg[E3S_MSG_LEN];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/fs.img", dir);
	snprintf(cmd, sizeof(cmd),
		 "mke2fs -q -F -t ext3 -b 4096 %s 256M >/dev/null 2>&1", img);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(craft_open(img, &fs), 0);
	ck_assert_int_eq(craft_snapshot(fs, "snap", 7, LEN, &ino), 0);
	ck_assert_int_eq(ext2fs_close_free(&fs), 0);
	ck_assert_int_eq(craft_open(img, &fs), 0);
	itable1 = ext2fs_inode_table_loc(fs, 1);
	ck_assert_msg(e3s_cow_setup(fs, ino, 1, 0, &cow, msg) == 0, "%s", msg);
	ck_assert_ptr_nonnull(cow);
	fd = open(img, O_RDWR);
	ck_assert_int_ge(fd, 0);
}

static void teardown(void)
{
	char cmd[128];

	e3s_cow_free(cow);
	cow = NULL;
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (fs)
		ext2fs_close_free(&fs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	strcpy(dir, "/tmp/e3s-cow-XXXXXX");
}

/* What a walk of the journal finds: copies of which blocks, with what. */
struct found {
	unsigned int n;
	__u64 block[64];
	unsigned char first_byte[64];
};

static int note(void *arg, int kind, __u64 block, __u32 len, int committed,
		const void *data)
{
	struct found *f = arg;

	(void)len; (void)committed;
	ck_assert_int_eq(kind, EXT3SNAP_BIJ_COPY);
	ck_assert_uint_lt(f->n, 64);
	f->block[f->n] = block;
	f->first_byte[f->n++] = *(const unsigned char *)data;
	return 0;
}

static struct e3s_bij_result walk(struct found *f)
{
	struct e3s_bij_result r;
	char msg[E3S_MSG_LEN];

	memset(f, 0, sizeof(*f));
	ext2fs_close_free(&fs);
	ck_assert_int_eq(craft_open(img, &fs), 0);
	ck_assert_msg(e3s_bij_walk(fs, ino, 1, 0, note, f, &r, msg) == 0,
		      "%s", msg);
	return r;
}

/* Write BYTE over all of block B, through copy-before-write. */
static void write_block(__u64 b, int byte)
{
	char buf[BS];

	memset(buf, byte, BS);
	e3s_cow_before_write(cow, &dev, b * BS, BS, buf);
	ck_assert_int_eq(pwrite(fd, buf, BS, b * BS), BS);
}

START_TEST(saves_a_needed_block_once)
{
	struct found f;
	char old[BS];

	ck_assert_int_eq(pread(fd, old, BS, itable1 * BS), BS);
	ck_assert(e3s_cow_needs(cow, itable1));
	write_block(itable1, 0x77);
	ck_assert(!e3s_cow_needs(cow, itable1));
	write_block(itable1, 0x78);
	ck_assert_uint_eq(e3s_cow_saved(cow), 1);
	ck_assert(e3s_cow_pending(cow));
	walk(&f);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_uint_eq(f.block[0], itable1);
	ck_assert_uint_eq(f.first_byte[0], (unsigned char)old[0]);
}
END_TEST

START_TEST(skips_free_saved_and_unchanged_blocks)
{
	char buf[BS];
	struct found f;
	__u64 free_blk = ext2fs_blocks_count(fs->super) - 10;

	/* Free at the instant. */
	ck_assert(!e3s_cow_needs(cow, free_blk));
	write_block(free_blk, 0x11);
	/* Saved by the take: the superblock. */
	ck_assert(!e3s_cow_needs(cow, 0));
	/* Rewritten as it is. */
	ck_assert_int_eq(pread(fd, buf, BS, itable1 * BS), BS);
	e3s_cow_before_write(cow, &dev, itable1 * BS, BS, buf);
	ck_assert(e3s_cow_needs(cow, itable1));
	ck_assert_uint_eq(e3s_cow_saved(cow), 0);
	walk(&f);
	ck_assert_uint_eq(f.n, 0);
}
END_TEST

START_TEST(a_partial_write_saves_the_whole_block)
{
	struct found f;
	char old[BS], byte = 0x5c;

	ck_assert_int_eq(pread(fd, old, BS, (itable1 + 1) * BS), BS);
	/* Unchanged bytes: nothing yet, and still needed. */
	e3s_cow_before_write(cow, &dev, (itable1 + 1) * BS + 100, 1,
			     old + 100);
	ck_assert(e3s_cow_needs(cow, itable1 + 1));
	e3s_cow_before_write(cow, &dev, (itable1 + 1) * BS + 100, 1, &byte);
	ck_assert(!e3s_cow_needs(cow, itable1 + 1));
	walk(&f);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_uint_eq(f.block[0], itable1 + 1);
	ck_assert_uint_eq(f.first_byte[0], (unsigned char)old[0]);
}
END_TEST

START_TEST(a_full_ring_breaks_the_snapshot)
{
	struct e3s_bij_hdr h;
	char msg[E3S_MSG_LEN];
	const char *why;
	struct found f;
	int i;

	/* LEN 8: records of 1 + 1 blocks at 1, 3, 5; the fourth cannot
	 * reach the tail (1) again.
	 */
	for (i = 0; i < 3; i++)
		write_block(itable1 + i, 0x30 + i);
	ck_assert(!e3s_cow_broken(cow, &why));
	write_block(itable1 + 3, 0x40);
	ck_assert(e3s_cow_broken(cow, &why));
	ck_assert_msg(strstr(why, "full"), "%s", why);
	/* Broken: nothing more is saved. */
	write_block(itable1 + 4, 0x41);
	ck_assert_uint_eq(e3s_cow_saved(cow), 3);
	walk(&f);
	ck_assert_uint_eq(f.n, 3);
	ck_assert_int_eq(e3s_bij_read_header(fs, ino, &h, msg), 0);
	ck_assert(h.flags & EXT3SNAP_BIJ_BROKEN);
}
END_TEST

START_TEST(linked_records_free_the_ring)
{
	const char *why;
	int i;

	for (i = 0; i < 3; i++)
		write_block(itable1 + i, 0x30 + i);
	/* Replayed up to where the next record goes: empty again. The
	 * next record wraps to 1, and two fit before the tail (7): a third
	 * would make the ring look empty.
	 */
	e3s_cow_linked(cow, 7);
	ck_assert(!e3s_cow_pending(cow));
	for (i = 3; i < 5; i++)
		write_block(itable1 + i, 0x30 + i);
	ck_assert(!e3s_cow_broken(cow, &why));
	ck_assert_uint_eq(e3s_cow_saved(cow), 5);
	write_block(itable1 + 5, 0x35);
	ck_assert(e3s_cow_broken(cow, &why));
}
END_TEST

START_TEST(a_second_handle_shares_the_state)
{
	char msg[E3S_MSG_LEN], buf[BS];
	struct e3s_cow *child;
	struct found f;
	struct e3s_bij_result r;

	child = e3s_cow_attach(e3s_cow_fd(cow), msg);
	ck_assert_msg(child != NULL, "%s", msg);
	memset(buf, 0x99, BS);
	e3s_cow_before_write(child, &dev, itable1 * BS, BS, buf);
	e3s_cow_free(child);
	ck_assert(!e3s_cow_needs(cow, itable1));
	ck_assert_uint_eq(e3s_cow_saved(cow), 1);
	write_block(itable1 + 1, 0x98);
	r = walk(&f);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_uint_eq(r.end_seq, 3);
	ck_assert(e3s_cow_attach(-1, msg) == NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cow");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, saves_a_needed_block_once);
	tcase_add_test(tc, skips_free_saved_and_unchanged_blocks);
	tcase_add_test(tc, a_partial_write_saves_the_whole_block);
	tcase_add_test(tc, a_full_ring_breaks_the_snapshot);
	tcase_add_test(tc, linked_records_free_the_ring);
	tcase_add_test(tc, a_second_handle_shares_the_state);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
