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
#include "../ext4/xattr.h"
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
	/* Taken since the mount: blocks the image leaves out (exclude.c). */
	unsigned long *exclude;
};

/*
 * A saved block lives in one of three places. Until the flusher has put it
 * into the snapshot file it has an entry in the store: a page holding a
 * copy, or a value entry for a block freed by the origin and handed over
 * as it is (its contents stay where they are). Without an entry it is in
 * the snapshot file, at logical block = its physical block at the instant.
 *
 * An entry carries EXT3SNAP_UNJOURNALED until the before-image journal
 * holds it (bij.c). Until then a move's value is the jbd2 transaction that
 * freed the block; after, a copy's page_private() and a move's value are
 * the sequence number of its journal record.
 */
#define EXT3SNAP_UNJOURNALED	XA_MARK_0

/*
 * A copy read from the disk may be in the store before its contents: its
 * page stays locked until the read ends (see save_disk_run() in cow.c),
 * and this page_private() says the read failed.
 */
#define EXT3SNAP_COPY_FAILED	(~0UL)

/* Share of the journal ring an entry reserves (see bij.c). */
#define EXT3SNAP_COPY_UNITS	(EXT3SNAP_BIJ_PER_DESC + 1)
#define EXT3SNAP_MOVE_UNITS	1

/* A journal record not yet reclaimed. */
struct ext3snap_bij_rec {
	u64 seq;
	u32 pos;
	u32 nblocks;
	long units;			/* reservations it gives back */
	u32 left;			/* its entries not yet in the file */
	bool linked;			/* @tid is meaningful */
	tid_t tid;			/* newest transaction that linked one */
};

/* The before-image journal of a snapshot: see bij.c. */
struct ext3snap_bij {
	struct mutex lock;		/* writing, reclaiming */
	bool ready;			/* records may be written */
	u32 len;			/* blocks, header included */
	ext4_fsblk_t *map;		/* physical block of each position */
	u32 flags;			/* EXT3SNAP_BIJ_* as on disk */
	u32 head_pos;			/* where the next record goes */
	u64 head_seq;
	u32 tail_pos;			/* as in the header on disk */
	u64 tail_seq;
	struct ext3snap_bij_rec *recs;	/* ring of live records */
	u32 recs_cap;
	u32 recs_first;
	u32 nrecs;
	atomic_long_t reserved;		/* units held by entries */
	long capacity;			/* units the ring can hold */
	long soft;			/* writers without a handle wait above */
	void *build;			/* records being written (bij.c) */
	tid_t first_uncommitted;	/* at mount: moves before it count */
	bool ring_left;			/* sealed, ring not freed yet */
	bool stopped;			/* ext3snap_bij_stop() was called */
};

/* A run of journal blocks: written by jbd2 behind every hook's back. */
struct ext3snap_extent {
	ext4_fsblk_t start;
	ext4_fsblk_t len;
};

/*
 * A snapshot. Only the newest (fs->active) receives copies; an older one
 * reads what it did not save through the newer ones (see read.c).
 */
struct ext3snap_snap {
	refcount_t ref;
	struct super_block *sb;
	u32 id;
	/* ACTIVE while correct and followed, whether newest or not. */
	int state;			/* enum ext3snap_snap_state */
	bool deleting;			/* being removed: copies are moot */
	bool deleted;			/* EXT3SNAP_X_DELETING: kept as a layer */
	bool undone;			/* its take failed after the instant */
	bool legacy;			/* its file has no list entry yet */
	bool exclude_in_memory;		/* groups' @exclude is its map */
	struct list_head list;		/* in fs->snaps, under fs->lock */
	/* The next newer snapshot: set once, at its instant (a reference). */
	struct ext3snap_snap *newer;
	u64 time;			/* taken at (seconds) */
	u32 parent, parent_gen;		/* directory it was taken in */
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
	struct ext3snap_bij bij;
	atomic_long_t pending;		/* copies in the store (pages) */
	atomic_long_t pending_moves;	/* moved blocks not yet mapped */
	atomic_long_t unclaimed;	/* copies whose block is not claimed */
	bool freeing;			/* broken to make room, being freed */
	struct work_struct free_work;	/* frees it (ext3snap_make_room()) */
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
	struct list_head snaps;		/* followed snapshots, newest first */
	spinlock_t list_lock;		/* changes to @snaps, besides @lock */
	bool list_damaged;		/* the on-disk list was cut short */
	struct delayed_work tidy_work;	/* ext3snap_tidy() after mount */
};

/* Bounds the walk of a damaged on-disk list; not a table size. */
#define EXT3SNAP_MAX_SNAPSHOTS	65536

static inline struct ext3snap_fs *EXT3SNAP_FS(struct super_block *sb)
{
	return EXT4_SB(sb)->s_ext3snap;
}

/* The active snapshot (or NULL), for a caller holding @fs->lock. */
static inline struct ext3snap_snap *ext3snap_active_locked(struct ext3snap_fs *fs)
{
	return rcu_dereference_protected(fs->active,
					 lockdep_is_held(&fs->lock));
}

/* The snapshot held in @inode, or NULL: under @fs->lock. */
static inline struct ext3snap_snap *
ext3snap_find(struct ext3snap_fs *fs, struct inode *inode)
{
	struct ext3snap_snap *snap;

	list_for_each_entry(snap, &fs->snaps, list)
		if (snap->inode == inode)
			return snap;
	return NULL;
}

