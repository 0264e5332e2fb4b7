// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: per-filesystem state and the life of a snapshot in memory.
 */
#define pr_fmt(fmt) "ext3snap: " fmt

#include <linux/rcupdate.h>
#include <linux/slab.h>
#include "internal.h"
#include "hooks.h"

static void free_worker(struct work_struct *work);

int ext3snap_read_xattr(struct inode *inode, struct ext3snap_xattr *x)
{
	int ret;

	ret = ext4_xattr_get(inode, EXT4_XATTR_INDEX_TRUSTED,
			     EXT3SNAP_XATTR_NAME, x, sizeof(*x));
	if (ret < 0)
		return ret;
	if (ret != sizeof(*x) || le32_to_cpu(x->x_magic) != EXT3SNAP_XATTR_MAGIC)
		return -EUCLEAN;
	return 0;
}

/* Describe @snap in its file's xattr, @prev being the next older file. */
int ext3snap_write_xattr(handle_t *handle, struct ext3snap_snap *snap,
			 struct inode *inode, u32 prev)
{
	struct ext3snap_xattr x = {
		.x_magic = cpu_to_le32(EXT3SNAP_XATTR_MAGIC),
		.x_id = cpu_to_le32(snap->id),
		.x_prev = cpu_to_le32(prev),
		.x_flags = cpu_to_le32(snap->deleted ? EXT3SNAP_X_DELETING : 0),
		.x_time = cpu_to_le64(snap->time),
		.x_parent = cpu_to_le32(snap->parent),
		.x_parent_gen = cpu_to_le32(snap->parent_gen),
	};

	return ext4_xattr_set_handle(handle, inode, EXT4_XATTR_INDEX_TRUSTED,
				     EXT3SNAP_XATTR_NAME, &x, sizeof(x), 0);
}

/*
 * Follow snapshot file @ino from its last state on disk: what its
 * before-image journal holds goes back into the store. Returns the next
 * older file in @prev. A snapshot that cannot be followed is broken; the
 * origin mounts anyway.
 */
