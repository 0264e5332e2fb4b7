// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.ext3snap: check an ext3snap filesystem.
 *
 * Takes e2fsck's options and exit codes, so 'fsck -t ext3snap DEV' works.
 * It refuses a filesystem ext3snap does not handle; if snapshots exist
 * it recovers the jbd2 journal, walks the chain of snapshots (newest to
 * oldest through their trusted.ext3snap xattrs), checks each snapshot's
 * structures and replays its before-image journal (BIJ), deals with
 * snapshot files outside the chain, checks each snapshot's image (its
 * block bitmaps and counts against what its files own, read with the
 * kernel's rules: lib/image.c), then hands the ordinary checks to e2fsck
 * itself rather than re-implementing them.
 *
 * e2fsck refuses RO_COMPAT_HAS_SNAPSHOT, which every filesystem with a
 * snapshot carries. Clearing the flag on disk for the check would leave
 * the filesystem mountable read-write by the stock driver if we crashed
 * in between, and an overlay device is heavy machinery; so e2fsck runs
 * with ext3snap-e2fsck-shim.so preloaded (e2fsck-shim.c), which hides the
 * flag in what e2fsck reads of the superblock and puts it back in what it
 * writes. The disk keeps the flag throughout, and -n writes nothing.
 *
 * Whatever it and e2fsck write must not change the newest snapshot's
 * image: right after journal recovery, every later write is put through
 * copy-before-write (lib/cow.c): ours through an io_manager, e2fsck's
 * through the shim. Blocks e2fsck frees that the snapshot still needs
 * (an orphan's) are moved to it afterwards, as the kernel does.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ext3snap.h"
#include "libext3snap.h"

/* e2fsck's exit codes (see e2fsck(8)); they add up. */
#define FSCK_OK		0
#define FSCK_FIXED	1
#define FSCK_UNFIXED	4
#define FSCK_ERROR	8
#define FSCK_USAGE	16

#define SHIM_NAME	"ext3snap-e2fsck-shim.so"
#define PROG		"fsck.ext3snap"

/*
 * Copy-before-write for the newest snapshot (NULL: nothing to protect,
 * or -n). One per run: the io_manager and the shim work on it.
 */
static struct e3s_cow *cow;
static ext2_ino_t cow_ino;	/* that snapshot's inode */
static __u32 cow_id;		/* and id */
static __u32 cow_first;		/* the first uncommitted jbd2 tid */

struct opts {
	int mode;		/* 'n', 'y', 'p' (-p, -a), or 0: ask */
	int remove;		/* --remove-snapshots */
	int force;		/* -f: check the snapshots' images too */
	const char *dev;
	char **args;		/* argv for e2fsck, NULL-terminated */
	int nargs;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fsck.ext3snap [-n|-p|-a|-y] [-f] [-v] [e2fsck options] DEVICE\n"
		"       fsck.ext3snap --remove-snapshots DEVICE\n"
		"\n"
		"Checks an ext3 filesystem used with ext3snap: refuses formats ext3snap\n"
		"does not handle, checks the chain of snapshots and replays each one's\n"
		"before-image journal, then runs e2fsck with the same options. Exit codes\n"
		"are e2fsck's (0 clean, 1 fixed, 4 left uncorrected, 8 operational error,\n"
		"16 usage error).\n"
		"--remove-snapshots turns every snapshot into an ordinary file and the\n"
		"filesystem back into plain ext3.\n");
}

/* e2fsck options that take an argument (see e2fsck(8)). */
static int takes_arg(char c)
{
	return strchr("bBCEjlLz", c) != NULL;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int i, j;

	o->args = calloc(argc + 2, sizeof(*o->args));
	if (!o->args) {
		perror(PROG);
		return -1;
	}
	o->args[o->nargs++] = "e2fsck";
	for (i = 1; i < argc; i++) {
		char *a = argv[i];

		if (!strcmp(a, "--remove-snapshots")) {
			o->remove = 1;
			continue;
		}
		if (a[0] != '-' || !a[1]) {
			if (o->dev) {
				fprintf(stderr, PROG ": more than one device given (%s, %s)\n",
					o->dev, a);
				return -1;
			}
			o->dev = a;
			o->args[o->nargs++] = a;
			continue;
		}
		o->args[o->nargs++] = a;
		for (j = 1; a[j]; j++) {
			if (strchr("npay", a[j])) {
				int m = a[j] == 'a' ? 'p' : a[j];

				if (o->mode && o->mode != m) {
					fprintf(stderr, PROG ": only one of -n, -p/-a, -y may be given\n");
					return -1;
				}
				o->mode = m;
			} else if (a[j] == 'f') {
				o->force = 1;
			} else if (takes_arg(a[j])) {
				if (!a[j + 1] && i + 1 < argc)
					o->args[o->nargs++] = argv[++i];
				break;
			}
		}
	}
	if (!o->dev) {
		fprintf(stderr, PROG ": no device given\n");
		return -1;
	}
	if (o->remove && o->nargs != 2) {
		fprintf(stderr, PROG ": --remove-snapshots takes a device and no other option\n");
		return -1;
	}
	return 0;
}

/* May we fix PROBLEM? -y and -p say yes, -n no; otherwise ask. */
static int ask(const struct opts *o, const char *fix)
{
	char line[16];

	if (o->mode == 'y' || o->mode == 'p') {
		printf("%s: %s.\n", o->dev, fix);
		return 1;
	}
	if (o->mode == 'n' || !isatty(0)) {
		printf("%s: not fixed (%s) without -y or -p.\n", o->dev, fix);
		return 0;
	}
	printf("%s? <y>/n ", fix);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return line[0] != 'n' && line[0] != 'N';
}

