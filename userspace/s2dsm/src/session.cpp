// SPDX-License-Identifier: GPL-2.0
#include "session.hpp"

#include "error.hpp"
#include "output.hpp"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace s2dsm {

using my_shmem::msi::PageState;

std::atomic<int> g_signal{0};

namespace {

int g_signal_efd = -1;

extern "C" void on_signal(int sig)
{
	g_signal.store(sig);
	std::uint64_t one = 1;
	[[maybe_unused]] ssize_t rc = ::write(g_signal_efd, &one, sizeof one);
}

std::string trim(std::string_view s)
{
	std::size_t b = 0, e = s.size();
	while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
		++b;
	while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
		--e;
	return std::string(s.substr(b, e - b));
}

template <typename T> std::optional<T> parse_number(std::string_view s)
{
	T v{};
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p != s.data() + s.size() || s.empty())
		return std::nullopt;
	return v;
}

std::uint64_t now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t load_token(const std::byte *p) { return __atomic_load_n(reinterpret_cast<const std::uint64_t *>(p), __ATOMIC_ACQUIRE); }
void store_token(std::byte *p, std::uint64_t v) { __atomic_store_n(reinterpret_cast<std::uint64_t *>(p), v, __ATOMIC_RELEASE); }

// The page range a command addresses: one page, or all for -1.
std::pair<std::size_t, std::size_t> range_of(const Dsm &dsm, long page)
{
	if (page < 0)
		return {0, dsm.pages()};
	return {static_cast<std::size_t>(page), static_cast<std::size_t>(page) + 1};
}

void do_read(Dsm &dsm, long page)
{
	auto [b, e] = range_of(dsm, page);
	for (std::size_t i = b; i < e; ++i) {
		const char *p = reinterpret_cast<const char *>(dsm.page(i));
		std::string content(p, ::strnlen(p, dsm.page_size())); // may fault
		dsm.check();
		char head[64];
		std::snprintf(head, sizeof head, "[*] Page %zu:\n", i);
		out::print(std::string(head) + content + "\n");
	}
}

void do_write(Dsm &dsm, long page, const std::string &text)
{
	auto [b, e] = range_of(dsm, page);
	std::size_t n = std::min(text.size(), dsm.page_size() - 1);
	for (std::size_t i = b; i < e; ++i) {
		char *p = reinterpret_cast<char *>(dsm.page(i));
		std::memcpy(p, text.data(), n); // may fault
		p[n] = '\0';
		dsm.check();
	}
}

void do_view(Dsm &dsm, long page, bool json)
{
	auto states = dsm.states();
	auto [b, e] = range_of(dsm, page);
	std::vector<PageState> v;
	for (std::size_t i = b; i < e; ++i)
		v.push_back({i, states[i]});
	out::print(my_shmem::msi::format_view(v, json ? my_shmem::msi::Format::Json : my_shmem::msi::Format::Text));
}

void sleep_interruptible(Dsm &dsm, double ms)
{
	pollfd pf[2] = {{dsm.ended_fd(), POLLIN, 0}, {signal_fd(), POLLIN, 0}};
	::poll(pf, 2, static_cast<int>(ms));
	dsm.check();
	if (g_signal.load())
		throw SessionEnded{};
}

void interrupted(Dsm &dsm)
{
	dsm.check();
	if (g_signal.load())
		throw SessionEnded{};
}

// Random single-word reads and writes; one log line per completed operation:
//   op <r|w> <page> <token-hex> <start-ns> <end-ns>
// Tokens are (node << 56 | counter); 0 is the initial (never written) value.
void do_stress(Dsm &dsm, const ScriptCommand &c, const SessionOptions &opt)
{
	const std::uint64_t node = opt.first ? 1 : 2;
	std::mt19937_64 rng(c.seed * 2654435761ULL + node);
	std::uint64_t counter = 0;
	std::string log;
	log.reserve(1 << 20);
	const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(c.number * 1e9);
	char line[128];
	std::uint64_t ops = 0;
	while (now_ns() < deadline) {
		interrupted(dsm);
		std::size_t page = rng() % dsm.pages();
		bool write = rng() & 1;
		std::uint64_t t0, t1, v;
		if (write) {
			v = (node << 56) | ++counter;
			t0 = now_ns();
			store_token(dsm.page(page), v);
			t1 = now_ns();
		} else {
			t0 = now_ns();
			v = load_token(dsm.page(page));
			t1 = now_ns();
		}
		dsm.check();
		std::snprintf(line, sizeof line, "op %c %zu %llx %llu %llu\n", write ? 'w' : 'r', page,
			      static_cast<unsigned long long>(v), static_cast<unsigned long long>(t0),
			      static_cast<unsigned long long>(t1));
		log += line;
		++ops;
	}
	out::print(log);
	Dsm::Stats st = dsm.stats();
	out::print("stress-done ops=" + std::to_string(ops) + " faults=" + std::to_string(st.faults) +
		   " requests=" + std::to_string(st.requests) + " served=" + std::to_string(st.served) +
		   " deferred=" + std::to_string(st.deferred) + "\n");
}

