/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ext3snap: what the kernel modules and the tools share.
 *
 * The ioctls are described in Documentation/ioctl.md.
 */
#ifndef _UAPI_EXT3SNAP_H
#define _UAPI_EXT3SNAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Filesystem type registered by ext3snap.ko. */
#define EXT3SNAP_FSTYPE		"ext3snap"

/*
 * The on-disk format ext3snap accepts: the ext3 feature set, as ext2/3/4
 * superblock feature bits. Anything outside it is refused by mount and by
 * the tools alike.
 */
#define EXT3SNAP_INCOMPAT_OK	0x0016	/* filetype, recover, meta_bg */
#define EXT3SNAP_RO_COMPAT_OK	0x0087	/* sparse_super, large_file, btree_dir,
					   has_snapshot */

/* Inode flag of a snapshot file (the value Next3 and e2fsprogs reserve). */
#define EXT3SNAP_SNAPFILE_FL	0x01000000

/* The only block size snapshots support for now. */
#define EXT3SNAP_BLOCK_SIZE	4096

#define EXT3SNAP_NAME_LEN	256	/* a file name and its NUL */

/*
 * EXT3SNAP_IOC_TAKE, on a directory of a mounted ext3snap filesystem:
 * take a snapshot now, into a new file @name of that directory.
 */
struct ext3snap_ioc_take {
	__u32	flags;			/* in: must be 0 */
	__u32	id;			/* out: the snapshot's id */
	__u64	frozen_ns;		/* out: how long writers were held */
	char	name[EXT3SNAP_NAME_LEN];	/* in */
};

/* EXT3SNAP_IOC_DELETE, on the directory holding snapshot file @name. */
struct ext3snap_ioc_delete {
	__u32	flags;			/* in: must be 0 */
	__u32	reserved;
	char	name[EXT3SNAP_NAME_LEN];	/* in */
};

enum ext3snap_snap_state {
	EXT3SNAP_STATE_ACTIVE	= 1,	/* receiving copies, correct */
	EXT3SNAP_STATE_BROKEN	= 2,	/* lost a copy: do not trust */
	EXT3SNAP_STATE_INACTIVE	= 3,	/* on disk but not followed */
	EXT3SNAP_STATE_OK	= 4,	/* older than the active one: complete */
	EXT3SNAP_STATE_DELETING	= 5,	/* deleted; kept while older ones
					   read through it */
};

/* EXT3SNAP_IOC_STAT, on an open snapshot file. */
#define EXT3SNAP_STAT_FLUSH	0x1	/* write pending copies out first */
struct ext3snap_ioc_stat {
	__u32	flags;			/* in: EXT3SNAP_STAT_* */
	__u32	id;			/* out */
	__u32	state;			/* out: enum ext3snap_snap_state */
	__u32	bound;			/* out: ssdev devices reading it */
	__u64	copied;			/* out: blocks saved by copying */
	__u64	moved;			/* out: freed blocks handed over */
	__u64	pending;		/* out: copies still in memory */
	__u64	file_blocks;		/* out: fs blocks the file holds */
};

/* One snapshot, as EXT3SNAP_IOC_LIST describes it. */
struct ext3snap_ioc_snapinfo {
	__u32	ino;			/* the snapshot file's inode */
	__u32	generation;		/* and its generation */
	__u32	parent_ino;		/* the directory it was taken in */
	__u32	parent_generation;
	__u32	id;
	__u32	state;			/* enum ext3snap_snap_state */
	__u64	time;			/* taken at, seconds since the epoch */
	__u64	file_blocks;		/* fs blocks the file holds */
	__u32	bound;			/* ssdev devices reading it */
	__u32	reserved;
};

/*
 * EXT3SNAP_IOC_LIST, on any file or directory of the filesystem: every
 * snapshot, newest first. @count is in: room in the array at @snaps;
 * out: how many snapshots there are (more than the room: E2BIG, retry).
 */
struct ext3snap_ioc_list {
	__u32	count;
	__u32	flags;			/* in: must be 0 */
	__u64	snaps;			/* in: struct ext3snap_ioc_snapinfo * */
};

#define EXT3SNAP_IOC_TAKE	_IOWR('3', 0x01, struct ext3snap_ioc_take)
#define EXT3SNAP_IOC_DELETE	_IOW('3', 0x02, struct ext3snap_ioc_delete)
#define EXT3SNAP_IOC_STAT	_IOWR('3', 0x03, struct ext3snap_ioc_stat)
#define EXT3SNAP_IOC_LIST	_IOWR('3', 0x04, struct ext3snap_ioc_list)

/*
 * Each snapshot file carries the xattr "trusted.ext3snap": the list of
 * snapshots runs from the superblock's s_snapshot_inum (the newest) through
 * x_prev to the oldest (x_prev 0). All fields little-endian.
 */
#define EXT3SNAP_XATTR_NAME	"ext3snap"	/* in the trusted. namespace */
#define EXT3SNAP_XATTR_MAGIC	0x58533345	/* "E3SX" */
#define EXT3SNAP_X_DELETING	0x1		/* x_flags: deleted, draining */

