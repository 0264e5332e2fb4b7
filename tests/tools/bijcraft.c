// SPDX-License-Identifier: GPL-2.0
/*
 * bijcraft: make snapshot files and before-image journal records in an
 * unmounted ext3 image, for the host tests of fsck.ext3snap.
 *
 *   bijcraft [-s INO] IMG COMMAND ...: -s picks the snapshot inode that
 *   record, poke, bmap and header work on (default: s_snapshot_inum)
 *
 *   bijcraft IMG snapshot NAME ID LEN   make a snapshot; prints its inode
 *   bijcraft IMG chain NAME ID LEN [deleting]
 *                                a snapshot on top of the chain, with the
 *                                xattr (x_prev: the former newest); prints
 *                                its inode
 *   bijcraft IMG take NAME ID LEN [exclude]
 *                                take a snapshot as the kernel does: its
 *                                image is IMG as it was before (the blocks
 *                                the take rewrites are saved in its file);
 *                                exclude: with an exclude map; prints its
 *                                inode
 *   bijcraft IMG mkfile NAME NBLOCKS BYTE
 *   bijcraft IMG rm NAME         change the origin (a file in the root
 *                                directory) under copy-on-write for the
 *                                newest snapshot, as the kernel's hooks
 *   bijcraft IMG member NAME ID LEN PREV
 *                                a snapshot file with the xattr (ID, PREV)
 *                                the superblock does not name
 *   bijcraft IMG xattr INO ID PREV FLAGS   set INO's xattr trusted.ext3snap
 *   bijcraft IMG xattr-raw INO MAGIC LEN   ... to LEN bytes with MAGIC
 *   bijcraft IMG xattr-rm INO    remove it
 *   bijcraft IMG xattr-get INO   print it: id= prev= flags=, or "none"
 *   bijcraft IMG record POS SEQ ENTRY...  write a record; ENTRY is
 *        copy:BLOCK:BYTE       block BLOCK held 4096 bytes of value BYTE
 *        move:BLOCK:LEN:TID    freed by tid TID; TID 'c' is a committed
 *                              tid, 'u' one that did not commit
 *   bijcraft IMG orphan          mark a free block used, owned by nobody
 *                                (as the origin leaves a moved block);
 *                                prints it
 *   bijcraft IMG poke POS OFF    flip the bits of byte OFF of journal
 *                                block POS
 *   bijcraft IMG bmap LBLK       physical block of the snapshot's LBLK
 *   bijcraft IMG header          print the journal header's fields
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bij-craft.h"

static void die(const char *what, errcode_t err)
{
	fprintf(stderr, "bijcraft: %s: %s\n", what, error_message(err));
	exit(2);
}

/* The tid of a move: 'c' committed, 'u' not, else a number. */
static __u32 parse_tid(ext2_filsys fs, const char *s)
{
	char msg[E3S_MSG_LEN];
	__u32 seq;
	int recovery;

	if (strcmp(s, "c") && strcmp(s, "u"))
		return strtoul(s, NULL, 0);
	if (e3s_journal_state(fs, &seq, &recovery, msg)) {
		fprintf(stderr, "bijcraft: %s\n", msg);
		exit(2);
	}
	/* A clean journal: seq is the next tid, the one before committed. */
	return s[0] == 'c' ? seq - 1 : seq;
}

