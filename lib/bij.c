// SPDX-License-Identifier: GPL-2.0
/*
 * libext3snap: the before-image journal (BIJ) of a snapshot file: reading
 * and checking its header and records, and replaying them into the file
 * with libext2fs, as Documentation/ext3snap-format.md describes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext3snap.h"
#include "libext3snap.h"

#define BS EXT3SNAP_BLOCK_SIZE

/* jbd2's journal superblock: big-endian, the fields we read. */
#define JBD2_MAGIC		0xc03b3998U
#define JSB_BLOCKTYPE_OFF	4
#define JSB_SEQUENCE_OFF	24
#define JSB_START_OFF		28

__u32 e3s_bij_block_crc(const void *block, size_t crc_off)
{
	static const unsigned char zero[4];
	const unsigned char *p = block;
	__u32 crc;

	if (crc_off > BS - 4)
		return ext2fs_crc32c_le(~0U, p, BS);
	/* The checksum field counts as zero. */
	crc = ext2fs_crc32c_le(~0U, p, crc_off);
	crc = ext2fs_crc32c_le(crc, zero, 4);
	return ext2fs_crc32c_le(crc, p + crc_off + 4, BS - crc_off - 4);
}

/* Physical block of logical block LBLK of the snapshot file, 0 if a hole. */
static errcode_t file_block(ext2_filsys fs, ext2_ino_t ino,
			    struct ext2_inode *inode, blk64_t lblk,
			    blk64_t *pblk)
{
	*pblk = 0;
	return ext2fs_bmap2(fs, ino, inode, NULL, 0, lblk, NULL, pblk);
}

/* Read BIJ block POS (0: header) into BUF; a hole reads as zeroes. */
static errcode_t read_bij_block(ext2_filsys fs, ext2_ino_t ino,
				struct ext2_inode *inode, blk64_t image,
				__u32 pos, void *buf)
{
	blk64_t pblk;
	errcode_t err;

	err = file_block(fs, ino, inode, image + pos, &pblk);
	if (err)
		return err;
	if (!pblk) {
		memset(buf, 0, BS);
		return 0;
	}
	return io_channel_read_blk64(fs->io, pblk, 1, buf);
}

static errcode_t write_bij_block(ext2_filsys fs, ext2_ino_t ino,
				 struct ext2_inode *inode, blk64_t image,
				 __u32 pos, const void *buf)
{
	blk64_t pblk;
	errcode_t err;

	err = file_block(fs, ino, inode, image + pos, &pblk);
	if (err)
		return err;
	if (!pblk)
		return EXT2_ET_BAD_BLOCK_NUM;
	return io_channel_write_blk64(fs->io, pblk, 1, buf);
}

static void decode_header(const struct ext3snap_bij_header *d,
			  struct e3s_bij_hdr *h)
{
	h->snap_id = ext2fs_le32_to_cpu(d->h_snap_id);
	h->flags = ext2fs_le32_to_cpu(d->h_flags);
	h->image_blocks = ext2fs_le64_to_cpu(d->h_image_blocks);
	h->len = ext2fs_le32_to_cpu(d->h_len);
	h->tail_pos = ext2fs_le32_to_cpu(d->h_tail_pos);
	h->tail_seq = ext2fs_le64_to_cpu(d->h_tail_seq);
}

void e3s_bij_encode_header(const struct e3s_bij_hdr *h, void *block)
{
	struct ext3snap_bij_header *d = block;

	memset(block, 0, BS);
	d->h_magic = ext2fs_cpu_to_le32(EXT3SNAP_BIJ_MAGIC);
	d->h_version = ext2fs_cpu_to_le32(EXT3SNAP_BIJ_VERSION);
	d->h_snap_id = ext2fs_cpu_to_le32(h->snap_id);
	d->h_flags = ext2fs_cpu_to_le32(h->flags);
	d->h_image_blocks = ext2fs_cpu_to_le64(h->image_blocks);
	d->h_len = ext2fs_cpu_to_le32(h->len);
	d->h_tail_pos = ext2fs_cpu_to_le32(h->tail_pos);
	d->h_tail_seq = ext2fs_cpu_to_le64(h->tail_seq);
	d->h_crc = ext2fs_cpu_to_le32(e3s_bij_block_crc(block,
			offsetof(struct ext3snap_bij_header, h_crc)));
}

