// SPDX-License-Identifier: GPL-2.0
/*
 * Mappings of a segment: the fault handler and the VMA life cycle.
 *
 * A fault finds (or creates) the run backing the faulting offset and maps
 * the whole intersection of that run with the VMA at once, so a run of
 * 2^order pages costs one fault per VMA, whatever vm_pgoff is.  Pages are
 * ordinary reference-counted pages inserted into a VM_MIXEDMAP VMA, so fork,
 * mremap, partial munmap and get_user_pages() all work on them.
 */

#include <linux/ktime.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/timekeeping.h>

#include "my_shmem.h"
#include "trace.h"

/* Pages handed to vm_insert_pages() per call (stack array). */
#define MY_SHMEM_MAP_BATCH	32

/*
 * Map the part of run @a that lies inside @vma.  A PTE already present
 * (another thread of this mm mapped it first) is left alone.
 * Return: pages newly mapped, or a negative errno.
 */
static long my_shmem_map_run(struct vm_area_struct *vma,
			     const struct my_shmem_alloc *a)
{
	pgoff_t first = max(a->start, vma->vm_pgoff);
	pgoff_t end = min(my_shmem_alloc_end(a), vma->vm_pgoff + vma_pages(vma));
	unsigned long addr = vma->vm_start + ((first - vma->vm_pgoff) << PAGE_SHIFT);
	struct page *batch[MY_SHMEM_MAP_BATCH];
	long mapped = 0;
	pgoff_t off = first;

	while (off < end) {
		unsigned long n = min_t(unsigned long, end - off, MY_SHMEM_MAP_BATCH);
		unsigned long i, left = n;
		int err;

		for (i = 0; i < n; i++)
			batch[i] = nth_page(a->page, off - a->start + i);
		err = vm_insert_pages(vma, addr, batch, &left);
		mapped += n - left;
		if (err == -EBUSY)
			left--;		/* skip the PTE someone else filled */
		else if (err)
			return err;
		off += n - left;
		addr += (n - left) << PAGE_SHIFT;
	}
	return mapped;
}

/*
 * Every fault that maps nothing is VM_FAULT_SIGBUS, never VM_FAULT_NOPAGE
 * (a fault from a uaccess in the kernel would be retried forever) nor
 * VM_FAULT_OOM (this memory is not the OOM killer's business, and on 6.1 it
 * "leaks out" to the arch fault handler, which retries).  A task with a
 * fatal signal pending dies of that signal; its uaccess gets -EFAULT.
 */
static vm_fault_t my_shmem_fault(struct vm_fault *vmf)
{
	struct my_shmem_seg *seg = vmf->vma->vm_private_data;
	struct my_shmem_alloc *a;
	bool allocated = false;
	u64 t0 = ktime_get_ns();
	long mapped;
	int err;

	atomic_long_inc(&my_shmem_counters.faults);
	atomic_long_inc(&seg->stats.faults);
	a = my_shmem_seg_lookup(seg, vmf->pgoff);
	if (!a) {
		err = my_shmem_seg_populate(seg, vmf->vma->vm_mm, vmf->pgoff,
					    &a, &allocated);
		if (err == -EINTR)
			return VM_FAULT_SIGBUS;	/* dying: SIGKILL wins */
		if (err)
			goto sigbus;
	}

	mapped = my_shmem_map_run(vmf->vma, a);
	if (mapped < 0)
		goto sigbus;
	trace_fault(vmf->pgoff, a->order, mapped, allocated, ktime_get_ns() - t0);
	return VM_FAULT_NOPAGE;

sigbus:
	atomic_long_inc(&my_shmem_counters.sigbus);
	return VM_FAULT_SIGBUS;
}

/* An attachment: a VMA holds a reference to its segment. */
static void my_shmem_attach(struct my_shmem_seg *seg)
{
	my_shmem_seg_ref(seg);
	atomic_inc(&seg->nattch);
	WRITE_ONCE(seg->atime, ktime_get_real_seconds());
	WRITE_ONCE(seg->lpid, task_tgid_nr(current));
	atomic_long_inc(&my_shmem_counters.vmas);
}

