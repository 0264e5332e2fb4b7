// SPDX-License-Identifier: GPL-2.0
/*
 * libext3snap: a snapshot's image, read from the unmounted filesystem with
 * the kernel's rules (fs/ext3snap/read.c, snapshot_bitmap() in cow.c,
 * exclude.c); a read-only io_manager over it, so that ext2fs_open() opens
 * an image as a filesystem; and the check of an image's block bitmaps and
 * free counts against the blocks its own files own.
 *
 * Block B of snapshot S, in this order:
 * - zeroes if S's snapshot-time bitmap of B's group says free. That bitmap
 *   is S's saved copy of the group's bitmap block if S's file maps it, else
 *   the bitmap block as the next newer snapshot shows it (the walk below,
 *   without this first test), else the origin's current one; minus S's
 *   exclude map (the data blocks of snapshot files at S's instant) when
 *   its journal header has EXCLUDE;
 * - S's copy if S's file maps B (a moved block is mapped B -> B);
 * - else the first newer snapshot whose file maps B (walking to the newest);
 * - past the newest: zeroes for the jbd2 journal's blocks other than its
 *   superblock, else the origin's block B.
 * The block holding the superblock then names no snapshot (read.c's
 * hide_snapshots()).
 *
 * The kernel also holds copies in memory (its store) until its flusher
 * links them, and at mount it puts the before-image journal's records back
 * there. There is no store here: copies a journal holds that its file does
 * not map yet are not seen. So an image is only what the kernel would show
 * once every journal of the chain has been replayed (fsck.ext3snap checks
 * images after replaying, and with -n skips those whose journals, or a
 * newer snapshot's, hold such copies). Blocks moved to a snapshot and not
 * mapped yet need nothing: they stay allocated, so the origin's block is
 * unchanged and the walk reads the same bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext3snap.h"
#include "libext3snap.h"

#define BS EXT3SNAP_BLOCK_SIZE

/* jbd2's journal superblock (big-endian): the field we read. */
#define JSB_MAXLEN_OFF	16

/* One snapshot of the walk: the image's own, then each newer one. */
struct layer {
	ext2_ino_t ino;
	__u32 id;
	struct ext2_inode inode;
	struct e3s_bij_hdr h;
	ext2fs_block_bitmap saved;	/* image blocks its file maps */
};

struct jext {
	blk64_t start, len;
};

struct e3s_image {
	ext2_filsys fs;			/* the origin */
	blk64_t blocks;			/* of the image: s_blocks_count */
	struct layer *l;		/* l[0] the snapshot, l[n - 1] newest */
	unsigned int n;
	ext2fs_block_bitmap cow;	/* l[0]'s snapshot-time bitmap ... */
	unsigned char *loaded;		/* ... for the groups loaded so far */
	blk64_t journal_sb;
	struct jext *journal;		/* the jbd2 journal's data blocks */
	unsigned int njournal;
	char *buf;			/* one block, for group loads */
	char name[48];			/* for ext2fs_open() */
	struct e3s_image *next;		/* the open images (io_manager) */
};

static struct e3s_image *open_images;
static unsigned int image_serial;

/* ---- the walk ------------------------------------------------------------ */

static int in_journal(const struct e3s_image *img, blk64_t b)
{
	unsigned int i;

	if (b == img->journal_sb)
		return 0;
	for (i = 0; i < img->njournal; i++)
		if (b - img->journal[i].start < img->journal[i].len)
			return 1;
	return 0;
}

/* Device block that holds image block B for layer L (its file maps B). */
static errcode_t layer_block(struct e3s_image *img, struct layer *l,
			     blk64_t b, blk64_t *pblk)
{
	errcode_t err;

	*pblk = 0;
	err = ext2fs_bmap2(img->fs, l->ino, &l->inode, NULL, 0, b, NULL,
			   pblk);
	/* Saved but nowhere: the map changed under us; never expected. */
	if (!err && !*pblk)
		err = EXT2_ET_BAD_BLOCK_NUM;
	return err;
}

static errcode_t load_group(struct e3s_image *img, dgrp_t g);

/*
 * Where block B comes from, starting the walk at layer FROM: *ZERO, or
 * device block *PBLK. FREE_IS_ZERO for the image's own layer only (read.c:
 * a block a newer snapshot is asked for was in use at the older instant).
 */
