// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: which on-disk formats we accept.
 *
 * Snapshots map logical block N of a snapshot file to physical block N
 * through the classic ext3 indirect tree, and copy-on-write hooks sit in
 * the indirect-block paths only. So we take ext3-format filesystems and
 * refuse every ext4-only feature by name, before the mount gets anywhere.
 */
#define pr_fmt(fmt) "ext3snap: " fmt

#include <linux/fs.h>
#include <linux/printk.h>
#include "../ext4/ext4.h"
#include "hooks.h"
#include "ext3snap.h"

struct feature_name {
	u32 mask;
	const char *name;
};

static const struct feature_name incompat_names[] = {
	{ EXT4_FEATURE_INCOMPAT_COMPRESSION, "compression" },
	{ EXT4_FEATURE_INCOMPAT_JOURNAL_DEV, "journal_dev" },
	{ EXT4_FEATURE_INCOMPAT_EXTENTS, "extent" },
	{ EXT4_FEATURE_INCOMPAT_64BIT, "64bit" },
	{ EXT4_FEATURE_INCOMPAT_MMP, "mmp" },
	{ EXT4_FEATURE_INCOMPAT_FLEX_BG, "flex_bg" },
	{ EXT4_FEATURE_INCOMPAT_EA_INODE, "ea_inode" },
	{ EXT4_FEATURE_INCOMPAT_DIRDATA, "dirdata" },
	{ EXT4_FEATURE_INCOMPAT_CSUM_SEED, "metadata_csum_seed" },
	{ EXT4_FEATURE_INCOMPAT_LARGEDIR, "large_dir" },
	{ EXT4_FEATURE_INCOMPAT_INLINE_DATA, "inline_data" },
	{ EXT4_FEATURE_INCOMPAT_ENCRYPT, "encrypt" },
	{ EXT4_FEATURE_INCOMPAT_CASEFOLD, "casefold" },
};

static const struct feature_name ro_compat_names[] = {
	{ EXT4_FEATURE_RO_COMPAT_HUGE_FILE, "huge_file" },
	{ EXT4_FEATURE_RO_COMPAT_GDT_CSUM, "uninit_bg" },
	{ EXT4_FEATURE_RO_COMPAT_DIR_NLINK, "dir_nlink" },
	{ EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE, "extra_isize" },
	{ EXT4_FEATURE_RO_COMPAT_QUOTA, "quota" },
	{ EXT4_FEATURE_RO_COMPAT_BIGALLOC, "bigalloc" },
	{ EXT4_FEATURE_RO_COMPAT_METADATA_CSUM, "metadata_csum" },
	{ EXT4_FEATURE_RO_COMPAT_READONLY, "read-only" },
	{ EXT4_FEATURE_RO_COMPAT_PROJECT, "project" },
	{ EXT4_FEATURE_RO_COMPAT_VERITY, "verity" },
};

static const char *first_feature(u32 bad, const struct feature_name *t,
				 size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (bad & t[i].mask)
			return t[i].name;
	return NULL;
}

static void refuse(struct super_block *sb, int silent, const char *kind,
		   const char *name, u32 bad)
{
	if (silent)
		return;
	if (name)
		pr_err("%s: cannot mount: the filesystem has the ext4 %s feature '%s'; ext3snap supports ext3-format filesystems only (use -t ext4 for this one, or make it with mkfs.ext3)\n",
		       sb->s_id, kind, name);
	else
		pr_err("%s: cannot mount: unknown %s feature bits 0x%x; ext3snap supports ext3-format filesystems only\n",
		       sb->s_id, kind, bad);
}

int ext3snap_check_features(struct super_block *sb, int silent)
{
	struct ext4_super_block *es = EXT4_SB(sb)->s_es;
	u32 bad;

	/* The shared masks must mean what ext4 calls these features. */
	BUILD_BUG_ON(EXT3SNAP_INCOMPAT_OK != (EXT4_FEATURE_INCOMPAT_FILETYPE |
					      EXT4_FEATURE_INCOMPAT_RECOVER |
					      EXT4_FEATURE_INCOMPAT_META_BG));
	BUILD_BUG_ON(EXT3SNAP_RO_COMPAT_OK != (EXT4_FEATURE_RO_COMPAT_SPARSE_SUPER |
					       EXT4_FEATURE_RO_COMPAT_LARGE_FILE |
					       EXT4_FEATURE_RO_COMPAT_BTREE_DIR |
					       EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT));
	BUILD_BUG_ON(!(EXT4_FEATURE_RO_COMPAT_SUPP &
		       EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT));

	bad = le32_to_cpu(es->s_feature_incompat) & ~EXT3SNAP_INCOMPAT_OK;
	if (bad) {
		refuse(sb, silent, "incompat",
		       first_feature(bad, incompat_names,
				     ARRAY_SIZE(incompat_names)), bad);
		return -EINVAL;
	}
	bad = le32_to_cpu(es->s_feature_ro_compat) & ~EXT3SNAP_RO_COMPAT_OK;
	if (bad) {
		refuse(sb, silent, "ro_compat",
		       first_feature(bad, ro_compat_names,
				     ARRAY_SIZE(ro_compat_names)), bad);
		return -EINVAL;
	}
	if (!ext4_has_feature_journal(sb)) {
		if (!silent)
			pr_err("%s: cannot mount: the filesystem has no journal (ext2); add one with 'tune2fs -j %s' first\n",
			       sb->s_id, sb->s_id);
		return -EINVAL;
	}
	return 0;
}