/* The shim, next to us: ../lib/ (the build tree) or our own directory. */
static int find_shim(char *path, size_t len)
{
	const char *env = getenv("FSCK_EXT3SNAP_SHIM");
	char exe[PATH_MAX], *dir;
	ssize_t n;

	if (env && *env) {
		snprintf(path, len, "%s", env);
		if (!access(path, R_OK))
			return 0;
		fprintf(stderr, PROG ": cannot read %s (FSCK_EXT3SNAP_SHIM): %s\n",
			path, strerror(errno));
		return -1;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		fprintf(stderr, PROG ": cannot find my own executable: %s; set FSCK_EXT3SNAP_SHIM to the path of %s\n",
			strerror(errno), SHIM_NAME);
		return -1;
	}
	exe[n] = '\0';
	dir = dirname(exe);
	snprintf(path, len, "%s/../lib/%s", dir, SHIM_NAME);
	if (!access(path, R_OK))
		return 0;
	snprintf(path, len, "%s/%s", dir, SHIM_NAME);
	if (!access(path, R_OK))
		return 0;
	fprintf(stderr, PROG ": cannot find %s in %s/../lib or %s: reinstall ext3snap, or set FSCK_EXT3SNAP_SHIM to its path\n",
		SHIM_NAME, dir, dir);
	return -1;
}

/*
 * Run e2fsck with ARGS, through the shim if SHIM; its exit code, or
 * FSCK_ERROR if it could not run.
 */
static int run_e2fsck(char **args, const char *dev, int shim)
{
	char path[PATH_MAX + 64], *preload;
	const char *old;
	int status;
	pid_t pid;

	if (shim && find_shim(path, sizeof(path)))
		return FSCK_ERROR;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, PROG ": cannot run e2fsck: %s\n", strerror(errno));
		return FSCK_ERROR;
	}
	if (!pid) {
		if (shim) {
			old = getenv("LD_PRELOAD");
			if (asprintf(&preload, "%s%s%s", path, old ? " " : "",
				     old ? old : "") < 0)
				_exit(FSCK_ERROR);
			setenv("LD_PRELOAD", preload, 1);
			setenv("FSCK_EXT3SNAP_SHIM_DEVICE", dev, 1);
		}
		if (shim && cow) {
			char fd[16];

			snprintf(fd, sizeof(fd), "%d", e3s_cow_fd(cow));
			setenv("FSCK_EXT3SNAP_COW_FD", fd, 1);
			/* Zeroes written, not a zero-out the shim refuses. */
			setenv("UNIX_IO_NOZEROOUT", "1", 1);
		}
		execvp("e2fsck", args);
		fprintf(stderr, PROG ": cannot run e2fsck: %s (install e2fsprogs)\n",
			strerror(errno));
		_exit(FSCK_ERROR);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, PROG ": waiting for e2fsck: %s\n",
				strerror(errno));
			return FSCK_ERROR;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	fprintf(stderr, PROG ": e2fsck was killed by signal %d\n",
		WTERMSIG(status));
	return FSCK_ERROR;
}

static errcode_t open_fs(const char *dev, int rw, ext2_filsys *fs)
{
	errcode_t err;

	/*
	 * FORCE: libext2fs refuses to write a filesystem with the flag it
	 * does not know; e3s_check_device has accepted the format already.
	 */
	err = ext2fs_open(dev, EXT2_FLAG_64BITS |
			  (rw ? EXT2_FLAG_RW | EXT2_FLAG_FORCE : 0),
			  0, 0, rw ? e3s_cow_io_manager : unix_io_manager, fs);
	if (err)
		fprintf(stderr, PROG ": %s: cannot open: %s\n", dev,
			error_message(err));
	return err;
}

static int has_flag(ext2_filsys fs)
{
	return !!(fs->super->s_feature_ro_compat &
		  EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT);
}

/*
 * Recover the jbd2 journal through e2fsck if it needs it (not in -n mode),
 * and tell which transactions committed: *FIRST is the first id that did
 * not, or *UNKNOWN is set (-n with a journal that needs recovery).
 */
static int recover_journal(const struct opts *o, int shim, __u32 *first,
			   int *unknown)
{
	char msg[E3S_MSG_LEN];
	char *args[] = { "e2fsck", o->mode == 'y' ? "-y" : "-p", "-E",
			 "journal_only", (char *)o->dev, NULL };
	ext2_filsys fs;
	__u32 seq;
	int recovery, rc, ret;

	if (open_fs(o->dev, 0, &fs))
		return FSCK_ERROR;
	ret = e3s_journal_state(fs, &seq, &recovery, msg);
	ext2fs_close_free(&fs);
	if (ret) {
		fprintf(stderr, PROG ": %s\n", msg);
		return FSCK_ERROR;
	}
	*unknown = 0;
	*first = seq;
	if (!recovery)
		return FSCK_OK;
	if (o->mode == 'n') {
		printf("%s: the journal needs recovery, which -n does not do; snapshot blocks moved by recent transactions are not checked\n",
		       o->dev);
		*unknown = 1;
		return FSCK_OK;
	}
	rc = run_e2fsck(args, o->dev, shim);
	if (rc & ~FSCK_FIXED) {
		fprintf(stderr, PROG ": %s: journal recovery failed (e2fsck exit %d); see e2fsck's messages above\n",
			o->dev, rc);
		return rc | FSCK_ERROR;
	}
	if (open_fs(o->dev, 0, &fs))
		return FSCK_ERROR;
	ret = e3s_journal_state(fs, &seq, &recovery, msg);
	ext2fs_close_free(&fs);
	if (ret || recovery) {
		fprintf(stderr, PROG ": %s\n", ret ? msg :
			"the journal still needs recovery after e2fsck; run e2fsck -E journal_only and report a bug");
		return FSCK_ERROR;
	}
	/* Recovery restarts the log one id past the first incomplete one. */
	*first = seq - 1;
	return FSCK_OK;
}

/* Does the snapshot file map blocks outside the filesystem below I? */
struct bad_blocks {
	blk64_t image, first, end;
	__u64 bad;
};

static int count_bad(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		     blk64_t ref_blk, int ref_offset, void *priv)
{
	struct bad_blocks *b = priv;

	(void)fs, (void)ref_blk, (void)ref_offset;
	if (blockcnt >= 0 && (blk64_t)blockcnt < b->image &&
	    (*blocknr < b->first || *blocknr >= b->end))
		b->bad++;
	return 0;
}

/* Detach the chain from the superblock: it is not a usable one. */
static void detach(ext2_filsys fs)
{
	fs->super->s_snapshot_inum = 0;
	fs->super->s_feature_ro_compat &= ~EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT;
	ext2fs_mark_super_dirty(fs);
}

