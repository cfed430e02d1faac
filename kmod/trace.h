/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of my_shmem: events/my_shmem/{alloc,fault,clean,inval} in
 * tracefs.  Durations are in nanoseconds, measured with ktime_get_ns()
 * around the operation inside the module.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM my_shmem

#if !defined(_MY_SHMEM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _MY_SHMEM_TRACE_H

#include <linux/tracepoint.h>

#include "my_shmem.h"

/* A run of 2^order pages was allocated (and zeroed) at page offset pgoff. */
TRACE_EVENT(alloc,
	    TP_PROTO(unsigned long pgoff, unsigned int order, u64 ns),
	    TP_ARGS(pgoff, order, ns),
	    TP_STRUCT__entry(__field(unsigned long, pgoff)
			     __field(unsigned int, order)
			     __field(unsigned long, pages)
			     __field(u64, ns)),
	    TP_fast_assign(__entry->pgoff = pgoff;
			   __entry->order = order;
			   __entry->pages = 1UL << order;
			   __entry->ns = ns;),
	    TP_printk("pgoff=%lu order=%u pages=%lu ns=%llu",
		      __entry->pgoff, __entry->order, __entry->pages,
		      __entry->ns)
);

/* A fault at pgoff mapped `mapped` pages of a run of 2^order. */
TRACE_EVENT(fault,
	    TP_PROTO(unsigned long pgoff, unsigned int order,
		     unsigned long mapped, bool allocated, u64 ns),
	    TP_ARGS(pgoff, order, mapped, allocated, ns),
	    TP_STRUCT__entry(__field(unsigned long, pgoff)
			     __field(unsigned int, order)
			     __field(unsigned long, mapped)
			     __field(bool, allocated)
			     __field(u64, ns)),
	    TP_fast_assign(__entry->pgoff = pgoff;
			   __entry->order = order;
			   __entry->mapped = mapped;
			   __entry->allocated = allocated;
			   __entry->ns = ns;),
	    TP_printk("pgoff=%lu order=%u mapped=%lu allocated=%d ns=%llu",
		      __entry->pgoff, __entry->order, __entry->mapped,
		      __entry->allocated, __entry->ns)
);

/* One clean or invalidate of `size` bytes; order = log2(size in pages). */
DECLARE_EVENT_CLASS(my_shmem_cmo,
		    TP_PROTO(unsigned long size, unsigned int backend, u64 ns),
		    TP_ARGS(size, backend, ns),
		    TP_STRUCT__entry(__field(unsigned long, size)
				     __field(unsigned int, order)
				     __field(unsigned int, backend)
				     __field(u64, ns)),
		    TP_fast_assign(__entry->size = size;
				   __entry->order = size >= PAGE_SIZE ?
						    ilog2(size >> PAGE_SHIFT) : 0;
				   __entry->backend = backend;
				   __entry->ns = ns;),
		    TP_printk("size=%lu order=%u backend=%s ns=%llu",
			      __entry->size, __entry->order,
			      __print_symbolic(__entry->backend,
					       { MY_SHMEM_BACKEND_NONE, "none" },
					       { MY_SHMEM_BACKEND_INSN, "insn" },
					       { MY_SHMEM_BACKEND_PMEM, "pmem" },
					       { MY_SHMEM_BACKEND_KERNEL, "kernel" }),
			      __entry->ns)
);

DEFINE_EVENT(my_shmem_cmo, clean,
	     TP_PROTO(unsigned long size, unsigned int backend, u64 ns),
	     TP_ARGS(size, backend, ns)
);

DEFINE_EVENT(my_shmem_cmo, inval,
	     TP_PROTO(unsigned long size, unsigned int backend, u64 ns),
	     TP_ARGS(size, backend, ns)
);

#endif /* _MY_SHMEM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