struct ext3snap_xattr {
	__le32	x_magic;
	__le32	x_id;			/* the snapshot's id */
	__le32	x_prev;			/* next older snapshot's inode, or 0 */
	__le32	x_flags;		/* EXT3SNAP_X_* */
	__le64	x_time;			/* taken at, seconds since the epoch */
	__le32	x_parent;		/* directory it was taken in */
	__le32	x_parent_gen;		/* its generation */
};

/*
 * Set while a snapshot exists (RO_COMPAT_HAS_SNAPSHOT): the stock driver
 * then mounts the filesystem read-only only. e2fsprogs 1.47 has no name
 * for it (dumpe2fs shows "FEATURE_R7") and refuses it.
 */
#define EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT	0x0080

/*
 * The before-image journal (BIJ): blocks [image, image + h_len) of the
 * snapshot file, past the image (image = filesystem size in blocks).
 * Block 0 is the header; 1 .. h_len - 1 a ring of records. A record is a
 * descriptor block followed by the data blocks of its copy entries, never
 * wrapping: a record that does not fit before the end starts at 1. All
 * fields little-endian; crc32c seeded with ~0, not inverted, computed over
 * the whole block with the crc field zero (data: over the data block).
 * See Documentation/ext3snap-format.md.
 */
#define EXT3SNAP_BIJ_MAGIC	0x4a423345	/* "E3BJ" */
#define EXT3SNAP_BIJ_DESC_MAGIC	0x52423345	/* "E3BR" */
#define EXT3SNAP_BIJ_VERSION	1
#define EXT3SNAP_BIJ_BROKEN	0x1		/* h_flags: snapshot lost a block */
#define EXT3SNAP_BIJ_SEALED	0x2		/* h_flags: no records ever again;
						   the ring past the header is
						   (being) freed */
#define EXT3SNAP_BIJ_EXCLUDE	0x4		/* h_flags: an exclude map, one
						   block per group, follows
						   the ring */

struct ext3snap_bij_header {
	__le32	h_magic;
	__le32	h_version;
	__le32	h_snap_id;		/* the snapshot's id */
	__le32	h_flags;		/* EXT3SNAP_BIJ_* */
	__le64	h_image_blocks;		/* filesystem size at the instant */
	__le32	h_len;			/* blocks, header included */
	__le32	h_tail_pos;		/* ring position of the oldest record */
	__le64	h_tail_seq;		/* its sequence number */
	__le32	h_reserved[9];
	__le32	h_crc;
};

enum ext3snap_bij_kind {
	EXT3SNAP_BIJ_COPY	= 1,	/* one data block follows */
	EXT3SNAP_BIJ_MOVE	= 2,	/* e_len blocks freed in jbd2 tid e_tid */
};

struct ext3snap_bij_entry {
	__le64	e_block;		/* block number at the instant */
	__le32	e_len;			/* copy: 1 */
	__le16	e_kind;			/* enum ext3snap_bij_kind */
	__le16	e_reserved;
	__le32	e_tid;			/* move: transaction freeing the run */
	__le32	e_crc;			/* copy: crc32c of its data block */
};

struct ext3snap_bij_desc {
	__le32	d_magic;
	__le32	d_snap_id;
	__le64	d_seq;			/* previous record's + 1 */
	__le32	d_count;		/* entries */
	__le32	d_nblocks;		/* data blocks after this one */
	__le32	d_crc;
	__le32	d_batch;		/* records before it in its cache flush */
	struct ext3snap_bij_entry d_entries[];
};

#define EXT3SNAP_BIJ_PER_DESC	((EXT3SNAP_BLOCK_SIZE - \
				  sizeof(struct ext3snap_bij_desc)) / \
				 sizeof(struct ext3snap_bij_entry))

/* ssdev's control device: bind and unbind snapshots. */
#define SSDEV_CTL_NAME		"ssdev-ctl"
#define SSDEV_MAX_DEVICES	256	/* /dev/ssdev/0 .. /dev/ssdev/255 */
#define SSDEV_PATH_LEN		4096

/* SSDEV_IOC_BIND: show the snapshot file open as @fd at /dev/ssdev/@index. */
struct ssdev_ioc_bind {
	__s32	fd;			/* in: snapshot file, open O_RDONLY */
	__u32	index;			/* in */
};

/* SSDEV_IOC_INFO: what /dev/ssdev/@index shows; ENXIO if unbound. */
struct ssdev_ioc_info {
	__u32	index;			/* in */
	__u32	open_count;		/* out: openers of the device */
	__u32	snap_id;		/* out */
	__u32	reserved;
	__u64	size;			/* out: bytes */
	char	origin[64];		/* out: origin device, e.g. "vda" */
	char	snapshot[SSDEV_PATH_LEN];	/* out: snapshot file path */
};

#define SSDEV_IOC_BIND		_IOW('3', 0x40, struct ssdev_ioc_bind)
#define SSDEV_IOC_UNBIND	_IOW('3', 0x41, __u32)
#define SSDEV_IOC_INFO		_IOWR('3', 0x42, struct ssdev_ioc_info)

#endif /* _UAPI_EXT3SNAP_H */
