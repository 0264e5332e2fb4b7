// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: reading a snapshot, for ssdev.
 *
 * Block B of the snapshot is, in this order:
 * - zeroes if B was free at the instant (so the image is stable: free
 *   space the origin reuses does not show through), or was a data block
 *   of a snapshot file then (exclude.c: the group's bitmap says free);
 * - the saved copy if B was saved: from the store, or from the snapshot
 *   file (a moved block is its own origin block);
 * - zeroes for the journal's blocks, which jbd2 rewrites without hooks
 *   (the image's journal superblock, saved at the instant, says empty);
 * - else the origin's block B, unchanged since the instant.
 * The decision and any origin read happen under the group's lock for read,
 * and saving takes it for write, so a block cannot change in between.
 *
 * An older snapshot (one with a newer neighbour) saved only what changed
 * while it was the newest. A block it did not save was unchanged at the
 * next one's instant, so it is whatever that one sees: the walk goes on
 * toward the newest until a snapshot saved the block, or reaches the
 * origin. The blocks of one request make that walk together, in batches
 * per group. The instant takes every group lock of the old newest one for
 * write after setting its newer neighbour, so a reader that found no
 * neighbour under the lock read the origin before anything changed.
 * Reads go straight to the device with bios: no page cache of the origin
 * or of the snapshot file holds a second copy; only ssdev's own does.
 */
#define pr_fmt(fmt) "ext3snap: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include "internal.h"
#include "ext3snap_read.h"

struct ext3snap_snap *ext3snap_bind(struct file *file)
{
	struct inode *inode = file_inode(file);
	struct ext3snap_snap *snap;
	struct ext3snap_fs *fs;

	/* Only our own filesystem type carries this module as owner. */
	if (inode->i_sb->s_type->owner != THIS_MODULE)
		return ERR_PTR(-EINVAL);
	if (!S_ISREG(inode->i_mode) || !ext3snap_is_snapfile(inode))
		return ERR_PTR(-EINVAL);
	fs = EXT3SNAP_FS(inode->i_sb);
	mutex_lock(&fs->lock);
	snap = ext3snap_find(fs, inode);
	if (!snap) {
		snap = ERR_PTR(-ENODATA);
	} else if (READ_ONCE(snap->state) != EXT3SNAP_STATE_ACTIVE) {
		snap = ERR_PTR(-EIO);
	} else if (snap->deleted) {
		snap = ERR_PTR(-ENOENT);
	} else {
		refcount_inc(&snap->ref);
		atomic_inc(&snap->bound);
	}
	mutex_unlock(&fs->lock);
	return snap;
}
EXPORT_SYMBOL_GPL(ext3snap_bind);

void ext3snap_unbind(struct ext3snap_snap *snap)
{
	atomic_dec(&snap->bound);
	ext3snap_snap_put(snap);
}
EXPORT_SYMBOL_GPL(ext3snap_unbind);

void ext3snap_geometry(struct ext3snap_snap *snap,
		       struct ext3snap_geometry *geo)
{
	geo->origin = snap->sb->s_bdev;
	geo->blocksize = snap->sb->s_blocksize;
	geo->blocks = snap->blocks;
	geo->id = snap->id;
}
EXPORT_SYMBOL_GPL(ext3snap_geometry);

static bool in_journal(struct ext3snap_snap *snap, ext4_fsblk_t block)
{
	unsigned int i;

	if (block == snap->journal_sb)
		return false;
	for (i = 0; i < snap->njournal; i++)
		if (block - snap->journal[i].start < snap->journal[i].len)
			return true;
	return false;
}

static void zero_vec(const struct bio_vec *v)
{
	memzero_page(v->bv_page, v->bv_offset, v->bv_len);
}

/*
 * Consecutive device blocks (origin or snapshot file) read with one bio.
 * The runs of one step are all in flight at once, and waited for together
 * (run_wait()): a piece of a sequential read over a partly rewritten file
 * holds many short runs, and one at a time each waited for the disk.
 */
struct origin_run {
	struct bio *bio;
	ext4_fsblk_t next;
	atomic_t left;			/* bios in flight, plus one */
	blk_status_t status;
	struct completion done;
};

static void run_init(struct origin_run *run)
{
	run->bio = NULL;
	atomic_set(&run->left, 1);
	run->status = BLK_STS_OK;
	init_completion(&run->done);
}

static void run_end_io(struct bio *bio)
{
	struct origin_run *run = bio->bi_private;

	if (bio->bi_status)
		WRITE_ONCE(run->status, bio->bi_status);
	bio_put(bio);
	if (atomic_dec_and_test(&run->left))
		complete(&run->done);
}

/* Send the run being built. */
static void run_end(struct origin_run *run)
{
	if (run->bio) {
		atomic_inc(&run->left);
		submit_bio(run->bio);
		run->bio = NULL;
	}
}

/* Send the last run, and wait for all of them. */
static int run_wait(struct origin_run *run)
{
	run_end(run);
	if (!atomic_dec_and_test(&run->left))
		wait_for_completion(&run->done);
	return blk_status_to_errno(READ_ONCE(run->status));
}

static void run_add(struct ext3snap_snap *snap, struct origin_run *run,
		    ext4_fsblk_t block, const struct bio_vec *v)
{
	struct super_block *sb = snap->sb;

	if (run->bio && (run->next != block ||
			 !bio_add_page(run->bio, v->bv_page, v->bv_len,
				       v->bv_offset)))
		run_end(run);
	if (!run->bio) {
		run->bio = bio_alloc(sb->s_bdev, BIO_MAX_VECS, REQ_OP_READ,
				     GFP_NOIO);
		run->bio->bi_iter.bi_sector = block << (sb->s_blocksize_bits - 9);
		run->bio->bi_end_io = run_end_io;
		run->bio->bi_private = run;
		__bio_add_page(run->bio, v->bv_page, v->bv_len, v->bv_offset);
	}
	run->next = block + 1;
}

/*
 * Read the saved blocks of @in_file (bits relative to @block) from the
 * snapshot file, where the flusher put them: the file's blocks were
 * allocated in order, so they mostly read in runs, one bio each.
 */
static int read_from_file(struct ext3snap_snap *snap, ext4_fsblk_t block,
			  unsigned int nr, const unsigned long *in_file,
			  const struct bio_vec *vecs)
{
	struct origin_run run;
	ext4_fsblk_t where;
	unsigned int i;
	int err = 0, err2;

	run_init(&run);
	for_each_set_bit(i, in_file, nr) {
		where = snap->inode ?
			ext3snap_map_lookup(snap->inode, block + i) : 0;
		if (!where) {	/* saved but nowhere: never expected */
			err = -EIO;
			break;
		}
		run_add(snap, &run, where, &vecs[i]);
	}
	err2 = run_wait(&run);
	return err ? err : err2;
}

/* A copy in the store: its read may still be in flight (cow.c). */
static int copy_out(const struct bio_vec *v, struct page *copy)
{
	int err = ext3snap_copy_wait(copy);

	if (!err)
		memcpy_to_page(v->bv_page, v->bv_offset, page_address(copy),
			       v->bv_len);
	return err;
}

/* Which blocks of one batch a walk still has to read. */
#define BATCH_LONGS	BITS_TO_LONGS(BIO_MAX_VECS)

/*
 * One step of the walk: read the blocks of @want (bits relative to @block,
 * all in one group) that @snap decides, clearing their bits. Those it did
 * not save stay set when it has a newer neighbour, returned in @newer.
 * With @free_is_zero, blocks free at @snap's instant read as zeroes (for
 * the first snapshot of a walk only: a block still wanted by a newer one
 * was in use at the older instant and is unchanged since).
 */
static int read_step(struct ext3snap_snap *snap, ext4_fsblk_t block,
		     unsigned int nr, const struct bio_vec *vecs,
		     unsigned long *want, bool free_is_zero,
		     struct ext3snap_snap **newer)
{
	struct origin_run run;
	unsigned long in_file[BATCH_LONGS];
	struct ext3snap_group *grp;
	ext4_grpblk_t off0, off;
	ext4_group_t g;
	unsigned int i;
	int err, err2;

	ext4_get_group_no_and_offset(snap->sb, block, &g, &off0);
	/* Unchanged groups are loaded too, to tell free blocks apart. */
	err = ext3snap_load_group(snap, g);
	if (err)
		return err;
	grp = &snap->groups[g];
	bitmap_zero(in_file, nr);
	run_init(&run);
	/* No caller holds another group lock: loads take none (cow.c). */
	down_read(&grp->lock);
	/* Pairs with the release in push() (take.c). */
	*newer = smp_load_acquire(&snap->newer);
	for_each_set_bit(i, want, nr) {
		const struct bio_vec *v = &vecs[i];
		void *entry;

		off = off0 + i;
		if (free_is_zero && !test_bit(off, grp->cow)) {
			zero_vec(v);
		} else if (test_bit(off, grp->saved)) {
			entry = xa_load(&snap->store, block + i);
			if (xa_is_value(entry))
				run_add(snap, &run, block + i, v);
			else if (entry)
				err = copy_out(v, entry);
			else
				__set_bit(i, in_file);
		} else if (*newer) {
			continue;	/* the newer one decides */
		} else if (in_journal(snap, block + i)) {
			zero_vec(v);
		} else {
			run_add(snap, &run, block + i, v);
		}
		__clear_bit(i, want);
		if (err)
			break;
	}
	/* The origin is read before anything may change it. */
	err2 = run_wait(&run);
	up_read(&grp->lock);
	if (err || err2)
		return err ? err : err2;
	/* Blocks in the file never change again: no lock needed. */
	return read_from_file(snap, block, nr, in_file, vecs);
}

/*
 * Blocks [@block, @block + @nr) all lie in one group: read them as @snap
 * saw them, walking toward the newest with the blocks still wanted, in
 * batches (see the file comment). The lock of one snapshot is dropped
 * before the next is asked: what an older one did not save is settled
 * once it has a newer neighbour, as only the newest saves.
 */
static int read_walk(struct ext3snap_snap *snap, ext4_fsblk_t block,
		     unsigned int nr, const struct bio_vec *vecs,
		     bool free_is_zero)
{
	unsigned long want[BATCH_LONGS];
	struct ext3snap_snap *newer;
	int err;

	bitmap_zero(want, BIO_MAX_VECS);
	bitmap_set(want, 0, nr);
	for (;;) {
		err = read_step(snap, block, nr, vecs, want, free_is_zero,
				&newer);
		if (err || bitmap_empty(want, nr))
			return err;
		if (!newer)	/* only left for a newer one: never expected */
			return -EIO;
		snap = newer;
		free_is_zero = false;
	}
}

/*
 * Read @block as @snap saw it at its instant, @snap's older neighbours not
 * having saved it: see the file comment.
 */
int ext3snap_read_through(struct ext3snap_snap *snap, ext4_fsblk_t block,
			  struct page *page, unsigned int offset)
{
	struct bio_vec v = {
		.bv_page = page,
		.bv_len = snap->sb->s_blocksize,
		.bv_offset = offset,
	};

	return read_walk(snap, block, 1, &v, false);
}

/*
 * An image shows older snapshot files as plain files (their contents are
 * not kept: see Documentation/design.md); its superblock names none, so
 * that the image checks and mounts as the plain ext3 it was.
 */
static void hide_snapshots(struct super_block *sb, u64 block, unsigned int nr,
			   const struct bio_vec *vecs)
{
	u64 sb_block = EXT4_SB(sb)->s_sbh->b_blocknr;
	unsigned long off = offset_in_page(EXT4_SB(sb)->s_es);
	struct ext4_super_block *es;
	const struct bio_vec *v;
	void *data;

	if (sb_block < block || sb_block >= block + nr)
		return;
	v = &vecs[sb_block - block];
	data = kmap_local_page(v->bv_page);
	es = data + v->bv_offset + off;
	es->s_snapshot_inum = 0;
	es->s_feature_ro_compat &= ~cpu_to_le32(EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT);
	kunmap_local(data);
}

int ext3snap_read(struct ext3snap_snap *snap, u64 block, unsigned int nr,
		  const struct bio_vec *vecs)
{
	u64 first = block;
	unsigned int total = nr;
	const struct bio_vec *all = vecs;

	struct super_block *sb = snap->sb;
	ext4_grpblk_t off;
	ext4_group_t g;
	unsigned int n;
	int err;

	while (nr) {
		if (READ_ONCE(snap->state) != EXT3SNAP_STATE_ACTIVE)
			return -EIO;
		if (block >= snap->blocks)
			return -EIO;
		ext4_get_group_no_and_offset(sb, block, &g, &off);
		n = min3(nr, (unsigned int)BIO_MAX_VECS,
			 (unsigned int)(EXT4_BLOCKS_PER_GROUP(sb) - off));
		err = read_walk(snap, block, n, vecs, true);
		if (err)
			return err;
		block += n;
		vecs += n;
		nr -= n;
	}
	hide_snapshots(sb, first, total, all);
	return 0;
}
EXPORT_SYMBOL_GPL(ext3snap_read);
