// SPDX-License-Identifier: GPL-2.0
/*
 * my_shmem: /dev/my_shmem, shared device memory allocated on page fault in
 * runs of 2^max_contiguous_alloc_order contiguous pages, cleaned to the
 * Point of Coherency when a mapping goes away.
 *
 * Module parameters, the misc device and module init/exit.  Segments and
 * their registry are in registry.c, open files (nodes) and the ioctls in
 * file.c.  Segment 0, the global pool every permitted opener maps by
 * default, lives until the module is unloaded, which the open files and
 * mappings prevent (each VMA holds its file, each file holds the module).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sizes.h>

#include "my_shmem.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

struct my_shmem_counters my_shmem_counters;

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
unsigned long my_shmem_seg0_pages = SZ_1G >> PAGE_SHIFT;

static int my_shmem_seg0_pages_set(const char *val, const struct kernel_param *kp)
{
	unsigned long pages;

	if (kstrtoul(val, 0, &pages) || !pages || pages > (LONG_MAX >> PAGE_SHIFT))
		return -EINVAL;
	WRITE_ONCE(my_shmem_seg0_pages, pages);
	if (my_shmem_seg0)
		WRITE_ONCE(my_shmem_seg0->size, pages);
	return 0;
}

static const struct kernel_param_ops my_shmem_seg0_pages_ops = {
	.set = my_shmem_seg0_pages_set,
	.get = param_get_ulong,
};

module_param_cb(seg0_pages, &my_shmem_seg0_pages_ops, &my_shmem_seg0_pages, 0644);
MODULE_PARM_DESC(seg0_pages,
		 "size of segment 0 in pages (default: 1 GiB); mmap past it fails with EINVAL, a fault past it gets SIGBUS");

/* Segment 0 is owned by root; who else may use it is the administrator's call. */
unsigned int my_shmem_seg0_mode = 0600;

static int my_shmem_seg0_mode_set(const char *val, const struct kernel_param *kp)
{
	unsigned int mode;

	if (kstrtouint(val, 8, &mode) || mode & ~MY_SHMEM_PERM_MASK)
		return -EINVAL;
	my_shmem_seg0_mode = mode;
	return 0;
}

static int my_shmem_seg0_mode_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%04o\n", my_shmem_seg0_mode);
}

static const struct kernel_param_ops my_shmem_seg0_mode_ops = {
	.set = my_shmem_seg0_mode_set,
	.get = my_shmem_seg0_mode_get,
};

module_param_cb(seg0_mode, &my_shmem_seg0_mode_ops, NULL, 0444);
MODULE_PARM_DESC(seg0_mode,
		 "permission bits of segment 0, owned by root (octal, load time only; default 0600: root only)");

unsigned int my_shmem_max_segments = 4096;

static int my_shmem_max_segments_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;

	if (kstrtouint(val, 0, &n) || !n || n > INT_MAX)
		return -EINVAL;
	WRITE_ONCE(my_shmem_max_segments, n);
	return 0;
}

static const struct kernel_param_ops my_shmem_max_segments_ops = {
	.set = my_shmem_max_segments_set,
	.get = param_get_uint,
};

module_param_cb(max_segments, &my_shmem_max_segments_ops, &my_shmem_max_segments, 0644);
MODULE_PARM_DESC(max_segments,
		 "segments that may exist at once, segment 0 included (default 4096); one more GET with CREATE fails with ENOSPC");

unsigned long my_shmem_max_segment_pages = SZ_1G >> PAGE_SHIFT;

static int my_shmem_max_segment_pages_set(const char *val, const struct kernel_param *kp)
{
	unsigned long pages;

	if (kstrtoul(val, 0, &pages) || !pages || pages > (LONG_MAX >> PAGE_SHIFT))
		return -EINVAL;
	WRITE_ONCE(my_shmem_max_segment_pages, pages);
	return 0;
}

static const struct kernel_param_ops my_shmem_max_segment_pages_ops = {
	.set = my_shmem_max_segment_pages_set,
	.get = param_get_ulong,
};

module_param_cb(max_segment_pages, &my_shmem_max_segment_pages_ops,
		&my_shmem_max_segment_pages, 0644);
MODULE_PARM_DESC(max_segment_pages,
		 "largest named segment in pages (default: 1 GiB); a GET creating a bigger one fails with EFBIG");

module_param_cb(backend, &my_shmem_backend_ops, NULL, 0644);
MODULE_PARM_DESC(backend,
		 "cache maintenance backend: insn (default), pmem, kernel, dma (the streaming DMA API on a non-coherent device) or none");

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
	err = my_shmem_cache_init();
	if (err)
		return err;
	err = my_shmem_registry_init();
	if (err)
		goto err_cache;
	my_shmem_misc.groups = my_shmem_attr_groups;
	err = misc_register(&my_shmem_misc);
	if (err)
		goto err_registry;
	err = my_shmem_nl_init();
	if (err)
		goto err_misc;
	pr_info("ready: order %u (max %u), cap %lu pages, segment 0 %lu pages\n",
		my_shmem_max_order, MY_SHMEM_ORDER_LIMIT, my_shmem_max_pages,
		my_shmem_seg0_pages);
	return 0;

err_misc:
	misc_deregister(&my_shmem_misc);
err_registry:
	my_shmem_registry_exit();
err_cache:
	my_shmem_cache_exit();
	return err;
}

static void __exit my_shmem_exit(void)
{
	my_shmem_nl_exit();
	misc_deregister(&my_shmem_misc);
	my_shmem_registry_exit();
	my_shmem_cache_exit();
}

module_init(my_shmem_init);
module_exit(my_shmem_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("my_shmem developers");
MODULE_DESCRIPTION("Fault-driven shared device memory with software cache maintenance");
MODULE_VERSION("1.0");
