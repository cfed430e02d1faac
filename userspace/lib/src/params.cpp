// SPDX-License-Identifier: GPL-2.0
#include "my_shmem/params.hpp"

#include <array>
#include <charconv>
#include <cstdint>

#include <linux/my_shmem.h>

namespace my_shmem {

namespace {

constexpr std::array<ParamSpec, 7> kParams = { {
	{ "max_contiguous_alloc_order", "order", "an integer 0..10",
	  "log2 of the pages in each new allocation (the thesis' knob)", true },
	{ "backend", nullptr, "insn, pmem, kernel or none",
	  "cache-maintenance backend (kernel: needs the patched kernel)", true },
	{ "max_pages", nullptr, "an integer 0..2^63-1 (0: half of RAM)",
	  "cap on device pages allocated module-wide", true },
	{ "max_segments", nullptr, "an integer 1..2^31-1",
	  "segments that may exist at once, segment 0 included", true },
	{ "max_segment_pages", nullptr, "a positive integer",
	  "largest named segment, in pages", true },
	{ "seg0_pages", nullptr, "a positive integer", "size of segment 0, in pages", true },
	{ "seg0_mode", nullptr, "octal permission bits, e.g. 0660",
	  "permission bits of segment 0 (load time only)", false },
} };

} // namespace

std::optional<std::uint64_t> parse_uint(std::string_view v)
{
	int base = 10;

	if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		base = 16;
		v.remove_prefix(2);
	} else if (v.size() > 1 && v[0] == '0') {
		base = 8;
		v.remove_prefix(1);
	}
	std::uint64_t out = 0;
	auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);

	if (v.empty() || ec != std::errc() || p != v.data() + v.size())
		return std::nullopt;
	return out;
}

std::span<const ParamSpec> known_params() noexcept
{
	return kParams;
}

const ParamSpec *find_param(std::string_view n) noexcept
{
	for (const ParamSpec &p : kParams)
		if (n == p.name || (p.alias && n == p.alias))
			return &p;
	return nullptr;
}

std::optional<std::string> check_param_value(const ParamSpec &spec, std::string_view value)
{
	const std::string name = spec.name;

	if (!spec.runtime)
		return name + " is set at load time only (insmod my_shmem.ko " + name + "=VALUE)";
	if (name == "backend") {
		for (const char *b : { "insn", "pmem", "kernel", "none" })
			if (value == b)
				return std::nullopt;
		return "'" + std::string(value) + "' is not a backend: " + spec.accepts;
	}
	if (!value.empty() && value.back() == '\n')	// as kstrtoul() allows
		value.remove_suffix(1);
	auto n = parse_uint(value);

	if (!n)
		return "'" + std::string(value) + "' is not a number: " + name + " takes " +
		       spec.accepts;
	if (name == "max_contiguous_alloc_order" && *n > MY_SHMEM_MAX_ORDER)
		return "order " + std::to_string(*n) + " is out of range: " + spec.accepts;
	if (name == "max_pages" && *n > INT64_MAX)
		return std::string(value) + " is out of range: max_pages takes " + spec.accepts;
	if ((name == "max_segments" && (!*n || *n > INT32_MAX)) ||
	    ((name == "max_segment_pages" || name == "seg0_pages") && !*n))
		return std::string(value) + " is out of range: " + name + " takes " + spec.accepts;
	return std::nullopt;
}

} // namespace my_shmem
