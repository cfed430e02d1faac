// SPDX-License-Identifier: GPL-2.0
// shmemctl end to end, in the guest, against the loaded module (as root):
// every command, its text and its --json output checked field by field
// against what the module says through another path (ioctls and sysfs), and
// the error paths: malformed arguments (exit 2), values the module refuses,
// no permission (as uid 65534), module not loaded (exit 1 and the fix).
// The progress bar of touch is checked under a pseudo-terminal and its
// absence on a pipe.  Coherent segments: msi view / msi nodes over two nodes
// of this process (their grid, JSON and counters against the ioctls), and
// two shmemctl dsm processes driven through pipes through the s2dsm
// assignment's Part 2 sequence, every print checked.
//
// Every JSON document shmemctl printed here is also written to
// $SHMEMCTL_JSON_OUT (when set) as <kind>-<n>.json (watch: .jsonl), for
// userspace/tests/check_schema.py --dir to check against the schema.
//
// The binary: $SHMEMCTL_BIN, else ../bin/shmemctl next to this test.
// The module for the unload test: $MY_SHMEM_KO (scripts/vm-run sets it).
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <regex>
#include <pty.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <linux/my_shmem.h>

#include "my_shmem/my_shmem.hpp"

using my_shmem::json;

namespace {

std::string shmemctl_bin()
{
	if (const char *b = std::getenv("SHMEMCTL_BIN"))
		return b;
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return "shmemctl";
	self[n] = '\0';
	std::string d(self);

	d = d.substr(0, d.rfind('/'));
	return d + "/../bin/shmemctl";
}

struct Result {
	int rc = -1;
	std::string out, err;
	json j() const { return json::parse(out); }
};

std::string read_all(int fd)
{
	std::string s;
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			s.append(buf, n);
	return s;
}

// The argv of shmemctl @args (pointing into @bin and @args).
std::vector<char *> shmemctl_argv(std::string &bin, const std::vector<std::string> &args)
{
	std::vector<char *> argv{ bin.data() };

	for (const auto &a : args)
		argv.push_back(const_cast<char *>(a.c_str()));
	argv.push_back(nullptr);
	return argv;
}

// In a child: become shmemctl @args (exit 127 if it cannot be run).
[[noreturn]] void exec_shmemctl(const std::vector<std::string> &args)
{
	std::string bin = shmemctl_bin();

	execv(bin.c_str(), shmemctl_argv(bin, args).data());
	_exit(127);
}

// Run shmemctl with @args; @uid >= 0: as that user (and group).  Without
// @uid it is posix_spawn()ed (a vfork: no copy of this process' mappings),
// so that the child's exec does not close copies of mappings of coherent
// segments the test holds: the module writes a node's M pages back home
// (M -> S) when any of its mappings closes.
Result run(const std::vector<std::string> &args, int uid = -1)
{
	int out[2], err[2];
	Result r;

	if (pipe(out) || pipe(err))
		return r;
	pid_t pid = -1;

	if (uid < 0) {
		posix_spawn_file_actions_t fa;
		std::string bin = shmemctl_bin();
		std::vector<char *> argv = shmemctl_argv(bin, args);

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
		posix_spawn_file_actions_adddup2(&fa, err[1], 2);
		posix_spawn_file_actions_addclose(&fa, out[0]);
		posix_spawn_file_actions_addclose(&fa, err[0]);
		if (posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ))
			pid = -1;
		posix_spawn_file_actions_destroy(&fa);
	} else {
		pid = fork();
	}
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		if (uid >= 0 && (setgid(uid) || setuid(uid)))
			_exit(126);
		exec_shmemctl(args);
	}
	close(out[1]);
	close(err[1]);
	if (pid < 0) {
		close(out[0]);
		close(err[0]);
		r.rc = 127;
		return r;
	}
	std::thread te([&] { r.err = read_all(err[0]); });
	r.out = read_all(out[0]);
	te.join();
	close(out[0]);
	close(err[0]);
	int st;

	waitpid(pid, &st, 0);
	r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r;
}

// Keep what shmemctl printed for the schema check on the host.
void record(const std::string &kind, const std::string &text, const char *ext = "json")
{
	static std::map<std::string, int> seq;
	const char *dir = std::getenv("SHMEMCTL_JSON_OUT");

	if (!dir)
		return;
	mkdir(dir, 0755);
	std::ofstream(std::string(dir) + "/" + kind + "-" + std::to_string(seq[kind]++) + "." + ext)
		<< text;
}

// Result with --json, expect success, record and parse.
json run_json(const std::string &kind, std::vector<std::string> args)
{
	args.insert(args.begin(), "--json");
	Result r = run(args);

	EXPECT_EQ(0, r.rc) << "shmemctl " << testing::PrintToString(args) << "\n" << r.err;
	record(kind, r.out);
	try {
		return r.j();
	} catch (const std::exception &e) {
		ADD_FAILURE() << "not JSON: " << r.out << ": " << e.what();
		return json();
	}
}

std::string sysfs(const std::string &p)
{
	std::ifstream f(p);
	std::string s;

	std::getline(f, s);
	return s;
}

std::string param(const std::string &n)
{
	return sysfs("/sys/module/my_shmem/parameters/" + n);
}

std::uint64_t stat_file(const std::string &n)
{
	return std::stoull(sysfs("/sys/class/misc/my_shmem/stats/" + n));
}

bool loaded()
{
	return access("/sys/module/my_shmem", F_OK) == 0;
}

my_shmem::SegInfo ioctl_info(std::uint32_t id)
{
	auto d = my_shmem::Device::open(my_shmem::Paths{}, false);

	return d.seg_info(id);
}

// Keys of this test's segments: per pid, so that reruns do not collide.
std::uint64_t key(int n)
{
	return 0x5e000000ULL + (static_cast<std::uint64_t>(getpid()) << 8) + n;
}

std::string hex(std::uint64_t k)
{
	char b[32];

	std::snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(k));
	return b;
}