/* fork, split, mremap: one more VMA over the same segment. */
static void my_shmem_vm_open(struct vm_area_struct *vma)
{
	my_shmem_attach(vma->vm_private_data);
}

/* The detach: the VMA's reference goes, and with the last one the segment. */
static void my_shmem_detach(struct my_shmem_seg *seg)
{
	atomic_dec(&seg->nattch);
	WRITE_ONCE(seg->dtime, ktime_get_real_seconds());
	WRITE_ONCE(seg->lpid, task_tgid_nr(current));
	atomic_long_dec(&my_shmem_counters.vmas);
	my_shmem_seg_put(seg);
}

/*
 * Emulate the DMA sync a driver runs when a buffer is unmapped: clean every
 * run that intersects the closing VMA to the Point of Coherency.
 */
static void my_shmem_vm_close(struct vm_area_struct *vma)
{
	struct my_shmem_seg *seg = vma->vm_private_data;

	my_shmem_seg_sync(seg, vma->vm_pgoff, vma->vm_pgoff + vma_pages(vma),
			  MY_SHMEM_SYNC_CLEAN);
	my_shmem_detach(seg);
}

static const struct vm_operations_struct my_shmem_vm_ops = {
	.fault = my_shmem_fault,
	.open = my_shmem_vm_open,
	.close = my_shmem_vm_close,
};

/* Coherent segment: the node's M pages in the range go home (msi.c). */
static void my_shmem_msi_vm_close(struct vm_area_struct *vma)
{
	struct my_shmem_seg *seg = vma->vm_private_data;

	my_shmem_msi_detach(seg, vma->vm_file->private_data, vma->vm_pgoff,
			    vma->vm_pgoff + vma_pages(vma));
	my_shmem_detach(seg);
}

/*
 * Having page_mkwrite makes the core map every page write-protected
 * (write-notify), which is how S pages stay read-only.
 */
static const struct vm_operations_struct my_shmem_msi_vm_ops = {
	.fault = my_shmem_msi_fault,
	.page_mkwrite = my_shmem_msi_page_mkwrite,
	.open = my_shmem_vm_open,
	.close = my_shmem_msi_vm_close,
};

/**
 * my_shmem_mmap_seg() - set up a VMA over a segment
 * @seg: the segment
 * @vma: the new VMA
 *
 * A coherent segment's VMA maps the node of its file (msi.c).
 *
 * Shared mappings only: a private mapping cannot be writable, now or later
 * (copy-on-write copies would silently stop being shared).  A read-only
 * mapping stays read-only (a read-only attach: mprotect() cannot add
 * PROT_WRITE).  The mapping must lie inside the segment's size.  The VMA
 * holds a reference to the segment (an attachment) until it is closed.
 *
 * Return: 0 or -EINVAL.
 */
int my_shmem_mmap_seg(struct my_shmem_seg *seg, struct vm_area_struct *vma)
{
	unsigned long end;

	if (check_add_overflow(vma->vm_pgoff, vma_pages(vma), &end) ||
	    end > READ_ONCE(seg->size))
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED) && (vma->vm_flags & VM_WRITE))
		return -EINVAL;
	if (!(vma->vm_flags & VM_WRITE))
		my_shmem_vm_flags_clear(vma, VM_MAYWRITE);
	vma->vm_private_data = seg;
	/*
	 * VM_MIXEDMAP also keeps the core from merging this VMA into a
	 * neighbour after ->mmap (6.12 retries the merge when ->mmap changed
	 * the flags, and frees the new VMA without ->close: the attachment
	 * taken below would never be dropped).
	 */
	my_shmem_vm_flags_set(vma, VM_MIXEDMAP | VM_DONTDUMP);
	/* Coherent: one page per fault, returned to the core (vmf->page). */
	vma->vm_ops = seg->mode == MY_SHMEM_MODE_COHERENT ? &my_shmem_msi_vm_ops :
							    &my_shmem_vm_ops;
	my_shmem_attach(seg);
	return 0;
}
