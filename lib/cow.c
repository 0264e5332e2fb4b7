// SPDX-License-Identifier: GPL-2.0
/*
 * libext3snap: copy-before-write offline, for what fsck.ext3snap and the
 * e2fsck it runs write to a filesystem that has snapshots.
 *
 * The kernel saves a block before its first change after the newest
 * snapshot's instant; an offline repair must too, or the snapshot's image
 * changes under it (issue 22). Every write goes through
 * e3s_cow_before_write() first: each block of it that the newest snapshot
 * still reads from the origin, and whose contents the write changes, gets
 * a copy record in that snapshot's before-image journal, made durable
 * (written, then flushed) before the write goes on. The records are the
 * kernel's own format, so whoever replays the journal next (the rest of
 * fsck.ext3snap, or the kernel at mount, should fsck stop half-way) links
 * them into the snapshot file; nothing new on disk.
 *
 * The state lives in one shared memory file (a memfd): fsck.ext3snap
 * builds it with libext2fs, and e2fsck, a child that inherits the file
 * descriptor, uses it through the preloaded shim, which sees every write
 * as pwrite() on the device. Both update the same journal head and the
 * same bitmap of blocks still to save. So the hot path needs no
 * libext2fs: a bitmap test, and raw block reads and writes through the
 * caller's device operations.
 *
 * Only the newest snapshot is protected: older ones read every block they
 * did not save through it. When its journal is full, or cannot be
 * written, the snapshot is marked broken (durably, before the write goes
 * on): a repair never changes a snapshot silently.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ext3snap.h"
#include "libext3snap.h"

#define BS EXT3SNAP_BLOCK_SIZE
#define COW_MAGIC 0x57433345	/* "E3CW" */
#define PER_DESC EXT3SNAP_BIJ_PER_DESC

/* The first page of the shared file; the ring map and bitmap follow. */
struct e3s_cow_shared {
	__u32 magic;
	__u32 snap_id;
	__u64 image_blocks;	/* I: bit B of the bitmap is block B < I */
	__u64 size;		/* bytes of the whole file */
	__u32 len;		/* L: journal blocks, header included */
	__u32 head_pos;		/* where the next record goes */
	__u64 head_seq;		/* and its sequence number */
	__u32 tail_pos;		/* oldest record not linked into the file */
	__u32 broken;		/* set once: nothing is protected any more */
	__u64 saved;		/* blocks journaled */
	__u64 records;		/* records written */
	char why[E3S_MSG_LEN];	/* broken: why */
};

struct e3s_cow {
	int fd;
	struct e3s_cow_shared *sh;
	__u64 *ring;		/* [L]: physical block of each position */
	unsigned char *need;	/* bit B: save block B before changing it */
	void *blk;		/* scratch: an old block */
	void *rec;		/* scratch: a descriptor and its data */
};

static size_t ring_off(void)
{
	return BS;
}

static size_t need_off(__u32 len)
{
	return ring_off() + (((size_t)len * 8 + BS - 1) & ~(size_t)(BS - 1));
}

static size_t map_size(__u32 len, __u64 image)
{
	return need_off(len) + (((image + 7) / 8 + BS - 1) & ~(__u64)(BS - 1));
}

static int test_need(const struct e3s_cow *c, __u64 b)
{
	return c->need[b >> 3] & (1U << (b & 7));
}

static void clear_need(struct e3s_cow *c, __u64 b)
{
	c->need[b >> 3] &= ~(1U << (b & 7));
}

static void set_need(struct e3s_cow *c, __u64 b)
{
	c->need[b >> 3] |= 1U << (b & 7);
}

static int map_shared(struct e3s_cow *c, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       c->fd, 0);

	if (p == MAP_FAILED)
		return -1;
	c->sh = p;
	c->ring = (__u64 *)((char *)p + ring_off());
	return 0;
}

static int alloc_scratch(struct e3s_cow *c)
{
	if (posix_memalign(&c->blk, BS, BS) ||
	    posix_memalign(&c->rec, BS, (size_t)BS * (1 + PER_DESC)))
		return -1;
	return 0;
}

void e3s_cow_free(struct e3s_cow *c)
{
	if (!c)
		return;
	if (c->sh)
		munmap(c->sh, c->sh->size);
	if (c->fd >= 0)
		close(c->fd);
	free(c->blk);
	free(c->rec);
	free(c);
}

int e3s_cow_fd(const struct e3s_cow *c)
{
	return c->fd;
}

