// SPDX-License-Identifier: GPL-2.0
/*
 * Coherent segments: the in-kernel MSI protocol (DESIGN.md 3.5).
 *
 * Nodes are fds bound to one coherent segment; one process may hold many
 * (each maps its own copy).  States come from MY_SHMEM_IOC_MSI_VIEW, faults
 * from the node counters of MY_SHMEM_IOC_NODE_INFO.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
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

TEST_HARNESS_MAIN