int main(int argc, char **argv)
{
	struct craft_entry e[EXT3SNAP_BIJ_PER_DESC];
	static char data[EXT3SNAP_BIJ_PER_DESC][EXT3SNAP_BLOCK_SIZE];
	char buf[EXT3SNAP_BLOCK_SIZE], msg[E3S_MSG_LEN];
	ext2_ino_t ino;
	ext2_filsys fs;
	errcode_t err;
	int i, n = 0;

	ext2_ino_t pick = 0;
	struct e3s_snap_x x;

	if (argc > 3 && !strcmp(argv[1], "-s")) {
		pick = strtoul(argv[2], NULL, 0);
		argv += 2;
		argc -= 2;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of bijcraft.c\n");
		return 2;
	}
	err = craft_open(argv[1], &fs);
	if (err)
		die(argv[1], err);
	ino = pick ? pick : fs->super->s_snapshot_inum;
	if (!strcmp(argv[2], "chain") && (argc == 6 || argc == 7)) {
		err = craft_chain(fs, argv[3], strtoul(argv[4], NULL, 0),
				  strtoul(argv[5], NULL, 0),
				  argc == 7 ? EXT3SNAP_X_DELETING : 0, &ino);
		if (err)
			die("chain", err);
		printf("%u\n", ino);
	} else if (!strcmp(argv[2], "take") && (argc == 6 || argc == 7)) {
		err = craft_take(fs, argv[3], strtoul(argv[4], NULL, 0),
				 strtoul(argv[5], NULL, 0), argc == 7, &ino);
		if (err)
			die("take", err);
		printf("%u\n", ino);
	} else if (!strcmp(argv[2], "mkfile") && argc == 6) {
		err = craft_mkfile(fs, argv[3], strtoul(argv[4], NULL, 0),
				   strtol(argv[5], NULL, 0), &ino);
		if (err)
			die("mkfile", err);
	} else if (!strcmp(argv[2], "rm") && argc == 4) {
		err = craft_rm(fs, argv[3]);
		if (err)
			die("rm", err);
	} else if (!strcmp(argv[2], "member") && argc == 7) {
		err = craft_member(fs, argv[3], strtoul(argv[4], NULL, 0),
				   strtoul(argv[5], NULL, 0),
				   strtoul(argv[6], NULL, 0), 0, &ino);
		if (err)
			die("member", err);
		printf("%u\n", ino);
	} else if (!strcmp(argv[2], "xattr") && argc == 7) {
		x = (struct e3s_snap_x){ .id = strtoul(argv[4], NULL, 0),
					 .prev = strtoul(argv[5], NULL, 0),
					 .flags = strtoul(argv[6], NULL, 0) };
		if (e3s_snap_xattr_set(fs, strtoul(argv[3], NULL, 0), &x,
				       msg)) {
			fprintf(stderr, "bijcraft: %s\n", msg);
			return 2;
		}
	} else if (!strcmp(argv[2], "xattr-raw") && argc == 6) {
		struct ext3snap_xattr raw[2];
		size_t len = strtoul(argv[5], NULL, 0);

		memset(raw, 0, sizeof(raw));
		raw[0].x_magic = ext2fs_cpu_to_le32(strtoul(argv[4], NULL, 0));
		raw[0].x_id = ext2fs_cpu_to_le32(1);
		if (len > sizeof(raw))
			len = sizeof(raw);
		err = craft_xattr_raw(fs, strtoul(argv[3], NULL, 0), raw, len);
		if (err)
			die("xattr-raw", err);
	} else if (!strcmp(argv[2], "xattr-rm") && argc == 4) {
		if (e3s_snap_xattr_remove(fs, strtoul(argv[3], NULL, 0), msg)) {
			fprintf(stderr, "bijcraft: %s\n", msg);
			return 2;
		}
	} else if (!strcmp(argv[2], "xattr-get") && argc == 4) {
		i = e3s_snap_xattr_get(fs, strtoul(argv[3], NULL, 0), &x, msg);
		if (i < 0) {
			fprintf(stderr, "bijcraft: %s\n", msg);
			return 1;
		}
		if (i)
			printf("id=%u prev=%u flags=%u\n", x.id, x.prev,
			       x.flags);
		else
			printf("none\n");
	} else if (!strcmp(argv[2], "snapshot") && argc == 6) {
		err = craft_snapshot(fs, argv[3], strtoul(argv[4], NULL, 0),
				     strtoul(argv[5], NULL, 0), &ino);
		if (err)
			die("snapshot", err);
		printf("%u\n", ino);
	} else if (!strcmp(argv[2], "record") && argc >= 6) {
		for (i = 5; i < argc && n < (int)EXT3SNAP_BIJ_PER_DESC; i++) {
			char *f[4] = { NULL }, *p = argv[i];
			int k = 0;

			while (k < 4 && (f[k] = strsep(&p, ":")))
				k++;
			memset(&e[n], 0, sizeof(e[n]));
			e[n].block = strtoull(f[1] ? f[1] : "0", NULL, 0);
			if (!strcmp(f[0], "copy") && k == 3) {
				e[n].kind = EXT3SNAP_BIJ_COPY;
				memset(data[n], strtol(f[2], NULL, 0),
				       EXT3SNAP_BLOCK_SIZE);
				e[n].data = data[n];
			} else if (!strcmp(f[0], "move") && k == 4) {
				e[n].kind = EXT3SNAP_BIJ_MOVE;
				e[n].len = strtoul(f[2], NULL, 0);
				e[n].tid = parse_tid(fs, f[3]);
			} else {
				fprintf(stderr, "bijcraft: bad entry %s\n",
					argv[i]);
				return 2;
			}
			n++;
		}
		err = craft_record(fs, ino, strtoul(argv[3], NULL, 0),
				   strtoull(argv[4], NULL, 0), e, n);
		if (err)
			die("record", err);
	} else if (!strcmp(argv[2], "orphan") && argc == 3) {
		blk64_t blk;

		err = ext2fs_read_bitmaps(fs);
		if (!err)
			err = ext2fs_new_block2(fs, 0, NULL, &blk);
		if (err)
			die("orphan", err);
		ext2fs_block_alloc_stats2(fs, blk, +1);
		printf("%llu\n", (unsigned long long)blk);
	} else if (!strcmp(argv[2], "poke") && argc == 5) {
		__u32 pos = strtoul(argv[3], NULL, 0);

		err = craft_bij_io(fs, ino, pos, buf, 0);
		if (!err) {
			buf[strtoul(argv[4], NULL, 0) % sizeof(buf)] ^= 0xff;
			err = craft_bij_io(fs, ino, pos, buf, 1);
		}
		if (err)
			die("poke", err);
	} else if (!strcmp(argv[2], "bmap") && argc == 4) {
		struct ext2_inode inode;
		blk64_t pblk = 0;

		err = ext2fs_read_inode(fs, ino, &inode);
		if (!err)
			err = ext2fs_bmap2(fs, ino, &inode, NULL, 0,
					   strtoull(argv[3], NULL, 0), NULL,
					   &pblk);
		if (err)
			die("bmap", err);
		printf("%llu\n", (unsigned long long)pblk);
	} else if (!strcmp(argv[2], "header") && argc == 3) {
		struct e3s_bij_hdr h;

		if (e3s_bij_read_header(fs, ino, &h, msg)) {
			fprintf(stderr, "bijcraft: %s\n", msg);
			return 1;
		}
		printf("snap_id=%u flags=%u len=%u tail_pos=%u tail_seq=%llu\n",
		       h.snap_id, h.flags, h.len, h.tail_pos,
		       (unsigned long long)h.tail_seq);
	} else {
		fprintf(stderr, "bijcraft: bad arguments; see bijcraft.c\n");
		return 2;
	}
	err = ext2fs_close_free(&fs);
	if (err)
		die("close", err);
	return 0;
}
