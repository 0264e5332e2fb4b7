// SPDX-License-Identifier: GPL-2.0
/*
 * e3snapconfig: take, show and delete ext3snap snapshots.
 *
 * The work is done by the kernel (ioctls of include/uapi/ext3snap.h,
 * described in Documentation/ioctl.md); this tool checks what it can
 * beforehand so that a mistake is reported in words, and turns the
 * kernel's errno into a sentence saying what is wrong and what to do.
 *
 * Exit status: 0 done, 1 failed, 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <linux/fs.h>

#include "ext3snap.h"
#include "libext3snap.h"

#define PROG		"e3snapconfig"
#define EXIT_USAGE	2

static void usage(FILE *out)
{
	fprintf(out,
		"usage: e3snapconfig -c FILE                    take a snapshot into FILE (must not exist)\n"
		"       e3snapconfig -d FILE                    delete the snapshot FILE, freeing its blocks\n"
		"       e3snapconfig -s FILE [-o json]          show the status of the snapshot FILE\n"
		"       e3snapconfig -l MOUNTPOINT [-o json]    list the snapshots of a filesystem, newest first\n"
		"       e3snapconfig -h                         this text\n"
		"FILE is on a filesystem mounted with 'mount -t ext3snap'. Run as root.\n");
}

static void __attribute__((format(printf, 1, 2))) err(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage mistake: say which, point to -h, exit status 2. */
static int __attribute__((format(printf, 1, 2))) bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; see 'e3snapconfig -h'\n", stderr);
	return EXIT_USAGE;
}

/* What the tool found out about the filesystem a snapshot file is on. */
struct target {
	const char *path;		/* as the user gave it */
	char dir[PATH_MAX];		/* its directory, as given */
	char name[EXT3SNAP_NAME_LEN];	/* its name in that directory */
	int dirfd;
	struct e3s_mount mnt;		/* mount of dir; fstype NULL if unknown */
};

static int need_root(void)
{
	if (geteuid() == 0)
		return 0;
	err("must be run as root (snapshots are taken, read and deleted by root only)");
	return -1;
}

