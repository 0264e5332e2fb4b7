/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libext3snap: on-disk parsing shared by the ext3snap tools, on libext2fs.
 */
#ifndef LIBEXT3SNAP_H
#define LIBEXT3SNAP_H

#include <stddef.h>
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

#endif /* LIBEXT3SNAP_H */
