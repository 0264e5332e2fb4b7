// SPDX-License-Identifier: GPL-2.0
/*
 * Reading and replaying dm-log-writes logs; the format is described in
 * logwrites.h.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "logwrites.h"

#define CHUNK	(1U << 20)

static int set_err(struct lw_log *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int set_err(struct lw_log *log, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(log->err, sizeof(log->err), "%s: ", log->path);
	if (n < 0 || (size_t)n >= sizeof(log->err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(log->err + n, sizeof(log->err) - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* pread all of len bytes at off; a short read is an error. */
static int read_at(struct lw_log *log, void *buf, size_t len, uint64_t off,
		   const char *what)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(log->fd, (char *)buf + done, len - done, off + done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return set_err(log, "reading %s at byte %llu: %s", what,
				       (unsigned long long)(off + done),
				       strerror(errno));
		}
		if (n == 0)
			return set_err(log, "reading %s at byte %llu: unexpected end of file",
				       what, (unsigned long long)(off + done));
		done += n;
	}
	return 0;
}

/* Size in bytes of a regular file or a block device. */
static int fd_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return -1;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) ? -1 : 0;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	*size = st.st_size;
	return 0;
}

int lw_open(struct lw_log *log, const char *path)
{
	struct lw_disk_super sb;
	uint64_t magic, version;
	uint32_t ss;

	memset(log, 0, sizeof(*log));
	log->path = path;
	log->fd = open(path, O_RDONLY);
	if (log->fd < 0)
		return set_err(log, "cannot open: %s", strerror(errno));
	if (fd_size(log->fd, &log->size)) {
		set_err(log, "cannot get its size (a regular file or a block device is needed): %s",
			strerror(errno));
		goto fail;
	}
	if (log->size < 512) {
		set_err(log, "only %llu bytes: too small for a dm-log-writes super block",
			(unsigned long long)log->size);
		goto fail;
	}
	if (read_at(log, &sb, sizeof(sb), 0, "the super block"))
		goto fail;
	magic = le64toh(sb.magic);
	version = le64toh(sb.version);
	ss = le32toh(sb.sectorsize);
	if (magic != LW_MAGIC) {
		set_err(log, "bad magic 0x%llx (expected 0x%llx): not a dm-log-writes log, or the target never wrote its super block",
			(unsigned long long)magic, LW_MAGIC);
		goto fail;
	}
	if (version != LW_VERSION) {
		set_err(log, "log format version %llu, only version %llu is known",
			(unsigned long long)version, LW_VERSION);
		goto fail;
	}
	if (ss < 512 || ss > 65536 || (ss & (ss - 1))) {
		set_err(log, "sector size %u in the super block is not a power of two between 512 and 65536",
			ss);
		goto fail;
	}
	log->sectorsize = ss;
	log->nr_entries = le64toh(sb.nr_entries);
	lw_rewind(log);
	return 0;
fail:
	close(log->fd);
	log->fd = -1;
	return -1;
}

void lw_close(struct lw_log *log)
{
	if (log->fd >= 0)
		close(log->fd);
	log->fd = -1;
}

void lw_rewind(struct lw_log *log)
{
	log->next_index = 0;
	log->next_off = log->sectorsize;	/* entry 0 follows the super */
}

int lw_next(struct lw_log *log, struct lw_entry *e)
{
	uint64_t ss = log->sectorsize, i = log->next_index, off = log->next_off;
	struct lw_disk_entry de;
	char text[LW_MARK_MAX];
	uint64_t data_bytes;

	if (i >= log->nr_entries)
		return 0;
	if (off > log->size || log->size - off < ss)
		return set_err(log, "entry %llu would start at byte %llu, beyond the end of the log (%llu bytes): the log is truncated or its entry count (%llu) is wrong",
			       (unsigned long long)i, (unsigned long long)off,
			       (unsigned long long)log->size,
			       (unsigned long long)log->nr_entries);
	if (read_at(log, &de, sizeof(de), off, "an entry"))
		return -1;
	memset(e, 0, sizeof(*e));
	e->index = i;
	e->offset = off;
	e->sector = le64toh(de.sector);
	e->nr_sectors = le64toh(de.nr_sectors);
	e->flags = le64toh(de.flags);
	e->data_len = le64toh(de.data_len);

	if (e->flags & LW_MARK) {
		if (e->data_len > ss - sizeof(de) || e->data_len >= LW_MARK_MAX)
			return set_err(log, "entry %llu at byte %llu: mark text of %llu bytes does not fit in its %llu-byte sector",
				       (unsigned long long)i,
				       (unsigned long long)off,
				       (unsigned long long)e->data_len,
				       (unsigned long long)ss);
		if (read_at(log, text, e->data_len, off + sizeof(de),
			    "a mark's text"))
			return -1;
		memcpy(e->mark, text, e->data_len);
		e->mark[e->data_len] = '\0';
		if (strlen(e->mark) != e->data_len)
			return set_err(log, "entry %llu at byte %llu: the mark's text has a NUL byte within its %llu bytes",
				       (unsigned long long)i,
				       (unsigned long long)off,
				       (unsigned long long)e->data_len);
	}

	data_bytes = 0;
	if (!(e->flags & LW_DISCARD)) {
		if (e->nr_sectors > (log->size - off - ss) / ss)
			return set_err(log, "entry %llu at byte %llu: its %llu sectors of data run past the end of the log (%llu bytes)",
				       (unsigned long long)i,
				       (unsigned long long)off,
				       (unsigned long long)e->nr_sectors,
				       (unsigned long long)log->size);
		data_bytes = e->nr_sectors * ss;
	}
	log->next_index = i + 1;
	log->next_off = off + ss + data_bytes;
	return 1;
}

