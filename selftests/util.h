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

static inline int get_stats(int fd, struct my_shmem_stats *st)
{
	return ioctl(fd, MY_SHMEM_IOC_GET_STATS, st);
}

/* Segment 0 is backed contiguously from offset 0: its frontier. */
static inline unsigned long frontier(int fd)
{
	struct my_shmem_stats st;

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

#endif /* MY_SHMEM_SELFTEST_UTIL_H */
