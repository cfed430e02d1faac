// SPDX-License-Identifier: GPL-2.0
// The module parameters the library knows: their short names, what values
// they take, and whether they can change after load.  The kernel has the
// last word on every value; checking here turns a bare EINVAL into a
// message that says what the parameter accepts.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace my_shmem {

struct ParamSpec {
	const char *name;	// as in /sys/module/my_shmem/parameters
	const char *alias;	// short name accepted by the tool, or nullptr
	const char *accepts;	// what a value looks like, for messages and --help
	const char *help;	// one line
	bool runtime;		// writable after load
};

// An unsigned number as kstrtoul(…, 0) reads it: "42", "0x2a", "052"
// (octal); nothing else around it.
std::optional<std::uint64_t> parse_uint(std::string_view s);

std::span<const ParamSpec> known_params() noexcept;
// By name or alias; nullptr if unknown.
const ParamSpec *find_param(std::string_view name_or_alias) noexcept;
// nullopt if @value is acceptable for @spec, else why not.
std::optional<std::string> check_param_value(const ParamSpec &spec, std::string_view value);

} // namespace my_shmem
