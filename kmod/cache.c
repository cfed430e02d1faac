// SPDX-License-Identifier: GPL-2.0
/*
 * Software cache maintenance to the Point of Coherency, as a DMA driver runs
 * it on a system whose devices do not snoop the CPU caches.
 *
 * my_shmem_dcache_clean_poc() and my_shmem_dcache_inval_poc() are ordinary,
 * never-inlined C functions so that ftrace (function_graph) and kprobes can
 * time them; each also emits a tracepoint with its own in-module timing.
 * What they execute is chosen by the module parameter "backend":
 *
 *   insn    the module's own loop, per line of CTR_EL0.DminLine (arm64) or
 *           CLFLUSH size (x86_64).  arm64: clean is DC CVAC; invalidate is
 *           what the kernel's dcache_inval_poc() does: DC CIVAC (clean and
 *           invalidate) on a line only partly inside the range at either
 *           edge, so the bytes outside the range are written back, never
 *           discarded, and DC IVAC (invalidate, dirty data dropped) on the
 *           lines wholly inside; DSB SY after either.  x86_64: CLWB (clean) /
 *           CLFLUSHOPT (invalidate), each falling back to CLFLUSH where
 *           absent, fenced by MFENCE on both sides; x86 has no invalidate
 *           that discards a line, CLFLUSHOPT always writes a dirty line back.
 *   pmem    the kernel's exported arch_wb_cache_pmem() / arch_invalidate_pmem()
 *           (on arm64 the former cleans to the Point of Persistence).
 *   kernel  __dcache_clean_poc() / __dcache_inval_poc() exported by a kernel
 *           carrying the patch under patches/; absent on stock kernels.
 *   dma     the streaming DMA API, as a driver of a device that does not
 *           snoop the caches runs it: dma_sync_single_for_device() (clean)
 *           and dma_sync_single_for_cpu() (invalidate) over the range's DMA
 *           mapping on a platform device the module registers ("my_shmem_dma",
 *           not DMA-coherent where the architecture has non-coherent DMA).
 *           Every run is mapped once, bidirectionally, when it is allocated
 *           and unmapped when it is freed (my_shmem_dma_map()).  arm64: the
 *           syncs reach arch_sync_dma_for_device() / arch_sync_dma_for_cpu(),
 *           i.e. the kernel's own dcache_clean_poc() / dcache_inval_poc(), on
 *           a stock kernel.  x86_64: DMA is coherent, so the syncs do no
 *           cache maintenance at all; what is timed is the DMA API alone
 *           (from 6.11 on an inlined test of dev->dma_skip_sync).
 *   none    no instruction: what the wrapper and the tracers cost alone.
 *
 * Under QEMU TCG these instructions do not touch memory: the latencies
 * measured there are emulation cost, not cache cost.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/platform_device.h>
#include <linux/string.h>

#ifdef CONFIG_ARM64
#include <asm/barrier.h>
#include <asm/cpufeature.h>
#include <asm/sysreg.h>
#endif
#ifdef CONFIG_X86
#include <asm/processor.h>
#include <asm/special_insns.h>
#endif

#include "my_shmem.h"
#include "trace.h"

typedef void (*my_shmem_range_fn)(unsigned long start, unsigned long end);
typedef void (*my_shmem_pmem_fn)(void *addr, size_t size);

static const char * const my_shmem_backend_names[MY_SHMEM_NR_BACKENDS] = {
	[MY_SHMEM_BACKEND_NONE] = "none",
	[MY_SHMEM_BACKEND_INSN] = "insn",
	[MY_SHMEM_BACKEND_PMEM] = "pmem",
	[MY_SHMEM_BACKEND_KERNEL] = "kernel",
	[MY_SHMEM_BACKEND_DMA] = "dma",
};

static unsigned int my_shmem_backend = MY_SHMEM_BACKEND_INSN;
static bool my_shmem_cache_ready;
static unsigned long my_shmem_line;

static my_shmem_pmem_fn my_shmem_pmem_wb, my_shmem_pmem_inval;
static my_shmem_range_fn my_shmem_kernel_clean, my_shmem_kernel_inval;

/* The device of the dma backend, registered by my_shmem_cache_init(). */
static struct platform_device *my_shmem_dma_pdev;

