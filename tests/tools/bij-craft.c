// SPDX-License-Identifier: GPL-2.0
/*
 * Crafting snapshots and before-image journals for tests (bij-craft.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bij-craft.h"

#define BS EXT3SNAP_BLOCK_SIZE

errcode_t craft_open(const char *img, ext2_filsys *fs)
{
	errcode_t err;

	/* FORCE: libext2fs does not know the has_snapshot flag. */
	err = ext2fs_open(img, EXT2_FLAG_RW | EXT2_FLAG_64BITS |
			  EXT2_FLAG_FORCE, 0, 0, unix_io_manager, fs);
	/* Like the kernel, update the primary superblock only. */
	if (!err)
		(*fs)->flags |= EXT2_FLAG_MASTER_SB_ONLY;
	return err;
}

errcode_t craft_bij_io(ext2_filsys fs, ext2_ino_t ino, __u32 pos, void *buf,
		       int write)
{
	struct ext2_inode inode;
	blk64_t pblk = 0;
	errcode_t err;

	err = ext2fs_read_inode(fs, ino, &inode);
	if (!err)
		err = ext2fs_bmap2(fs, ino, &inode, NULL, 0,
				   ext2fs_blocks_count(fs->super) + pos, NULL,
				   &pblk);
	if (!err && !pblk)
		err = EXT2_ET_BAD_BLOCK_NUM;
	if (err)
		return err;
	if (write)
		return io_channel_write_blk64(fs->io, pblk, 1, buf);
	return io_channel_read_blk64(fs->io, pblk, 1, buf);
}

/*
 * The kernel's take changes, after the instant, the superblock, the
 * group descriptors, bitmaps, an inode table block and a directory, and
 * saves each of them first; fsck.ext3snap then finds them saved (and
 * does not save them itself). The before-images, read before the new
 * inode INO is written anywhere; stored by save_copies().
 */
#define TAKE_MAX 64
struct take_copies {
	blk64_t block[TAKE_MAX];
	char (*data)[BS];
	unsigned int n;
};

static errcode_t read_before(ext2_filsys fs, ext2_ino_t ino,
			     struct take_copies *t)
{
	blk64_t blk = 0;
	errcode_t err;
	unsigned int i;
	dgrp_t g;

	t->n = 0;
	t->block[t->n++] = 0;
	for (i = 0; i < fs->desc_blocks && t->n < 8; i++)
		t->block[t->n++] = fs->super->s_first_data_block + 1 + i;
	/* The file's blocks go to group 0 (goal 0), its inode to G. */
	g = ext2fs_group_of_ino(fs, ino);
	t->block[t->n++] = ext2fs_block_bitmap_loc(fs, 0);
	t->block[t->n++] = ext2fs_inode_bitmap_loc(fs, 0);
	if (g) {
		t->block[t->n++] = ext2fs_block_bitmap_loc(fs, g);
		t->block[t->n++] = ext2fs_inode_bitmap_loc(fs, g);
	}
	if (t->n < TAKE_MAX)
		t->block[t->n++] = ext2fs_inode_table_loc(fs, g) +
			(ino - 1) % fs->super->s_inodes_per_group /
			(BS / EXT2_INODE_SIZE(fs->super));
	/* The root directory's first block gets the new name. */
	err = ext2fs_bmap2(fs, EXT2_ROOT_INO, NULL, NULL, 0, 0, NULL, &blk);
	if (!err && blk && t->n < TAKE_MAX)
		t->block[t->n++] = blk;
	t->data = malloc((size_t)t->n * BS);
	if (!t->data)
		return EXT2_ET_NO_MEMORY;
	for (i = 0; !err && i < t->n; i++)
		err = io_channel_read_blk64(fs->io, t->block[i], 1,
					    t->data[i]);
	return err;
}

/* Set by craft_take(), which saves every block the take changes itself. */
static int take_saves_all;

/* Block N's copy goes to a new block mapped at N of snapshot file INO. */
static errcode_t save_copies(ext2_filsys fs, ext2_ino_t ino,
			     struct ext2_inode *inode, struct take_copies *t)
{
	blk64_t blk, pblk;
	errcode_t err = 0;
	unsigned int i;

