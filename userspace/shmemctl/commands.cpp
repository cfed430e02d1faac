// SPDX-License-Identifier: GPL-2.0
#include "commands.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <poll.h>
#include <unistd.h>

#include <linux/my_shmem.h>

#include "dsm.hpp"
#include "format.hpp"
#include "my_shmem/my_shmem.hpp"

namespace shmemctl {

using my_shmem::json;

namespace {

// A usage error found after parsing (a key or size that does not parse):
// exit status 2, like CLI11's own.
struct UsageError : std::runtime_error {
	using std::runtime_error::runtime_error;
};

// The signal that asked to stop (0: none).
volatile std::sig_atomic_t g_stop = 0;

void on_signal(int sig)
{
	g_stop = sig;
}

// SIGINT / SIGTERM end attach, watch and dsm cleanly (no SA_RESTART: waits return).
struct StopSignals {
	struct sigaction old_int {}, old_term {};
	StopSignals()
	{
		struct sigaction sa {};

		g_stop = 0;
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
	}
	~StopSignals()
	{
		sigaction(SIGINT, &old_int, nullptr);
		sigaction(SIGTERM, &old_term, nullptr);
	}
};

struct Ctx {
	const Options &o;
	std::ostream &out;
	std::ostream &err;
	my_shmem::Paths paths;
	my_shmem::Control ctl;

