// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: what a new snapshot's image leaves out.
 *
 * An image shows the older snapshot files inside it with their indirect
 * blocks, so that e2fsck finds it consistent, but every data block of
 * every snapshot file reads as zeroes. Those blocks are not the image's
 * business, and they change after its instant: an older snapshot's
 * before-image ring is rewritten and then given back, a deleted
 * snapshot's blocks are freed and reused. Shown through the origin, they
 * made the image change under its readers, and after a mount they showed
 * whatever the origin had written there since.
 *
 * So a take collects them, the new snapshot's exclude map: the data
 * blocks of every snapshot file, and the blocks moved to the newest that
 * are not linked into its file yet. A group load (cow.c) takes them out of
 * the snapshot-time bitmap, as if they had been free at the instant: they
 * read as zeroes and are never saved. The map is kept in the snapshot
 * file past the before-image ring, one block per group that has any
 * (EXT3SNAP_BIJ_EXCLUDE in the ring's header says the region is there),
 * and is on disk before the take commits: every mount loads the same
 * bitmaps, and so shows the same image.
 *
 * The files are walked before the freeze (a walk reads indirect blocks),
 * and the newest's store once more while frozen; a block moved and linked
 * between the two is missed. A missed block is shown as it was at the
 * instant, and kept for the snapshot when it is freed (cow.c keeps any
 * freed block an image shows): the image stays exact, and only that
 * block's space waits for the snapshot to go. Snapshots taken before
 * exclude maps existed keep the blocks of older snapshots the same way.
 *
 * This file calls the tree walk and the block I/O helpers only.
 */
#include <linux/slab.h>
#include "internal.h"

/* The region's first logical block in the snapshot file. */
static ext4_lblk_t region(struct ext3snap_snap *snap)
{
	return snap->blocks + ext3snap_bij_len(snap->sb, snap);
}

/* Blocks of the region: one per group of the image. */
ext4_lblk_t ext3snap_exclude_len(struct ext3snap_snap *snap)
{
	if (!(snap->bij.flags & EXT3SNAP_BIJ_EXCLUDE))
		return 0;
	return snap->ngroups;
}

static int add_block(void *arg, ext4_lblk_t lblk, ext4_fsblk_t pblk)
{
	struct ext3snap_snap *snap = arg;
	struct ext3snap_group *grp;
	ext4_grpblk_t off;
	ext4_group_t g;

	if (pblk >= snap->blocks)
		return 0;	/* not in the image (a bad map is fsck's) */
	ext4_get_group_no_and_offset(snap->sb, pblk, &g, &off);
	grp = &snap->groups[g];
	if (!grp->exclude) {
		/* NOFS: the last call runs while the filesystem is frozen. */
		grp->exclude = kzalloc(snap->sb->s_blocksize, GFP_NOFS);
		if (!grp->exclude)
			return -ENOMEM;
	}
	set_bit(off, grp->exclude);
	return 0;
}

/* Blocks moved to @s and waiting in its store: its file's, to be. */
static int add_moves(struct ext3snap_snap *snap, struct ext3snap_snap *s)
{
	unsigned long index;
	void *entry;
	int err = 0;

	xa_for_each(&s->store, index, entry) {
		if (xa_is_value(entry))
			err = add_block(snap, 0, index);
		if (err)
			break;
	}
	return err;
}

/*
 * Before the instant, under fs->lock (no take, delete or trim meanwhile):
 * collect the exclude map of @snap from every snapshot file there is.
 */
int ext3snap_exclude_collect(struct ext3snap_fs *fs, struct ext3snap_snap *snap)
{
	struct ext3snap_snap *s;
	int err = 0;

	list_for_each_entry(s, &fs->snaps, list) {
		if (!s->inode)
			continue;
		/* No ring given back, no layer punched, nothing linked
		 * while its tree and its store are read.
		 */
		mutex_lock(&s->flush_lock);
		err = ext3snap_map_walk(s->inode, add_block, snap);
		if (!err)
			err = add_moves(snap, s);
		mutex_unlock(&s->flush_lock);
		if (err)
			break;
	}
	if (err)
		ext3snap_exclude_free(snap);
	else
		snap->bij.flags |= EXT3SNAP_BIJ_EXCLUDE;
	snap->exclude_in_memory = !err;
	return err;
}

/* Frozen, at the instant: what moved to @old since the walk. */
int ext3snap_exclude_moves(struct ext3snap_snap *snap, struct ext3snap_snap *old)
{
	if (!old || !snap->exclude_in_memory)
		return 0;
	return add_moves(snap, old);
}

/* Exclude maps mapped per transaction. */
#define MAP_CHUNK	64

/*
 * Write the map into @inode, the new snapshot file, before its ring's
 * header: the header's write flushes the cache, so both are on disk when
 * the take commits.
 */
int ext3snap_exclude_write(struct ext3snap_snap *snap, struct inode *inode)
{
	struct super_block *sb = snap->sb;
	struct ext4_map_blocks map;
	struct page *page;
	handle_t *handle;
	ext4_group_t g = 0, end;
	int err = 0;

	if (!snap->exclude_in_memory)
		return 0;
	page = alloc_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	while (g < snap->ngroups && !err) {
		end = min_t(ext4_group_t, snap->ngroups, g + MAP_CHUNK);
		handle = ext4_journal_start(inode, EXT4_HT_MAP_BLOCKS,
					    ext4_chunk_trans_blocks(inode,
								    MAP_CHUNK));
		if (IS_ERR(handle)) {
			err = PTR_ERR(handle);
			break;
		}
		for (; g < end && !err; g++) {
			if (!snap->groups[g].exclude)
				continue;
			map.m_lblk = region(snap) + g;
			map.m_len = 1;
			err = ext4_map_blocks(handle, inode, &map,
					      EXT4_GET_BLOCKS_CREATE);
			if (err == 0)
				err = -EIO;
			if (err < 0)
				break;
			err = 0;
			clean_bdev_aliases(sb->s_bdev, map.m_pblk, 1);
			memcpy(page_address(page), snap->groups[g].exclude,
			       sb->s_blocksize);
			err = ext3snap_bio_rw(sb, REQ_OP_WRITE, map.m_pblk,
					      page, 0);
		}
		ext4_journal_stop(handle);
	}
	__free_page(page);
	return err;
}

/*
 * Take @snap's excluded blocks of group @g out of @cow, its snapshot-time
 * bitmap being loaded (cow.c; no lock held). A snapshot taken since the
 * mount has its map in memory; one loaded at mount reads it from its file.
 */
int ext3snap_exclude_apply(struct ext3snap_snap *snap, ext4_group_t g,
			   unsigned long *cow)
{
	unsigned int nbits = snap->sb->s_blocksize * BITS_PER_BYTE;
	struct ext3snap_group *grp = &snap->groups[g];
	struct inode *inode;
	ext4_fsblk_t where;
	struct page *page;
	int err;

	if (!(snap->bij.flags & EXT3SNAP_BIJ_EXCLUDE))
		return 0;
	if (snap->exclude_in_memory) {
		if (grp->exclude)
			bitmap_andnot(cow, cow, grp->exclude, nbits);
		return 0;
	}
	inode = snap->inode;
	where = inode ? ext3snap_map_lookup(inode, region(snap) + g) : 0;
	if (!where)
		return 0;
	page = alloc_page(GFP_NOFS);
	if (!page)
		return -ENOMEM;
	err = ext3snap_bio_rw(snap->sb, REQ_OP_READ, where, page, 0);
	if (!err)
		bitmap_andnot(cow, cow, page_address(page), nbits);
	__free_page(page);
	return err;
}

void ext3snap_exclude_free(struct ext3snap_snap *snap)
{
	ext4_group_t g;

	for (g = 0; g < snap->ngroups; g++) {
		kfree(snap->groups[g].exclude);
		snap->groups[g].exclude = NULL;
	}
}
