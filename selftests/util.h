/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the my_shmem selftests: module parameters, counters,
 * tracefs, mappings at a fresh (never backed) part of segment 0.
 *
 * Segment 0 is global and outlives every test, so each test works past the
 * current frontier (the first offset never backed) and compares counters
 * before and after, never absolute values.
 */
#ifndef MY_SHMEM_SELFTEST_UTIL_H
#define MY_SHMEM_SELFTEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../uapi/linux/my_shmem.h"

#define PARAM_DIR	"/sys/module/my_shmem/parameters/"
#define STATS_DIR	"/sys/class/misc/my_shmem/stats/"
#define TRACEFS		"/sys/kernel/tracing/"
#define THESIS_PATTERN	0xcafebeefU

static inline long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* Read a whole small file; returns bytes read or -errno. */
static inline ssize_t read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

/* Write a string to a file; returns 0 or -errno (of open or write). */
static inline int write_file(const char *path, const char *val)
{
	ssize_t n;
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	if (n < 0)
		return -errno;
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

static inline long read_long(const char *path)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtol(buf, NULL, 0);
}

static inline int write_long(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", v);
	return write_file(path, buf);
}

static inline long param_get(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return read_long(path);
}

static inline int param_set(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return write_file(path, val);
}

static inline int set_order(unsigned int order)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", order);
	return param_set("max_contiguous_alloc_order", buf);
}

/* The module-wide counters, with the live runs of each order. */
struct shm_stats {
	uint64_t pages_in_use, max_pages;
	uint64_t allocs_by_order[MY_SHMEM_NR_ORDERS];
	uint64_t faults, cleans, invals, sigbus, order_fallbacks, vmas, files, segments;
};

static inline int get_stats(int fd, struct shm_stats *out)
{
	struct my_shmem_stats st = {
		.size = sizeof(st),
		.orders = (uintptr_t)out->allocs_by_order,
		.nr_orders = MY_SHMEM_NR_ORDERS,
	};

	if (ioctl(fd, MY_SHMEM_IOC_GET_STATS, &st))
		return -1;
	out->pages_in_use = st.pages_in_use;
	out->max_pages = st.max_pages;
	out->faults = st.faults;
	out->cleans = st.cleans;
	out->invals = st.invals;
	out->sigbus = st.sigbus;
	out->order_fallbacks = st.order_fallbacks;
	out->vmas = st.vmas;
	out->files = st.files;
	out->segments = st.segments;
	return 0;
}

/* Segment 0 is backed contiguously from offset 0: its frontier. */
static inline unsigned long frontier(int fd)
{
	struct shm_stats st;

	if (get_stats(fd, &st))
		return ~0UL;
	return st.pages_in_use;
}

static inline int open_dev(void)
{
	return open(MY_SHMEM_DEVICE, O_RDWR | O_CLOEXEC);
}

/* Map @pages pages of segment 0 starting at page offset @pgoff. */
static inline void *map_pages(int fd, unsigned long pgoff, unsigned long pages,
			      int prot)
{
	return mmap(NULL, pages * page_size(), prot, MAP_SHARED, fd,
		    (off_t)(pgoff * page_size()));
}

