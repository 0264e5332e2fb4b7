/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crafting snapshots and before-image journals with libext2fs, the way
 * the kernel lays them out, for tests (tests/unit/test_bij.c and the
 * bijcraft helper of the host tests).
 */
#ifndef BIJ_CRAFT_H
#define BIJ_CRAFT_H

#include "ext3snap.h"
#include "libext3snap.h"

struct craft_entry {
	int kind;		/* EXT3SNAP_BIJ_COPY or _MOVE */
	__u64 block;
	__u32 len;		/* move */
	__u32 tid;		/* move */
	const void *data;	/* copy: 4096 bytes */
};

/*
 * Make a snapshot file NAME in the root directory of FS (open read-write):
 * mode 0400, the snapshot flag, size (image + LEN) blocks, its journal
 * blocks allocated and a header (tail 1, sequence 1) written; the
 * superblock names it (s_snapshot_inum, s_snapshot_id = ID, the
 * has_snapshot flag). 0 or a libext2fs error.
 */
errcode_t craft_snapshot(ext2_filsys fs, const char *name, __u32 id,
			 __u32 len, ext2_ino_t *ino);

/*
 * A snapshot on top of the chain, as the kernel takes one from issue 5
 * on: like craft_snapshot, and the file carries the xattr trusted.ext3snap
 * (ID, x_prev = the current s_snapshot_inum, X_FLAGS). 0 or an error.
 */
errcode_t craft_chain(ext2_filsys fs, const char *name, __u32 id, __u32 len,
		      __u32 x_flags, ext2_ino_t *ino);

/*
 * A snapshot file with its journal and the xattr (ID, PREV, X_FLAGS) that
 * the superblock does not name (for broken chains). 0 or an error.
 */
errcode_t craft_member(ext2_filsys fs, const char *name, __u32 id, __u32 len,
		       __u32 prev, __u32 x_flags, ext2_ino_t *ino);

/* Set the xattr trusted.ext3snap of INO to the LEN bytes at VAL, as is. */
errcode_t craft_xattr_raw(ext2_filsys fs, ext2_ino_t ino, const void *val,
			  size_t len);

/* Write a whole record SEQ of N entries at ring position POS. */
errcode_t craft_record(ext2_filsys fs, ext2_ino_t ino, __u32 pos, __u64 seq,
		       const struct craft_entry *e, int n);

/* Read or write journal block POS (0: the header). */
errcode_t craft_bij_io(ext2_filsys fs, ext2_ino_t ino, __u32 pos, void *buf,
		       int write);

/* Open IMG read-write whatever its ro_compat flags say. */
errcode_t craft_open(const char *img, ext2_filsys *fs);

#endif /* BIJ_CRAFT_H */