	for (i = 0; !err && i < t->n; i++) {
		err = ext2fs_bmap2(fs, ino, inode, NULL, 0, t->block[i], NULL,
				   &pblk);
		if (err || pblk)
			continue;
		err = ext2fs_new_block2(fs, 0, NULL, &blk);
		if (err)
			break;
		ext2fs_block_alloc_stats2(fs, blk, +1);
		err = io_channel_write_blk64(fs->io, blk, 1, t->data[i]);
		if (!err)
			err = e3s_snap_map(fs, ino, inode, t->block[i], blk);
	}
	return err;
}

/* The snapshot file and its journal; the superblock is left alone. */
static errcode_t craft_file(ext2_filsys fs, const char *name, __u32 id,
			    __u32 len, ext2_ino_t *ino)
{
	blk64_t image = ext2fs_blocks_count(fs->super), blk, goal = 0;
	struct take_copies t = { 0 };
	struct ext2_inode inode;
	struct e3s_bij_hdr h;
	char buf[BS];
	errcode_t err;
	__u32 i;

	err = ext2fs_read_bitmaps(fs);
	if (!err)
		err = ext2fs_new_inode(fs, EXT2_ROOT_INO, LINUX_S_IFREG | 0400,
				       NULL, ino);
	if (!err)
		err = read_before(fs, *ino, &t);
	if (err) {
		free(t.data);
		return err;
	}
	ext2fs_inode_alloc_stats2(fs, *ino, +1, 0);
	memset(&inode, 0, sizeof(inode));
	inode.i_mode = LINUX_S_IFREG | 0400;
	inode.i_links_count = 1;
	inode.i_flags = EXT3SNAP_SNAPFILE_FL;
	inode.i_atime = inode.i_ctime = inode.i_mtime = time(NULL);
	err = ext2fs_inode_size_set(fs, &inode, (image + len) * BS);
	if (!err)
		err = ext2fs_write_new_inode(fs, *ino, &inode);
	if (!err)
		err = ext2fs_link(fs, EXT2_ROOT_INO, name, *ino,
				  EXT2_FT_REG_FILE);
	memset(buf, 0, sizeof(buf));
	for (i = 0; !err && i < len; i++) {
		err = ext2fs_new_block2(fs, goal, NULL, &blk);
		if (err)
			break;
		ext2fs_block_alloc_stats2(fs, blk, +1);
		goal = blk;
		err = io_channel_write_blk64(fs->io, blk, 1, buf);
		if (!err)
			err = ext2fs_bmap2(fs, *ino, &inode, NULL,
					   BMAP_SET | BMAP_ALLOC, image + i,
					   NULL, &blk);
		if (!err)
			err = ext2fs_iblk_add_blocks(fs, &inode, 1);
	}
	if (!err)
		err = ext2fs_write_inode(fs, *ino, &inode);
	if (!err && !take_saves_all)
		err = save_copies(fs, *ino, &inode, &t);
	if (!err)
		err = ext2fs_write_inode(fs, *ino, &inode);
	free(t.data);
	if (err)
		return err;
	h = (struct e3s_bij_hdr){ .snap_id = id, .image_blocks = image,
				  .len = len, .tail_pos = 1, .tail_seq = 1 };
	e3s_bij_encode_header(&h, buf);
	return craft_bij_io(fs, *ino, 0, buf, 1);
}

/* Name INO, snapshot ID, as the newest snapshot in the superblock. */
static void set_head(ext2_filsys fs, ext2_ino_t ino, __u32 id)
{
	fs->super->s_snapshot_inum = ino;
	fs->super->s_snapshot_id = id;
	fs->super->s_feature_ro_compat |= EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT;
	ext2fs_mark_super_dirty(fs);
}

errcode_t craft_snapshot(ext2_filsys fs, const char *name, __u32 id,
			 __u32 len, ext2_ino_t *ino)
{
	errcode_t err = craft_file(fs, name, id, len, ino);

	if (!err)
		set_head(fs, *ino, id);
	return err;
}

errcode_t craft_member(ext2_filsys fs, const char *name, __u32 id, __u32 len,
		       __u32 prev, __u32 x_flags, ext2_ino_t *ino)
{
	struct e3s_snap_x x = { .id = id, .prev = prev, .flags = x_flags,
				.time = time(NULL), .parent = EXT2_ROOT_INO };
	char msg[E3S_MSG_LEN];
	errcode_t err;

	err = craft_file(fs, name, id, len, ino);
	if (!err && e3s_snap_xattr_set(fs, *ino, &x, msg))
		err = EXT2_ET_EA_BAD_VALUE_SIZE;
	return err;
}

