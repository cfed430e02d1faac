// SPDX-License-Identifier: GPL-2.0
/*
 * Segments and their allocations.
 *
 * A segment is backed lazily, in page-offset order, by runs of 2^order
 * physically contiguous pages (the order is read from the module parameter
 * at the moment of each allocation, so one segment may mix orders).  Every
 * page offset of a run points at the run's descriptor in an xarray, so the
 * fault path finds the run for an offset without walking anything, however
 * many runs exist.
 */

#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "my_shmem.h"
#include "trace.h"

/**
 * my_shmem_seg_init() - initialise an empty segment
 * @seg: the segment
 */
void my_shmem_seg_init(struct my_shmem_seg *seg)
{
	xa_init(&seg->allocs);
	mutex_init(&seg->lock);
	seg->frontier = 0;
}

/* Reserve @nr pages against the module-wide cap. */
static bool my_shmem_charge(unsigned long nr)
{
	long limit = READ_ONCE(my_shmem_max_pages);

	if (atomic_long_add_return(nr, &my_shmem_counters.pages_in_use) <= limit)
		return true;
	atomic_long_sub(nr, &my_shmem_counters.pages_in_use);
	return false;
}

static void my_shmem_uncharge(unsigned long nr)
{
	atomic_long_sub(nr, &my_shmem_counters.pages_in_use);
}

/*
 * Allocate 2^order zeroed pages, charged to the current task's memory
 * cgroup, falling back to lower orders when the buddy allocator cannot
 * serve a contiguous run (fragmentation).  The run is split so that each
 * page can be mapped and reference-counted on its own.
 *
 * Higher orders give up early (__GFP_NORETRY) since a lower order will do;
 * order 0 tries hard but fails rather than invoking the OOM killer
 * (__GFP_RETRY_MAYFAIL), globally or in the memory cgroup: the faulting
 * process gets SIGBUS instead of some process getting killed.
 */
static struct page *my_shmem_alloc_run(unsigned int *order)
{
	gfp_t gfp = GFP_USER | __GFP_ZERO | __GFP_ACCOUNT | __GFP_NOWARN;
	unsigned int o = *order;
	struct page *page;

	for (;;) {
		page = alloc_pages(gfp | (o ? __GFP_NORETRY : __GFP_RETRY_MAYFAIL), o);
		if (page || !o)
			break;
		atomic_long_inc(&my_shmem_counters.order_fallbacks);
		o--;
	}
	if (!page)
		return NULL;
	if (o)
		split_page(page, o);
	*order = o;
	return page;
}

static void my_shmem_free_run(struct page *page, unsigned int order)
{
	unsigned long i;

	for (i = 0; i < (1UL << order); i++)
		put_page(nth_page(page, i));
}

/* Back the next run of the segment, at its frontier. */
static int my_shmem_seg_grow_locked(struct my_shmem_seg *seg)
{
	unsigned int want = READ_ONCE(my_shmem_max_order);
	unsigned int order = want;
	struct my_shmem_alloc *a;
	u64 t0;
	int err;

	lockdep_assert_held(&seg->lock);

	if (!my_shmem_charge(1UL << want))
		return -ENOSPC;
	err = -ENOMEM;
	/* Not charged: a failing charge here could invoke the memcg OOM killer. */
	a = kmalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		goto err_uncharge;

	t0 = ktime_get_ns();
	a->page = my_shmem_alloc_run(&order);
	if (!a->page)
		goto err_free_desc;
	trace_alloc(seg->frontier, order, ktime_get_ns() - t0);
	/* A fallback to a lower order keeps only what it got charged. */
	my_shmem_uncharge((1UL << want) - (1UL << order));
	a->order = order;
	a->start = seg->frontier;

	err = xa_err(my_shmem_xa_store_range(&seg->allocs, a->start,
					     my_shmem_alloc_end(a) - 1, a,
					     GFP_KERNEL));
	if (err)
		goto err_free_run;

	atomic_long_inc(&my_shmem_counters.allocs_by_order[order]);
	/* Pairs with smp_load_acquire() in my_shmem_seg_sync(). */
	smp_store_release(&seg->frontier, my_shmem_alloc_end(a));
	return 0;

err_free_run:
	my_shmem_xa_store_range(&seg->allocs, a->start,
				my_shmem_alloc_end(a) - 1, NULL, GFP_KERNEL);
	my_shmem_free_run(a->page, order);
	my_shmem_uncharge(1UL << order);
	kfree(a);
	return err;

err_free_desc:
	kfree(a);
err_uncharge:
	my_shmem_uncharge(1UL << want);
	return err;
}