/* The absolute, resolved path of the open FD, for matching mount points. */
static int fd_path(int fd, char *buf, size_t len)
{
	char proc[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, len - 1);
	if (n < 0 || buf[0] != '/')
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * Find the mount the open FD lives on. Without /proc the tool cannot tell
 * and leaves the checks to the kernel (mnt->fstype stays NULL).
 */
static void find_mount(int fd, struct e3s_mount *mnt)
{
	char real[PATH_MAX];
	struct stat st;
	FILE *f;

	memset(mnt, 0, sizeof(*mnt));
	if (fstat(fd, &st))
		return;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	if (e3s_find_mount(f, st.st_dev, fd_path(fd, real, sizeof(real)) ?
			   NULL : real, mnt))
		memset(mnt, 0, sizeof(*mnt));
	fclose(f);
}

/* Is the mount found ext3snap? Say what it is otherwise. */
static int check_fstype(const char *path, const struct e3s_mount *mnt)
{
	if (!mnt->fstype || !strcmp(mnt->fstype, EXT3SNAP_FSTYPE))
		return 0;
	if (!strcmp(mnt->fstype, "ext2") || !strcmp(mnt->fstype, "ext3") ||
	    !strcmp(mnt->fstype, "ext4")) {
		char msg[E3S_MSG_LEN];
		ext2_filsys fs;
		int bad = 0;

		/* Can ext3snap mount it? Say only what is known for sure. */
		if (e3s_open(mnt->source, 0, &fs, msg) == 0) {
			bad = e3s_check_format(fs, msg) != 0;
			ext2fs_close_free(&fs);
		}
		if (bad)
			err("%s: %s is mounted as %s, not ext3snap, and ext3snap cannot mount it: %s",
			    path, mnt->mountpoint, mnt->fstype, msg);
		else
			err("%s: %s is mounted as %s, not ext3snap; snapshots need an ext3-format filesystem mounted with the ext3snap driver: umount %s, then 'mount -t ext3snap %s %s'",
			    path, mnt->mountpoint, mnt->fstype,
			    mnt->mountpoint, mnt->source, mnt->mountpoint);
	} else {
		err("%s: is on %s, of type %s; snapshots need an ext3 filesystem mounted with 'mount -t ext3snap'",
		    path, mnt->mountpoint, mnt->fstype);
	}
	return -1;
}

static int check_writable(const char *path, int fd, const struct e3s_mount *mnt)
{
	struct statvfs sv;

	if (fstatvfs(fd, &sv) || !(sv.f_flag & ST_RDONLY))
		return 0;
	if (mnt->mountpoint && e3s_has_option(mnt->mount_opts, "ro") &&
	    !e3s_has_option(mnt->super_opts, "ro"))
		err("%s: %s is a read-only mount of a read-write filesystem; make it read-write first (mount -o remount,bind,rw %s) or use a path through a read-write mount",
		    path, mnt->mountpoint, mnt->mountpoint);
	else if (mnt->mountpoint)
		err("%s: the filesystem is mounted read-only; remount it read-write first: mount -o remount,rw %s",
		    path, mnt->mountpoint);
	else
		err("%s: the filesystem is mounted read-only; remount it read-write first",
		    path);
	return -1;
}

/*
 * An immutable directory takes no new name and loses none; an append-only
 * one takes new names only (DELETING says which is asked for).
 */
static int check_dir_attrs(const struct target *t, int deleting)
{
	int flags = 0, bad;

	if (ioctl(t->dirfd, FS_IOC_GETFLAGS, &flags))
		return 0;
	bad = flags & (FS_IMMUTABLE_FL | (deleting ? FS_APPEND_FL : 0));
	if (!bad)
		return 0;
	err("%s: directory %s is %s; clear that first (chattr -%c %s)%s",
	    t->path, t->dir, bad & FS_IMMUTABLE_FL ? "immutable" : "append-only",
	    bad & FS_IMMUTABLE_FL ? 'i' : 'a', t->dir,
	    deleting ? "" : " or use another directory");
	return -1;
}

/*
 * Split PATH, open its directory and check what can be checked without
 * the kernel: the name, root, an ext3snap filesystem mounted read-write.
 */
static int open_target(const char *path, struct target *t, int deleting)
{
	char msg[E3S_MSG_LEN];

	memset(t, 0, sizeof(*t));
	t->path = path;
	t->dirfd = -1;
	if (e3s_split_path(path, t->dir, sizeof(t->dir), t->name, msg)) {
		err("%s", msg);
		return -1;
	}
	if (need_root())
		return -1;
	t->dirfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dirfd < 0) {
		if (errno == ENOENT)
			err("%s: directory %s does not exist", path, t->dir);
		else if (errno == ENOTDIR)
			err("%s: %s is not a directory", path, t->dir);
		else
			err("%s: cannot open directory %s: %s", path, t->dir,
			    strerror(errno));
		return -1;
	}
	find_mount(t->dirfd, &t->mnt);
	if (check_fstype(path, &t->mnt) ||
	    check_writable(path, t->dirfd, &t->mnt) || check_dir_attrs(t, deleting))
		return -1;
	return 0;
}

static void close_target(struct target *t)
{
	if (t->dirfd >= 0)
		close(t->dirfd);
	e3s_mount_free(&t->mnt);
}

/* ENOTTY from a snapshot ioctl: the module does not know it. */
static void explain_enotty(const char *path, const struct e3s_mount *mnt,
			   const char *what)
{
	if (mnt->fstype)
		err("%s: the loaded ext3snap module does not know how to %s (ioctl not supported): it is older than this e3snapconfig; load the ext3snap.ko built with it",
		    path, what);
	else
		err("%s: the kernel does not know how to %s here: this is not an ext3snap filesystem (mount it with 'mount -t ext3snap'), or the ext3snap module is older than this e3snapconfig",
		    path, what);
}

static void explain_eopnotsupp(const char *path, const struct e3s_mount *mnt)
{
	const char *hint = "";

	if (mnt->super_opts && e3s_has_option(mnt->super_opts, "data=journal"))
		hint = " (this filesystem is mounted with data=journal, which snapshots do not support: mount it with data=ordered)";
	err("%s: the kernel does not support snapshots with this filesystem's configuration%s; 'dmesg | tail' gives the reason",
	    path, hint);
}

