/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ext3snap: what the kernel modules and the tools share.
 */
#ifndef _UAPI_EXT3SNAP_H
#define _UAPI_EXT3SNAP_H

/* Filesystem type registered by ext3snap.ko. */
#define EXT3SNAP_FSTYPE		"ext3snap"

/*
 * The on-disk format ext3snap accepts: the ext3 feature set, as ext2/3/4
 * superblock feature bits. Anything outside it is refused by mount and by
 * the tools alike.
 */
#define EXT3SNAP_INCOMPAT_OK	0x0016	/* filetype, recover, meta_bg */
#define EXT3SNAP_RO_COMPAT_OK	0x0007	/* sparse_super, large_file, btree_dir */

/* ssdev's control device: bind and unbind snapshots. */
#define SSDEV_CTL_NAME		"ssdev-ctl"

#endif /* _UAPI_EXT3SNAP_H */
