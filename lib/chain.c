// SPDX-License-Identifier: GPL-2.0
/*
 * libext3snap: the chain of snapshots. Each snapshot file carries the
 * xattr trusted.ext3snap (struct ext3snap_xattr); the superblock's
 * s_snapshot_inum names the newest, and each x_prev the next older one.
 * A head without the xattr (the format before chains) is a chain of one
 * with id s_snapshot_id. See Documentation/ext3snap-format.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext3snap.h"
#include "libext3snap.h"

#define XATTR_KEY	"trusted." EXT3SNAP_XATTR_NAME

static errcode_t open_xattrs(ext2_filsys fs, ext2_ino_t ino,
			     struct ext2_xattr_handle **h)
{
	errcode_t err;

	*h = NULL;
	err = ext2fs_xattrs_open(fs, ino, h);
	if (!err)
		err = ext2fs_xattrs_read(*h);
	if (err && *h)
		ext2fs_xattrs_close(h);
	return err;
}

int e3s_snap_xattr_get(ext2_filsys fs, ext2_ino_t ino, struct e3s_snap_x *x,
		       char *msg)
{
	struct ext2_xattr_handle *h;
	struct ext3snap_xattr *d;
	void *val = NULL;
	size_t len = 0;
	errcode_t err;
	int ret = -1;

	if (!ext2fs_has_feature_xattr(fs->super))
		return 0;
	err = open_xattrs(fs, ino, &h);
	if (err) {
		snprintf(msg, E3S_MSG_LEN,
			 "cannot read the xattrs of snapshot inode %u: %s",
			 ino, error_message(err));
		return -1;
	}
	err = ext2fs_xattr_get(h, XATTR_KEY, &val, &len);
	ext2fs_xattrs_close(&h);
	if (err == EXT2_ET_EA_KEY_NOT_FOUND)
		return 0;
	if (err) {
		snprintf(msg, E3S_MSG_LEN,
			 "cannot read the %s xattr of snapshot inode %u: %s",
			 XATTR_KEY, ino, error_message(err));
		return -1;
	}
	d = val;
	if (len != sizeof(*d))
		snprintf(msg, E3S_MSG_LEN,
			 "the %s xattr of inode %u has %zu bytes, not %zu",
			 XATTR_KEY, ino, len, sizeof(*d));
	else if (ext2fs_le32_to_cpu(d->x_magic) != EXT3SNAP_XATTR_MAGIC)
		snprintf(msg, E3S_MSG_LEN,
			 "the %s xattr of inode %u has magic 0x%08x, not 0x%08x",
			 XATTR_KEY, ino, ext2fs_le32_to_cpu(d->x_magic),
			 EXT3SNAP_XATTR_MAGIC);
	else
		ret = 1;
	if (ret == 1) {
		x->id = ext2fs_le32_to_cpu(d->x_id);
		x->prev = ext2fs_le32_to_cpu(d->x_prev);
		x->flags = ext2fs_le32_to_cpu(d->x_flags);
		x->time = ext2fs_le64_to_cpu(d->x_time);
		x->parent = ext2fs_le32_to_cpu(d->x_parent);
		x->parent_gen = ext2fs_le32_to_cpu(d->x_parent_gen);
	}
	ext2fs_free_mem(&val);
	return ret;
}

int e3s_snap_xattr_set(ext2_filsys fs, ext2_ino_t ino,
		       const struct e3s_snap_x *x, char *msg)
{
	struct ext2_xattr_handle *h;
	struct ext3snap_xattr d;
	errcode_t err;

	memset(&d, 0, sizeof(d));
	d.x_magic = ext2fs_cpu_to_le32(EXT3SNAP_XATTR_MAGIC);
	d.x_id = ext2fs_cpu_to_le32(x->id);
	d.x_prev = ext2fs_cpu_to_le32(x->prev);
	d.x_flags = ext2fs_cpu_to_le32(x->flags);
	d.x_time = ext2fs_cpu_to_le64(x->time);
	d.x_parent = ext2fs_cpu_to_le32(x->parent);
	d.x_parent_gen = ext2fs_cpu_to_le32(x->parent_gen);
	err = open_xattrs(fs, ino, &h);
	if (!err) {
		/* Writes the inode's xattrs out (libext2fs 1.44 and later). */
		err = ext2fs_xattr_set(h, XATTR_KEY, &d, sizeof(d));
		ext2fs_xattrs_close(&h);
	}
	if (err)
		snprintf(msg, E3S_MSG_LEN,
			 "cannot write the %s xattr of inode %u: %s",
			 XATTR_KEY, ino, error_message(err));
	return err ? -1 : 0;
}

