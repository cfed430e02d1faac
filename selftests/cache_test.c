// SPDX-License-Identifier: GPL-2.0
/*
 * Cache maintenance: the clean wrapper runs over every run a closing VMA
 * intersects (counter and tracepoint), MY_SHMEM_IOC_SYNC, the wrappers are
 * traceable functions, the backend parameter, the dma backend (the
 * streaming DMA API, down to arch_sync_dma_* on arm64), what an invalidate
 * leaves outside its range, the tracepoints' formats and their timing.
 */
#define _GNU_SOURCE
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "util.h"

FIXTURE(cache) {
	int fd;
	long saved_order;
	char saved_backend[32];
};

FIXTURE_SETUP(cache)
{
	self->fd = open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", MY_SHMEM_DEVICE, strerror(errno));
	self->saved_order = param_get("max_contiguous_alloc_order");
	ASSERT_LT(0, read_file(PARAM_DIR "backend", self->saved_backend,
			       sizeof(self->saved_backend)));
}

FIXTURE_TEARDOWN(cache)
{
	trace_event_on("clean", false);
	trace_event_on("inval", false);
	trace_write("current_tracer", "nop");
	trace_write("set_ftrace_filter", "");
	trace_write("set_graph_function", "");
	trace_write("options/funcgraph-irqs", "1");	/* the default */
	param_set("backend", self->saved_backend);
	set_order(self->saved_order);
	close(self->fd);
}

/*
 * Put function_graph on the functions listed in @roots (newline-separated)
 * and what they call of @roots and @also, nothing else: the whole kernel
 * under function_graph is slow. A timer interrupt landing inside a root
 * reads the clock too (seen under the arm64 debug kernel): interrupts stay
 * out of the graph. Returns 0 or -errno.
 */
static int graph_functions(const char *roots, const char *also)
{
	char filter[256];
	int err;

	snprintf(filter, sizeof(filter), "%s%s", roots, also);
	err = trace_write("options/funcgraph-irqs", "0");
	if (!err)
		err = trace_write("set_ftrace_filter", filter);
	if (!err)
		err = trace_write("set_graph_function", roots);
	if (!err)
		err = trace_write("current_tracer", "function_graph");
	return err;
}

/*
 * Closing a VMA cleans each intersecting run once, whole: a VMA covering
 * parts of three order-2 runs gives three cleans of 16 KiB each.
 */
TEST_F(cache, clean_runs_on_close)
{
	struct shm_stats st0, st1;
	unsigned long base, i;
	uint32_t *p;
	char needle[64];

	ASSERT_EQ(0, set_order(2));
	base = frontier(self->fd);
	p = map_pages(self->fd, base, 12, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < 12; i++)
		p[i * page_size() / sizeof(*p)] = THESIS_PATTERN;
	ASSERT_EQ(0, munmap(p, 12 * page_size()));

	p = map_pages(self->fd, base + 3, 6, PROT_READ);	/* runs 0, 1, 2 */
	ASSERT_NE(MAP_FAILED, p);
	if (!trace_event_on("clean", true))
		TH_LOG("no tracefs: checking the counter only");
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	ASSERT_EQ(0, munmap(p, 6 * page_size()));
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.cleans + 3, st1.cleans);
	if (trace_event_on("clean", false)) {
		snprintf(needle, sizeof(needle), "clean: size=%lu order=2 ",
			 4 * page_size());
		EXPECT_EQ(3, trace_count(needle));
	}
}

/* A VMA over offsets never backed cleans nothing. */
TEST_F(cache, close_of_unbacked_cleans_nothing)
{
	struct shm_stats st0, st1;
	void *p;

	p = map_pages(self->fd, frontier(self->fd) + 100, 50, PROT_READ);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	munmap(p, 50 * page_size());
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.cleans, st1.cleans);
}

