// SPDX-License-Identifier: GPL-2.0
/*
 * Coherent segments: the in-kernel MSI protocol (DESIGN.md 3.5).
 *
 * Nodes are fds bound to one coherent segment; one process may hold many
 * (each maps its own copy).  States come from MY_SHMEM_IOC_MSI_VIEW, faults
 * from the node counters of MY_SHMEM_IOC_NODE_INFO.
 *
 * Besides the fixed sequences (fixture msi):
 *   model.*.random_run   a seeded random run (MSI_SEED, MSI_OPS) of reads,
 *                        writes, partial munmap + remap, close and open over
 *                        16 nodes here or 8 nodes in child processes, checked
 *                        after every step against a model of the protocol
 *   litmus.*             message passing and store buffering over 2 and 4
 *                        nodes, a thread each (MSI_LITMUS_ITERS)
 *   coherent.*           a C11 lock over 8 nodes (MSI_LOCK_ITERS), forward
 *                        progress of two writers (MSI_FP_ITERS), kill -9
 *                        during contention, 1,024 nodes, remap next to a
 *                        node's own mapping, module unload while mapped
 *   race.*               munmap, mremap, fork/exit racing faults of other
 *                        threads and nodes (MSI_RACE_MS)
 * Every test on a segment of its own checks at the end that pages_in_use
 * came back once its nodes are closed and the segment deleted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../uapi/linux/my_shmem.h"
#include "util.h"

#define MSI_KEY(n)	(0x6d736900ULL + (n))

/* A node: an fd bound to the coherent segment of @key, and its mapping. */
struct node {
	int fd;
	uint32_t seg, nid;
	char *map;
	unsigned long pages;
};

static int node_open(struct node *n, uint64_t key, unsigned long pages,
		     bool create)
{
	struct my_shmem_get req = {
		.size = sizeof(req), .key = key, .bytes = pages * page_size(),
		.mode = MY_SHMEM_MODE_COHERENT, .perm = 0600,
		.flags = create ? MY_SHMEM_GET_CREATE : 0,
	};
	struct my_shmem_node_info info = {
		.size = sizeof(info), .seg = MY_SHMEM_SEG_INFO_BOUND,
		.node = MY_SHMEM_NODE_SELF,
	};

	memset(n, 0, sizeof(*n));
	n->fd = open_dev();
	if (n->fd < 0)
		return -errno;
	if (ioctl(n->fd, MY_SHMEM_IOC_GET, &req) ||
	    ioctl(n->fd, MY_SHMEM_IOC_NODE_INFO, &info)) {
		int err = -errno;

		close(n->fd);
		return err;
	}
	n->seg = req.id;
	n->nid = info.node;
	n->pages = pages;
	n->map = mmap(NULL, pages * page_size(), PROT_READ | PROT_WRITE,
		      MAP_SHARED, n->fd, 0);
	if (n->map == MAP_FAILED) {
		int err = -errno;

		close(n->fd);
		return err;
	}
	return 0;
}

static void node_close(struct node *n)
{
	if (n->map && n->map != MAP_FAILED)
		munmap(n->map, n->pages * page_size());
	if (n->fd > 0)
		close(n->fd);
	n->map = NULL;
	n->fd = -1;
}

static int node_info(const struct node *n, uint32_t nid,
		     struct my_shmem_node_info *info)
{
	*info = (struct my_shmem_node_info){
		.size = sizeof(*info), .seg = MY_SHMEM_SEG_INFO_BOUND, .node = nid,
	};
	return ioctl(n->fd, MY_SHMEM_IOC_NODE_INFO, info) ? -errno : 0;
}

static uint64_t node_faults(const struct node *n)
{
	struct my_shmem_node_info info;

	if (node_info(n, MY_SHMEM_NODE_SELF, &info))
		return ~0ULL;
	return info.read_faults + info.write_faults;
}

/* The node's states as a string of 'M', 'S', 'I' (s2dsm's view). */
static int node_view(const struct node *n, char *out)
{
	uint8_t st[64];
	struct my_shmem_msi_view v = {
		.size = sizeof(v), .seg = MY_SHMEM_SEG_INFO_BOUND,
		.node = MY_SHMEM_NODE_SELF, .first = 0, .count = n->pages,
		.states = (uintptr_t)st,
	};
	unsigned long i;

	if (n->pages > sizeof(st) || ioctl(n->fd, MY_SHMEM_IOC_MSI_VIEW, &v))
		return -errno;
	for (i = 0; i < v.count; i++)
		out[i] = "ISM"[st[i]];
	out[v.count] = '\0';
	return 0;
}

/* Delete the segment by key; nodes keep it alive until they go. */
static void seg_delete(uint32_t id)
{
	struct my_shmem_delete del = { .size = sizeof(del), .id = id };
	int fd = open_dev();

	if (fd >= 0) {
		ioctl(fd, MY_SHMEM_IOC_DELETE, &del);
		close(fd);
	}
}

/* Read page @pg of node @n as a string; *@faulted: the access faulted. */
static void node_read(const struct node *n, unsigned long pg, char *buf,
		      size_t len, bool *faulted)
{
	uint64_t before = node_faults(n);

	strncpy(buf, n->map + pg * page_size(), len - 1);
	buf[len - 1] = '\0';
	*faulted = node_faults(n) != before;
}

static bool node_write(const struct node *n, unsigned long pg, const char *msg)
{
	uint64_t before = node_faults(n);

	strcpy(n->map + pg * page_size(), msg);
	return node_faults(n) != before;
}

#define EXPECT_VIEW(n, want) do {			\
	char _v[65];					\
	ASSERT_EQ(0, node_view(n, _v));			\
	EXPECT_STREQ(want, _v);				\
} while (0)

FIXTURE(msi) {
	struct node a, b;
};

FIXTURE_SETUP(msi)
{
	self->a.fd = self->b.fd = -1;
	ASSERT_EQ(0, node_open(&self->a, MSI_KEY(1), 3, true));
	ASSERT_EQ(0, node_open(&self->b, MSI_KEY(1), 3, false));
	ASSERT_EQ(self->a.seg, self->b.seg);
	seg_delete(self->a.seg);
}

FIXTURE_TEARDOWN(msi)
{
	node_close(&self->b);
	node_close(&self->a);
}

/* The s2dsm assignment's Part 2 sequence, every view and read checked. */
TEST_F(msi, part2_sequence)
{
	const char *all = "Writing this to all pages!";
	char buf[64];
	bool faulted;
	int i;

	EXPECT_NE(self->a.nid, self->b.nid);
	EXPECT_VIEW(&self->a, "III");
	EXPECT_VIEW(&self->b, "III");

	node_read(&self->a, 0, buf, sizeof(buf), &faulted);
	EXPECT_TRUE(faulted);
	EXPECT_STREQ("", buf);
	EXPECT_VIEW(&self->a, "SII");
	EXPECT_VIEW(&self->b, "III");

	for (i = 0; i < 3; i++) {
		node_read(&self->a, i, buf, sizeof(buf), &faulted);
		EXPECT_EQ(i != 0, faulted);
		EXPECT_STREQ("", buf);
	}
	EXPECT_VIEW(&self->a, "SSS");
	EXPECT_VIEW(&self->b, "III");

	EXPECT_TRUE(node_write(&self->b, 2, "Hello Userfaultfd!"));
	EXPECT_VIEW(&self->a, "SSI");
	EXPECT_VIEW(&self->b, "IIM");

	for (i = 0; i < 3; i++)
		EXPECT_TRUE(node_write(&self->a, i, all));
	EXPECT_VIEW(&self->a, "MMM");
	EXPECT_VIEW(&self->b, "III");

	for (i = 0; i < 3; i++) {
		node_read(&self->a, i, buf, sizeof(buf), &faulted);
		EXPECT_FALSE(faulted);
		EXPECT_STREQ(all, buf);
	}
	EXPECT_VIEW(&self->a, "MMM");

	node_read(&self->b, 1, buf, sizeof(buf), &faulted);
	EXPECT_TRUE(faulted);
	EXPECT_STREQ(all, buf);
	EXPECT_VIEW(&self->a, "MSM");
	EXPECT_VIEW(&self->b, "ISI");
}

/* B writes page 2 over A's read: A's copy must be gone, not stale. */
TEST_F(msi, write_invalidates_and_fetches_latest)
{
	struct my_shmem_node_info ia, ib;
	char buf[64];
	bool faulted;

	node_write(&self->a, 0, "one");
	node_read(&self->b, 0, buf, sizeof(buf), &faulted);
	EXPECT_STREQ("one", buf);		/* A: M -> S, written back */
	node_write(&self->b, 0, "two");		/* S -> M, A -> I */
	EXPECT_VIEW(&self->a, "III");
	node_read(&self->a, 0, buf, sizeof(buf), &faulted);
	EXPECT_TRUE(faulted);
	EXPECT_STREQ("two", buf);
	node_write(&self->a, 0, "three");	/* S -> M: no fetch */

	ASSERT_EQ(0, node_info(&self->a, MY_SHMEM_NODE_SELF, &ia));
	ASSERT_EQ(0, node_info(&self->a, self->b.nid, &ib));
	EXPECT_EQ(self->b.nid, ib.node);
	EXPECT_EQ(2, ia.nr_nodes);
	EXPECT_EQ(2, ia.fetches);		/* the first write, then the read */
	EXPECT_EQ(1, ia.writebacks);
	EXPECT_EQ(1, ia.invals_received);
	EXPECT_EQ(1, ia.pages_m);
	EXPECT_EQ(0, ia.pages_s);
	EXPECT_EQ(1, ib.fetches);
	EXPECT_EQ(1, ib.invals_received);
	EXPECT_EQ(0, ib.pages_m + ib.pages_s);
	EXPECT_EQ(3 * page_size(), ia.bytes_moved);	/* in twice, out once (home) */
}

