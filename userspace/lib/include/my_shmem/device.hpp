// SPDX-License-Identifier: GPL-2.0
// /dev/my_shmem through its ioctls: an open file description is a node,
// bound to segment 0 at open and to a named segment by bind().
#pragma once

#include <cstdint>
#include <string>

#include "fd.hpp"
#include "paths.hpp"
#include "types.hpp"

namespace my_shmem {

// What bind() asks for (struct my_shmem_get).
struct BindRequest {
	std::uint64_t key = 0;
	std::uint64_t bytes = 0;	// 0: whatever an existing segment has
	bool create = false;
	bool exclusive = false;
	std::uint32_t mode = 0;		// MY_SHMEM_MODE_* of a new segment
	std::uint32_t perm = 0600;	// permission bits of a new segment
};

// One sync request (struct my_shmem_sync), in bytes.
struct SyncRequest {
	std::uint64_t offset = 0;
	std::uint64_t len = 0;
	bool clean = false;
	bool inval = false;
};

class Device {
public:
	// open(2) the device node read-write (or read-only).  Errors carry a
	// hint: module not loaded, node missing, permission (udev rule, root).
	static Device open(const Paths &paths, bool write = true);

	const Fd &fd() const noexcept { return fd_; }
	const std::string &path() const noexcept { return path_; }
	bool writable() const noexcept { return write_; }

	// MY_SHMEM_IOC_GET: find or create the segment of a key and bind this
	// node to it; returns its id.
	std::uint32_t bind(const BindRequest &req);
	// MY_SHMEM_IOC_SEG_INFO of @id, or of the bound segment (kBound).
	static constexpr std::uint32_t kBound = 0xffffffffU;
	SegInfo seg_info(std::uint32_t id = kBound) const;
	// MY_SHMEM_IOC_DELETE.
	void remove(std::uint32_t id) const;
	// MY_SHMEM_IOC_GET_STATS.
	Stats stats() const;
	// MY_SHMEM_IOC_SYNC over the bound segment; returns the runs covered.
	std::uint32_t sync(const SyncRequest &req) const;

	// mmap(2) @len bytes at byte @offset, MAP_SHARED; @at: MAP_FIXED_NOREPLACE
	// at that address (nullptr: anywhere).
	Mapping map(std::size_t len, std::uint64_t offset, bool write, void *at = nullptr) const;

private:
	Device(Fd fd, std::string path, bool write)
		: fd_(std::move(fd)), path_(std::move(path)), write_(write) {}

	Fd fd_;
	std::string path_;
	bool write_;
};

// Why opening the device failed and what to do about it, judged from the
// errno and from what exists under @paths (module loaded? node present?).
std::string open_hint(const Paths &paths, int err);

} // namespace my_shmem