static errcode_t resolve(struct e3s_image *img, unsigned int from, blk64_t b,
			 int free_is_zero, int *zero, blk64_t *pblk)
{
	unsigned int i;
	errcode_t err;

	*zero = 0;
	if (free_is_zero) {
		err = load_group(img, ext2fs_group_of_blk2(img->fs, b));
		if (err)
			return err;
		if (!ext2fs_test_block_bitmap2(img->cow, b)) {
			*zero = 1;
			return 0;
		}
	}
	for (i = from; i < img->n; i++)
		if (ext2fs_test_block_bitmap2(img->l[i].saved, b))
			return layer_block(img, &img->l[i], b, pblk);
	/* jbd2 rewrites these without hooks; the image's journal is empty. */
	if (in_journal(img, b)) {
		*zero = 1;
		return 0;
	}
	*pblk = b;
	return 0;
}

/*
 * Group G's snapshot-time bitmap of the image's own snapshot (cow.c's
 * snapshot_bitmap() and load_one()). The origin's current bitmap is
 * fs->block_map: a caller that changed it flushes it first, so that the
 * walk, which reads the device, sees the same.
 */
static errcode_t load_group(struct e3s_image *img, dgrp_t g)
{
	ext2_filsys fs = img->fs;
	struct layer *s = &img->l[0];
	blk64_t first = ext2fs_group_first_block2(fs, g), blk, pblk;
	int count = ext2fs_group_blocks_count(fs, g), zero, i;
	unsigned char excl[BS];
	errcode_t err;

	if (img->loaded[g])
		return 0;
	blk = ext2fs_block_bitmap_loc(fs, g);
	if (blk >= img->blocks)
		return EXT2_ET_GDESC_BAD_BLOCK_MAP;
	if (ext2fs_test_block_bitmap2(s->saved, blk)) {
		err = layer_block(img, s, blk, &pblk);
		if (!err)
			err = io_channel_read_blk64(fs->io, pblk, 1, img->buf);
	} else if (img->n > 1) {
		err = resolve(img, 1, blk, 0, &zero, &pblk);
		if (!err && zero)
			memset(img->buf, 0, BS);
		else if (!err)
			err = io_channel_read_blk64(fs->io, pblk, 1, img->buf);
	} else {
		err = ext2fs_get_block_bitmap_range2(fs->block_map, first,
						     count, img->buf);
	}
	if (err)
		return err;
	/* Snapshot files' data at the instant: as if free then. */
	if (s->h.flags & EXT3SNAP_BIJ_EXCLUDE) {
		pblk = 0;
		err = ext2fs_bmap2(fs, s->ino, &s->inode, NULL, 0,
				   img->blocks + s->h.len + g, NULL, &pblk);
		if (!err && pblk)
			err = io_channel_read_blk64(fs->io, pblk, 1, excl);
		if (err)
			return err;
		for (i = 0; pblk && i < BS; i++)
			img->buf[i] &= ~excl[i];
	}
	err = ext2fs_set_block_bitmap_range2(img->cow, first, count, img->buf);
	if (!err)
		img->loaded[g] = 1;
	return err;
}

/* The image's superblock names no snapshot (read.c, hide_snapshots()). */
static void hide_snapshots(blk64_t block, unsigned int nr, char *buf)
{
	blk64_t sb_block = SUPERBLOCK_OFFSET / BS;
	struct ext2_super_block *es;

	if (sb_block < block || sb_block >= block + nr)
		return;
	es = (struct ext2_super_block *)(buf + (sb_block - block) * BS +
					 SUPERBLOCK_OFFSET % BS);
	es->s_snapshot_inum = 0;
	es->s_feature_ro_compat &=
		ext2fs_cpu_to_le32(~EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT);
}

