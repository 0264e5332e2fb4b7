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
#include <linux/xarray.h>
#include "../ext4/ext4.h"

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

enum ext3snap_state {
	EXT3SNAP_ACTIVE,	/* receiving copies */
	EXT3SNAP_BROKEN,	/* a copy was lost: not to be trusted */
};

struct ext3snap_snap {
	refcount_t ref;
	struct super_block *sb;
	u32 id;
	unsigned long ino;
	enum ext3snap_state state;
	ext4_group_t ngroups;
	struct ext3snap_group *groups;
	/* Saved blocks not yet written to the snapshot file: block -> page */
	struct xarray store;
	atomic_long_t stored;
};

/* Per mounted filesystem, hung off ext4_sb_info. */
struct ext3snap_fs {
	struct super_block *sb;
	struct mutex lock;		/* serialises take and delete */
	struct ext3snap_snap __rcu *active;
};

static inline struct ext3snap_fs *EXT3SNAP_FS(struct super_block *sb)
{
	return EXT4_SB(sb)->s_ext3snap;
}

/* snap.c */
struct ext3snap_snap *ext3snap_snap_alloc(struct super_block *sb, u32 id,
					  unsigned long ino);
struct ext3snap_snap *ext3snap_active_get(struct super_block *sb);
void ext3snap_snap_put(struct ext3snap_snap *snap);
void ext3snap_snap_break(struct ext3snap_snap *snap, const char *why,
			 int err);

/* cow.c */
void ext3snap_free_groups(struct ext3snap_snap *snap);
void ext3snap_free_store(struct ext3snap_snap *snap);

#endif /* _EXT3SNAP_INTERNAL_H */
