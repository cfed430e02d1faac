// SPDX-License-Identifier: GPL-2.0
// shmemctl dsm: the s2dsm assignment's interactive session (userspace/s2dsm),
// its prompts and prints byte for byte, over a node of a coherent segment
// whose coherence the kernel keeps.  The dialogue is kept apart from the
// device behind Node so that it is unit-tested without the module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "my_shmem/msi.hpp"

namespace shmemctl::dsm {

// s2dsm's prompts.
inline constexpr std::string_view kPromptPages =
	"> How many pages would you like to allocate (greater than 0)?\n";
inline constexpr std::string_view kPromptCommand =
	"> Which command should I run? (r:read, w:write, v:view msi array): ";
inline constexpr std::string_view kPromptMessage = "> Type your new message: ";
inline constexpr std::string_view kPageFault = "[x] PAGEFAULT\n";

// "> For which page? (0-N, or -1 for all): ", N the last page of @pages.
std::string prompt_page(std::size_t pages);
// "Address returned by mmap() = 0x...\nSize of mapped region = N\n"
std::string region_lines(const void *addr, std::size_t len);
// "[*] Page I:\nTEXT\n"
std::string page_lines(std::size_t page, std::string_view text);

// What reading a line of input came to.
enum class Input { Line, Eof, Interrupted };
// Reads one line into its argument, without the newline (and a '\r' before
// it); a last line without a newline is a line too.
using ReadLine = std::function<Input(std::string &)>;

// One node's side of the session: its pages, and the accesses that may fault.
class Node {
public:
	virtual ~Node() = default;
	virtual std::size_t pages() const = 0;
	// The text at the start of page @i, up to its first NUL byte (at most a
	// page); *@faulted: whether the access faulted.
	virtual std::string read(std::size_t i, bool *faulted) = 0;
	// Store @text at the start of page @i, NUL-terminated, cut to fit the
	// page; returns whether the access faulted.
	virtual bool write(std::size_t i, std::string_view text) = 0;
	// This node's state of every page.
	virtual std::vector<my_shmem::msi::State> states() = 0;
};

// Ask kPromptPages until a whole number from 1 to @max is given (errors to
// @err, "shmemctl: please enter a whole number from 1 to MAX"); nullopt at
// the end of input or on an interruption, which *@end then says.
std::optional<std::uint64_t> ask_pages(const ReadLine &in, std::ostream &out, std::ostream &err,
				       std::uint64_t max, Input *end);

// The r / w / v loop, until the end of input (returns Input::Eof) or an
// interruption (Input::Interrupted).  @json: v prints one JSON line (the
// format of my_shmem::msi::format_json) instead of the text view.
Input run(Node &node, const ReadLine &in, std::ostream &out, std::ostream &err, bool json);

} // namespace shmemctl::dsm