int e3s_bij_read_header(ext2_filsys fs, ext2_ino_t ino,
			struct e3s_bij_hdr *h, char *msg)
{
	struct ext3snap_bij_header *d;
	struct ext2_inode inode;
	blk64_t image = ext2fs_blocks_count(fs->super);
	__u64 size;
	char *buf = NULL;
	errcode_t err;
	int ret = -1;

	if (fs->blocksize != BS) {
		snprintf(msg, E3S_MSG_LEN,
			 "block size is %u; snapshots need %u-byte blocks",
			 fs->blocksize, BS);
		return -1;
	}
	err = ext2fs_read_inode(fs, ino, &inode);
	if (!err)
		err = ext2fs_get_mem(BS, &buf);
	if (!err)
		err = read_bij_block(fs, ino, &inode, image, 0, buf);
	if (err) {
		snprintf(msg, E3S_MSG_LEN,
			 "cannot read the journal header of snapshot inode %u: %s",
			 ino, error_message(err));
		goto out;
	}
	d = (struct ext3snap_bij_header *)buf;
	decode_header(d, h);
	size = EXT2_I_SIZE(&inode);
	if (ext2fs_le32_to_cpu(d->h_magic) != EXT3SNAP_BIJ_MAGIC)
		snprintf(msg, E3S_MSG_LEN,
			 "snapshot inode %u has no journal header at block %llu (bad magic)",
			 ino, (unsigned long long)image);
	else if (ext2fs_le32_to_cpu(d->h_version) != EXT3SNAP_BIJ_VERSION)
		snprintf(msg, E3S_MSG_LEN,
			 "snapshot inode %u: journal version %u, this tool knows %u only",
			 ino, ext2fs_le32_to_cpu(d->h_version),
			 EXT3SNAP_BIJ_VERSION);
	else if (ext2fs_le32_to_cpu(d->h_crc) != e3s_bij_block_crc(buf,
			offsetof(struct ext3snap_bij_header, h_crc)))
		snprintf(msg, E3S_MSG_LEN,
			 "snapshot inode %u: journal header checksum mismatch",
			 ino);
	else if (h->image_blocks != image)
		snprintf(msg, E3S_MSG_LEN,
			 "snapshot inode %u: journal header says the image has %llu blocks, the filesystem has %llu",
			 ino, (unsigned long long)h->image_blocks,
			 (unsigned long long)image);
	else if (h->len < 2 || h->tail_pos < 1 || h->tail_pos >= h->len)
		snprintf(msg, E3S_MSG_LEN,
			 "snapshot inode %u: journal header has length %u and tail %u",
			 ino, h->len, h->tail_pos);
	else if (size != (image + h->len + e3s_exclude_len(fs, h)) * BS)
		snprintf(msg, E3S_MSG_LEN,
			 "snapshot inode %u: size %llu, expected %llu (image, journal%s)",
			 ino, (unsigned long long)size,
			 (unsigned long long)(image + h->len +
					      e3s_exclude_len(fs, h)) * BS,
			 e3s_exclude_len(fs, h) ? " and exclude map" : "");
	else
		ret = 0;
out:
	ext2fs_free_mem(&buf);
	return ret;
}

