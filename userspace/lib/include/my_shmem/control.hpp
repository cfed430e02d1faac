// SPDX-License-Identifier: GPL-2.0
// The module as a whole, the way a control tool sees it: loaded or not,
// its version, counters, parameters and segments.  Netlink first; sysfs
// (and the device's ioctls) when the family cannot be reached or the
// library runs against a test root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "device.hpp"
#include "netlink.hpp"
#include "paths.hpp"
#include "types.hpp"

namespace my_shmem {

struct ModuleInfo {
	bool loaded = false;
	std::string version;		// MODULE_VERSION, "" if none
	std::string srcversion;
	std::optional<std::uint32_t> netlink_version;	// nullopt: family not reachable
	bool device_present = false;
	std::string device_access;	// "read-write", "read-only" or "none"
	std::vector<std::string> tracepoints;	// events/my_shmem/* in tracefs
};

class Control {
public:
	// @use_netlink: try the generic-netlink family (only ever on the real root).
	explicit Control(Paths paths = Paths::from_env(), bool use_netlink = true);

	const Paths &paths() const noexcept { return paths_; }
	bool loaded() const;
	// Throws Error(ENOENT) with a hint (insmod / modprobe) if not loaded.
	void require_loaded() const;
	ModuleInfo module_info();

	Stats stats();
	std::vector<Param> params();
	Param param(const std::string &name);
	void set_param(const std::string &name, const std::string &value);

	std::vector<SegInfo> segments();
	std::optional<SegInfo> segment(std::uint32_t id);

	// The netlink session, or nullptr when the family is not reachable.
	Netlink *netlink();

private:
	Paths paths_;
	bool use_netlink_;
	bool tried_ = false;
	std::optional<Netlink> nl_;
};

// Read a sysfs-style file: its contents without the trailing newline.
std::string read_text(const std::string &path);
// Write @value to a sysfs-style file; errors name the file.
void write_text(const std::string &path, const std::string &value);

} // namespace my_shmem
