// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation: lazy runs of 2^order pages, mixed orders, the order
 * parameter, the module-wide cap, many threads faulting one range.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>

#include "kselftest_harness.h"
#include "util.h"

FIXTURE(alloc) {
	int fd;
	long saved_order;
	long saved_max_pages;
	long saved_seg0_pages;
};

FIXTURE_VARIANT(alloc) {
	unsigned int order;
	unsigned long pages;
};

/* Sizes that end inside a run, so the last run is only partly used. */
FIXTURE_VARIANT_ADD(alloc, order0) { .order = 0, .pages = 37 };
FIXTURE_VARIANT_ADD(alloc, order2) { .order = 2, .pages = 37 };
FIXTURE_VARIANT_ADD(alloc, order4) { .order = 4, .pages = 100 };
FIXTURE_VARIANT_ADD(alloc, order8) { .order = 8, .pages = 600 };
FIXTURE_VARIANT_ADD(alloc, order10) { .order = 10, .pages = 2100 };

/* Tests without variants: the same state, saved and restored the same way. */
FIXTURE(params) {
	int fd;
	long saved_order;
	long saved_max_pages;
	long saved_seg0_pages;
};

#define SAVE_PARAMS()							\
	do {								\
		self->fd = open_dev();					\
		ASSERT_LE(0, self->fd)					\
			TH_LOG("open %s: %s", MY_SHMEM_DEVICE, strerror(errno)); \
		self->saved_order = param_get("max_contiguous_alloc_order"); \
		self->saved_max_pages = param_get("max_pages");		\
		self->saved_seg0_pages = param_get("seg0_pages");	\
		ASSERT_LE(0, self->saved_order);			\
		ASSERT_LT(0, self->saved_seg0_pages);			\
		ASSERT_LT(0, self->saved_max_pages);			\
	} while (0)

#define RESTORE_PARAMS()						\
	do {								\
		char buf[32];						\
									\
		snprintf(buf, sizeof(buf), "%ld", self->saved_max_pages); \
		param_set("max_pages", buf);				\
		snprintf(buf, sizeof(buf), "%ld", self->saved_seg0_pages); \
		param_set("seg0_pages", buf);				\
		set_order(self->saved_order);				\
		close(self->fd);					\
	} while (0)

FIXTURE_SETUP(alloc) { SAVE_PARAMS(); }
FIXTURE_TEARDOWN(alloc) { RESTORE_PARAMS(); }
FIXTURE_SETUP(params) { SAVE_PARAMS(); }
FIXTURE_TEARDOWN(params) { RESTORE_PARAMS(); }

/*
 * Nothing is allocated at mmap time; the first touch allocates one run and
 * maps all of it; touching every page allocates exactly the runs needed,
 * one fault per run.  A fragmented guest may serve a lower order than asked:
 * check_runs() then holds the counters to order_fallbacks instead.
 */
TEST_F(alloc, lazy_counts_per_order)
{
	struct shm_stats st0, st1, st2;
	unsigned long base, i, first;
	long runs;
	char why[128];
	uint32_t *p;

	ASSERT_EQ(0, set_order(variant->order));
	base = frontier(self->fd);
	ASSERT_EQ(0, get_stats(self->fd, &st0));

	p = map_pages(self->fd, base, variant->pages, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.pages_in_use, st1.pages_in_use);
	EXPECT_EQ(0, resident_pages(p, variant->pages));

	p[0] = THESIS_PATTERN;
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	ASSERT_EQ(1, check_runs(&st0, &st1, variant->order, 1, why, sizeof(why)))
		TH_LOG("first touch: %s", why);
	first = st1.pages_in_use - st0.pages_in_use;
	EXPECT_EQ(st0.faults + 1, st1.faults);
	EXPECT_EQ(first < variant->pages ? first : variant->pages,
		  resident_pages(p, variant->pages));

	for (i = 0; i < variant->pages; i++)
		p[i * page_size() / sizeof(*p)] = THESIS_PATTERN ^ i;
	ASSERT_EQ(0, get_stats(self->fd, &st2));
	runs = check_runs(&st0, &st2, variant->order, variant->pages, why, sizeof(why));
	ASSERT_LT(0, runs) TH_LOG("all pages: %s", why);
	if (st2.order_fallbacks != st0.order_fallbacks)
		TH_LOG("%llu of %ld runs fell back below order %u",
		       (unsigned long long)(st2.order_fallbacks - st0.order_fallbacks),
		       runs, variant->order);
	EXPECT_EQ(st0.faults + runs, st2.faults);
	EXPECT_EQ(variant->pages, resident_pages(p, variant->pages));
	for (i = 0; i < variant->pages; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ i, p[i * page_size() / sizeof(*p)]);
	}
	/* Fresh pages are zeroed: the word after the pattern. */
	EXPECT_EQ(0, p[1]);
	ASSERT_EQ(0, munmap(p, variant->pages * page_size()));
}

