/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ext3snap: the interface ext3snap.ko exports to ssdev.ko.
 *
 * A snapshot is bound through an open struct file of its snapshot file;
 * ssdev keeps that file open while bound, which keeps the origin mounted
 * (umount gets EBUSY) and lets ext3snap refuse to delete a bound snapshot.
 */
#ifndef _EXT3SNAP_READ_H
#define _EXT3SNAP_READ_H

#include <linux/types.h>

struct bio_vec;
struct block_device;
struct ext3snap_snap;
struct file;

struct ext3snap_geometry {
	struct block_device *origin;	/* the filesystem's device */
	unsigned int blocksize;		/* bytes */
	u64 blocks;			/* filesystem size in blocks */
	u32 id;				/* snapshot id */
};

/*
 * Check that @file is a snapshot file that can be read (active, not
 * broken) and count a reader. Returns a referenced snapshot or ERR_PTR:
 * -EINVAL not a snapshot file, -EIO broken, -ENODATA a snapshot file
 * that is not followed (left from an earlier mount, or being deleted).
 */
struct ext3snap_snap *ext3snap_bind(struct file *file);
void ext3snap_unbind(struct ext3snap_snap *snap);
void ext3snap_geometry(struct ext3snap_snap *snap,
		       struct ext3snap_geometry *geo);

/*
 * Read @nr blocks from @block on as they were at the snapshot instant.
 * Each vecs[i] describes exactly one block-sized, in-page destination.
 * Sleeps; returns 0 or -EIO (I/O error, or the snapshot broke).
 */
int ext3snap_read(struct ext3snap_snap *snap, u64 block, unsigned int nr,
		  const struct bio_vec *vecs);

#endif /* _EXT3SNAP_READ_H */
