// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: deciding which blocks to save, and saving them.
 *
 * A block is saved when it was in use at the snapshot instant and has not
 * been saved yet. "In use then" is the group's block bitmap as it was at the
 * instant: the first time a group is looked at, its current bitmap is still
 * the snapshot-time one (any change to it passes through here first, and
 * take.c checks that each group's bitmap lies inside the group), so it is
 * copied into memory and never changes after.
 *
 * Saving copies the block into the store, a page per block, reserving the
 * filesystem block the copy will need so that the origin filling up cannot
 * leave the flusher without room. Freed blocks are moved instead: they stay
 * allocated and pass to the snapshot file as they are.
 */
#define pr_fmt(fmt) "ext3snap: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/buffer_head.h>
#include <linux/highmem.h>
#include <linux/pagemap.h>
#include <linux/quotaops.h>
#include <linux/slab.h>
#include "internal.h"
#include "hooks.h"

static struct ext3snap_snap *newer_of(struct ext3snap_snap *snap)
{
	/* Pairs with the release in push() (take.c). */
	return smp_load_acquire(&snap->newer);
}

/*
 * Group @g's block bitmap as the snapshot sees it: the copy in the store
 * or the snapshot file if the bitmap changed since the instant, else what
 * the newer snapshots saw (read.c), else the current one, unchanged since
 * (any change passes through here first).
 */
static int snapshot_bitmap(struct ext3snap_snap *snap,
			   struct ext3snap_snap *newer, ext4_group_t g,
			   void *dst)
{
	struct super_block *sb = snap->sb;
	struct ext4_group_desc *gdp = ext4_get_group_desc(sb, g, NULL);
	struct buffer_head *bh;
	ext4_fsblk_t blk, where = 0;
	struct page *page;
	void *entry;
	int err;

	if (!gdp)
		return -EIO;
	blk = ext4_block_bitmap(sb, gdp);
	entry = xa_load(&snap->store, blk);
	if (entry && !xa_is_value(entry)) {
		err = ext3snap_copy_wait(entry);
		if (!err)
			memcpy(dst, page_address(entry), sb->s_blocksize);
		return err;
	}
	/* The flusher links a copy before it leaves the store. */
	smp_rmb();
	if (snap->inode)
		where = ext3snap_map_lookup(snap->inode, blk);
	if (where || newer) {
		page = alloc_page(GFP_NOFS);
		if (!page)
			return -ENOMEM;
		if (where)
			err = ext3snap_bio_rw(sb, REQ_OP_READ, where, page, 0);
		else
			err = ext3snap_read_through(newer, blk, page, 0);
		if (!err)
			memcpy(dst, page_address(page), sb->s_blocksize);
		__free_page(page);
		return err;
	}
	bh = ext4_read_block_bitmap(sb, g);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	memcpy(dst, bh->b_data, sb->s_blocksize);
	brelse(bh);
	return 0;
}

/*
 * Which blocks of group @g are saved already: in the store or the file.
 * The store is looked at first: the flusher links an entry into the file
 * before it leaves the store, so none is missed in between.
 */
static int saved_bitmap(struct ext3snap_snap *snap, ext4_group_t g,
			unsigned long *saved)
{
	struct super_block *sb = snap->sb;
	ext4_fsblk_t first = ext4_group_first_block_no(sb, g);
	unsigned int count = min_t(u64, EXT4_BLOCKS_PER_GROUP(sb),
				   snap->blocks - first);
	unsigned long index = first;
	void *entry;

	xa_for_each_range(&snap->store, index, entry, first, first + count - 1)
		set_bit(index - first, saved);
	/* Pairs with the link before the erase (flush.c). */
	smp_rmb();
	if (!snap->inode)
		return 0;
	return ext3snap_map_range(snap->inode, first, count, saved);
}

/*
 * Fill group @g's snapshot-time bitmaps. They are worked out holding no
 * lock at all, and only published under the group's lock: a load runs
 * inside the metadata hook, so under whatever its caller holds (the
 * flusher's own i_data_sem while it allocates an indirect block, a trim's
 * while it punches), and it walks snapshot files and newer snapshots'
 * groups. Holding a group lock across that walk made a lock-order cycle
 * with the flusher (issue 21). Working outside the lock is safe because
 * nothing it reads changes while @g is not loaded: every save, move and
 * change of the group's bitmap loads the group first. A result worked out
 * while another load won the race is dropped.
 */
static int load_one(struct ext3snap_snap *snap, ext4_group_t g)
{
	struct ext3snap_group *grp = &snap->groups[g];
	struct super_block *sb = snap->sb;
	struct ext3snap_snap *newer;
	unsigned long *cow, *saved;
	int err;

again:
	newer = newer_of(snap);
	cow = kmalloc(sb->s_blocksize, GFP_NOFS);
	saved = kzalloc(sb->s_blocksize, GFP_NOFS);
	err = cow && saved ? 0 : -ENOMEM;
	if (!err)
		err = snapshot_bitmap(snap, newer, g, cow);
	/* Older snapshot files' data: as if free at the instant. */
	if (!err)
		err = ext3snap_exclude_apply(snap, g, cow);
	if (!err)
		err = saved_bitmap(snap, g, saved);
	if (!err) {
		down_write(&grp->lock);
		/* A take made @snap older meanwhile: its bitmap may have
		 * changed since it was read (push() takes this lock after
		 * setting @newer, so it is seen here if so).
		 */
		if (!grp->cow && newer_of(snap) != newer) {
			up_write(&grp->lock);
			kfree(cow);
			kfree(saved);
			goto again;
		}
		if (!grp->cow) {
			grp->saved = saved;
			/* Readers test @cow's bits without the lock. */
			smp_store_release(&grp->cow, cow);
			cow = NULL;
			saved = NULL;
		}
		up_write(&grp->lock);
	}
	kfree(cow);
	kfree(saved);
	return err;
}

static bool group_loaded(struct ext3snap_snap *snap, ext4_group_t g)
{
	/* Pairs with the release in load_one(). */
	return smp_load_acquire(&snap->groups[g].cow);
}

/*
 * An older snapshot's bitmap is read through the newer ones, which load
 * their own group to answer: one nested load per snapshot, too deep for a
 * kernel stack with a hundred of them. So the newest one not loaded goes
 * first; each load then finds every newer one done.
 */
int ext3snap_load_group(struct ext3snap_snap *snap, ext4_group_t g)
{
	struct ext3snap_snap *s, *first;
	int err;

	while (!group_loaded(snap, g)) {
		first = snap;
		for (s = newer_of(snap); s; s = newer_of(s))
			if (!group_loaded(s, g))
				first = s;
		err = load_one(first, g);
		if (err)
			return err;
	}
	return 0;
}

void ext3snap_free_groups(struct ext3snap_snap *snap)
{
	ext4_group_t g;

	for (g = 0; g < snap->ngroups; g++) {
		kfree(snap->groups[g].cow);
		kfree(snap->groups[g].saved);
	}
	ext3snap_exclude_free(snap);
	kvfree(snap->groups);
}

/*
 * Copies made without a claimed block (the disk was full) are about to be
 * dropped or handed over: account them as claimed, as the others are.
 */
void ext3snap_forgive(struct ext3snap_snap *snap)
{
	long n = atomic_long_xchg(&snap->unclaimed, 0);

	if (n)
		percpu_counter_add(&EXT4_SB(snap->sb)->s_dirtyclusters_counter,
				   n);
}

/* Give back a copy's page and the block reserved for it. */
static void drop_copy(struct ext3snap_snap *snap, struct page *page)
{
	struct ext4_sb_info *sbi = EXT4_SB(snap->sb);

	ext3snap_copy_wait(page);	/* no read may land in a freed page */
	__free_page(page);
	percpu_counter_sub(&sbi->s_dirtyclusters_counter, 1);
	atomic_long_dec(&snap->pending);
}

/* Free every copy still in memory; moved blocks keep no memory. */
void ext3snap_drop_store(struct ext3snap_snap *snap)
{
	unsigned long index;
	void *entry;
	long lost = 0;

	/* The journal writer may be reading copies: let it finish. */
	ext3snap_bij_stop(snap);
	ext3snap_forgive(snap);
	xa_for_each(&snap->store, index, entry) {
		if (xa_is_value(entry)) {
			lost++;
			continue;
		}
		xa_erase(&snap->store, index);
		drop_copy(snap, entry);
	}
	if (lost)
		pr_err("%s: snapshot %u: %ld moved blocks not in its file; run e2fsck\n",
		       snap->sb->s_id, snap->id, lost);
	xa_destroy(&snap->store);
	atomic_long_set(&snap->pending_moves, 0);
	wake_up_all(&snap->drained);
}

/* A new entry, for the journal writer to pick up (see internal.h). */
static int store_unjournaled(struct ext3snap_snap *snap, unsigned long block,
			     void *entry)
{
	int err;

	xa_lock(&snap->store);
	err = xa_err(__xa_store(&snap->store, block, entry, GFP_NOFS));
	if (!err)
		__xa_set_mark(&snap->store, block, EXT3SNAP_UNJOURNALED);
	xa_unlock(&snap->store);
	return err;
}

/* Is @block in use at the instant and not saved yet? Lock-free. */
static bool may_need_save(struct ext3snap_snap *snap, ext4_fsblk_t block)
{
	struct ext3snap_group *grp;
	ext4_grpblk_t off;
	ext4_group_t g;
	unsigned long *cow;

	if (block >= snap->blocks)
		return false;
	ext4_get_group_no_and_offset(snap->sb, block, &g, &off);
	grp = &snap->groups[g];
	/* Pairs with the release in load_one(): bits are complete. */
	cow = smp_load_acquire(&grp->cow);
	if (!cow)
		return true;
	return test_bit(off, cow) && !test_bit(off, grp->saved);
}

/*
 * Does @snap read @block through newer snapshots? It does if the block
 * was in use at its instant and it did not save it.
 */
bool ext3snap_needs(struct ext3snap_snap *snap, ext4_fsblk_t block)
{
	ext4_grpblk_t off;
	ext4_group_t g;

	if (block >= snap->blocks)
		return false;
	ext4_get_group_no_and_offset(snap->sb, block, &g, &off);
	/* Unreadable: keep whatever it might need. */
	if (ext3snap_load_group(snap, g))
		return true;
	return test_bit(off, snap->groups[g].cow) &&
	       !test_bit(off, snap->groups[g].saved);
}

/*
 * A copy's read from the disk ended (save_block()): its contents are
 * final, and who waits in ext3snap_copy_wait() may use them.
 */
static void copy_read_end_io(struct bio *bio)
{
	struct page *page = bio_first_page_all(bio);

	if (bio->bi_status)
		set_page_private(page, EXT3SNAP_COPY_FAILED);
	/* Releases the contents and private to the waiters. */
	folio_unlock(page_folio(page));
	bio_put(bio);
}

/*
 * Wait until @copy, a page of the store, holds its block's contents:
 * before using them, handing the page on or freeing it. -EIO if its read
 * failed.
 */
int ext3snap_copy_wait(struct page *copy)
{
	folio_wait_locked(page_folio(copy));
	smp_rmb();	/* pairs with the unlock in copy_read_end_io() */
	return page_private(copy) == EXT3SNAP_COPY_FAILED ? -EIO : 0;
}

/*
 * Save @block: copy @data (the block's current contents) or, with @data
 * NULL, read the block from disk: at once, or with @async only start the
 * read (see save_disk_run()). The group lock makes the decision and the
 * copy one step for readers.
 */
static int save_block(struct ext3snap_snap *snap, ext4_fsblk_t block,
		      const void *data, bool async)
{
	struct ext4_sb_info *sbi = EXT4_SB(snap->sb);
	struct ext3snap_group *grp;
	struct bio *bio = NULL;
	struct page *page;
	bool stored = false;
	ext4_grpblk_t off;
	ext4_group_t g;
	int err;

	if (!may_need_save(snap, block))
		return 0;
	ext4_get_group_no_and_offset(snap->sb, block, &g, &off);
	/* Before any lock: a load takes none (see load_one()). */
	err = ext3snap_load_group(snap, g);
	if (err)
		return err;
	if (!may_need_save(snap, block))
		return 0;
	page = alloc_page(GFP_NOFS);
	if (!page)
		return -ENOMEM;
	set_page_private(page, 0);
	/* Allocated first: readers may wait for the page once it is stored. */
	if (!data && async) {
		struct super_block *sb = snap->sb;

		bio = bio_alloc(sb->s_bdev, 1, REQ_OP_READ, GFP_NOFS);
		bio->bi_iter.bi_sector = block << (sb->s_blocksize_bits - 9);
		__bio_add_page(bio, page, sb->s_blocksize, 0);
		bio->bi_end_io = copy_read_end_io;
	}
	/* The block the copy will occupy, claimed now: see the file comment.
	 * The disk full, an older snapshot gives its blocks up and the
	 * flusher claims the block once they are free (see snap.c).
	 */
	err = ext4_claim_free_clusters(sbi, 1, EXT4_MB_USE_ROOT_BLOCKS |
				       EXT4_MB_USE_RESERVED);
	if (err == -ENOSPC && ext3snap_make_room(snap)) {
		atomic_long_inc(&snap->unclaimed);
		err = 0;
	}
	if (err)
		goto free;
	err = ext3snap_bij_reserve(snap, EXT3SNAP_COPY_UNITS);
	if (err) {
		percpu_counter_sub(&sbi->s_dirtyclusters_counter, 1);
		goto free;
	}
	grp = &snap->groups[g];
	down_write(&grp->lock);
	if (!test_bit(off, grp->cow) || test_bit(off, grp->saved))
		goto unlock;
	if (data)
		memcpy(page_address(page), data, snap->sb->s_blocksize);
	else if (!bio)
		err = ext3snap_bio_rw(snap->sb, REQ_OP_READ, block, page, 0);
	/* Nobody sees the page before it is in the store: locked there. */
	if (bio)
		__folio_set_locked(page_folio(page));
	if (!err)
		err = store_unjournaled(snap, block, page);
	if (err) {
		if (bio)
			__folio_clear_locked(page_folio(page));
	} else {
		set_bit(off, grp->saved);
		atomic_long_inc(&snap->pending);
		atomic_long_inc(&snap->copied);
		stored = true;
	}
unlock:
	up_write(&grp->lock);
	if (stored) {
		if (bio)
			submit_bio(bio);
		return 0;
	}
	percpu_counter_sub(&sbi->s_dirtyclusters_counter, 1);
	atomic_long_sub(EXT3SNAP_COPY_UNITS, &snap->bij.reserved);
free:
	if (bio)
		bio_put(bio);
	__free_page(page);
	return err;
}

int ext3snap_save(struct ext3snap_snap *snap, ext4_fsblk_t block,
		  const void *data)
{
	return save_block(snap, block, data, false);
}

/*
 * A take failed after its instant: @snap (which has no file, so only
 * copies) gives @old, the newest again, what @old did not save itself.
 * The filesystem is frozen.
 */
void ext3snap_hand_back(struct ext3snap_snap *snap, struct ext3snap_snap *old)
{
	struct ext3snap_group *grp;
	unsigned long index;
	ext4_grpblk_t off;
	ext4_group_t g;
	struct page *page;
	int err = 0;

	WRITE_ONCE(old->newer, NULL);	/* @old's bitmaps: its own view */
	ext3snap_forgive(snap);
	xa_for_each(&snap->store, index, page) {
		if (READ_ONCE(old->state) != EXT3SNAP_STATE_ACTIVE)
			break;
		ext4_get_group_no_and_offset(old->sb, index, &g, &off);
		grp = &old->groups[g];
		err = ext3snap_load_group(old, g);
		if (err) {
			ext3snap_snap_break(old, "cannot take back a copy", err);
			continue;
		}
		down_write(&grp->lock);
		if (test_bit(off, grp->cow) &&
		    !test_bit(off, grp->saved)) {
			err = ext3snap_copy_wait(page);
			if (!err)
				err = ext3snap_bij_reserve(old,
							   EXT3SNAP_COPY_UNITS);
			if (!err)
				err = store_unjournaled(old, index, page);
			if (!err) {
				/* The page and its block go over as they are. */
				set_page_private(page, 0);
				set_bit(off, grp->saved);
				atomic_long_inc(&old->pending);
				atomic_long_inc(&old->copied);
				xa_erase(&snap->store, index);
				atomic_long_dec(&snap->pending);
			}
		}
		up_write(&grp->lock);
		if (err)
			ext3snap_snap_break(old, "cannot take back a copy", err);
	}
}

/* The snapshot hooks should act on, or NULL: under @fs->srcu. */
static struct ext3snap_snap *active(struct ext3snap_fs *fs)
{
	struct ext3snap_snap *snap = srcu_dereference(fs->active, &fs->srcu);

	if (snap && READ_ONCE(snap->state) != EXT3SNAP_STATE_ACTIVE)
		return NULL;
	return snap;
}

/*
 * The before-images just saved must be journaled before what replaces
 * them reaches the disk: inside a handle, before its transaction commits
 * (the snapshot file joins the transaction, so the commit calls
 * ext3snap_commit_barrier() first); outside one, right now.
 */
static void journal_before_commit(struct ext3snap_snap *snap, handle_t *handle)
{
	struct inode *inode = READ_ONCE(snap->inode);

	if (!ext4_handle_valid(handle)) {
		ext3snap_bij_sync(snap);
		return;
	}
	/* No file yet: the take's own transaction journals everything. */
	if (inode)
		ext4_jbd2_inode_add_write(handle, inode, 0, 1);
}

void ext3snap_cow_metadata(handle_t *handle, struct super_block *sb,
			   struct buffer_head *bh)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);
	struct ext3snap_snap *snap;
	int idx, err;

	if (!fs)
		return;
	idx = srcu_read_lock(&fs->srcu);
	snap = active(fs);
	/* A buffer not read from disk does not hold the old contents. */
	if (snap && may_need_save(snap, bh->b_blocknr)) {
		err = ext3snap_save(snap, bh->b_blocknr,
				    buffer_uptodate(bh) ? bh->b_data : NULL);
		if (err)
			ext3snap_snap_break(snap, "cannot save a metadata block",
					    err);
		else
			journal_before_commit(snap, handle);
	}
	srcu_read_unlock(&fs->srcu, idx);
}