/* "snapshot 7 (inode 14)": one use per printf. */
static const char *snap_name(__u32 id, ext2_ino_t ino)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "snapshot %u (inode %u)", id, ino);
	return buf;
}

/* What to do with a snapshot that cannot be trusted. */
static void say_delete(const struct opts *o, __u32 id, ext2_ino_t ino)
{
	printf("%s: delete %s: e3snapconfig -d on its file (its name: debugfs -R 'ncheck %u' %s), or remove every snapshot with fsck.ext3snap --remove-snapshots %s\n",
	       o->dev, snap_name(id, ino), ino, o->dev, o->dev);
}

/*
 * Check one snapshot of the chain and replay its journal. FS is open
 * read-write unless -n; the blocks of committed moves of every journal
 * are reserved already. BROKEN: mark it broken whatever else is found.
 * *PENDING is set if, with -n, its journal holds copies its file does not
 * map yet (its image, and the older ones read through it, are not what
 * the disk shows). Returns e2fsck-style bits.
 */
static int check_member(const struct opts *o, ext2_filsys fs,
			const struct e3s_chain_member *m, __u32 first,
			int unknown, int broken, int *pending)
{
	struct ext2_super_block *sb = fs->super;
	int dry = o->mode == 'n', rc = 0, flags;
	ext2_ino_t ino = m->ino;
	struct e3s_bij_result r;
	struct ext2_inode inode;
	struct e3s_bij_hdr h;
	char msg[E3S_MSG_LEN];
	struct bad_blocks b;
	errcode_t err;

	err = ext2fs_read_inode(fs, ino, &inode);
	if (err) {
		fprintf(stderr, PROG ": %s: cannot read snapshot inode %u: %s\n",
			o->dev, ino, error_message(err));
		return FSCK_ERROR;
	}
	if ((inode.i_mode & 07777) != 0400 || inode_uid(inode) ||
	    inode_gid(inode)) {
		printf("%s: %s has mode %o, owner %u:%u; it must be 0400, 0:0\n",
		       o->dev, snap_name(m->id, ino), inode.i_mode & 07777,
		       inode_uid(inode), inode_gid(inode));
		if (ask(o, "set mode 0400, owner 0:0")) {
			inode.i_mode = LINUX_S_IFREG | 0400;
			inode.i_uid = inode.i_gid = 0;
			ext2fs_set_i_uid_high(inode, 0);
			ext2fs_set_i_gid_high(inode, 0);
			if (ext2fs_write_inode(fs, ino, &inode))
				return FSCK_ERROR;
			rc |= FSCK_FIXED;
		} else {
			rc |= FSCK_UNFIXED;
		}
	}
	if (e3s_bij_read_header(fs, ino, &h, msg)) {
		printf("%s: %s: %s\n", o->dev, snap_name(m->id, ino), msg);
		printf("%s: %s cannot be trusted (its journal header is unreadable, so it cannot even be marked broken)\n",
		       o->dev, snap_name(m->id, ino));
		say_delete(o, m->id, ino);
		return rc | FSCK_UNFIXED;
	}
	if (h.snap_id != m->id) {
		printf("%s: snapshot inode %u: its journal belongs to snapshot %u, but %s says %u\n",
		       o->dev, ino, h.snap_id,
		       m->has_x ? "its xattr" : "the superblock", m->id);
		if (ask(o, "mark the snapshot broken")) {
			broken = 1;
			rc |= FSCK_FIXED;
		} else {
			rc |= FSCK_UNFIXED;
		}
	}
	b = (struct bad_blocks){ .image = h.image_blocks, .end =
				 ext2fs_blocks_count(sb),
				 .first = sb->s_first_data_block };
	err = ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY, NULL,
				    count_bad, &b);
	if (err) {
		fprintf(stderr, PROG ": %s: cannot read the block map of snapshot inode %u: %s\n",
			o->dev, ino, error_message(err));
		return rc | FSCK_ERROR;
	}
	if (b.bad) {
		printf("%s: %s maps %llu blocks outside the filesystem (e2fsck will clear them)\n",
		       o->dev, snap_name(m->id, ino), (unsigned long long)b.bad);
		if (ask(o, "mark the snapshot broken")) {
			broken = 1;
			rc |= FSCK_FIXED;
		} else {
			rc |= FSCK_UNFIXED;
		}
	}

	flags = (dry ? E3S_BIJ_DRY_RUN : 0) | (unknown ? E3S_BIJ_TID_UNKNOWN : 0);
	if (e3s_bij_replay(fs, ino, first, flags, &r, msg)) {
		fprintf(stderr, PROG ": %s: %s\n", o->dev, msg);
		return rc | FSCK_ERROR;
	}
	*pending = dry && r.copies_new;
	if (r.copies_new || r.moved_new) {
		printf("%s: %s: %s %u journal records: %llu copied blocks, %llu moved blocks\n",
		       o->dev, snap_name(m->id, ino),
		       dry ? "would replay" : "replayed", r.records,
		       (unsigned long long)r.copies_new,
		       (unsigned long long)r.moved_new);
		rc |= dry ? FSCK_UNFIXED : FSCK_FIXED;
	} else if (o->mode != 'p' && r.records) {
		printf("%s: %s: %u journal records, already in the snapshot\n",
		       o->dev, snap_name(m->id, ino), r.records);
	}
	if (unknown && r.moved_uncommitted) {
		printf("%s: %s: %llu moved blocks wait for journal recovery\n",
		       o->dev, snap_name(m->id, ino),
		       (unsigned long long)r.moved_uncommitted);
		rc |= FSCK_UNFIXED;
	}
	if (r.end == E3S_BIJ_END_TORN) {
		printf("%s: %s: the last journal record was being written when the system stopped (%s); %s: nothing it protects reached the disk\n",
		       o->dev, snap_name(m->id, ino), r.why,
		       dry ? "it would be dropped" : "dropped");
		rc |= dry ? FSCK_UNFIXED : FSCK_FIXED;
	} else if (r.end == E3S_BIJ_END_CORRUPT &&
		   (h.flags & EXT3SNAP_BIJ_BROKEN)) {
		/* Known already; deleting the snapshot is the only cure. */
		if (o->mode != 'p')
			printf("%s: %s: damaged journal: %s\n", o->dev,
			       snap_name(m->id, ino), r.why);
	} else if (r.end == E3S_BIJ_END_CORRUPT) {
		printf("%s: %s: damaged journal: %s; the snapshot may have lost blocks\n",
		       o->dev, snap_name(m->id, ino), r.why);
		if (ask(o, "mark the snapshot broken")) {
			broken = 1;
			rc |= FSCK_FIXED;
		} else {
			rc |= FSCK_UNFIXED;
		}
	}
	if (broken && !dry) {
		if (e3s_bij_mark_broken(fs, ino, msg)) {
			fprintf(stderr, PROG ": %s: %s\n", o->dev, msg);
			return rc | FSCK_ERROR;
		}
		h.flags |= EXT3SNAP_BIJ_BROKEN;
	}
	if (h.flags & EXT3SNAP_BIJ_BROKEN) {
		printf("%s: %s is broken\n", o->dev, snap_name(m->id, ino));
		say_delete(o, m->id, ino);
	}
	return rc;
}

