// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.ext3snap: check an ext3snap filesystem.
 *
 * Takes e2fsck's options and exit codes, so 'fsck -t ext3snap DEV' works.
 * It refuses a filesystem ext3snap does not handle; if a snapshot exists
 * it recovers the jbd2 journal, replays the snapshot's before-image
 * journal (BIJ) and checks the snapshot's own structures, then hands the
 * ordinary checks to e2fsck itself rather than re-implementing them.
 *
 * e2fsck refuses RO_COMPAT_HAS_SNAPSHOT, which every filesystem with a
 * snapshot carries. Clearing the flag on disk for the check would leave
 * the filesystem mountable read-write by the stock driver if we crashed
 * in between, and an overlay device is heavy machinery; so e2fsck runs
 * with ext3snap-e2fsck-shim.so preloaded (e2fsck-shim.c), which hides the
 * flag in what e2fsck reads of the superblock and puts it back in what it
 * writes. The disk keeps the flag throughout, and -n writes nothing.
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

struct opts {
	int mode;		/* 'n', 'y', 'p' (-p, -a), or 0: ask */
	int remove;		/* --remove-snapshots */
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
		"does not handle, replays and checks the snapshot's before-image journal,\n"
		"then runs e2fsck with the same options. Exit codes are e2fsck's (0 clean,\n"
		"1 fixed, 4 left uncorrected, 8 operational error, 16 usage error).\n"
		"--remove-snapshots turns the snapshot into an ordinary file and the\n"
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
			  0, 0, unix_io_manager, fs);
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

/* Detach the snapshot from the superblock: it is not a usable one. */
static void detach(ext2_filsys fs)
{
	fs->super->s_snapshot_inum = 0;
	fs->super->s_feature_ro_compat &= ~EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT;
	ext2fs_mark_super_dirty(fs);
}

/*
 * Check the snapshot's structures and replay its journal. FS is open
 * read-write unless -n. Returns e2fsck-style bits.
 */
