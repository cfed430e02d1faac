// SPDX-License-Identifier: GPL-2.0
// Where the module shows itself: the device node, sysfs and tracefs.  Every
// path goes through a root directory ("/" on a real system) so that the
// library and the tool can be tested on a host without the module, against
// a directory tree that imitates it (MY_SHMEM_ROOT, or shmemctl --root).
#pragma once

#include <string>
#include <string_view>

namespace my_shmem {

struct Paths {
	std::string root = "/";

	// $MY_SHMEM_ROOT if set and non-empty, else "/".
	static Paths from_env();

	// @path (absolute) under the root.
	std::string join(std::string_view path) const;
	bool real_root() const { return root == "/"; }

	std::string device() const { return join("/dev/my_shmem"); }
	std::string module_dir() const { return join("/sys/module/my_shmem"); }
	std::string params_dir() const { return join("/sys/module/my_shmem/parameters"); }
	std::string param(std::string_view name) const
	{
		return params_dir() + "/" + std::string(name);
	}
	std::string stats_dir() const { return join("/sys/class/misc/my_shmem/stats"); }
	// tracefs: /sys/kernel/tracing, or debugfs' tracing directory on old setups.
	std::string tracefs() const;
};

} // namespace my_shmem
