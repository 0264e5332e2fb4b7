// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap-e2fsck-shim.so: preloaded into the e2fsck that fsck.ext3snap
 * runs, so that e2fsck checks a filesystem carrying RO_COMPAT_HAS_SNAPSHOT
 * (which it refuses) while the disk keeps the flag.
 *
 * For the device named by FSCK_EXT3SNAP_SHIM_DEVICE (the same inode or
 * block device, whatever fd reaches it), any read covering the low byte
 * of the primary superblock's s_feature_ro_compat comes back with the
 * flag clear, and any write covering it goes out with the flag set.
 * e2fsck never sees the flag; the disk never loses it. An e2fsck -n opens
 * the device read-only, so nothing is written either way.
 *
 * libext2fs's unix_io reads and writes with pread64/pwrite64, and writes
 * single superblock fields with lseek + write; all of them, and their
 * plain variants, go through here.
 *
 * When FSCK_EXT3SNAP_COW_FD names copy-before-write state set up by
 * fsck.ext3snap (lib/cow.c), every write to the device is first shown to
 * it: the old contents of the blocks the newest snapshot still needs go
 * to its before-image journal, durably, before e2fsck's write does.
 * Discard and zero-out requests on the device are refused meanwhile (a
 * discard leaves nothing to save; unix_io then writes zeroes instead).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ext3snap.h"
#include "libext3snap.h"

/* 1024 (superblock) + 0x64 (s_feature_ro_compat); the flag is in byte 0. */
#define FLAG_BYTE	1124
#define FLAG_BIT	EXT3SNAP_RO_COMPAT_HAS_SNAPSHOT

static int active, want_blk;
static dev_t want_dev, want_rdev;
static ino_t want_ino;

static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_ioctl)(int, unsigned long, void *);
static struct e3s_cow *cow;

/* Another library's constructor may do I/O before ours runs. */
static void resolve(void)
{
	if (real_pread)
		return;
	real_pwrite = dlsym(RTLD_NEXT, "pwrite64");
	real_read = dlsym(RTLD_NEXT, "read");
	real_write = dlsym(RTLD_NEXT, "write");
	real_fallocate = dlsym(RTLD_NEXT, "fallocate64");
	real_ioctl = dlsym(RTLD_NEXT, "ioctl");
	real_pread = dlsym(RTLD_NEXT, "pread64");
}

__attribute__((constructor)) static void shim_init(void)
{
	const char *dev = getenv("FSCK_EXT3SNAP_SHIM_DEVICE");
	const char *fd = getenv("FSCK_EXT3SNAP_COW_FD");
	char msg[E3S_MSG_LEN];
	struct stat st;

	resolve();
	if (!dev || stat(dev, &st))
		return;
	if (fd) {
		cow = e3s_cow_attach(atoi(fd), msg);
		/* Better no e2fsck than one that changes a snapshot. */
		if (!cow) {
			fprintf(stderr, "ext3snap-e2fsck-shim: %s\n", msg);
			_exit(8);
		}
	}
	want_blk = S_ISBLK(st.st_mode);
	want_rdev = st.st_rdev;
	want_dev = st.st_dev;
	want_ino = st.st_ino;
	active = 1;
}

static int covers(off_t off, size_t len)
{
	return off <= FLAG_BYTE && FLAG_BYTE - off < (off_t)len;
}

/* Does FD reach the device being checked? Leaves errno alone. */
static int is_device(int fd)
{
	int saved = errno, ret = 0;
	struct stat st;

	if (active && !fstat(fd, &st)) {
		if (want_blk)
			ret = S_ISBLK(st.st_mode) && st.st_rdev == want_rdev;
		else
			ret = S_ISREG(st.st_mode) && st.st_dev == want_dev &&
			      st.st_ino == want_ino;
	}
	errno = saved;
	return ret;
}

/*
 * The flag as the disk last showed it: -1 before any read. A superblock
 * that journal recovery writes carries its own flag; one e2fsck writes
 * back from memory lacks it and gets the disk's.
 */
static int disk_flag = -1;

static void hide_flag(void *buf, off_t off, ssize_t got, int fd)
{
	unsigned char *p;

	if (got > 0 && covers(off, got) && is_device(fd)) {
		p = (unsigned char *)buf + (FLAG_BYTE - off);
		disk_flag = !!(*p & FLAG_BIT);
		*p &= ~FLAG_BIT;
	}
}

