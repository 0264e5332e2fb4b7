// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: deciding which blocks to save, and saving metadata.
 *
 * A block is saved when it was in use at the snapshot instant and has not
 * been saved yet. "In use then" is the group's block bitmap as it was at the
 * instant: the first time a group is looked at, its current bitmap is still
 * the snapshot-time one (any change to it passes through here first), so it
 * is copied into memory and never changes after.
 */
#define pr_fmt(fmt) "ext3snap: " fmt

#include <linux/buffer_head.h>
#include <linux/slab.h>
#include "internal.h"
#include "hooks.h"

/* Fill @grp: caller holds grp->lock for write. */
static int load_group(struct ext3snap_snap *snap, ext4_group_t g,
		      struct ext3snap_group *grp)
{
	struct super_block *sb = snap->sb;
	struct buffer_head *bh;
	unsigned long *cow, *saved;

	bh = ext4_read_block_bitmap(sb, g);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	cow = kmalloc(sb->s_blocksize, GFP_NOFS);
	saved = kzalloc(sb->s_blocksize, GFP_NOFS);
	if (!cow || !saved) {
		kfree(cow);
		kfree(saved);
		brelse(bh);
		return -ENOMEM;
	}
	memcpy(cow, bh->b_data, sb->s_blocksize);
	brelse(bh);
	grp->saved = saved;
	/* Readers test bits of @cow without the lock once it is published. */
	smp_store_release(&grp->cow, cow);
	return 0;
}

void ext3snap_free_groups(struct ext3snap_snap *snap)
{
	ext4_group_t g;

	for (g = 0; g < snap->ngroups; g++) {
		kfree(snap->groups[g].cow);
		kfree(snap->groups[g].saved);
	}
	kvfree(snap->groups);
}

void ext3snap_free_store(struct ext3snap_snap *snap)
{
	struct page *page;
	unsigned long index;

	xa_for_each(&snap->store, index, page)
		__free_page(page);
	xa_destroy(&snap->store);
}

/* Keep a copy of @data as the snapshot's block @block. */
static int store_copy(struct ext3snap_snap *snap, ext4_fsblk_t block,
		      const void *data)
{
	struct page *page;
	int err;

	page = alloc_page(GFP_NOFS);
	if (!page)
		return -ENOMEM;
	memcpy(page_address(page), data, snap->sb->s_blocksize);
	err = xa_err(xa_store(&snap->store, block, page, GFP_NOFS));
	if (err) {
		__free_page(page);
		return err;
	}
	atomic_long_inc(&snap->stored);
	return 0;
}

/* Lock-free answer when the group is loaded: does @off need saving? */
static bool may_need_save(struct ext3snap_group *grp, ext4_grpblk_t off)
{
	/* Pairs with the release in load_group(): bits are complete. */
	unsigned long *cow = smp_load_acquire(&grp->cow);

	if (!cow)
		return true;
	return test_bit(off, cow) && !test_bit(off, grp->saved);
}

void ext3snap_cow_metadata(handle_t *handle, struct super_block *sb,
			   struct buffer_head *bh)
{
	struct ext3snap_snap *snap = ext3snap_active_get(sb);
	struct ext3snap_group *grp;
	ext4_fsblk_t block = bh->b_blocknr;
	ext4_grpblk_t off;
	ext4_group_t g;
	int err = 0;

	if (!snap)
		return;
	if (READ_ONCE(snap->state) != EXT3SNAP_ACTIVE ||
	    block >= ext4_blocks_count(EXT4_SB(sb)->s_es))
		goto out;
	ext4_get_group_no_and_offset(sb, block, &g, &off);
	grp = &snap->groups[g];
	if (!may_need_save(grp, off))
		goto out;

	down_write(&grp->lock);
	if (!grp->cow)
		err = load_group(snap, g, grp);
	if (!err && test_bit(off, grp->cow) && !test_bit(off, grp->saved)) {
		err = store_copy(snap, block, bh->b_data);
		if (!err)
			set_bit(off, grp->saved);
	}
	up_write(&grp->lock);
	if (err)
		ext3snap_snap_break(snap, "cannot save a metadata block", err);
out:
	ext3snap_snap_put(snap);
}