/* A node's copy follows it through fork: the child is the same node. */
TEST_F(msi, fork_is_the_same_node)
{
	struct my_shmem_node_info info;
	char buf[64];
	bool faulted;
	pid_t pid;
	int status;

	node_write(&self->a, 1, "parent");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		char v[8];

		if (strcmp(self->a.map + page_size(), "parent"))
			_exit(1);
		strcpy(self->a.map + page_size(), "child");
		if (node_view(&self->a, v) || strcmp(v, "IMI"))
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_STREQ("child", self->a.map + page_size());
	node_read(&self->b, 1, buf, sizeof(buf), &faulted);
	EXPECT_STREQ("child", buf);
	ASSERT_EQ(0, node_info(&self->a, MY_SHMEM_NODE_SELF, &info));
	EXPECT_EQ(2, info.nr_nodes);
}

/* munmap writes M pages back home; closing the node drops its copies. */
TEST_F(msi, detach_writes_back)
{
	char buf[64];
	bool faulted;

	node_write(&self->a, 0, "kept");
	ASSERT_EQ(0, munmap(self->a.map, 3 * page_size()));
	self->a.map = NULL;
	EXPECT_VIEW(&self->a, "SII");
	node_read(&self->b, 0, buf, sizeof(buf), &faulted);
	EXPECT_STREQ("kept", buf);
	node_write(&self->b, 1, "closing");
	node_close(&self->b);
	self->a.map = mmap(NULL, 3 * page_size(), PROT_READ, MAP_SHARED,
			   self->a.fd, 0);
	ASSERT_NE(MAP_FAILED, self->a.map);
	EXPECT_STREQ("closing", self->a.map + page_size());
	EXPECT_STREQ("kept", self->a.map);
}

/* The view and node ioctls: errors and the directory. */
TEST_F(msi, view_and_errors)
{
	uint32_t owners[4], sharers[4];
	struct my_shmem_msi_view v = {
		.size = sizeof(v), .seg = MY_SHMEM_SEG_INFO_BOUND, .count = 4,
		.owners = (uintptr_t)owners, .sharers = (uintptr_t)sharers,
	};
	struct my_shmem_node_info info;
	char buf[8];
	bool faulted;
	int fd;

	node_write(&self->a, 0, "x");
	node_read(&self->a, 1, buf, sizeof(buf), &faulted);
	node_read(&self->b, 1, buf, sizeof(buf), &faulted);
	ASSERT_EQ(0, ioctl(self->a.fd, MY_SHMEM_IOC_MSI_VIEW, &v));
	EXPECT_EQ(3, v.count);			/* clamped to the segment */
	EXPECT_EQ(self->a.seg, v.seg);
	EXPECT_EQ(self->a.nid, owners[0]);
	EXPECT_EQ(0, sharers[0]);
	EXPECT_EQ(MY_SHMEM_NODE_NONE, owners[1]);
	EXPECT_EQ(2, sharers[1]);
	EXPECT_EQ(MY_SHMEM_NODE_NONE, owners[2]);
	EXPECT_EQ(0, sharers[2]);

	/* by id, from an fd bound elsewhere (segment 0) */
	fd = open_dev();
	ASSERT_GE(fd, 0);
	v.seg = self->a.seg;
	EXPECT_EQ(0, ioctl(fd, MY_SHMEM_IOC_MSI_VIEW, &v));
	info = (struct my_shmem_node_info){ .size = sizeof(info), .seg = self->a.seg,
					    .node = 0, .flags = MY_SHMEM_NODE_INFO_NEXT };
	EXPECT_EQ(0, ioctl(fd, MY_SHMEM_IOC_NODE_INFO, &info));
	EXPECT_EQ(0, info.node);
	info.node = MY_SHMEM_NODE_SELF;
	info.flags = 0;
	EXPECT_EQ(-1, ioctl(fd, MY_SHMEM_IOC_NODE_INFO, &info));
	EXPECT_EQ(ENOENT, errno);
	info.node = 12345;
	EXPECT_EQ(-1, ioctl(fd, MY_SHMEM_IOC_NODE_INFO, &info));
	EXPECT_EQ(ENOENT, errno);
	info.seg = MY_SHMEM_SEG_INFO_BOUND;	/* segment 0 is not coherent */
	info.node = 0;
	EXPECT_EQ(-1, ioctl(fd, MY_SHMEM_IOC_NODE_INFO, &info));
	EXPECT_EQ(EOPNOTSUPP, errno);
	info.seg = self->a.seg;
	info.flags = 0x80;
	EXPECT_EQ(-1, ioctl(fd, MY_SHMEM_IOC_NODE_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	v.first = 3;
	v.seg = self->a.seg;
	EXPECT_EQ(0, ioctl(fd, MY_SHMEM_IOC_MSI_VIEW, &v));
	EXPECT_EQ(0, v.count);
	close(fd);
}

/* ------------------------------------------------------------------------
 * Shared by the tests below: segments by id, seen from any fd.
 */

/* ksft_print_msg(), flushed: a test's process ends with _exit(). */
#define msg(...) do {					\
	ksft_print_msg(__VA_ARGS__);			\
	fflush(stdout);					\
} while (0)

static uint64_t env_num(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Run the calling thread on the @i-th CPU it may use (modulo their number):
 * threads left to the scheduler may all start on one CPU and run one after
 * the other, never racing.
 */
static void pin_to_cpu(int i)
{
	cpu_set_t allowed, one;
	int cpu, n = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return;
	i %= CPU_COUNT(&allowed);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &allowed) && n++ == i) {
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			sched_setaffinity(0, sizeof(one), &one);
			return;
		}
	}
}

/* xorshift64 for threads (util.h's prng() is one global sequence). */
static inline uint64_t xs_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Node @nid's states (if @states) and the directory of pages [0, @count). */
static int seg_view(int fd, uint32_t seg, uint32_t nid, unsigned long count,
		    uint8_t *states, uint32_t *owners, uint32_t *sharers)
{
	struct my_shmem_msi_view v = {
		.size = sizeof(v), .seg = seg, .node = nid, .count = count,
		.states = (uintptr_t)states, .owners = (uintptr_t)owners,
		.sharers = (uintptr_t)sharers,
	};

	if (ioctl(fd, MY_SHMEM_IOC_MSI_VIEW, &v))
		return -errno;
	return v.count == count ? 0 : -ERANGE;
}

static int seg_node_info(int fd, uint32_t seg, uint32_t nid, uint32_t flags,
			 struct my_shmem_node_info *info)
{
	*info = (struct my_shmem_node_info){
		.size = sizeof(*info), .seg = seg, .node = nid, .flags = flags,
	};
	return ioctl(fd, MY_SHMEM_IOC_NODE_INFO, info) ? -errno : 0;
}

