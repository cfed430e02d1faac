// SPDX-License-Identifier: GPL-2.0
// shmemctl's parsing and formatting: keys, sizes, ranges, permission bits,
// times, tables and the progress bar.  Pure functions, unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "my_shmem/json.hpp"
#include "my_shmem/params.hpp"
#include "my_shmem/types.hpp"

namespace shmemctl {

// "42", "0x2a", "052" (octal, as kstrtoul(…, 0) reads it): the library's.
using my_shmem::parse_uint;
// A size in bytes: "4096", "64K", "1M", "2G", "1T" (powers of 1024; a
// trailing "iB" or "B" is accepted), or "16p" / "16pages": pages of @page_size.
std::optional<std::uint64_t> parse_size(std::string_view s, std::uint64_t page_size);
// Octal permission bits, at most 0777: "600", "0660".
std::optional<std::uint32_t> parse_perm(std::string_view s);

// A page range "START+COUNT" or "START..END" (END excluded), each a number
// of pages or a size with a unit (which must then be page aligned); a lone
// "COUNT" starts at 0.  Byte offset and length.
struct Range {
	std::uint64_t offset = 0;
	std::uint64_t len = 0;
};
// The error message when the text is not a range.
std::optional<Range> parse_range(std::string_view s, std::uint64_t page_size, std::string *why);

// 1536 -> "1.5 KiB", 1073741824 -> "1 GiB", 0 -> "0 B".
std::string human_bytes(std::uint64_t bytes);
// 0640 -> "rw-r-----"
std::string perm_string(std::uint32_t perm);
// seconds since the epoch -> "2026-11-30 18:34:29" (local time); 0 -> "never"
std::string format_time(std::int64_t t);
// "0x0000002a" as ipcs prints keys
std::string format_key(std::uint64_t key);

// A text table: a header row and rows, columns padded to their widest
// cell, separated by two spaces; columns listed in @right are right-aligned.
std::string render_table(const std::vector<std::string> &header,
			 const std::vector<std::vector<std::string>> &rows,
			 const std::vector<bool> &right = {});

// One frame of the progress bar (no newline, starts with '\r' and ends by
// clearing the rest of the line):
//   "\r[##########          ]  50%  512/1024 pages  0.8 s\033[K"
std::string progress_line(std::uint64_t done, std::uint64_t total, double seconds,
			  unsigned width = 30);

// One node of a coherent segment as msi view shows it: its counters and its
// state of each page of the view.
struct MsiNodeRow {
	my_shmem::NodeInfo info;
	std::vector<my_shmem::msi::State> states;
};

// The MSI grid of pages [@first, @first + dir.size()): blocks of @per_block
// pages, each under a ruler of page numbers ("page" row), one row per node
// ("node 3" and its states, M S or I), a "dir" row (the owner's id, '-' for
// none) and a "sharers" row (nodes in S).  A page is one column when every
// owner id and sharer count is one digit, else a column as wide as the
// widest, separated by a blank.  Blocks are separated by an empty line; no
// line ends in a blank.  Rows shorter than the directory show '?'.
std::string render_msi_grid(std::uint64_t first, const std::vector<MsiNodeRow> &nodes,
			    const std::vector<my_shmem::DirEntry> &dir, unsigned per_block = 64);

// msi view --json: {"segment","pages","first","nodes":[{"node","states",
// "counters"}],"directory":[{"page","owner","sharers"}]}.
my_shmem::json msi_view_json(std::uint32_t seg, std::uint64_t first,
			     const std::vector<MsiNodeRow> &nodes,
			     const std::vector<my_shmem::DirEntry> &dir);

// msi nodes: a table, one row per node, of its counters.
std::string render_node_table(const std::vector<my_shmem::NodeInfo> &nodes);

} // namespace shmemctl