/*
 * Make snapshot file INO an ordinary file: replay its journal first (so
 * that the blocks moved to it are its own rather than nobody's), then
 * clear its snapshot flag and its xattr. 0, or -1 (said why).
 */
static int make_ordinary(const char *dev, ext2_filsys fs, ext2_ino_t ino,
			 __u32 first)
{
	struct e3s_bij_result r;
	struct ext2_inode inode;
	char msg[E3S_MSG_LEN];
	errcode_t err;

	if (e3s_bij_replay(fs, ino, first, 0, &r, msg))
		printf("%s: %s (not replayed; e2fsck -f will free the blocks it held)\n",
		       dev, msg);
	if (e3s_snap_xattr_remove(fs, ino, msg)) {
		fprintf(stderr, PROG ": %s: %s\n", dev, msg);
		return -1;
	}
	err = ext2fs_read_inode(fs, ino, &inode);
	if (!err) {
		inode.i_flags &= ~EXT3SNAP_SNAPFILE_FL;
		err = ext2fs_write_inode(fs, ino, &inode);
	}
	if (err) {
		fprintf(stderr, PROG ": %s: cannot write inode %u: %s\n", dev,
			ino, error_message(err));
		return -1;
	}
	return 0;
}

/*
 * Snapshot files that chain C does not hold. They become ordinary files,
 * unless the chain may hold them after all: its walk stopped early, or
 * the file has an xattr while the chain's head has none.
 */
static int check_orphans(const struct opts *o, ext2_filsys fs,
			 const struct e3s_chain *c, const ext2_ino_t *files,
			 unsigned int nfiles, __u32 first)
{
	int head_x = c->n && c->m[0].has_x;
	char msg[E3S_MSG_LEN], what[E3S_MSG_LEN + 32], fix[128];
	struct e3s_snap_x x;
	unsigned int i;
	int rc = 0, r;

	for (i = 0; i < nfiles; i++) {
		if (e3s_chain_has(c, files[i]))
			continue;
		r = e3s_snap_xattr_get(fs, files[i], &x, msg);
		if (r > 0)
			snprintf(what, sizeof(what), "its xattr says snapshot %u",
				 x.id);
		else if (!r)
			snprintf(what, sizeof(what), "no snapshot xattr");
		else
			snprintf(what, sizeof(what), "%s", msg);
		printf("%s: inode %u has the snapshot flag but is not in the chain of snapshots (%s)\n",
		       o->dev, files[i], what);
		if (c->end != E3S_CHAIN_OK || (r > 0 && !head_x)) {
			printf("%s: inode %u left alone: it may belong to a chain the superblock cannot reach; check the messages above, or remove every snapshot with fsck.ext3snap --remove-snapshots %s\n",
			       o->dev, files[i], o->dev);
			rc |= FSCK_UNFIXED;
			continue;
		}
		snprintf(fix, sizeof(fix),
			 "make inode %u an ordinary file (clear its snapshot flag and xattr)",
			 files[i]);
		if (!ask(o, fix)) {
			rc |= FSCK_UNFIXED;
			continue;
		}
		if (make_ordinary(o->dev, fs, files[i], first))
			return rc | FSCK_ERROR;
		printf("%s: inode %u is an ordinary read-only file now: find its name with \"debugfs -R 'ncheck %u' %s\" and delete it with rm to free its space\n",
		       o->dev, files[i], files[i], o->dev);
		rc |= FSCK_FIXED;
	}
	return rc;
}

/* Prefixes the findings of e3s_image_check with the snapshot's name. */
/*
 * Link into the newest snapshot what copy-before-write journaled: write
 * back what libext2fs holds in memory (which may journal more), replay
 * the journal, until nothing is left. FS open read-write. 0 or
 * FSCK_ERROR.
 */
static int settle(const struct opts *o, ext2_filsys fs)
{
	struct e3s_bij_result r;
	char msg[E3S_MSG_LEN];
	errcode_t err;
	int i;

	if (!(fs->flags & EXT2_FLAG_RW))
		return 0;
	/* Each block is saved once: a few rounds, bounded anyway. */
	for (i = 0; i < 100; i++) {
		err = ext2fs_flush(fs);
		if (err) {
			fprintf(stderr, PROG ": %s: cannot write the changes: %s\n",
				o->dev, error_message(err));
			return FSCK_ERROR;
		}
		if (!e3s_cow_pending(cow))
			return 0;
		if (e3s_bij_replay(fs, cow_ino, cow_first, 0, &r, msg)) {
			fprintf(stderr, PROG ": %s: %s\n", o->dev, msg);
			return FSCK_ERROR;
		}
		e3s_cow_linked(cow, r.end_pos);
	}
	fprintf(stderr, PROG ": %s: the newest snapshot's journal does not settle after %d replays; report a bug\n",
		o->dev, i);
	return FSCK_ERROR;
}

struct image_say {
	const char *dev;
	const struct e3s_chain_member *m;
};