void expect_segment_json(const json &j, const my_shmem::SegInfo &s)
{
	EXPECT_EQ(j["id"], s.id);
	EXPECT_EQ(j["key"], s.key);
	EXPECT_EQ(j["bytes"], s.bytes);
	EXPECT_EQ(j["mode"], my_shmem::mode_name(s.mode));
	EXPECT_EQ(j["perm"], s.perm);
	EXPECT_EQ(j["deleted"], s.deleted());
	EXPECT_EQ(j["uid"], s.uid);
	EXPECT_EQ(j["gid"], s.gid);
	EXPECT_EQ(j["cuid"], s.cuid);
	EXPECT_EQ(j["cgid"], s.cgid);
	if (s.cpid) {	// 0 once the creator has exited
		EXPECT_EQ(j["cpid"], s.cpid);
	}
	EXPECT_EQ(j["nattch"], s.nattch);
	EXPECT_EQ(j["pages"], s.pages);
	EXPECT_EQ(j["faults"], s.faults);
	EXPECT_EQ(j["cleans"], s.cleans);
	EXPECT_EQ(j["invals"], s.invals);
	EXPECT_EQ(j["ctime"], s.ctime);
	EXPECT_EQ(j["allocs_by_order"].size(), static_cast<std::size_t>(MY_SHMEM_NR_ORDERS));
	EXPECT_EQ(j["allocs_by_order"].get<std::vector<std::uint64_t>>(), s.allocs_by_order);
}

// Deletes a test segment whatever happens.
struct SegGuard {
	std::uint64_t k;
	~SegGuard() { run({ "seg", "delete", "--key", hex(k) }); }
};

class Shmemctl : public testing::Test {
protected:
	void SetUp() override
	{
		if (geteuid() != 0)
			GTEST_SKIP() << "needs root (runs in the guest under scripts/vm-run)";
		if (!loaded())
			GTEST_SKIP() << "my_shmem is not loaded";
	}
};

// ------------------------------------------------------------------ status

TEST_F(Shmemctl, StatusTextNamesEverything)
{
	Result r = run({ "status" });

	ASSERT_EQ(0, r.rc) << r.err;
	for (const char *w : { "loaded", "netlink family my_shmem v1", "backend:", "order:", "caps:",
			       "pages in use:", "allocations:", "faults:", "cleans:", "invalidations:" })
		EXPECT_NE(std::string::npos, r.out.find(w)) << w << " missing in:\n" << r.out;
	EXPECT_NE(std::string::npos, r.out.find(param("backend")));
}

TEST_F(Shmemctl, StatusJsonMatchesSysfs)
{
	json j = run_json("status", { "status" });

	EXPECT_EQ(j["loaded"], true);
	EXPECT_EQ(j["netlink_version"], MY_SHMEM_FAMILY_VERSION);
	EXPECT_EQ(j["srcversion"], sysfs("/sys/module/my_shmem/srcversion"));
	EXPECT_EQ(j["version"], sysfs("/sys/module/my_shmem/version"));
	EXPECT_EQ(j["device_present"], true);
	EXPECT_EQ(j["device_access"], "read-write");
	for (const char *p : { "backend", "max_contiguous_alloc_order", "max_pages", "max_segments",
			       "max_segment_pages", "seg0_pages", "seg0_mode" })
		EXPECT_EQ(j["params"][p], param(p)) << p;
	const json &s = j["stats"];

	EXPECT_EQ(s["source"], "netlink");
	for (const char *f : { "pages_in_use", "faults", "cleans", "invals", "sigbus",
			       "order_fallbacks", "segments" })
		EXPECT_EQ(s[f], stat_file(f)) << f;
	EXPECT_EQ(s["max_pages"], std::stoull(param("max_pages")));
	EXPECT_EQ(s["allocs_by_order"].size(), static_cast<std::size_t>(MY_SHMEM_NR_ORDERS));
	if (access("/sys/kernel/tracing/events/my_shmem", F_OK) == 0) {
		auto tp = j["tracepoints"].get<std::vector<std::string>>();

		for (const char *e : { "alloc", "clean", "fault", "inval" })
			EXPECT_NE(tp.end(), std::find(tp.begin(), tp.end(), e)) << e;
	}
}

// ------------------------------------------------------------------ param

TEST_F(Shmemctl, ParamGetListsEveryParameter)
{
	json a = run_json("param-list", { "param", "get" });

	ASSERT_TRUE(a.is_array());
	EXPECT_EQ(a.size(), 7u);
	for (const json &p : a) {
		const std::string n = p["name"];

		EXPECT_EQ(p["value"], param(n)) << n;
		EXPECT_EQ(p["writable"], n != "seg0_mode") << n;
	}
	Result r = run({ "param", "get", "order" });

	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(r.out, param("max_contiguous_alloc_order") + "\n");
	json one = run_json("param", { "param", "get", "backend" });

	EXPECT_EQ(one["name"], "backend");
	EXPECT_EQ(one["value"], param("backend"));
}

TEST_F(Shmemctl, ParamSetChangesAndRefuses)
{
	const std::string old = param("max_contiguous_alloc_order");
	json j = run_json("param-set", { "param", "set", "order", "3" });

	EXPECT_EQ(param("max_contiguous_alloc_order"), "3");
	EXPECT_EQ(j["name"], "max_contiguous_alloc_order");
	EXPECT_EQ(j["old"], old);
	EXPECT_EQ(j["value"], "3");
	EXPECT_EQ(0, run({ "param", "set", "max_contiguous_alloc_order", old }).rc);
	EXPECT_EQ(param("max_contiguous_alloc_order"), old);

	// Caught by the tool: exit 2, a message that says what is accepted.
	Result r = run({ "param", "set", "order", "11" });
	EXPECT_EQ(2, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("0..10")) << r.err;
	EXPECT_EQ(2, run({ "param", "set", "order", "four" }).rc);
	EXPECT_EQ(2, run({ "param", "set", "backend", "magic" }).rc);
	r = run({ "param", "set", "seg0_mode", "0666" });
	EXPECT_EQ(2, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("load time")) << r.err;
	r = run({ "param", "set", "no_such_param", "1" });
	EXPECT_EQ(2, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("no parameter")) << r.err;
	EXPECT_EQ(old, param("max_contiguous_alloc_order"));

	// Refused by the module: exit 1 with the kernel's own reason.
	if (access("/proc/kallsyms", R_OK) == 0 &&
	    system("grep -q ' __dcache_clean_poc$' /proc/kallsyms") != 0) {
		const std::string b = param("backend");

		r = run({ "param", "set", "backend", "kernel" });
		EXPECT_EQ(1, r.rc);
		EXPECT_NE(std::string::npos, r.err.find("refused")) << r.err;
		EXPECT_EQ(b, param("backend"));
	}

	// No privilege: exit 1 and how to get it.
	r = run({ "param", "set", "order", "2" }, 65534);
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("root")) << r.err;
	EXPECT_EQ(old, param("max_contiguous_alloc_order"));
}

// ------------------------------------------------------------------ seg