/* MY_SHMEM_IOC_SYNC runs clean and/or invalidate over whole runs. */
TEST_F(cache, sync_ioctl)
{
	struct shm_stats st0, st1;
	struct my_shmem_sync req;
	unsigned long base;
	uint32_t *p;
	char needle[64];

	ASSERT_EQ(0, set_order(3));
	base = frontier(self->fd);
	p = map_pages(self->fd, base, 16, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = THESIS_PATTERN;
	p[8 * page_size() / sizeof(*p)] = THESIS_PATTERN;

	trace_event_on("inval", true);
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	req = (struct my_shmem_sync){
		.offset = (base + 1) * page_size(), .len = 9 * page_size(),
		.flags = MY_SHMEM_SYNC_INVAL | MY_SHMEM_SYNC_CLEAN,
	};
	ASSERT_EQ(0, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
	EXPECT_EQ(2, req.allocs);
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.invals + 2, st1.invals);
	EXPECT_EQ(st0.cleans + 2, st1.cleans);
	if (trace_event_on("inval", false)) {
		snprintf(needle, sizeof(needle), "inval: size=%lu order=3 ",
			 8 * page_size());
		EXPECT_EQ(2, trace_count(needle));
	}
	/* Past the frontier: nothing backed, nothing done. */
	req = (struct my_shmem_sync){
		.offset = (base + 64) * page_size(), .len = page_size(),
		.flags = MY_SHMEM_SYNC_INVAL,
	};
	ASSERT_EQ(0, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
	EXPECT_EQ(0, req.allocs);

	/* Bad requests. */
	req = (struct my_shmem_sync){ .offset = 1, .len = page_size(),
				      .flags = MY_SHMEM_SYNC_CLEAN };
	EXPECT_EQ(-1, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
	EXPECT_EQ(EINVAL, errno);
	req = (struct my_shmem_sync){ .len = page_size(), .flags = 4 };
	EXPECT_EQ(-1, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
	EXPECT_EQ(EINVAL, errno);
	req = (struct my_shmem_sync){ .len = 0, .flags = MY_SHMEM_SYNC_CLEAN };
	EXPECT_EQ(-1, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
	EXPECT_EQ(EINVAL, errno);
	req = (struct my_shmem_sync){ .offset = -page_size(), .len = 2 * page_size(),
				      .flags = MY_SHMEM_SYNC_CLEAN };
	EXPECT_EQ(-1, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO(MY_SHMEM_IOC_MAGIC, 0x7f), 0));
	EXPECT_EQ(ENOTTY, errno);
	munmap(p, 16 * page_size());
}

/*
 * An invalidate keeps every byte outside its range.  The insn backend does
 * what the kernel's dcache_inval_poc() does: on arm64, lines wholly inside
 * the range are invalidated (DC IVAC: dirty data there is dropped, the
 * device's data in memory wins) and a line only partly inside is cleaned
 * first (DC CIVAC); x86 (CLFLUSHOPT) always writes back.
 *
 * No path from user space hands the wrappers a range that starts or ends
 * inside a cache line: MY_SHMEM_IOC_SYNC takes page-aligned offsets and
 * covers whole runs, as do VMA close and the coherent segments' transfers.
 * So what is tested is the edge that exists, a run's: with order-0 runs,
 * three neighbouring pages are written through the mapping just before the
 * middle one is invalidated, and the pages on either side must still hold
 * what was written, for the insn and the dma backends; the event must show
 * exactly that one run.  On real arm64 hardware an invalidate that reached
 * past the run (into a neighbour's dirty lines) loses the data; under QEMU
 * TCG cache instructions do nothing to memory, so there only the range in
 * the event can show it.
 */
TEST_F(cache, inval_keeps_bytes_outside_range)
{
	static const char * const names[] = { "insn", "dma" };
	unsigned long base, words = page_size() / sizeof(uint32_t), i;
	struct shm_stats st0, st1;
	struct my_shmem_sync req;
	char needle[64];
	unsigned int b;
	uint32_t *p;
	bool traced;

	if (under_tcg())
		TH_LOG("under QEMU TCG the data checks cannot fail (cache instructions are no-ops there); the range checks can");
	ASSERT_EQ(0, set_order(0));
	for (b = 0; b < sizeof(names) / sizeof(names[0]); b++) {
		ASSERT_EQ(0, param_set("backend", names[b])) TH_LOG("%s", names[b]);
		base = frontier(self->fd);
		p = map_pages(self->fd, base, 3, PROT_READ | PROT_WRITE);
		ASSERT_NE(MAP_FAILED, p);
		for (i = 0; i < 3 * words; i++)
			p[i] = THESIS_PATTERN ^ (i + b);	/* every line dirty */
		traced = trace_event_on("inval", true);
		ASSERT_EQ(0, get_stats(self->fd, &st0));
		req = (struct my_shmem_sync){ .offset = (base + 1) * page_size(),
					      .len = page_size(),
					      .flags = MY_SHMEM_SYNC_INVAL };
		ASSERT_EQ(0, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
		ASSERT_EQ(0, get_stats(self->fd, &st1));
		EXPECT_EQ(1, req.allocs);
		EXPECT_EQ(st0.invals + 1, st1.invals);
		for (i = 0; i < words; i++) {
			ASSERT_EQ(THESIS_PATTERN ^ (i + b), p[i])
				TH_LOG("%s: word %lu before the range lost", names[b], i);
			ASSERT_EQ(THESIS_PATTERN ^ (i + 2 * words + b), p[i + 2 * words])
				TH_LOG("%s: word %lu after the range lost", names[b], i);
		}
		if (traced && trace_event_on("inval", false)) {
			snprintf(needle, sizeof(needle), "inval: size=%lu order=0 backend=%s ",
				 page_size(), names[b]);
			EXPECT_EQ(1, trace_count(needle)) TH_LOG("%s", names[b]);
			EXPECT_EQ(1, trace_count("inval: ")) TH_LOG("%s", names[b]);
		}
		munmap(p, 3 * page_size());
	}
}

/* ftrace can hook both wrappers (they are real, not inlined, functions). */
TEST_F(cache, wrappers_are_traceable)
{
	FILE *f = fopen(TRACEFS "available_filter_functions", "r");
	bool clean = false, inval = false;
	char line[256];

	if (!f)
		SKIP(return, "no %savailable_filter_functions (tracefs not mounted)", TRACEFS);
	while (fgets(line, sizeof(line), f)) {
		clean |= !strncmp(line, "my_shmem_dcache_clean_poc ", 26);
		inval |= !strncmp(line, "my_shmem_dcache_inval_poc ", 26);
	}
	fclose(f);
	EXPECT_TRUE(clean);
	EXPECT_TRUE(inval);
}

/* Does /proc/kallsyms list @name (a function of the kernel proper)? */
static bool kernel_has_symbol(const char *name)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], sym[256];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*c %255s", sym) == 1 && !strcmp(sym, name);
	fclose(f);
	return found;
}

/*
 * Each backend that this kernel offers is the one that runs (the clean and
 * inval events name the backend that executed); unknown names are refused.
 */
TEST_F(cache, backends)
{
	static const char * const names[] = { "none", "insn", "pmem", "dma" };
	struct my_shmem_sync req;
	char buf[32], needle[64];
	const char *last = NULL;
	unsigned int i;
	uint32_t *p;
	int err;

	ASSERT_EQ(0, set_order(0));
	req = (struct my_shmem_sync){ .offset = 0, .len = page_size(),
				      .flags = MY_SHMEM_SYNC_CLEAN | MY_SHMEM_SYNC_INVAL };
	p = map_pages(self->fd, 0, 1, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = THESIS_PATTERN;	/* offset 0 is backed */
	munmap(p, page_size());
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		/* pmem exists where the kernel exports arch_wb_cache_pmem(). */
		if (!strcmp(names[i], "pmem") && !kernel_has_symbol("arch_wb_cache_pmem")) {
			EXPECT_EQ(-ENODEV, param_set("backend", names[i]));
			TH_LOG("pmem: this kernel has no arch_wb_cache_pmem(): refused");
			continue;
		}
		ASSERT_EQ(0, param_set("backend", names[i])) TH_LOG("%s", names[i]);
		last = names[i];
		ASSERT_LT(0, read_file(PARAM_DIR "backend", buf, sizeof(buf)));
		EXPECT_EQ(0, strncmp(buf, names[i], strlen(names[i])));
		if (!trace_event_on("clean", true) || !trace_event_on("inval", true))
			SKIP(return, "no tracefs at %s: cannot see which backend ran", TRACEFS);
		ASSERT_EQ(0, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
		EXPECT_EQ(1, req.allocs);
		trace_event_on("clean", false);
		trace_event_on("inval", false);
		snprintf(needle, sizeof(needle), " backend=%s ", names[i]);
		EXPECT_EQ(2, trace_count(needle)) TH_LOG("backend %s did not run", names[i]);
		EXPECT_EQ(2, trace_count(" backend=")) TH_LOG("backend %s", names[i]);
	}
	EXPECT_EQ(-EINVAL, param_set("backend", "bogus"));
	/* Stock kernels do not export __dcache_clean_poc: refused, unchanged. */
	err = param_set("backend", "kernel");
	if (kernel_has_symbol("__dcache_clean_poc")) {
		EXPECT_EQ(0, err) TH_LOG("patched kernel, but backend=kernel refused");
	} else {
		EXPECT_EQ(-ENODEV, err);
		ASSERT_LT(0, read_file(PARAM_DIR "backend", buf, sizeof(buf)));
		snprintf(needle, sizeof(needle), "%s\n", last);
		EXPECT_EQ(0, strcmp(buf, needle));
	}
}

/* The guest's architecture: MY_SHMEM_ARCH (scripts/vm-run) or uname -m. */
static const char *guest_arch(void)
{
	static struct utsname u;
	const char *arch = getenv("MY_SHMEM_ARCH");

	if (arch && *arch)
		return arch;
	return uname(&u) ? "unknown" : u.machine;
}

/*
 * Backend dma on both architectures: every run is synced through its DMA
 * mapping (the events name dma for every call, none fell back), the
 * counters move, and data written through the mapping survives a clean
 * then an invalidate (the CPU's data reaches memory first) and the clean
 * of munmap.
 */
TEST_F(cache, dma_backend_round_trip)
{
	unsigned long base, words = page_size() / sizeof(uint32_t), i;
	struct shm_stats st0, st1;
	struct my_shmem_sync req;
	char needle[64];
	uint32_t *p;
	bool traced;

	ASSERT_EQ(0, param_set("backend", "dma"))
		TH_LOG("backend=dma refused on %s: see the module's load message in dmesg", guest_arch());
	ASSERT_EQ(0, set_order(2));
	base = frontier(self->fd);
	p = map_pages(self->fd, base, 12, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < 12 * words; i++)
		p[i] = THESIS_PATTERN ^ i;
	traced = trace_event_on("clean", true) && trace_event_on("inval", true);
	if (!traced)
		TH_LOG("no tracefs: checking counters and data only");

	ASSERT_EQ(0, get_stats(self->fd, &st0));
	req = (struct my_shmem_sync){ .offset = base * page_size(),
				      .len = 12 * page_size(),
				      .flags = MY_SHMEM_SYNC_CLEAN };
	ASSERT_EQ(0, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
	EXPECT_EQ(3, req.allocs);
	req.flags = MY_SHMEM_SYNC_INVAL;
	ASSERT_EQ(0, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
	EXPECT_EQ(3, req.allocs);
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.cleans + 3, st1.cleans);
	EXPECT_EQ(st0.invals + 3, st1.invals);
	for (i = 0; i < 12 * words; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ i, p[i]) TH_LOG("word %lu lost by clean + inval", i);
	}
	if (traced) {
		snprintf(needle, sizeof(needle), "clean: size=%lu order=2 backend=dma ",
			 4 * page_size());
		EXPECT_EQ(3, trace_count(needle));
		snprintf(needle, sizeof(needle), "inval: size=%lu order=2 backend=dma ",
			 4 * page_size());
		EXPECT_EQ(3, trace_count(needle));
		EXPECT_EQ(6, trace_count(" backend="));
		trace_event_on("clean", true);	/* empties the buffer */
	}

	ASSERT_EQ(0, munmap(p, 12 * page_size()));	/* cleans the 3 runs */
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	EXPECT_EQ(st1.cleans + 3, st0.cleans);
	if (traced) {
		EXPECT_EQ(3, trace_count("clean: "));
		EXPECT_EQ(3, trace_count(" backend=dma "));
	}
	p = map_pages(self->fd, base, 12, PROT_READ);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < 12 * words; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ i, p[i]) TH_LOG("word %lu lost after munmap", i);
	}
	munmap(p, 12 * page_size());
}

/*
 * On arm64 the dma backend reaches the kernel's own cache maintenance:
 * each clean is one call of arch_sync_dma_for_device() and each invalidate
 * one of arch_sync_dma_for_cpu(), functions ftrace can hook (the latency
 * runner times them).  On x86_64 DMA is coherent: the kernel has no such
 * functions and the syncs do no cache maintenance.
 *
 * The calls are counted in the graphs of the module's two wrappers rather
 * than by filtering on this process's pid. Clearing set_ftrace_pid can
 * leave a CPU ignoring every task until the next pid write: 6.12's
 * clear_ftrace_pids() resets each CPU's flag after unregistering the
 * sched_switch probe but before waiting for a probe still running on
 * another CPU, which may set it again. A suspect (not reproduced) for the
 * empty function_graph batches timing_only_when_enabled has seen.
 */
TEST_F(cache, dma_reaches_arch_sync)
{
	bool arm64 = !strcmp(guest_arch(), "aarch64");
	struct my_shmem_sync req;
	uint32_t *p;
	long n;

	if (access(TRACEFS "set_graph_function", W_OK))
		SKIP(return, "no %sset_graph_function (function_graph tracer missing)", TRACEFS);
	if (!arm64) {
		EXPECT_FALSE(trace_has_function("arch_sync_dma_for_device"))
			TH_LOG("%s has arch_sync_dma_for_device: its DMA is not coherent?", guest_arch());
		SKIP(return, "%s: DMA is coherent, the syncs reach no arch_sync_dma_* (checked absent)",
		     guest_arch());
	}
	ASSERT_TRUE(trace_has_function("arch_sync_dma_for_device"));
	ASSERT_TRUE(trace_has_function("arch_sync_dma_for_cpu"));
	ASSERT_EQ(0, param_set("backend", "dma"));
	ASSERT_EQ(0, set_order(1));
	req = (struct my_shmem_sync){ .offset = frontier(self->fd) * page_size(),
				      .len = 2 * page_size(),
				      .flags = MY_SHMEM_SYNC_CLEAN | MY_SHMEM_SYNC_INVAL };
	p = map_pages(self->fd, req.offset / page_size(), 2, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = THESIS_PATTERN;	/* backs one order-1 run */

	ASSERT_EQ(0, graph_functions("my_shmem_dcache_clean_poc\nmy_shmem_dcache_inval_poc\n",
				     "arch_sync_dma_for_device\narch_sync_dma_for_cpu\n"));
	ASSERT_EQ(0, trace_write("trace", ""));
	ASSERT_EQ(0, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
	ASSERT_EQ(1, req.allocs);
	/* Read before the tracer goes: switching tracers empties the buffer. */
	n = trace_count("my_shmem_dcache_");
	ASSERT_LE(2, n) TH_LOG("function_graph saw %ld wrapper lines for one clean and one inval", n);
	n = trace_count("arch_sync_dma_for_device");
	EXPECT_EQ(1, n) TH_LOG("clean of one run: %ld calls of arch_sync_dma_for_device", n);
	n = trace_count("arch_sync_dma_for_cpu");
	EXPECT_EQ(1, n) TH_LOG("inval of one run: %ld calls of arch_sync_dma_for_cpu", n);
	ASSERT_EQ(0, trace_write("current_tracer", "nop"));
	munmap(p, 2 * page_size());
}

/*
 * A coherent segment's transfers under backend dma: the home pages go
 * through their runs' mappings, the nodes' copies through a mapping made
 * for the transfer; every clean and invalidate is a DMA sync (none falls
 * back to insn for want of a mapping) and the data moves intact.
 */
TEST_F(cache, dma_backend_coherent_transfers)
{
	struct my_shmem_get get = {
		.size = sizeof(get), .key = 0x646d6100ULL + (uint64_t)getpid(),
		.bytes = page_size(), .mode = MY_SHMEM_MODE_COHERENT, .perm = 0600,
		.flags = MY_SHMEM_GET_CREATE | MY_SHMEM_GET_EXCL,
	};
	struct my_shmem_delete del = { .size = sizeof(del) };
	unsigned long words = page_size() / sizeof(uint32_t), i;
	volatile uint32_t *a, *b;
	int fa, fb;

	ASSERT_EQ(0, param_set("backend", "dma"));
	fa = open_dev();
	fb = open_dev();
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, ioctl(fa, MY_SHMEM_IOC_GET, &get)) TH_LOG("GET: %s", strerror(errno));
	del.id = get.id;
	get.flags = 0;
	ASSERT_EQ(0, ioctl(fb, MY_SHMEM_IOC_GET, &get)) TH_LOG("GET: %s", strerror(errno));
	a = mmap(NULL, page_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fa, 0);
	b = mmap(NULL, page_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fb, 0);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	if (!trace_event_on("clean", true) || !trace_event_on("inval", true))
		SKIP(return, "no tracefs at %s: cannot see which backend ran", TRACEFS);

	for (i = 0; i < words; i++)	/* A: I -> M, fetched from home */
		a[i] = THESIS_PATTERN ^ i;
	for (i = 0; i < words; i++)	/* B: I -> S, A written back home */
		ASSERT_EQ(THESIS_PATTERN ^ i, b[i]) TH_LOG("word %lu", i);
	trace_event_on("clean", false);
	trace_event_on("inval", false);
	/* Three transfers: home -> A, A -> home, home -> B. */
	EXPECT_EQ(3, trace_count("clean: "));
	EXPECT_EQ(3, trace_count("inval: "));
	EXPECT_EQ(6, trace_count(" backend=dma "));

	munmap((void *)a, page_size());
	munmap((void *)b, page_size());
	ioctl(fa, MY_SHMEM_IOC_DELETE, &del);
	close(fb);
	close(fa);
}

/*
 * Every enum the events print symbolically has its TRACE_DEFINE_ENUM():
 * the format files then carry numbers, which trace-cmd and perf map back
 * to names; a bare enumerator name there is something they cannot decode.
 */
TEST_F(cache, trace_formats_decode_enums)
{
	static const char * const events[] = { "clean", "inval", "msi" };
	char path[256], buf[8192];
	const char *fmt;
	unsigned int i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(path, sizeof(path), TRACEFS "events/my_shmem/%s/format", events[i]);
		if (read_file(path, buf, sizeof(buf)) < 0)
			SKIP(return, "no %s (tracefs not mounted)", path);
		fmt = strstr(buf, "print fmt:");
		ASSERT_NE(NULL, fmt) TH_LOG("%s", path);
		EXPECT_EQ(NULL, strstr(fmt, "MY_SHMEM_"))
			TH_LOG("%s: an enumerator was not resolved: %s", events[i], fmt);
	}
	/* The backend is printed by name, dma included. */
	snprintf(path, sizeof(path), TRACEFS "events/my_shmem/clean/format");
	ASSERT_LT(0, read_file(path, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "\"dma\"")) TH_LOG("%s", buf);
}

/*
 * The wrappers read the clock only while their event is enabled: graphed
 * by function_graph, my_shmem_dcache_inval_poc() calls ktime_get() when
 * my_shmem:inval is on and never when it is off; the call is counted
 * either way.
 *
 * Each half makes TIMING_CALLS calls. A softirq run at the end of an
 * interrupt that lands inside the wrapper is part of its graph (the
 * funcgraph-irqs option leaves out hard interrupts only) and may read the
 * clock. A wrapper that reads the clock while its event is off does so on
 * every call, so "fewer reads than half the calls" still tells the two
 * apart.
 *
 * Under the aarch64 debug kernel on a loaded host, function_graph now and
 * then recorded nothing of a batch: none of its 16 wrapper calls once, none
 * of its 32 clock reads (the same calls' inval events in the buffer)
 * another time, in 96 runs of cache_test; once more in CI. Cause not found.
 * A batch whose wrapper calls were not all recorded says nothing about the
 * clock: it is logged and made again, up to TIMING_TRIES times.
 */
#define TIMING_CALLS 16
#define TIMING_TRIES 3

/*
 * TIMING_CALLS invalidations, graphed whole; the number of clock reads in
 * them, or -1 (logged).
 */
static long timing_batch(struct __test_metadata *_metadata, int fd,
			 struct my_shmem_sync *req, const char *half)
{
	struct shm_stats st0, st1;
	long calls;
	int try, i;

	for (try = 1; try <= TIMING_TRIES; try++) {
		if (trace_write("trace", "") || get_stats(fd, &st0))
			goto err;
		for (i = 0; i < TIMING_CALLS; i++)
			if (ioctl(fd, MY_SHMEM_IOC_SYNC, req))
				goto err;
		if (get_stats(fd, &st1))
			goto err;
		EXPECT_EQ(st0.invals + TIMING_CALLS, st1.invals);
		calls = trace_count("my_shmem_dcache_inval_poc");
		if (calls >= TIMING_CALLS)
			return trace_count("ktime_get");
		TH_LOG("%s, try %d: function_graph recorded %ld of %d wrapper calls",
		       half, try, calls, TIMING_CALLS);
	}
	TH_LOG("%s: no batch fully graphed in %d tries", half, TIMING_TRIES);
	return -1;
err:
	TH_LOG("%s: emptying the trace, GET_STATS or SYNC failed: %s",
	       half, strerror(errno));
	return -1;
}

TEST_F(cache, timing_only_when_enabled)
{
	struct my_shmem_sync req;
	uint32_t *p;
	long reads;

	if (access(TRACEFS "set_graph_function", W_OK))
		SKIP(return, "no %sset_graph_function (function_graph tracer missing)", TRACEFS);
	if (!trace_has_function("ktime_get"))
		SKIP(return, "ktime_get() is not traceable on this kernel");
	ASSERT_EQ(0, param_set("backend", "none"));
	ASSERT_EQ(0, set_order(0));
	req = (struct my_shmem_sync){ .offset = frontier(self->fd) * page_size(),
				      .len = page_size(), .flags = MY_SHMEM_SYNC_INVAL };
	p = map_pages(self->fd, req.offset / page_size(), 1, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = THESIS_PATTERN;

	ASSERT_EQ(0, graph_functions("my_shmem_dcache_inval_poc\n", "ktime_get\n"));
	ASSERT_TRUE(trace_event_on("inval", false));
	reads = timing_batch(_metadata, self->fd, &req, "event off");
	ASSERT_LE(0, reads);
	EXPECT_GT(TIMING_CALLS / 2, reads)
		TH_LOG("event off, clock read anyway: %ld ktime_get in %d calls", reads, TIMING_CALLS);
	if (reads && reads < TIMING_CALLS / 2)
		TH_LOG("event off: %ld ktime_get in %d calls, fewer than one per call: not the wrapper's own",
		       reads, TIMING_CALLS);

	ASSERT_TRUE(trace_event_on("inval", true));
	reads = timing_batch(_metadata, self->fd, &req, "event on");
	ASSERT_LE(0, reads);
	EXPECT_LE(2 * TIMING_CALLS, reads)
		TH_LOG("event on: %ld clock reads in %d calls, want 2 per call", reads, TIMING_CALLS);
	EXPECT_EQ(TIMING_CALLS, trace_count("inval: size="));
	ASSERT_EQ(0, trace_write("current_tracer", "nop"));
	munmap(p, page_size());
}

TEST_HARNESS_MAIN
