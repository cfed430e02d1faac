// SPDX-License-Identifier: GPL-2.0
/*
 * my_shmem: /dev/my_shmem, shared device memory allocated on page fault in
 * runs of 2^max_contiguous_alloc_order contiguous pages, cleaned to the
 * Point of Coherency when a mapping goes away.
 *
 * Every opener of the device maps segment 0, the global pool: the same page
 * offset is the same physical page in every process.  Segment 0 lives until
 * the module is unloaded, which the open files and mappings prevent (each
 * VMA holds its file, each file holds the module).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>

#include "my_shmem.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

struct my_shmem_counters my_shmem_counters;
struct my_shmem_seg my_shmem_seg0;

unsigned int my_shmem_max_order;
unsigned long my_shmem_max_pages;

static int my_shmem_order_set(const char *val, const struct kernel_param *kp)
{
	unsigned int order;
	int err;

	err = kstrtouint(val, 0, &order);
	if (err)
		return -EINVAL;
	if (order > MY_SHMEM_ORDER_LIMIT)
		return -EINVAL;
	WRITE_ONCE(my_shmem_max_order, order);
	return 0;
}

static const struct kernel_param_ops my_shmem_order_ops = {
	.set = my_shmem_order_set,
	.get = param_get_uint,
};

module_param_cb(max_contiguous_alloc_order, &my_shmem_order_ops,
		&my_shmem_max_order, 0644);
MODULE_PARM_DESC(max_contiguous_alloc_order,
		 "log2 of the pages in each new allocation, 0.."
		 __stringify(MY_SHMEM_ORDER_LIMIT) " (default 0)");

/* The default cap: half of RAM. */
static unsigned long my_shmem_default_max_pages(void)
{
	return totalram_pages() / 2;
}

/* 0 means the default, at load and at run time; the cap is a long. */
static int my_shmem_max_pages_set(const char *val, const struct kernel_param *kp)
{
	unsigned long pages;

	if (kstrtoul(val, 0, &pages) || pages > LONG_MAX)
		return -EINVAL;
	WRITE_ONCE(my_shmem_max_pages, pages ?: my_shmem_default_max_pages());
	return 0;
}

static const struct kernel_param_ops my_shmem_max_pages_ops = {
	.set = my_shmem_max_pages_set,
	.get = param_get_ulong,
};

module_param_cb(max_pages, &my_shmem_max_pages_ops, &my_shmem_max_pages, 0644);
MODULE_PARM_DESC(max_pages,
		 "cap on device pages allocated module-wide, 1.." __stringify(LONG_MAX)
		 "; 0 sets the default, half of RAM; a fault that cannot get one page under it gets SIGBUS");

/* Segment 0's size: bounds what one far touch can allocate for everyone. */
static unsigned long my_shmem_seg0_pages = SZ_1G >> PAGE_SHIFT;

static int my_shmem_seg0_pages_set(const char *val, const struct kernel_param *kp)
{
	unsigned long pages;

	if (kstrtoul(val, 0, &pages) || !pages || pages > (LONG_MAX >> PAGE_SHIFT))
		return -EINVAL;
	WRITE_ONCE(my_shmem_seg0_pages, pages);
	WRITE_ONCE(my_shmem_seg0.size, pages);
	return 0;
}

static const struct kernel_param_ops my_shmem_seg0_pages_ops = {
	.set = my_shmem_seg0_pages_set,
	.get = param_get_ulong,
};

module_param_cb(seg0_pages, &my_shmem_seg0_pages_ops, &my_shmem_seg0_pages, 0644);
MODULE_PARM_DESC(seg0_pages,
		 "size of segment 0 in pages (default: 1 GiB); mmap past it fails with EINVAL, a fault past it gets SIGBUS");

module_param_cb(backend, &my_shmem_backend_ops, NULL, 0644);
MODULE_PARM_DESC(backend,
		 "cache maintenance backend: insn (default), pmem, kernel or none");

static int my_shmem_open(struct inode *inode, struct file *file)
{
	file->private_data = &my_shmem_seg0;
	atomic_long_inc(&my_shmem_counters.files);
	return 0;
}

static int my_shmem_release(struct inode *inode, struct file *file)
{
	atomic_long_dec(&my_shmem_counters.files);
	return 0;
}

static int my_shmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	return my_shmem_mmap_seg(file->private_data, vma);
}

static long my_shmem_ioctl_sync(struct my_shmem_seg *seg, void __user *argp)
{
	struct my_shmem_sync req;
	u64 end;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (!req.flags || req.flags & ~MY_SHMEM_SYNC_VALID || !req.len ||
	    !PAGE_ALIGNED(req.offset) || !PAGE_ALIGNED(req.len) ||
	    check_add_overflow(req.offset, req.len, &end))
		return -EINVAL;
	req.allocs = my_shmem_seg_sync(seg, req.offset >> PAGE_SHIFT,
				       end >> PAGE_SHIFT, req.flags);
	if (copy_to_user(argp, &req, sizeof(req)))
		return -EFAULT;
	return 0;
}

static long my_shmem_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	struct my_shmem_stats st;

	switch (cmd) {
	case MY_SHMEM_IOC_GET_STATS:
		my_shmem_stats_snapshot(&st);
		return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
	case MY_SHMEM_IOC_SYNC:
		return my_shmem_ioctl_sync(file->private_data, argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations my_shmem_fops = {
	.owner = THIS_MODULE,
	.open = my_shmem_open,
	.release = my_shmem_release,
	.mmap = my_shmem_mmap,
	.unlocked_ioctl = my_shmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice my_shmem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "my_shmem",
	.fops = &my_shmem_fops,
};

static int __init my_shmem_init(void)
{
	int err;

	if (!my_shmem_max_pages)
		my_shmem_max_pages = my_shmem_default_max_pages();
	my_shmem_seg_init(&my_shmem_seg0, my_shmem_seg0_pages);
	err = my_shmem_cache_init();
	if (err)
		return err;
	my_shmem_misc.groups = my_shmem_attr_groups;
	err = misc_register(&my_shmem_misc);
	if (err)
		goto err_cache;
	pr_info("ready: order %u (max %u), cap %lu pages, segment 0 %lu pages\n",
		my_shmem_max_order, MY_SHMEM_ORDER_LIMIT, my_shmem_max_pages,
		my_shmem_seg0_pages);
	return 0;

err_cache:
	my_shmem_cache_exit();
	return err;
}

static void __exit my_shmem_exit(void)
{
	misc_deregister(&my_shmem_misc);
	my_shmem_seg_destroy(&my_shmem_seg0);
	my_shmem_cache_exit();
}

module_init(my_shmem_init);
module_exit(my_shmem_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("my_shmem developers");
MODULE_DESCRIPTION("Fault-driven shared device memory with software cache maintenance");