static struct ext3snap_snap *load_one(struct ext3snap_fs *fs,
				      unsigned long ino, u32 *prev)
{
	struct super_block *sb = fs->sb;
	struct ext4_super_block *es = EXT4_SB(sb)->s_es;
	struct ext3snap_snap *snap;
	struct ext3snap_xattr x;
	struct inode *inode;
	bool legacy = false;
	int err;

	*prev = 0;
	inode = ext4_iget(sb, ino, EXT4_IGET_NORMAL);
	if (IS_ERR(inode) || !S_ISREG(inode->i_mode) ||
	    !ext3snap_is_snapfile(inode)) {
		pr_err("%s: the snapshot file (inode %lu) is missing or damaged; run fsck.ext3snap\n",
		       sb->s_id, ino);
		if (!IS_ERR(inode))
			iput(inode);
		return NULL;
	}
	err = ext3snap_read_xattr(inode, &x);
	if (err == -ENODATA && ino == le32_to_cpu(es->s_snapshot_inum)) {
		/* Made by a version without the list: a list of one. */
		memset(&x, 0, sizeof(x));
		x.x_id = es->s_snapshot_id;
		legacy = true;
	} else if (err) {
		pr_err("%s: the snapshot file (inode %lu) has no valid list entry (error %d); run fsck.ext3snap\n",
		       sb->s_id, ino, err);
		iput(inode);
		return NULL;
	}
	snap = ext3snap_snap_alloc(sb, le32_to_cpu(x.x_id));
	if (!snap) {
		iput(inode);
		return ERR_PTR(-ENOMEM);
	}
	*prev = le32_to_cpu(x.x_prev);
	snap->time = le64_to_cpu(x.x_time);
	snap->parent = le32_to_cpu(x.x_parent);
	snap->parent_gen = le32_to_cpu(x.x_parent_gen);
	snap->deleted = le32_to_cpu(x.x_flags) & EXT3SNAP_X_DELETING;
	snap->legacy = legacy;
	/* As at the take: no writer ever (see take.c). */
	if (!atomic_dec_unless_positive(&inode->i_writecount)) {
		iput(inode);
		ext3snap_snap_put(snap);
		return ERR_PTR(-ETXTBSY);
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
	return snap;
}

/* Follow the list of snapshots, newest (the superblock's) first. */
static int load_snapshots(struct ext3snap_fs *fs)
{
	struct super_block *sb = fs->sb;
	unsigned long ino = le32_to_cpu(EXT4_SB(sb)->s_es->s_snapshot_inum);
	struct ext3snap_snap *snap, *newer = NULL;
	unsigned int n = 0;
	u32 prev;

	while (ino) {
		if (++n > EXT3SNAP_MAX_SNAPSHOTS) {
			pr_err("%s: the list of snapshots does not end; run fsck.ext3snap\n",
			       sb->s_id);
			fs->list_damaged = true;
			break;
		}
		snap = load_one(fs, ino, &prev);
		if (IS_ERR(snap))
			return PTR_ERR(snap);
		if (!snap) {
			fs->list_damaged = true;
			break;
		}
		if (newer) {
			refcount_inc(&newer->ref);
			snap->newer = newer;
			/* It reads through a broken one (a crash came before
			 * its flusher could say so on disk).
			 */
			if (READ_ONCE(newer->state) == EXT3SNAP_STATE_BROKEN &&
			    snap->state != EXT3SNAP_STATE_BROKEN) {
				snap->state = EXT3SNAP_STATE_BROKEN;
				pr_warn("%s: snapshot %u reads through broken snapshot %u and is broken too\n",
					sb->s_id, snap->id, newer->id);
			}
		} else {
			rcu_assign_pointer(fs->active, snap);
		}
		spin_lock(&fs->list_lock);
		list_add_tail(&snap->list, &fs->snaps);
		spin_unlock(&fs->list_lock);
		ext3snap_kick(snap);
		if (snap->deleted)
			queue_delayed_work(system_unbound_wq, &fs->tidy_work,
					   HZ);
		newer = snap;
		ino = prev;
	}
	return 0;
}

/* Finish deletes a crash or an unmount interrupted. */
static void tidy_worker(struct work_struct *work)
{
	struct ext3snap_fs *fs = container_of(to_delayed_work(work),
					      struct ext3snap_fs, tidy_work);
	struct super_block *sb = fs->sb;

	if (sb_rdonly(sb) || !sb_start_write_trylock(sb))
		return;
	/*
	 * Umount and remount cancel this work holding s_umount, which a
	 * take holding fs->lock waits for (freeze_super()): waiting for
	 * fs->lock here would close that circle. Busy: try again later.
	 */
	if (!mutex_trylock(&fs->lock)) {
		sb_end_write(sb);
		queue_delayed_work(system_unbound_wq, &fs->tidy_work, HZ);
		return;
	}
	ext3snap_tidy(fs);
	mutex_unlock(&fs->lock);
	sb_end_write(sb);
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
	INIT_LIST_HEAD(&fs->snaps);
	spin_lock_init(&fs->list_lock);
	INIT_DELAYED_WORK(&fs->tidy_work, tidy_worker);
	EXT4_SB(sb)->s_ext3snap = fs;
	return load_snapshots(fs);
}

/*
 * Stop following the snapshots: write out what is pending so the snapshot
 * files are complete on disk, then forget them in memory. The next mount
 * follows them again (load_snapshots()).
 *
 * Called holding s_umount, so without fs->lock (a take holds fs->lock
 * while it freezes, which takes s_umount). Nothing else can use the list:
 * the filesystem has no open file left, so no take, delete or bind runs,
 * and the tidy work is cancelled first.
 */
static void put_all(struct super_block *sb)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);
	struct ext3snap_snap *snap, *next;

	if (!fs)
		return;
	cancel_delayed_work_sync(&fs->tidy_work);
	/* Older ones first: linking their blocks saves into the newest. */
	list_for_each_entry_reverse(snap, &fs->snaps, list)
		if (snap->inode)
			ext3snap_flush(snap);
	/* Alone (see above): fs->lock would guard nothing here. */
	snap = rcu_dereference_protected(fs->active, true);
	if (snap)
		ext3snap_deactivate(fs, snap);
	list_for_each_entry_safe(snap, next, &fs->snaps, list)
		ext3snap_forget(fs, snap);
}

void ext3snap_kill_sb(struct super_block *sb)
{
	/* Before generic_shutdown_super(): handles still work, and the
	 * snapshot inode must be let go before inodes are evicted.
	 */
	if (sb->s_fs_info && !sb_rdonly(sb))
		put_all(sb);
	kill_block_super(sb);
}

/*
 * Read-only from now on: write out what is pending while handles can
 * still be started. The snapshot stays followed (ssdev may be reading it),
 * so a later read-write remount goes on saving into it.
 *
 * Called holding s_umount, so without fs->lock (see put_all()). The VFS
 * remounts read-only only when no mount of the filesystem has a writer,
 * and takes and deletes hold write access throughout, so none runs; a
 * bind only reads the list. The tidy work is cancelled first.
 */
void ext3snap_remount_ro(struct super_block *sb)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);
	struct ext3snap_snap *snap;

	if (!fs)
		return;
	cancel_delayed_work_sync(&fs->tidy_work);
	/* Older ones first: linking their blocks saves into the newest. */
	list_for_each_entry_reverse(snap, &fs->snaps, list)
		if (snap->inode)
			ext3snap_flush(snap);	/* breaks it on failure */
}

void ext3snap_umount(struct super_block *sb)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);
	struct ext3snap_snap *snap, *next;

	if (!fs)
		return;
	cancel_delayed_work_sync(&fs->tidy_work);
	/* Only a read-only umount can still have some: nothing to write. */
	rcu_assign_pointer(fs->active, NULL);
	synchronize_srcu(&fs->srcu);
	list_for_each_entry_safe(snap, next, &fs->snaps, list)
		ext3snap_forget(fs, snap);
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
	INIT_LIST_HEAD(&snap->list);
	snap->sb = sb;
	snap->id = id;
	snap->state = EXT3SNAP_STATE_ACTIVE;
	snap->blocks = ext4_blocks_count(EXT4_SB(sb)->s_es);
	xa_init(&snap->store);
	ext3snap_bij_init(snap);
	mutex_init(&snap->flush_lock);
	INIT_DELAYED_WORK(&snap->flush_work, ext3snap_flush_worker);
	INIT_WORK(&snap->free_work, free_worker);
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
	if (snap->newer)
		ext3snap_snap_put(snap->newer);
	kfree(snap);
}

