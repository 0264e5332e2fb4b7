/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ext3snap: internal structures of the snapshot engine.
 *
 * See Documentation/design.md, "Core plan", for why things are this way.
 */
#ifndef _EXT3SNAP_INTERNAL_H
#define _EXT3SNAP_INTERNAL_H

#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/refcount.h>
#include <linux/srcu.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include "../ext4/ext4.h"
#include "../ext4/ext4_jbd2.h"
#include "ext3snap.h"

/*
 * Per block group, filled on first use:
 * @lock: held for write while a block of the group is being saved, for
 *	read by snapshot readers, so a reader never sees a block change
 *	between "not saved" and reading the origin
 * @cow: the group's block bitmap as it was at the snapshot instant;
 *	immutable once published
 * @saved: blocks whose snapshot-time contents are already saved
 */
struct ext3snap_group {
	struct rw_semaphore lock;
	unsigned long *cow;
	unsigned long *saved;
};

/*
 * A saved block lives in one of three places. Until the flusher has put it
 * into the snapshot file it has an entry in the store: a page holding a
 * copy, or EXT3SNAP_MOVED for a block freed by the origin and handed over
 * as it is (its contents stay where they are). Without an entry it is in
 * the snapshot file, at logical block = its physical block at the instant.
 */
#define EXT3SNAP_MOVED	xa_mk_value(1)

/* A run of journal blocks: written by jbd2 behind every hook's back. */
struct ext3snap_extent {
	ext4_fsblk_t start;
	ext4_fsblk_t len;
};

struct ext3snap_snap {
	refcount_t ref;
	struct super_block *sb;
	u32 id;
	int state;			/* enum ext3snap_snap_state */
	bool deleting;
	/* The snapshot file; NULL until created, and moves wait for it. */
	struct inode *inode;
	ext4_fsblk_t blocks;		/* filesystem size at the instant */
	ext4_group_t ngroups;
	struct ext3snap_group *groups;
	/* Journal blocks other than its superblock: read back as zeroes. */
	struct ext3snap_extent *journal;
	unsigned int njournal;
	ext4_fsblk_t journal_sb;

	struct xarray store;
	atomic_long_t pending;		/* copies in the store (pages) */
	atomic_long_t pending_moves;	/* moved blocks not yet mapped */
	atomic_long_t copied;
	atomic_long_t moved;
	atomic_t bound;			/* ssdev readers */

	struct mutex flush_lock;	/* one flusher at a time */
	struct delayed_work flush_work;
	wait_queue_head_t drained;	/* writers waiting for the store */
};

/* Per mounted filesystem, hung off ext4_sb_info. */
struct ext3snap_fs {
	struct super_block *sb;
	struct mutex lock;		/* serialises take, delete, bind */
	/* Hooks read @active under @srcu: they may sleep while saving. */
	struct srcu_struct srcu;
	struct ext3snap_snap __rcu *active;
};

static inline struct ext3snap_fs *EXT3SNAP_FS(struct super_block *sb)
{
	return EXT4_SB(sb)->s_ext3snap;
}

static inline bool ext3snap_is_snapfile(struct inode *inode)
{
	return EXT4_I(inode)->i_flags & EXT3SNAP_SNAPFILE_FL;
}

/* snap.c */
struct ext3snap_snap *ext3snap_snap_alloc(struct super_block *sb, u32 id);
void ext3snap_snap_put(struct ext3snap_snap *snap);
void ext3snap_snap_break(struct ext3snap_snap *snap, const char *why,
			 int err);
void ext3snap_deactivate(struct ext3snap_fs *fs, struct ext3snap_snap *snap);
void ext3snap_release(struct ext3snap_snap *snap);

/* cow.c */
int ext3snap_load_group(struct ext3snap_snap *snap, ext4_group_t g);
int ext3snap_save(struct ext3snap_snap *snap, ext4_fsblk_t block,
		  const void *data);
void ext3snap_free_groups(struct ext3snap_snap *snap);
void ext3snap_drop_store(struct ext3snap_snap *snap);
int ext3snap_bio_rw(struct super_block *sb, blk_opf_t op, ext4_fsblk_t block,
		    struct page *page, unsigned int offset);

/* flush.c */
void ext3snap_flush_worker(struct work_struct *work);
int ext3snap_flush(struct ext3snap_snap *snap);
void ext3snap_kick(struct ext3snap_snap *snap);
void ext3snap_throttle(struct ext3snap_snap *snap);
ext4_fsblk_t ext3snap_map_lookup(struct inode *inode, ext4_lblk_t lblk);

/* take.c */
long ext3snap_take(struct file *dirf, void __user *arg);
long ext3snap_delete(struct file *dirf, void __user *arg);
long ext3snap_stat(struct file *filp, void __user *arg);

#endif /* _EXT3SNAP_INTERNAL_H */
