// SPDX-License-Identifier: GPL-2.0
// Serialised, flushed output shared by the interactive loop and the fault thread.
#pragma once

#include <cstdio>
#include <mutex>
#include <string_view>

namespace s2dsm::out {

inline std::mutex &lock()
{
	static std::mutex mu;
	return mu;
}

inline void print(std::string_view s)
{
	std::lock_guard lk(lock());
	std::fwrite(s.data(), 1, s.size(), stdout);
	std::fflush(stdout);
}

inline void error(std::string_view s)
{
	std::lock_guard lk(lock());
	std::fflush(stdout);
	std::fwrite("s2dsm: ", 1, 7, stderr);
	std::fwrite(s.data(), 1, s.size(), stderr);
	std::fwrite("\n", 1, 1, stderr);
	std::fflush(stderr);
}

} // namespace s2dsm::out