/* BUF, or a copy of it with the flag set if the write covers the flag. */
static const void *keep_flag(const void *buf, size_t n, off_t off, int fd,
			     void **copy)
{
	*copy = NULL;
	if (!covers(off, n) || !is_device(fd))
		return buf;
	/* Journal recovery writing a superblock that has it, or a disk that
	 * never had it: the write goes out as it is.
	 */
	if ((((const unsigned char *)buf)[FLAG_BYTE - off] & FLAG_BIT) ||
	    disk_flag != 1)
		return buf;
	*copy = malloc(n);
	if (!*copy)
		return NULL;
	memcpy(*copy, buf, n);
	((unsigned char *)*copy)[FLAG_BYTE - off] |= FLAG_BIT;
	return *copy;
}

/* Raw block I/O on the device for lib/cow.c; CTX is the fd. */
static int dev_read(void *ctx, __u64 blk, void *buf)
{
	int fd = (int)(long)ctx;

	return real_pread(fd, buf, EXT3SNAP_BLOCK_SIZE,
			  blk * EXT3SNAP_BLOCK_SIZE) == EXT3SNAP_BLOCK_SIZE ?
	       0 : -EIO;
}

static int dev_write(void *ctx, __u64 blk, const void *buf)
{
	int fd = (int)(long)ctx;

	return real_pwrite(fd, buf, EXT3SNAP_BLOCK_SIZE,
			   blk * EXT3SNAP_BLOCK_SIZE) == EXT3SNAP_BLOCK_SIZE ?
	       0 : -EIO;
}

static int dev_flush(void *ctx)
{
	return fdatasync((int)(long)ctx) ? -errno : 0;
}

/* Save what the snapshot needs of [OFF, OFF + N) before it is written. */
static void before_write(int fd, const void *buf, size_t n, off_t off)
{
	struct e3s_cow_dev dev = { dev_read, dev_write, dev_flush,
				   (void *)(long)fd };
	int saved = errno;

	if (cow && off >= 0 && is_device(fd))
		e3s_cow_before_write(cow, &dev, off, n, buf);
	errno = saved;
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	ssize_t got;

	resolve();
	got = real_pread(fd, buf, n, off);

	hide_flag(buf, off, got, fd);
	return got;
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	return pread64(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	const void *out;
	void *copy;
	ssize_t ret;

	resolve();
	out = keep_flag(buf, n, off, fd, &copy);
	if (!out) {
		errno = ENOMEM;
		return -1;
	}
	before_write(fd, out, n, off);
	ret = real_pwrite(fd, out, n, off);
	free(copy);
	return ret;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite64(fd, buf, n, off);
}

/* Where FD's file offset is, or -1 (a pipe, a tty): errno untouched. */
static off_t where(int fd)
{
	int saved = errno;
	off_t off = active ? lseek(fd, 0, SEEK_CUR) : -1;

	errno = saved;
	return off;
}

ssize_t read(int fd, void *buf, size_t n)
{
	off_t off;
	ssize_t got;

	resolve();
	off = where(fd);
	got = real_read(fd, buf, n);

	if (off >= 0)
		hide_flag(buf, off, got, fd);
	return got;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	const void *out = buf;
	void *copy = NULL;
	ssize_t ret;
	off_t off;

	resolve();
	off = where(fd);
	if (off >= 0) {
		out = keep_flag(buf, n, off, fd, &copy);
		if (!out) {
			errno = ENOMEM;
			return -1;
		}
		before_write(fd, out, n, off);
	}
	ret = real_write(fd, out, n);
	free(copy);
	return ret;
}

/* Zeroing or punching the device would change blocks unsaved. */
int fallocate64(int fd, int mode, off_t off, off_t len)
{
	resolve();
	if (cow && is_device(fd)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return real_fallocate(fd, mode, off, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	return fallocate64(fd, mode, off, len);
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	resolve();
	if (cow && (req == BLKDISCARD || req == BLKSECDISCARD ||
		    req == BLKZEROOUT) && is_device(fd)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return real_ioctl(fd, req, arg);
}