/*
 * Save the blocks of [@pblk, @pblk + @count) that need it, from the disk.
 * Each read is only started: its copy enters the store at once, locked
 * until the read ends, and whoever uses the contents waits for them
 * (ext3snap_copy_wait()). The disk keeps the old contents that long:
 * nothing overwrites a block before ext3snap_bij_sync() has journaled its
 * copy, or (no ring yet) waited for it. So a buffered writer never waits
 * for the disk here, and the reads of a run merge into one request in the
 * plug: under TCG a 1 MiB direct write read block by block was 80 times
 * slower than without a snapshot.
 */
static int save_disk_run(struct ext3snap_snap *snap, ext4_fsblk_t pblk,
			 unsigned int count)
{
	struct blk_plug plug;
	int err = 0;

	blk_start_plug(&plug);
	for (; count && !err; count--, pblk++)
		err = save_block(snap, pblk, NULL, true);
	blk_finish_plug(&plug);
	return err;
}

/*
 * Save block @pblk, file block @lblk, from its page-cache page. An up to
 * date page holds the snapshot-time contents as long as the block is not
 * saved (any change to it comes through here first) and saves a read.
 * -ENODATA: no such page; the block has to be read from the disk.
 */
static int save_from_page(struct ext3snap_snap *snap, struct inode *inode,
			  ext4_lblk_t lblk, ext4_fsblk_t pblk)
{
	struct page *page;
	void *data;
	int err;

	if (!may_need_save(snap, pblk))
		return 0;
	BUILD_BUG_ON(EXT3SNAP_BLOCK_SIZE != PAGE_SIZE);
	page = find_get_page(inode->i_mapping, lblk);
	if (!page)
		return -ENODATA;
	if (!PageUptodate(page)) {
		put_page(page);
		return -ENODATA;
	}
	data = kmap_local_page(page);
	err = ext3snap_save(snap, pblk, data);
	kunmap_local(data);
	put_page(page);
	return err;
}

