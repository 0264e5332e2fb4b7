/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libext3snap: what the ext3snap tools share: on-disk parsing (on
 * libext2fs), and finding the mount a path lives on.
 */
#ifndef LIBEXT3SNAP_H
#define LIBEXT3SNAP_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <ext2fs/ext2fs.h>

/* Size of the message buffers the functions below fill on failure. */
#define E3S_MSG_LEN 512

/*
 * Open the filesystem on DEV (read-only unless RW). On failure returns the
 * libext2fs error code and leaves a sentence in MSG.
 */
errcode_t e3s_open(const char *dev, int rw, ext2_filsys *fs, char *msg);

/*
 * Is FS of a format ext3snap handles (ext3: journal, no ext4-only
 * feature)? Returns 0 if so, else -1 with the reason, naming the first
 * offending feature, in MSG.
 */
int e3s_check_format(ext2_filsys fs, char *msg);

/* The same check for the filesystem on DEV, opening and closing it. */
int e3s_check_device(const char *dev, char *msg);

/* ---- mounts and paths (mount.c) ---------------------------------------- */

/*
 * One line of /proc/self/mountinfo (see proc(5)). The strings point into
 * the parsed line; root, mountpoint and source are unescaped (\040 -> ' ').
 */
struct e3s_mount {
	char *buf;		/* owns the strings (e3s_find_mount) or NULL */
	unsigned int major, minor;
	char *root;		/* path inside the filesystem that is mounted */
	char *mountpoint;
	char *mount_opts;	/* per-mount options, e.g. "rw,relatime" */
	char *fstype;		/* e.g. "ext3snap" */
	char *source;		/* e.g. "/dev/vda" */
	char *super_opts;	/* filesystem options, e.g. "rw,data=ordered" */
};

/* Parse LINE in place into *M (M->buf stays NULL). 0, or -1 if malformed. */
int e3s_mountinfo_parse(char *line, struct e3s_mount *m);

/*
 * The mount PATH (absolute, symlinks resolved, or NULL) lives on, given
 * DEV, the st_dev of PATH: among the lines of MOUNTINFO for DEV, the one
 * whose mount point is the longest prefix of PATH (the last one on ties:
 * it is mounted on top); without a line for DEV, the longest prefix alone.
 * 0 with *M filled (free it with e3s_mount_free), or -1 with errno
 * (ENOENT: no such mount).
 */
int e3s_find_mount(FILE *mountinfo, dev_t dev, const char *path,
		   struct e3s_mount *m);
void e3s_mount_free(struct e3s_mount *m);

/*
 * Length of directory DIR if PATH is DIR or below it (whole components),
 * else -1. Both absolute, without "." or ".." components.
 */
int e3s_path_under(const char *dir, const char *path);

/* Is OPT one of the comma-separated options OPTS ("ro", "data=journal")? */
int e3s_has_option(const char *opts, const char *opt);

/*
 * Split the path of a snapshot file into its directory DIR (DIRLEN bytes;
 * "." for a bare name) and NAME (EXT3SNAP_NAME_LEN bytes). NAME must be a
 * plain name: not empty, not "." or "..", at most 255 bytes. 0, or -1 with
 * the reason in MSG.
 */
int e3s_split_path(const char *path, char *dir, size_t dirlen, char *name,
		   char *msg);

/* "active", "broken", "inactive" for an enum ext3snap_snap_state. */
const char *e3s_state_name(unsigned int state);

/* ---- the before-image journal of a snapshot (bij.c) -------------------- */

/*
 * A BIJ header (struct ext3snap_bij_header) in CPU byte order. See
 * Documentation/ext3snap-format.md, "Before-image journal (BIJ)".
 */
struct e3s_bij_hdr {
	__u32 snap_id;
	__u32 flags;		/* EXT3SNAP_BIJ_* */
	__u64 image_blocks;	/* I: the journal starts at logical block I */
	__u32 len;		/* L: blocks, header included */
	__u32 tail_pos;		/* ring position 1 .. L-1 */
	__u64 tail_seq;
};

