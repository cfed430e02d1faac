// SPDX-License-Identifier: GPL-2.0
#include "my_shmem/workload.hpp"

#include <chrono>

#include <unistd.h>

namespace my_shmem {

TouchResult touch(const Device &dev, const TouchSpec &spec, const Progress &progress)
{
	const std::size_t psz = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
	const std::size_t len = spec.pages * psz;
	const std::size_t words_per_page = psz / sizeof(std::uint32_t);
	const std::uint64_t total = spec.pages * spec.repeat;
	// Report about every 1/256 of the run, but at least every 64 pages.
	const std::uint64_t every = std::max<std::uint64_t>(1, std::min<std::uint64_t>(64, total / 256));
	TouchResult r;
	std::uint64_t done = 0;

	auto t0 = std::chrono::steady_clock::now();
	for (std::uint64_t rep = 0; rep < spec.repeat; rep++) {
		Mapping m = dev.map(len, spec.offset_pages * psz, spec.write);
		volatile std::uint32_t *w = m.data<std::uint32_t>();

		r.mismatches = 0;	// the last pass counts
		for (std::size_t p = 0; p < spec.pages; p++) {
			volatile std::uint32_t *page = w + p * words_per_page;

			if (spec.write) {
				for (std::size_t i = 0; i < words_per_page; i++)
					page[i] = kPattern;
			} else if (spec.verify) {
				for (std::size_t i = 0; i < words_per_page; i++)
					r.mismatches += page[i] != kPattern;
			} else {
				for (std::size_t i = 0; i < words_per_page; i++)
					(void)page[i];
			}
			if (progress && ++done % every == 0)
				progress(done, total);
		}
	}	// munmap: the module cleans every run the mapping covered
	r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	r.pages_touched = total;
	if (progress && done % every)	// the loop's last report was not the end
		progress(total, total);
	return r;
}

} // namespace my_shmem