TEST_F(Shmemctl, SegCreateListInfoDelete)
{
	const std::uint64_t k = key(1);
	SegGuard g{ k };
	json c = run_json("seg-create",
			  { "seg", "create", hex(k), "--size", "64K", "--perm", "0640" });

	EXPECT_EQ(c["created"], true);
	const std::uint32_t id = c["segment"]["id"];
	my_shmem::SegInfo s = ioctl_info(id);

	expect_segment_json(c["segment"], s);
	EXPECT_EQ(s.bytes, 65536u);
	EXPECT_EQ(s.perm, 0640u);
	EXPECT_EQ(s.key, k);

	json again = run_json("seg-create", { "seg", "create", hex(k), "--size", "64K" });
	EXPECT_EQ(again["created"], false);
	EXPECT_EQ(again["segment"]["id"], id);
	Result r = run({ "seg", "create", hex(k), "--size", "64K", "--excl" });
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("File exists")) << r.err;

	json list = run_json("seg-list", { "seg", "list" });
	bool found = false, seg0 = false;

	for (const json &e : list) {
		seg0 |= e["id"] == 0;
		if (e["id"] == id) {
			found = true;
			expect_segment_json(e, ioctl_info(id));
		}
	}
	EXPECT_TRUE(found);
	EXPECT_TRUE(seg0);
	r = run({ "seg", "list" });
	EXPECT_EQ(0, r.rc);
	for (const char *h : { "key", "shmid", "owner", "perms", "bytes", "nattch", "status" })
		EXPECT_NE(std::string::npos, r.out.find(h)) << h;
	char keytext[32];

	std::snprintf(keytext, sizeof(keytext), "0x%08llx", static_cast<unsigned long long>(k));
	EXPECT_NE(std::string::npos, r.out.find(keytext)) << r.out;
	EXPECT_NE(std::string::npos, r.out.find(" 640 ")) << r.out;

	json byid = run_json("seg-info", { "seg", "info", std::to_string(id) });
	json bykey = run_json("seg-info", { "seg", "info", "--key", hex(k) });
	expect_segment_json(byid, ioctl_info(id));
	EXPECT_EQ(bykey["id"], id);
	r = run({ "seg", "info", std::to_string(id) });
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(std::string::npos, r.out.find("rw-r-----")) << r.out;

	json d = run_json("seg-delete", { "seg", "delete", std::to_string(id) });
	EXPECT_EQ(d["id"], id);
	EXPECT_EQ(d["freed"], true);
	r = run({ "seg", "info", std::to_string(id) });
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("seg list")) << r.err;
	EXPECT_EQ(1, run({ "seg", "delete", "0" }).rc);
}

TEST_F(Shmemctl, SegAttachHoldsAndDeleteWaits)
{
	const std::uint64_t k = key(2);
	SegGuard g{ k };
	json c = run_json("seg-create", { "seg", "create", hex(k), "--size", "8p" });
	const std::uint32_t id = c["segment"]["id"];
	std::atomic<bool> done{ false };
	Result held;
	std::thread t([&] {
		held = run({ "--json", "seg", "attach", hex(k), "--hold", "3", "--address",
			     "0x10000000" });
		done = true;
	});
	// Wait for the attachment to show.
	for (int i = 0; i < 100 && ioctl_info(id).nattch == 0 && !done; i++)
		usleep(50000);
	EXPECT_EQ(1u, ioctl_info(id).nattch);
	json d = run_json("seg-delete", { "seg", "delete", "--key", hex(k) });
	EXPECT_EQ(d["freed"], false);
	EXPECT_TRUE(ioctl_info(id).deleted());
	t.join();
	EXPECT_EQ(0, held.rc) << held.err;
	record("seg-attach", held.out);
	json a = json::parse(held.out);
	EXPECT_EQ(a["id"], id);
	EXPECT_EQ(a["address"], "0x10000000");
	EXPECT_EQ(a["bytes"], 8 * sysconf(_SC_PAGESIZE));
	EXPECT_EQ(a["read_only"], false);
	// Detached and deleted: gone.
	EXPECT_EQ(1, run({ "seg", "info", std::to_string(id) }).rc);
}

TEST_F(Shmemctl, SegPermissionsForAnotherUser)
{
	const std::uint64_t k = key(3);
	SegGuard g{ k };

	run_json("seg-create", { "seg", "create", hex(k), "--size", "4K", "--perm", "0600" });
	// The device node itself is root's (no udev rule here): the message says how.
	chmod("/dev/my_shmem", 0600);
	Result r = run({ "seg", "attach", hex(k), "--hold", "0" }, 65534);
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("udev")) << r.err;
	// With the node open to all, the segment's own bits refuse.
	chmod("/dev/my_shmem", 0666);
	r = run({ "seg", "attach", hex(k), "--hold", "0" }, 65534);
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("Permission denied")) << r.err;
	// Read access granted: a read-only attach works, a writable one does not.
	EXPECT_EQ(0, run({ "seg", "delete", "--key", hex(k) }).rc);
	run_json("seg-create", { "seg", "create", hex(k), "--size", "4K", "--perm", "0644" });
	r = run({ "seg", "attach", hex(k), "--read-only", "--hold", "0" }, 65534);
	EXPECT_EQ(0, r.rc) << r.err;
	EXPECT_EQ(1, run({ "seg", "attach", hex(k), "--hold", "0" }, 65534).rc);
	// Not the owner: may not delete.
	r = run({ "seg", "delete", "--key", hex(k) }, 65534);
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("owner")) << r.err;
	chmod("/dev/my_shmem", 0600);
}

// ------------------------------------------------------------------ touch, sync