/*
 * crc32c (seed ~0, not inverted) of a 4096-byte BIJ block, with the four
 * bytes at CRC_OFF counted as zero; CRC_OFF (size_t)-1 for a data block.
 */
__u32 e3s_bij_block_crc(const void *block, size_t crc_off);

/* Fill the 4096-byte BLOCK with header H, checksum included. */
void e3s_bij_encode_header(const struct e3s_bij_hdr *h, void *block);

/*
 * Read the BIJ header of snapshot inode INO and check it: magic, version,
 * checksum, image size = s_blocks_count, a sane length and tail, i_size =
 * (image + length + exclude map) blocks. 0, or -1 with what is wrong in MSG.
 */
int e3s_bij_read_header(ext2_filsys fs, ext2_ino_t ino,
			struct e3s_bij_hdr *h, char *msg);

/*
 * Blocks of the exclude map that follows the journal (one per group; 0
 * without EXT3SNAP_BIJ_EXCLUDE): see the format document.
 */
__u64 e3s_exclude_len(ext2_filsys fs, const struct e3s_bij_hdr *h);

/* Write header H (its checksum computed). 0, or -1 with MSG. */
int e3s_bij_write_header(ext2_filsys fs, ext2_ino_t ino,
			 const struct e3s_bij_hdr *h, char *msg);

/* Set the BROKEN flag in the header. 0, or -1 with MSG. */
int e3s_bij_mark_broken(ext2_filsys fs, ext2_ino_t ino, char *msg);

/* jbd2's tid_gt: is transaction TID before BOUND (wrap-safe)? */
static inline int e3s_tid_before(__u32 tid, __u32 bound)
{
	return (__s32)(bound - tid) > 0;
}

/* How a scan of the journal ended. */
enum e3s_bij_end {
	E3S_BIJ_END_CLEAN,	/* no further record: the normal end */
	E3S_BIJ_END_TORN,	/* the last record is not whole: written
				 * when the system went down; dropped */
	E3S_BIJ_END_CORRUPT,	/* a record is damaged or missing while
				 * later ones exist: the snapshot lost it */
};

struct e3s_bij_result {
	unsigned int records;		/* valid records found */
	__u64 copies;			/* their copy entries */
	__u64 copies_new;		/* ... not in the file yet: written */
	__u64 moved;			/* blocks their moves name */
	__u64 moved_new;		/* ... committed, not mapped yet: mapped */
	__u64 moved_uncommitted;	/* ... left alone: tid not committed
					 * (or E3S_BIJ_TID_UNKNOWN) */
	__u32 end_pos;			/* the new tail: past the last valid */
	__u64 end_seq;			/*   record */
	int end;			/* enum e3s_bij_end */
	char why[E3S_MSG_LEN];		/* TORN, CORRUPT: what is wrong */
};

#define E3S_BIJ_DRY_RUN		0x1	/* write nothing; count what would be */
#define E3S_BIJ_TID_UNKNOWN	0x2	/* which tids committed is not known */
#define E3S_BIJ_RESERVE_ONLY	0x4	/* only mark the blocks of committed
					 * moves in use (in memory), before
					 * replaying the journals of several
					 * snapshots: no copy may take one */

/*
 * Replay the BIJ of snapshot inode INO into the file: scan from the tail,
 * apply each valid record (copies not yet in the file are written to new
 * blocks and mapped; blocks of moves whose tid is before FIRST_UNCOMMITTED
 * are mapped N -> N), zero the descriptor of a torn last record, and set
 * the tail past the last valid record. FS must be open read-write unless
 * E3S_BIJ_DRY_RUN. Idempotent. A damaged journal is not an error here: it
 * is reported in R->end and R->why (marking the snapshot broken is the
 * caller's choice). 0, or -1 with MSG (bad header, I/O, no space).
 */
int e3s_bij_replay(ext2_filsys fs, ext2_ino_t ino, __u32 first_uncommitted,
		   int flags, struct e3s_bij_result *r, char *msg);