int e3s_bij_write_header(ext2_filsys fs, ext2_ino_t ino,
			 const struct e3s_bij_hdr *h, char *msg)
{
	struct ext2_inode inode;
	char *buf = NULL;
	errcode_t err;

	err = ext2fs_read_inode(fs, ino, &inode);
	if (!err)
		err = ext2fs_get_mem(BS, &buf);
	if (!err) {
		e3s_bij_encode_header(h, buf);
		err = write_bij_block(fs, ino, &inode, h->image_blocks, 0,
				      buf);
	}
	ext2fs_free_mem(&buf);
	if (err)
		snprintf(msg, E3S_MSG_LEN,
			 "cannot write the journal header of snapshot inode %u: %s",
			 ino, error_message(err));
	return err ? -1 : 0;
}

__u64 e3s_exclude_len(ext2_filsys fs, const struct e3s_bij_hdr *h)
{
	return h->flags & EXT3SNAP_BIJ_EXCLUDE ? fs->group_desc_count : 0;
}

int e3s_bij_mark_broken(ext2_filsys fs, ext2_ino_t ino, char *msg)
{
	struct e3s_bij_hdr h;

	if (e3s_bij_read_header(fs, ino, &h, msg))
		return -1;
	h.flags |= EXT3SNAP_BIJ_BROKEN;
	return e3s_bij_write_header(fs, ino, &h, msg);
}

/* ---- records ------------------------------------------------------------ */

enum rec_state { REC_VALID, REC_ABSENT, REC_DAMAGED };

struct scan {
	ext2_filsys fs;
	ext2_ino_t ino;
	struct ext2_inode inode;
	struct e3s_bij_hdr h;
	char *desc;		/* the descriptor being looked at */
	char *data;		/* its data blocks, d_nblocks of them */
	char why[E3S_MSG_LEN];	/* why a record is damaged */
	e3s_bij_entry_fn fn;	/* e3s_bij_walk: told every entry */
	void *arg;
};

/*
 * Is there a record with sequence number SEQ at ring position POS? Leaves
 * it in s->desc and s->data if so. ABSENT: no descriptor of this journal
 * with that number or a later one (the end of the journal, or an older
 * lap); DAMAGED: one that claims to be it, or to follow it, but is not
 * whole (s->why says how).
 */