TEST_F(Shmemctl, TouchWritesAndReadsThePattern)
{
	const std::uint64_t k = key(4);
	SegGuard g{ k };
	json c = run_json("seg-create", { "seg", "create", hex(k), "--size", "68p" });
	const std::uint32_t id = c["segment"]["id"];
	const std::string old = param("max_contiguous_alloc_order");

	const std::uint64_t cleans = ioctl_info(id).cleans;
	json w = run_json("touch", { "touch", "write", "-n", "64", "--key", hex(k), "--order", "2",
				     "--repeat", "2" });
	EXPECT_EQ(w["op"], "write");
	EXPECT_EQ(w["segment"], id);
	EXPECT_EQ(w["key"], k);
	EXPECT_EQ(w["pages"], 64);
	EXPECT_EQ(w["repeat"], 2);
	EXPECT_EQ(w["order"], 2);
	EXPECT_EQ(w["offset_pages"], 0);
	EXPECT_GT(w["seconds"].get<double>(), 0);
	EXPECT_FALSE(w.contains("mismatches"));
	EXPECT_EQ(old, param("max_contiguous_alloc_order")) << "--order not restored";

	// A fresh part (allocated in offset order, after the write's) reads as
	// zeroes: every word differs, exit 1.
	Result r = run({ "--json", "touch", "read", "-n", "4", "--offset", "64", "--order", "0",
			 "--key", hex(k) });
	EXPECT_EQ(1, r.rc);
	EXPECT_EQ(r.j()["mismatches"], 4 * sysconf(_SC_PAGESIZE) / 4);
	my_shmem::SegInfo s = ioctl_info(id);
	EXPECT_EQ(s.pages, 68u);
	EXPECT_EQ(s.allocs_by_order[0], 4u) << "the read's runs of order 0";
	EXPECT_EQ(s.allocs_by_order[2], 16u) << "the write's runs of order 2";
	EXPECT_EQ(s.cleans - cleans, 32u + 4u) << "two unmaps of 16 runs, one of 4";

	json rd = run_json("touch", { "touch", "read", "-n", "60", "--offset", "4", "--key", hex(k) });
	EXPECT_EQ(rd["mismatches"], 0);
	EXPECT_EQ(rd["offset_pages"], 4);
	r = run({ "touch", "read", "-n", "64", "--key", hex(k) });
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(std::string::npos, r.out.find("0 words differ from 0xcafebeef")) << r.out;

	// Past the segment: mmap refuses, exit 1, the message says why.
	r = run({ "touch", "write", "-n", "69", "--key", hex(k) });
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("inside the segment")) << r.err;
	// Unknown key.
	r = run({ "touch", "write", "-n", "1", "--key", hex(key(99)) });
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("seg create")) << r.err;
}

TEST_F(Shmemctl, SyncCleansAndInvalidatesBackedRuns)
{
	const std::uint64_t k = key(5);
	SegGuard g{ k };
	json c = run_json("seg-create", { "seg", "create", hex(k), "--size", "32p" });
	const std::uint32_t id = c["segment"]["id"];

	ASSERT_EQ(0, run({ "touch", "write", "-n", "16", "--key", hex(k), "--order", "2" }).rc);
	my_shmem::SegInfo before = ioctl_info(id);
	json j = run_json("sync", { "sync", "--clean", "0+32", "--key", hex(k), "--repeat", "3" });

	EXPECT_EQ(j["op"], "clean");
	EXPECT_EQ(j["allocs"], 4) << "16 pages in runs of 4; the rest unbacked";
	EXPECT_EQ(j["offset"], 0);
	EXPECT_EQ(j["len"], 32 * sysconf(_SC_PAGESIZE));
	EXPECT_EQ(j["repeat"], 3);
	my_shmem::SegInfo after = ioctl_info(id);
	EXPECT_EQ(after.cleans - before.cleans, 12u);
	EXPECT_EQ(after.invals, before.invals);

	j = run_json("sync", { "sync", "--clean", "--inval", "4..8", "--key", hex(k) });
	EXPECT_EQ(j["op"], "clean+inval");
	EXPECT_EQ(j["allocs"], 1);
	EXPECT_EQ(ioctl_info(id).invals - after.invals, 1u);

	// Malformed ranges and requests: exit 2 before anything runs.
	for (auto args : std::vector<std::vector<std::string>>{
		     { "sync", "0+4" },
		     { "sync", "--clean", "4..2" },
		     { "sync", "--clean", "1000B+4K" },
		     { "sync", "--clean", "0+0" },
		     { "sync", "--clean", "lots" } }) {
		Result r = run(args);
		EXPECT_EQ(2, r.rc) << testing::PrintToString(args) << r.err;
	}
	// Past the segment's end nothing is backed: nothing to do, not an error.
	j = run_json("sync", { "sync", "--inval", "32+32", "--key", hex(k) });
	EXPECT_EQ(j["allocs"], 0);
}

// ------------------------------------------------------------------ watch

TEST_F(Shmemctl, WatchReportsSegmentEvents)
{
	const std::uint64_t k = key(6);
	SegGuard g{ k };
	Result w;
	std::thread t([&] { w = run({ "--json", "watch", "--count", "3", "--timeout", "30" }); });

	// The watcher must have joined the group before the events happen.
	usleep(1500000);
	run_json("seg-create", { "seg", "create", hex(k), "--size", "4p" });
	ASSERT_EQ(0, run({ "touch", "write", "-n", "1", "--key", hex(k), "--order", "0" }).rc);
	ASSERT_EQ(0, run({ "seg", "delete", "--key", hex(k) }).rc);
	t.join();
	ASSERT_EQ(0, w.rc) << w.err;
	record("watch", w.out, "jsonl");
	std::vector<json> ev;
	std::size_t pos = 0, nl;

	while ((nl = w.out.find('\n', pos)) != std::string::npos) {
		ev.push_back(json::parse(w.out.substr(pos, nl - pos)));
		pos = nl + 1;
	}
	ASSERT_EQ(3u, ev.size()) << w.out;
	EXPECT_EQ(ev[0]["type"], "seg-created");
	EXPECT_EQ(ev[0]["key"], k);
	EXPECT_EQ(ev[1]["type"], "alloc");
	EXPECT_EQ(ev[1]["pgoff"], 0);
	EXPECT_EQ(ev[1]["order"], 0);
	EXPECT_EQ(ev[2]["type"], "seg-deleted");
	EXPECT_EQ(ev[2]["seg_id"], ev[0]["seg_id"]);
	for (const json &e : ev)
		EXPECT_EQ(e["dropped"], 0);
	EXPECT_NE(std::string::npos, w.err.find("3 events, 0 dropped")) << w.err;
}

// ------------------------------------------------------------------ usage errors

TEST_F(Shmemctl, MalformedArgumentsExitTwo)
{
	for (auto args : std::vector<std::vector<std::string>>{
		     {},
		     { "bogus" },
		     { "seg" },
		     { "seg", "create", "0x10" },
		     { "seg", "create", "0", "--size", "1M" },
		     { "seg", "create", "zz", "--size", "1M" },
		     { "seg", "create", "5", "--size", "1Q" },
		     { "seg", "create", "5", "--size", "1M", "--perm", "0999" },
		     { "seg", "create", "5", "--size", "1M", "--mode", "weird" },
		     { "seg", "info" },
		     { "seg", "info", "1", "--key", "2" },
		     { "seg", "attach", "1", "--address", "0x1001" },
		     { "touch", "write", "-n", "0" },
		     { "touch", "scribble" },
		     { "touch", "write", "--order", "11" },
		     { "touch", "write", "--progress", "--no-progress" },
		     { "param", "set", "order" },
		     { "watch", "--count", "x" } }) {
		Result r = run(args);

		EXPECT_EQ(2, r.rc) << testing::PrintToString(args) << "\n" << r.out << r.err;
		EXPECT_FALSE(r.err.empty()) << testing::PrintToString(args);
	}
	Result h = run({ "seg", "attach", "--help" });
	EXPECT_EQ(0, h.rc);
	EXPECT_NE(std::string::npos, h.out.find("--read-only"));
}

