// SPDX-License-Identifier: GPL-2.0
/*
 * libext3snap: which on-disk formats ext3snap accepts (the same rule as
 * fs/ext3snap/features.c, from the same masks in ext3snap.h).
 */
#include <stdio.h>
#include <string.h>
#include <e2p/e2p.h>

#include "ext3snap.h"
#include "libext3snap.h"

errcode_t e3s_open(const char *dev, int rw, ext2_filsys *fs, char *msg)
{
	errcode_t err;
	int flags = EXT2_FLAG_64BITS | (rw ? EXT2_FLAG_RW : 0);

	err = ext2fs_open(dev, flags, 0, 0, unix_io_manager, fs);
	if (err)
		snprintf(msg, E3S_MSG_LEN,
			 "%s: cannot open as an ext2/3/4 filesystem: %s",
			 dev, error_message(err));
	return err;
}

/* Name the lowest feature bit set in BAD. */
static void name_feature(int compat_type, __u32 bad, char *buf, size_t len)
{
	int bit;

	for (bit = 0; bit < 32; bit++)
		if (bad & (1U << bit))
			break;
	snprintf(buf, len, "%s", e2p_feature2string(compat_type, 1U << bit));
}

int e3s_check_format(ext2_filsys fs, char *msg)
{
	struct ext2_super_block *sb = fs->super;
	char name[64];
	__u32 bad;

	bad = sb->s_feature_incompat & ~EXT3SNAP_INCOMPAT_OK;
	if (bad) {
		name_feature(E2P_FEATURE_INCOMPAT, bad, name, sizeof(name));
		snprintf(msg, E3S_MSG_LEN,
			 "%s: has the ext4 feature '%s'; ext3snap supports ext3-format filesystems only",
			 fs->device_name, name);
		return -1;
	}
	bad = sb->s_feature_ro_compat & ~EXT3SNAP_RO_COMPAT_OK;
	if (bad) {
		name_feature(E2P_FEATURE_RO_INCOMPAT, bad, name, sizeof(name));
		snprintf(msg, E3S_MSG_LEN,
			 "%s: has the ext4 feature '%s'; ext3snap supports ext3-format filesystems only",
			 fs->device_name, name);
		return -1;
	}
	if (!ext2fs_has_feature_journal(sb)) {
		snprintf(msg, E3S_MSG_LEN,
			 "%s: has no journal (ext2); add one with 'tune2fs -j %s'",
			 fs->device_name, fs->device_name);
		return -1;
	}
	return 0;
}

int e3s_check_device(const char *dev, char *msg)
{
	ext2_filsys fs;
	int ret;

	if (e3s_open(dev, 0, &fs, msg))
		return -1;
	ret = e3s_check_format(fs, msg);
	ext2fs_close_free(&fs);
	return ret;
}
