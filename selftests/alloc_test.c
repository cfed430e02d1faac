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
};

#define SAVE_PARAMS()							\
	do {								\
		self->fd = open_dev();					\
		ASSERT_LE(0, self->fd)					\
			TH_LOG("open %s: %s", MY_SHMEM_DEVICE, strerror(errno)); \
		self->saved_order = param_get("max_contiguous_alloc_order"); \
		self->saved_max_pages = param_get("max_pages");		\
		ASSERT_LE(0, self->saved_order);			\
		ASSERT_LT(0, self->saved_max_pages);			\
	} while (0)

#define RESTORE_PARAMS()						\
	do {								\
		char buf[32];						\
									\
		snprintf(buf, sizeof(buf), "%ld", self->saved_max_pages); \
		param_set("max_pages", buf);				\
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
 * one fault per run.
 */
TEST_F(alloc, lazy_counts_per_order)
{
	unsigned long run = 1UL << variant->order;
	unsigned long runs = (variant->pages + run - 1) / run;
	struct my_shmem_stats st0, st1, st2;
	unsigned long base, i;
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
	EXPECT_EQ(st0.allocs_by_order[variant->order] + 1,
		  st1.allocs_by_order[variant->order]);
	EXPECT_EQ(st0.pages_in_use + run, st1.pages_in_use);
	EXPECT_EQ(st0.faults + 1, st1.faults);
	EXPECT_EQ(run < variant->pages ? run : variant->pages,
		  resident_pages(p, variant->pages));

	for (i = 0; i < variant->pages; i++)
		p[i * page_size() / sizeof(*p)] = THESIS_PATTERN ^ i;
	ASSERT_EQ(0, get_stats(self->fd, &st2));
	EXPECT_EQ(st0.allocs_by_order[variant->order] + runs,
		  st2.allocs_by_order[variant->order]);
	EXPECT_EQ(st0.pages_in_use + runs * run, st2.pages_in_use);
	EXPECT_EQ(st0.faults + runs, st2.faults);
	EXPECT_EQ(variant->pages, resident_pages(p, variant->pages));
	for (i = 0; i < variant->pages; i++)
		ASSERT_EQ(THESIS_PATTERN ^ i, p[i * page_size() / sizeof(*p)]);
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
	struct my_shmem_stats st0, st1;
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
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		EXPECT_EQ(THESIS_PATTERN + i,
			  q[steps[i].touch * page_size() / sizeof(*q)]);
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
	struct my_shmem_stats st0, st1;
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
	unsigned long run = 1UL << variant->order;
	unsigned long runs = (variant->pages + run - 1) / run;
	pthread_t th[NTHREADS];
	struct toucher t[NTHREADS];
	pthread_barrier_t start;
	struct my_shmem_stats st0, st1;
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
	EXPECT_EQ(st0.allocs_by_order[variant->order] + runs,
		  st1.allocs_by_order[variant->order]);
	EXPECT_EQ(st0.pages_in_use + runs * run, st1.pages_in_use);
	/* Every increment landed on the one shared page of its offset. */
	q = map_pages(self->fd, base, variant->pages, PROT_READ);
	ASSERT_NE(MAP_FAILED, q);
	for (i = 0; i < variant->pages; i++)
		ASSERT_EQ(NTHREADS, q[i * page_size() / sizeof(*q) + 1])
			TH_LOG("page %lu", i);
	munmap(q, variant->pages * page_size());
	munmap(p, variant->pages * page_size());
}

TEST_HARNESS_MAIN
