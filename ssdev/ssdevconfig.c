// SPDX-License-Identifier: GPL-2.0
/*
 * ssdevconfig: bind ext3snap snapshots to read-only ssdev block devices.
 *
 *   ssdevconfig -c SNAPSHOT-FILE /dev/ssdev/N   bind
 *   ssdevconfig -d /dev/ssdev/N                 unbind
 *   ssdevconfig -l                              list bindings
 *
 * Exit status: 0 success, 1 failure, 2 usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ext3snap.h"

#define PROG		"ssdevconfig"
#define CTL_PATH	"/dev/" SSDEV_CTL_NAME
#define NODE_DIR	"/dev/ssdev"
#define EXIT_USAGE	2

/* How long devtmpfs (or udev) gets to create /dev/ssdev/N: 50 x 20 ms. */
#define NODE_WAIT_TRIES	50
#define NODE_WAIT_US	20000

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ssdevconfig -c SNAPSHOT-FILE /dev/ssdev/N   bind\n"
		"       ssdevconfig -d /dev/ssdev/N                 unbind\n"
		"       ssdevconfig -l                              list bindings\n"
		"       ssdevconfig -h                              this text\n"
		"The device may also be given as ssdevN or N (0 to %d).\n",
		SSDEV_MAX_DEVICES - 1);
}

static void err(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "EINVAL" for EINVAL: the name, which is what the man page talks about. */
static const char *ename(int e)
{
	const char *name = strerrorname_np(e);

	return name ? name : "unknown error";
}

/* "/dev/ssdev/N", "ssdevN" or "N" -> N; -1 if it is none of those. */
static int parse_device(const char *arg)
{
	const char *p = arg;
	char *end;
	long n;

	if (!strncmp(p, NODE_DIR "/", strlen(NODE_DIR "/")))
		p += strlen(NODE_DIR "/");
	else if (!strncmp(p, "ssdev", 5))
		p += 5;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	n = strtol(p, &end, 10);
	if (errno || *end || n < 0 || n >= SSDEV_MAX_DEVICES)
		return -1;
	return (int)n;
}

/* Read "MAJOR:MINOR" from a sysfs dev file. */
static int read_devt(const char *path, dev_t *devt)
{
	unsigned int maj, min;
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%u:%u", &maj, &min) == 2;
	fclose(f);
	if (!ok) {
		errno = EINVAL;
		return -1;
	}
	*devt = makedev(maj, min);
	return 0;
}

/* The block major ssdev.ko registered, from /proc/devices; -1 if none. */
static int ssdev_major(void)
{
	FILE *f = fopen("/proc/devices", "r");
	char line[128], name[64];
	int block = 0, major = -1, m;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Block devices:", 14))
			block = 1;
		else if (block && sscanf(line, "%d %63s", &m, name) == 2 &&
			 !strcmp(name, "ssdev"))
			major = m;
	}
	fclose(f);
	return major;
}

/*
 * Open the control device. Without devtmpfs or udev the node may be
 * missing although the module is loaded: then make it from sysfs.
 */
static int open_ctl(void)
{
	dev_t devt;
	int fd;

	fd = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT &&
	    read_devt("/sys/class/misc/" SSDEV_CTL_NAME "/dev", &devt) == 0 &&
	    mknod(CTL_PATH, S_IFCHR | 0600, devt) == 0)
		fd = open(CTL_PATH, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT) {
		if (access("/sys/module/ssdev", F_OK) == 0)
			err("%s is missing although ssdev.ko is loaded, and creating it failed; "
			    "mount devtmpfs on /dev or reload ssdev.ko", CTL_PATH);
		else
			err("ssdev.ko is not loaded (%s missing): modprobe ssdev", CTL_PATH);
	} else if (errno == EACCES || errno == EPERM) {
		err("must be run as root (cannot open %s: %s)", CTL_PATH, strerror(errno));
	} else {
		err("cannot open %s: %s (%s)", CTL_PATH, strerror(errno), ename(errno));
	}
	return -1;
}

/* Complaints common to every ioctl of the control device. */
static int ctl_error(int e, const char *what)
{
	if (e == EPERM)
		err("must be run as root (%s needs CAP_SYS_ADMIN)", what);
	else if (e == ENOTTY)
		err("%s does not know %s (ENOTTY): the loaded ssdev.ko does not match this "
		    "ssdevconfig; reload it (rmmod ssdev; modprobe ssdev)", CTL_PATH, what);
	else
		return 0;
	return 1;
}

static int get_info(int ctl, int index, struct ssdev_ioc_info *info)
{
	memset(info, 0, sizeof(*info));
	info->index = index;
	return ioctl(ctl, SSDEV_IOC_INFO, info);
}

/* Where is the device of sysfs dev file @sysdev mounted? */
static int find_mount(const char *sysdev, char *mnt, size_t len)
{
	unsigned int maj, min;
	char line[4096], path[4096];
	dev_t devt;
	FILE *f;
	int found = 0;

	if (read_devt(sysdev, &devt))
		return 0;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return 0;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ..." */
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min, path) == 3 &&
		    makedev(maj, min) == devt) {
			snprintf(mnt, len, "%s", path);
			found = 1;
		}
	fclose(f);
	return found;
}

