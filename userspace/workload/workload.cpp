// SPDX-License-Identifier: GPL-2.0
// my_shmem-workload: the thesis' two userspace programs as one tool.
//   write: mmap N pages of /dev/my_shmem, fill every word with 0xcafebeef, munmap
//   read:  mmap N pages, read every word back (and check the pattern), munmap
//   sync:  MY_SHMEM_IOC_SYNC (clean and/or invalidate) over N pages, no mapping
// munmap is what makes the module clean every run to the Point of Coherency.
// --repeat R does the whole thing R times in one process (the latency runner
// uses it to collect N samples per order without an exec per sample).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <sys/ioctl.h>

#include "../../uapi/linux/my_shmem.h"
#include "../common/fd.hpp"

namespace {

constexpr uint32_t kPattern = 0xcafebeef;

struct Options {
	std::string device = MY_SHMEM_DEVICE;
	unsigned long pages = 64;
	unsigned long offset = 0;
	unsigned long repeat = 1;
	std::string sync_op = "clean";
	bool json = false;
	bool verify = true;
};

struct Result {
	const char *op;
	unsigned long pages;
	unsigned long mismatches;
	double seconds;
	unsigned long allocs = 0;	// sync: allocations covered per call
};

void report(const Options &o, const Result &r)
{
	const double done = static_cast<double>(r.pages) * o.repeat;
	double per_page_us = done ? r.seconds * 1e6 / done : 0;

	if (o.json) {
		std::printf("{\"op\":\"%s\",\"device\":\"%s\",\"offset_pages\":%lu,\"pages\":%lu,"
			    "\"repeat\":%lu,\"mismatches\":%lu,\"seconds\":%.9f,\"us_per_page\":%.3f",
			    r.op, o.device.c_str(), o.offset, r.pages, o.repeat, r.mismatches,
			    r.seconds, per_page_us);
		if (std::string(r.op).starts_with("sync"))
			std::printf(",\"allocs\":%lu", r.allocs);
		std::printf("}\n");
		return;
	}
	std::printf("%s: %lu pages at page offset %lu of %s", r.op, r.pages, o.offset,
		    o.device.c_str());
	if (o.repeat != 1)
		std::printf(", %lu times,", o.repeat);
	std::printf(" in %.3f ms (%.2f us/page)", r.seconds * 1e3, per_page_us);
	if (std::string(r.op) == "read")
		std::printf(", %lu words differ from 0x%08x", r.mismatches, kPattern);
	if (std::string(r.op).starts_with("sync"))
		std::printf(", %lu allocations per call", r.allocs);
	std::printf("\n");
}

Result run(const Options &o, bool write)
{
	const long psz = sysconf(_SC_PAGESIZE);
	const size_t len = o.pages * psz;
	const size_t words = len / sizeof(uint32_t);
	auto fd = my_shmem::Fd::open(o.device, write ? O_RDWR : O_RDONLY);
	unsigned long mismatches = 0;
	auto t0 = std::chrono::steady_clock::now();
	for (unsigned long rep = 0; rep < o.repeat; rep++) {
		auto m = my_shmem::Mapping::map(fd, len, write ? PROT_READ | PROT_WRITE : PROT_READ,
						MAP_SHARED, static_cast<off_t>(o.offset * psz),
						o.device);
		volatile uint32_t *w = m.data<uint32_t>();

		mismatches = 0;	// the last pass counts
		for (size_t i = 0; i < words; i++) {
			if (write)
				w[i] = kPattern;
			else if (w[i] != kPattern)
				mismatches++;
		}
	} // munmap: the module cleans every run the mapping covered
	auto t1 = std::chrono::steady_clock::now();
	return { write ? "write" : "read", o.pages,
		 write || !o.verify ? 0 : mismatches,
		 std::chrono::duration<double>(t1 - t0).count() };
}

// MY_SHMEM_IOC_SYNC over [offset, offset + pages), repeat times: cleans and/or
// invalidates every backed run the range intersects, whole; no mapping.
Result sync(const Options &o)
{
	const long psz = sysconf(_SC_PAGESIZE);
	auto fd = my_shmem::Fd::open(o.device, O_RDWR);
	struct my_shmem_sync req = {};
	unsigned int flags = o.sync_op == "clean" ? MY_SHMEM_SYNC_CLEAN :
			     o.sync_op == "inval" ? MY_SHMEM_SYNC_INVAL : MY_SHMEM_SYNC_VALID;
	auto t0 = std::chrono::steady_clock::now();

	for (unsigned long rep = 0; rep < o.repeat; rep++) {
		req.offset = static_cast<__u64>(o.offset) * psz;
		req.len = static_cast<__u64>(o.pages) * psz;
		req.flags = flags;
		req.allocs = 0;
		if (ioctl(fd.get(), MY_SHMEM_IOC_SYNC, &req) < 0)
			throw my_shmem::SysError("MY_SHMEM_IOC_SYNC on " + o.device, errno);
	}
	auto t1 = std::chrono::steady_clock::now();
	Result r = { o.sync_op == "clean" ? "sync-clean" :
		     o.sync_op == "inval" ? "sync-inval" : "sync-both",
		     o.pages, 0, std::chrono::duration<double>(t1 - t0).count() };
	r.allocs = req.allocs;
	return r;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{
		"my_shmem-workload - the thesis' writer and reader over /dev/my_shmem.\n\n"
		"write maps PAGES pages of the device (MAP_SHARED) starting at page OFFSET,\n"
		"stores 0xcafebeef into every 32-bit word, and unmaps.  Each first touch\n"
		"faults in a run of 2^max_contiguous_alloc_order pages; the unmap makes the\n"
		"module clean every run it covered to the Point of Coherency.\n"
		"read maps the same range read-only, reads every word and counts words that\n"
		"are not 0xcafebeef (all of them, if nothing wrote there since load).\n\n"
		"sync runs MY_SHMEM_IOC_SYNC over the same range without mapping it: every\n"
		"run it intersects that is already backed is cleaned (--op clean),\n"
		"invalidated (--op inval) or both, whole.  Unbacked pages are skipped.\n"
		"--repeat R does any of the three R times in one process (one open).\n\n"
		"Exit status: 0 on success, 1 when read found words that differ,\n"
		"2 on a usage or system error (the message names the file and errno).\n\n"
		"Example:  my_shmem-workload write --pages 64 && my_shmem-workload read --pages 64"};
	Options o;
	app.require_subcommand(1);
	app.set_help_all_flag("--help-all", "Help for every subcommand");

	auto add_common = [&o](CLI::App *sub) {
		sub->add_option("-n,--pages", o.pages, "Number of pages to map (default 64)")
			->check(CLI::Range(1UL, 1UL << 30));
		sub->add_option("-o,--offset", o.offset,
				"Page offset into segment 0 where the mapping starts (default 0)");
		sub->add_option("-d,--device", o.device, "Device node (default " MY_SHMEM_DEVICE ")");
		sub->add_option("-r,--repeat", o.repeat,
				"Do it this many times in one process (default 1)")
			->check(CLI::Range(1UL, 1UL << 30));
		sub->add_flag("--json", o.json, "Print one JSON object instead of text");
	};
	auto *wr = app.add_subcommand("write", "Fill PAGES pages with 0xcafebeef, then unmap");
	auto *rd = app.add_subcommand("read", "Read PAGES pages and check for 0xcafebeef, then unmap");
	auto *sy = app.add_subcommand("sync",
				      "Clean and/or invalidate the backed runs of PAGES pages (ioctl)");
	add_common(wr);
	add_common(rd);
	add_common(sy);
	sy->add_option("--op", o.sync_op, "clean, inval or both (default clean)")
		->check(CLI::IsMember({ "clean", "inval", "both" }));
	rd->add_flag("!--no-verify", o.verify, "Only read; do not count differing words");

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e) ? 2 : 0;
	}
	try {
		Result r = sy->parsed() ? sync(o) : run(o, wr->parsed());

		report(o, r);
		return r.mismatches ? 1 : 0;
	} catch (const std::exception &e) {
		std::cerr << "my_shmem-workload: " << e.what() << "\n";
		return 2;
	}
}