/* ---- -c ------------------------------------------------------------------ */

static int check_blocksize(const struct target *t)
{
	struct statvfs sv;

	if (fstatvfs(t->dirfd, &sv) || sv.f_bsize == EXT3SNAP_BLOCK_SIZE)
		return 0;
	err("%s: the filesystem has %lu-byte blocks; snapshots need %d-byte blocks (mkfs.ext3 -b %d)",
	    t->path, (unsigned long)sv.f_bsize, EXT3SNAP_BLOCK_SIZE,
	    EXT3SNAP_BLOCK_SIZE);
	return -1;
}

static void explain_take(const struct target *t, int e)
{
	const char *p = t->path;

	switch (e) {
	case EEXIST:
		err("%s: already exists; give a name that is not in use", p);
		break;
	case EROFS:
		err("%s: the filesystem is read-only; remount it read-write first",
		    p);
		break;
	case EPERM:
	case EACCES:
		err("%s: the kernel refused: taking a snapshot needs CAP_SYS_ADMIN (run as real root, not in a user namespace); 'dmesg | tail' may say more",
		    p);
		break;
	case ENOTTY:
		explain_enotty(p, &t->mnt, "take snapshots");
		break;
	case EBUSY:
		err("%s: the filesystem is frozen; thaw it (fsfreeze -u %s) and retry",
		    p, t->mnt.mountpoint ? t->mnt.mountpoint : "MOUNTPOINT");
		break;
	case EUCLEAN:
		err("%s: the existing snapshots of this filesystem could not all be loaded (their list is damaged), so no new one is taken; unmount it and run fsck.ext3snap on the device",
		    p);
		break;
	case EOPNOTSUPP:
		explain_eopnotsupp(p, &t->mnt);
		break;
	case ENOSPC:
		err("%s: no room on the filesystem for the snapshot file (no free inode, or no free block for its directory entry); free some and retry",
		    p);
		break;
	case EFBIG:
		err("%s: the filesystem is too large for a snapshot file (the file would be as large as the filesystem, and an ext3 file holds at most about 2 TiB with 4 KiB blocks)",
		    p);
		break;
	case ETXTBSY:
		err("%s: someone opened the new snapshot file for writing while it was being created; the snapshot was not taken: retry",
		    p);
		break;
	case EINVAL:
		err("%s: the kernel rejected the request as invalid: e3snapconfig and the ext3snap module do not match; use the tools built with the module",
		    p);
		break;
	case EIO:
		err("%s: I/O error while taking the snapshot; 'dmesg | tail' gives the reason",
		    p);
		break;
	default:
		err("%s: cannot take a snapshot: %s", p, strerror(e));
	}
}

