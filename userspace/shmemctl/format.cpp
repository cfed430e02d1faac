// SPDX-License-Identifier: GPL-2.0
#include "format.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>

namespace shmemctl {

std::optional<std::uint64_t> parse_size(std::string_view s, std::uint64_t page_size)
{
	std::size_t i = 0;

	while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
		i++;
	if (!i)
		return std::nullopt;
	std::uint64_t n = 0;
	auto [p, ec] = std::from_chars(s.data(), s.data() + i, n);

	if (ec != std::errc())
		return std::nullopt;
	std::string unit(s.substr(i));

	for (char &c : unit)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	std::uint64_t mul;

	if (unit.empty() || unit == "b")
		mul = 1;
	else if (unit == "p" || unit == "page" || unit == "pages")
		mul = page_size;
	else if (unit == "k" || unit == "kib" || unit == "kb")
		mul = 1ULL << 10;
	else if (unit == "m" || unit == "mib" || unit == "mb")
		mul = 1ULL << 20;
	else if (unit == "g" || unit == "gib" || unit == "gb")
		mul = 1ULL << 30;
	else if (unit == "t" || unit == "tib" || unit == "tb")
		mul = 1ULL << 40;
	else
		return std::nullopt;
	if (n && mul > UINT64_MAX / n)
		return std::nullopt;
	return n * mul;
}

std::optional<std::uint32_t> parse_perm(std::string_view s)
{
	std::uint32_t v = 0;

	if (s.empty() || s.size() > 4)
		return std::nullopt;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 8);

	if (ec != std::errc() || p != s.data() + s.size() || v > 0777)
		return std::nullopt;
	return v;
}

namespace {

// A range bound: plain number = pages; with a unit = bytes, page aligned.
std::optional<std::uint64_t> range_bound(std::string_view s, std::uint64_t psz, std::string *why)
{
	bool unit = !s.empty() && !std::isdigit(static_cast<unsigned char>(s.back()));
	auto v = unit ? parse_size(s, psz) : parse_uint(s);

	if (!v) {
		*why = "'" + std::string(s) + "' is neither a number of pages nor a size";
		return std::nullopt;
	}
	if (!unit) {
		if (*v > UINT64_MAX / psz) {
			*why = "'" + std::string(s) + "' pages is too large";
			return std::nullopt;
		}
		return *v * psz;
	}
	if (*v % psz) {
		*why = "'" + std::string(s) + "' is not a multiple of the page size (" +
		       std::to_string(psz) + " bytes)";
		return std::nullopt;
	}
	return v;
}

} // namespace

std::optional<Range> parse_range(std::string_view s, std::uint64_t psz, std::string *why)
{
	std::string ignored;
	Range r;

	if (!why)
		why = &ignored;
	auto plus = s.find('+');
	auto dots = s.find("..");

	if (plus != std::string_view::npos) {
		auto a = range_bound(s.substr(0, plus), psz, why);
		auto b = a ? range_bound(s.substr(plus + 1), psz, why) : std::nullopt;

		if (!b)
			return std::nullopt;
		r = { *a, *b };
	} else if (dots != std::string_view::npos) {
		auto a = range_bound(s.substr(0, dots), psz, why);
		auto b = a ? range_bound(s.substr(dots + 2), psz, why) : std::nullopt;

		if (!b)
			return std::nullopt;
		if (*b <= *a) {
			*why = "the end of '" + std::string(s) + "' is not after its start";
			return std::nullopt;
		}
		r = { *a, *b - *a };
	} else {
		auto b = range_bound(s, psz, why);

		if (!b)
			return std::nullopt;
		r = { 0, *b };
	}
	if (!r.len) {
		*why = "the range '" + std::string(s) + "' is empty";
		return std::nullopt;
	}
	if (r.offset > UINT64_MAX - r.len) {
		*why = "the range '" + std::string(s) + "' overflows";
		return std::nullopt;
	}
	return r;
}

std::string human_bytes(std::uint64_t b)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = static_cast<double>(b);
	int u = 0;

	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	char buf[32];

	// 1048575 B is "1.0 MiB", not "1024 KiB".
	if (u > 0 && u < 6 && std::round(v * 10) / 10 >= 1024) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(b));
	else if (std::fabs(v - std::round(v)) < 0.05)
		std::snprintf(buf, sizeof(buf), "%.0f %s", v, units[u]);
	else
		std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
	return buf;
}

std::string perm_string(std::uint32_t perm)
{
	std::string s(9, '-');
	static const char rwx[] = "rwx";

	for (int i = 0; i < 9; i++)
		if (perm & (0400u >> i))
			s[i] = rwx[i % 3];
	return s;
}

