// SPDX-License-Identifier: GPL-2.0
#include "uffd.hpp"

#include "error.hpp"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace s2dsm {

namespace {
std::string hexaddr(const void *p)
{
	char buf[32];
	std::snprintf(buf, sizeof buf, "%p", p);
	return buf;
}
} // namespace

Uffd Uffd::open()
{
	Uffd u;
	int fd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
	if (fd < 0) {
		if (errno == EPERM)
			throw_errno("userfaultfd (run as root or set /proc/sys/vm/unprivileged_userfaultfd to 1)");
		throw_errno("userfaultfd");
	}
	u.fd_.reset(fd);
	uffdio_api api{};
	api.api = UFFD_API;
	api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	if (::ioctl(fd, UFFDIO_API, &api) < 0) {
		if (errno == EINVAL)
			throw Error(kExitError, "UFFDIO_API: this kernel lacks userfaultfd write-protect "
						"(UFFD_FEATURE_PAGEFAULT_FLAG_WP) for anonymous memory: " +
						errno_text(EINVAL));
		throw_errno("UFFDIO_API");
	}
	if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		throw Error(kExitError, "UFFDIO_API: UFFD_FEATURE_PAGEFAULT_FLAG_WP not offered by this kernel");
	return u;
}

void Uffd::register_range(void *addr, std::size_t len)
{
	uffdio_register reg{};
	reg.range.start = reinterpret_cast<unsigned long>(addr);
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP;
	if (::ioctl(fd_.get(), UFFDIO_REGISTER, &reg) < 0)
		throw_errno("UFFDIO_REGISTER " + hexaddr(addr) + " (" + std::to_string(len) + " bytes, missing|wp)");
	const unsigned long long need = (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_WAKE) | (1ULL << _UFFDIO_WRITEPROTECT);
	if ((reg.ioctls & need) != need)
		throw Error(kExitError, "UFFDIO_REGISTER: the kernel does not offer UFFDIO_COPY, UFFDIO_WAKE and "
					"UFFDIO_WRITEPROTECT on this range");
}

void Uffd::unregister_range(void *addr, std::size_t len) noexcept
{
	uffdio_range r{reinterpret_cast<unsigned long>(addr), len};
	::ioctl(fd_.get(), UFFDIO_UNREGISTER, &r);
}

bool Uffd::copy(void *dst, const void *src, std::size_t len, bool write_protect, bool wake)
{
	uffdio_copy c{};
	c.dst = reinterpret_cast<unsigned long>(dst);
	c.src = reinterpret_cast<unsigned long>(src);
	c.len = len;
	c.mode = (write_protect ? UFFDIO_COPY_MODE_WP : 0) | (wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE);
	for (;;) {
		if (::ioctl(fd_.get(), UFFDIO_COPY, &c) == 0)
			return true;
		if (errno == EEXIST) {
			if (wake)
				this->wake(dst, len);
			return false;
		}
		if (errno == EAGAIN && c.copy == 0)
			continue;
		throw_errno("UFFDIO_COPY to " + hexaddr(dst));
	}
}

void Uffd::write_protect(void *addr, std::size_t len, bool on, bool wake)
{
	uffdio_writeprotect w{};
	w.range.start = reinterpret_cast<unsigned long>(addr);
	w.range.len = len;
	// Setting protection never wakes anybody; DONTWAKE is only valid when clearing it.
	w.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : (wake ? 0 : UFFDIO_WRITEPROTECT_MODE_DONTWAKE);
	while (::ioctl(fd_.get(), UFFDIO_WRITEPROTECT, &w) < 0) {
		if (errno == EAGAIN)
			continue;
		throw_errno(std::string("UFFDIO_WRITEPROTECT ") + (on ? "on " : "off ") + hexaddr(addr));
	}
}

void Uffd::wake(void *addr, std::size_t len)
{
	uffdio_range r{reinterpret_cast<unsigned long>(addr), len};
	if (::ioctl(fd_.get(), UFFDIO_WAKE, &r) < 0)
		throw_errno("UFFDIO_WAKE " + hexaddr(addr));
}

std::string Uffd::probe()
{
	try {
		Uffd u = open();
		long psz = ::sysconf(_SC_PAGESIZE);
		void *p = ::mmap(nullptr, static_cast<std::size_t>(psz), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			throw_errno("mmap");
		Mapping m(p, static_cast<std::size_t>(psz));
		u.register_range(p, m.size());
		std::string page(static_cast<std::size_t>(psz), '\0');
		u.copy(p, page.data(), m.size(), true);
		u.write_protect(p, m.size(), false, false);
		u.write_protect(p, m.size(), true, false);
		u.unregister_range(p, m.size());
		return "";
	} catch (const std::exception &e) {
		return e.what();
	}
}

} // namespace s2dsm
