/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version difference my_shmem deals with lives here.  Tested on
 * 6.1 and 6.12.  MY_SHMEM_HAVE_* and MY_SHMEM_MAX_ORDER_INCLUSIVE come from
 * feature probes of the kernel headers in Kbuild.
 */
#ifndef _MY_SHMEM_COMPAT_H
#define _MY_SHMEM_COMPAT_H

#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/xarray.h>
#include <net/genetlink.h>

/*
 * Highest order the page allocator serves.  Up to 6.3 MAX_ORDER was an
 * exclusive bound; 6.4 made it inclusive and 6.8 renamed it MAX_PAGE_ORDER.
 */
#if defined(MAX_PAGE_ORDER)
#define MY_SHMEM_PAGE_ORDER_MAX	MAX_PAGE_ORDER
#elif defined(MY_SHMEM_MAX_ORDER_INCLUSIVE)
#define MY_SHMEM_PAGE_ORDER_MAX	MAX_ORDER
#else
#define MY_SHMEM_PAGE_ORDER_MAX	(MAX_ORDER - 1)
#endif

/* vm_flags became read-only behind helpers in 6.3. */
static inline void my_shmem_vm_flags_set(struct vm_area_struct *vma,
					 vm_flags_t flags)
{
#ifdef MY_SHMEM_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void my_shmem_vm_flags_clear(struct vm_area_struct *vma,
					   vm_flags_t flags)
{
#ifdef MY_SHMEM_HAVE_VM_FLAGS_SET
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/*
 * Point every index of [first, last] at @entry: multi-index entries where the
 * kernel has them (CONFIG_XARRAY_MULTI, selected by THP), one store per index
 * otherwise.
 */
static inline void *my_shmem_xa_store_range(struct xarray *xa,
					    unsigned long first,
					    unsigned long last, void *entry,
					    gfp_t gfp)
{
#ifdef CONFIG_XARRAY_MULTI
	return xa_store_range(xa, first, last, entry, gfp);
#else
	unsigned long i;
	void *ret = NULL;

	for (i = first; i <= last && !xa_is_err(ret); i++)
		ret = xa_store(xa, i, entry, gfp);
	return xa_is_err(ret) ? ret : NULL;
#endif
}

/*
 * The parsed attributes of a dump request: 6.6 put a struct genl_info in
 * struct genl_dumpit_info (genl_info_dump()); before, it held the attrs.
 */
static inline struct nlattr **my_shmem_genl_dump_attrs(struct netlink_callback *cb)
{
#ifdef MY_SHMEM_HAVE_GENL_INFO_DUMP
	return genl_info_dump(cb)->attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

#endif /* _MY_SHMEM_COMPAT_H */
