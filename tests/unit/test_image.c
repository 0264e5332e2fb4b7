// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for reading a snapshot's image (lib/image.c): the kernel's
 * rules (fs/ext3snap/read.c) on crafted snapshots, the io_manager and the
 * check of an image's bitmaps and counts.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bij-craft.h"

#define BS	EXT3SNAP_BLOCK_SIZE
#define LEN	16

static char dir[] = "/tmp/e3s-image-XXXXXX";
static char img[128];
static ext2_filsys fs;
static char data[BS], other[BS], zero[BS];

static void setup(void)
{
	char cmd[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/fs.img", dir);
	snprintf(cmd, sizeof(cmd),
		 "mke2fs -q -F -t ext3 -b 4096 %s 32M >/dev/null 2>&1", img);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(craft_open(img, &fs), 0);
	ck_assert_int_eq(ext2fs_read_bitmaps(fs), 0);
	memset(data, 0xd5, BS);
	memset(other, 0x3c, BS);
}

static void teardown(void)
{
	char cmd[128];

	if (fs)
		ext2fs_close_free(&fs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	strcpy(dir, "/tmp/e3s-image-XXXXXX");
}

/* Block B of the image of snapshot INO, read through the chain. */
static void image_block(ext2_ino_t ino, blk64_t b, char *buf)
{
	struct e3s_chain c;
	struct e3s_image *im;
	char msg[E3S_MSG_LEN] = "";
	unsigned int i;

	ck_assert_int_eq(ext2fs_flush(fs), 0);
	ck_assert_msg(e3s_chain_walk(fs, &c, msg) == 0, "%s", msg);
	for (i = 0; i < c.n && c.m[i].ino != ino; i++)
		;
	ck_assert_uint_lt(i, c.n);
	ck_assert_msg(e3s_image_open(fs, &c, i, &im, msg) == 0, "%s", msg);
	ck_assert_int_eq(e3s_image_read(im, b, 1, buf), 0);
	e3s_image_close(im);
	e3s_chain_free(&c);
}

static void assert_image(ext2_ino_t ino, blk64_t b, const char *want)
{
	char buf[BS];

	image_block(ino, b, buf);
	ck_assert_msg(!memcmp(buf, want, BS), "block %llu of snapshot %u is wrong",
		      (unsigned long long)b, ino);
}

static void write_origin(blk64_t b, const char *buf)
{
	ck_assert_int_eq(io_channel_write_blk64(fs->io, b, 1, buf), 0);
}

static void read_origin(blk64_t b, char *buf)
{
	ck_assert_int_eq(io_channel_read_blk64(fs->io, b, 1, buf), 0);
}

/* A block that is free, and one in use (the root directory's). */
static blk64_t free_block(void)
{
	blk64_t b;

	ck_assert_int_eq(ext2fs_new_block2(fs, 5000, NULL, &b), 0);
	return b;
}

static blk64_t root_block(void)
{
	struct ext2_inode inode;
	blk64_t b = 0;

	ck_assert_int_eq(ext2fs_read_inode(fs, EXT2_ROOT_INO, &inode), 0);
	ck_assert_int_eq(ext2fs_bmap2(fs, EXT2_ROOT_INO, &inode, NULL, 0, 0,
				      NULL, &b), 0);
	ck_assert_uint_ne(b, 0);
	return b;
}

/*
 * An inode table block in use that a take does not change (crafted
 * snapshots save, as the kernel's take does, the blocks it changes: the
 * root directory's, the new inode's table block).
 */
static blk64_t untouched_block(void)
{
	return ext2fs_inode_table_loc(fs, 0) + 6;
}

static blk64_t journal_block(blk64_t lblk)
{
	struct ext2_inode inode;
	ext2_ino_t j = fs->super->s_journal_inum;
	blk64_t b = 0;

	ck_assert_int_eq(ext2fs_read_inode(fs, j, &inode), 0);
	ck_assert_int_eq(ext2fs_bmap2(fs, j, &inode, NULL, 0, lblk, NULL, &b),
			 0);
	return b;
}

/* The raw bitmap block of group 0, with block B's bit set or clear. */
static void bitmap_with(blk64_t b, int set, char *buf)
{
	read_origin(ext2fs_block_bitmap_loc(fs, 0), buf);
	if (set)
		ext2fs_set_bit(b, buf);
	else
		ext2fs_clear_bit(b, buf);
}

START_TEST(free_reads_zero_used_reads_origin)
{
	ext2_ino_t s;
	blk64_t f, u = untouched_block();
	char want[BS];

	ck_assert_int_eq(craft_snapshot(fs, "s", 1, LEN, &s), 0);
	f = free_block();
	write_origin(f, data);
	assert_image(s, f, zero);
	read_origin(u, want);
	assert_image(s, u, want);
}
END_TEST

START_TEST(saved_copy_and_moved_block)
{
	ext2_ino_t s;
	blk64_t u = root_block();

	ck_assert_int_eq(craft_snapshot(fs, "s", 1, LEN, &s), 0);
	ck_assert_int_eq(craft_save(fs, s, u, data), 0);
	assert_image(s, u, data);
	/* A moved block is its own origin block. */
	u = ext2fs_inode_table_loc(fs, 0) + 3;
	ck_assert_int_eq(craft_move(fs, s, u), 0);
	write_origin(u, other);
	assert_image(s, u, other);
}
END_TEST

START_TEST(journal_reads_zero_but_its_superblock)
{
	ext2_ino_t s;
	blk64_t jsb = journal_block(0), j5 = journal_block(5);
	char want[BS];

	ck_assert_int_eq(craft_snapshot(fs, "s", 1, LEN, &s), 0);
	write_origin(j5, data);
	assert_image(s, j5, zero);
	read_origin(jsb, want);
	ck_assert(memcmp(want, zero, BS));
	assert_image(s, jsb, want);
}
END_TEST

START_TEST(superblock_names_no_snapshot)
{
	struct ext2_super_block *es;
	ext2_ino_t s;
	char buf[BS];

	ck_assert_int_eq(craft_snapshot(fs, "s", 1, LEN, &s), 0);
	ck_assert_int_eq(ext2fs_flush(fs), 0);
	read_origin(0, buf);
	es = (struct ext2_super_block *)(buf + 1024);
	ck_assert_uint_eq(es->s_snapshot_inum, s);
	image_block(s, 0, buf);
	ck_assert_uint_eq(es->s_snapshot_inum, 0);
	ck_assert_uint_eq(es->s_feature_ro_compat &
			  EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT, 0);
	ck_assert_uint_eq(es->s_magic, EXT2_SUPER_MAGIC);
}
END_TEST

START_TEST(older_reads_through_newer)
{
	ext2_ino_t s1, s2;
	blk64_t u = untouched_block(), v = ext2fs_inode_table_loc(fs, 0) + 2;
	char want[BS];

	ck_assert_int_eq(craft_chain(fs, "s1", 1, LEN, 0, &s1), 0);
	ck_assert_int_eq(craft_chain(fs, "s2", 2, LEN, 0, &s2), 0);
	ck_assert_int_eq(craft_save(fs, s2, u, data), 0);
	ck_assert_int_eq(craft_save(fs, s2, v, data), 0);
	ck_assert_int_eq(craft_save(fs, s1, v, other), 0);
	assert_image(s1, u, data);	/* s2's copy */
	assert_image(s1, v, other);	/* its own copy first */
	assert_image(s2, v, data);	/* newer ones never look older */
	read_origin(u + 0, want);
	ck_assert(memcmp(want, data, BS));
}
END_TEST

START_TEST(instant_bitmap_is_the_saved_copy)
{
	ext2_ino_t s;
	blk64_t f = free_block(), u = ext2fs_inode_table_loc(fs, 0) + 4;
	char bits[BS];

	ck_assert_int_eq(craft_snapshot(fs, "s", 1, LEN, &s), 0);
	/* At the instant F was in use and U free; now the reverse. */
	ck_assert_int_eq(ext2fs_flush(fs), 0);
	bitmap_with(f, 1, bits);
	ext2fs_clear_bit(u, bits);
	ck_assert_int_eq(craft_save(fs, s, ext2fs_block_bitmap_loc(fs, 0),
				    bits), 0);
	write_origin(f, data);
	assert_image(s, f, data);
	assert_image(s, u, zero);
}
END_TEST

START_TEST(older_bitmap_comes_through_newer)
{
	ext2_ino_t s1, s2;
	blk64_t f = free_block();
	char bits[BS];

	ck_assert_int_eq(craft_chain(fs, "s1", 1, LEN, 0, &s1), 0);
	ck_assert_int_eq(craft_chain(fs, "s2", 2, LEN, 0, &s2), 0);
	ck_assert_int_eq(ext2fs_flush(fs), 0);
	write_origin(f, data);
	/* s2 saved the bitmap with F free; the origin uses F now. */
	bitmap_with(f, 0, bits);
	ck_assert_int_eq(craft_save(fs, s2, ext2fs_block_bitmap_loc(fs, 0),
				    bits), 0);
	ext2fs_block_alloc_stats2(fs, f, +1);
	assert_image(s1, f, zero);
	assert_image(s2, f, zero);
	/* s1's own copy says in use: its instant wins. */
	bitmap_with(f, 1, bits);
	ck_assert_int_eq(craft_save(fs, s1, ext2fs_block_bitmap_loc(fs, 0),
				    bits), 0);
	assert_image(s1, f, data);
}
END_TEST

/* Physical block of the journal header of snapshot INO. */
static blk64_t header_block(ext2_ino_t ino)
{
	struct ext2_inode inode;
	blk64_t b = 0;

	ck_assert_int_eq(ext2fs_read_inode(fs, ino, &inode), 0);
	ck_assert_int_eq(ext2fs_bmap2(fs, ino, &inode, NULL, 0,
				      ext2fs_blocks_count(fs->super), NULL, &b),
			 0);
	return b;
}

START_TEST(exclude_map_hides_snapshot_data)
{
	ext2_ino_t s1, s2, s3;
	blk64_t h1;
	char want[BS];

	ck_assert_int_eq(craft_take(fs, "s1", 1, LEN, 0, &s1), 0);
	h1 = header_block(s1);
	read_origin(h1, want);
	ck_assert(memcmp(want, zero, BS));
	/* Without a map, the older snapshot's data shows; with one, not. */
	ck_assert_int_eq(craft_take(fs, "s2", 2, LEN, 0, &s2), 0);
	assert_image(s2, h1, want);
	ck_assert_int_eq(craft_take(fs, "s3", 3, LEN, 1, &s3), 0);
	assert_image(s3, h1, zero);
	/* The map is S3's own: S2 reads through S3 unchanged. */
	assert_image(s2, h1, want);
}
END_TEST

/* The image of a realistic take is the filesystem before it, exactly. */
START_TEST(take_image_is_the_instant)
{
	blk64_t n = ext2fs_blocks_count(fs->super), b;
	ext2_ino_t s, f;
	struct e3s_chain c;
	struct e3s_image *im;
	char msg[E3S_MSG_LEN] = "", *before, *now, inuse[BS], jdata[BS];
	struct ext2_inode j;
	blk64_t l;

	ck_assert_int_eq(craft_mkfile(fs, "a", 20, 0x61, &f), 0);
	ck_assert_int_eq(ext2fs_flush(fs), 0);
	/* The journal's data blocks read as zeroes. */
	memset(jdata, 0, BS);
	ck_assert_int_eq(ext2fs_read_inode(fs, fs->super->s_journal_inum, &j),
			 0);
	for (l = 1; l < EXT2_I_SIZE(&j) / BS; l++)
		ext2fs_set_bit(journal_block(l), jdata);
	before = malloc(n * BS);
	now = malloc(n * BS);
	ck_assert_ptr_nonnull(before);
	ck_assert_ptr_nonnull(now);
	ck_assert_int_eq(io_channel_read_blk64(fs->io, 0, n, before), 0);
	ck_assert_int_eq(ext2fs_get_block_bitmap_range2(fs->block_map, 0, n,
							inuse), 0);
	ck_assert_int_eq(craft_take(fs, "s", 1, LEN, 1, &s), 0);
	ck_assert_int_eq(craft_rm(fs, "a"), 0);
	ck_assert_int_eq(craft_mkfile(fs, "b", 30, 0x62, &f), 0);
	ck_assert_int_eq(ext2fs_flush(fs), 0);
	ck_assert_msg(e3s_chain_walk(fs, &c, msg) == 0, "%s", msg);
	ck_assert_msg(e3s_image_open(fs, &c, 0, &im, msg) == 0, "%s", msg);
	ck_assert_int_eq(e3s_image_read(im, 0, n, now), 0);
	/*
	 * Block 0 is left out: the take's ext2fs_flush() rewrites s_wtime
	 * and s_kbytes_written after this test's copy (superblock hiding is
	 * superblock_names_no_snapshot's).
	 */
	for (b = 1; b < n; b++) {
		int used = ext2fs_test_bit(b, inuse) &&
			   !ext2fs_test_bit(b, jdata);
		const char *want = used ? before + b * BS : zero;

		ck_assert_msg(!memcmp(now + b * BS, want, BS),
			      "image block %llu differs from the instant (%s)",
			      (unsigned long long)b, used ? "in use" : "free");
	}
	e3s_image_close(im);
	e3s_chain_free(&c);
	free(before);
	free(now);
}
END_TEST

static int lines;

static void count_line(void *arg, const char *line)
{
	(void)arg;
	(void)line;
	lines++;
}

/* Check snapshot INO's image; its findings in *R. */
static void check_image(ext2_ino_t ino, struct e3s_image_check *r)
{
	struct e3s_chain c;
	struct e3s_image *im;
	char msg[E3S_MSG_LEN] = "";
	ext2_filsys ifs;

	ck_assert_int_eq(ext2fs_flush(fs), 0);
	ck_assert_msg(e3s_chain_walk(fs, &c, msg) == 0, "%s", msg);
	ck_assert_uint_eq(c.m[0].ino, ino);
	ck_assert_msg(e3s_image_open(fs, &c, 0, &im, msg) == 0, "%s", msg);
	/* Never written. */
	ck_assert_int_eq(ext2fs_open(e3s_image_name(im), EXT2_FLAG_RW, 0, 0,
				     e3s_image_io_manager, &ifs),
			 EXT2_ET_RO_FILSYS);
	ck_assert_int_eq(e3s_image_open_fs(im, &ifs), 0);
	lines = 0;
	ck_assert_msg(e3s_image_check(ifs, r, count_line, NULL, msg) == 0,
		      "%s", msg);
	ext2fs_close_free(&ifs);
	e3s_image_close(im);
	e3s_chain_free(&c);
}

START_TEST(check_finds_bitmap_damage)
{
	struct e3s_image_check r;
	ext2_ino_t s, f;
	blk64_t bb = ext2fs_block_bitmap_loc(fs, 0), copy, free1;
	struct ext2_inode inode;
	char bits[BS];

	ck_assert_int_eq(craft_mkfile(fs, "a", 10, 0x61, &f), 0);
	ck_assert_int_eq(craft_take(fs, "s", 1, LEN, 0, &s), 0);
	ck_assert_int_eq(craft_mkfile(fs, "b", 10, 0x62, &f), 0);
	check_image(s, &r);
	ck_assert(!e3s_image_damaged(&r));
	ck_assert_int_eq(lines, 0);
	ck_assert_uint_eq(r.sb_free, r.sb_counted);

	/* The take saved group 0's bitmap: mark a free block in its copy. */
	ck_assert_int_eq(ext2fs_read_inode(fs, s, &inode), 0);
	copy = 0;
	ck_assert_int_eq(ext2fs_bmap2(fs, s, &inode, NULL, 0, bb, NULL, &copy),
			 0);
	ck_assert_uint_ne(copy, 0);
	read_origin(copy, bits);
	for (free1 = 8000; ext2fs_test_bit(free1, bits); free1++)
		;
	ext2fs_set_bit(free1, bits);
	write_origin(copy, bits);
	check_image(s, &r);
	ck_assert(e3s_image_damaged(&r));
	ck_assert_uint_eq(r.not_owned, 1);
	ck_assert_uint_eq(r.not_marked, 0);
	ck_assert_uint_eq(r.groups_wrong, 1);
	ck_assert_int_eq(lines, 2);

	/* An owned block shown free: a file's block cleared in the copy. */
	ext2fs_clear_bit(free1, bits);
	ext2fs_clear_bit(root_block(), bits);
	write_origin(copy, bits);
	check_image(s, &r);
	ck_assert_uint_eq(r.not_owned, 0);
	ck_assert_uint_eq(r.not_marked, 1);
	ck_assert_uint_eq(r.groups_wrong, 1);
}
END_TEST

START_TEST(read_past_the_end_fails)
{
	struct e3s_chain c;
	struct e3s_image *im;
	char msg[E3S_MSG_LEN] = "", buf[2 * BS];
	ext2_ino_t s;

	ck_assert_int_eq(craft_snapshot(fs, "s", 1, LEN, &s), 0);
	ck_assert_int_eq(ext2fs_flush(fs), 0);
	ck_assert_msg(e3s_chain_walk(fs, &c, msg) == 0, "%s", msg);
	ck_assert_msg(e3s_image_open(fs, &c, 0, &im, msg) == 0, "%s", msg);
	ck_assert_uint_eq(e3s_image_blocks(im), ext2fs_blocks_count(fs->super));
	ck_assert_int_ne(e3s_image_read(im, e3s_image_blocks(im) - 1, 2, buf),
			 0);
	ck_assert_int_eq(e3s_image_read(im, e3s_image_blocks(im) - 2, 2, buf),
			 0);
	e3s_image_close(im);
	e3s_chain_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("read");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, free_reads_zero_used_reads_origin);
	tcase_add_test(tc, saved_copy_and_moved_block);
	tcase_add_test(tc, journal_reads_zero_but_its_superblock);
	tcase_add_test(tc, superblock_names_no_snapshot);
	tcase_add_test(tc, older_reads_through_newer);
	tcase_add_test(tc, instant_bitmap_is_the_saved_copy);
	tcase_add_test(tc, older_bitmap_comes_through_newer);
	tcase_add_test(tc, exclude_map_hides_snapshot_data);
	tcase_add_test(tc, take_image_is_the_instant);
	tcase_add_test(tc, check_finds_bitmap_damage);
	tcase_add_test(tc, read_past_the_end_fails);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
