// SPDX-License-Identifier: GPL-2.0
/*
 * libext3snap: which mount a path lives on (/proc/self/mountinfo), and the
 * checks the tools make on a snapshot file's path before asking the kernel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "ext3snap.h"
#include "libext3snap.h"

/* Undo the octal escapes (\040 for a space, ...) of mountinfo, in place. */
static void unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
					(s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* The next space-separated field of *LINE, or NULL at the end. */
static char *field(char **line)
{
	return strsep(line, " ");
}

int e3s_mountinfo_parse(char *line, struct e3s_mount *m)
{
	char *f, *end;
	unsigned long maj, min;

	line[strcspn(line, "\n")] = '\0';
	memset(m, 0, sizeof(*m));
	if (!field(&line) || !field(&line))	/* mount id, parent id */
		return -1;
	f = field(&line);
	if (!f)
		return -1;
	errno = 0;
	maj = strtoul(f, &end, 10);
	if (end == f || *end != ':' || errno)
		return -1;
	f = end + 1;
	min = strtoul(f, &end, 10);
	if (end == f || *end || errno)
		return -1;
	m->major = (unsigned int)maj;
	m->minor = (unsigned int)min;
	m->root = field(&line);
	m->mountpoint = field(&line);
	m->mount_opts = field(&line);
	if (!m->mount_opts)
		return -1;
	do {				/* optional fields up to "-" */
		f = field(&line);
		if (!f)
			return -1;
	} while (strcmp(f, "-"));
	m->fstype = field(&line);
	m->source = field(&line);
	m->super_opts = field(&line);
	if (!m->super_opts)
		return -1;
	unescape(m->root);
	unescape(m->mountpoint);
	unescape(m->source);
	return 0;
}

int e3s_path_under(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/' ? 1 : -1;
	if (strncmp(dir, path, n) || (path[n] && path[n] != '/'))
		return -1;
	return (int)n;
}

int e3s_has_option(const char *opts, const char *opt)
{
	size_t n = strlen(opt);
	const char *p = opts;

	while (p && *p) {
		if (strncmp(p, opt, n) == 0 && (p[n] == ',' || !p[n]))
			return 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 0;
}

/* Keep a copy of line L, parsed, in *M. */
static int keep(const char *l, struct e3s_mount *m)
{
	char *copy = strdup(l);

	if (!copy)
		return -1;
	e3s_mount_free(m);
	if (e3s_mountinfo_parse(copy, m)) {
		free(copy);
		return -1;
	}
	m->buf = copy;
	return 0;
}

int e3s_find_mount(FILE *mountinfo, dev_t dev, const char *path,
		   struct e3s_mount *m)
{
	char *line = NULL, *copy = NULL;
	size_t cap = 0;
	int best_dev = -2, best_any = -2, ret = -1;
	char *dev_line = NULL, *any_line = NULL;
	struct e3s_mount e;

	memset(m, 0, sizeof(*m));
	while (getline(&line, &cap, mountinfo) > 0) {
		int len;

		free(copy);
		copy = strdup(line);
		if (!copy)
			goto out;
		if (e3s_mountinfo_parse(copy, &e))
			continue;
		len = path ? e3s_path_under(e.mountpoint, path) : -1;
		/* Later lines are mounted on top: >= lets them win ties. */
		if (e.major == major(dev) && e.minor == minor(dev) &&
		    len >= best_dev) {
			best_dev = len;
			free(dev_line);
			dev_line = strdup(line);
			if (!dev_line)
				goto out;
		}
		if (len >= 0 && len >= best_any) {
			best_any = len;
			free(any_line);
			any_line = strdup(line);
			if (!any_line)
				goto out;
		}
	}
	if (dev_line)
		ret = keep(dev_line, m);
	else if (any_line)
		ret = keep(any_line, m);
	else
		errno = ENOENT;
out:
	free(line);
	free(copy);
	free(dev_line);
	free(any_line);
	return ret;
}

void e3s_mount_free(struct e3s_mount *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

int e3s_split_path(const char *path, char *dir, size_t dirlen, char *name,
		   char *msg)
{
	const char *slash, *base;
	size_t len, n;

	len = strlen(path);
	if (!len) {
		snprintf(msg, E3S_MSG_LEN, "the file name is empty");
		return -1;
	}
	if (path[len - 1] == '/') {
		snprintf(msg, E3S_MSG_LEN,
			 "%s: names a directory; give the snapshot file's name, e.g. %ssnapshot.img",
			 path, path);
		return -1;
	}
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	if (!strcmp(base, ".") || !strcmp(base, "..")) {
		snprintf(msg, E3S_MSG_LEN,
			 "%s: '%s' is not a file name; give the snapshot file's name",
			 path, base);
		return -1;
	}
	if (strlen(base) > EXT3SNAP_NAME_LEN - 1) {
		snprintf(msg, E3S_MSG_LEN,
			 "%s: the file name is %zu bytes long; at most %d are allowed",
			 path, strlen(base), EXT3SNAP_NAME_LEN - 1);
		return -1;
	}
	if (!slash) {
		n = 1;
		path = ".";
	} else {
		/* The directory part without its trailing slashes; "/" stays. */
		n = (size_t)(slash - path);
		while (n > 0 && path[n - 1] == '/')
			n--;
		if (n == 0)
			n = 1;
	}
	if (n >= dirlen) {
		snprintf(msg, E3S_MSG_LEN, "%.64s...: the directory name is too long",
			 path);
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	strcpy(name, base);
	return 0;
}

const char *e3s_state_name(unsigned int state)
{
	switch (state) {
	case EXT3SNAP_STATE_ACTIVE:
		return "active";
	case EXT3SNAP_STATE_BROKEN:
		return "broken";
	case EXT3SNAP_STATE_INACTIVE:
		return "inactive";
	case EXT3SNAP_STATE_OK:
		return "ok";
	case EXT3SNAP_STATE_DELETING:
		return "deleting";
	}
	return "unknown";
}
