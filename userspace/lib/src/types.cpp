// SPDX-License-Identifier: GPL-2.0
#include "my_shmem/types.hpp"

#include <linux/my_shmem.h>

namespace my_shmem {

const char *source_name(Source s) noexcept
{
	switch (s) {
	case Source::Netlink: return "netlink";
	case Source::Ioctl: return "ioctl";
	case Source::Sysfs: return "sysfs";
	}
	return "?";
}

bool SegInfo::deleted() const noexcept
{
	return flags & MY_SHMEM_SEG_DELETED;
}

const char *mode_name(std::uint32_t mode) noexcept
{
	switch (mode) {
	case MY_SHMEM_MODE_SHARED: return "shared";
	case MY_SHMEM_MODE_COHERENT: return "coherent";
	}
	return "unknown";
}

std::optional<std::uint32_t> parse_mode(const std::string &s) noexcept
{
	if (s == "shared")
		return MY_SHMEM_MODE_SHARED;
	if (s == "coherent")
		return MY_SHMEM_MODE_COHERENT;
	return std::nullopt;
}

const char *event_type_name(std::uint32_t type) noexcept
{
	switch (type) {
	case MY_SHMEM_EVENT_TYPE_SEG_CREATED: return "seg-created";
	case MY_SHMEM_EVENT_TYPE_SEG_DELETED: return "seg-deleted";
	case MY_SHMEM_EVENT_TYPE_ALLOC: return "alloc";
	}
	return "unknown";
}

} // namespace my_shmem