/**
 * my_shmem_seg_populate() - back a segment up to and including an offset
 * @seg: the segment
 * @pgoff: page offset that must be backed
 * @out: the allocation backing @pgoff, on success
 * @allocated: set when this call allocated anything
 *
 * Allocates runs in offset order, as many as it takes to cover @pgoff.
 * Runs already made stay when a later one fails.
 *
 * Return: 0, -ENOSPC when the module-wide cap is reached, -ENOMEM when the
 * page allocator (or the memory cgroup) refuses, -EINTR on a fatal signal.
 */
int my_shmem_seg_populate(struct my_shmem_seg *seg, pgoff_t pgoff,
			  struct my_shmem_alloc **out, bool *allocated)
{
	int err = 0;

	mutex_lock(&seg->lock);
	while (seg->frontier <= pgoff) {
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		err = my_shmem_seg_grow_locked(seg);
		if (err)
			break;
		*allocated = true;
		cond_resched();
	}
	mutex_unlock(&seg->lock);
	if (!err)
		*out = xa_load(&seg->allocs, pgoff);
	return err;
}

/**
 * my_shmem_seg_sync() - cache maintenance over the runs in a range
 * @seg: the segment
 * @first: first page offset
 * @end: page offset past the range
 * @flags: MY_SHMEM_SYNC_CLEAN and/or MY_SHMEM_SYNC_INVAL
 *
 * Runs the wrappers over every backed run that intersects [@first, @end),
 * whole runs, as a DMA driver syncs whole buffers.  Safe against concurrent
 * faults: runs are never freed while the segment lives.
 *
 * Return: the number of runs covered.
 */
unsigned int my_shmem_seg_sync(struct my_shmem_seg *seg, pgoff_t first,
			       pgoff_t end, unsigned int flags)
{
	/* Pairs with smp_store_release() in my_shmem_seg_grow_locked(). */
	pgoff_t backed = smp_load_acquire(&seg->frontier);
	unsigned int n = 0;
	pgoff_t off;

	end = min(end, backed);
	for (off = first; off < end; n++) {
		struct my_shmem_alloc *a = xa_load(&seg->allocs, off);
		unsigned long kaddr = (unsigned long)page_address(a->page);
		unsigned long kend = kaddr + (PAGE_SIZE << a->order);

		if (flags & MY_SHMEM_SYNC_CLEAN)
			my_shmem_dcache_clean_poc(kaddr, kend);
		if (flags & MY_SHMEM_SYNC_INVAL)
			my_shmem_dcache_inval_poc(kaddr, kend);
		off = my_shmem_alloc_end(a);
		cond_resched();
	}
	return n;
}

/**
 * my_shmem_seg_destroy() - free every run of a segment
 * @seg: the segment; nothing may map it any more
 */
void my_shmem_seg_destroy(struct my_shmem_seg *seg)
{
	pgoff_t off = 0;

	while (off < seg->frontier) {
		struct my_shmem_alloc *a = xa_load(&seg->allocs, off);

		off = my_shmem_alloc_end(a);
		atomic_long_dec(&my_shmem_counters.allocs_by_order[a->order]);
		my_shmem_uncharge(1UL << a->order);
		my_shmem_free_run(a->page, a->order);
		kfree(a);
	}
	xa_destroy(&seg->allocs);
	seg->frontier = 0;
}