/* Changing the order between faults gives a segment of mixed runs. */
TEST_F(params, mixed_orders)
{
	static const struct { unsigned int order; unsigned long touch; } steps[] = {
		{ 0, 0 }, { 0, 1 }, { 0, 2 },	/* three order-0 runs: 0..2 */
		{ 2, 3 },			/* one order-2 run: 3..6 */
		{ 4, 7 },			/* one order-4 run: 7..22 */
		{ 0, 30 },			/* eight order-0 runs: 23..30 */
	};
	struct shm_stats st0, st1;
	unsigned long base, i, n = 64;
	uint32_t *p, *q;

	base = frontier(self->fd);
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	p = map_pages(self->fd, base, n, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		ASSERT_EQ(0, set_order(steps[i].order));
		p[steps[i].touch * page_size() / sizeof(*p)] = THESIS_PATTERN + i;
	}
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.allocs_by_order[0] + 11, st1.allocs_by_order[0]);
	EXPECT_EQ(st0.allocs_by_order[2] + 1, st1.allocs_by_order[2]);
	EXPECT_EQ(st0.allocs_by_order[4] + 1, st1.allocs_by_order[4]);
	EXPECT_EQ(st0.pages_in_use + 31, st1.pages_in_use);
	/* The last fault allocated 23..30 but maps only the run holding 30. */
	EXPECT_EQ(3 + 4 + 16 + 1, resident_pages(p, n));

	/* A second, independent mapping sees the same pages. */
	q = map_pages(self->fd, base, n, PROT_READ);
	ASSERT_NE(MAP_FAILED, q);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		EXPECT_EQ(THESIS_PATTERN + i,
			  q[steps[i].touch * page_size() / sizeof(*q)]);
	}
	munmap(q, n * page_size());
	munmap(p, n * page_size());
}

/* Bad writes fail with EINVAL and leave the value as it was. */
TEST_F(params, order_param_validation)
{
	static const char * const bad[] = {
		"11", "-1", "abc", "4x", "\n", "99999999999999999999", "1024",
	};
	unsigned int i;

	ASSERT_EQ(0, set_order(3));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, param_set("max_contiguous_alloc_order", bad[i]))
			TH_LOG("writing \"%s\"", bad[i]);
		EXPECT_EQ(3, param_get("max_contiguous_alloc_order"));
	}
	EXPECT_EQ(0, param_set("max_contiguous_alloc_order", "10"));
	EXPECT_EQ(10, param_get("max_contiguous_alloc_order"));
	EXPECT_EQ(0, param_set("max_contiguous_alloc_order", "0"));
	EXPECT_EQ(0, param_get("max_contiguous_alloc_order"));
}

static sigjmp_buf sigbus_jmp;
static volatile siginfo_t sigbus_info;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigbus_info = *si;
	siglongjmp(sigbus_jmp, 1);
}

/* A fault beyond the module-wide cap gets SIGBUS; the process can go on. */
TEST_F(params, cap_sigbus)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	struct shm_stats st0, st1;
	unsigned long base, i, allowed = 8;
	volatile uint32_t *p;
	char buf[32];

	ASSERT_EQ(0, set_order(0));
	base = frontier(self->fd);
	snprintf(buf, sizeof(buf), "%lu", base + allowed);
	ASSERT_EQ(0, param_set("max_pages", buf));
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	p = map_pages(self->fd, base, 2 * allowed, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));

	for (i = 0; i < allowed; i++)
		p[i * page_size() / sizeof(*p)] = THESIS_PATTERN;
	if (sigsetjmp(sigbus_jmp, 1) == 0) {
		p[allowed * page_size() / sizeof(*p)] = THESIS_PATTERN;
		ASSERT_TRUE(0) TH_LOG("write beyond the cap did not raise SIGBUS");
	}
	EXPECT_EQ(BUS_ADRERR, sigbus_info.si_code);
	EXPECT_EQ((void *)&p[allowed * page_size() / sizeof(*p)],
		  sigbus_info.si_addr);
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.sigbus + 1, st1.sigbus);
	EXPECT_EQ(st0.pages_in_use + allowed, st1.pages_in_use);
	/* Raising the cap makes the same page usable. */
	snprintf(buf, sizeof(buf), "%lu", base + 2 * allowed);
	ASSERT_EQ(0, param_set("max_pages", buf));
	p[allowed * page_size() / sizeof(*p)] = THESIS_PATTERN;
	EXPECT_EQ(THESIS_PATTERN, p[allowed * page_size() / sizeof(*p)]);
	signal(SIGBUS, SIG_DFL);
	munmap((void *)p, 2 * allowed * page_size());
}