/* The segment's node ids, by MY_SHMEM_NODE_INFO_NEXT from 0; -1 on error. */
static int seg_nodes(int fd, uint32_t seg, uint32_t *ids, int max, uint32_t *nr)
{
	struct my_shmem_node_info info;
	uint32_t next = 0;
	int n = 0;

	*nr = 0;
	for (;;) {
		if (seg_node_info(fd, seg, next, MY_SHMEM_NODE_INFO_NEXT, &info))
			return errno == ENOENT ? n : -1;
		if (n == max || info.node < next)
			return -1;
		ids[n++] = info.node;
		*nr = info.nr_nodes;
		next = info.node + 1;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

#define DIR_MAX_PAGES	64

/*
 * The directory of pages [0, @pages) against the segment's nodes, which
 * must be exactly @nids: at most one owner, a node of the segment, in M;
 * no node in M but the owner; the owner never counted as a sharer; exactly
 * sharers[p] nodes in S.  Nothing may run on the segment meanwhile.
 * Returns 0, or -1 with the first violation in @why.
 */
static int check_directory(int fd, uint32_t seg, const uint32_t *nids, int n,
			   unsigned long pages, char *why, size_t len)
{
	uint32_t owners[DIR_MAX_PAGES], sharers[DIR_MAX_PAGES], nr;
	unsigned int nm[DIR_MAX_PAGES] = { 0 }, ns[DIR_MAX_PAGES] = { 0 };
	uint8_t st[DIR_MAX_PAGES];
	uint32_t *want = calloc(n + 1, sizeof(*want));
	uint32_t *got = calloc(n + 1, sizeof(*got));
	unsigned long p;
	int i, k, ret = -1;

	if (!want || !got || pages > DIR_MAX_PAGES) {
		snprintf(why, len, "out of memory or too many pages");
		goto out;
	}
	memcpy(want, nids, n * sizeof(*want));
	qsort(want, n, sizeof(*want), cmp_u32);
	k = seg_nodes(fd, seg, got, n + 1, &nr);
	if (k != n || (n && nr != (uint32_t)n) || memcmp(want, got, n * sizeof(*got))) {
		snprintf(why, len, "node walk: %d nodes (nr_nodes %u), %d expected", k, nr, n);
		goto out;
	}
	if (seg_view(fd, seg, 0, pages, NULL, owners, sharers)) {
		snprintf(why, len, "MSI_VIEW: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (seg_view(fd, seg, nids[i], pages, st, NULL, NULL)) {
			snprintf(why, len, "MSI_VIEW of node %u: %s", nids[i], strerror(errno));
			goto out;
		}
		for (p = 0; p < pages; p++) {
			if (st[p] == MY_SHMEM_MSI_M) {
				nm[p]++;
				if (owners[p] != nids[i]) {
					snprintf(why, len, "page %lu: node %u in M, owner %d",
						 p, nids[i], (int)owners[p]);
					goto out;
				}
			} else if (st[p] == MY_SHMEM_MSI_S) {
				ns[p]++;
				if (owners[p] != MY_SHMEM_NODE_NONE) {
					snprintf(why, len, "page %lu: node %u in S beside owner %u",
						 p, nids[i], owners[p]);
					goto out;
				}
			} else if (st[p] != MY_SHMEM_MSI_I) {
				snprintf(why, len, "page %lu: node %u state %u", p, nids[i], st[p]);
				goto out;
			} else if (owners[p] == nids[i]) {
				snprintf(why, len, "page %lu: owner %u reads I", p, nids[i]);
				goto out;
			}
		}
	}
	for (p = 0; p < pages; p++) {
		if (nm[p] != (owners[p] != MY_SHMEM_NODE_NONE) || ns[p] != sharers[p] ||
		    (nm[p] && sharers[p])) {
			snprintf(why, len, "page %lu: owner %d sharers %u, but %u nodes in M, %u in S",
				 p, (int)owners[p], sharers[p], nm[p], ns[p]);
			goto out;
		}
	}
	ret = 0;
out:
	free(want);
	free(got);
	return ret;
}

/*
 * Per-test state: the nodes this process holds, child processes to reap, the
 * segment to delete and pages_in_use to come back to.  The teardown closes
 * and reaps whatever is left (an ASSERT may have cut the test short), deletes
 * the segment and checks no page leaked.
 */
struct coh {
	uint64_t key;
	uint32_t seg;
	bool have_seg;
	long pages0;
	int viewer;		/* an fd bound to segment 0, for views by id */
	struct node *nodes;
	int n;
	pid_t kids[64];
	int nkids;
};

static void coh_setup(struct __test_metadata *_metadata, struct coh *c, int max)
{
	c->key = MSI_KEY(0x10000) + getpid();	/* each test runs in its own process */
	c->pages0 = pages_in_use();
	ASSERT_LE(0, c->pages0);
	c->viewer = open_dev();
	ASSERT_LE(0, c->viewer);
	c->nodes = calloc(max, sizeof(*c->nodes));
	ASSERT_NE(NULL, c->nodes);
	c->n = max;
	for (int i = 0; i < max; i++)
		c->nodes[i].fd = -1;
}

/* Open node @i (the first one creates the segment). */
static int coh_open(struct coh *c, int i, unsigned long pages)
{
	int err = node_open(&c->nodes[i], c->key, pages, !c->have_seg);

	if (err)
		return err;
	if (!c->have_seg) {
		c->seg = c->nodes[i].seg;
		c->have_seg = true;
	}
	return c->nodes[i].seg == c->seg ? 0 : -EXDEV;
}

static void coh_teardown(struct __test_metadata *_metadata, struct coh *c)
{
	int i, status;

	for (i = 0; i < c->nkids; i++) {
		if (c->kids[i] > 0) {
			kill(c->kids[i], SIGKILL);
			waitpid(c->kids[i], &status, 0);
		}
	}
	for (i = 0; i < c->n; i++)
		node_close(&c->nodes[i]);
	free(c->nodes);
	if (c->have_seg)
		seg_delete(c->seg);
	if (c->viewer >= 0)
		close(c->viewer);
	/* Every copy and home page gone with the last node and the segment. */
	EXPECT_EQ(c->pages0, pages_in_use());
}

/* ------------------------------------------------------------------------
 * 1. A seeded random run against a model of the protocol.
 *
 * The model is DESIGN.md 3.5's table plus: munmap of a node's mapping writes
 * its M pages in the range home and they become S; closing a node writes its
 * M pages home and drops every copy; node ids are the lowest free.  It also
 * predicts the node counters (faults taken: a read faults when the page is
 * not mapped, a write when it is not M; fetches, invalidations received,
 * write-backs, pages in S and M).  After every step each open node's states,
 * the directory (owners, sharer counts), the node set and the counters are
 * compared with it, and every read's data with the model's copy.
 */

#define RM_NODES	16
#define RM_PAGES	8

enum { RM_READ, RM_WRITE, RM_DETACH, RM_CLOSE, RM_OPEN, RM_EXIT };

struct rm_cmd {
	uint32_t op, page, first, end, val;
};

struct rm_reply {
	int32_t err;
	uint32_t nid, w0, w1;
};

/* One command on node @n of this process: the accesses are the test. */
static void rm_exec(struct node *n, uint64_t key, const struct rm_cmd *c,
		    struct rm_reply *r)
{
	long ps = page_size();
	volatile uint32_t *w = n->map ? (volatile uint32_t *)(n->map + c->page * ps) : NULL;

	memset(r, 0, sizeof(*r));
	switch (c->op) {
	case RM_READ:
		r->w0 = w[0];
		r->w1 = w[ps / 4 - 1];
		break;
	case RM_WRITE:
		w[0] = c->val;
		w[ps / 4 - 1] = ~c->val;
		break;
	case RM_DETACH: {
		char *a = n->map + c->first * ps;
		size_t len = (c->end - c->first) * ps;

		if (munmap(a, len) ||
		    mmap(a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 n->fd, (off_t)c->first * ps) != a)
			r->err = errno;
		break;
	}
	case RM_CLOSE:
		node_close(n);
		break;
	case RM_OPEN:
		r->err = -node_open(n, key, RM_PAGES, false);
		r->nid = n->nid;
		break;
	}
}

/* A node in a child process, driven one command at a time. */
static void rm_child(int cmd, int rep, uint64_t key)
{
	struct node n = { .fd = -1 };
	struct rm_cmd c;
	struct rm_reply r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (read(cmd, &c, sizeof(c)) == sizeof(c) && c.op != RM_EXIT) {
		rm_exec(&n, key, &c, &r);
		if (write(rep, &r, sizeof(r)) != sizeof(r))
			break;
	}
	node_close(&n);
	_exit(0);
}

struct rm_slot {
	bool open;
	uint32_t nid;
	uint32_t copy[RM_PAGES];
	uint8_t pte[RM_PAGES];	/* 0: not mapped, 1: read-only, 2: writable */
	uint64_t rf, wf, fetches, invals, wbs;
};

struct rm_model {
	struct rm_slot s[RM_NODES];
	int owner[RM_PAGES];		/* slot in M, or -1 */
	uint32_t sharers[RM_PAGES];	/* slots in S, a bit each */
	uint32_t home[RM_PAGES];
};

static int rm_state(const struct rm_model *m, int s, int p)
{
	if (m->owner[p] == s)
		return MY_SHMEM_MSI_M;
	return m->sharers[p] >> s & 1 ? MY_SHMEM_MSI_S : MY_SHMEM_MSI_I;
}

static uint32_t rm_model_read(struct rm_model *m, int s, int p)
{
	struct rm_slot *a = &m->s[s];

	if (!a->pte[p])
		a->rf++;
	if (rm_state(m, s, p) == MY_SHMEM_MSI_I) {
		int b = m->owner[p];

		if (b >= 0) {		/* B written back, write-protected */
			m->home[p] = m->s[b].copy[p];
			m->owner[p] = -1;
			m->sharers[p] |= 1U << b;
			m->s[b].pte[p] = 0;
			m->s[b].wbs++;
		}
		a->copy[p] = m->home[p];
		a->fetches++;
		m->sharers[p] |= 1U << s;
	}
	if (!a->pte[p])
		a->pte[p] = 1;
	return a->copy[p];
}

static void rm_model_write(struct rm_model *m, int s, int p, uint32_t val)
{
	struct rm_slot *a = &m->s[s];
	int st = rm_state(m, s, p), t;

	if (st != MY_SHMEM_MSI_M) {
		a->wf++;
		if (st == MY_SHMEM_MSI_I) {
			int b = m->owner[p];

			if (b >= 0) {
				a->copy[p] = m->s[b].copy[p];
				m->s[b].pte[p] = 0;
				m->s[b].invals++;
			} else {
				a->copy[p] = m->home[p];
			}
			a->fetches++;
		}
		for (t = 0; t < RM_NODES; t++) {
			if (t != s && (m->sharers[p] >> t & 1)) {
				m->s[t].pte[p] = 0;
				m->s[t].invals++;
			}
		}
		m->sharers[p] = 0;
		m->owner[p] = s;
	}
	a->copy[p] = val;
	a->pte[p] = 2;
}

static void rm_model_detach(struct rm_model *m, int s, int first, int end)
{
	for (int p = first; p < end; p++) {
		if (m->owner[p] == s) {
			m->home[p] = m->s[s].copy[p];
			m->owner[p] = -1;
			m->sharers[p] |= 1U << s;
			m->s[s].wbs++;
		}
		m->s[s].pte[p] = 0;
	}
}

static void rm_model_close(struct rm_model *m, int s)
{
	for (int p = 0; p < RM_PAGES; p++) {
		if (m->owner[p] == s) {
			m->home[p] = m->s[s].copy[p];
			m->owner[p] = -1;
		}
		m->sharers[p] &= ~(1U << s);
	}
	m->s[s].open = false;
}

/* The lowest node id no open slot holds. */
static uint32_t rm_model_open(struct rm_model *m, int s)
{
	uint32_t nid = 0;
	int t;

again:
	for (t = 0; t < RM_NODES; t++) {
		if (m->s[t].open && m->s[t].nid == nid) {
			nid++;
			goto again;
		}
	}
	memset(&m->s[s], 0, sizeof(m->s[s]));
	m->s[s].open = true;
	m->s[s].nid = nid;
	return nid;
}

static int rm_check_nodes(int fd, uint32_t seg, const struct rm_model *m, int nslots,
			  char *why, size_t len);

/* VMAs of /dev/my_shmem in process @pid, per /proc/<pid>/maps; -1 on error. */
static int count_vmas(pid_t pid)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, MY_SHMEM_DEVICE);
	fclose(f);
	return n;
}

/*
 * Compare the kernel with the model; 0 or -1 with the difference in @why.
 * Also: the segment's attachments (nattch) are the VMAs that map it in
 * @pids (the only processes mapping the device), its nodes the open slots.
 */
static int rm_check_attach(int fd, uint32_t seg, const pid_t *pids, int npids,
			   char *why, size_t len)
{
	struct my_shmem_seg_info si = { .size = sizeof(si), .id = seg };
	int vmas = 0;

	for (int i = 0; i < npids; i++)
		vmas += count_vmas(pids[i]);
	if (ioctl(fd, MY_SHMEM_IOC_SEG_INFO, &si)) {
		snprintf(why, len, "SEG_INFO: %s", strerror(errno));
		return -1;
	}
	if (si.nattch != (uint32_t)vmas) {
		snprintf(why, len, "segment nattch %u, but %d VMAs map it (/proc/PID/maps)",
			 si.nattch, vmas);
		return -1;
	}
	return 0;
}

/*
 * All of it.  A wrong nattch is reported once and the run goes on (the
 * protocol checks stay meaningful); anything else stops it.
 */