static int do_take(const char *path)
{
	struct ext3snap_ioc_take take;
	struct target t;
	struct stat st;
	int ret = 1;

	if (open_target(path, &t, 0))
		goto out;
	if (fstatat(t.dirfd, t.name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		err("%s: already exists; give a name that is not in use",
		    path);
		goto out;
	} else if (errno != ENOENT) {
		err("%s: %s", path, strerror(errno));
		goto out;
	}
	if (check_blocksize(&t))
		goto out;

	memset(&take, 0, sizeof(take));
	strcpy(take.name, t.name);
	if (ioctl(t.dirfd, EXT3SNAP_IOC_TAKE, &take)) {
		explain_take(&t, errno);
		goto out;
	}
	printf("snapshot %u taken: %s (writers held %.1f ms)\n", take.id, path,
	       take.frozen_ns / 1e6);
	ret = 0;
out:
	close_target(&t);
	return ret;
}

/* ---- -s ------------------------------------------------------------------ */

#define SSDEV_CTL_PATH	"/dev/" SSDEV_CTL_NAME

/*
 * The /dev/ssdev/N devices showing snapshot ID of the filesystem on
 * device MAJ:MIN, whose file is REAL. Best effort: without ssdev, none.
 * Returns how many were found; their indexes go to IDX (up to MAX).
 */
static int bound_devices(const char *real, unsigned int id,
			 const struct e3s_mount *mnt, unsigned int *idx, int max)
{
	static struct ssdev_ioc_info info;
	char link[PATH_MAX], sys[64], origin[64] = "";
	unsigned int i;
	ssize_t n;
	int fd, found = 0;

	if (mnt->fstype) {
		snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", mnt->major,
			 mnt->minor);
		n = readlink(sys, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			snprintf(origin, sizeof(origin), "%.63s",
				 strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
		}
	}
	fd = open(SSDEV_CTL_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (i = 0; i < SSDEV_MAX_DEVICES && found < max; i++) {
		memset(&info, 0, sizeof(info));
		info.index = i;
		if (ioctl(fd, SSDEV_IOC_INFO, &info))
			continue;
		info.snapshot[sizeof(info.snapshot) - 1] = '\0';
		info.origin[sizeof(info.origin) - 1] = '\0';
		if ((real && !strcmp(info.snapshot, real)) ||
		    (info.snap_id == id && *origin && !strcmp(info.origin, origin)))
			idx[found++] = i;
	}
	close(fd);
	return found;
}

static void explain_stat(const char *path, const struct e3s_mount *mnt, int e)
{
	switch (e) {
	case ENOTTY:
		if (mnt->fstype)
			err("%s: is not an ext3snap snapshot file (or the loaded ext3snap module is too old to report on snapshots)",
			    path);
		else
			explain_enotty(path, mnt, "report on snapshots");
		break;
	case EINVAL:
		err("%s: is not an ext3snap snapshot file", path);
		break;
	case EPERM:
	case EACCES:
		err("%s: the kernel refused: reading a snapshot's status needs CAP_SYS_ADMIN",
		    path);
		break;
	case EIO:
		err("%s: I/O error while writing the snapshot's pending copies out; 'dmesg | tail' gives the reason",
		    path);
		break;
	default:
		err("%s: cannot read the snapshot's status: %s", path,
		    strerror(e));
	}
}

static int do_status(const char *path, int json)
{
	struct ext3snap_ioc_stat st;
	struct e3s_mount mnt;
	unsigned int idx[SSDEV_MAX_DEVICES];
	char real[PATH_MAX], *realp;
	struct stat sb;
	int fd, ndev, i, ret = 1;

	memset(&mnt, 0, sizeof(mnt));
	if (need_root())
		return 1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			err("%s: no such file", path);
		else
			err("%s: cannot open: %s", path, strerror(errno));
		return 1;
	}
	if (fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		err("%s: is not an ext3snap snapshot file (not a regular file)",
		    path);
		goto out;
	}
	find_mount(fd, &mnt);
	if (check_fstype(path, &mnt))
		goto out;
	memset(&st, 0, sizeof(st));
	st.flags = EXT3SNAP_STAT_FLUSH;
	if (ioctl(fd, EXT3SNAP_IOC_STAT, &st)) {
		explain_stat(path, &mnt, errno);
		goto out;
	}
	realp = fd_path(fd, real, sizeof(real)) ? NULL : real;
	ndev = st.bound ? bound_devices(realp, st.id, &mnt, idx,
					SSDEV_MAX_DEVICES) : 0;

	if (json) {
		printf("{\"file\": ");
		e3s_json_string(stdout, path);
		printf(", \"id\": %u, \"state\": \"%s\", \"copied\": %llu, \"moved\": %llu, \"pending\": %llu, \"file_blocks\": %llu, \"block_size\": %d, \"bound\": %u, \"devices\": [",
		       st.id, e3s_state_name(st.state),
		       (unsigned long long)st.copied,
		       (unsigned long long)st.moved,
		       (unsigned long long)st.pending,
		       (unsigned long long)st.file_blocks,
		       EXT3SNAP_BLOCK_SIZE, st.bound);
		for (i = 0; i < ndev; i++)
			printf("%s\"/dev/ssdev/%u\"", i ? ", " : "", idx[i]);
		printf("]}\n");
	} else {
		printf("%s: snapshot %u\n", path, st.id);
		printf("  state:        %s%s\n", e3s_state_name(st.state),
		       st.state == EXT3SNAP_STATE_BROKEN ?
		       " (lost a copy: do not trust it; delete it and take a new one)" :
		       st.state == EXT3SNAP_STATE_INACTIVE ?
		       " (the kernel does not follow it: it is not kept up to date and cannot be read; delete it)" : "");
		if (mnt.mountpoint)
			printf("  filesystem:   %s on %s\n", mnt.source,
			       mnt.mountpoint);
		printf("  copied:       %llu blocks\n",
		       (unsigned long long)st.copied);
		printf("  moved:        %llu blocks\n",
		       (unsigned long long)st.moved);
		printf("  pending:      %llu blocks\n",
		       (unsigned long long)st.pending);
		printf("  file holds:   %llu blocks (%.1f MiB)\n",
		       (unsigned long long)st.file_blocks,
		       st.file_blocks * (double)EXT3SNAP_BLOCK_SIZE / 1048576);
		printf("  bound:        %u device%s", st.bound,
		       st.bound == 1 ? "" : "s");
		for (i = 0; i < ndev; i++)
			printf("%s/dev/ssdev/%u", i ? ", " : " (", idx[i]);
		printf("%s\n", ndev ? ")" : "");
	}
	ret = 0;
out:
	close(fd);
	e3s_mount_free(&mnt);
	return ret;
}

/* ---- -d ------------------------------------------------------------------ */

static void explain_delete(const struct target *t, int e, int was_deleting)
{
	const char *p = t->path;

	if (was_deleting) {
		err("%s: was already deleted: it is kept as 'deleting' while older snapshots need its blocks, and goes when they do (e3snapconfig -l shows them)",
		    p);
		return;
	}
	switch (e) {
	case ENOENT:
		err("%s: no such file", p);
		break;
	case EINVAL:
		err("%s: is not an ext3snap snapshot file", p);
		break;
	case EBUSY:
		err("%s: snapshot is bound to an ssdev device: ssdevconfig -d it first (ssdevconfig -l lists the bindings)",
		    p);
		break;
	case EROFS:
		err("%s: the filesystem is read-only; remount it read-write first",
		    p);
		break;
	case EPERM:
	case EACCES:
		err("%s: the kernel refused to delete the snapshot: it needs CAP_SYS_ADMIN (run as real root), or the snapshot is protected; 'dmesg | tail' may say more",
		    p);
		break;
	case ENOTTY:
		explain_enotty(p, &t->mnt, "delete snapshots");
		break;
	case EUCLEAN:
		err("%s: the kernel found the list of snapshots damaged and deletes nothing; unmount the filesystem and run fsck.ext3snap on it",
		    p);
		break;
	case EIO:
		err("%s: I/O error while deleting the snapshot; 'dmesg | tail' gives the reason",
		    p);
		break;
	default:
		err("%s: cannot delete the snapshot: %s", p, strerror(e));
	}
}

/*
 * Progress of a delete on a terminal: every half second, how much of the
 * file's blocks the filesystem has got back (free blocks now minus before,
 * so approximate when others write meanwhile). Best effort: whatever goes
 * wrong here only means no progress is shown.
 */
struct progress {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int running, stop, shown;
	int fd;				/* on the filesystem, for statvfs */
	const char *file;
	__u64 total;			/* bytes the file holds */
	__u64 bfree;			/* free blocks before the delete */
	__u64 frsize;
};

#define PROGRESS_NS	500000000L

static void *progress_thread(void *arg)
{
	struct progress *p = arg;
	char line[PATH_MAX + 128];
	struct statvfs sv;
	struct timespec at;

	pthread_mutex_lock(&p->lock);
	clock_gettime(CLOCK_MONOTONIC, &at);
	while (!p->stop) {
		at.tv_nsec += PROGRESS_NS;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		while (!p->stop &&
		       pthread_cond_timedwait(&p->cond, &p->lock, &at) == 0)
			;
		if (p->stop || fstatvfs(p->fd, &sv))
			continue;
		e3s_delete_progress(p->file,
				    ((__s64)sv.f_bfree - (__s64)p->bfree) *
				    (__s64)p->frsize, p->total, line,
				    sizeof(line));
		fprintf(stderr, "\r%s", line);
		fflush(stderr);
		p->shown = 1;
	}
	if (p->shown) {
		fputs("\r\033[K", stderr);	/* the line goes: messages follow */
		fflush(stderr);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void progress_start(struct progress *p, int fd, const char *file,
			   const struct stat *sb)
{
	pthread_condattr_t ca;
	struct statvfs sv;

	memset(p, 0, sizeof(*p));
	if (!isatty(STDERR_FILENO) || fstatvfs(fd, &sv))
		return;
	p->fd = fd;
	p->file = file;
	p->total = (__u64)sb->st_blocks * 512;
	p->bfree = sv.f_bfree;
	p->frsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	if (pthread_condattr_init(&ca))
		return;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&p->cond, &ca)) {
		pthread_condattr_destroy(&ca);
		return;
	}
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&p->lock, NULL);
	if (pthread_create(&p->thread, NULL, progress_thread, p)) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		return;
	}
	p->running = 1;
}

