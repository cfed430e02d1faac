// SPDX-License-Identifier: GPL-2.0
// /dev/my_shmem through its ioctls: an open file description is a node,
// bound to segment 0 at open and to a named segment by bind().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

	// Coherent segments (MY_SHMEM_MODE_COHERENT): every fd bound to one is a
	// node.  kNodeSelf stands for this fd's own node (MY_SHMEM_NODE_SELF).
	// Reading another segment than the bound one needs read permission on
	// it; a segment that is not coherent is EOPNOTSUPP, with a hint.
	static constexpr std::uint32_t kNodeSelf = 0xfffffffeU;
	// MY_SHMEM_IOC_NODE_INFO: node @node of segment @seg (kBound: the bound
	// one); with @next the first node whose id is @node or above.
	NodeInfo node_info(std::uint32_t seg = kBound, std::uint32_t node = kNodeSelf,
			   bool next = false) const;
	// Every node of @seg, by id (MY_SHMEM_IOC_NODE_INFO with NEXT, from 0).
	std::vector<NodeInfo> nodes(std::uint32_t seg = kBound) const;
	// MY_SHMEM_IOC_MSI_VIEW: the directory of pages [@first, @first + @count)
	// of @seg (kBound: the bound one) and, when @node is given (kNodeSelf:
	// this fd's node), that node's state of each page.  @count is cut at
	// the segment's end (so ~0 means "to the end"); past it the view is empty.
	MsiView msi_view(std::uint32_t seg, std::optional<std::uint32_t> node, std::uint64_t first,
			 std::uint64_t count) const;

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
