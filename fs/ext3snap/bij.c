// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: the before-image journal (BIJ).
 *
 * Copies wait in memory for the flusher, but the blocks they were copied
 * from may be rewritten on disk long before: by a jbd2 commit, writeback
 * or direct I/O. So before any of those proceeds, the entries made so far
 * are written as records into a ring in the snapshot file, past the image,
 * and the disk cache is flushed (ext3snap_bij_sync). After a crash the
 * records give the copies and handed-over blocks back. The format is in
 * Documentation/ext3snap-format.md, the barriers in Documentation/design.md.
 *
 * Space: each store entry reserves its share of the ring when made and
 * gets it back once the transaction linking it into the file has
 * committed and the header's tail has moved past its record. A writer
 * holding a journal handle cannot wait for that (the commit would wait for
 * it), so the ring keeps room for two transactions' worth of metadata
 * copies above the level where writers without a handle are held back.
 */
#define pr_fmt(fmt) "ext3snap: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/crc32c.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/slab.h>
#include "internal.h"

/*
 * For measuring what the journal costs (bench/bij-cost.sh) only: with it
 * off nothing is journaled, and a crash can leave a snapshot wrong.
 */
static bool journal_before_images = true;
module_param(journal_before_images, bool, 0644);
MODULE_PARM_DESC(journal_before_images,
		 "journal before-images (default Y; N only to measure the cost: snapshots are then not crash-safe)");

/* The longest record: a descriptor and a full load of copies. */
#define REC_MAX		(1 + EXT3SNAP_BIJ_PER_DESC)
/* Blocks a record may name at most (moves coalesce into runs). */
#define REC_MAX_BLOCKS	4096

/* One record being built: the entries it names, to mark journaled. */
struct rec_build {
	struct page *desc_page;
	u32 nblocks_named;
	u32 ncopies;
	long units;
	int err;			/* a copy's read failed */
	unsigned long blocks[REC_MAX_BLOCKS];	/* last: not cleared */
};

/* Records written per cache flush at most. */
#define SYNC_RECORDS	16

static u32 block_crc(const void *block, size_t crc_off)
{
	static const u32 zero;
	u32 crc;

	crc = crc32c(~0U, block, crc_off);
	crc = crc32c(crc, &zero, sizeof(zero));
	return crc32c(crc, block + crc_off + sizeof(zero),
		      EXT3SNAP_BLOCK_SIZE - crc_off - sizeof(zero));
}

static u32 header_crc(const struct ext3snap_bij_header *h)
{
	return block_crc(h, offsetof(struct ext3snap_bij_header, h_crc));
}

static u32 desc_crc(const struct ext3snap_bij_desc *d)
{
	return block_crc(d, offsetof(struct ext3snap_bij_desc, d_crc));
}

static u32 data_crc(const void *data)
{
	return crc32c(~0U, data, EXT3SNAP_BLOCK_SIZE);
}

void ext3snap_bij_free(struct ext3snap_snap *snap)
{
	kvfree(snap->bij.map);
	kvfree(snap->bij.recs);
	kvfree(snap->bij.build);
}

/* Ring length for this filesystem: see the file comment. */
static u32 bij_len(struct super_block *sb)
{
	journal_t *journal = EXT4_SB(sb)->s_journal;
	u32 txn = journal->j_max_transaction_buffers;
	u32 ring = 4 * txn + REC_MAX;

	return 1 + ring + ring / 128;
}

/*
 * Units usable in a ring of @len blocks, and the level writers without a
 * handle stay below.
 */
static void bij_set_capacity(struct ext3snap_snap *snap, u32 len)
{
	journal_t *journal = EXT4_SB(snap->sb)->s_journal;
	struct ext3snap_bij *bij = &snap->bij;

	bij->capacity = (long)(len - 1 - REC_MAX) * EXT3SNAP_BIJ_PER_DESC;
	bij->soft = bij->capacity - 2L * journal->j_max_transaction_buffers *
				    EXT3SNAP_COPY_UNITS;
}

/*
 * The levels are those of the ring a take will make from the start: a
 * take maps its ring after the thaw, and writers that ran on meanwhile
 * unchecked once reserved more than the ring could hold, so that every
 * copy after it was published failed.
 */
void ext3snap_bij_init(struct ext3snap_snap *snap)
{
	mutex_init(&snap->bij.lock);
	atomic_long_set(&snap->bij.reserved, 0);
	if (EXT4_SB(snap->sb)->s_journal)
		bij_set_capacity(snap, bij_len(snap->sb));
}

static int alloc_tables(struct ext3snap_bij *bij)
{
	bij->map = kvcalloc(bij->len, sizeof(*bij->map), GFP_KERNEL);
	bij->recs_cap = bij->len;
	bij->recs = kvcalloc(bij->recs_cap, sizeof(*bij->recs), GFP_KERNEL);
	bij->build = kvcalloc(SYNC_RECORDS, sizeof(struct rec_build),
			      GFP_KERNEL);
	return bij->map && bij->recs && bij->build ? 0 : -ENOMEM;
}

