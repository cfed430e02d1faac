// SPDX-License-Identifier: GPL-2.0
// my_shmem-cmo-anchor: the physical anchor of the latency experiment.
//
// Times the same cache-maintenance instructions the module's insn backend
// runs, from user space on the real CPU, without any guest:
//   x86_64: CLFLUSH, CLFLUSHOPT, CLWB (each followed by MFENCE)
//   arm64:  DC CVAC, DC CIVAC (EL0 use is allowed by Linux: SCTLR_EL1.UCI),
//           followed by DSB SY
// over buffers of 2^order pages, on lines that are dirty (just written) or
// clean (just read back after a write-back), and prints real ns per line and
// GB/s as a JSON list, one object per (instruction, state, size).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>
#include <vector>

#include <CLI/CLI.hpp>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace {

struct Insn {
	const char *name;
	void (*range)(char *p, size_t len, size_t line);
};

#if defined(__x86_64__)
void do_clflush(char *p, size_t len, size_t line)
{
	for (size_t i = 0; i < len; i += line)
		asm volatile("clflush (%0)" : : "r"(p + i) : "memory");
	asm volatile("mfence" ::: "memory");
}

void do_clflushopt(char *p, size_t len, size_t line)
{
	for (size_t i = 0; i < len; i += line)
		asm volatile(".byte 0x66; clflush (%0)" : : "r"(p + i) : "memory");
	asm volatile("mfence" ::: "memory");
}

void do_clwb(char *p, size_t len, size_t line)
{
	for (size_t i = 0; i < len; i += line)
		asm volatile(".byte 0x66, 0x0f, 0xae, 0x30" : : "a"(p + i) : "memory");
	asm volatile("mfence" ::: "memory");
}

size_t line_size()
{
	unsigned a, b, c, d;

	__cpuid(1, a, b, c, d);
	return ((b >> 8) & 0xff) * 8;
}

std::vector<Insn> available(std::string &why_missing)
{
	unsigned a, b, c, d;
	std::vector<Insn> v{{"clflush", do_clflush}};

	__cpuid_count(7, 0, a, b, c, d);
	if (b & (1u << 23))
		v.push_back({"clflushopt", do_clflushopt});
	else
		why_missing += "clflushopt not supported by this CPU; ";
	if (b & (1u << 24))
		v.push_back({"clwb", do_clwb});
	else
		why_missing += "clwb not supported by this CPU; ";
	return v;
}
#elif defined(__aarch64__)
void do_cvac(char *p, size_t len, size_t line)
{
	for (size_t i = 0; i < len; i += line)
		asm volatile("dc cvac, %0" : : "r"(p + i) : "memory");
	asm volatile("dsb sy" ::: "memory");
}

void do_civac(char *p, size_t len, size_t line)
{
	for (size_t i = 0; i < len; i += line)
		asm volatile("dc civac, %0" : : "r"(p + i) : "memory");
	asm volatile("dsb sy" ::: "memory");
}

size_t line_size()
{
	uint64_t ctr;

	asm volatile("mrs %0, ctr_el0" : "=r"(ctr));
	return 4u << ((ctr >> 16) & 0xf);
}

std::vector<Insn> available(std::string &)
{
	return {{"dc cvac", do_cvac}, {"dc civac", do_civac}};
}
#else
#error "my_shmem-cmo-anchor supports x86_64 and arm64"
#endif

