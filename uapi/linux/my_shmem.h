/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * my_shmem: fault-driven shared device memory with software cache maintenance.
 *
 * Userspace ABI of /dev/my_shmem.  mmap() the device MAP_SHARED; pages are
 * allocated on first touch in runs of 2^max_contiguous_alloc_order pages.
 */
#ifndef _UAPI_LINUX_MY_SHMEM_H
#define _UAPI_LINUX_MY_SHMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MY_SHMEM_DEVICE		"/dev/my_shmem"

/* Highest allocation order the module accepts on any configuration. */
#define MY_SHMEM_MAX_ORDER	10
#define MY_SHMEM_NR_ORDERS	(MY_SHMEM_MAX_ORDER + 1)

/**
 * struct my_shmem_stats - module-wide counters (MY_SHMEM_IOC_GET_STATS)
 * @pages_in_use: device pages currently allocated
 * @max_pages: module-wide cap on @pages_in_use
 * @allocs_by_order: live allocations of each order
 * @faults: page faults handled
 * @cleans: clean-to-PoC operations run
 * @invals: invalidate-to-PoC operations run
 * @sigbus: faults that could not be backed and raised SIGBUS
 * @order_fallbacks: allocations that fell back to a lower order
 * @vmas: live VMAs mapping the device
 * @files: open files of the device
 *
 * The same values are readable one per file under
 * /sys/class/misc/my_shmem/stats/.
 */
struct my_shmem_stats {
	__u64 pages_in_use;
	__u64 max_pages;
	__u64 allocs_by_order[MY_SHMEM_NR_ORDERS];
	__u64 faults;
	__u64 cleans;
	__u64 invals;
	__u64 sigbus;
	__u64 order_fallbacks;
	__u64 vmas;
	__u64 files;
};

/* Direction of a MY_SHMEM_IOC_SYNC, as for a streaming DMA mapping. */
#define MY_SHMEM_SYNC_CLEAN	0x1		/* CPU wrote, device will read */
#define MY_SHMEM_SYNC_INVAL	0x2		/* device wrote, CPU will read */
#define MY_SHMEM_SYNC_VALID	(MY_SHMEM_SYNC_CLEAN | MY_SHMEM_SYNC_INVAL)

/**
 * struct my_shmem_sync - run cache maintenance over device memory
 * @offset: byte offset into the device (page aligned)
 * @len: length in bytes (page aligned, non-zero)
 * @flags: MY_SHMEM_SYNC_CLEAN and/or MY_SHMEM_SYNC_INVAL
 * @allocs: out: number of allocations the operation covered
 *
 * The operation covers every allocation intersecting [offset, offset + len)
 * that is already backed, whole, exactly as VMA close does; clean runs before
 * invalidate when both are requested.
 */
struct my_shmem_sync {
	__u64 offset;
	__u64 len;
	__u32 flags;
	__u32 allocs;
};

#define MY_SHMEM_IOC_MAGIC	0xB7
#define MY_SHMEM_IOC_GET_STATS	_IOR(MY_SHMEM_IOC_MAGIC, 0x01, struct my_shmem_stats)
#define MY_SHMEM_IOC_SYNC	_IOWR(MY_SHMEM_IOC_MAGIC, 0x02, struct my_shmem_sync)

#endif /* _UAPI_LINUX_MY_SHMEM_H */