/* Stop the progress line, clearing it, before anything else is printed. */
static void progress_stop(struct progress *p)
{
	int e = errno;

	if (p->running) {
		pthread_mutex_lock(&p->lock);
		p->stop = 1;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		p->running = 0;
	}
	errno = e;
}

static int do_delete(const char *path)
{
	struct ext3snap_ioc_delete del;
	struct ext3snap_ioc_stat st;
	struct progress prog;
	struct target t;
	struct stat sb, after;
	char size[E3S_FMT_LEN];
	int fd, have_id = 0, ret = 1, failed;

	if (open_target(path, &t, 1))
		goto out;
	if (fstatat(t.dirfd, t.name, &sb, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT)
			err("%s: no such file", path);
		else
			err("%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		err("%s: is not an ext3snap snapshot file (not a regular file)",
		    path);
		goto out;
	}
	/* Best effort: its id for the message; the kernel has the last word. */
	fd = openat(t.dirfd, t.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		memset(&st, 0, sizeof(st));
		have_id = ioctl(fd, EXT3SNAP_IOC_STAT, &st) == 0;
		close(fd);
	}

	memset(&del, 0, sizeof(del));
	strcpy(del.name, t.name);
	progress_start(&prog, t.dirfd, path, &sb);
	failed = ioctl(t.dirfd, EXT3SNAP_IOC_DELETE, &del);
	progress_stop(&prog);
	if (failed) {
		explain_delete(&t, errno, have_id &&
			       st.state == EXT3SNAP_STATE_DELETING);
		goto out;
	}
	ret = 0;
	/* Older snapshots read through it: the kernel keeps it for them. */
	if (fstatat(t.dirfd, t.name, &after, AT_SYMLINK_NOFOLLOW) == 0 &&
	    after.st_ino == sb.st_ino) {
		printf("%s: deleted; kept as 'deleting' (%s) while older snapshots need its blocks; it goes when they do\n",
		       path, e3s_human_size((__u64)after.st_blocks * 512, size,
					    sizeof(size)));
		goto out;
	}
	if (have_id)
		printf("snapshot %u deleted: %s\n", st.id, path);
	else
		printf("snapshot deleted: %s\n", path);
out:
	close_target(&t);
	return ret;
}