/* Take @snap off the list (walked without fs->lock by ext3snap_snap_break). */
void ext3snap_list_del(struct ext3snap_fs *fs, struct ext3snap_snap *snap)
{
	spin_lock(&fs->list_lock);
	list_del_init(&snap->list);
	spin_unlock(&fs->list_lock);
}

/* Write out, let go of and drop @snap, which is not the active one. */
void ext3snap_forget(struct ext3snap_fs *fs, struct ext3snap_snap *snap)
{
	if (cancel_work_sync(&snap->free_work))
		ext3snap_snap_put(snap);	/* the worker's reference */
	cancel_delayed_work_sync(&snap->flush_work);
	ext3snap_release(snap);
	ext3snap_list_del(fs, snap);
	ext3snap_snap_put(snap);
}

static void free_worker(struct work_struct *work)
{
	struct ext3snap_snap *snap = container_of(work, struct ext3snap_snap,
						  free_work);

	ext3snap_trim(snap, NULL);
	/* Freed blocks can be allocated once the frees have committed. */
	ext4_force_commit(snap->sb);
	WRITE_ONCE(snap->freeing, false);
	ext3snap_snap_put(snap);
}

/*
 * The disk is full and @snap, the newest, needs a block for a copy: the
 * oldest snapshot still intact is broken and its blocks freed (newer ones
 * never read through older ones). True while blocks are on their way.
 * With none older left, false: @snap itself will break.
 */
bool ext3snap_make_room(struct ext3snap_snap *snap)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(snap->sb);
	struct ext3snap_snap *victim, *picked = NULL;
	bool coming = false;

	spin_lock(&fs->list_lock);
	list_for_each_entry_reverse(victim, &fs->snaps, list) {
		if (victim == snap)
			break;
		if (READ_ONCE(victim->freeing)) {
			coming = true;
			break;
		}
		if (xchg(&victim->state, EXT3SNAP_STATE_BROKEN) !=
		    EXT3SNAP_STATE_BROKEN) {
			picked = victim;
			WRITE_ONCE(picked->freeing, true);
			refcount_inc(&picked->ref);
			coming = true;
			break;
		}
	}
	spin_unlock(&fs->list_lock);
	if (picked) {
		pr_err("%s: disk full: snapshot %u, the oldest intact one, is broken to make room for the newer ones; delete it\n",
		       snap->sb->s_id, picked->id);
		ext3snap_kick(picked);	/* says so on disk */
		queue_work(system_unbound_wq, &picked->free_work);
	}
	return coming;
}

/* What the tools are told (enum ext3snap_snap_state): under fs->lock. */
u32 ext3snap_user_state(struct ext3snap_fs *fs, struct ext3snap_snap *snap)
{
	int state = READ_ONCE(snap->state);

	if (state != EXT3SNAP_STATE_ACTIVE)
		return state;
	if (snap->deleted)
		return EXT3SNAP_STATE_DELETING;
	return snap->newer ? EXT3SNAP_STATE_OK : EXT3SNAP_STATE_ACTIVE;
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

static void mark_broken(struct ext3snap_snap *snap)
{
	/* So that it is still known broken after the next mount. */
	ext3snap_bij_set_broken(snap);
	wake_up_all(&snap->drained);
}

/*
 * A snapshot that missed a copy is wrong from then on. Say so once, stop
 * copying into it, and let the origin carry on: the origin's writes never
 * fail because of a snapshot. Older snapshots read what they did not save
 * through this one, so they are wrong too.
 */
void ext3snap_snap_break(struct ext3snap_snap *snap, const char *why, int err)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(snap->sb);
	struct ext3snap_snap *older;
	unsigned int n = 0;

	if (xchg(&snap->state, EXT3SNAP_STATE_BROKEN) == EXT3SNAP_STATE_BROKEN)
		return;
	pr_err("%s: snapshot %u is broken: %s (error %d); delete it and take a new one\n",
	       snap->sb->s_id, snap->id, why, err);
	mark_broken(snap);
	/* Hooks call this without fs->lock: the list lock keeps the walk
	 * safe, and the older ones' flushers record it on disk.
	 */
	spin_lock(&fs->list_lock);
	older = snap;
	while (!list_empty(&older->list) &&
	       !list_is_last(&older->list, &fs->snaps)) {
		older = list_next_entry(older, list);
		if (xchg(&older->state, EXT3SNAP_STATE_BROKEN) !=
		    EXT3SNAP_STATE_BROKEN) {
			ext3snap_kick(older);
			n++;
		}
	}
	spin_unlock(&fs->list_lock);
	if (n)
		pr_err("%s: %u older snapshots read through snapshot %u and are broken too\n",
		       snap->sb->s_id, n, snap->id);
}
