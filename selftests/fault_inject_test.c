// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures, injected: failslab and fail_page_alloc, restricted to
 * this test's task (/proc/self/make-it-fail) and, in the "module" variants,
 * to allocations made with the module's code on the stack (the stack-trace
 * filter), fail while a seeded random workload maps, faults, forks, unmaps,
 * remaps and syncs.  Every failure must end in a clean SIGBUS (a fault) or
 * ENOMEM (a system call), the data that was written must still be there,
 * and the counters must balance afterwards.  The "task" variant fails every
 * allocation the task makes inside mmap/munmap/mremap/ioctl, exercising the
 * kernel's error paths around the module's VMA callbacks.
 *
 * Needs CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS
 * and CONFIG_FAULT_INJECTION_STACKTRACE_FILTER (the debug kernels of
 * scripts/build-debug-kernel); skipped, saying so, elsewhere.
 *
 * Reproducible: the workload is a function of the seed (MY_SHMEM_FI_SEED,
 * default 1, mixed with the variant name), printed with the results.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "util.h"

#define DEBUGFS		"/sys/kernel/debug/"
#define SPAN_PAGES	4096UL	/* segment offsets the workload uses */
#define MAX_WIN		8
#define TIMES		1000000L	/* failures allowed; what is left tells how many */

FIXTURE(inject) {
	int fd;
	long saved_order;
	char why[256];
	unsigned long text_start, text_end;
	int mif;	/* /proc/self/make-it-fail */
};

FIXTURE_VARIANT(inject) {
	const char *name;	/* the variant's, mixed into the seed */
	bool slab;		/* failslab */
	bool page;		/* fail_page_alloc */
	unsigned int probability;	/* percent */
	unsigned int interval;
	bool task;		/* task filter only, around system calls */
	unsigned int ops;
	long min_injected;
};

FIXTURE_VARIANT_ADD(inject, module_slab_p10) {
	.name = "module_slab_p10", .slab = true, .probability = 10, .interval = 1, .ops = 400, .min_injected = 20 };
FIXTURE_VARIANT_ADD(inject, module_slab_p100_i3) {
	.name = "module_slab_p100_i3", .slab = true, .probability = 100, .interval = 3, .ops = 400, .min_injected = 20 };
FIXTURE_VARIANT_ADD(inject, module_page_p10) {
	.name = "module_page_p10", .page = true, .probability = 10, .interval = 1, .ops = 400, .min_injected = 20 };
FIXTURE_VARIANT_ADD(inject, module_page_p50_i2) {
	.name = "module_page_p50_i2", .page = true, .probability = 50, .interval = 2, .ops = 400, .min_injected = 20 };
FIXTURE_VARIANT_ADD(inject, module_both_p25) {
	.name = "module_both_p25", .slab = true, .page = true, .probability = 25, .interval = 1, .ops = 400,
	.min_injected = 20 };
FIXTURE_VARIANT_ADD(inject, task_both_p20) {
	.name = "task_both_p20", .slab = true, .page = true, .probability = 20, .interval = 1, .task = true,
	.ops = 400, .min_injected = 20 };

static int attr_set(const char *attr, const char *knob, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), DEBUGFS "%s/%s", attr, knob);
	return write_file(path, val);
}

static long attr_get(const char *attr, const char *knob)
{
	char path[256];

	snprintf(path, sizeof(path), DEBUGFS "%s/%s", attr, knob);
	return read_long(path);
}

/* The module's text, from /proc/kallsyms: [lowest, highest symbol + 4 KiB). */
static bool module_text(unsigned long *start, unsigned long *end)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], type, name[256], mod[64];
	unsigned long a;

	*start = ~0UL;
	*end = 0;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s %63s", &a, &type, name, mod) != 4 ||
		    strcmp(mod, "[my_shmem]") || (type != 't' && type != 'T'))
			continue;
		if (a < *start)
			*start = a;
		if (a > *end)
			*end = a;
	}
	fclose(f);
	*end += 4096;
	return *start != ~0UL && *start;
}

