// SPDX-License-Identifier: GPL-2.0
// The error every my_shmem library call throws: what was being done (naming
// the file, parameter or netlink attribute), the errno, the kernel's own
// explanation when it gave one (netlink extended ack), and, when the library
// can tell, how to fix it.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace my_shmem {

class Error : public std::runtime_error {
public:
	// "open /dev/my_shmem: No such file or directory"
	Error(const std::string &doing, int err, std::string kernel_msg = {})
		: std::runtime_error(compose(doing, err, kernel_msg)), doing_(doing), err_(err),
		  kernel_msg_(std::move(kernel_msg)) {}

	const std::string &doing() const noexcept { return doing_; }
	int err() const noexcept { return err_; }
	// The kernel's extended-ack message ("value refused by the parameter"), or "".
	const std::string &kernel_msg() const noexcept { return kernel_msg_; }
	// How to fix it ("load the module: modprobe my_shmem"), or "".
	const std::string &hint() const noexcept { return hint_; }
	Error &with_hint(std::string h) { hint_ = std::move(h); return *this; }

private:
	static std::string compose(const std::string &doing, int err, const std::string &km)
	{
		std::string s = doing + ": " + std::strerror(err);

		if (!km.empty())
			s += " (kernel: " + km + ")";
		return s;
	}

	std::string doing_;
	int err_;
	std::string kernel_msg_;
	std::string hint_;
};

// The name the tools used before the library: kept for their sources.
using SysError = Error;

} // namespace my_shmem
