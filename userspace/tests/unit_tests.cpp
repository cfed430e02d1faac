// SPDX-License-Identifier: GPL-2.0
// Host unit tests of libmy_shmem and shmemctl, without the module:
//   - format.hpp: parsing of numbers, sizes, permission bits and ranges; the
//     human-readable forms, tables, the progress bar, the MSI grid, msi view's
//     JSON and msi nodes' table;
//   - params.hpp: what each module parameter accepts;
//   - dsm.hpp: the s2dsm session's prompts, prints and re-prompts, over a
//     fake node;
//   - the command line (make_app): every option lands in Options, malformed
//     lines are refused (exit 2), --help / --help-all / --version at every level;
//   - the library and every command against a fake root (a directory tree that
//     imitates /sys/module/my_shmem, /sys/class/misc/my_shmem/stats, tracefs and
//     /dev/my_shmem, the last a regular file), text and JSON field by field, the
//     errors and their hints, the module not loaded;
//   - touch's progress bar on a pseudo-terminal, and its absence on a pipe (the
//     built shmemctl: $SHMEMCTL_BIN, else SHMEMCTL_REPO/build/host/bin/shmemctl);
//   - the bash completion against the command line it completes.
//
// Every JSON document produced here is also written to $SHMEMCTL_JSON_OUT
// (when set) as <kind>-<n>.json (watch: .jsonl), the naming convention of
// userspace/tests/check_schema.py --dir, which checks them against
// docs/shmemctl.schema.json (make check).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <linux/my_shmem.h>

#include "cli.hpp"
#include "commands.hpp"
#include "dsm.hpp"
#include "format.hpp"
#include "my_shmem/my_shmem.hpp"

namespace fs = std::filesystem;
using my_shmem::json;

namespace {

const std::uint64_t kPsz = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));

bool contains(const std::string &hay, const std::string &needle)
{
	return hay.find(needle) != std::string::npos;
}

std::size_t count(const std::string &hay, const std::string &needle)
{
	std::size_t n = 0;

	for (std::size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1))
		n++;
	return n;
}

// ---------------------------------------------------------------- recording

// Keep a JSON document for the schema check: $SHMEMCTL_JSON_OUT/<kind>-<n>.<ext>.
void record(const std::string &kind, const std::string &text, const char *ext = "json")
{
	static std::map<std::string, int> seq;
	const char *dir = std::getenv("SHMEMCTL_JSON_OUT");

	if (!dir || !*dir)
		return;
	std::error_code ec;

	fs::create_directories(dir, ec);
	std::ofstream(std::string(dir) + "/" + kind + "-" + std::to_string(seq[kind]++) + "." + ext)
		<< text;
}

// ---------------------------------------------------------------- fake root

// A directory tree that looks like a system with my_shmem loaded: sysfs
// (module, parameters, stats), tracefs events and a 16-page regular file as
// /dev/my_shmem.  Removed with everything in it at the end.
class FakeRoot {
public:
	explicit FakeRoot(std::uint64_t dev_pages = 16)
	{
		char t[] = "/tmp/shmemctl-unit.XXXXXX";

		if (!mkdtemp(t))
			throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
		dir = t;
		write("/sys/module/my_shmem/version", "1.0\n");
		write("/sys/module/my_shmem/srcversion", "4C1D2E3F4A5B6C7D8E9F0A1\n");
		for (const auto &[n, v] : params)
			write(param_rel(n), v + "\n", n == "seg0_mode" ? 0444 : 0644);
		for (const auto &[n, v] : stats)
			write(stats_rel(n), std::to_string(v) + "\n", 0444);
		write(stats_rel("allocs_by_order"), "5 0 3 0 0 0 0 0 0 0 1\n", 0444);
		for (const char *e : { "seg_create", "fault", "alloc", "inval", "clean" })
			fs::create_directories(dir + "/sys/kernel/tracing/events/my_shmem/" + e);
		write("/sys/kernel/tracing/events/my_shmem/enable", "0\n");
		write("/sys/kernel/tracing/events/my_shmem/filter", "none\n");
		write("/dev/my_shmem", "");
		if (truncate(path("/dev/my_shmem").c_str(), static_cast<off_t>(dev_pages * kPsz)))
			throw std::runtime_error("truncate the fake device");
	}
	~FakeRoot()
	{
		std::error_code ec;

		fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
		fs::remove_all(dir, ec);
	}
	FakeRoot(const FakeRoot &) = delete;
	FakeRoot &operator=(const FakeRoot &) = delete;

	std::string path(const std::string &rel) const { return dir + rel; }
	static std::string param_rel(const std::string &n)
	{
		return "/sys/module/my_shmem/parameters/" + n;
	}
	static std::string stats_rel(const std::string &n)
	{
		return "/sys/class/misc/my_shmem/stats/" + n;
	}
	void write(const std::string &rel, const std::string &text, mode_t mode = 0644) const
	{
		const std::string p = path(rel);

		fs::create_directories(fs::path(p).parent_path());
		if (::access(p.c_str(), F_OK) == 0)
			chmod(p.c_str(), 0644);
		std::ofstream(p, std::ios::trunc) << text;
		chmod(p.c_str(), mode);
	}
	std::string read(const std::string &rel) const
	{
		std::ifstream f(path(rel));
		std::stringstream ss;

		ss << f.rdbuf();
		return ss.str();
	}
	std::string param(const std::string &n) const
	{
		std::string s = read(param_rel(n));

		if (!s.empty() && s.back() == '\n')
			s.pop_back();
		return s;
	}
	void unload() const { fs::remove_all(path("/sys/module/my_shmem")); }
	my_shmem::Paths paths() const { return my_shmem::Paths{ dir }; }

	std::string dir;
	// What the fake module shows.
	const std::vector<std::pair<std::string, std::string>> params = {
		{ "max_contiguous_alloc_order", "0" }, { "backend", "insn" },
		{ "max_pages", "262144" },		{ "max_segments", "64" },
		{ "max_segment_pages", "1024" },	{ "seg0_pages", "16" },
		{ "seg0_mode", "0600" },
	};
	const std::vector<std::pair<std::string, std::uint64_t>> stats = {
		{ "pages_in_use", 12 }, { "faults", 34 }, { "cleans", 56 }, { "invals", 7 },
		{ "sigbus", 1 },	{ "order_fallbacks", 2 }, { "vmas", 3 }, { "files", 4 },
		{ "segments", 5 },
	};
	const std::vector<std::uint64_t> allocs = { 5, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1 };
};

// ---------------------------------------------------------------- running

struct Result {
	int rc = -1;
	std::string out, err;
	json j() const { return json::parse(out); }
};

// shmemctl's main_with() in this process.
Result ctl(const std::vector<std::string> &args)
{
	std::vector<std::string> store = { "shmemctl" };
	std::vector<char *> argv;
	std::ostringstream out, err;
	Result r;

	store.insert(store.end(), args.begin(), args.end());
	for (auto &s : store)
		argv.push_back(s.data());
	argv.push_back(nullptr);
	r.rc = shmemctl::main_with(static_cast<int>(store.size()), argv.data(), out, err);
	r.out = out.str();
	r.err = err.str();
	return r;
}

// With --root @root.
Result ctl(const FakeRoot &root, std::vector<std::string> args)
{
	args.insert(args.begin(), { "--root", root.dir });
	return ctl(args);
}

// --json, expect exit status @rc, record as @kind, parse.
json ctl_json(const FakeRoot &root, const std::string &kind, std::vector<std::string> args,
	      int rc = 0)
{
	args.insert(args.begin(), "--json");
	Result r = ctl(root, args);

	EXPECT_EQ(rc, r.rc) << testing::PrintToString(args) << "\n" << r.err;
	record(kind, r.out);
	try {
		return r.j();
	} catch (const std::exception &e) {
		ADD_FAILURE() << "not JSON: '" << r.out << "': " << e.what();
		return json();
	}
}

std::vector<std::string> keys(const json &j)
{
	std::vector<std::string> k;

	for (auto it = j.begin(); it != j.end(); ++it)
		k.push_back(it.key());
	return k;
}

// Run @fn in a child as nobody (uid/gid 65534) when root, as is otherwise;
// returns what @fn returned ("" = fine), or nullopt if the child could not
// drop root.
std::optional<std::string> as_nobody(const std::function<std::string()> &fn)
{
	int p[2];

	if (pipe(p))
		return std::string("pipe: ") + std::strerror(errno);
	pid_t pid = fork();

	if (pid == 0) {
		close(p[0]);
		if (geteuid() == 0 && (setgroups(0, nullptr) || setgid(65534) || setuid(65534)))
			_exit(77);
		std::string msg;

		try {
			msg = fn();
		} catch (const std::exception &e) {
			msg = std::string("exception: ") + e.what();
		}
		if (!msg.empty() && ::write(p[1], msg.data(), msg.size()) < 0)
			_exit(2);
		_exit(msg.empty() ? 0 : 1);
	}
	close(p[1]);
	std::string msg;
	char buf[512];
	ssize_t n;

	while ((n = ::read(p[0], buf, sizeof(buf))) > 0)
		msg.append(buf, static_cast<std::size_t>(n));
	close(p[0]);
	int st = 0;

	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		return std::nullopt;
	if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && msg.empty()))
		return "the child failed (status " + std::to_string(st) + ")";
	return msg;
}


// ================================================================ format.hpp

TEST(Format, ParseUintDecimalHexOctal)
{
	using shmemctl::parse_uint;

	EXPECT_EQ(parse_uint("42"), 42u);
	EXPECT_EQ(parse_uint("0"), 0u);
	EXPECT_EQ(parse_uint("0x2a"), 42u);
	EXPECT_EQ(parse_uint("0X2A"), 42u);
	EXPECT_EQ(parse_uint("052"), 42u);
	EXPECT_EQ(parse_uint("00"), 0u);
	EXPECT_EQ(parse_uint("18446744073709551615"), UINT64_MAX);
	EXPECT_EQ(parse_uint("0xffffffffffffffff"), UINT64_MAX);
}

TEST(Format, ParseUintRefusesGarbage)
{
	using shmemctl::parse_uint;

	for (const char *s : { "", "x", "0x", "08", "09", "12a", "-1", "+1", " 1", "1 ", "0xg",
			       "1.5", "18446744073709551616", "0x10000000000000000" })
		EXPECT_FALSE(parse_uint(s).has_value()) << "'" << s << "'";
}

TEST(Format, ParseSizeUnits)
{
	using shmemctl::parse_size;

	EXPECT_EQ(parse_size("4096", 4096), 4096u);
	EXPECT_EQ(parse_size("0", 4096), 0u);
	EXPECT_EQ(parse_size("10B", 4096), 10u);
	EXPECT_EQ(parse_size("64K", 4096), 65536u);
	EXPECT_EQ(parse_size("64k", 4096), 65536u);
	EXPECT_EQ(parse_size("1M", 4096), 1u << 20);
	EXPECT_EQ(parse_size("2G", 4096), 2ULL << 30);
	EXPECT_EQ(parse_size("1T", 4096), 1ULL << 40);
	EXPECT_EQ(parse_size("1KiB", 4096), 1024u);
	EXPECT_EQ(parse_size("3MiB", 4096), 3u << 20);
	EXPECT_EQ(parse_size("1GiB", 4096), 1ULL << 30);
	EXPECT_EQ(parse_size("1TiB", 4096), 1ULL << 40);
	EXPECT_EQ(parse_size("1kb", 4096), 1024u);
	EXPECT_EQ(parse_size("1gb", 4096), 1ULL << 30);
	// pages of the given page size
	EXPECT_EQ(parse_size("16p", 4096), 16u * 4096);
	EXPECT_EQ(parse_size("16p", 65536), 16u * 65536);
	EXPECT_EQ(parse_size("16pages", 4096), 16u * 4096);
	EXPECT_EQ(parse_size("1page", 16384), 16384u);
	EXPECT_EQ(parse_size("2P", 4096), 8192u);
}

TEST(Format, ParseSizeOverflowAndGarbage)
{
	using shmemctl::parse_size;

	EXPECT_EQ(parse_size("16777215T", 4096), 16777215ULL << 40);
	EXPECT_FALSE(parse_size("16777216T", 4096)) << "2^64 overflows";
	EXPECT_FALSE(parse_size("18446744073709551616", 4096));
	EXPECT_FALSE(parse_size("4503599627370496p", 4096)) << "2^52 pages of 4K overflow";
	EXPECT_EQ(parse_size("4503599627370495p", 4096), 4503599627370495ULL * 4096);
	for (const char *s : { "", "K", "M", "1Q", "1.5M", "-1", "1 M", "0x10", "1MM", "1Mi", "p",
			       "1pag", "1Kib " })
		EXPECT_FALSE(parse_size(s, 4096).has_value()) << "'" << s << "'";
}

TEST(Format, ParsePermBounds)
{
	using shmemctl::parse_perm;

	EXPECT_EQ(parse_perm("600"), 0600u);
	EXPECT_EQ(parse_perm("0660"), 0660u);
	EXPECT_EQ(parse_perm("0777"), 0777u);
	EXPECT_EQ(parse_perm("0"), 0u);
	EXPECT_EQ(parse_perm("0000"), 0u);
	EXPECT_EQ(parse_perm("7"), 07u);
	for (const char *s : { "", "1000", "0778", "0999", "8", "00600", "rw", "-1", "0x1ff",
			       " 600" })
		EXPECT_FALSE(parse_perm(s).has_value()) << "'" << s << "'";
}

TEST(Format, ParseRangeForms)
{
	using shmemctl::parse_range;
	std::string why;

	auto r = parse_range("0+64", 4096, &why);
	ASSERT_TRUE(r) << why;
	EXPECT_EQ(r->offset, 0u);
	EXPECT_EQ(r->len, 64u * 4096);

	r = parse_range("4+8", 4096, &why);
	ASSERT_TRUE(r) << why;
	EXPECT_EQ(r->offset, 4u * 4096);
	EXPECT_EQ(r->len, 8u * 4096);

	r = parse_range("4..8", 4096, &why);
	ASSERT_TRUE(r) << why;
	EXPECT_EQ(r->offset, 4u * 4096);
	EXPECT_EQ(r->len, 4u * 4096) << "END is excluded";

	r = parse_range("16", 4096, &why);
	ASSERT_TRUE(r) << why;
	EXPECT_EQ(r->offset, 0u);
	EXPECT_EQ(r->len, 16u * 4096);

	r = parse_range("0x10", 4096, &why);
	ASSERT_TRUE(r) << why;
	EXPECT_EQ(r->len, 16u * 4096);

	// with units: bytes, page aligned
	r = parse_range("64K+1M", 4096, &why);
	ASSERT_TRUE(r) << why;
	EXPECT_EQ(r->offset, 65536u);
	EXPECT_EQ(r->len, 1u << 20);

	r = parse_range("1M..2M", 4096, &why);
	ASSERT_TRUE(r) << why;
	EXPECT_EQ(r->offset, 1u << 20);
	EXPECT_EQ(r->len, 1u << 20);

	r = parse_range("2p+16K", 16384, &why);
	ASSERT_TRUE(r) << why;
	EXPECT_EQ(r->offset, 32768u);
	EXPECT_EQ(r->len, 16384u);

	// a page count is in pages of the given size
	r = parse_range("1+1", 65536, &why);
	ASSERT_TRUE(r) << why;
	EXPECT_EQ(r->offset, 65536u);
	EXPECT_EQ(r->len, 65536u);
}