/* Number of resident (mapped) pages of [addr, addr + pages) per mincore(). */
static inline long resident_pages(void *addr, unsigned long pages)
{
	unsigned char *vec = calloc(pages, 1);
	unsigned long i;
	long n = 0;

	if (!vec || mincore(addr, pages * page_size(), vec)) {
		free(vec);
		return -1;
	}
	for (i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

/* Count lines of the trace buffer that contain @needle. */
static inline long trace_count(const char *needle)
{
	FILE *f = fopen(TRACEFS "trace", "r");
	char line[1024];
	long n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* Enable or disable one my_shmem event, emptying the buffer when enabling. */
static inline bool trace_event_on(const char *event, bool on)
{
	char path[256];
	int fd;

	if (on) {
		fd = open(TRACEFS "trace", O_WRONLY | O_TRUNC);
		if (fd < 0)
			return false;
		close(fd);
	}
	snprintf(path, sizeof(path), TRACEFS "events/my_shmem/%s/enable", event);
	return write_file(path, on ? "1" : "0") == 0;
}

/*
 * Replace the contents of a tracefs control file (set_ftrace_filter,
 * set_graph_function, set_ftrace_pid, current_tracer, trace...): opened
 * with O_TRUNC, which empties the list files instead of appending to them;
 * an empty @val just empties it.  The filter files take one name per
 * write() (they return the bytes of the first word): written in a loop.
 * Returns 0 or -errno.
 */
static inline int trace_write(const char *file, const char *val)
{
	size_t left = strlen(val);
	char path[256];
	int fd, err = 0;

	snprintf(path, sizeof(path), TRACEFS "%s", file);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	while (left && !err) {
		ssize_t n = write(fd, val, left);

		if (n <= 0)
			err = n < 0 ? -errno : -EIO;
		else
			val += n, left -= n;
	}
	close(fd);
	return err;
}

/* Does available_filter_functions list @name (ftrace can hook it)? */
static inline bool trace_has_function(const char *name)
{
	FILE *f = fopen(TRACEFS "available_filter_functions", "r");
	size_t len = strlen(name);
	char line[256];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, name, len) &&
			(line[len] == ' ' || line[len] == '\n');
	fclose(f);
	return found;
}

/*
 * Check the runs allocated between two snapshots for a request of @pages
 * pages at @order, allowing for fallbacks: when the buddy allocator cannot
 * serve 2^order contiguous pages (a fragmented guest) or the cap has no room,
 * a run of a lower order is allocated instead, and order_fallbacks counts
 * each such allocation once.  Without a fallback the counts must be exact.
 * Returns the number of runs allocated, or -1 with the reason in @why.
 */
static inline long check_runs(const struct shm_stats *a,
			      const struct shm_stats *b,
			      unsigned int order, unsigned long pages,
			      char *why, size_t len)
{
	unsigned long run = 1UL << order, covered = 0, lower = 0, runs = 0;
	unsigned long fallbacks = b->order_fallbacks - a->order_fallbacks;
	unsigned int o;

	for (o = 0; o < MY_SHMEM_NR_ORDERS; o++) {
		unsigned long d = b->allocs_by_order[o] - a->allocs_by_order[o];

		if (o > order && d) {
			snprintf(why, len, "%lu runs of order %u > %u", d, o, order);
			return -1;
		}
		covered += d << o;
		runs += d;
		if (o < order)
			lower += d;
	}
	if (lower != fallbacks) {
		snprintf(why, len, "%lu runs below order %u but order_fallbacks +%lu",
			 lower, order, fallbacks);
		return -1;
	}
	if (b->pages_in_use - a->pages_in_use != covered) {
		snprintf(why, len, "pages_in_use +%llu but runs cover %lu pages",
			 (unsigned long long)(b->pages_in_use - a->pages_in_use), covered);
		return -1;
	}
	if (covered < pages || covered - pages >= run) {
		snprintf(why, len, "runs cover %lu pages for %lu wanted at order %u",
			 covered, pages, order);
		return -1;
	}
	if (!fallbacks && runs != (pages + run - 1) / run) {
		snprintf(why, len, "%lu runs of order %u for %lu pages", runs, order, pages);
		return -1;
	}
	return runs;
}

/*
 * xorshift64*: the seeded, reproducible sequence of the randomised tests
 * (fault_inject_test, fuzz_test): the same seed, the same run.
 */
static uint64_t prng_state = 1;

static inline void prng_seed(uint64_t seed)
{
	prng_state = seed ? seed : 1;
}

static inline uint64_t prng(void)
{
	prng_state ^= prng_state >> 12;
	prng_state ^= prng_state << 25;
	prng_state ^= prng_state >> 27;
	return prng_state * 2685821657736338717ULL;
}

/* Uniform enough in [0, n); 0 when n is 0. */
static inline unsigned long prng_below(unsigned long n)
{
	return n ? prng() % n : 0;
}

/* Under QEMU TCG (scripts/vm-run sets MY_SHMEM_ACCEL): cache ops are no-ops. */
/*
 * Default seed of a seeded test: FNV-1a of "$MY_SHMEM_ARCH-$MY_SHMEM_KERNEL",
 * so each guest kind runs its own fixed sequence.
 */
static inline uint64_t guest_kind_seed(void)
{
	const char *parts[] = { getenv("MY_SHMEM_ARCH"), "-", getenv("MY_SHMEM_KERNEL") };
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned int i;

	for (i = 0; i < 3; i++)
		for (const char *c = parts[i] ? parts[i] : ""; *c; c++)
			h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
	return h;
}

static inline bool under_tcg(void)
{
	const char *accel = getenv("MY_SHMEM_ACCEL");

	return accel && !strcmp(accel, "TCG");
}

/* Reap @pid, waiting at most @secs seconds; returns its status or -1. */
static inline int wait_deadline(pid_t pid, int secs)
{
	int status, i;

	for (i = 0; i < secs * 100; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		usleep(10000);
	}
	return -1;
}

/* pages_in_use, read from sysfs (no file descriptor of the device needed). */
static inline long pages_in_use(void)
{
	return read_long(STATS_DIR "pages_in_use");
}

#endif /* MY_SHMEM_SELFTEST_UTIL_H */
