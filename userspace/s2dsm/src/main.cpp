// SPDX-License-Identifier: GPL-2.0
// s2dsm - two processes share memory over TCP, kept coherent page by page with MSI,
// page faults caught with userfaultfd.  See --help and ../README.md.
#include "dsm.hpp"
#include "error.hpp"
#include "net.hpp"
#include "output.hpp"
#include "session.hpp"
#include "uffd.hpp"
#include "wire.hpp"

#include <CLI/CLI.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <memory>

using namespace s2dsm;

namespace {

constexpr std::uint64_t kMaxPages = 1u << 20;

constexpr const char *kDescription =
	"s2dsm - a two-node distributed shared memory over userfaultfd and TCP";

constexpr const char *kFooter = R"HELP(DESCRIPTION
  Two s2dsm processes pair over TCP and share one anonymous memory region mapped at
  the same virtual address in both.  Every page is kept coherent with the MSI protocol
  (Modified / Shared / Invalid).  Page faults are caught with userfaultfd(2): a missing
  fault on an Invalid page fetches the page from the peer; a write-protect fault on a
  Shared page invalidates the peer's copy.  Coherence therefore holds for any access to
  the region, not only for the w command.

PAIRING
  Each process listens on LOCAL-PORT and connects to REMOTE-PORT on the peer host
  (--peer, default 127.0.0.1).  Whichever process starts first waits for the other;
  the one that waited is the first process (P1).  P1 asks
    > How many pages would you like to allocate (greater than 0)?
  (or takes --pages), mmaps that many pages, prints the address and size, and sends
  both to the second process (P2), which maps the same size at the same address with
  MAP_FIXED_NOREPLACE and prints them too.  If P2 cannot use that address both
  processes say so and exit with status 5.

PROTOCOL (per page; "peer" is the other process)
  read,  page I:  fetch from the peer.  If the peer holds it (M or S) it sends the data
                  and keeps (M becomes S); if the peer is I too, the page reads as empty
                  (zeros).  Local state: S, installed write-protected.
  write, page I:  fetch from the peer, which sends its copy (if any), drops it with
                  madvise(MADV_DONTNEED) and becomes I.  Local state: M.
  write, page S:  the peer drops its copy and becomes I.  Local state: M.
  A process in M that serves a read write-protects its copy first, so the data sent is
  final.  When both processes fault on one page at once, P1's request is served first.
  Wire format: 24-byte versioned header (magic "S2DM", version 1) with fixed, checked
  payload lengths; a malformed, truncated or wrong-version message ends the session.

PROMPTS (interactive mode)
  > Which command should I run? (r:read, w:write, v:view msi array):
  > For which page? (0-N, or -1 for all):
  > Type your new message:                      (w only)
  r prints "[*] Page i:" and the page's text; w stores the message at the start of the
  page(s); v prints each page's MSI state ("Page 0: S (Shared)"; JSON with --json).
  Every page fault handled prints "[x] PAGEFAULT".  End of input ends the session.

SCRIPT MODE (--script FILE): one command per line, # starts a comment
  r PAGE | w PAGE TEXT | v [PAGE]     as in interactive mode (PAGE -1: all pages)
  barrier                             wait until the peer reaches its matching barrier
  sleep MS                            pause
  stress SECONDS [SEED]               random 64-bit reads/writes at offset 0 of random
                                      pages; one line per operation:
                                      op r|w PAGE TOKEN-HEX START-NS END-NS
  readmiss ROUNDS                     benchmark: P1 dirties all pages, P2 times reading
                                      each (prints "readmiss-ns" samples)
  pingpong N                          benchmark: bounce a token through page 0 N times
                                      (P1 prints "pingpong round_trips=N ns=T")
  Both processes normally run scripts with the same barrier/benchmark commands.

EXIT STATUS
  0  normal end (end of input, end of script, or the peer ended the session)
  1  local failure (socket, mmap, userfaultfd, ...)
  2  bad command line or script
  3  peer lost: disconnected without goodbye, crashed, or no answer within --timeout
  4  protocol error: malformed, truncated, unexpected or wrong-version message
  5  the region could not be mapped at the same address in both processes
  128+N  ended by signal N (SIGINT, SIGTERM, SIGHUP) after saying goodbye to the peer

EXAMPLE
  terminal 1:  s2dsm 4000 4001
  terminal 2:  s2dsm 4001 4000
  Terminal 1 asks for the page count; then both offer the r/w/v prompts.
  Across machines:  hostA$ s2dsm --peer hostB 4000 4001
                    hostB$ s2dsm --peer hostA 4001 4000
  For tests:        s2dsm --pages 4 --script a.txt --wait 10 4000 4001

REQUIREMENTS
  userfaultfd(2) with UFFD_FEATURE_PAGEFAULT_FLAG_WP on anonymous memory (Linux 5.7 or
  later on x86_64; root, or vm.unprivileged_userfaultfd=1).  --check tells.)HELP";

