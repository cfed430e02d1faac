// SPDX-License-Identifier: GPL-2.0
// Thin RAII wrapper over userfaultfd(2) in missing + write-protect mode.
#pragma once

#include "fd.hpp"

#include <cstddef>
#include <string>

namespace s2dsm {

class Uffd {
public:
	// Opens a userfaultfd with UFFD_FEATURE_PAGEFAULT_FLAG_WP.  Throws Error with the
	// reason (syscall missing, not permitted, write-protect unsupported) otherwise.
	static Uffd open();
	// Registers [addr, addr+len) for missing and write-protect faults.
	void register_range(void *addr, std::size_t len);
	void unregister_range(void *addr, std::size_t len) noexcept;
	// Atomically installs a page; write_protect installs it read-only-for-userfaultfd.
	// Returns false if a page was already present (EEXIST).
	bool copy(void *dst, const void *src, std::size_t len, bool write_protect, bool wake = true);
	void write_protect(void *addr, std::size_t len, bool on, bool wake);
	void wake(void *addr, std::size_t len);
	int fd() const noexcept { return fd_.get(); }

	// Checks that this kernel supports everything s2dsm needs; returns "" if so, else why not.
	static std::string probe();

private:
	UniqueFd fd_;
};

} // namespace s2dsm