errcode_t craft_chain(ext2_filsys fs, const char *name, __u32 id, __u32 len,
		      __u32 x_flags, ext2_ino_t *ino)
{
	errcode_t err;

	err = craft_member(fs, name, id, len, fs->super->s_snapshot_inum,
			   x_flags, ino);
	if (!err)
		set_head(fs, *ino, id);
	return err;
}

errcode_t craft_xattr_raw(ext2_filsys fs, ext2_ino_t ino, const void *val,
			  size_t len)
{
	struct ext2_xattr_handle *h;
	errcode_t err;

	err = ext2fs_xattrs_open(fs, ino, &h);
	if (err)
		return err;
	err = ext2fs_xattrs_read(h);
	if (!err)
		err = ext2fs_xattr_set(h, "trusted." EXT3SNAP_XATTR_NAME, val,
				       len);
	ext2fs_xattrs_close(&h);
	return err;
}

errcode_t craft_record(ext2_filsys fs, ext2_ino_t ino, __u32 pos, __u64 seq,
		       const struct craft_entry *e, int n)
{
	struct ext3snap_bij_desc *d;
	struct e3s_bij_hdr h;
	char msg[E3S_MSG_LEN];
	char buf[BS];
	__u32 copies = 0;
	errcode_t err;
	int i;

	if (e3s_bij_read_header(fs, ino, &h, msg))
		return EXT2_ET_BAD_MAGIC;
	memset(buf, 0, sizeof(buf));
	d = (struct ext3snap_bij_desc *)buf;
	d->d_magic = ext2fs_cpu_to_le32(EXT3SNAP_BIJ_DESC_MAGIC);
	d->d_snap_id = ext2fs_cpu_to_le32(h.snap_id);
	d->d_seq = ext2fs_cpu_to_le64(seq);
	d->d_count = ext2fs_cpu_to_le32(n);
	for (i = 0; i < n; i++) {
		struct ext3snap_bij_entry *de = &d->d_entries[i];

		de->e_block = ext2fs_cpu_to_le64(e[i].block);
		de->e_kind = ext2fs_cpu_to_le16(e[i].kind);
		if (e[i].kind == EXT3SNAP_BIJ_COPY) {
			de->e_len = ext2fs_cpu_to_le32(1);
			de->e_crc = ext2fs_cpu_to_le32(
				e3s_bij_block_crc(e[i].data, (size_t)-1));
			err = craft_bij_io(fs, ino, pos + 1 + copies++,
					   (void *)e[i].data, 1);
			if (err)
				return err;
		} else {
			de->e_len = ext2fs_cpu_to_le32(e[i].len);
			de->e_tid = ext2fs_cpu_to_le32(e[i].tid);
		}
	}
	d->d_nblocks = ext2fs_cpu_to_le32(copies);
	d->d_crc = ext2fs_cpu_to_le32(e3s_bij_block_crc(buf,
				offsetof(struct ext3snap_bij_desc, d_crc)));
	return craft_bij_io(fs, ino, pos, buf, 1);
}

/* ---- copy-on-write and realistic takes -------------------------------------- */

errcode_t craft_save(ext2_filsys fs, ext2_ino_t ino, blk64_t lblk,
		     const void *data)
{
	struct ext2_inode inode;
	blk64_t blk;
	errcode_t err;

	err = ext2fs_read_inode(fs, ino, &inode);
	if (!err)
		err = ext2fs_new_block2(fs, 0, NULL, &blk);
	if (err)
		return err;
	ext2fs_block_alloc_stats2(fs, blk, +1);
	err = io_channel_write_blk64(fs->io, blk, 1, data);
	if (!err)
		err = e3s_snap_map(fs, ino, &inode, lblk, blk);
	if (!err)
		err = ext2fs_write_inode(fs, ino, &inode);
	return err;
}

errcode_t craft_move(ext2_filsys fs, ext2_ino_t ino, blk64_t lblk)
{
	struct ext2_inode inode;
	errcode_t err;

	if (!ext2fs_test_block_bitmap2(fs->block_map, lblk))
		ext2fs_block_alloc_stats2(fs, lblk, +1);
	err = ext2fs_read_inode(fs, ino, &inode);
	if (!err)
		err = e3s_snap_map(fs, ino, &inode, lblk, lblk);
	if (!err)
		err = ext2fs_write_inode(fs, ino, &inode);
	return err;
}