/*
 * Save file blocks [@lblk, @lblk + @n), mapped at @pblk: with @cached,
 * those whose page is up to date from the page; the rest from the disk,
 * in runs.
 */
static int save_extent(struct ext3snap_snap *snap, struct inode *inode,
		       ext4_lblk_t lblk, ext4_fsblk_t pblk, unsigned int n,
		       bool cached)
{
	unsigned int i, start = 0;
	int err;

	if (!cached)
		return save_disk_run(snap, pblk, n);
	for (i = 0; i < n; i++) {
		err = save_from_page(snap, inode, lblk + i, pblk + i);
		if (err == -ENODATA)
			continue;	/* joins the run read from the disk */
		if (!err && start < i)
			err = save_disk_run(snap, pblk + start, i - start);
		if (err)
			return err;
		start = i + 1;
	}
	return start < n ? save_disk_run(snap, pblk + start, n - start) : 0;
}

/*
 * Blocks saved between two looks at the throttle. An extent can be far
 * longer (one of 56 MiB filled a ring at once): this stays well below the
 * room a ring keeps above the level writers are held at.
 */
#define SAVE_CHUNK	256

/*
 * The saves of a writer without @cached (direct I/O, zeroing) go to the
 * journal before its write can reach the disk; one holding no handle may
 * wait for the flusher.
 */
