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
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "my_shmem.h"
#include "trace.h"

/**
 * my_shmem_seg_init() - initialise an empty segment
 * @seg: the segment
 * @size: size in pages; faults at or past it get SIGBUS
 */
void my_shmem_seg_init(struct my_shmem_seg *seg, unsigned long size)
{
	xa_init(&seg->allocs);
	mutex_init(&seg->lock);
	seg->frontier = 0;
	seg->size = size;
	my_shmem_msi_seg_init(seg);
}

/**
 * my_shmem_pages_charge() - reserve pages against the module-wide cap
 * @nr: pages
 *
 * Return: true if they fit under max_pages (and are now counted in use).
 */
bool my_shmem_pages_charge(unsigned long nr)
{
	long limit = READ_ONCE(my_shmem_max_pages);

	if (atomic_long_add_return(nr, &my_shmem_counters.pages_in_use) <= limit)
		return true;
	atomic_long_sub(nr, &my_shmem_counters.pages_in_use);
	return false;
}

/**
 * my_shmem_pages_uncharge() - give back what my_shmem_pages_charge() took
 * @nr: pages
 */
void my_shmem_pages_uncharge(unsigned long nr)
{
	atomic_long_sub(nr, &my_shmem_counters.pages_in_use);
}

/*
 * Allocate and charge a run of at most 2^*@order zeroed pages: the cap is
 * charged for the order actually tried, and a lower order is tried when the
 * cap has no room for 2^order pages or the buddy allocator cannot serve a
 * contiguous run (fragmentation).  The run is split so that each page can be
 * mapped and reference-counted on its own.  The caller has made the memory
 * cgroup of the faulting mm the active one, so __GFP_ACCOUNT charges it.
 *
 * Higher orders give up early (__GFP_NORETRY) since a lower order will do;
 * order 0 tries hard but fails rather than invoking the OOM killer
 * (__GFP_RETRY_MAYFAIL), globally or in the memory cgroup: the faulting
 * process gets SIGBUS instead of some process getting killed.
 *
 * Return: the first page (*@order set to the order used), or an ERR_PTR:
 * -ENOSPC when not even one page fits under the cap, -ENOMEM when the page
 * allocator (or the memory cgroup) refuses a single page.
 */
static struct page *my_shmem_alloc_run(unsigned int *order)
{
	gfp_t gfp = GFP_USER | __GFP_ZERO | __GFP_ACCOUNT | __GFP_NOWARN;
	unsigned int o = *order;
	struct page *page;

	for (;; o--) {
		if (!my_shmem_pages_charge(1UL << o)) {
			if (!o)
				return ERR_PTR(-ENOSPC);
			continue;
		}
		page = alloc_pages(gfp | (o ? __GFP_NORETRY : __GFP_RETRY_MAYFAIL), o);
		if (page)
			break;
		my_shmem_pages_uncharge(1UL << o);
		if (!o)
			return ERR_PTR(-ENOMEM);
	}
	/* One allocation that fell back, however many orders it skipped. */
	if (o != *order)
		atomic_long_inc(&my_shmem_counters.order_fallbacks);
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
	unsigned int order = READ_ONCE(my_shmem_max_order);
	struct my_shmem_alloc *a;
	struct page *page;
	u64 t0;
	int err;

	lockdep_assert_held(&seg->lock);

	/* Not charged: a failing charge here could invoke the memcg OOM killer. */
	a = kmalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;

	t0 = ktime_get_ns();
	page = my_shmem_alloc_run(&order);
	if (IS_ERR(page)) {
		err = PTR_ERR(page);
		goto err_free_desc;
	}
	trace_alloc(seg->frontier, order, ktime_get_ns() - t0);
	a->page = page;
	a->order = order;
	a->start = seg->frontier;

	/* Mapped once for the dma backend, as a driver maps its buffer. */
	err = my_shmem_dma_map(page, PAGE_SIZE << order, &a->dma);
	if (err)
		goto err_free_run;

	err = xa_err(my_shmem_xa_store_range(&seg->allocs, a->start,
					     my_shmem_alloc_end(a) - 1, a,
					     GFP_KERNEL));
	if (err)
		goto err_unpublish;

	atomic_long_inc(&my_shmem_counters.allocs_by_order[order]);
	atomic_long_inc(&seg->stats.allocs_by_order[order]);
	atomic_long_add(1L << order, &seg->stats.pages);
	/* Pairs with smp_load_acquire() in my_shmem_seg_lookup(). */
	smp_store_release(&seg->frontier, my_shmem_alloc_end(a));
	my_shmem_nl_alloc_event(seg, a->start, order);
	return 0;

err_unpublish:
	/*
	 * Entries at or past the frontier are never returned by
	 * my_shmem_seg_lookup(), so no reader can hold @a or its pages: the
	 * part of the range that was stored can be erased and freed at once.
	 */
	my_shmem_xa_store_range(&seg->allocs, a->start,
				my_shmem_alloc_end(a) - 1, NULL, GFP_KERNEL);
	my_shmem_dma_unmap(a->dma, PAGE_SIZE << order);
err_free_run:
	my_shmem_free_run(page, order);
	my_shmem_pages_uncharge(1UL << order);
err_free_desc:
	kfree(a);
	return err;
}