static enum rec_state read_record(struct scan *s, __u32 pos, __u64 seq,
				  errcode_t *err)
{
	struct ext3snap_bij_desc *d = (struct ext3snap_bij_desc *)s->desc;
	__u32 count, nblocks, copies = 0, i;
	__u64 dseq;

	*err = 0;
	if (pos < 1 || pos >= s->h.len)
		return REC_ABSENT;
	*err = read_bij_block(s->fs, s->ino, &s->inode, s->h.image_blocks,
			      pos, s->desc);
	if (*err)
		return REC_ABSENT;
	if (ext2fs_le32_to_cpu(d->d_magic) != EXT3SNAP_BIJ_DESC_MAGIC ||
	    ext2fs_le32_to_cpu(d->d_snap_id) != s->h.snap_id)
		return REC_ABSENT;
	dseq = ext2fs_le64_to_cpu(d->d_seq);
	if (dseq < seq)
		return REC_ABSENT;
	if (dseq > seq) {
		snprintf(s->why, sizeof(s->why),
			 "record at position %u has sequence number %llu where %llu was expected",
			 pos, (unsigned long long)dseq,
			 (unsigned long long)seq);
		return REC_DAMAGED;
	}
	count = ext2fs_le32_to_cpu(d->d_count);
	nblocks = ext2fs_le32_to_cpu(d->d_nblocks);
	if (ext2fs_le32_to_cpu(d->d_crc) != e3s_bij_block_crc(s->desc,
			offsetof(struct ext3snap_bij_desc, d_crc))) {
		snprintf(s->why, sizeof(s->why),
			 "record %llu at position %u: descriptor checksum mismatch",
			 (unsigned long long)seq, pos);
		return REC_DAMAGED;
	}
	if (count > EXT3SNAP_BIJ_PER_DESC || nblocks > s->h.len - 1 - pos) {
		snprintf(s->why, sizeof(s->why),
			 "record %llu at position %u: %u entries and %u data blocks do not fit",
			 (unsigned long long)seq, pos, count, nblocks);
		return REC_DAMAGED;
	}
	for (i = 0; i < count; i++) {
		struct ext3snap_bij_entry *e = &d->d_entries[i];
		__u64 blk = ext2fs_le64_to_cpu(e->e_block);
		__u32 len = ext2fs_le32_to_cpu(e->e_len);
		__u16 kind = ext2fs_le16_to_cpu(e->e_kind);

		if ((kind != EXT3SNAP_BIJ_COPY && kind != EXT3SNAP_BIJ_MOVE) ||
		    (kind == EXT3SNAP_BIJ_COPY && len != 1) || len == 0 ||
		    blk >= s->h.image_blocks ||
		    len > s->h.image_blocks - blk) {
			snprintf(s->why, sizeof(s->why),
				 "record %llu at position %u: entry %u (kind %u, blocks %llu+%u) is not valid",
				 (unsigned long long)seq, pos, i, kind,
				 (unsigned long long)blk, len);
			return REC_DAMAGED;
		}
		copies += kind == EXT3SNAP_BIJ_COPY;
	}
	if (copies != nblocks) {
		snprintf(s->why, sizeof(s->why),
			 "record %llu at position %u: %u copies but %u data blocks",
			 (unsigned long long)seq, pos, copies, nblocks);
		return REC_DAMAGED;
	}
	for (i = 0, copies = 0; i < count; i++) {
		struct ext3snap_bij_entry *e = &d->d_entries[i];
		char *blk = s->data + (size_t)copies * BS;

		if (ext2fs_le16_to_cpu(e->e_kind) != EXT3SNAP_BIJ_COPY)
			continue;
		*err = read_bij_block(s->fs, s->ino, &s->inode,
				      s->h.image_blocks, pos + 1 + copies, blk);
		if (*err)
			return REC_ABSENT;
		if (ext2fs_le32_to_cpu(e->e_crc) !=
		    e3s_bij_block_crc(blk, (size_t)-1)) {
			snprintf(s->why, sizeof(s->why),
				 "record %llu at position %u: data checksum mismatch for block %llu",
				 (unsigned long long)seq, pos,
				 (unsigned long long)ext2fs_le64_to_cpu(e->e_block));
			return REC_DAMAGED;
		}
		copies++;
	}
	return REC_VALID;
}

errcode_t e3s_snap_map(ext2_filsys fs, ext2_ino_t ino,
		       struct ext2_inode *inode, blk64_t lblk, blk64_t pblk)
{
	errcode_t err;

	err = ext2fs_bmap2(fs, ino, inode, NULL, BMAP_SET | BMAP_ALLOC, lblk,
			   NULL, &pblk);
	if (!err)
		err = ext2fs_iblk_add_blocks(fs, inode, 1);
	return err;
}

static errcode_t map_block(struct scan *s, blk64_t lblk, blk64_t pblk)
{
	return e3s_snap_map(s->fs, s->ino, &s->inode, lblk, pblk);
}

/* Internal: only mark the blocks of committed moves in use. */
#define RESERVE	0x100

/*
 * Apply the valid record in s->desc / s->data (or count it in a dry run,
 * or only reserve its moved blocks with RESERVE).
 */