/* Configure one fault attribute; probability 0 disarms it. */
static int arm(const char *attr, const FIXTURE_VARIANT(inject) *v,
	       unsigned long start, unsigned long end, unsigned int probability)
{
	char buf[32];
	int err = 0;

	err |= attr_set(attr, "probability", "0");
	err |= attr_set(attr, "verbose", "0");
	err |= attr_set(attr, "task-filter", "Y");
	err |= attr_set(attr, "ignore-gfp-wait", "N");
	err |= attr_set(attr, "space", "0");
	snprintf(buf, sizeof(buf), "%u", v->interval);
	err |= attr_set(attr, "interval", buf);
	snprintf(buf, sizeof(buf), "%ld", TIMES);
	err |= attr_set(attr, "times", buf);
	if (!strcmp(attr, "fail_page_alloc")) {
		err |= attr_set(attr, "ignore-gfp-highmem", "N");
		err |= attr_set(attr, "min-order", "0");
	}
	err |= attr_set(attr, "stacktrace-depth", "32");
	snprintf(buf, sizeof(buf), "%lu", v->task ? 0 : start);
	err |= attr_set(attr, "require-start", buf);
	snprintf(buf, sizeof(buf), "%lu", v->task ? ~0UL : end);
	err |= attr_set(attr, "require-end", buf);
	snprintf(buf, sizeof(buf), "%u", probability);
	err |= attr_set(attr, "probability", buf);
	return err;
}

FIXTURE_SETUP(inject)
{
	self->fd = open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", MY_SHMEM_DEVICE, strerror(errno));
	self->saved_order = param_get("max_contiguous_alloc_order");
	self->mif = -1;
	if (access(DEBUGFS "failslab/probability", W_OK) ||
	    access(DEBUGFS "fail_page_alloc/probability", W_OK))
		snprintf(self->why, sizeof(self->why),
			 "no %sfailslab or fail_page_alloc (kernel without CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and CONFIG_FAULT_INJECTION_DEBUG_FS: use scripts/build-debug-kernel)",
			 DEBUGFS);
	else if (access(DEBUGFS "failslab/require-start", W_OK))
		snprintf(self->why, sizeof(self->why),
			 "no stack-trace filter (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)");
	else if (!module_text(&self->text_start, &self->text_end))
		snprintf(self->why, sizeof(self->why),
			 "cannot find my_shmem's text in /proc/kallsyms");
	else if ((self->mif = open("/proc/self/make-it-fail", O_WRONLY | O_CLOEXEC)) < 0)
		snprintf(self->why, sizeof(self->why), "/proc/self/make-it-fail: %s",
			 strerror(errno));
}

FIXTURE_TEARDOWN(inject)
{
	if (self->mif >= 0) {
		pwrite(self->mif, "0", 1, 0);
		close(self->mif);
	}
	attr_set("failslab", "probability", "0");
	attr_set("fail_page_alloc", "probability", "0");
	set_order(self->saved_order);
	close(self->fd);
}

/* What every writer puts in the first word of page @pgoff. */
static uint32_t value_of(unsigned long pgoff)
{
	return (uint32_t)(pgoff * 2654435761UL) ^ THESIS_PATTERN;
}

/*
 * Unmap whatever of the device this process still maps, per /proc/self/maps;
 * returns the number of VMAs found.  A failed mremap or munmap may leave a
 * VMA the workload no longer tracks (the kernel keeps the old mapping when it
 * cannot unmap it), so the counters are compared with what the kernel has.
 */
static int unmap_device_vmas(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long start[64], end[64];
	char line[512];
	int n = 0, i;

	if (!f)
		return -1;
	while (n < 64 && fgets(line, sizeof(line), f))
		if (strstr(line, MY_SHMEM_DEVICE) &&
		    sscanf(line, "%lx-%lx", &start[n], &end[n]) == 2)
			n++;
	fclose(f);
	for (i = 0; i < n; i++)
		munmap((void *)start[i], end[i] - start[i]);
	return n;
}

struct window {
	uint32_t *addr;
	unsigned long pgoff, pages;
};

static sigjmp_buf bus_jmp;

static void on_bus(int sig)
{
	siglongjmp(bus_jmp, 1);
}