static void say_image(void *arg, const char *line)
{
	const struct image_say *s = arg;

	printf("%s: %s: image %s\n", s->dev, snap_name(s->m->id, s->m->ino),
	       line);
}

/*
 * Check the image of member I of chain C: 1 if it is damaged, 0 if not,
 * -1 if it could not be checked (said why).
 */
static int check_image(const struct opts *o, ext2_filsys fs,
		       const struct e3s_chain *c, unsigned int i)
{
	const struct e3s_chain_member *m = &c->m[i];
	struct image_say sc = { .dev = o->dev, .m = m };
	struct e3s_image_check r;
	struct e3s_image *img;
	char msg[E3S_MSG_LEN];
	ext2_filsys ifs;
	errcode_t err;

	if (e3s_image_open(fs, c, i, &img, msg)) {
		printf("%s: %s: image not checked: %s\n", o->dev,
		       snap_name(m->id, m->ino), msg);
		return -1;
	}
	err = e3s_image_open_fs(img, &ifs);
	if (!err) {
		err = e3s_image_check(ifs, &r, say_image, &sc, msg);
		ext2fs_close_free(&ifs);
	} else {
		snprintf(msg, sizeof(msg), "%s", error_message(err));
	}
	e3s_image_close(img);
	if (err == EXT2_ET_NO_MEMORY) {
		printf("%s: %s: image not checked: %s\n", o->dev,
		       snap_name(m->id, m->ino), msg);
		return -1;
	}
	if (err) {
		printf("%s: %s: its image cannot be read as a filesystem: %s\n",
		       o->dev, snap_name(m->id, m->ino), msg);
		return 1;
	}
	/* As e2fsck: the kernel keeps this count lazily; not damage. */
	if (r.sb_free != r.sb_counted && o->mode != 'p')
		printf("%s: %s: image superblock free blocks count %llu, counted=%llu (not an error, as in e2fsck)\n",
		       o->dev, snap_name(m->id, m->ino),
		       (unsigned long long)r.sb_free,
		       (unsigned long long)r.sb_counted);
	return e3s_image_damaged(&r);
}

/*
 * After the replays: check the image of every snapshot of chain C not
 * marked broken, its block bitmap and free counts against what its own
 * files own, as e2fsck -fn on /dev/ssdev/N would. An image that changed
 * after its instant is a corrupt backup: fsck does not repair a snapshot's
 * image, it marks the snapshot broken (-y, -p). PENDING[i]: with -n,
 * member i's journal holds copies not replayed, so its image and those of
 * the older ones (read through it) are not what the disk holds: they are
 * skipped, never called clean. Returns e2fsck-style bits.
 */
static int check_images(const struct opts *o, ext2_filsys fs,
			const struct e3s_chain *c, const int *pending,
			int unknown, int mounted)
{
	const struct e3s_chain_member *m;
	struct e3s_bij_hdr h;
	char msg[E3S_MSG_LEN];
	int rc = 0, stale = 0, ret;
	unsigned int i;

	if (mounted) {
		printf("%s: mounted: the snapshots' images are not checked (the kernel holds copies not on disk yet); bind one with ssdevconfig and run e2fsck -fn on it\n",
		       o->dev);
		return 0;
	}
	if (unknown) {
		printf("%s: the snapshots' images are not checked: the journal needs recovery first (not done with -n)\n",
		       o->dev);
		return FSCK_UNFIXED;
	}
	/*
	 * The walk reads the device; the origin's bitmap is in memory, and
	 * what copy-before-write saved may not be linked yet.
	 */
	if ((fs->flags & EXT2_FLAG_RW) && settle(o, fs))
		return FSCK_ERROR;
	for (i = 0; i < c->n; i++) {
		m = &c->m[i];
		stale |= pending[i];
		/* Reported by check_member already. */
		if (e3s_bij_read_header(fs, m->ino, &h, msg) ||
		    (h.flags & EXT3SNAP_BIJ_BROKEN))
			continue;
		if (stale) {
			printf("%s: %s: image not checked: %s journal holds copies not replayed yet\n",
			       o->dev, snap_name(m->id, m->ino),
			       pending[i] ? "its" : "a newer snapshot's");
			rc |= FSCK_UNFIXED;
			continue;
		}
		ret = check_image(o, fs, c, i);
		if (ret < 0)
			rc |= FSCK_UNFIXED;
		if (ret <= 0)
			continue;
		printf("%s: %s: its image changed after it was taken: the snapshot is a corrupt backup (fsck.ext3snap does not repair a snapshot's image)\n",
		       o->dev, snap_name(m->id, m->ino));
		if (!ask(o, "mark the snapshot broken")) {
			rc |= FSCK_UNFIXED;
			continue;
		}
		if (e3s_bij_mark_broken(fs, m->ino, msg)) {
			fprintf(stderr, PROG ": %s: %s\n", o->dev, msg);
			return rc | FSCK_ERROR;
		}
		printf("%s: %s is broken\n", o->dev, snap_name(m->id, m->ino));
		say_delete(o, m->id, m->ino);
		rc |= FSCK_FIXED;
	}
	return rc;
}

/*
 * Check the chain of snapshots, each snapshot's structures and journal
 * (replayed), and the snapshot files outside the chain. FS is open
 * read-write unless -n. Returns e2fsck-style bits.
 */
