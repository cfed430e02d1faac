// SPDX-License-Identifier: GPL-2.0
// my_shmem-msi-bench: the in-kernel MSI protocol of coherent segments,
// measured in one process whose nodes are fds bound to one segment.
//
//   read miss         node 0 writes a page (M), node 1 reads it: the read
//                     faults, node 0 writes it back home (M -> S) and node 1
//                     fetches it; one sample per page and round
//   write invalidate  every node reads a page (S everywhere), then node 0
//                     writes it: S -> M, the other N-1 copies dropped
//   ping-pong         two nodes in two threads pass a token through one page;
//                     one round trip = two write faults and two read misses;
//                     a waiting thread yields the CPU between its reads (on a
//                     busy host a pure spin costs host time slices)
//   transfer shares   with the my_shmem:msi_xfer tracepoint on (a hist
//                     trigger sums its clean / copy / invalidate times)
//
// For each node count N of --nodes.  Prints one JSON document ("schema":
// "my_shmem.msi-bench/2", the one s2dsm's benchmark prints) with the raw
// latency of every sample (ns); analysis/msi_bench.py computes the
// percentiles.  Under QEMU
// TCG the cache-maintenance instructions are no-ops: these are emulation
// costs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../../uapi/linux/my_shmem.h"
#include "my_shmem/fd.hpp"
#include "my_shmem/json.hpp"

namespace {

using my_shmem::Fd;
using my_shmem::Mapping;
using my_shmem::SysError;
using Clock = std::chrono::steady_clock;

constexpr const char *kDevice = MY_SHMEM_DEVICE;
constexpr const char *kXferTrigger = "/sys/kernel/tracing/events/my_shmem/msi_xfer/trigger";
constexpr const char *kXferHist = "/sys/kernel/tracing/events/my_shmem/msi_xfer/hist";
// A hist has at most three values, hitcount included (TRACING_MAP_VALS_MAX):
// two hists on the event, told apart by their keys.
constexpr const char *kXferSpecs[] = { "hist:keys=page:vals=clean_ns,copy_ns",
				       "hist:keys=dst:vals=inval_ns" };

long page_size() { return sysconf(_SC_PAGESIZE); }

uint64_t now_ns()
{
	return std::chrono::duration_cast<std::chrono::nanoseconds>(
		       Clock::now().time_since_epoch()).count();
}

// One node: an fd bound to the coherent segment of a key, mapped whole.
struct Node {
	Fd fd;
	Mapping map;

