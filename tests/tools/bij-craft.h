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

/*
 * Map logical block LBLK of snapshot INO to a new block holding DATA (a
 * copy, as the flusher links one), or to LBLK itself, marked in use (a
 * moved block). 0 or an error.
 */
errcode_t craft_save(ext2_filsys fs, ext2_ino_t ino, blk64_t lblk,
		     const void *data);
errcode_t craft_move(ext2_filsys fs, ext2_ino_t ino, blk64_t lblk);

/*
 * Copy-on-write around a change of the origin made with libext2fs, as the
 * kernel's hooks would do it. craft_cow_begin remembers the blocks the
 * newest snapshot (s_snapshot_inum) had in use at its instant and has not
 * saved (or, with TAKE, every block in use now but the jbd2 journal's and
 * those in EXCLUDE (may be NULL): a snapshot about to be taken); *COW is
 * NULL if there is nothing to keep. craft_cow_end saves into INO every
 * such block the change rewrote (a copy) or freed (a move), until the
 * saves change nothing more, and frees COW.
 */
struct craft_cow;
errcode_t craft_cow_begin(ext2_filsys fs, int take, ext2fs_block_bitmap exclude,
			  struct craft_cow **cow);
errcode_t craft_cow_end(ext2_filsys fs, ext2_ino_t ino, struct craft_cow *cow);

/*
 * Take a snapshot as the kernel does (craft_chain, under copy-on-write):
 * its image is FS as it was before the call. With EXCLUDE, the file has
 * an exclude map of every snapshot file's data blocks (EXT3SNAP_BIJ_EXCLUDE).
 */
errcode_t craft_take(ext2_filsys fs, const char *name, __u32 id, __u32 len,
		     int exclude, ext2_ino_t *ino);

/*
 * Change the origin under copy-on-write for the newest snapshot: a file
 * NAME in the root directory of NBLOCKS blocks, each all BYTE; remove NAME.
 */
errcode_t craft_mkfile(ext2_filsys fs, const char *name, unsigned int nblocks,
		       int byte, ext2_ino_t *ino);
errcode_t craft_rm(ext2_filsys fs, const char *name);

#endif /* BIJ_CRAFT_H */