#define RM_CHECK(what) do {								\
	if (!attach_bad && rm_check_attach(self->c.viewer, self->c.seg, pids, npids,	\
					   why, sizeof(why))) {				\
		attach_bad = true;							\
		EXPECT_FALSE(attach_bad)						\
			TH_LOG("seed %#llx %s: %s", (unsigned long long)seed, what, why); \
	}										\
	ASSERT_EQ(0, rm_check_nodes(self->c.viewer, self->c.seg, m, n, why, sizeof(why))) \
		TH_LOG("seed %#llx %s: %s", (unsigned long long)seed, what, why);	\
} while (0)

/* The nodes, the directory and the counters against the model. */
static int rm_check_nodes(int fd, uint32_t seg, const struct rm_model *m, int nslots,
			  char *why, size_t len)
{
	uint32_t owners[RM_PAGES], sharers[RM_PAGES], ids[RM_NODES + 1], want[RM_NODES];
	struct my_shmem_node_info info;
	uint8_t st[RM_PAGES];
	int s, p, k, nopen = 0;
	uint32_t nr;

	if (seg_view(fd, seg, 0, RM_PAGES, NULL, owners, sharers)) {
		snprintf(why, len, "MSI_VIEW: %s", strerror(errno));
		return -1;
	}
	for (p = 0; p < RM_PAGES; p++) {
		int o = m->owner[p];
		uint32_t wo = o >= 0 ? m->s[o].nid : MY_SHMEM_NODE_NONE;

		if (owners[p] != wo || sharers[p] != (uint32_t)__builtin_popcount(m->sharers[p])) {
			snprintf(why, len, "page %d: owner %d sharers %u, model owner %d sharers %d (mask %#x)",
				 p, (int)owners[p], sharers[p], (int)wo,
				 __builtin_popcount(m->sharers[p]), m->sharers[p]);
			return -1;
		}
	}
	for (s = 0; s < nslots; s++) {
		const struct rm_slot *a = &m->s[s];
		uint64_t ps = 0, pm = 0;

		if (!a->open)
			continue;
		want[nopen++] = a->nid;
		if (seg_view(fd, seg, a->nid, RM_PAGES, st, NULL, NULL)) {
			snprintf(why, len, "MSI_VIEW of node %u: %s", a->nid, strerror(errno));
			return -1;
		}
		for (p = 0; p < RM_PAGES; p++) {
			int ms = rm_state(m, s, p);

			ps += ms == MY_SHMEM_MSI_S;
			pm += ms == MY_SHMEM_MSI_M;
			if (st[p] != ms) {
				snprintf(why, len, "slot %d (node %u) page %d: state %c, model %c",
					 s, a->nid, p, "ISM?"[st[p] < 3 ? st[p] : 3], "ISM"[ms]);
				return -1;
			}
		}
		if (seg_node_info(fd, seg, a->nid, 0, &info)) {
			snprintf(why, len, "NODE_INFO of node %u: %s", a->nid, strerror(errno));
			return -1;
		}
		if (info.node != a->nid || info.read_faults != a->rf ||
		    info.write_faults != a->wf || info.fetches != a->fetches ||
		    info.invals_received != a->invals || info.writebacks != a->wbs ||
		    info.pages_s != ps || info.pages_m != pm) {
			snprintf(why, len,
				 "slot %d (node %u) counters: read_faults %llu/%llu write_faults %llu/%llu "
				 "fetches %llu/%llu invals_received %llu/%llu writebacks %llu/%llu "
				 "pages_s %llu/%llu pages_m %llu/%llu (kernel/model)", s, a->nid,
				 (unsigned long long)info.read_faults, (unsigned long long)a->rf,
				 (unsigned long long)info.write_faults, (unsigned long long)a->wf,
				 (unsigned long long)info.fetches, (unsigned long long)a->fetches,
				 (unsigned long long)info.invals_received, (unsigned long long)a->invals,
				 (unsigned long long)info.writebacks, (unsigned long long)a->wbs,
				 (unsigned long long)info.pages_s, (unsigned long long)ps,
				 (unsigned long long)info.pages_m, (unsigned long long)pm);
			return -1;
		}
	}
	k = seg_nodes(fd, seg, ids, RM_NODES + 1, &nr);
	qsort(want, nopen, sizeof(*want), cmp_u32);
	if (k != nopen || (k && nr != (uint32_t)nopen) || memcmp(ids, want, nopen * sizeof(*ids))) {
		snprintf(why, len, "node walk: %d nodes, nr_nodes %u; model %d", k, nr, nopen);
		return -1;
	}
	return 0;
}

FIXTURE(model) {
	struct coh c;
	int cmd[RM_NODES], rep[RM_NODES];
};

FIXTURE_VARIANT(model) {
	int nodes;
	bool children;		/* each node in its own child process */
	unsigned long ops;
};

FIXTURE_VARIANT_ADD(model, local16) {
	.nodes = 16, .children = false, .ops = 6000,
};

FIXTURE_VARIANT_ADD(model, children8) {
	.nodes = 8, .children = true, .ops = 3000,
};

FIXTURE_SETUP(model)
{
	coh_setup(_metadata, &self->c, variant->nodes);
}

FIXTURE_TEARDOWN(model)
{
	int i;

	for (i = 0; i < self->c.nkids; i++) {
		struct rm_cmd c = { .op = RM_EXIT };

		if (write(self->cmd[i], &c, sizeof(c)) != sizeof(c))
			continue;
	}
	coh_teardown(_metadata, &self->c);
}

/* Run one command on slot @s's node, here or in its child. */
static int rm_run(FIXTURE_DATA(model) *self, const FIXTURE_VARIANT(model) *variant,
		  int s, const struct rm_cmd *c, struct rm_reply *r)
{
	if (!variant->children) {
		rm_exec(&self->c.nodes[s], self->c.key, c, r);
		return 0;
	}
	if (write(self->cmd[s], c, sizeof(*c)) != sizeof(*c) ||
	    read(self->rep[s], r, sizeof(*r)) != sizeof(*r))
		return -1;
	return 0;
}

TEST_F_TIMEOUT(model, random_run, 600)
{
	uint64_t seed = env_num("MSI_SEED", guest_kind_seed());
	unsigned long ops = env_num("MSI_OPS", variant->ops), step;
	static const char * const names[] = { "read", "write", "detach", "close", "open" };
	unsigned long count[5] = { 0 };
	struct rm_model *m = calloc(1, sizeof(*m));
	int n = variant->nodes, s, p, nopen = 0, npids;
	pid_t pids[RM_NODES];
	bool attach_bad = false;
	uint32_t val = 0;
	double t0 = now_sec();
	char why[512];

	ASSERT_NE(NULL, m);
	msg("random_run/%s: seed %#llx (MSI_SEED), %lu steps (MSI_OPS)\n",
	    variant->children ? "children" : "local",
	    (unsigned long long)seed, ops);
	prng_seed(seed * 0x9e3779b97f4a7c15ULL | 1);
	for (p = 0; p < RM_PAGES; p++)
		m->owner[p] = -1;
	if (variant->children) {
		for (s = 0; s < n; s++) {
			int a[2], b[2];
			pid_t pid;

			ASSERT_EQ(0, pipe(a));
			ASSERT_EQ(0, pipe(b));
			pid = fork();
			ASSERT_LE(0, pid);
			if (!pid) {
				close(a[1]);
				close(b[0]);
				rm_child(a[0], b[1], self->c.key);
			}
			close(a[0]);
			close(b[1]);
			self->cmd[s] = a[1];
			self->rep[s] = b[0];
			self->c.kids[self->c.nkids++] = pid;
		}
	}
	/* Every node opens; the first creates the segment. */
	for (s = 0; s < n; s++) {
		struct rm_cmd c = { .op = RM_OPEN };
		struct rm_reply r;
		uint32_t nid;

		if (s == 0) {
			/* create it here: the children bind with the key only */
			struct node first;

			ASSERT_EQ(0, node_open(&first, self->c.key, RM_PAGES, true));
			self->c.seg = first.seg;
			self->c.have_seg = true;
			node_close(&first);
		}
		ASSERT_EQ(0, rm_run(self, variant, s, &c, &r));
		ASSERT_EQ(0, r.err) TH_LOG("open: %s", strerror(r.err));
		nid = rm_model_open(m, s);
		ASSERT_EQ(nid, r.nid);
		nopen++;
	}
	if (variant->children) {
		memcpy(pids, self->c.kids, n * sizeof(*pids));
		npids = n;
	} else {
		pids[0] = getpid();
		npids = 1;
	}
	RM_CHECK("after the opens");

	for (step = 0; step < ops; step++) {
		unsigned int r100 = prng_below(100), op;
		struct rm_cmd c = { 0 };
		struct rm_reply r;
		char desc[96];

		if (r100 < 40)
			op = RM_READ;
		else if (r100 < 75)
			op = RM_WRITE;
		else if (r100 < 85)
			op = RM_DETACH;
		else if (r100 < 93)
			op = nopen > 2 ? RM_CLOSE : RM_READ;
		else
			op = nopen < n ? RM_OPEN : RM_READ;
		/* a random slot, open unless opening */
		do
			s = prng_below(n);
		while (m->s[s].open == (op == RM_OPEN));
		c.op = op;
		c.page = prng_below(RM_PAGES);
		c.first = prng_below(RM_PAGES);
		c.end = c.first + 1 + prng_below(RM_PAGES - c.first);
		c.val = ++val;
		snprintf(desc, sizeof(desc), "step %lu: %s slot %d (node %u) page %u range [%u,%u) val %u",
			 step, names[op], s, m->s[s].nid, c.page, c.first, c.end, c.val);
		count[op]++;
		ASSERT_EQ(0, rm_run(self, variant, s, &c, &r)) TH_LOG("%s: child gone", desc);
		ASSERT_EQ(0, r.err) TH_LOG("%s: %s", desc, strerror(r.err));
		switch (op) {
		case RM_READ: {
			uint32_t want = rm_model_read(m, s, c.page);

			ASSERT_EQ(want, r.w0) TH_LOG("seed %#llx %s: read %u, model %u",
						     (unsigned long long)seed, desc, r.w0, want);
			ASSERT_EQ(want ? ~want : 0, r.w1) TH_LOG("seed %#llx %s: last word %#x",
								 (unsigned long long)seed, desc, r.w1);
			break;
		}
		case RM_WRITE:
			rm_model_write(m, s, c.page, c.val);
			break;
		case RM_DETACH:
			rm_model_detach(m, s, c.first, c.end);
			break;
		case RM_CLOSE:
			rm_model_close(m, s);
			nopen--;
			break;
		case RM_OPEN:
			ASSERT_EQ(rm_model_open(m, s), r.nid) TH_LOG("seed %#llx %s: node id",
								     (unsigned long long)seed, desc);
			nopen++;
			break;
		}
		RM_CHECK(desc);
	}
	/* Everything closed: the home copy holds the last write of each page. */
	for (s = 0; s < n; s++) {
		struct rm_cmd c = { .op = RM_CLOSE };
		struct rm_reply r;

		if (!m->s[s].open)
			continue;
		ASSERT_EQ(0, rm_run(self, variant, s, &c, &r));
		rm_model_close(m, s);
	}
	{
		struct node last;

		ASSERT_EQ(0, node_open(&last, self->c.key, RM_PAGES, false));
		for (p = 0; p < RM_PAGES; p++) {
			volatile uint32_t *w = (volatile uint32_t *)(last.map + p * page_size());

			EXPECT_EQ(m->home[p], w[0]) TH_LOG("seed %#llx: page %d after close",
							   (unsigned long long)seed, p);
		}
		node_close(&last);
	}
	msg("random_run/%s: %lu reads, %lu writes, %lu detaches, %lu closes, %lu opens in %.1f s\n",
	    variant->children ? "children" : "local", count[0], count[1],
	    count[2], count[3], count[4], now_sec() - t0);
	free(m);
}