// Benchmark: the first process dirties every page, the second reads each page once
// (every read is a miss that fetches the page from the first), timing each read.
void do_readmiss(Dsm &dsm, const ScriptCommand &c, const SessionOptions &opt)
{
	const auto rounds = static_cast<std::uint64_t>(c.number);
	std::vector<std::uint64_t> samples;
	for (std::uint64_t r = 1; r <= rounds; ++r) {
		if (opt.first)
			for (std::size_t i = 0; i < dsm.pages(); ++i)
				store_token(dsm.page(i), r);
		dsm.check();
		dsm.barrier(60);
		if (!opt.first) {
			for (std::size_t i = 0; i < dsm.pages(); ++i) {
				std::uint64_t t0 = now_ns();
				std::uint64_t v = load_token(dsm.page(i));
				std::uint64_t t1 = now_ns();
				dsm.check();
				if (v != r)
					throw Error(kExitError, "readmiss: page " + std::to_string(i) + " read " +
									std::to_string(v) + ", expected " + std::to_string(r));
				samples.push_back(t1 - t0);
			}
		}
		dsm.barrier(60);
	}
	if (!opt.first) {
		std::string s = "readmiss-ns";
		for (auto v : samples)
			s += " " + std::to_string(v);
		out::print(s + "\n");
	}
}

// Benchmark: a token bounces between the two processes through page 0; each round
// trip is two ownership migrations in each direction (read miss + upgrade).
void do_pingpong(Dsm &dsm, const ScriptCommand &c, const SessionOptions &opt)
{
	const auto n = static_cast<std::uint64_t>(c.number);
	std::byte *p = dsm.page(0);
	auto wait_for = [&](std::uint64_t want) {
		while (load_token(p) != want) {
			interrupted(dsm);
			::sched_yield();
		}
	};
	dsm.barrier(60);
	std::uint64_t t0 = now_ns();
	for (std::uint64_t i = 0; i < n; ++i) {
		if (opt.first) {
			store_token(p, 2 * i + 1);
			wait_for(2 * i + 2);
		} else {
			wait_for(2 * i + 1);
			store_token(p, 2 * i + 2);
		}
	}
	std::uint64_t t1 = now_ns();
	dsm.check();
	dsm.barrier(60);
	if (opt.first)
		out::print("pingpong round_trips=" + std::to_string(n) + " ns=" + std::to_string(t1 - t0) + "\n");
}

} // namespace

int signal_fd()
{
	return g_signal_efd;
}

void install_signal_handlers()
{
	g_signal_efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g_signal_efd < 0)
		throw_errno("eventfd");
	struct sigaction sa{};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; // no SA_RESTART: blocking calls return EINTR
	for (int s : {SIGINT, SIGTERM, SIGHUP})
		::sigaction(s, &sa, nullptr);
	::signal(SIGPIPE, SIG_IGN);
}

LineReader::Status LineReader::read(std::string &line, std::initializer_list<int> watch)
{
	for (;;) {
		auto nl = buf_.find('\n');
		if (nl != std::string::npos) {
			line = buf_.substr(0, nl);
			buf_.erase(0, nl + 1);
			if (!line.empty() && line.back() == '\r')
				line.pop_back();
			return Status::Line;
		}
		if (eof_) {
			if (buf_.empty())
				return Status::Eof;
			line.swap(buf_);
			buf_.clear();
			return Status::Line;
		}
		std::vector<pollfd> pf{{fd_, POLLIN, 0}};
		for (int w : watch)
			if (w >= 0)
				pf.push_back({w, POLLIN, 0});
		int n = ::poll(pf.data(), pf.size(), -1);
		if (n < 0) {
			if (errno == EINTR) {
				if (g_signal.load())
					return Status::Interrupted;
				continue;
			}
			throw_errno("poll on standard input");
		}
		for (std::size_t i = 1; i < pf.size(); ++i)
			if (pf[i].revents)
				return Status::Interrupted;
		char tmp[4096];
		ssize_t rc = ::read(fd_, tmp, sizeof tmp);
		if (rc < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			throw_errno("read standard input");
		}
		if (rc == 0)
			eof_ = true;
		else
			buf_.append(tmp, static_cast<std::size_t>(rc));
	}
}