/*
 * Map logical block LBLK of snapshot file INO (INODE, written back by the
 * caller) to PBLK, allocating indirect blocks, and count it in i_blocks.
 * PBLK must be marked in use already. 0 or a libext2fs error.
 */
errcode_t e3s_snap_map(ext2_filsys fs, ext2_ino_t ino,
		       struct ext2_inode *inode, blk64_t lblk, blk64_t pblk);

/*
 * Told each entry of each valid record by e3s_bij_walk, in journal order:
 * KIND is EXT3SNAP_BIJ_COPY (LEN 1, DATA its before-image) or _MOVE (DATA
 * NULL; COMMITTED: its transaction committed, as replay decides). A
 * non-zero return stops the walk (it then fails).
 */
typedef int (*e3s_bij_entry_fn)(void *arg, int kind, __u64 block, __u32 len,
				int committed, const void *data);

/*
 * What e3s_bij_replay would replay, without writing anything: FN is told
 * every entry of every valid record (already in the file or not), and R
 * says where the journal ends. 0, or -1 with MSG.
 */
int e3s_bij_walk(ext2_filsys fs, ext2_ino_t ino, __u32 first_uncommitted,
		 int flags, e3s_bij_entry_fn fn, void *arg,
		 struct e3s_bij_result *r, char *msg);

/*
 * The internal jbd2 journal of FS: its superblock's s_sequence, and
 * whether it needs recovery. The first transaction id that did not commit
 * is SEQUENCE for a journal that needed no recovery, and SEQUENCE - 1
 * right after a recovery (jbd2 and e2fsck restart the log one id past the
 * first incomplete transaction). 0, or -1 with MSG.
 */
int e3s_journal_state(ext2_filsys fs, __u32 *sequence, int *recovery,
		      char *msg);

/* ---- listing snapshots (list.c) ---------------------------------------- */

struct ext3snap_ioc_snapinfo;

/*
 * Every snapshot of the filesystem FD is on (EXT3SNAP_IOC_LIST), newest
 * first, growing the array while the kernel answers E2BIG. 0 with *SNAPS
 * (free it) and *COUNT set, or -1 with errno (the ioctl's).
 */
int e3s_list_snapshots(int fd, struct ext3snap_ioc_snapinfo **snaps,
		       unsigned int *count);

/*
 * The path of the snapshot file described by SI, found by opening its
 * directory by handle (open_by_handle_at on MOUNT_FD, which needs
 * CAP_DAC_READ_SEARCH) and scanning it for the inode. 0 with the path in
 * BUF, or -1 with errno (ESTALE: the directory is gone, ENOENT: no such
 * entry in it, ENAMETOOLONG: BUF is too small).
 */
int e3s_snap_path(int mount_fd, __u32 ino, __u32 parent_ino,
		  __u32 parent_generation, char *buf, size_t len);

/*
 * BYTES in binary units with one decimal, "0 B", "512 B", "4.0 KiB",
 * "12.3 MiB", "1.5 GiB", "2.0 TiB". Returns BUF.
 */
char *e3s_human_size(__u64 bytes, char *buf, size_t len);

/* Room for e3s_human_size and e3s_format_time. */
#define E3S_FMT_LEN 40

/*
 * T (seconds since the epoch) in local time: "2026-11-03 14:05:09" for
 * E3S_TIME_TEXT, "2026-11-03T14:05:09+0100" for E3S_TIME_ISO. Returns BUF.
 */
#define E3S_TIME_TEXT	0
#define E3S_TIME_ISO	1
char *e3s_format_time(__u64 t, int style, char *buf, size_t len);

/*
 * S as a JSON string, quotes included. Bytes that are not UTF-8 are
 * written as \udc80 .. \udcff, the code points Python's surrogateescape
 * uses, so that the exact bytes of a file name can be recovered
 * (os.fsencode in Python).
 */
void e3s_json_string(FILE *out, const char *s);