/*
 * Write and read back the first word of a page; returns 0, 1 for a SIGBUS,
 * or -1 if the word read back is not the one written.
 */
static int touch(uint32_t *w, unsigned long pgoff)
{
	if (sigsetjmp(bus_jmp, 1))
		return 1;
	*(volatile uint32_t *)w = value_of(pgoff);
	return *(volatile uint32_t *)w == value_of(pgoff) ? 0 : -1;
}

static void set_fail(int mif, bool on)
{
	pwrite(mif, on ? "1" : "0", 1, 0);
}

TEST_F_TIMEOUT(inject, random_workload, 600)
{
	const char *seed_env = getenv("MY_SHMEM_FI_SEED");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : 1;
	unsigned long stride = page_size() / sizeof(uint32_t), base, i, step;
	struct sigaction sa = { .sa_handler = on_bus };
	struct window win[MAX_WIN];
	struct shm_stats st0, st1;
	long slab0 = 0, page0 = 0, slab_n = 0, page_n = 0, sum;
	unsigned long sigbus_seen = 0, nwin = 0, errnos = 0;
	bool task = variant->task;
	int stray;
	const char *name = variant->name;
	bool verbose = getenv("MY_SHMEM_FI_VERBOSE") != NULL;
	unsigned int o;

	if (self->why[0])
		SKIP(return, "%s", self->why);
	for (i = 0; name[i]; i++)
		seed = seed * 31 + name[i];
	prng_seed(seed | 1);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	base = frontier(self->fd);
	ASSERT_GE((unsigned long)param_get("seg0_pages"), base + 2 * SPAN_PAGES)
		TH_LOG("segment 0 too small (seg0_pages)");
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	if (variant->slab) {
		ASSERT_EQ(0, arm("failslab", variant, self->text_start, self->text_end,
				 variant->probability));
		slab0 = attr_get("failslab", "times");
	}
	if (variant->page) {
		ASSERT_EQ(0, arm("fail_page_alloc", variant, self->text_start,
				 self->text_end, variant->probability));
		page0 = attr_get("fail_page_alloc", "times");
	}
	/* Module variants: everything below fails only in the module's code. */
	if (!task)
		set_fail(self->mif, true);

	for (step = 0; step < variant->ops; step++) {
		unsigned int op = prng_below(7);
		struct window *w = nwin ? &win[prng_below(nwin)] : NULL;
		unsigned long off, len;
		void *p;
		int r;

		if (verbose && w)
			TH_LOG("step %lu: op %u on window %p pgoff %lu pages %lu", step, op,
			       w->addr, w->pgoff, w->pages);

		if (!w || (op == 0 && nwin < MAX_WIN)) {
			/* mmap a window somewhere in the span */
			len = 1 + prng_below(64);
			off = base + prng_below(SPAN_PAGES - len);
			if (task)
				set_fail(self->mif, true);
			p = map_pages(self->fd, off, len, PROT_READ | PROT_WRITE);
			if (task)
				set_fail(self->mif, false);
			if (p == MAP_FAILED) {
				ASSERT_EQ(ENOMEM, errno) TH_LOG("step %lu: mmap: %s", step, strerror(errno));
				errnos++;
				continue;
			}
			win[nwin++] = (struct window){ p, off, len };
			continue;
		}
		switch (op) {
		case 0:
		case 1:	/* touch a few pages, at a random order */
			set_order(prng_below(4));
			for (i = 0; i < 4; i++) {
				off = prng_below(w->pages);
				r = touch(&w->addr[off * stride], w->pgoff + off);
				ASSERT_LE(0, r) TH_LOG("step %lu: page %lu reads back wrong data",
						       step, w->pgoff + off);
				sigbus_seen += r;
			}
			break;
		case 2: {	/* fork: the child touches and exits */
			int status;
			pid_t pid = fork();

			if (pid < 0) {
				ASSERT_TRUE(errno == ENOMEM || errno == EAGAIN)
					TH_LOG("step %lu: fork: %s", step, strerror(errno));
				errnos++;
				break;
			}
			if (pid == 0) {
				int n = 0;

				for (i = 0; i < 4; i++) {
					off = prng_below(w->pages);
					r = touch(&w->addr[off * stride], w->pgoff + off);
					if (r < 0)
						_exit(100);
					n += r;
				}
				_exit(n);
			}
			ASSERT_EQ(pid, waitpid(pid, &status, 0));
			ASSERT_TRUE(WIFEXITED(status)) TH_LOG("step %lu: child status %#x", step, status);
			ASSERT_GT(100, WEXITSTATUS(status)) TH_LOG("step %lu: child read wrong data", step);
			sigbus_seen += WEXITSTATUS(status);
			break;
		}
		case 3:	/* munmap a prefix, a suffix, the middle or all of it */
			off = prng_below(w->pages);
			len = 1 + prng_below(w->pages - off);
			if (task)
				set_fail(self->mif, true);
			r = munmap(w->addr + off * stride, len * page_size());
			if (task)
				set_fail(self->mif, false);
			if (r) {
				ASSERT_EQ(ENOMEM, errno) TH_LOG("step %lu: munmap: %s", step, strerror(errno));
				errnos++;
				break;
			}
			if (off + len < w->pages && off && nwin < MAX_WIN)
				win[nwin++] = (struct window){ w->addr + (off + len) * stride,
							       w->pgoff + off + len,
							       w->pages - off - len };
			else if (off + len < w->pages && off)
				munmap(w->addr + (off + len) * stride,
				       (w->pages - off - len) * page_size());
			if (off) {
				w->pages = off;
			} else if (off + len < w->pages) {
				w->addr += len * stride;
				w->pgoff += len;
				w->pages -= len;
			} else {
				*w = win[--nwin];
			}
			break;
		case 4:	/* mremap: grow, moving if need be */
			len = w->pages + 1 + prng_below(16);
			if (w->pgoff + len > base + SPAN_PAGES)
				break;
			if (task)
				set_fail(self->mif, true);
			p = mremap(w->addr, w->pages * page_size(), len * page_size(), MREMAP_MAYMOVE);
			if (task)
				set_fail(self->mif, false);
			/*
			 * ENOMEM also without injection: 6.12 does not grow a
			 * VMA with ->close in place. EFAULT in the task variant:
			 * a munmap that failed may have left the window split in
			 * two VMAs, and mremap does not cross VMAs.
			 */
			if (p == MAP_FAILED) {
				ASSERT_TRUE(errno == ENOMEM || (task && errno == EFAULT))
					TH_LOG("step %lu: mremap: %s", step, strerror(errno));
				errnos++;
				break;
			}
			w->addr = p;
			w->pages = len;
			break;
		case 5:
		case 6: {	/* clean and invalidate the window's runs */
			struct my_shmem_sync req = {
				.offset = w->pgoff * page_size(), .len = w->pages * page_size(),
				.flags = MY_SHMEM_SYNC_CLEAN | MY_SHMEM_SYNC_INVAL,
			};

			if (task)
				set_fail(self->mif, true);
			r = ioctl(self->fd, MY_SHMEM_IOC_SYNC, &req);
			if (task)
				set_fail(self->mif, false);
			ASSERT_EQ(0, r) TH_LOG("step %lu: sync: %s", step, strerror(errno));
			break;
		}
		}
	}
	set_fail(self->mif, false);
	if (variant->slab)
		slab_n = slab0 - attr_get("failslab", "times");
	if (variant->page)
		page_n = page0 - attr_get("fail_page_alloc", "times");
	attr_set("failslab", "probability", "0");
	attr_set("fail_page_alloc", "probability", "0");
	for (i = 0; i < nwin; i++) {
		ASSERT_EQ(0, munmap(win[i].addr, win[i].pages * page_size()));
	}
	stray = unmap_device_vmas();
	if (stray)
		TH_LOG("%d device VMA(s) left by failed system calls, unmapped", stray);
	if (!task) {
		EXPECT_EQ(0, stray) TH_LOG("no system call fails in the module variants");
	}

	/* Everything written is still there; nothing else is. */
	{
		unsigned long end = frontier(self->fd), pg;
		uint32_t *all;

		if (end > base) {
			all = map_pages(self->fd, base, end - base, PROT_READ);
			ASSERT_NE(MAP_FAILED, all);
			for (pg = 0; pg < end - base; pg++) {
				uint32_t v = all[pg * stride];

				ASSERT_TRUE(v == 0 || v == value_of(base + pg))
					TH_LOG("page %lu holds %#x", base + pg, v);
			}
			munmap(all, (end - base) * page_size());
		}
	}

	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.vmas, st1.vmas);
	EXPECT_EQ(st0.files, st1.files);
	EXPECT_EQ(st0.sigbus + sigbus_seen, st1.sigbus);
	for (sum = 0, o = 0; o < MY_SHMEM_NR_ORDERS; o++)
		sum += st1.allocs_by_order[o] << o;
	EXPECT_EQ((long)st1.pages_in_use, sum) TH_LOG("pages_in_use does not match the runs");
	printf("# fault-injection: %s: injected %ld failures (failslab %ld, fail_page_alloc %ld); %lu SIGBUS, %lu failed system calls; seed %#llx, %u ops\n",
	       name, slab_n + page_n, slab_n, page_n, sigbus_seen, errnos,
	       (unsigned long long)seed, variant->ops);
	fflush(stdout);
	EXPECT_LE(variant->min_injected, slab_n + page_n);
}

