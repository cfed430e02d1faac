/* SPDX-License-Identifier: GPL-2.0 */
/*
 * my_shmem internals.  The path of a page fault through the module:
 *
 *   vm.c       fault handler: find or create the allocation, map it;
 *              attach and detach (VMA open/close)
 *   segment.c  allocations of 2^order pages, indexed by page offset
 *   msi.c      coherent segments: the fault-driven MSI protocol between
 *              the nodes' private copies and the home copy
 *   cache.c    clean / invalidate to the Point of Coherency (backends)
 *   trace.h    tracepoints alloc, fault, clean, inval, msi, msi_xfer
 *
 * Around it: registry.c (segments by id and key, lifetimes, permissions),
 * file.c (open files = nodes, the ioctls), netlink.c (the generic-netlink
 * family), stats.c (counters in sysfs), main.c (misc device, parameters).
 */
#ifndef _MY_SHMEM_H
#define _MY_SHMEM_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/time64.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/xarray.h>

#include <linux/my_shmem.h>
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
 * @dma: the run's DMA address on the dma backend's device, mapped for as
 *	long as the run lives (DMA_MAPPING_ERROR without that device)
 */
struct my_shmem_alloc {
	struct page *page;
	pgoff_t start;
	unsigned int order;
	dma_addr_t dma;
};

static inline pgoff_t my_shmem_alloc_end(const struct my_shmem_alloc *a)
{
	return a->start + (1UL << a->order);
}

/**
 * struct my_shmem_seg_counters - what happened to one segment
 * @pages: pages allocated to it
 * @allocs_by_order: its live runs of each order
 * @faults: faults handled in its mappings
 * @cleans: clean-to-PoC operations over its runs
 * @invals: invalidate-to-PoC operations over its runs
 */
struct my_shmem_seg_counters {
	atomic_long_t pages;
	atomic_long_t allocs_by_order[MY_SHMEM_NR_ORDERS];
	atomic_long_t faults;
	atomic_long_t cleans;
	atomic_long_t invals;
};

/**
 * struct my_shmem_seg - a shared segment (segment 0 is the global pool)
 * @ref: references: the registry's while the segment is not deleted (for
 *	segment 0: the module's), one per bound node, one per VMA
 * @id: registry id (segment 0: 0)
 * @key: the key it was created for (segment 0: 0)
 * @mode: MY_SHMEM_MODE_*
 * @deleted: marked for deletion, its key released; under the registry lock
 * @uid: owner
 * @gid: owner's group
 * @cuid: creator
 * @cgid: creator's group
 * @perm: permission bits (MY_SHMEM_PERM_MASK)
 * @cpid: creator's tgid (init namespace)
 * @lpid: tgid of the last attach or detach (init namespace)
 * @nattch: VMAs mapping it
 * @nodes: fds bound to it
 * @atime: last attach, seconds
 * @dtime: last detach, seconds
 * @ctime: creation, seconds
 * @stats: its counters
 * @allocs: page offset -> allocation backing it; readers use RCU
 * @lock: serialises allocation; protects @frontier updates.  Taken once per
 *	run, killable, and never held across anything but one allocation.
 * @frontier: first page offset not backed yet; offsets below it are backed,
 *	published with release semantics after @allocs is filled in.  Readers
 *	look nothing up at or past it (my_shmem_seg_lookup()).
 * @size: size in pages: a mapping may not extend past it and a fault at or
 *	past it gets SIGBUS (segment 0: the seg0_pages parameter)
 * @dir: coherent mode: page offset -> struct my_shmem_dirent, created on
 *	the first fault of the page and kept until the segment is freed; the
 *	runs in @allocs are the home copy
 * @members: coherent mode: node id -> struct my_shmem_node bound to it
 *	(an allocating xarray: ids are handed out lowest free first)
 *
 * Lock order: mmap lock (held by the fault and VMA paths) -> registry lock
 * (only to drop the last reference) -> @lock -> the page allocator and the
 * xarray's own lock.  Coherent mode: see msi.c.  No lock is held across a
 * user copy.
 */
struct my_shmem_seg {
	struct kref ref;
	u32 id;
	u64 key;
	unsigned int mode;
	bool deleted;
	kuid_t uid;
	kgid_t gid;
	kuid_t cuid;
	kgid_t cgid;
	umode_t perm;
	pid_t cpid;
	pid_t lpid;
	atomic_t nattch;
	atomic_t nodes;
	time64_t atime;
	time64_t dtime;
	time64_t ctime;
	struct my_shmem_seg_counters stats;
	struct xarray allocs;
	struct mutex lock;	/* see above */
	pgoff_t frontier;
	unsigned long size;
	struct xarray dir;
	struct xarray members;
};

/**
 * struct my_shmem_node_counters - what happened to one node of a coherent
 *	segment (the fields of struct my_shmem_node_info)
 */
struct my_shmem_node_counters {
	atomic_long_t read_faults;
	atomic_long_t write_faults;
	atomic_long_t fetches;
	atomic_long_t invals_received;
	atomic_long_t writebacks;
	atomic_long_t bytes_moved;
	atomic_long_t cleans;
	atomic_long_t invals;
	atomic_long_t pages_s;
	atomic_long_t pages_m;
};