static inline bool ext3snap_is_snapfile(struct inode *inode)
{
	return EXT4_I(inode)->i_flags & EXT3SNAP_SNAPFILE_FL;
}

/* blockio.c */
int ext3snap_bio_rw(struct super_block *sb, blk_opf_t op, ext4_fsblk_t block,
		    struct page *page, unsigned int offset);

/* snap.c */
struct ext3snap_snap *ext3snap_snap_alloc(struct super_block *sb, u32 id);
void ext3snap_snap_put(struct ext3snap_snap *snap);
void ext3snap_snap_break(struct ext3snap_snap *snap, const char *why,
			 int err);
void ext3snap_deactivate(struct ext3snap_fs *fs, struct ext3snap_snap *snap);
void ext3snap_release(struct ext3snap_snap *snap);
void ext3snap_forget(struct ext3snap_fs *fs, struct ext3snap_snap *snap);
void ext3snap_list_del(struct ext3snap_fs *fs, struct ext3snap_snap *snap);
bool ext3snap_make_room(struct ext3snap_snap *snap);
u32 ext3snap_user_state(struct ext3snap_fs *fs, struct ext3snap_snap *snap);
int ext3snap_read_xattr(struct inode *inode, struct ext3snap_xattr *x);
int ext3snap_write_xattr(handle_t *handle, struct ext3snap_snap *snap,
			 struct inode *inode, u32 prev);

/* cow.c */
int ext3snap_load_group(struct ext3snap_snap *snap, ext4_group_t g);
int ext3snap_save(struct ext3snap_snap *snap, ext4_fsblk_t block,
		  const void *data);
int ext3snap_copy_wait(struct page *copy);
void ext3snap_free_groups(struct ext3snap_snap *snap);
void ext3snap_drop_store(struct ext3snap_snap *snap);
void ext3snap_forgive(struct ext3snap_snap *snap);
bool ext3snap_needs(struct ext3snap_snap *snap, ext4_fsblk_t block);
void ext3snap_hand_back(struct ext3snap_snap *snap, struct ext3snap_snap *old);

/* bij.c */
void ext3snap_bij_init(struct ext3snap_snap *snap);
void ext3snap_bij_free(struct ext3snap_snap *snap);
int ext3snap_bij_create(struct ext3snap_snap *snap, struct inode *inode);
void ext3snap_bij_arm(struct ext3snap_snap *snap, handle_t *handle,
		      struct inode *inode);
u32 ext3snap_bij_len(struct super_block *sb, struct ext3snap_snap *snap);
int ext3snap_bij_load(struct ext3snap_snap *snap);
int ext3snap_bij_reserve(struct ext3snap_snap *snap, long units);
int ext3snap_bij_sync(struct ext3snap_snap *snap);
void ext3snap_bij_stop(struct ext3snap_snap *snap);
void ext3snap_bij_linked(struct ext3snap_snap *snap, u64 seq, tid_t tid);
int ext3snap_bij_reclaim(struct ext3snap_snap *snap);
void ext3snap_bij_set_broken(struct ext3snap_snap *snap);
bool ext3snap_bij_sealed(struct ext3snap_snap *snap);
int ext3snap_bij_seal(struct ext3snap_snap *snap);
bool ext3snap_bij_low(struct ext3snap_snap *snap);

/* read.c */
int ext3snap_read_through(struct ext3snap_snap *snap, ext4_fsblk_t block,
			  struct page *page, unsigned int offset);

/* flush.c */
void ext3snap_flush_worker(struct work_struct *work);
int ext3snap_flush(struct ext3snap_snap *snap);
void ext3snap_kick(struct ext3snap_snap *snap);
void ext3snap_throttle(struct ext3snap_snap *snap);
ext4_fsblk_t ext3snap_map_lookup(struct inode *inode, ext4_lblk_t lblk);
int ext3snap_punch(struct inode *inode, ext4_lblk_t first, ext4_lblk_t end);
void ext3snap_trim(struct ext3snap_snap *snap, struct ext3snap_snap *older);
int ext3snap_map_range(struct inode *inode, ext4_lblk_t first,
		       unsigned int count, unsigned long *bitmap);
typedef int (*ext3snap_walk_fn)(void *arg, ext4_lblk_t lblk,
				ext4_fsblk_t pblk);
int ext3snap_map_walk(struct inode *inode, ext3snap_walk_fn fn, void *arg);

/* exclude.c */
ext4_lblk_t ext3snap_exclude_len(struct ext3snap_snap *snap);
int ext3snap_exclude_collect(struct ext3snap_fs *fs,
			     struct ext3snap_snap *snap);
int ext3snap_exclude_moves(struct ext3snap_snap *snap,
			   struct ext3snap_snap *old);
int ext3snap_exclude_write(struct ext3snap_snap *snap, struct inode *inode);
int ext3snap_exclude_apply(struct ext3snap_snap *snap, ext4_group_t g,
			   unsigned long *cow);
void ext3snap_exclude_free(struct ext3snap_snap *snap);

/* take.c */
int ext3snap_find_journal(struct ext3snap_snap *snap);
long ext3snap_take(struct file *dirf, void __user *arg);
long ext3snap_delete(struct file *dirf, void __user *arg);
long ext3snap_stat(struct file *filp, void __user *arg);
void ext3snap_tidy(struct ext3snap_fs *fs);

#endif /* _EXT3SNAP_INTERNAL_H */
