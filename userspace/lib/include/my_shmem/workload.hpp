// SPDX-License-Identifier: GPL-2.0
// The thesis' writer and reader: map pages of a segment, store the 0xcafebeef
// pattern into every 32-bit word (or read every word back and count those
// that differ), unmap.  The unmap is what makes the module clean every run
// the mapping covered to the Point of Coherency.
#pragma once

#include <cstdint>
#include <functional>

#include "device.hpp"

namespace my_shmem {

inline constexpr std::uint32_t kPattern = 0xcafebeef;

struct TouchSpec {
	bool write = true;
	std::uint64_t pages = 64;
	std::uint64_t offset_pages = 0;
	std::uint64_t repeat = 1;
	bool verify = true;		// read: count words that differ
};

struct TouchResult {
	std::uint64_t pages_touched = 0;	// pages * repeat
	std::uint64_t mismatches = 0;		// read: of the last pass
	double seconds = 0;			// map + touch + unmap, every pass
};

// Progress: (pages done, pages in total) every few pages; nullptr: none
// (and no extra work in the loop).
using Progress = std::function<void(std::uint64_t done, std::uint64_t total)>;

TouchResult touch(const Device &dev, const TouchSpec &spec, const Progress &progress = nullptr);

} // namespace my_shmem