// ------------------------------------------------------------------ progress bar

// Result shmemctl on a pseudo-terminal (stdout and stderr); returns what it wrote.
std::string run_on_pty(const std::vector<std::string> &args, int *rc)
{
	int master;
	pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);

	if (pid == 0)
		exec_shmemctl(args);
	std::string s;
	char buf[4096];

	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));

		if (n > 0)
			s.append(buf, n);
		else if (n < 0 && errno == EINTR)
			continue;
		else
			break;	// EIO once the child is gone
	}
	close(master);
	int st;

	waitpid(pid, &st, 0);
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return s;
}

TEST_F(Shmemctl, ProgressBarOnATerminalOnly)
{
	const std::vector<std::string> args = { "touch", "write", "-n", "1024", "--repeat", "8",
						"--progress-delay", "0" };
	int rc;
	std::string tty = run_on_pty(args, &rc);

	EXPECT_EQ(0, rc) << tty;
	EXPECT_NE(std::string::npos, tty.find("\r[")) << "no progress frame on a terminal";
	EXPECT_NE(std::string::npos, tty.find("/8192 pages"));
	EXPECT_NE(std::string::npos, tty.find("\r\033[K")) << "the bar is not erased";
	EXPECT_NE(std::string::npos, tty.find("write: 1024 pages"));

	Result piped = run(args);
	EXPECT_EQ(0, piped.rc);
	EXPECT_EQ(std::string::npos, piped.out.find('\r'));
	EXPECT_EQ(std::string::npos, piped.err.find('\r')) << "a bar on a pipe";

	std::vector<std::string> forced = args;
	forced.push_back("--progress");
	Result f = run(forced);
	EXPECT_NE(std::string::npos, f.err.find("\r[")) << "--progress did not force it";
}

// ------------------------------------------------------------------ coherent segments: msi

const std::uint64_t kPsz = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));

std::string repeat(char c, std::size_t n)
{
	return std::string(n, c);
}

// The states and directory after TEST_F(Shmemctl, MsiViewOfTwoNodes)'s accesses:
// A (node 0) read 0, wrote 1; B (node 1) read 1, wrote 2; A wrote 65.
const std::string kStatesA = "SSI" + repeat('I', 62) + "M" + repeat('I', 4);
const std::string kStatesB = "ISM" + repeat('I', 67);

