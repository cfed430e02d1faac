// SPDX-License-Identifier: GPL-2.0
/*
 * Cache maintenance: the clean wrapper runs over every run a closing VMA
 * intersects (counter and tracepoint), MY_SHMEM_IOC_SYNC, the wrappers are
 * traceable functions, and the backend parameter.
 */
#define _GNU_SOURCE
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
	param_set("backend", self->saved_backend);
	set_order(self->saved_order);
	close(self->fd);
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
 * Invalidation alone never loses data the CPU wrote: the insn backend uses
 * clean+invalidate (DC CIVAC; CLFLUSHOPT on x86), so dirty lines are written
 * back before they are dropped.  Only real caches can show it: under QEMU
 * TCG the instructions do nothing to memory, so a discarding invalidate
 * (DC IVAC) would pass as well, and the test is skipped there.
 */
TEST_F(cache, inval_keeps_dirty_data)
{
	unsigned long base, words = page_size() / sizeof(uint32_t), i;
	struct my_shmem_sync req;
	uint32_t *p;

	if (under_tcg())
		SKIP(return, "under QEMU TCG cache instructions do nothing to memory: data loss by an invalidate cannot be observed (runs on real hardware)");
	ASSERT_EQ(0, param_set("backend", "insn"));
	ASSERT_EQ(0, set_order(2));
	base = frontier(self->fd);
	p = map_pages(self->fd, base, 4, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < 4 * words; i++)
		p[i] = THESIS_PATTERN ^ i;	/* dirty every line of the run */
	req = (struct my_shmem_sync){ .offset = base * page_size(), .len = 4 * page_size(),
				      .flags = MY_SHMEM_SYNC_INVAL };
	ASSERT_EQ(0, ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req));
	EXPECT_EQ(1, req.allocs);
	for (i = 0; i < 4 * words; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ i, p[i]) TH_LOG("word %lu lost by invalidate", i);
	}
	munmap(p, 4 * page_size());
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
	static const char * const names[] = { "none", "insn", "pmem" };
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

TEST_HARNESS_MAIN
