// SPDX-License-Identifier: GPL-2.0
// shmemctl's command line: every subcommand and option (CLI11), parsed into
// one Options value that the commands run from.  Kept apart from the
// commands so that parsing is unit-tested without the module.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace shmemctl {

enum class Command {
	None, Status, ParamGet, ParamSet, SegCreate, SegList, SegInfo, SegDelete, SegAttach,
	Touch, Sync, Watch, MsiView, MsiNodes, Dsm,
};

struct Options {
	Command cmd = Command::None;
	// global
	bool json = false;
	bool pretty = false;
	std::string root;		// "" : $MY_SHMEM_ROOT or "/"
	// param
	std::vector<std::string> names;
	std::string name, value;
	// seg
	std::string key_text;		// as typed; parsed by the command
	std::string size_text;
	std::string mode = "shared";
	std::string perm_text = "0600";
	bool excl = false;
	std::optional<std::uint32_t> id;
	bool read_only = false;
	std::string address_text;
	double hold = -1;		// seconds; < 0: until a signal
	// touch
	std::string op;			// write | read
	std::uint64_t pages = 64;
	std::uint64_t offset = 0;
	std::uint64_t repeat = 1;
	std::optional<unsigned> order;
	bool verify = true;
	bool progress_on = false;	// neither: when stdout and stderr are terminals
	bool progress_off = false;
	unsigned progress_delay_ms = 300;
	// sync
	bool clean = false, inval = false;
	std::string range_text;
	// watch
	std::uint64_t count = 0;	// 0: until interrupted
	double timeout = 0;		// 0: none
	// msi view
	std::optional<std::uint32_t> node;
	std::uint64_t first = 0;
	std::optional<std::uint64_t> view_count;	// none: to the segment's end
	// dsm
	std::optional<std::uint64_t> dsm_pages;	// none: ask
};

// The whole command line.  The returned app owns the option bindings into @o.
std::unique_ptr<CLI::App> make_app(Options &o);

// The version string `shmemctl --version` prints.
extern const char *const kVersion;

} // namespace shmemctl
