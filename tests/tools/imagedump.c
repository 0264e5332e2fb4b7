// SPDX-License-Identifier: GPL-2.0
/*
 * imagedump: write a snapshot's whole image, read from the unmounted
 * filesystem as the kernel would show it (lib/image.c), so that tests can
 * hash it and run e2fsck -fn on it without binding ssdev.
 *
 *   imagedump [-s INO] IMG [OUT]   the image of snapshot INO (default: the
 *                                  newest) to OUT (default: stdout)
 *   imagedump -c [-s INO] IMG      check it as fsck.ext3snap does: prints
 *                                  the findings, exits 1 if it is damaged
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ext3snap.h"
#include "libext3snap.h"

#define CHUNK	256		/* blocks per read */

static void print_line(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

static int dump(struct e3s_image *img, const char *out)
{
	blk64_t b, n = e3s_image_blocks(img);
	unsigned int nr;
	errcode_t err;
	char *buf;
	FILE *f;

	f = out ? fopen(out, "w") : stdout;
	buf = malloc((size_t)CHUNK * EXT3SNAP_BLOCK_SIZE);
	if (!f || !buf) {
		perror(out ? out : "imagedump");
		return 2;
	}
	for (b = 0; b < n; b += nr) {
		nr = n - b < CHUNK ? n - b : CHUNK;
		err = e3s_image_read(img, b, nr, buf);
		if (err) {
			fprintf(stderr, "imagedump: block %llu: %s\n",
				(unsigned long long)b, error_message(err));
			return 2;
		}
		if (fwrite(buf, EXT3SNAP_BLOCK_SIZE, nr, f) != nr) {
			perror(out ? out : "imagedump");
			return 2;
		}
	}
	free(buf);
	if (fclose(f)) {
		perror(out ? out : "imagedump");
		return 2;
	}
	return 0;
}

static int check(struct e3s_image *img)
{
	struct e3s_image_check r;
	char msg[E3S_MSG_LEN];
	ext2_filsys ifs;
	errcode_t err;

	err = e3s_image_open_fs(img, &ifs);
	if (err) {
		printf("cannot open the image: %s\n", error_message(err));
		return 1;
	}
	err = e3s_image_check(ifs, &r, print_line, NULL, msg);
	ext2fs_close_free(&ifs);
	if (err) {
		printf("cannot check the image: %s\n", msg);
		return 1;
	}
	if (r.sb_free != r.sb_counted)
		printf("superblock free blocks count %llu, counted=%llu\n",
		       (unsigned long long)r.sb_free,
		       (unsigned long long)r.sb_counted);
	return e3s_image_damaged(&r);
}

int main(int argc, char **argv)
{
	struct e3s_chain c = { 0 };
	struct e3s_image *img;
	char msg[E3S_MSG_LEN];
	ext2_ino_t ino = 0;
	ext2_filsys fs;
	errcode_t err;
	unsigned int i;
	int opt, do_check = 0, ret;

	while ((opt = getopt(argc, argv, "cs:")) != -1) {
		if (opt == 'c') {
			do_check = 1;
		} else if (opt == 's') {
			ino = strtoul(optarg, NULL, 0);
		} else {
			fprintf(stderr, "usage: imagedump [-c] [-s INO] IMG [OUT]\n");
			return 2;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		fprintf(stderr, "usage: imagedump [-c] [-s INO] IMG [OUT]\n");
		return 2;
	}
	err = ext2fs_open(argv[optind], EXT2_FLAG_64BITS, 0, 0,
			  unix_io_manager, &fs);
	if (err) {
		fprintf(stderr, "imagedump: %s: %s\n", argv[optind],
			error_message(err));
		return 2;
	}
	if (e3s_chain_walk(fs, &c, msg)) {
		fprintf(stderr, "imagedump: %s\n", msg);
		return 2;
	}
	for (i = 0; i < c.n && ino && c.m[i].ino != ino; i++)
		;
	if (i == c.n) {
		fprintf(stderr, "imagedump: no such snapshot in the chain%s%s\n",
			c.end == E3S_CHAIN_OK ? "" : ": ",
			c.end == E3S_CHAIN_OK ? "" : c.why);
		return 2;
	}
	if (e3s_image_open(fs, &c, i, &img, msg)) {
		fprintf(stderr, "imagedump: %s\n", msg);
		return 2;
	}
	ret = do_check ? check(img) : dump(img, argv[optind + 1]);
	e3s_image_close(img);
	e3s_chain_free(&c);
	ext2fs_close_free(&fs);
	return ret;
}