std::vector<ScriptCommand> parse_script(const std::string &path)
{
	std::ifstream f(path);
	if (!f)
		throw Error(kExitUsage, "open script " + path + ": " + errno_text(errno));
	std::vector<ScriptCommand> cmds;
	std::string raw;
	int lineno = 0;
	while (std::getline(f, raw)) {
		++lineno;
		std::string l = trim(raw);
		if (l.empty() || l[0] == '#')
			continue;
		std::istringstream is(l);
		std::string word, arg;
		is >> word;
		auto bad = [&](const std::string &why) {
			return Error(kExitUsage, "script " + path + " line " + std::to_string(lineno) + ": " + why);
		};
		auto need_number = [&](const char *what) {
			if (!(is >> arg))
				throw bad(word + " needs " + what);
			auto v = parse_number<double>(arg);
			if (!v || *v < 0)
				throw bad("'" + arg + "' is not a valid " + what);
			return *v;
		};
		auto need_page = [&](bool optional) -> long {
			if (!(is >> arg)) {
				if (optional)
					return -1;
				throw bad(word + " needs a page number (or -1 for all)");
			}
			auto v = parse_number<long>(arg);
			if (!v || *v < -1)
				throw bad("'" + arg + "' is not a page number (or -1 for all)");
			return *v;
		};
		ScriptCommand c{};
		c.line = lineno;
		if (word == "r") {
			c.op = ScriptCommand::Op::Read;
			c.page = need_page(false);
		} else if (word == "w") {
			c.op = ScriptCommand::Op::Write;
			c.page = need_page(false);
			std::string rest;
			std::getline(is, rest);
			c.text = trim(rest);
		} else if (word == "v") {
			c.op = ScriptCommand::Op::View;
			c.page = need_page(true);
		} else if (word == "barrier") {
			c.op = ScriptCommand::Op::Barrier;
		} else if (word == "sleep") {
			c.op = ScriptCommand::Op::Sleep;
			c.number = need_number("duration in milliseconds");
		} else if (word == "stress") {
			c.op = ScriptCommand::Op::Stress;
			c.number = need_number("duration in seconds");
			if (is >> arg) {
				auto s = parse_number<std::uint64_t>(arg);
				if (!s)
					throw bad("'" + arg + "' is not a seed");
				c.seed = *s;
			}
		} else if (word == "readmiss") {
			c.op = ScriptCommand::Op::ReadMiss;
			c.number = need_number("number of rounds");
		} else if (word == "pingpong") {
			c.op = ScriptCommand::Op::PingPong;
			c.number = need_number("number of round trips");
		} else {
			throw bad("unknown command '" + word + "'");
		}
		if (c.op != ScriptCommand::Op::Write && (is >> arg))
			throw bad("unexpected '" + arg + "' after " + word);
		cmds.push_back(std::move(c));
	}
	return cmds;
}

void run_script(Dsm &dsm, const std::vector<ScriptCommand> &script, const SessionOptions &opt)
{
	for (const ScriptCommand &c : script) {
		interrupted(dsm);
		if ((c.op == ScriptCommand::Op::Read || c.op == ScriptCommand::Op::Write ||
		     c.op == ScriptCommand::Op::View) &&
		    c.page >= static_cast<long>(dsm.pages()))
			throw Error(kExitUsage, "script line " + std::to_string(c.line) + ": page " +
							std::to_string(c.page) + " out of range (0-" +
							std::to_string(dsm.pages() - 1) + ", or -1 for all)");
		switch (c.op) {
		case ScriptCommand::Op::Read: do_read(dsm, c.page); break;
		case ScriptCommand::Op::Write: do_write(dsm, c.page, c.text); break;
		case ScriptCommand::Op::View: do_view(dsm, c.page, opt.json); break;
		case ScriptCommand::Op::Barrier: dsm.barrier(120); break;
		case ScriptCommand::Op::Sleep: sleep_interruptible(dsm, c.number); break;
		case ScriptCommand::Op::Stress: do_stress(dsm, c, opt); break;
		case ScriptCommand::Op::ReadMiss: do_readmiss(dsm, c, opt); break;
		case ScriptCommand::Op::PingPong: do_pingpong(dsm, c, opt); break;
		}
	}
}

void run_interactive(Dsm &dsm, LineReader &in, const SessionOptions &opt)
{
	const long last = static_cast<long>(dsm.pages()) - 1;
	std::string line;
	auto ask = [&](const std::string &prompt) {
		out::print(prompt);
		auto st = in.read(line, {dsm.ended_fd(), signal_fd()});
		if (st == LineReader::Status::Interrupted)
			throw SessionEnded{};
		return st == LineReader::Status::Line;
	};
	for (;;) {
		if (!ask("> Which command should I run? (r:read, w:write, v:view msi array): "))
			return;
		std::string cmd = trim(line);
		if (cmd != "r" && cmd != "w" && cmd != "v") {
			out::error("unknown command '" + cmd + "': type r (read), w (write) or v (view msi array)");
			continue;
		}
		char prompt[96];
		std::snprintf(prompt, sizeof prompt, "> For which page? (0-%li, or -1 for all): ", last);
		if (!ask(prompt))
			return;
		auto page = parse_number<long>(trim(line));
		if (!page || *page < -1 || *page > last) {
			out::error("no page '" + trim(line) + "': enter a number from 0 to " + std::to_string(last) +
				   ", or -1 for all pages");
			continue;
		}
		if (cmd == "r") {
			do_read(dsm, *page);
		} else if (cmd == "w") {
			if (!ask("> Type your new message: "))
				return;
			do_write(dsm, *page, line);
		} else {
			do_view(dsm, *page, opt.json);
		}
		dsm.check();
	}
}

} // namespace s2dsm
