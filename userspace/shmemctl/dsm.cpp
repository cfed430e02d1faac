// SPDX-License-Identifier: GPL-2.0
#include "dsm.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace shmemctl::dsm {

namespace {

std::string trim(std::string_view s)
{
	std::size_t b = 0, e = s.size();

	while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
		b++;
	while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
		e--;
	return std::string(s.substr(b, e - b));
}

void print(std::ostream &out, std::string_view s)
{
	out << s;
	out.flush();
}

// s2dsm's error line, with shmemctl's name: after what went to @out.
void complain(std::ostream &out, std::ostream &err, const std::string &msg)
{
	out.flush();
	err << "shmemctl: " << msg << "\n";
	err.flush();
}

} // namespace

std::string prompt_page(std::size_t pages)
{
	char buf[96];

	std::snprintf(buf, sizeof(buf), "> For which page? (0-%li, or -1 for all): ",
		      static_cast<long>(pages) - 1);
	return buf;
}

std::string region_lines(const void *addr, std::size_t len)
{
	char buf[128];

	std::snprintf(buf, sizeof(buf), "Address returned by mmap() = %p\nSize of mapped region = %zu\n",
		      addr, len);
	return buf;
}

std::string page_lines(std::size_t page, std::string_view text)
{
	char head[64];

	std::snprintf(head, sizeof(head), "[*] Page %zu:\n", page);
	return std::string(head) + std::string(text) + "\n";
}

std::optional<std::uint64_t> ask_pages(const ReadLine &in, std::ostream &out, std::ostream &err,
				       std::uint64_t max, Input *end)
{
	std::string line;

	for (;;) {
		print(out, kPromptPages);
		const Input got = in(line);

		if (got != Input::Line) {
			if (end)
				*end = got;
			return std::nullopt;
		}
		// s2dsm: strtoull, blanks after the number allowed, no sign.
		char *stop = nullptr;
		errno = 0;
		const unsigned long long v = std::strtoull(line.c_str(), &stop, 10);

		while (stop && (*stop == ' ' || *stop == '\t'))
			stop++;
		if (line.empty() || !stop || *stop != '\0' || line[0] == '-' || errno || v == 0 ||
		    v > max) {
			complain(out, err, "please enter a whole number from 1 to " + std::to_string(max));
			continue;
		}
		return v;
	}
}

Input run(Node &node, const ReadLine &in, std::ostream &out, std::ostream &err, bool json)
{
	const long last = static_cast<long>(node.pages()) - 1;
	std::string line;
	Input got = Input::Line;
	auto ask = [&](std::string_view prompt) {
		print(out, prompt);
		got = in(line);
		return got == Input::Line;
	};

	for (;;) {
		if (!ask(kPromptCommand))
			return got;
		const std::string cmd = trim(line);

		if (cmd != "r" && cmd != "w" && cmd != "v") {
			complain(out, err, "unknown command '" + cmd +
						   "': type r (read), w (write) or v (view msi array)");
			continue;
		}
		if (!ask(prompt_page(node.pages())))
			return got;
		const std::string text = trim(line);
		long page = 0;
		auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), page);

		if (text.empty() || ec != std::errc() || p != text.data() + text.size() || page < -1 ||
		    page > last) {
			complain(out, err, "no page '" + text + "': enter a number from 0 to " +
						   std::to_string(last) + ", or -1 for all pages");
			continue;
		}
		const std::size_t b = page < 0 ? 0 : static_cast<std::size_t>(page);
		const std::size_t e = page < 0 ? node.pages() : b + 1;

		if (cmd == "r") {
			for (std::size_t i = b; i < e; i++) {
				bool faulted = false;
				const std::string content = node.read(i, &faulted);

				print(out, (faulted ? std::string(kPageFault) : std::string()) +
						   page_lines(i, content));
			}
		} else if (cmd == "w") {
			if (!ask(kPromptMessage))
				return got;
			for (std::size_t i = b; i < e; i++)
				if (node.write(i, line))
					print(out, kPageFault);
		} else {
			const std::vector<my_shmem::msi::State> all = node.states();
			std::vector<my_shmem::msi::PageState> v;

			for (std::size_t i = b; i < e && i < all.size(); i++)
				v.push_back({ i, all[i] });
			print(out, my_shmem::msi::format_view(v, json ? my_shmem::msi::Format::Json :
									my_shmem::msi::Format::Text));
		}
	}
}

} // namespace shmemctl::dsm
