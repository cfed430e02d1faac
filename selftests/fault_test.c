// SPDX-License-Identifier: GPL-2.0
/*
 * Faults that cannot finish normally: a task killed while the kernel faults
 * on its behalf (a uaccess into an unbacked offset), and a far touch that
 * must not hold every other faulting task for its whole duration.
 */
#define _GNU_SOURCE
#include <signal.h>

#include "kselftest_harness.h"
#include "util.h"

/* Runs the far toucher needs: long enough to be caught in the middle. */
#define FAR_PAGES	30000UL

FIXTURE(far) {
	int fd;
	long saved_order;
	long saved_max_pages;
	unsigned long base;
	long start;
	uint32_t *p;
	bool too_small;
};

/* SKIP() in a fixture's setup does not stop the test (6.1's harness). */
#define SKIP_IF_TOO_SMALL()						\
	do {								\
		if (self->too_small)					\
			SKIP(return, "segment 0 (seg0_pages) is too small for a far touch of %lu pages", \
			     FAR_PAGES);				\
	} while (0)

FIXTURE_SETUP(far)
{
	char buf[32];

	self->fd = open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", MY_SHMEM_DEVICE, strerror(errno));
	self->saved_order = param_get("max_contiguous_alloc_order");
	self->saved_max_pages = param_get("max_pages");
	ASSERT_EQ(0, set_order(0));
	self->base = frontier(self->fd);
	self->start = pages_in_use();
	self->too_small = self->base + FAR_PAGES + 1 > (unsigned long)param_get("seg0_pages");
	if (self->too_small)
		return;
	/* Bound what a far touch that is never interrupted could take. */
	snprintf(buf, sizeof(buf), "%lu", self->start + FAR_PAGES + 1024);
	ASSERT_EQ(0, param_set("max_pages", buf));
	self->p = map_pages(self->fd, self->base, FAR_PAGES + 1, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, self->p);
}

FIXTURE_TEARDOWN(far)
{
	char buf[32];

	if (self->p && self->p != MAP_FAILED)
		munmap(self->p, (FAR_PAGES + 1) * page_size());
	snprintf(buf, sizeof(buf), "%ld", self->saved_max_pages);
	param_set("max_pages", buf);
	set_order(self->saved_order);
	close(self->fd);
}

/* Wait until a far touch has allocated at least @n pages; false on timeout. */
static bool wait_growth(long start, long n)
{
	int i;

	for (i = 0; i < 30000; i++) {
		if (pages_in_use() - start >= n)
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * A task killed while read() copies into an unbacked far offset: the
 * kernel's own access faults, the allocation loop sees the fatal signal, and
 * the task must die (the fault used to return "no page, retry" and the
 * kernel retried the copy forever).
 */
TEST_F_TIMEOUT(far, killed_during_kernel_mode_fault_dies, 300)
{
	char *dst = (char *)self->p + FAR_PAGES * page_size();
	char buf[4096];
	int pfd[2], status;
	long grown;
	pid_t pid;

	SKIP_IF_TOO_SMALL();
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ((ssize_t)sizeof(buf), write(pfd[1], buf, sizeof(buf)));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		ssize_t n = read(pfd[0], dst, sizeof(buf));

		_exit(n == (ssize_t)sizeof(buf) ? 0 : 1);
	}
	ASSERT_TRUE(wait_growth(self->start, 64)) TH_LOG("the far fault never started");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	status = wait_deadline(pid, 20);
	grown = pages_in_use() - self->start;
	ASSERT_NE(-1, status)
		TH_LOG("a task killed in a kernel-mode fault is still alive after 20 s (pid %d)", pid);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("status %#x", status);
	/* The kill landed inside the allocation loop and stopped it. */
	EXPECT_GT((long)FAR_PAGES, grown) TH_LOG("allocated %ld pages before the kill", grown);
	close(pfd[0]);
	close(pfd[1]);
}

/*
 * While one task populates a far offset, another task faulting just ahead
 * of it is served after a few runs (the segment lock is taken once per run),
 * not after the whole far touch; and the far toucher dies promptly when
 * killed.
 */
TEST_F_TIMEOUT(far, far_touch_does_not_hold_others, 300)
{
	unsigned long stride = page_size() / sizeof(uint32_t), near;
	long grown_before, grown_after;
	int status;
	pid_t pid;

	SKIP_IF_TOO_SMALL();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		self->p[FAR_PAGES * stride] = THESIS_PATTERN;
		_exit(0);
	}
	ASSERT_TRUE(wait_growth(self->start, 64)) TH_LOG("the far fault never started");
	grown_before = pages_in_use() - self->start;
	near = grown_before + 200;
	self->p[near * stride] = THESIS_PATTERN;
	grown_after = pages_in_use() - self->start;
	TH_LOG("far toucher at %ld pages; a fault at +%lu served at %ld of %lu",
	       grown_before, near, grown_after, FAR_PAGES + 1);
	EXPECT_GT((long)FAR_PAGES, grown_after)
		TH_LOG("the near fault waited for the whole far touch");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	status = wait_deadline(pid, 20);
	ASSERT_NE(-1, status) TH_LOG("the far toucher did not die within 20 s of SIGKILL");
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("status %#x (the far touch finished before the kill?)", status);
}

TEST_HARNESS_MAIN