errcode_t e3s_image_read(struct e3s_image *img, blk64_t block,
			 unsigned int nr, void *buf)
{
	blk64_t run = 0, pblk;
	unsigned int i, len = 0;
	char *dst = buf, *run_dst = NULL;
	errcode_t err = 0;
	int zero;

	if (block >= img->blocks || nr > img->blocks - block)
		return EXT2_ET_BAD_BLOCK_NUM;
	/* Consecutive device blocks are read with one request. */
	for (i = 0; i < nr && !err; i++, dst += BS) {
		err = resolve(img, 0, block + i, 1, &zero, &pblk);
		if (err)
			break;
		if (len && (zero || pblk != run + len)) {
			err = io_channel_read_blk64(img->fs->io, run, len,
						    run_dst);
			len = 0;
		}
		if (zero) {
			memset(dst, 0, BS);
		} else if (!len++) {
			run = pblk;
			run_dst = dst;
		}
	}
	if (!err && len)
		err = io_channel_read_blk64(img->fs->io, run, len, run_dst);
	if (!err)
		hide_snapshots(block, nr, buf);
	return err;
}

/* ---- opening ------------------------------------------------------------- */

struct saved_ctx {
	blk64_t image;
	ext2fs_block_bitmap saved;
};

static int mark_saved(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		      blk64_t ref_blk, int ref_offset, void *priv)
{
	struct saved_ctx *c = priv;

	(void)fs, (void)blocknr, (void)ref_blk, (void)ref_offset;
	if (blockcnt >= 0 && (blk64_t)blockcnt < c->image)
		ext2fs_mark_block_bitmap2(c->saved, blockcnt);
	return 0;
}

static errcode_t load_layer(struct e3s_image *img, struct layer *l,
			    const struct e3s_chain_member *m, char *msg)
{
	struct saved_ctx c = { .image = img->blocks };
	errcode_t err;

	l->ino = m->ino;
	l->id = m->id;
	if (e3s_bij_read_header(img->fs, m->ino, &l->h, msg))
		return EXT2_ET_BAD_MAGIC;
	err = ext2fs_read_inode(img->fs, m->ino, &l->inode);
	if (!err)
		err = ext2fs_allocate_block_bitmap(img->fs, "ext3snap saved",
						   &l->saved);
	if (!err) {
		c.saved = l->saved;
		err = ext2fs_block_iterate3(img->fs, m->ino,
					    BLOCK_FLAG_READ_ONLY |
					    BLOCK_FLAG_DATA_ONLY, NULL,
					    mark_saved, &c);
	}
	if (err)
		snprintf(msg, E3S_MSG_LEN,
			 "cannot read the block map of snapshot %u (inode %u): %s",
			 m->id, m->ino, error_message(err));
	return err;
}

struct journal_ctx {
	struct e3s_image *img;
	blk64_t len;
	unsigned int room;
	int nomem;
};

static int add_journal(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		       blk64_t ref_blk, int ref_offset, void *priv)
{
	struct journal_ctx *c = priv;
	struct e3s_image *img = c->img;
	struct jext *last, *grown;

	(void)fs, (void)ref_blk, (void)ref_offset;
	if (blockcnt < 0 || (blk64_t)blockcnt >= c->len)
		return 0;
	last = img->njournal ? &img->journal[img->njournal - 1] : NULL;
	if (last && last->start + last->len == *blocknr) {
		last->len++;
		return 0;
	}
	if (img->njournal == c->room) {
		c->room = c->room ? 2 * c->room : 8;
		grown = realloc(img->journal, c->room * sizeof(*grown));
		if (!grown) {
			c->nomem = 1;
			return BLOCK_ABORT;
		}
		img->journal = grown;
	}
	img->journal[img->njournal++] = (struct jext){ *blocknr, 1 };
	return 0;
}

/*
 * The journal's blocks, as jbd2 counts them (take.c's
 * ext3snap_find_journal()): logical 0 .. i_size / block size, or the
 * journal superblock's s_maxlen if smaller.
 */