/* ---- -c ------------------------------------------------------------------ */

/* Explain EBUSY from SSDEV_IOC_BIND: the device, or the snapshot, is taken. */
static void bind_busy(int ctl, int index, int snapfd, const char *file)
{
	struct ssdev_ioc_info info;
	struct stat want, st;
	int i;

	if (get_info(ctl, index, &info) == 0) {
		err("/dev/ssdev/%d is already bound to %s; unbind it first "
		    "(ssdevconfig -d /dev/ssdev/%d) or pick another device",
		    index, info.snapshot, index);
		return;
	}
	if (fstat(snapfd, &want) == 0)
		for (i = 0; i < SSDEV_MAX_DEVICES; i++)
			if (get_info(ctl, i, &info) == 0 &&
			    stat(info.snapshot, &st) == 0 &&
			    st.st_dev == want.st_dev && st.st_ino == want.st_ino) {
				err("%s is already bound to /dev/ssdev/%d; use that device, "
				    "or unbind it first (ssdevconfig -d /dev/ssdev/%d)",
				    file, i, i);
				return;
			}
	err("cannot bind %s to /dev/ssdev/%d: device or snapshot busy (EBUSY); "
	    "see ssdevconfig -l", file, index);
}

static void bind_error(int e, int ctl, int index, int snapfd, const char *file)
{
	if (ctl_error(e, "SSDEV_IOC_BIND"))
		return;
	if (e == EINVAL)
		err("%s is not an ext3snap snapshot file (EINVAL); take one with "
		    "e3snapconfig -c", file);
	else if (e == EBUSY)
		bind_busy(ctl, index, snapfd, file);
	else if (e == EIO)
		err("snapshot %s is broken (a copy was lost) and cannot be shown (EIO); "
		    "delete it with e3snapconfig -d", file);
	else if (e == ENODATA)
		err("snapshot %s is inactive: the kernel does not follow it, so it cannot "
		    "be shown (ENODATA); delete it with e3snapconfig -d and take a new one",
		    file);
	else if (e == ENOENT)
		err("snapshot %s is being deleted (ENOENT); take a new one with "
		    "e3snapconfig -c", file);
	else
		err("cannot bind %s to /dev/ssdev/%d: %s (%s)", file, index,
		    strerror(e), ename(e));
}

/*
 * Make sure /dev/ssdev/N is the bound device. devtmpfs creates it during
 * the bind; if it is not there within about a second, create it from sysfs
 * so that nothing depends on udev.
 */