#ifdef CONFIG_ARM64
#define MY_SHMEM_INSN_DESC	"DC CVAC / DC CIVAC + DSB SY"
/* CTR_EL0.DminLine, bits [19:16]: log2 of the smallest D-line in words. */
#define MY_SHMEM_CTR_DMINLINE_SHIFT	16

static unsigned long my_shmem_insn_line(void)
{
	u64 ctr = read_sanitised_ftr_reg(SYS_CTR_EL0);

	return 4UL << ((ctr >> MY_SHMEM_CTR_DMINLINE_SHIFT) & 0xf);
}

static void my_shmem_insn_clean(unsigned long start, unsigned long end)
{
	unsigned long p;

	for (p = start & ~(my_shmem_line - 1); p < end; p += my_shmem_line)
		asm volatile("dc cvac, %0" : : "r" (p) : "memory");
	dsb(sy);	/* the cleans complete before anything that follows */
}

/*
 * The semantics of the kernel's dcache_inval_poc(): a line that the range
 * covers only in part also holds bytes outside it, which may be dirty and
 * must survive, so it is cleaned and invalidated (DC CIVAC); a line wholly
 * inside is only invalidated (DC IVAC): whatever the CPU left dirty there is
 * dropped, since the device's data in memory is what the caller wants.
 */
static void my_shmem_insn_inval(unsigned long start, unsigned long end)
{
	unsigned long mask = my_shmem_line - 1;
	unsigned long first = start & ~mask;	/* first line to invalidate */
	unsigned long tail = end & ~mask;	/* line holding @end, if any */
	unsigned long p;

	if (start & mask) {
		asm volatile("dc civac, %0" : : "r" (first) : "memory");
		first += my_shmem_line;
	}
	if ((end & mask) && tail >= first)
		asm volatile("dc civac, %0" : : "r" (tail) : "memory");
	for (p = first; p < tail; p += my_shmem_line)
		asm volatile("dc ivac, %0" : : "r" (p) : "memory");
	dsb(sy);	/* the invalidations complete before any later read */
}
#elif defined(CONFIG_X86_64)
#define MY_SHMEM_INSN_DESC	"CLWB / CLFLUSHOPT + MFENCE"

static unsigned long my_shmem_insn_line(void)
{
	return boot_cpu_data.x86_clflush_size;
}

static void my_shmem_insn_clean(unsigned long start, unsigned long end)
{
	unsigned long p;

	mb();	/* earlier stores are ordered before the write-backs */
	for (p = start & ~(my_shmem_line - 1); p < end; p += my_shmem_line)
		clwb((void *)p);
	mb();	/* CLWB is weakly ordered: complete it before returning */
}

/*
 * CLFLUSHOPT writes a dirty line back before it drops it: unlike arm64's
 * DC IVAC, nothing is ever discarded, at the edges or inside the range.
 */
static void my_shmem_insn_inval(unsigned long start, unsigned long end)
{
	unsigned long p;

	mb();	/* earlier stores are ordered before the flushes */
	for (p = start & ~(my_shmem_line - 1); p < end; p += my_shmem_line)
		clflushopt((void *)p);
	mb();	/* CLFLUSHOPT is weakly ordered: complete it before returning */
}
#else
#error "my_shmem supports arm64 and x86_64 only"
#endif

/*
 * The backend a call runs: the parameter's, except that a range without a
 * DMA mapping (a copy whose per-transfer mapping failed, see msi.c) cannot
 * go through the DMA API and gets the insn loop; the tracepoint names the
 * backend that ran.
 */
static unsigned int my_shmem_backend_for(dma_addr_t dma)
{
	unsigned int backend = READ_ONCE(my_shmem_backend);

	if (backend == MY_SHMEM_BACKEND_DMA && dma == DMA_MAPPING_ERROR)
		return MY_SHMEM_BACKEND_INSN;
	return backend;
}

static void my_shmem_clean(unsigned int backend, unsigned long start,
			   unsigned long end, dma_addr_t dma)
{
	switch (backend) {
	case MY_SHMEM_BACKEND_INSN:
		my_shmem_insn_clean(start, end);
		break;
	case MY_SHMEM_BACKEND_PMEM:
		my_shmem_pmem_wb((void *)start, end - start);
		break;
	case MY_SHMEM_BACKEND_KERNEL:
		my_shmem_kernel_clean(start, end);
		break;
	case MY_SHMEM_BACKEND_DMA:
		/* The CPU wrote the buffer; the device reads it next. */
		dma_sync_single_for_device(&my_shmem_dma_pdev->dev, dma,
					   end - start, DMA_BIDIRECTIONAL);
		break;
	default:
		break;
	}
}