/* ------------------------------------------------------------------------
 * 2. Litmus tests across nodes: each thread accesses its own node's mapping.
 *
 * The accesses are C11 seq_cst atomics: on ordinary coherent memory the CPU
 * then forbids the non-SC outcomes, so any seen here comes from the
 * protocol (a stale copy, a write lost in a transfer).  Values are the
 * iteration number, so nothing is reset between iterations; one barrier
 * (ordinary memory) starts each iteration, each thread pinned to a CPU of
 * its own (as far as there are CPUs) with a random head start.
 */

#define LT_MAX		8
#define LT_PAGES	4

/*
 * A barrier in ordinary memory that spins a little, yields a little, then
 * naps: a futex sleep and wake-up per iteration (pthread_barrier_wait())
 * costs more than the iteration itself under TCG, and there may be more
 * threads than vCPUs (the threads are pinned, two to a vCPU on a 2-vCPU
 * guest). Spinning and yielding alone were sometimes far slower: an idle
 * aarch64 6.12 guest once took 47 s for 2-node store buffering against
 * 4.6 s, and over 300 s for 4-node message passing (cause not established:
 * sched_yield() may return to the same task while the thread it waits for
 * is runnable on its vCPU, and a spinning vCPU takes host time from the
 * other). A nap surely gives the vCPU up, and the task's own timer wakes
 * it: no other vCPU has to, as with a futex (that cost 22 ms per
 * iteration on an idle aarch64 guest: 4-node store buffering 233 s against
 * 8.4 s).
 */
struct spin_barrier {
	_Atomic unsigned int count, gen;
	unsigned int n;
};

static void spin_barrier_wait(struct spin_barrier *b)
{
	const struct timespec nap = { .tv_nsec = 20 * 1000 };
	unsigned int gen = atomic_load(&b->gen), spins = 0;

	if (atomic_fetch_add(&b->count, 1) + 1 == b->n) {
		atomic_store(&b->count, 0);
		atomic_fetch_add(&b->gen, 1);
		return;
	}
	while (atomic_load(&b->gen) == gen) {
		if (++spins <= 200)
			continue;
		if (spins <= 264)
			sched_yield();
		else
			nanosleep(&nap, NULL);
	}
}

struct litmus_run {
	struct node *nodes;
	int n;
	unsigned long iters;
	bool sb;			/* store buffering, else message passing */
	struct spin_barrier bar;
	uint32_t (*res)[LT_MAX][2];	/* [iteration][thread]: values read */
	double slowest;			/* thread 0: longest iteration, s */
	unsigned long slow;		/* thread 0: iterations over 10 ms */
};

struct lt_arg {
	struct litmus_run *r;
	int t;
};

static _Atomic uint32_t *lt_var(const struct node *n, int page)
{
	return (_Atomic uint32_t *)(n->map + page * page_size());
}

static void *lt_thread(void *arg)
{
	struct lt_arg *a = arg;
	struct litmus_run *r = a->r;
	const struct node *n = &r->nodes[a->t];
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * (a->t + 1);
	double last = 0, now, took;
	int t = a->t;
	unsigned long i;

	pin_to_cpu(t);
	for (i = 1; i <= r->iters; i++) {
		volatile unsigned int delay = xs_next(&rnd) % 32768;

		spin_barrier_wait(&r->bar);
		/* How the time is spread: a few stalls, or every iteration? */
		if (t == 0) {
			now = now_sec();
			took = last ? now - last : 0;
			if (took > r->slowest)
				r->slowest = took;
			if (took > 0.010)
				r->slow++;
			last = now;
		}
		/*
		 * A random head start, about one fault's time at most: the
		 * threads' accesses interleave in every order, not only "one
		 * thread first".
		 */
		while (delay)
			delay--;
		if (r->sb) {
			/* T_t: x_t = i; r_t = x_(t+1) */
			atomic_store(lt_var(n, t), i);
			r->res[i - 1][t][0] = atomic_load(lt_var(n, (t + 1) % r->n));
		} else if (t == 0) {
			/* data (page 0), then flag (page 1) */
			atomic_store(lt_var(n, 0), i);
			atomic_store(lt_var(n, 1), i);
		} else {
			r->res[i - 1][t][0] = atomic_load(lt_var(n, 1));
			r->res[i - 1][t][1] = atomic_load(lt_var(n, 0));
		}
	}
	return NULL;
}

static int lt_run(struct litmus_run *r)
{
	pthread_t th[LT_MAX];
	struct lt_arg a[LT_MAX];
	int t, err = 0;

	r->res = calloc(r->iters, sizeof(*r->res));
	if (!r->res)
		return -1;
	r->bar.n = r->n;
	for (t = 0; t < r->n; t++) {
		a[t] = (struct lt_arg){ .r = r, .t = t };
		if (pthread_create(&th[t], NULL, lt_thread, &a[t]))
			return -1;	/* the others would hang at the barrier: abort */
	}
	for (t = 0; t < r->n; t++)
		err |= pthread_join(th[t], NULL);
	return err ? -1 : 0;
}

FIXTURE(litmus) {
	struct coh c;
	unsigned long iters;
};

FIXTURE_VARIANT(litmus) {
	int nodes;
};

FIXTURE_VARIANT_ADD(litmus, two_nodes) {
	.nodes = 2,
};

FIXTURE_VARIANT_ADD(litmus, four_nodes) {
	.nodes = 4,
};

FIXTURE_SETUP(litmus)
{
	coh_setup(_metadata, &self->c, variant->nodes);
	for (int i = 0; i < variant->nodes; i++)
		ASSERT_EQ(0, coh_open(&self->c, i, LT_PAGES));
	self->iters = env_num("MSI_LITMUS_ITERS", 10000);
}

FIXTURE_TEARDOWN(litmus)
{
	coh_teardown(_metadata, &self->c);
}

/*
 * Message passing: T0 writes data then flag; T1.. read flag then data.
 * Forbidden: flag new, data old.  Anything older than the previous
 * iteration is a stale copy.
 */
TEST_F_TIMEOUT(litmus, message_passing, 300)
{
	struct litmus_run r = { .nodes = self->c.nodes, .n = variant->nodes,
				.iters = self->iters, .sb = false };
	unsigned long hist[2][2] = { { 0 } }, bad = 0, stale = 0, i;
	double t0 = now_sec();
	int t;

	ASSERT_EQ(0, lt_run(&r));
	for (i = 1; i <= r.iters; i++) {
		for (t = 1; t < r.n; t++) {
			uint32_t f = r.res[i - 1][t][0], d = r.res[i - 1][t][1];

			if (f + 1 < i || f > i || d + 1 < i || d > i) {
				if (!stale++)
					TH_LOG("iteration %lu thread %d: flag %u data %u", i, t, f, d);
				continue;
			}
			hist[f == i][d == i]++;
			if (f == i && d != i && !bad++)
				TH_LOG("iteration %lu thread %d: flag new, data old", i, t);
		}
	}
	msg("mp %d nodes, %lu iterations (%.1f s; slowest %.1f ms, %lu over 10 ms): "
	    "flag old/data old %lu, old/new %lu, new/new %lu, new/old (forbidden) %lu, "
	    "stale %lu\n", r.n, r.iters, now_sec() - t0, r.slowest * 1e3, r.slow,
	    hist[0][0], hist[0][1], hist[1][1], hist[1][0], stale);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, stale);
	free(r.res);
}

/*
 * Store buffering (the ring of n): T_t writes x_t then reads x_(t+1).
 * Forbidden: every read old.
 */
TEST_F_TIMEOUT(litmus, store_buffering, 300)
{
	struct litmus_run r = { .nodes = self->c.nodes, .n = variant->nodes,
				.iters = self->iters, .sb = true };
	unsigned long hist[1 << LT_MAX] = { 0 }, bad = 0, stale = 0, i;
	double t0 = now_sec();
	char line[512];
	int t, len = 0;

	ASSERT_EQ(0, lt_run(&r));
	for (i = 1; i <= r.iters; i++) {
		unsigned int key = 0;

		for (t = 0; t < r.n; t++) {
			uint32_t v = r.res[i - 1][t][0];

			if (v + 1 < i || v > i) {
				if (!stale++)
					TH_LOG("iteration %lu thread %d: read %u", i, t, v);
			}
			key |= (v == i) << t;
		}
		hist[key]++;
		if (!key && !bad++)
			TH_LOG("iteration %lu: every read old", i);
	}
	for (i = 0; i < (1UL << r.n); i++) {
		if (!hist[i])
			continue;
		len += snprintf(line + len, sizeof(line) - len, " r=");
		for (t = 0; t < r.n; t++)
			len += snprintf(line + len, sizeof(line) - len, "%lu", i >> t & 1);
		len += snprintf(line + len, sizeof(line) - len, ":%lu", hist[i]);
	}
	msg("sb %d nodes, %lu iterations (%.1f s; slowest %.1f ms, %lu over 10 ms), "
	    "1 = new:%s; forbidden %lu, stale %lu\n", r.n, r.iters, now_sec() - t0,
	    r.slowest * 1e3, r.slow, line, bad, stale);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, stale);
	free(r.res);
}