/* Write "base + n" to a page-count parameter. */
static int param_set_pages(const char *name, unsigned long base, unsigned long n)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", base + n);
	return param_set(name, buf);
}

/* Touch one word; true if it raised SIGBUS (caught), false if it did not. */
static bool touch_sigbus(volatile uint32_t *w)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	bool hit = true;

	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(sigbus_jmp, 1) == 0) {
		*w = THESIS_PATTERN;
		hit = false;
	}
	signal(SIGBUS, SIG_DFL);
	return hit;
}

/*
 * The cap is charged at the order actually allocated: with room for 5 pages,
 * an order-3 request falls back to a run of 4, then of 1 (two fallback
 * allocations, however many orders each skipped), and only the page after
 * them gets SIGBUS.
 */
TEST_F(params, cap_charged_at_the_order_allocated)
{
	struct shm_stats st0, st1;
	unsigned long base, stride = page_size() / sizeof(uint32_t);
	uint32_t *p;

	ASSERT_EQ(0, set_order(3));
	base = frontier(self->fd);
	ASSERT_EQ(0, param_set_pages("max_pages", base, 5));
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	p = map_pages(self->fd, base, 8, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);

	EXPECT_FALSE(touch_sigbus(&p[0])) TH_LOG("room for 5 pages, order 3: SIGBUS");
	EXPECT_FALSE(touch_sigbus(&p[4 * stride])) TH_LOG("room for 1 page: SIGBUS");
	EXPECT_TRUE(touch_sigbus(&p[5 * stride])) TH_LOG("over the cap: no SIGBUS");
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.allocs_by_order[2] + 1, st1.allocs_by_order[2]);
	EXPECT_EQ(st0.allocs_by_order[0] + 1, st1.allocs_by_order[0]);
	EXPECT_EQ(st0.allocs_by_order[3], st1.allocs_by_order[3]);
	EXPECT_EQ(st0.order_fallbacks + 2, st1.order_fallbacks);
	EXPECT_EQ(st0.pages_in_use + 5, st1.pages_in_use);
	EXPECT_EQ(st0.sigbus + 1, st1.sigbus);
	munmap(p, 8 * page_size());
}

/* Total RAM in pages, from /proc/meminfo (MemTotal is totalram_pages). */
static long ram_pages(void)
{
	char buf[4096], *m;

	if (read_file("/proc/meminfo", buf, sizeof(buf)) < 0)
		return -1;
	m = strstr(buf, "MemTotal:");
	return m ? strtol(m + 9, NULL, 10) * 1024 / page_size() : -1;
}

/*
 * max_pages is a count of pages up to LONG_MAX (a larger one used to make
 * every charge fail); 0 means the default, half of RAM, at run time as at
 * load.
 */
