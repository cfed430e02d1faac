// SPDX-License-Identifier: GPL-2.0
// Plain values the module reports: module-wide counters, a segment, a module
// parameter, an event of the netlink multicast group "events", a node of a
// coherent segment and the MSI states of its pages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "msi.hpp"

namespace my_shmem {

// Where a value came from: the generic-netlink family, an ioctl, or sysfs.
enum class Source { Netlink, Ioctl, Sysfs };
const char *source_name(Source s) noexcept;

// Module-wide counters (struct my_shmem_stats; MY_SHMEM_A_STATS_*).
struct Stats {
	std::uint64_t pages_in_use = 0;
	std::uint64_t max_pages = 0;
	std::uint64_t faults = 0;
	std::uint64_t cleans = 0;
	std::uint64_t invals = 0;
	std::uint64_t sigbus = 0;
	std::uint64_t order_fallbacks = 0;
	std::uint64_t vmas = 0;
	std::uint64_t files = 0;
	std::uint64_t segments = 0;
	std::vector<std::uint64_t> allocs_by_order;	// live runs of order 0, 1, ...
	Source source = Source::Netlink;
};

// One segment (struct my_shmem_seg_info; MY_SHMEM_A_SEG_*).
struct SegInfo {
	std::uint32_t id = 0;
	std::uint64_t key = 0;
	std::uint64_t bytes = 0;
	std::uint32_t mode = 0;		// MY_SHMEM_MODE_*
	std::uint32_t perm = 0;
	std::uint32_t flags = 0;	// MY_SHMEM_SEG_*
	std::uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0;
	std::int32_t cpid = 0, lpid = 0;
	std::uint32_t nattch = 0;
	std::uint32_t nodes = 0;
	std::int64_t atime = 0, dtime = 0, ctime = 0;
	std::uint64_t pages = 0;
	std::uint64_t faults = 0;
	std::uint64_t cleans = 0;
	std::uint64_t invals = 0;
	std::vector<std::uint64_t> allocs_by_order;

	bool deleted() const noexcept;
};

// "shared" / "coherent" (MY_SHMEM_MODE_*); nullopt for anything else.
const char *mode_name(std::uint32_t mode) noexcept;
std::optional<std::uint32_t> parse_mode(const std::string &s) noexcept;

// A module parameter, as /sys/module/my_shmem/parameters/NAME shows it.
struct Param {
	std::string name;
	std::string value;
	bool writable = false;	// known from sysfs only; netlink reports every parameter
	Source source = Source::Netlink;
};

// An event of the multicast group (MY_SHMEM_CMD_EVENT).
struct Event {
	std::uint32_t type = 0;		// MY_SHMEM_EVENT_TYPE_*
	std::uint32_t seg_id = 0;
	std::uint64_t key = 0;
	std::optional<std::uint64_t> pgoff;	// alloc
	std::optional<std::uint32_t> order;	// alloc
	std::uint64_t dropped = 0;	// events the kernel dropped before this one
};

// "seg-created", "seg-deleted", "alloc" (the YNL spec's names), or "unknown".
const char *event_type_name(std::uint32_t type) noexcept;

// One node of a coherent segment: an open file description bound to it
// (struct my_shmem_node_info).  The counters are the node's since it was bound.
struct NodeInfo {
	std::uint32_t seg = 0;
	std::uint32_t node = 0;
	std::uint32_t nr_nodes = 0;		// nodes bound to the segment now
	std::uint64_t read_faults = 0;
	std::uint64_t write_faults = 0;
	std::uint64_t fetches = 0;		// pages copied into this node
	std::uint64_t invals_received = 0;	// copies dropped by another node's write
	std::uint64_t writebacks = 0;		// pages written back home from this node
	std::uint64_t bytes_moved = 0;
	std::uint64_t cleans = 0;		// clean-to-PoC over its copies (as a source)
	std::uint64_t invals = 0;		// invalidate-to-PoC over its copies (as a destination)
	std::uint64_t pages_s = 0;		// pages held in S now
	std::uint64_t pages_m = 0;		// pages held in M now

	std::uint64_t faults() const noexcept { return read_faults + write_faults; }
};

// One page's directory entry: the node holding it in M, if any, and how many
// nodes hold it in S.
struct DirEntry {
	std::optional<std::uint32_t> owner;
	std::uint32_t sharers = 0;

	bool operator==(const DirEntry &) const = default;
};

// MSI states and directory over pages [first, first + directory.size()) of a
// coherent segment (struct my_shmem_msi_view).
struct MsiView {
	std::uint32_t seg = 0;
	std::optional<std::uint32_t> node;	// whose states are in @states (none: directory only)
	std::uint64_t first = 0;
	std::vector<msi::State> states;		// one per page when @node is set, else empty
	std::vector<DirEntry> directory;	// one per page

	std::uint64_t pages() const noexcept { return directory.size(); }
};

} // namespace my_shmem
