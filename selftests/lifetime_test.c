// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifetime: no unload while a file or a mapping exists; after the
 * last user, unload gives every page back.  Reloads the module from
 * $MY_SHMEM_KO (set by scripts/vm-run) with default parameters.
 */
#define _GNU_SOURCE
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "util.h"

static int delete_module(const char *name)
{
	return syscall(__NR_delete_module, name, O_NONBLOCK);
}

static int load_module(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = syscall(__NR_finit_module, fd, params, 0);
	close(fd);
	return ret;
}

/* Does the kernel log (read through /dev/kmsg) contain @needle? */
static bool kmsg_contains(const char *needle)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	char rec[2048];
	bool found = false;
	ssize_t n;

	if (fd < 0)
		return false;
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;	/* EPIPE: a record was overwritten */
		rec[n] = '\0';
		found |= strstr(rec, needle) != NULL;
	}
	close(fd);
	return found;
}

/* A field of /proc/meminfo or /proc/vmstat, in its own unit. */
static long proc_field(const char *file, const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long v = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && (line[len] == ':' || line[len] == ' '))
			v = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

/*
 * Pages parked on the per-CPU free lists: freed, but not yet counted in
 * nr_free_pages or MemFree.  The sum of "count:" over /proc/zoneinfo.
 */
static long pcp_pages(void)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256];
	long n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *c = strstr(line, "count:");

		if (c)
			n += strtol(c + 6, NULL, 10);
	}
	fclose(f);
	return n;
}

/* Free memory at one moment, in pages: the buddy lists and the per-CPU lists. */
struct free_snapshot {
	long buddy;	/* nr_free_pages */
	long pcp;	/* pages on the per-CPU lists */
	int tries;
};

/*
 * The three files are read one after another, and pages keep moving
 * between the per-CPU lists and the buddy lists meanwhile: a page drained
 * from a per-CPU list between the two reads is counted twice.  (CI's
 * aarch64 debug guest once counted 638 pages twice that way.)  So read
 * the per-CPU lists, nr_free_pages, MemFree (the same counter in kB) and
 * the per-CPU lists again, and keep only a reading in which neither moved.
 */
static bool free_snapshot(struct free_snapshot *s)
{
	long pcp2, kb;

	for (s->tries = 1; s->tries <= 200; s->tries++) {
		s->pcp = pcp_pages();
		s->buddy = proc_field("/proc/vmstat", "nr_free_pages");
		kb = proc_field("/proc/meminfo", "MemFree");
		pcp2 = pcp_pages();
		if (s->pcp < 0 || s->buddy < 0 || kb < 0 || pcp2 < 0)
			return false;
		if (pcp2 == s->pcp && kb == s->buddy * (page_size() / 1024))
			return true;
		usleep(1000);
	}
	return false;
}

TEST(unload_refused_while_in_use_then_pages_return)
{
	const char *ko = getenv("MY_SHMEM_KO");
	unsigned long n = 4096, i, in_use;
	struct free_snapshot s0, s1;
	uint32_t *p;
	int fd;

	if (!ko)
		SKIP(return, "MY_SHMEM_KO is not set (run under scripts/vm-run)");
	fd = open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_order(4));
	p = map_pages(fd, frontier(fd), n, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < n; i++)
		p[i * page_size() / sizeof(*p)] = THESIS_PATTERN;

	/* An open file pins the module. */
	EXPECT_EQ(-1, delete_module("my_shmem"));
	EXPECT_EQ(EWOULDBLOCK, errno);
	/* So does a mapping whose file descriptor is closed. */
	close(fd);
	EXPECT_EQ(-1, delete_module("my_shmem"));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(THESIS_PATTERN, p[(n - 1) * page_size() / sizeof(*p)]);
	ASSERT_EQ(0, munmap(p, n * page_size()));

	in_use = read_long(STATS_DIR "pages_in_use");
	ASSERT_LE(n, in_use);
	ASSERT_TRUE(free_snapshot(&s0)) TH_LOG("free memory never held still for one reading");
	ASSERT_EQ(0, delete_module("my_shmem")) TH_LOG("rmmod: %s", strerror(errno));
	ASSERT_TRUE(free_snapshot(&s1)) TH_LOG("free memory never held still for one reading");
	TH_LOG("%lu pages in use; nr_free_pages %ld -> %ld, per-CPU lists %ld -> %ld pages (readings taken in %d and %d tries)",
	       in_use, s0.buddy, s1.buddy, s0.pcp, s1.pcp, s0.tries, s1.tries);
	/*
	 * Every page the module held is free again, in the buddy lists or on
	 * the per-CPU lists (1 MiB slack for the rest of the system).
	 */
	EXPECT_LE((long)in_use - 256, s1.buddy + s1.pcp - s0.buddy - s0.pcp);
	EXPECT_EQ(-1, access("/sys/module/my_shmem", F_OK));

	ASSERT_EQ(0, load_module(ko, "")) TH_LOG("insmod %s: %s", ko, strerror(errno));
	EXPECT_EQ(0, read_long(STATS_DIR "pages_in_use"));
}

/* Load-time parameters: a bad order refuses the load; an absent backend falls back. */
TEST(load_time_parameters)
{
	const char *ko = getenv("MY_SHMEM_KO");
	char buf[32];

	if (!ko)
		SKIP(return, "MY_SHMEM_KO is not set (run under scripts/vm-run)");
	ASSERT_EQ(0, delete_module("my_shmem")) TH_LOG("rmmod: %s", strerror(errno));

	EXPECT_EQ(-1, load_module(ko, "max_contiguous_alloc_order=11"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, load_module(ko, "backend=bogus"));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, load_module(ko, "backend=kernel max_contiguous_alloc_order=5"))
		TH_LOG("insmod %s: %s", ko, strerror(errno));
	EXPECT_EQ(5, param_get("max_contiguous_alloc_order"));
	ASSERT_LT(0, read_file(PARAM_DIR "backend", buf, sizeof(buf)));
	if (strcmp(buf, "kernel\n")) {
		/* Stock kernel: fell back, and said so. */
		EXPECT_STREQ("insn\n", buf);
		EXPECT_TRUE(kmsg_contains("backend kernel unavailable"));
	}
	EXPECT_TRUE(kmsg_contains("cache maintenance backend: "));

	ASSERT_EQ(0, delete_module("my_shmem"));
	ASSERT_EQ(0, load_module(ko, "")) TH_LOG("insmod %s: %s", ko, strerror(errno));
}

TEST_HARNESS_MAIN
