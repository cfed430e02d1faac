// SPDX-License-Identifier: GPL-2.0
#include "my_shmem/msi.hpp"

#include <array>
#include <cctype>

#include <nlohmann/json.hpp>

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

std::string letters(std::span<const State> states)
{
	std::string out;

	out.reserve(states.size());
	for (State s : states)
		out += letter(s);
	return out;
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

std::string format_json(std::span<const PageState> pages, std::string_view label)
{
	std::array<std::uint64_t, 3> counts{};
	nlohmann::ordered_json j = nlohmann::ordered_json::object();
	nlohmann::ordered_json list = nlohmann::ordered_json::array();

	if (!label.empty())
		j["label"] = std::string(label);
	for (const PageState &p : pages) {
		list.push_back({ { "page", p.page },
				 { "state", std::string(1, letter(p.state)) },
				 { "name", std::string(name(p.state)) } });
		++counts[static_cast<std::size_t>(p.state)];
	}
	j["pages"] = std::move(list);
	j["counts"] = { { "M", counts[static_cast<std::size_t>(State::Modified)] },
			{ "S", counts[static_cast<std::size_t>(State::Shared)] },
			{ "I", counts[static_cast<std::size_t>(State::Invalid)] } };
	// A label is any bytes: invalid UTF-8 becomes U+FFFD rather than an exception.
	return j.dump(-1, ' ', true, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string format_view(std::span<const PageState> pages, Format fmt, std::string_view label)
{
	return fmt == Format::Json ? format_json(pages, label) : format_text(pages, label);
}

} // namespace my_shmem::msi
