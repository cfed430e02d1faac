// SPDX-License-Identifier: GPL-2.0
// The user-facing side of s2dsm: the interactive r/w/v loop of the assignment and the
// non-interactive script mode (plus its stress and benchmark commands).
#pragma once

#include "dsm.hpp"

#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace s2dsm {

// Set by the SIGINT/SIGTERM/SIGHUP handler; the handler also writes signal_fd().
extern std::atomic<int> g_signal;
int signal_fd();
void install_signal_handlers();

// Line input from a file descriptor that gives up as soon as any of the watched
// descriptors becomes readable (session ended, signal, peer closed during setup).
class LineReader {
public:
	explicit LineReader(int fd) : fd_(fd) {}
	enum class Status { Line, Eof, Interrupted };
	Status read(std::string &line, std::initializer_list<int> watch);

private:
	int fd_;
	std::string buf_;
	bool eof_ = false;
};

struct ScriptCommand {
	enum class Op { Read, Write, View, Barrier, Sleep, Stress, ReadMiss, PingPong } op;
	long page = -1;         // Read/Write/View
	std::string text;       // Write
	double number = 0;      // Sleep ms, Stress seconds, ReadMiss rounds, PingPong round trips
	std::uint64_t seed = 1; // Stress
	int line = 0;
};

// Parses a script; throws Error(kExitUsage) naming the line on syntax errors.
std::vector<ScriptCommand> parse_script(const std::string &path);

struct SessionOptions {
	bool json = false;
	bool first = false;
};

// Both return normally when the input/script ends; throw SessionEnded when the
// session ends underneath them.
void run_interactive(Dsm &dsm, LineReader &in, const SessionOptions &opt);
void run_script(Dsm &dsm, const std::vector<ScriptCommand> &script, const SessionOptions &opt);

} // namespace s2dsm