/* ---- -l ------------------------------------------------------------------ */

static void explain_list(const char *path, const struct e3s_mount *mnt, int e)
{
	switch (e) {
	case ENOTTY:
		if (mnt->fstype)
			err("%s: the loaded ext3snap module predates listing snapshots (it has no EXT3SNAP_IOC_LIST): load the ext3snap.ko built with this e3snapconfig",
			    path);
		else
			err("%s: the kernel cannot list snapshots here: this is not an ext3snap filesystem (mount it with 'mount -t ext3snap DEVICE MOUNTPOINT'), or the loaded ext3snap module predates listing",
			    path);
		break;
	case EPERM:
	case EACCES:
		err("%s: the kernel refused: listing snapshots needs CAP_SYS_ADMIN (run as real root)",
		    path);
		break;
	case EINVAL:
		err("%s: the kernel rejected the request as invalid: e3snapconfig and the ext3snap module do not match; use the tools built with the module",
		    path);
		break;
	case EIO:
		err("%s: I/O error while reading the list of snapshots; 'dmesg | tail' gives the reason",
		    path);
		break;
	default:
		err("%s: cannot list the snapshots: %s", path, strerror(e));
	}
}

static int do_list(const char *path, int json)
{
	struct ext3snap_ioc_snapinfo *snaps = NULL;
	struct e3s_snap_row *rows = NULL;
	unsigned int **devs = NULL;
	char **paths = NULL;
	struct e3s_mount mnt;
	struct statvfs sv;
	unsigned int n = 0, i, block_size = EXT3SNAP_BLOCK_SIZE, unknown = 0;
	int fd, e, first_errno = 0, ret = 1;

	memset(&mnt, 0, sizeof(mnt));
	if (need_root())
		return 1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			err("%s: no such file or directory; give the mount point of an ext3snap filesystem",
			    path);
		else
			err("%s: cannot open: %s", path, strerror(errno));
		return 1;
	}
	find_mount(fd, &mnt);
	if (check_fstype(path, &mnt))
		goto out;
	if (e3s_list_snapshots(fd, &snaps, &n)) {
		explain_list(path, &mnt, errno);
		goto out;
	}
	if (fstatvfs(fd, &sv) == 0 && sv.f_bsize)
		block_size = (unsigned int)sv.f_bsize;
	rows = calloc(n ? n : 1, sizeof(*rows));
	paths = calloc(n ? n : 1, sizeof(*paths));
	devs = calloc(n ? n : 1, sizeof(*devs));
	if (!rows || !paths || !devs) {
		err("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct ext3snap_ioc_snapinfo *si = &snaps[i];
		struct e3s_snap_row *r = &rows[i];

		paths[i] = malloc(PATH_MAX);
		if (paths[i] && e3s_snap_path(fd, si->ino, si->parent_ino,
					      si->parent_generation, paths[i],
					      PATH_MAX)) {
			e = errno;
			if (!unknown++)
				first_errno = e;
			free(paths[i]);
			paths[i] = NULL;
		}
		r->path = paths[i];
		r->ino = si->ino;
		r->generation = si->generation;
		r->id = si->id;
		r->state = si->state;
		r->time = si->time;
		r->file_blocks = si->file_blocks;
		r->bound = si->bound;
		if (si->bound) {
			devs[i] = calloc(si->bound, sizeof(**devs));
			if (devs[i])
				r->ndev = (unsigned int)bound_devices(
					r->path, si->id, &mnt, devs[i],
					(int)si->bound);
			r->devs = devs[i];
		}
	}
	if (json)
		e3s_list_json(stdout, rows, n, block_size);
	else
		e3s_list_text(stdout, rows, n, block_size);
	if (unknown)
		err("%s: the file of %u snapshot%s could not be found (shown by inode number): %s",
		    path, unknown, unknown == 1 ? "" : "s",
		    first_errno == ESTALE ? "the directory it was taken in is gone" :
		    strerror(first_errno));
	ret = fflush(stdout) ? 1 : 0;
out:
	for (i = 0; paths && i < n; i++)
		free(paths[i]);
	for (i = 0; devs && i < n; i++)
		free(devs[i]);
	free(paths);
	free(devs);
	free(rows);
	free(snaps);
	close(fd);
	e3s_mount_free(&mnt);
	return ret;
}

int main(int argc, char **argv)
{
	const char *arg = NULL, *format = NULL;
	int opt, action = 0;

	while ((opt = getopt(argc, argv, ":c:d:s:l:o:h")) != -1) {
		switch (opt) {
		case 'c':
		case 'd':
		case 's':
		case 'l':
			if (action) {
				return bad_usage("give one of -c, -d, -s, -l");
			}
			action = opt;
			arg = optarg;
			break;
		case 'o':
			format = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return bad_usage("-%c needs an argument", optopt);
		default:
			return bad_usage("unknown option -%c", optopt);
		}
	}
	if (optind < argc) {
		return bad_usage("unexpected argument '%s'", argv[optind]);
	}
	if (!action) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (format && strcmp(format, "json") && strcmp(format, "text"))
		return bad_usage("unknown output format '%s': give -o json or -o text",
				 format);
	if (format && action != 's' && action != 'l')
		return bad_usage("-o json or -o text goes with -s or -l only");
	switch (action) {
	case 'c':
		return do_take(arg);
	case 'd':
		return do_delete(arg);
	case 's':
		return do_status(arg, format && !strcmp(format, "json"));
	default:
		return do_list(arg, format && !strcmp(format, "json"));
	}
}
