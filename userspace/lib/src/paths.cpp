// SPDX-License-Identifier: GPL-2.0
#include "my_shmem/paths.hpp"

#include <cstdlib>

#include <unistd.h>

namespace my_shmem {

Paths Paths::from_env()
{
	Paths p;
	const char *r = std::getenv("MY_SHMEM_ROOT");

	if (r && *r)
		p.root = r;
	return p;
}

std::string Paths::join(std::string_view path) const
{
	if (real_root())
		return std::string(path);
	std::string r = root;

	while (r.size() > 1 && r.back() == '/')
		r.pop_back();
	return r + std::string(path);
}

std::string Paths::tracefs() const
{
	std::string t = join("/sys/kernel/tracing");

	if (access((t + "/events").c_str(), F_OK) == 0)
		return t;
	std::string d = join("/sys/kernel/debug/tracing");

	return access((d + "/events").c_str(), F_OK) == 0 ? d : t;
}

} // namespace my_shmem
