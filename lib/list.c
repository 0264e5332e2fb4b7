// SPDX-License-Identifier: GPL-2.0
/*
 * libext3snap: listing the snapshots of a filesystem (EXT3SNAP_IOC_LIST),
 * finding their files' names, and the text and JSON that e3snapconfig
 * prints about them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "ext3snap.h"
#include "libext3snap.h"

/* ---- asking the kernel -------------------------------------------------- */

#define LIST_FIRST_ROOM	16
#define LIST_TRIES	8	/* E2BIG again: snapshots taken meanwhile */

int e3s_list_snapshots(int fd, struct ext3snap_ioc_snapinfo **snaps,
		       unsigned int *count)
{
	struct ext3snap_ioc_snapinfo *a = NULL, *grown;
	struct ext3snap_ioc_list l;
	unsigned int room = LIST_FIRST_ROOM;
	int tries, e;

	for (tries = 0; tries < LIST_TRIES; tries++) {
		grown = realloc(a, room * sizeof(*a));
		if (!grown) {
			free(a);
			errno = ENOMEM;
			return -1;
		}
		a = grown;
		memset(a, 0, room * sizeof(*a));
		memset(&l, 0, sizeof(l));
		l.count = room;
		l.snaps = (__u64)(unsigned long)a;
		if (ioctl(fd, EXT3SNAP_IOC_LIST, &l) == 0) {
			if (l.count > room)	/* a kernel that should say E2BIG */
				l.count = room;
			*snaps = a;
			*count = l.count;
			return 0;
		}
		if (errno != E2BIG)
			break;
		/* Some room to spare: snapshots may be taken meanwhile. */
		room = (l.count > room ? l.count : room) + 4;
	}
	e = errno;
	free(a);
	errno = e;
	return -1;
}

/* The directory PARENT_INO / PARENT_GENERATION, opened by handle. */
static int open_dir_by_handle(int mount_fd, __u32 ino, __u32 generation)
{
	union {
		struct file_handle fh;
		char room[sizeof(struct file_handle) + 2 * sizeof(__u32)];
	} h;
	__u32 id[2] = { ino, generation };

	memset(&h, 0, sizeof(h));
	h.fh.handle_bytes = sizeof(id);
	h.fh.handle_type = 1;		/* FILEID_INO32_GEN */
	memcpy(h.fh.f_handle, id, sizeof(id));
	return open_by_handle_at(mount_fd, &h.fh,
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int e3s_snap_path(int mount_fd, __u32 ino, __u32 parent_ino,
		  __u32 parent_generation, char *buf, size_t len)
{
	char proc[64];
	struct dirent *de;
	struct stat st;
	ssize_t n;
	DIR *d;
	int fd, e = ENOENT;

	fd = open_dir_by_handle(mount_fd, parent_ino, parent_generation);
	if (fd < 0)
		return -1;
	/* An unlinked directory holds no snapshot any more. */
	if (fstat(fd, &st) || st.st_nlink == 0) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, len);
	if (n < 0 || (size_t)n >= len || buf[0] != '/') {
		e = n < 0 ? errno : (size_t)n >= len ? ENAMETOOLONG : ENOENT;
		close(fd);
		errno = e;
		return -1;
	}
	buf[n] = '\0';
	if (!strcmp(buf, "/"))
		n = 0;			/* no "//name" */
	d = fdopendir(fd);
	if (!d) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (de->d_ino != ino || !strcmp(de->d_name, ".") ||
		    !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)n + 1 + strlen(de->d_name) >= len) {
			e = ENAMETOOLONG;
			break;
		}
		buf[n] = '/';
		strcpy(buf + n + 1, de->d_name);
		closedir(d);
		return 0;
	}
	if (!de && errno)
		e = errno;
	closedir(d);
	errno = e;
	return -1;
}

/* ---- formatting --------------------------------------------------------- */

char *e3s_human_size(__u64 bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB",
					     "EiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	/* Round first so that 1023.96 KiB shows as "1.0 MiB", not "1024.0". */
	while (u < 5 && v >= 1023.95) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

char *e3s_format_time(__u64 t, int style, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) ||
	    !strftime(buf, len, style == E3S_TIME_ISO ? "%Y-%m-%dT%H:%M:%S%z" :
		      "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "@%llu", (unsigned long long)t);
	return buf;
}

/*
 * Length of the UTF-8 sequence at S (1 .. 4), or 0 if it is not valid
 * UTF-8 (overlong forms, surrogates and code points past U+10FFFF are not).
 */
static int utf8_len(const unsigned char *s)
{
	unsigned int c = s[0], cp, min, n, i;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return (int)n;
}

void e3s_json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;

	putc('"', out);
	while (*p) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				fprintf(out, "\\u%04x", *p);
				break;
			}
			n = utf8_len(p);
			if (!n) {
				fprintf(out, "\\u%04x", 0xdc00 + *p);
				break;
			}
			fwrite(p, 1, (size_t)n, out);
			p += n;
			continue;
		}
		p++;
	}
	putc('"', out);
}