static errcode_t apply_record(struct scan *s, __u32 first_uncommitted,
			      int flags, struct e3s_bij_result *r)
{
	struct ext3snap_bij_desc *d = (struct ext3snap_bij_desc *)s->desc;
	__u32 count = ext2fs_le32_to_cpu(d->d_count), i, copies = 0;
	int dry = flags & E3S_BIJ_DRY_RUN;
	blk64_t pblk, n, nb;
	errcode_t err;

	for (i = 0; i < count; i++) {
		struct ext3snap_bij_entry *e = &d->d_entries[i];
		__u64 blk = ext2fs_le64_to_cpu(e->e_block);
		__u32 len = ext2fs_le32_to_cpu(e->e_len);
		__u32 tid = ext2fs_le32_to_cpu(e->e_tid);

		int committed = !(flags & E3S_BIJ_TID_UNKNOWN) &&
				e3s_tid_before(tid, first_uncommitted);

		if (ext2fs_le16_to_cpu(e->e_kind) == EXT3SNAP_BIJ_COPY) {
			char *data = s->data + (size_t)copies++ * BS;

			if (s->fn && s->fn(s->arg, EXT3SNAP_BIJ_COPY, blk, 1, 1,
					   data))
				return EXT2_ET_CANCEL_REQUESTED;
			if (flags & RESERVE)
				continue;
			r->copies++;
			err = file_block(s->fs, s->ino, &s->inode, blk, &pblk);
			if (err)
				return err;
			if (pblk)
				continue;
			r->copies_new++;
			if (dry)
				continue;
			err = ext2fs_new_block2(s->fs, blk, NULL, &nb);
			if (!err)
				err = io_channel_write_blk64(s->fs->io, nb, 1,
							     data);
			if (err)
				return err;
			ext2fs_block_alloc_stats2(s->fs, nb, +1);
			err = map_block(s, blk, nb);
			if (err)
				return err;
			continue;
		}
		if (s->fn && s->fn(s->arg, EXT3SNAP_BIJ_MOVE, blk, len,
				   committed, NULL))
			return EXT2_ET_CANCEL_REQUESTED;
		r->moved += len;
		if (!committed) {
			/* Not committed: the run still belongs to its owner. */
			r->moved_uncommitted += len;
			continue;
		}
		for (n = blk; n < blk + len; n++) {
			err = file_block(s->fs, s->ino, &s->inode, n, &pblk);
			if (err)
				return err;
			if (pblk)
				continue;
			r->moved_new++;
			if (dry)
				continue;
			/* It should still be marked in use; make sure. */
			if (!ext2fs_test_block_bitmap2(s->fs->block_map, n))
				ext2fs_block_alloc_stats2(s->fs, n, +1);
			if (flags & RESERVE)
				continue;
			err = map_block(s, n, n);
			if (err)
				return err;
		}
	}
	return 0;
}

/*
 * After a record that is not whole: does the ring hold a whole descriptor
 * of this journal numbered after SEQ? Then the journal went on past the
 * damaged record, which was therefore complete once.
 */
static int later_record_exists(struct scan *s, __u64 seq, errcode_t *err)
{
	struct ext3snap_bij_desc *d = (struct ext3snap_bij_desc *)s->desc;
	__u32 pos;

	for (pos = 1; pos < s->h.len; pos++) {
		*err = read_bij_block(s->fs, s->ino, &s->inode,
				      s->h.image_blocks, pos, s->desc);
		if (*err)
			return 0;
		if (ext2fs_le32_to_cpu(d->d_magic) == EXT3SNAP_BIJ_DESC_MAGIC &&
		    ext2fs_le32_to_cpu(d->d_snap_id) == s->h.snap_id &&
		    ext2fs_le64_to_cpu(d->d_seq) > seq &&
		    /* Flushed after SEQ's flush, not torn along with it. */
		    ext2fs_le64_to_cpu(d->d_seq) -
		    ext2fs_le32_to_cpu(d->d_batch) > seq &&
		    ext2fs_le32_to_cpu(d->d_crc) == e3s_bij_block_crc(s->desc,
				offsetof(struct ext3snap_bij_desc, d_crc)))
			return 1;
	}
	return 0;
}

