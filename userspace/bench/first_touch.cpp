// SPDX-License-Identifier: GPL-2.0
// my_shmem-first-touch: time the first touch of every page of a fresh
// MAP_SHARED mapping of /dev/my_shmem or of a memfd, and print one JSON
// object.  The experiment script (scripts/bench-guest) runs it once per
// configuration on a freshly loaded module and adds the in-kernel
// allocation cost from the my_shmem:alloc tracepoint.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../../uapi/linux/my_shmem.h"
#include "my_shmem/fd.hpp"
#include "my_shmem/json.hpp"

namespace {

using my_shmem::Fd;
using my_shmem::Mapping;
using my_shmem::SysError;

Fd open_target(const std::string &target, const std::string &device, size_t len)
{
	if (target == "memfd") {
		int fd = memfd_create("first-touch", MFD_CLOEXEC);

		if (fd < 0)
			throw SysError("memfd_create", errno);
		Fd f(fd);
		if (ftruncate(fd, static_cast<off_t>(len)))
			throw SysError("ftruncate memfd to " + std::to_string(len), errno);
		return f;
	}
	return Fd::open(device, O_RDWR);
}

// Offset of the first never-backed page of segment 0, so that every touch
// allocates (the module is reloaded before each run, so this is 0 then).
off_t fresh_offset(const std::string &target, const Fd &fd, long psz)
{
	struct my_shmem_stats st = {};

	if (target == "memfd")
		return 0;
	st.size = sizeof(st);	// extensible struct: the kernel checks it
	if (ioctl(fd.get(), MY_SHMEM_IOC_GET_STATS, &st))
		throw SysError("ioctl MY_SHMEM_IOC_GET_STATS", errno);
	return static_cast<off_t>(st.pages_in_use * psz);
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{
		"my_shmem-first-touch - time the first touch of every page of a new mapping.\n\n"
		"Maps SIZE bytes MAP_SHARED of TARGET (the my_shmem device past its\n"
		"frontier, or a new memfd), touches every page once in address order and\n"
		"prints one JSON object: target, mode, size, pages, order (the device's\n"
		"max_contiguous_alloc_order), seconds and ns per page of the first touch,\n"
		"and ns per page of a second, identical pass over the now-mapped pages.\n"
		"Modes: byte writes one byte per page (the fault path alone); page writes\n"
		"every byte of every page (fault plus a page of stores).\n\n"
		"Exit status: 0, or 2 on a usage or system error."};
	std::string target = "shmem", mode = "byte", device = MY_SHMEM_DEVICE;
	size_t size = 1 << 20;

	app.add_option("-t,--target", target, "shmem (the device) or memfd")
		->check(CLI::IsMember({"shmem", "memfd"}));
	app.add_option("-m,--mode", mode, "byte (one byte per page) or page (whole pages)")
		->check(CLI::IsMember({"byte", "page"}));
	app.add_option("-s,--size", size, "Mapping size in bytes (a multiple of the page size)")
		->required();
	app.add_option("-d,--device", device, "Device node (default " MY_SHMEM_DEVICE ")");
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e) ? 2 : 0;
	}

	try {
		const long psz = sysconf(_SC_PAGESIZE);
		const size_t pages = size / psz;
		long order = -1;

		if (size == 0 || size % psz) {
			std::cerr << "my_shmem-first-touch: --size " << size
				  << " is not a non-zero multiple of the page size " << psz << "\n";
			return 2;
		}
		Fd fd = open_target(target, device, size);
		if (target == "shmem") {
			Fd p = Fd::open("/sys/module/my_shmem/parameters/max_contiguous_alloc_order",
					O_RDONLY);
			char buf[16] = {};

			if (read(p.get(), buf, sizeof(buf) - 1) > 0)
				order = std::strtol(buf, nullptr, 10);
		}
		off_t off = fresh_offset(target, fd, psz);
		Mapping m = Mapping::map(fd, size, PROT_READ | PROT_WRITE, MAP_SHARED, off,
					 target == "memfd" ? std::string("memfd") : device);
		volatile unsigned char *p = m.data<unsigned char>();

		auto touch = [&](unsigned char v) {
			auto t0 = std::chrono::steady_clock::now();

			if (mode == "byte") {
				for (size_t i = 0; i < pages; i++)
					p[i * psz] = v;
			} else {
				for (size_t i = 0; i < pages; i++)
					std::memset(const_cast<unsigned char *>(p) + i * psz, v, psz);
			}
			return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
				.count();
		};
		// First touch faults every page in; the second pass does the same
		// stores on mapped pages: what the stores alone cost.
		double first = touch(0xa5);
		double again = touch(0x5a);

		my_shmem::json j{ { "target", target },
				  { "mode", mode },
				  { "size", size },
				  { "pages", pages },
				  { "order", order },
				  { "seconds", first },
				  { "ns_per_page", first * 1e9 / static_cast<double>(pages) },
				  { "retouch_ns_per_page", again * 1e9 / static_cast<double>(pages) } };

		std::cout << j.dump() << "\n";
		return 0;
	} catch (const std::exception &e) {
		std::cerr << "my_shmem-first-touch: " << e.what() << "\n";
		return 2;
	}
}
