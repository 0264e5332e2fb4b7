// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the chain of snapshots (lib/chain.c) and for replaying
 * the journals of several snapshots (lib/bij.c), on an ext3 image made by
 * mke2fs with a chain of three crafted as the kernel lays it out.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bij-craft.h"

#define BS	EXT3SNAP_BLOCK_SIZE
#define LEN	16
#define TID	100		/* first transaction that did not commit */

static char dir[] = "/tmp/e3s-chain-XXXXXX";
static char img[128];
static ext2_filsys fs;
static ext2_ino_t a, b, c;	/* oldest (id 2), middle (5), newest (7) */
static char blk_a[BS], blk_b[BS];

static void setup(void)
{
	char cmd[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/fs.img", dir);
	snprintf(cmd, sizeof(cmd),
		 "mke2fs -q -F -t ext3 -b 4096 %s 32M >/dev/null 2>&1", img);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(craft_open(img, &fs), 0);
	ck_assert_int_eq(craft_chain(fs, "s1", 2, LEN, 0, &a), 0);
	ck_assert_int_eq(craft_chain(fs, "s2", 5, LEN, EXT3SNAP_X_DELETING,
				     &b), 0);
	ck_assert_int_eq(craft_chain(fs, "s3", 7, LEN, 0, &c), 0);
	memset(blk_a, 0xa5, BS);
	memset(blk_b, 0x5a, BS);
}

static void teardown(void)
{
	char cmd[128];

	if (fs)
		ext2fs_close_free(&fs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	strcpy(dir, "/tmp/e3s-chain-XXXXXX");
}

static void walk(struct e3s_chain *ch)
{
	char msg[E3S_MSG_LEN] = "";

	ck_assert_msg(e3s_chain_walk(fs, ch, msg) == 0, "walk: %s", msg);
}

static void set_x(ext2_ino_t ino, __u32 id, __u32 prev)
{
	struct e3s_snap_x x = { .id = id, .prev = prev };
	char msg[E3S_MSG_LEN] = "";

	ck_assert_msg(e3s_snap_xattr_set(fs, ino, &x, msg) == 0, "%s", msg);
}

static blk64_t lookup(ext2_ino_t ino, blk64_t lblk)
{
	struct ext2_inode inode;
	blk64_t pblk = 0;

	ck_assert_int_eq(ext2fs_read_inode(fs, ino, &inode), 0);
	ck_assert_int_eq(ext2fs_bmap2(fs, ino, &inode, NULL, 0, lblk, NULL,
				      &pblk), 0);
	return pblk;
}

static struct craft_entry copy(__u64 blk, const char *data)
{
	return (struct craft_entry){ .kind = EXT3SNAP_BIJ_COPY, .block = blk,
				     .data = data };
}

static struct craft_entry move(__u64 blk, __u32 len, __u32 tid)
{
	return (struct craft_entry){ .kind = EXT3SNAP_BIJ_MOVE, .block = blk,
				     .len = len, .tid = tid };
}

static void replay(ext2_ino_t ino, int flags, struct e3s_bij_result *r)
{
	char msg[E3S_MSG_LEN] = "";

	ck_assert_msg(e3s_bij_replay(fs, ino, TID, flags, r, msg) == 0,
		      "replay of %u failed: %s", ino, msg);
}

START_TEST(xattr_round_trip)
{
	struct e3s_snap_x x = { .id = 42, .prev = 12, .flags = 1,
				.time = 0x123456789ULL, .parent = 2,
				.parent_gen = 9 }, y;
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(e3s_snap_xattr_set(fs, b, &x, msg), 0);
	ck_assert_int_eq(e3s_snap_xattr_get(fs, b, &y, msg), 1);
	/* Field by field: the struct's padding is never initialised. */
	ck_assert_uint_eq(y.id, x.id);
	ck_assert_uint_eq(y.prev, x.prev);
	ck_assert_uint_eq(y.flags, x.flags);
	ck_assert_uint_eq(y.time, x.time);
	ck_assert_uint_eq(y.parent, x.parent);
	ck_assert_uint_eq(y.parent_gen, x.parent_gen);
	ck_assert_int_eq(e3s_snap_xattr_remove(fs, b, msg), 0);
	ck_assert_int_eq(e3s_snap_xattr_get(fs, b, &y, msg), 0);
	/* Removing what is not there is no error. */
	ck_assert_int_eq(e3s_snap_xattr_remove(fs, b, msg), 0);
}
END_TEST

START_TEST(xattr_bad_magic_and_length)
{
	struct ext3snap_xattr raw;
	struct e3s_snap_x x;
	char msg[E3S_MSG_LEN] = "";

	memset(&raw, 0, sizeof(raw));
	raw.x_magic = ext2fs_cpu_to_le32(0x12345678);
	ck_assert_int_eq(craft_xattr_raw(fs, b, &raw, sizeof(raw)), 0);
	ck_assert_int_eq(e3s_snap_xattr_get(fs, b, &x, msg), -1);
	ck_assert_msg(strstr(msg, "magic 0x12345678"), "msg: %s", msg);
	raw.x_magic = ext2fs_cpu_to_le32(EXT3SNAP_XATTR_MAGIC);
	ck_assert_int_eq(craft_xattr_raw(fs, b, &raw, 8), 0);
	ck_assert_int_eq(e3s_snap_xattr_get(fs, b, &x, msg), -1);
	ck_assert_msg(strstr(msg, "8 bytes"), "msg: %s", msg);
}
END_TEST

START_TEST(clean_chain_of_three)
{
	struct e3s_chain ch;

	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_OK);
	ck_assert_uint_eq(ch.n, 3);
	ck_assert_uint_eq(ch.m[0].ino, c);
	ck_assert_uint_eq(ch.m[0].id, 7);
	ck_assert_uint_eq(ch.m[1].ino, b);
	ck_assert_uint_eq(ch.m[1].id, 5);
	ck_assert(ch.m[1].x.flags & EXT3SNAP_X_DELETING);
	ck_assert_uint_eq(ch.m[2].ino, a);
	ck_assert_uint_eq(ch.m[2].x.prev, 0);
	ck_assert(e3s_chain_has(&ch, b));
	ck_assert(!e3s_chain_has(&ch, EXT2_ROOT_INO));
	e3s_chain_free(&ch);
}
END_TEST

START_TEST(loop_is_detected)
{
	struct e3s_chain ch;

	set_x(a, 2, c);
	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_LOOP);
	ck_assert_uint_eq(ch.n, 3);
	ck_assert_uint_eq(ch.bad_ino, c);
	ck_assert_msg(strstr(ch.why, "loop"), "why: %s", ch.why);
	e3s_chain_free(&ch);
	/* A snapshot naming itself. */
	set_x(c, 7, c);
	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_LOOP);
	ck_assert_uint_eq(ch.n, 1);
	e3s_chain_free(&ch);
}
END_TEST