static int check_snapshots(const struct opts *o, ext2_filsys fs, __u32 first,
			   int unknown, int mounted)
{
	struct ext2_super_block *sb = fs->super;
	int dry = o->mode == 'n', rc = 0, broken = 0;
	struct e3s_chain c = { 0 };
	struct e3s_bij_result r;
	char msg[E3S_MSG_LEN], fix[128];
	ext2_ino_t *files = NULL;
	unsigned int nfiles, i;
	int *pending = NULL;

	if (e3s_chain_walk(fs, &c, msg) ||
	    e3s_snapfiles(fs, &files, &nfiles, msg)) {
		fprintf(stderr, PROG ": %s: %s\n", o->dev, msg);
		e3s_chain_free(&c);
		return FSCK_ERROR;
	}
	if (!sb->s_snapshot_inum) {
		if (has_flag(fs)) {
			printf("%s: the has_snapshot flag is set but no snapshot exists\n",
			       o->dev);
			if (ask(o, "clear the flag")) {
				detach(fs);
				rc |= FSCK_FIXED;
			} else {
				rc |= FSCK_UNFIXED;
			}
		}
		rc |= check_orphans(o, fs, &c, files, nfiles, first);
		goto out;
	}
	if (!c.n) {
		/* The newest snapshot is not one: nothing of the chain. */
		printf("%s: %s\n", o->dev, c.why);
		if (!nfiles) {
			if (ask(o, "forget the snapshot (the origin is not affected)")) {
				detach(fs);
				rc |= FSCK_FIXED;
			} else {
				rc |= FSCK_UNFIXED;
			}
			goto out;
		}
		printf("%s: the chain of snapshots cannot be read, and %u files have the snapshot flag; they are left alone: remove every snapshot with fsck.ext3snap --remove-snapshots %s (the origin is not affected)\n",
		       o->dev, nfiles, o->dev);
		rc |= FSCK_UNFIXED;
		goto out;
	}
	if (o->mode != 'p') {
		printf("%s: %u snapshot%s, newest first:", o->dev, c.n,
		       c.n == 1 ? "" : "s");
		for (i = 0; i < c.n; i++)
			printf("%s %s%s", i ? "," : "",
			       snap_name(c.m[i].id, c.m[i].ino),
			       c.m[i].has_x && (c.m[i].x.flags &
						EXT3SNAP_X_DELETING) ?
			       " deleting" : "");
		printf("%s\n", c.end == E3S_CHAIN_OK ? "" :
		       ", then a damaged link (below)");
	}
	if (!has_flag(fs)) {
		printf("%s: snapshots exist but the has_snapshot flag is not set: the filesystem may have been written without keeping them\n",
		       o->dev);
		if (ask(o, "set the flag and mark every snapshot broken")) {
			sb->s_feature_ro_compat |=
				EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT;
			ext2fs_mark_super_dirty(fs);
			broken = 1;
			rc |= FSCK_FIXED;
		} else {
			rc |= FSCK_UNFIXED;
		}
	}
	if (c.m[0].id > sb->s_snapshot_id) {
		printf("%s: the newest snapshot has id %u, but the superblock's s_snapshot_id (the last id given) is %u: the next snapshot would reuse an id\n",
		       o->dev, c.m[0].id, sb->s_snapshot_id);
		snprintf(fix, sizeof(fix), "set s_snapshot_id to %u",
			 c.m[0].id);
		if (ask(o, fix)) {
			sb->s_snapshot_id = c.m[0].id;
			ext2fs_mark_super_dirty(fs);
			rc |= FSCK_FIXED;
		} else {
			rc |= FSCK_UNFIXED;
		}
	}
	/*
	 * Reserve the blocks every journal moves before any replay
	 * allocates a block: a copy into one snapshot must not take a block
	 * another one is owed. A journal that cannot be read is reported by
	 * check_member.
	 */
	for (i = 0; !dry && i < nfiles; i++)
		e3s_bij_replay(fs, files[i], first, E3S_BIJ_RESERVE_ONLY, &r,
			       msg);
	pending = calloc(c.n, sizeof(*pending));
	if (!pending) {
		fprintf(stderr, PROG ": %s: out of memory\n", o->dev);
		rc |= FSCK_ERROR;
		goto out;
	}
	for (i = 0; i < c.n; i++) {
		rc |= check_member(o, fs, &c.m[i], first, unknown, broken,
				   &pending[i]);
		if (rc & FSCK_ERROR)
			goto out;
	}
	/* With -f, or when a replay changed the snapshots (e2fsck gets -f). */
	if (o->force || (rc & FSCK_FIXED)) {
		rc |= check_images(o, fs, &c, pending, unknown, mounted);
		if (rc & FSCK_ERROR)
			goto out;
	}
	if (c.end != E3S_CHAIN_OK) {
		printf("%s: the chain of snapshots is damaged: %s\n", o->dev,
		       c.why);
		printf("%s: the snapshots older than %s cannot be reached; fsck.ext3snap does not guess where the chain goes: remove every snapshot with fsck.ext3snap --remove-snapshots %s (the origin is not affected)\n",
		       o->dev, snap_name(c.m[c.n - 1].id, c.m[c.n - 1].ino),
		       o->dev);
		rc |= FSCK_UNFIXED;
	}
	rc |= check_orphans(o, fs, &c, files, nfiles, first);
out:
	free(pending);
	free(files);
	e3s_chain_free(&c);
	return rc;
}

/*
 * Set up copy-before-write for the newest snapshot, before anything but
 * journal recovery (whose writes the kernel's journal ordering made safe)
 * has written. Not in -n. A snapshot whose header cannot be read is left
 * to check_member, which says it cannot be trusted. 0 or FSCK_ERROR.
 */
static int protect_newest(const struct opts *o, __u32 first)
{
	char msg[E3S_MSG_LEN];
	struct ext2_inode inode;
	struct e3s_bij_hdr h;
	ext2_filsys fs;
	ext2_ino_t ino;
	int rc = 0;

	if (o->mode == 'n')
		return 0;
	if (open_fs(o->dev, 0, &fs))
		return FSCK_ERROR;
	ino = fs->super->s_snapshot_inum;
	if (ino && !ext2fs_read_bitmaps(fs) &&
	    !e3s_snap_inode_check(fs, ino, &inode, msg) &&
	    !e3s_bij_read_header(fs, ino, &h, msg)) {
		if (e3s_cow_setup(fs, ino, first, 0, &cow, msg)) {
			fprintf(stderr, PROG ": %s: %s\n", o->dev, msg);
			rc = FSCK_ERROR;
		}
		cow_ino = ino;
		cow_id = h.snap_id;
		cow_first = first;
	}
	ext2fs_close_free(&fs);
	e3s_cow_io_use(cow);
	return rc;
}

