// SPDX-License-Identifier: GPL-2.0
/*
 * Coherent segments: s2dsm's MSI protocol, in the kernel, between any
 * number of nodes.
 *
 * A coherent segment has a home copy of each page (the segment's ordinary
 * runs, never mapped) and, per node, a private copy of the pages the node
 * holds (struct my_shmem_node.copies).  A node is one open file description;
 * its VMAs map its copies only.  Per page a directory entry records the
 * owner (the node in M) and the sharers (the nodes in S); a node's state
 * follows from it (M: owner; S: a sharer, whose copy is in its @copies; I:
 * neither), so at most one M and no S beside an M hold by construction.
 * The directory's sharer array grows with the nodes that actually share the
 * page, and invalidating walks only them.
 *
 * Faults drive the protocol (DESIGN.md 3.5):
 *
 *   read  of I, no owner:   home -> copy                       I -> S
 *   read  of I, owner B:    B -> home (B's write-back), home -> copy;
 *                           B's mapping zapped, so it refaults read-only
 *                                                              I -> S, B: M -> S
 *   write of I:             copy from B if B is M, else from home; every
 *                           other holder dropped               I -> M, rest -> I
 *   write of S:             every other holder dropped         S -> M, rest -> I
 *   munmap over an M page:  copy -> home                       M -> S
 *   last fd of a node:      M pages written back home, copies freed  -> I
 *
 * S pages are mapped read-only: the VMAs have a page_mkwrite handler, so
 * the core maps every page write-protected (write-notify) until a write
 * fault reaches my_shmem_msi_page_mkwrite().  Dropping a node's copy zaps
 * that node's mappings with unmap_mapping_range() on its own address_space
 * (never another process's page tables by hand).  Every copy between copies
 * is a simulated DMA transfer (my_shmem_msi_xfer()).
 *
 * A fault decides under the page's directory lock and returns the page
 * locked (VM_FAULT_LOCKED); the core installs the PTE and only then unlocks
 * the page.  Whoever drops or demotes a copy locks that copy's page first,
 * so it waits for a fault that has decided but not yet installed its PTE,
 * and zaps that PTE too: an invalidation is never lost between "decided"
 * and "PTE installed".
 *
 * Lock order: mmap lock (or the VMA lock) -> directory entry lock -> page
 * lock of a copy -> the i_mmap lock of a node's address_space and the page
 * table locks under it (unmap_mapping_range()).  One directory entry lock
 * at a time; none held across a user copy.
 */

#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>

#include "my_shmem.h"
#include "trace.h"

/**
 * struct my_shmem_dirent - directory entry of one page of a coherent segment
 * @lock: serialises every transition of the page and guards the fields
 * @owner: the node holding the page in M, or NULL
 * @sharers: the nodes holding it in S (never @owner), unordered
 * @nr_sharers: entries used in @sharers
 * @cap: entries allocated in @sharers
 */
struct my_shmem_dirent {
	struct mutex lock;	/* see above */
	struct my_shmem_node *owner;
	struct my_shmem_node **sharers;
	unsigned int nr_sharers;
	unsigned int cap;
};

/**
 * my_shmem_msi_seg_init() - empty directory and node set of a segment
 * @seg: the segment
 */
void my_shmem_msi_seg_init(struct my_shmem_seg *seg)
{
	xa_init(&seg->dir);
	xa_init_flags(&seg->members, XA_FLAGS_ALLOC);
}

/**
 * my_shmem_msi_seg_destroy() - free the directory of a segment
 * @seg: the segment; no node is bound to it any more
 */
void my_shmem_msi_seg_destroy(struct my_shmem_seg *seg)
{
	struct my_shmem_dirent *d;
	unsigned long pgoff;

	xa_for_each(&seg->dir, pgoff, d) {
		WARN_ON_ONCE(d->owner || d->nr_sharers);
		mutex_destroy(&d->lock);
		kfree(d->sharers);
		kfree(d);
	}
	xa_destroy(&seg->dir);
	WARN_ON_ONCE(!xa_empty(&seg->members));
	xa_destroy(&seg->members);
}

/**
 * my_shmem_msi_join() - make a node a member of a coherent segment
 * @seg: the segment
 * @node: the node, not bound to it yet
 * @nid: out: its id in @seg, for the caller to set in @node once the node
 *	has left the segment it is bound to
 *
 * Return: 0, -ENOSPC when the segment has MY_SHMEM_MAX_NODES nodes, -ENOMEM.
 */
