// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the before-image journal (lib/bij.c), on an ext3 image
 * made by mke2fs with a snapshot file crafted as the kernel lays it out.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bij-craft.h"

#define BS	EXT3SNAP_BLOCK_SIZE
#define LEN	16		/* journal blocks, header included */
#define TID	100		/* first transaction that did not commit */

static char dir[] = "/tmp/e3s-bij-XXXXXX";
static char img[128];
static ext2_filsys fs;
static ext2_ino_t ino;
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
	ck_assert_int_eq(craft_snapshot(fs, "snap", 7, LEN, &ino), 0);
	memset(blk_a, 0xa5, BS);
	memset(blk_b, 0x5a, BS);
	strcpy(blk_b, "before image of block 300");
}

static void teardown(void)
{
	char cmd[128];

	if (fs)
		ext2fs_close_free(&fs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	strcpy(dir, "/tmp/e3s-bij-XXXXXX");
}

static blk64_t lookup(blk64_t lblk)
{
	struct ext2_inode inode;
	blk64_t pblk = 0;

	ck_assert_int_eq(ext2fs_read_inode(fs, ino, &inode), 0);
	ck_assert_int_eq(ext2fs_bmap2(fs, ino, &inode, NULL, 0, lblk, NULL,
				      &pblk), 0);
	return pblk;
}

/* The snapshot's logical block LBLK holds DATA. */
static void assert_holds(blk64_t lblk, const char *data)
{
	char buf[BS];
	blk64_t pblk = lookup(lblk);

	ck_assert_msg(pblk, "logical block %llu is not mapped",
		      (unsigned long long)lblk);
	ck_assert_int_eq(io_channel_read_blk64(fs->io, pblk, 1, buf), 0);
	ck_assert_msg(!memcmp(buf, data, BS), "wrong data at %llu",
		      (unsigned long long)lblk);
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

static void replay(int flags, struct e3s_bij_result *r)
{
	char msg[E3S_MSG_LEN] = "";

	ck_assert_msg(e3s_bij_replay(fs, ino, TID, flags, r, msg) == 0,
		      "replay failed: %s", msg);
}

static struct e3s_bij_hdr header(void)
{
	char msg[E3S_MSG_LEN] = "";
	struct e3s_bij_hdr h;

	ck_assert_msg(e3s_bij_read_header(fs, ino, &h, msg) == 0, "%s", msg);
	return h;
}

/* A block in use by nobody, as the origin leaves a moved one. */
static blk64_t orphan(void)
{
	blk64_t b;

	ck_assert_int_eq(ext2fs_new_block2(fs, 5000, NULL, &b), 0);
	ext2fs_block_alloc_stats2(fs, b, +1);
	return b;
}

START_TEST(header_is_valid_and_checked)
{
	struct e3s_bij_hdr h = header();
	char msg[E3S_MSG_LEN] = "", buf[BS];

	ck_assert_uint_eq(h.snap_id, 7);
	ck_assert_uint_eq(h.len, LEN);
	ck_assert_uint_eq(h.image_blocks, ext2fs_blocks_count(fs->super));
	ck_assert_uint_eq(h.tail_pos, 1);
	/* One flipped byte: the checksum says so. */
	ck_assert_int_eq(craft_bij_io(fs, ino, 0, buf, 0), 0);
	buf[40] ^= 1;
	ck_assert_int_eq(craft_bij_io(fs, ino, 0, buf, 1), 0);
	ck_assert_int_eq(e3s_bij_read_header(fs, ino, &h, msg), -1);
	ck_assert_msg(strstr(msg, "checksum"), "message was: %s", msg);
}
END_TEST

START_TEST(header_size_mismatch_is_refused)
{
	struct ext2_inode inode;
	struct e3s_bij_hdr h;
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(ext2fs_read_inode(fs, ino, &inode), 0);
	ck_assert_int_eq(ext2fs_inode_size_set(fs, &inode, 4096), 0);
	ck_assert_int_eq(ext2fs_write_inode(fs, ino, &inode), 0);
	ck_assert_int_eq(e3s_bij_read_header(fs, ino, &h, msg), -1);
	ck_assert_msg(strstr(msg, "size"), "message was: %s", msg);
}
END_TEST

/* An exclude map adds one block per group to the file's size. */
START_TEST(header_exclude_map_counts_in_size)
{
	struct e3s_bij_hdr h = header();
	struct ext2_inode inode;
	char msg[E3S_MSG_LEN] = "";
	__u64 image = ext2fs_blocks_count(fs->super);

	h.flags |= EXT3SNAP_BIJ_EXCLUDE;
	ck_assert_int_eq(e3s_bij_write_header(fs, ino, &h, msg), 0);
	ck_assert_uint_eq(e3s_exclude_len(fs, &h), fs->group_desc_count);
	/* The size of a file without the map: refused, and said why. */
	ck_assert_int_eq(e3s_bij_read_header(fs, ino, &h, msg), -1);
	ck_assert_msg(strstr(msg, "exclude map"), "message was: %s", msg);
	ck_assert_int_eq(ext2fs_read_inode(fs, ino, &inode), 0);
	ck_assert_int_eq(ext2fs_inode_size_set(fs, &inode,
		(image + LEN + fs->group_desc_count) * BS), 0);
	ck_assert_int_eq(ext2fs_write_inode(fs, ino, &inode), 0);
	ck_assert_msg(e3s_bij_read_header(fs, ino, &h, msg) == 0, "%s", msg);
	ck_assert_uint_eq(h.flags & EXT3SNAP_BIJ_EXCLUDE, EXT3SNAP_BIJ_EXCLUDE);
}
END_TEST

START_TEST(copies_land_at_their_block)
{
	struct craft_entry e[] = { copy(300, blk_b), copy(7000, blk_a) };
	struct e3s_bij_result r;
	struct e3s_bij_hdr h;

	ck_assert_int_eq(craft_record(fs, ino, 1, 1, e, 2), 0);
	ck_assert_uint_eq(lookup(300), 0);
	replay(0, &r);
	ck_assert_uint_eq(r.records, 1);
	ck_assert_uint_eq(r.copies_new, 2);
	ck_assert_int_eq(r.end, E3S_BIJ_END_CLEAN);
	assert_holds(300, blk_b);
	assert_holds(7000, blk_a);
	/* The copy is a new block, not block 300 itself. */
	ck_assert_uint_ne(lookup(300), 300);
	ck_assert(ext2fs_test_block_bitmap2(fs->block_map, lookup(300)));
	h = header();
	ck_assert_uint_eq(h.tail_pos, 4);
	ck_assert_uint_eq(h.tail_seq, 2);
}
END_TEST

START_TEST(moves_map_only_committed_tids)
{
	blk64_t a = orphan(), b = orphan(), c = orphan();
	struct craft_entry e[] = { move(a, 1, TID - 1), move(b, 1, TID),
				   move(c, 1, TID - 0x80000000U) };
	struct e3s_bij_result r;

	ck_assert_uint_eq(b, a + 1);
	ck_assert_int_eq(craft_record(fs, ino, 1, 1, e, 3), 0);
	replay(0, &r);
	ck_assert_uint_eq(r.moved, 3);
	ck_assert_uint_eq(r.moved_new, 1);
	ck_assert_uint_eq(r.moved_uncommitted, 2);
	ck_assert_uint_eq(lookup(a), a);	/* N -> N */
	ck_assert_uint_eq(lookup(b), 0);	/* tid TID did not commit */
	ck_assert_uint_eq(lookup(c), 0);	/* "before" only half a wrap */
}
END_TEST

static int count_block(ext2_filsys f, blk64_t *blocknr, e2_blkcnt_t cnt,
		       blk64_t ref, int off, void *priv)
{
	blk64_t *want = priv;

	(void)f, (void)cnt, (void)ref, (void)off;
	if (*blocknr == want[0])
		want[1]++;
	return 0;
}

START_TEST(indirect_blocks_never_take_a_moved_block)
{
	struct craft_entry e[2];
	struct e3s_bij_result r;
	blk64_t a, want[2];

	/* The first free blocks: where indirect blocks would go. */
	ck_assert_int_eq(ext2fs_new_block2(fs, 0, NULL, &a), 0);
	ext2fs_block_alloc_stats2(fs, a, +1);
	e[0] = move(a, 1, 1);
	e[1] = move(a + 1, 1, 1);

	/* a + 1 is free in the bitmap: the first move's indirect blocks
	 * must not be allocated there. */
	ck_assert(!ext2fs_test_block_bitmap2(fs->block_map, a + 1));
	ck_assert_int_eq(craft_record(fs, ino, 1, 1, e, 2), 0);
	replay(0, &r);
	ck_assert_uint_eq(lookup(a + 1), a + 1);
	want[0] = a + 1;
	want[1] = 0;
	ck_assert_int_eq(ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY,
					       NULL, count_block, want), 0);
	ck_assert_uint_eq(want[1], 1);
}
END_TEST

START_TEST(tid_comparison_wraps)
{
	ck_assert(e3s_tid_before(5, 6));
	ck_assert(!e3s_tid_before(6, 6));
	ck_assert(!e3s_tid_before(7, 6));
	ck_assert(e3s_tid_before(0xfffffffeU, 3));
	ck_assert(!e3s_tid_before(3, 0xfffffffeU));
}
END_TEST

START_TEST(move_run_maps_each_block)
{
	blk64_t a = orphan(), n;
	struct e3s_bij_result r;
	struct craft_entry e[1];

	for (n = 1; n < 4; n++)
		ck_assert_uint_eq(orphan(), a + n);
	e[0] = move(a, 4, 1);
	ck_assert_int_eq(craft_record(fs, ino, 1, 1, e, 1), 0);
	replay(0, &r);
	ck_assert_uint_eq(r.moved_new, 4);
	for (n = a; n < a + 4; n++)
		ck_assert_uint_eq(lookup(n), n);
}
END_TEST

START_TEST(torn_record_stops_replay)
{
	struct craft_entry e1[] = { copy(300, blk_b) };
	struct craft_entry e2[] = { copy(301, blk_a) };
	struct e3s_bij_result r;
	char buf[BS];

	ck_assert_int_eq(craft_record(fs, ino, 1, 1, e1, 1), 0);
	ck_assert_int_eq(craft_record(fs, ino, 3, 2, e2, 1), 0);
	/* The second record's data block was half written. */
	ck_assert_int_eq(craft_bij_io(fs, ino, 4, buf, 0), 0);
	memset(buf + 2048, 0, 2048);
	ck_assert_int_eq(craft_bij_io(fs, ino, 4, buf, 1), 0);
	replay(0, &r);
	ck_assert_uint_eq(r.records, 1);
	ck_assert_int_eq(r.end, E3S_BIJ_END_TORN);
	ck_assert_msg(strstr(r.why, "data checksum"), "why: %s", r.why);
	assert_holds(300, blk_b);
	ck_assert_uint_eq(lookup(301), 0);
	ck_assert_uint_eq(header().tail_pos, 3);
	ck_assert_uint_eq(header().tail_seq, 2);
	/* Dropped: the next scan ends cleanly, changing nothing. */
	replay(0, &r);
	ck_assert_int_eq(r.end, E3S_BIJ_END_CLEAN);
	ck_assert_uint_eq(r.records, 0);
}
END_TEST

START_TEST(damaged_record_before_others_is_corruption)
{
	struct craft_entry e1[] = { copy(300, blk_b) };
	struct craft_entry e2[] = { copy(301, blk_a) };
	struct e3s_bij_result r;
	char buf[BS];
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(craft_record(fs, ino, 1, 1, e1, 1), 0);
	ck_assert_int_eq(craft_record(fs, ino, 3, 2, e2, 1), 0);
	/* Record 1's descriptor decays; record 2 shows the journal went on. */
	ck_assert_int_eq(craft_bij_io(fs, ino, 1, buf, 0), 0);
	buf[100] ^= 0x10;
	ck_assert_int_eq(craft_bij_io(fs, ino, 1, buf, 1), 0);
	replay(E3S_BIJ_DRY_RUN, &r);
	ck_assert_uint_eq(r.records, 0);
	ck_assert_int_eq(r.end, E3S_BIJ_END_CORRUPT);
	ck_assert_msg(strstr(r.why, "descriptor checksum"), "why: %s", r.why);
	replay(0, &r);
	ck_assert_uint_eq(lookup(300), 0);
	ck_assert_uint_eq(lookup(301), 0);
	ck_assert_int_eq(e3s_bij_mark_broken(fs, ino, msg), 0);
	ck_assert(header().flags & EXT3SNAP_BIJ_BROKEN);
}
END_TEST

START_TEST(bad_sequence_stops_replay)
{
	struct craft_entry e1[] = { copy(300, blk_b) };
	struct craft_entry e2[] = { copy(301, blk_a) };
	struct e3s_bij_result r;

	ck_assert_int_eq(craft_record(fs, ino, 1, 1, e1, 1), 0);
	/* Sequence 3 where 2 is expected: record 2 is lost. */
	ck_assert_int_eq(craft_record(fs, ino, 3, 3, e2, 1), 0);
	replay(0, &r);
	ck_assert_uint_eq(r.records, 1);
	ck_assert_int_eq(r.end, E3S_BIJ_END_CORRUPT);
	ck_assert_msg(strstr(r.why, "sequence number 3"), "why: %s", r.why);
	ck_assert_uint_eq(lookup(301), 0);
}
END_TEST

START_TEST(old_lap_ends_cleanly)
{
	struct craft_entry e1[] = { copy(300, blk_b) };
	struct e3s_bij_result r;
	struct e3s_bij_hdr h = header();
	char msg[E3S_MSG_LEN];

	/* A record of an earlier lap (sequence 1) sits at the tail (5, 9). */
	ck_assert_int_eq(craft_record(fs, ino, 5, 1, e1, 1), 0);
	h.tail_pos = 5;
	h.tail_seq = 9;
	ck_assert_int_eq(e3s_bij_write_header(fs, ino, &h, msg), 0);
	replay(0, &r);
	ck_assert_uint_eq(r.records, 0);
	ck_assert_int_eq(r.end, E3S_BIJ_END_CLEAN);
	ck_assert_uint_eq(lookup(300), 0);
}
END_TEST

START_TEST(record_wraps_to_position_one)
{
	struct craft_entry e1[] = { copy(300, blk_b), copy(302, blk_b) };
	struct craft_entry e2[] = { copy(301, blk_a) };
	struct e3s_bij_result r;
	struct e3s_bij_hdr h = header();
	char msg[E3S_MSG_LEN];

	/* Record 5 fills positions 12..14; record 6 does not fit at 15. */
	ck_assert_int_eq(craft_record(fs, ino, 12, 5, e1, 2), 0);
	ck_assert_int_eq(craft_record(fs, ino, 1, 6, e2, 1), 0);
	h.tail_pos = 12;
	h.tail_seq = 5;
	ck_assert_int_eq(e3s_bij_write_header(fs, ino, &h, msg), 0);
	replay(0, &r);
	ck_assert_uint_eq(r.records, 2);
	ck_assert_int_eq(r.end, E3S_BIJ_END_CLEAN);
	assert_holds(300, blk_b);
	assert_holds(302, blk_b);
	assert_holds(301, blk_a);
	h = header();
	ck_assert_uint_eq(h.tail_pos, 3);
	ck_assert_uint_eq(h.tail_seq, 7);
}
END_TEST

START_TEST(record_ending_at_the_end_wraps)
{
	struct craft_entry e1[] = { copy(300, blk_b) };
	struct craft_entry e2[] = { copy(301, blk_a) };
	struct e3s_bij_result r;
	struct e3s_bij_hdr h = header();
	char msg[E3S_MSG_LEN];

	/* Record 5 takes 14 and 15, the last positions: 6 starts at 1. */
	ck_assert_int_eq(craft_record(fs, ino, 14, 5, e1, 1), 0);
	ck_assert_int_eq(craft_record(fs, ino, 1, 6, e2, 1), 0);
	h.tail_pos = 14;
	h.tail_seq = 5;
	ck_assert_int_eq(e3s_bij_write_header(fs, ino, &h, msg), 0);
	replay(0, &r);
	ck_assert_uint_eq(r.records, 2);
	assert_holds(301, blk_a);
}
END_TEST

START_TEST(replay_is_idempotent)
{
	blk64_t a = orphan();
	struct craft_entry e[] = { copy(300, blk_b), move(a, 1, 1) };
	struct e3s_bij_result r;
	struct e3s_bij_hdr h = header();
	struct ext2_inode before, after;
	blk64_t copy_at;
	char msg[E3S_MSG_LEN];

	ck_assert_int_eq(craft_record(fs, ino, 1, 1, e, 2), 0);
	replay(0, &r);
	copy_at = lookup(300);
	ck_assert_int_eq(ext2fs_read_inode(fs, ino, &before), 0);
	/* As if we crashed before the tail was written: replay again. */
	ck_assert_int_eq(e3s_bij_write_header(fs, ino, &h, msg), 0);
	replay(0, &r);
	ck_assert_uint_eq(r.records, 1);
	ck_assert_uint_eq(r.copies_new, 0);
	ck_assert_uint_eq(r.moved_new, 0);
	ck_assert_uint_eq(lookup(300), copy_at);
	ck_assert_int_eq(ext2fs_read_inode(fs, ino, &after), 0);
	ck_assert_uint_eq(before.i_blocks, after.i_blocks);
}
END_TEST

START_TEST(dry_run_counts_and_writes_nothing)
{
	blk64_t a = orphan();
	struct craft_entry e[] = { copy(300, blk_b), move(a, 1, 1),
				   move(a + 1, 2, TID) };
	struct e3s_bij_result r;
	struct ext2_inode before, after;
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(craft_record(fs, ino, 1, 1, e, 3), 0);
	ck_assert_int_eq(ext2fs_read_inode(fs, ino, &before), 0);
	ck_assert_int_eq(e3s_bij_replay(fs, ino, TID, E3S_BIJ_DRY_RUN, &r,
					msg), 0);
	ck_assert_uint_eq(r.records, 1);
	ck_assert_uint_eq(r.copies_new, 1);
	ck_assert_uint_eq(r.moved_new, 1);
	ck_assert_uint_eq(r.moved_uncommitted, 2);
	ck_assert_uint_eq(lookup(300), 0);
	ck_assert_uint_eq(lookup(a), 0);
	ck_assert_uint_eq(header().tail_pos, 1);
	ck_assert_int_eq(ext2fs_read_inode(fs, ino, &after), 0);
	ck_assert_uint_eq(before.i_blocks, after.i_blocks);
	/* Unknown commit state: no move counts as committed. */
	ck_assert_int_eq(e3s_bij_replay(fs, ino, TID, E3S_BIJ_DRY_RUN |
					E3S_BIJ_TID_UNKNOWN, &r, msg), 0);
	ck_assert_uint_eq(r.moved_new, 0);
	ck_assert_uint_eq(r.moved_uncommitted, 3);
}
END_TEST

START_TEST(entry_beyond_image_is_damage)
{
	struct craft_entry e[] = { move(ext2fs_blocks_count(fs->super) - 1,
					2, 1) };
	struct e3s_bij_result r;

	ck_assert_int_eq(craft_record(fs, ino, 1, 1, e, 1), 0);
	replay(0, &r);
	ck_assert_uint_eq(r.records, 0);
	ck_assert_int_eq(r.end, E3S_BIJ_END_TORN);
	ck_assert_msg(strstr(r.why, "not valid"), "why: %s", r.why);
}
END_TEST

START_TEST(replay_needs_rw_unless_dry)
{
	struct e3s_bij_result r;
	char msg[E3S_MSG_LEN] = "";

	ck_assert_int_eq(ext2fs_close_free(&fs), 0);
	ck_assert_int_eq(ext2fs_open(img, EXT2_FLAG_64BITS, 0, 0,
				     unix_io_manager, &fs), 0);
	ck_assert_int_eq(e3s_bij_replay(fs, ino, TID, 0, &r, msg), -1);
	ck_assert_msg(strstr(msg, "read-write"), "message was: %s", msg);
	ck_assert_int_eq(e3s_bij_replay(fs, ino, TID, E3S_BIJ_DRY_RUN, &r,
					msg), 0);
}
END_TEST

START_TEST(journal_state_of_fresh_fs)
{
	char msg[E3S_MSG_LEN] = "";
	__u32 seq;
	int recovery;

	ck_assert_int_eq(e3s_journal_state(fs, &seq, &recovery, msg), 0);
	ck_assert_int_eq(recovery, 0);
	ck_assert_uint_ge(seq, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bij");
	TCase *tc = tcase_create("replay");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, header_is_valid_and_checked);
	tcase_add_test(tc, header_size_mismatch_is_refused);
	tcase_add_test(tc, header_exclude_map_counts_in_size);
	tcase_add_test(tc, copies_land_at_their_block);
	tcase_add_test(tc, moves_map_only_committed_tids);
	tcase_add_test(tc, indirect_blocks_never_take_a_moved_block);
	tcase_add_test(tc, tid_comparison_wraps);
	tcase_add_test(tc, move_run_maps_each_block);
	tcase_add_test(tc, torn_record_stops_replay);
	tcase_add_test(tc, damaged_record_before_others_is_corruption);
	tcase_add_test(tc, bad_sequence_stops_replay);
	tcase_add_test(tc, old_lap_ends_cleanly);
	tcase_add_test(tc, record_wraps_to_position_one);
	tcase_add_test(tc, record_ending_at_the_end_wraps);
	tcase_add_test(tc, replay_is_idempotent);
	tcase_add_test(tc, dry_run_counts_and_writes_nothing);
	tcase_add_test(tc, entry_beyond_image_is_damage);
	tcase_add_test(tc, replay_needs_rw_unless_dry);
	tcase_add_test(tc, journal_state_of_fresh_fs);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