/* One line of the listing of e3snapconfig -l. */
struct e3s_snap_row {
	const char *path;	/* the snapshot file, or NULL if not found */
	__u32 ino, generation;	/* of the snapshot file */
	__u32 id;
	__u32 state;		/* enum ext3snap_snap_state */
	__u64 time;		/* seconds since the epoch */
	__u64 file_blocks;	/* blocks the file holds */
	__u32 bound;		/* ssdev devices reading it */
	unsigned int ndev;	/* of them, found: /dev/ssdev/<devs[i]> */
	const unsigned int *devs;
};

/*
 * The listing as a table with a header line (header only for N = 0), or
 * as a JSON array of objects (with exact numbers: blocks and bytes).
 * BLOCK_SIZE is the filesystem's.
 */
void e3s_list_text(FILE *out, const struct e3s_snap_row *rows, unsigned int n,
		   unsigned int block_size);
void e3s_list_json(FILE *out, const struct e3s_snap_row *rows, unsigned int n,
		   unsigned int block_size);

/*
 * The progress line of a delete, without its leading "\r":
 * "deleting FILE: N MiB of M MiB freed", FREED clamped to [0, TOTAL].
 */
void e3s_delete_progress(const char *file, __s64 freed, __u64 total,
			 char *buf, size_t len);

/* ---- the chain of snapshots (chain.c) ----------------------------------- */

/* The xattr trusted.ext3snap (struct ext3snap_xattr) in CPU byte order. */
struct e3s_snap_x {
	__u32 id;
	__u32 prev;		/* next older snapshot's inode, or 0 */
	__u32 flags;		/* EXT3SNAP_X_DELETING */
	__u64 time;
	__u32 parent, parent_gen;
};

/*
 * Read the trusted.ext3snap xattr of inode INO: 1 with *X filled, 0 if the
 * inode has none (or the filesystem has no xattrs), -1 if it cannot be
 * read or is not valid (length, magic), with what is wrong in MSG.
 */
int e3s_snap_xattr_get(ext2_filsys fs, ext2_ino_t ino, struct e3s_snap_x *x,
		       char *msg);

/* Write (replace) the xattr of INO from X. 0, or -1 with MSG. */
int e3s_snap_xattr_set(ext2_filsys fs, ext2_ino_t ino,
		       const struct e3s_snap_x *x, char *msg);

/* Remove the xattr of INO, if it has one. 0, or -1 with MSG. */
int e3s_snap_xattr_remove(ext2_filsys fs, ext2_ino_t ino, char *msg);

/*
 * Is INO an in-use regular file with EXT3SNAP_SNAPFILE_FL? 0 with *INODE
 * read, or -1 with the reason in MSG (a phrase: "a directory", ...). The
 * inode bitmap must have been read.
 */
int e3s_snap_inode_check(ext2_filsys fs, ext2_ino_t ino,
			 struct ext2_inode *inode, char *msg);

struct e3s_chain_member {
	ext2_ino_t ino;
	__u32 id;
	int has_x;		/* 0: a head without the xattr (the format
				 * before chains): a chain of one */
	struct e3s_snap_x x;	/* if has_x */
};

enum e3s_chain_end {
	E3S_CHAIN_OK,		/* walked to an x_prev of 0 */
	E3S_CHAIN_NOT_SNAPFILE,	/* s_snapshot_inum or an x_prev names an
				 * inode that is not a snapshot file */
	E3S_CHAIN_BAD_XATTR,	/* a member's xattr is missing or invalid */
	E3S_CHAIN_LOOP,		/* an x_prev names a member again */
	E3S_CHAIN_ID_ORDER,	/* ids do not decrease along the chain */
};

/*
 * The chain of snapshots of FS, newest first, as far as it can be read:
 * M[0 .. N-1] are snapshot files with valid xattrs (or the compatible
 * head) and strictly decreasing ids. END says why the walk stopped; if not
 * E3S_CHAIN_OK, BAD_INO is the inode it could not take (named by the
 * superblock if N is 0, else by M[N-1]'s x_prev) and WHY says what is
 * wrong, naming the snapshots.
 */