int my_shmem_msi_join(struct my_shmem_seg *seg, struct my_shmem_node *node,
		      u32 *nid)
{
	int err = xa_alloc(&seg->members, nid, node,
			   XA_LIMIT(0, MY_SHMEM_MAX_NODES - 1),
			   GFP_KERNEL_ACCOUNT);

	return err == -EBUSY ? -ENOSPC : err;
}

/* The state of @node for the page of @d. */
static unsigned int my_shmem_msi_state_locked(struct my_shmem_dirent *d,
					      struct my_shmem_node *node,
					      pgoff_t pgoff)
{
	lockdep_assert_held(&d->lock);
	if (d->owner == node)
		return MY_SHMEM_MSI_M;
	return xa_load(&node->copies, pgoff) ? MY_SHMEM_MSI_S : MY_SHMEM_MSI_I;
}

/* Every transition: tracepoint my_shmem:msi and a netlink event. */
static void my_shmem_msi_trace(struct my_shmem_seg *seg, pgoff_t pgoff,
			       struct my_shmem_node *node, unsigned int from,
			       unsigned int to, unsigned int cause)
{
	trace_msi(seg->id, pgoff, node->nid, from, to, cause);
	my_shmem_nl_msi_event(seg, pgoff, node->nid, from, to, cause);
}

/* The directory entry of a page, created on first use. */
static struct my_shmem_dirent *my_shmem_msi_dirent(struct my_shmem_seg *seg,
						   pgoff_t pgoff)
{
	struct my_shmem_dirent *d = xa_load(&seg->dir, pgoff), *old;

	if (d)
		return d;
	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!d)
		return ERR_PTR(-ENOMEM);
	mutex_init(&d->lock);
	old = xa_cmpxchg(&seg->dir, pgoff, NULL, d, GFP_KERNEL_ACCOUNT);
	if (!old)
		return d;
	mutex_destroy(&d->lock);
	kfree(d);
	return xa_is_err(old) ? ERR_PTR(xa_err(old)) : old;
}