/**
 * my_shmem_seg_lookup() - the run backing a page offset, if it is published
 * @seg: the segment
 * @pgoff: page offset
 *
 * Only offsets below the frontier are looked up: a run is visible once its
 * whole range is in the index, and runs below the frontier are never freed
 * while the segment lives, so the result stays valid without a lock.
 *
 * Return: the run, or NULL if @pgoff is not backed yet.
 */
struct my_shmem_alloc *my_shmem_seg_lookup(struct my_shmem_seg *seg,
					   pgoff_t pgoff)
{
	/* Pairs with smp_store_release() in my_shmem_seg_grow_locked(). */
	if (pgoff >= smp_load_acquire(&seg->frontier))
		return NULL;
	return xa_load(&seg->allocs, pgoff);
}

/**
 * my_shmem_seg_populate() - back a segment up to and including an offset
 * @seg: the segment
 * @mm: the address space faulting; its memory cgroup is charged
 * @pgoff: page offset that must be backed, below the segment's size
 * @out: the allocation backing @pgoff, on success
 * @allocated: set when this call allocated anything
 *
 * Allocates runs in offset order, as many as it takes to cover @pgoff, taking
 * the segment lock once per run, so that a far offset does not keep every
 * other faulting task waiting for all of it.  The wait for the lock and the
 * work are killable.  Runs already made stay when a later one fails.
 *
 * Return: 0, -ENOSPC when the module-wide cap is reached, -ENOMEM when the
 * page allocator (or the memory cgroup) refuses, -EFBIG when @pgoff lies
 * past the segment's size, -EINTR on a fatal signal.
 */
int my_shmem_seg_populate(struct my_shmem_seg *seg, struct mm_struct *mm,
			  pgoff_t pgoff, struct my_shmem_alloc **out,
			  bool *allocated)
{
	struct mem_cgroup *memcg, *old_memcg;
	struct my_shmem_alloc *a;
	int err = 0;

	if (pgoff >= READ_ONCE(seg->size))
		return -EFBIG;
	/* Charge the mm being faulted, not whoever faults it (ptrace, /proc/PID/mem). */
	memcg = get_mem_cgroup_from_mm(mm);
	old_memcg = set_active_memcg(memcg);
	while (!(a = my_shmem_seg_lookup(seg, pgoff))) {
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		if (mutex_lock_killable(&seg->lock)) {
			err = -EINTR;
			break;
		}
		if (seg->frontier <= pgoff) {
			err = my_shmem_seg_grow_locked(seg);
			if (!err)
				*allocated = true;
		}
		mutex_unlock(&seg->lock);
		if (err)
			break;
		cond_resched();
	}
	set_active_memcg(old_memcg);
	mem_cgroup_put(memcg);
	*out = a;
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
 * whole runs (each with its DMA mapping), as a DMA driver syncs whole
 * buffers.  Safe against concurrent faults: runs are never freed while the
 * segment lives.
 *
 * Return: the number of runs covered.
 */
unsigned int my_shmem_seg_sync(struct my_shmem_seg *seg, pgoff_t first,
			       pgoff_t end, unsigned int flags)
{
	struct my_shmem_alloc *a;
	unsigned int n = 0;
	pgoff_t off;

	for (off = first; off < end && (a = my_shmem_seg_lookup(seg, off)); n++) {
		unsigned long kaddr = (unsigned long)page_address(a->page);
		unsigned long kend = kaddr + (PAGE_SIZE << a->order);

		if (flags & MY_SHMEM_SYNC_CLEAN) {
			my_shmem_dcache_clean_poc(kaddr, kend, a->dma);
			atomic_long_inc(&seg->stats.cleans);
		}
		if (flags & MY_SHMEM_SYNC_INVAL) {
			my_shmem_dcache_inval_poc(kaddr, kend, a->dma);
			atomic_long_inc(&seg->stats.invals);
		}
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

	my_shmem_msi_seg_destroy(seg);
	while (off < seg->frontier) {
		struct my_shmem_alloc *a = xa_load(&seg->allocs, off);

		off = my_shmem_alloc_end(a);
		atomic_long_dec(&my_shmem_counters.allocs_by_order[a->order]);
		atomic_long_dec(&seg->stats.allocs_by_order[a->order]);
		atomic_long_sub(1L << a->order, &seg->stats.pages);
		my_shmem_pages_uncharge(1UL << a->order);
		my_shmem_dma_unmap(a->dma, PAGE_SIZE << a->order);
		my_shmem_free_run(a->page, a->order);
		kfree(a);
		cond_resched();
	}
	xa_destroy(&seg->allocs);
	seg->frontier = 0;
}