int e3s_snap_xattr_remove(ext2_filsys fs, ext2_ino_t ino, char *msg)
{
	struct ext2_xattr_handle *h;
	errcode_t err;

	if (!ext2fs_has_feature_xattr(fs->super))
		return 0;
	err = open_xattrs(fs, ino, &h);
	if (!err) {
		/* Nothing to do (and no error) if it has none. */
		err = ext2fs_xattr_remove(h, XATTR_KEY);
		ext2fs_xattrs_close(&h);
	}
	if (err)
		snprintf(msg, E3S_MSG_LEN,
			 "cannot remove the %s xattr of inode %u: %s",
			 XATTR_KEY, ino, error_message(err));
	return err ? -1 : 0;
}

int e3s_snap_inode_check(ext2_filsys fs, ext2_ino_t ino,
			 struct ext2_inode *inode, char *msg)
{
	errcode_t err;

	if (ino < EXT2_FIRST_INO(fs->super) || ino > fs->super->s_inodes_count) {
		snprintf(msg, E3S_MSG_LEN, "not a valid inode number");
		return -1;
	}
	err = ext2fs_read_inode(fs, ino, inode);
	if (err) {
		snprintf(msg, E3S_MSG_LEN, "%s", error_message(err));
		return -1;
	}
	if (!ext2fs_test_inode_bitmap2(fs->inode_map, ino) ||
	    !inode->i_links_count || inode->i_dtime)
		snprintf(msg, E3S_MSG_LEN, "a free inode");
	else if (!LINUX_S_ISREG(inode->i_mode))
		snprintf(msg, E3S_MSG_LEN, "not a regular file");
	else if (!(inode->i_flags & EXT3SNAP_SNAPFILE_FL))
		snprintf(msg, E3S_MSG_LEN, "without the snapshot flag");
	else
		return 0;
	return -1;
}

void e3s_chain_free(struct e3s_chain *c)
{
	free(c->m);
	c->m = NULL;
	c->n = 0;
}

int e3s_chain_has(const struct e3s_chain *c, ext2_ino_t ino)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		if (c->m[i].ino == ino)
			return 1;
	return 0;
}

/* Who names inode INO: the superblock, or the member before it. */
static void namer(const struct e3s_chain *c, char *buf, size_t len)
{
	if (!c->n)
		snprintf(buf, len, "the superblock (s_snapshot_inum)");
	else
		snprintf(buf, len, "the x_prev of snapshot %u (inode %u)",
			 c->m[c->n - 1].id, c->m[c->n - 1].ino);
}