/* Room for @more sharers, before anything changes. */
static int my_shmem_msi_reserve_locked(struct my_shmem_dirent *d,
				       unsigned int more)
{
	struct my_shmem_node **s;
	unsigned int cap;

	lockdep_assert_held(&d->lock);
	if (d->nr_sharers + more <= d->cap)
		return 0;
	cap = max(4U, max(d->cap * 2, d->nr_sharers + more));
	s = krealloc_array(d->sharers, cap, sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	d->sharers = s;
	d->cap = cap;
	return 0;
}

static void my_shmem_msi_del_sharer_locked(struct my_shmem_dirent *d,
					   struct my_shmem_node *node)
{
	unsigned int i;

	lockdep_assert_held(&d->lock);
	for (i = 0; i < d->nr_sharers; i++) {
		if (d->sharers[i] == node) {
			d->sharers[i] = d->sharers[--d->nr_sharers];
			return;
		}
	}
	WARN_ON_ONCE(1);
}

/* The home copy of a page some node holds (so it is backed). */
static struct page *my_shmem_msi_home_of(struct my_shmem_seg *seg, pgoff_t pgoff)
{
	struct my_shmem_alloc *a = my_shmem_seg_lookup(seg, pgoff);

	return nth_page(a->page, pgoff - a->start);
}

/* The home copy of a page, allocating the segment's runs up to it. */
static int my_shmem_msi_home(struct my_shmem_seg *seg, struct mm_struct *mm,
			     pgoff_t pgoff, struct page **home)
{
	struct my_shmem_alloc *a = my_shmem_seg_lookup(seg, pgoff);
	bool allocated = false;
	int err;

	if (!a) {
		err = my_shmem_seg_populate(seg, mm, pgoff, &a, &allocated);
		if (err)
			return err;
	}
	*home = nth_page(a->page, pgoff - a->start);
	return 0;
}

/* A page for a node's copy, charged to the module-wide cap. */
static struct page *my_shmem_msi_copy_alloc(void)
{
	struct page *page;

	if (!my_shmem_pages_charge(1))
		return NULL;
	page = alloc_page(GFP_USER | __GFP_ACCOUNT | __GFP_NOWARN |
			  __GFP_RETRY_MAYFAIL);
	if (!page)
		my_shmem_pages_uncharge(1);
	return page;
}

static void my_shmem_msi_copy_free(struct page *page)
{
	put_page(page);
	my_shmem_pages_uncharge(1);
}

/*
 * The DMA address of one page of a transfer, for the dma backend.  A home
 * page lies in one of the segment's runs, mapped for as long as the run
 * lives; a node's copy is mapped for this one transfer (copies come and go
 * with the protocol and have no descriptor to keep a mapping in), and the
 * caller unmaps it after.  DMA_MAPPING_ERROR when another backend runs
 * (nothing is mapped or looked up then) or there is no mapping (no DMA
 * device, or the mapping of a copy failed): under dma the wrappers then run
 * the insn loop on that page instead.
 */
static dma_addr_t my_shmem_msi_xfer_dma(struct my_shmem_seg *seg, pgoff_t pgoff,
					struct page *page, bool home)
{
	struct my_shmem_alloc *a;
	dma_addr_t dma;

	if (!my_shmem_backend_is_dma())
		return DMA_MAPPING_ERROR;
	if (!home)
		return my_shmem_dma_map(page, PAGE_SIZE, &dma) ?
		       DMA_MAPPING_ERROR : dma;
	a = my_shmem_seg_lookup(seg, pgoff);
	if (a->dma == DMA_MAPPING_ERROR)
		return DMA_MAPPING_ERROR;
	return a->dma + ((dma_addr_t)(pgoff - a->start) << PAGE_SHIFT);
}

/*
 * One simulated DMA transfer of a page from @src (of node @sn, or home when
 * NULL) to @dst (of node @dn, or home): what an RDMA DSM on a non-coherent
 * system runs.  The source is cleaned to PoC (the CPU wrote it, the device
 * reads it), the copy stands in for the device (its data pushed to PoC, as
 * a device's write would land in memory), the destination is invalidated to
 * PoC (the device wrote it, the CPU reads it).  The mappings of the copies
 * for the dma backend are made and dropped outside the timed steps.
 */
static void my_shmem_msi_xfer(struct my_shmem_seg *seg, pgoff_t pgoff,
			      struct page *dst, struct my_shmem_node *dn,
			      struct page *src, struct my_shmem_node *sn)
{
	bool timed = trace_msi_xfer_enabled();
	u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0;
	dma_addr_t sdma = my_shmem_msi_xfer_dma(seg, pgoff, src, !sn);
	dma_addr_t ddma = my_shmem_msi_xfer_dma(seg, pgoff, dst, !dn);
	void *s = kmap_local_page(src);
	void *d = kmap_local_page(dst);

	if (timed)
		t0 = ktime_get_ns();
	my_shmem_dcache_clean_poc((unsigned long)s, (unsigned long)s + PAGE_SIZE,
				  sdma);
	if (timed)
		t1 = ktime_get_ns();
	copy_page(d, s);
	my_shmem_dcache_push_poc((unsigned long)d, (unsigned long)d + PAGE_SIZE);
	if (timed)
		t2 = ktime_get_ns();
	my_shmem_dcache_inval_poc((unsigned long)d, (unsigned long)d + PAGE_SIZE,
				  ddma);
	if (timed)
		t3 = ktime_get_ns();
	kunmap_local(d);
	kunmap_local(s);
	if (dn)
		my_shmem_dma_unmap(ddma, PAGE_SIZE);
	if (sn)
		my_shmem_dma_unmap(sdma, PAGE_SIZE);

	atomic_long_inc(&seg->stats.cleans);
	atomic_long_inc(&seg->stats.invals);
	if (sn) {
		atomic_long_inc(&sn->stats.cleans);
		atomic_long_add(PAGE_SIZE, &sn->stats.bytes_moved);
	}
	if (dn) {
		atomic_long_inc(&dn->stats.invals);
		atomic_long_add(PAGE_SIZE, &dn->stats.bytes_moved);
	}
	trace_msi_xfer(seg->id, pgoff, sn ? (s32)sn->nid : -1,
		       dn ? (s32)dn->nid : -1, t1 - t0, t2 - t1, t3 - t2);
}

/* Remove every mapping of @node's copy of a page (all its processes). */
static void my_shmem_msi_zap(struct my_shmem_node *node, pgoff_t pgoff)
{
	unmap_mapping_range(node->inode->i_mapping, (loff_t)pgoff << PAGE_SHIFT,
			    PAGE_SIZE, 1);
}

/*
 * Take @node's copy of a page away from its mappings: lock the page, which
 * waits for a fault of the node that decided before us and has not installed
 * its PTE yet, then zap.  Returns the copy, locked.
 */
static struct page *my_shmem_msi_quiesce_locked(struct my_shmem_dirent *d,
						struct my_shmem_node *node,
						pgoff_t pgoff)
{
	struct page *page = xa_load(&node->copies, pgoff);

	lockdep_assert_held(&d->lock);
	lock_page(page);
	my_shmem_msi_zap(node, pgoff);
	return page;
}

/* @node's copy (quiesced by the caller, locked) goes: S or M -> I. */
static void my_shmem_msi_drop_locked(struct my_shmem_seg *seg,
				     struct my_shmem_dirent *d,
				     struct my_shmem_node *node, pgoff_t pgoff,
				     struct page *page, unsigned int from,
				     unsigned int cause)
{
	lockdep_assert_held(&d->lock);
	xa_erase(&node->copies, pgoff);
	unlock_page(page);
	my_shmem_msi_copy_free(page);
	atomic_long_dec(from == MY_SHMEM_MSI_M ? &node->stats.pages_m :
						 &node->stats.pages_s);
	if (cause == MY_SHMEM_MSI_CAUSE_REMOTE_WRITE)
		atomic_long_inc(&node->stats.invals_received);
	my_shmem_msi_trace(seg, pgoff, node, from, MY_SHMEM_MSI_I, cause);
}

/* Every sharer but @node drops its copy. */
static void my_shmem_msi_invalidate_locked(struct my_shmem_seg *seg,
					   struct my_shmem_dirent *d,
					   struct my_shmem_node *node,
					   pgoff_t pgoff)
{
	lockdep_assert_held(&d->lock);
	while (d->nr_sharers) {
		struct my_shmem_node *s = d->sharers[--d->nr_sharers];
		struct page *page;

		if (s == node)
			continue;
		page = my_shmem_msi_quiesce_locked(d, s, pgoff);
		my_shmem_msi_drop_locked(seg, d, s, pgoff, page, MY_SHMEM_MSI_S,
					 MY_SHMEM_MSI_CAUSE_REMOTE_WRITE);
	}
}

/* A fresh copy for @node, recorded in its @copies (the caller fills it). */
static struct page *my_shmem_msi_new_copy_locked(struct my_shmem_dirent *d,
						 struct my_shmem_node *node,
						 pgoff_t pgoff)
{
	struct page *page;
	int err;

	lockdep_assert_held(&d->lock);
	page = my_shmem_msi_copy_alloc();
	if (!page)
		return ERR_PTR(-ENOMEM);
	err = xa_err(xa_store(&node->copies, pgoff, page, GFP_KERNEL_ACCOUNT));
	if (err) {
		my_shmem_msi_copy_free(page);
		return ERR_PTR(err);
	}
	return page;
}

/*
 * @node's M copy goes home (@home: the page's home copy): M -> S, or
 * M -> I when @drop.  For M -> S the caller has reserved a sharer slot.
 */
static void my_shmem_msi_writeback_locked(struct my_shmem_seg *seg,
					  struct my_shmem_dirent *d,
					  struct my_shmem_node *node,
					  pgoff_t pgoff, struct page *home,
					  bool drop, unsigned int cause)
{
	struct page *copy = my_shmem_msi_quiesce_locked(d, node, pgoff);

	lockdep_assert_held(&d->lock);
	my_shmem_msi_xfer(seg, pgoff, home, NULL, copy, node);
	atomic_long_inc(&node->stats.writebacks);
	d->owner = NULL;
	if (drop) {
		my_shmem_msi_drop_locked(seg, d, node, pgoff, copy,
					 MY_SHMEM_MSI_M, cause);
		return;
	}
	unlock_page(copy);
	d->sharers[d->nr_sharers++] = node;
	atomic_long_dec(&node->stats.pages_m);
	atomic_long_inc(&node->stats.pages_s);
	my_shmem_msi_trace(seg, pgoff, node, MY_SHMEM_MSI_M, MY_SHMEM_MSI_S,
			   cause);
}

/* Read by @node: I -> S (the owner, if any, M -> S). */
static int my_shmem_msi_read_locked(struct my_shmem_seg *seg,
				    struct my_shmem_dirent *d,
				    struct my_shmem_node *node, pgoff_t pgoff,
				    struct page *home, struct page **out)
{
	struct my_shmem_node *b = d->owner;
	struct page *copy;
	int err;

	if (my_shmem_msi_state_locked(d, node, pgoff) != MY_SHMEM_MSI_I) {
		*out = xa_load(&node->copies, pgoff);
		return 0;
	}
	err = my_shmem_msi_reserve_locked(d, b ? 2 : 1);
	if (err)
		return err;
	copy = my_shmem_msi_new_copy_locked(d, node, pgoff);
	if (IS_ERR(copy))
		return PTR_ERR(copy);

	if (b)
		my_shmem_msi_writeback_locked(seg, d, b, pgoff, home, false,
					      MY_SHMEM_MSI_CAUSE_REMOTE_READ);
	my_shmem_msi_xfer(seg, pgoff, copy, node, home, NULL);
	atomic_long_inc(&node->stats.fetches);
	d->sharers[d->nr_sharers++] = node;
	atomic_long_inc(&node->stats.pages_s);
	my_shmem_msi_trace(seg, pgoff, node, MY_SHMEM_MSI_I, MY_SHMEM_MSI_S,
			   MY_SHMEM_MSI_CAUSE_READ);
	*out = copy;
	return 0;
}

/* Write by @node: I or S -> M, every other holder -> I. */
static int my_shmem_msi_write_locked(struct my_shmem_seg *seg,
				     struct my_shmem_dirent *d,
				     struct my_shmem_node *node, pgoff_t pgoff,
				     struct page *home, struct page **out)
{
	unsigned int from = my_shmem_msi_state_locked(d, node, pgoff);
	struct my_shmem_node *b = d->owner;
	struct page *copy;

	if (from == MY_SHMEM_MSI_M) {
		*out = xa_load(&node->copies, pgoff);
		return 0;
	}
	if (from == MY_SHMEM_MSI_S) {
		copy = xa_load(&node->copies, pgoff);
		atomic_long_dec(&node->stats.pages_s);
	} else {
		copy = my_shmem_msi_new_copy_locked(d, node, pgoff);
		if (IS_ERR(copy))
			return PTR_ERR(copy);
		if (b) {
			struct page *bcopy = my_shmem_msi_quiesce_locked(d, b, pgoff);

			my_shmem_msi_xfer(seg, pgoff, copy, node, bcopy, b);
			d->owner = NULL;
			my_shmem_msi_drop_locked(seg, d, b, pgoff, bcopy,
						 MY_SHMEM_MSI_M,
						 MY_SHMEM_MSI_CAUSE_REMOTE_WRITE);
		} else {
			my_shmem_msi_xfer(seg, pgoff, copy, node, home, NULL);
		}
		atomic_long_inc(&node->stats.fetches);
	}
	my_shmem_msi_invalidate_locked(seg, d, node, pgoff);
	d->owner = node;
	atomic_long_inc(&node->stats.pages_m);
	my_shmem_msi_trace(seg, pgoff, node, from, MY_SHMEM_MSI_M,
			   MY_SHMEM_MSI_CAUSE_WRITE);
	*out = copy;
	return 0;
}

static vm_fault_t my_shmem_msi_sigbus(int err)
{
	/* A task dying of SIGKILL needs no count: the signal wins. */
	if (err != -EINTR)
		atomic_long_inc(&my_shmem_counters.sigbus);
	return VM_FAULT_SIGBUS;
}

/**
 * my_shmem_msi_fault() - fault handler of a coherent segment's mappings
 * @vmf: the fault; its VMA maps the node of its file
 *
 * Runs the read or write transition for the faulting node and returns its
 * copy locked, for the core to map (read-only: write-notify; a write fault
 * then goes through my_shmem_msi_page_mkwrite()).
 *
 * Return: VM_FAULT_LOCKED with @vmf->page set, or VM_FAULT_SIGBUS (the
 * segment's size, the module's page cap or memory exhausted, or a fatal
 * signal while waiting for the page).
 */
vm_fault_t my_shmem_msi_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct my_shmem_seg *seg = vma->vm_private_data;
	struct my_shmem_node *node = vma->vm_file->private_data;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	struct my_shmem_dirent *d;
	struct page *home, *page;
	int err;

	atomic_long_inc(&my_shmem_counters.faults);
	atomic_long_inc(&seg->stats.faults);
	if (!write)
		atomic_long_inc(&node->stats.read_faults);
	err = my_shmem_msi_home(seg, vma->vm_mm, vmf->pgoff, &home);
	if (err)
		return my_shmem_msi_sigbus(err);
	d = my_shmem_msi_dirent(seg, vmf->pgoff);
	if (IS_ERR(d))
		return my_shmem_msi_sigbus(PTR_ERR(d));
	if (mutex_lock_killable(&d->lock))
		return VM_FAULT_SIGBUS;
	if (write)
		err = my_shmem_msi_write_locked(seg, d, node, vmf->pgoff, home, &page);
	else
		err = my_shmem_msi_read_locked(seg, d, node, vmf->pgoff, home, &page);
	if (!err) {
		get_page(page);		/* the PTE's reference */
		lock_page(page);
		vmf->page = page;
	}
	mutex_unlock(&d->lock);
	return err ? my_shmem_msi_sigbus(err) : VM_FAULT_LOCKED;
}