static int ensure_node(int index)
{
	char node[64], sys[64];
	struct stat st;
	dev_t devt;
	int i;

	snprintf(node, sizeof(node), NODE_DIR "/%d", index);
	snprintf(sys, sizeof(sys), "/sys/block/ssdev%d/dev", index);
	if (read_devt(sys, &devt)) {
		err("cannot read %s: %s; is sysfs mounted on /sys?", sys, strerror(errno));
		return -1;
	}
	for (i = 0; i < NODE_WAIT_TRIES; i++) {
		if (stat(node, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == devt)
			return 0;
		usleep(NODE_WAIT_US);
	}
	if (mkdir(NODE_DIR, 0755) && errno != EEXIST) {
		err("cannot create %s: %s", NODE_DIR, strerror(errno));
		return -1;
	}
	/* a stale node left from an earlier binding has the wrong numbers */
	if (lstat(node, &st) == 0 && unlink(node)) {
		err("cannot remove the stale %s: %s", node, strerror(errno));
		return -1;
	}
	if (mknod(node, S_IFBLK | 0600, devt)) {
		err("cannot create %s (%u:%u): %s", node, major(devt), minor(devt),
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int do_bind(const char *file, int index)
{
	struct ssdev_ioc_bind b = { .index = index };
	int ctl, fd, e, ret = 1;

	ctl = open_ctl();
	if (ctl < 0)
		return 1;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		if (e == ENOENT)
			err("cannot open %s: %s; give the path of a snapshot file "
			    "(e3snapconfig -l MOUNTPOINT lists them)", file, strerror(e));
		else
			err("cannot open %s: %s (%s)", file, strerror(e), ename(e));
		goto out_ctl;
	}

	b.fd = fd;
	if (ioctl(ctl, SSDEV_IOC_BIND, &b)) {
		bind_error(errno, ctl, index, fd, file);
		goto out_fd;
	}

	if (ensure_node(index)) {
		/* a binding nobody can reach is worse than none: undo it */
		__u32 idx = index;

		if (ioctl(ctl, SSDEV_IOC_UNBIND, &idx))
			err("/dev/ssdev/%d stays bound to %s (unbinding failed: %s); "
			    "run ssdevconfig -d %d", index, file, strerror(errno), index);
		else
			err("binding of %s undone", file);
		goto out_fd;
	}
	ret = 0;
out_fd:
	close(fd);
out_ctl:
	close(ctl);
	return ret;
}

/* ---- -d ------------------------------------------------------------------ */

/* After an unbind: a node we made ourselves (no devtmpfs) goes too. */
static void remove_node(int index)
{
	char node[64];
	struct stat st;
	int maj = ssdev_major();

	snprintf(node, sizeof(node), NODE_DIR "/%d", index);
	if (lstat(node, &st) == 0 && S_ISBLK(st.st_mode) &&
	    (int)major(st.st_rdev) == maj &&
	    minor(st.st_rdev) == (unsigned int)index) {
		unlink(node);
		rmdir(NODE_DIR);	/* only if empty */
	}
}

static void unbind_error(int e, int index)
{
	char sys[64], mnt[4096];

	if (ctl_error(e, "SSDEV_IOC_UNBIND"))
		return;
	snprintf(sys, sizeof(sys), "/sys/block/ssdev%d/dev", index);
	if (e == ENXIO)
		err("/dev/ssdev/%d is not bound, nothing to unbind; "
		    "ssdevconfig -l lists the bound devices", index);
	else if (e == EBUSY && find_mount(sys, mnt, sizeof(mnt)))
		err("/dev/ssdev/%d is in use (mounted or open); unmount it first "
		    "(it is mounted on %s)", index, mnt);
	else if (e == EBUSY)
		err("/dev/ssdev/%d is in use (mounted or open); unmount it first, "
		    "or stop what has it open (fuser -v /dev/ssdev/%d)", index, index);
	else
		err("cannot unbind /dev/ssdev/%d: %s (%s)", index, strerror(e), ename(e));
}

static int do_unbind(int index)
{
	__u32 idx = index;
	int ctl, ret = 1;

	ctl = open_ctl();
	if (ctl < 0)
		return 1;
	if (ioctl(ctl, SSDEV_IOC_UNBIND, &idx)) {
		unbind_error(errno, index);
		goto out;
	}
	remove_node(index);
	ret = 0;
out:
	close(ctl);
	return ret;
}

/* ---- -l ------------------------------------------------------------------ */

static int do_list(void)
{
	struct ssdev_ioc_info *info;
	int ctl, i, n = 0, width = (int)strlen("SNAPSHOT"), ret = 0;
	char dev[32];

	ctl = open_ctl();
	if (ctl < 0)
		return 1;
	info = calloc(SSDEV_MAX_DEVICES, sizeof(*info));
	if (!info) {
		err("out of memory");
		close(ctl);
		return 1;
	}
	/* collect first: the snapshot column is as wide as its longest path */
	for (i = 0; i < SSDEV_MAX_DEVICES; i++) {
		if (get_info(ctl, i, &info[n]) == 0) {
			if ((int)strlen(info[n].snapshot) > width)
				width = (int)strlen(info[n].snapshot);
			n++;
		} else if (errno != ENXIO) {
			if (!ctl_error(errno, "SSDEV_IOC_INFO"))
				err("cannot query /dev/ssdev/%d: %s (%s)", i,
				    strerror(errno), ename(errno));
			ret = 1;
			goto out;
		}
	}
	printf("%-14s  %-*s  %s\n", "DEVICE", width, "SNAPSHOT", "ORIGIN");
	for (i = 0; i < n; i++) {
		snprintf(dev, sizeof(dev), NODE_DIR "/%u", info[i].index);
		printf("%-14s  %-*s  /dev/%s\n", dev, width, info[i].snapshot,
		       info[i].origin);
	}
out:
	free(info);
	close(ctl);
	return ret;
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	const char *file = NULL, *devarg = NULL;
	int opt, action = 0, index = -1;

	opterr = 0;	/* our own messages, with the program's short name */
	while ((opt = getopt(argc, argv, ":c:d:lh")) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 'd':
			devarg = optarg;
			break;
		case 'l':
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			err("-%c needs an argument", optopt);
			usage(stderr);
			return EXIT_USAGE;
		default:
			err("unknown option -%c", optopt);
			usage(stderr);
			return EXIT_USAGE;
		}
		if (action && action != opt) {
			err("give only one of -c, -d and -l");
			return EXIT_USAGE;
		}
		action = opt;
	}

	switch (action) {
	case 'c':
		if (optind != argc - 1) {
			err(optind == argc ? "-c needs the device to bind to, e.g. "
					     "ssdevconfig -c %s /dev/ssdev/0" :
					     "too many arguments after -c %s DEVICE", file);
			return EXIT_USAGE;
		}
		devarg = argv[optind];
		break;
	case 'd':
	case 'l':
		if (optind != argc) {
			err("unexpected argument '%s'", argv[optind]);
			return EXIT_USAGE;
		}
		break;
	default:
		usage(stderr);
		return EXIT_USAGE;
	}

	if (devarg) {
		index = parse_device(devarg);
		if (index < 0) {
			err("'%s' is not an ssdev device; give /dev/ssdev/N, ssdevN or N, "
			    "with N from 0 to %d", devarg, SSDEV_MAX_DEVICES - 1);
			return EXIT_USAGE;
		}
	}

	if (action == 'c')
		return do_bind(file, index);
	if (action == 'd')
		return do_unbind(index);
	return do_list();
}