	volatile char *page(unsigned long i) const
	{
		return reinterpret_cast<volatile char *>(map.data<char>()) + i * page_size();
	}
};

Node open_node(uint64_t key, unsigned long pages, bool create)
{
	struct my_shmem_get req = {};
	Node n{ Fd::open(kDevice, O_RDWR), {} };

	req.size = sizeof(req);
	req.flags = create ? MY_SHMEM_GET_CREATE | MY_SHMEM_GET_EXCL : 0;
	req.key = key;
	req.bytes = pages * page_size();
	req.mode = MY_SHMEM_MODE_COHERENT;
	req.perm = 0600;
	if (ioctl(n.fd.get(), MY_SHMEM_IOC_GET, &req))
		throw SysError("ioctl MY_SHMEM_IOC_GET (coherent, key " + std::to_string(key) + ")",
			       errno);
	void *p = mmap(nullptr, pages * page_size(), PROT_READ | PROT_WRITE, MAP_SHARED,
		       n.fd.get(), 0);
	if (p == MAP_FAILED)
		throw SysError("mmap of a coherent segment node", errno);
	n.map = Mapping(p, pages * page_size());
	return n;
}

void delete_segment(const Node &n)
{
	struct my_shmem_seg_info info = {};
	struct my_shmem_delete del = {};

	info.size = sizeof(info);
	info.id = MY_SHMEM_SEG_INFO_BOUND;
	if (ioctl(n.fd.get(), MY_SHMEM_IOC_SEG_INFO, &info))
		throw SysError("ioctl MY_SHMEM_IOC_SEG_INFO", errno);
	del.size = sizeof(del);
	del.id = info.id;
	if (ioctl(n.fd.get(), MY_SHMEM_IOC_DELETE, &del))
		throw SysError("ioctl MY_SHMEM_IOC_DELETE", errno);
}

// The nodes of one fresh segment, deleted at once (they keep it alive).
std::vector<Node> open_nodes(uint64_t key, unsigned long nodes, unsigned long pages)
{
	std::vector<Node> v;

	v.reserve(nodes);
	for (unsigned long i = 0; i < nodes; i++)
		v.push_back(open_node(key, pages, i == 0));
	delete_segment(v.front());
	return v;
}

// The raw samples of one measurement, in nanoseconds, in the order taken:
// percentiles are the analysis' job (analysis/msi_bench.py through
// analysis/stats.py, the project's one definition).
nlohmann::json samples(const std::vector<uint64_t> &ns)
{
	return { { "unit", "ns" }, { "n", ns.size() }, { "samples_ns", ns } };
}

std::vector<uint64_t> read_miss(std::vector<Node> &nodes, unsigned long pages, int rounds)
{
	std::vector<uint64_t> ns;

	for (int r = 0; r < rounds; r++) {
		for (unsigned long p = 0; p < pages; p++)
			*nodes[0].page(p) = static_cast<char>(r + 1);	// M at node 0
		for (unsigned long p = 0; p < pages; p++) {
			uint64_t t0 = now_ns();
			char c = *nodes[1].page(p);

			ns.push_back(now_ns() - t0);
			if (c != static_cast<char>(r + 1))
				throw std::runtime_error("read miss returned stale data");
		}
	}
	return ns;
}

std::vector<uint64_t> write_invalidate(std::vector<Node> &nodes, unsigned long pages)
{
	std::vector<uint64_t> ns;

	for (unsigned long p = 0; p < pages; p++) {
		for (auto &n : nodes)
			(void)*n.page(p);		// S everywhere
		uint64_t t0 = now_ns();

		*nodes[0].page(p) = 1;			// S -> M, N-1 invalidated
		ns.push_back(now_ns() - t0);
	}
	return ns;
}

nlohmann::json ping_pong(uint64_t key, long round_trips)
{
	auto nodes = open_nodes(key, 2, 1);
	auto *a = reinterpret_cast<std::atomic<uint64_t> *>(nodes[0].map.data<char>());
	auto *b = reinterpret_cast<std::atomic<uint64_t> *>(nodes[1].map.data<char>());
	uint64_t t0 = now_ns();
	std::thread peer([&] {
		for (long i = 0; i < round_trips; i++) {
			while (b->load(std::memory_order_acquire) != 2 * static_cast<uint64_t>(i) + 1)
				sched_yield();
			b->store(2 * i + 2, std::memory_order_release);
		}
	});

	for (long i = 0; i < round_trips; i++) {
		a->store(2 * i + 1, std::memory_order_release);
		while (a->load(std::memory_order_acquire) != 2 * static_cast<uint64_t>(i) + 2)
			sched_yield();
	}
	peer.join();
	uint64_t ns = now_ns() - t0;

	return { { "description", "a token bounces through one page between two nodes (threads); "
				  "one round trip = node 0 writes, node 1 sees it and writes, node "
				  "0 sees that (two read misses and two write faults)" },
		 { "round_trips", round_trips }, { "seconds", ns / 1e9 },
		 { "round_trips_per_s", round_trips / (ns / 1e9) },
		 { "us_per_round_trip", ns / 1e3 / round_trips } };
}

// Appends: opening a trigger file with O_TRUNC removes every trigger on it.
void write_text(const char *path, const std::string &text)
{
	std::ofstream f(path, std::ios::app);

	f << text << '\n';
	f.flush();
	if (!f)
		throw SysError(std::string("write ") + path, errno ? errno : EIO);
}

// Sum of the msi_xfer hist: transfers and nanoseconds per step.
nlohmann::json xfer_shares(uint64_t key, unsigned long nodes, unsigned long pages)
{
	uint64_t hits = 0, clean = 0, copy = 0, inval = 0;

	for (const char *spec : kXferSpecs)
		write_text(kXferTrigger, spec);
	{
		auto v = open_nodes(key, nodes, pages);

		read_miss(v, pages, 2);
		write_invalidate(v, pages);
	}
	std::ifstream h(kXferHist);
	std::string line;

	while (std::getline(h, line)) {
		auto field = [&](const std::string &name) -> uint64_t {
			auto at = line.find(name + ":");
			return at == std::string::npos ? 0 : std::stoull(line.substr(at + name.size() + 1));
		};
		if (line.rfind("{ page:", 0) == 0) {
			hits += field("hitcount");
			clean += field("clean_ns");
			copy += field("copy_ns");
		} else if (line.rfind("{ dst:", 0) == 0) {
			inval += field("inval_ns");
		}
	}
	for (const char *spec : kXferSpecs)
		write_text(kXferTrigger, std::string("!") + spec);
	double total = static_cast<double>(clean + copy + inval);

	return { { "description", "every page transfer of a read-miss and write-invalidate run "
				  "with the my_shmem:msi_xfer tracepoint summed by a hist trigger: "
				  "clean the source to PoC, copy (the simulated device's write, "
				  "pushed to PoC), invalidate the destination to PoC" },
		 { "nodes", nodes }, { "transfers", hits },
		 { "clean_ns", clean }, { "copy_ns", copy }, { "inval_ns", inval },
		 { "clean_share", total ? clean / total : 0.0 },
		 { "copy_share", total ? copy / total : 0.0 },
		 { "inval_share", total ? inval / total : 0.0 } };
}

std::string cpu_model()
{
	std::ifstream f("/proc/cpuinfo");
	std::string line;

	while (std::getline(f, line))
		for (const char *k : { "model name", "CPU part", "cpu model" })
			if (line.rfind(k, 0) == 0 && line.find(':') != std::string::npos)
				return line.substr(line.find(':') + 2);
	return "unknown";
}

std::string read_param(const char *name)
{
	std::ifstream f(std::string("/sys/module/my_shmem/parameters/") + name);
	std::string v;

	std::getline(f, v);
	return v;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{ "Measure the in-kernel MSI protocol of my_shmem's coherent segments: read-miss "
		      "and write-invalidate latency per page for each node count, write ping-pong "
		      "between two nodes, and the clean / copy / invalidate share of a transfer. "
		      "Needs root (it raises RLIMIT_NOFILE and uses tracefs).  Prints JSON." };
	std::vector<unsigned long> counts{ 2, 4, 16, 64, 256, 1024 };
	unsigned long pages = 32;
	int rounds = 4;
	long round_trips = 2000;
	bool xfer = true;
	uint64_t key = 0x6d736962ULL << 16;

	app.add_option("--nodes", counts, "node counts to measure")->delimiter(',');
	app.add_option("--pages", pages, "pages per segment (samples per node count and round)");
	app.add_option("--rounds", rounds, "read-miss rounds over the pages");
	app.add_option("--round-trips", round_trips, "ping-pong round trips");
	app.add_flag("!--no-xfer", xfer, "skip the transfer-share pass (needs tracefs hist triggers)");
	CLI11_PARSE(app, argc, argv);

	try {
		unsigned long most = *std::max_element(counts.begin(), counts.end());
		struct rlimit rl = { most + 64, most + 64 };

		if (setrlimit(RLIMIT_NOFILE, &rl))
			throw SysError("setrlimit RLIMIT_NOFILE to " + std::to_string(most + 64), errno);
		nlohmann::json scaling = nlohmann::json::array();

		for (auto n : counts) {
			if (n < 2)
				throw std::runtime_error("--nodes: each count must be 2 or more");
			auto nodes = open_nodes(key++, n, pages);
			auto rm = read_miss(nodes, pages, rounds);
			auto wi = write_invalidate(nodes, pages);

			scaling.push_back({ { "nodes", n }, { "read_miss", samples(rm) },
					    { "write_invalidate", samples(wi) } });
		}
		struct utsname u;

		uname(&u);
		nlohmann::json doc = {
			{ "schema", "my_shmem.msi-bench/2" },
			{ "system", "my_shmem" },
			{ "implementation", "in-kernel MSI: page faults, a directory per page, "
					    "per-node copies, simulated DMA transfers" },
			{ "transport", "in-kernel copy" },
			{ "note", "nodes are fds of one process; each transfer runs clean / copy / "
				  "invalidate through the module's wrappers (backend " +
					  read_param("backend") + ")" },
			{ "host", { { "kernel", u.release }, { "arch", u.machine },
				    { "cpu_model", cpu_model() },
				    { "cpus", std::thread::hardware_concurrency() },
				    { "page_size", page_size() } } },
			{ "pages", pages },
			{ "rounds", rounds },
			{ "read_miss", scaling.front()["read_miss"] },
			{ "scaling", scaling },
			{ "write_pingpong", ping_pong(key++, round_trips) },
		};
		if (xfer)
			doc["transfer_shares"] = xfer_shares(key++, 16, pages);
		std::cout << doc.dump(2) << '\n';
	} catch (const std::exception &e) {
		std::cerr << "my_shmem-msi-bench: " << e.what() << '\n';
		return 1;
	}
	return 0;
}