static int write_header(struct ext3snap_snap *snap, u32 tail_pos, u64 tail_seq)
{
	struct ext3snap_bij *bij = &snap->bij;
	struct ext3snap_bij_header *h;
	struct page *page;
	int err;

	page = alloc_page(GFP_NOFS | __GFP_ZERO);
	if (!page)
		return -ENOMEM;
	h = page_address(page);
	h->h_magic = cpu_to_le32(EXT3SNAP_BIJ_MAGIC);
	h->h_version = cpu_to_le32(EXT3SNAP_BIJ_VERSION);
	h->h_snap_id = cpu_to_le32(snap->id);
	h->h_flags = cpu_to_le32(bij->flags);
	h->h_image_blocks = cpu_to_le64(snap->blocks);
	h->h_len = cpu_to_le32(bij->len);
	h->h_tail_pos = cpu_to_le32(tail_pos);
	h->h_tail_seq = cpu_to_le64(tail_seq);
	h->h_crc = cpu_to_le32(header_crc(h));
	/* The header must not claim records the disk does not hold yet. */
	err = ext3snap_bio_rw(snap->sb, REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA,
			      bij->map[0], page, 0);
	__free_page(page);
	return err;
}

/* Ring blocks mapped per transaction when a snapshot is taken. */
#define RING_CHUNK	4096

/*
 * Allocate the ring in @inode (the new snapshot file, past the image) and
 * write an empty header. Called after the instant, before the file is
 * published in the superblock. The take waits for this, so it maps as
 * much as one indirect block covers per call and several per transaction:
 * 256 blocks a call made a take on 16 GiB twice as slow as on 1 GiB.
 */
int ext3snap_bij_create(struct ext3snap_snap *snap, struct inode *inode)
{
	struct ext3snap_bij *bij = &snap->bij;
	struct ext4_map_blocks map;
	handle_t *handle;
	u32 done = 0, end, i;
	int ret;

	bij->len = bij_len(snap->sb);
	ret = alloc_tables(bij);
	if (ret)
		return ret;
	while (done < bij->len) {
		end = min(bij->len, done + RING_CHUNK);
		handle = ext4_journal_start(inode, EXT4_HT_MAP_BLOCKS,
					    ext4_chunk_trans_blocks(inode,
								    end - done));
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		/* Each call stops at the end of an indirect block. */
		for (ret = 1; done < end && ret > 0; done += ret) {
			map.m_lblk = snap->blocks + done;
			map.m_len = end - done;
			ret = ext4_map_blocks(handle, inode, &map,
					      EXT4_GET_BLOCKS_CREATE);
			if (ret == 0)
				ret = -EIO;
			if (ret < 0)
				break;
			for (i = 0; i < ret; i++)
				bij->map[done + i] = map.m_pblk + i;
			clean_bdev_aliases(snap->sb->s_bdev, map.m_pblk, ret);
		}
		ext4_journal_stop(handle);
		if (ret < 0)
			return ret;
	}
	/* A random start: no stale block can pass for the next record. */
	bij->head_seq = get_random_u64() >> 1;
	bij->head_pos = 1;
	bij->tail_seq = bij->head_seq;
	bij->tail_pos = 1;
	bij_set_capacity(snap, bij->len);
	return write_header(snap, bij->tail_pos, bij->tail_seq);
}

/*
 * From the commit of @handle's transaction on, the snapshot is on disk,
 * so records must be written: everything saved since the instant is
 * journaled when that transaction commits (ext3snap_commit_barrier).
 */
void ext3snap_bij_arm(struct ext3snap_snap *snap, handle_t *handle,
		      struct inode *inode)
{
	/* Publishes the ring set up by ext3snap_bij_create(). */
	smp_store_release(&snap->bij.ready, true);
	ext4_jbd2_inode_add_write(handle, inode, 0, 1);
}

/* Ring length of @snap, or the one a new snapshot would get. */
u32 ext3snap_bij_len(struct super_block *sb, struct ext3snap_snap *snap)
{
	return snap && snap->bij.len ? snap->bij.len : bij_len(sb);
}

/* Can @n blocks be written at @pos without touching a live record? */
static bool fits(struct ext3snap_bij *bij, u32 pos, u32 n)
{
	if (pos + n > bij->len)
		return false;
	if (!bij->nrecs)
		return true;
	if (bij->head_pos > bij->tail_pos)	/* live: [tail, head) */
		return pos >= bij->head_pos || pos + n <= bij->tail_pos;
	return pos + n <= bij->tail_pos;	/* wrapped: free [head, tail) */
}

static struct ext3snap_bij_rec *rec_at(struct ext3snap_bij *bij, u32 i)
{
	return &bij->recs[(bij->recs_first + i) % bij->recs_cap];
}

