// SPDX-License-Identifier: GPL-2.0
// RAII owners for a file descriptor and a memory mapping.
#pragma once

#include <cerrno>
#include <cstddef>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.hpp"

namespace my_shmem {

class Fd {
public:
	Fd() = default;
	explicit Fd(int fd) : fd_(fd) {}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	Fd(Fd &&o) noexcept : fd_(o.release()) {}
	Fd &operator=(Fd &&o) noexcept
	{
		if (this != &o)
			reset(o.release());
		return *this;
	}
	~Fd() { reset(); }

	static Fd open(const std::string &path, int flags)
	{
		int fd = ::open(path.c_str(), flags | O_CLOEXEC);

		if (fd < 0)
			throw SysError("open " + path, errno);
		return Fd(fd);
	}

	int get() const noexcept { return fd_; }
	explicit operator bool() const noexcept { return fd_ >= 0; }
	int release() noexcept { return std::exchange(fd_, -1); }
	void reset(int fd = -1) noexcept
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = fd;
	}

private:
	int fd_ = -1;
};

// An mmap()ed range, unmapped on destruction; empty when addr is nullptr.
class Mapping {
public:
	Mapping() = default;
	Mapping(void *addr, size_t len) noexcept : addr_(addr), len_(len) {}
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;
	Mapping(Mapping &&o) noexcept
		: addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
	Mapping &operator=(Mapping &&o) noexcept
	{
		if (this != &o) {
			reset();
			addr_ = std::exchange(o.addr_, nullptr);
			len_ = std::exchange(o.len_, 0);
		}
		return *this;
	}
	~Mapping() { reset(); }

	// mmap(2) @fd; @what names the file in the error message.
	static Mapping map(const Fd &fd, size_t len, int prot, int flags, off_t off,
			   const std::string &what, void *hint = nullptr)
	{
		void *p = ::mmap(hint, len, prot, flags, fd.get(), off);

		if (p == MAP_FAILED)
			throw SysError("mmap " + what + " (" + std::to_string(len) +
				       " bytes at offset " + std::to_string(off) + ")", errno);
		return Mapping(p, len);
	}

	template <typename T = std::byte> T *data() const noexcept
	{
		return static_cast<T *>(addr_);
	}
	size_t size() const noexcept { return len_; }
	explicit operator bool() const noexcept { return addr_ != nullptr; }
	void reset() noexcept
	{
		if (addr_)
			::munmap(addr_, len_);
		addr_ = nullptr;
		len_ = 0;
	}

private:
	void *addr_ = nullptr;
	size_t len_ = 0;
};

} // namespace my_shmem
