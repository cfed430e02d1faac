// SPDX-License-Identifier: GPL-2.0
#include "cli.hpp"

#include <algorithm>
#include <sstream>

namespace shmemctl {

const char *const kVersion = "shmemctl 1.0 (my_shmem uapi 1, netlink family my_shmem v1)";

namespace {

const char *kDescription =
	"my_shmem (/dev/my_shmem) is device memory allocated on page fault in runs of\n"
	"2^order contiguous pages, shared between processes as segment 0 or as named\n"
	"segments (SysV shm semantics), and cleaned to the Point of Coherency when a\n"
	"mapping goes.  shmemctl reports its state, sets its parameters, manages its\n"
	"segments, runs the thesis' writer and reader, shows the MSI states of\n"
	"coherent segments, runs an s2dsm-style session on one, and follows its events.\n"
	"It talks to the module through the generic-netlink family \"my_shmem\" and\n"
	"falls back to sysfs (/sys/module/my_shmem, /sys/class/misc/my_shmem/stats)\n"
	"and the device's ioctls where netlink cannot be used.";

const char *kFooter =
	"Global options go before the command.  Every command takes --help.\n"
	"\n"
	"Exit status: 0 success; 1 the operation failed (module not loaded, no\n"
	"permission, the kernel refused, read found wrong data); 2 usage error.\n"
	"\n"
	"Environment: MY_SHMEM_ROOT (same as --root).\n"
	"\n"
	"Examples:\n"
	"  shmemctl status\n"
	"  shmemctl param set order 4\n"
	"  shmemctl seg create 0x2a --size 1M --perm 0660\n"
	"  shmemctl seg list\n"
	"  shmemctl touch write -n 64 --key 0x2a && shmemctl touch read -n 64 --key 0x2a\n"
	"  shmemctl seg create 0x2b --size 16p --mode coherent && shmemctl dsm 0x2b\n"
	"  shmemctl msi view --key 0x2b\n"
	"  shmemctl -j watch --count 10";

void key_option(CLI::App *sub, Options &o, const char *what)
{
	sub->add_option("-k,--key", o.key_text,
			std::string("Segment key of ") + what +
				" (decimal, 0x hex or 0 octal; default 0: segment 0)")
		->type_name("KEY");
}

// --help-all, the man page's source (help2man): CLI11 2.1 expands the
// top-level commands only and lists theirs (param get, seg create, ...) by
// name.  Here every command gets a block of its own, in the form help2man
// makes a sub-section of: "shmemctl seg create [OPTIONS] KEY:", its whole
// text (re-wrapped: help2man would take a double space on a paragraph's
// first line for a tag), a blank line, its arguments and options.  The
// top-level footer (exit status, environment, examples) is left to --help:
// the man page has sections of its own for those.
class Formatter : public CLI::Formatter {
public:
	std::string make_help(const CLI::App *app, std::string name,
			      CLI::AppFormatMode mode) const override
	{
		if (mode != CLI::AppFormatMode::All)
			return CLI::Formatter::make_help(app, name, mode);
		std::stringstream out;

		out << make_description(app) << make_usage(app, name) << make_positionals(app)
		    << make_groups(app, mode);
		if (!app->get_subcommands({}).empty()) {
			out << "\nCommands:\n  Every command with its arguments and options";
			if (!app->get_parent())
				out << " (the global options above go before the command)";
			out << ".\n";
		}
		for (const CLI::App *sub : app->get_subcommands({}))
			out << make_expanded(sub);
		return out.str();
	}

