// SPDX-License-Identifier: GPL-2.0
/*
 * ssdev: read-only block devices that show an ext3snap snapshot.
 *
 * SSDEV_IOC_BIND on /dev/ssdev-ctl shows an open snapshot file as
 * /dev/ssdev/N. The file stays referenced while bound, which keeps the
 * origin filesystem mounted. Reads are served by ext3snap_read() from a
 * workqueue: it submits bios of its own and waits for them, and inside our
 * submit_bio those would only be queued on current->bio_list, never run.
 */
#define pr_fmt(fmt) "ssdev: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/log2.h>
#include <linux/mempool.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "ext3snap.h"
#include "ext3snap_read.h"

/* Blocks per ext3snap_read() call: the vectors fill a 4 KiB allocation. */
#define SSDEV_BATCH	240
/* Reads (and bounce pages) that can always be queued under memory pressure. */
#define SSDEV_POOL_MIN	16
/*
 * Each queued read waits for its own origin I/O: twice this is the
 * readahead, and 512 KiB keeps a sequential reader's origin busy.
 */
#define SSDEV_IO_OPT	(256 << 10)
/*
 * A larger bio is read in pieces of this size, side by side: one piece
 * waits for each step of its walk, and the others use the wait.
 */
#define SSDEV_SPLIT_SECTORS	(SSDEV_IO_OPT >> SECTOR_SHIFT)

struct ssdev {
	unsigned int index;
	unsigned int blkbits;
	struct gendisk *disk;
	struct workqueue_struct *wq;
	struct file *file;		/* the snapshot file, held while bound */
	struct ext3snap_snap *snap;
	struct ext3snap_geometry geo;
	spinlock_t lock;		/* open_count and dying, against unbind */
	unsigned int open_count;
	bool dying;			/* being unbound: refuse new opens */
};

/* One read bio on its way through the workqueue. */
struct ssdev_io {
	struct work_struct work;
	struct ssdev *dev;
	struct bio *bio;
	struct page *bounce;		/* for pieces not block-aligned in memory */
	u64 bounce_block;		/* the block the bounce page holds */
	struct bio_vec vecs[SSDEV_BATCH];
};

static DEFINE_MUTEX(ssdev_mutex);	/* ssdev_devs[]: bind, unbind, info */
static struct ssdev *ssdev_devs[SSDEV_MAX_DEVICES];
static int ssdev_major;
static mempool_t *ssdev_io_pool;
static mempool_t *ssdev_page_pool;
static struct bio_set ssdev_split_set;

/* ---- reading ------------------------------------------------------------- */

static int ssdev_read_batch(struct ssdev_io *io, u64 first, unsigned int nr)
{
	return nr ? ext3snap_read(io->dev->snap, first, nr, io->vecs) : 0;
}

/*
 * Copy @len bytes at device offset @pos, which stay within one block, to
 * @page at @off. The block is read whole into the bounce page, which is
 * kept: unaligned direct I/O usually takes a block in several pieces.
 */
static int ssdev_read_piece(struct ssdev_io *io, u64 pos, struct page *page,
			    unsigned int off, unsigned int len)
{
	struct ssdev *dev = io->dev;
	u64 block = pos >> dev->blkbits;
	struct bio_vec bv;
	int err;

	if (!io->bounce) {
		io->bounce = mempool_alloc(ssdev_page_pool, GFP_NOIO);
		io->bounce_block = U64_MAX;
	}
	if (io->bounce_block != block) {
		io->bounce_block = U64_MAX;
		bvec_set_page(&bv, io->bounce, dev->geo.blocksize, 0);
		err = ext3snap_read(dev->snap, block, 1, &bv);
		if (err)
			return err;
		io->bounce_block = block;
	}
	memcpy_to_page(page, off, page_address(io->bounce) +
		       (pos & (dev->geo.blocksize - 1)), len);
	return 0;
}

/*
 * Whole blocks at block-aligned places in memory go straight to
 * ext3snap_read(), consecutive ones batched; the rest through the bounce
 * page. The dma alignment is 512, so a block may span two pages.
 */