static void settle(struct ext3snap_snap *snap, bool cached)
{
	if (!cached)
		ext3snap_bij_sync(snap);
	if (!ext4_handle_valid(journal_current_handle()))
		ext3snap_throttle(snap);
}

/*
 * Without @cached (direct I/O), only the first extent or hole of the range
 * is handled: iomap writes that one before it asks for the next.
 */
static void cow_file(struct inode *inode, loff_t pos, loff_t len, bool cached)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(inode->i_sb);
	struct ext4_map_blocks map;
	struct ext3snap_snap *snap;
	ext4_lblk_t lblk, last;
	unsigned int done, n;
	int idx, ret = 0;

	if (!fs || len <= 0 || !rcu_access_pointer(fs->active))
		return;
	idx = srcu_read_lock(&fs->srcu);
	snap = active(fs);
	/* Nothing writes snapshot files but this module, which needs no copy. */
	if (!snap || ext3snap_is_snapfile(inode))
		goto out;
	lblk = pos >> inode->i_blkbits;
	last = (pos + len - 1) >> inode->i_blkbits;
	while (lblk <= last) {
		map.m_lblk = lblk;
		map.m_len = last - lblk + 1;
		ret = ext4_map_blocks(NULL, inode, &map, 0);
		if (ret < 0)
			break;
		for (done = 0; done < ret; done += n) {
			int err;

			n = min_t(unsigned int, ret - done, SAVE_CHUNK);
			err = save_extent(snap, inode, lblk + done,
					  map.m_pblk + done, n, cached);
			if (err) {
				ret = err;
				goto broke;
			}
			if (done + n < ret)
				settle(snap, cached);
		}
		if (!cached)
			break;
		/* A hole (map.m_len long): nothing old to keep. */
		lblk += ret ? ret : max_t(unsigned int, map.m_len, 1);
	}