/*
 * A mapping error is SIGBUS: with the page-table allocation inside the
 * module's vm_insert_pages() failing once, the fault on an already backed
 * run gets SIGBUS (it used to return VM_FAULT_OOM, which the arch fault
 * handler "retries" after a warning on 6.1, and which is not the OOM
 * killer's business anyway).  The mapping is 2 MiB aligned in a reservation
 * never touched, so its page table does not exist yet.
 */
TEST_F(inject, map_error_is_sigbus)
{
	const unsigned long span = 2UL << 20;
	struct sigaction sa = { .sa_handler = on_bus };
	struct shm_stats st0, st1;
	char *reserve, *aligned;
	unsigned long base;
	long times0, injected;
	uint32_t *p, *q;
	int r;

	if (self->why[0])
		SKIP(return, "%s", self->why);
	if (variant->task || !variant->page || variant->slab || variant->interval != 1)
		SKIP(return, "runs once, in the module_page_p10 variant");
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	ASSERT_EQ(0, set_order(0));
	base = frontier(self->fd);
	q = map_pages(self->fd, base, 1, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, q);
	q[0] = THESIS_PATTERN;			/* backs offset base */
	reserve = mmap(NULL, 2 * span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, reserve);
	aligned = (char *)(((unsigned long)reserve + span - 1) & ~(span - 1));
	p = mmap(aligned, page_size(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, (off_t)(base * page_size()));
	ASSERT_EQ((void *)aligned, p);

	ASSERT_EQ(0, get_stats(self->fd, &st0));
	ASSERT_EQ(0, arm("fail_page_alloc", variant, self->text_start, self->text_end, 100));
	ASSERT_EQ(0, attr_set("fail_page_alloc", "times", "1"));
	times0 = attr_get("fail_page_alloc", "times");
	set_fail(self->mif, true);
	r = sigsetjmp(bus_jmp, 1) ? 1 : (*(volatile uint32_t *)p, 0);
	set_fail(self->mif, false);
	injected = times0 - attr_get("fail_page_alloc", "times");
	attr_set("fail_page_alloc", "probability", "0");
	ASSERT_EQ(1, injected) TH_LOG("the page-table allocation was not failed");
	EXPECT_EQ(1, r) TH_LOG("a failed page-table allocation did not give SIGBUS");
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(st0.sigbus + 1, st1.sigbus);
	/* Without the failure the same access works and sees the data. */
	EXPECT_EQ(THESIS_PATTERN, *(volatile uint32_t *)p);
	munmap(reserve, 2 * span);
	munmap(q, page_size());
}

struct racer {
	uint32_t *p;
	unsigned long pgoff, pages, seed;
	pthread_barrier_t *go;
	unsigned long sigbus;
	unsigned char *written;	/* per page: a write completed without SIGBUS */
};

static __thread sigjmp_buf racer_jmp;

static void on_racer_bus(int sig)
{
	siglongjmp(racer_jmp, 1);
}

static void *racer_run(void *arg)
{
	struct racer *r = arg;
	unsigned long stride = page_size() / sizeof(uint32_t), i;
	volatile unsigned long k;

	pthread_barrier_wait(r->go);
	for (i = 0; i < r->pages; i++) {
		k = (i * 7 + r->seed) % r->pages;
		if (sigsetjmp(racer_jmp, 1)) {
			r->sigbus++;
			continue;
		}
		r->p[k * stride] = value_of(r->pgoff + k);
		__atomic_store_n(&r->written[k], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * Threads fault the same fresh offsets at once while index stores fail:
 * a run whose store failed half-way is freed at once, so no other fault may
 * ever have found it (lookups stop at the published frontier).  A thread
 * that did would map pages that are not (or no longer) the segment's: KASAN,
 * DEBUG_VM, or the data check below through a fresh mapping (a write that
 * completed is missing, or a page shows another offset's data) catches it.
 * The window is a few microseconds wide: a race test, not a proof; the
 * mutation check (selftests/mutations/2-*.patch) records how often it wins.
 */
TEST_F_TIMEOUT(inject, threads_race_failing_stores, 600)
{
	enum { NTHREADS = 4, ROUNDS = 100, PAGES = 96 };
	unsigned long stride = page_size() / sizeof(uint32_t), base, i, round;
	struct sigaction sa = { .sa_handler = on_racer_bus };
	struct racer r[NTHREADS];
	pthread_t th[NTHREADS];
	pthread_barrier_t go;
	long times0, injected;
	unsigned long sigbus = 0;
	unsigned char written[PAGES];
	uint32_t *p;

	if (self->why[0])
		SKIP(return, "%s", self->why);
	if (variant->task || !variant->slab || variant->page)
		SKIP(return, "runs in the module failslab variants");
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	ASSERT_EQ(0, arm("failslab", variant, self->text_start, self->text_end,
			 variant->probability));
	times0 = attr_get("failslab", "times");
	for (round = 0; round < ROUNDS; round++) {
		set_order(round % 4);
		base = frontier(self->fd);
		p = map_pages(self->fd, base, PAGES, PROT_READ | PROT_WRITE);
		ASSERT_NE(MAP_FAILED, p);
		ASSERT_EQ(0, pthread_barrier_init(&go, NULL, NTHREADS));
		memset(written, 0, sizeof(written));
		set_fail(self->mif, true);	/* inherited by the threads */
		for (i = 0; i < NTHREADS; i++) {
			r[i] = (struct racer){ p, base, PAGES, i * 31 + round, &go, 0, written };
			ASSERT_EQ(0, pthread_create(&th[i], NULL, racer_run, &r[i]));
		}
		for (i = 0; i < NTHREADS; i++) {
			pthread_join(th[i], NULL);
			sigbus += r[i].sigbus;
		}
		set_fail(self->mif, false);
		pthread_barrier_destroy(&go);
		munmap(p, PAGES * page_size());
		p = map_pages(self->fd, base, PAGES, PROT_READ);	/* the segment's pages */
		ASSERT_NE(MAP_FAILED, p);
		for (i = 0; i < PAGES; i++) {
			uint32_t v = p[i * stride];

			ASSERT_TRUE(v == value_of(base + i) || (v == 0 && !written[i]))
				TH_LOG("round %lu: page %lu holds %#x (written: %d)", round,
				       base + i, v, written[i]);
		}
		munmap(p, PAGES * page_size());
	}
	injected = times0 - attr_get("failslab", "times");
	attr_set("failslab", "probability", "0");
	printf("# fault-injection: %s: threads: injected %ld failures; %lu SIGBUS; %d rounds of %d threads\n",
	       variant->name, injected, sigbus, ROUNDS, NTHREADS);
	fflush(stdout);
	EXPECT_LT(0, injected);
}

TEST_HARNESS_MAIN