TEST(Format, ParseRangeRefusesWithAReason)
{
	using shmemctl::parse_range;
	auto refused = [](const std::string &text, const std::string &reason) {
		std::string why;
		auto r = shmemctl::parse_range(text, 4096, &why);

		EXPECT_FALSE(r) << text;
		EXPECT_TRUE(contains(why, reason)) << text << ": '" << why << "' lacks '" << reason
						   << "'";
	};

	refused("", "neither a number of pages nor a size");
	refused("lots", "neither a number of pages nor a size");
	refused("+4", "neither");
	refused("4+", "neither");
	refused("..4", "neither");
	refused("1000B+4K", "not a multiple of the page size (4096 bytes)");
	refused("0+6K", "not a multiple of the page size");
	refused("0+0", "is empty");
	refused("0", "is empty");
	refused("0K..0K", "not after its start");
	refused("4..2", "not after its start");
	refused("4..4", "not after its start");
	refused("18446744073709551615+1", "too large");
	refused("4503599627370496+1", "too large");
	// Both ends representable, their sum is not.
	refused("4503599627370495+2", "overflows");
	refused("16777215T+1T", "overflows");
	// A null why is allowed.
	EXPECT_FALSE(parse_range("x", 4096, nullptr));
	EXPECT_TRUE(parse_range("1", 4096, nullptr));
}

TEST(Format, HumanBytes)
{
	using shmemctl::human_bytes;

	EXPECT_EQ(human_bytes(0), "0 B");
	EXPECT_EQ(human_bytes(1), "1 B");
	EXPECT_EQ(human_bytes(1023), "1023 B");
	EXPECT_EQ(human_bytes(1024), "1 KiB");
	EXPECT_EQ(human_bytes(1536), "1.5 KiB");
	EXPECT_EQ(human_bytes(4096), "4 KiB");
	EXPECT_EQ(human_bytes(65536), "64 KiB");
	EXPECT_EQ(human_bytes(1048576), "1 MiB");
	EXPECT_EQ(human_bytes(1572864), "1.5 MiB");
	EXPECT_EQ(human_bytes(1073741824), "1 GiB");
	EXPECT_EQ(human_bytes(1ULL << 40), "1 TiB");
	EXPECT_EQ(human_bytes(1ULL << 50), "1 PiB");
	EXPECT_EQ(human_bytes(UINT64_MAX), "16 EiB");
}

TEST(Format, PermString)
{
	using shmemctl::perm_string;

	EXPECT_EQ(perm_string(0640), "rw-r-----");
	EXPECT_EQ(perm_string(0), "---------");
	EXPECT_EQ(perm_string(0777), "rwxrwxrwx");
	EXPECT_EQ(perm_string(0751), "rwxr-x--x");
	EXPECT_EQ(perm_string(0400), "r--------");
	EXPECT_EQ(perm_string(0002), "-------w-");
	EXPECT_EQ(perm_string(0001), "--------x");
}

TEST(Format, FormatKeyAndTime)
{
	using shmemctl::format_key;

	EXPECT_EQ(format_key(0x2a), "0x0000002a");
	EXPECT_EQ(format_key(0), "0x00000000");
	EXPECT_EQ(format_key(0xdeadbeef), "0xdeadbeef");
	EXPECT_EQ(format_key(0x123456789ULL), "0x123456789");

	EXPECT_EQ(shmemctl::format_time(0), "never");
	const char *old = std::getenv("TZ");
	const std::string saved = old ? old : "";

	setenv("TZ", "UTC", 1);
	tzset();
	EXPECT_EQ(shmemctl::format_time(86400 + 3600 + 61), "1970-01-02 01:01:01");
	EXPECT_EQ(shmemctl::format_time(1700000000), "2023-11-14 22:13:20");
	if (old)
		setenv("TZ", saved.c_str(), 1);
	else
		unsetenv("TZ");
	tzset();
}

TEST(Format, RenderTableAlignsColumns)
{
	const std::string t = shmemctl::render_table(
		{ "NAME", "V", "MEANING" }, { { "a", "12345", "x" }, { "longer name", "1", "yy" } });

	EXPECT_EQ(t, "NAME         V      MEANING\n"
		     "a            12345  x\n"
		     "longer name  1      yy\n");
}

TEST(Format, RenderTableRightAlignment)
{
	const std::string t = shmemctl::render_table({ "key", "id", "bytes" },
						     { { "0x2a", "1", "4096" }, { "0x2b", "12", "65536" } },
						     { false, true, true });

	EXPECT_EQ(t, "key   id  bytes\n"
		     "0x2a   1   4096\n"
		     "0x2b  12  65536\n");
}

TEST(Format, RenderTableNoTrailingBlanks)
{
	// Short rows, empty last cells, empty middle cells: no line ends in a blank.
	const std::string t = shmemctl::render_table(
		{ "A", "STATUS", "C" },
		{ { "x", "", "" }, { "y" }, { "zzzz", "dest", "c" }, { "", "", "last" } });

	std::istringstream in(t);
	std::string line;
	int n = 0;

	while (std::getline(in, line)) {
		n++;
		EXPECT_TRUE(line.empty() || line.back() != ' ') << "'" << line << "'";
	}
	EXPECT_EQ(n, 5);
	EXPECT_EQ(t, "A     STATUS  C\n"
		     "x\n"
		     "y\n"
		     "zzzz  dest    c\n"
		     "              last\n");
	EXPECT_EQ(shmemctl::render_table({ "ONLY" }, {}), "ONLY\n");
}

TEST(Format, ProgressLine)
{
	using shmemctl::progress_line;

	EXPECT_EQ(progress_line(0, 100, 0.0, 10), "\r[          ]   0%  0/100 pages  0.0 s\033[K");
	EXPECT_EQ(progress_line(50, 100, 1.5, 10), "\r[#####     ]  50%  50/100 pages  1.5 s\033[K");
	EXPECT_EQ(progress_line(100, 100, 2.25, 10),
		  "\r[##########] 100%  100/100 pages  2.2 s\033[K");
	EXPECT_EQ(progress_line(150, 100, 3.0, 10), progress_line(100, 100, 3.0, 10))
		<< "done > total clamps";
	EXPECT_EQ(progress_line(0, 0, 0.0, 4), "\r[####] 100%  0/0 pages  0.0 s\033[K");

	// The default width: 30 cells between the brackets.
	for (std::uint64_t done : { 0ULL, 1ULL, 512ULL, 1023ULL, 1024ULL, 5000ULL }) {
		const std::string l = progress_line(done, 1024, 0.8);

		ASSERT_EQ(l.rfind("\r[", 0), 0u) << l;
		ASSERT_GE(l.size(), 3u);
		EXPECT_EQ(l.substr(l.size() - 3), "\033[K") << l;
		EXPECT_EQ(l.find(']'), 32u) << l;
		EXPECT_EQ(count(l, "\r"), 1u);
		EXPECT_EQ(count(l, "\n"), 0u);
		const auto hashes = static_cast<std::uint64_t>(std::count(l.begin(), l.end(), '#'));

		EXPECT_EQ(hashes, std::min<std::uint64_t>(done, 1024) * 30 / 1024) << l;
	}
	EXPECT_TRUE(contains(progress_line(512, 1024, 0.8), " 50%  512/1024 pages  0.8 s"));
}

// ---------------------------------------------------------------- the MSI grid

std::vector<my_shmem::msi::State> states(const std::string &letters)
{
	std::vector<my_shmem::msi::State> v;

	for (char ch : letters)
		v.push_back(*my_shmem::msi::parse(std::string(1, ch)));
	return v;
}

shmemctl::MsiNodeRow node_row(std::uint32_t id, const std::string &letters)
{
	shmemctl::MsiNodeRow r;

	r.info.node = id;
	r.states = states(letters);
	return r;
}

TEST(Format, MsiGridSmall)
{
	// Two nodes over four pages: the example of msi view --help.
	const std::vector<my_shmem::DirEntry> dir = { { std::nullopt, 1 }, { std::nullopt, 2 },
						      { 1u, 0 }, { std::nullopt, 0 } };

	EXPECT_EQ(shmemctl::render_msi_grid(0, { node_row(0, "SSII"), node_row(1, "ISMI") }, dir),
		  "page     0\n"
		  "node 0   SSII\n"
		  "node 1   ISMI\n"
		  "dir      --1-\n"
		  "sharers  1200\n");
	// One node (--node), the directory all the same.
	EXPECT_EQ(shmemctl::render_msi_grid(0, { node_row(1, "ISMI") }, dir),
		  "page     0\n"
		  "node 1   ISMI\n"
		  "dir      --1-\n"
		  "sharers  1200\n");
	// No node bound at all: the directory alone.
	EXPECT_EQ(shmemctl::render_msi_grid(5, {}, { { std::nullopt, 0 } }),
		  "page     5\n"
		  "dir      -\n"
		  "sharers  0\n");
	EXPECT_EQ(shmemctl::render_msi_grid(0, {}, {}), "") << "no pages, no grid";
	EXPECT_EQ(my_shmem::msi::letters(states("MSI")), "MSI");
}

TEST(Format, MsiGridWrapsAt64Pages)
{
	std::string a(70, 'I'), b(70, 'I');
	std::vector<my_shmem::DirEntry> dir(70);

	a[0] = 'S';
	b[1] = 'S';
	a[65] = 'M';
	dir[0].sharers = 1;
	dir[1].sharers = 1;
	dir[65].owner = 0;
	const std::string g = shmemctl::render_msi_grid(0, { node_row(0, a), node_row(1, b) }, dir);

	EXPECT_EQ(g, "page     0       8       16      24      32      40      48      56\n"
		     "node 0   S" + std::string(63, 'I') + "\n"
		     "node 1   IS" + std::string(62, 'I') + "\n"
		     "dir      " + std::string(64, '-') + "\n"
		     "sharers  11" + std::string(62, '0') + "\n"
		     "\n"
		     "page     64\n"
		     "node 0   IMIIII\n"
		     "node 1   IIIIII\n"
		     "dir      -0----\n"
		     "sharers  000000\n");
	std::istringstream in(g);
	std::string line;

	while (std::getline(in, line)) {
		EXPECT_TRUE(line.empty() || line.back() != ' ') << "'" << line << "'";
		EXPECT_LE(line.size(), 9u + 64u) << line;
	}
	// Another block size, and --first: the ruler counts from the first page.
	EXPECT_EQ(shmemctl::render_msi_grid(62, { node_row(4, "SSSS") }, std::vector<my_shmem::DirEntry>(4, { std::nullopt, 1 }), 3),
		  "page     62\n"
		  "node 4   SSS\n"
		  "dir      ---\n"
		  "sharers  111\n"
		  "\n"
		  "page     65\n"
		  "node 4   S\n"
		  "dir      -\n"
		  "sharers  1\n");
}

TEST(Format, MsiGridWideColumnsAndLongPageNumbers)
{
	// Node 12 owns a page: two-digit cells, separated by a blank; a state
	// missing from a row (a shorter row) shows as '?'.
	const std::vector<my_shmem::DirEntry> dir = { { 12u, 0 }, { std::nullopt, 0 },
						      { std::nullopt, 1 } };

	EXPECT_EQ(shmemctl::render_msi_grid(100, { node_row(0, "IIS"), node_row(12, "MI") }, dir),
		  "page     100\n"
		  "node 0    I  I  S\n"
		  "node 12   M  I  ?\n"
		  "dir      12  -  -\n"
		  "sharers   0  0  1\n");
	// Sharers counts of two digits widen the columns too.
	EXPECT_EQ(shmemctl::render_msi_grid(0, {}, { { std::nullopt, 10 }, { std::nullopt, 0 } }),
		  "page     0\n"
		  "dir       -  -\n"
		  "sharers  10  0\n");
	// Page numbers too long for a mark every 8 columns: every 16.
	EXPECT_EQ(shmemctl::render_msi_grid(123456789012ULL, { node_row(0, std::string(20, 'I')) },
					    std::vector<my_shmem::DirEntry>(20)),
		  "page     123456789012    123456789028\n"
		  "node 0   " + std::string(20, 'I') + "\n"
		  "dir      " + std::string(20, '-') + "\n"
		  "sharers  " + std::string(20, '0') + "\n");
	// Wide columns: a mark every 8 pages, each at its page's column.
	std::vector<my_shmem::DirEntry> wide(10);
	wide[9].owner = 10;
	const std::string g = shmemctl::render_msi_grid(0, {}, wide);
	EXPECT_EQ(g.substr(0, g.find('\n')), "page     0                       8");
	EXPECT_TRUE(contains(g, "\ndir       -  -  -  -  -  -  -  -  - 10\n")) << g;
}

TEST(Format, MsiViewJsonShape)
{
	shmemctl::MsiNodeRow n0 = node_row(0, "SSII"), n1 = node_row(1, "ISMI");

	n0.info.read_faults = 2;
	n0.info.write_faults = 1;
	n0.info.fetches = 3;
	n0.info.writebacks = 1;
	n0.info.bytes_moved = 4 * kPsz;
	n0.info.cleans = 1;
	n0.info.invals = 3;
	n0.info.pages_s = 2;
	n1.info.read_faults = 1;
	n1.info.write_faults = 1;
	n1.info.invals_received = 0;
	n1.info.pages_s = 1;
	n1.info.pages_m = 1;
	const std::vector<my_shmem::DirEntry> dir = { { std::nullopt, 1 }, { std::nullopt, 2 },
						      { 1u, 0 }, { std::nullopt, 0 } };
	json j = shmemctl::msi_view_json(3, 0, { n0, n1 }, dir);

	EXPECT_EQ(keys(j), (std::vector<std::string>{ "segment", "pages", "first", "nodes", "directory" }));
	EXPECT_EQ(j["segment"], 3);
	EXPECT_EQ(j["pages"], 4);
	EXPECT_EQ(j["first"], 0);
	ASSERT_EQ(j["nodes"].size(), 2u);
	EXPECT_EQ(keys(j["nodes"][0]), (std::vector<std::string>{ "node", "states", "counters" }));
	EXPECT_EQ(j["nodes"][0]["node"], 0);
	EXPECT_EQ(j["nodes"][0]["states"], "SSII");
	EXPECT_EQ(j["nodes"][1]["states"], "ISMI");
	EXPECT_EQ(keys(j["nodes"][0]["counters"]),
		  (std::vector<std::string>{ "read_faults", "write_faults", "fetches", "invals_received",
					     "writebacks", "bytes_moved", "cleans", "invals", "pages_s",
					     "pages_m" }));
	EXPECT_EQ(j["nodes"][0]["counters"]["bytes_moved"], 4 * kPsz);
	EXPECT_EQ(j["nodes"][1]["counters"]["pages_m"], 1);
	ASSERT_EQ(j["directory"].size(), 4u);
	EXPECT_EQ(j["directory"][0], json({ { "page", 0 }, { "owner", nullptr }, { "sharers", 1 } }));
	EXPECT_EQ(j["directory"][2], json({ { "page", 2 }, { "owner", 1 }, { "sharers", 0 } }));
	record("msi-view", j.dump() + "\n");

	// --node and --first: one node, pages numbered from the first.
	json one = shmemctl::msi_view_json(7, 64, { n1 }, { { std::nullopt, 0 }, { 65535u, 0 } });
	EXPECT_EQ(one["first"], 64);
	EXPECT_EQ(one["pages"], 2);
	EXPECT_EQ(one["nodes"].size(), 1u);
	EXPECT_EQ(one["directory"][1], json({ { "page", 65 }, { "owner", 65535 }, { "sharers", 0 } }));
	record("msi-view", one.dump(2) + "\n");
	// No node bound: an empty list.
	record("msi-view", shmemctl::msi_view_json(7, 0, {}, { { std::nullopt, 0 } }).dump() + "\n");
}

TEST(Format, NodeTable)
{
	my_shmem::NodeInfo a, b;

	a.node = 0;
	a.read_faults = 3;
	a.write_faults = 12;
	a.bytes_moved = 61440;
	b.node = 1;
	b.invals_received = 2;
	b.pages_m = 1;
	EXPECT_EQ(shmemctl::render_node_table({ a, b }),
		  "node  read_faults  write_faults  fetches  invals_received  writebacks  bytes_moved  cleans  invals  pages_s  pages_m\n"
		  "   0            3            12        0                0           0        61440       0       0        0        0\n"
		  "   1            0             0        0                2           0            0       0       0        0        1\n");
}

// ================================================================ dsm: the s2dsm session