broke:
	if (ret < 0) {
		ext3snap_snap_break(snap, "cannot save a data block", ret);
		goto out;
	}
	/* Also when this call saved nothing: another writer may have. */
	settle(snap, cached);
out:
	srcu_read_unlock(&fs->srcu, idx);
}

/*
 * Truncate zeroes the tail of a cached page before the zeroing hook runs,
 * so that path, and direct I/O, read the old contents from the disk.
 */
void ext3snap_cow_file_range(struct inode *inode, loff_t pos, loff_t len)
{
	cow_file(inode, pos, len, false);
}

void ext3snap_cow_file_write(struct inode *inode, loff_t pos, loff_t len)
{
	cow_file(inode, pos, len, true);
}

/*
 * Move the blocks of [@block, @block + @count) that the snapshot needs;
 * set a bit in @freed for each block that is to be freed normally.
 * All blocks lie in one group. Returns how many were moved.
 */
static unsigned int move_chunk(struct ext3snap_snap *snap, tid_t tid,
			       ext4_fsblk_t block, unsigned int count,
			       unsigned long *freed)
{
	struct ext3snap_group *grp;
	unsigned int i, moved = 0;
	ext4_grpblk_t off;
	ext4_group_t g;
	int err;

	ext4_get_group_no_and_offset(snap->sb, block, &g, &off);
	grp = &snap->groups[g];
	err = ext3snap_load_group(snap, g);
	down_write(&grp->lock);
	for (i = 0; i < count; i++, off++) {
		if (err || block + i >= snap->blocks ||
		    !test_bit(off, grp->cow) || test_bit(off, grp->saved)) {
			__set_bit(i, freed);
			continue;
		}
		err = ext3snap_bij_reserve(snap, EXT3SNAP_MOVE_UNITS);
		if (!err)
			err = store_unjournaled(snap, block + i,
						xa_mk_value(tid));
		if (err) {
			__set_bit(i, freed);
			continue;
		}
		set_bit(off, grp->saved);
		moved++;
	}
	up_write(&grp->lock);
	if (err)
		ext3snap_snap_break(snap, "cannot keep a freed block", err);
	return moved;
}