static struct ext3snap_bij_rec *rec_of(struct ext3snap_bij *bij, u64 seq)
{
	u64 first;

	if (!bij->nrecs)
		return NULL;
	first = rec_at(bij, 0)->seq;
	if (seq < first || seq - first >= bij->nrecs)
		return NULL;
	return rec_at(bij, seq - first);
}

struct bij_io {
	atomic_t left;
	int err;
	struct completion done;
};

static void bij_end_io(struct bio *bio)
{
	struct bij_io *io = bio->bi_private;

	if (bio->bi_status)
		io->err = blk_status_to_errno(bio->bi_status);
	bio_put(bio);
	if (atomic_dec_and_test(&io->left))
		complete(&io->done);
}

static void submit_block(struct ext3snap_snap *snap, struct bij_io *io,
			 u32 pos, struct page *page)
{
	struct super_block *sb = snap->sb;
	struct bio *bio;

	bio = bio_alloc(sb->s_bdev, 1, REQ_OP_WRITE | REQ_SYNC, GFP_NOFS);
	bio->bi_iter.bi_sector = snap->bij.map[pos] <<
				 (sb->s_blocksize_bits - 9);
	__bio_add_page(bio, page, sb->s_blocksize, 0);
	bio->bi_private = io;
	bio->bi_end_io = bij_end_io;
	atomic_inc(&io->left);
	submit_bio(bio);
}

/* Fill @rb from the unjournaled entries at or after *@from. */
static void collect(struct ext3snap_snap *snap, struct rec_build *rb,
		    unsigned long *from)
{
	struct ext3snap_bij_desc *d = page_address(rb->desc_page);
	struct ext3snap_bij_entry *e = NULL;
	unsigned long index;
	u32 count = 0;
	void *entry;

	index = *from;
	for (entry = xa_find(&snap->store, &index, ULONG_MAX,
			     EXT3SNAP_UNJOURNALED);
	     entry;
	     entry = xa_find_after(&snap->store, &index, ULONG_MAX,
				   EXT3SNAP_UNJOURNALED)) {
		bool copy = !xa_is_value(entry);
		u32 tid = copy ? 0 : xa_to_value(entry);

		if (rb->nblocks_named == REC_MAX_BLOCKS)
			break;
		/* Its read may still be in flight (save_disk_run()). */
		rb->err = copy ? ext3snap_copy_wait(entry) : 0;
		if (rb->err)
			break;
		/* A run of moves freed together is one entry. */
		if (!copy && e && le16_to_cpu(e->e_kind) == EXT3SNAP_BIJ_MOVE &&
		    le32_to_cpu(e->e_tid) == tid &&
		    le64_to_cpu(e->e_block) + le32_to_cpu(e->e_len) == index) {
			le32_add_cpu(&e->e_len, 1);
		} else {
			if (count == EXT3SNAP_BIJ_PER_DESC)
				break;
			e = &d->d_entries[count++];
			e->e_block = cpu_to_le64(index);
			e->e_len = cpu_to_le32(1);
			if (copy) {
				e->e_kind = cpu_to_le16(EXT3SNAP_BIJ_COPY);
				e->e_crc = cpu_to_le32(data_crc(page_address(entry)));
				rb->ncopies++;
			} else {
				e->e_kind = cpu_to_le16(EXT3SNAP_BIJ_MOVE);
				e->e_tid = cpu_to_le32(tid);
			}
		}
		rb->units += copy ? EXT3SNAP_COPY_UNITS : EXT3SNAP_MOVE_UNITS;
		rb->blocks[rb->nblocks_named++] = index;
		*from = index + 1;
	}
	d->d_count = cpu_to_le32(count);
}

/* @entry at @index now belongs to record @seq; caller holds xa_lock. */
static void set_journaled(struct xarray *xa, unsigned long index, void *entry,
			  u64 seq)
{
	if (xa_is_value(entry))
		__xa_store(xa, index, xa_mk_value(seq), GFP_ATOMIC);
	else
		set_page_private(entry, seq);
	__xa_clear_mark(xa, index, EXT3SNAP_UNJOURNALED);
}

/* After the flush: the entries of @rb now belong to record @seq. */
static void mark_journaled(struct ext3snap_snap *snap, struct rec_build *rb,
			   u64 seq)
{
	struct xarray *xa = &snap->store;
	void *entry;
	u32 i;

	xa_lock(xa);
	for (i = 0; i < rb->nblocks_named; i++) {
		entry = xa_load(xa, rb->blocks[i]);
		if (entry)
			set_journaled(xa, rb->blocks[i], entry, seq);
	}
	xa_unlock(xa);
}

/*
 * Journal off: let every entry through as if journaled, in no record,
 * once its contents are there. Caller holds bij->lock: nobody else
 * changes or frees an unjournaled entry meanwhile.
 */