static errcode_t find_journal(struct e3s_image *img)
{
	ext2_filsys fs = img->fs;
	ext2_ino_t jino = fs->super->s_journal_inum;
	struct journal_ctx c = { .img = img };
	struct ext2_inode inode;
	blk64_t maxlen;
	errcode_t err;

	img->journal_sb = ~(blk64_t)0;
	if (!jino)
		return 0;
	err = ext2fs_read_inode(fs, jino, &inode);
	if (!err)
		err = ext2fs_bmap2(fs, jino, &inode, NULL, 0, 0, NULL,
				   &img->journal_sb);
	if (!err && !img->journal_sb)
		err = EXT2_ET_BAD_BLOCK_NUM;
	if (!err)
		err = io_channel_read_blk64(fs->io, img->journal_sb, 1,
					    img->buf);
	if (err)
		return err;
	c.len = EXT2_I_SIZE(&inode) / BS;
	maxlen = ext2fs_be32_to_cpu(*(__u32 *)(img->buf + JSB_MAXLEN_OFF));
	if (maxlen < c.len)
		c.len = maxlen;
	err = ext2fs_block_iterate3(fs, jino, BLOCK_FLAG_READ_ONLY |
				    BLOCK_FLAG_DATA_ONLY, NULL, add_journal,
				    &c);
	if (!err && c.nomem)
		err = EXT2_ET_NO_MEMORY;
	return err;
}

int e3s_image_open(ext2_filsys fs, const struct e3s_chain *c,
		   unsigned int idx, struct e3s_image **imgp, char *msg)
{
	struct e3s_image *img;
	unsigned int i;
	errcode_t err;

	*imgp = NULL;
	if (idx >= c->n) {
		snprintf(msg, E3S_MSG_LEN, "no snapshot %u in the chain", idx);
		return -1;
	}
	img = calloc(1, sizeof(*img));
	if (!img)
		goto nomem;
	img->fs = fs;
	img->blocks = ext2fs_blocks_count(fs->super);
	img->n = idx + 1;
	img->l = calloc(img->n, sizeof(*img->l));
	img->loaded = calloc(fs->group_desc_count, 1);
	img->buf = malloc(BS);
	if (!img->l || !img->loaded || !img->buf)
		goto nomem;
	err = fs->block_map ? 0 : ext2fs_read_block_bitmap(fs);
	if (!err)
		err = ext2fs_allocate_block_bitmap(fs, "ext3snap image", &img->cow);
	if (err) {
		snprintf(msg, E3S_MSG_LEN, "cannot read the block bitmap: %s",
			 error_message(err));
		goto fail;
	}
	/* The image's own snapshot first, then toward the newest. */
	for (i = 0; i < img->n; i++)
		if (load_layer(img, &img->l[i], &c->m[idx - i], msg))
			goto fail;
	err = find_journal(img);
	if (err) {
		snprintf(msg, E3S_MSG_LEN, "cannot read the journal's block map: %s",
			 error_message(err));
		goto fail;
	}
	snprintf(img->name, sizeof(img->name), "ext3snap-image:%u",
		 ++image_serial);
	img->next = open_images;
	open_images = img;
	*imgp = img;
	return 0;
nomem:
	snprintf(msg, E3S_MSG_LEN, "cannot read a snapshot's image: out of memory");
fail:
	e3s_image_close(img);
	return -1;
}

void e3s_image_close(struct e3s_image *img)
{
	struct e3s_image **p;
	unsigned int i;

	if (!img)
		return;
	for (p = &open_images; *p; p = &(*p)->next) {
		if (*p == img) {
			*p = img->next;
			break;
		}
	}
	for (i = 0; img->l && i < img->n; i++)
		if (img->l[i].saved)
			ext2fs_free_block_bitmap(img->l[i].saved);
	if (img->cow)
		ext2fs_free_block_bitmap(img->cow);
	free(img->l);
	free(img->loaded);
	free(img->journal);
	free(img->buf);
	free(img);
}

blk64_t e3s_image_blocks(const struct e3s_image *img)
{
	return img->blocks;
}

const char *e3s_image_name(const struct e3s_image *img)
{
	return img->name;
}

/* ---- the io_manager -------------------------------------------------------- */

static errcode_t image_io_open(const char *name, int flags,
			       io_channel *channel)
{
	struct e3s_image *img;
	io_channel io = NULL;
	errcode_t err;

	for (img = open_images; img; img = img->next)
		if (name && !strcmp(name, img->name))
			break;
	if (!img)
		return EXT2_ET_BAD_DEVICE_NAME;
	/* A snapshot's image is never written. */
	if (flags & IO_FLAG_RW)
		return EXT2_ET_RO_FILSYS;
	err = ext2fs_get_memzero(sizeof(*io), &io);
	if (!err)
		err = ext2fs_get_mem(strlen(name) + 1, &io->name);
	if (err) {
		if (io)
			ext2fs_free_mem(&io);
		return err;
	}
	strcpy(io->name, name);
	io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	io->manager = e3s_image_io_manager;
	io->block_size = 1024;
	io->refcount = 1;
	io->private_data = img;
	*channel = io;
	return 0;
}