#define MOVE_CHUNK	BITS_PER_LONG

/* Has the store an unjournaled entry in [@block, @block + @count)? */
static bool unjournaled(struct ext3snap_snap *snap, ext4_fsblk_t block,
			unsigned long count)
{
	unsigned long index = block;

	return xa_find(&snap->store, &index, block + count - 1,
		       EXT3SNAP_UNJOURNALED);
}

bool ext3snap_free_blocks(handle_t *handle, struct inode *inode, u64 block,
			  unsigned long count, int flags)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(inode->i_sb);
	struct super_block *sb = inode->i_sb;
	struct ext3snap_snap *snap;
	unsigned long done, i, freed[1];
	unsigned int n, moved;
	ext4_grpblk_t off;
	ext4_group_t g;
	bool handled = false;
	int idx;

	if (!fs || !rcu_access_pointer(fs->active))
		return false;
	idx = srcu_read_lock(&fs->srcu);
	snap = active(fs);
	if (!snap || inode == READ_ONCE(snap->inode))
		goto out;
	for (i = 0; i < count; i++)
		if (may_need_save(snap, block + i))
			break;
	if (i == count) {		/* the common case: nothing to keep */
		/* Once this commits a block may be reused, and written in
		 * place by a checkpoint, which passes no barrier: a copy of
		 * it not yet journaled (or still being read) goes first.
		 */
		if (unjournaled(snap, block, count))
			journal_before_commit(snap, handle);
		goto out;
	}

	/* No file to move into yet (a take in progress): copy instead. */
	if (!smp_load_acquire(&snap->inode)) {
		for (; i < count; i++) {
			int err = ext3snap_save(snap, block + i, NULL);

			if (err) {
				ext3snap_snap_break(snap, "cannot save a block",
						    err);
				break;
			}
		}
		goto out;
	}

	handled = true;
	for (done = 0; done < count; done += n) {
		ext4_get_group_no_and_offset(sb, block + done, &g, &off);
		n = min3(count - done, (unsigned long)MOVE_CHUNK,
			 (unsigned long)(EXT4_BLOCKS_PER_GROUP(sb) - off));
		freed[0] = 0;
		moved = move_chunk(snap, handle->h_transaction->t_tid,
				   block + done, n, freed);
		if (moved) {
			atomic_long_add(moved, &snap->moved);
			atomic_long_add(moved, &snap->pending_moves);
			/* The origin gives the blocks up as if freed. */
			if (!(flags & EXT4_FREE_BLOCKS_NO_QUOT_UPDATE))
				dquot_free_block(inode, moved);
		}
		/* The rest goes back through ext4_free_blocks(), which
		 * finds nothing to keep this time.
		 */
		for (i = 0; i < n; ) {
			unsigned long end;

			i = find_next_bit(freed, n, i);
			if (i >= n)
				break;
			end = find_next_zero_bit(freed, n, i);
			ext4_free_blocks(handle, inode, NULL, block + done + i,
					 end - i, flags & ~EXT4_FREE_BLOCKS_FORGET);
			i = end;
		}
	}
	journal_before_commit(snap, handle);
	ext3snap_kick(snap);
out:
	srcu_read_unlock(&fs->srcu, idx);
	return handled;
}

/* Journal what the active snapshot holds unjournaled, if there is one. */
static void sync_active(struct ext3snap_fs *fs)
{
	struct ext3snap_snap *snap;
	int idx;

	idx = srcu_read_lock(&fs->srcu);
	snap = srcu_dereference(fs->active, &fs->srcu);
	if (snap)
		ext3snap_bij_sync(snap);
	srcu_read_unlock(&fs->srcu, idx);
}

/*
 * jbd2 is committing a transaction the snapshot file joined: journal the
 * before-images first. True if @inode is a snapshot file (nothing else of
 * it is ever written through the page cache).
 */
bool ext3snap_commit_barrier(struct inode *inode)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(inode->i_sb);

	if (!ext3snap_is_snapfile(inode))
		return false;
	if (fs)
		sync_active(fs);
	return true;
}

/* A page of @inode is about to be written: before-images go first. */
void ext3snap_write_barrier(struct inode *inode)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(inode->i_sb);

	if (fs && rcu_access_pointer(fs->active))
		sync_active(fs);
}