static int skip_journal(struct ext3snap_snap *snap)
{
	struct xarray *xa = &snap->store;
	unsigned long index;
	void *entry;
	int err;

	xa_for_each_marked(xa, index, entry, EXT3SNAP_UNJOURNALED) {
		err = xa_is_value(entry) ? 0 : ext3snap_copy_wait(entry);
		if (err)
			return err;
		xa_lock(xa);
		set_journaled(xa, index, entry, 0);
		xa_unlock(xa);
	}
	return 0;
}

/*
 * No ring yet (a take between its instant and its commit): there is
 * nothing to write, but what replaces a block must still not reach the
 * disk before its copy has been read.
 */
static int wait_copies(struct ext3snap_snap *snap)
{
	unsigned long index;
	void *entry;
	int err = 0;

	/* Stopped, the copies are moot and may be freed under us. */
	mutex_lock(&snap->bij.lock);
	if (!snap->bij.stopped)
		xa_for_each_marked(&snap->store, index, entry,
				   EXT3SNAP_UNJOURNALED)
			if (!xa_is_value(entry) && ext3snap_copy_wait(entry))
				err = -EIO;
	mutex_unlock(&snap->bij.lock);
	return err;
}

/* Write one record from @rb at the head; caller holds bij->lock. */
static int write_record(struct ext3snap_snap *snap, struct rec_build *rb,
			struct bij_io *io, u32 batch)
{
	struct ext3snap_bij *bij = &snap->bij;
	struct ext3snap_bij_desc *d = page_address(rb->desc_page);
	struct ext3snap_bij_rec *r;
	u32 n = 1 + rb->ncopies, pos = bij->head_pos, i, k = 0;

	if (!fits(bij, pos, n)) {
		pos = 1;
		if (!fits(bij, pos, n) || bij->nrecs == bij->recs_cap)
			return -ENOSPC;
	}
	d->d_magic = cpu_to_le32(EXT3SNAP_BIJ_DESC_MAGIC);
	d->d_snap_id = cpu_to_le32(snap->id);
	d->d_seq = cpu_to_le64(bij->head_seq);
	d->d_nblocks = cpu_to_le32(rb->ncopies);
	d->d_batch = cpu_to_le32(batch);
	d->d_crc = cpu_to_le32(desc_crc(d));
	submit_block(snap, io, pos, rb->desc_page);
	for (i = 0; i < rb->nblocks_named; i++) {
		void *entry = xa_load(&snap->store, rb->blocks[i]);

		if (entry && !xa_is_value(entry))
			submit_block(snap, io, pos + 1 + k++, entry);
	}
	/* A small record takes more ring than its entries reserved (a
	 * whole descriptor for a move or two): charge the difference, so the
	 * reservation never falls below what the ring really holds.
	 */
	if ((long)n * EXT3SNAP_BIJ_PER_DESC > rb->units) {
		long extra = (long)n * EXT3SNAP_BIJ_PER_DESC - rb->units;

		atomic_long_add(extra, &bij->reserved);
		rb->units += extra;
	}
	r = rec_at(bij, bij->nrecs++);
	r->seq = bij->head_seq;
	r->pos = pos;
	r->nblocks = n - 1;
	r->units = rb->units;
	r->left = rb->nblocks_named;
	r->linked = false;
	bij->head_pos = pos + n;
	bij->head_seq++;
	return 0;
}

/*
 * Make every entry saved so far durable in the journal. Called before an
 * after-image may reach the disk. Never waits for a jbd2 commit.
 */
int ext3snap_bij_sync(struct ext3snap_snap *snap)
{
	struct ext3snap_bij *bij = &snap->bij;
	struct rec_build *rb = bij->build;
	unsigned long from;
	struct blk_plug plug;
	struct bij_io io;
	int i, n, err = 0;

	if (!xa_marked(&snap->store, EXT3SNAP_UNJOURNALED))
		return 0;
	/* Pairs with the release that publishes the ring. */
	if (!smp_load_acquire(&bij->ready)) {
		err = wait_copies(snap);
		if (err)
			ext3snap_snap_break(snap, "cannot read a block to save",
					    err);
		return err;
	}
	mutex_lock(&bij->lock);
	if (!READ_ONCE(journal_before_images))
		err = skip_journal(snap);
	while (!err && bij->ready &&
	       xa_marked(&snap->store, EXT3SNAP_UNJOURNALED)) {
		atomic_set(&io.left, 1);
		io.err = 0;
		init_completion(&io.done);
		from = 0;
		/* A record's blocks are adjacent in the ring: merge them. */
		blk_start_plug(&plug);
		for (n = 0; n < SYNC_RECORDS; n++) {
			memset(&rb[n], 0, offsetof(struct rec_build, blocks));
			rb[n].desc_page = alloc_page(GFP_NOFS | __GFP_ZERO);
			if (!rb[n].desc_page) {
				err = -ENOMEM;
				break;
			}
			collect(snap, &rb[n], &from);
			err = rb[n].err;
			if (err || !rb[n].nblocks_named) {
				__free_page(rb[n].desc_page);
				break;
			}
			err = write_record(snap, &rb[n], &io, n);
			if (err) {
				__free_page(rb[n].desc_page);
				break;
			}
		}
		blk_finish_plug(&plug);
		if (!atomic_dec_and_test(&io.left))
			wait_for_completion(&io.done);
		if (!err)
			err = io.err;
		if (!err && n)
			err = blkdev_issue_flush(snap->sb->s_bdev);
		for (i = 0; i < n; i++) {
			if (!err)
				mark_journaled(snap, &rb[i],
					       bij->head_seq - n + i);
			__free_page(rb[i].desc_page);
		}
	}
	mutex_unlock(&bij->lock);
	if (err) {
		ext3snap_snap_break(snap, "cannot write the before-image journal",
				    err);
		/* No record may ever be trusted again. */
		smp_store_release(&bij->ready, false);
	}
	return err;
}

