// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: per-filesystem state and the life of a snapshot in memory.
 */
#define pr_fmt(fmt) "ext3snap: " fmt

#include <linux/rcupdate.h>
#include <linux/slab.h>
#include "internal.h"
#include "hooks.h"

int ext3snap_mount(struct super_block *sb)
{
	struct ext3snap_fs *fs;

	fs = kzalloc(sizeof(*fs), GFP_KERNEL);
	if (!fs)
		return -ENOMEM;
	fs->sb = sb;
	mutex_init(&fs->lock);
	EXT4_SB(sb)->s_ext3snap = fs;
	return 0;
}

void ext3snap_umount(struct super_block *sb)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);
	struct ext3snap_snap *snap;

	if (!fs)
		return;
	snap = rcu_replace_pointer(fs->active, NULL, true);
	if (snap) {
		synchronize_rcu();
		ext3snap_snap_put(snap);
	}
	EXT4_SB(sb)->s_ext3snap = NULL;
	kfree(fs);
}

struct ext3snap_snap *ext3snap_snap_alloc(struct super_block *sb, u32 id,
					  unsigned long ino)
{
	struct ext3snap_snap *snap;
	ext4_group_t g;

	snap = kzalloc(sizeof(*snap), GFP_KERNEL);
	if (!snap)
		return NULL;
	snap->ngroups = ext4_get_groups_count(sb);
	snap->groups = kvcalloc(snap->ngroups, sizeof(*snap->groups),
				GFP_KERNEL);
	if (!snap->groups) {
		kfree(snap);
		return NULL;
	}
	for (g = 0; g < snap->ngroups; g++)
		init_rwsem(&snap->groups[g].lock);
	refcount_set(&snap->ref, 1);
	snap->sb = sb;
	snap->id = id;
	snap->ino = ino;
	snap->state = EXT3SNAP_ACTIVE;
	xa_init(&snap->store);
	return snap;
}

/* The snapshot receiving copies, with a reference; NULL if none. */
struct ext3snap_snap *ext3snap_active_get(struct super_block *sb)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);
	struct ext3snap_snap *snap;

	if (!fs)
		return NULL;
	rcu_read_lock();
	snap = rcu_dereference(fs->active);
	if (snap && !refcount_inc_not_zero(&snap->ref))
		snap = NULL;
	rcu_read_unlock();
	return snap;
}

void ext3snap_snap_put(struct ext3snap_snap *snap)
{
	if (!refcount_dec_and_test(&snap->ref))
		return;
	ext3snap_free_store(snap);
	ext3snap_free_groups(snap);
	kfree(snap);
}

/*
 * A snapshot that missed a copy is wrong from then on. Say so once, stop
 * copying into it, and let the origin carry on: the origin's writes never
 * fail because of a snapshot.
 */
void ext3snap_snap_break(struct ext3snap_snap *snap, const char *why, int err)
{
	if (xchg(&snap->state, EXT3SNAP_BROKEN) == EXT3SNAP_BROKEN)
		return;
	pr_err("%s: snapshot %u is broken: %s (error %d); delete it and take a new one\n",
	       snap->sb->s_id, snap->id, why, err);
}