TEST_F(Shmemctl, MsiViewOfTwoNodes)
{
	const std::uint64_t k = key(7);
	SegGuard g{ k };
	my_shmem::Paths paths;
	auto a = my_shmem::Device::open(paths, true);
	auto b = my_shmem::Device::open(paths, true);
	my_shmem::BindRequest req;

	req.key = k;
	req.bytes = 70 * kPsz;
	req.create = req.exclusive = true;
	req.mode = MY_SHMEM_MODE_COHERENT;
	const std::uint32_t id = a.bind(req);

	req.create = req.exclusive = false;
	req.bytes = 0;
	ASSERT_EQ(id, b.bind(req));
	my_shmem::Mapping ma = a.map(70 * kPsz, 0, true), mb = b.map(70 * kPsz, 0, true);
	volatile char *pa = ma.data<char>(), *pb = mb.data<char>();

	EXPECT_EQ(a.node_info().node, 0u);
	EXPECT_EQ(b.node_info().node, 1u);
	EXPECT_EQ(a.node_info().nr_nodes, 2u);
	EXPECT_EQ(pa[0], 0) << "never written: zeroes";
	pa[1 * kPsz] = 'a';
	EXPECT_EQ(pb[1 * kPsz], 'a') << "B reads A's write";
	pb[2 * kPsz] = 'b';
	pa[65 * kPsz] = 'c';

	// What the library reads, first.
	my_shmem::MsiView va = a.msi_view(my_shmem::Device::kBound, my_shmem::Device::kNodeSelf, 0, ~0ULL);
	my_shmem::MsiView vb = a.msi_view(id, 1, 0, ~0ULL);
	EXPECT_EQ(va.node, 0u);
	EXPECT_EQ(va.seg, id);
	EXPECT_EQ(va.pages(), 70u);
	EXPECT_EQ(my_shmem::msi::letters(va.states), kStatesA);
	EXPECT_EQ(my_shmem::msi::letters(vb.states), kStatesB);
	std::vector<my_shmem::DirEntry> dir(70);
	dir[0] = { std::nullopt, 1 };
	dir[1] = { std::nullopt, 2 };
	dir[2] = { 1u, 0 };
	dir[65] = { 0u, 0 };
	EXPECT_EQ(va.directory, dir);
	EXPECT_EQ(a.msi_view(id, std::nullopt, 60, 100).pages(), 10u) << "cut at the end";
	EXPECT_EQ(a.msi_view(id, std::nullopt, 70, 1).pages(), 0u);

	// The grid, by id and by key (netlink: no node of its own).
	const std::string grid =
		"page     0       8       16      24      32      40      48      56\n"
		"node 0   " + kStatesA.substr(0, 64) + "\n"
		"node 1   " + kStatesB.substr(0, 64) + "\n"
		"dir      --1" + repeat('-', 61) + "\n"
		"sharers  12" + repeat('0', 62) + "\n"
		"\n"
		"page     64\n"
		"node 0   IMIIII\n"
		"node 1   IIIIII\n"
		"dir      -0----\n"
		"sharers  000000\n";
	char keytext[32];

	std::snprintf(keytext, sizeof(keytext), "0x%08llx", static_cast<unsigned long long>(k));
	const std::string head = "segment " + std::to_string(id) + " (key " + keytext +
				 "): pages 0..69 of 70, 2 nodes\n";
	Result r = run({ "msi", "view", std::to_string(id) });
	EXPECT_EQ(0, r.rc) << r.err;
	EXPECT_EQ(r.out, head + grid);
	r = run({ "msi", "view", "--key", hex(k) });
	EXPECT_EQ(0, r.rc) << r.err;
	EXPECT_EQ(r.out, head + grid);
	EXPECT_EQ(a.node_info().nr_nodes, 2u);

	// One node, a range.
	r = run({ "msi", "view", std::to_string(id), "--node", "1", "--first", "1", "--count", "2" });
	EXPECT_EQ(0, r.rc) << r.err;
	EXPECT_EQ(r.out, "segment " + std::to_string(id) + " (key " + keytext +
				 "): pages 1..2 of 70, node 1 of 2 nodes\n"
				 "page     1\n"
				 "node 1   SM\n"
				 "dir      -1\n"
				 "sharers  20\n");

	// JSON: the same, with each node's counters as the ioctl reports them.
	json j = run_json("msi-view", { "msi", "view", std::to_string(id) });
	EXPECT_EQ(j["segment"], id);
	EXPECT_EQ(j["pages"], 70);
	EXPECT_EQ(j["first"], 0);
	ASSERT_EQ(j["nodes"].size(), 2u);
	EXPECT_EQ(j["nodes"][0]["node"], 0);
	EXPECT_EQ(j["nodes"][0]["states"], kStatesA);
	EXPECT_EQ(j["nodes"][1]["states"], kStatesB);
	EXPECT_EQ(j["nodes"][0]["counters"], my_shmem::node_counters(a.node_info()));
	EXPECT_EQ(j["nodes"][1]["counters"], my_shmem::node_counters(b.node_info()));
	ASSERT_EQ(j["directory"].size(), 70u);
	EXPECT_EQ(j["directory"][1], json({ { "page", 1 }, { "owner", nullptr }, { "sharers", 2 } }));
	EXPECT_EQ(j["directory"][2], json({ { "page", 2 }, { "owner", 1 }, { "sharers", 0 } }));
	EXPECT_EQ(j["directory"][65], json({ { "page", 65 }, { "owner", 0 }, { "sharers", 0 } }));
	json one = run_json("msi-view", { "msi", "view", "--key", hex(k), "--node", "0", "--first",
					  "64", "--count", "100" });
	EXPECT_EQ(one["pages"], 6);
	EXPECT_EQ(one["first"], 64);
	EXPECT_EQ(one["nodes"][0]["states"], "IMIIII");
	EXPECT_EQ(one["directory"][0]["page"], 64);

	// The counters agree with the states, and with what happened.
	const my_shmem::NodeInfo na = a.node_info(), nb = b.node_info();
	EXPECT_EQ(na.pages_s, 2u);
	EXPECT_EQ(na.pages_m, 1u);
	EXPECT_EQ(nb.pages_s, 1u);
	EXPECT_EQ(nb.pages_m, 1u);
	EXPECT_GE(na.read_faults, 1u) << "A read page 0";
	EXPECT_GE(na.write_faults, 2u) << "A wrote pages 1 and 65";
	EXPECT_GE(nb.read_faults, 1u) << "B read page 1";
	EXPECT_GE(nb.write_faults, 1u) << "B wrote page 2";
	EXPECT_GE(na.writebacks, 1u) << "page 1 went home when B read it";
	EXPECT_GE(nb.fetches, 1u) << "B fetched page 1";
	json nodes = run_json("msi-nodes", { "msi", "nodes", std::to_string(id) });
	ASSERT_EQ(nodes.size(), 2u);
	EXPECT_EQ(nodes[0], my_shmem::to_json(a.node_info()));
	EXPECT_EQ(nodes[1], my_shmem::to_json(b.node_info()));
	r = run({ "msi", "nodes", "--key", hex(k) });
	EXPECT_EQ(0, r.rc) << r.err;
	EXPECT_EQ(r.out.rfind("segment " + std::to_string(id) + " (key " + keytext + "): 2 nodes\n"
			      "node  read_faults  write_faults  fetches  invals_received  writebacks",
			      0),
		  0u)
		<< r.out;

	// B writes page 1: A's copy goes, B is the owner; A unmaps: its M page 65 goes home.
	pb[1 * kPsz] = 'B';
	EXPECT_GE(a.node_info().invals_received, 1u);
	ma.reset();
	json after = run_json("msi-view", { "msi", "view", std::to_string(id), "--count", "3" });
	EXPECT_EQ(after["nodes"][0]["states"], "SII");
	EXPECT_EQ(after["nodes"][1]["states"], "IMM");
	EXPECT_FALSE(a.msi_view(id, std::nullopt, 65, 1).directory[0].owner) << "written back at munmap";
	EXPECT_NE(a.msi_view(id, 0, 65, 1).states.at(0), my_shmem::msi::State::Modified);
	EXPECT_GE(a.node_info().writebacks, 2u);

	// Errors: a node that does not exist; a segment that is not coherent.
	r = run({ "msi", "view", std::to_string(id), "--node", "9" });
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("has no node 9")) << r.err;
	const std::uint64_t k2 = key(8);
	SegGuard g2{ k2 };
	json c = run_json("seg-create", { "seg", "create", hex(k2), "--size", "4p" });
	r = run({ "msi", "view", "--key", hex(k2) });
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos,
		  r.err.find("hint: segment " + std::to_string(c["segment"]["id"].get<std::uint32_t>()) +
			     " is not coherent (create it with --mode coherent)"))
		<< r.err;
	r = run({ "dsm", hex(k2) });
	EXPECT_EQ(1, r.rc);
	EXPECT_NE(std::string::npos, r.err.find("not coherent")) << r.err;
	EXPECT_EQ(r.out, "");
}

// ------------------------------------------------------------------ coherent segments: dsm

// A process with its stdin, stdout and stderr on pipes, driven like expect(1).
class Proc {
public:
	explicit Proc(const std::vector<std::string> &args)
	{
		int in[2], out[2], err[2];

		if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
			throw std::runtime_error("pipe");
		pid_ = fork();
		if (pid_ == 0) {
			dup2(in[0], 0);
			dup2(out[1], 1);
			dup2(err[1], 2);
			exec_shmemctl(args);
		}
		close(in[0]);
		close(out[1]);
		close(err[1]);
		in_ = in[1];
		out_ = out[0];
		err_ = err[0];
	}
	~Proc()
	{
		if (pid_ > 0 && !reaped_) {
			kill(pid_, SIGKILL);
			waitpid(pid_, nullptr, 0);
		}
		for (int fd : { in_, out_, err_ })
			if (fd >= 0)
				close(fd);
	}

	// What it printed up to and including @text, which is consumed.
	std::string expect(const std::string &text, int timeout_s = 120)
	{
		const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
		std::size_t at;

		while ((at = out_buf_.find(text)) == std::string::npos) {
			const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
						  end - std::chrono::steady_clock::now())
						  .count();

			if (left <= 0 || !pump(static_cast<int>(left))) {
				ADD_FAILURE() << "no '" << text << "' from shmemctl dsm (pid " << pid_
					      << ") in " << timeout_s << " s; it printed:\n"
					      << out_buf_ << "\nstderr:\n" << err_buf_;
				std::string all;

				all.swap(out_buf_);
				return all;
			}
		}
		std::string got = out_buf_.substr(0, at + text.size());