struct craft_cow {
	blk64_t blocks;
	char **pre;		/* per block: its contents at the start, or NULL */
};

struct mark_ctx {
	ext2fs_block_bitmap map;
	blk64_t below;		/* logical blocks below this only; 0: all */
};

static int mark_data(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		     blk64_t ref_blk, int ref_offset, void *priv)
{
	struct mark_ctx *c = priv;

	(void)fs, (void)ref_blk, (void)ref_offset;
	if (blockcnt >= 0 && (!c->below || (blk64_t)blockcnt < c->below))
		ext2fs_mark_block_bitmap2(c->map, c->below ? (blk64_t)blockcnt :
					  *blocknr);
	return 0;
}

/* Mark the data blocks of INO (physical), or its logical blocks below BELOW. */
static errcode_t mark_file(ext2_filsys fs, ext2_ino_t ino, blk64_t below,
			   ext2fs_block_bitmap map)
{
	struct mark_ctx c = { .map = map, .below = below };

	return ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY |
				     BLOCK_FLAG_DATA_ONLY, NULL, mark_data, &c);
}

/* The newest snapshot's bitmap of group G at its instant, minus exclusions. */
static errcode_t instant_bitmap(ext2_filsys fs, ext2_ino_t ino, dgrp_t g,
				unsigned char *buf)
{
	blk64_t first = ext2fs_group_first_block2(fs, g), image, pblk = 0;
	int count = ext2fs_group_blocks_count(fs, g), i;
	unsigned char excl[BS];
	struct ext2_inode inode;
	struct e3s_bij_hdr h;
	char msg[E3S_MSG_LEN];
	errcode_t err;

	image = ext2fs_blocks_count(fs->super);
	if (e3s_bij_read_header(fs, ino, &h, msg))
		return EXT2_ET_BAD_MAGIC;
	err = ext2fs_read_inode(fs, ino, &inode);
	if (!err)
		err = ext2fs_bmap2(fs, ino, &inode, NULL, 0,
				   ext2fs_block_bitmap_loc(fs, g), NULL, &pblk);
	if (!err && pblk)
		err = io_channel_read_blk64(fs->io, pblk, 1, buf);
	else if (!err)
		err = ext2fs_get_block_bitmap_range2(fs->block_map, first,
						     count, buf);
	if (err || !(h.flags & EXT3SNAP_BIJ_EXCLUDE))
		return err;
	pblk = 0;
	err = ext2fs_bmap2(fs, ino, &inode, NULL, 0, image + h.len + g, NULL,
			   &pblk);
	if (!err && pblk)
		err = io_channel_read_blk64(fs->io, pblk, 1, excl);
	for (i = 0; !err && pblk && i < BS; i++)
		buf[i] &= ~excl[i];
	return err;
}

errcode_t craft_cow_begin(ext2_filsys fs, int take, ext2fs_block_bitmap exclude,
			  struct craft_cow **cowp)
{
	ext2_ino_t ino = fs->super->s_snapshot_inum;
	ext2fs_block_bitmap skip = NULL;
	struct craft_cow *cow;
	unsigned char bits[BS];
	blk64_t first, b;
	errcode_t err;
	dgrp_t g;
	int count, i;

	*cowp = NULL;
	err = ext2fs_read_bitmaps(fs);
	if (err || (!take && !ino))
		return err;
	/* What is read below must be what the disk holds. */
	err = ext2fs_flush(fs);
	if (!err)
		err = ext2fs_allocate_block_bitmap(fs, "craft skip", &skip);
	/* jbd2 rewrites its blocks without hooks: never saved. */
	if (!err && fs->super->s_journal_inum)
		err = mark_file(fs, fs->super->s_journal_inum, 0, skip);
	/* Saved already. */
	if (!err && !take)
		err = mark_file(fs, ino, ext2fs_blocks_count(fs->super), skip);
	if (err)
		goto out;
	err = ext2fs_get_memzero(sizeof(*cow), &cow);
	if (err)
		goto out;
	cow->blocks = ext2fs_blocks_count(fs->super);
	err = ext2fs_get_memzero(cow->blocks * sizeof(*cow->pre), &cow->pre);
	if (err) {
		ext2fs_free_mem(&cow);
		goto out;
	}
	*cowp = cow;
	for (g = 0; !err && g < fs->group_desc_count; g++) {
		first = ext2fs_group_first_block2(fs, g);
		count = ext2fs_group_blocks_count(fs, g);
		if (take)
			err = ext2fs_get_block_bitmap_range2(fs->block_map,
							     first, count, bits);
		else
			err = instant_bitmap(fs, ino, g, bits);
		for (i = 0; !err && i < count; i++) {
			b = first + i;
			if (!ext2fs_test_bit(i, bits) ||
			    ext2fs_test_block_bitmap2(skip, b) ||
			    (exclude && ext2fs_test_block_bitmap2(exclude, b)))
				continue;
			err = ext2fs_get_mem(BS, &cow->pre[b]);
			if (!err)
				err = io_channel_read_blk64(fs->io, b, 1,
							    cow->pre[b]);
		}
	}
out:
	if (skip)
		ext2fs_free_block_bitmap(skip);
	return err;
}