int e3s_chain_walk(ext2_filsys fs, struct e3s_chain *c, char *msg)
{
	ext2_ino_t ino = fs->super->s_snapshot_inum;
	ext2fs_inode_bitmap seen = NULL;
	struct e3s_chain_member m, *grown;
	char why[E3S_MSG_LEN], who[160];
	struct ext2_inode inode;
	unsigned int room = 0;
	errcode_t err;
	int r;

	memset(c, 0, sizeof(*c));
	c->end = E3S_CHAIN_OK;
	err = ext2fs_read_bitmaps(fs);
	if (!err)
		err = ext2fs_allocate_inode_bitmap(fs, "ext3snap chain", &seen);
	if (err) {
		snprintf(msg, E3S_MSG_LEN,
			 "cannot walk the chain of snapshots: %s",
			 error_message(err));
		return -1;
	}
	/* Each inode at most once: the walk ends within s_inodes_count. */
	while (ino) {
		namer(c, who, sizeof(who));
		c->bad_ino = ino;
		if (e3s_snap_inode_check(fs, ino, &inode, why)) {
			c->end = E3S_CHAIN_NOT_SNAPFILE;
			snprintf(c->why, sizeof(c->why),
				 "%s names inode %u, which is not a snapshot file (%s)",
				 who, ino, why);
			break;
		}
		if (ext2fs_test_inode_bitmap2(seen, ino)) {
			c->end = E3S_CHAIN_LOOP;
			snprintf(c->why, sizeof(c->why),
				 "%s names inode %u, which is already in the chain: the chain is a loop",
				 who, ino);
			break;
		}
		memset(&m, 0, sizeof(m));
		m.ino = ino;
		r = e3s_snap_xattr_get(fs, ino, &m.x, why);
		if (r < 0) {
			c->end = E3S_CHAIN_BAD_XATTR;
			snprintf(c->why, sizeof(c->why), "%s names inode %u: %s",
				 who, ino, why);
			break;
		}
		if (!r && c->n) {
			c->end = E3S_CHAIN_BAD_XATTR;
			snprintf(c->why, sizeof(c->why),
				 "%s names inode %u, which has no %s xattr",
				 who, ino, XATTR_KEY);
			break;
		}
		m.has_x = r;
		m.id = r ? m.x.id : fs->super->s_snapshot_id;
		if (c->n && m.id >= c->m[c->n - 1].id) {
			c->end = E3S_CHAIN_ID_ORDER;
			snprintf(c->why, sizeof(c->why),
				 "%s names inode %u, whose id %u is not below %u: ids must decrease from the newest snapshot to the oldest",
				 who, ino, m.id, c->m[c->n - 1].id);
			break;
		}
		if (c->n == room) {
			room = room ? 2 * room : 8;
			grown = realloc(c->m, room * sizeof(*c->m));
			if (!grown) {
				snprintf(msg, E3S_MSG_LEN,
					 "cannot walk the chain of snapshots: out of memory");
				ext2fs_free_inode_bitmap(seen);
				e3s_chain_free(c);
				return -1;
			}
			c->m = grown;
		}
		c->m[c->n++] = m;
		ext2fs_mark_inode_bitmap2(seen, ino);
		ino = m.has_x ? m.x.prev : 0;
		c->bad_ino = 0;
	}
	ext2fs_free_inode_bitmap(seen);
	return 0;
}

int e3s_snapfiles(ext2_filsys fs, ext2_ino_t **inos, unsigned int *n,
		  char *msg)
{
	ext2_inode_scan scan = NULL;
	struct ext2_inode inode;
	unsigned int room = 0;
	ext2_ino_t ino, *grown;
	errcode_t err;

	*inos = NULL;
	*n = 0;
	err = ext2fs_read_bitmaps(fs);
	if (!err)
		err = ext2fs_open_inode_scan(fs, 0, &scan);
	while (!err) {
		err = ext2fs_get_next_inode(scan, &ino, &inode);
		if (err == EXT2_ET_BAD_BLOCK_IN_INODE_TABLE) {
			err = 0;
			continue;
		}
		if (err || !ino)
			break;
		if (ino < EXT2_FIRST_INO(fs->super) ||
		    !(inode.i_flags & EXT3SNAP_SNAPFILE_FL) ||
		    !inode.i_links_count || inode.i_dtime ||
		    !ext2fs_test_inode_bitmap2(fs->inode_map, ino))
			continue;
		if (*n == room) {
			room = room ? 2 * room : 16;
			grown = realloc(*inos, room * sizeof(**inos));
			if (!grown) {
				err = EXT2_ET_NO_MEMORY;
				break;
			}
			*inos = grown;
		}
		(*inos)[(*n)++] = ino;
	}
	if (scan)
		ext2fs_close_inode_scan(scan);
	if (err) {
		snprintf(msg, E3S_MSG_LEN,
			 "cannot scan the inodes for snapshot files: %s",
			 error_message(err));
		free(*inos);
		*inos = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}