/**
 * my_shmem_msi_page_mkwrite() - first write to a page mapped read-only
 * @vmf: the fault, @vmf->page the page mapped (or just returned by
 *	my_shmem_msi_fault() for a write fault)
 *
 * S -> M (every other holder invalidated); M stays M.  If the node lost the
 * page since the page was mapped or returned, the fault is retried.
 *
 * Return: VM_FAULT_LOCKED, VM_FAULT_NOPAGE (retry) or VM_FAULT_SIGBUS.
 */
vm_fault_t my_shmem_msi_page_mkwrite(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct my_shmem_seg *seg = vma->vm_private_data;
	struct my_shmem_node *node = vma->vm_file->private_data;
	struct my_shmem_dirent *d = xa_load(&seg->dir, vmf->pgoff);
	struct page *page;
	int err = 0;

	atomic_long_inc(&node->stats.write_faults);
	if (WARN_ON_ONCE(!d))
		return VM_FAULT_SIGBUS;
	if (mutex_lock_killable(&d->lock))
		return VM_FAULT_SIGBUS;
	if (xa_load(&node->copies, vmf->pgoff) != vmf->page) {
		mutex_unlock(&d->lock);
		return VM_FAULT_NOPAGE;
	}
	if (d->owner != node)
		err = my_shmem_msi_write_locked(seg, d, node, vmf->pgoff, NULL,
						&page);
	if (!err)
		lock_page(vmf->page);
	mutex_unlock(&d->lock);
	return err ? my_shmem_msi_sigbus(err) : VM_FAULT_LOCKED;
}