std::string format_time(std::int64_t t)
{
	if (!t)
		return "never";
	std::time_t tt = static_cast<std::time_t>(t);
	std::tm tm{};
	char buf[32];

	localtime_r(&tt, &tm);
	std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

std::string format_key(std::uint64_t key)
{
	char buf[24];

	std::snprintf(buf, sizeof(buf), "0x%08llx", static_cast<unsigned long long>(key));
	return buf;
}

std::string render_table(const std::vector<std::string> &header,
			 const std::vector<std::vector<std::string>> &rows,
			 const std::vector<bool> &right)
{
	std::vector<std::size_t> w(header.size());

	for (std::size_t c = 0; c < header.size(); c++)
		w[c] = header[c].size();
	for (const auto &r : rows)
		for (std::size_t c = 0; c < r.size() && c < w.size(); c++)
			w[c] = std::max(w[c], r[c].size());
	auto line = [&](const std::vector<std::string> &cells) {
		std::string out;

		for (std::size_t c = 0; c < w.size(); c++) {
			const std::string cell = c < cells.size() ? cells[c] : "";
			const std::string pad(w[c] - cell.size(), ' ');
			const bool r = c < right.size() && right[c];

			if (c)
				out += "  ";
			if (r)
				out += pad + cell;
			else if (c + 1 < w.size())
				out += cell + pad;
			else
				out += cell;
		}
		// No trailing blanks, also when the last cells are empty.
		while (!out.empty() && out.back() == ' ')
			out.pop_back();
		return out + "\n";
	};
	std::string out = line(header);

	for (const auto &r : rows)
		out += line(r);
	return out;
}

std::string progress_line(std::uint64_t done, std::uint64_t total, double seconds, unsigned width)
{
	if (done > total)
		done = total;
	const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
	const unsigned fill = static_cast<unsigned>(frac * width);
	char tail[96];

	std::snprintf(tail, sizeof(tail), "] %3u%%  %llu/%llu pages  %.1f s\033[K",
		      static_cast<unsigned>(frac * 100), static_cast<unsigned long long>(done),
		      static_cast<unsigned long long>(total), seconds);
	return "\r[" + std::string(fill, '#') + std::string(width - fill, ' ') + tail;
}

namespace {

std::size_t digits(std::uint64_t v)
{
	return std::to_string(v).size();
}

void strip_blanks(std::string &line)
{
	while (!line.empty() && line.back() == ' ')
		line.pop_back();
}

} // namespace

std::string render_msi_grid(std::uint64_t first, const std::vector<MsiNodeRow> &nodes,
			    const std::vector<my_shmem::DirEntry> &dir, unsigned per_block)
{
	if (dir.empty())
		return {};
	if (!per_block)
		per_block = 64;
	std::size_t cellw = 1;

	for (const my_shmem::DirEntry &d : dir) {
		if (d.owner)
			cellw = std::max(cellw, digits(*d.owner));
		cellw = std::max(cellw, digits(d.sharers));
	}
	const std::size_t pitch = cellw + (cellw > 1 ? 1 : 0);
	std::size_t labelw = std::string("sharers").size();

	for (const MsiNodeRow &n : nodes)
		labelw = std::max(labelw, ("node " + std::to_string(n.info.node)).size());
	auto label = [labelw](const std::string &l) { return l + std::string(labelw - l.size() + 2, ' '); };
	auto cell = [cellw](const std::string &c) {
		return std::string(cellw > c.size() ? cellw - c.size() : 0, ' ') + c;
	};
	std::string out;

	for (std::size_t b = 0; b < dir.size(); b += per_block) {
		const std::size_t e = std::min<std::size_t>(dir.size(), b + per_block);
		// The ruler: a page number every @step columns, each ending before the next.
		std::size_t step = 8;

		while (digits(first + e - 1) + 1 > step * pitch && step < per_block)
			step *= 2;
		std::string ruler = label("page");

		for (std::size_t k = 0; b + k < e; k += step) {
			const std::string num = std::to_string(first + b + k);

			ruler.resize(labelw + 2 + k * pitch, ' ');
			ruler += num;
		}
		strip_blanks(ruler);
		if (b)
			out += "\n";
		out += ruler + "\n";
		auto row = [&](const std::string &name, const std::function<std::string(std::size_t)> &at) {
			std::string line = label(name);

			for (std::size_t i = b; i < e; i++) {
				if (i > b && cellw > 1)
					line += ' ';
				line += cell(at(i));
			}
			strip_blanks(line);
			out += line + "\n";
		};
		for (const MsiNodeRow &n : nodes)
			row("node " + std::to_string(n.info.node), [&n](std::size_t i) {
				return std::string(1, i < n.states.size() ? my_shmem::msi::letter(n.states[i]) : '?');
			});
		row("dir", [&dir](std::size_t i) {
			return dir[i].owner ? std::to_string(*dir[i].owner) : std::string("-");
		});
		row("sharers", [&dir](std::size_t i) { return std::to_string(dir[i].sharers); });
	}
	return out;
}

my_shmem::json msi_view_json(std::uint32_t seg, std::uint64_t first,
			     const std::vector<MsiNodeRow> &nodes,
			     const std::vector<my_shmem::DirEntry> &dir)
{
	using my_shmem::json;
	json ns = json::array(), ds = json::array();

	for (const MsiNodeRow &n : nodes)
		ns.push_back(json{ { "node", n.info.node },
				   { "states", my_shmem::msi::letters(n.states) },
				   { "counters", my_shmem::node_counters(n.info) } });
	for (std::size_t i = 0; i < dir.size(); i++) {
		json e{ { "page", first + i } };

		e.update(my_shmem::to_json(dir[i]));
		ds.push_back(std::move(e));
	}
	return json{ { "segment", seg },
		     { "pages", dir.size() },
		     { "first", first },
		     { "nodes", std::move(ns) },
		     { "directory", std::move(ds) } };
}

std::string render_node_table(const std::vector<my_shmem::NodeInfo> &nodes)
{
	std::vector<std::vector<std::string>> rows;

	for (const my_shmem::NodeInfo &n : nodes)
		rows.push_back({ std::to_string(n.node), std::to_string(n.read_faults),
				 std::to_string(n.write_faults), std::to_string(n.fetches),
				 std::to_string(n.invals_received), std::to_string(n.writebacks),
				 std::to_string(n.bytes_moved), std::to_string(n.cleans),
				 std::to_string(n.invals), std::to_string(n.pages_s),
				 std::to_string(n.pages_m) });
	return render_table({ "node", "read_faults", "write_faults", "fetches", "invals_received",
			      "writebacks", "bytes_moved", "cleans", "invals", "pages_s", "pages_m" },
			    rows, std::vector<bool>(11, true));
}

} // namespace shmemctl
