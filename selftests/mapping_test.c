// SPDX-License-Identifier: GPL-2.0
/*
 * Mappings: misaligned vm_pgoff, sharing between unrelated processes and
 * across fork, partial munmap, mremap, private mappings refused, and VMA
 * references balanced through all of it.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "util.h"

FIXTURE(map) {
	int fd;
	long saved_order;
	struct shm_stats st0;
};

FIXTURE_SETUP(map)
{
	self->fd = open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", MY_SHMEM_DEVICE, strerror(errno));
	self->saved_order = param_get("max_contiguous_alloc_order");
	ASSERT_EQ(0, get_stats(self->fd, &self->st0));
}

FIXTURE_TEARDOWN(map)
{
	set_order(self->saved_order);
	close(self->fd);
}

static uint32_t *word(void *base, unsigned long page)
{
	return (uint32_t *)((char *)base + page * page_size());
}

/* Every VMA this test created is gone again. */
static void expect_vmas_balanced(struct __test_metadata *_metadata, int fd,
				 const struct shm_stats *st0)
{
	struct shm_stats st;

	ASSERT_EQ(0, get_stats(fd, &st));
	EXPECT_EQ(st0->vmas, st.vmas);
}

/*
 * vm_pgoff not aligned to the runs: a fault maps exactly the intersection
 * of its run with the VMA, and the data lands at the right offsets.
 */
TEST_F(map, misaligned_pgoff)
{
	const unsigned long run = 16, skew = 5, n = 20;
	unsigned long base, i;
	uint32_t *aligned, *mis;

	ASSERT_EQ(0, set_order(4));
	base = frontier(self->fd);
	aligned = map_pages(self->fd, base, 2 * run, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, aligned);
	mis = map_pages(self->fd, base + skew, n, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, mis);

	/* First touch through the misaligned VMA: run 0 is [base, base+16). */
	*word(mis, 0) = THESIS_PATTERN;
	EXPECT_EQ(run - skew, resident_pages(mis, n));
	*word(mis, run - skew) = THESIS_PATTERN + 1;	/* offset base+16 */
	EXPECT_EQ(n, resident_pages(mis, n));
	for (i = 0; i < n; i++)
		*word(mis, i) = THESIS_PATTERN ^ (base + skew + i);

	/* The aligned VMA faults independently and sees the same pages. */
	EXPECT_EQ(0, resident_pages(aligned, 2 * run));
	for (i = skew; i < skew + n; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ (base + i), *word(aligned, i))
			TH_LOG("offset %lu", base + i);
	}
	EXPECT_EQ(0, *word(aligned, 0));
	EXPECT_EQ(2 * run, resident_pages(aligned, 2 * run));
	munmap(mis, n * page_size());
	munmap(aligned, 2 * run * page_size());
	expect_vmas_balanced(_metadata, self->fd, &self->st0);
}

/* Two processes that open the device on their own share the pages. */
TEST_F(map, unrelated_processes_share)
{
	unsigned long base, n = 8, i;
	int status, ready[2], done[2];
	uint32_t *p;
	char c;
	pid_t pid;

	ASSERT_EQ(0, set_order(1));
	base = frontier(self->fd);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* A separate open: nothing inherited but the offset. */
		int fd = open_dev();
		uint32_t *q = fd < 0 ? MAP_FAILED :
			map_pages(fd, base, n, PROT_READ | PROT_WRITE);

		if (q == MAP_FAILED)
			_exit(2);
		for (i = 0; i < n; i++)
			*word(q, i) = 0xc0de0000 + i;
		c = 'w';
		if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(3);
		for (i = 0; i < n; i++)
			if (*word(q, i) != 0xfeed0000 + i)
				_exit(4);
		_exit(0);
	}
	close(self->fd);
	self->fd = open_dev();
	ASSERT_LE(0, self->fd);
	p = map_pages(self->fd, base, n, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	for (i = 0; i < n; i++) {
		EXPECT_EQ(0xc0de0000 + i, *word(p, i));
		*word(p, i) = 0xfeed0000 + i;
	}
	ASSERT_EQ(1, write(done[1], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %#x", status);
	munmap(p, n * page_size());
	expect_vmas_balanced(_metadata, self->fd, &self->st0);
}

/* fork after mmap: both sides see each other's writes; refs come back. */
TEST_F(map, fork_after_mmap)
{
	unsigned long base, n = 40, i;
	struct shm_stats st;
	uint32_t *p;
	int status;
	pid_t pid;

	ASSERT_EQ(0, set_order(3));
	base = frontier(self->fd);
	p = map_pages(self->fd, base, n, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < n / 2; i++)	/* half faulted in before fork */
		*word(p, i) = THESIS_PATTERN ^ i;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (i = 0; i < n / 2; i++)
			if (*word(p, i) != (THESIS_PATTERN ^ i))
				_exit(1);
		for (i = 0; i < n; i++)
			*word(p, i) = 0xbeef0000 + i;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0xbeef0000 + i, *word(p, i));
	}
	ASSERT_EQ(0, get_stats(self->fd, &st));
	EXPECT_EQ(self->st0.vmas + 1, st.vmas);
	munmap(p, n * page_size());
	expect_vmas_balanced(_metadata, self->fd, &self->st0);
}

