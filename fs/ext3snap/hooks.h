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

/* Mount: refuse filesystems whose format ext3snap cannot snapshot. */
int ext3snap_check_features(struct super_block *sb, int silent);

#endif /* _EXT3SNAP_HOOKS_H */