START_TEST(ids_must_decrease)
{
	struct e3s_chain ch;

	set_x(b, 7, a);		/* equal to the newer one's */
	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_ID_ORDER);
	ck_assert_uint_eq(ch.n, 1);
	ck_assert_uint_eq(ch.bad_ino, b);
	e3s_chain_free(&ch);
	set_x(b, 6, a);
	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_OK);
	ck_assert_uint_eq(ch.n, 3);
	e3s_chain_free(&ch);
}
END_TEST

START_TEST(dangling_prev)
{
	struct e3s_chain ch;

	set_x(b, 5, 5000);	/* a free inode */
	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_NOT_SNAPFILE);
	ck_assert_uint_eq(ch.n, 2);
	ck_assert_uint_eq(ch.bad_ino, 5000);
	ck_assert_msg(strstr(ch.why, "a free inode"), "why: %s", ch.why);
	e3s_chain_free(&ch);
	set_x(b, 5, EXT2_ROOT_INO);	/* reserved: not a valid number */
	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_NOT_SNAPFILE);
	e3s_chain_free(&ch);
	set_x(b, 5, 11);	/* lost+found */
	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_NOT_SNAPFILE);
	ck_assert_msg(strstr(ch.why, "not a regular file"), "why: %s", ch.why);
	e3s_chain_free(&ch);
}
END_TEST

START_TEST(member_without_xattr_breaks_the_chain)
{
	struct e3s_chain ch;
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(e3s_snap_xattr_remove(fs, b, msg), 0);
	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_BAD_XATTR);
	ck_assert_uint_eq(ch.n, 1);
	e3s_chain_free(&ch);
}
END_TEST

START_TEST(head_without_xattr_is_a_chain_of_one)
{
	struct e3s_chain ch;
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(e3s_snap_xattr_remove(fs, c, msg), 0);
	fs->super->s_snapshot_id = 9;
	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_OK);
	ck_assert_uint_eq(ch.n, 1);
	ck_assert_int_eq(ch.m[0].has_x, 0);
	ck_assert_uint_eq(ch.m[0].id, 9);
	e3s_chain_free(&ch);
}
END_TEST

START_TEST(no_snapshot_is_an_empty_chain)
{
	struct e3s_chain ch;

	fs->super->s_snapshot_inum = 0;
	walk(&ch);
	ck_assert_int_eq(ch.end, E3S_CHAIN_OK);
	ck_assert_uint_eq(ch.n, 0);
	e3s_chain_free(&ch);
}
END_TEST

