// SPDX-License-Identifier: GPL-2.0
/*
 * Memory cgroup: device pages are charged to the faulting task's cgroup,
 * and a fault over the cgroup's limit gets SIGBUS, not the OOM killer.
 */
#define _GNU_SOURCE
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "kselftest_harness.h"
#include "util.h"

#define CGROOT	"/sys/fs/cgroup"

/* Put this process into a fresh cgroup @name; false (with a reason) if not. */
static bool enter_cgroup(const char *name, long max_bytes, char *why, size_t len)
{
	struct statfs sfs;
	char path[128], val[32];

	if (statfs(CGROOT, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		mkdir(CGROOT, 0755);
		if (mount("none", CGROOT, "cgroup2", 0, NULL) && errno != EBUSY) {
			snprintf(why, len, "mount cgroup2 on %s: %s", CGROOT, strerror(errno));
			return false;
		}
	}
	if (write_file(CGROOT "/cgroup.subtree_control", "+memory")) {
		snprintf(why, len, "enable the memory controller: %s", strerror(errno));
		return false;
	}
	snprintf(path, sizeof(path), CGROOT "/%s", name);
	if (mkdir(path, 0755) && errno != EEXIST) {
		snprintf(why, len, "mkdir %s: %s", path, strerror(errno));
		return false;
	}
	snprintf(path, sizeof(path), CGROOT "/%s/memory.max", name);
	if (max_bytes > 0)
		snprintf(val, sizeof(val), "%ld", max_bytes);
	else
		snprintf(val, sizeof(val), "max");
	if (write_file(path, val)) {
		snprintf(why, len, "write %s: %s", path, strerror(errno));
		return false;
	}
	snprintf(path, sizeof(path), CGROOT "/%s/cgroup.procs", name);
	if (write_long(path, getpid())) {
		snprintf(why, len, "write %s: %s", path, strerror(errno));
		return false;
	}
	return true;
}

static long cgroup_current(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), CGROOT "/%s/memory.current", name);
	return read_long(path);
}

TEST(pages_charged_to_faulting_cgroup)
{
	unsigned long n = 1024, i;
	long before, after;
	char why[512];
	uint32_t *p;
	int fd;

	if (!enter_cgroup("my_shmem_charge", 0, why, sizeof(why)))
		SKIP(return, "%s", why);
	fd = open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_order(0));
	p = map_pages(fd, frontier(fd), n, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	before = cgroup_current("my_shmem_charge");
	for (i = 0; i < n; i++)
		p[i * page_size() / sizeof(*p)] = THESIS_PATTERN;
	after = cgroup_current("my_shmem_charge");
	TH_LOG("memory.current %ld -> %ld for %lu pages", before, after, n);
	EXPECT_LE((long)(n * page_size()), after - before);
	munmap(p, n * page_size());
	close(fd);
}

/*
 * Over the cgroup's memory.max, the fault is refused with SIGBUS.  The
 * mapping sits in one 2 MiB-aligned page-table page, allocated on the first
 * touch, so the device pages are what hits the limit.
 */
TEST_SIGNAL(cgroup_limit_sigbus, SIGBUS)
{
	const unsigned long span = 2UL << 20, n = span / page_size();
	char *reserve, *aligned;
	unsigned long i;
	char why[512];
	uint32_t *p;
	int fd;

	fd = open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_order(0));
	reserve = mmap(NULL, 2 * span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, reserve);
	aligned = (char *)(((unsigned long)reserve + span - 1) & ~(span - 1));
	p = mmap(aligned, span, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)(frontier(fd) * page_size()));
	ASSERT_EQ((void *)aligned, p);
	p[0] = THESIS_PATTERN;

	if (!enter_cgroup("my_shmem_limit", 1L << 20, why, sizeof(why))) {
		/* SKIP cannot pass a TEST_SIGNAL: fail loudly instead. */
		TH_LOG("cannot set up the cgroup: %s", why);
		ASSERT_TRUE(0);
	}
	for (i = 1; i < n; i++)
		p[i * page_size() / sizeof(*p)] = THESIS_PATTERN;
	TH_LOG("touched %lu pages under a 1 MiB limit without SIGBUS", n);
}

TEST_HARNESS_MAIN
