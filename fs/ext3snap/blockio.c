// SPDX-License-Identifier: GPL-2.0
/*
 * ext3snap: block I/O helpers. The bottom layer: everything above (the
 * copies, the before-image journal, the exclude maps, snapshot reads) goes
 * to the device through here, and nothing here calls up.
 */
#include <linux/bio.h>
#include "internal.h"

/* Synchronous single-block I/O straight to the device, no page cache. */
int ext3snap_bio_rw(struct super_block *sb, blk_opf_t op, ext4_fsblk_t block,
		    struct page *page, unsigned int offset)
{
	struct bio *bio;
	int err;

	bio = bio_alloc(sb->s_bdev, 1, op, GFP_NOFS);
	bio->bi_iter.bi_sector = block << (sb->s_blocksize_bits - 9);
	__bio_add_page(bio, page, sb->s_blocksize, offset);
	err = submit_bio_wait(bio);
	bio_put(bio);
	return err;
}
