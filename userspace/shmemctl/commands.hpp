// SPDX-License-Identifier: GPL-2.0
// shmemctl's commands, run from parsed Options, writing to the given
// streams; they return the exit status (0 ok, 1 failure, 2 usage) and
// report errors themselves.
#pragma once

#include <ostream>

#include "cli.hpp"

namespace shmemctl {

int run_command(const Options &o, std::ostream &out, std::ostream &err);

// Parse and run a whole command line (what main() does).
int main_with(int argc, char **argv, std::ostream &out, std::ostream &err);

} // namespace shmemctl
