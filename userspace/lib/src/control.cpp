// SPDX-License-Identifier: GPL-2.0
#include "my_shmem/control.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <linux/my_shmem.h>

#include "my_shmem/params.hpp"

namespace fs = std::filesystem;

namespace my_shmem {

namespace {

const char *kLoadHint = "load it with 'modprobe my_shmem' or 'insmod my_shmem.ko' (as root)";

std::uint64_t read_u64(const std::string &path)
{
	std::string t = read_text(path);
	char *end = nullptr;

	errno = 0;
	unsigned long long v = std::strtoull(t.c_str(), &end, 0);

	if (errno || end == t.c_str())
		throw Error("parse " + path + " ('" + t + "')", errno ? errno : EINVAL);
	return v;
}

// Whether a parameter can change after load: its sysfs file is writable
// (netlink does not say).
bool param_writable(const Paths &paths, const std::string &name)
{
	std::error_code ec;
	const fs::file_status st = fs::status(paths.param(name), ec);

	// A missing file's permissions are perms::unknown, every bit set.
	return !ec && fs::exists(st) && (st.permissions() & fs::perms::owner_write) != fs::perms::none;
}

// A parameter name the module has: the alias resolved, else as given.
std::string canonical(const std::string &name)
{
	const ParamSpec *p = find_param(name);

	return p ? p->name : name;
}

} // namespace

std::string read_text(const std::string &path)
{
	std::ifstream f(path);

	if (!f)
		throw Error("read " + path, errno ? errno : EIO);
	std::stringstream ss;

	ss << f.rdbuf();
	if (f.bad())
		throw Error("read " + path, errno ? errno : EIO);
	std::string s = ss.str();

	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	return s;
}

void write_text(const std::string &path, const std::string &value)
{
	// O_TRUNC: sysfs ignores it, but a regular file under a test root would
	// otherwise keep the tail of a longer old value ("4" over "10\n": "40").
	int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		throw Error("open " + path + " for writing", errno);
	Fd owner(fd);
	ssize_t n = ::write(fd, value.data(), value.size());

	if (n < 0)
		throw Error("write '" + value + "' to " + path, errno);
	if (static_cast<std::size_t>(n) != value.size())
		throw Error("write '" + value + "' to " + path + " (short write)", EIO);
}

Control::Control(Paths paths, bool use_netlink)
	: paths_(std::move(paths)), use_netlink_(use_netlink && paths_.real_root())
{
}

bool Control::loaded() const
{
	return ::access(paths_.module_dir().c_str(), F_OK) == 0;
}

void Control::require_loaded() const
{
	if (!loaded())
		throw Error("my_shmem is not loaded (" + paths_.module_dir() + " is missing)", ENOENT)
			.with_hint(kLoadHint);
}

Netlink *Control::netlink()
{
	if (!tried_ && use_netlink_) {
		tried_ = true;
		nl_ = Netlink::open();
	}
	return nl_ ? &*nl_ : nullptr;
}

ModuleInfo Control::module_info()
{
	ModuleInfo m;
	std::error_code ec;

	m.loaded = loaded();
	if (!m.loaded)
		return m;
	try {
		m.version = read_text(paths_.module_dir() + "/version");
	} catch (const Error &) {
	}
	try {
		m.srcversion = read_text(paths_.module_dir() + "/srcversion");
	} catch (const Error &) {
	}
	if (Netlink *nl = netlink())
		m.netlink_version = nl->family_version();
	m.device_present = ::access(paths_.device().c_str(), F_OK) == 0;
	m.device_access = ::access(paths_.device().c_str(), R_OK | W_OK) == 0 ? "read-write" :
			  ::access(paths_.device().c_str(), R_OK) == 0	       ? "read-only" :
										 "none";
	for (const auto &e : fs::directory_iterator(paths_.tracefs() + "/events/my_shmem", ec))
		if (e.is_directory(ec))
			m.tracepoints.push_back(e.path().filename());
	std::sort(m.tracepoints.begin(), m.tracepoints.end());
	return m;
}

Stats Control::stats()
{
	require_loaded();
	if (Netlink *nl = netlink())
		return nl->stats();

	const std::string d = paths_.stats_dir();
	Stats s;

	s.pages_in_use = read_u64(d + "/pages_in_use");
	s.faults = read_u64(d + "/faults");
	s.cleans = read_u64(d + "/cleans");
	s.invals = read_u64(d + "/invals");
	s.sigbus = read_u64(d + "/sigbus");
	s.order_fallbacks = read_u64(d + "/order_fallbacks");
	s.vmas = read_u64(d + "/vmas");
	s.files = read_u64(d + "/files");
	s.segments = read_u64(d + "/segments");
	s.max_pages = read_u64(paths_.param("max_pages"));
	std::istringstream orders(read_text(d + "/allocs_by_order"));
	std::uint64_t n;

	while (orders >> n)
		s.allocs_by_order.push_back(n);
	s.source = Source::Sysfs;
	return s;
}

std::vector<Param> Control::params()
{
	require_loaded();
	std::vector<Param> v;

	if (Netlink *nl = netlink()) {
		v = nl->param_list();
	} else {
		std::error_code ec;

		for (const auto &e : fs::directory_iterator(paths_.params_dir(), ec)) {
			Param p;

			p.name = e.path().filename();
			p.value = read_text(e.path());
			p.source = Source::Sysfs;
			v.push_back(std::move(p));
		}
		if (ec)
			throw Error("list " + paths_.params_dir(), ec.value());
	}
	for (Param &p : v)
		p.writable = param_writable(paths_, p.name);
	std::sort(v.begin(), v.end(), [](const Param &a, const Param &b) { return a.name < b.name; });
	return v;
}

Param Control::param(const std::string &name)
{
	require_loaded();
	const std::string n = canonical(name);
	Param p;

	if (Netlink *nl = netlink()) {
		try {
			p = nl->param_get(n);
		} catch (Error &e) {
			if (e.err() == ENOENT)
				e.with_hint("the module has no parameter '" + name +
					    "' (shmemctl param get lists them)");
			throw;
		}
	} else {
		try {
			p.name = n;
			p.value = read_text(paths_.param(n));
			p.source = Source::Sysfs;
		} catch (Error &e) {
			if (e.err() == ENOENT)
				e.with_hint("the module has no parameter '" + name +
					    "' (shmemctl param get lists them)");
			throw;
		}
	}
	p.writable = param_writable(paths_, n);
	return p;
}

void Control::set_param(const std::string &name, const std::string &value)
{
	require_loaded();
	const std::string n = canonical(name);

	try {
		if (Netlink *nl = netlink()) {
			try {
				nl->param_set(n, value);
				return;
			} catch (const Error &e) {
				// Not root for netlink (GENL_ADMIN_PERM) but maybe for the
				// file (a group-writable sysfs node): try sysfs before giving up.
				if (e.err() != EPERM ||
				    ::access(paths_.param(n).c_str(), W_OK) != 0)
					throw;
			}
		}
		write_text(paths_.param(n), value);
	} catch (Error &e) {
		if (e.err() == EPERM || e.err() == EACCES)
			e.with_hint("changing module parameters needs root (CAP_NET_ADMIN for "
				    "netlink, write access to " + paths_.param(n) + " for sysfs)");
		else if (e.err() == ENOENT)
			e.with_hint("the module has no parameter '" + name +
				    "' (shmemctl param get lists them)");
		else if (e.err() == EINVAL) {
			const ParamSpec *s = find_param(n);

			e.with_hint(s ? n + " takes " + s->accepts : "the module refused the value");
		}
		throw;
	}
}

std::vector<SegInfo> Control::segments()
{
	require_loaded();
	if (Netlink *nl = netlink())
		return nl->seg_list();
	throw Error("list segments", EOPNOTSUPP)
		.with_hint("listing segments needs the generic-netlink family my_shmem, which "
			   "is not reachable here");
}

std::optional<SegInfo> Control::segment(std::uint32_t id)
{
	require_loaded();
	if (Netlink *nl = netlink())
		return nl->seg_get(id);
	Device d = Device::open(paths_, false);

	try {
		return d.seg_info(id);
	} catch (const Error &e) {
		if (e.err() == ENOENT)
			return std::nullopt;
		throw;
	}
}

} // namespace my_shmem