/*
 * No record is written from now on (the snapshot is broken, deleted or
 * let go); returns once no writer is reading the store's copies.
 */
void ext3snap_bij_stop(struct ext3snap_snap *snap)
{
	mutex_lock(&snap->bij.lock);
	/* Under the lock: no record is being written when it is seen. */
	smp_store_release(&snap->bij.ready, false);
	snap->bij.stopped = true;
	mutex_unlock(&snap->bij.lock);
}

/* An entry of record @seq is in the file, linked by transaction @tid. */
void ext3snap_bij_linked(struct ext3snap_snap *snap, u64 seq, tid_t tid)
{
	struct ext3snap_bij *bij = &snap->bij;
	struct ext3snap_bij_rec *r;

	mutex_lock(&bij->lock);
	r = rec_of(bij, seq);
	if (r && r->left) {
		r->left--;
		if (!r->linked || tid_gt(tid, r->tid))
			r->tid = tid;
		r->linked = true;
	}
	mutex_unlock(&bij->lock);
}

/*
 * Give back the space of records whose entries are all in the file, once
 * the transactions that put them there have committed. Flusher only: it
 * holds no handle, so it may wait for a commit.
 */
int ext3snap_bij_reclaim(struct ext3snap_snap *snap)
{
	journal_t *journal = EXT4_SB(snap->sb)->s_journal;
	struct ext3snap_bij *bij = &snap->bij;
	struct ext3snap_bij_rec *r;
	u32 n = 0, tail_pos;
	bool wait = false;
	u64 tail_seq;
	long units = 0;
	tid_t tid = 0;
	int err;

	mutex_lock(&bij->lock);
	while (n < bij->nrecs && !rec_at(bij, n)->left) {
		r = rec_at(bij, n++);
		if (r->linked && (!wait || tid_gt(r->tid, tid))) {
			tid = r->tid;
			wait = true;
		}
		units += r->units;
	}
	mutex_unlock(&bij->lock);
	if (!n || !bij->ready)
		return 0;
	/* Not under bij->lock: the commit itself takes it. */
	if (wait) {
		err = jbd2_complete_transaction(journal, tid);
		if (err)
			return err;
	}
	mutex_lock(&bij->lock);
	if (n < bij->nrecs) {
		tail_pos = rec_at(bij, n)->pos;
		tail_seq = rec_at(bij, n)->seq;
	} else {
		tail_pos = bij->head_pos;
		tail_seq = bij->head_seq;
	}
	err = write_header(snap, tail_pos, tail_seq);
	if (!err) {
		bij->recs_first = (bij->recs_first + n) % bij->recs_cap;
		bij->nrecs -= n;
		bij->tail_pos = tail_pos;
		bij->tail_seq = tail_seq;
		atomic_long_sub(units, &bij->reserved);
	}
	mutex_unlock(&bij->lock);
	wake_up_all(&snap->drained);
	return err;
}

/* Reserve @units for a new entry; -ENOSPC if the ring is full. */
int ext3snap_bij_reserve(struct ext3snap_snap *snap, long units)
{
	struct ext3snap_bij *bij = &snap->bij;

	if (!READ_ONCE(journal_before_images))
		return 0;

	if (atomic_long_add_return(units, &bij->reserved) <= bij->capacity)
		return 0;
	/* Before the ring is published there is no capacity to keep to. */
	if (!smp_load_acquire(&bij->ready))
		return 0;
	atomic_long_sub(units, &bij->reserved);
	return -ENOSPC;
}

/* May writers without a handle go on? */
bool ext3snap_bij_low(struct ext3snap_snap *snap)
{
	struct ext3snap_bij *bij = &snap->bij;

	/* Also before the ring is published: see ext3snap_bij_init(). */
	return !bij->soft || atomic_long_read(&bij->reserved) < bij->soft;
}