static int ssdev_read_bio(struct ssdev_io *io)
{
	struct ssdev *dev = io->dev;
	unsigned int bs = dev->geo.blocksize;
	u64 pos = (u64)io->bio->bi_iter.bi_sector << SECTOR_SHIFT;
	u64 first = 0;
	unsigned int nr = 0;
	struct bvec_iter iter;
	struct bio_vec bv;
	int err;

	bio_for_each_segment(bv, io->bio, iter) {
		unsigned int off = bv.bv_offset;
		unsigned int len = bv.bv_len;
		unsigned int n;

		while (len) {
			if (!((pos | off) & (bs - 1)) && len >= bs) {
				if (nr == SSDEV_BATCH) {
					err = ssdev_read_batch(io, first, nr);
					if (err)
						return err;
					nr = 0;
				}
				if (!nr)
					first = pos >> dev->blkbits;
				bvec_set_page(&io->vecs[nr++], bv.bv_page, bs,
					      off);
				n = bs;
			} else {
				/* the batch must stay consecutive: end it */
				err = ssdev_read_batch(io, first, nr);
				if (err)
					return err;
				nr = 0;
				n = min_t(unsigned int, len,
					  bs - (pos & (bs - 1)));
				err = ssdev_read_piece(io, pos, bv.bv_page, off,
						       n);
				if (err)
					return err;
			}
			pos += n;
			off += n;
			len -= n;
		}
	}
	return ssdev_read_batch(io, first, nr);
}

static void ssdev_work(struct work_struct *work)
{
	struct ssdev_io *io = container_of(work, struct ssdev_io, work);
	struct bio *bio = io->bio;
	int err;

	err = ssdev_read_bio(io);
	if (err) {
		pr_err_ratelimited("ssdev%u: read at sector %llu failed (%d)\n",
				   io->dev->index,
				   (unsigned long long)bio->bi_iter.bi_sector,
				   err);
		bio->bi_status = BLK_STS_IOERR;
	}
	if (io->bounce)
		mempool_free(io->bounce, ssdev_page_pool);
	mempool_free(io, ssdev_io_pool);
	bio_endio(bio);
}

/* GFP_NOIO: never fails, the pools refill as queued reads end. */
static void ssdev_queue(struct ssdev *dev, struct bio *bio)
{
	struct ssdev_io *io = mempool_alloc(ssdev_io_pool, GFP_NOIO);

	io->dev = dev;
	io->bio = bio;
	io->bounce = NULL;
	INIT_WORK(&io->work, ssdev_work);
	queue_work(dev->wq, &io->work);
}

static void ssdev_submit_bio(struct bio *bio)
{
	struct ssdev *dev = bio->bi_bdev->bd_disk->private_data;

	if (bio_op(bio) != REQ_OP_READ) {
		/* nothing here can be written; other ops are not offered */
		bio->bi_status = op_is_write(bio_op(bio)) ? BLK_STS_IOERR :
							    BLK_STS_NOTSUPP;
		bio_endio(bio);
		return;
	}
	/* The parent ends when its last piece does (bio_chain()). */
	while (bio_sectors(bio) > SSDEV_SPLIT_SECTORS) {
		struct bio *piece = bio_split(bio, SSDEV_SPLIT_SECTORS,
					      GFP_NOIO, &ssdev_split_set);

		bio_chain(piece, bio);
		ssdev_queue(dev, piece);
	}
	ssdev_queue(dev, bio);
}

/* ---- opening ------------------------------------------------------------- */

/* Openers are counted so that unbind can refuse a device in use. */
static int ssdev_open(struct ssdev *dev, bool write)
{
	int ret = 0;

	if (write)
		return -EROFS;
	spin_lock(&dev->lock);
	if (dev->dying)
		ret = -ENXIO;
	else
		dev->open_count++;
	spin_unlock(&dev->lock);
	return ret;
}

static void ssdev_release(struct ssdev *dev)
{
	spin_lock(&dev->lock);
	dev->open_count--;
	spin_unlock(&dev->lock);
}

/*
 * ---- kernel 6.1 block-layer interface ------------------------------------
 *
 * Everything whose signature depends on the kernel version stays in this
 * section: later kernels pass open() a gendisk and a blk_mode_t, drop
 * release()'s mode and take queue limits in blk_alloc_disk().
 */

static int ssdev_bdev_open(struct block_device *bdev, fmode_t mode)
{
	return ssdev_open(bdev->bd_disk->private_data, mode & FMODE_WRITE);
}

static void ssdev_bdev_release(struct gendisk *disk, fmode_t mode)
{
	ssdev_release(disk->private_data);
}

/* /dev/ssdev/N rather than /dev/ssdevN, like /dev/mapper/. */
static char *ssdev_devnode(struct gendisk *disk, umode_t *mode)
{
	struct ssdev *dev = disk->private_data;

	return kasprintf(GFP_KERNEL, "ssdev/%u", dev->index);
}

static const struct block_device_operations ssdev_fops = {
	.owner		= THIS_MODULE,
	.submit_bio	= ssdev_submit_bio,
	.open		= ssdev_bdev_open,
	.release	= ssdev_bdev_release,
	.devnode	= ssdev_devnode,
};

