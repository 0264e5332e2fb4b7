// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: the flusher, which turns the store into the snapshot file.
 *
 * Copies wait in memory so that the writers that made them never allocate
 * inside their own journal handles (delayed allocation). The flusher works
 * in its own handles: it allocates a block for each copy (already reserved
 * when the copy was made), writes the copy there, and links it into the
 * snapshot file at logical block = the block's number at the instant.
 * Moved blocks are linked as they are. Only then does the entry leave the
 * store, so a reader always finds a block in one of the two places.
 *
 * The snapshot file is an indirect-mapped file that only this code changes;
 * its tree is walked here directly rather than through ext4_map_blocks(),
 * which cannot map a chosen physical block.
 *
 * Lookups in that tree take no lock (not the file's i_data_sem): they run
 * inside the metadata hook, through a group load (cow.c), so under any
 * lock a caller of ext4_journal_get_write_access() holds, among them this
 * file's own i_data_sem while link_block() allocates an indirect block.
 * That is safe because of how the tree changes:
 * - link_block() only adds: a new indirect block is zeroed before the
 *   slot pointing to it is set, with release semantics (read_slot()
 *   acquires); a copy's block is linked before the copy leaves the store,
 *   and readers look in the store first;
 * - blocks are removed only where nobody looks up any more: the trim of a
 *   deleted layer loads a group before it punches the group's blocks, so
 *   later loads of that group never walk there, and keeps every block an
 *   older snapshot reads through it (with the indirect blocks above it);
 *   a broken snapshot being freed is read by nobody (its readers get
 *   -EIO); the ring past the image is read by the journal code alone; a
 *   file being truncated away is no longer in the list.
 */
#define pr_fmt(fmt) "ext3snap: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/buffer_head.h>
#include <linux/delay.h>
#include <linux/quotaops.h>
#include <linux/slab.h>
#include "internal.h"

#define FLUSH_BATCH	64
/* Worst case journal credits to link one block: 3 new indirect blocks. */
#define LINK_CREDITS	16
/* Writers wait while more copies than this (32 MiB) are in memory. */
#define STORE_HIGH	8192
/* Flush at once from this many entries; else within a second. */
#define STORE_KICK	256

/* Logical block -> path of slots through the indirect tree. */
static int block_to_path(struct super_block *sb, ext4_lblk_t lblk,
			 int offsets[4])
{
	unsigned int bits = EXT4_ADDR_PER_BLOCK_BITS(sb);
	u64 ptrs = EXT4_ADDR_PER_BLOCK(sb);
	u64 n = lblk;

	if (n < EXT4_NDIR_BLOCKS) {
		offsets[0] = n;
		return 1;
	}
	n -= EXT4_NDIR_BLOCKS;
	if (n < ptrs) {
		offsets[0] = EXT4_IND_BLOCK;
		offsets[1] = n;
		return 2;
	}
	n -= ptrs;
	if (n < ptrs * ptrs) {
		offsets[0] = EXT4_DIND_BLOCK;
		offsets[1] = n >> bits;
		offsets[2] = n & (ptrs - 1);
		return 3;
	}
	n -= ptrs * ptrs;
	if (n < ptrs * ptrs * ptrs) {
		offsets[0] = EXT4_TIND_BLOCK;
		offsets[1] = n >> (2 * bits);
		offsets[2] = (n >> bits) & (ptrs - 1);
		offsets[3] = n & (ptrs - 1);
		return 4;
	}
	return -EFBIG;
}

/* A slot of the tree: see the file comment for why no lock is needed. */
static ext4_fsblk_t read_slot(__le32 *slot)
{
	/* Pairs with the release in set_slot(). */
	return le32_to_cpu(smp_load_acquire(slot));
}

/* Where the snapshot file holds @lblk; 0 for a hole. Takes no lock. */
ext4_fsblk_t ext3snap_map_lookup(struct inode *inode, ext4_lblk_t lblk)
{
	struct super_block *sb = inode->i_sb;
	struct buffer_head *bh = NULL;
	int offsets[4], depth, level;
	ext4_fsblk_t blk = 0;
	__le32 *slots;

	depth = block_to_path(sb, lblk, offsets);
	if (depth < 0)
		return 0;
	slots = EXT4_I(inode)->i_data;
	for (level = 0; level < depth; level++) {
		blk = read_slot(&slots[offsets[level]]);
		if (!blk || level == depth - 1)
			break;
		brelse(bh);
		bh = sb_bread(sb, blk);
		if (!bh) {
			blk = 0;
			break;
		}
		slots = (__le32 *)bh->b_data;
	}
	brelse(bh);
	return blk;
}

/*
 * Set the bit of each block of [@first, @first + @count) the snapshot file
 * maps. One leaf of the indirect tree is read per step, so a group costs a
 * few dozen cached reads. Takes no lock.
 */
int ext3snap_map_range(struct inode *inode, ext4_lblk_t first,
		       unsigned int count, unsigned long *bitmap)
{
	struct super_block *sb = inode->i_sb;
	unsigned int i = 0, n, j, span;
	int offsets[4], depth, level;
	struct buffer_head *bh;
	ext4_fsblk_t blk;
	__le32 *slots;

	while (i < count) {
		depth = block_to_path(sb, first + i, offsets);
		if (depth < 0)
			break;
		span = depth == 1 ? EXT4_NDIR_BLOCKS : EXT4_ADDR_PER_BLOCK(sb);
		n = min(count - i, span - offsets[depth - 1]);
		slots = EXT4_I(inode)->i_data;
		bh = NULL;
		for (level = 0; level < depth - 1; level++) {
			blk = read_slot(&slots[offsets[level]]);
			brelse(bh);
			bh = NULL;
			if (!blk)
				break;	/* a hole under this slot */
			bh = sb_bread(sb, blk);
			if (!bh)
				return -EIO;
			slots = (__le32 *)bh->b_data;
		}
		if (level == depth - 1)
			for (j = 0; j < n; j++)
				if (read_slot(&slots[offsets[depth - 1] + j]))
					set_bit(i + j, bitmap);
		brelse(bh);
		i += n;
	}
	return 0;
}

/* Visit the data blocks under @blk, an indirect block @depth levels up. */
static int walk_tree(struct super_block *sb, ext4_fsblk_t blk, int depth,
		     ext4_lblk_t lblk, ext3snap_walk_fn fn, void *arg)
{
	unsigned int i, per = EXT4_ADDR_PER_BLOCK(sb);
	unsigned int bits = EXT4_ADDR_PER_BLOCK_BITS(sb);
	struct buffer_head *bh;
	ext4_fsblk_t child;
	__le32 *slots;
	int err = 0;

	bh = sb_bread(sb, blk);
	if (!bh)
		return -EIO;
	slots = (__le32 *)bh->b_data;
	for (i = 0; i < per && !err; i++) {
		child = read_slot(&slots[i]);
		if (!child)
			continue;
		if (depth == 1)
			err = fn(arg, lblk + i, child);
		else
			err = walk_tree(sb, child, depth - 1,
					lblk + ((ext4_lblk_t)i << (bits * (depth - 1))),
					fn, arg);
	}
	brelse(bh);
	cond_resched();
	return err;
}

/*
 * Call @fn for every data block of snapshot file @inode (logical, then
 * physical), skipping holes whole; indirect blocks are not visited. Takes
 * no lock: the caller keeps the file from shrinking (its flush_lock).
 */
int ext3snap_map_walk(struct inode *inode, ext3snap_walk_fn fn, void *arg)
{
	struct super_block *sb = inode->i_sb;
	__le32 *data = EXT4_I(inode)->i_data;
	unsigned int bits = EXT4_ADDR_PER_BLOCK_BITS(sb);
	ext4_lblk_t lblk = EXT4_NDIR_BLOCKS;
	ext4_fsblk_t blk;
	int i, err = 0;

	for (i = 0; i < EXT4_NDIR_BLOCKS && !err; i++) {
		blk = read_slot(&data[i]);
		if (blk)
			err = fn(arg, i, blk);
	}
	/* Then the single, double and triple indirect trees, in turn. */
	for (i = 1; i <= 3 && !err; i++) {
		blk = read_slot(&data[EXT4_IND_BLOCK + i - 1]);
		if (blk)
			err = walk_tree(sb, blk, i, lblk, fn, arg);
		lblk += (ext4_lblk_t)1 << (bits * i);
	}
	return err;
}

/* Point @slot (in @bh, or in the inode when @bh is NULL) at @val. */
static int set_slot(handle_t *handle, struct inode *inode,
		    struct buffer_head *bh, __le32 *slot, ext4_fsblk_t val)
{
	int err;

	if (!bh) {
		/* What @val points to is complete: see read_slot(). */
		smp_store_release(slot, cpu_to_le32(val));
		return 0;		/* the caller marks the inode dirty */
	}
	err = ext4_journal_get_write_access(handle, inode->i_sb, bh,
					    EXT4_JTR_NONE);
	if (err)
		return err;
	/* Pairs with read_slot(): a new child is complete before this. */
	smp_store_release(slot, cpu_to_le32(val));
	return ext4_handle_dirty_metadata(handle, inode, bh);
}

/* A new, zeroed indirect block for @inode. */
static struct buffer_head *new_indirect(handle_t *handle, struct inode *inode,
					ext4_fsblk_t goal)
{
	struct super_block *sb = inode->i_sb;
	struct buffer_head *bh;
	ext4_fsblk_t blk;
	int err = 0;

	blk = ext4_new_meta_blocks(handle, inode, goal, EXT4_MB_USE_ROOT_BLOCKS |
				   EXT4_MB_USE_RESERVED, NULL, &err);
	if (err)
		return ERR_PTR(err);
	bh = sb_getblk(sb, blk);
	if (!bh)
		return ERR_PTR(-ENOMEM);
	lock_buffer(bh);
	err = ext4_journal_get_create_access(handle, sb, bh, EXT4_JTR_NONE);
	if (!err) {
		memset(bh->b_data, 0, sb->s_blocksize);
		set_buffer_uptodate(bh);
	}
	unlock_buffer(bh);
	if (!err)
		err = ext4_handle_dirty_metadata(handle, inode, bh);
	if (err) {
		brelse(bh);
		return ERR_PTR(err);
	}
	return bh;
}

/* Link physical block @pblk at logical block @lblk of the snapshot file. */
static int link_block(handle_t *handle, struct inode *inode, ext4_lblk_t lblk,
		      ext4_fsblk_t pblk)
{
	struct buffer_head *bh = NULL, *next;
	int offsets[4], depth, level, err = 0;
	ext4_fsblk_t child;
	__le32 *slots;

	depth = block_to_path(inode->i_sb, lblk, offsets);
	if (depth < 0)
		return depth;
	down_write(&EXT4_I(inode)->i_data_sem);
	slots = EXT4_I(inode)->i_data;
	for (level = 0; level < depth; level++) {
		__le32 *slot = &slots[offsets[level]];

		if (level == depth - 1) {
			err = set_slot(handle, inode, bh, slot, pblk);
			break;
		}
		child = le32_to_cpu(*slot);
		if (child) {
			next = sb_bread(inode->i_sb, child);
			if (!next)
				err = -EIO;
		} else {
			next = new_indirect(handle, inode, pblk);
			if (IS_ERR(next)) {
				err = PTR_ERR(next);
				next = NULL;
			} else {
				err = set_slot(handle, inode, bh, slot,
					       next->b_blocknr);
			}
		}
		brelse(bh);
		bh = next;
		if (err)
			break;
		slots = (__le32 *)bh->b_data;
	}
	up_write(&EXT4_I(inode)->i_data_sem);
	brelse(bh);
	return err;
}

struct flush_io {
	atomic_t left;
	int err;
	struct completion done;
};

static void flush_end_io(struct bio *bio)
{
	struct flush_io *io = bio->bi_private;

	if (bio->bi_status)
		io->err = blk_status_to_errno(bio->bi_status);
	bio_put(bio);
	if (atomic_dec_and_test(&io->left))
		complete(&io->done);
}

static void write_copy(struct super_block *sb, struct flush_io *io,
		       ext4_fsblk_t blk, struct page *page)
{
	struct bio *bio;

	bio = bio_alloc(sb->s_bdev, 1, REQ_OP_WRITE, GFP_NOFS);
	bio->bi_iter.bi_sector = blk << (sb->s_blocksize_bits - 9);
	__bio_add_page(bio, page, sb->s_blocksize, 0);
	bio->bi_private = io;
	bio->bi_end_io = flush_end_io;
	atomic_inc(&io->left);
	submit_bio(bio);
}

struct flush_entry {
	unsigned long block;
	void *entry;
	u64 seq;		/* its journal record */
};

/*
 * Take the linked entries out of the store, under each group's lock, and
 * tell the journal which transaction put them in the file (@tid; none if
 * @linked is false).
 */
static void retire(struct ext3snap_snap *snap, struct flush_entry *e, int n,
		   bool linked, tid_t tid)
{
	ext4_grpblk_t off;
	ext4_group_t g;
	int i;

	for (i = 0; i < n; i++) {
		ext4_get_group_no_and_offset(snap->sb, e[i].block, &g, &off);
		down_write(&snap->groups[g].lock);
		xa_erase(&snap->store, e[i].block);
		up_write(&snap->groups[g].lock);
		if (xa_is_value(e[i].entry)) {
			atomic_long_dec(&snap->pending_moves);
		} else {
			/* A broken snapshot's copy may still be being read. */
			ext3snap_copy_wait(e[i].entry);
			__free_page(e[i].entry);
			atomic_long_dec(&snap->pending);
		}
		if (linked)
			ext3snap_bij_linked(snap, e[i].seq, tid);
	}
}

/* Copies of a broken snapshot are worthless: free them, keep moves. */
static void drop_copies(struct ext3snap_snap *snap, struct flush_entry *e,
			int *n)
{
	struct ext4_sb_info *sbi = EXT4_SB(snap->sb);
	int i, kept = 0;

	for (i = 0; i < *n; i++) {
		if (xa_is_value(e[i].entry)) {
			e[kept++] = e[i];
			continue;
		}
		retire(snap, &e[i], 1, false, 0);
		percpu_counter_sub(&sbi->s_dirtyclusters_counter, 1);
	}
	*n = kept;
}

/* Up to FLUSH_BATCH entries the journal holds (all, if @any). */
static int pick(struct ext3snap_snap *snap, struct flush_entry *e, bool any)
{
	unsigned long index;
	void *entry;
	int n = 0;

	xa_lock(&snap->store);
	xa_for_each(&snap->store, index, entry) {
		if (!any && xa_get_mark(&snap->store, index,
					EXT3SNAP_UNJOURNALED))
			continue;
		e[n].block = index;
		e[n].entry = entry;
		e[n].seq = xa_is_value(entry) ? xa_to_value(entry) :
						page_private((struct page *)entry);
		if (++n == FLUSH_BATCH)
			break;
	}
	xa_unlock(&snap->store);
	return n;
}

/*
 * Claim the blocks of copies made while the disk was full, now that an
 * older snapshot is giving its blocks up (ext3snap_make_room()).
 */
static int claim_owed(struct ext3snap_snap *snap)
{
	struct ext4_sb_info *sbi = EXT4_SB(snap->sb);

	while (atomic_long_read(&snap->unclaimed) > 0) {
		if (ext4_claim_free_clusters(sbi, 1, EXT4_MB_USE_ROOT_BLOCKS |
					     EXT4_MB_USE_RESERVED))
			return -ENOSPC;
		atomic_long_dec(&snap->unclaimed);
	}
	return 0;
}

static int batch_credits(struct super_block *sb)
{
	journal_t *journal = EXT4_SB(sb)->s_journal;
	int max = journal->j_max_transaction_buffers / 2;

	return min(FLUSH_BATCH * LINK_CREDITS + 8 +
		   EXT4_MAXQUOTAS_TRANS_BLOCKS(sb), max);
}

/*
 * Write out and link up to FLUSH_BATCH entries, using @e (room for that
 * many); > 0 if more remain.
 */
static int flush_batch(struct ext3snap_snap *snap, struct flush_entry *e)
{
	struct ext4_sb_info *sbi = EXT4_SB(snap->sb);
	struct super_block *sb = snap->sb;
	struct inode *inode = snap->inode;
	ext4_fsblk_t blk, goal = 0, unlinked = 0;
	struct blk_plug plug;
	struct flush_io io;
	handle_t *handle;
	int n, done, err = 0, err2;
	tid_t tid;

	/* Nothing can be written; remount_ro flushed what there was. */
	if (sb_rdonly(sb))
		return 0;
	if (READ_ONCE(snap->state) != EXT3SNAP_STATE_ACTIVE ||
	    snap->deleting) {
		/* Broken through a newer one: say so on disk (once). */
		if (READ_ONCE(snap->state) == EXT3SNAP_STATE_BROKEN)
			ext3snap_bij_set_broken(snap);
		/* The journal is dead too: stop its writer first. */
		ext3snap_bij_stop(snap);
		ext3snap_forgive(snap);
		n = pick(snap, e, true);
		drop_copies(snap, e, &n);
		if (!n)		/* each pass drops some: this ends */
			return !xa_empty(&snap->store);
	} else {
		/* Only journaled entries: linking one does not make its
		 * before-image durable before the origin's after-image.
		 */
		err = ext3snap_bij_sync(snap);
		if (!err)
			err = claim_owed(snap);
		if (err)
			return err;
		n = pick(snap, e, false);
		if (!n)
			return 0;
	}

	atomic_set(&io.left, 1);
	io.err = 0;
	init_completion(&io.done);
	sb_start_intwrite(sb);
	handle = ext4_journal_start_sb(sb, EXT4_HT_MISC, batch_credits(sb));
	if (IS_ERR(handle)) {
		sb_end_intwrite(sb);
		return PTR_ERR(handle);
	}
	/* Copies go to consecutive blocks: let their bios merge. */
	blk_start_plug(&plug);
	for (done = 0; done < n; done++) {
		if (jbd2_handle_buffer_credits(handle) < LINK_CREDITS)
			break;
		if (xa_is_value(e[done].entry)) {
			blk = e[done].block;
			/* The file now owns it: charge it as the origin was
			 * discharged when it freed the block.
			 */
			dquot_alloc_block_nofail(inode, 1);
		} else {
			blk = ext4_new_meta_blocks(handle, inode, goal,
						   EXT4_MB_DELALLOC_RESERVED,
						   NULL, &err);
			if (err)
				break;
			percpu_counter_sub(&sbi->s_dirtyclusters_counter, 1);
			clean_bdev_aliases(sb->s_bdev, blk, 1);
			write_copy(sb, &io, blk, e[done].entry);
			goal = blk + 1;
		}
		err = link_block(handle, inode, e[done].block, blk);
		if (err) {
			/* Not linked (no room for an indirect block, say):
			 * the entry stays, a copy's block goes back.
			 */
			if (!xa_is_value(e[done].entry))
				unlinked = blk;
			break;
		}
	}
	blk_finish_plug(&plug);
	/* The copies must be on disk before the transaction linking them. */
	if (!atomic_dec_and_test(&io.left))
		wait_for_completion(&io.done);
	if (unlinked) {
		ext4_free_blocks(handle, inode, NULL, unlinked, 1, 0);
		percpu_counter_add(&sbi->s_dirtyclusters_counter, 1);
	}
	err2 = ext4_mark_inode_dirty(handle, inode);
	tid = handle->h_transaction->t_tid;
	ext4_journal_stop(handle);
	sb_end_intwrite(sb);
	retire(snap, e, done, true, tid);
	wake_up_all(&snap->drained);
	if (!err)
		err = io.err ? io.err : err2;
	if (err)
		return err;
	/* Linking saves bitmaps and the like in turn: go on until empty.
	 * Each block is saved once, so this ends.
	 */
	return !xa_empty(&snap->store) && done;
}

int ext3snap_flush(struct ext3snap_snap *snap)
{
	struct flush_entry *e;
	unsigned int waits = 0;
	int ret;

	/* Off the stack: 1.5 KiB, too much for a kernel with KASAN. */
	e = kmalloc_array(FLUSH_BATCH, sizeof(*e), GFP_NOFS);
	if (!e) {
		ext3snap_snap_break(snap, "no memory to write copies out",
				    -ENOMEM);
		wake_up_all(&snap->drained);
		return -ENOMEM;
	}
	mutex_lock(&snap->flush_lock);
	do {
		ret = flush_batch(snap, e);
		/* The disk is full: an older snapshot is giving its blocks
		 * up (ext3snap_make_room()); wait for them, a while. Only
		 * when none is left does this one break.
		 */
		if (ret == -ENOSPC && waits++ < 600 &&
		    READ_ONCE(snap->state) == EXT3SNAP_STATE_ACTIVE &&
		    ext3snap_make_room(snap)) {
			msleep(50);
			/* Freed blocks are reusable once their frees commit. */
			ext4_force_commit(snap->sb);
			ret = 1;
		}
		cond_resched();
	} while (ret > 0);
	if (!ret && !sb_rdonly(snap->sb))
		ret = ext3snap_bij_reclaim(snap);
	/* An older snapshot gets no records any more: give its ring back. */
	if (!ret && !sb_rdonly(snap->sb) && smp_load_acquire(&snap->newer) &&
	    READ_ONCE(snap->state) == EXT3SNAP_STATE_ACTIVE &&
	    xa_empty(&snap->store) &&
	    (!ext3snap_bij_sealed(snap) || snap->bij.ring_left))
		ret = ext3snap_bij_seal(snap);
	mutex_unlock(&snap->flush_lock);
	kfree(e);
	if (ret < 0) {
		ext3snap_snap_break(snap, "cannot write copies to the snapshot file",
				    ret);
		wake_up_all(&snap->drained);
	}
	return ret;
}

void ext3snap_flush_worker(struct work_struct *work)
{
	struct ext3snap_snap *snap = container_of(to_delayed_work(work),
						  struct ext3snap_snap,
						  flush_work);

	ext3snap_flush(snap);
}

/*
 * Free the blocks of [@first, @end) of snapshot file @inode, in bounded
 * transactions (ext4 restarts them as it goes).
 */
int ext3snap_punch(struct inode *inode, ext4_lblk_t first, ext4_lblk_t end)
{
	struct super_block *sb = inode->i_sb;
	handle_t *handle;
	int err, err2;

	sb_start_intwrite(sb);
	handle = ext4_journal_start(inode, EXT4_HT_TRUNCATE,
				    ext4_writepage_trans_blocks(inode));
	if (IS_ERR(handle)) {
		sb_end_intwrite(sb);
		return PTR_ERR(handle);
	}
	down_write(&EXT4_I(inode)->i_data_sem);
	ext4_discard_preallocations(inode, 0);
	err = ext4_es_remove_extent(inode, first, end - first);
	if (!err)
		err = ext4_ind_remove_space(handle, inode, first, end);
	up_write(&EXT4_I(inode)->i_data_sem);
	err2 = ext4_mark_inode_dirty(handle, inode);
	ext4_journal_stop(handle);
	sb_end_intwrite(sb);
	return err ? err : err2;
}

/* Can the trim free block @first + @i of @snap (mapped as in @mapped)? */
static bool trimmable(struct ext3snap_snap *snap, struct ext3snap_snap *older,
		      const unsigned long *mapped, ext4_fsblk_t first,
		      ext4_fsblk_t i)
{
	/* Entries still in the store are left for the next pass. */
	return test_bit(i, mapped) && !xa_load(&snap->store, first + i) &&
	       !(older && ext3snap_needs(older, first + i));
}

/*
 * @snap is deleted: free what @older (NULL: nobody) does not read through
 * it. Its saved bits stay: nobody reads those blocks through it any more,
 * and the newest does not copy them again.
 */
void ext3snap_trim(struct ext3snap_snap *snap, struct ext3snap_snap *older)
{
	struct super_block *sb = snap->sb;
	unsigned long *mapped;
	ext4_fsblk_t first, i, start;
	ext4_grpblk_t count;
	ext4_group_t g;
	int err = 0;

	if (!snap->inode || sb_rdonly(sb))
		return;
	mapped = kmalloc(sb->s_blocksize, GFP_KERNEL);
	if (!mapped)
		return;
	mutex_lock(&snap->flush_lock);
	for (g = 0; g < snap->ngroups && !err; g++) {
		first = ext4_group_first_block_no(sb, g);
		count = min_t(u64, EXT4_BLOCKS_PER_GROUP(sb),
			      snap->blocks - first);
		memset(mapped, 0, sb->s_blocksize);
		/* Loaded before any of it is punched, when an older one may
		 * read through it: see the file comment.
		 */
		if (older)
			err = ext3snap_load_group(snap, g);
		if (!err)
			err = ext3snap_map_range(snap->inode, first, count,
						 mapped);
		for (i = 0; i < count && !err; ) {
			if (!trimmable(snap, older, mapped, first, i)) {
				i++;
				continue;
			}
			start = i;
			while (i < count &&
			       trimmable(snap, older, mapped, first, i))
				i++;
			err = ext3snap_punch(snap->inode, first + start,
					     first + i);
		}
		cond_resched();
	}
	mutex_unlock(&snap->flush_lock);
	kfree(mapped);
	if (err)
		ext4_msg(sb, KERN_WARNING,
			 "ext3snap: cannot free the blocks of deleted snapshot %u (error %d); retried at the next delete or mount",
			 snap->id, err);
}

static long store_size(struct ext3snap_snap *snap)
{
	return atomic_long_read(&snap->pending) +
	       atomic_long_read(&snap->pending_moves);
}

/* New entries: flush soon, or at once when there are many. */
void ext3snap_kick(struct ext3snap_snap *snap)
{
	if (!snap->inode)
		return;
	if (store_size(snap) >= STORE_KICK)
		mod_delayed_work(system_unbound_wq, &snap->flush_work, 0);
	else
		queue_delayed_work(system_unbound_wq, &snap->flush_work, HZ);
}

static bool store_low(struct ext3snap_snap *snap)
{
	/* Nothing drains a read-only filesystem (e.g. after an error). */
	return (atomic_long_read(&snap->pending) < STORE_HIGH / 2 &&
		ext3snap_bij_low(snap)) ||
	       READ_ONCE(snap->state) != EXT3SNAP_STATE_ACTIVE ||
	       READ_ONCE(snap->undone) || sb_rdonly(snap->sb);
}

/*
 * A writer holding no journal handle: wait while the store, or the
 * journal ring, is too full. Also while a take still makes the file the
 * copies go to: it holds nothing such a writer holds.
 */
void ext3snap_throttle(struct ext3snap_snap *snap)
{
	ext3snap_kick(snap);
	if (atomic_long_read(&snap->pending) < STORE_HIGH &&
	    ext3snap_bij_low(snap))
		return;
	/* Rechecked every second: going read-only wakes nobody, and the file
	 * the flusher waits for wakes nobody either when it comes.
	 */
	while (!store_low(snap) && !fatal_signal_pending(current)) {
		if (READ_ONCE(snap->inode))
			mod_delayed_work(system_unbound_wq, &snap->flush_work,
					 0);
		wait_event_killable_timeout(snap->drained, store_low(snap), HZ);
	}
}