struct Options {
	int local_port = 0;
	int remote_port = 0;
	std::string peer = "127.0.0.1";
	std::string bind;
	std::uint64_t pages = 0;
	std::string addr;
	std::string script;
	bool json = false;
	bool quiet = false;
	double timeout = 10;
	double wait = 0;
	bool check = false;
};

std::string hexaddr(const void *p)
{
	char buf[32];
	std::snprintf(buf, sizeof buf, "%p", p);
	return buf;
}

std::uint64_t parse_addr(const std::string &s)
{
	std::size_t pos = 0;
	unsigned long long v = 0;
	try {
		v = std::stoull(s, &pos, 0);
	} catch (const std::exception &) {
		pos = 0;
	}
	if (pos != s.size() || s.empty())
		throw Error(kExitUsage, "--addr " + s + ": not an address (use e.g. 0x7f0000000000)");
	return v;
}

void print_region(const void *addr, std::size_t len)
{
	char buf[128];
	std::snprintf(buf, sizeof buf, "Address returned by mmap() = %p\nSize of mapped region = %zu\n", addr, len);
	out::print(buf);
}

// P1: choose the region, map it, tell P2, learn whether P2 could map it too.
Mapping setup_first(Channel &ch, LineReader &in, const Options &o, std::size_t psz)
{
	std::uint64_t pages = o.pages;
	while (pages == 0) {
		out::print("> How many pages would you like to allocate (greater than 0)?\n");
		std::string line;
		auto st = in.read(line, {ch.fd_for_poll(), signal_fd()});
		if (st == LineReader::Status::Eof)
			throw Error(kExitError, "end of input before a page count was given");
		if (st == LineReader::Status::Interrupted) {
			if (g_signal.load())
				throw SessionEnded{};
			throw Error(kExitPeerLost, "peer " + ch.peer() + " disconnected before the region was set up");
		}
		char *end = nullptr;
		unsigned long long v = std::strtoull(line.c_str(), &end, 10);
		while (end && (*end == ' ' || *end == '\t'))
			++end;
		if (line.empty() || !end || *end != '\0' || line[0] == '-' || v == 0 || v > kMaxPages)
			out::error("please enter a whole number from 1 to " + std::to_string(kMaxPages));
		else
			pages = v;
	}
	std::size_t len = pages * psz;
	void *hint = nullptr;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	if (!o.addr.empty()) {
		hint = reinterpret_cast<void *>(parse_addr(o.addr));
		flags |= MAP_FIXED_NOREPLACE;
	}
	void *p = ::mmap(hint, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		throw_errno("mmap " + std::to_string(len) + " bytes" + (hint ? " at " + hexaddr(hint) : std::string()),
			    hint ? kExitPlacement : kExitError);
	Mapping m(p, len);
	if (hint && p != hint)
		throw Error(kExitPlacement, "mmap at " + hexaddr(hint) + " returned " + hexaddr(p) +
						    " (kernel without MAP_FIXED_NOREPLACE?)");
	print_region(p, len);

	std::byte payload[wire::kSetupSize];
	wire::encode_setup({reinterpret_cast<std::uint64_t>(p), len}, std::span<std::byte, wire::kSetupSize>(payload));
	ch.send({wire::Type::Setup, 0, 0, 0, wire::kSetupSize}, payload);
	ch.set_recv_timeout(std::max(o.timeout, 1.0));
	std::optional<Message> ack = ch.recv(static_cast<std::uint32_t>(psz));
	ch.set_recv_timeout(0);
	if (!ack)
		throw Error(kExitPeerLost, "peer " + ch.peer() + " disconnected during setup");
	if (ack->h.type != wire::Type::SetupAck)
		throw Error(kExitProtocol, "protocol error from " + ch.peer() + ": expected SETUP_ACK, got " +
						   std::string(wire::type_name(ack->h.type)));
	if (ack->h.flags != 0)
		throw Error(kExitPlacement, "the peer cannot map the region at the same address " + hexaddr(p) + " (" +
						    std::to_string(len) + " bytes): " +
						    errno_text(static_cast<int>(ack->h.flags)));
	return m;
}

// P2: receive the region, map it at the same address, report the outcome.
Mapping setup_second(Channel &ch, std::size_t psz)
{
	std::optional<Message> m = ch.recv(static_cast<std::uint32_t>(psz));
	if (!m)
		throw Error(kExitPeerLost, "peer " + ch.peer() + " disconnected before setting up the region");
	if (m->h.type != wire::Type::Setup)
		throw Error(kExitProtocol, "protocol error from " + ch.peer() + ": expected SETUP, got " +
						   std::string(wire::type_name(m->h.type)));
	wire::Setup s = wire::decode_setup(std::span<const std::byte, wire::kSetupSize>(m->payload.data(), wire::kSetupSize));
	if (s.size == 0 || s.size % psz || s.size / psz > kMaxPages || s.address == 0 || s.address % psz) {
		ch.send({wire::Type::SetupAck, 0, 0, static_cast<std::uint32_t>(EINVAL), 0});
		throw Error(kExitProtocol, "protocol error from " + ch.peer() + ": SETUP with unusable region address 0x" +
						   [&] { char b[32]; std::snprintf(b, sizeof b, "%" PRIx64, s.address); return std::string(b); }() +
						   ", size " + std::to_string(s.size));
	}
	void *want = reinterpret_cast<void *>(s.address);
	void *p = ::mmap(want, s.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	int err = p == MAP_FAILED ? errno : 0;
	if (p != MAP_FAILED && p != want) {
		::munmap(p, s.size);
		err = EEXIST;
	}
	if (err) {
		ch.send({wire::Type::SetupAck, 0, 0, static_cast<std::uint32_t>(err), 0});
		throw Error(kExitPlacement, "cannot map the shared region at the peer's address " + hexaddr(want) + " (" +
						    std::to_string(s.size) + " bytes): mmap MAP_FIXED_NOREPLACE: " + errno_text(err));
	}
	Mapping map(p, s.size);
	print_region(p, s.size);
	return map;
}

int run(const Options &o)
{
	if (o.check) {
		std::string why = Uffd::probe();
		if (why.empty()) {
			std::printf("s2dsm: userfaultfd with write-protect on anonymous memory: supported\n");
			return kExitOk;
		}
		std::printf("s2dsm: userfaultfd with write-protect on anonymous memory: unsupported: %s\n", why.c_str());
		return kExitError;
	}
	std::vector<ScriptCommand> script;
	if (!o.script.empty())
		script = parse_script(o.script);

	install_signal_handlers();
	const auto psz = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
	Uffd uffd = Uffd::open(); // fail before pairing if the kernel cannot do it

	PairOptions po;
	po.local_port = static_cast<std::uint16_t>(o.local_port);
	po.remote_port = static_cast<std::uint16_t>(o.remote_port);
	po.peer_host = o.peer;
	po.bind_host = !o.bind.empty() ? o.bind : (is_loopback_host(o.peer) ? "127.0.0.1" : "0.0.0.0");
	po.wait_seconds = o.wait;
	po.page_size = static_cast<std::uint32_t>(psz);
	Paired paired = pair(po);
	Channel &ch = *paired.channel;
	ch.set_send_timeout(std::max(o.timeout, 1.0));

	LineReader in(STDIN_FILENO);
	Mapping region;
	try {
		region = paired.first ? setup_first(ch, in, o, psz) : setup_second(ch, psz);
	} catch (const SessionEnded &) {
		return 128 + g_signal.load();
	}
	uffd.register_range(region.data(), region.size());
	if (!paired.first)
		ch.send({wire::Type::SetupAck, 0, 0, 0, 0}); // mapped and registered: ready

	Dsm::Config cfg;
	cfg.primary = paired.first;
	cfg.log_faults = !o.quiet;
	cfg.timeout_s = o.timeout;
	Dsm dsm(ch, uffd, region.data(), region.size() / psz, psz, cfg);
	dsm.start();

	SessionOptions so;
	so.json = o.json;
	so.first = paired.first;
	int local_code = kExitOk;
	std::string local_error;
	bool cut_short = false; // the session ended under us (peer, error or signal)
	try {
		if (o.script.empty())
			run_interactive(dsm, in, so);
		else
			run_script(dsm, script, so);
	} catch (const SessionEnded &) {
		cut_short = true;
	} catch (const Error &e) {
		local_code = e.code();
		local_error = e.what();
	}
	bool peer_ended = cut_short && dsm.ended();
	dsm.finish();
	if (!local_error.empty()) {
		out::error(local_error);
		return local_code;
	}
	if (peer_ended) {
		int code = dsm.end_code();
		out::error(dsm.end_reason() + (code == kExitOk ? "; exiting" : ""));
		return code;
	}
	if (int sig = g_signal.load())
		return 128 + sig;
	return kExitOk;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app(kDescription, "s2dsm");
	app.footer(kFooter);
	app.get_formatter()->column_width(34);
	Options o;
	app.add_option("local-port", o.local_port, "TCP port this process listens on")->type_name("PORT")->check(CLI::Range(1, 65535));
	app.add_option("remote-port", o.remote_port, "TCP port the peer listens on")->type_name("PORT")->check(CLI::Range(1, 65535));
	app.add_option("--peer", o.peer, "host of the peer (IPv4 address or name)")->type_name("HOST")->capture_default_str();
	app.add_option("--bind", o.bind, "address to listen on (default: 127.0.0.1 if the peer is loopback, else 0.0.0.0)")->type_name("ADDR");
	app.add_option("--pages", o.pages, "P1: allocate N pages instead of asking")->type_name("N")
		->check(CLI::Range(std::uint64_t{1}, kMaxPages));
	app.add_option("--addr", o.addr, "P1: place the region at this address (MAP_FIXED_NOREPLACE)")->type_name("ADDR");
	app.add_option("--script", o.script, "run the commands in FILE instead of prompting")->type_name("FILE")->check(CLI::ExistingFile);
	app.add_flag("--json", o.json, "print MSI views (v) as JSON");
	app.add_flag("-q,--quiet", o.quiet, "do not print \"[x] PAGEFAULT\" lines");
	app.add_option("--timeout", o.timeout, "seconds to wait for the peer's answer before declaring it lost")->type_name("SEC")
		->check(CLI::Range(0.1, 3600.0))
		->capture_default_str();
	app.add_option("--wait", o.wait, "seconds to wait for the peer to pair (0: forever)")->type_name("SEC")
		->check(CLI::Range(0.0, 1e6))
		->capture_default_str();
	app.add_flag("--check", o.check, "check that this kernel supports s2dsm, then exit");
	app.set_version_flag("--version", "s2dsm 1 (wire protocol version " + std::to_string(wire::kVersion) + ")");

	try {
		app.parse(argc, argv);
		if (!o.check) {
			if (o.local_port == 0 || o.remote_port == 0)
				throw CLI::ValidationError("local-port and remote-port are required");
			if (o.local_port == o.remote_port && is_loopback_host(o.peer))
				throw CLI::ValidationError("local-port and remote-port must differ when the peer is on this host");
		}
	} catch (const CLI::CallForHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForAllHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForVersion &e) {
		return app.exit(e);
	} catch (const CLI::ParseError &e) {
		std::fprintf(stderr, "s2dsm: %s\nUsage: s2dsm [OPTIONS] LOCAL-PORT REMOTE-PORT  (see s2dsm --help)\n", e.what());
		return kExitUsage;
	}

	try {
		return run(o);
	} catch (const Error &e) {
		out::error(e.what());
		return e.code();
	} catch (const std::exception &e) {
		out::error(e.what());
		return kExitError;
	}
}