static void cow_free(struct craft_cow *cow)
{
	blk64_t b;

	for (b = 0; b < cow->blocks; b++)
		ext2fs_free_mem(&cow->pre[b]);
	ext2fs_free_mem(&cow->pre);
	ext2fs_free_mem(&cow);
}

errcode_t craft_cow_end(ext2_filsys fs, ext2_ino_t ino, struct craft_cow *cow)
{
	char cur[BS];
	blk64_t b;
	errcode_t err = 0;
	int changed = 1;

	if (!cow)
		return 0;
	while (changed && !err) {
		changed = 0;
		err = ext2fs_flush(fs);
		/* Moves first, as replay does: no copy may take their blocks. */
		for (b = 0; !err && b < cow->blocks; b++) {
			if (!cow->pre[b] ||
			    ext2fs_test_block_bitmap2(fs->block_map, b))
				continue;
			err = io_channel_read_blk64(fs->io, b, 1, cur);
			if (err || memcmp(cur, cow->pre[b], BS))
				continue;
			err = craft_move(fs, ino, b);
			ext2fs_free_mem(&cow->pre[b]);
			changed = 1;
		}
		for (b = 0; !err && b < cow->blocks; b++) {
			if (!cow->pre[b])
				continue;
			err = io_channel_read_blk64(fs->io, b, 1, cur);
			if (err || !memcmp(cur, cow->pre[b], BS))
				continue;
			err = craft_save(fs, ino, b, cow->pre[b]);
			ext2fs_free_mem(&cow->pre[b]);
			changed = 1;
		}
	}
	cow_free(cow);
	return err;
}

/* The exclude map: every snapshot file's data blocks. */
static errcode_t collect_exclude(ext2_filsys fs, ext2fs_block_bitmap *map)
{
	ext2_ino_t *files = NULL;
	char msg[E3S_MSG_LEN];
	unsigned int n, i;
	errcode_t err;

	err = ext2fs_allocate_block_bitmap(fs, "craft exclude", map);
	if (err)
		return err;
	if (e3s_snapfiles(fs, &files, &n, msg))
		return EXT2_ET_NO_MEMORY;
	for (i = 0; !err && i < n; i++)
		err = mark_file(fs, files[i], 0, *map);
	free(files);
	return err;
}

/* Write MAP as INO's exclude map, past its journal, and set the flag. */
static errcode_t write_exclude(ext2_filsys fs, ext2_ino_t ino, __u32 id,
			       __u32 len, ext2fs_block_bitmap map)
{
	blk64_t image = ext2fs_blocks_count(fs->super);
	unsigned char bits[BS];
	struct ext2_inode inode;
	struct e3s_bij_hdr h;
	char msg[E3S_MSG_LEN];
	errcode_t err = 0;
	dgrp_t g;
	int i, any;

	for (g = 0; !err && g < fs->group_desc_count; g++) {
		memset(bits, 0, sizeof(bits));
		err = ext2fs_get_block_bitmap_range2(map,
				ext2fs_group_first_block2(fs, g),
				ext2fs_group_blocks_count(fs, g), bits);
		for (i = 0, any = 0; i < BS; i++)
			any |= bits[i];
		if (!err && any)
			err = craft_save(fs, ino, image + len + g, bits);
	}
	if (!err)
		err = ext2fs_read_inode(fs, ino, &inode);
	if (!err)
		err = ext2fs_inode_size_set(fs, &inode, (image + len +
					    fs->group_desc_count) * BS);
	if (!err)
		err = ext2fs_write_inode(fs, ino, &inode);
	if (err)
		return err;
	/* As craft_file wrote it, and the flag. */
	h = (struct e3s_bij_hdr){ .snap_id = id, .image_blocks = image,
				  .len = len, .tail_pos = 1, .tail_seq = 1,
				  .flags = EXT3SNAP_BIJ_EXCLUDE };
	return e3s_bij_write_header(fs, ino, &h, msg) ? EXT2_ET_BAD_MAGIC : 0;
}