	bool json() const { return o.json || o.pretty; }
	void emit(const my_shmem::json &j) const
	{
		out << (o.pretty ? j.dump(2) : j.dump()) << "\n";
	}
};

std::uint64_t page_size()
{
	return static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::uint64_t parse_key(const std::string &text, bool nonzero)
{
	if (text.empty())
		return 0;
	auto k = parse_uint(text);

	if (!k)
		throw UsageError("'" + text + "' is not a key (decimal, 0x hex or 0 octal)");
	if (nonzero && !*k)
		throw UsageError("key 0 is segment 0, which always exists: pick a non-zero key");
	return *k;
}

// Name of @id in /etc/passwd or /etc/group (read directly: the guest binaries
// are static, and glibc's NSS cannot be used from them), else the number.
std::string id_name(const char *file, std::uint32_t id)
{
	std::ifstream f(file);
	std::string line;

	while (std::getline(f, line)) {
		auto c1 = line.find(':');
		auto c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
		auto c3 = c2 == std::string::npos ? c2 : line.find(':', c2 + 1);

		if (c3 != std::string::npos && line.substr(c2 + 1, c3 - c2 - 1) == std::to_string(id))
			return line.substr(0, c1);
	}
	return std::to_string(id);
}

std::string user_name(std::uint32_t uid)
{
	return id_name("/etc/passwd", uid);
}

std::string group_name(std::uint32_t gid)
{
	return id_name("/etc/group", gid);
}

std::string octal(std::uint32_t v, int width = 4)
{
	char buf[16];

	std::snprintf(buf, sizeof(buf), "%0*o", width, v);
	return buf;
}

// The device, bound to the segment of @key (0: segment 0, bound at open);
// *@id gets the segment's id.
my_shmem::Device open_key(const Ctx &c, std::uint64_t key, bool write, std::uint32_t *id = nullptr)
{
	auto dev = my_shmem::Device::open(c.paths, write);
	std::uint32_t bound = 0;

	if (key) {
		my_shmem::BindRequest req;

		req.key = key;
		bound = dev.bind(req);
	}
	if (id)
		*id = bound;
	return dev;
}

// The segment a command names by ID or --key.
my_shmem::SegInfo find_segment(Ctx &c)
{
	if (c.o.id && !c.o.key_text.empty())
		throw UsageError("give the segment's ID or --key, not both");
	if (!c.o.id && c.o.key_text.empty())
		throw UsageError("which segment? give its ID (shmemctl seg list) or --key KEY");
	if (c.o.id) {
		auto s = c.ctl.segment(*c.o.id);

		if (!s)
			throw my_shmem::Error("segment id " + std::to_string(*c.o.id), ENOENT)
				.with_hint("no segment has this id (shmemctl seg list shows them)");
		return *s;
	}
	const std::uint64_t key = parse_key(c.o.key_text, false);
	return open_key(c, key, false).seg_info();
}

// ---------------------------------------------------------------- status

int cmd_status(Ctx &c)
{
	my_shmem::ModuleInfo m = c.ctl.module_info();

	if (!m.loaded) {
		if (c.json())
			c.emit(my_shmem::to_json(m));
		else
			c.out << "my_shmem: not loaded\n";
		c.ctl.require_loaded();	// throws, with the hint
	}
	my_shmem::Stats st = c.ctl.stats();
	std::vector<my_shmem::Param> params = c.ctl.params();
	auto value = [&params](const std::string &n) {
		for (const auto &p : params)
			if (p.name == n)
				return p.value;
		return std::string("?");
	};

	if (c.json()) {
		json j = my_shmem::to_json(m);
		json pj = json::object();

		for (const auto &p : params)
			pj[p.name] = p.value;
		j["params"] = pj;
		j["stats"] = my_shmem::to_json(st);
		c.emit(j);
		return 0;
	}
	const std::uint64_t psz = page_size();
	auto pages = [psz](const std::string &v) {
		auto n = parse_uint(v);

		return n ? v + " (" + human_bytes(*n * psz) + ")" : v;
	};
	std::ostringstream o;

	o << "my_shmem:       loaded";
	if (!m.version.empty())
		o << ", version " << m.version;
	if (!m.srcversion.empty())
		o << " (srcversion " << m.srcversion << ")";
	o << "\n";
	o << "control:        "
	  << (m.netlink_version ? "netlink family " MY_SHMEM_FAMILY_NAME " v" +
					  std::to_string(*m.netlink_version)
				: std::string("sysfs (netlink family not reachable)"))
	  << "\n";
	o << "device:         " << c.paths.device() << " ("
	  << (m.device_present ? m.device_access + " for this user" : std::string("missing"))
	  << ")\n";
	o << "backend:        " << value("backend") << "\n";
	const std::string order = value("max_contiguous_alloc_order");
	auto on = parse_uint(order);

	o << "order:          " << order;
	if (on && *on < 64)
		o << " (runs of " << (1ULL << *on) << (*on ? " pages, " : " page, ")
		  << human_bytes((1ULL << *on) * psz) << ")";
	o << "\n";
	o << "caps:           max_pages " << pages(value("max_pages")) << ", max_segments "
	  << value("max_segments") << ", max_segment_pages " << pages(value("max_segment_pages"))
	  << ", seg0_pages " << pages(value("seg0_pages")) << ", seg0_mode " << value("seg0_mode")
	  << "\n";
	o << "pages in use:   " << st.pages_in_use << " (" << human_bytes(st.pages_in_use * psz)
	  << ") of max " << st.max_pages << "\n";
	o << "allocations:    ";
	std::uint64_t runs = 0;

	for (std::size_t i = 0; i < st.allocs_by_order.size(); i++) {
		o << (i ? " " : "") << "o" << i << ":" << st.allocs_by_order[i];
		runs += st.allocs_by_order[i];
	}
	o << " (" << runs << " live runs)\n";
	o << "faults:         " << st.faults << "\n";
	o << "cleans:         " << st.cleans << "\n";
	o << "invalidations:  " << st.invals << "\n";
	o << "sigbus:         " << st.sigbus << ", order fallbacks " << st.order_fallbacks << "\n";
	o << "users:          " << st.segments << " segments, " << st.files << " open files, "
	  << st.vmas << " mappings\n";
	o << "tracepoints:    ";
	if (m.tracepoints.empty())
		o << "none found (is tracefs mounted at " << c.paths.tracefs() << "?)";
	for (std::size_t i = 0; i < m.tracepoints.size(); i++)
		o << (i ? " " : "") << "my_shmem:" << m.tracepoints[i];
	o << "\n";
	c.out << o.str();
	return 0;
}

// ---------------------------------------------------------------- param

int cmd_param_get(Ctx &c)
{
	if (c.o.names.size() == 1) {
		my_shmem::Param p = c.ctl.param(c.o.names[0]);

		if (c.json())
			c.emit(my_shmem::to_json(p));
		else
			c.out << p.value << "\n";
		return 0;
	}
	std::vector<my_shmem::Param> all;

	if (c.o.names.empty()) {
		all = c.ctl.params();
	} else {
		for (const auto &n : c.o.names)
			all.push_back(c.ctl.param(n));
	}
	if (c.json()) {
		c.emit(my_shmem::to_json(all));
		return 0;
	}
	std::vector<std::vector<std::string>> rows;

	for (const auto &p : all) {
		const my_shmem::ParamSpec *s = my_shmem::find_param(p.name);

		rows.push_back({ p.name, p.value, p.writable ? "yes" : "no (load time)",
				 s ? s->help : "" });
	}
	c.out << render_table({ "NAME", "VALUE", "RUNTIME", "MEANING" }, rows);
	return 0;
}

int cmd_param_set(Ctx &c)
{
	const my_shmem::ParamSpec *spec = my_shmem::find_param(c.o.name);

	if (!spec)
		throw UsageError("no parameter '" + c.o.name +
				 "': shmemctl param get lists them (order is short for "
				 "max_contiguous_alloc_order)");
	if (auto why = my_shmem::check_param_value(*spec, c.o.value))
		throw UsageError(*why);
	c.ctl.require_loaded();
	const std::string old = c.ctl.param(spec->name).value;

	c.ctl.set_param(spec->name, c.o.value);
	const std::string now = c.ctl.param(spec->name).value;

	if (c.json())
		c.emit(json{ { "name", spec->name }, { "old", old }, { "value", now } });
	else
		c.out << spec->name << ": " << old << " -> " << now << "\n";
	return 0;
}

// ---------------------------------------------------------------- seg

int cmd_seg_create(Ctx &c)
{
	my_shmem::BindRequest req;
	const std::uint64_t psz = page_size();
	auto size = parse_size(c.o.size_text, psz);
	auto perm = parse_perm(c.o.perm_text);
	auto mode = my_shmem::parse_mode(c.o.mode);

	req.key = parse_key(c.o.key_text, true);
	if (!size || !*size)
		throw UsageError("--size '" + c.o.size_text +
				 "' is not a size (e.g. 4096, 64K, 1M, 16p)");
	if (!perm)
		throw UsageError("--perm '" + c.o.perm_text +
				 "' is not octal permission bits (0..0777)");
	req.bytes = *size;
	req.perm = *perm;
	req.mode = *mode;
	c.ctl.require_loaded();
	auto dev = my_shmem::Device::open(c.paths, true);
	bool created = false;

	// Find first, so that the output can say whether it was created.
	if (!c.o.excl) {
		try {
			dev.bind(req);
		} catch (const my_shmem::Error &e) {
			if (e.err() != ENOENT)
				throw;
			req.create = true;
		}
	} else {
		req.create = true;
	}
	if (req.create) {
		req.exclusive = true;
		try {
			dev.bind(req);
			created = true;
		} catch (const my_shmem::Error &e) {
			if (e.err() != EEXIST || c.o.excl)	// lost a race: use theirs
				throw;
			req.create = req.exclusive = false;
			dev.bind(req);
		}
	}
	my_shmem::SegInfo s = dev.seg_info();

	if (c.json()) {
		c.emit(json{ { "created", created }, { "segment", my_shmem::to_json(s) } });
		return 0;
	}
	c.out << (created ? "created" : "found existing") << " segment " << s.id << ": key "
	      << format_key(s.key) << ", " << human_bytes(s.bytes) << ", "
	      << my_shmem::mode_name(s.mode) << ", perm " << octal(s.perm) << ", owner "
	      << user_name(s.uid) << "\n";
	return 0;
}

int cmd_seg_list(Ctx &c)
{
	std::vector<my_shmem::SegInfo> segs = c.ctl.segments();

	if (c.json()) {
		c.emit(my_shmem::to_json(segs));
		return 0;
	}
	std::vector<std::vector<std::string>> rows;

	for (const auto &s : segs)
		rows.push_back({ format_key(s.key), std::to_string(s.id), user_name(s.uid),
				 octal(s.perm, 3), std::to_string(s.bytes), std::to_string(s.nattch),
				 s.deleted() ? "dest" : "", my_shmem::mode_name(s.mode),
				 std::to_string(s.pages) });
	c.out << "------ my_shmem Segments --------\n"
	      << render_table({ "key", "shmid", "owner", "perms", "bytes", "nattch", "status",
				"mode", "pages" },
			      rows, { false, true, false, false, true, true, false, false, true });
	return 0;
}

int cmd_seg_info(Ctx &c)
{
	c.ctl.require_loaded();
	my_shmem::SegInfo s = find_segment(c);

	if (c.json()) {
		c.emit(my_shmem::to_json(s));
		return 0;
	}
	std::ostringstream o;
	const std::uint64_t psz = page_size();

	o << "segment " << s.id << (s.id == 0 ? " (segment 0, the module's own)" : "")
	  << (s.deleted() ? " [marked for deletion]" : "") << "\n";
	o << "  key:        " << format_key(s.key) << " (" << s.key << ")\n";
	o << "  size:       " << s.bytes << " bytes (" << human_bytes(s.bytes) << ", "
	  << s.bytes / psz << " pages)\n";
	o << "  mode:       " << my_shmem::mode_name(s.mode) << "\n";
	o << "  perm:       " << octal(s.perm) << " (" << perm_string(s.perm) << ")\n";
	o << "  owner:      " << user_name(s.uid) << ":" << group_name(s.gid) << " (uid " << s.uid
	  << ", gid " << s.gid << ")\n";
	o << "  creator:    " << user_name(s.cuid) << ":" << group_name(s.cgid) << ", pid "
	  << s.cpid << "\n";
	o << "  attached:   " << s.nattch << " mappings, " << s.nodes
	  << " open files bound; last attach/detach by pid " << s.lpid << "\n";
	o << "  times:      attach " << format_time(s.atime) << ", detach " << format_time(s.dtime)
	  << ", change " << format_time(s.ctime) << "\n";
	o << "  pages:      " << s.pages << " allocated (" << human_bytes(s.pages * psz) << ")\n";
	o << "  runs:      ";
	for (std::size_t i = 0; i < s.allocs_by_order.size(); i++)
		o << " o" << i << ":" << s.allocs_by_order[i];
	o << "\n";
	o << "  counters:   " << s.faults << " faults, " << s.cleans << " cleans, " << s.invals
	  << " invalidations\n";
	c.out << o.str();
	return 0;
}

int cmd_seg_delete(Ctx &c)
{
	c.ctl.require_loaded();
	my_shmem::SegInfo s = find_segment(c);
	auto dev = my_shmem::Device::open(c.paths, false);

	dev.remove(s.id);
	// After the mark the segment may be gone at once (nothing attached).
	auto after = c.ctl.segment(s.id);
	const bool freed = !after;

	if (c.json()) {
		c.emit(json{ { "id", s.id }, { "key", s.key }, { "freed", freed } });
		return 0;
	}
	c.out << "segment " << s.id << " (key " << format_key(s.key) << ") "
	      << (freed ? "deleted" :
			  "marked for deletion; it goes with its last attachment (" +
				  std::to_string(after->nattch) + " mappings, " +
				  std::to_string(after->nodes) + " open files now)")
	      << "\n";
	return 0;
}

int cmd_seg_attach(Ctx &c)
{
	const std::uint64_t key = parse_key(c.o.key_text, false);
	void *at = nullptr;

	if (!c.o.address_text.empty()) {
		auto a = parse_uint(c.o.address_text);

		if (!a || !*a || *a % page_size())
			throw UsageError("--address '" + c.o.address_text +
					 "' is not a page-aligned address (e.g. 0x10000000)");
		at = reinterpret_cast<void *>(*a);
	}
	std::optional<std::uint64_t> size;

	if (!c.o.size_text.empty()) {
		size = parse_size(c.o.size_text, page_size());
		if (!size || !*size)
			throw UsageError("--size '" + c.o.size_text + "' is not a size");
	}
	c.ctl.require_loaded();
	auto dev = open_key(c, key, !c.o.read_only);
	my_shmem::SegInfo s = dev.seg_info();
	const std::uint64_t len = size ? (*size + page_size() - 1) / page_size() * page_size() :
					 s.bytes;
	StopSignals sigs;
	my_shmem::Mapping m = dev.map(len, 0, !c.o.read_only, at);
	const auto addr = reinterpret_cast<std::uintptr_t>(m.data());
	char hex[24];

	std::snprintf(hex, sizeof(hex), "0x%llx", static_cast<unsigned long long>(addr));
	if (c.json())
		c.emit(json{ { "id", s.id }, { "key", s.key }, { "address", hex }, { "bytes", len },
			     { "read_only", c.o.read_only }, { "pid", getpid() } });
	else
		c.out << "attached segment " << s.id << " (key " << format_key(s.key) << ") at "
		      << hex << ", " << len << " bytes, " << (c.o.read_only ? "read-only" : "read-write")
		      << ", pid " << getpid() << "; "
		      << (c.o.hold >= 0 ? "detaching in " + std::to_string(c.o.hold) + " s" :
					  std::string("detaching on SIGINT or SIGTERM"))
		      << "\n";
	c.out.flush();
	const auto t0 = std::chrono::steady_clock::now();

	while (!g_stop) {
		int ms = 1000;

		if (c.o.hold >= 0) {
			double left = c.o.hold - std::chrono::duration<double>(
							 std::chrono::steady_clock::now() - t0)
							 .count();
			if (left <= 0)
				break;
			ms = static_cast<int>(std::min(1000.0, left * 1000) + 1);
		}
		poll(nullptr, 0, ms);
	}
	m.reset();
	if (!c.json())
		c.out << "detached segment " << s.id << "\n";
	return 0;
}

// ---------------------------------------------------------------- touch, sync

// Sets max_contiguous_alloc_order for the life of the object.
struct OrderOverride {
	my_shmem::Control &ctl;
	std::ostream &err;
	std::string old;
	OrderOverride(my_shmem::Control &c, std::ostream &e, unsigned order) : ctl(c), err(e)
	{
		old = ctl.param("max_contiguous_alloc_order").value;
		ctl.set_param("max_contiguous_alloc_order", std::to_string(order));
	}
	~OrderOverride()
	{
		try {
			ctl.set_param("max_contiguous_alloc_order", old);
		} catch (const std::exception &e) {
			err << "shmemctl: could not restore max_contiguous_alloc_order=" << old << ": "
			    << e.what() << "\n";
		}
	}
};

int cmd_touch(Ctx &c)
{
	const std::uint64_t key = parse_key(c.o.key_text, false);
	const bool write = c.o.op == "write";

	c.ctl.require_loaded();
	std::uint32_t id;
	auto dev = open_key(c, key, write, &id);
	std::optional<OrderOverride> order;

	if (c.o.order)
		order.emplace(c.ctl, c.err, *c.o.order);

	const bool show = c.o.progress_on ||
			  (!c.o.progress_off && !c.json() && isatty(STDOUT_FILENO) &&
			   isatty(STDERR_FILENO));
	const auto t0 = std::chrono::steady_clock::now();
	auto last = t0;
	bool drawn = false;
	my_shmem::Progress progress;

	if (show)
		progress = [&](std::uint64_t done, std::uint64_t total) {
			auto now = std::chrono::steady_clock::now();
			double el = std::chrono::duration<double>(now - t0).count();

			if (el * 1000 < c.o.progress_delay_ms)
				return;
			if (drawn && done < total && now - last < std::chrono::milliseconds(100))
				return;
			last = now;
			drawn = true;
			c.err << progress_line(done, total, el) << std::flush;
		};
	my_shmem::TouchSpec spec;

	spec.write = write;
	spec.pages = c.o.pages;
	spec.offset_pages = c.o.offset;
	spec.repeat = c.o.repeat;
	spec.verify = c.o.verify;
	my_shmem::TouchResult r = my_shmem::touch(dev, spec, progress);

	if (drawn)
		c.err << "\r\033[K" << std::flush;
	const double us_per_page = r.seconds * 1e6 / static_cast<double>(r.pages_touched);

	if (c.json()) {
		json j{ { "op", c.o.op },
			{ "segment", id },
			{ "key", key },
			{ "offset_pages", c.o.offset },
			{ "pages", c.o.pages },
			{ "repeat", c.o.repeat },
			{ "order", c.o.order ? json(*c.o.order) : json(nullptr) },
			{ "seconds", r.seconds },
			{ "us_per_page", us_per_page } };

		if (!write)
			j["mismatches"] = c.o.verify ? json(r.mismatches) : json(nullptr);
		c.emit(j);
	} else {
		char t[96];

		std::snprintf(t, sizeof(t), " in %.3f ms (%.2f us/page)", r.seconds * 1e3, us_per_page);
		c.out << c.o.op << ": " << c.o.pages << " pages at page offset " << c.o.offset
		      << " of segment " << id << " (key " << format_key(key) << ")";
		if (c.o.repeat != 1)
			c.out << ", " << c.o.repeat << " times,";
		c.out << t;
		if (!write && c.o.verify)
			c.out << ", " << r.mismatches << " words differ from 0xcafebeef";
		c.out << "\n";
	}
	if (!write && c.o.verify && r.mismatches) {
		c.err << "shmemctl: touch read: " << r.mismatches
		      << " words differ from 0xcafebeef (nothing wrote there since load, or "
			 "another writer changed them)\n";
		return 1;
	}
	return 0;
}

int cmd_sync(Ctx &c)
{
	const std::uint64_t key = parse_key(c.o.key_text, false);
	std::string why;
	auto range = parse_range(c.o.range_text, page_size(), &why);

	if (!c.o.clean && !c.o.inval)
		throw UsageError("say what to do: --clean, --inval, or both");
	if (!range)
		throw UsageError("RANGE: " + why);
	c.ctl.require_loaded();
	std::uint32_t id;
	auto dev = open_key(c, key, true, &id);
	my_shmem::SyncRequest req{ range->offset, range->len, c.o.clean, c.o.inval };
	std::uint32_t allocs = 0;
	const auto t0 = std::chrono::steady_clock::now();

	for (std::uint64_t i = 0; i < c.o.repeat; i++)
		allocs = dev.sync(req);
	const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	const std::string op = c.o.clean && c.o.inval ? "clean+inval" : c.o.clean ? "clean" : "inval";

	if (c.json()) {
		c.emit(json{ { "op", op }, { "segment", id }, { "key", key },
			     { "offset", range->offset }, { "len", range->len },
			     { "repeat", c.o.repeat }, { "allocs", allocs }, { "seconds", s } });
		return 0;
	}
	const std::uint64_t psz = page_size();
	char t[64];

	std::snprintf(t, sizeof(t), " in %.3f ms", s * 1e3);
	c.out << op << ": pages " << range->offset / psz << ".." << (range->offset + range->len) / psz - 1
	      << " of segment " << id << ": " << allocs << " allocations covered";
	if (c.o.repeat != 1)
		c.out << ", " << c.o.repeat << " times,";
	c.out << t << "\n";
	return 0;
}

// ---------------------------------------------------------------- watch

int cmd_watch(Ctx &c)
{
	c.ctl.require_loaded();
	my_shmem::Netlink *nl = c.ctl.netlink();

	if (!nl)
		throw my_shmem::Error("watch events", EOPNOTSUPP)
			.with_hint("watch needs the generic-netlink family my_shmem, which is not "
				   "reachable here");
	StopSignals sigs;

	nl->subscribe();
	std::uint64_t seen = 0, dropped = 0, overruns = 0;
	const auto t0 = std::chrono::steady_clock::now();
	auto on = [&](const my_shmem::Event &e) {
		if (c.o.count && seen >= c.o.count)
			return;
		seen++;
		dropped += e.dropped;
		if (c.json()) {
			c.out << my_shmem::to_json(e).dump() << "\n";
		} else {
			if (e.dropped)
				c.out << "(the kernel dropped " << e.dropped << " events here)\n";
			c.out << my_shmem::event_type_name(e.type) << " seg " << e.seg_id << " key "
			      << format_key(e.key);
			if (e.pgoff)
				c.out << " pgoff " << *e.pgoff;
			if (e.order)
				c.out << " order " << *e.order;
			c.out << "\n";
		}
		c.out.flush();
	};
	if (!c.json())
		c.err << "watching my_shmem events (Ctrl-C to stop)\n";
	while (!g_stop && !(c.o.count && seen >= c.o.count)) {
		int ms = -1;

		if (c.o.timeout > 0) {
			double left = c.o.timeout - std::chrono::duration<double>(
							    std::chrono::steady_clock::now() - t0)
							    .count();
			if (left <= 0)
				break;
			ms = static_cast<int>(left * 1000) + 1;
		}
		struct pollfd p = { nl->event_fd(), POLLIN, 0 };
		int n = poll(&p, 1, ms);

		if (n < 0 && errno != EINTR)
			throw my_shmem::Error("poll the event socket", errno);
		if (n > 0 && !nl->receive_events(on, false))
			overruns++;
	}
	c.err << "watch: " << seen << " events, " << dropped << " dropped by the kernel";
	if (overruns)
		c.err << ", " << overruns << " socket overruns (events lost in the socket)";
	c.err << "\n";
	return 0;
}

// ---------------------------------------------------------------- msi

// The segment an msi command names by ID or --key, checked for form (exit 2)
// before anything else.
struct SegRef {
	std::optional<std::uint32_t> id;
	std::uint64_t key = 0;
};

SegRef msi_ref(const Ctx &c)
{
	if (c.o.id && !c.o.key_text.empty())
		throw UsageError("give the segment's ID or --key, not both");
	if (!c.o.id && c.o.key_text.empty())
		throw UsageError("which segment? give its ID (shmemctl seg list) or --key KEY");
	if (c.o.id)
		return { c.o.id, 0 };
	return { std::nullopt, parse_key(c.o.key_text, false) };
}

// Its id: a key is looked up in netlink's list of segments, so that the
// command does not become a node of the segment it looks at; without
// netlink, by binding a device fd to the key (a node for a moment).
std::uint32_t msi_segment(Ctx &c, const SegRef &r)
{
	if (r.id)
		return *r.id;
	if (!r.key)
		return 0;
	if (my_shmem::Netlink *nl = c.ctl.netlink()) {
		for (const my_shmem::SegInfo &s : nl->seg_list())
			if (s.key == r.key && !s.deleted())
				return s.id;
		throw my_shmem::Error("find the segment of key " + format_key(r.key), ENOENT)
			.with_hint("no segment has key " + format_key(r.key) +
				   ": create one (shmemctl seg create KEY --size SIZE --mode coherent)");
	}
	std::uint32_t id = 0;

	open_key(c, r.key, false, &id);
	return id;
}

int cmd_msi_view(Ctx &c)
{
	const SegRef ref = msi_ref(c);

	c.ctl.require_loaded();
	const std::uint32_t id = msi_segment(c, ref);
	auto dev = my_shmem::Device::open(c.paths, false);
	std::vector<my_shmem::NodeInfo> nodes;

	if (c.o.node)
		nodes.push_back(dev.node_info(id, *c.o.node));
	else
		nodes = dev.nodes(id);
	const my_shmem::SegInfo s = dev.seg_info(id);
	const std::uint64_t seg_pages = s.bytes / page_size();
	const my_shmem::MsiView dir = dev.msi_view(id, std::nullopt, c.o.first,
						   c.o.view_count.value_or(UINT64_MAX));

	if (!dir.pages())
		throw my_shmem::Error("msi view segment " + std::to_string(id) + " --first " +
					      std::to_string(c.o.first),
				      EINVAL)
			.with_hint("segment " + std::to_string(id) + " has " + std::to_string(seg_pages) +
				   " pages (0.." + std::to_string(seg_pages ? seg_pages - 1 : 0) + ")");
	std::vector<MsiNodeRow> rows;

	for (const my_shmem::NodeInfo &n : nodes) {
		try {
			rows.push_back({ n, dev.msi_view(id, n.node, c.o.first, dir.pages()).states });
		} catch (const my_shmem::Error &e) {
			if (e.err() != ENOENT || c.o.node)
				throw;	// else the node went meanwhile: not shown
		}
	}
	if (c.json()) {
		c.emit(msi_view_json(id, c.o.first, rows, dir.directory));
		return 0;
	}
	const std::uint32_t nr = nodes.empty() ? 0 : nodes.front().nr_nodes;

	c.out << "segment " << id << " (key " << format_key(s.key) << "): pages " << c.o.first << ".."
	      << c.o.first + dir.pages() - 1 << " of " << seg_pages << ", ";
	if (c.o.node)
		c.out << "node " << *c.o.node << " of " << nr << (nr == 1 ? " node" : " nodes") << "\n";
	else
		c.out << rows.size() << (rows.size() == 1 ? " node" : " nodes") << "\n";
	c.out << render_msi_grid(c.o.first, rows, dir.directory);
	return 0;
}

int cmd_msi_nodes(Ctx &c)
{
	const SegRef ref = msi_ref(c);

	c.ctl.require_loaded();
	const std::uint32_t id = msi_segment(c, ref);
	auto dev = my_shmem::Device::open(c.paths, false);
	const std::vector<my_shmem::NodeInfo> nodes = dev.nodes(id);

	if (c.json()) {
		c.emit(my_shmem::to_json(nodes));
		return 0;
	}
	const my_shmem::SegInfo s = dev.seg_info(id);

	c.out << "segment " << id << " (key " << format_key(s.key) << "): " << nodes.size()
	      << (nodes.size() == 1 ? " node" : " nodes") << "\n";
	if (!nodes.empty())
		c.out << render_node_table(nodes);
	return 0;
}

// ---------------------------------------------------------------- dsm

// Lines of standard input, read(2) by read(2): a signal (g_stop) interrupts.
class FdLines {
public:
	explicit FdLines(int fd) : fd_(fd) {}

	dsm::Input operator()(std::string &line)
	{
		for (;;) {
			if (g_stop)
				return dsm::Input::Interrupted;
			const std::size_t nl = buf_.find('\n');

			if (nl != std::string::npos || (eof_ && !buf_.empty())) {
				line = buf_.substr(0, nl);
				buf_.erase(0, nl == std::string::npos ? nl : nl + 1);
				if (!line.empty() && line.back() == '\r')
					line.pop_back();
				return dsm::Input::Line;
			}
			if (eof_)
				return dsm::Input::Eof;
			char tmp[4096];
			const ssize_t n = ::read(fd_, tmp, sizeof(tmp));

			if (n < 0 && errno != EINTR)
				throw my_shmem::Error("read standard input", errno);
			if (n == 0)
				eof_ = true;
			else if (n > 0)
				buf_.append(tmp, static_cast<std::size_t>(n));
		}
	}

private:
	int fd_;
	std::string buf_;
	bool eof_ = false;
};

// This process's node of the segment: its mapping, and the fault counters of
// MY_SHMEM_IOC_NODE_INFO before and after each access to say whether it faulted.
class CoherentNode : public dsm::Node {
public:
	CoherentNode(const my_shmem::Device &dev, const my_shmem::Mapping &map, std::size_t psz)
		: dev_(dev), map_(map), psz_(psz) {}

	std::size_t pages() const override { return map_.size() / psz_; }

	std::string read(std::size_t i, bool *faulted) override
	{
		const std::uint64_t before = faults();
		const char *p = map_.data<char>() + i * psz_;
		std::string s(p, ::strnlen(p, psz_));

		*faulted = faults() != before;
		return s;
	}

	bool write(std::size_t i, std::string_view text) override
	{
		const std::uint64_t before = faults();
		char *p = map_.data<char>() + i * psz_;
		const std::size_t n = std::min(text.size(), psz_ - 1);

		std::memcpy(p, text.data(), n);
		p[n] = '\0';
		return faults() != before;
	}

	std::vector<my_shmem::msi::State> states() override
	{
		return dev_.msi_view(my_shmem::Device::kBound, my_shmem::Device::kNodeSelf, 0, pages())
			.states;
	}

private:
	// The accesses stay between the two ioctls: the compiler may not move
	// them across these fences (nor across the calls, which may read them).
	std::uint64_t faults() const
	{
		std::atomic_signal_fence(std::memory_order_seq_cst);
		const std::uint64_t f = dev_.node_info().faults();

		std::atomic_signal_fence(std::memory_order_seq_cst);
		return f;
	}

	const my_shmem::Device &dev_;
	const my_shmem::Mapping &map_;
	std::size_t psz_;
};

// The largest segment the module makes, in pages (what the page count prompt accepts).
std::uint64_t max_segment_pages(Ctx &c)
{
	constexpr std::uint64_t kFallback = 1ULL << 20;	// s2dsm's bound

	try {
		auto v = parse_uint(c.ctl.param("max_segment_pages").value);

		return v && *v ? std::min<std::uint64_t>(*v, 1ULL << 30) : kFallback;
	} catch (const my_shmem::Error &) {
		return kFallback;
	}
}

int cmd_dsm(Ctx &c)
{
	const std::uint64_t key = parse_key(c.o.key_text, true);
	const auto perm = parse_perm(c.o.perm_text);

	if (!perm)
		throw UsageError("--perm '" + c.o.perm_text + "' is not octal permission bits (0..0777)");
	c.ctl.require_loaded();
	const std::uint64_t psz = page_size();
	auto dev = my_shmem::Device::open(c.paths, true);
	StopSignals sigs;
	FdLines lines(STDIN_FILENO);
	const dsm::ReadLine in = [&lines](std::string &l) { return lines(l); };
	my_shmem::BindRequest req;
	auto not_coherent = [key](my_shmem::Error &e) -> my_shmem::Error & {
		if (e.err() == EINVAL)
			e.with_hint("key " + format_key(key) + " has a segment that is not coherent "
				    "(shmemctl seg info --key " + format_key(key) + "): delete it or "
				    "pick another key");
		return e;
	};

	req.key = key;
	req.mode = MY_SHMEM_MODE_COHERENT;
	req.perm = *perm;
	bool bound = false;

	try {
		dev.bind(req);	// attach to the key's segment, if it has one
		bound = true;
	} catch (my_shmem::Error &e) {
		if (e.err() != ENOENT)
			throw not_coherent(e);
	}
	while (!bound) {
		std::uint64_t pages;

		if (c.o.dsm_pages) {
			pages = *c.o.dsm_pages;
		} else {
			dsm::Input end = dsm::Input::Eof;
			auto n = dsm::ask_pages(in, c.out, c.err, max_segment_pages(c), &end);

			if (!n) {
				if (end == dsm::Input::Interrupted)
					return 128 + g_stop;
				throw std::runtime_error("end of input before a page count was given");
			}
			pages = *n;
		}
		req.create = req.exclusive = true;
		req.bytes = pages * psz;
		try {
			dev.bind(req);
			bound = true;
		} catch (my_shmem::Error &e) {
			if (e.err() == EEXIST) {	// another process created it meanwhile: join it
				req.create = req.exclusive = false;
				req.bytes = 0;
				try {
					dev.bind(req);
				} catch (my_shmem::Error &e2) {
					throw not_coherent(e2);
				}
				bound = true;
			} else if (e.err() == EFBIG && !c.o.dsm_pages) {
				c.err << "shmemctl: " << e.what() << "\nshmemctl: hint: " << e.hint()
				      << "\n";
				c.err.flush();
			} else {
				throw;
			}
		}
	}
	const my_shmem::SegInfo s = dev.seg_info();
	my_shmem::Mapping map = dev.map(s.bytes, 0, true);

	c.out << dsm::region_lines(map.data(), map.size());
	c.out.flush();
	CoherentNode node(dev, map, psz);
	const dsm::Input end = dsm::run(node, in, c.out, c.err, c.json());

	map.reset();
	return end == dsm::Input::Interrupted ? 128 + g_stop : 0;
}

} // namespace

int run_command(const Options &o, std::ostream &out, std::ostream &err)
{
	my_shmem::Paths paths = o.root.empty() ? my_shmem::Paths::from_env() : my_shmem::Paths{ o.root };
	Ctx c{ o, out, err, paths, my_shmem::Control(paths) };

	try {
		switch (o.cmd) {
		case Command::Status: return cmd_status(c);
		case Command::ParamGet: return cmd_param_get(c);
		case Command::ParamSet: return cmd_param_set(c);
		case Command::SegCreate: return cmd_seg_create(c);
		case Command::SegList: return cmd_seg_list(c);
		case Command::SegInfo: return cmd_seg_info(c);
		case Command::SegDelete: return cmd_seg_delete(c);
		case Command::SegAttach: return cmd_seg_attach(c);
		case Command::Touch: return cmd_touch(c);
		case Command::Sync: return cmd_sync(c);
		case Command::Watch: return cmd_watch(c);
		case Command::MsiView: return cmd_msi_view(c);
		case Command::MsiNodes: return cmd_msi_nodes(c);
		case Command::Dsm: return cmd_dsm(c);
		case Command::None: break;
		}
		err << "shmemctl: no command (see shmemctl --help)\n";
		return 2;
	} catch (const UsageError &e) {
		err << "shmemctl: " << e.what() << "\n";
		return 2;
	} catch (const my_shmem::Error &e) {
		err << "shmemctl: " << e.what() << "\n";
		if (!e.hint().empty())
			err << "shmemctl: hint: " << e.hint() << "\n";
		return 1;
	} catch (const std::exception &e) {
		err << "shmemctl: " << e.what() << "\n";
		return 1;
	}
}

// A word where a command was expected ("shmemctl frobnicate", "shmemctl seg
// frob"): CLI11 reports only that a subcommand is required, so name the word
// and the commands of that level. False when @e is some other error.
static bool unknown_command(const CLI::App &app, const CLI::ParseError &e, std::ostream &err)
{
	const CLI::App *level = &app;
	std::string path = "shmemctl";

	if (!dynamic_cast<const CLI::RequiredError *>(&e))
		return false;
	for (;;) {
		std::vector<const CLI::App *> used = level->get_subcommands(
			[](const CLI::App *s) { return s->parsed(); });
		if (used.empty())
			break;
		level = used.front();
		path += " " + level->get_name();
	}
	// the word may sit with any level's leftovers (CLI11 hands a word no
	// level takes back up the chain)
	std::vector<std::string> words = app.remaining(true);
	if (words.empty() || words.front().starts_with("-") || level->get_require_subcommand_min() == 0)
		return false;
	std::string names;
	for (const CLI::App *s : level->get_subcommands({}))
		names += (names.empty() ? "" : ", ") + s->get_name();
	err << path << ": unknown command '" << words.front() << "' (commands: " << names
	    << "); see " << path << " --help\n";
	return true;
}

int main_with(int argc, char **argv, std::ostream &out, std::ostream &err)
{
	Options o;
	auto app = make_app(o);

	try {
		app->parse(argc, argv);
	} catch (const CLI::CallForHelp &e) {
		return app->exit(e, out, err);
	} catch (const CLI::CallForAllHelp &e) {
		return app->exit(e, out, err);
	} catch (const CLI::CallForVersion &e) {
		return app->exit(e, out, err);
	} catch (const CLI::ParseError &e) {
		if (!unknown_command(*app, e, err))
			app->exit(e, out, err);
		return 2;
	}
	return run_command(o, out, err);
}

} // namespace shmemctl