static int check_snapshot(const struct opts *o, ext2_filsys fs, __u32 first,
			  int unknown)
{
	struct ext2_super_block *sb = fs->super;
	ext2_ino_t ino = sb->s_snapshot_inum;
	int dry = o->mode == 'n', rc = 0, broken = 0, flags;
	struct e3s_bij_result r;
	struct ext2_inode inode;
	struct e3s_bij_hdr h;
	char msg[E3S_MSG_LEN];
	struct bad_blocks b;
	errcode_t err;

	if (!ino) {
		if (!has_flag(fs))
			return FSCK_OK;
		printf("%s: the has_snapshot flag is set but no snapshot exists\n",
		       o->dev);
		if (!ask(o, "clear the flag"))
			return FSCK_UNFIXED;
		detach(fs);
		return FSCK_FIXED;
	}
	err = ext2fs_read_bitmaps(fs);
	if (!err && (ino < EXT2_FIRST_INO(sb) || ino > sb->s_inodes_count))
		err = EXT2_ET_BAD_INODE_NUM;
	if (!err)
		err = ext2fs_read_inode(fs, ino, &inode);
	if (err || !ext2fs_test_inode_bitmap2(fs->inode_map, ino) ||
	    !inode.i_links_count || inode.i_dtime ||
	    !LINUX_S_ISREG(inode.i_mode) ||
	    !(inode.i_flags & EXT3SNAP_SNAPFILE_FL)) {
		printf("%s: the superblock names inode %u as the snapshot, but it is not a snapshot file (%s)\n",
		       o->dev, ino, err ? error_message(err) :
		       "free, not a regular file, or without the snapshot flag");
		if (!ask(o, "forget the snapshot (the origin is not affected)"))
			return FSCK_UNFIXED;
		detach(fs);
		return FSCK_FIXED;
	}
	if ((inode.i_mode & 07777) != 0400 || inode_uid(inode) ||
	    inode_gid(inode)) {
		printf("%s: snapshot inode %u has mode %o, owner %u:%u; it must be 0400, 0:0\n",
		       o->dev, ino, inode.i_mode & 07777, inode_uid(inode),
		       inode_gid(inode));
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
		printf("%s: %s\n", o->dev, msg);
		printf("%s: snapshot %u cannot be trusted: delete it (e3snapconfig -d, or fsck.ext3snap --remove-snapshots)\n",
		       o->dev, sb->s_snapshot_id);
		return rc | FSCK_UNFIXED;
	}
	if (!has_flag(fs)) {
		printf("%s: snapshot %u exists but the has_snapshot flag is not set: the filesystem may have been written without keeping the snapshot\n",
		       o->dev, h.snap_id);
		if (ask(o, "set the flag and mark the snapshot broken")) {
			sb->s_feature_ro_compat |=
				EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT;
			ext2fs_mark_super_dirty(fs);
			broken = 1;
			rc |= FSCK_FIXED;
		} else {
			rc |= FSCK_UNFIXED;
		}
	}
	if (h.snap_id != sb->s_snapshot_id) {
		printf("%s: snapshot inode %u belongs to snapshot %u, the superblock says %u\n",
		       o->dev, ino, h.snap_id, sb->s_snapshot_id);
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
		printf("%s: snapshot %u maps %llu blocks outside the filesystem (e2fsck will clear them)\n",
		       o->dev, h.snap_id, (unsigned long long)b.bad);
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
	if (r.copies_new || r.moved_new) {
		printf("%s: snapshot %u: %s %u journal records: %llu copied blocks, %llu moved blocks\n",
		       o->dev, h.snap_id, dry ? "would replay" : "replayed",
		       r.records, (unsigned long long)r.copies_new,
		       (unsigned long long)r.moved_new);
		rc |= dry ? FSCK_UNFIXED : FSCK_FIXED;
	} else if (o->mode != 'p' && r.records) {
		printf("%s: snapshot %u: %u journal records, already in the snapshot\n",
		       o->dev, h.snap_id, r.records);
	}
	if (unknown && r.moved_uncommitted) {
		printf("%s: snapshot %u: %llu moved blocks wait for journal recovery\n",
		       o->dev, h.snap_id,
		       (unsigned long long)r.moved_uncommitted);
		rc |= FSCK_UNFIXED;
	}
	if (r.end == E3S_BIJ_END_TORN) {
		printf("%s: snapshot %u: the last journal record was being written when the system stopped (%s); %s: nothing it protects reached the disk\n",
		       o->dev, h.snap_id, r.why,
		       dry ? "it would be dropped" : "dropped");
		rc |= dry ? FSCK_UNFIXED : FSCK_FIXED;
	} else if (r.end == E3S_BIJ_END_CORRUPT &&
		   (h.flags & EXT3SNAP_BIJ_BROKEN)) {
		/* Known already; deleting the snapshot is the only cure. */
		if (o->mode != 'p')
			printf("%s: snapshot %u: damaged journal: %s\n",
			       o->dev, h.snap_id, r.why);
	} else if (r.end == E3S_BIJ_END_CORRUPT) {
		printf("%s: snapshot %u: damaged journal: %s; the snapshot may have lost blocks\n",
		       o->dev, h.snap_id, r.why);
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
	if (h.flags & EXT3SNAP_BIJ_BROKEN)
		printf("%s: snapshot %u is broken: delete it (e3snapconfig -d, or fsck.ext3snap --remove-snapshots)\n",
		       o->dev, h.snap_id);
	return rc;
}

/* The checks before e2fsck's: journal recovery, the snapshot, the BIJ. */
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
	if (open_fs(o->dev, o->mode != 'n', &fs))
		return FSCK_ERROR;
	/* Like the kernel and e2fsck: backups are e2fsck's business. */
	fs->flags |= EXT2_FLAG_MASTER_SB_ONLY;
	rc |= check_snapshot(o, fs, first, unknown);
	err = ext2fs_close_free(&fs);
	if (err) {
		fprintf(stderr, PROG ": %s: cannot write the changes: %s\n",
			o->dev, error_message(err));
		rc |= FSCK_ERROR;
	}
	return rc;
}

/* --remove-snapshots: back to plain ext3, the snapshot an ordinary file. */
static int remove_snapshots(const struct opts *o)
{
	struct e3s_bij_result r;
	struct ext2_inode inode;
	struct opts yes = *o;
	char msg[E3S_MSG_LEN];
	int rc, unknown, mflags = 0, file = 0, shim;
	ext2_ino_t ino;
	ext2_filsys fs;
	__u32 first, id;
	errcode_t err;

	err = ext2fs_check_if_mounted(o->dev, &mflags);
	if (err || (mflags & EXT2_MF_MOUNTED)) {
		fprintf(stderr, PROG ": %s: %s; unmount it first\n", o->dev,
			err ? error_message(err) : "is mounted");
		return FSCK_ERROR;
	}
	if (open_fs(o->dev, 0, &fs))
		return FSCK_ERROR;
	ino = fs->super->s_snapshot_inum;
	id = fs->super->s_snapshot_id;
	shim = has_flag(fs);
	ext2fs_close_free(&fs);
	if (!ino && !shim) {
		printf("%s has no snapshot: nothing to do\n", o->dev);
		return FSCK_OK;
	}
	yes.mode = 'p';
	rc = recover_journal(&yes, shim, &first, &unknown);
	if (rc & FSCK_ERROR)
		return rc;
	if (open_fs(o->dev, 1, &fs))
		return FSCK_ERROR;
	/*
	 * Replay what the journal holds first, so that the blocks moved to
	 * the snapshot belong to its file rather than to nobody.
	 */
	if (ino && e3s_bij_replay(fs, ino, first, 0, &r, msg))
		printf("%s: %s (not replayed; e2fsck -f will free the blocks it held)\n",
		       o->dev, msg);
	if (ino && ino >= EXT2_FIRST_INO(fs->super) &&
	    ino <= fs->super->s_inodes_count &&
	    !ext2fs_read_inode(fs, ino, &inode) &&
	    (inode.i_flags & EXT3SNAP_SNAPFILE_FL) && inode.i_links_count) {
		inode.i_flags &= ~EXT3SNAP_SNAPFILE_FL;
		err = ext2fs_write_inode(fs, ino, &inode);
		if (err) {
			fprintf(stderr, PROG ": %s: cannot write inode %u: %s\n",
				o->dev, ino, error_message(err));
			ext2fs_close_free(&fs);
			return FSCK_ERROR;
		}
		file = 1;
	}
	/* All superblock copies: none may carry the flag any more. */
	detach(fs);
	err = ext2fs_close_free(&fs);
	if (err) {
		fprintf(stderr, PROG ": %s: cannot write the superblock: %s\n",
			o->dev, error_message(err));
		return FSCK_ERROR;
	}
	if (file)
		printf("%s: snapshot %u removed; its file (inode %u) is now an ordinary read-only file: find its name with \"debugfs -R 'ncheck %u' %s\" and delete it with rm to free its space\n",
		       o->dev, id, ino, ino, o->dev);
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
	return rc | run_e2fsck(o.args, o.dev, snap);
}