/**
 * my_shmem_dcache_clean_poc() - write dirty lines of a range back to PoC
 * @start: first kernel virtual address
 * @end: address past the range
 * @dma: the range's DMA address on the module's device (a run's mapping
 *	from my_shmem_dma_map(), plus the offset of @start in it), or
 *	DMA_MAPPING_ERROR when the range has none
 *
 * Backend dma: dma_sync_single_for_device() over @dma (arm64: the kernel's
 * arch_sync_dma_for_device(), a clean to PoC; x86_64: no cache maintenance,
 * DMA is coherent).  Counted; traced as my_shmem:clean with its duration,
 * the clock read only while that event is enabled.
 */
noinline void my_shmem_dcache_clean_poc(unsigned long start, unsigned long end,
					dma_addr_t dma)
{
	unsigned int backend = my_shmem_backend_for(dma);
	bool timed = trace_clean_enabled();
	u64 t0 = 0;

	if (timed)
		t0 = ktime_get_ns();
	my_shmem_clean(backend, start, end, dma);
	if (timed)
		trace_clean(end - start, backend, ktime_get_ns() - t0);
	atomic_long_inc(&my_shmem_counters.cleans);
}
EXPORT_SYMBOL_GPL(my_shmem_dcache_clean_poc);

/**
 * my_shmem_dcache_push_poc() - the memory side of a simulated device write
 * @start: first kernel virtual address
 * @end: address past the range
 *
 * A device writing by DMA puts its data in memory; the CPU copy that stands
 * in for it leaves the data in the cache, where the invalidate that follows
 * (the driver's sync for the CPU) could discard it.  This cleans the range
 * so the data is at PoC first, as the device's would be: with the current
 * backend, except that dma uses the insn loop (the push is the device's
 * doing, not a sync of the driver, and must not show up in a trace of
 * arch_sync_dma_for_device()).  It is part of the simulated device, not of
 * the driver: not traced, not counted, and timed with the copy.
 */
void my_shmem_dcache_push_poc(unsigned long start, unsigned long end)
{
	unsigned int backend = READ_ONCE(my_shmem_backend);

	if (backend == MY_SHMEM_BACKEND_DMA)
		backend = MY_SHMEM_BACKEND_INSN;
	my_shmem_clean(backend, start, end, DMA_MAPPING_ERROR);
}

/**
 * my_shmem_dcache_inval_poc() - invalidate a range down to PoC
 * @start: first kernel virtual address
 * @end: address past the range
 * @dma: the range's DMA address, as for my_shmem_dcache_clean_poc()
 *
 * Lines only partly inside the range are cleaned before they are dropped,
 * so no byte outside the range is lost; dirty data inside it may be
 * discarded (arm64), as by the kernel's dcache_inval_poc().  Backend dma:
 * dma_sync_single_for_cpu() over @dma (arm64: arch_sync_dma_for_cpu(), that
 * same dcache_inval_poc(); x86_64: no cache maintenance).  Counted; traced
 * as my_shmem:inval with its duration, the clock read only while that event
 * is enabled.
 */
noinline void my_shmem_dcache_inval_poc(unsigned long start, unsigned long end,
					dma_addr_t dma)
{
	unsigned int backend = my_shmem_backend_for(dma);
	bool timed = trace_inval_enabled();
	u64 t0 = 0;

	if (timed)
		t0 = ktime_get_ns();
	switch (backend) {
	case MY_SHMEM_BACKEND_INSN:
		my_shmem_insn_inval(start, end);
		break;
	case MY_SHMEM_BACKEND_PMEM:
		my_shmem_pmem_inval((void *)start, end - start);
		break;
	case MY_SHMEM_BACKEND_KERNEL:
		my_shmem_kernel_inval(start, end);
		break;
	case MY_SHMEM_BACKEND_DMA:
		/* The device wrote the buffer; the CPU reads it next. */
		dma_sync_single_for_cpu(&my_shmem_dma_pdev->dev, dma,
					end - start, DMA_BIDIRECTIONAL);
		break;
	default:
		break;
	}
	if (timed)
		trace_inval(end - start, backend, ktime_get_ns() - t0);
	atomic_long_inc(&my_shmem_counters.invals);
}
EXPORT_SYMBOL_GPL(my_shmem_dcache_inval_poc);