bool ext3snap_bij_sealed(struct ext3snap_snap *snap)
{
	return snap->bij.flags & EXT3SNAP_BIJ_SEALED;
}

/*
 * @snap has a newer neighbour and nothing left to journal: it never gets
 * a record again, so its ring is freed, the header saying so first.
 */
int ext3snap_bij_seal(struct ext3snap_snap *snap)
{
	struct ext3snap_bij *bij = &snap->bij;
	int err = 0;

	mutex_lock(&bij->lock);
	if (!bij->map || bij->nrecs || (bij->flags & EXT3SNAP_BIJ_SEALED)) {
		mutex_unlock(&bij->lock);
		goto ring;
	}
	bij->ready = false;
	bij->flags |= EXT3SNAP_BIJ_SEALED;
	err = write_header(snap, bij->tail_pos, bij->tail_seq);
	if (err) {
		bij->flags &= ~EXT3SNAP_BIJ_SEALED;
	} else {
		bij->ring_left = true;
		/* Only the header's place is needed from now on. */
		kvfree(bij->recs);
		bij->recs = NULL;
		bij->recs_cap = 0;
		kvfree(bij->build);
		bij->build = NULL;
	}
	mutex_unlock(&bij->lock);
ring:
	if (!err && bij->ring_left) {
		err = ext3snap_punch(snap->inode, snap->blocks + 1,
				     snap->blocks + bij->len);
		if (!err)
			bij->ring_left = false;
	}
	return err;
}

/* Remember on disk that the snapshot must not be trusted. */
void ext3snap_bij_set_broken(struct ext3snap_snap *snap)
{
	struct ext3snap_bij *bij = &snap->bij;

	if (!bij->map || sb_rdonly(snap->sb) ||
	    (bij->flags & EXT3SNAP_BIJ_BROKEN))
		return;
	mutex_lock(&bij->lock);
	bij->flags |= EXT3SNAP_BIJ_BROKEN;
	write_header(snap, bij->tail_pos, bij->tail_seq);
	mutex_unlock(&bij->lock);
}

/* ---- recovery: reading the journal back at mount -------------------- */

static struct page *read_pos(struct ext3snap_snap *snap, u32 pos, int *err)
{
	struct page *page = alloc_page(GFP_NOFS);

	if (!page) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = ext3snap_bio_rw(snap->sb, REQ_OP_READ, snap->bij.map[pos], page,
			       0);
	if (*err) {
		__free_page(page);
		return NULL;
	}
	return page;
}

/* A record read back: its descriptor and the data of its copies. */
struct rec_read {
	struct page *desc;
	struct page *data[EXT3SNAP_BIJ_PER_DESC];
	u32 ndata;
};

static void rec_read_free(struct rec_read *rr)
{
	while (rr->ndata)
		if (rr->data[--rr->ndata])
			__free_page(rr->data[rr->ndata]);
	if (rr->desc)
		__free_page(rr->desc);
	rr->desc = NULL;
}

/*
 * Read the record at @pos if it is the valid record @seq: 1 if so, 0 if
 * not (the journal ends, or the writer wrapped), < 0 on an I/O error.
 */
static int read_record(struct ext3snap_snap *snap, u32 pos, u64 seq,
		       struct rec_read *rr)
{
	struct ext3snap_bij *bij = &snap->bij;
	struct ext3snap_bij_desc *d;
	u32 count, nblocks, i, copies = 0;
	int err;

	memset(rr, 0, sizeof(*rr));
	if (pos >= bij->len)
		return 0;
	rr->desc = read_pos(snap, pos, &err);
	if (!rr->desc)
		return err;
	d = page_address(rr->desc);
	count = le32_to_cpu(d->d_count);
	nblocks = le32_to_cpu(d->d_nblocks);
	if (le32_to_cpu(d->d_magic) != EXT3SNAP_BIJ_DESC_MAGIC ||
	    le32_to_cpu(d->d_snap_id) != snap->id ||
	    le64_to_cpu(d->d_seq) != seq ||
	    le32_to_cpu(d->d_crc) != desc_crc(d) ||
	    count > EXT3SNAP_BIJ_PER_DESC || nblocks > count ||
	    pos + 1 + nblocks > bij->len)
		goto invalid;
	for (i = 0; i < count; i++)
		if (le16_to_cpu(d->d_entries[i].e_kind) == EXT3SNAP_BIJ_COPY)
			copies++;
	if (copies != nblocks)
		goto invalid;
	for (i = 0; i < count; i++) {
		struct ext3snap_bij_entry *e = &d->d_entries[i];
		struct page *page;

		if (le16_to_cpu(e->e_kind) != EXT3SNAP_BIJ_COPY)
			continue;
		page = read_pos(snap, pos + 1 + rr->ndata, &err);
		if (!page) {
			rec_read_free(rr);
			return err;
		}
		rr->data[rr->ndata++] = page;
		/* Torn: nothing it protects reached the disk either. */
		if (data_crc(page_address(page)) != le32_to_cpu(e->e_crc))
			goto invalid;
	}
	return 1;
invalid:
	rec_read_free(rr);
	return 0;
}