/**
 * my_shmem_msi_detach() - a node's mapping of [@first, @end) goes
 * @seg: the coherent segment
 * @node: the node whose VMA is closing
 * @first: first page offset of the VMA
 * @end: page offset past it
 *
 * Pages the node holds in M in the range are written back home and become
 * S (the node's other mappings of them are zapped and refault read-only);
 * when there is no memory to record the node as a sharer the copy is
 * dropped instead, after the write-back.
 */
void my_shmem_msi_detach(struct my_shmem_seg *seg, struct my_shmem_node *node,
			 pgoff_t first, pgoff_t end)
{
	unsigned long pgoff;
	struct page *copy;

	if (first >= end)
		return;
	xa_for_each_range(&node->copies, pgoff, copy, first, end - 1) {
		struct my_shmem_dirent *d = xa_load(&seg->dir, pgoff);

		mutex_lock(&d->lock);
		if (d->owner == node)
			my_shmem_msi_writeback_locked(seg, d, node, pgoff,
						      my_shmem_msi_home_of(seg, pgoff),
						      my_shmem_msi_reserve_locked(d, 1),
						      MY_SHMEM_MSI_CAUSE_DETACH);
		mutex_unlock(&d->lock);
		cond_resched();
	}
}

/**
 * my_shmem_msi_leave() - a node leaves its coherent segment
 * @seg: the segment
 * @node: the node: its last fd is going, or it is being rebound before any
 *	mmap(); nothing maps it any more
 *
 * Its M pages are written back home, every copy is freed, and its id is
 * given back.
 */
