/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ext3snap: the functions the patched ext4 code calls.
 *
 * Every hook in patches/ is one call to a function declared here, so the
 * series stays small and all snapshot logic lives in fs/ext3snap/.
 */
#ifndef _EXT3SNAP_HOOKS_H
#define _EXT3SNAP_HOOKS_H

struct super_block;
struct buffer_head;
struct jbd2_journal_handle;

/* Mount: refuse filesystems whose format ext3snap cannot snapshot. */
int ext3snap_check_features(struct super_block *sb, int silent);

/* Mount succeeded / unmount begins: set up and tear down our state. */
int ext3snap_mount(struct super_block *sb);
void ext3snap_umount(struct super_block *sb);

/*
 * A metadata block is about to change (journal get-write-access, or the
 * superblock written outside the journal): save its snapshot-time contents
 * first. Never fails the caller: a copy that cannot be made breaks the
 * snapshot instead.
 */
void ext3snap_cow_metadata(struct jbd2_journal_handle *handle,
			   struct super_block *sb, struct buffer_head *bh);

#endif /* _EXT3SNAP_HOOKS_H */