/*
 * The journal ended where record @seq should be (at @pos or 1). Was it
 * damaged rather than torn? Yes if a whole descriptor follows that was
 * flushed after it, or one with a higher number sits where it should be:
 * records are flushed in order, so the missing one had been complete.
 */
static bool damaged_end(struct ext3snap_snap *snap, u32 pos, u64 seq)
{
	struct ext3snap_bij *bij = &snap->bij;
	struct ext3snap_bij_desc *d;
	struct page *page;
	bool bad = false;
	u32 i, p;
	int err;

	for (i = 0; i < 2 * REC_MAX + 1 && !bad; i++) {
		/* The expected place, the next record's, the ring's start. */
		if (i == 0)
			p = pos;
		else if (i <= REC_MAX)
			p = pos + i;
		else
			p = i - REC_MAX;
		if (p < 1 || p >= bij->len)
			continue;
		page = read_pos(snap, p, &err);
		if (!page)
			return false;
		d = page_address(page);
		if (le32_to_cpu(d->d_magic) == EXT3SNAP_BIJ_DESC_MAGIC &&
		    le32_to_cpu(d->d_snap_id) == snap->id &&
		    le32_to_cpu(d->d_crc) == desc_crc(d) &&
		    le64_to_cpu(d->d_seq) > seq &&
		    (p == pos ||
		     le64_to_cpu(d->d_seq) - le32_to_cpu(d->d_batch) > seq))
			bad = true;
		__free_page(page);
	}
	return bad;
}

/* Has the transaction @tid committed before the crash? */
static bool committed(struct ext3snap_snap *snap, tid_t tid)
{
	return tid_gt(snap->bij.first_uncommitted, tid);
}

/* Is @block still missing from the snapshot (file and store)? */
static bool missing(struct ext3snap_snap *snap, ext4_fsblk_t block)
{
	return block < snap->blocks && !xa_load(&snap->store, block) &&
	       !ext3snap_map_lookup(snap->inode, block);
}

static int keep_copy(struct ext3snap_snap *snap, ext4_fsblk_t block,
		     struct page *page, u64 seq)
{
	int err;

	err = ext4_claim_free_clusters(EXT4_SB(snap->sb), 1,
				       EXT4_MB_USE_ROOT_BLOCKS |
				       EXT4_MB_USE_RESERVED);
	if (err)
		return err;
	set_page_private(page, seq);
	err = xa_err(xa_store(&snap->store, block, page, GFP_NOFS));
	if (err) {
		percpu_counter_sub(&EXT4_SB(snap->sb)->s_dirtyclusters_counter,
				   1);
		return err;
	}
	atomic_long_inc(&snap->pending);
	return 0;
}

/* Put what record @seq at @pos holds back into the store. */
static int apply_record(struct ext3snap_snap *snap, struct rec_read *rr,
			u32 pos, u64 seq)
{
	struct ext3snap_bij *bij = &snap->bij;
	struct ext3snap_bij_desc *d = page_address(rr->desc);
	u32 i, j, k = 0, left = 0;
	struct ext3snap_bij_rec *r;
	long units = 0;
	int err;

	if (bij->nrecs == bij->recs_cap)
		return -EUCLEAN;
	for (i = 0; i < le32_to_cpu(d->d_count); i++) {
		struct ext3snap_bij_entry *e = &d->d_entries[i];
		u64 block = le64_to_cpu(e->e_block);

		if (le16_to_cpu(e->e_kind) == EXT3SNAP_BIJ_COPY) {
			struct page *page = rr->data[k++];

			if (!missing(snap, block))
				continue;
			err = keep_copy(snap, block, page, seq);
			if (err)
				return err;
			rr->data[k - 1] = NULL;
			units += EXT3SNAP_COPY_UNITS;
			left++;
			continue;
		}
		if (le16_to_cpu(e->e_kind) != EXT3SNAP_BIJ_MOVE ||
		    !committed(snap, le32_to_cpu(e->e_tid)))
			continue;
		for (j = 0; j < le32_to_cpu(e->e_len); j++) {
			if (!missing(snap, block + j))
				continue;
			err = xa_err(xa_store(&snap->store, block + j,
					      xa_mk_value(seq), GFP_NOFS));
			if (err)
				return err;
			atomic_long_inc(&snap->pending_moves);
			units += EXT3SNAP_MOVE_UNITS;
			left++;
		}
	}
	r = rec_at(bij, bij->nrecs++);
	r->seq = seq;
	r->pos = pos;
	r->nblocks = le32_to_cpu(d->d_nblocks);
	r->units = units;
	r->left = left;
	r->linked = false;
	atomic_long_add(units, &bij->reserved);
	return 0;
}