static struct gendisk *ssdev_alloc_disk(unsigned int blocksize)
{
	struct gendisk *disk = blk_alloc_disk(NUMA_NO_NODE);

	if (!disk)
		return ERR_PTR(-ENOMEM);
	blk_queue_logical_block_size(disk->queue, blocksize);
	blk_queue_physical_block_size(disk->queue, blocksize);
	blk_queue_io_opt(disk->queue, SSDEV_IO_OPT);
	return disk;
}

/* ---- binding ------------------------------------------------------------- */

/* Show @file, a referenced snapshot file, as ssdev<index>. */
static struct ssdev *ssdev_create(unsigned int index, struct file *file)
{
	struct ssdev *dev;
	struct gendisk *disk;
	unsigned int bs;
	int ret;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&dev->lock);
	dev->index = index;
	dev->file = file;

	dev->snap = ext3snap_bind(file);
	if (IS_ERR(dev->snap)) {
		ret = PTR_ERR(dev->snap);
		goto out_free;
	}
	ext3snap_geometry(dev->snap, &dev->geo);
	bs = dev->geo.blocksize;
	/* a block must fit in one page for the vectors and the bounce page */
	if (bs < SECTOR_SIZE || bs > PAGE_SIZE || !is_power_of_2(bs) ||
	    !dev->geo.blocks) {
		pr_warn("ssdev%u: unsupported snapshot geometry (%llu blocks of %u bytes)\n",
			index, (unsigned long long)dev->geo.blocks, bs);
		ret = -EINVAL;
		goto out_unbind;
	}
	dev->blkbits = ilog2(bs);

	dev->wq = alloc_workqueue("ssdev%u", WQ_MEM_RECLAIM | WQ_UNBOUND, 0,
				  index);
	if (!dev->wq) {
		ret = -ENOMEM;
		goto out_unbind;
	}

	disk = ssdev_alloc_disk(bs);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto out_wq;
	}
	disk->major = ssdev_major;
	disk->first_minor = index;
	disk->minors = 1;
	disk->fops = &ssdev_fops;
	disk->private_data = dev;
	disk->flags |= GENHD_FL_NO_PART;
	snprintf(disk->disk_name, DISK_NAME_LEN, "ssdev%u", index);
	set_capacity(disk, dev->geo.blocks << (dev->blkbits - SECTOR_SHIFT));
	set_disk_ro(disk, true);
	dev->disk = disk;

	ret = add_disk(disk);
	if (ret)
		goto out_disk;
	return dev;

out_disk:
	put_disk(disk);
out_wq:
	destroy_workqueue(dev->wq);
out_unbind:
	ext3snap_unbind(dev->snap);
out_free:
	kfree(dev);
	return ERR_PTR(ret);
}

/*
 * Undo ssdev_create() for a device nobody has open and nobody can open
 * any more (dying). Called under ssdev_mutex so that the name and minor
 * are free again before the index can be bound anew.
 */
static void ssdev_destroy(struct ssdev *dev)
{
	del_gendisk(dev->disk);
	/* reads queued before del_gendisk may still be running */
	destroy_workqueue(dev->wq);
	put_disk(dev->disk);
	ext3snap_unbind(dev->snap);
	fput(dev->file);
	kfree(dev);
}

static int ssdev_bind(struct ssdev_ioc_bind __user *arg)
{
	struct ssdev_ioc_bind b;
	struct ssdev *dev;
	struct file *file;
	unsigned int i;
	int ret = 0;

	if (copy_from_user(&b, arg, sizeof(b)))
		return -EFAULT;
	if (b.index >= SSDEV_MAX_DEVICES)
		return -EINVAL;
	file = fget(b.fd);
	if (!file)
		return -EBADF;

	mutex_lock(&ssdev_mutex);
	if (ssdev_devs[b.index])
		ret = -EBUSY;
	/* one device per snapshot file: unbinding one must not hide another */
	for (i = 0; i < SSDEV_MAX_DEVICES && !ret; i++)
		if (ssdev_devs[i] &&
		    file_inode(ssdev_devs[i]->file) == file_inode(file))
			ret = -EBUSY;
	if (!ret) {
		dev = ssdev_create(b.index, file);
		if (IS_ERR(dev))
			ret = PTR_ERR(dev);
		else
			ssdev_devs[b.index] = dev;
	}
	mutex_unlock(&ssdev_mutex);
	/* on success the device keeps the reference */
	if (ret)
		fput(file);
	return ret;
}