	std::string make_expanded(const CLI::App *sub) const override
	{
		std::stringstream out;
		std::string heading = sub->get_name();

		for (const CLI::App *p = sub->get_parent(); p; p = p->get_parent())
			heading = p->get_name() + " " + heading;
		auto opts = sub->get_options([sub](const CLI::Option *o) {
			return o != sub->get_help_ptr() && o != sub->get_help_all_ptr();
		});
		if (std::any_of(opts.begin(), opts.end(),
				[](const CLI::Option *o) { return o->nonpositional(); }))
			heading += " [OPTIONS]";
		for (const CLI::Option *o : opts)
			if (o->get_positional())
				heading += " " + make_option_usage(o);
		if (!sub->get_subcommands({}).empty())
			heading += " COMMAND";
		out << "\n" << heading << ":\n";
		out << wrap(sub->get_footer().empty() ? sub->get_description() : sub->get_footer());
		if (!opts.empty())
			out << "\n";
		for (const CLI::Option *o : opts)
			if (o->get_positional())
				out << make_option(o, true);
		for (const CLI::Option *o : opts)
			if (o->nonpositional())
				out << make_option(o, false);
		for (const CLI::App *s : sub->get_subcommands({}))
			out << make_expanded(s);
		return out.str();
	}

	// CLI11 2.1 shows the negated flag "!--no-verify" as "--no-verify{false}".
	std::string make_option_name(const CLI::Option *opt, bool is_positional) const override
	{
		std::string n = CLI::Formatter::make_option_name(opt, is_positional);

		for (std::size_t b; (b = n.find('{')) != std::string::npos;) {
			std::size_t e = n.find('}', b);

			n.erase(b, e == std::string::npos ? std::string::npos : e - b + 1);
		}
		return n;
	}

private:
	// @text indented by two: its prose re-wrapped at 79 columns with single
	// spaces, its indented lines (tables) as they are, further indented.
	static std::string wrap(const std::string &text)
	{
		std::istringstream in(text);
		std::string line, para, out;
		auto flush = [&] {
			std::istringstream words(para);
			std::string w, l;

			while (words >> w) {
				if (!l.empty() && l.size() + 1 + w.size() > 77) {
					out += "  " + l + "\n";
					l.clear();
				}
				l += (l.empty() ? "" : " ") + w;
			}
			if (!l.empty())
				out += "  " + l + "\n";
			para.clear();
		};

		while (std::getline(in, line)) {
			if (line.empty()) {
				flush();
				if (!out.empty() && out.back() == '\n' && out.size() > 1 &&
				    out[out.size() - 2] != '\n')
					out += "\n";
			} else if (line[0] == ' ') {
				flush();
				out += "  " + line + "\n";
			} else {
				para += " " + line;
			}
		}
		flush();
		while (out.size() > 1 && out.back() == '\n' && out[out.size() - 2] == '\n')
			out.pop_back();
		return out;
	}
};

// A subcommand: one line for its parent's list, the whole text in its own help.
CLI::App *cmd(CLI::App *parent, const char *name, const char *brief, const char *text)
{
	CLI::App *sub = parent->add_subcommand(name, brief);

	sub->footer(std::string("\n") + text);
	return sub;
}

CLI::App *cmd(std::unique_ptr<CLI::App> &parent, const char *name, const char *brief,
	      const char *text)
{
	return cmd(parent.get(), name, brief, text);
}

} // namespace

std::unique_ptr<CLI::App> make_app(Options &o)
{
	auto app = std::make_unique<CLI::App>(kDescription, "shmemctl");

	app->formatter(std::make_shared<Formatter>());	// before the subcommands copy it

	app->footer(kFooter);
	app->require_subcommand(1);
	app->fallthrough();
	app->set_help_all_flag("--help-all", "Print the help of every command (the man page's source)");
	app->set_version_flag("-V,--version", kVersion);
	app->add_flag("-j,--json", o.json,
		      "Print JSON (one document; watch: one object per line) instead of text");
	app->add_flag("-p,--pretty", o.pretty, "Indent the JSON (implies --json)");
	app->add_option("--root", o.root,
			"Look for /dev, /sys and tracefs under DIR instead of / (testing; "
			"netlink is not used then)")
		->type_name("DIR");

	// status
	auto *status = cmd(app, "status", "Show the module's state and counters",
		"Show whether the module is loaded, its version, backend, allocation order,\n"
		"caps, pages in use, allocations by order and its fault / clean / invalidate\n"
		"counters.  Exit status 1 if the module is not loaded.");
	status->callback([&o] { o.cmd = Command::Status; });

	// param
	auto *param = cmd(app, "param", "Read or change module parameters", "Read or change module parameters (/sys/module/my_shmem/parameters).");
	param->require_subcommand(1);
	auto *pget = cmd(param, "get", "Print parameters",
		"Print parameters.  Without NAME: every parameter, its value and whether it can\n"
		"change after load.  With one NAME: its value alone (for scripts).  Names:\n"
		"max_contiguous_alloc_order (alias order), backend, max_pages, max_segments,\n"
		"max_segment_pages, seg0_pages, seg0_mode.");
	pget->add_option("NAME", o.names, "Parameter name or alias");
	pget->callback([&o] { o.cmd = Command::ParamGet; });
	auto *pset = cmd(param, "set", "Change a parameter at run time",
		"Change a parameter at run time (root: CAP_NET_ADMIN over netlink, or write\n"
		"access to its sysfs file).  The tool checks the value's form first (exit 2);\n"
		"the module has the last word (exit 1 if it refuses).  Values:\n"
		"  order (max_contiguous_alloc_order)  0..10: log2 pages per new allocation\n"
		"  backend                 insn, pmem, kernel (patched kernel) or none\n"
		"  max_pages               cap on allocated pages; 0 = half of RAM\n"
		"  max_segments            segments at once, segment 0 included, >= 1\n"
		"  max_segment_pages       largest named segment in pages, >= 1\n"
		"  seg0_pages              size of segment 0 in pages, >= 1\n"
		"  seg0_mode               load time only: insmod my_shmem.ko seg0_mode=0660");
	pset->add_option("NAME", o.name, "Parameter name or alias")->required();
	pset->add_option("VALUE", o.value, "New value")->required();
	pset->callback([&o] { o.cmd = Command::ParamSet; });

	// seg
	auto *seg = cmd(app, "seg", "Manage named segments",
		"Named segments: System V shared-memory semantics over /dev/my_shmem.  A\n"
		"segment has a key, a size, an owner and permission bits; it lives until\n"
		"deleted and, once deleted, until its last attachment goes.");
	seg->require_subcommand(1);
	auto *create = cmd(seg, "create", "Create (or find) the segment of a key",
		"Create the segment of KEY (or find the existing one, unless --excl) and print\n"
		"it.  The segment stays after shmemctl exits, like shmget(IPC_CREAT).");
	create->add_option("KEY", o.key_text, "Key, non-zero (decimal, 0x hex or 0 octal)")
		->required();
	create->add_option("-s,--size", o.size_text,
			   "Size: bytes, or with a unit K, M, G, T (powers of 1024), or pages "
			   "with 'p' (e.g. 16p); rounded up to whole pages")
		->required()
		->type_name("SIZE");
	create->add_option("-m,--mode", o.mode, "shared (one copy, default) or coherent (MSI)")
		->check(CLI::IsMember({ "shared", "coherent" }));
	create->add_option("--perm", o.perm_text,
			   "Permission bits in octal, as for shmget (default 0600)")
		->type_name("OCTAL");
	create->add_flag("-x,--excl", o.excl, "Fail if KEY already has a segment (IPC_EXCL)");
	create->callback([&o] { o.cmd = Command::SegCreate; });

	auto *list = cmd(seg, "list", "List every segment, like ipcs -m",
		"List every segment, like ipcs -m: key, id, owner, perms, bytes, nattch and\n"
		"status (\"dest\" once marked for deletion), plus mode and pages allocated.");
	list->callback([&o] { o.cmd = Command::SegList; });

	auto *info = cmd(seg, "info", "Show one segment in full", "Show one segment in full: ownership, times, attachments and counters.");
	info->add_option("ID", o.id, "Segment id (as seg list shows it)");
	key_option(info, o, "the segment, instead of ID");
	info->callback([&o] { o.cmd = Command::SegInfo; });

	auto *del = cmd(seg, "delete", "Mark a segment for deletion",
		"Mark a segment for deletion (IPC_RMID): its key is free at once; the memory\n"
		"goes with its last attachment.  Only its owner or creator (or CAP_IPC_OWNER).");
	del->add_option("ID", o.id, "Segment id");
	key_option(del, o, "the segment, instead of ID");
	del->callback([&o] { o.cmd = Command::SegDelete; });

	auto *attach = cmd(seg, "attach", "Map a segment and hold it",
		"Map a segment (MAP_SHARED) and hold it until SIGINT or SIGTERM (or --hold\n"
		"seconds), then unmap it: for demonstrations and tests of attachment counts,\n"
		"permissions and lifetimes.  Prints where it is mapped once the mapping exists.");
	attach->add_option("KEY", o.key_text, "Key of the segment (0: segment 0)")->required();
	attach->add_flag("-r,--read-only", o.read_only,
			 "Open the device read-only and map PROT_READ (needs read permission only)");
	attach->add_option("-a,--address", o.address_text,
			   "Map at this address (hex; MAP_FIXED_NOREPLACE), e.g. 0x10000000")
		->type_name("ADDR");
	attach->add_option("-s,--size", o.size_text,
			   "Map only this much (default: the whole segment)")
		->type_name("SIZE");
	attach->add_option("--hold", o.hold, "Detach after this many seconds (default: on a signal)")
		->check(CLI::NonNegativeNumber)
		->type_name("SECONDS");
	attach->callback([&o] { o.cmd = Command::SegAttach; });

	// touch
	auto *touch = cmd(app, "touch", "The thesis' writer and reader",
		"The thesis' writer and reader.  write maps PAGES pages of a segment\n"
		"(MAP_SHARED) from page OFFSET, stores 0xcafebeef into every 32-bit word and\n"
		"unmaps; each first touch faults in a run of 2^order pages and the unmap makes\n"
		"the module clean every run it covered to the Point of Coherency.  read maps the\n"
		"same range read-only, reads every word and counts the words that are not\n"
		"0xcafebeef (exit status 1 if any).  --repeat does it R times in one process\n"
		"(what the latency runner uses).  A progress bar shows on stderr when stdout\n"
		"and stderr are terminals and the run takes longer than --progress-delay.");
	touch->add_option("OP", o.op, "write or read")
		->required()
		->check(CLI::IsMember({ "write", "read" }));
	touch->add_option("-n,--pages", o.pages, "Pages to map (default 64)")
		->check(CLI::Range(std::uint64_t{ 1 }, std::uint64_t{ 1 } << 30));
	touch->add_option("-o,--offset", o.offset,
			  "Page offset into the segment where the mapping starts (default 0)");
	touch->add_option("-r,--repeat", o.repeat, "Do it this many times (default 1)")
		->check(CLI::Range(std::uint64_t{ 1 }, std::uint64_t{ 1 } << 30));
	touch->add_option("--order", o.order,
			  "Set max_contiguous_alloc_order to N for the run and restore it "
			  "afterwards (root)")
		->check(CLI::Range(0u, 10u))
		->type_name("N");
	key_option(touch, o, "the segment to touch");
	touch->add_flag("!--no-verify", o.verify, "read: only read; do not count differing words");
	auto *pon = touch->add_flag("--progress", o.progress_on,
				    "Show the progress bar even when not on a terminal");
	touch->add_flag("--no-progress", o.progress_off, "Never show the progress bar")
		->excludes(pon);
	touch->add_option("--progress-delay", o.progress_delay_ms,
			  "Show the bar only once the run has taken this long (default 300)")
		->type_name("MS");
	touch->callback([&o] { o.cmd = Command::Touch; });

	// sync
	auto *sync = cmd(app, "sync", "Clean or invalidate a range without mapping it",
		"Run cache maintenance over RANGE of a segment without mapping it\n"
		"(MY_SHMEM_IOC_SYNC): every allocation the range intersects that is already\n"
		"backed is cleaned (--clean: the CPU wrote, a device will read) and/or\n"
		"invalidated (--inval: a device wrote, the CPU will read), whole.\n"
		"RANGE is START+COUNT, START..END (END excluded) or COUNT (from 0); each is a\n"
		"number of pages, or a page-aligned size with a unit (64K, 1M).");
	sync->add_flag("-c,--clean", o.clean, "Clean to the Point of Coherency");
	sync->add_flag("-i,--inval", o.inval, "Invalidate to the Point of Coherency");
	sync->add_option("RANGE", o.range_text, "Pages to maintain, e.g. 0+64 or 1M..2M")
		->required();
	sync->add_option("-r,--repeat", o.repeat, "Do it this many times (default 1)")
		->check(CLI::Range(std::uint64_t{ 1 }, std::uint64_t{ 1 } << 30));
	key_option(sync, o, "the segment");
	sync->callback([&o] { o.cmd = Command::Sync; });

	// watch
	auto *watch = cmd(app, "watch", "Print the module's events as they happen",
		"Print the module's events as they happen (netlink multicast group \"events\"):\n"
		"seg-created, seg-deleted, alloc.  One line each; with --json one object per\n"
		"line.  The kernel sends at most 256 events a second and counts the rest; each\n"
		"event carries the count dropped before it.  On exit a summary goes to stderr.");
	watch->add_option("-c,--count", o.count, "Stop after this many events (default: never)");
	watch->add_option("-t,--timeout", o.timeout, "Stop after this many seconds (default: never)")
		->check(CLI::NonNegativeNumber)
		->type_name("SECONDS");
	watch->callback([&o] { o.cmd = Command::Watch; });

	// msi
	auto *msi = cmd(app, "msi", "Show the MSI states and nodes of a coherent segment",
		"Coherent segments (seg create --mode coherent) keep one copy of each page per\n"
		"node -- an open file of the device bound to the segment -- coherent with the\n"
		"MSI protocol, in the kernel: at most one node holds a page Modified, and while\n"
		"it does no other holds it Shared.  These commands show each node's state of\n"
		"each page, the directory (owner and sharers of each page) and the nodes'\n"
		"counters (MY_SHMEM_IOC_MSI_VIEW, MY_SHMEM_IOC_NODE_INFO).  They name the\n"
		"segment by ID, or by --key (found through netlink; without it they bind to\n"
		"the key for a moment, as one more node); they need read permission on it.");
	msi->require_subcommand(1);
	auto *view = cmd(msi, "view", "Show every node's MSI state of every page",
		"Show the MSI state of each page for each node of a coherent segment, as a\n"
		"grid: a ruler of page numbers, one row per node (M modified, S shared, I\n"
		"invalid), a dir row with each page's owner (the node holding it in M, '-' if\n"
		"none) and a sharers row (how many nodes hold it in S), 64 pages to a block.\n"
		"Over four pages, node 0 SSII and node 1 ISMI make the rows \"dir --1-\" and\n"
		"\"sharers 1200\" (docs/shmemctl.md shows a whole grid).  When an owner id or a sharer count has two digits or more, the columns widen\n"
		"and are separated by blanks.  --node shows one node's row; --first and --count\n"
		"a range of pages.  Each page is read consistently; different pages and nodes\n"
		"are not read at one instant.  With --json each node's counters are included\n"
		"(see msi nodes).");
	view->add_option("ID", o.id, "Segment id (as seg list shows it)");
	key_option(view, o, "the segment, instead of ID");
	view->add_option("--node", o.node, "Only this node's row (as msi nodes lists them)")
		->type_name("N");
	view->add_option("--first", o.first, "First page to show (default 0)")
		->check(CLI::NonNegativeNumber)
		->type_name("PAGE");
	view->add_option("--count", o.view_count, "Pages to show (default: to the segment's end)")
		->check(CLI::Range(std::uint64_t{ 1 }, UINT64_MAX))
		->type_name("N");
	view->callback([&o] { o.cmd = Command::MsiView; });
	auto *nodes = cmd(msi, "nodes", "List the nodes of a coherent segment and their counters",
		"List the nodes of a coherent segment, one row each, with their counters since\n"
		"they were bound: read_faults and write_faults taken by the node's mappings,\n"
		"fetches (pages copied into the node, from home or from the owner),\n"
		"invals_received (its copies dropped by other nodes' writes), writebacks (pages\n"
		"written back home from it: M to S on another node's read, M at unmap or\n"
		"close), bytes_moved (copied into or out of its copies), cleans and invals\n"
		"(clean- and invalidate-to-PoC run over its copies), and pages_s and pages_m\n"
		"(pages it holds in S and in M now).");
	nodes->add_option("ID", o.id, "Segment id (as seg list shows it)");
	key_option(nodes, o, "the segment, instead of ID");
	nodes->callback([&o] { o.cmd = Command::MsiNodes; });

	// dsm
	auto *dsm = cmd(app, "dsm", "An s2dsm-style interactive session on a coherent segment",
		"The s2dsm assignment's interactive session (userspace/s2dsm), its prompts and\n"
		"prints byte for byte, with the coherence kept by the kernel: every shmemctl dsm\n"
		"process is one node of the coherent segment of KEY, any number of them.  The\n"
		"first process (KEY has no segment yet) asks\n"
		"  > How many pages would you like to allocate (greater than 0)?\n"
		"(or takes --pages) and creates the segment, coherent, with --perm; the others\n"
		"attach to it.  Each maps the whole segment (MAP_SHARED), prints s2dsm's two\n"
		"lines \"Address returned by mmap() = 0x7f5c2a1f0000\" and \"Size of mapped\n"
		"region = 12288\", and loops on\n"
		"  > Which command should I run? (r:read, w:write, v:view msi array):\n"
		"  > For which page? (0-N, or -1 for all):\n"
		"  > Type your new message:                  (w only)\n"
		"r prints \"[*] Page I:\" and the page's text (up to its first NUL byte); w\n"
		"stores the message, NUL-terminated, at the start of the page (or of every page\n"
		"for -1); v prints this node's state of the page(s), one line each,\n"
		"\"Page 0: S (Shared)\" (with --json one JSON line, as s2dsm --json prints it).\n"
		"\"[x] PAGEFAULT\" comes before a page's output when the access to it faulted --\n"
		"this node's read or write fault count (msi nodes) moved: the first read of an\n"
		"Invalid page, the first write to an Invalid or Shared page.  A page in I is\n"
		"fetched from its owner, or from home (zeroes if never written); a write\n"
		"invalidates every other copy.  An unknown command or page number is reported\n"
		"on standard error and the command prompt comes again.  End of input (Ctrl-D)\n"
		"ends the session with exit status 0: the mapping goes (a page this node holds\n"
		"in M is written back home) and so does the node; SIGINT or SIGTERM end it the\n"
		"same way with status 128+N.  The segment stays, like any segment: shmemctl seg\n"
		"delete --key KEY removes it.  Exit status 1 if KEY's segment is not coherent,\n"
		"or input ends before the page count.");
	dsm->add_option("KEY", o.key_text, "Key of the coherent segment, non-zero (decimal, 0x hex "
					   "or 0 octal)")
		->required();
	dsm->add_option("-n,--pages", o.dsm_pages,
			"First process: create the segment with N pages instead of asking")
		->check(CLI::Range(std::uint64_t{ 1 }, std::uint64_t{ 1 } << 30))
		->type_name("N");
	dsm->add_option("--perm", o.perm_text,
			"Permission bits of a segment this process creates, in octal (default 0600)")
		->type_name("OCTAL");
	dsm->callback([&o] { o.cmd = Command::Dsm; });

	return app;
}

} // namespace shmemctl
