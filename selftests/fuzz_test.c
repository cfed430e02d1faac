// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, bounded fuzzer of the module's user interfaces: ioctls with
 * valid and broken structs, generic-netlink messages with random commands
 * and attributes, mmap / munmap / mremap / mprotect, touches (SIGBUS and
 * SIGSEGV caught), and forks that do the same.  Afterwards every segment it
 * made is deleted and the counters must be back where they started; the
 * console scan of the guest catches any kernel report, and the run's last
 * step (the debug epilogue or lifetime_test) unloads the module.
 *
 * Reproducible: MY_SHMEM_FUZZ_SEED fixes the sequence (default: derived
 * from the guest's MY_SHMEM_ARCH and MY_SHMEM_KERNEL, so each guest of
 * make check runs its own), MY_SHMEM_FUZZ_OPS (default 25000) its length;
 * both are printed.
 */
#define _GNU_SOURCE
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/socket.h>

#include "kselftest_harness.h"
#include "util.h"

#define NFD	6
#define NMAP	8
#define KEYS	5
#define KEY(n)	(0xf0220000ULL + (n))
#define SCAN_IDS	65536	/* ids looked at when cleaning up */

static sigjmp_buf jmp;

static void on_fault(int sig)
{
	siglongjmp(jmp, sig);
}

/* Read or write one byte; returns the signal it raised (caught), or 0. */
static __attribute__((noinline)) int poke(char *addr, bool write, char v)
{
	int sig = sigsetjmp(jmp, 1);

	if (sig)
		return sig;
	if (write)
		*(volatile char *)addr = v;
	else
		(void)*(volatile char *)addr;
	return 0;
}

struct map {
	char *addr;
	size_t len;
};

