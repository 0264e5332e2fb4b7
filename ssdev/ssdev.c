// SPDX-License-Identifier: GPL-2.0
/*
 * ssdev: read-only block devices that show an ext3snap snapshot.
 *
 * This is the control device only; binding snapshots comes with the core.
 */
#define pr_fmt(fmt) "ssdev: " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

static long ssdev_ctl_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return -ENOTTY;
}

static const struct file_operations ssdev_ctl_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= ssdev_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice ssdev_ctl = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ssdev-ctl",
	.fops	= &ssdev_ctl_fops,
	.mode	= 0600,
};

static int __init ssdev_init(void)
{
	return misc_register(&ssdev_ctl);
}

static void __exit ssdev_exit(void)
{
	misc_deregister(&ssdev_ctl);
}

module_init(ssdev_init);
module_exit(ssdev_exit);
MODULE_DESCRIPTION("read-only block devices for ext3snap snapshots");
MODULE_LICENSE("GPL");
