/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ext3snap: the functions the patched ext4 code calls.
 *
 * Every hook in patches/ is one call to a function declared here, so the
 * series stays small and all snapshot logic lives in fs/ext3snap/.
 */
#ifndef _EXT3SNAP_HOOKS_H
#define _EXT3SNAP_HOOKS_H

#include <linux/types.h>

struct super_block;
struct buffer_head;
struct file;
struct inode;
struct jbd2_journal_handle;

/* Mount: refuse filesystems whose format ext3snap cannot snapshot. */
int ext3snap_check_features(struct super_block *sb, int silent);

/* Mount succeeded / unmount ends: set up and free our state. */
int ext3snap_mount(struct super_block *sb);
void ext3snap_umount(struct super_block *sb);
/* Unmount begins: write pending copies out while the fs still works. */
void ext3snap_kill_sb(struct super_block *sb);
/* Remount read-only: the same, since no handle can be started after. */
void ext3snap_remount_ro(struct super_block *sb);

/*
 * A metadata block is about to change (journal get-write-access, or the
 * superblock written outside the journal): save its snapshot-time contents
 * first. Never fails the caller: a copy that cannot be made breaks the
 * snapshot instead.
 */
void ext3snap_cow_metadata(struct jbd2_journal_handle *handle,
			   struct super_block *sb, struct buffer_head *bh);

/*
 * File data in [@pos, @pos + @len) is about to be rewritten in place.
 * _write: a buffered write (its whole range before it goes page by page,
 * so that cold blocks are read in runs, then each write_begin) and the
 * mmap write fault, where the page cache still holds the old contents;
 * _range: direct I/O and partial-block zeroing, where it may not. Without
 * a journal handle held, a writer may be throttled.
 */
void ext3snap_cow_file_write(struct inode *inode, loff_t pos, loff_t len);
void ext3snap_cow_file_range(struct inode *inode, loff_t pos, loff_t len);

/*
 * ext4_free_blocks() is about to free [@block, @block + @count). Returns
 * true if ext3snap took care of the range: blocks the snapshot still needs
 * pass to it, the rest are freed through ext4_free_blocks() again.
 */
bool ext3snap_free_blocks(struct jbd2_journal_handle *handle,
			  struct inode *inode, u64 block, unsigned long count,
			  int flags);

/*
 * Before-image journal barriers (see Documentation/design.md): jbd2 is
 * about to commit a transaction holding @inode's data (true if @inode is
 * a snapshot file, whose "data" is the journal); a page of @inode is
 * about to be written back.
 */
bool ext3snap_commit_barrier(struct inode *inode);
void ext3snap_write_barrier(struct inode *inode);

/* ioctls ext4 does not know; -ENOTTY if not ours either. */
long ext3snap_ioctl(struct file *filp, unsigned int cmd, unsigned long arg);

/* Snapshot files are immutable for everyone: S_IMMUTABLE in core. */
unsigned int ext3snap_inode_sflags(struct inode *inode);
/* Changing a snapshot file's flags (chattr) is refused. */
int ext3snap_may_set_flags(struct inode *inode);
/* Online resize is refused while a snapshot is followed. */
int ext3snap_may_resize(struct super_block *sb);

#endif /* _EXT3SNAP_HOOKS_H */
