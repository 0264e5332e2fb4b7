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

#endif /* LIBEXT3SNAP_H */