errcode_t craft_take(ext2_filsys fs, const char *name, __u32 id, __u32 len,
		     int exclude, ext2_ino_t *ino)
{
	ext2fs_block_bitmap map = NULL;
	struct craft_cow *cow = NULL;
	errcode_t err;

	err = ext2fs_read_bitmaps(fs);
	if (!err && exclude)
		err = collect_exclude(fs, &map);
	if (!err)
		err = craft_cow_begin(fs, 1, map, &cow);
	take_saves_all = 1;
	if (!err)
		err = craft_chain(fs, name, id, len, 0, ino);
	take_saves_all = 0;
	/* The header names the map once it is written, as the kernel's. */
	if (!err && exclude)
		err = write_exclude(fs, *ino, id, len, map);
	if (!err)
		err = craft_cow_end(fs, *ino, cow);
	else if (cow)
		cow_free(cow);
	if (map)
		ext2fs_free_block_bitmap(map);
	return err;
}

errcode_t craft_mkfile(ext2_filsys fs, const char *name, unsigned int nblocks,
		       int byte, ext2_ino_t *ino)
{
	struct craft_cow *cow = NULL;
	struct ext2_inode inode;
	blk64_t blk;
	char buf[BS];
	unsigned int i;
	errcode_t err;

	err = craft_cow_begin(fs, 0, NULL, &cow);
	if (!err)
		err = ext2fs_new_inode(fs, EXT2_ROOT_INO, LINUX_S_IFREG | 0644,
				       NULL, ino);
	if (err)
		goto out;
	ext2fs_inode_alloc_stats2(fs, *ino, +1, 0);
	memset(&inode, 0, sizeof(inode));
	inode.i_mode = LINUX_S_IFREG | 0644;
	inode.i_links_count = 1;
	inode.i_atime = inode.i_ctime = inode.i_mtime = time(NULL);
	err = ext2fs_inode_size_set(fs, &inode, (__u64)nblocks * BS);
	if (!err)
		err = ext2fs_write_new_inode(fs, *ino, &inode);
	if (!err)
		err = ext2fs_link(fs, EXT2_ROOT_INO, name, *ino,
				  EXT2_FT_REG_FILE);
	memset(buf, byte, sizeof(buf));
	for (i = 0; !err && i < nblocks; i++) {
		err = ext2fs_new_block2(fs, 0, NULL, &blk);
		if (err)
			break;
		ext2fs_block_alloc_stats2(fs, blk, +1);
		err = io_channel_write_blk64(fs->io, blk, 1, buf);
		if (!err)
			err = ext2fs_bmap2(fs, *ino, &inode, NULL,
					   BMAP_SET | BMAP_ALLOC, i, NULL, &blk);
		if (!err)
			err = ext2fs_iblk_add_blocks(fs, &inode, 1);
	}
	if (!err)
		err = ext2fs_write_inode(fs, *ino, &inode);
out:
	if (!err)
		return craft_cow_end(fs, fs->super->s_snapshot_inum, cow);
	if (cow)
		cow_free(cow);
	return err;
}

errcode_t craft_rm(ext2_filsys fs, const char *name)
{
	struct craft_cow *cow = NULL;
	struct ext2_inode inode;
	ext2_ino_t ino;
	errcode_t err;

	err = craft_cow_begin(fs, 0, NULL, &cow);
	if (!err)
		err = ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, name, &ino);
	if (!err)
		err = ext2fs_unlink(fs, EXT2_ROOT_INO, name, ino, 0);
	if (!err)
		err = ext2fs_read_inode(fs, ino, &inode);
	if (!err)
		err = ext2fs_punch(fs, ino, &inode, NULL, 0, ~0ULL);
	if (!err) {
		inode.i_links_count = 0;
		inode.i_dtime = time(NULL);
		err = ext2fs_write_inode(fs, ino, &inode);
	}
	if (!err)
		ext2fs_inode_alloc_stats2(fs, ino, -1, 0);
	if (!err)
		return craft_cow_end(fs, fs->super->s_snapshot_inum, cow);
	if (cow)
		cow_free(cow);
	return err;
}