/* Tests on a segment of their own; nodes opened by the test. */
FIXTURE(coherent) {
	struct coh c;
};

FIXTURE_SETUP(coherent)
{
	coh_setup(_metadata, &self->c, 1024);
}

FIXTURE_TEARDOWN(coherent)
{
	coh_teardown(_metadata, &self->c);
}

struct lock_arg {
	const struct node *n;
	struct spin_barrier *start;
	int cpu;
	unsigned long iters, done, spins;
};

/* A spinlock on a C11 atomic in page 0; the counter it guards in page 1. */
static void *lock_thread(void *arg)
{
	struct lock_arg *a = arg;
	_Atomic int *lock = (_Atomic int *)a->n->map;
	volatile uint64_t *counter = (volatile uint64_t *)(a->n->map + page_size());
	unsigned long i;

	pin_to_cpu(a->cpu);
	spin_barrier_wait(a->start);
	for (i = 0; i < a->iters; i++) {
		int unlocked = 0;

		while (!atomic_compare_exchange_strong_explicit(lock, &unlocked, 1,
								memory_order_acquire,
								memory_order_relaxed)) {
			unlocked = 0;
			a->spins++;
			sched_yield();
		}
		{
			uint64_t c = *counter;

			if (!(i & 15))	/* lose the CPU holding the lock */
				sched_yield();
			*counter = c + 1;
		}
		atomic_store_explicit(lock, 0, memory_order_release);
		a->done++;
	}
	return NULL;
}

/* 8 nodes increment one counter under the lock: no update lost. */
TEST_F_TIMEOUT(coherent, atomic_lock_8_nodes, 300)
{
	unsigned long iters = env_num("MSI_LOCK_ITERS", 5000), spins = 0;
	struct spin_barrier start = { .n = 8 };
	struct my_shmem_node_info info;
	unsigned long long faults = 0;
	struct lock_arg a[8];
	pthread_t th[8];
	double t0 = now_sec();
	int i;

	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, coh_open(&self->c, i, 2));
	for (i = 0; i < 8; i++) {
		a[i] = (struct lock_arg){ .n = &self->c.nodes[i], .start = &start, .cpu = i,
					  .iters = iters };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, lock_thread, &a[i]));
	}
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, pthread_join(th[i], NULL));
		spins += a[i].spins;
		ASSERT_EQ(0, node_info(&self->c.nodes[i], MY_SHMEM_NODE_SELF, &info));
		faults += info.read_faults + info.write_faults;
	}
	msg("lock: 8 nodes x %lu increments in %.1f s, %lu failed CAS, %llu faults\n",
	    iters, now_sec() - t0, spins, faults);
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(8 * iters, *(volatile uint64_t *)(self->c.nodes[i].map + page_size()))
			TH_LOG("counter read by node %d", i);
		EXPECT_EQ(0, *(_Atomic int *)self->c.nodes[i].map);
	}
}

struct fp_arg {
	const struct node *n;
	struct spin_barrier *start;
	int word;
	unsigned long iters;
	_Atomic unsigned long done;
	unsigned long wrong;
};

/*
 * Write one's own word of the shared page, read it back, read the other
 * node's word (never going back): each iteration takes the page from the
 * other node when it wrote last, so both must get their turns.
 */
static void *fp_thread(void *arg)
{
	struct fp_arg *a = arg;
	volatile uint64_t *w = (volatile uint64_t *)a->n->map + a->word;
	volatile uint64_t *other = (volatile uint64_t *)a->n->map + (8 - a->word);
	uint64_t seen = 0, o;
	unsigned long i;

	pin_to_cpu(a->word ? 1 : 0);
	spin_barrier_wait(a->start);
	for (i = 1; i <= a->iters; i++) {
		*w = i;
		if (*w != i)
			a->wrong++;
		o = *other;
		if (o < seen)
			a->wrong++;
		seen = o;
		atomic_store_explicit(&a->done, i, memory_order_relaxed);
	}
	return NULL;
}

/* Two nodes write one page in a tight loop: both finish, nothing lost. */
TEST_F_TIMEOUT(coherent, forward_progress, 300)
{
	unsigned long iters = env_num("MSI_FP_ITERS", 2000000);
	struct my_shmem_node_info ia, ib;
	struct spin_barrier start = { .n = 2 };
	struct fp_arg a[2];
	pthread_t th[2];
	double t0 = now_sec();
	int i, finished = 0;

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, coh_open(&self->c, i, 1));
	for (i = 0; i < 2; i++) {
		a[i] = (struct fp_arg){ .n = &self->c.nodes[i], .start = &start,
					.word = 8 * i, .iters = iters };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, fp_thread, &a[i]));
	}
	for (i = 0; i < 2; i++) {
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 120;
		if (!pthread_timedjoin_np(th[i], NULL, &dl))
			finished++;
	}
	ASSERT_EQ(2, finished) TH_LOG("no progress: %lu and %lu of %lu writes done in %.0f s",
				      a[0].done, a[1].done, iters, now_sec() - t0);
	ASSERT_EQ(0, node_info(&self->c.nodes[0], MY_SHMEM_NODE_SELF, &ia));
	ASSERT_EQ(0, node_info(&self->c.nodes[1], MY_SHMEM_NODE_SELF, &ib));
	msg("forward progress: 2 x %lu writes in %.1f s, write faults %llu + %llu\n",
	    iters, now_sec() - t0, (unsigned long long)ia.write_faults,
	    (unsigned long long)ib.write_faults);
	EXPECT_EQ(0, a[0].wrong);
	EXPECT_EQ(0, a[1].wrong);
	for (i = 0; i < 2; i++) {
		volatile uint64_t *w = (volatile uint64_t *)self->c.nodes[i].map;

		EXPECT_EQ(iters, w[0]);
		EXPECT_EQ(iters, w[8]);
	}
}

/* ------------------------------------------------------------------------
 * 3. Races, after the kernel's selftests/mm/hmm-tests.c: munmap, mremap,
 * fork and exit of one node racing faults and invalidations from the other
 * threads and nodes, for a bounded time.
 *
 * Word w of the segment is at page w % RC_PAGES, byte 64 * (w / RC_PAGES);
 * each word has one writer, writing 1, 2, 3, ... and recording the last
 * value in @last (shared memory: children write too).  Readers check that
 * each word they read never goes back and never runs ahead of its writer;
 * at the end a fresh node reads every word: it must hold the last value.
 */

#define RC_NODES	4
#define RC_WORKERS	8	/* two threads per node; worker t writes word t */
#define RC_PAGES	8
#define RC_WORDS	32
#define RC_WORD_RACER	8	/* page 0 */
#define RC_WORD_CHILD	9	/* page 1 */
#define RC_WORD_KILL(k)	(16 + 8 * (k))	/* page 0: the kill test's children */

enum { RACE_MUNMAP, RACE_MREMAP, RACE_FORK_EXIT };

struct race {
	struct coh *c;
	int kind;
	_Atomic int stop;
	_Atomic uint64_t *last;		/* [RC_WORDS], MAP_SHARED | MAP_ANONYMOUS */
	_Atomic unsigned long errors, ops, racer_iters;
	pthread_mutex_t lock;
	char why[256];
};

static _Atomic uint64_t *rc_word(char *map, int w)
{
	return (_Atomic uint64_t *)(map + (w % RC_PAGES) * page_size() + 64 * (w / RC_PAGES));
}

static void rc_fail(struct race *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void rc_fail(struct race *r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (!r->errors++) {
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->lock);
}

/* Read word @w through @map: never back, never ahead of its writer. */
static void rc_read(struct race *r, char *map, int w, uint64_t *seen, const char *who)
{
	uint64_t v = atomic_load_explicit(rc_word(map, w), memory_order_relaxed);
	uint64_t last = atomic_load(&r->last[w]);

	if (v < seen[w])
		rc_fail(r, "%s: word %d went back from %llu to %llu", who, w,
			(unsigned long long)seen[w], (unsigned long long)v);
	else if (v > last + 1)
		rc_fail(r, "%s: word %d reads %llu, its writer is at %llu", who, w,
			(unsigned long long)v, (unsigned long long)last);
	seen[w] = v;
}

/* Write the next value of word @w through @map, read it back, record it. */
static void rc_write(struct race *r, char *map, int w, const char *who)
{
	uint64_t v = atomic_load(&r->last[w]) + 1;

	atomic_store_explicit(rc_word(map, w), v, memory_order_relaxed);
	if (atomic_load_explicit(rc_word(map, w), memory_order_relaxed) != v)
		rc_fail(r, "%s: word %d: wrote %llu, read back %llu", who, w,
			(unsigned long long)v,
			(unsigned long long)atomic_load(rc_word(map, w)));
	atomic_store(&r->last[w], v);
}

struct rc_worker {
	struct race *r;
	int t;
	char *map;
};

static void *rc_worker(void *arg)
{
	struct rc_worker *a = arg;
	struct race *r = a->r;
	uint64_t seen[RC_WORDS] = { 0 }, rnd = 0x9e3779b97f4a7c15ULL * (a->t + 1);
	char who[32];

	snprintf(who, sizeof(who), "worker %d", a->t);
	pin_to_cpu(a->t);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		uint64_t x = xs_next(&rnd);

		if (x & 1)
			rc_write(r, a->map, a->t, who);
		else
			rc_read(r, a->map, (x >> 8) % RC_WORDS, seen, who);
		atomic_fetch_add_explicit(&r->ops, 1, memory_order_relaxed);
	}
	return NULL;
}