/**
 * struct my_shmem_node - one open file description of the device
 * @lock: protects @seg and @mapped
 * @seg: the bound segment (a reference), or NULL
 * @inode: an anonymous inode whose address_space is the file's mapping, so
 *	that this node's mappings can be zapped alone (unmap_mapping_range())
 * @mapped: mmap() was called: the node can no longer be rebound
 * @nid: coherent segment: the node's id in its @members
 * @copies: coherent segment: page offset -> the node's private copy, present
 *	exactly while the node holds the page in S or M; changed only under
 *	the page's directory lock
 * @stats: coherent segment: its counters
 */
struct my_shmem_node {
	struct mutex lock;	/* see above */
	struct my_shmem_seg *seg;
	struct inode *inode;
	bool mapped;
	u32 nid;
	struct xarray copies;
	struct my_shmem_node_counters stats;
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
	atomic_long_t segments;
};

extern struct my_shmem_counters my_shmem_counters;
extern struct my_shmem_seg *my_shmem_seg0;
extern unsigned int my_shmem_max_order;
extern unsigned long my_shmem_max_pages;
extern unsigned long my_shmem_seg0_pages;
extern unsigned int my_shmem_seg0_mode;
extern unsigned int my_shmem_max_segments;
extern unsigned long my_shmem_max_segment_pages;
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
bool my_shmem_pages_charge(unsigned long nr);
void my_shmem_pages_uncharge(unsigned long nr);

/* msi.c */
void my_shmem_msi_seg_init(struct my_shmem_seg *seg);
void my_shmem_msi_seg_destroy(struct my_shmem_seg *seg);
int my_shmem_msi_join(struct my_shmem_seg *seg, struct my_shmem_node *node,
		      u32 *nid);
void my_shmem_msi_leave(struct my_shmem_seg *seg, struct my_shmem_node *node);
vm_fault_t my_shmem_msi_fault(struct vm_fault *vmf);
vm_fault_t my_shmem_msi_page_mkwrite(struct vm_fault *vmf);
void my_shmem_msi_detach(struct my_shmem_seg *seg, struct my_shmem_node *node,
			 pgoff_t first, pgoff_t end);
int my_shmem_msi_node_info(struct my_shmem_seg *seg,
			   const struct my_shmem_node *self,
			   struct my_shmem_node_info *info);
int my_shmem_msi_view(struct my_shmem_seg *seg, u32 nid, pgoff_t pgoff,
		      u8 *state, u32 *owner, u32 *sharers);

/* registry.c */
int my_shmem_registry_init(void);
void my_shmem_registry_exit(void);
struct my_shmem_seg *my_shmem_seg_get(const struct my_shmem_get *req,
				      bool write);
struct my_shmem_seg *my_shmem_seg_find(u32 id);
int my_shmem_seg_delete(u32 id);
bool my_shmem_seg_may_access(const struct my_shmem_seg *seg, bool write);
void my_shmem_seg_put(struct my_shmem_seg *seg);
void my_shmem_seg_info(struct my_shmem_seg *seg, struct my_shmem_seg_info *info);
struct my_shmem_seg *my_shmem_seg_next(unsigned long *index);
unsigned long my_shmem_registry_gen(void);

static inline struct my_shmem_seg *my_shmem_seg_ref(struct my_shmem_seg *seg)
{
	kref_get(&seg->ref);
	return seg;
}

/* netlink.c */
int my_shmem_nl_init(void);
void my_shmem_nl_exit(void);
void my_shmem_nl_seg_event(const struct my_shmem_seg *seg, bool created);
void my_shmem_nl_alloc_event(const struct my_shmem_seg *seg, pgoff_t pgoff,
			     unsigned int order);
void my_shmem_nl_msi_event(const struct my_shmem_seg *seg, pgoff_t pgoff,
			   u32 node, unsigned int from, unsigned int to,
			   unsigned int cause);

/* file.c */
extern const struct file_operations my_shmem_fops;

/* vm.c */
int my_shmem_mmap_seg(struct my_shmem_seg *seg, struct vm_area_struct *vma);

/* cache.c: where clean / invalidate to PoC come from */
enum my_shmem_backend {
	MY_SHMEM_BACKEND_NONE,
	MY_SHMEM_BACKEND_INSN,
	MY_SHMEM_BACKEND_PMEM,
	MY_SHMEM_BACKEND_KERNEL,
	MY_SHMEM_BACKEND_DMA,
	MY_SHMEM_NR_BACKENDS,
};

void my_shmem_dcache_clean_poc(unsigned long start, unsigned long end,
			       dma_addr_t dma);
void my_shmem_dcache_inval_poc(unsigned long start, unsigned long end,
			       dma_addr_t dma);
void my_shmem_dcache_push_poc(unsigned long start, unsigned long end);
int my_shmem_dma_map(struct page *page, size_t size, dma_addr_t *dma);
void my_shmem_dma_unmap(dma_addr_t dma, size_t size);
bool my_shmem_backend_is_dma(void);
int my_shmem_cache_init(void);
void my_shmem_cache_exit(void);
extern const struct kernel_param_ops my_shmem_backend_ops;

/* stats.c */
void my_shmem_stats_snapshot(struct my_shmem_stats *st);

#endif /* _MY_SHMEM_H */