/* ---- the listing -------------------------------------------------------- */

/* The path column: control characters as '?', an unknown path by inode. */
static void row_path(const struct e3s_snap_row *r, char *buf, size_t len)
{
	char *p;

	if (!r->path) {
		snprintf(buf, len, "?inode=%u", r->ino);
		return;
	}
	snprintf(buf, len, "%s", r->path);
	for (p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static void row_devices(const struct e3s_snap_row *r, char *buf, size_t len)
{
	size_t used = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < r->ndev && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s/dev/ssdev/%u",
					 i ? "," : "", r->devs[i]);
	/* Bound to devices not found (no /dev/ssdev-ctl to ask): how many. */
	if (r->bound > r->ndev && used < len) {
		if (i)
			snprintf(buf + used, len - used, ",+%u",
				 r->bound - r->ndev);
		else
			snprintf(buf, len, "%u device%s", r->bound,
				 r->bound == 1 ? "" : "s");
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

#define PATH_COL_MAX	4096

void e3s_list_text(FILE *out, const struct e3s_snap_row *rows, unsigned int n,
		   unsigned int block_size)
{
	char path[PATH_COL_MAX], when[E3S_FMT_LEN], size[E3S_FMT_LEN];
	char devs[1024], id[16];
	int wpath = 4, wid = 2, wsize = 4, wstate = 5, w;
	unsigned int i;

	for (i = 0; i < n; i++) {
		row_path(&rows[i], path, sizeof(path));
		w = (int)strlen(path);
		wpath = w > wpath ? w : wpath;
		w = snprintf(id, sizeof(id), "%u", rows[i].id);
		wid = w > wid ? w : wid;
		w = (int)strlen(e3s_human_size(rows[i].file_blocks * block_size,
					       size, sizeof(size)));
		wsize = w > wsize ? w : wsize;
		w = (int)strlen(e3s_state_name(rows[i].state));
		wstate = w > wstate ? w : wstate;
	}
	fprintf(out, "%-*s  %*s  %-19s  %-*s  %*s  %s\n", wpath, "PATH", wid,
		"ID", "TAKEN", wstate, "STATE", wsize, "HELD", "DEVICES");
	for (i = 0; i < n; i++) {
		const struct e3s_snap_row *r = &rows[i];

		row_path(r, path, sizeof(path));
		row_devices(r, devs, sizeof(devs));
		fprintf(out, "%-*s  %*u  %-19s  %-*s  %*s  %s\n", wpath, path,
			wid, r->id,
			e3s_format_time(r->time, E3S_TIME_TEXT, when,
					sizeof(when)),
			wstate, e3s_state_name(r->state), wsize,
			e3s_human_size(r->file_blocks * block_size, size,
				       sizeof(size)),
			devs);
	}
}

void e3s_list_json(FILE *out, const struct e3s_snap_row *rows, unsigned int n,
		   unsigned int block_size)
{
	char when[E3S_FMT_LEN];
	unsigned int i, j;

	if (!n) {
		fputs("[]\n", out);
		return;
	}
	fputs("[\n", out);
	for (i = 0; i < n; i++) {
		const struct e3s_snap_row *r = &rows[i];

		fputs("  {\"path\": ", out);
		if (r->path)
			e3s_json_string(out, r->path);
		else
			fputs("null", out);
		fprintf(out, ", \"ino\": %u, \"generation\": %u, \"id\": %u, \"state\": ",
			r->ino, r->generation, r->id);
		e3s_json_string(out, e3s_state_name(r->state));
		fprintf(out, ", \"time\": %llu, \"taken\": ",
			(unsigned long long)r->time);
		e3s_json_string(out, e3s_format_time(r->time, E3S_TIME_ISO,
						     when, sizeof(when)));
		fprintf(out, ", \"file_blocks\": %llu, \"block_size\": %u, \"bytes\": %llu, \"bound\": %u, \"devices\": [",
			(unsigned long long)r->file_blocks, block_size,
			(unsigned long long)r->file_blocks * block_size,
			r->bound);
		for (j = 0; j < r->ndev; j++)
			fprintf(out, "%s\"/dev/ssdev/%u\"", j ? ", " : "",
				r->devs[j]);
		fprintf(out, "]}%s\n", i + 1 < n ? "," : "");
	}
	fputs("]\n", out);
}

void e3s_delete_progress(const char *file, __s64 freed, __u64 total,
			 char *buf, size_t len)
{
	const __u64 mib = 1024 * 1024;
	__u64 f = freed < 0 ? 0 : (__u64)freed;

	if (f > total)
		f = total;
	/* Freed rounds down, the total up: "M of M" only when all is done. */
	snprintf(buf, len, "deleting %s: %llu MiB of %llu MiB freed", file,
		 (unsigned long long)(f == total ? (total + mib - 1) / mib :
				      f / mib),
		 (unsigned long long)((total + mib - 1) / mib));
}
