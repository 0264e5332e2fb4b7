// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: per-filesystem state and the life of a snapshot in memory.
 */
#define pr_fmt(fmt) "ext3snap: " fmt

#include <linux/rcupdate.h>
#include <linux/slab.h>
#include "internal.h"
#include "hooks.h"

/*
 * Follow the snapshot the superblock names, from its last state on disk:
 * what the before-image journal holds goes back into the store. A
 * snapshot that cannot be followed is broken; the origin mounts anyway.
 */
static int load_snapshot(struct ext3snap_fs *fs)
{
	struct super_block *sb = fs->sb;
	struct ext4_super_block *es = EXT4_SB(sb)->s_es;
	unsigned long ino = le32_to_cpu(es->s_snapshot_inum);
	struct ext3snap_snap *snap;
	struct inode *inode;
	int err;

	if (!ino)
		return 0;
	inode = ext4_iget(sb, ino, EXT4_IGET_NORMAL);
	if (IS_ERR(inode) || !S_ISREG(inode->i_mode) ||
	    !ext3snap_is_snapfile(inode)) {
		pr_err("%s: the snapshot file (inode %lu) is missing or damaged; run fsck.ext3snap\n",
		       sb->s_id, ino);
		if (!IS_ERR(inode))
			iput(inode);
		return 0;
	}
	snap = ext3snap_snap_alloc(sb, le32_to_cpu(es->s_snapshot_id));
	if (!snap) {
		iput(inode);
		return -ENOMEM;
	}
	/* As at the take: no writer ever (see take.c). */
	if (!atomic_dec_unless_positive(&inode->i_writecount)) {
		iput(inode);
		ext3snap_snap_put(snap);
		return -ETXTBSY;
	}
	snap->inode = inode;
	err = ext3snap_find_journal(snap);
	if (!err)
		err = ext4_inode_attach_jinode(inode);
	if (!err)
		err = ext3snap_bij_load(snap);
	if (err == -ESTALE) {
		snap->state = EXT3SNAP_STATE_BROKEN;
		pr_warn("%s: snapshot %u is broken; delete it and take a new one\n",
			sb->s_id, snap->id);
	} else if (err) {
		ext3snap_snap_break(snap, "cannot read its before-image journal",
				    err);
	}
	rcu_assign_pointer(fs->active, snap);
	ext3snap_kick(snap);
	return 0;
}

int ext3snap_mount(struct super_block *sb)
{
	struct ext3snap_fs *fs;
	int err;

	fs = kzalloc(sizeof(*fs), GFP_KERNEL);
	if (!fs)
		return -ENOMEM;
	err = init_srcu_struct(&fs->srcu);
	if (err) {
		kfree(fs);
		return err;
	}
	fs->sb = sb;
	mutex_init(&fs->lock);
	EXT4_SB(sb)->s_ext3snap = fs;
	return load_snapshot(fs);
}

/*
 * Stop following the active snapshot: write out what is pending so the
 * snapshot file is complete on disk, then forget it in memory. The next
 * mount follows it again (load_snapshot()).
 */
static void put_active(struct super_block *sb)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);
	struct ext3snap_snap *snap;

	if (!fs)
		return;
	mutex_lock(&fs->lock);
	snap = ext3snap_active_locked(fs);
	if (snap) {
		ext3snap_deactivate(fs, snap);
		ext3snap_release(snap);
		ext3snap_snap_put(snap);
	}
	mutex_unlock(&fs->lock);
}

void ext3snap_kill_sb(struct super_block *sb)
{
	/* Before generic_shutdown_super(): handles still work, and the
	 * snapshot inode must be let go before inodes are evicted.
	 */
	if (sb->s_fs_info && !sb_rdonly(sb))
		put_active(sb);
	kill_block_super(sb);
}

/*
 * Read-only from now on: write out what is pending while handles can
 * still be started. The snapshot stays followed (ssdev may be reading it),
 * so a later read-write remount goes on saving into it.
 */
