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

TEST(unload_refused_while_in_use_then_pages_return)
{
	const char *ko = getenv("MY_SHMEM_KO");
	unsigned long n = 4096, i, in_use;
	long free0, free1, kb0, kb1, pcp0, pcp1;
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
	pcp0 = pcp_pages();
	free0 = proc_field("/proc/vmstat", "nr_free_pages");
	kb0 = proc_field("/proc/meminfo", "MemFree");
	ASSERT_EQ(0, delete_module("my_shmem")) TH_LOG("rmmod: %s", strerror(errno));
	pcp1 = pcp_pages();
	free1 = proc_field("/proc/vmstat", "nr_free_pages");
	kb1 = proc_field("/proc/meminfo", "MemFree");
	TH_LOG("%lu pages in use; nr_free_pages %ld -> %ld, MemFree %ld -> %ld kB, per-CPU lists %ld -> %ld pages",
	       in_use, free0, free1, kb0, kb1, pcp0, pcp1);
	/*
	 * Every page the module held is free again, in the buddy lists or on
	 * the per-CPU lists (1 MiB slack for the rest of the system).
	 */
	EXPECT_LE((long)in_use - 256, free1 + pcp1 - free0 - pcp0);
	EXPECT_LE(((long)in_use - 256) * (page_size() / 1024),
		  kb1 - kb0 + (pcp1 - pcp0) * (page_size() / 1024));
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
