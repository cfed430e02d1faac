// SPDX-License-Identifier: GPL-2.0
/*
 * Named segments (SysV shm / KSM semantics): GET by key (create, exclusive,
 * find, missing), attach = mmap, delete-while-attached, INFO after each
 * operation, read-only attach, permissions, the xv6 lab's ping-pong, fork
 * and exec, and pages in use back where they started.
 */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "kselftest_harness.h"
#include "util.h"

/* Keys of this test program: far from anything else in the guest. */
#define KEY(n)	(0x5e6d0000ULL + (n))

static int seg_get(int fd, uint64_t key, uint64_t bytes, uint32_t flags,
		   uint32_t perm, uint32_t *id)
{
	struct my_shmem_get req = {
		.size = sizeof(req), .flags = flags, .key = key, .bytes = bytes,
		.mode = MY_SHMEM_MODE_SHARED, .perm = perm,
	};

	if (ioctl(fd, MY_SHMEM_IOC_GET, &req))
		return -errno;
	if (id)
		*id = req.id;
	return 0;
}

static int seg_delete(int fd, uint32_t id)
{
	struct my_shmem_delete req = { .size = sizeof(req), .id = id };

	return ioctl(fd, MY_SHMEM_IOC_DELETE, &req) ? -errno : 0;
}

static int seg_info(int fd, uint32_t id, struct my_shmem_seg_info *info,
		    uint64_t *orders)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->id = id;
	info->orders = (uintptr_t)orders;
	info->nr_orders = orders ? MY_SHMEM_NR_ORDERS : 0;
	return ioctl(fd, MY_SHMEM_IOC_SEG_INFO, info) ? -errno : 0;
}

