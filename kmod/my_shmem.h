/* SPDX-License-Identifier: GPL-2.0 */
/*
 * my_shmem internals.  The path of a page fault through the module:
 *
 *   vm.c       fault handler: find or create the allocation, map it
 *   segment.c  allocations of 2^order pages, indexed by page offset
 *   cache.c    clean / invalidate to the Point of Coherency (backends)
 *   trace.h    tracepoints alloc, fault, clean, inval
 *   stats.c    counters in sysfs
 *   main.c     misc device, file operations, module parameters
 */
#ifndef _MY_SHMEM_H
#define _MY_SHMEM_H

#include <linux/atomic.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/xarray.h>

#include "../uapi/linux/my_shmem.h"
#include "compat.h"

#if MY_SHMEM_PAGE_ORDER_MAX < MY_SHMEM_MAX_ORDER
#define MY_SHMEM_ORDER_LIMIT	MY_SHMEM_PAGE_ORDER_MAX
#else
#define MY_SHMEM_ORDER_LIMIT	MY_SHMEM_MAX_ORDER
#endif

/**
 * struct my_shmem_alloc - one run of 2^order physically contiguous pages
 * @page: first page; the run is split, every page has its own refcount
 * @start: page offset in the segment of @page
 * @order: log2 of the number of pages
 */
struct my_shmem_alloc {
	struct page *page;
	pgoff_t start;
	unsigned int order;
};

static inline pgoff_t my_shmem_alloc_end(const struct my_shmem_alloc *a)
{
	return a->start + (1UL << a->order);
}

/**
 * struct my_shmem_seg - a shared segment (segment 0 is the global pool)
 * @allocs: page offset -> allocation backing it; readers use RCU
 * @lock: serialises allocation; protects @frontier updates.  Taken once per
 *	run, killable, and never held across anything but one allocation.
 * @frontier: first page offset not backed yet; offsets below it are backed,
 *	published with release semantics after @allocs is filled in.  Readers
 *	look nothing up at or past it (my_shmem_seg_lookup()).
 * @size: size in pages: a mapping may not extend past it and a fault at or
 *	past it gets SIGBUS (segment 0: the seg0_pages parameter)
 *
 * Lock order: mmap lock (held by the fault path) -> @lock -> the page
 * allocator and the xarray's own lock.
 */
struct my_shmem_seg {
	struct xarray allocs;
	struct mutex lock;	/* see above */
	pgoff_t frontier;
	unsigned long size;
};

/**
 * struct my_shmem_counters - module-wide counters
 */
struct my_shmem_counters {
	atomic_long_t pages_in_use;
	atomic_long_t allocs_by_order[MY_SHMEM_NR_ORDERS];
	atomic_long_t faults;
	atomic_long_t cleans;
	atomic_long_t invals;
	atomic_long_t sigbus;
	atomic_long_t order_fallbacks;
	atomic_long_t vmas;
	atomic_long_t files;
};

extern struct my_shmem_counters my_shmem_counters;
extern struct my_shmem_seg my_shmem_seg0;
extern unsigned int my_shmem_max_order;
extern unsigned long my_shmem_max_pages;
extern const struct attribute_group *my_shmem_attr_groups[];

/* segment.c */
void my_shmem_seg_init(struct my_shmem_seg *seg, unsigned long size);
void my_shmem_seg_destroy(struct my_shmem_seg *seg);
struct my_shmem_alloc *my_shmem_seg_lookup(struct my_shmem_seg *seg,
					   pgoff_t pgoff);
int my_shmem_seg_populate(struct my_shmem_seg *seg, struct mm_struct *mm,
			  pgoff_t pgoff, struct my_shmem_alloc **out,
			  bool *allocated);
unsigned int my_shmem_seg_sync(struct my_shmem_seg *seg, pgoff_t first,
			       pgoff_t end, unsigned int flags);

/* vm.c */
int my_shmem_mmap_seg(struct my_shmem_seg *seg, struct vm_area_struct *vma);

/* cache.c: where clean / invalidate to PoC come from */
enum my_shmem_backend {
	MY_SHMEM_BACKEND_NONE,
	MY_SHMEM_BACKEND_INSN,
	MY_SHMEM_BACKEND_PMEM,
	MY_SHMEM_BACKEND_KERNEL,
	MY_SHMEM_NR_BACKENDS,
};

void my_shmem_dcache_clean_poc(unsigned long start, unsigned long end);
void my_shmem_dcache_inval_poc(unsigned long start, unsigned long end);
int my_shmem_cache_init(void);
void my_shmem_cache_exit(void);
extern const struct kernel_param_ops my_shmem_backend_ops;

/* stats.c */
void my_shmem_stats_snapshot(struct my_shmem_stats *st);

#endif /* _MY_SHMEM_H */