struct e3s_chain {
	struct e3s_chain_member *m;
	unsigned int n;
	int end;			/* enum e3s_chain_end */
	ext2_ino_t bad_ino;
	char why[2 * E3S_MSG_LEN];	/* room for a nested message */
};

/*
 * Walk the chain from s_snapshot_inum (reads the bitmaps). The walk is
 * bounded (each inode once). 0 (a damaged chain too: see C->end), or -1
 * with MSG if it could not run (no memory, I/O). Free with e3s_chain_free.
 */
int e3s_chain_walk(ext2_filsys fs, struct e3s_chain *c, char *msg);
void e3s_chain_free(struct e3s_chain *c);

/* Is INO a member of chain C? */
int e3s_chain_has(const struct e3s_chain *c, ext2_ino_t ino);

/*
 * Every in-use inode carrying EXT3SNAP_SNAPFILE_FL, in inode order, in a
 * new array *INOS of *N (free with free()). 0, or -1 with MSG.
 */
int e3s_snapfiles(ext2_filsys fs, ext2_ino_t **inos, unsigned int *n,
		  char *msg);

/* ---- copy-before-write offline (cow.c, cow_io.c) ------------------------ */

/*
 * What fsck.ext3snap and its e2fsck write must not change the newest
 * snapshot's image: each block that snapshot still reads from the origin
 * is saved in its before-image journal (a copy record, flushed) before
 * its first change. The state is a shared memory file, so that the e2fsck
 * child (through the shim) and fsck.ext3snap keep one journal head and
 * one set of blocks still to save. See lib/cow.c.
 */
struct e3s_cow;

/* Raw block I/O on the device, in EXT3SNAP_BLOCK_SIZE blocks: 0 or -errno. */
struct e3s_cow_dev {
	int (*read)(void *ctx, __u64 block, void *buf);
	int (*write)(void *ctx, __u64 block, const void *buf);
	int (*flush)(void *ctx);	/* written blocks durable */
	void *ctx;
};

/*
 * Protect the image of snapshot inode INO (the newest) of FS: the blocks
 * in use at its instant (its snapshot-time bitmaps, less its exclude map
 * and the jbd2 journal's data blocks) that its file does not map and its
 * journal does not hold yet. FIRST_UNCOMMITTED and FLAGS
 * (E3S_BIJ_TID_UNKNOWN) as for e3s_bij_replay. 0 with *COW (NULL if the
 * snapshot is broken, sealed or has a damaged journal: nothing to keep),
 * or -1 with MSG.
 */
int e3s_cow_setup(ext2_filsys fs, ext2_ino_t ino, __u32 first_uncommitted,
		  int flags, struct e3s_cow **cow, char *msg);

/* The shared file, for a child to e3s_cow_attach() (not close-on-exec). */
int e3s_cow_fd(const struct e3s_cow *c);

/* The state set up by another process, from its file FD. NULL with MSG. */
struct e3s_cow *e3s_cow_attach(int fd, char *msg);

void e3s_cow_free(struct e3s_cow *c);

/*
 * Before LEN bytes of DATA are written at byte OFF of the device: journal
 * the old contents of each block that needs it and that the write
 * changes, and flush. If that fails (the journal is full, an I/O error),
 * the snapshot is marked broken first. Either way the write may go on
 * when this returns. C may be NULL.
 */
int e3s_cow_before_write(struct e3s_cow *c, const struct e3s_cow_dev *dev,
			 __u64 off, __u64 len, const void *data);

/* The journal was replayed up to ring position TAIL_POS. */
void e3s_cow_linked(struct e3s_cow *c, __u32 tail_pos);

/* Are there records written since the last e3s_cow_linked()? */
int e3s_cow_pending(const struct e3s_cow *c);

/* Was the snapshot marked broken? 1 with *WHY, else 0. */
int e3s_cow_broken(const struct e3s_cow *c, const char **why);

/* Blocks saved so far. */
__u64 e3s_cow_saved(const struct e3s_cow *c);

/* Does BLOCK still need saving before it changes? */
int e3s_cow_needs(const struct e3s_cow *c, __u64 block);