// A node that plays MSI alone (as if no other node existed, unless a test
// says otherwise): reads of an Invalid page and writes to a page not in M
// fault.
class FakeNode : public shmemctl::dsm::Node {
public:
	using State = my_shmem::msi::State;

	explicit FakeNode(std::size_t pages, std::size_t psz = 32)
		: mem(pages, std::string(psz, '\0')), st(pages, State::Invalid), psz_(psz) {}

	std::size_t pages() const override { return st.size(); }
	std::string read(std::size_t i, bool *faulted) override
	{
		*faulted = st.at(i) == State::Invalid;
		if (*faulted)
			st[i] = State::Shared;
		return std::string(mem[i].c_str());
	}
	bool write(std::size_t i, std::string_view text) override
	{
		const bool f = st.at(i) != State::Modified;
		const std::size_t n = std::min(text.size(), psz_ - 1);

		st[i] = State::Modified;
		mem[i].replace(0, n, text.substr(0, n));
		mem[i][n] = '\0';
		return f;
	}
	std::vector<State> states() override { return st; }

	std::vector<std::string> mem;
	std::vector<State> st;

private:
	std::size_t psz_;
};

// Input from a list of lines, then end of input (or @end); @on_line(n) runs
// when line n (from 0) is handed out.
struct Lines {
	explicit Lines(std::vector<std::string> l,
		       shmemctl::dsm::Input e = shmemctl::dsm::Input::Eof)
		: lines(std::move(l)), end(e) {}

	std::vector<std::string> lines;
	shmemctl::dsm::Input end;
	std::function<void(std::size_t)> on_line;
	std::size_t next = 0;

	shmemctl::dsm::ReadLine reader()
	{
		return [this](std::string &l) {
			if (next >= lines.size())
				return end;
			if (on_line)
				on_line(next);
			l = lines[next++];
			return shmemctl::dsm::Input::Line;
		};
	}
};

const std::string kCmd(shmemctl::dsm::kPromptCommand);
const std::string kMsg(shmemctl::dsm::kPromptMessage);

std::string view_text(const std::string &letters, std::size_t from = 0)
{
	std::string s;

	for (std::size_t i = 0; i < letters.size(); i++) {
		auto st = *my_shmem::msi::parse(std::string(1, letters[i]));

		s += "Page " + std::to_string(from + i) + ": " + letters[i] + " (" +
		     std::string(my_shmem::msi::name(st)) + ")\n";
	}
	return s;
}

TEST(Dsm, PromptsAreS2dsms)
{
	// byte for byte userspace/s2dsm/src (main.cpp, session.cpp)
	EXPECT_EQ(shmemctl::dsm::kPromptPages,
		  "> How many pages would you like to allocate (greater than 0)?\n");
	EXPECT_EQ(kCmd, "> Which command should I run? (r:read, w:write, v:view msi array): ");
	EXPECT_EQ(kMsg, "> Type your new message: ");
	EXPECT_EQ(shmemctl::dsm::prompt_page(3), "> For which page? (0-2, or -1 for all): ");
	EXPECT_EQ(shmemctl::dsm::prompt_page(1), "> For which page? (0-0, or -1 for all): ");
	EXPECT_EQ(shmemctl::dsm::page_lines(2, "Hello"), "[*] Page 2:\nHello\n");
	EXPECT_EQ(shmemctl::dsm::page_lines(0, ""), "[*] Page 0:\n\n");
	EXPECT_EQ(shmemctl::dsm::region_lines(reinterpret_cast<void *>(0x7f0000001000), 12288),
		  "Address returned by mmap() = 0x7f0000001000\nSize of mapped region = 12288\n");
	EXPECT_EQ(shmemctl::dsm::kPageFault, "[x] PAGEFAULT\n");
}

TEST(Dsm, ReadWriteViewWithFaultLines)
{
	// The first process' side of the assignment's Part 2 on 3 pages, with the
	// other node's write to page 2 between two commands.
	FakeNode n(3);
	Lines in{ { "v", "-1", "r", "0", "v", "-1", "r", "-1", "v", "-1", "v", "-1", "w", "-1",
		    "Writing this to all pages!", "v", "-1", "r", "-1", "v", "2" } };
	std::ostringstream out, err;

	in.on_line = [&](std::size_t i) {
		if (i == 10)	// P2 writes page 2: this node's copy goes
			n.st[2] = FakeNode::State::Invalid;
	};
	EXPECT_EQ(shmemctl::dsm::run(n, in.reader(), out, err, false), shmemctl::dsm::Input::Eof);
	const std::string pp = shmemctl::dsm::prompt_page(3);
	const std::string msg = "Writing this to all pages!";

	EXPECT_EQ(out.str(), kCmd + pp + view_text("III") +
				     kCmd + pp + "[x] PAGEFAULT\n[*] Page 0:\n\n" +
				     kCmd + pp + view_text("SII") +
				     kCmd + pp + "[*] Page 0:\n\n[x] PAGEFAULT\n[*] Page 1:\n\n[x] PAGEFAULT\n[*] Page 2:\n\n" +
				     kCmd + pp + view_text("SSS") +
				     kCmd + pp + view_text("SSI") +
				     kCmd + pp + kMsg + "[x] PAGEFAULT\n[x] PAGEFAULT\n[x] PAGEFAULT\n" +
				     kCmd + pp + view_text("MMM") +
				     kCmd + pp + "[*] Page 0:\n" + msg + "\n[*] Page 1:\n" + msg +
				     "\n[*] Page 2:\n" + msg + "\n" +
				     kCmd + pp + view_text("M", 2) +
				     kCmd);
	EXPECT_EQ(err.str(), "");
	EXPECT_EQ(n.mem[1].c_str(), msg);
}

TEST(Dsm, BadInputRepromptsLikeS2dsm)
{
	FakeNode n(2);
	Lines in{ { "x", "", " r ", "5", "r", "-2", "w", "abc", "v", "+1", "r", "1" } };
	std::ostringstream out, err;

	EXPECT_EQ(shmemctl::dsm::run(n, in.reader(), out, err, false), shmemctl::dsm::Input::Eof);
	const std::string pp = shmemctl::dsm::prompt_page(2);

	// back to the command prompt after each error, as s2dsm does
	EXPECT_EQ(out.str(), kCmd + kCmd + kCmd + pp + kCmd + pp + kCmd + pp + kCmd + pp + kCmd + pp +
				     "[x] PAGEFAULT\n[*] Page 1:\n\n" + kCmd);
	EXPECT_EQ(err.str(),
		  "shmemctl: unknown command 'x': type r (read), w (write) or v (view msi array)\n"
		  "shmemctl: unknown command '': type r (read), w (write) or v (view msi array)\n"
		  "shmemctl: no page '5': enter a number from 0 to 1, or -1 for all pages\n"
		  "shmemctl: no page '-2': enter a number from 0 to 1, or -1 for all pages\n"
		  "shmemctl: no page 'abc': enter a number from 0 to 1, or -1 for all pages\n"
		  "shmemctl: no page '+1': enter a number from 0 to 1, or -1 for all pages\n");
}

TEST(Dsm, EndOfInputAtEveryPromptEndsTheSession)
{
	for (const auto &lines : std::vector<std::vector<std::string>>{
		     {}, { "r" }, { "w", "0" }, { "v", "0" } }) {
		FakeNode n(1);
		Lines in(lines);
		std::ostringstream out, err;

		EXPECT_EQ(shmemctl::dsm::run(n, in.reader(), out, err, false), shmemctl::dsm::Input::Eof)
			<< testing::PrintToString(lines);
		EXPECT_EQ(n.st[0], FakeNode::State::Invalid) << "nothing was accessed";
		EXPECT_EQ(err.str(), "");
	}
	// an interruption (a signal) ends it too, and says so
	FakeNode n(1);
	Lines in{ { "w", "0" }, shmemctl::dsm::Input::Interrupted };
	std::ostringstream out, err;

	EXPECT_EQ(shmemctl::dsm::run(n, in.reader(), out, err, false),
		  shmemctl::dsm::Input::Interrupted);
	EXPECT_EQ(out.str(), kCmd + shmemctl::dsm::prompt_page(1) + kMsg);
}

TEST(Dsm, WriteCutsToThePageAndViewJson)
{
	FakeNode n(2, 8);
	Lines in{ { "w", "1", "0123456789", "r", "1", "w", "0", "", "r", "0", "v", "-1" } };
	std::ostringstream out, err;

	shmemctl::dsm::run(n, in.reader(), out, err, true);
	EXPECT_EQ(n.mem[1], std::string("0123456\0", 8)) << "7 bytes and the NUL";
	EXPECT_TRUE(contains(out.str(), "[*] Page 1:\n0123456\n")) << out.str();
	EXPECT_TRUE(contains(out.str(), "[*] Page 0:\n\n")) << "an empty message";
	const std::string o = out.str();
	const std::size_t b = o.rfind(shmemctl::dsm::prompt_page(2)) + shmemctl::dsm::prompt_page(2).size();
	const std::string line = o.substr(b, o.size() - b - kCmd.size());
	json j = json::parse(line);

	EXPECT_EQ(j["pages"], json::parse(R"([{"page":0,"state":"M","name":"Modified"},{"page":1,"state":"M","name":"Modified"}])"));
	EXPECT_EQ(j["counts"], json({ { "M", 2 }, { "S", 0 }, { "I", 0 } }));
	record("dsm-view", line);
}

TEST(Dsm, AskPages)
{
	Lines in{ { "zero", "0", "-3", "5000", "12 x", "", "3 " } };
	std::ostringstream out, err;
	shmemctl::dsm::Input end = shmemctl::dsm::Input::Line;

	EXPECT_EQ(shmemctl::dsm::ask_pages(in.reader(), out, err, 4096, &end), 3u);
	const std::string p(shmemctl::dsm::kPromptPages);

	EXPECT_EQ(out.str(), p + p + p + p + p + p + p);
	EXPECT_EQ(count(err.str(), "shmemctl: please enter a whole number from 1 to 4096\n"), 6u) << err.str();

	Lines none{ { "x" } };
	std::ostringstream out2, err2;

	EXPECT_FALSE(shmemctl::dsm::ask_pages(none.reader(), out2, err2, 8, &end));
	EXPECT_EQ(end, shmemctl::dsm::Input::Eof);
	Lines intr{ {}, shmemctl::dsm::Input::Interrupted };
	EXPECT_FALSE(shmemctl::dsm::ask_pages(intr.reader(), out2, err2, 8, &end));
	EXPECT_EQ(end, shmemctl::dsm::Input::Interrupted);
}

// ================================================================ params.hpp

TEST(Params, FindByNameAndAlias)
{
	const char *names[] = { "max_contiguous_alloc_order", "backend", "max_pages", "max_segments",
				"max_segment_pages", "seg0_pages", "seg0_mode" };

	EXPECT_EQ(my_shmem::known_params().size(), 7u);
	for (const char *n : names) {
		const my_shmem::ParamSpec *p = my_shmem::find_param(n);

		ASSERT_NE(p, nullptr) << n;
		EXPECT_STREQ(p->name, n);
		EXPECT_EQ(p->runtime, std::string(n) != "seg0_mode") << n;
		EXPECT_NE(std::string(p->accepts), "");
		EXPECT_NE(std::string(p->help), "");
	}
	const my_shmem::ParamSpec *o = my_shmem::find_param("order");

	ASSERT_NE(o, nullptr);
	EXPECT_STREQ(o->name, "max_contiguous_alloc_order");
	EXPECT_EQ(o, my_shmem::find_param("max_contiguous_alloc_order"));
	for (const char *bad : { "", "ORDER", "orders", "max_contiguous_alloc_order ", "seg0" })
		EXPECT_EQ(my_shmem::find_param(bad), nullptr) << "'" << bad << "'";
}

std::optional<std::string> check(const char *name, const char *value)
{
	const my_shmem::ParamSpec *p = my_shmem::find_param(name);

	if (!p)
		return std::string("unknown parameter ") + name;
	return my_shmem::check_param_value(*p, value);
}

TEST(Params, OrderRange)
{
	for (const char *v : { "0", "4", "10", "0xa", "012", "4\n" })
		EXPECT_FALSE(check("order", v)) << v << ": " << check("order", v).value_or("");
	auto why = check("order", "11");

	ASSERT_TRUE(why);
	EXPECT_TRUE(contains(*why, "0..10")) << *why;
	EXPECT_TRUE(contains(*why, "11")) << *why;
	EXPECT_TRUE(check("max_contiguous_alloc_order", "11"));
	EXPECT_TRUE(check("order", "0xb"));
	EXPECT_TRUE(check("order", "18446744073709551615"));
	why = check("order", "four");
	ASSERT_TRUE(why);
	EXPECT_TRUE(contains(*why, "not a number")) << *why;
	EXPECT_TRUE(check("order", "-1"));
	EXPECT_TRUE(check("order", ""));
	EXPECT_TRUE(check("order", "4 "));
}

TEST(Params, BackendNames)
{
	for (const char *v : { "insn", "pmem", "kernel", "none" })
		EXPECT_FALSE(check("backend", v)) << v;
	for (const char *v : { "magic", "INSN", "", "insn ", "0" }) {
		auto why = check("backend", v);

		ASSERT_TRUE(why) << "'" << v << "'";
		EXPECT_TRUE(contains(*why, "insn, pmem, kernel or none")) << *why;
	}
}

TEST(Params, Caps)
{
	EXPECT_FALSE(check("max_pages", "0")) << "0 = half of RAM";
	EXPECT_FALSE(check("max_pages", "9223372036854775807"));
	EXPECT_FALSE(check("max_pages", "0x7fffffffffffffff"));
	EXPECT_TRUE(check("max_pages", "9223372036854775808"));
	EXPECT_TRUE(check("max_pages", "lots"));

	EXPECT_TRUE(check("max_segments", "0"));
	EXPECT_FALSE(check("max_segments", "1"));
	EXPECT_FALSE(check("max_segments", "2147483647"));
	EXPECT_TRUE(check("max_segments", "2147483648"));
	EXPECT_FALSE(check("max_segments", "0x40"));

	for (const char *n : { "max_segment_pages", "seg0_pages" }) {
		auto why = check(n, "0");

		ASSERT_TRUE(why) << n;
		EXPECT_TRUE(contains(*why, "positive")) << *why;
		EXPECT_FALSE(check(n, "1")) << n;
		EXPECT_FALSE(check(n, "0x10")) << n;
		EXPECT_FALSE(check(n, "010")) << n;
		EXPECT_TRUE(check(n, "ten")) << n;
	}
}

TEST(Params, Seg0ModeIsLoadTimeOnly)
{
	for (const char *v : { "0660", "0600", "anything" }) {
		auto why = check("seg0_mode", v);

		ASSERT_TRUE(why) << v;
		EXPECT_TRUE(contains(*why, "load time")) << *why;
		EXPECT_TRUE(contains(*why, "seg0_mode=")) << *why;
	}
}

// ================================================================ the command line

struct Parsed {
	shmemctl::Options o;
	std::unique_ptr<CLI::App> app;
};

// Parse @args (after the program name) with make_app; CLI11's exceptions pass.
std::unique_ptr<Parsed> parse(const std::vector<std::string> &args)
{
	auto p = std::make_unique<Parsed>();
	std::vector<std::string> store = { "shmemctl" };
	std::vector<const char *> argv;

	store.insert(store.end(), args.begin(), args.end());
	for (const auto &s : store)
		argv.push_back(s.c_str());
	p->app = shmemctl::make_app(p->o);
	p->app->parse(static_cast<int>(argv.size()), argv.data());
	return p;
}