struct e3s_cow *e3s_cow_attach(int fd, char *msg)
{
	struct e3s_cow_shared head;
	struct e3s_cow *c;

	if (pread(fd, &head, sizeof(head), 0) != sizeof(head) ||
	    head.magic != COW_MAGIC ||
	    head.size != map_size(head.len, head.image_blocks)) {
		snprintf(msg, E3S_MSG_LEN,
			 "file descriptor %d does not hold copy-before-write state",
			 fd);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c || (c->fd = dup(fd)) < 0 || map_shared(c, head.size) ||
	    alloc_scratch(c)) {
		snprintf(msg, E3S_MSG_LEN,
			 "cannot map the copy-before-write state: %s",
			 strerror(errno));
		if (c && !c->sh)
			c->fd = c->fd < 0 ? -1 : (close(c->fd), -1);
		e3s_cow_free(c);
		return NULL;
	}
	c->need = (unsigned char *)c->sh + need_off(c->sh->len);
	return c;
}

/* ---- the hot path: no libext2fs ------------------------------------------ */

/*
 * Ring position for a record of 1 + N blocks, or 0 if it would reach a
 * record not linked yet. HEAD == TAIL means empty, so a record never
 * fills the ring up to the tail exactly.
 */
static __u32 place(const struct e3s_cow_shared *sh, __u32 n)
{
	__u32 head = sh->head_pos, tail = sh->tail_pos, need = 1 + n;

	if (need > sh->len - 1)
		return 0;
	if (head >= tail) {
		if (head + need <= sh->len)
			return head;
		/* A record never wraps: it starts at 1 instead. */
		return (head == tail || 1 + need < tail) ? 1 : 0;
	}
	return head + need < tail ? head : 0;
}

static void set_crc(void *block, size_t off)
{
	__u32 crc = e3s_bij_block_crc(block, off);

	((unsigned char *)block)[off] = crc;
	((unsigned char *)block)[off + 1] = crc >> 8;
	((unsigned char *)block)[off + 2] = crc >> 16;
	((unsigned char *)block)[off + 3] = crc >> 24;
}

/*
 * Write one record of the N blocks whose before-images are in c->rec
 * (after the descriptor's room), as record number BATCH of this flush.
 */
static int put_record(struct e3s_cow *c, const struct e3s_cow_dev *dev,
		      const __u64 *blocks, __u32 n, __u32 batch)
{
	struct e3s_cow_shared *sh = c->sh;
	struct ext3snap_bij_desc *d = c->rec;
	__u32 pos = place(sh, n), i;
	int err;

	if (!pos) {
		snprintf(sh->why, sizeof(sh->why),
			 "its before-image journal (%u blocks) is full", sh->len);
		return -ENOSPC;
	}
	memset(d, 0, BS);
	d->d_magic = ext2fs_cpu_to_le32(EXT3SNAP_BIJ_DESC_MAGIC);
	d->d_snap_id = ext2fs_cpu_to_le32(sh->snap_id);
	d->d_seq = ext2fs_cpu_to_le64(sh->head_seq);
	d->d_count = ext2fs_cpu_to_le32(n);
	d->d_nblocks = ext2fs_cpu_to_le32(n);
	d->d_batch = ext2fs_cpu_to_le32(batch);
	for (i = 0; i < n; i++) {
		struct ext3snap_bij_entry *e = &d->d_entries[i];

		e->e_block = ext2fs_cpu_to_le64(blocks[i]);
		e->e_len = ext2fs_cpu_to_le32(1);
		e->e_kind = ext2fs_cpu_to_le16(EXT3SNAP_BIJ_COPY);
		e->e_crc = ext2fs_cpu_to_le32(e3s_bij_block_crc(
				(char *)c->rec + (size_t)(i + 1) * BS,
				(size_t)-1));
	}
	set_crc(d, offsetof(struct ext3snap_bij_desc, d_crc));
	/* Torn or whole, the flush after the last record decides. */
	for (i = 0; i <= n; i++) {
		err = dev->write(dev->ctx, c->ring[pos + i],
				 (char *)c->rec + (size_t)i * BS);
		if (err) {
			snprintf(sh->why, sizeof(sh->why),
				 "cannot write its before-image journal: %s",
				 strerror(-err));
			return err;
		}
	}
	sh->head_pos = pos + 1 + n;
	if (sh->head_pos >= sh->len)
		sh->head_pos = 1;
	sh->head_seq++;
	sh->records++;
	sh->saved += n;
	return 0;
}