/* Node 0 mapped again, written and read, then unmapped in two pieces. */
static void racer_munmap(struct race *r, uint64_t *seen, uint64_t *rnd)
{
	const struct node *n = &r->c->nodes[0];
	long ps = page_size();
	char *p = mmap(NULL, RC_PAGES * ps, PROT_READ | PROT_WRITE, MAP_SHARED, n->fd, 0);
	unsigned long cut = 1 + xs_next(rnd) % (RC_PAGES - 1);

	if (p == MAP_FAILED) {
		rc_fail(r, "racer mmap: %s", strerror(errno));
		return;
	}
	rc_write(r, p, RC_WORD_RACER, "munmap racer");
	rc_read(r, p, xs_next(rnd) % RC_WORDS, seen, "munmap racer");
	rc_read(r, p, xs_next(rnd) % RC_WORDS, seen, "munmap racer");
	if (munmap(p + cut * ps, (RC_PAGES - cut) * ps) || munmap(p, cut * ps))
		rc_fail(r, "racer munmap: %s", strerror(errno));
}

/* Node 0's first half mapped, grown to the whole segment, moved, shrunk. */
static void racer_mremap(struct race *r, uint64_t *seen, uint64_t *rnd)
{
	const struct node *n = &r->c->nodes[0];
	long ps = page_size(), half = RC_PAGES / 2;
	char *p, *q, *to;

	p = mmap(NULL, half * ps, PROT_READ | PROT_WRITE, MAP_SHARED, n->fd, 0);
	if (p == MAP_FAILED) {
		rc_fail(r, "racer mmap: %s", strerror(errno));
		return;
	}
	rc_write(r, p, RC_WORD_RACER, "mremap racer");
	q = mremap(p, half * ps, RC_PAGES * ps, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		rc_fail(r, "racer mremap grow: %s", strerror(errno));
		munmap(p, half * ps);
		return;
	}
	/* a word of the upper half, then ours again */
	rc_read(r, q, half + xs_next(rnd) % half + RC_PAGES * (xs_next(rnd) % 2), seen,
		"mremap racer");
	rc_write(r, q, RC_WORD_RACER, "mremap racer");
	to = mmap(NULL, RC_PAGES * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED ||
	    (p = mremap(q, RC_PAGES * ps, RC_PAGES * ps, MREMAP_MAYMOVE | MREMAP_FIXED,
			to)) == MAP_FAILED) {
		rc_fail(r, "racer mremap move: %s", strerror(errno));
		munmap(q, RC_PAGES * ps);
		return;
	}
	rc_write(r, p, RC_WORD_RACER, "mremap racer");
	rc_read(r, p, xs_next(rnd) % RC_WORDS, seen, "mremap racer");
	q = mremap(p, RC_PAGES * ps, ps, 0);	/* shrink: the tail detaches */
	if (q != p) {
		rc_fail(r, "racer mremap shrink: %s", strerror(errno));
		munmap(p, RC_PAGES * ps);
		return;
	}
	rc_write(r, p, RC_WORD_RACER, "mremap racer");
	munmap(p, ps);
}

/*
 * A child, the same node 0 through the inherited mapping, writes the racer
 * word, then opens a node of its own, writes the child word and exits
 * without unmapping or closing anything: exit detaches and closes.
 */
static void racer_fork_exit(struct race *r, uint64_t *seen, uint64_t *rnd)
{
	const struct node *n = &r->c->nodes[0];
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		rc_fail(r, "fork: %s", strerror(errno));
		return;
	}
	if (!pid) {
		uint64_t v = atomic_load(&r->last[RC_WORD_RACER]) + 1, w;
		struct node own;

		atomic_store(rc_word(n->map, RC_WORD_RACER), v);
		if (atomic_load(rc_word(n->map, RC_WORD_RACER)) != v)
			_exit(1);
		if (node_open(&own, r->c->key, RC_PAGES, false))
			_exit(2);
		w = atomic_load(&r->last[RC_WORD_CHILD]) + 1;
		atomic_store(rc_word(own.map, RC_WORD_CHILD), w);
		if (atomic_load(rc_word(own.map, RC_WORD_CHILD)) != w)
			_exit(3);
		if (atomic_load(rc_word(own.map, RC_WORD_RACER)) != v)
			_exit(4);
		(void)atomic_load(rc_word(own.map, xs_next(rnd) % RC_WORDS));
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		rc_fail(r, "fork racer: child status %#x", status);
		return;
	}
	/* the child's writes are the writers' next values */
	atomic_fetch_add(&r->last[RC_WORD_RACER], 1);
	atomic_fetch_add(&r->last[RC_WORD_CHILD], 1);
	rc_read(r, n->map, RC_WORD_CHILD, seen, "fork racer");
	rc_read(r, n->map, RC_WORD_RACER, seen, "fork racer");
}

static void *rc_racer(void *arg)
{
	struct race *r = arg;
	uint64_t seen[RC_WORDS] = { 0 }, rnd = 0x2545f4914f6cdd1dULL;

	while (!atomic_load(&r->stop) && !atomic_load(&r->errors)) {
		switch (r->kind) {
		case RACE_MUNMAP:
			racer_munmap(r, seen, &rnd);
			break;
		case RACE_MREMAP:
			racer_mremap(r, seen, &rnd);
			break;
		case RACE_FORK_EXIT:
			racer_fork_exit(r, seen, &rnd);
			break;
		}
		atomic_fetch_add(&r->racer_iters, 1);
	}
	return NULL;
}

static int race_init(struct race *r, struct coh *c, int kind)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->kind = kind;
	pthread_mutex_init(&r->lock, NULL);
	r->last = mmap(NULL, RC_WORDS * sizeof(*r->last), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return r->last == MAP_FAILED ? -1 : 0;
}

/*
 * Every word as a fresh node reads it, against @last (words in @loose may
 * also be one ahead: a killed writer's last store); then the directory.
 * Returns 0 or -1 with @why.
 */
static int race_verify(struct race *r, const uint32_t *nids, int n, uint64_t loose,
		       char *why, size_t len)
{
	uint32_t *all = calloc(n + 1, sizeof(*all));
	struct node fresh;
	int w, err;

	if (!all || node_open(&fresh, r->c->key, RC_PAGES, false)) {
		snprintf(why, len, "fresh node: %s", strerror(errno));
		free(all);
		return -1;
	}
	for (w = 0; w < RC_WORDS; w++) {
		uint64_t v = atomic_load(rc_word(fresh.map, w)), last = atomic_load(&r->last[w]);

		if (v != last && !(loose >> w & 1 && v == last + 1)) {
			snprintf(why, len, "word %d: a fresh node reads %llu, last written %llu",
				 w, (unsigned long long)v, (unsigned long long)last);
			node_close(&fresh);
			free(all);
			return -1;
		}
	}
	memcpy(all, nids, n * sizeof(*all));
	all[n] = fresh.nid;
	err = check_directory(r->c->viewer, r->c->seg, all, n + 1, RC_PAGES, why, len);
	node_close(&fresh);
	free(all);
	return err;
}

FIXTURE(race) {
	struct coh c;
};

FIXTURE_VARIANT(race) {
	int kind;
};

FIXTURE_VARIANT_ADD(race, munmap) {
	.kind = RACE_MUNMAP,
};

FIXTURE_VARIANT_ADD(race, mremap) {
	.kind = RACE_MREMAP,
};

FIXTURE_VARIANT_ADD(race, fork_exit) {
	.kind = RACE_FORK_EXIT,
};

FIXTURE_SETUP(race)
{
	coh_setup(_metadata, &self->c, RC_NODES);
	for (int i = 0; i < RC_NODES; i++)
		ASSERT_EQ(0, coh_open(&self->c, i, RC_PAGES));
}

FIXTURE_TEARDOWN(race)
{
	coh_teardown(_metadata, &self->c);
}

TEST_F_TIMEOUT(race, faults_vs_mm_changes, 300)
{
	static const char * const kinds[] = { "munmap", "mremap", "fork/exit" };
	double secs = env_num("MSI_RACE_MS", 3000) / 1000.0, t0;
	struct rc_worker wa[RC_WORKERS];
	pthread_t th[RC_WORKERS], racer;
	uint32_t nids[RC_NODES];
	struct race r;
	char why[256];
	int i;

	ASSERT_EQ(0, race_init(&r, &self->c, variant->kind));
	for (i = 0; i < RC_NODES; i++)
		nids[i] = self->c.nodes[i].nid;
	t0 = now_sec();
	for (i = 0; i < RC_WORKERS; i++) {
		wa[i] = (struct rc_worker){ .r = &r, .t = i,
					    .map = self->c.nodes[i % RC_NODES].map };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, rc_worker, &wa[i]));
	}
	ASSERT_EQ(0, pthread_create(&racer, NULL, rc_racer, &r));
	while (now_sec() - t0 < secs && !atomic_load(&r.errors))
		usleep(20000);
	atomic_store(&r.stop, 1);
	for (i = 0; i < RC_WORKERS; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	ASSERT_EQ(0, pthread_join(racer, NULL));
	msg("race %s: %lu accesses, %lu racer rounds in %.1f s\n",
	    kinds[variant->kind], r.ops, r.racer_iters, now_sec() - t0);
	ASSERT_EQ(0, r.errors) TH_LOG("%lu errors, first: %s", r.errors, r.why);
	EXPECT_LT(0, r.racer_iters);
	ASSERT_EQ(0, race_verify(&r, nids, RC_NODES, 0, why, sizeof(why))) TH_LOG("%s", why);
	munmap(r.last, RC_WORDS * sizeof(*r.last));
}

/* A node in a child process hammering writes on page 0 until killed. */
static void kill_child(struct race *r, int k, _Atomic int *ready)
{
	uint64_t seen[RC_WORDS] = { 0 }, rnd = 77 + k;
	struct node own;
	char who[16];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (node_open(&own, r->c->key, RC_PAGES, false))
		_exit(2);
	snprintf(who, sizeof(who), "child %d", k);
	atomic_fetch_add(ready, 1);
	for (;;) {
		rc_write(r, own.map, RC_WORD_KILL(k), who);
		rc_read(r, own.map, xs_next(&rnd) % RC_WORDS, seen, who);
		if (atomic_load(&r->errors)) {	/* this process's copy of @r */
			fprintf(stderr, "# %s: %s\n", who, r->why);
			_exit(3);
		}
	}
}