static int scan_journal(ext2_filsys fs, ext2_ino_t ino,
			__u32 first_uncommitted, int flags, e3s_bij_entry_fn fn,
			void *arg, struct e3s_bij_result *r, char *msg)
{
	struct scan s = { .fs = fs, .ino = ino, .fn = fn, .arg = arg };
	int dry = flags & E3S_BIJ_DRY_RUN;
	int passes = (flags & E3S_BIJ_RESERVE_ONLY) ? 1 : 2;
	enum rec_state st, st1;
	__u32 pos = 0, torn_pos = 0;
	__u64 seq = 0;
	errcode_t err = 0;
	const char *doing = "read";
	int ret = -1, pass;

	memset(r, 0, sizeof(*r));
	if (e3s_bij_read_header(fs, ino, &s.h, msg))
		return -1;
	/* Sealed: no record ever again, and the ring is (being) freed. */
	if (s.h.flags & EXT3SNAP_BIJ_SEALED) {
		r->end = E3S_BIJ_END_CLEAN;
		r->end_pos = s.h.tail_pos;
		r->end_seq = s.h.tail_seq;
		return 0;
	}
	if (dry && passes == 1) {
		snprintf(msg, E3S_MSG_LEN,
			 "E3S_BIJ_RESERVE_ONLY and E3S_BIJ_DRY_RUN together make no sense");
		return -1;
	}
	if (!dry && !(fs->flags & EXT2_FLAG_RW)) {
		snprintf(msg, E3S_MSG_LEN,
			 "replaying the journal of snapshot inode %u needs the filesystem open read-write",
			 ino);
		return -1;
	}
	err = ext2fs_read_inode(fs, ino, &s.inode);
	if (!err)
		err = ext2fs_read_bitmaps(fs);
	if (!err)
		err = ext2fs_get_mem(BS, &s.desc);
	if (!err)
		err = ext2fs_get_mem((size_t)BS * EXT3SNAP_BIJ_PER_DESC,
				     &s.data);
	if (err)
		goto out;

	/*
	 * Two passes when writing: the first only reserves the blocks of
	 * committed moves in the bitmap, so that no block allocated by the
	 * second (a copy, an indirect block) can be one of them. With
	 * several snapshots the caller runs the first pass (RESERVE_ONLY)
	 * over every journal before replaying any.
	 */
	for (pass = dry ? 1 : 0; pass < passes; pass++) {
		memset(r, 0, sizeof(*r));
		pos = s.h.tail_pos;
		seq = s.h.tail_seq;
		r->end = E3S_BIJ_END_CLEAN;
		while (r->records < s.h.len) {
			st = read_record(&s, pos, seq, &err);
			if (err)
				goto out;
			if (st != REC_VALID && pos != 1) {
				/* The writer may have wrapped to position 1. */
				st1 = read_record(&s, 1, seq, &err);
				if (err)
					goto out;
				if (st1 == REC_VALID || (st1 == REC_DAMAGED &&
							 st == REC_ABSENT)) {
					pos = 1;
					st = st1;
				}
			}
			if (st != REC_VALID) {
				if (st == REC_DAMAGED) {
					r->end = E3S_BIJ_END_TORN;
					torn_pos = pos;
					snprintf(r->why, sizeof(r->why), "%s",
						 s.why);
				}
				break;
			}
			doing = "replay";
			err = apply_record(&s, first_uncommitted,
					   flags | (pass ? 0 : RESERVE), r);
			if (err)
				goto out;
			doing = "read";
			r->records++;
			pos += 1 + ext2fs_le32_to_cpu(
				((struct ext3snap_bij_desc *)s.desc)->d_nblocks);
			if (pos >= s.h.len)
				pos = 1;
			seq++;
		}
	}
	r->end_pos = pos;
	r->end_seq = seq;
	if (passes == 1) {
		/* Reserved in the bitmap; the file and journal unchanged. */
		ret = 0;
		goto out;
	}
	if (later_record_exists(&s, seq, &err)) {
		r->end = E3S_BIJ_END_CORRUPT;
		if (!r->why[0])
			snprintf(r->why, sizeof(r->why),
				 "record %llu (expected at position %u%s) is missing but later records exist",
				 (unsigned long long)seq, pos,
				 pos == 1 ? "" : " or 1");
	}
	if (err)
		goto out;
	if (dry) {
		ret = 0;
		goto out;
	}

	doing = "update";
	/*
	 * Drop the torn record so that a later scan ends cleanly. Before
	 * anything else is written: with copy-before-write (cow.c) a write
	 * may append a record right there.
	 */
	if (r->end == E3S_BIJ_END_TORN) {
		memset(s.desc, 0, BS);
		err = write_bij_block(fs, ino, &s.inode, s.h.image_blocks,
				      torn_pos, s.desc);
		if (err)
			goto out;
	}
	err = ext2fs_write_inode(fs, ino, &s.inode);
	if (err)
		goto out;
	if (s.h.tail_pos != pos || s.h.tail_seq != seq) {
		s.h.tail_pos = pos;
		s.h.tail_seq = seq;
		if (e3s_bij_write_header(fs, ino, &s.h, msg))
			goto out_msg;
	}
	ret = 0;
out:
	if (err)
		snprintf(msg, E3S_MSG_LEN,
			 "cannot %s the journal of snapshot inode %u: %s",
			 doing, ino, error_message(err));
out_msg:
	ext2fs_free_mem(&s.desc);
	ext2fs_free_mem(&s.data);
	return ret;
}