		out_buf_.erase(0, at + text.size());
		return got;
	}
	void send(const std::string &s)
	{
		ASSERT_EQ(static_cast<ssize_t>(s.size()), write(in_, s.data(), s.size()));
	}
	void close_stdin()
	{
		close(in_);
		in_ = -1;
	}
	// Exit status (after reading what is left); -1 after @timeout_s.
	int wait(int timeout_s = 120)
	{
		const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);

		while (out_ >= 0 || err_ >= 0) {
			const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
						  end - std::chrono::steady_clock::now())
						  .count();

			if (left <= 0)
				return -1;
			pump(static_cast<int>(left));
		}
		int st = 0;

		waitpid(pid_, &st, 0);
		reaped_ = true;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	pid_t pid() const { return pid_; }
	const std::string &rest() const { return out_buf_; }
	const std::string &err() const { return err_buf_; }

private:
	// Read what is there (waiting up to @ms); false when both pipes are at their end.
	bool pump(int ms)
	{
		struct pollfd p[2] = { { out_, POLLIN, 0 }, { err_, POLLIN, 0 } };

		if (out_ < 0 && err_ < 0)
			return false;
		if (poll(p, 2, std::min(ms, 1000)) < 0 && errno != EINTR)
			return false;
		for (int i = 0; i < 2; i++) {
			int &fd = i ? err_ : out_;
			char buf[4096];

			if (fd < 0 || !p[i].revents)
				continue;
			const ssize_t n = read(fd, buf, sizeof(buf));

			if (n > 0) {
				(i ? err_buf_ : out_buf_).append(buf, static_cast<std::size_t>(n));
			} else if (n == 0 || errno != EINTR) {
				close(fd);
				fd = -1;
			}
		}
		return true;
	}

	pid_t pid_ = -1;
	bool reaped_ = false;
	int in_ = -1, out_ = -1, err_ = -1;
	std::string out_buf_, err_buf_;
};

const std::string kPromptCmd = "> Which command should I run? (r:read, w:write, v:view msi array): ";
const std::string kPromptPages = "> How many pages would you like to allocate (greater than 0)?\n";
const std::string kPromptMsg = "> Type your new message: ";

std::string prompt_page(int last)
{
	return "> For which page? (0-" + std::to_string(last) + ", or -1 for all): ";
}

std::string view_text(const std::string &states)
{
	static const std::map<char, std::string> names = { { 'M', "Modified" }, { 'S', "Shared" },
							   { 'I', "Invalid" } };
	std::string s;

	for (std::size_t i = 0; i < states.size(); i++)
		s += "Page " + std::to_string(i) + ": " + states[i] + " (" + names.at(states[i]) + ")\n";
	return s;
}

// One command at the prompts; what it printed before the next command prompt.
std::string op(Proc &p, int last, const std::string &cmd, int page, const char *msg = nullptr)
{
	p.send(cmd + "\n");
	p.expect(prompt_page(last));
	p.send(std::to_string(page) + "\n");
	if (msg) {
		p.expect(kPromptMsg);
		p.send(std::string(msg) + "\n");
	}
	std::string out = p.expect(kPromptCmd);

	return out.size() >= kPromptCmd.size() ? out.substr(0, out.size() - kPromptCmd.size()) : out;
}

std::string page_text(int i, const std::string &text, bool fault)
{
	return std::string(fault ? "[x] PAGEFAULT\n" : "") + "[*] Page " + std::to_string(i) + ":\n" +
	       text + "\n";
}

