// SPDX-License-Identifier: GPL-2.0
/*
 * libext3snap: a libext2fs io_manager that puts copy-before-write (cow.c)
 * in front of unix_io, for fsck.ext3snap's own writes: the replay of
 * before-image journals allocates blocks, which rewrites bitmaps, group
 * descriptors and the superblock, and those may still be read by the
 * newest snapshot.
 *
 * Every write, whole blocks or single bytes, is shown to
 * e3s_cow_before_write() before unix_io gets it. Discard and zero-out
 * are refused, so that libext2fs falls back to writing zeroes, which pass
 * through here too. Reads go straight to unix_io.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ext3snap.h"
#include "libext3snap.h"

#define BS EXT3SNAP_BLOCK_SIZE

static struct e3s_cow *the_cow;

void e3s_cow_io_use(struct e3s_cow *c)
{
	the_cow = c;
}

static io_channel real_of(io_channel channel)
{
	return channel->private_data;
}

/* The device operations cow.c works with, in 4096-byte blocks. */
static int dev_rw(void *ctx, __u64 blk, void *buf, int write)
{
	io_channel real = ctx;
	unsigned long long at = blk * (BS / real->block_size);
	int count = real->block_size == BS ? 1 : -BS;
	errcode_t err;

	err = write ? io_channel_write_blk64(real, at, count, buf) :
		      io_channel_read_blk64(real, at, count, buf);
	return err ? -EIO : 0;
}

static int dev_read(void *ctx, __u64 blk, void *buf)
{
	return dev_rw(ctx, blk, buf, 0);
}

static int dev_write(void *ctx, __u64 blk, const void *buf)
{
	return dev_rw(ctx, blk, (void *)buf, 1);
}

static int dev_flush(void *ctx)
{
	return io_channel_flush((io_channel)ctx) ? -EIO : 0;
}

static void before(io_channel channel, unsigned long long off, size_t len,
		   const void *data)
{
	struct e3s_cow_dev dev = { dev_read, dev_write, dev_flush,
				   real_of(channel) };

	e3s_cow_before_write(the_cow, &dev, off, len, data);
}

static errcode_t cow_close(io_channel channel)
{
	errcode_t err = 0;

	if (--channel->refcount > 0)
		return 0;
	if (real_of(channel))
		err = io_channel_close(real_of(channel));
	ext2fs_free_mem(&channel->name);
	ext2fs_free_mem(&channel);
	return err;
}

static errcode_t cow_set_blksize(io_channel channel, int blksize)
{
	errcode_t err = io_channel_set_blksize(real_of(channel), blksize);

	if (!err)
		channel->block_size = blksize;
	return err;
}

static errcode_t cow_read_blk64(io_channel channel, unsigned long long block,
				int count, void *data)
{
	return io_channel_read_blk64(real_of(channel), block, count, data);
}

static errcode_t cow_read_blk(io_channel channel, unsigned long block,
			      int count, void *data)
{
	return cow_read_blk64(channel, block, count, data);
}

static errcode_t cow_write_blk64(io_channel channel, unsigned long long block,
				 int count, const void *data)
{
	size_t len = count < 0 ? (size_t)-count :
				 (size_t)count * channel->block_size;

	before(channel, block * channel->block_size, len, data);
	return io_channel_write_blk64(real_of(channel), block, count, data);
}

static errcode_t cow_write_blk(io_channel channel, unsigned long block,
			       int count, const void *data)
{
	return cow_write_blk64(channel, block, count, data);
}

static errcode_t cow_write_byte(io_channel channel, unsigned long offset,
				int count, const void *data)
{
	before(channel, offset, count, data);
	return io_channel_write_byte(real_of(channel), offset, count, data);
}

static errcode_t cow_flush(io_channel channel)
{
	return io_channel_flush(real_of(channel));
}

static errcode_t cow_set_option(io_channel channel, const char *option,
				const char *arg)
{
	io_channel real = real_of(channel);

	return real->manager->set_option ?
	       real->manager->set_option(real, option, arg) :
	       EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t cow_get_stats(io_channel channel, io_stats *stats)
{
	io_channel real = real_of(channel);

	return real->manager->get_stats ?
	       real->manager->get_stats(real, stats) : EXT2_ET_UNIMPLEMENTED;
}

/* What a discard leaves is undefined, and zeroes must be saved first. */
static errcode_t cow_refuse(io_channel channel, unsigned long long block,
			    unsigned long long count)
{
	(void)channel; (void)block; (void)count;
	return EXT2_ET_UNIMPLEMENTED;
}

static errcode_t cow_open(const char *name, int flags, io_channel *channel);

static struct struct_io_manager cow_manager = {
	.magic		= EXT2_ET_MAGIC_IO_MANAGER,
	.name		= "ext3snap copy-before-write I/O manager",
	.open		= cow_open,
	.close		= cow_close,
	.set_blksize	= cow_set_blksize,
	.read_blk	= cow_read_blk,
	.write_blk	= cow_write_blk,
	.flush		= cow_flush,
	.write_byte	= cow_write_byte,
	.set_option	= cow_set_option,
	.get_stats	= cow_get_stats,
	.read_blk64	= cow_read_blk64,
	.write_blk64	= cow_write_blk64,
	.discard	= cow_refuse,
	.zeroout	= cow_refuse,
};

io_manager e3s_cow_io_manager = &cow_manager;

static errcode_t cow_open(const char *name, int flags, io_channel *channel)
{
	io_channel io = NULL, real = NULL;
	errcode_t err;

	err = unix_io_manager->open(name, flags, &real);
	if (!err)
		err = ext2fs_get_memzero(sizeof(*io), &io);
	if (!err)
		err = ext2fs_get_mem(strlen(name) + 1, &io->name);
	if (err) {
		if (real)
			io_channel_close(real);
		if (io)
			ext2fs_free_mem(&io);
		return err;
	}
	strcpy(io->name, name);
	io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	io->manager = e3s_cow_io_manager;
	io->block_size = real->block_size;
	io->refcount = 1;
	io->flags = real->flags;
	io->align = real->align;
	io->private_data = real;
	*channel = io;
	return 0;
}