TEST(Cli, Defaults)
{
	auto p = parse({ "status" });
	const shmemctl::Options &o = p->o;

	EXPECT_EQ(o.cmd, shmemctl::Command::Status);
	EXPECT_FALSE(o.json);
	EXPECT_FALSE(o.pretty);
	EXPECT_EQ(o.root, "");
	EXPECT_EQ(o.pages, 64u);
	EXPECT_EQ(o.offset, 0u);
	EXPECT_EQ(o.repeat, 1u);
	EXPECT_FALSE(o.order);
	EXPECT_TRUE(o.verify);
	EXPECT_FALSE(o.progress_on);
	EXPECT_FALSE(o.progress_off);
	EXPECT_EQ(o.progress_delay_ms, 300u);
	EXPECT_EQ(o.mode, "shared");
	EXPECT_EQ(o.perm_text, "0600");
	EXPECT_FALSE(o.excl);
	EXPECT_FALSE(o.id);
	EXPECT_LT(o.hold, 0);
	EXPECT_EQ(o.count, 0u);
	EXPECT_EQ(o.timeout, 0);
	EXPECT_FALSE(o.node);
	EXPECT_EQ(o.first, 0u);
	EXPECT_FALSE(o.view_count);
	EXPECT_FALSE(o.dsm_pages);
}

TEST(Cli, GlobalOptions)
{
	auto p = parse({ "-j", "--root", "/x/y", "status" });

	EXPECT_TRUE(p->o.json);
	EXPECT_EQ(p->o.root, "/x/y");
	p = parse({ "-p", "param", "get" });
	EXPECT_TRUE(p->o.pretty);
	EXPECT_EQ(p->o.cmd, shmemctl::Command::ParamGet);
	// fallthrough: a global option after the command works too
	p = parse({ "status", "--json", "--root=/r" });
	EXPECT_TRUE(p->o.json);
	EXPECT_EQ(p->o.root, "/r");
	p = parse({ "param", "set", "order", "4", "-p", "--root", "/s" });
	EXPECT_TRUE(p->o.pretty);
	EXPECT_EQ(p->o.root, "/s");
	EXPECT_EQ(p->o.value, "4");
}

TEST(Cli, SegCreate)
{
	auto p = parse({ "-j", "seg", "create", "0x2a", "--size", "1M", "--perm", "0660", "--excl" });
	const shmemctl::Options &o = p->o;

	EXPECT_EQ(o.cmd, shmemctl::Command::SegCreate);
	EXPECT_TRUE(o.json);
	EXPECT_EQ(o.key_text, "0x2a");
	EXPECT_EQ(o.size_text, "1M");
	EXPECT_EQ(o.perm_text, "0660");
	EXPECT_TRUE(o.excl);
	EXPECT_EQ(o.mode, "shared");

	p = parse({ "seg", "create", "7", "-s", "16p", "-m", "coherent", "-x" });
	EXPECT_EQ(p->o.key_text, "7");
	EXPECT_EQ(p->o.size_text, "16p");
	EXPECT_EQ(p->o.mode, "coherent");
	EXPECT_TRUE(p->o.excl);
}