/* BLOCK is the snapshot's now (moved to it): never save it. */
void e3s_cow_forget(struct e3s_cow *c, __u64 block);

/*
 * unix_io with every write shown to the state set by e3s_cow_io_use()
 * first (none: plain unix_io). For ext2fs_open().
 */
extern io_manager e3s_cow_io_manager;
void e3s_cow_io_use(struct e3s_cow *c);

/* ---- a snapshot's image (image.c) ---------------------------------------- */

/*
 * A snapshot's image read from the unmounted filesystem with the kernel's
 * rules (fs/ext3snap/read.c): see Documentation/design.md, "Reading a
 * snapshot". What before-image journals hold and their files do not map
 * yet is not seen (the kernel would hold it in memory): replay first, or
 * do not trust the image of a snapshot whose journal, or a newer one's,
 * holds such copies.
 */
struct e3s_image;

/*
 * Open the image of snapshot C->m[IDX] of chain C (e3s_chain_walk; its
 * newer snapshots, C->m[0 .. IDX-1], are read through). FS stays open
 * while the image is. The origin's current block bitmap is FS's in memory
 * while the walk reads the device: a caller that changed FS flushes it
 * first (ext2fs_flush). 0, or -1 with MSG.
 */
int e3s_image_open(ext2_filsys fs, const struct e3s_chain *c,
		   unsigned int idx, struct e3s_image **img, char *msg);
void e3s_image_close(struct e3s_image *img);

/* Blocks of the image (the filesystem's s_blocks_count). */
blk64_t e3s_image_blocks(const struct e3s_image *img);

/* Read NR blocks of the image from BLOCK into BUF. 0 or a libext2fs error. */
errcode_t e3s_image_read(struct e3s_image *img, blk64_t block,
			 unsigned int nr, void *buf);

/*
 * A read-only io_manager over open images: ext2fs_open(e3s_image_name(img),
 * ..., e3s_image_io_manager, &ifs) opens the image as a filesystem
 * (e3s_image_open_fs does just that). Close it before the image.
 */
extern io_manager e3s_image_io_manager;
const char *e3s_image_name(const struct e3s_image *img);
errcode_t e3s_image_open_fs(struct e3s_image *img, ext2_filsys *ifs);

/* What e3s_image_check found. */
struct e3s_image_check {
	__u64 not_owned;	/* "-": in use in the bitmap, owned by nothing */
	__u64 not_marked;	/* "+": owned, free in the bitmap */
	unsigned int groups_wrong;	/* groups whose free count is not
					 * their bitmap's */
	unsigned int bad_maps;	/* inodes or group descriptors naming blocks
				 * outside the filesystem, or block maps
				 * that cannot be read */
	__u64 sb_free;		/* the superblock's free blocks count, and */
	__u64 sb_counted;	/* the bitmap's: not damage when they differ
				 * (the kernel updates it lazily; e2fsck
				 * does not count it as an error either) */
};

/* Is the image damaged? */
static inline int e3s_image_damaged(const struct e3s_image_check *r)
{
	return r->not_owned || r->not_marked || r->groups_wrong ||
	       r->bad_maps;
}

typedef void (*e3s_image_say_fn)(void *arg, const char *line);

/*
 * Check the image IFS (or any filesystem) as e2fsck -n's pass 5 would,
 * in one pass over its in-use inodes: its block bitmap against the blocks
 * owned (every in-use inode's blocks and xattr block, the superblocks and
 * group descriptors, bitmaps and inode tables), and each group's free
 * count against its bitmap. Each finding is a line passed to FN (ARG), as
 * "block bitmap differences: -(164419--164421) +5000" or "free blocks
 * count wrong for group #5 (32189, counted=32186)". 0 with *R filled, or
 * the libext2fs error that stopped it, with MSG.
 */
errcode_t e3s_image_check(ext2_filsys ifs, struct e3s_image_check *r,
			  e3s_image_say_fn fn, void *arg, char *msg);

#endif /* LIBEXT3SNAP_H */