void ext3snap_remount_ro(struct super_block *sb)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);
	struct ext3snap_snap *snap;

	if (!fs)
		return;
	mutex_lock(&fs->lock);
	snap = ext3snap_active_locked(fs);
	if (snap && snap->inode)
		ext3snap_flush(snap);	/* breaks the snapshot on failure */
	mutex_unlock(&fs->lock);
}

void ext3snap_umount(struct super_block *sb)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);
	struct ext3snap_snap *snap;

	if (!fs)
		return;
	/* Only a read-only umount can still have one: nothing to write. */
	snap = rcu_replace_pointer(fs->active, NULL, true);
	if (snap) {
		synchronize_srcu(&fs->srcu);
		ext3snap_release(snap);
		ext3snap_snap_put(snap);
	}
	cleanup_srcu_struct(&fs->srcu);
	EXT4_SB(sb)->s_ext3snap = NULL;
	kfree(fs);
}

struct ext3snap_snap *ext3snap_snap_alloc(struct super_block *sb, u32 id)
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
	snap->state = EXT3SNAP_STATE_ACTIVE;
	snap->blocks = ext4_blocks_count(EXT4_SB(sb)->s_es);
	xa_init(&snap->store);
	ext3snap_bij_init(snap);
	mutex_init(&snap->flush_lock);
	INIT_DELAYED_WORK(&snap->flush_work, ext3snap_flush_worker);
	init_waitqueue_head(&snap->drained);
	return snap;
}

void ext3snap_snap_put(struct ext3snap_snap *snap)
{
	if (!refcount_dec_and_test(&snap->ref))
		return;
	ext3snap_drop_store(snap);
	ext3snap_free_groups(snap);
	ext3snap_bij_free(snap);
	kfree(snap->journal);
	kfree(snap);
}

/*
 * Unpublish @snap: once this returns no hook is using it and none will.
 * Caller holds fs->lock.
 */
void ext3snap_deactivate(struct ext3snap_fs *fs, struct ext3snap_snap *snap)
{
	rcu_assign_pointer(fs->active, NULL);
	synchronize_srcu(&fs->srcu);
	cancel_delayed_work_sync(&snap->flush_work);
	wake_up_all(&snap->drained);
}

/*
 * Write out what the store holds, then let the snapshot inode go. A
 * snapshot that cannot be written out is broken, but moved blocks are
 * still put into its file where possible, so they are not lost.
 */
void ext3snap_release(struct ext3snap_snap *snap)
{
	int err;

	if (snap->inode && !sb_rdonly(snap->sb)) {
		err = ext3snap_flush(snap);
		if (err)
			ext3snap_snap_break(snap, "cannot write out copies", err);
	}
	/* Readers, if any were left, get EIO rather than a stale image. */
	cmpxchg(&snap->state, EXT3SNAP_STATE_ACTIVE, EXT3SNAP_STATE_INACTIVE);
	ext3snap_drop_store(snap);
	if (snap->inode) {
		/* Writers were denied since the take (see take.c). */
		atomic_inc(&snap->inode->i_writecount);
		iput(snap->inode);
		snap->inode = NULL;
	}
}

/*
 * A snapshot that missed a copy is wrong from then on. Say so once, stop
 * copying into it, and let the origin carry on: the origin's writes never
 * fail because of a snapshot.
 */
void ext3snap_snap_break(struct ext3snap_snap *snap, const char *why, int err)
{
	if (xchg(&snap->state, EXT3SNAP_STATE_BROKEN) == EXT3SNAP_STATE_BROKEN)
		return;
	pr_err("%s: snapshot %u is broken: %s (error %d); delete it and take a new one\n",
	       snap->sb->s_id, snap->id, why, err);
	/* So that it is still known broken after the next mount. */
	ext3snap_bij_set_broken(snap);
	wake_up_all(&snap->drained);
}
