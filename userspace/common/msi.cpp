// SPDX-License-Identifier: GPL-2.0
#include "msi.hpp"

#include <array>
#include <cctype>
#include <cstdio>

namespace my_shmem::msi {

namespace {
bool iequal(std::string_view a, std::string_view b) noexcept
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); ++i)
		if (std::tolower(static_cast<unsigned char>(a[i])) !=
		    std::tolower(static_cast<unsigned char>(b[i])))
			return false;
	return true;
}
} // namespace

std::optional<State> parse(std::string_view text) noexcept
{
	for (State s : kAllStates) {
		const char l = letter(s);
		if (iequal(text, std::string_view(&l, 1)) || iequal(text, name(s)))
			return s;
	}
	return std::nullopt;
}

std::string format_text(std::span<const PageState> pages, std::string_view label)
{
	std::string out;
	if (!label.empty()) {
		out += label;
		out += ":\n";
	}
	for (const PageState &p : pages) {
		out += "Page ";
		out += std::to_string(p.page);
		out += ": ";
		out += letter(p.state);
		out += " (";
		out += name(p.state);
		out += ")\n";
	}
	return out;
}

std::string json_quote(std::string_view s)
{
	std::string out = "\"";
	for (unsigned char c : s) {
		switch (c) {
		case '"': out += "\\\""; break;
		case '\\': out += "\\\\"; break;
		case '\n': out += "\\n"; break;
		case '\t': out += "\\t"; break;
		case '\r': out += "\\r"; break;
		default:
			if (c < 0x20 || c >= 0x7f) {
				char buf[8];
				std::snprintf(buf, sizeof buf, "\\u%04x", c);
				out += buf;
			} else {
				out += static_cast<char>(c);
			}
		}
	}
	out += '"';
	return out;
}

std::string format_json(std::span<const PageState> pages, std::string_view label)
{
	std::array<std::uint64_t, 3> counts{};
	std::string out = "{";
	if (!label.empty()) {
		out += "\"label\":";
		out += json_quote(label);
		out += ',';
	}
	out += "\"pages\":[";
	bool first = true;
	for (const PageState &p : pages) {
		if (!first)
			out += ',';
		first = false;
		out += "{\"page\":";
		out += std::to_string(p.page);
		out += ",\"state\":\"";
		out += letter(p.state);
		out += "\",\"name\":\"";
		out += name(p.state);
		out += "\"}";
		++counts[static_cast<std::size_t>(p.state)];
	}
	out += "],\"counts\":{";
	out += "\"M\":" + std::to_string(counts[static_cast<std::size_t>(State::Modified)]);
	out += ",\"S\":" + std::to_string(counts[static_cast<std::size_t>(State::Shared)]);
	out += ",\"I\":" + std::to_string(counts[static_cast<std::size_t>(State::Invalid)]);
	out += "}}\n";
	return out;
}

std::string format_view(std::span<const PageState> pages, Format fmt, std::string_view label)
{
	return fmt == Format::Json ? format_json(pages, label) : format_text(pages, label);
}

} // namespace my_shmem::msi