TEST_F(Shmemctl, DsmPart2TwoProcesses)
{
	const std::uint64_t k = key(9);
	SegGuard g{ k };
	const std::regex region("Address returned by mmap\\(\\) = 0x[0-9a-f]+\nSize of mapped region = " +
				std::to_string(3 * kPsz) + "\n");

	// P1 finds no segment: asks for the page count, creates it.
	Proc p1({ "dsm", hex(k) });
	EXPECT_EQ(p1.expect(kPromptPages), kPromptPages);
	p1.send("3\n");
	std::string o = p1.expect(kPromptCmd);
	EXPECT_TRUE(std::regex_match(o.substr(0, o.size() - kPromptCmd.size()), region)) << o;
	// (found through netlink: seg info --key would bind, one more node for a moment)
	std::uint32_t id = 0;

	for (const json &e : run_json("seg-list", { "seg", "list" }))
		if (e["key"] == k && e["deleted"] == false)
			id = e["id"];
	ASSERT_NE(0u, id);
	my_shmem::SegInfo s = ioctl_info(id);
	EXPECT_EQ(s.mode, static_cast<std::uint32_t>(MY_SHMEM_MODE_COHERENT));
	EXPECT_EQ(s.bytes, 3 * kPsz);
	EXPECT_EQ(s.perm, 0600u);

	// P2 attaches, no question asked.
	Proc p2({ "dsm", hex(k) });
	o = p2.expect(kPromptCmd);
	EXPECT_TRUE(std::regex_match(o.substr(0, o.size() - kPromptCmd.size()), region)) << o;

	auto views = [&](const std::string &s1, const std::string &s2, const std::string &step) {
		EXPECT_EQ(op(p1, 2, "v", -1), view_text(s1)) << "P1 view after " << step;
		EXPECT_EQ(op(p2, 2, "v", -1), view_text(s2)) << "P2 view after " << step;
	};
	const std::string msg = "Writing this to all pages!";

	views("III", "III", "attaching");
	EXPECT_EQ(op(p1, 2, "r", 0), page_text(0, "", true)) << "P1 reads page 0";
	views("SII", "III", "P1 read page 0");
	EXPECT_EQ(op(p1, 2, "r", -1), page_text(0, "", false) + page_text(1, "", true) +
					      page_text(2, "", true))
		<< "P1 reads all pages";
	views("SSS", "III", "P1 read all");
	EXPECT_EQ(op(p2, 2, "w", 2, "Hello Userfaultfd!"), "[x] PAGEFAULT\n") << "P2 writes page 2";
	views("SSI", "IIM", "P2 wrote page 2");
	// The kernel's view, from a third process that is not a node.
	Result r = run({ "msi", "view", "--key", hex(k) });
	EXPECT_EQ(0, r.rc) << r.err;
	EXPECT_NE(std::string::npos, r.out.find("2 nodes\npage     0\nnode 0   SSI\nnode 1   IIM\n"
						"dir      --1\nsharers  110\n"))
		<< r.out;
	// Pages 0 and 1 are Shared (write faults on read-only pages), page 2 is Invalid.
	EXPECT_EQ(op(p1, 2, "w", -1, msg.c_str()), "[x] PAGEFAULT\n[x] PAGEFAULT\n[x] PAGEFAULT\n")
		<< "P1 writes all pages";
	views("MMM", "III", "P1 wrote all");
	EXPECT_EQ(op(p1, 2, "r", -1), page_text(0, msg, false) + page_text(1, msg, false) +
					      page_text(2, msg, false))
		<< "P1 reads all pages";
	views("MMM", "III", "P1 read all again");
	// Beyond the sequence: P2 reads what P1 wrote (a fetch from the owner), P1 goes to S.
	EXPECT_EQ(op(p2, 2, "r", 1), page_text(1, msg, true)) << "P2 reads page 1";
	views("MSM", "ISI", "P2 read page 1");
	EXPECT_EQ(op(p2, 2, "r", 2), page_text(2, msg, true)) << "P2 reads page 2: P1's write, not its own";

	// End of input: each ends cleanly, its node goes.
	p1.close_stdin();
	EXPECT_EQ(0, p1.wait()) << p1.err();
	EXPECT_EQ(p1.rest(), "");
	EXPECT_EQ(p1.err(), "");
	EXPECT_EQ(1u, ioctl_info(s.id).nodes) << "P1's node is gone";
	EXPECT_EQ(op(p2, 2, "r", 0), page_text(0, msg, true)) << "P1's M page 0 went home at its exit";
	p2.close_stdin();
	EXPECT_EQ(0, p2.wait()) << p2.err();
	EXPECT_EQ(p2.err(), "");
	my_shmem::SegInfo after = ioctl_info(s.id);
	EXPECT_EQ(0u, after.nodes);
	EXPECT_EQ(0u, after.nattch);

	// A third session finds the data at home.
	Proc p3({ "dsm", hex(k) });
	p3.expect(kPromptCmd);
	EXPECT_EQ(op(p3, 2, "r", 2), page_text(2, msg, true));
	// Bad input: said on stderr, the command prompt again.
	p3.send("x\n");
	EXPECT_EQ(p3.expect(kPromptCmd), kPromptCmd);
	p3.send("r\n");
	p3.expect(prompt_page(2));
	p3.send("3\n");
	EXPECT_EQ(p3.expect(kPromptCmd), kPromptCmd);
	p3.close_stdin();
	EXPECT_EQ(0, p3.wait());
	EXPECT_EQ(p3.err(), "shmemctl: unknown command 'x': type r (read), w (write) or v (view msi "
			    "array)\nshmemctl: no page '3': enter a number from 0 to 2, or -1 for all "
			    "pages\n");

	// SIGINT at a prompt: the session ends the same way, status 128+SIGINT.
	Proc p4({ "dsm", hex(k) });
	p4.expect(kPromptCmd);
	EXPECT_EQ(op(p4, 2, "w", 0, "bye"), "[x] PAGEFAULT\n");
	EXPECT_EQ(1u, ioctl_info(s.id).nodes);
	kill(p4.pid(), SIGINT);
	EXPECT_EQ(128 + SIGINT, p4.wait());
	EXPECT_EQ(p4.err(), "");
	EXPECT_EQ(0u, ioctl_info(s.id).nodes);
	EXPECT_EQ(0u, ioctl_info(s.id).nattch);

	// No segment and no page count: exit 1, nothing created.
	const std::uint64_t k2 = key(10);
	SegGuard g2{ k2 };
	Proc p5({ "dsm", hex(k2) });
	p5.expect(kPromptPages);
	p5.send("0\n");
	p5.expect(kPromptPages);
	p5.close_stdin();
	EXPECT_EQ(1, p5.wait());
	EXPECT_EQ(p5.err(), "shmemctl: please enter a whole number from 1 to " +
				    param("max_segment_pages") +
				    "\nshmemctl: end of input before a page count was given\n");
	EXPECT_EQ(1, run({ "seg", "info", "--key", hex(k2) }).rc);

	// --pages: no question; the segment's page written by p4 went home.
	Proc p6({ "dsm", hex(k), "--pages", "7" });
	o = p6.expect(kPromptCmd);
	EXPECT_TRUE(std::regex_match(o.substr(0, o.size() - kPromptCmd.size()), region))
		<< "the existing segment, not a new one of 7 pages: " << o;
	EXPECT_EQ(op(p6, 2, "r", 0), page_text(0, "bye", true));
	p6.close_stdin();
	EXPECT_EQ(0, p6.wait());
}

// ------------------------------------------------------------------ not loaded (last)

int delete_module(const char *name)
{
	return static_cast<int>(syscall(__NR_delete_module, name, O_NONBLOCK));
}

int load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	int ret = static_cast<int>(syscall(__NR_finit_module, fd, "", 0));

	close(fd);
	return ret;
}

TEST_F(Shmemctl, ZZEveryCommandSaysTheModuleIsNotLoaded)
{
	const char *ko = std::getenv("MY_SHMEM_KO");

	if (!ko)
		GTEST_SKIP() << "MY_SHMEM_KO is not set (run under scripts/vm-run)";
	ASSERT_EQ(0, delete_module("my_shmem")) << "rmmod my_shmem: " << strerror(errno);
	for (auto args : std::vector<std::vector<std::string>>{
		     { "status" },
		     { "param", "get" },
		     { "param", "set", "order", "1" },
		     { "seg", "list" },
		     { "seg", "create", "7", "--size", "4K" },
		     { "seg", "info", "0" },
		     { "seg", "attach", "0" },
		     { "touch", "write" },
		     { "sync", "--clean", "0+1" },
		     { "watch", "--count", "1" } }) {
		Result r = run(args);

		EXPECT_EQ(1, r.rc) << testing::PrintToString(args) << r.err;
		EXPECT_NE(std::string::npos, r.err.find("not loaded")) << r.err;
		EXPECT_NE(std::string::npos, r.err.find("modprobe my_shmem")) << r.err;
	}
	Result j = run({ "--json", "status" });
	EXPECT_EQ(1, j.rc);
	record("status", j.out);
	EXPECT_EQ(j.j(), json({ { "loaded", false } }));
	ASSERT_EQ(0, load_module(ko)) << "insmod " << ko << ": " << strerror(errno);
}

} // namespace
