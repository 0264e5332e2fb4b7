// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: taking, deleting and describing snapshots (the ioctls), and
 * keeping snapshot files out of everybody's reach.
 *
 * The snapshot instant is a freeze: ext4's freeze writes back all dirty
 * data, checkpoints the journal and marks it empty, so the disk then holds
 * a clean filesystem. While frozen, only the in-memory state is switched
 * on and two blocks written behind the hooks' back are saved: the
 * superblock and the journal superblock. Nothing is proportional to the
 * filesystem's size. The snapshot file is created after the thaw, so it
 * is not part of the image it holds.
 */
#define pr_fmt(fmt) "ext3snap: " fmt

#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fsnotify.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/posix_acl.h>
#include <linux/quotaops.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "internal.h"
#include "hooks.h"

static int check_name(const char *name)
{
	size_t len = strnlen(name, EXT3SNAP_NAME_LEN);

	if (!len || len == EXT3SNAP_NAME_LEN || strchr(name, '/') ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}

/* What this version cannot snapshot is refused, saying why. */
static int check_supported(struct super_block *sb)
{
	struct ext4_sb_info *sbi = EXT4_SB(sb);
	journal_t *journal = sbi->s_journal;
	ext4_group_t g;

	if (sb->s_blocksize != EXT3SNAP_BLOCK_SIZE) {
		ext4_msg(sb, KERN_ERR,
			 "ext3snap: snapshots need %d-byte blocks, this filesystem has %lu-byte blocks",
			 EXT3SNAP_BLOCK_SIZE, sb->s_blocksize);
		return -EOPNOTSUPP;
	}
	if (test_opt(sb, DATA_FLAGS) == EXT4_MOUNT_JOURNAL_DATA) {
		ext4_msg(sb, KERN_ERR,
			 "ext3snap: snapshots are not supported with data=journal; remount with data=ordered");
		return -EOPNOTSUPP;
	}
	if (!journal || !journal->j_inode) {
		ext4_msg(sb, KERN_ERR,
			 "ext3snap: snapshots need an internal journal");
		return -EOPNOTSUPP;
	}
	if ((ext4_blocks_count(sbi->s_es) + ext3snap_bij_len(sb, NULL)) <<
	    sb->s_blocksize_bits > sbi->s_bitmap_maxbytes) {
		ext4_msg(sb, KERN_ERR,
			 "ext3snap: filesystem too large for a snapshot file");
		return -EFBIG;
	}
	/* cow.c relies on a bitmap changing only after its own group is
	 * loaded: true when it lies inside the group, as mke2fs makes it.
	 */
	for (g = 0; g < ext4_get_groups_count(sb); g++) {
		struct ext4_group_desc *gdp = ext4_get_group_desc(sb, g, NULL);
		ext4_group_t where;

		if (!gdp)
			return -EIO;
		where = ext4_get_group_number(sb, ext4_block_bitmap(sb, gdp));
		if (where != g) {
			ext4_msg(sb, KERN_ERR,
				 "ext3snap: block bitmap of group %u lies in group %u; not supported",
				 g, where);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* Remember where the journal lives (it is not copied; see read.c). */
int ext3snap_find_journal(struct ext3snap_snap *snap)
{
	journal_t *journal = EXT4_SB(snap->sb)->s_journal;
	struct ext3snap_extent *ext = NULL, *bigger;
	unsigned int n = 0, cap = 0;
	unsigned long i;
	sector_t blk;
	int err;

	snap->journal_sb = journal->j_sb_buffer->b_blocknr;
	for (i = 0; i < journal->j_total_len; i++) {
		blk = i;
		err = bmap(journal->j_inode, &blk);
		if (!err && !blk)
			err = -EIO;
		if (err)
			goto fail;
		if (n && ext[n - 1].start + ext[n - 1].len == blk) {
			ext[n - 1].len++;
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			bigger = krealloc_array(ext, cap, sizeof(*ext),
						GFP_KERNEL);
			if (!bigger) {
				err = -ENOMEM;
				goto fail;
			}
			ext = bigger;
		}
		ext[n].start = blk;
		ext[n].len = 1;
		n++;
	}
	snap->journal = ext;
	snap->njournal = n;
	return 0;
fail:
	kfree(ext);
	return err;
}

/*
 * Make @snap the newest: the one before it (@old) stops receiving copies
 * and from now on reads what it did not save through @snap. Caller has
 * the filesystem frozen.
 */
static void push(struct ext3snap_fs *fs, struct ext3snap_snap *snap,
		 struct ext3snap_snap *old)
{
	ext4_group_t g;

	spin_lock(&fs->list_lock);
	list_add(&snap->list, &fs->snaps);
	spin_unlock(&fs->list_lock);
	if (old) {
		refcount_inc(&snap->ref);
		/* @snap is complete before readers of @old can walk to it. */
		smp_store_release(&old->newer, snap);
		/* A reader that saw no newer one is done (see read.c). */
		for (g = 0; g < old->ngroups; g++) {
			down_write(&old->groups[g].lock);
			up_write(&old->groups[g].lock);
		}
	}
	rcu_assign_pointer(fs->active, snap);
}

/* Undo push(): the filesystem is frozen again, @old takes over again. */
static void pop(struct ext3snap_fs *fs, struct ext3snap_snap *snap,
		struct ext3snap_snap *old)
{
	rcu_assign_pointer(fs->active, old);
	ext3snap_list_del(fs, snap);
	if (old) {
		WRITE_ONCE(old->newer, NULL);
		ext3snap_snap_put(snap);
	}
}

/* The instant itself: switch copy-on-write on while the disk is clean. */
static int instant(struct ext3snap_fs *fs, struct ext3snap_snap *snap,
		   u64 *frozen_ns)
{
	struct super_block *sb = fs->sb;
	struct ext4_sb_info *sbi = EXT4_SB(sb);
	struct buffer_head *jsb = sbi->s_journal->j_sb_buffer;
	struct ext3snap_snap *old = ext3snap_active_locked(fs);
	u64 t0 = ktime_get_ns();
	int err;

	err = freeze_super(sb);
	if (err) {
		if (err == -EBUSY)
			ext4_msg(sb, KERN_ERR,
				 "ext3snap: filesystem is frozen; thaw it (fsfreeze -u) and retry");
		return err;
	}
	push(fs, snap, old);
	/* Written by ext4 and jbd2 without a hook: save them now. */
	err = ext3snap_exclude_moves(snap, old);
	if (!err)
		err = ext3snap_save(snap, sbi->s_sbh->b_blocknr,
				    sbi->s_sbh->b_data);
	if (!err)
		err = ext3snap_save(snap, jsb->b_blocknr, jsb->b_data);
	if (err)
		pop(fs, snap, old);
	thaw_super(sb);
	*frozen_ns = ktime_get_ns() - t0;
	return err;
}

/*
 * The take failed after its instant: give what @snap saved back to the
 * one before it, which goes on as the newest. Frozen, so nothing changes
 * meanwhile.
 */
static void undo_instant(struct ext3snap_fs *fs, struct ext3snap_snap *snap)
{
	struct ext3snap_snap *old = list_is_last(&snap->list, &fs->snaps) ?
				    NULL : list_next_entry(snap, list);
	int err;

	/* Writers held back until its file is there must go on: the
	 * freeze below waits for them.
	 */
	WRITE_ONCE(snap->undone, true);
	wake_up_all(&snap->drained);
	if (!old) {
		ext3snap_deactivate(fs, snap);
		pop(fs, snap, NULL);
		return;
	}
	err = freeze_super(fs->sb);
	ext3snap_hand_back(snap, old);
	pop(fs, snap, old);
	if (!err)
		thaw_super(fs->sb);
	synchronize_srcu(&fs->srcu);
	cancel_delayed_work_sync(&snap->flush_work);
	ext3snap_kick(old);
}

/* Record (or with @ino 0, clear) the snapshot in the superblock. */
static int set_super(handle_t *handle, struct super_block *sb,
		     unsigned long ino, u32 id)
{
	struct ext4_sb_info *sbi = EXT4_SB(sb);
	int err;

	err = ext4_journal_get_write_access(handle, sb, sbi->s_sbh,
					    EXT4_JTR_NONE);
	if (err)
		return err;
	lock_buffer(sbi->s_sbh);
	sbi->s_es->s_snapshot_inum = cpu_to_le32(ino);
	if (ino) {
		sbi->s_es->s_snapshot_id = cpu_to_le32(id);
		/* Keeps the stock driver from writing behind our back. */
		sbi->s_es->s_feature_ro_compat |=
			cpu_to_le32(EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT);
	} else {
		sbi->s_es->s_feature_ro_compat &=
			~cpu_to_le32(EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT);
	}
	ext4_superblock_csum_set(sb);
	unlock_buffer(sbi->s_sbh);
	return ext4_handle_dirty_metadata(handle, NULL, sbi->s_sbh);
}

/*
 * Credits of the transaction that publishes or retires a snapshot: the
 * file's inode, the superblock, and the directory change nested in it.
 */
static int publish_credits(struct super_block *sb)
{
	/* Two list entries (xattrs): this one's and a neighbour's. */
	return EXT4_DATA_TRANS_BLOCKS(sb) + EXT4_INDEX_EXTRA_TRANS_BLOCKS + 8 +
	       2 * (8 + EXT4_MAXQUOTAS_TRANS_BLOCKS(sb));
}

/*
 * Make @inode a snapshot file (or, with @on false, an ordinary one). The
 * caller holds its i_rwsem, taken before the handle as ext4 orders them.
 */
static int set_snapfile(handle_t *handle, struct inode *inode,
			struct ext3snap_snap *snap, bool on)
{
	struct super_block *sb = inode->i_sb;
	struct ext4_inode_info *ei = EXT4_I(inode);

	if (on) {
		ei->i_flags |= EXT3SNAP_SNAPFILE_FL;
		inode->i_mode = S_IFREG | 0400;
		inode->i_uid = GLOBAL_ROOT_UID;
		inode->i_gid = GLOBAL_ROOT_GID;
		i_size_write(inode, (loff_t)(snap->blocks + snap->bij.len +
					     ext3snap_exclude_len(snap)) <<
			     sb->s_blocksize_bits);
		ei->i_disksize = inode->i_size;
	} else {
		ei->i_flags &= ~EXT3SNAP_SNAPFILE_FL;
	}
	ext4_set_inode_flags(inode, false);
	inode->i_ctime = current_time(inode);
	return ext4_mark_inode_dirty(handle, inode);
}

/*
 * Link and unlink go through ext4 itself rather than vfs_link() and
 * vfs_unlink(): those take the file's i_rwsem, and here the handle that
 * makes the change whole is already running, while ext4 takes i_rwsem
 * before a handle everywhere else (lockdep sees the inversion). ext4's
 * own handle nests in ours. The caller holds the directory's and the
 * file's i_rwsem; what the VFS would add for a file nobody else has made
 * (permission and security checks, leases) does not apply.
 */
static int link_snapfile(struct inode *dir, struct inode *inode,
			 struct dentry *dentry)
{
	int err;

	/* An O_TMPFILE may be linked once; ext4 takes it off the orphans. */
	if (inode->i_nlink || !(inode->i_state & I_LINKABLE))
		return -ENOENT;
	err = __ext4_link(dir, inode, dentry);
	if (!err) {
		spin_lock(&inode->i_lock);
		inode->i_state &= ~I_LINKABLE;
		spin_unlock(&inode->i_lock);
	}
	return err;
}

static int unlink_snapfile(struct inode *dir, struct inode *inode,
			   struct dentry *dentry)
{
	int err;

	err = __ext4_unlink(dir, &dentry->d_name, inode, dentry);
	if (!err)
		dont_mount(dentry);
	return err;
}

/*
 * Link the prepared file @tmp at @dentry, make it a snapshot file and name
 * it in the superblock, in one transaction: after a crash there is either
 * no snapshot (the unlinked file was an orphan, freed at mount) or all of
 * it. Linking comes first: a snapshot file is immutable.
 */
static int publish(struct inode *dir, struct dentry *tmp,
		   struct dentry *dentry, struct ext3snap_snap *snap,
		   struct ext3snap_snap *older)
{
	struct inode *inode = d_inode(tmp);
	struct super_block *sb = dir->i_sb;
	handle_t *handle;
	int err, err2;

	/* Outside the handle, as ext4_link() does: quota may do I/O. */
	err = dquot_initialize(dir);
	if (err)
		return err;
	inode_lock(inode);
	handle = ext4_journal_start(dir, EXT4_HT_DIR, publish_credits(sb));
	if (IS_ERR(handle)) {
		inode_unlock(inode);
		return PTR_ERR(handle);
	}
	err = link_snapfile(dir, inode, dentry);
	if (!err)
		err = ext3snap_write_xattr(handle, snap, inode,
					   older ? older->inode->i_ino : 0);
	/* Only the newest may lack an entry (made by an older version). */
	if (!err && older && older->legacy)
		err = ext3snap_write_xattr(handle, older, older->inode, 0);
	if (!err && older)
		older->legacy = false;
	if (!err)
		err = set_snapfile(handle, inode, snap, true);
	if (!err)
		err = set_super(handle, sb, inode->i_ino, snap->id);
	if (!err)
		ext3snap_bij_arm(snap, handle, inode);
	err2 = ext4_journal_stop(handle);
	inode_unlock(inode);
	if (d_really_is_positive(dentry))
		fsnotify_link(dir, inode, dentry);
	return err ? err : err2;
}

/*
 * The reverse, also in one transaction: an ordinary file again, out of the
 * list (the superblock, or @newer, names the next older one @prev
 * instead), unlinked (its blocks are freed from the orphan list).
 */
static int unpublish(struct inode *dir, struct dentry *dentry,
		     struct ext3snap_snap *newer, u32 prev)
{
	struct inode *inode = d_inode(dentry);
	struct super_block *sb = dir->i_sb;
	handle_t *handle;
	int err, err2;

	/* As vfs_unlink() refuses: something is mounted on the file. */
	if (d_mountpoint(dentry))
		return -EBUSY;
	err = dquot_initialize(dir);
	if (!err)
		err = dquot_initialize(inode);
	if (err)
		return err;
	inode_lock(inode);
	handle = ext4_journal_start(dir, EXT4_HT_DIR, publish_credits(sb));
	if (IS_ERR(handle)) {
		inode_unlock(inode);
		return PTR_ERR(handle);
	}
	/*
	 * With newer snapshots left, the file stays a snapshot file until
	 * it is freed (the hooks copy nothing of it; the newest's exclude
	 * map lets its data blocks go); only the unlink is let through.
	 */
	if (newer)
		inode_set_flags(inode, 0, S_IMMUTABLE);
	else
		err = set_snapfile(handle, inode, NULL, false);
	if (!err)
		err = ext4_xattr_set_handle(handle, inode,
					    EXT4_XATTR_INDEX_TRUSTED,
					    EXT3SNAP_XATTR_NAME, NULL, 0, 0);
	if (err == -ENODATA)
		err = 0;
	if (!err && newer)
		err = ext3snap_write_xattr(handle, newer, newer->inode, prev);
	else if (!err && le32_to_cpu(EXT4_SB(sb)->s_es->s_snapshot_inum) ==
		    inode->i_ino)
		err = set_super(handle, sb, 0, 0);	/* the only one */
	if (!err)
		err = unlink_snapfile(dir, inode, dentry);
	err2 = ext4_journal_stop(handle);
	inode_unlock(inode);
	if (!err)
		d_delete_notify(dir, dentry);
	return err ? err : err2;
}

/*
 * Create the snapshot file @name in @dirf's directory for @snap: prepared
 * unlinked (an O_TMPFILE), then published.
 */
static int create_file(struct file *dirf, const char *name,
		       struct ext3snap_snap *snap, struct ext3snap_snap *older)
{
	struct dentry *parent = dirf->f_path.dentry;
	struct inode *dir = d_inode(parent), *inode;
	struct dentry *dentry;
	struct file *tmp;
	bool denied = false;
	int err;

	err = mnt_want_write_file(dirf);
	if (err)
		return err;
	tmp = vfs_tmpfile_open(&init_user_ns, &dirf->f_path, S_IFREG | 0400,
			       O_RDONLY, current_cred());
	if (IS_ERR(tmp)) {
		mnt_drop_write_file(dirf);
		return PTR_ERR(tmp);
	}
	inode = file_inode(tmp);
	/* No writer ever: opening it for write now fails (ETXTBSY). */
	denied = atomic_dec_unless_positive(&inode->i_writecount);
	err = denied ? 0 : -ETXTBSY;
	/* An inherited ACL could let others read the snapshot. */
	if (!err && IS_POSIXACL(inode))
		err = set_posix_acl(&init_user_ns, inode, ACL_TYPE_ACCESS,
				    NULL);
	if (!err)
		err = ext4_inode_attach_jinode(inode);
	if (!err)
		err = ext3snap_exclude_write(snap, inode);
	if (!err)
		err = ext3snap_bij_create(snap, inode);
	if (err)
		goto out;

	inode_lock_nested(dir, I_MUTEX_PARENT);
	dentry = lookup_one_len(name, parent, strlen(name));
	if (IS_ERR(dentry)) {
		err = PTR_ERR(dentry);
	} else {
		err = -EEXIST;
		if (d_really_is_negative(dentry)) {
			err = publish(dir, tmp->f_path.dentry, dentry, snap,
				      older);
			/* Linked but not published: take it away again. */
			if (err && d_really_is_positive(dentry))
				unpublish(dir, dentry, NULL, 0);
		}
		dput(dentry);
	}
	inode_unlock(dir);
	if (!err) {
		ihold(inode);
		/* From here on freed blocks move into the file. */
		smp_store_release(&snap->inode, inode);
		denied = false;		/* kept until the snapshot is let go */
	}
out:
	if (denied)
		atomic_inc(&inode->i_writecount);
	fput(tmp);
	mnt_drop_write_file(dirf);
	return err;
}

long ext3snap_take(struct file *dirf, void __user *arg)
{
	struct inode *dir = file_inode(dirf);
	struct super_block *sb = dir->i_sb;
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);
	struct ext3snap_snap *snap, *old;
	struct ext3snap_ioc_take req;
	struct dentry *dentry;
	u32 id;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (!S_ISDIR(dir->i_mode))
		return -ENOTDIR;
	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || check_name(req.name))
		return -EINVAL;
	/* Waiting for somebody else's thaw would look like a hang. */
	if (sb->s_writers.frozen != SB_UNFROZEN) {
		ext4_msg(sb, KERN_ERR,
			 "ext3snap: filesystem is frozen; thaw it (fsfreeze -u) and retry");
		return -EBUSY;
	}
	/* Fail early on a read-only mount; freezing must not hold it. */
	err = mnt_want_write_file(dirf);
	if (err)
		return err;
	mnt_drop_write_file(dirf);
	err = check_supported(sb);
	if (err)
		return err;

	mutex_lock(&fs->lock);
	/* A list that could not be followed must not be cut off. */
	if (fs->list_damaged) {
		ext4_msg(sb, KERN_ERR,
			 "ext3snap: the existing snapshots could not be loaded; run fsck.ext3snap");
		err = -EUCLEAN;
		goto unlock;
	}
	dentry = lookup_one_len_unlocked(req.name, dirf->f_path.dentry,
					 strlen(req.name));
	if (IS_ERR(dentry)) {
		err = PTR_ERR(dentry);
		goto unlock;
	}
	err = d_really_is_positive(dentry) ? -EEXIST : 0;
	dput(dentry);
	if (err)
		goto unlock;

	err = -ENOMEM;
	id = le32_to_cpu(EXT4_SB(sb)->s_es->s_snapshot_id) + 1;
	snap = ext3snap_snap_alloc(sb, id);
	if (!snap)
		goto unlock;
	snap->time = ktime_get_real_seconds();
	snap->parent = dir->i_ino;
	snap->parent_gen = dir->i_generation;
	old = ext3snap_active_locked(fs);
	err = ext3snap_find_journal(snap);
	if (!err)
		err = ext3snap_exclude_collect(fs, snap);
	if (!err)
		err = instant(fs, snap, &req.frozen_ns);
	if (err) {
		ext3snap_snap_put(snap);
		goto unlock;
	}
	err = create_file(dirf, req.name, snap, old);
	if (err) {
		undo_instant(fs, snap);
		ext3snap_snap_put(snap);
		goto unlock;
	}
	req.id = snap->id;
	ext3snap_kick(snap);
	if (old)
		ext3snap_kick(old);	/* drains, then gives its ring back */
	ext4_msg(sb, KERN_INFO, "ext3snap: snapshot %u taken (frozen %llu us)",
		 snap->id, req.frozen_ns / NSEC_PER_USEC);
	/* A deleted newest one is now a layer: free what nobody needs. */
	if (old && old->deleted)
		ext3snap_tidy(fs);
unlock:
	mutex_unlock(&fs->lock);
	if (!err && copy_to_user(arg, &req, sizeof(req)))
		err = -EFAULT;
	return err;
}

/* Take @snap, the oldest, out of the list and unlink its file. */
static int remove_oldest(struct ext3snap_fs *fs, struct ext3snap_snap *snap,
			 struct inode *dir, struct dentry *dentry)
{
	struct ext3snap_snap *newer = NULL;

	if (!list_is_first(&snap->list, &fs->snaps))
		newer = list_prev_entry(snap, list);
	if (!newer)
		ext3snap_deactivate(fs, snap);
	/* Copies are not needed any more; moves still go to the file,
	 * which frees them with everything else.
	 */
	snap->deleting = true;
	ext3snap_forget(fs, snap);
	return unpublish(dir, dentry, newer, 0);
}

/* Mark @snap deleted: kept only for what older ones read through it. */
static int mark_deleted(struct ext3snap_snap *snap, struct ext3snap_snap *older)
{
	struct inode *inode = snap->inode;
	handle_t *handle;
	int err, err2;

	handle = ext4_journal_start(inode, EXT4_HT_XATTR,
				    publish_credits(inode->i_sb));
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	snap->deleted = true;
	err = ext3snap_write_xattr(handle, snap, inode, older->inode->i_ino);
	err2 = ext4_journal_stop(handle);
	if (err || err2)
		snap->deleted = false;
	return err ? err : err2;
}

/*
 * Find the name of @ino in directory @dir (whose lock the caller holds):
 * a deleted snapshot taken out later, with no dentry at hand.
 */
static int name_of(struct inode *dir, unsigned long ino, char *name)
{
	struct super_block *sb = dir->i_sb;
	struct ext4_dir_entry_2 *de;
	struct buffer_head *bh;
	ext4_lblk_t lblk, nblocks = dir->i_size >> sb->s_blocksize_bits;
	char *p, *end;

	for (lblk = 0; lblk < nblocks; lblk++) {
		bh = ext4_bread(NULL, dir, lblk, 0);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		if (!bh)
			continue;
		p = bh->b_data;
		end = p + sb->s_blocksize;
		while (p + EXT4_BASE_DIR_LEN <= end) {
			de = (struct ext4_dir_entry_2 *)p;
			if (ext4_check_dir_entry(dir, NULL, de, bh, bh->b_data,
						 sb->s_blocksize, p - bh->b_data))
				break;
			if (le32_to_cpu(de->inode) == ino) {
				memcpy(name, de->name, de->name_len);
				name[de->name_len] = '\0';
				brelse(bh);
				return 0;
			}
			p += ext4_rec_len_from_disk(de->rec_len,
						    sb->s_blocksize);
		}
		brelse(bh);
	}
	return -ENOENT;
}

/* Remove @snap, the oldest and deleted, finding its file by itself. */
static int remove_layer(struct ext3snap_fs *fs, struct ext3snap_snap *snap)
{
	struct super_block *sb = fs->sb;
	struct dentry *parent, *dentry;
	struct inode *dir;
	char *name;
	int err;

	dir = ext4_iget(sb, snap->parent, EXT4_IGET_NORMAL);
	if (IS_ERR(dir))
		return PTR_ERR(dir);
	err = -ENOENT;
	if (dir->i_generation != snap->parent_gen || !S_ISDIR(dir->i_mode)) {
		iput(dir);
		return err;
	}
	parent = d_obtain_alias(dir);
	if (IS_ERR(parent))
		return PTR_ERR(parent);
	name = kmalloc(EXT3SNAP_NAME_LEN, GFP_KERNEL);
	if (!name) {
		dput(parent);
		return -ENOMEM;
	}
	inode_lock_nested(dir, I_MUTEX_PARENT);
	err = name_of(dir, snap->inode->i_ino, name);
	dentry = err ? ERR_PTR(err) : lookup_one_len(name, parent, strlen(name));
	if (IS_ERR(dentry)) {
		err = PTR_ERR(dentry);
	} else {
		err = d_inode(dentry) == snap->inode ?
		      remove_oldest(fs, snap, dir, dentry) : -ENOENT;
		dput(dentry);
	}
	inode_unlock(dir);
	kfree(name);
	dput(parent);
	return err;
}

/*
 * Deleted snapshots that became the oldest go; the others give back what
 * older ones do not read through them. Under fs->lock (taken before any
 * directory lock, as by the take), with write access to the filesystem.
 */
void ext3snap_tidy(struct ext3snap_fs *fs)
{
	struct ext3snap_snap *snap, *older;
	int err;

	while (!list_empty(&fs->snaps)) {
		snap = list_last_entry(&fs->snaps, struct ext3snap_snap, list);
		if (!snap->deleted || atomic_read(&snap->bound))
			break;
		err = remove_layer(fs, snap);
		if (err) {
			ext4_msg(fs->sb, KERN_WARNING,
				 "ext3snap: cannot remove deleted snapshot %u yet (error %d)",
				 snap->id, err);
			break;
		}
	}
	list_for_each_entry(snap, &fs->snaps, list) {
		if (!snap->deleted || list_is_last(&snap->list, &fs->snaps))
			continue;
		older = list_next_entry(snap, list);
		ext3snap_trim(snap, older);
	}
}

long ext3snap_delete(struct file *dirf, void __user *arg)
{
	struct dentry *parent = dirf->f_path.dentry;
	struct inode *dir = d_inode(parent), *inode;
	struct ext3snap_fs *fs = EXT3SNAP_FS(dir->i_sb);
	struct ext3snap_ioc_delete req;
	struct ext3snap_snap *snap;
	struct dentry *dentry;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (!S_ISDIR(dir->i_mode))
		return -ENOTDIR;
	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.reserved || check_name(req.name))
		return -EINVAL;
	err = mnt_want_write_file(dirf);
	if (err)
		return err;
	mutex_lock(&fs->lock);
	inode_lock_nested(dir, I_MUTEX_PARENT);
	dentry = lookup_one_len(req.name, parent, strlen(req.name));
	if (IS_ERR(dentry)) {
		err = PTR_ERR(dentry);
		goto unlock;
	}
	err = -ENOENT;
	if (d_really_is_negative(dentry))
		goto put;
	inode = d_inode(dentry);
	err = -EINVAL;
	if (!S_ISREG(inode->i_mode) || !ext3snap_is_snapfile(inode))
		goto put;

	snap = ext3snap_find(fs, inode);
	err = -EBUSY;
	if (snap && atomic_read(&snap->bound))
		goto put;
	if (!snap) {
		/* Not followed: it may be in a list that is damaged. */
		err = -EUCLEAN;
		if (fs->list_damaged)
			ext4_msg(dir->i_sb, KERN_ERR,
				 "ext3snap: the list of snapshots is damaged; run fsck.ext3snap");
		else
			err = unpublish(dir, dentry, NULL, 0);
	} else if (list_is_last(&snap->list, &fs->snaps)) {
		err = remove_oldest(fs, snap, dir, dentry);
	} else if (!snap->deleted) {
		err = mark_deleted(snap, list_next_entry(snap, list));
	} else {
		err = 0;
	}
put:
	dput(dentry);
unlock:
	inode_unlock(dir);
	if (!err)
		ext3snap_tidy(fs);
	mutex_unlock(&fs->lock);
	mnt_drop_write_file(dirf);
	return err;
}

long ext3snap_stat(struct file *filp, void __user *arg)
{
	struct inode *inode = file_inode(filp);
	struct ext3snap_fs *fs = EXT3SNAP_FS(inode->i_sb);
	struct ext4_super_block *es = EXT4_SB(inode->i_sb)->s_es;
	struct ext3snap_ioc_stat req;
	struct ext3snap_snap *snap;
	u32 flags;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (!S_ISREG(inode->i_mode) || !ext3snap_is_snapfile(inode))
		return -EINVAL;
	if (get_user(flags, (u32 __user *)arg))
		return -EFAULT;
	if (flags & ~EXT3SNAP_STAT_FLUSH)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.flags = flags;
	mutex_lock(&fs->lock);
	snap = ext3snap_find(fs, inode);
	if (snap) {
		if (req.flags & EXT3SNAP_STAT_FLUSH)
			ext3snap_flush(snap);
		req.id = snap->id;
		req.state = ext3snap_user_state(fs, snap);
		req.bound = atomic_read(&snap->bound);
		req.copied = atomic_long_read(&snap->copied);
		req.moved = atomic_long_read(&snap->moved);
		req.pending = atomic_long_read(&snap->pending) +
			      atomic_long_read(&snap->pending_moves);
	} else {
		req.state = EXT3SNAP_STATE_INACTIVE;
		if (le32_to_cpu(es->s_snapshot_inum) == inode->i_ino)
			req.id = le32_to_cpu(es->s_snapshot_id);
	}
	req.file_blocks = inode->i_blocks >> (inode->i_blkbits - 9);
	mutex_unlock(&fs->lock);
	if (copy_to_user(arg, &req, sizeof(req)))
		return -EFAULT;
	return 0;
}

static long ext3snap_list(struct file *filp, void __user *arg)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(file_inode(filp)->i_sb);
	struct ext3snap_ioc_snapinfo __user *out;
	struct ext3snap_ioc_snapinfo info;
	struct ext3snap_ioc_list req;
	struct ext3snap_snap *snap;
	u32 n = 0;
	int err = 0;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags)
		return -EINVAL;
	out = u64_to_user_ptr(req.snaps);
	mutex_lock(&fs->lock);
	list_for_each_entry(snap, &fs->snaps, list) {
		if (n < req.count && !err) {
			memset(&info, 0, sizeof(info));
			info.ino = snap->inode->i_ino;
			info.generation = snap->inode->i_generation;
			info.parent_ino = snap->parent;
			info.parent_generation = snap->parent_gen;
			info.id = snap->id;
			info.state = ext3snap_user_state(fs, snap);
			info.time = snap->time;
			info.file_blocks = snap->inode->i_blocks >>
					   (snap->inode->i_blkbits - 9);
			info.bound = atomic_read(&snap->bound);
			if (copy_to_user(&out[n], &info, sizeof(info)))
				err = -EFAULT;
		}
		n++;
	}
	mutex_unlock(&fs->lock);
	if (err)
		return err;
	err = n > req.count ? -E2BIG : 0;
	req.count = n;
	if (copy_to_user(arg, &req, sizeof(req)))
		return -EFAULT;
	return err;
}

long ext3snap_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case EXT3SNAP_IOC_TAKE:
		return ext3snap_take(filp, uarg);
	case EXT3SNAP_IOC_DELETE:
		return ext3snap_delete(filp, uarg);
	case EXT3SNAP_IOC_STAT:
		return ext3snap_stat(filp, uarg);
	case EXT3SNAP_IOC_LIST:
		return ext3snap_list(filp, uarg);
	}
	return -ENOTTY;
}

unsigned int ext3snap_inode_sflags(struct inode *inode)
{
	return ext3snap_is_snapfile(inode) ? S_IMMUTABLE : 0;
}

int ext3snap_may_set_flags(struct inode *inode)
{
	return ext3snap_is_snapfile(inode) ? -EPERM : 0;
}

int ext3snap_may_resize(struct super_block *sb)
{
	struct ext3snap_fs *fs = EXT3SNAP_FS(sb);

	if ((fs && rcu_access_pointer(fs->active)) ||
	    EXT4_SB(sb)->s_es->s_snapshot_inum) {
		ext4_msg(sb, KERN_ERR,
			 "ext3snap: online resize is refused while snapshots exist; delete them first (e3snapconfig -l lists them)");
		return -EBUSY;
	}
	return 0;
}