std::string cpu_model()
{
	std::ifstream f("/proc/cpuinfo");
	std::string line, part;

	while (std::getline(f, line)) {
		auto colon = line.find(':');
		if (colon == std::string::npos)
			continue;
		std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
		std::string val = line.substr(std::min(colon + 2, line.size()));
		if (key == "model name")
			return val;
		if (key == "CPU part" && part.empty())
			part = "CPU part " + val;
	}
	return part.empty() ? "unknown" : part;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{
		"my_shmem-cmo-anchor - real cost of cache-maintenance instructions, from user space.\n\n"
		"Runs, on the host CPU and without any guest, the instructions the module's\n"
		"insn backend uses (x86_64: CLFLUSH, CLFLUSHOPT, CLWB + MFENCE; arm64: DC CVAC,\n"
		"DC CIVAC + DSB SY) over buffers of 2^order pages for each ORDER, on dirty lines\n"
		"(written just before) and clean lines (written back, then read into the cache),\n"
		"REPS times each, and prints a JSON list: instruction, state, size, lines, reps\n"
		"and the REPS raw times in ns of one pass over the buffer (samples_ns).\n"
		"analysis/report.py derives the median, ns per line and GB/s.  These are\n"
		"hardware numbers: set them next to the guest's, which under QEMU TCG are\n"
		"emulation cost.\n\n"
		"Exit status: 0, or 2 on a usage or system error."};
	std::vector<unsigned> orders{0, 2, 4, 6, 8, 10};
	unsigned reps = 50;
	std::string out;

	app.add_option("-O,--orders", orders, "Buffer sizes as page orders (default 0 2 4 6 8 10)")
		->check(CLI::Range(0u, 12u));
	app.add_option("-r,--reps", reps, "Repetitions per configuration (default 50)")
		->check(CLI::Range(1u, 100000u));
	app.add_option("-o,--output", out, "Write the JSON here instead of stdout");
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e) ? 2 : 0;
	}

	const size_t psz = sysconf(_SC_PAGESIZE), line = line_size();
	const size_t maxlen = psz << *std::max_element(orders.begin(), orders.end());
	std::string missing;
	auto insns = available(missing);
	void *mem = mmap(nullptr, maxlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED) {
		std::cerr << "my_shmem-cmo-anchor: mmap " << maxlen << " bytes: " << std::strerror(errno)
			  << "\n";
		return 2;
	}
	char *buf = static_cast<char *>(mem);
	std::memset(buf, 1, maxlen);
	if (!missing.empty())
		std::cerr << "my_shmem-cmo-anchor: " << missing << "measuring the rest\n";

	const std::string cpu = cpu_model();
	nlohmann::ordered_json rows = nlohmann::ordered_json::array();
	volatile char sink = 0;
	for (const auto &insn : insns) {
		for (unsigned order : orders) {
			const size_t len = psz << order;
			for (const char *state : {"dirty", "clean"}) {
				std::vector<double> ns;

				for (unsigned r = 0; r < reps; r++) {
					if (!std::strcmp(state, "dirty")) {
						std::memset(buf, static_cast<int>(r), len);
					} else {
						insn.range(buf, len, line);
						for (size_t i = 0; i < len; i += line)
							sink = sink + buf[i];
					}
					auto t0 = std::chrono::steady_clock::now();
					insn.range(buf, len, line);
					auto t1 = std::chrono::steady_clock::now();
					ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
				}
				// Raw samples: the analysis (analysis/stats.py) computes the
				// percentiles, as it does for every other measurement.
				rows.push_back({ { "instruction", insn.name },
						 { "state", state },
						 { "size", len },
						 { "order", order },
						 { "lines", len / line },
						 { "line_size", line },
						 { "reps", reps },
						 { "samples_ns", ns },
						 { "cpu", cpu } });
			}
		}
	}
	// One object per line, as before: diff-friendly and still one JSON list.
	std::string json = "[\n";

	for (std::size_t i = 0; i < rows.size(); i++)
		json += "  " + rows[i].dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
			(i + 1 < rows.size() ? ",\n" : "\n");
	json += "]\n";
	munmap(mem, maxlen);

	if (out.empty()) {
		std::fputs(json.c_str(), stdout);
	} else {
		std::ofstream f(out);
		if (!(f << json)) {
			std::cerr << "my_shmem-cmo-anchor: write " << out << ": " << std::strerror(errno)
				  << "\n";
			return 2;
		}
	}
	return 0;
}
