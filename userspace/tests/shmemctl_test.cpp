// SPDX-License-Identifier: GPL-2.0
// shmemctl end to end, in the guest, against the loaded module (as root):
// every command, its text and its --json output checked field by field
// against what the module says through another path (ioctls and sysfs), and
// the error paths: malformed arguments (exit 2), values the module refuses,
// no permission (as uid 65534), module not loaded (exit 1 and the fix).
// The progress bar of touch is checked under a pseudo-terminal and its
// absence on a pipe.
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
#include <pty.h>
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

// In a child: become shmemctl @args (exit 127 if it cannot be run).
[[noreturn]] void exec_shmemctl(const std::vector<std::string> &args)
{
	std::vector<char *> argv;
	std::string bin = shmemctl_bin();

	argv.push_back(bin.data());
	for (const auto &a : args)
		argv.push_back(const_cast<char *>(a.c_str()));
	argv.push_back(nullptr);
	execv(bin.c_str(), argv.data());
	_exit(127);
}

// Run shmemctl with @args; @uid >= 0: as that user (and group).
Result run(const std::vector<std::string> &args, int uid = -1)
{
	int out[2], err[2];
	Result r;

	if (pipe(out) || pipe(err))
		return r;
	pid_t pid = fork();

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