static int ssdev_unbind(u32 __user *arg)
{
	struct ssdev *dev;
	u32 index;
	int ret = 0;

	if (get_user(index, arg))
		return -EFAULT;
	if (index >= SSDEV_MAX_DEVICES)
		return -EINVAL;

	mutex_lock(&ssdev_mutex);
	dev = ssdev_devs[index];
	if (!dev) {
		ret = -ENXIO;
		goto out;
	}
	/* open() checks dying under the same lock: no opener can slip in */
	spin_lock(&dev->lock);
	if (dev->open_count)
		ret = -EBUSY;
	else
		dev->dying = true;
	spin_unlock(&dev->lock);
	if (!ret) {
		ssdev_devs[index] = NULL;
		ssdev_destroy(dev);
	}
out:
	mutex_unlock(&ssdev_mutex);
	return ret;
}

static int ssdev_fill_info(struct ssdev *dev, struct ssdev_ioc_info *info)
{
	char *path;

	spin_lock(&dev->lock);
	info->open_count = dev->open_count;
	spin_unlock(&dev->lock);
	info->snap_id = dev->geo.id;
	info->size = dev->geo.blocks << dev->blkbits;
	snprintf(info->origin, sizeof(info->origin), "%pg", dev->geo.origin);
	path = d_path(&dev->file->f_path, info->snapshot,
		      sizeof(info->snapshot));
	if (IS_ERR(path))
		return PTR_ERR(path);
	/* d_path() builds the name at the end of the buffer */
	memmove(info->snapshot, path, strlen(path) + 1);
	return 0;
}

static int ssdev_info(struct ssdev_ioc_info __user *arg)
{
	struct ssdev_ioc_info *info;
	u32 index;
	int ret;

	if (get_user(index, &arg->index))
		return -EFAULT;
	if (index >= SSDEV_MAX_DEVICES)
		return -EINVAL;
	info = kzalloc(sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;
	info->index = index;

	mutex_lock(&ssdev_mutex);
	if (ssdev_devs[index])
		ret = ssdev_fill_info(ssdev_devs[index], info);
	else
		ret = -ENXIO;
	mutex_unlock(&ssdev_mutex);

	if (!ret && copy_to_user(arg, info, sizeof(*info)))
		ret = -EFAULT;
	kfree(info);
	return ret;
}

/* ---- control device ------------------------------------------------------ */

static long ssdev_ctl_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	switch (cmd) {
	case SSDEV_IOC_BIND:
		return ssdev_bind(argp);
	case SSDEV_IOC_UNBIND:
		return ssdev_unbind(argp);
	case SSDEV_IOC_INFO:
		return ssdev_info(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations ssdev_ctl_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= ssdev_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice ssdev_ctl = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= SSDEV_CTL_NAME,
	.fops	= &ssdev_ctl_fops,
	.mode	= 0600,
};

static void ssdev_free_pools(void)
{
	bioset_exit(&ssdev_split_set);
	mempool_destroy(ssdev_page_pool);
	mempool_destroy(ssdev_io_pool);
}

static int __init ssdev_init(void)
{
	int ret;

	ssdev_io_pool = mempool_create_kmalloc_pool(SSDEV_POOL_MIN,
						    sizeof(struct ssdev_io));
	ssdev_page_pool = mempool_create_page_pool(SSDEV_POOL_MIN, 0);
	if (!ssdev_io_pool || !ssdev_page_pool ||
	    bioset_init(&ssdev_split_set, SSDEV_POOL_MIN, 0, 0)) {
		ret = -ENOMEM;
		goto out_pools;
	}
	ssdev_major = register_blkdev(0, "ssdev");
	if (ssdev_major < 0) {
		ret = ssdev_major;
		goto out_pools;
	}
	ret = misc_register(&ssdev_ctl);
	if (ret)
		goto out_blkdev;
	return 0;

out_blkdev:
	unregister_blkdev(ssdev_major, "ssdev");
out_pools:
	ssdev_free_pools();
	return ret;
}

/* Every device is closed: an open one holds a reference on this module. */
static void __exit ssdev_exit(void)
{
	unsigned int i;

	misc_deregister(&ssdev_ctl);
	mutex_lock(&ssdev_mutex);
	for (i = 0; i < SSDEV_MAX_DEVICES; i++) {
		if (!ssdev_devs[i])
			continue;
		ssdev_devs[i]->dying = true;
		ssdev_destroy(ssdev_devs[i]);
		ssdev_devs[i] = NULL;
	}
	mutex_unlock(&ssdev_mutex);
	unregister_blkdev(ssdev_major, "ssdev");
	ssdev_free_pools();
}

module_init(ssdev_init);
module_exit(ssdev_exit);
MODULE_DESCRIPTION("read-only block devices for ext3snap snapshots");
MODULE_LICENSE("GPL");