static errcode_t image_io_close(io_channel io)
{
	if (--io->refcount > 0)
		return 0;
	ext2fs_free_mem(&io->name);
	ext2fs_free_mem(&io);
	return 0;
}

static errcode_t image_io_set_blksize(io_channel io, int blksize)
{
	io->block_size = blksize;
	return 0;
}

/*
 * COUNT blocks of the channel's size at BLOCK, or -COUNT bytes (how
 * libext2fs reads the superblock): read the image blocks around them.
 */
static errcode_t image_io_read_blk64(io_channel io, unsigned long long block,
				     int count, void *data)
{
	struct e3s_image *img = io->private_data;
	size_t size = count < 0 ? (size_t)-count :
		(size_t)count * io->block_size;
	__u64 off = block * io->block_size, first, last;
	char *buf;
	errcode_t err;

	if (!size)
		return 0;
	first = off / BS;
	last = (off + size - 1) / BS;
	if (off % BS == 0 && size % BS == 0)
		return e3s_image_read(img, first, last - first + 1, data);
	err = ext2fs_get_mem((last - first + 1) * BS, &buf);
	if (err)
		return err;
	err = e3s_image_read(img, first, last - first + 1, buf);
	if (!err)
		memcpy(data, buf + off % BS, size);
	ext2fs_free_mem(&buf);
	return err;
}

static errcode_t image_io_read_blk(io_channel io, unsigned long block,
				   int count, void *data)
{
	return image_io_read_blk64(io, block, count, data);
}

static errcode_t image_io_write_blk64(io_channel io, unsigned long long block,
				      int count, const void *data)
{
	(void)io, (void)block, (void)count, (void)data;
	return EXT2_ET_RO_FILSYS;
}

static errcode_t image_io_write_blk(io_channel io, unsigned long block,
				    int count, const void *data)
{
	return image_io_write_blk64(io, block, count, data);
}

static errcode_t image_io_write_byte(io_channel io, unsigned long offset,
				     int count, const void *data)
{
	(void)io, (void)offset, (void)count, (void)data;
	return EXT2_ET_RO_FILSYS;
}

static errcode_t image_io_flush(io_channel io)
{
	(void)io;
	return 0;
}

static struct struct_io_manager image_io = {
	.magic		= EXT2_ET_MAGIC_IO_MANAGER,
	.name		= "ext3snap snapshot image",
	.open		= image_io_open,
	.close		= image_io_close,
	.set_blksize	= image_io_set_blksize,
	.read_blk	= image_io_read_blk,
	.write_blk	= image_io_write_blk,
	.flush		= image_io_flush,
	.write_byte	= image_io_write_byte,
	.read_blk64	= image_io_read_blk64,
	.write_blk64	= image_io_write_blk64,
};

io_manager e3s_image_io_manager = &image_io;

errcode_t e3s_image_open_fs(struct e3s_image *img, ext2_filsys *ifs)
{
	return ext2fs_open(img->name, EXT2_FLAG_64BITS, 0, 0,
			   e3s_image_io_manager, ifs);
}

/* ---- the check --------------------------------------------------------------- */

/* Reports shown per kind before "and N more". */
#define SAY_MAX		8
/* Ranges of bitmap differences on the line. */
#define RANGES_MAX	32

struct own_ctx {
	ext2_filsys fs;
	ext2fs_block_bitmap owned;
	blk64_t bad;			/* blocks outside the filesystem */
	/* The inode being iterated, as the scan read it (e2fsck's trick:
	 * ext2fs_block_iterate3() need not read the inode table again).
	 */
	ext2_ino_t ino;
	struct ext2_inode inode;
};

static errcode_t scanned_inode(ext2_filsys fs, ext2_ino_t ino,
			       struct ext2_inode *inode)
{
	struct own_ctx *o = fs->priv_data;

	if (!o || ino != o->ino)
		return EXT2_ET_CALLBACK_NOTHANDLED;
	*inode = o->inode;
	return 0;
}