int lw_find_mark(struct lw_log *log, const char *name, uint64_t *index)
{
	struct lw_entry e;
	int r;

	lw_rewind(log);
	while ((r = lw_next(log, &e)) == 1) {
		if ((e.flags & LW_MARK) && !strcmp(e.mark, name)) {
			*index = e.index;
			return 1;
		}
	}
	return r;
}

static int write_all(struct lw_log *log, int fd, const void *buf, size_t len,
		     uint64_t off, uint64_t index)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fd, (const char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return set_err(log, "entry %llu: writing the target at byte %llu: %s",
				       (unsigned long long)index,
				       (unsigned long long)(off + done),
				       n < 0 ? strerror(errno) : "nothing written");
		done += n;
	}
	return 0;
}

/* Apply one entry to the target. */
static int replay_one(struct lw_log *log, const struct lw_entry *e, int fd,
		      uint64_t dev_size, char *buf, const char *zero)
{
	uint64_t ss = log->sectorsize, left, dst, src;
	size_t n;

	if (!e->nr_sectors)
		return 0;
	if (e->sector > dev_size / ss || e->nr_sectors > dev_size / ss - e->sector)
		return set_err(log, "entry %llu writes sectors %llu..%llu (of %llu bytes) but the target has only %llu bytes",
			       (unsigned long long)e->index,
			       (unsigned long long)e->sector,
			       (unsigned long long)(e->sector + e->nr_sectors - 1),
			       (unsigned long long)ss,
			       (unsigned long long)dev_size);
	left = e->nr_sectors * ss;
	dst = e->sector * ss;
	src = e->offset + ss;
	while (left) {
		n = left < CHUNK ? left : CHUNK;
		if (e->flags & LW_DISCARD) {
			if (write_all(log, fd, zero, n, dst, e->index))
				return -1;
		} else {
			if (read_at(log, buf, n, src, "an entry's data"))
				return -1;
			if (write_all(log, fd, buf, n, dst, e->index))
				return -1;
			src += n;
		}
		dst += n;
		left -= n;
	}
	return 0;
}

int lw_replay(struct lw_log *log, int fd, uint64_t dev_size,
	      uint64_t from, uint64_t to)
{
	struct lw_entry *e;
	char *buf, *zero;
	int r = 0;

	if (to > log->nr_entries)
		return set_err(log, "the log has %llu entries: cannot replay up to entry %llu",
			       (unsigned long long)log->nr_entries,
			       (unsigned long long)to);
	if (from > to)
		return set_err(log, "cannot replay from entry %llu to entry %llu: the start is after the end",
			       (unsigned long long)from, (unsigned long long)to);
	e = malloc(sizeof(*e));
	buf = malloc(CHUNK);
	zero = calloc(1, CHUNK);
	if (!e || !buf || !zero) {
		r = set_err(log, "out of memory");
		goto out;
	}
	lw_rewind(log);
	while (log->next_index < to) {
		r = lw_next(log, e);
		if (r < 0)
			goto out;
		if (r == 0) {	/* cannot happen: to <= nr_entries */
			r = set_err(log, "the log ended before entry %llu",
				    (unsigned long long)to);
			goto out;
		}
		r = 0;
		if (e->index < from)
			continue;
		if (replay_one(log, e, fd, dev_size, buf, zero)) {
			r = -1;
			goto out;
		}
	}
	if (fsync(fd))
		r = set_err(log, "flushing the target: %s", strerror(errno));
out:
	free(e);
	free(buf);
	free(zero);
	return r;
}

void lw_flag_names(uint64_t flags, char *buf, size_t len)
{
	static const char *const names[] = {
		"FLUSH", "FUA", "DISCARD", "MARK", "METADATA"
	};
	size_t used = 0;
	unsigned int i;
	int n;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]) && used < len; i++) {
		if (!(flags & (1ULL << i)))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? "|" : "",
			     names[i]);
		used += n > 0 ? n : 0;
	}
	if ((flags & ~LW_KNOWN_FLAGS) && used < len) {
		n = snprintf(buf + used, len - used, "%s0x%llx", used ? "|" : "",
			     (unsigned long long)(flags & ~LW_KNOWN_FLAGS));
		used += n > 0 ? n : 0;
	}
	if (!used)
		snprintf(buf, len, "WRITE");
}
