// SPDX-License-Identifier: GPL-2.0
/*
 * Memory cgroup: device pages are charged to the cgroup of the mm being
 * faulted (the faulting task's own, unless another process faults it
 * remotely), and a fault over the cgroup's limit gets SIGBUS, not the OOM
 * killer.
 */
#define _GNU_SOURCE
#include <sys/mount.h>
#include <sys/uio.h>
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

/*
 * A fault made on behalf of another process (process_vm_writev(), like
 * /proc/PID/mem and ptrace) charges the memory cgroup of the mm being
 * faulted, not the cgroup of the task that happens to fault it.
 */
TEST(remote_fault_charges_the_faulted_mm)
{
	const unsigned long n = 256;
	long own0, own1, rem0, rem1;
	struct iovec local, remote[256];
	int to_parent[2], to_child[2], fd, status;
	uint32_t word = THESIS_PATTERN, *p;
	unsigned long i;
	char why[512];
	pid_t pid;

	ASSERT_EQ(0, pipe(to_parent));
	ASSERT_EQ(0, pipe(to_child));
	fd = open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_order(0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char c;

		if (!enter_cgroup("my_shmem_owner", 0, why, sizeof(why)))
			p = MAP_FAILED;
		else
			p = map_pages(fd, frontier(fd), n, PROT_READ | PROT_WRITE);
		if (write(to_parent[1], &p, sizeof(p)) != sizeof(p))
			_exit(1);
		if (read(to_child[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	ASSERT_EQ((ssize_t)sizeof(p), read(to_parent[0], &p, sizeof(p)));
	if (p == MAP_FAILED || !enter_cgroup("my_shmem_remote", 0, why, sizeof(why))) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		SKIP(return, "cannot set up the cgroups (%s)", why);
	}
	own0 = cgroup_current("my_shmem_owner");
	rem0 = cgroup_current("my_shmem_remote");
	local = (struct iovec){ &word, sizeof(word) };
	for (i = 0; i < n; i++)
		remote[i] = (struct iovec){ (char *)p + i * page_size(), sizeof(word) };
	for (i = 0; i < n; i++) {
		if (process_vm_writev(pid, &local, 1, &remote[i], 1, 0) == (ssize_t)sizeof(word))
			continue;
		if (errno == ENOSYS) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			SKIP(return, "no process_vm_writev() (kernel without CONFIG_CROSS_MEMORY_ATTACH)");
		}
		ASSERT_TRUE(0) TH_LOG("process_vm_writev page %lu: %s", i, strerror(errno));
	}
	own1 = cgroup_current("my_shmem_owner");
	rem1 = cgroup_current("my_shmem_remote");
	TH_LOG("owner's cgroup +%ld bytes, remote writer's +%ld bytes for %lu pages",
	       own1 - own0, rem1 - rem0, n);
	EXPECT_LE((long)(n * page_size()), own1 - own0);
	EXPECT_GT((long)(n * page_size() / 2), rem1 - rem0);
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	close(fd);
}

TEST_HARNESS_MAIN