/**
 * my_shmem_dma_map() - map pages for the dma backend, as a driver maps a buffer
 * @page: first page of a physically contiguous range
 * @size: bytes, from the start of @page
 * @dma: out: the DMA address, or DMA_MAPPING_ERROR when the module has no
 *	DMA device (then nothing is mapped and 0 is returned)
 *
 * Bidirectional (the device may read and write the buffer), and without
 * the CPU sync a mapping does by default (DMA_ATTR_SKIP_CPU_SYNC): cache
 * maintenance happens only in the wrappers, where it is timed.  Every
 * range is mapped whatever the current backend, so that the backend can be
 * switched at any time.
 *
 * Return: 0, or -ENOMEM when the DMA API refuses the mapping.
 */
int my_shmem_dma_map(struct page *page, size_t size, dma_addr_t *dma)
{
	*dma = DMA_MAPPING_ERROR;
	if (!my_shmem_dma_pdev)
		return 0;
	*dma = dma_map_page_attrs(&my_shmem_dma_pdev->dev, page, 0, size,
				  DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
	if (dma_mapping_error(&my_shmem_dma_pdev->dev, *dma)) {
		*dma = DMA_MAPPING_ERROR;
		return -ENOMEM;
	}
	return 0;
}

/**
 * my_shmem_backend_is_dma() - whether the dma backend is the current one
 *
 * For callers that map a range only for the call it is needed for (the
 * copies of a coherent segment's transfers): they skip the mapping when
 * another backend runs.  A switch to dma between this test and the call
 * makes that one call run the insn loop (see my_shmem_backend_for()).
 *
 * Return: true when the backend parameter is dma.
 */
bool my_shmem_backend_is_dma(void)
{
	return READ_ONCE(my_shmem_backend) == MY_SHMEM_BACKEND_DMA;
}

/**
 * my_shmem_dma_unmap() - undo my_shmem_dma_map()
 * @dma: what it returned (DMA_MAPPING_ERROR: nothing to do)
 * @size: the size it was given
 */
void my_shmem_dma_unmap(dma_addr_t dma, size_t size)
{
	if (dma == DMA_MAPPING_ERROR)
		return;
	dma_unmap_page_attrs(&my_shmem_dma_pdev->dev, dma, size,
			     DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
}

static bool my_shmem_backend_available(unsigned int b)
{
	switch (b) {
	case MY_SHMEM_BACKEND_PMEM:
		return my_shmem_pmem_wb && my_shmem_pmem_inval;
	case MY_SHMEM_BACKEND_KERNEL:
		return my_shmem_kernel_clean && my_shmem_kernel_inval;
	case MY_SHMEM_BACKEND_DMA:
		return my_shmem_dma_pdev;
	default:
		return true;
	}
}

static int my_shmem_backend_set(const char *val, const struct kernel_param *kp)
{
	int b = sysfs_match_string(my_shmem_backend_names, val);

	if (b < 0)
		return -EINVAL;
	/* Before init, symbols are not looked up yet: init checks. */
	if (my_shmem_cache_ready && !my_shmem_backend_available(b)) {
		pr_info("backend %s is not available on this kernel\n",
			my_shmem_backend_names[b]);
		return -ENODEV;
	}
	WRITE_ONCE(my_shmem_backend, b);
	if (my_shmem_cache_ready)
		pr_info("cache maintenance backend: %s\n",
			my_shmem_backend_names[b]);
	return 0;
}

static int my_shmem_backend_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  my_shmem_backend_names[READ_ONCE(my_shmem_backend)]);
}

const struct kernel_param_ops my_shmem_backend_ops = {
	.set = my_shmem_backend_set,
	.get = my_shmem_backend_get,
};

/* Drop the reference __symbol_get() took on the owner of @name. */
static void my_shmem_symbol_put(void *fn, const char *name)
{
	if (fn)
		__symbol_put(name);
}

/*
 * The dma backend's device: a platform device with no firmware description
 * and no driver, so no bus code configures its DMA: it uses the direct
 * mapping, and on arm64 it is not DMA-coherent (dma_default_coherent).  A
 * 64-bit mask, so that no page ever needs a bounce buffer, and no segment
 * limit, so that DMA-API debugging finds the mapping of a run of any order.
 */
