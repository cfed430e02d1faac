/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of my_shmem: events/my_shmem/{alloc,fault,clean,inval,msi,
 * msi_xfer} in tracefs.  Durations are in nanoseconds, measured with ktime_get_ns()
 * around the operation inside the module.  Every enum printed symbolically
 * has its TRACE_DEFINE_ENUM(), so the format files show numbers and
 * user-space decoders (trace-cmd, perf) print the names.
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

TRACE_DEFINE_ENUM(MY_SHMEM_BACKEND_NONE);
TRACE_DEFINE_ENUM(MY_SHMEM_BACKEND_INSN);
TRACE_DEFINE_ENUM(MY_SHMEM_BACKEND_PMEM);
TRACE_DEFINE_ENUM(MY_SHMEM_BACKEND_KERNEL);
TRACE_DEFINE_ENUM(MY_SHMEM_BACKEND_DMA);

#define my_shmem_show_backend(b)					\
	__print_symbolic(b, { MY_SHMEM_BACKEND_NONE, "none" },		\
			 { MY_SHMEM_BACKEND_INSN, "insn" },		\
			 { MY_SHMEM_BACKEND_PMEM, "pmem" },		\
			 { MY_SHMEM_BACKEND_KERNEL, "kernel" },		\
			 { MY_SHMEM_BACKEND_DMA, "dma" })

/*
 * One clean or invalidate of `size` bytes by `backend` (the one that ran);
 * order = log2(size in pages).  Emitted, and timed, only while enabled.
 */
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
			      my_shmem_show_backend(__entry->backend),
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

TRACE_DEFINE_ENUM(MY_SHMEM_MSI_I);
TRACE_DEFINE_ENUM(MY_SHMEM_MSI_S);
TRACE_DEFINE_ENUM(MY_SHMEM_MSI_M);
TRACE_DEFINE_ENUM(MY_SHMEM_MSI_CAUSE_READ);
TRACE_DEFINE_ENUM(MY_SHMEM_MSI_CAUSE_WRITE);
TRACE_DEFINE_ENUM(MY_SHMEM_MSI_CAUSE_REMOTE_READ);
TRACE_DEFINE_ENUM(MY_SHMEM_MSI_CAUSE_REMOTE_WRITE);
TRACE_DEFINE_ENUM(MY_SHMEM_MSI_CAUSE_DETACH);
TRACE_DEFINE_ENUM(MY_SHMEM_MSI_CAUSE_CLOSE);

#define my_shmem_show_msi(s)						\
	__print_symbolic(s, { MY_SHMEM_MSI_I, "I" },			\
			 { MY_SHMEM_MSI_S, "S" }, { MY_SHMEM_MSI_M, "M" })

/* Coherent segment: node's state of page went from -> to, because of cause. */
TRACE_EVENT(msi,
	    TP_PROTO(u32 seg, unsigned long page, u32 node, unsigned int from,
		     unsigned int to, unsigned int cause),
	    TP_ARGS(seg, page, node, from, to, cause),
	    TP_STRUCT__entry(__field(u32, seg)
			     __field(unsigned long, page)
			     __field(u32, node)
			     __field(unsigned int, from)
			     __field(unsigned int, to)
			     __field(unsigned int, cause)),
	    TP_fast_assign(__entry->seg = seg;
			   __entry->page = page;
			   __entry->node = node;
			   __entry->from = from;
			   __entry->to = to;
			   __entry->cause = cause;),
	    TP_printk("seg=%u page=%lu node=%u from=%s to=%s cause=%s",
		      __entry->seg, __entry->page, __entry->node,
		      my_shmem_show_msi(__entry->from),
		      my_shmem_show_msi(__entry->to),
		      __print_symbolic(__entry->cause,
				       { MY_SHMEM_MSI_CAUSE_READ, "read" },
				       { MY_SHMEM_MSI_CAUSE_WRITE, "write" },
				       { MY_SHMEM_MSI_CAUSE_REMOTE_READ, "remote_read" },
				       { MY_SHMEM_MSI_CAUSE_REMOTE_WRITE, "remote_write" },
				       { MY_SHMEM_MSI_CAUSE_DETACH, "detach" },
				       { MY_SHMEM_MSI_CAUSE_CLOSE, "close" }))
);

/*
 * One simulated DMA transfer of a page between copies (node -1: the home
 * copy), and the nanoseconds of its three steps: clean the source to PoC,
 * copy (the device's write, pushed to PoC), invalidate the destination.
 * Timed only while this event is enabled (0 otherwise).
 */
TRACE_EVENT(msi_xfer,
	    TP_PROTO(u32 seg, unsigned long page, s32 src, s32 dst,
		     u64 clean_ns, u64 copy_ns, u64 inval_ns),
	    TP_ARGS(seg, page, src, dst, clean_ns, copy_ns, inval_ns),
	    TP_STRUCT__entry(__field(u32, seg)
			     __field(unsigned long, page)
			     __field(s32, src)
			     __field(s32, dst)
			     __field(u64, clean_ns)
			     __field(u64, copy_ns)
			     __field(u64, inval_ns)),
	    TP_fast_assign(__entry->seg = seg;
			   __entry->page = page;
			   __entry->src = src;
			   __entry->dst = dst;
			   __entry->clean_ns = clean_ns;
			   __entry->copy_ns = copy_ns;
			   __entry->inval_ns = inval_ns;),
	    TP_printk("seg=%u page=%lu src=%d dst=%d clean_ns=%llu copy_ns=%llu inval_ns=%llu",
		      __entry->seg, __entry->page, __entry->src, __entry->dst,
		      __entry->clean_ns, __entry->copy_ns, __entry->inval_ns)
);

#endif /* _MY_SHMEM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