TEST(Cli, SegOthers)
{
	auto p = parse({ "seg", "list" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::SegList);

	p = parse({ "seg", "info", "3" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::SegInfo);
	EXPECT_EQ(p->o.id, 3u);
	EXPECT_EQ(p->o.key_text, "");

	p = parse({ "seg", "info", "--key", "0x2a" });
	EXPECT_FALSE(p->o.id);
	EXPECT_EQ(p->o.key_text, "0x2a");

	p = parse({ "seg", "delete", "-k", "9" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::SegDelete);
	EXPECT_EQ(p->o.key_text, "9");

	p = parse({ "seg", "attach", "0x2a", "-r", "-a", "0x10000000", "-s", "8p", "--hold", "2.5" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::SegAttach);
	EXPECT_EQ(p->o.key_text, "0x2a");
	EXPECT_TRUE(p->o.read_only);
	EXPECT_EQ(p->o.address_text, "0x10000000");
	EXPECT_EQ(p->o.size_text, "8p");
	EXPECT_DOUBLE_EQ(p->o.hold, 2.5);
}

TEST(Cli, ParamGetSet)
{
	auto p = parse({ "param", "get" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::ParamGet);
	EXPECT_TRUE(p->o.names.empty());

	p = parse({ "param", "get", "order", "backend" });
	EXPECT_EQ(p->o.names, (std::vector<std::string>{ "order", "backend" }));

	p = parse({ "param", "set", "order", "4" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::ParamSet);
	EXPECT_EQ(p->o.name, "order");
	EXPECT_EQ(p->o.value, "4");
}

TEST(Cli, Touch)
{
	auto p = parse({ "touch", "read", "-n", "8", "--offset", "3", "--repeat", "2", "--order", "4",
			 "--no-verify" });
	const shmemctl::Options &o = p->o;

	EXPECT_EQ(o.cmd, shmemctl::Command::Touch);
	EXPECT_EQ(o.op, "read");
	EXPECT_EQ(o.pages, 8u);
	EXPECT_EQ(o.offset, 3u);
	EXPECT_EQ(o.repeat, 2u);
	ASSERT_TRUE(o.order);
	EXPECT_EQ(*o.order, 4u);
	EXPECT_FALSE(o.verify);

	p = parse({ "touch", "write", "--pages", "1", "-o", "7", "-r", "9", "-k", "0x2a", "--progress",
		    "--progress-delay", "0" });
	EXPECT_EQ(p->o.op, "write");
	EXPECT_EQ(p->o.pages, 1u);
	EXPECT_EQ(p->o.offset, 7u);
	EXPECT_EQ(p->o.repeat, 9u);
	EXPECT_EQ(p->o.key_text, "0x2a");
	EXPECT_TRUE(p->o.progress_on);
	EXPECT_FALSE(p->o.progress_off);
	EXPECT_EQ(p->o.progress_delay_ms, 0u);
	EXPECT_TRUE(p->o.verify);
	EXPECT_FALSE(p->o.order);

	p = parse({ "touch", "write", "--no-progress", "--order", "0" });
	EXPECT_TRUE(p->o.progress_off);
	ASSERT_TRUE(p->o.order);
	EXPECT_EQ(*p->o.order, 0u);
	p = parse({ "touch", "write", "--order", "10", "-n", "1073741824" });
	EXPECT_EQ(*p->o.order, 10u);
	EXPECT_EQ(p->o.pages, 1u << 30);
}

TEST(Cli, SyncAndWatch)
{
	auto p = parse({ "sync", "--clean", "--inval", "0+64" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::Sync);
	EXPECT_TRUE(p->o.clean);
	EXPECT_TRUE(p->o.inval);
	EXPECT_EQ(p->o.range_text, "0+64");
	EXPECT_EQ(p->o.repeat, 1u);

	p = parse({ "sync", "-i", "-r", "3", "-k", "0x10", "1M..2M" });
	EXPECT_FALSE(p->o.clean);
	EXPECT_TRUE(p->o.inval);
	EXPECT_EQ(p->o.repeat, 3u);
	EXPECT_EQ(p->o.key_text, "0x10");
	EXPECT_EQ(p->o.range_text, "1M..2M");

	p = parse({ "watch", "-c", "3", "-t", "1.5" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::Watch);
	EXPECT_EQ(p->o.count, 3u);
	EXPECT_DOUBLE_EQ(p->o.timeout, 1.5);
}

TEST(Cli, MsiAndDsm)
{
	auto p = parse({ "msi", "view", "3" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::MsiView);
	EXPECT_EQ(p->o.id, 3u);
	EXPECT_FALSE(p->o.node);
	EXPECT_EQ(p->o.first, 0u);
	EXPECT_FALSE(p->o.view_count);

	p = parse({ "-j", "msi", "view", "--key", "0x2a", "--node", "1", "--first", "64", "--count", "8" });
	EXPECT_TRUE(p->o.json);
	EXPECT_FALSE(p->o.id);
	EXPECT_EQ(p->o.key_text, "0x2a");
	EXPECT_EQ(p->o.node, 1u);
	EXPECT_EQ(p->o.first, 64u);
	EXPECT_EQ(p->o.view_count, 8u);

	p = parse({ "msi", "nodes", "-k", "7" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::MsiNodes);
	EXPECT_EQ(p->o.key_text, "7");
	p = parse({ "msi", "nodes", "4" });
	EXPECT_EQ(p->o.id, 4u);

	p = parse({ "dsm", "0x2a" });
	EXPECT_EQ(p->o.cmd, shmemctl::Command::Dsm);
	EXPECT_EQ(p->o.key_text, "0x2a");
	EXPECT_FALSE(p->o.dsm_pages);
	EXPECT_EQ(p->o.perm_text, "0600");
	p = parse({ "dsm", "42", "-n", "3", "--perm", "0660" });
	EXPECT_EQ(p->o.dsm_pages, 3u);
	EXPECT_EQ(p->o.perm_text, "0660");
	p = parse({ "--json", "dsm", "--pages", "1073741824", "1" });
	EXPECT_EQ(p->o.dsm_pages, 1u << 30);
	EXPECT_TRUE(p->o.json);
}

TEST(Cli, MalformedLinesThrowParseError)
{
	for (const auto &args : std::vector<std::vector<std::string>>{
		     {},
		     { "bogus" },
		     { "--bogus", "status" },
		     { "status", "extra" },
		     { "param" },
		     { "param", "set", "order" },
		     { "param", "set" },
		     { "seg" },
		     { "seg", "create", "0x10" },
		     { "seg", "create", "--size", "1M" },
		     { "seg", "create", "5", "--size", "1M", "--mode", "weird" },
		     { "seg", "attach" },
		     { "seg", "attach", "1", "--hold", "-1" },
		     { "seg", "info", "x" },
		     { "touch" },
		     { "touch", "scribble" },
		     { "touch", "write", "-n", "0" },
		     { "touch", "write", "-n", "1073741825" },
		     { "touch", "write", "--repeat", "0" },
		     { "touch", "write", "--order", "11" },
		     { "touch", "write", "--order", "-1" },
		     { "touch", "write", "--progress", "--no-progress" },
		     { "touch", "write", "--no-progress", "--progress" },
		     { "touch", "write", "--progress-delay", "soon" },
		     { "sync" },
		     { "sync", "--clean", "0+1", "--repeat", "0" },
		     { "watch", "--count", "x" },
		     { "watch", "--timeout", "-1" },
		     { "msi" },
		     { "msi", "show" },
		     { "msi", "view", "x" },
		     { "msi", "view", "1", "2" },
		     { "msi", "view", "1", "--node", "-1" },
		     { "msi", "view", "1", "--node", "x" },
		     { "msi", "view", "1", "--count", "0" },
		     { "msi", "view", "1", "--first", "-1" },
		     { "msi", "nodes", "1", "--node", "0" },
		     { "dsm" },
		     { "dsm", "1", "2" },
		     { "dsm", "1", "--pages", "0" },
		     { "dsm", "1", "--pages", "1073741825" },
		     { "dsm", "1", "--pages", "many" },
		     { "--root" } })
		EXPECT_THROW(parse(args), CLI::ParseError) << testing::PrintToString(args);
}

TEST(Cli, MainWithExitsTwoOnUsageErrors)
{
	for (const auto &args : std::vector<std::vector<std::string>>{
		     {},
		     { "bogus" },
		     { "seg", "create", "0x10" },
		     { "touch", "write", "--order", "11" },
		     { "touch", "write", "--progress", "--no-progress" },
		     { "param", "set", "order" },
		     { "seg", "create", "5", "--size", "1M", "--mode", "weird" } }) {
		Result r = ctl(args);

		EXPECT_EQ(r.rc, 2) << testing::PrintToString(args);
		EXPECT_FALSE(r.err.empty()) << testing::PrintToString(args);
		EXPECT_EQ(r.out, "") << testing::PrintToString(args);
	}
	Result r = ctl({ "touch", "write", "--order", "11" });
	EXPECT_TRUE(contains(r.err, "--order")) << r.err;
}

TEST(Cli, UnknownCommandIsNamedWithTheCommandsOfItsLevel)
{
	Result r = ctl({ "frobnicate" });
	EXPECT_EQ(r.rc, 2);
	EXPECT_EQ(r.out, "");
	EXPECT_TRUE(r.err.starts_with("shmemctl: unknown command 'frobnicate' (commands: status, "))
		<< r.err;
	EXPECT_TRUE(contains(r.err, "); see shmemctl --help\n")) << r.err;

	r = ctl({ "--json", "seg", "frob", "1" });
	EXPECT_EQ(r.rc, 2);
	EXPECT_TRUE(r.err.starts_with("shmemctl seg: unknown command 'frob' (commands: create, "))
		<< r.err;
	EXPECT_TRUE(contains(r.err, "see shmemctl seg --help")) << r.err;

	// no word at all: CLI11's own message
	r = ctl({ "seg" });
	EXPECT_EQ(r.rc, 2);
	EXPECT_TRUE(contains(r.err, "A subcommand is required")) << r.err;
}

TEST(Cli, Version)
{
	for (const char *flag : { "--version", "-V" }) {
		Result r = ctl({ flag });

		EXPECT_EQ(r.rc, 0) << flag;
		EXPECT_EQ(r.out.rfind("shmemctl 1.0", 0), 0u) << r.out;
		EXPECT_EQ(r.out, std::string(shmemctl::kVersion) + "\n");
		EXPECT_EQ(r.err, "");
	}
	EXPECT_TRUE(contains(shmemctl::kVersion, "netlink family my_shmem v" +
							 std::to_string(MY_SHMEM_FAMILY_VERSION)));
}

// Every command path of the CLI: {} for the top level, {"seg"}, {"seg", "create"}, ...
void walk(CLI::App *app, std::vector<std::string> path,
	  const std::function<void(CLI::App *, const std::vector<std::string> &)> &fn)
{
	fn(app, path);
	for (CLI::App *sub : app->get_subcommands({})) {
		auto p = path;

		p.push_back(sub->get_name());
		walk(sub, p, fn);
	}
}

std::string join(const std::vector<std::string> &v, const char *sep = " ")
{
	std::string s;

	for (const auto &e : v)
		s += (s.empty() ? "" : sep) + e;
	return s;
}

TEST(Cli, HelpAtEveryLevel)
{
	shmemctl::Options o;
	auto app = shmemctl::make_app(o);
	int paths = 0;

	walk(app.get(), {}, [&](CLI::App *a, const std::vector<std::string> &path) {
		paths++;
		auto args = path;

		args.push_back("--help");
		Result r = ctl(args);
		const std::string what = "shmemctl " + join(args);

		EXPECT_EQ(r.rc, 0) << what << "\n" << r.err;
		EXPECT_EQ(r.err, "") << what;
		std::vector<std::string> usage = { "Usage:", "shmemctl" };

		usage.insert(usage.end(), path.begin(), path.end());
		EXPECT_TRUE(contains(r.out, join(usage) + " ")) << what << "\n" << r.out;
		EXPECT_TRUE(contains(r.out, a->get_description())) << what;
		if (!path.empty()) {
			EXPECT_TRUE(contains(r.out, a->get_footer().substr(1, 40))) << what << "\n" << r.out;
		}
		for (const CLI::Option *opt : a->get_options()) {
			if (opt->get_positional()) {
				EXPECT_TRUE(contains(r.out, opt->get_name())) << what << ": " << opt->get_name();
				continue;
			}
			for (const std::string &l : opt->get_lnames())
				EXPECT_TRUE(contains(r.out, "--" + l)) << what << ": --" << l << "\n" << r.out;
			for (const std::string &s : opt->get_snames())
				EXPECT_TRUE(contains(r.out, "-" + s + ",")) << what << ": -" << s;
		}
		for (const CLI::App *sub : a->get_subcommands({}))
			EXPECT_TRUE(contains(r.out, sub->get_name())) << what << ": " << sub->get_name();
	});
	EXPECT_EQ(paths, 18) << "top, status, param (get, set), seg (create, list, info, delete, "
				"attach), touch, sync, watch, msi (view, nodes), dsm";
}

// Runs of blanks and newlines as one space.
std::string squeeze(const std::string &s)
{
	std::string o;

	for (char ch : s) {
		const bool ws = ch == ' ' || ch == '\n' || ch == '\t';

		if (!ws)
			o += ch;
		else if (!o.empty() && o.back() != ' ')
			o += ' ';
	}
	return o;
}

TEST(Cli, HelpAllShowsEveryCommandAndOption)
{
	Result r = ctl({ "--help-all" });
	shmemctl::Options o;
	auto app = shmemctl::make_app(o);
	const std::string all = squeeze(r.out);

	ASSERT_EQ(r.rc, 0);
	walk(app.get(), {}, [&](CLI::App *a, const std::vector<std::string> &path) {
		const std::string what = path.empty() ? "top level" : join(path);

		if (!path.empty()) {
			// a block of its own: "shmemctl seg create [OPTIONS] KEY:" (a
			// help2man sub-section), then the command's whole text
			std::regex heading("\n\nshmemctl " + join(path) + "( [^\n]*)?:\n  \\S");

			EXPECT_TRUE(std::regex_search(r.out, heading)) << what << "\n" << r.out;
			EXPECT_TRUE(contains(all, squeeze(a->get_footer()))) << what;
		}
		for (const CLI::Option *opt : a->get_options()) {
			if (opt->get_positional()) {
				EXPECT_TRUE(contains(r.out, "\n  " + opt->get_name() + " ")) << what << ": " << opt->get_name();
			}
			for (const std::string &l : opt->get_lnames())
				EXPECT_TRUE(contains(r.out, "--" + l)) << what << ": --" << l;
		}
	});
	// nested commands' options, which plain CLI11 leaves out of --help-all
	for (const char *w : { "\n  -s,--size SIZE REQUIRED ", "\n  -x,--excl ", "\n  -r,--read-only ",
			       "\n  VALUE TEXT REQUIRED " })
		EXPECT_TRUE(contains(r.out, w)) << w;
	EXPECT_FALSE(contains(r.out, "{false}")) << "CLI11's name of a negated flag";
	// help2man would take a double space on a paragraph's first line for a
	// tag; a command's text is wrapped to fit 80 columns
	std::istringstream in(r.out);
	std::string line, prev = "x";
	bool text = false;

	while (std::getline(in, line)) {
		if (line.rfind("shmemctl ", 0) == 0 && line.back() == ':')
			text = true;
		else if (line.empty())
			text = false;
		else if (text) {
			EXPECT_LE(line.size(), 79u) << "'" << line << "'";
		}
		if (prev.empty() && line.rfind("  ", 0) == 0 && line[2] != ' ' && line[2] != '-' &&
		    std::isupper(static_cast<unsigned char>(line[2])) == 0) {
			EXPECT_FALSE(contains(line.substr(2), "  ")) << "'" << line << "'";
		}
		prev = line;
	}
	// the sub-levels' --help-all: their own commands
	r = ctl({ "seg", "--help-all" });
	EXPECT_EQ(r.rc, 0);
	EXPECT_TRUE(contains(r.out, "\n\nshmemctl seg attach [OPTIONS] KEY:\n")) << r.out;
	EXPECT_FALSE(contains(r.out, "shmemctl touch")) << r.out;
}

// ================================================================ library against a fake root

TEST(Paths, RootOverride)
{
	my_shmem::Paths real;

	EXPECT_TRUE(real.real_root());
	EXPECT_EQ(real.device(), "/dev/my_shmem");
	EXPECT_EQ(real.module_dir(), "/sys/module/my_shmem");
	EXPECT_EQ(real.param("backend"), "/sys/module/my_shmem/parameters/backend");
	EXPECT_EQ(real.stats_dir(), "/sys/class/misc/my_shmem/stats");

	my_shmem::Paths t{ "/tmp/r//" };
	EXPECT_FALSE(t.real_root());
	EXPECT_EQ(t.device(), "/tmp/r/dev/my_shmem");
	EXPECT_EQ(t.param("seg0_mode"), "/tmp/r/sys/module/my_shmem/parameters/seg0_mode");

	const char *old = std::getenv("MY_SHMEM_ROOT");
	const std::string saved = old ? old : "";

	setenv("MY_SHMEM_ROOT", "/somewhere", 1);
	EXPECT_EQ(my_shmem::Paths::from_env().root, "/somewhere");
	setenv("MY_SHMEM_ROOT", "", 1);
	EXPECT_EQ(my_shmem::Paths::from_env().root, "/");
	unsetenv("MY_SHMEM_ROOT");
	EXPECT_EQ(my_shmem::Paths::from_env().root, "/");
	if (old)
		setenv("MY_SHMEM_ROOT", saved.c_str(), 1);
}

TEST(Paths, TracefsFallsBackToDebugfs)
{
	FakeRoot r;

	EXPECT_EQ(r.paths().tracefs(), r.dir + "/sys/kernel/tracing");
	fs::rename(r.path("/sys/kernel/tracing"), r.path("/tracing"));
	fs::create_directories(r.path("/sys/kernel/debug"));
	fs::rename(r.path("/tracing"), r.path("/sys/kernel/debug/tracing"));
	EXPECT_EQ(r.paths().tracefs(), r.dir + "/sys/kernel/debug/tracing");
	my_shmem::Control c(r.paths());

	EXPECT_EQ(c.module_info().tracepoints.size(), 5u);
}

TEST(Library, StatsFromSysfs)
{
	FakeRoot r;
	my_shmem::Control c(r.paths());

	EXPECT_TRUE(c.loaded());
	EXPECT_EQ(c.netlink(), nullptr) << "never netlink under a test root";
	my_shmem::Stats s = c.stats();

	EXPECT_EQ(s.pages_in_use, 12u);
	EXPECT_EQ(s.faults, 34u);
	EXPECT_EQ(s.cleans, 56u);
	EXPECT_EQ(s.invals, 7u);
	EXPECT_EQ(s.sigbus, 1u);
	EXPECT_EQ(s.order_fallbacks, 2u);
	EXPECT_EQ(s.vmas, 3u);
	EXPECT_EQ(s.files, 4u);
	EXPECT_EQ(s.segments, 5u);
	EXPECT_EQ(s.max_pages, 262144u) << "from the max_pages parameter";
	EXPECT_EQ(s.allocs_by_order, r.allocs);
	EXPECT_EQ(s.source, my_shmem::Source::Sysfs);
	EXPECT_STREQ(my_shmem::source_name(s.source), "sysfs");

	r.write(FakeRoot::stats_rel("faults"), "garbage\n");
	try {
		c.stats();
		ADD_FAILURE() << "garbage parsed";
	} catch (const my_shmem::Error &e) {
		EXPECT_EQ(e.err(), EINVAL);
		EXPECT_TRUE(contains(e.what(), r.path(FakeRoot::stats_rel("faults")))) << e.what();
	}
	fs::remove(r.path(FakeRoot::stats_rel("faults")));
	try {
		c.stats();
		ADD_FAILURE() << "missing file read";
	} catch (const my_shmem::Error &e) {
		EXPECT_EQ(e.err(), ENOENT);
		EXPECT_TRUE(contains(e.what(), "faults")) << e.what();
	}
}

TEST(Library, ParamsFromSysfs)
{
	FakeRoot r;
	my_shmem::Control c(r.paths());
	std::vector<my_shmem::Param> ps = c.params();

	ASSERT_EQ(ps.size(), 7u);
	EXPECT_TRUE(std::is_sorted(ps.begin(), ps.end(),
				   [](const auto &a, const auto &b) { return a.name < b.name; }));
	for (const my_shmem::Param &p : ps) {
		EXPECT_EQ(p.value, r.param(p.name)) << p.name;
		EXPECT_EQ(p.writable, p.name != "seg0_mode") << p.name;
		EXPECT_EQ(p.source, my_shmem::Source::Sysfs);
	}
	my_shmem::Param o = c.param("order");

	EXPECT_EQ(o.name, "max_contiguous_alloc_order");
	EXPECT_EQ(o.value, "0");
	EXPECT_TRUE(o.writable);
	EXPECT_FALSE(c.param("seg0_mode").writable);
	EXPECT_EQ(c.param("backend").value, "insn");
}

TEST(Library, SetParamWritesTheFile)
{
	FakeRoot r;
	my_shmem::Control c(r.paths());

	c.set_param("order", "4");
	EXPECT_EQ(r.read(FakeRoot::param_rel("max_contiguous_alloc_order")), "4");
	EXPECT_EQ(c.param("max_contiguous_alloc_order").value, "4");
	c.set_param("backend", "pmem");
	EXPECT_EQ(r.param("backend"), "pmem");
}

TEST(Library, UnknownParameter)
{
	FakeRoot r;
	my_shmem::Control c(r.paths());

	try {
		c.param("no_such");
		ADD_FAILURE() << "no error";
	} catch (const my_shmem::Error &e) {
		EXPECT_EQ(e.err(), ENOENT);
		EXPECT_TRUE(contains(e.hint(), "no parameter 'no_such'")) << e.hint();
		EXPECT_TRUE(contains(e.hint(), "param get")) << e.hint();
	}
	try {
		c.set_param("no_such", "1");
		ADD_FAILURE() << "no error";
	} catch (const my_shmem::Error &e) {
		EXPECT_EQ(e.err(), ENOENT);
		EXPECT_TRUE(contains(e.hint(), "no parameter 'no_such'")) << e.hint();
	}
	EXPECT_FALSE(fs::exists(r.path(FakeRoot::param_rel("no_such")))) << "created by set_param";
}

TEST(Library, RequireLoaded)
{
	FakeRoot r;
	my_shmem::Control c(r.paths());

	EXPECT_NO_THROW(c.require_loaded());
	r.unload();
	EXPECT_FALSE(c.loaded());
	auto expect_not_loaded = [&](const std::function<void()> &fn, const char *what) {
		try {
			fn();
			ADD_FAILURE() << what << ": no error";
		} catch (const my_shmem::Error &e) {
			EXPECT_EQ(e.err(), ENOENT) << what;
			EXPECT_TRUE(contains(e.what(), "not loaded")) << what << ": " << e.what();
			EXPECT_TRUE(contains(e.what(), r.path("/sys/module/my_shmem"))) << e.what();
			EXPECT_TRUE(contains(e.hint(), "modprobe my_shmem")) << e.hint();
			EXPECT_TRUE(contains(e.hint(), "insmod my_shmem.ko")) << e.hint();
		}
	};
	expect_not_loaded([&] { c.require_loaded(); }, "require_loaded");
	expect_not_loaded([&] { c.stats(); }, "stats");
	expect_not_loaded([&] { c.params(); }, "params");
	expect_not_loaded([&] { c.param("order"); }, "param");
	expect_not_loaded([&] { c.set_param("order", "1"); }, "set_param");
	expect_not_loaded([&] { c.segments(); }, "segments");
	expect_not_loaded([&] { c.segment(0); }, "segment");
	EXPECT_EQ(r.param("max_contiguous_alloc_order"), "") << "parameters went with the module";
}

TEST(Library, DeviceOpenHints)
{
	FakeRoot r;

	// Present: opens (a regular file stands in for the node).
	{
		my_shmem::Device d = my_shmem::Device::open(r.paths());

		EXPECT_TRUE(d.fd());
		EXPECT_EQ(d.path(), r.path("/dev/my_shmem"));
		EXPECT_TRUE(d.writable());
		// ...but it is not the device: its ioctls say so.
		try {
			d.sync({ 0, kPsz, true, false });
			ADD_FAILURE() << "ioctl on a regular file";
		} catch (const my_shmem::Error &e) {
			EXPECT_EQ(e.err(), ENOTTY);
			EXPECT_TRUE(contains(e.hint(), "not the my_shmem device")) << e.hint();
		}
	}
	// Module loaded, node missing: devtmpfs / udev.
	fs::remove(r.path("/dev/my_shmem"));
	try {
		my_shmem::Device::open(r.paths());
		ADD_FAILURE() << "opened a missing node";
	} catch (const my_shmem::Error &e) {
		EXPECT_EQ(e.err(), ENOENT);
		EXPECT_TRUE(contains(e.what(), "open " + r.path("/dev/my_shmem"))) << e.what();
		EXPECT_TRUE(contains(e.hint(), "devtmpfs")) << e.hint();
		EXPECT_TRUE(contains(e.hint(), "udev")) << e.hint();
		EXPECT_FALSE(contains(e.hint(), "not loaded")) << e.hint();
	}
	// Module not loaded: that first.
	r.unload();
	try {
		my_shmem::Device::open(r.paths());
		ADD_FAILURE() << "opened a missing node";
	} catch (const my_shmem::Error &e) {
		EXPECT_EQ(e.err(), ENOENT);
		EXPECT_TRUE(contains(e.hint(), "not loaded")) << e.hint();
		EXPECT_TRUE(contains(e.hint(), "modprobe my_shmem")) << e.hint();
	}
	EXPECT_TRUE(contains(my_shmem::open_hint(r.paths(), EACCES), "not loaded"))
		<< "not loaded comes first, whatever the errno";
}

TEST(Library, DeviceOpenPermissionHint)
{
	FakeRoot r;

	// nobody must get as far as the node: the tree is world-searchable, the
	// node root's and 0600.
	chmod(r.dir.c_str(), 0755);
	chmod(r.path("/dev/my_shmem").c_str(), geteuid() == 0 ? 0600 : 0000);
	auto res = as_nobody([&]() -> std::string {
		try {
			my_shmem::Device::open(r.paths());
			return "opened a node without permission";
		} catch (const my_shmem::Error &e) {
			if (e.err() != EACCES)
				return std::string("errno ") + std::strerror(e.err()) + ", not EACCES";
			if (!contains(e.hint(), "no permission on " + r.path("/dev/my_shmem")))
				return "hint: " + e.hint();
			if (!contains(e.hint(), "udev rule") || !contains(e.hint(), "root"))
				return "hint: " + e.hint();
		}
		return "";
	});

	if (!res)
		GTEST_SKIP() << "root here cannot become nobody (uid 65534) to meet EACCES";
	EXPECT_EQ(*res, "");
}

TEST(Library, ReadOnlyAccessAndParamPermission)
{
	FakeRoot r;

	chmod(r.dir.c_str(), 0755);
	chmod(r.path("/dev/my_shmem").c_str(), 0444);
	if (geteuid() != 0)	// else root's 0644 file refuses nobody
		chmod(r.path(FakeRoot::param_rel("max_contiguous_alloc_order")).c_str(), 0444);
	auto res = as_nobody([&]() -> std::string {
		my_shmem::Control c(r.paths());
		my_shmem::ModuleInfo m = c.module_info();

		if (m.device_access != "read-only")
			return "device_access " + m.device_access;
		my_shmem::Device::open(r.paths(), false);	// read-only: fine
		try {
			c.set_param("order", "3");
			return "set a parameter without permission";
		} catch (const my_shmem::Error &e) {
			if (e.err() != EACCES || !contains(e.hint(), "needs root"))
				return std::string(e.what()) + " / " + e.hint();
		}
		std::ostringstream out, err;
		std::string root = r.dir;
		const char *argv[] = { "shmemctl", "--root", root.c_str(), "param", "set", "order",
				       "3", nullptr };
		int rc = shmemctl::main_with(7, const_cast<char **>(argv), out, err);

		if (rc != 1 || !contains(err.str(), "needs root"))
			return "param set as nobody: " + std::to_string(rc) + " " + err.str();
		return "";
	});

	if (!res)
		GTEST_SKIP() << "root here cannot become nobody (uid 65534)";
	EXPECT_EQ(*res, "");
	EXPECT_EQ(r.param("max_contiguous_alloc_order"), "0");
}

TEST(Library, ModuleInfo)
{
	FakeRoot r;
	my_shmem::Control c(r.paths());
	my_shmem::ModuleInfo m = c.module_info();

	EXPECT_TRUE(m.loaded);
	EXPECT_EQ(m.version, "1.0");
	EXPECT_EQ(m.srcversion, "4C1D2E3F4A5B6C7D8E9F0A1");
	EXPECT_FALSE(m.netlink_version);
	EXPECT_TRUE(m.device_present);
	EXPECT_EQ(m.device_access, "read-write");
	// the event directories, sorted; not tracefs' files (enable, filter)
	EXPECT_EQ(m.tracepoints,
		  (std::vector<std::string>{ "alloc", "clean", "fault", "inval", "seg_create" }));

	fs::remove(r.path("/sys/module/my_shmem/version"));
	fs::remove_all(r.path("/sys/kernel/tracing/events/my_shmem"));
	fs::remove(r.path("/dev/my_shmem"));
	m = c.module_info();
	EXPECT_EQ(m.version, "");
	EXPECT_TRUE(m.tracepoints.empty());
	EXPECT_FALSE(m.device_present);
	EXPECT_EQ(m.device_access, "none");

	r.unload();
	m = c.module_info();
	EXPECT_FALSE(m.loaded);
	EXPECT_EQ(my_shmem::to_json(m), json({ { "loaded", false } }));
}

TEST(Library, JsonOfSegmentsAndEvents)
{
	// What seg info / seg list / watch print: the library's JSON, recorded
	// for the schema check (the commands themselves need the module).
	my_shmem::SegInfo s;

	s.id = 3;
	s.key = 0x2a;
	s.bytes = 16 * kPsz;
	s.mode = MY_SHMEM_MODE_COHERENT;
	s.perm = 0640;
	s.flags = MY_SHMEM_SEG_DELETED;
	s.uid = 1000;
	s.gid = 100;
	s.cuid = 0;
	s.cgid = 0;
	s.cpid = 4242;
	s.lpid = 4343;
	s.nattch = 2;
	s.nodes = 1;
	s.atime = 1700000000;
	s.dtime = 0;
	s.ctime = 1699999999;
	s.pages = 8;
	s.faults = 8;
	s.cleans = 2;
	s.invals = 1;
	s.allocs_by_order = { 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0 };
	json j = my_shmem::to_json(s);

	EXPECT_EQ(keys(j), (std::vector<std::string>{ "id", "key", "bytes", "mode", "perm", "deleted",
						      "uid", "gid", "cuid", "cgid", "cpid", "lpid",
						      "nattch", "nodes", "atime", "dtime", "ctime",
						      "pages", "faults", "cleans", "invals",
						      "allocs_by_order" }));
	EXPECT_EQ(j["mode"], "coherent");
	EXPECT_EQ(j["deleted"], true);
	EXPECT_EQ(j["perm"], 0640);
	EXPECT_EQ(j["key"], 42);
	EXPECT_EQ(j["cpid"], 4242);
	EXPECT_EQ(j["allocs_by_order"].size(), 11u);
	record("seg-info", j.dump() + "\n");

	my_shmem::SegInfo s0;

	s0.bytes = 16 * kPsz;
	s0.perm = 0600;
	s0.allocs_by_order.assign(MY_SHMEM_NR_ORDERS, 0);
	json j0 = my_shmem::to_json(s0);

	EXPECT_EQ(j0["mode"], "shared");
	EXPECT_EQ(j0["deleted"], false);
	record("seg-info", j0.dump(2) + "\n");
	record("seg-list", json::array({ j0, j }).dump() + "\n");
	record("seg-list", json::array().dump() + "\n");

	my_shmem::Event created{ MY_SHMEM_EVENT_TYPE_SEG_CREATED, 3, 0x2a, std::nullopt,
				 std::nullopt, 0 };
	my_shmem::Event alloc{ MY_SHMEM_EVENT_TYPE_ALLOC, 3, 0x2a, 16, 2, 5 };
	my_shmem::Event deleted{ MY_SHMEM_EVENT_TYPE_SEG_DELETED, 3, 0x2a, std::nullopt,
				 std::nullopt, 0 };
	json e1 = my_shmem::to_json(created), e2 = my_shmem::to_json(alloc),
	     e3 = my_shmem::to_json(deleted);

	EXPECT_EQ(keys(e1), (std::vector<std::string>{ "type", "seg_id", "key", "dropped" }));
	EXPECT_EQ(keys(e2),
		  (std::vector<std::string>{ "type", "seg_id", "key", "pgoff", "order", "dropped" }));
	EXPECT_EQ(e1["type"], "seg-created");
	EXPECT_EQ(e2["type"], "alloc");
	EXPECT_EQ(e2["pgoff"], 16);
	EXPECT_EQ(e2["order"], 2);
	EXPECT_EQ(e2["dropped"], 5);
	EXPECT_EQ(e3["type"], "seg-deleted");
	EXPECT_STREQ(my_shmem::event_type_name(0xff), "unknown");
	EXPECT_STREQ(my_shmem::mode_name(0xff), "unknown");
	record("watch", e1.dump() + "\n" + e2.dump() + "\n" + e3.dump() + "\n", "jsonl");
}

TEST(Library, JsonOfNodesAndViews)
{
	my_shmem::NodeInfo n;

	n.seg = 3;
	n.node = 1;
	n.nr_nodes = 2;
	n.read_faults = 5;
	n.write_faults = 2;
	n.fetches = 6;
	n.invals_received = 1;
	n.writebacks = 1;
	n.bytes_moved = 7 * kPsz;
	n.cleans = 1;
	n.invals = 6;
	n.pages_s = 3;
	n.pages_m = 1;
	EXPECT_EQ(n.faults(), 7u);
	json j = my_shmem::to_json(n);

	EXPECT_EQ(keys(j), (std::vector<std::string>{ "segment", "node", "nr_nodes", "counters" }));
	EXPECT_EQ(j["segment"], 3);
	EXPECT_EQ(j["node"], 1);
	EXPECT_EQ(j["nr_nodes"], 2);
	EXPECT_EQ(j["counters"], my_shmem::node_counters(n));
	EXPECT_EQ(j["counters"]["bytes_moved"], 7 * kPsz);
	EXPECT_EQ(j["counters"]["invals_received"], 1);
	my_shmem::NodeInfo n0;

	n0.seg = 3;
	n0.nr_nodes = 2;
	record("msi-nodes", my_shmem::to_json(std::vector<my_shmem::NodeInfo>{ n0, n }).dump() + "\n");
	record("msi-nodes", json::array().dump() + "\n");

	EXPECT_EQ(my_shmem::to_json(my_shmem::DirEntry{ std::nullopt, 2 }),
		  json({ { "owner", nullptr }, { "sharers", 2 } }));
	EXPECT_EQ(my_shmem::to_json(my_shmem::DirEntry{ 4u, 0 }), json({ { "owner", 4 }, { "sharers", 0 } }));

	my_shmem::MsiView v;

	v.seg = 3;
	v.first = 8;
	v.directory = { { std::nullopt, 1 }, { 1u, 0 } };
	json vj = my_shmem::to_json(v);
	EXPECT_EQ(keys(vj), (std::vector<std::string>{ "segment", "node", "first", "pages", "states",
						       "directory" }));
	EXPECT_TRUE(vj["node"].is_null());
	EXPECT_TRUE(vj["states"].is_null());
	EXPECT_EQ(vj["pages"], 2);
	EXPECT_EQ(vj["directory"][1], json({ { "page", 9 }, { "owner", 1 }, { "sharers", 0 } }));
	v.node = 1;
	v.states = { my_shmem::msi::State::Shared, my_shmem::msi::State::Modified };
	EXPECT_EQ(my_shmem::to_json(v)["states"], "SM");
	EXPECT_EQ(my_shmem::to_json(v)["node"], 1);
}

TEST(Library, CoherentIoctlsOnAFakeDevice)
{
	FakeRoot r;
	my_shmem::Device d = my_shmem::Device::open(r.paths(), false);

	for (const std::function<void()> &fn : std::vector<std::function<void()>>{
		     [&] { d.node_info(); },
		     [&] { d.node_info(3, 1); },
		     [&] { d.nodes(3); },
		     [&] { d.msi_view(3, std::nullopt, 0, 4); } }) {
		try {
			fn();
			ADD_FAILURE() << "an ioctl on a regular file worked";
		} catch (const my_shmem::Error &e) {
			EXPECT_EQ(e.err(), ENOTTY) << e.what();
			EXPECT_TRUE(contains(e.what(), r.path("/dev/my_shmem"))) << e.what();
		}
	}
	try {
		d.node_info(my_shmem::Device::kBound, 7);
	} catch (const my_shmem::Error &e) {
		EXPECT_EQ(std::string(e.what()).rfind("MY_SHMEM_IOC_NODE_INFO (bound segment), node 7 on ", 0), 0u)
			<< e.what();
		EXPECT_TRUE(contains(e.hint(), "not the my_shmem device")) << e.hint();
	}
	try {
		d.node_info();
	} catch (const my_shmem::Error &e) {
		EXPECT_TRUE(contains(e.what(), "(bound segment), this fd's node")) << e.what();
	}
}

// ================================================================ commands against a fake root

TEST(Commands, StatusText)
{
	FakeRoot r;
	Result res = ctl(r, { "status" });

	ASSERT_EQ(res.rc, 0) << res.err;
	EXPECT_EQ(res.err, "");
	for (const std::string &w : std::vector<std::string>{
		     "my_shmem:       loaded, version 1.0 (srcversion 4C1D2E3F4A5B6C7D8E9F0A1)\n",
	       "control:        sysfs (netlink family not reachable)\n",
	       "device:         " + r.path("/dev/my_shmem") + " (read-write for this user)\n",
	       std::string("backend:        insn\n"), std::string("order:          0 (runs of 1 page, "),
	       std::string("max_pages 262144 ("), std::string("max_segments 64"),
	       std::string("seg0_mode 0600"),
	       std::string("pages in use:   12 ") + "(" + shmemctl::human_bytes(12 * kPsz) +
		       ") of max 262144\n",
	       std::string("allocations:    o0:5 o1:0 o2:3 o3:0 o4:0 o5:0 o6:0 o7:0 o8:0 o9:0 o10:1 "
			   "(9 "),
	       std::string("faults:         34\n"), std::string("cleans:         56\n"),
	       std::string("invalidations:  7\n"), std::string("sigbus:         1, order fallbacks 2\n"),
	       std::string("users:          5 segments, 4 open files, 3 mappings\n"),
	       std::string("tracepoints:    my_shmem:alloc my_shmem:clean my_shmem:fault "
			   "my_shmem:inval my_shmem:seg_create\n") })
		EXPECT_TRUE(contains(res.out, w)) << "'" << w << "' missing in:\n" << res.out;

	r.write(FakeRoot::param_rel("max_contiguous_alloc_order"), "4\n");
	fs::remove_all(r.path("/sys/kernel/tracing"));
	res = ctl(r, { "status" });
	EXPECT_TRUE(contains(res.out, "order:          4 (runs of 16 pages, " +
					      shmemctl::human_bytes(16 * kPsz) + ")"))
		<< res.out;
	EXPECT_TRUE(contains(res.out, "tracepoints:    none found (is tracefs mounted at")) << res.out;
}

TEST(Commands, StatusJson)
{
	FakeRoot r;
	json j = ctl_json(r, "status", { "status" });

	EXPECT_EQ(keys(j), (std::vector<std::string>{ "loaded", "version", "srcversion",
						      "netlink_version", "device_present",
						      "device_access", "tracepoints", "params",
						      "stats" }));
	EXPECT_EQ(j["loaded"], true);
	EXPECT_EQ(j["version"], "1.0");
	EXPECT_EQ(j["srcversion"], "4C1D2E3F4A5B6C7D8E9F0A1");
	EXPECT_TRUE(j["netlink_version"].is_null());
	EXPECT_EQ(j["device_present"], true);
	EXPECT_EQ(j["device_access"], "read-write");
	EXPECT_EQ(j["tracepoints"], json({ "alloc", "clean", "fault", "inval", "seg_create" }));

	json p = j["params"];	// a copy: a missing key reads as null, not an assertion
	ASSERT_TRUE(p.is_object());
	EXPECT_EQ(p.size(), 7u);
	for (const auto &[n, v] : r.params) {
		EXPECT_TRUE(p[n].is_string()) << n;
		EXPECT_EQ(p[n], v) << n;
	}

	json s = j["stats"];
	EXPECT_EQ(keys(s), (std::vector<std::string>{ "pages_in_use", "max_pages", "faults", "cleans",
						      "invals", "sigbus", "order_fallbacks", "vmas",
						      "files", "segments", "allocs_by_order",
						      "source" }));
	for (const auto &[n, v] : r.stats) {
		EXPECT_TRUE(s[n].is_number_unsigned()) << n;
		EXPECT_EQ(s[n], v) << n;
	}
	EXPECT_EQ(s["max_pages"], 262144);
	EXPECT_EQ(s["allocs_by_order"], json(r.allocs));
	EXPECT_EQ(s["allocs_by_order"].size(), static_cast<std::size_t>(MY_SHMEM_NR_ORDERS));
	EXPECT_EQ(s["source"], "sysfs");

	// --pretty: the same document, indented
	Result pr = ctl(r, { "--pretty", "status" });
	ASSERT_EQ(pr.rc, 0);
	EXPECT_TRUE(contains(pr.out, "{\n  \"loaded\": true,\n")) << pr.out;
	EXPECT_EQ(json::parse(pr.out), j);
	record("status", pr.out);
}

TEST(Commands, RootFromTheEnvironment)
{
	FakeRoot r;
	const char *old = std::getenv("MY_SHMEM_ROOT");
	const std::string saved = old ? old : "";

	setenv("MY_SHMEM_ROOT", r.dir.c_str(), 1);
	Result res = ctl({ "--json", "status" });
	Result res2 = ctl({ "param", "get", "backend" });
	if (old)
		setenv("MY_SHMEM_ROOT", saved.c_str(), 1);
	else
		unsetenv("MY_SHMEM_ROOT");
	ASSERT_EQ(res.rc, 0) << res.err;
	EXPECT_EQ(res.j()["srcversion"], "4C1D2E3F4A5B6C7D8E9F0A1");
	EXPECT_EQ(res2.out, "insn\n");
}

TEST(Commands, ParamGet)
{
	FakeRoot r;
	Result res = ctl(r, { "param", "get" });

	ASSERT_EQ(res.rc, 0) << res.err;
	std::istringstream in(res.out);
	std::string line;
	std::vector<std::string> lines;

	while (std::getline(in, line))
		lines.push_back(line);
	ASSERT_EQ(lines.size(), 8u) << res.out;
	EXPECT_EQ(lines[0].rfind("NAME", 0), 0u);
	for (const char *h : { "VALUE", "RUNTIME", "MEANING" })
		EXPECT_TRUE(contains(lines[0], h)) << h;
	EXPECT_EQ(lines[1].rfind("backend ", 0), 0u) << "sorted by name";
	EXPECT_TRUE(std::regex_search(res.out, std::regex("\nseg0_mode +0600 +no \\(load time\\) +permission bits")))
		<< res.out;
	EXPECT_TRUE(std::regex_search(res.out, std::regex("\nmax_contiguous_alloc_order +0 +yes +log2")))
		<< res.out;

	res = ctl(r, { "param", "get", "order" });
	EXPECT_EQ(res.rc, 0);
	EXPECT_EQ(res.out, "0\n") << "one name: the value alone";
	res = ctl(r, { "param", "get", "max_segments" });
	EXPECT_EQ(res.out, "64\n");

	json a = ctl_json(r, "param-list", { "param", "get" });
	ASSERT_TRUE(a.is_array());
	ASSERT_EQ(a.size(), 7u);
	for (json p : a) {
		EXPECT_EQ(keys(p), (std::vector<std::string>{ "name", "value", "writable" }));
		const std::string n = p["name"];

		EXPECT_EQ(p["value"], r.param(n)) << n;
		EXPECT_EQ(p["writable"], n != "seg0_mode") << n;
	}
	json one = ctl_json(r, "param", { "param", "get", "order" });
	EXPECT_EQ(one, json({ { "name", "max_contiguous_alloc_order" }, { "value", "0" },
			      { "writable", true } }));
	json two = ctl_json(r, "param-list", { "param", "get", "order", "seg0_mode" });
	ASSERT_TRUE(two.is_array());
	ASSERT_EQ(two.size(), 2u);
	EXPECT_EQ(two[0]["name"], "max_contiguous_alloc_order");
	EXPECT_EQ(two[1]["name"], "seg0_mode");
	EXPECT_EQ(two[1]["writable"], false);

	res = ctl(r, { "param", "get", "no_such" });
	EXPECT_EQ(res.rc, 1);
	EXPECT_TRUE(contains(res.err, "hint: the module has no parameter 'no_such'")) << res.err;
}

TEST(Commands, ParamSet)
{
	FakeRoot r;
	Result res = ctl(r, { "param", "set", "order", "4" });

	EXPECT_EQ(res.rc, 0) << res.err;
	EXPECT_EQ(res.out, "max_contiguous_alloc_order: 0 -> 4\n");
	EXPECT_EQ(r.read(FakeRoot::param_rel("max_contiguous_alloc_order")), "4");

	json j = ctl_json(r, "param-set", { "param", "set", "backend", "pmem" });
	EXPECT_EQ(j, json({ { "name", "backend" }, { "old", "insn" }, { "value", "pmem" } }));
	EXPECT_EQ(r.param("backend"), "pmem");
	j = ctl_json(r, "param-set", { "param", "set", "max_contiguous_alloc_order", "0x3" });
	EXPECT_EQ(j["old"], "4");
	EXPECT_EQ(j["value"], "0x3") << "sysfs keeps what was written here; the kernel would not";

	// Refused by the tool, before anything is written: exit 2.
	res = ctl(r, { "param", "set", "order", "11" });
	EXPECT_EQ(res.rc, 2);
	EXPECT_TRUE(contains(res.err, "0..10")) << res.err;
	EXPECT_EQ(res.out, "");
	res = ctl(r, { "param", "set", "seg0_mode", "0660" });
	EXPECT_EQ(res.rc, 2);
	EXPECT_TRUE(contains(res.err, "load time")) << res.err;
	EXPECT_EQ(r.param("seg0_mode"), "0600");
	res = ctl(r, { "param", "set", "backend", "magic" });
	EXPECT_EQ(res.rc, 2);
	EXPECT_TRUE(contains(res.err, "not a backend")) << res.err;
	res = ctl(r, { "param", "set", "max_segments", "0" });
	EXPECT_EQ(res.rc, 2);
	res = ctl(r, { "param", "set", "no_such", "1" });
	EXPECT_EQ(res.rc, 2);
	EXPECT_TRUE(contains(res.err, "no parameter 'no_such'")) << res.err;
	EXPECT_TRUE(contains(res.err, "order is short for")) << res.err;
	EXPECT_EQ(r.param("max_contiguous_alloc_order"), "0x3");
	EXPECT_EQ(r.param("backend"), "pmem");

	// A parameter the module does not have (older module): exit 1 with the hint.
	fs::remove(r.path(FakeRoot::param_rel("max_segment_pages")));
	res = ctl(r, { "param", "set", "max_segment_pages", "8" });
	EXPECT_EQ(res.rc, 1);
	EXPECT_TRUE(contains(res.err, "no parameter 'max_segment_pages'")) << res.err;
	EXPECT_FALSE(fs::exists(r.path(FakeRoot::param_rel("max_segment_pages"))));
}

TEST(Commands, TouchWriteThenRead)
{
	FakeRoot r;
	Result res = ctl(r, { "touch", "write", "-n", "4" });

	ASSERT_EQ(res.rc, 0) << res.err;
	EXPECT_TRUE(contains(res.out, "write: 4 pages at page offset 0 of segment 0 (key 0x00000000) in "))
		<< res.out;
	EXPECT_TRUE(contains(res.out, " us/page)\n")) << res.out;
	EXPECT_EQ(res.err, "");
	// the pattern is in the file
	{
		std::ifstream f(r.path("/dev/my_shmem"), std::ios::binary);
		std::vector<std::uint32_t> w(4 * kPsz / 4 + 1);

		f.read(reinterpret_cast<char *>(w.data()), static_cast<std::streamsize>(w.size() * 4));
		EXPECT_TRUE(std::all_of(w.begin(), w.end() - 1,
					[](std::uint32_t v) { return v == my_shmem::kPattern; }));
		EXPECT_EQ(w.back(), 0u) << "page 4 untouched";
	}
	res = ctl(r, { "touch", "read", "-n", "4" });
	EXPECT_EQ(res.rc, 0) << res.err;
	EXPECT_TRUE(contains(res.out, ", 0 words differ from 0xcafebeef\n")) << res.out;

	// one word changed: read finds it, exit 1
	{
		const std::uint32_t bad = 0x12345678;
		int fd = open(r.path("/dev/my_shmem").c_str(), O_WRONLY);

		ASSERT_GE(fd, 0);
		ASSERT_EQ(pwrite(fd, &bad, sizeof(bad), static_cast<off_t>(2 * kPsz + 8)), 4);
		close(fd);
	}
	res = ctl(r, { "touch", "read", "-n", "4" });
	EXPECT_EQ(res.rc, 1);
	EXPECT_TRUE(contains(res.out, ", 1 words differ from 0xcafebeef\n")) << res.out;
	EXPECT_TRUE(contains(res.err, "touch read: 1 words differ")) << res.err;
	json j = ctl_json(r, "touch", { "touch", "read", "-n", "4" }, 1);
	EXPECT_EQ(j["mismatches"], 1);
	// --no-verify: nothing counted, success
	res = ctl(r, { "touch", "read", "-n", "4", "--no-verify" });
	EXPECT_EQ(res.rc, 0) << res.err;
	EXPECT_FALSE(contains(res.out, "differ")) << res.out;
	j = ctl_json(r, "touch", { "touch", "read", "-n", "4", "--no-verify" });
	EXPECT_TRUE(j["mismatches"].is_null());
	// pages never written read as zeroes: every word differs
	j = ctl_json(r, "touch", { "touch", "read", "-n", "2", "--offset", "6" }, 1);
	EXPECT_EQ(j["mismatches"], 2 * kPsz / 4);
	EXPECT_EQ(j["offset_pages"], 6);
	// the offset is in pages
	ASSERT_EQ(ctl(r, { "touch", "write", "-n", "2", "--offset", "14" }).rc, 0);
	EXPECT_EQ(ctl(r, { "touch", "read", "-n", "2", "-o", "14" }).rc, 0);
	EXPECT_EQ(ctl(r, { "touch", "read", "-n", "3", "-o", "13" }).rc, 1);
}

TEST(Commands, TouchJson)
{
	FakeRoot r;
	json w = ctl_json(r, "touch", { "touch", "write", "-n", "4", "--repeat", "3" });

	EXPECT_EQ(keys(w), (std::vector<std::string>{ "op", "segment", "key", "offset_pages", "pages",
						      "repeat", "order", "seconds",
						      "us_per_page" }));
	EXPECT_EQ(w["op"], "write");
	EXPECT_EQ(w["segment"], 0);
	EXPECT_EQ(w["key"], 0);
	EXPECT_EQ(w["offset_pages"], 0);
	EXPECT_EQ(w["pages"], 4);
	EXPECT_EQ(w["repeat"], 3);
	EXPECT_TRUE(w["order"].is_null());
	ASSERT_TRUE(w["seconds"].is_number());
	ASSERT_TRUE(w["us_per_page"].is_number());
	const double s = w["seconds"], us = w["us_per_page"];

	EXPECT_GT(s, 0);
	EXPECT_LT(s, 60);
	EXPECT_NEAR(us, s * 1e6 / 12, 1e-9 * us + 1e-12) << "per page of every pass";

	json rd = ctl_json(r, "touch", { "touch", "read", "-n", "4", "-o", "0" });
	EXPECT_EQ(keys(rd), (std::vector<std::string>{ "op", "segment", "key", "offset_pages", "pages",
						       "repeat", "order", "seconds", "us_per_page",
						       "mismatches" }));
	EXPECT_EQ(rd["op"], "read");
	EXPECT_EQ(rd["mismatches"], 0);
	EXPECT_EQ(rd["repeat"], 1);

	// text: the repeat is said
	Result t = ctl(r, { "touch", "write", "-n", "2", "-r", "3" });
	EXPECT_TRUE(contains(t.out, "write: 2 pages at page offset 0 of segment 0 (key 0x00000000), 3 times, in "))
		<< t.out;
}

TEST(Commands, TouchOrderSetsAndRestores)
{
	FakeRoot r;
	const std::string file = r.path(FakeRoot::param_rel("max_contiguous_alloc_order"));
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	ASSERT_GE(in, 0);
	ASSERT_GE(inotify_add_watch(in, file.c_str(), IN_MODIFY | IN_CLOSE_WRITE), 0);
	json w = ctl_json(r, "touch", { "touch", "write", "-n", "4", "--order", "4" });

	EXPECT_EQ(w["order"], 4);
	EXPECT_EQ(r.param("max_contiguous_alloc_order"), "0") << "restored";
	alignas(struct inotify_event) char buf[4096];
	ssize_t n = read(in, buf, sizeof(buf));
	int writes = 0;

	for (char *p = buf; n > 0 && p < buf + n;) {
		auto *ev = reinterpret_cast<struct inotify_event *>(p);

		writes += (ev->mask & IN_CLOSE_WRITE) != 0;
		p += sizeof(*ev) + ev->len;
	}
	close(in);
	EXPECT_EQ(writes, 2) << "set to 4, then back to 0 (MODIFY between: no coalescing)";
}

TEST(Commands, TouchSyncAndSegNeedTheRealDevice)
{
	FakeRoot r;
	const std::string dev = r.path("/dev/my_shmem");

	// The regular file has no ioctls: ENOTTY, exit 1, the device named.
	Result res = ctl(r, { "sync", "--clean", "0+4" });
	EXPECT_EQ(res.rc, 1);
	EXPECT_TRUE(contains(res.err, "shmemctl: MY_SHMEM_IOC_SYNC " + std::to_string(4 * kPsz) +
					      " bytes at offset 0 on " + dev + ": "))
		<< res.err;
	EXPECT_TRUE(contains(res.err, std::strerror(ENOTTY))) << res.err;
	EXPECT_TRUE(contains(res.err, "hint: " + dev + " is not the my_shmem device")) << res.err;
	EXPECT_EQ(res.out, "");

	res = ctl(r, { "touch", "write", "-n", "1", "--key", "5" });
	EXPECT_EQ(res.rc, 1);
	EXPECT_TRUE(contains(res.err, "MY_SHMEM_IOC_GET key 5 on " + dev)) << res.err;
	for (const auto &args : std::vector<std::vector<std::string>>{
		     { "seg", "create", "5", "--size", "1M" },
		     { "seg", "info", "0" },
		     { "seg", "info", "--key", "5" },
		     { "seg", "delete", "3" },
		     { "seg", "attach", "0", "--hold", "0" },
		     { "sync", "--inval", "-k", "7", "0+1" },
		     { "msi", "view", "3" },
		     { "msi", "view", "--key", "5" },
		     { "msi", "nodes", "3" },
		     { "dsm", "5", "--pages", "1" },
		     { "dsm", "5" } }) {
		res = ctl(r, args);
		EXPECT_EQ(res.rc, 1) << testing::PrintToString(args) << res.err;
		EXPECT_TRUE(contains(res.err, dev)) << testing::PrintToString(args) << res.err;
	}

	// The coherent-segment ioctls, named in the message, with the same hint.
	res = ctl(r, { "msi", "nodes", "3" });
	EXPECT_TRUE(contains(res.err, "shmemctl: MY_SHMEM_IOC_NODE_INFO segment 3, first node from 0 on " +
					      dev + ": " + std::strerror(ENOTTY)))
		<< res.err;
	EXPECT_TRUE(contains(res.err, "hint: " + dev + " is not the my_shmem device")) << res.err;
	res = ctl(r, { "dsm", "5" });
	EXPECT_TRUE(contains(res.err, "MY_SHMEM_IOC_GET key 5 on " + dev)) << res.err;
	EXPECT_EQ(res.out, "") << "no prompt before the device answered";

	// seg list and watch need netlink, which a test root never uses.
	res = ctl(r, { "seg", "list" });
	EXPECT_EQ(res.rc, 1);
	EXPECT_TRUE(contains(res.err, "list segments: " + std::string(std::strerror(EOPNOTSUPP))))
		<< res.err;
	EXPECT_TRUE(contains(res.err, "hint: listing segments needs the generic-netlink family"))
		<< res.err;
	res = ctl(r, { "watch", "--count", "1" });
	EXPECT_EQ(res.rc, 1);
	EXPECT_TRUE(contains(res.err, "hint: watch needs the generic-netlink family")) << res.err;
}

TEST(Commands, UsageErrorsFoundAfterParsing)
{
	FakeRoot r;

	for (const auto &[args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
		     { { "seg", "create", "0", "--size", "1M" }, "key 0 is segment 0" },
		     { { "seg", "create", "zz", "--size", "1M" }, "'zz' is not a key" },
		     { { "seg", "create", "5", "--size", "1Q" }, "--size '1Q' is not a size" },
		     { { "seg", "create", "5", "--size", "0" }, "--size '0' is not a size" },
		     { { "seg", "create", "5", "--size", "1M", "--perm", "0999" }, "--perm '0999'" },
		     { { "seg", "info" }, "which segment?" },
		     { { "seg", "info", "1", "--key", "2" }, "not both" },
		     { { "seg", "delete" }, "which segment?" },
		     { { "seg", "attach", "1", "--address", "0x1001" }, "page-aligned address" },
		     { { "seg", "attach", "1", "--address", "0" }, "page-aligned address" },
		     { { "seg", "attach", "1", "--size", "0" }, "--size '0' is not a size" },
		     { { "touch", "write", "--key", "zz" }, "'zz' is not a key" },
		     { { "sync", "0+4" }, "--clean, --inval, or both" },
		     { { "sync", "--clean", "4..2" }, "RANGE: the end of '4..2' is not after its start" },
		     { { "sync", "--clean", "1000B+4K" }, "RANGE: '1000B' is not a multiple" },
		     { { "sync", "--clean", "0+0" }, "RANGE: the range '0+0' is empty" },
		     { { "sync", "--clean", "lots" }, "RANGE: 'lots' is neither" },
		     { { "msi", "view" }, "which segment?" },
		     { { "msi", "view", "1", "--key", "2" }, "not both" },
		     { { "msi", "view", "--key", "zz" }, "'zz' is not a key" },
		     { { "msi", "nodes" }, "which segment?" },
		     { { "msi", "nodes", "1", "-k", "1" }, "not both" },
		     { { "dsm", "0" }, "key 0 is segment 0" },
		     { { "dsm", "zz" }, "'zz' is not a key" },
		     { { "dsm", "5", "--perm", "0999" }, "--perm '0999'" } }) {
		Result res = ctl(r, args);

		EXPECT_EQ(res.rc, 2) << testing::PrintToString(args) << res.err;
		EXPECT_TRUE(contains(res.err, "shmemctl: " + says) || contains(res.err, says))
			<< testing::PrintToString(args) << ": " << res.err;
		EXPECT_EQ(res.out, "");
	}
}

TEST(Commands, ModuleNotLoaded)
{
	FakeRoot r;

	r.unload();
	for (const auto &args : std::vector<std::vector<std::string>>{
		     { "status" },
		     { "param", "get" },
		     { "param", "get", "order" },
		     { "param", "set", "order", "1" },
		     { "seg", "list" },
		     { "seg", "create", "7", "--size", "4K" },
		     { "seg", "info", "0" },
		     { "seg", "delete", "1" },
		     { "seg", "attach", "0", "--hold", "0" },
		     { "touch", "write" },
		     { "touch", "read", "-n", "1" },
		     { "sync", "--clean", "0+1" },
		     { "watch" },
		     { "watch", "--count", "1" },
		     { "msi", "view", "3" },
		     { "msi", "view", "--key", "0x2a" },
		     { "msi", "nodes", "3" },
		     { "dsm", "0x2a" },
		     { "dsm", "0x2a", "--pages", "3" } }) {
		Result res = ctl(r, args);

		EXPECT_EQ(res.rc, 1) << testing::PrintToString(args) << res.err;
		EXPECT_TRUE(contains(res.err, "not loaded")) << testing::PrintToString(args) << res.err;
		EXPECT_TRUE(contains(res.err, "hint: load it with 'modprobe my_shmem' or 'insmod "
					      "my_shmem.ko' (as root)"))
			<< testing::PrintToString(args) << res.err;
	}
	Result res = ctl(r, { "status" });
	EXPECT_EQ(res.out, "my_shmem: not loaded\n");
	json j = ctl_json(r, "status", { "status" }, 1);
	EXPECT_EQ(j, json({ { "loaded", false } }));
	EXPECT_EQ(r.read("/dev/my_shmem").size(), 16 * kPsz) << "touch did not run";
}

// ================================================================ the progress bar, end to end

std::string shmemctl_bin()
{
	if (const char *b = std::getenv("SHMEMCTL_BIN"); b && *b)
		return b;
	return SHMEMCTL_REPO "/build/host/bin/shmemctl";
}

struct Spawned {
	int rc = -1;
	std::string out, err;	// a pty: both in out
};

[[noreturn]] void exec_shmemctl(const std::vector<std::string> &args)
{
	std::vector<std::string> store = { shmemctl_bin() };
	std::vector<char *> argv;

	store.insert(store.end(), args.begin(), args.end());
	for (auto &s : store)
		argv.push_back(s.data());
	argv.push_back(nullptr);
	execv(argv[0], argv.data());
	_exit(127);
}

int reap(pid_t pid)
{
	int st = 0;

	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Read @fds until every one is at its end, at most 60 s; what each said.
std::vector<std::string> drain(std::vector<int> fds, pid_t pid)
{
	std::vector<std::string> got(fds.size());
	const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);

	for (;;) {
		std::vector<struct pollfd> p;

		for (int fd : fds)
			if (fd >= 0)
				p.push_back({ fd, POLLIN, 0 });
		if (p.empty())
			break;
		if (std::chrono::steady_clock::now() > end) {
			ADD_FAILURE() << "shmemctl did not finish in 60 s";
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p.data(), p.size(), 1000) < 0 && errno != EINTR)
			break;
		for (const auto &q : p) {
			if (!q.revents)
				continue;
			char buf[4096];
			ssize_t n = read(q.fd, buf, sizeof(buf));
			std::size_t i = std::find(fds.begin(), fds.end(), q.fd) - fds.begin();

			if (n > 0) {
				got[i].append(buf, static_cast<std::size_t>(n));
			} else if (n == 0 || errno != EINTR) {	// EIO: the pty's slave closed
				close(q.fd);
				fds[i] = -1;
			}
		}
	}
	for (int fd : fds)
		if (fd >= 0)
			close(fd);
	return got;
}

// shmemctl on a pseudo-terminal: stderr, and stdout unless @stdout_pipe
// (then stdout is a pipe, in Spawned::out, and the terminal in ::err).
Spawned run_on_pty(const std::vector<std::string> &args, bool stdout_pipe = false)
{
	int master = -1, p[2] = { -1, -1 };
	struct winsize ws = {};
	Spawned s;

	ws.ws_row = 24;
	ws.ws_col = 120;
	if (stdout_pipe && pipe2(p, O_CLOEXEC)) {
		ADD_FAILURE() << "pipe: " << std::strerror(errno);
		return s;
	}
	pid_t pid = forkpty(&master, nullptr, nullptr, &ws);

	if (pid < 0) {
		ADD_FAILURE() << "forkpty: " << std::strerror(errno);
		return s;
	}
	if (pid == 0) {
		if (stdout_pipe)
			dup2(p[1], 1);
		exec_shmemctl(args);
	}
	if (!stdout_pipe) {
		s.out = drain({ master }, pid)[0];
	} else {
		close(p[1]);
		auto got = drain({ p[0], master }, pid);

		s.out = got[0];
		s.err = got[1];
	}
	s.rc = reap(pid);
	return s;
}

// shmemctl with stdout and stderr on pipes.
Spawned run_on_pipes(const std::vector<std::string> &args)
{
	int out[2], err[2];
	Spawned s;

	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		ADD_FAILURE() << "pipe: " << std::strerror(errno);
		return s;
	}
	pid_t pid = fork();

	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		exec_shmemctl(args);
	}
	close(out[1]);
	close(err[1]);
	auto got = drain({ out[0], err[0] }, pid);

	s.out = got[0];
	s.err = got[1];
	s.rc = reap(pid);
	return s;
}

class ProgressBar : public testing::Test {
protected:
	void SetUp() override
	{
		if (access(shmemctl_bin().c_str(), X_OK) != 0)
			GTEST_SKIP() << shmemctl_bin() << " is not built (make -C userspace)";
		root_ = std::make_unique<FakeRoot>(kPages);
		args_ = { "--root", root_->dir, "touch", "write", "-n", std::to_string(kPages),
			  "--repeat", "50", "--progress-delay", "0" };
	}
	static constexpr std::uint64_t kPages = 4096;
	std::unique_ptr<FakeRoot> root_;
	std::vector<std::string> args_;
	const std::string total_ = "/" + std::to_string(kPages * 50) + " pages";
	const std::string result_ = "write: 4096 pages at page offset 0 of segment 0 (key 0x00000000), "
				    "50 times, in ";
};

TEST_F(ProgressBar, OnATerminal)
{
	Spawned s = run_on_pty(args_);

	EXPECT_EQ(s.rc, 0) << s.out;
	EXPECT_GE(count(s.out, "\r["), 2u) << "frames: the first and the last at least\n" << s.out;
	EXPECT_TRUE(contains(s.out, total_)) << s.out;
	EXPECT_TRUE(contains(s.out, "\r[" + std::string(30, '#') + "] 100%  204800" + total_))
		<< "the last frame is full";
	const std::size_t erase = s.out.rfind("\r\033[K"), result = s.out.find(result_);

	ASSERT_NE(erase, std::string::npos) << "the bar is not erased";
	ASSERT_NE(result, std::string::npos) << s.out;
	EXPECT_LT(s.out.rfind("\r["), erase) << "a frame after the erase";
	EXPECT_LT(erase, result) << "the result line before the erase";
	EXPECT_TRUE(contains(s.out.substr(result), " us/page)\r\n")) << s.out;
}

TEST_F(ProgressBar, NotWithJsonNoProgressOrBeforeTheDelay)
{
	for (const auto &extra : std::vector<std::vector<std::string>>{
		     { "--no-progress" }, { "--json" }, { "--progress-delay", "600000" } }) {
		auto args = args_;

		if (extra[0] == "--json")
			args.insert(args.begin(), "--json");
		else if (extra[0] == "--progress-delay")
			args.back() = extra[1];
		else
			args.insert(args.end(), extra.begin(), extra.end());
		Spawned s = run_on_pty(args);

		EXPECT_EQ(s.rc, 0) << s.out;
		EXPECT_EQ(count(s.out, "\r["), 0u) << testing::PrintToString(extra) << s.out;
		EXPECT_FALSE(contains(s.out, "\033[K")) << testing::PrintToString(extra);
	}
}

TEST_F(ProgressBar, NotWhenOnlyStderrIsATerminal)
{
	// shmemctl touch ... > file: the bar would be noise around the output
	Spawned s = run_on_pty(args_, true);

	EXPECT_EQ(s.rc, 0) << s.err;
	EXPECT_EQ(count(s.err, "\r["), 0u) << s.err;
	EXPECT_TRUE(contains(s.out, result_)) << s.out;
	EXPECT_FALSE(contains(s.out, "\r")) << s.out;
}

TEST_F(ProgressBar, NotOnAPipeUnlessForced)
{
	Spawned s = run_on_pipes(args_);

	EXPECT_EQ(s.rc, 0) << s.err;
	EXPECT_EQ(s.err, "");
	EXPECT_FALSE(contains(s.out, "\r")) << s.out;
	EXPECT_TRUE(contains(s.out, result_)) << s.out;

	auto forced = args_;
	forced.push_back("--progress");
	s = run_on_pipes(forced);
	EXPECT_EQ(s.rc, 0) << s.err;
	EXPECT_GE(count(s.err, "\r["), 2u) << s.err;
	EXPECT_TRUE(contains(s.err, total_));
	ASSERT_GE(s.err.size(), 4u);
	EXPECT_EQ(s.err.substr(s.err.size() - 4), "\r\033[K") << "ends erased";
	EXPECT_FALSE(contains(s.out, "\r")) << "the bar goes to stderr only";
	EXPECT_TRUE(contains(s.out, result_)) << s.out;
}

// ================================================================ bash completion

std::string completion_file()
{
	return SHMEMCTL_REPO "/userspace/shmemctl/shmemctl.bash-completion";
}

std::string slurp(const std::string &path)
{
	std::ifstream f(path);
	std::stringstream ss;

	ss << f.rdbuf();
	return ss.str();
}

TEST(BashCompletion, NamesEveryCommandAndOption)
{
	const std::string text = slurp(completion_file());
	shmemctl::Options o;
	auto app = shmemctl::make_app(o);
	std::set<std::string> cli_long;

	ASSERT_FALSE(text.empty()) << completion_file();
	walk(app.get(), {}, [&](CLI::App *a, const std::vector<std::string> &path) {
		if (!path.empty()) {
			EXPECT_TRUE(std::regex_search(text, std::regex("\\b" + path.back() + "\\b")))
				<< "command " << join(path) << " not in " << completion_file();
		}
		for (const CLI::Option *opt : a->get_options()) {
			for (const std::string &l : opt->get_lnames()) {
				cli_long.insert("--" + l);
				EXPECT_TRUE(std::regex_search(text, std::regex("--" + l + "\\b")))
					<< join(path) << ": --" << l << " not in " << completion_file();
			}
			for (const std::string &s : opt->get_snames())
				EXPECT_TRUE(std::regex_search(text, std::regex("[ \"|]-" + s + "[ \"|)]")))
					<< join(path) << ": -" << s << " not in " << completion_file();
		}
	});
	// ...and nothing the CLI does not have.
	std::regex opt("--[a-z][a-z-]*[a-z]");
	for (auto it = std::sregex_iterator(text.begin(), text.end(), opt); it != std::sregex_iterator();
	     ++it)
		EXPECT_TRUE(cli_long.count(it->str())) << it->str() << " is not an option of shmemctl";
}

// COMPREPLY of _shmemctl for @words (the last one being completed), one per line.
std::vector<std::string> complete(const std::vector<std::string> &words,
				  const std::string &env = "")
{
	std::string script = env + " . '" + completion_file() + "'; COMP_WORDS=(";

	for (const auto &w : words)
		script += " '" + w + "'";
	script += " ); COMP_CWORD=" + std::to_string(words.size() - 1) +
		  "; _shmemctl; printf '%s\\n' \"${COMPREPLY[@]}\"";
	int p[2];

	if (pipe(p))
		return {};
	pid_t pid = fork();

	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl("/bin/bash", "bash", "--norc", "--noprofile", "-c", script.c_str(), nullptr);
		_exit(127);
	}
	close(p[1]);
	std::string out = drain({ p[0] }, pid)[0];

	EXPECT_EQ(reap(pid), 0) << script;
	std::vector<std::string> v;
	std::istringstream in(out);
	std::string line;

	while (std::getline(in, line))
		if (!line.empty())
			v.push_back(line);
	std::sort(v.begin(), v.end());
	return v;
}

std::vector<std::string> sorted(std::vector<std::string> v)
{
	std::sort(v.begin(), v.end());
	return v;
}

TEST(BashCompletion, CompletesLikeTheCli)
{
	if (access("/bin/bash", X_OK) != 0)
		GTEST_SKIP() << "no /bin/bash";
	shmemctl::Options o;
	auto app = shmemctl::make_app(o);

	// Each command's long options, exactly.
	walk(app.get(), {}, [&](CLI::App *a, const std::vector<std::string> &path) {
		std::vector<std::string> want, words = { "shmemctl" };

		for (const CLI::Option *opt : a->get_options())
			for (const std::string &l : opt->get_lnames())
				want.push_back("--" + l);
		words.insert(words.end(), path.begin(), path.end());
		words.push_back("--");
		EXPECT_EQ(complete(words), sorted(want)) << join(path);

		// ...and its subcommands
		if (!a->get_subcommands({}).empty()) {
			std::vector<std::string> subs;

			for (const CLI::App *s : a->get_subcommands({}))
				subs.push_back(s->get_name());
			words.back() = "";
			EXPECT_EQ(complete(words), sorted(subs)) << join(path);
		}
	});

	const std::vector<std::string> params = { "backend",	 "max_contiguous_alloc_order",
						  "max_pages",	 "max_segment_pages",
						  "max_segments", "order",
						  "seg0_mode",	 "seg0_pages" };

	EXPECT_EQ(complete({ "shmemctl", "param", "get", "" }, "export MY_SHMEM_ROOT=/nonexistent;"), params);
	EXPECT_EQ(complete({ "shmemctl", "-j", "param", "set", "ma" }, "export MY_SHMEM_ROOT=/nonexistent;"),
		  (std::vector<std::string>{ "max_contiguous_alloc_order", "max_pages",
					     "max_segment_pages", "max_segments" }));
	EXPECT_EQ(complete({ "shmemctl", "param", "set", "backend", "" }),
		  (std::vector<std::string>{ "insn", "kernel", "none", "pmem" }));
	EXPECT_EQ(complete({ "shmemctl", "param", "set", "order", "1" }),
		  (std::vector<std::string>{ "1", "10" }));
	EXPECT_EQ(complete({ "shmemctl", "touch", "" }), (std::vector<std::string>{ "read", "write" }));
	EXPECT_EQ(complete({ "shmemctl", "touch", "-n", "8", "w" }), (std::vector<std::string>{ "write" }));
	EXPECT_EQ(complete({ "shmemctl", "touch", "write", "--order", "" }).size(), 11u);
	EXPECT_EQ(complete({ "shmemctl", "touch", "write", "--pages", "" }).size(), 0u);
	EXPECT_EQ(complete({ "shmemctl", "seg", "create", "1", "--mode", "" }),
		  (std::vector<std::string>{ "coherent", "shared" }));
	EXPECT_EQ(complete({ "shmemctl", "seg", "create", "1", "-m", "=", "c" }),
		  (std::vector<std::string>{ "coherent" }));

	// parameter names from the module's sysfs under --root
	FakeRoot r;
	fs::remove(r.path(FakeRoot::param_rel("seg0_mode")));
	r.write(FakeRoot::param_rel("new_knob"), "1\n");
	auto got = complete({ "shmemctl", "--root", r.dir, "param", "get", "" });
	EXPECT_TRUE(std::find(got.begin(), got.end(), "new_knob") != got.end());
	EXPECT_TRUE(std::find(got.begin(), got.end(), "order") != got.end());
	EXPECT_TRUE(std::find(got.begin(), got.end(), "seg0_mode") == got.end());
	got = complete({ "shmemctl", "param", "get", "n" }, "export MY_SHMEM_ROOT='" + r.dir + "';");
	EXPECT_EQ(got, (std::vector<std::string>{ "new_knob" }));

	// --root completes directories
	fs::create_directories(r.path("/adir"));
	got = complete({ "shmemctl", "--root", r.dir + "/ad" });
	EXPECT_EQ(got, (std::vector<std::string>{ r.dir + "/adir" }));
	got = complete({ "shmemctl", "--root", "=", r.dir + "/d" });
	EXPECT_EQ(got, (std::vector<std::string>{ r.dir + "/dev" }));
	got = complete({ "shmemctl", "--root", r.dir + "/dev/my" });
	EXPECT_TRUE(got.empty()) << "a file, not a directory";
}

} // namespace