void my_shmem_msi_leave(struct my_shmem_seg *seg, struct my_shmem_node *node)
{
	unsigned long pgoff;
	struct page *copy;

	xa_for_each(&node->copies, pgoff, copy) {
		struct my_shmem_dirent *d = xa_load(&seg->dir, pgoff);

		mutex_lock(&d->lock);
		if (d->owner == node) {
			my_shmem_msi_writeback_locked(seg, d, node, pgoff,
						      my_shmem_msi_home_of(seg, pgoff),
						      true, MY_SHMEM_MSI_CAUSE_CLOSE);
		} else if (xa_load(&node->copies, pgoff) == copy) {
			/* Not dropped by a writer since the walk saw it. */
			my_shmem_msi_del_sharer_locked(d, node);
			lock_page(copy);
			my_shmem_msi_drop_locked(seg, d, node, pgoff, copy,
						 MY_SHMEM_MSI_S,
						 MY_SHMEM_MSI_CAUSE_CLOSE);
		}
		mutex_unlock(&d->lock);
		cond_resched();
	}
	xa_destroy(&node->copies);
	xa_erase(&seg->members, node->nid);
}

/**
 * my_shmem_msi_node_info() - counters of a node of a coherent segment
 * @seg: the segment
 * @self: the caller's node, for MY_SHMEM_NODE_SELF
 * @info: in: @node and @flags; out: the node's id and counters
 *
 * Return: 0, or -ENOENT for no such node.
 */