START_TEST(snapfiles_lists_the_flagged_inodes)
{
	char msg[E3S_MSG_LEN] = "";
	struct ext2_inode inode;
	ext2_ino_t *f, stray;
	unsigned int n;

	ck_assert_int_eq(craft_member(fs, "stray", 1, LEN, 0, 0, &stray), 0);
	ck_assert_int_eq(e3s_snapfiles(fs, &f, &n, msg), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(f[0], a);
	ck_assert_uint_eq(f[3], stray);
	free(f);
	ck_assert_int_eq(ext2fs_read_inode(fs, b, &inode), 0);
	inode.i_flags &= ~EXT3SNAP_SNAPFILE_FL;
	ck_assert_int_eq(ext2fs_write_inode(fs, b, &inode), 0);
	ck_assert_int_eq(e3s_snapfiles(fs, &f, &n, msg), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(f[1], c);
	free(f);
}
END_TEST

/* Each journal replays into its own file, at the blocks it names. */
START_TEST(middle_journal_lands_in_its_file)
{
	struct craft_entry e[] = { copy(300, blk_b), copy(301, blk_a) };
	struct e3s_bij_result r;
	char buf[BS];

	ck_assert_int_eq(craft_record(fs, b, 1, 1, e, 2), 0);
	replay(c, 0, &r);
	ck_assert_uint_eq(r.records, 0);
	replay(b, 0, &r);
	ck_assert_uint_eq(r.records, 1);
	ck_assert_uint_eq(r.copies_new, 2);
	replay(a, 0, &r);
	ck_assert_uint_eq(r.records, 0);
	ck_assert_uint_ne(lookup(b, 300), 0);
	ck_assert_int_eq(io_channel_read_blk64(fs->io, lookup(b, 300), 1, buf),
			 0);
	ck_assert(!memcmp(buf, blk_b, BS));
	ck_assert_int_eq(io_channel_read_blk64(fs->io, lookup(b, 301), 1, buf),
			 0);
	ck_assert(!memcmp(buf, blk_a, BS));
	ck_assert_uint_eq(lookup(a, 300), 0);
	ck_assert_uint_eq(lookup(c, 300), 0);
}
END_TEST

/*
 * A copy into the newest snapshot must not take a block that an older
 * one's journal moves to it, even if the bitmap shows that block free:
 * every journal's moves are reserved before any replays.
 */
static void cross_journal(int reserve)
{
	struct e3s_bij_result r;
	struct craft_entry ec[1], eb[1];
	blk64_t x;

	/* The block a copy of X would be allocated at: X itself, free. */
	ck_assert_int_eq(ext2fs_read_bitmaps(fs), 0);
	ck_assert_int_eq(ext2fs_new_block2(fs, 6000, NULL, &x), 0);
	ck_assert(!ext2fs_test_block_bitmap2(fs->block_map, x));
	ec[0] = copy(x, blk_a);
	eb[0] = move(x, 1, TID - 1);
	ck_assert_int_eq(craft_record(fs, c, 1, 1, ec, 1), 0);
	ck_assert_int_eq(craft_record(fs, b, 1, 1, eb, 1), 0);
	if (reserve) {
		replay(c, E3S_BIJ_RESERVE_ONLY, &r);
		replay(b, E3S_BIJ_RESERVE_ONLY, &r);
		ck_assert(ext2fs_test_block_bitmap2(fs->block_map, x));
	}
	replay(c, 0, &r);
	ck_assert_uint_eq(r.copies_new, 1);
	replay(b, 0, &r);
	ck_assert_uint_eq(lookup(b, x), x);
	if (reserve)
		ck_assert_uint_ne(lookup(c, x), x);
	else	/* what the reservation prevents: both own X */
		ck_assert_uint_eq(lookup(c, x), x);
}

START_TEST(moves_of_every_journal_are_reserved_first)
{
	cross_journal(1);
}
END_TEST

START_TEST(without_reservation_a_copy_takes_a_moved_block)
{
	cross_journal(0);
}
END_TEST

START_TEST(reserve_only_writes_no_journal)
{
	struct craft_entry e[] = { copy(300, blk_b) };
	struct e3s_bij_result r;
	char msg[E3S_MSG_LEN] = "";
	struct e3s_bij_hdr h;

	ck_assert_int_eq(craft_record(fs, b, 1, 1, e, 1), 0);
	replay(b, E3S_BIJ_RESERVE_ONLY, &r);
	ck_assert_uint_eq(lookup(b, 300), 0);
	ck_assert_int_eq(e3s_bij_read_header(fs, b, &h, msg), 0);
	ck_assert_uint_eq(h.tail_pos, 1);
	ck_assert_int_eq(e3s_bij_replay(fs, b, TID, E3S_BIJ_RESERVE_ONLY |
					E3S_BIJ_DRY_RUN, &r, msg), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("chain");
	TCase *tc = tcase_create("chain");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, xattr_round_trip);
	tcase_add_test(tc, xattr_bad_magic_and_length);
	tcase_add_test(tc, clean_chain_of_three);
	tcase_add_test(tc, loop_is_detected);
	tcase_add_test(tc, ids_must_decrease);
	tcase_add_test(tc, dangling_prev);
	tcase_add_test(tc, member_without_xattr_breaks_the_chain);
	tcase_add_test(tc, head_without_xattr_is_a_chain_of_one);
	tcase_add_test(tc, no_snapshot_is_an_empty_chain);
	tcase_add_test(tc, snapfiles_lists_the_flagged_inodes);
	tcase_add_test(tc, middle_journal_lands_in_its_file);
	tcase_add_test(tc, moves_of_every_journal_are_reserved_first);
	tcase_add_test(tc, without_reservation_a_copy_takes_a_moved_block);
	tcase_add_test(tc, reserve_only_writes_no_journal);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