static int read_header(struct ext3snap_snap *snap, ext4_fsblk_t where)
{
	struct ext3snap_bij *bij = &snap->bij;
	struct ext3snap_bij_header *h;
	struct page *page;
	int err;

	page = alloc_page(GFP_NOFS);
	if (!page)
		return -ENOMEM;
	err = ext3snap_bio_rw(snap->sb, REQ_OP_READ, where, page, 0);
	if (err)
		goto out;
	h = page_address(page);
	err = -EUCLEAN;
	if (le32_to_cpu(h->h_magic) != EXT3SNAP_BIJ_MAGIC ||
	    le32_to_cpu(h->h_version) != EXT3SNAP_BIJ_VERSION ||
	    le32_to_cpu(h->h_crc) != header_crc(h) ||
	    le32_to_cpu(h->h_snap_id) != snap->id ||
	    le64_to_cpu(h->h_image_blocks) != snap->blocks)
		goto out;
	bij->len = le32_to_cpu(h->h_len);
	bij->flags = le32_to_cpu(h->h_flags);
	bij->tail_pos = le32_to_cpu(h->h_tail_pos);
	bij->tail_seq = le64_to_cpu(h->h_tail_seq);
	if (bij->len < 4 * REC_MAX || bij->len > (1U << 24) ||
	    !bij->tail_pos || bij->tail_pos > bij->len)
		goto out;
	err = 0;
out:
	__free_page(page);
	return err;
}

/*
 * At mount, after jbd2 recovery: find the journal of the snapshot whose
 * file is snap->inode and put back what its records hold. -EUCLEAN if it
 * is damaged, -ESTALE if the snapshot was broken before.
 */
int ext3snap_bij_load(struct ext3snap_snap *snap)
{
	journal_t *journal = EXT4_SB(snap->sb)->s_journal;
	struct ext3snap_bij *bij = &snap->bij;
	struct rec_read *rr;
	ext4_fsblk_t where;
	u32 pos, i;
	u64 seq;
	int ret;

	where = ext3snap_map_lookup(snap->inode, snap->blocks);
	if (!where)
		return -EUCLEAN;
	ret = read_header(snap, where);
	if (ret)
		return ret;
	if (bij->flags & EXT3SNAP_BIJ_BROKEN)
		return -ESTALE;
	if (bij->flags & EXT3SNAP_BIJ_SEALED) {
		/* No records; only the header is left, or will be. */
		bij->map = kvcalloc(1, sizeof(*bij->map), GFP_KERNEL);
		if (!bij->map)
			return -ENOMEM;
		bij->map[0] = where;
		bij->ring_left = !!ext3snap_map_lookup(snap->inode,
						       snap->blocks + 1);
		return 0;
	}
	ret = alloc_tables(bij);
	if (ret)
		return ret;
	for (i = 0; i < bij->len; i++) {
		bij->map[i] = ext3snap_map_lookup(snap->inode, snap->blocks + i);
		if (!bij->map[i])
			return -EUCLEAN;
	}
	/* jbd2 restarts after recovery one past the first tid it did not
	 * find committed; nothing has started a transaction since.
	 */
	WARN_ON_ONCE(journal->j_running_transaction);
	bij->first_uncommitted = journal->j_transaction_sequence - 1;

	rr = kmalloc(sizeof(*rr), GFP_KERNEL);
	if (!rr)
		return -ENOMEM;
	pos = bij->tail_pos;
	seq = bij->tail_seq;
	for (;;) {
		ret = read_record(snap, pos, seq, rr);
		if (ret == 0 && pos != 1) {
			ret = read_record(snap, 1, seq, rr);
			if (ret > 0)
				pos = 1;
		}
		if (ret <= 0)
			break;
		ret = apply_record(snap, rr, pos, seq);
		pos += 1 + le32_to_cpu(((struct ext3snap_bij_desc *)
					page_address(rr->desc))->d_nblocks);
		rec_read_free(rr);
		if (ret)
			break;
		seq++;
	}
	kfree(rr);
	if (ret < 0)
		return ret;
	if (damaged_end(snap, pos, seq)) {
		pr_err("%s: snapshot %u: before-image journal record %llu is damaged\n",
		       snap->sb->s_id, snap->id, seq);
		return -EUCLEAN;
	}
	if (seq != bij->tail_seq)
		pr_info("%s: snapshot %u: %llu before-image records replayed\n",
			snap->sb->s_id, snap->id, seq - bij->tail_seq);
	bij->head_pos = pos;
	bij->head_seq = seq;
	bij_set_capacity(snap, bij->len);
	/* Publishes the ring and the records put back. */
	smp_store_release(&bij->ready, true);
	return 0;
}
