/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading and replaying the log of the dm-log-writes target (the format of
 * Linux's drivers/md/dm-log-writes.c, documented in
 * Documentation/admin-guide/device-mapper/log-writes.rst).
 *
 * The log, in units of the logged device's logical sector size S:
 *
 *   unit 0        struct lw_super (rest of the unit zero)
 *   then, nr_entries times:
 *     1 unit      struct lw_disk_entry, then for a MARK its text
 *                 (data_len bytes, no NUL), rest zero
 *     nr_sectors  units of written data (none for a DISCARD)
 *
 * All fields are little endian. 'sector' and 'nr_sectors' count units of
 * S on the logged device. The target logs a write only once a FLUSH that
 * followed its completion has completed (so the log is what was on
 * stable storage), a FUA write as soon as it completes, and a mark when
 * asked ('dmsetup message DEV 0 mark TEXT'); it ends every log with the
 * mark "dm-log-writes-end" when the target is removed.
 */
#ifndef LOGWRITES_H
#define LOGWRITES_H

#include <stdint.h>

#define LW_MAGIC		0x6a736677736872ULL
#define LW_VERSION		1ULL

#define LW_FLUSH		(1ULL << 0)
#define LW_FUA			(1ULL << 1)
#define LW_DISCARD		(1ULL << 2)
#define LW_MARK			(1ULL << 3)
#define LW_METADATA		(1ULL << 4)
#define LW_KNOWN_FLAGS		0x1fULL

struct lw_disk_super {
	uint64_t magic;
	uint64_t version;
	uint64_t nr_entries;
	uint32_t sectorsize;
} __attribute__((packed));

struct lw_disk_entry {
	uint64_t sector;
	uint64_t nr_sectors;
	uint64_t flags;
	uint64_t data_len;
} __attribute__((packed));

#define LW_ERR_LEN	512
#define LW_MARK_MAX	4096

/* An open log and a cursor on its entries. */
struct lw_log {
	int fd;
	const char *path;
	uint64_t size;		/* bytes */
	uint64_t nr_entries;
	uint32_t sectorsize;
	uint64_t next_index;	/* the entry lw_next() reads next */
	uint64_t next_off;	/* its byte offset in the log */
	char err[LW_ERR_LEN];	/* what went wrong, for any -1 return */
};

struct lw_entry {
	uint64_t index;
	uint64_t offset;	/* byte offset of the entry unit in the log */
	uint64_t sector;	/* in sectorsize units on the logged device */
	uint64_t nr_sectors;
	uint64_t flags;
	uint64_t data_len;
	char mark[LW_MARK_MAX];	/* the text of a MARK, NUL-terminated */
};

/* All return 0 (or 1 where said) on success, -1 with log->err set. */
int lw_open(struct lw_log *log, const char *path);
void lw_close(struct lw_log *log);
/* Back to entry 0. */
void lw_rewind(struct lw_log *log);
/* The next entry: 1, or 0 after the last one. */
int lw_next(struct lw_log *log, struct lw_entry *e);
/* Index of the first MARK with text NAME: 1 found, 0 not found. */
int lw_find_mark(struct lw_log *log, const char *name, uint64_t *index);
/*
 * Write entries [from, to) to the file or device open as fd, of size
 * dev_size bytes: writes as logged, discards as zeroes; flushes and marks
 * carry nothing to write. Ends with fsync(fd).
 */
int lw_replay(struct lw_log *log, int fd, uint64_t dev_size,
	      uint64_t from, uint64_t to);
/* "FLUSH|FUA|METADATA", "WRITE" for none, unknown bits in hex. */
void lw_flag_names(uint64_t flags, char *buf, size_t len);

#endif