static int my_shmem_dma_init(void)
{
	struct platform_device *pdev;
	int err;

	pdev = platform_device_register_simple("my_shmem_dma",
					       PLATFORM_DEVID_NONE, NULL, 0);
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	err = dma_coerce_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (err)
		goto err_unregister;
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);
	my_shmem_dma_pdev = pdev;
	return 0;

err_unregister:
	platform_device_unregister(pdev);
	return err;
}

/* Say what the dma backend times on this machine. */
static void my_shmem_dma_report(int err)
{
	if (err) {
		pr_notice("backend dma unavailable: registering its device failed (%d)\n",
			  err);
		return;
	}
	if (dev_is_dma_coherent(&my_shmem_dma_pdev->dev))
		pr_info("backend dma available: device %s is DMA-coherent: its syncs do no cache maintenance (the DMA API's cost alone)\n",
			dev_name(&my_shmem_dma_pdev->dev));
	else
		pr_info("backend dma available: device %s is not DMA-coherent: its syncs reach arch_sync_dma_for_device/for_cpu (clean/invalidate to PoC)\n",
			dev_name(&my_shmem_dma_pdev->dev));
}

/**
 * my_shmem_cache_init() - find the backends and settle the parameter
 *
 * A backend asked for at load time that this kernel lacks falls back to
 * insn, saying so in the kernel log.  The dma backend's device is
 * registered here, before any run exists.
 *
 * Return: 0.
 */
int my_shmem_cache_init(void)
{
	unsigned int want = READ_ONCE(my_shmem_backend);
	static const char * const missing[MY_SHMEM_NR_BACKENDS] = {
		[MY_SHMEM_BACKEND_PMEM] =
			"arch_wb_cache_pmem/arch_invalidate_pmem not exported by this kernel",
		[MY_SHMEM_BACKEND_KERNEL] =
			"__dcache_clean_poc/__dcache_inval_poc not exported by this kernel",
		[MY_SHMEM_BACKEND_DMA] = "its device could not be registered",
	};

	my_shmem_line = my_shmem_insn_line();
	my_shmem_pmem_wb = __symbol_get("arch_wb_cache_pmem");
	my_shmem_pmem_inval = __symbol_get("arch_invalidate_pmem");
	my_shmem_kernel_clean = __symbol_get("__dcache_clean_poc");
	my_shmem_kernel_inval = __symbol_get("__dcache_inval_poc");
	my_shmem_dma_report(my_shmem_dma_init());

	if (!my_shmem_backend_available(want)) {
		pr_notice("backend %s unavailable (%s), falling back to insn\n",
			  my_shmem_backend_names[want], missing[want]);
		WRITE_ONCE(my_shmem_backend, MY_SHMEM_BACKEND_INSN);
	}
	my_shmem_cache_ready = true;
	pr_info("cache maintenance backend: %s (insn = %s, %lu-byte lines; pmem %s; kernel %s; dma %s)\n",
		my_shmem_backend_names[READ_ONCE(my_shmem_backend)],
		MY_SHMEM_INSN_DESC, my_shmem_line,
		my_shmem_backend_available(MY_SHMEM_BACKEND_PMEM) ?
		"available" : "unavailable",
		my_shmem_backend_available(MY_SHMEM_BACKEND_KERNEL) ?
		"available" : "unavailable",
		my_shmem_backend_available(MY_SHMEM_BACKEND_DMA) ?
		"available" : "unavailable");
	return 0;
}

/**
 * my_shmem_cache_exit() - drop the references on the looked-up functions
 *
 * Also unregisters the dma backend's device: called after every segment,
 * and so every run and its DMA mapping, is gone.
 */
void my_shmem_cache_exit(void)
{
	my_shmem_cache_ready = false;
	if (my_shmem_dma_pdev) {
		platform_device_unregister(my_shmem_dma_pdev);
		my_shmem_dma_pdev = NULL;
	}
	my_shmem_symbol_put(my_shmem_kernel_inval, "__dcache_inval_poc");
	my_shmem_symbol_put(my_shmem_kernel_clean, "__dcache_clean_poc");
	my_shmem_symbol_put(my_shmem_pmem_inval, "arch_invalidate_pmem");
	my_shmem_symbol_put(my_shmem_pmem_wb, "arch_wb_cache_pmem");
}