/*
 * The snapshot cannot be kept exact: say so on disk, durably, before the
 * write that would change it goes on. From then on nothing is saved.
 */
static void break_snapshot(struct e3s_cow *c, const struct e3s_cow_dev *dev)
{
	struct e3s_cow_shared *sh = c->sh;
	struct ext3snap_bij_header *h = c->blk;
	int err;

	sh->broken = 1;
	err = dev->read(dev->ctx, c->ring[0], h);
	if (!err && ext2fs_le32_to_cpu(h->h_magic) == EXT3SNAP_BIJ_MAGIC) {
		h->h_flags |= ext2fs_cpu_to_le32(EXT3SNAP_BIJ_BROKEN);
		set_crc(h, offsetof(struct ext3snap_bij_header, h_crc));
		err = dev->write(dev->ctx, c->ring[0], h);
	}
	if (!err)
		err = dev->flush(dev->ctx);
	if (err)
		fprintf(stderr,
			"ext3snap: cannot even mark snapshot %u broken: %s\n",
			sh->snap_id, strerror(err < 0 ? -err : EIO));
}

int e3s_cow_before_write(struct e3s_cow *c, const struct e3s_cow_dev *dev,
			 __u64 off, __u64 len, const void *data)
{
	struct e3s_cow_shared *sh;
	__u64 b, first, end, blocks[PER_DESC];
	__u32 n = 0, batch = 0;
	int err = 0;

	if (!c || c->sh->broken || !len)
		return 0;
	sh = c->sh;
	first = off / BS;
	end = (off + len + BS - 1) / BS;
	if (end > sh->image_blocks)
		end = sh->image_blocks;
	for (b = first; b < end && !err; b++) {
		__u64 lo = b * BS > off ? b * BS : off;
		__u64 hi = (b + 1) * BS < off + len ? (b + 1) * BS : off + len;
		char *old = (char *)c->rec + (size_t)(n + 1) * BS;

		if (!test_need(c, b))
			continue;
		err = dev->read(dev->ctx, b, old);
		if (err) {
			snprintf(sh->why, sizeof(sh->why),
				 "cannot read block %llu to save it: %s",
				 (unsigned long long)b, strerror(-err));
			break;
		}
		/* Rewritten as it is (libext2fs writes whole bitmaps and
		 * tables back): nothing changes, nothing to save.
		 */
		if (!memcmp(old + (lo - b * BS),
			    (const char *)data + (lo - off), hi - lo))
			continue;
		/* Saved once this call returns (or the snapshot is
		 * broken, and nothing is saved any more).
		 */
		clear_need(c, b);
		blocks[n++] = b;
		if (n == PER_DESC) {
			err = put_record(c, dev, blocks, n, batch++);
			n = 0;
		}
	}
	if (!err && n)
		err = put_record(c, dev, blocks, n, batch++);
	if (!err && batch) {
		err = dev->flush(dev->ctx);
		if (err)
			snprintf(sh->why, sizeof(sh->why),
				 "cannot flush its before-image journal: %s",
				 strerror(-err));
	}
	if (err)
		break_snapshot(c, dev);
	/* Either way the write may go on now. */
	return 0;
}

/* ---- building the state with libext2fs ------------------------------------ */

struct setup {
	ext2_filsys fs;
	struct e3s_cow *c;
	__u64 image;
	void **bitmap_copy;	/* [group]: a pending copy of its bitmap */
	int phase;		/* 0: find bitmap copies; 1: clear saved */
};

/* Blocks the snapshot file maps in the image: saved already. */
static int mapped_block(ext2_filsys fs, blk64_t *blocknr,
			e2_blkcnt_t blockcnt, blk64_t ref_blk, int ref_offset,
			void *priv)
{
	struct setup *s = priv;

	(void)fs; (void)blocknr; (void)ref_blk; (void)ref_offset;
	if (blockcnt >= 0 && (__u64)blockcnt < s->image)
		clear_need(s->c, blockcnt);
	return 0;
}

/* Which group's block bitmap is block B, or -1. */
static long bitmap_group(ext2_filsys fs, __u64 b)
{
	dgrp_t g;

	for (g = 0; g < fs->group_desc_count; g++)
		if (ext2fs_block_bitmap_loc(fs, g) == b)
			return g;
	return -1;
}