/*
 * kill -9 of two child nodes hammering page 0 while three nodes of this
 * process contend for it: the directory stays consistent and the survivors
 * read the last values written (a killed writer's last store may or may not
 * have landed before it died, but it is never lost once it has).
 */
TEST_F_TIMEOUT(coherent, kill9_during_contention, 300)
{
	double secs = env_num("MSI_RACE_MS", 3000) / 1000.0 / 2, t0;
	struct rc_worker wa[6];
	pthread_t th[6];
	uint32_t nids[3];
	_Atomic int *ready;
	struct race r;
	char why[256];
	int i, k, status;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, coh_open(&self->c, i, RC_PAGES));
		nids[i] = self->c.nodes[i].nid;
	}
	ASSERT_EQ(0, race_init(&r, &self->c, -1));
	ready = mmap(NULL, sizeof(*ready), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ready);
	for (k = 0; k < 2; k++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (!pid)
			kill_child(&r, k, ready);
		self->c.kids[self->c.nkids++] = pid;
	}
	for (i = 0; i < 6; i++) {
		wa[i] = (struct rc_worker){ .r = &r, .t = i, .map = self->c.nodes[i % 3].map };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, rc_worker, &wa[i]));
	}
	t0 = now_sec();
	while (atomic_load(ready) < 2 && now_sec() - t0 < 60)
		usleep(10000);
	EXPECT_EQ(2, atomic_load(ready));
	t0 = now_sec();
	for (k = 0; k < 2; k++) {
		while (now_sec() - t0 < secs * (k + 1))
			usleep(10000);
		EXPECT_EQ(0, kill(self->c.kids[k], SIGKILL));
		EXPECT_EQ(self->c.kids[k], waitpid(self->c.kids[k], &status, 0));
		self->c.kids[k] = 0;
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			TH_LOG("child %d: status %#x", k, status);
	}
	atomic_store(&r.stop, 1);
	for (i = 0; i < 6; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	msg("kill -9: %lu accesses in %.1f s, children at %llu and %llu writes\n",
	    r.ops, now_sec() - t0,
	    (unsigned long long)atomic_load(&r.last[RC_WORD_KILL(0)]),
	    (unsigned long long)atomic_load(&r.last[RC_WORD_KILL(1)]));
	ASSERT_EQ(0, r.errors) TH_LOG("%lu errors, first: %s", r.errors, r.why);
	ASSERT_EQ(0, check_directory(self->c.viewer, self->c.seg, nids, 3, RC_PAGES,
				     why, sizeof(why))) TH_LOG("after the kills: %s", why);
	ASSERT_EQ(0, race_verify(&r, nids, 3, 1ULL << RC_WORD_KILL(0) | 1ULL << RC_WORD_KILL(1),
				 why, sizeof(why))) TH_LOG("%s", why);
	/* One survivor writes; every survivor reads it. */
	atomic_store(rc_word(self->c.nodes[1].map, 0), 0xdeadbeefULL);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0xdeadbeefULL, atomic_load(rc_word(self->c.nodes[i].map, 0)));
	ASSERT_EQ(0, check_directory(self->c.viewer, self->c.seg, nids, 3, RC_PAGES,
				     why, sizeof(why))) TH_LOG("%s", why);
	munmap(r.last, RC_WORDS * sizeof(*r.last));
	munmap(ready, sizeof(*ready));
}

/* 1,024 nodes share a page; one write invalidates the 1,023 others. */
TEST_F_TIMEOUT(coherent, nodes_1024, 300)
{
	const int n = 1024, writer = 517;
	struct rlimit rl = { .rlim_cur = n + 64, .rlim_max = n + 64 };
	uint32_t owner, sharers, nr;
	struct my_shmem_node_info info;
	uint8_t *seen = calloc(n, 1), st;
	uint32_t *ids = calloc(n + 1, sizeof(*ids));
	double t0 = now_sec();
	int i;

	ASSERT_NE(NULL, seen);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_max < (rlim_t)n + 64)
		rl.rlim_max = n + 64;
	rl.rlim_cur = rl.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl)) TH_LOG("RLIMIT_NOFILE: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, coh_open(&self->c, i, 1)) TH_LOG("node %d", i);
		/* ids are the lowest free: 0 .. n - 1 */
		ASSERT_GT(n, self->c.nodes[i].nid);
		ASSERT_EQ(0, seen[self->c.nodes[i].nid]++);
	}
	*(volatile uint32_t *)self->c.nodes[0].map = 0x1234;
	for (i = 0; i < n; i++)
		ASSERT_EQ(0x1234, *(volatile uint32_t *)self->c.nodes[i].map) TH_LOG("node %d", i);
	ASSERT_EQ(0, seg_view(self->c.viewer, self->c.seg, 0, 1, NULL, &owner, &sharers));
	EXPECT_EQ(MY_SHMEM_NODE_NONE, owner);
	EXPECT_EQ(n, sharers);
	ASSERT_EQ(0, seg_node_info(self->c.viewer, self->c.seg, 0, 0, &info));
	EXPECT_EQ(n, info.nr_nodes);

	*(volatile uint32_t *)self->c.nodes[writer].map = 0x5678;
	ASSERT_EQ(0, seg_view(self->c.viewer, self->c.seg, 0, 1, NULL, &owner, &sharers));
	EXPECT_EQ(self->c.nodes[writer].nid, owner);
	EXPECT_EQ(0, sharers);
	for (i = 0; i < n; i++) {
		uint32_t nid = self->c.nodes[i].nid;

		ASSERT_EQ(0, seg_view(self->c.viewer, self->c.seg, nid, 1, &st, NULL, NULL));
		EXPECT_EQ(i == writer ? MY_SHMEM_MSI_M : MY_SHMEM_MSI_I, st) TH_LOG("node %d", i);
		ASSERT_EQ(0, seg_node_info(self->c.viewer, self->c.seg, nid, 0, &info));
		EXPECT_EQ(i == writer ? 0 : 1, info.invals_received) TH_LOG("node %d", i);
		EXPECT_EQ(i == writer, info.pages_m);
		EXPECT_EQ(0, info.pages_s);
	}
	ASSERT_NE(NULL, ids);
	EXPECT_EQ(n, seg_nodes(self->c.viewer, self->c.seg, ids, n + 1, &nr));
	EXPECT_EQ(n, nr);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0x5678, *(volatile uint32_t *)self->c.nodes[i].map) TH_LOG("node %d", i);
	ASSERT_EQ(0, seg_view(self->c.viewer, self->c.seg, 0, 1, NULL, &owner, &sharers));
	EXPECT_EQ(MY_SHMEM_NODE_NONE, owner);
	EXPECT_EQ(n, sharers);
	for (i = 0; i < n; i++)
		node_close(&self->c.nodes[i]);
	ASSERT_EQ(-ENOENT, seg_node_info(self->c.viewer, self->c.seg, 0,
					 MY_SHMEM_NODE_INFO_NEXT, &info));
	msg("1024 nodes: %.1f s\n", now_sec() - t0);
	free(seen);
	free(ids);
}

/*
 * munmap part of a node's mapping and map it again at the same address and
 * offset: the new VMA may merge with its neighbour (recent kernels merge
 * VMAs that have a ->close when neither goes away).  Every attachment must
 * still be undone: nattch back to 0 once nothing maps the segment, and the
 * segment (its home pages) gone after close and delete.
 */
TEST_F(coherent, remap_next_to_own_mapping)
{
	struct my_shmem_seg_info si = { .size = sizeof(si) };
	struct node *n = &self->c.nodes[0];
	long ps = page_size();
	char *p;

	ASSERT_EQ(0, coh_open(&self->c, 0, 2));
	si.id = self->c.seg;
	strcpy(n->map, "zero");
	strcpy(n->map + ps, "one");
	ASSERT_EQ(0, munmap(n->map + ps, ps));
	p = mmap(n->map + ps, ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, n->fd, ps);
	ASSERT_EQ(n->map + ps, p);
	EXPECT_STREQ("one", p);
	ASSERT_EQ(0, ioctl(self->c.viewer, MY_SHMEM_IOC_SEG_INFO, &si));
	EXPECT_EQ(count_vmas(getpid()), si.nattch) TH_LOG("nattch against /proc/self/maps");
	ASSERT_EQ(0, munmap(n->map, 2 * ps));
	n->map = NULL;
	ASSERT_EQ(0, ioctl(self->c.viewer, MY_SHMEM_IOC_SEG_INFO, &si));
	EXPECT_EQ(0, si.nattch) TH_LOG("an attachment outlived every mapping");
	node_close(n);
	seg_delete(self->c.seg);
	self->c.have_seg = false;
	EXPECT_EQ(-1, ioctl(self->c.viewer, MY_SHMEM_IOC_SEG_INFO, &si))
		TH_LOG("segment still there after the last close and delete");
	EXPECT_EQ(self->c.pages0, pages_in_use());
}

static int delete_module(const char *name)
{
	return syscall(__NR_delete_module, name, O_NONBLOCK);
}

/* The module stays while a coherent mapping exists, even with its fd closed. */
TEST_F(coherent, unload_refused_while_mapped)
{
	struct node *n = &self->c.nodes[0];
	char *map;

	if (!getenv("MY_SHMEM_KO"))
		SKIP(return, "MY_SHMEM_KO is not set (run under scripts/vm-run)");
	ASSERT_EQ(0, coh_open(&self->c, 0, 2));
	ASSERT_EQ(0, coh_open(&self->c, 1, 2));
	strcpy(n->map, "pinned");
	EXPECT_EQ(-1, delete_module("my_shmem"));
	EXPECT_EQ(EWOULDBLOCK, errno);
	map = n->map;
	close(n->fd);			/* the mapping alone holds the node */
	n->fd = -1;
	n->map = NULL;
	node_close(&self->c.nodes[1]);
	EXPECT_EQ(-1, delete_module("my_shmem"));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_STREQ("pinned", map);
	strcpy(map + page_size(), "still");
	EXPECT_EQ(0, munmap(map, 2 * page_size()));
}

TEST_HARNESS_MAIN