int my_shmem_msi_node_info(struct my_shmem_seg *seg,
			   const struct my_shmem_node *self,
			   struct my_shmem_node_info *info)
{
	struct my_shmem_node_counters *c;
	struct my_shmem_node *node;
	unsigned long id = info->node;

	if (info->node == MY_SHMEM_NODE_SELF) {
		if (!self || self->seg != seg)
			return -ENOENT;
		id = self->nid;
	}
	/* Under the xarray's lock: a leaving node is erased before it is freed. */
	xa_lock(&seg->members);
	if (info->flags & MY_SHMEM_NODE_INFO_NEXT)
		node = xa_find(&seg->members, &id, MY_SHMEM_MAX_NODES - 1,
			       XA_PRESENT);
	else
		node = xa_load(&seg->members, id);
	if (!node) {
		xa_unlock(&seg->members);
		return -ENOENT;
	}
	c = &node->stats;
	info->node = node->nid;
	info->read_faults = atomic_long_read(&c->read_faults);
	info->write_faults = atomic_long_read(&c->write_faults);
	info->fetches = atomic_long_read(&c->fetches);
	info->invals_received = atomic_long_read(&c->invals_received);
	info->writebacks = atomic_long_read(&c->writebacks);
	info->bytes_moved = atomic_long_read(&c->bytes_moved);
	info->cleans = atomic_long_read(&c->cleans);
	info->invals = atomic_long_read(&c->invals);
	info->pages_s = atomic_long_read(&c->pages_s);
	info->pages_m = atomic_long_read(&c->pages_m);
	xa_unlock(&seg->members);
	info->seg = seg->id;
	info->nr_nodes = atomic_read(&seg->nodes);
	return 0;
}

/**
 * my_shmem_msi_view() - one page of a coherent segment, as s2dsm's "v"
 * @seg: the segment
 * @nid: the node whose state is wanted
 * @pgoff: the page
 * @state: out: @nid's state (MY_SHMEM_MSI_*)
 * @owner: out: the owner's id or MY_SHMEM_NODE_NONE
 * @sharers: out: number of nodes in S
 *
 * Read under the page's directory lock; by node id, so a node that leaves
 * meanwhile is simply no longer there.
 *
 * Return: 0, or -EINTR on a fatal signal.
 */
int my_shmem_msi_view(struct my_shmem_seg *seg, u32 nid, pgoff_t pgoff,
		      u8 *state, u32 *owner, u32 *sharers)
{
	struct my_shmem_dirent *d = xa_load(&seg->dir, pgoff);
	unsigned int i;

	*state = MY_SHMEM_MSI_I;
	*owner = MY_SHMEM_NODE_NONE;
	*sharers = 0;
	if (!d)
		return 0;
	if (mutex_lock_killable(&d->lock))
		return -EINTR;
	if (d->owner) {
		*owner = d->owner->nid;
		if (d->owner->nid == nid)
			*state = MY_SHMEM_MSI_M;
	}
	*sharers = d->nr_sharers;
	for (i = 0; i < d->nr_sharers; i++)
		if (d->sharers[i]->nid == nid)
			*state = MY_SHMEM_MSI_S;
	mutex_unlock(&d->lock);
	return 0;
}