/* A random genetlink message to the family (or to a random family id). */
static void fuzz_netlink(int sk, int family)
{
	char buf[512] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = (void *)buf;
	struct genlmsghdr *g = (void *)(nlh + 1);
	size_t len = NLMSG_HDRLEN + GENL_HDRLEN;
	int nattr = prng_below(5), i;

	memset(buf, 0, sizeof(buf));
	nlh->nlmsg_type = prng_below(20) ? family : GENL_ID_CTRL;	/* never other families */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (prng_below(3) ? 0 : NLM_F_DUMP);
	g->cmd = prng_below(9);
	g->version = prng_below(3);
	for (i = 0; i < nattr; i++) {
		struct nlattr *a = (void *)(buf + len);
		int plen = prng_below(4) ? (int)(4 << prng_below(2)) : (int)prng_below(80);

		if (len + NLA_HDRLEN + plen > sizeof(buf))
			break;
		a->nla_type = prng_below(30);
		a->nla_len = NLA_HDRLEN + plen;
		for (int j = 0; j < plen; j++)
			((unsigned char *)(a + 1))[j] = prng_below(3) ? 0 : prng();
		if (plen && prng_below(2))	/* often a string */
			((char *)(a + 1))[plen - 1] = '\0';
		len += NLA_ALIGN(a->nla_len);
	}
	nlh->nlmsg_len = prng_below(50) ? len : prng_below(len + 1);
	send(sk, buf, len, MSG_DONTWAIT);
	while (recv(sk, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* The family id, resolved through nlctrl with a raw socket. */
static int resolve_family(int sk)
{
	char buf[4096] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = (void *)buf;
	struct genlmsghdr *g = (void *)(nlh + 1);
	struct nlattr *a = (void *)(g + 1);
	ssize_t n;
	int rem;

	memset(buf, 0, 256);
	a->nla_type = CTRL_ATTR_FAMILY_NAME;
	a->nla_len = NLA_HDRLEN + sizeof(MY_SHMEM_FAMILY_NAME);
	memcpy(a + 1, MY_SHMEM_FAMILY_NAME, sizeof(MY_SHMEM_FAMILY_NAME));
	nlh->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN + NLA_ALIGN(a->nla_len);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	if (send(sk, buf, nlh->nlmsg_len, 0) < 0)
		return -1;
	n = recv(sk, buf, sizeof(buf), 0);
	if (n < (ssize_t)(NLMSG_HDRLEN + GENL_HDRLEN) || nlh->nlmsg_type == NLMSG_ERROR)
		return -1;
	rem = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	for (a = (void *)(g + 1); rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN;
	     rem -= NLA_ALIGN(a->nla_len), a = (void *)((char *)a + NLA_ALIGN(a->nla_len)))
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			return *(uint16_t *)(a + 1);
	return -1;
}

/* One random ioctl on @fd, with a valid, short, long or corrupt struct. */
static void fuzz_ioctl(int fd, uint32_t *ids, int *nids)
{
	union {
		struct my_shmem_get get;
		struct my_shmem_delete del;
		struct my_shmem_seg_info info;
		struct my_shmem_stats st;
		struct my_shmem_sync sync;
		unsigned char raw[256];
	} u;
	uint64_t orders[MY_SHMEM_NR_ORDERS];
	unsigned int nr = prng_below(7), cmd;

	memset(&u, 0, sizeof(u));
	cmd = _IOC(prng_below(4), prng_below(40) ? MY_SHMEM_IOC_MAGIC : prng_below(256), nr, sizeof(u.get));
	switch (nr) {
	case 3:
		u.get = (struct my_shmem_get){
			.size = sizeof(u.get), .flags = prng_below(4), .key = KEY(prng_below(KEYS)),
			.bytes = prng_below(8) * page_size() + prng_below(2), .perm = 0600,
		};
		if (!prng_below(10))
			u.get.mode = prng_below(3);
		if (!prng_below(10))
			u.get.flags |= 1U << prng_below(32);
		break;
	case 4:
		u.del = (struct my_shmem_delete){
			.size = sizeof(u.del), .id = *nids ? ids[prng_below(*nids)] : prng_below(100),
		};
		break;
	case 5:
		u.info = (struct my_shmem_seg_info){
			.size = sizeof(u.info),
			.id = prng_below(4) ? (*nids ? ids[prng_below(*nids)] : 0) : MY_SHMEM_SEG_INFO_BOUND,
			.orders = prng_below(3) ? (uintptr_t)orders : prng_below(2) ? 8 : 0,
			.nr_orders = prng_below(2 * MY_SHMEM_NR_ORDERS),
		};
		break;
	case 1:
		u.st = (struct my_shmem_stats){ .size = sizeof(u.st), .orders = (uintptr_t)orders,
					       .nr_orders = prng_below(MY_SHMEM_NR_ORDERS + 2) };
		break;
	case 2:
		u.sync = (struct my_shmem_sync){ .offset = prng_below(16) * page_size(),
						 .len = prng_below(16) * page_size(), .flags = prng_below(5) };
		break;
	}
	if (!prng_below(8))	/* a struct of the wrong size, maybe with junk after it */
		u.get.size = prng_below(3) ? prng_below(300) : sizeof(u) + prng_below(8);
	if (!prng_below(8))
		u.raw[prng_below(sizeof(u.get))] ^= 1 << prng_below(8);
	if (!ioctl(fd, cmd, prng_below(50) ? (void *)&u : (void *)8) && nr == 3 && *nids < 64)
		ids[(*nids)++] = u.get.id;
}

/* Pages allocated to segment 0 (SEG_INFO of id 0). */
static long seg0_pages_allocated(void)
{
	struct my_shmem_seg_info info = { .size = sizeof(info), .id = 0 };
	int fd = open_dev();
	long pages = -1;

	if (fd >= 0 && !ioctl(fd, MY_SHMEM_IOC_SEG_INFO, &info))
		pages = info.pages;
	if (fd >= 0)
		close(fd);
	return pages;
}

FIXTURE(fuzz) {
};

FIXTURE_SETUP(fuzz)
{
}

FIXTURE_TEARDOWN(fuzz)
{
}

/* Minutes under a debug kernel on a loaded host: a generous timeout. */
TEST_F_TIMEOUT(fuzz, random_interfaces, 900)
{
	const char *seed_env = getenv("MY_SHMEM_FUZZ_SEED");
	const char *ops_env = getenv("MY_SHMEM_FUZZ_OPS");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : guest_kind_seed();
	unsigned long ops = ops_env ? strtoul(ops_env, NULL, 0) : 25000, step;
	long pages0 = pages_in_use(), segs0 = read_long(STATS_DIR "segments");
	long seg0_0 = seg0_pages_allocated();
	long order0 = param_get("max_contiguous_alloc_order");
	struct sigaction sa = { .sa_handler = on_fault };
	struct map maps[NMAP] = { 0 };
	int fds[NFD], nl, family, i, nids = 0, status;
	unsigned long faults = 0;
	uint32_t ids[64];

	static bool before[SCAN_IDS];

	{
		int fd = open_dev();

		ASSERT_LE(0, fd);
		for (i = 1; i < SCAN_IDS; i++) {
			struct my_shmem_seg_info info = { .size = sizeof(info), .id = i };

			before[i] = !ioctl(fd, MY_SHMEM_IOC_SEG_INFO, &info);
		}
		close(fd);
	}
	prng_seed(seed * 0x9e3779b97f4a7c15ULL | 1);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, NULL));
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	ASSERT_LE(0, nl);
	family = resolve_family(nl);
	ASSERT_LT(0, family) TH_LOG("family %s not found", MY_SHMEM_FAMILY_NAME);
	for (i = 0; i < NFD; i++)
		fds[i] = open_dev();

	for (step = 0; step < ops; step++) {
		unsigned int op = prng_below(100);
		int fi = prng_below(NFD), mi = prng_below(NMAP);
		struct map *m = &maps[mi];

		if (op < 25) {
			fuzz_ioctl(fds[fi], ids, &nids);
		} else if (op < 40) {
			fuzz_netlink(nl, family);
		} else if (op < 52) {	/* map */
			size_t len = (1 + prng_below(16)) * page_size();
			int prot = prng_below(4) ? PROT_READ | PROT_WRITE : PROT_READ;
			int flags = prng_below(10) ? MAP_SHARED : MAP_PRIVATE;
			void *p;

			if (m->addr)
				munmap(m->addr, m->len);
			m->addr = NULL;
			p = mmap(NULL, len, prot, flags, fds[fi], prng_below(32) * page_size());
			if (p != MAP_FAILED)
				*m = (struct map){ p, len };
		} else if (op < 75) {	/* touch */
			if (!m->addr)
				continue;
			faults += !!poke(&m->addr[prng_below(m->len)], prng_below(2), (char)prng());
		} else if (op < 82) {	/* munmap part or all */
			size_t off;

			if (!m->addr)
				continue;
			off = prng_below(m->len / page_size()) * page_size();
			if (off) {
				munmap(m->addr + off, m->len - off);
				m->len = off;
			} else {
				munmap(m->addr, m->len);
				m->addr = NULL;
			}
		} else if (op < 87) {	/* mremap: grow, shrink or move */
			size_t nlen = (1 + prng_below(16)) * page_size();
			void *p;

			if (!m->addr)
				continue;
			p = mremap(m->addr, m->len, nlen, MREMAP_MAYMOVE);
			if (p != MAP_FAILED)
				*m = (struct map){ p, nlen };
		} else if (op < 90) {	/* mprotect */
			if (m->addr)
				mprotect(m->addr, m->len, prng_below(2) ? PROT_READ : PROT_READ | PROT_WRITE);
		} else if (op < 97) {	/* reopen an fd */
			close(fds[fi]);
			fds[fi] = prng_below(5) ? open_dev() : open(MY_SHMEM_DEVICE, O_RDONLY | O_CLOEXEC);
		} else if (op < 98) {	/* order */
			set_order(prng_below(5));
		} else {		/* fork: the child fuzzes a little and exits */
			pid_t pid = fork();

			if (pid == 0) {
				for (i = 0; i < 20; i++) {
					fuzz_ioctl(fds[prng_below(NFD)], ids, &nids);
					m = &maps[prng_below(NMAP)];
					if (m->addr)
						poke(&m->addr[prng_below(m->len)], true, 1);
				}
				_exit(0);
			}
			if (pid > 0) {
				ASSERT_EQ(pid, waitpid(pid, &status, 0));
				ASSERT_TRUE(WIFEXITED(status)) TH_LOG("step %lu: child status %#x",
								      step, status);
			}
		}
	}

	for (i = 0; i < NMAP; i++)
		if (maps[i].addr)
			munmap(maps[i].addr, maps[i].len);
	for (i = 0; i < NFD; i++) {
		struct my_shmem_get get = { .size = sizeof(get) };

		/* rebind to segment 0 (where allowed), then close */
		ioctl(fds[i], MY_SHMEM_IOC_GET, &get);
		close(fds[i]);
	}
	close(nl);
	/*
	 * Delete every segment the fuzzer made (corrupted structs make keys of
	 * their own, and forked children make some): all but those there before.
	 */
	{
		int fd = open_dev();

		ASSERT_LE(0, fd);
		for (i = 1; i < SCAN_IDS; i++) {
			struct my_shmem_delete del = { .size = sizeof(del), .id = i };

			if (!before[i])
				ioctl(fd, MY_SHMEM_IOC_DELETE, &del);
		}
		close(fd);
	}
	set_order(order0);
	printf("# fuzz: %lu operations, seed %#llx, %lu faults caught\n", ops,
	       (unsigned long long)seed, faults);
	fflush(stdout);
	if (segs0 != read_long(STATS_DIR "segments")) {
		int fd = open_dev();

		for (i = 1; i < SCAN_IDS && fd >= 0; i++) {
			struct my_shmem_seg_info info = { .size = sizeof(info), .id = i };

			if (!ioctl(fd, MY_SHMEM_IOC_SEG_INFO, &info))
				TH_LOG("left: id %u key %#llx flags %u nattch %u nodes %u", info.id,
				       (unsigned long long)info.key, info.flags, info.nattch, info.nodes);
		}
		close(fd);
	}
	EXPECT_EQ(segs0, read_long(STATS_DIR "segments")) TH_LOG("segments left behind");
	/* No page leaked: what is in use beyond the start is segment 0's growth. */
	EXPECT_EQ(pages0 + seg0_pages_allocated() - seg0_0, pages_in_use());
}

TEST_HARNESS_MAIN