static int valid_block(ext2_filsys fs, blk64_t b)
{
	return b >= fs->super->s_first_data_block &&
	       b < ext2fs_blocks_count(fs->super);
}

static void own(struct own_ctx *o, blk64_t b, blk64_t n)
{
	if (!n)
		return;
	if (!valid_block(o->fs, b) || !valid_block(o->fs, b + n - 1)) {
		o->bad++;
		return;
	}
	ext2fs_mark_block_bitmap_range2(o->owned, b, n);
}

static int own_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		     blk64_t ref_blk, int ref_offset, void *priv)
{
	(void)fs, (void)blockcnt, (void)ref_blk, (void)ref_offset;
	own(priv, *blocknr, 1);
	return 0;
}

static void say(e3s_image_say_fn fn, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(e3s_image_say_fn fn, void *arg, const char *fmt, ...)
{
	char line[E3S_MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (fn)
		fn(arg, line);
}

/* The fixed metadata of every group (e2fsck's mark_table_blocks()). */
static void own_tables(struct own_ctx *o, struct e3s_image_check *r,
		       e3s_image_say_fn fn, void *arg)
{
	ext2_filsys fs = o->fs;
	blk64_t bad;
	dgrp_t g;

	for (g = 0; g < fs->group_desc_count; g++) {
		ext2fs_reserve_super_and_bgd(fs, g, o->owned);
		bad = o->bad;
		own(o, ext2fs_block_bitmap_loc(fs, g), 1);
		own(o, ext2fs_inode_bitmap_loc(fs, g), 1);
		own(o, ext2fs_inode_table_loc(fs, g),
		    fs->inode_blocks_per_group);
		if (o->bad != bad && r->bad_maps++ < SAY_MAX)
			say(fn, arg, "group %u's descriptor names blocks outside the filesystem",
			    g);
	}
}

/* Every block an in-use inode of the image owns. */
static errcode_t own_inodes(struct own_ctx *o, struct e3s_image_check *r,
			    e3s_image_say_fn fn, void *arg)
{
	ext2_filsys fs = o->fs;
	ext2_inode_scan scan = NULL;
	struct ext2_inode inode;
	ext2_ino_t ino;
	char *block_buf = NULL;
	errcode_t err, ierr;
	blk64_t bad;

	err = ext2fs_get_mem(3 * fs->blocksize, &block_buf);
	if (!err)
		err = ext2fs_open_inode_scan(fs, 0, &scan);
	if (err)
		goto out;
	fs->priv_data = o;
	fs->read_inode = scanned_inode;
	for (;;) {
		err = ext2fs_get_next_inode(scan, &ino, &inode);
		if (err == EXT2_ET_BAD_BLOCK_IN_INODE_TABLE)
			continue;
		if (err || !ino)
			break;
		/* In use for the bitmap is what the inode bitmap says. */
		if (!ext2fs_test_inode_bitmap2(fs->inode_map, ino))
			continue;
		bad = o->bad;
		own(o, ext2fs_file_acl_block(fs, &inode),
		    !!ext2fs_file_acl_block(fs, &inode));
		ierr = 0;
		if (ino == EXT2_BAD_INO ||
		    ext2fs_inode_has_valid_blocks2(fs, &inode)) {
			o->ino = ino;
			o->inode = inode;
			ierr = ext2fs_block_iterate3(fs, ino,
						     BLOCK_FLAG_READ_ONLY,
						     block_buf, own_block, o);
			o->ino = 0;
		}
		if ((ierr || o->bad != bad) && r->bad_maps++ < SAY_MAX)
			say(fn, arg, "inode %u's block map %s", ino,
			    ierr ? error_message(ierr) :
			    "names blocks outside the filesystem");
	}
out:
	fs->read_inode = NULL;
	fs->priv_data = NULL;
	if (scan)
		ext2fs_close_inode_scan(scan);
	ext2fs_free_mem(&block_buf);
	return err;
}

struct ranges {
	char line[E3S_MSG_LEN];
	size_t len;
	unsigned int n;
	__u64 more;			/* blocks past RANGES_MAX ranges */
	int sign;			/* of the open range, 0 if none */
	blk64_t start, end;
};

static void range_close(struct ranges *rg)
{
	if (!rg->sign)
		return;
	if (rg->n++ >= RANGES_MAX)
		rg->more += rg->end - rg->start + 1;
	else if (rg->start == rg->end)
		rg->len += snprintf(rg->line + rg->len, sizeof(rg->line) - rg->len,
				    " %c%llu", rg->sign,
				    (unsigned long long)rg->start);
	else
		rg->len += snprintf(rg->line + rg->len, sizeof(rg->line) - rg->len,
				    " %c(%llu--%llu)", rg->sign,
				    (unsigned long long)rg->start,
				    (unsigned long long)rg->end);
	if (rg->len >= sizeof(rg->line))
		rg->len = sizeof(rg->line) - 1;
	rg->sign = 0;
}

static void range_add(struct ranges *rg, int sign, blk64_t b)
{
	if (rg->sign == sign && rg->end + 1 == b) {
		rg->end = b;
		return;
	}
	range_close(rg);
	rg->sign = sign;
	rg->start = rg->end = b;
}

errcode_t e3s_image_check(ext2_filsys ifs, struct e3s_image_check *r,
			  e3s_image_say_fn fn, void *arg, char *msg)
{
	struct own_ctx o = { .fs = ifs };
	struct ranges rg = { .len = 0 };
	unsigned char *in = NULL, *owned = NULL;
	blk64_t first;
	__u64 total = 0;
	__u32 gfree;
	errcode_t err;
	dgrp_t g;
	int i, count;

	memset(r, 0, sizeof(*r));
	err = ext2fs_read_bitmaps(ifs);
	if (!err)
		err = ext2fs_allocate_block_bitmap(ifs, "owned by the image",
						   &o.owned);
	if (!err)
		err = ext2fs_get_mem(ifs->blocksize, &in);
	if (!err)
		err = ext2fs_get_mem(ifs->blocksize, &owned);
	if (err)
		goto out;
	own_tables(&o, r, fn, arg);
	err = own_inodes(&o, r, fn, arg);
	if (err)
		goto out;
	if (r->bad_maps > SAY_MAX)
		say(fn, arg, "and %u more inodes with such block maps",
		    r->bad_maps - SAY_MAX);

	/*
	 * As e2fsck -n's pass 5: the bitmap against what is owned, and each
	 * count against the bitmap's free blocks.
	 */
	for (g = 0; g < ifs->group_desc_count; g++) {
		first = ext2fs_group_first_block2(ifs, g);
		count = ext2fs_group_blocks_count(ifs, g);
		err = ext2fs_get_block_bitmap_range2(ifs->block_map, first,
						     count, in);
		if (!err)
			err = ext2fs_get_block_bitmap_range2(o.owned, first,
							     count, owned);
		if (err)
			goto out;
		gfree = 0;
		for (i = 0; i < count; i++) {
			int used = ext2fs_test_bit(i, in);

			gfree += !used;
			if (used == ext2fs_test_bit(i, owned))
				continue;
			if (used)
				r->not_owned++;
			else
				r->not_marked++;
			range_add(&rg, used ? '-' : '+', first + i);
		}
		total += gfree;
		if (gfree != ext2fs_bg_free_blocks_count(ifs, g) &&
		    r->groups_wrong++ < SAY_MAX)
			say(fn, arg, "free blocks count wrong for group #%u (%u, counted=%u)",
			    g, ext2fs_bg_free_blocks_count(ifs, g), gfree);
	}
	range_close(&rg);
	if (rg.n)
		say(fn, arg, "block bitmap differences:%s%s", rg.line,
		    rg.more ? " ..." : "");
	if (rg.more)
		say(fn, arg, "and %llu more blocks differ",
		    (unsigned long long)rg.more);
	if (r->groups_wrong > SAY_MAX)
		say(fn, arg, "and %u more groups with a wrong count",
		    r->groups_wrong - SAY_MAX);
	r->sb_free = ext2fs_free_blocks_count(ifs->super);
	r->sb_counted = total;
out:
	if (o.owned)
		ext2fs_free_block_bitmap(o.owned);
	ext2fs_free_mem(&in);
	ext2fs_free_mem(&owned);
	if (err)
		snprintf(msg, E3S_MSG_LEN, "%s", error_message(err));
	return err;
}