/* A record pending in the journal saves its blocks already. */
static int pending_entry(void *arg, int kind, __u64 block, __u32 len,
			 int committed, const void *data)
{
	struct setup *s = arg;
	long g;
	__u32 i;

	if (kind == EXT3SNAP_BIJ_MOVE && !committed)
		return 0;
	if (s->phase) {
		for (i = 0; i < len; i++)
			clear_need(s->c, block + i);
		return 0;
	}
	if (kind != EXT3SNAP_BIJ_COPY)
		return 0;
	g = bitmap_group(s->fs, block);
	/* The first copy wins, as in replay. */
	if (g < 0 || s->bitmap_copy[g])
		return 0;
	s->bitmap_copy[g] = malloc(BS);
	if (!s->bitmap_copy[g])
		return -1;
	memcpy(s->bitmap_copy[g], data, BS);
	return 0;
}

/* Journal data blocks: jbd2 rewrites them, images show zeroes there. */
static int journal_block(ext2_filsys fs, blk64_t *blocknr,
			 e2_blkcnt_t blockcnt, blk64_t ref_blk, int ref_offset,
			 void *priv)
{
	struct setup *s = priv;

	(void)fs; (void)ref_blk; (void)ref_offset;
	/* Its superblock (block 0) is saved at the take like any block. */
	if (blockcnt > 0 && *blocknr < s->image)
		clear_need(s->c, *blocknr);
	return 0;
}

static errcode_t file_block(ext2_filsys fs, ext2_ino_t ino,
			    struct ext2_inode *inode, blk64_t lblk,
			    blk64_t *pblk)
{
	*pblk = 0;
	return ext2fs_bmap2(fs, ino, inode, NULL, 0, lblk, NULL, pblk);
}

/*
 * The blocks in use at the instant, group by group, from the snapshot-time
 * bitmap: the snapshot's saved copy, a pending copy, or the current one
 * (unchanged since, then). Minus the exclude map.
 */
static errcode_t in_use_at_instant(struct setup *s, ext2_ino_t ino,
				   struct ext2_inode *inode,
				   const struct e3s_bij_hdr *h)
{
	ext2_filsys fs = s->fs;
	unsigned char *bm = NULL, *ex = NULL;
	__u32 bpg = EXT2_BLOCKS_PER_GROUP(fs->super), i;
	blk64_t pblk;
	errcode_t err;
	dgrp_t g;

	err = ext2fs_get_mem(BS, &bm);
	if (!err)
		err = ext2fs_get_mem(BS, &ex);
	for (g = 0; !err && g < fs->group_desc_count; g++) {
		__u64 first = ext2fs_group_first_block2(fs, g);
		blk64_t bb = ext2fs_block_bitmap_loc(fs, g);

		err = file_block(fs, ino, inode, bb, &pblk);
		if (err)
			break;
		if (pblk)
			err = io_channel_read_blk64(fs->io, pblk, 1, bm);
		else if (s->bitmap_copy[g])
			memcpy(bm, s->bitmap_copy[g], BS);
		else
			err = io_channel_read_blk64(fs->io, bb, 1, bm);
		memset(ex, 0, BS);
		if (!err && (h->flags & EXT3SNAP_BIJ_EXCLUDE)) {
			err = file_block(fs, ino, inode,
					 h->image_blocks + h->len + g, &pblk);
			if (!err && pblk)
				err = io_channel_read_blk64(fs->io, pblk, 1,
							    ex);
		}
		if (err)
			break;
		for (i = 0; i < bpg && first + i < s->image; i++)
			if ((bm[i >> 3] & ~ex[i >> 3]) & (1U << (i & 7)))
				set_need(s->c, first + i);
	}
	ext2fs_free_mem(&bm);
	ext2fs_free_mem(&ex);
	return err;
}

