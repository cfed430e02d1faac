// SPDX-License-Identifier: GPL-2.0
//
// msi.hpp - MSI coherence states and their views, shared by s2dsm (userspace DSM over
// userfaultfd + TCP) and the my_shmem control tool (in-kernel MSI).
//
// Deliberately free of anything s2dsm- or kernel-specific: a view is just a list of
// (page, state) pairs with an optional label (e.g. "node 3" or "s2dsm P1").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace my_shmem::msi {

// Per (node, page) coherence state.  Invariant kept by every protocol in this project:
// at most one node holds a page in Modified, and while it does no other node holds it Shared.
enum class State : std::uint8_t {
	Invalid = 0,  // no valid local copy; the next access faults and fetches
	Shared = 1,   // valid read-only copy; the next write faults and invalidates the others
	Modified = 2, // the only valid copy, writable
};

inline constexpr State kAllStates[] = {State::Modified, State::Shared, State::Invalid};

// One-letter name: 'M', 'S' or 'I'.
constexpr char letter(State s) noexcept
{
	switch (s) {
	case State::Modified: return 'M';
	case State::Shared: return 'S';
	case State::Invalid: return 'I';
	}
	return '?';
}

// Long name: "Modified", "Shared" or "Invalid".
constexpr std::string_view name(State s) noexcept
{
	switch (s) {
	case State::Modified: return "Modified";
	case State::Shared: return "Shared";
	case State::Invalid: return "Invalid";
	}
	return "?";
}

// Accepts the letter or the long name, case-insensitively.
std::optional<State> parse(std::string_view text) noexcept;

// The letters of @states in order, one per page: "SSIM".
std::string letters(std::span<const State> states);

struct PageState {
	std::uint64_t page;
	State state;
};

enum class Format { Text, Json };

// Text view: one line per page, "Page <n>: <letter> (<long name>)\n", preceded by
// "<label>:\n" when a label is given.  Example for three pages:
//   Page 0: S (Shared)
//   Page 1: I (Invalid)
//   Page 2: M (Modified)
std::string format_text(std::span<const PageState> pages, std::string_view label = {});

// JSON view: a single line,
//   {"label":"...","pages":[{"page":0,"state":"S","name":"Shared"},...],
//    "counts":{"M":0,"S":1,"I":1}}
// ("label" only when given; ASCII only, with invalid UTF-8 in it replaced by
// U+FFFD).  Ends with '\n'.
std::string format_json(std::span<const PageState> pages, std::string_view label = {});

std::string format_view(std::span<const PageState> pages, Format fmt, std::string_view label = {});

} // namespace my_shmem::msi