TEST_F(params, max_pages_validation)
{
	static const char * const bad[] = {
		"9223372036854775808", "18446744073709551615", "-1", "abc", "\n",
	};
	uint32_t *p;
	unsigned int i;

	ASSERT_EQ(0, param_set("max_pages", "9223372036854775807"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, param_set("max_pages", bad[i])) TH_LOG("\"%s\"", bad[i]);
		EXPECT_EQ(9223372036854775807L, param_get("max_pages"));
	}
	/* The largest cap still lets faults through. */
	p = map_pages(self->fd, frontier(self->fd), 1, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_FALSE(touch_sigbus(p));
	munmap(p, page_size());

	ASSERT_EQ(0, param_set("max_pages", "0"));
	EXPECT_EQ(ram_pages() / 2, param_get("max_pages"));
}

/*
 * Segment 0 has a size (seg0_pages): a mapping past it is refused, and a
 * fault past it (the size lowered under an existing mapping) gets SIGBUS,
 * so one far touch cannot allocate without bound for everyone.
 */
TEST_F(params, seg0_size_bounds_the_work)
{
	struct shm_stats st0, st1;
	unsigned long base, stride = page_size() / sizeof(uint32_t);
	uint32_t *p;

	ASSERT_EQ(0, set_order(0));
	base = frontier(self->fd);
	ASSERT_EQ(0, param_set_pages("seg0_pages", base, 16));
	EXPECT_EQ((long)base + 16, param_get("seg0_pages"));
	p = map_pages(self->fd, base, 17, PROT_READ | PROT_WRITE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = map_pages(self->fd, base, 16, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_FALSE(touch_sigbus(&p[3 * stride]));

	ASSERT_EQ(0, param_set_pages("seg0_pages", base, 8));
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	EXPECT_TRUE(touch_sigbus(&p[12 * stride])) TH_LOG("fault past the size: no SIGBUS");
	EXPECT_FALSE(touch_sigbus(&p[3 * stride])) TH_LOG("backed page lost");
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.sigbus + 1, st1.sigbus);
	EXPECT_EQ(st0.pages_in_use, st1.pages_in_use);
	munmap(p, 16 * page_size());

	EXPECT_EQ(-EINVAL, param_set("seg0_pages", "0"));
	EXPECT_EQ(-EINVAL, param_set("seg0_pages", "x"));
	EXPECT_EQ((long)base + 8, param_get("seg0_pages"));
}

/* The alloc and fault tracepoints fire with the run's offset and order. */
TEST_F(params, alloc_and_fault_tracepoints)
{
	unsigned long base;
	uint32_t *p;
	char needle[96];

	ASSERT_EQ(0, set_order(3));
	base = frontier(self->fd);
	p = map_pages(self->fd, base, 16, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	if (!trace_event_on("alloc", true) || !trace_event_on("fault", true))
		SKIP(goto out, "no tracefs at %s", TRACEFS);
	p[0] = THESIS_PATTERN;
	p[8 * page_size() / sizeof(*p)] = THESIS_PATTERN;
	trace_event_on("alloc", false);
	trace_event_on("fault", false);
	snprintf(needle, sizeof(needle), "alloc: pgoff=%lu order=3 pages=8 ns=", base);
	EXPECT_EQ(1, trace_count(needle));
	snprintf(needle, sizeof(needle), "alloc: pgoff=%lu order=3 pages=8 ns=", base + 8);
	EXPECT_EQ(1, trace_count(needle));
	snprintf(needle, sizeof(needle), "fault: pgoff=%lu order=3 mapped=8 allocated=1 ns=",
		 base + 8);
	EXPECT_EQ(1, trace_count(needle));
	EXPECT_EQ(2, trace_count("fault: pgoff="));
out:
	munmap(p, 16 * page_size());
}

struct toucher {
	uint32_t *p;
	unsigned long pages;
	unsigned int id;
	pthread_barrier_t *start;
};

static void *touch_all(void *arg)
{
	struct toucher *t = arg;
	unsigned long i, stride = page_size() / sizeof(uint32_t);

	pthread_barrier_wait(t->start);
	/* Each thread walks the range from its own starting point. */
	for (i = 0; i < t->pages; i++) {
		unsigned long pg = (i + t->id * 37) % t->pages;

		__atomic_fetch_add(&t->p[pg * stride + 1], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Many threads faulting one range at once: one allocation per offset. */
TEST_F(alloc, threads_fault_one_range)
{
	enum { NTHREADS = 8 };
	pthread_t th[NTHREADS];
	char why[128];
	struct toucher t[NTHREADS];
	pthread_barrier_t start;
	struct shm_stats st0, st1;
	unsigned long base, i;
	uint32_t *p, *q;

	ASSERT_EQ(0, set_order(variant->order));
	base = frontier(self->fd);
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	p = map_pages(self->fd, base, variant->pages, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pthread_barrier_init(&start, NULL, NTHREADS));
	for (i = 0; i < NTHREADS; i++) {
		t[i] = (struct toucher){ p, variant->pages, i, &start };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, touch_all, &t[i]));
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);

	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_LT(0, check_runs(&st0, &st1, variant->order, variant->pages,
				why, sizeof(why))) TH_LOG("%s", why);
	/* Every increment landed on the one shared page of its offset. */
	q = map_pages(self->fd, base, variant->pages, PROT_READ);
	ASSERT_NE(MAP_FAILED, q);
	for (i = 0; i < variant->pages; i++) {
		ASSERT_EQ(NTHREADS, q[i * page_size() / sizeof(*q) + 1])
			TH_LOG("page %lu", i);
	}
	munmap(q, variant->pages * page_size());
	munmap(p, variant->pages * page_size());
}

TEST_HARNESS_MAIN