int e3s_bij_replay(ext2_filsys fs, ext2_ino_t ino, __u32 first_uncommitted,
		   int flags, struct e3s_bij_result *r, char *msg)
{
	return scan_journal(fs, ino, first_uncommitted, flags, NULL, NULL, r,
			    msg);
}

int e3s_bij_walk(ext2_filsys fs, ext2_ino_t ino, __u32 first_uncommitted,
		 int flags, e3s_bij_entry_fn fn, void *arg,
		 struct e3s_bij_result *r, char *msg)
{
	return scan_journal(fs, ino, first_uncommitted,
			    flags | E3S_BIJ_DRY_RUN, fn, arg, r, msg);
}

/* ---- jbd2 ---------------------------------------------------------------- */

int e3s_journal_state(ext2_filsys fs, __u32 *sequence, int *recovery,
		      char *msg)
{
	ext2_ino_t jino = fs->super->s_journal_inum;
	struct ext2_inode inode;
	unsigned char *buf = NULL;
	blk64_t pblk = 0;
	errcode_t err;
	__u32 magic, type;

	if (!jino) {
		snprintf(msg, E3S_MSG_LEN,
			 "%s: the journal is external; ext3snap needs an internal one",
			 fs->device_name);
		return -1;
	}
	err = ext2fs_read_inode(fs, jino, &inode);
	if (!err)
		err = ext2fs_bmap2(fs, jino, &inode, NULL, 0, 0, NULL, &pblk);
	if (!err && !pblk)
		err = EXT2_ET_BAD_BLOCK_NUM;
	if (!err)
		err = ext2fs_get_mem(fs->blocksize, &buf);
	if (!err)
		err = io_channel_read_blk64(fs->io, pblk, 1, buf);
	if (err) {
		snprintf(msg, E3S_MSG_LEN,
			 "%s: cannot read the journal superblock: %s",
			 fs->device_name, error_message(err));
		ext2fs_free_mem(&buf);
		return -1;
	}
	magic = ext2fs_be32_to_cpu(*(__u32 *)buf);
	type = ext2fs_be32_to_cpu(*(__u32 *)(buf + JSB_BLOCKTYPE_OFF));
	if (magic != JBD2_MAGIC || (type != 3 && type != 4)) {
		snprintf(msg, E3S_MSG_LEN,
			 "%s: the journal superblock is not valid; run e2fsck on it first",
			 fs->device_name);
		ext2fs_free_mem(&buf);
		return -1;
	}
	*sequence = ext2fs_be32_to_cpu(*(__u32 *)(buf + JSB_SEQUENCE_OFF));
	*recovery = ext2fs_has_feature_journal_needs_recovery(fs->super) ||
		    ext2fs_be32_to_cpu(*(__u32 *)(buf + JSB_START_OFF)) != 0;
	ext2fs_free_mem(&buf);
	return 0;
}