int e3s_cow_setup(ext2_filsys fs, ext2_ino_t ino, __u32 first_uncommitted,
		  int flags, struct e3s_cow **cowp, char *msg)
{
	struct setup s = { .fs = fs, .image = ext2fs_blocks_count(fs->super) };
	struct e3s_bij_result r;
	struct ext2_inode inode;
	struct e3s_bij_hdr h;
	struct e3s_cow *c;
	const char *doing = "map the journal of";
	errcode_t err = 0;
	size_t size;
	dgrp_t g;
	__u32 p;

	*cowp = NULL;
	if (e3s_bij_read_header(fs, ino, &h, msg))
		return -1;
	/* Broken: nothing left to keep. Sealed: being deleted. */
	if (h.flags & (EXT3SNAP_BIJ_BROKEN | EXT3SNAP_BIJ_SEALED))
		return 0;
	c = calloc(1, sizeof(*c));
	s.bitmap_copy = calloc(fs->group_desc_count, sizeof(void *));
	if (!c || !s.bitmap_copy) {
		free(c);
		free(s.bitmap_copy);
		snprintf(msg, E3S_MSG_LEN, "out of memory");
		return -1;
	}
	c->fd = -1;
	s.c = c;
	size = map_size(h.len, s.image);
	c->fd = memfd_create("ext3snap-cow", 0);
	if (c->fd < 0 || ftruncate(c->fd, size) || map_shared(c, size) ||
	    alloc_scratch(c)) {
		snprintf(msg, E3S_MSG_LEN,
			 "cannot set up copy-before-write (%zu bytes of memory): %s",
			 size, strerror(errno));
		goto fail;
	}
	c->need = (unsigned char *)c->sh + need_off(h.len);
	c->sh->snap_id = h.snap_id;
	c->sh->image_blocks = s.image;
	c->sh->size = size;
	c->sh->len = h.len;

	err = ext2fs_read_inode(fs, ino, &inode);
	for (p = 0; !err && p < h.len; p++) {
		err = file_block(fs, ino, &inode, s.image + p, &c->ring[p]);
		if (!err && !c->ring[p])
			err = EXT2_ET_BAD_BLOCK_NUM;
	}
	if (err)
		goto fail_err;

	/* What the journal holds already: the end, the pending blocks. */
	if (e3s_bij_walk(fs, ino, first_uncommitted, flags, pending_entry,
			 &s, &r, msg))
		goto fail;
	/* A damaged journal: the snapshot is marked broken by its check. */
	if (r.end == E3S_BIJ_END_CORRUPT) {
		e3s_cow_free(c);
		c = NULL;
		goto out;
	}
	c->sh->head_pos = r.end_pos;
	c->sh->head_seq = r.end_seq;
	c->sh->tail_pos = h.tail_pos;

	doing = "read the bitmaps for";
	err = in_use_at_instant(&s, ino, &inode, &h);
	/* The same walk again: its blocks were set from the bitmaps. */
	s.phase = 1;
	if (!err && e3s_bij_walk(fs, ino, first_uncommitted, flags,
				 pending_entry, &s, &r, msg))
		goto fail;
	doing = "walk the block map of";
	if (!err)
		err = ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY,
					    NULL, mapped_block, &s);
	if (!err && fs->super->s_journal_inum)
		err = ext2fs_block_iterate3(fs, fs->super->s_journal_inum,
					    BLOCK_FLAG_READ_ONLY |
					    BLOCK_FLAG_DATA_ONLY, NULL,
					    journal_block, &s);
	if (err)
		goto fail_err;
	c->sh->magic = COW_MAGIC;
out:
	for (g = 0; g < fs->group_desc_count; g++)
		free(s.bitmap_copy[g]);
	free(s.bitmap_copy);
	*cowp = c;
	return 0;
fail_err:
	snprintf(msg, E3S_MSG_LEN, "cannot %s snapshot inode %u: %s", doing,
		 ino, error_message(err));
fail:
	for (g = 0; g < fs->group_desc_count; g++)
		free(s.bitmap_copy[g]);
	free(s.bitmap_copy);
	e3s_cow_free(c);
	return -1;
}

void e3s_cow_linked(struct e3s_cow *c, __u32 tail_pos)
{
	if (c)
		c->sh->tail_pos = tail_pos;
}

int e3s_cow_pending(const struct e3s_cow *c)
{
	return c && c->sh->tail_pos != c->sh->head_pos;
}

int e3s_cow_broken(const struct e3s_cow *c, const char **why)
{
	if (!c || !c->sh->broken)
		return 0;
	*why = c->sh->why;
	return 1;
}

__u64 e3s_cow_saved(const struct e3s_cow *c)
{
	return c ? c->sh->saved : 0;
}

int e3s_cow_needs(const struct e3s_cow *c, __u64 block)
{
	return c && !c->sh->broken && block < c->sh->image_blocks &&
	       test_need(c, block);
}

void e3s_cow_forget(struct e3s_cow *c, __u64 block)
{
	if (c && block < c->sh->image_blocks)
		clear_need(c, block);
}