/*
 * Blocks the newest snapshot still reads from the origin that are free
 * now: e2fsck freed them (an orphan's, a cleared inode's) without moving
 * them to the snapshot as the kernel does. Nothing wrote them since (the
 * shim saves a block before any write), so they move to it now: all
 * marked in use first, so that mapping them allocates none of them as an
 * indirect block. The number moved, or -1 (said why).
 */
static long long keep_freed(const struct opts *o, ext2_filsys fs)
{
	__u64 b, end = ext2fs_blocks_count(fs->super), *list = NULL, *bigger;
	size_t n = 0, cap = 0, i;
	struct ext2_inode inode;
	errcode_t err;

	err = ext2fs_read_bitmaps(fs);
	for (b = fs->super->s_first_data_block; !err && b < end; b++) {
		if (!e3s_cow_needs(cow, b) ||
		    ext2fs_test_block_bitmap2(fs->block_map, b))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			bigger = realloc(list, cap * sizeof(*list));
			if (!bigger) {
				err = EXT2_ET_NO_MEMORY;
				break;
			}
			list = bigger;
		}
		list[n++] = b;
		/* In use from now on: no allocation below may take it. */
		ext2fs_block_alloc_stats2(fs, b, +1);
	}
	if (!err && n)
		err = ext2fs_read_inode(fs, cow_ino, &inode);
	for (i = 0; !err && i < n; i++) {
		err = e3s_snap_map(fs, cow_ino, &inode, list[i], list[i]);
		e3s_cow_forget(cow, list[i]);
	}
	if (!err && n)
		err = ext2fs_write_inode(fs, cow_ino, &inode);
	free(list);
	if (err) {
		fprintf(stderr, PROG ": %s: cannot keep the blocks e2fsck freed for the newest snapshot: %s\n",
			o->dev, error_message(err));
		return -1;
	}
	return n;
}

/* Check every snapshot's image again, after e2fsck. */
static int recheck_images(const struct opts *o, ext2_filsys fs)
{
	struct e3s_chain c = { 0 };
	char msg[E3S_MSG_LEN];
	int *pending, rc;

	if (e3s_chain_walk(fs, &c, msg)) {
		fprintf(stderr, PROG ": %s: %s\n", o->dev, msg);
		return FSCK_ERROR;
	}
	/* Everything is replayed by now. */
	pending = calloc(c.n ? c.n : 1, sizeof(*pending));
	rc = pending ? check_images(o, fs, &c, pending, 0, 0) : FSCK_ERROR;
	free(pending);
	e3s_chain_free(&c);
	return rc;
}

/*
 * After e2fsck: keep what it freed for the newest snapshot, link what the
 * shim journaled, check the images again if anything was written under
 * them, and say what was done. Returns e2fsck-style bits.
 */
static int after_e2fsck(const struct opts *o)
{
	const char *why;
	ext2_filsys fs;
	long long moved;
	int rc = 0;

	if (!cow)
		return 0;
	if (open_fs(o->dev, 1, &fs))
		return FSCK_ERROR;
	fs->flags |= EXT2_FLAG_MASTER_SB_ONLY;
	moved = e3s_cow_broken(cow, &why) ? 0 : keep_freed(o, fs);
	if (moved < 0)
		rc = FSCK_ERROR;
	else
		rc = settle(o, fs);
	/* Something was written under the snapshots: look at them again. */
	if (!rc && (moved > 0 || e3s_cow_saved(cow)))
		rc = recheck_images(o, fs);
	if (ext2fs_close_free(&fs)) {
		fprintf(stderr, PROG ": %s: cannot write the changes\n",
			o->dev);
		rc |= FSCK_ERROR;
	}
	/*
	 * Bookkeeping, not repairs: no exit bit for them (e2fsck counted
	 * what it fixed), and quiet with -p.
	 */
	if (moved > 0 && o->mode != 'p')
		printf("%s: %s: kept %lld blocks e2fsck freed, which it still needs\n",
		       o->dev, snap_name(cow_id, cow_ino), moved);
	if (e3s_cow_saved(cow) && o->mode != 'p')
		printf("%s: %s: saved %llu blocks before they were changed\n",
		       o->dev, snap_name(cow_id, cow_ino),
		       (unsigned long long)e3s_cow_saved(cow));
	if (e3s_cow_broken(cow, &why)) {
		printf("%s: %s is broken: %s; the repairs could not keep it exact\n",
		       o->dev, snap_name(cow_id, cow_ino), why);
		say_delete(o, cow_id, cow_ino);
		rc |= FSCK_UNFIXED;
	}
	return rc;
}

/* The checks before e2fsck's: journal recovery, the chain, the BIJs. */
static int snapshot_pass(const struct opts *o)
{
	int rc, unknown, mflags = 0;
	ext2_filsys fs;
	errcode_t err;
	__u32 first;

	err = ext2fs_check_if_mounted(o->dev, &mflags);
	if (err) {
		fprintf(stderr, PROG ": %s: cannot tell whether it is mounted: %s\n",
			o->dev, error_message(err));
		return FSCK_ERROR;
	}
	if ((mflags & EXT2_MF_MOUNTED) && o->mode != 'n') {
		fprintf(stderr, PROG ": %s is mounted; unmount it first, or check it read-only with -n\n",
			o->dev);
		return FSCK_ERROR;
	}
	rc = recover_journal(o, 1, &first, &unknown);
	if (rc & FSCK_ERROR)
		return rc;
	rc |= protect_newest(o, first);
	if (rc & FSCK_ERROR)
		return rc;
	if (open_fs(o->dev, o->mode != 'n', &fs))
		return FSCK_ERROR;
	/* Like the kernel and e2fsck: backups are e2fsck's business. */
	fs->flags |= EXT2_FLAG_MASTER_SB_ONLY;
	rc |= check_snapshots(o, fs, first, unknown,
			      !!(mflags & EXT2_MF_MOUNTED));
	if (!(rc & FSCK_ERROR))
		rc |= settle(o, fs);
	err = ext2fs_close_free(&fs);
	if (err) {
		fprintf(stderr, PROG ": %s: cannot write the changes: %s\n",
			o->dev, error_message(err));
		rc |= FSCK_ERROR;
	}
	return rc;
}

/*
 * --remove-snapshots: back to plain ext3, every snapshot file (of the
 * chain, or carrying the flag outside it) an ordinary file.
 */