/* Punch a hole in the middle: two VMAs remain, both still work. */
TEST_F(map, partial_munmap)
{
	unsigned long base, n = 48, i;
	struct shm_stats st;
	uint32_t *p, *q;

	ASSERT_EQ(0, set_order(4));
	base = frontier(self->fd);
	p = map_pages(self->fd, base, n, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < n; i++)
		*word(p, i) = THESIS_PATTERN ^ i;
	ASSERT_EQ(0, munmap(word(p, 10), 20 * page_size()));
	ASSERT_EQ(0, get_stats(self->fd, &st));
	EXPECT_EQ(self->st0.vmas + 2, st.vmas);
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ i, *word(p, i));
	}
	for (i = 30; i < n; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ i, *word(p, i));
	}
	/* The hole's pages are still in the segment. */
	q = map_pages(self->fd, base, n, PROT_READ);
	ASSERT_NE(MAP_FAILED, q);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ i, *word(q, i));
	}
	munmap(q, n * page_size());
	munmap(p, 10 * page_size());
	munmap(word(p, 30), (n - 30) * page_size());
	expect_vmas_balanced(_metadata, self->fd, &self->st0);
}

/* mremap: move keeps the data and the offsets; shrink drops the tail. */
TEST_F(map, mremap_move_and_shrink)
{
	unsigned long base, n = 32, i;
	uint32_t *p, *moved, *shrunk;
	void *hole;

	ASSERT_EQ(0, set_order(2));
	base = frontier(self->fd);
	p = map_pages(self->fd, base, n, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < n / 2; i++)
		*word(p, i) = THESIS_PATTERN ^ i;

	hole = mmap(NULL, n * page_size(), PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	moved = mremap(p, n * page_size(), n * page_size(),
		       MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	ASSERT_EQ(hole, moved);
	for (i = 0; i < n / 2; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ i, *word(moved, i));
	}
	/* Pages never touched before the move fault in at the new place. */
	for (i = n / 2; i < n; i++)
		*word(moved, i) = THESIS_PATTERN ^ i;

	shrunk = mremap(moved, n * page_size(), 8 * page_size(), 0);
	ASSERT_EQ(moved, shrunk);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ i, *word(shrunk, i));
	}
	/*
	 * Moving and growing at once maps the same offsets back.  (Growing in
	 * place is refused with ENOMEM by 6.12, which does not extend a VMA
	 * that has a ->close operation; 6.1 allows it.)
	 */
	hole = mmap(NULL, n * page_size(), PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	moved = mremap(shrunk, 8 * page_size(), n * page_size(),
		       MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	ASSERT_EQ(hole, moved) TH_LOG("mremap grow: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(THESIS_PATTERN ^ i, *word(moved, i));
	}
	munmap(moved, n * page_size());
	expect_vmas_balanced(_metadata, self->fd, &self->st0);
}

/* MAP_PRIVATE cannot be writable, neither at mmap nor by mprotect. */
TEST_F(map, private_writable_refused)
{
	void *p;

	p = mmap(NULL, page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);

	p = mmap(NULL, page_size(), PROT_READ, MAP_PRIVATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, page_size(), PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, page_size());
	expect_vmas_balanced(_metadata, self->fd, &self->st0);
}

/*
 * Read-only access stays read-only: a write through a PROT_READ shared
 * mapping raises SIGSEGV (while the same page written through a writable
 * mapping is seen through it), and an fd opened O_RDONLY can neither map
 * the device writable nor mprotect() a mapping to writable.
 */
TEST_F(map, read_only_shared)
{
	unsigned long base;
	uint32_t *rw, *ro;
	int rdonly, status;
	pid_t pid;

	base = frontier(self->fd);
	rw = map_pages(self->fd, base, 1, PROT_READ | PROT_WRITE);
	ro = map_pages(self->fd, base, 1, PROT_READ);
	ASSERT_NE(MAP_FAILED, rw);
	ASSERT_NE(MAP_FAILED, ro);
	*rw = THESIS_PATTERN;
	EXPECT_EQ(THESIS_PATTERN, *ro);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		*(volatile uint32_t *)ro = 0;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		TH_LOG("a write through a PROT_READ mapping: status %#x", status);
	EXPECT_EQ(THESIS_PATTERN, *ro);

	rdonly = open(MY_SHMEM_DEVICE, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, rdonly);
	EXPECT_EQ(MAP_FAILED, map_pages(rdonly, base, 1, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(ro, page_size());
	ro = map_pages(rdonly, base, 1, PROT_READ);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-1, mprotect(ro, page_size(), PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(THESIS_PATTERN, *ro);
	close(rdonly);
	munmap(ro, page_size());
	munmap(rw, page_size());
}

TEST_HARNESS_MAIN