/* A fresh fd bound to a new segment of @pages pages under @key. */
static int open_seg(uint64_t key, unsigned long pages, uint32_t *id)
{
	int fd = open_dev();

	if (fd < 0)
		return -1;
	if (seg_get(fd, key, pages * page_size(), MY_SHMEM_GET_CREATE, 0600, id)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *map_seg(int fd, unsigned long pages, int prot)
{
	return mmap(NULL, pages * page_size(), prot, MAP_SHARED, fd, 0);
}

FIXTURE(seg) {
	int fd;
	long pages0, segs0;
};

FIXTURE_SETUP(seg)
{
	self->fd = open_dev();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", MY_SHMEM_DEVICE, strerror(errno));
	self->pages0 = pages_in_use();
	self->segs0 = read_long(STATS_DIR "segments");
	ASSERT_LE(1, self->segs0);
}

/* Every test leaves pages in use and the segment count as it found them. */
FIXTURE_TEARDOWN(seg)
{
	close(self->fd);
	EXPECT_EQ(self->pages0, pages_in_use());
	EXPECT_EQ(self->segs0, read_long(STATS_DIR "segments"));
}

/* GET: create, find, exclusive, missing, bigger, rounding, bad requests. */
TEST_F(seg, get_semantics)
{
	struct my_shmem_seg_info info;
	struct my_shmem_get req;
	uint32_t id = 0, id2 = 0;
	int fd2;

	EXPECT_EQ(-ENOENT, seg_get(self->fd, KEY(1), page_size(), 0, 0600, &id));
	ASSERT_EQ(0, seg_get(self->fd, KEY(1), 3 * page_size() + 1, MY_SHMEM_GET_CREATE,
			     0640, &id));
	EXPECT_NE(0, id);
	EXPECT_EQ(self->segs0 + 1, read_long(STATS_DIR "segments"));
	ASSERT_EQ(0, seg_info(self->fd, id, &info, NULL));
	EXPECT_EQ(4 * page_size(), (long)info.bytes) TH_LOG("size rounds up to pages");
	EXPECT_EQ(KEY(1), info.key);
	EXPECT_EQ(0640, info.perm);
	EXPECT_EQ(getpid(), info.cpid);
	EXPECT_EQ(geteuid(), info.uid);
	EXPECT_EQ(1, info.nodes);
	EXPECT_EQ(0, info.nattch);
	EXPECT_EQ(0, info.flags);

	fd2 = open_dev();
	ASSERT_LE(0, fd2);
	/* find (with or without CREATE), any size up to the segment's */
	EXPECT_EQ(0, seg_get(fd2, KEY(1), 0, 0, 0, &id2));
	EXPECT_EQ(id, id2);
	EXPECT_EQ(0, seg_get(fd2, KEY(1), 4 * page_size(), MY_SHMEM_GET_CREATE, 0600, &id2));
	EXPECT_EQ(id, id2);
	EXPECT_EQ(-EINVAL, seg_get(fd2, KEY(1), 5 * page_size(), 0, 0, NULL));
	EXPECT_EQ(-EEXIST, seg_get(fd2, KEY(1), page_size(),
				   MY_SHMEM_GET_CREATE | MY_SHMEM_GET_EXCL, 0600, NULL));
	ASSERT_EQ(0, seg_info(fd2, MY_SHMEM_SEG_INFO_BOUND, &info, NULL));
	EXPECT_EQ(id, info.id);
	EXPECT_EQ(2, info.nodes);

	/* creating needs a size; bad flags, mode, perm, reserved */
	EXPECT_EQ(-EINVAL, seg_get(fd2, KEY(2), 0, MY_SHMEM_GET_CREATE, 0600, NULL));
	EXPECT_EQ(-EINVAL, seg_get(fd2, KEY(2), page_size(), 0x80, 0600, NULL));
	EXPECT_EQ(-EINVAL, seg_get(fd2, KEY(2), page_size(), MY_SHMEM_GET_CREATE, 01000, NULL));
	req = (struct my_shmem_get){ .size = sizeof(req), .flags = MY_SHMEM_GET_CREATE,
				     .key = KEY(2), .bytes = page_size(), .mode = 7 };
	EXPECT_EQ(-1, ioctl(fd2, MY_SHMEM_IOC_GET, &req));
	EXPECT_EQ(EINVAL, errno);
	req.mode = MY_SHMEM_MODE_COHERENT;	/* KEY(1) is shared */
	req.key = KEY(1);
	EXPECT_EQ(-1, ioctl(fd2, MY_SHMEM_IOC_GET, &req));
	EXPECT_EQ(EINVAL, errno);
	req.key = KEY(2);
	req.mode = MY_SHMEM_MODE_SHARED;
	req.__reserved = 1;
	EXPECT_EQ(-1, ioctl(fd2, MY_SHMEM_IOC_GET, &req));
	EXPECT_EQ(EINVAL, errno);
	req.__reserved = 0;
	req.size = 8;
	EXPECT_EQ(-1, ioctl(fd2, MY_SHMEM_IOC_GET, &req)) TH_LOG("a struct too small");
	EXPECT_EQ(EINVAL, errno);

	/* key 0 is segment 0, id 0 */
	EXPECT_EQ(0, seg_get(fd2, 0, 0, 0, 0, &id2));
	EXPECT_EQ(0, id2);
	EXPECT_EQ(-EINVAL, seg_delete(fd2, 0));
	close(fd2);

	EXPECT_EQ(0, seg_delete(self->fd, id));
	EXPECT_EQ(-ENOENT, seg_delete(self->fd, id));
}

/*
 * KSM's lifecycle: delete while attached marks the segment; it keeps
 * working for its mappings and bound fds, a new GET of the key makes a new
 * segment, and the last detach frees it (INFO: ENOENT; pages back).
 */
TEST_F(seg, delete_while_attached)
{
	struct my_shmem_seg_info info;
	uint32_t id = 0, id_new = 0, *p, *q;
	int fd2, fd3;

	fd2 = open_seg(KEY(3), 8, &id);
	ASSERT_LE(0, fd2);
	p = map_seg(fd2, 8, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = THESIS_PATTERN;
	fd3 = open_dev();
	ASSERT_LE(0, fd3);
	ASSERT_EQ(0, seg_get(fd3, KEY(3), 0, 0, 0, NULL));

	ASSERT_EQ(0, seg_delete(self->fd, id));
	ASSERT_EQ(0, seg_info(self->fd, id, &info, NULL));
	EXPECT_EQ(MY_SHMEM_SEG_DELETED, info.flags);
	EXPECT_EQ(1, info.nattch);
	EXPECT_EQ(2, info.nodes);
	/* the key is free again */
	EXPECT_EQ(-ENOENT, seg_get(self->fd, KEY(3), 0, 0, 0, NULL));
	ASSERT_EQ(0, seg_get(self->fd, KEY(3), page_size(), MY_SHMEM_GET_CREATE, 0600, &id_new));
	EXPECT_NE(id, id_new);
	/* the deleted segment still works: attach through a bound fd */
	q = map_seg(fd3, 8, PROT_READ);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(THESIS_PATTERN, q[0]);
	p[1] = THESIS_PATTERN + 1;
	EXPECT_EQ(THESIS_PATTERN + 1, q[1]);
	ASSERT_EQ(0, seg_info(self->fd, id, &info, NULL));
	EXPECT_EQ(2, info.nattch);

	munmap(p, 8 * page_size());
	munmap(q, 8 * page_size());
	ASSERT_EQ(0, seg_info(self->fd, id, &info, NULL)) TH_LOG("bound fds keep it");
	EXPECT_EQ(0, info.nattch);
	close(fd2);
	close(fd3);
	EXPECT_EQ(-ENOENT, seg_info(self->fd, id, &info, NULL)) TH_LOG("freed with its last user");
	/* self->fd is bound to the new one: unbind by deleting and rebinding to 0 */
	EXPECT_EQ(0, seg_delete(self->fd, id_new));
	EXPECT_EQ(0, seg_get(self->fd, 0, 0, 0, 0, NULL));
}

/* INFO fields follow attach, fault, detach; allocations by order. */
TEST_F(seg, info_after_each_operation)
{
	struct my_shmem_seg_info info;
	uint64_t orders[MY_SHMEM_NR_ORDERS];
	long saved_order = param_get("max_contiguous_alloc_order");
	uint32_t id = 0, *p;
	time_t t0 = time(NULL);
	int fd2;

	ASSERT_EQ(0, set_order(2));
	fd2 = open_seg(KEY(4), 16, &id);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, seg_info(fd2, id, &info, orders));
	EXPECT_EQ(0, info.pages);
	EXPECT_EQ(0, info.atime);
	EXPECT_LE(t0, info.ctime);
	EXPECT_EQ(MY_SHMEM_NR_ORDERS, info.nr_orders);

	p = map_seg(fd2, 16, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, seg_info(fd2, id, &info, orders));
	EXPECT_EQ(1, info.nattch);
	EXPECT_LE(t0, info.atime);
	EXPECT_EQ(getpid(), info.lpid);
	p[5 * page_size() / sizeof(*p)] = THESIS_PATTERN;	/* runs 0..3, 4..7 */
	ASSERT_EQ(0, seg_info(fd2, id, &info, orders));
	EXPECT_EQ(8, info.pages);
	EXPECT_EQ(1, info.faults);
	EXPECT_EQ(2, orders[2]);
	EXPECT_EQ(self->pages0 + 8, pages_in_use());

	munmap(p, 16 * page_size());
	ASSERT_EQ(0, seg_info(fd2, id, &info, orders));
	EXPECT_EQ(0, info.nattch);
	EXPECT_LE(t0, info.dtime);
	EXPECT_EQ(2, info.cleans) TH_LOG("detach cleans each run");
	EXPECT_EQ(8, info.pages) TH_LOG("a detached segment keeps its pages");
	EXPECT_EQ(0, seg_delete(fd2, id));
	close(fd2);
	EXPECT_EQ(self->pages0, pages_in_use()) TH_LOG("freed with the segment");
	set_order(saved_order);
}

/* An fd is rebound by GET until it is mapped, never after. */
TEST_F(seg, no_rebind_after_mmap)
{
	uint32_t id = 0;
	void *p;
	int fd2;

	fd2 = open_seg(KEY(5), 1, &id);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, seg_get(fd2, 0, 0, 0, 0, NULL));	/* back to segment 0 */
	ASSERT_EQ(0, seg_get(fd2, KEY(5), 0, 0, 0, NULL));
	p = map_seg(fd2, 1, PROT_READ);
	ASSERT_NE(MAP_FAILED, p);
	munmap(p, page_size());
	EXPECT_EQ(-EBUSY, seg_get(fd2, 0, 0, 0, 0, NULL));
	/* mapping past the segment's size is refused */
	EXPECT_EQ(MAP_FAILED, map_seg(fd2, 2, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, seg_delete(fd2, id));
	close(fd2);
}

/* A PROT_READ attach cannot become writable; a write to it is SIGSEGV. */
TEST_F(seg, read_only_attach)
{
	uint32_t id = 0, *rw, *ro;
	int fd2, status;
	pid_t pid;

	fd2 = open_seg(KEY(6), 1, &id);
	ASSERT_LE(0, fd2);
	rw = map_seg(fd2, 1, PROT_READ | PROT_WRITE);
	ro = map_seg(fd2, 1, PROT_READ);
	ASSERT_NE(MAP_FAILED, rw);
	ASSERT_NE(MAP_FAILED, ro);
	*rw = THESIS_PATTERN;
	EXPECT_EQ(THESIS_PATTERN, *ro);
	EXPECT_EQ(-1, mprotect(ro, page_size(), PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		*(volatile uint32_t *)ro = 0;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	EXPECT_EQ(THESIS_PATTERN, *ro);
	munmap(rw, page_size());
	munmap(ro, page_size());
	EXPECT_EQ(0, seg_delete(fd2, id));
	close(fd2);
}

/* capset(2) without libcap: keep only @cap (or nothing) effective. */
static int keep_only_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (cap >= 0) {
		data[cap / 32].effective = data[cap / 32].permitted = 1U << (cap % 32);
	}
	return syscall(SYS_capset, &hdr, data);
}

/* As uid 1000 (optionally with CAP_IPC_OWNER only): GET, DELETE, INFO. */
static int as_other_user(uint64_t key, uint32_t id, int cap)
{
	int fd, err;

	if (prctl(PR_SET_KEEPCAPS, 1) || setresgid(1000, 1000, 1000) ||
	    setresuid(1000, 1000, 1000) || keep_only_cap(cap))
		return 100;
	fd = open(MY_SHMEM_DEVICE, O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "# uid %d: open %s: %s\n", getuid(), MY_SHMEM_DEVICE, strerror(errno));
		return 101;
	}
	err = seg_get(fd, key, 0, 0, 0, NULL);
	if (err == -EACCES)
		return 1;
	if (err)
		return 102;
	{
		struct my_shmem_seg_info info;

		if (seg_info(fd, id, &info, NULL))
			return 103;
	}
	err = seg_delete(fd, id);
	return err == -EPERM ? 2 : err ? 104 : 3;
}

/*
 * SysV permissions: another uid is refused (EACCES at GET) unless the bits
 * allow it; only the owner (or CAP_IPC_OWNER) deletes; an unprivileged
 * opener is not bound to segment 0 (root only by default).
 */
TEST_F(seg, permissions)
{
	uint32_t id = 0, id2 = 0;
	int status, fd2, fd3;
	pid_t pid;

	ASSERT_EQ(0, fchmod(self->fd, 0666)) TH_LOG("the test needs the node open to uid 1000");
	fd2 = open_seg(KEY(7), 1, &id);		/* 0600, owned by root */
	ASSERT_LE(0, fd2);
	fd3 = open_dev();
	ASSERT_LE(0, fd3);
	ASSERT_EQ(0, seg_get(fd3, KEY(8), page_size(), MY_SHMEM_GET_CREATE, 0666, &id2));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(as_other_user(KEY(7), id, -1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(1, WEXITSTATUS(status)) TH_LOG("0600 as uid 1000: want EACCES at GET");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(as_other_user(KEY(8), id2, -1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(2, WEXITSTATUS(status)) TH_LOG("0666 as uid 1000: GET ok, DELETE EPERM");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(as_other_user(KEY(7), id, CAP_IPC_OWNER));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(3, WEXITSTATUS(status)) TH_LOG("CAP_IPC_OWNER: GET and DELETE allowed");

	/* unprivileged: not bound to segment 0, so nothing to map */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			_exit(100);
		fd = open(MY_SHMEM_DEVICE, O_RDWR);
		if (fd < 0)
			_exit(101);
		_exit(mmap(NULL, page_size(), PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED &&
		      errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("uid 1000 mapped segment 0");

	fchmod(self->fd, 0600);
	EXPECT_EQ(0, seg_delete(fd3, id2));
	close(fd2);
	close(fd3);
}

/*
 * The xv6 lab's ping-pong: the parent attaches at 0x10000000, the child
 * (its own fd, the same key) at 0x20000000; a token goes back and forth
 * through C11 atomics.
 */
TEST_F_TIMEOUT(seg, xv6_ping_pong, 300)
{
	enum { ROUNDS = 1000 };
	void *const parent_at = (void *)0x10000000UL, *const child_at = (void *)0x20000000UL;
	_Atomic int *token;
	uint32_t id = 0;
	int fd2, status, i;
	pid_t pid;

	fd2 = open_seg(KEY(9), 1, &id);
	ASSERT_LE(0, fd2);
	token = mmap(parent_at, page_size(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		     fd2, 0);
	ASSERT_EQ(parent_at, (void *)token);
	atomic_store(token, 0);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = open_dev();
		_Atomic int *t;

		munmap(parent_at, page_size());
		if (fd < 0 || seg_get(fd, KEY(9), 0, 0, 0, NULL))
			_exit(1);
		t = mmap(child_at, page_size(), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
		if (t != child_at)
			_exit(2);
		for (i = 0; i < ROUNDS; i++) {
			while (atomic_load(t) != 2 * i + 1)
				;
			atomic_store(t, 2 * i + 2);
		}
		_exit(0);
	}
	for (i = 0; i < ROUNDS; i++) {
		atomic_store(token, 2 * i + 1);
		while (atomic_load(token) != 2 * i + 2)
			;
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_EQ(2 * ROUNDS, atomic_load(token));
	munmap(parent_at, page_size());
	EXPECT_EQ(0, seg_delete(fd2, id));
	close(fd2);
}

/* fork inherits attachments; exec and exit detach. */
TEST_F(seg, fork_exec_exit)
{
	struct my_shmem_seg_info info;
	int fd2, status, pfd[2];
	uint32_t id = 0;
	void *p;
	pid_t pid;
	char c;

	fd2 = open_seg(KEY(10), 2, &id);
	ASSERT_LE(0, fd2);
	p = map_seg(fd2, 2, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(1);
		execl("/bin/sh", "sh", "-c", "read x", (char *)NULL);
		_exit(2);
	}
	close(pfd[0]);
	ASSERT_EQ(0, seg_info(fd2, id, &info, NULL));
	EXPECT_EQ(2, info.nattch) TH_LOG("fork inherits the attachment");
	ASSERT_EQ(1, write(pfd[1], "x", 1));
	/* after exec the child maps nothing of ours */
	for (int i = 0; i < 500; i++) {
		ASSERT_EQ(0, seg_info(fd2, id, &info, NULL));
		if (info.nattch == 1)
			break;
		usleep(10000);
	}
	EXPECT_EQ(1, info.nattch) TH_LOG("exec detaches");
	close(pfd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	munmap(p, 2 * page_size());
	ASSERT_EQ(0, seg_info(fd2, id, &info, NULL));
	EXPECT_EQ(0, info.nattch);
	EXPECT_EQ(0, seg_delete(fd2, id));
	close(fd2);
}

struct racer {
	int id;
	atomic_bool *stop;
	unsigned long ops;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	unsigned int seed = r->id;

	while (!atomic_load(r->stop)) {
		uint64_t key = KEY(100 + rand_r(&seed) % 4);
		struct my_shmem_seg_info info;
		uint32_t id = 0, *p;
		int fd = open_dev();

		if (fd < 0)
			break;
		if (!seg_get(fd, key, 4 * page_size(), MY_SHMEM_GET_CREATE, 0600, &id)) {
			switch (rand_r(&seed) % 3) {
			case 0:
				p = map_seg(fd, 4, PROT_READ | PROT_WRITE);
				if (p != MAP_FAILED) {
					p[(rand_r(&seed) % 4) * page_size() / sizeof(*p)] = THESIS_PATTERN;
					munmap(p, 4 * page_size());
				}
				break;
			case 1:
				seg_delete(fd, id);
				break;
			default:
				seg_info(fd, id, &info, NULL);
				break;
			}
		}
		close(fd);
		r->ops++;
	}
	return NULL;
}

/* Delete the segments of @n keys from @key on (if any); 0 or -errno. */
static int delete_keys(int fd, uint64_t key, int n)
{
	uint32_t id = 0;
	int i, err;

	for (i = 0; i < n; i++) {
		if (seg_get(fd, key + i, 0, 0, 0, &id))
			continue;
		err = seg_delete(fd, id);
		if (err)
			return err;
	}
	return 0;
}

/* Four threads racing for @secs seconds; returns the operations done. */
static unsigned long race_threads(int base, int secs)
{
	enum { NTHREADS = 4 };
	struct racer r[NTHREADS];
	pthread_t th[NTHREADS];
	atomic_bool stop = false;
	unsigned long ops = 0;
	int i;

	for (i = 0; i < NTHREADS; i++) {
		r[i] = (struct racer){ base + i + 1, &stop, 0 };
		if (pthread_create(&th[i], NULL, race, &r[i]))
			return 0;
	}
	sleep(secs);
	atomic_store(&stop, true);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		ops += r[i].ops;
	}
	return ops;
}

/*
 * Three processes of four threads each race GET / DELETE / attach / fault /
 * detach / INFO on four keys for two seconds; then every segment is deleted
 * and nothing is left (the fixture checks pages and segments).
 */
TEST_F_TIMEOUT(seg, race_get_delete_attach, 300)
{
	unsigned long ops;
	int i, status, pipefd[2];
	pid_t pids[2];

	ASSERT_EQ(0, pipe(pipefd));
	for (i = 0; i < 2; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			unsigned long n = race_threads(100 * (i + 1), 2);

			_exit(write(pipefd[1], &n, sizeof(n)) == sizeof(n) ? 0 : 1);
		}
	}
	ops = race_threads(0, 2);
	for (i = 0; i < 2; i++) {
		unsigned long n = 0;

		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_EQ(0, status);
		ASSERT_EQ((ssize_t)sizeof(n), read(pipefd[0], &n, sizeof(n)));
		ops += n;
	}
	close(pipefd[0]);
	close(pipefd[1]);
	TH_LOG("%lu operations", ops);
	EXPECT_LT(100, ops);
	EXPECT_EQ(0, delete_keys(self->fd, KEY(100), 4));
	EXPECT_EQ(0, seg_get(self->fd, 0, 0, 0, 0, NULL));
}

/* Limits: max_segments (ENOSPC) and max_segment_pages (EFBIG), each a parameter. */
TEST_F(seg, limits)
{
	long saved_segs = param_get("max_segments");
	long saved_pages = param_get("max_segment_pages");
	char buf[32];
	uint32_t id = 0;

	ASSERT_LT(0, saved_segs);
	ASSERT_LT(0, saved_pages);
	snprintf(buf, sizeof(buf), "%ld", self->segs0 + 1);
	ASSERT_EQ(0, param_set("max_segments", buf));
	ASSERT_EQ(0, seg_get(self->fd, KEY(20), page_size(), MY_SHMEM_GET_CREATE, 0600, &id));
	EXPECT_EQ(-ENOSPC, seg_get(self->fd, KEY(21), page_size(), MY_SHMEM_GET_CREATE, 0600, NULL));
	EXPECT_EQ(0, seg_delete(self->fd, id));
	snprintf(buf, sizeof(buf), "%ld", saved_segs);
	ASSERT_EQ(0, param_set("max_segments", buf));

	ASSERT_EQ(0, param_set("max_segment_pages", "4"));
	EXPECT_EQ(-EFBIG, seg_get(self->fd, KEY(22), 5 * page_size(), MY_SHMEM_GET_CREATE, 0600, NULL));
	ASSERT_EQ(0, seg_get(self->fd, KEY(22), 4 * page_size(), MY_SHMEM_GET_CREATE, 0600, &id));
	EXPECT_EQ(0, seg_delete(self->fd, id));
	EXPECT_EQ(-EINVAL, param_set("max_segment_pages", "0"));
	EXPECT_EQ(-EINVAL, param_set("max_segments", "0"));
	snprintf(buf, sizeof(buf), "%ld", saved_pages);
	ASSERT_EQ(0, param_set("max_segment_pages", buf));
	EXPECT_EQ(0, seg_get(self->fd, 0, 0, 0, 0, NULL));
}

TEST_HARNESS_MAIN