static int remove_snapshots(const struct opts *o)
{
	int rc, unknown, mflags = 0, shim, r;
	struct e3s_chain c = { 0 };
	struct e3s_bij_result res;
	struct opts yes = *o;
	ext2_ino_t ino, *files = NULL;
	unsigned int nfiles, i;
	char msg[E3S_MSG_LEN];
	struct e3s_snap_x x;
	ext2_filsys fs;
	errcode_t err;
	__u32 first;

	err = ext2fs_check_if_mounted(o->dev, &mflags);
	if (err || (mflags & EXT2_MF_MOUNTED)) {
		fprintf(stderr, PROG ": %s: %s; unmount it first\n", o->dev,
			err ? error_message(err) : "is mounted");
		return FSCK_ERROR;
	}
	if (open_fs(o->dev, 0, &fs))
		return FSCK_ERROR;
	ino = fs->super->s_snapshot_inum;
	shim = has_flag(fs);
	r = e3s_snapfiles(fs, &files, &nfiles, msg);
	ext2fs_close_free(&fs);
	if (r) {
		fprintf(stderr, PROG ": %s: %s\n", o->dev, msg);
		return FSCK_ERROR;
	}
	free(files);
	files = NULL;
	if (!ino && !shim && !nfiles) {
		printf("%s has no snapshot: nothing to do\n", o->dev);
		return FSCK_OK;
	}
	yes.mode = 'p';
	rc = recover_journal(&yes, shim, &first, &unknown);
	if (rc & FSCK_ERROR)
		return rc;
	if (open_fs(o->dev, 1, &fs))
		return FSCK_ERROR;
	if (e3s_chain_walk(fs, &c, msg) ||
	    e3s_snapfiles(fs, &files, &nfiles, msg)) {
		fprintf(stderr, PROG ": %s: %s\n", o->dev, msg);
		rc = FSCK_ERROR;
		goto out;
	}
	if (c.end != E3S_CHAIN_OK)
		printf("%s: the chain of snapshots is damaged (%s); removing every snapshot file found\n",
		       o->dev, c.why);
	/*
	 * Replay every journal first, so that the blocks moved to a
	 * snapshot belong to its file rather than to nobody; all moves
	 * reserved before any copy allocates.
	 */
	for (i = 0; i < nfiles; i++)
		e3s_bij_replay(fs, files[i], first, E3S_BIJ_RESERVE_ONLY,
			       &res, msg);
	for (i = 0; i < nfiles; i++) {
		r = e3s_snap_xattr_get(fs, files[i], &x, msg);
		if (make_ordinary(o->dev, fs, files[i], first)) {
			rc = FSCK_ERROR;
			goto out;
		}
		if (files[i] == ino && r <= 0)
			x.id = fs->super->s_snapshot_id;
		if (r > 0 || files[i] == ino)
			printf("%s: %s removed; its file is now an ordinary read-only file\n",
			       o->dev, snap_name(x.id, files[i]));
		else
			printf("%s: snapshot file (inode %u) removed; it is now an ordinary read-only file\n",
			       o->dev, files[i]);
	}
	if (nfiles) {
		printf("%s: find the files' names with \"debugfs -R 'ncheck",
		       o->dev);
		for (i = 0; i < nfiles; i++)
			printf(" %u", files[i]);
		printf("' %s\" and delete them with rm to free their space\n",
		       o->dev);
	}
	/* All superblock copies: none may carry the flag any more. */
	detach(fs);
out:
	free(files);
	e3s_chain_free(&c);
	err = ext2fs_close_free(&fs);
	if (err) {
		fprintf(stderr, PROG ": %s: cannot write the superblock: %s\n",
			o->dev, error_message(err));
		return FSCK_ERROR;
	}
	if (rc)
		return rc;
	printf("%s is plain ext3 again\n", o->dev);
	return FSCK_OK;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	char msg[E3S_MSG_LEN];
	ext2_filsys fs;
	int rc, i, snap;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return FSCK_OK;
		}
	}
	if (argc < 2 || parse(argc, argv, &o)) {
		usage(stderr);
		return FSCK_USAGE;
	}
	if (e3s_check_device(o.dev, msg)) {
		fprintf(stderr, PROG ": %s\n", msg);
		fprintf(stderr, PROG ": check it with e2fsck instead\n");
		return FSCK_ERROR;
	}
	if (o.remove)
		return remove_snapshots(&o);

	if (open_fs(o.dev, 0, &fs))
		return FSCK_ERROR;
	/* A journal to recover may hold a take: the flag would appear. */
	snap = has_flag(fs) || fs->super->s_snapshot_inum ||
	       (o.mode != 'n' &&
		ext2fs_has_feature_journal_needs_recovery(fs->super));
	ext2fs_close_free(&fs);
	if (!snap) {
		/* Nothing of ours on it: e2fsck alone, as it is. */
		execvp("e2fsck", o.args);
		fprintf(stderr, PROG ": cannot run e2fsck: %s (install e2fsprogs)\n",
			strerror(errno));
		return FSCK_ERROR;
	}

	rc = snapshot_pass(&o);
	if (rc & (FSCK_ERROR | FSCK_USAGE))
		return rc;
	/* Blocks moved or copied into the snapshot: have e2fsck look. */
	if ((rc & FSCK_FIXED))
		o.args[o.nargs++] = "-f";
	/* e2fsck wants the device last. */
	for (i = 1; i < o.nargs; i++) {
		if (o.args[i] == o.dev) {
			memmove(&o.args[i], &o.args[i + 1],
				(o.nargs - i - 1) * sizeof(*o.args));
			o.args[o.nargs - 1] = (char *)o.dev;
			break;
		}
	}
	if (open_fs(o.dev, 0, &fs))
		return rc | FSCK_ERROR;
	snap = has_flag(fs);
	ext2fs_close_free(&fs);
	rc |= run_e2fsck(o.args, o.dev, snap);
	if (!(rc & (FSCK_ERROR | FSCK_USAGE)))
		rc |= after_e2fsck(&o);
	e3s_cow_free(cow);
	return rc;
}
