// SPDX-License-Identifier: GPL-2.0
// Errors and exit codes of s2dsm.  Every message names what failed; system errors carry
// strerror text ("connect 127.0.0.1:4001: Connection refused").
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace s2dsm {

// Exit status, documented in --help and README.
enum Exit : int {
	kExitOk = 0,          // normal end, or the peer ended the session in an orderly way
	kExitError = 1,       // local failure (socket, mmap, userfaultfd, file, ...)
	kExitUsage = 2,       // bad command line
	kExitPeerLost = 3,    // peer disconnected, crashed, or did not answer in time
	kExitProtocol = 4,    // malformed / truncated / wrong-version / unexpected message
	kExitPlacement = 5,   // region cannot be mapped at the same address on both sides
};

// An error that ends the program with a given exit status.
class Error : public std::runtime_error {
public:
	Error(int code, const std::string &msg) : std::runtime_error(msg), code_(code) {}
	int code() const noexcept { return code_; }

private:
	int code_;
};

inline std::string errno_text(int err) { return std::strerror(err); }

// "what: strerror(errno)" as an Error with status kExitError (or the given one).
[[noreturn]] inline void throw_errno(const std::string &what, int code = kExitError)
{
	int err = errno;
	throw Error(code, what + ": " + errno_text(err));
}

} // namespace s2dsm
