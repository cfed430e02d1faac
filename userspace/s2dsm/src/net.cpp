// SPDX-License-Identifier: GPL-2.0
#include "net.hpp"

#include "error.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <memory>

namespace s2dsm {

namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in resolve(const std::string &host, std::uint16_t port)
{
	addrinfo hints{};
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	addrinfo *res = nullptr;
	int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
	if (rc != 0 || !res)
		throw Error(kExitError, "resolve " + host + ": " + ::gai_strerror(rc));
	sockaddr_in sa{};
	std::memcpy(&sa, res->ai_addr, sizeof sa);
	::freeaddrinfo(res);
	sa.sin_port = htons(port);
	return sa;
}

std::string describe(const sockaddr_in &sa)
{
	char buf[INET_ADDRSTRLEN] = "?";
	::inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);
	return format_endpoint(buf, ntohs(sa.sin_port));
}

void set_nodelay(int fd)
{
	int one = 1;
	::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	// Detect a vanished peer machine eventually even when idle.
	::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	int idle = 10, intvl = 5, cnt = 3;
	::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

UniqueFd listen_on(const std::string &host, std::uint16_t port)
{
	sockaddr_in sa = resolve(host, port);
	UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd)
		throw_errno("socket");
	int one = 1;
	::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0)
		throw_errno("bind " + describe(sa));
	if (::listen(fd.get(), 4) < 0)
		throw_errno("listen " + describe(sa));
	return fd;
}

// Non-blocking connect bounded by timeout_ms.  On failure returns an empty fd and sets err.
UniqueFd try_connect(const sockaddr_in &sa, int timeout_ms, int &err)
{
	UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!fd)
		throw_errno("socket");
	if (::connect(fd.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof sa) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			return {};
		}
		pollfd p{fd.get(), POLLOUT, 0};
		int rc = ::poll(&p, 1, timeout_ms);
		if (rc == 0) {
			err = ETIMEDOUT;
			return {};
		}
		if (rc < 0) {
			err = errno;
			return {};
		}
		int soerr = 0;
		socklen_t len = sizeof soerr;
		::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr) {
			err = soerr;
			return {};
		}
	}
	int flags = ::fcntl(fd.get(), F_GETFL);
	::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
	set_nodelay(fd.get());
	return fd;
}

std::uint64_t random_nonce()
{
	std::uint64_t v = 0;
	if (::getrandom(&v, sizeof v, 0) != sizeof v)
		v = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()) ^
		    (static_cast<std::uint64_t>(::getpid()) << 32);
	return v;
}

void send_hello(Channel &ch, std::uint64_t nonce, std::uint32_t page_size)
{
	std::byte payload[wire::kHelloSize];
	wire::encode_hello({nonce, page_size}, std::span<std::byte, wire::kHelloSize>(payload));
	ch.send({wire::Type::Hello, 0, 0, 0, wire::kHelloSize}, payload);
}

// Reads the peer's HELLO (bounded wait).  Throws Error on anything else.
wire::Hello read_hello(Channel &ch, std::uint32_t page_size)
{
	ch.set_recv_timeout(5.0);
	std::optional<Message> m = ch.recv(0);
	if (!m)
		throw Error(kExitPeerLost, "connection closed during the handshake");
	if (m->h.type != wire::Type::Hello)
		throw Error(kExitProtocol, "expected HELLO, got " + std::string(wire::type_name(m->h.type)));
	wire::Hello h;
	try {
		h = wire::decode_hello(std::span<const std::byte, wire::kHelloSize>(m->payload.data(), wire::kHelloSize));
	} catch (const wire::ProtocolError &e) {
		throw Error(kExitProtocol, e.what());
	}
	if (h.page_size != page_size)
		throw Error(kExitProtocol, "peer page size " + std::to_string(h.page_size) +
					       " differs from ours (" + std::to_string(page_size) + ")");
	ch.set_recv_timeout(0);
	return h;
}

} // namespace

std::string format_endpoint(const std::string &host, std::uint16_t port)
{
	return host + ":" + std::to_string(port);
}

bool is_loopback_host(const std::string &host)
{
	try {
		sockaddr_in sa = resolve(host, 0);
		return (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
	} catch (const Error &) {
		return false;
	}
}

Channel::Channel(UniqueFd fd, std::string peer) : fd_(std::move(fd)), peer_(std::move(peer)) {}

void Channel::set_recv_timeout(double seconds)
{
	timeval tv{};
	tv.tv_sec = static_cast<time_t>(seconds);
	tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
	::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

void Channel::set_send_timeout(double seconds)
{
	timeval tv{};
	tv.tv_sec = static_cast<time_t>(seconds);
	tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
	::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void Channel::send(const wire::Header &h, std::span<const std::byte> payload)
{
	std::byte hdr[wire::kHeaderSize];
	wire::encode_header(h, std::span<std::byte, wire::kHeaderSize>(hdr));
	iovec iov[2] = {{hdr, sizeof hdr}, {const_cast<std::byte *>(payload.data()), payload.size()}};
	std::size_t total = sizeof hdr + payload.size();
	std::lock_guard lk(send_mu_);
	std::size_t done = 0;
	while (done < total) {
		msghdr msg{};
		iovec cur[2];
		int n = 0;
		std::size_t skip = done;
		for (const iovec &v : iov) {
			if (skip >= v.iov_len) {
				skip -= v.iov_len;
				continue;
			}
			cur[n].iov_base = static_cast<char *>(v.iov_base) + skip;
			cur[n].iov_len = v.iov_len - skip;
			skip = 0;
			++n;
		}
		msg.msg_iov = cur;
		msg.msg_iovlen = static_cast<std::size_t>(n);
		ssize_t rc = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				throw Error(kExitPeerLost, "send to " + peer_ + ": peer stopped reading (send timed out)");
			throw_errno("send to " + peer_, kExitPeerLost);
		}
		done += static_cast<std::size_t>(rc);
	}
}

std::optional<Message> Channel::recv(std::uint32_t page_size)
{
	// Reads exactly len bytes; returns bytes read before EOF.
	auto read_exact = [&](std::byte *buf, std::size_t len) -> std::size_t {
		std::size_t got = 0;
		while (got < len) {
			ssize_t rc = ::recv(fd_.get(), buf + got, len - got, 0);
			if (rc == 0)
				return got;
			if (rc < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					throw Error(kExitPeerLost, "receive from " + peer_ + ": timed out");
				throw_errno("receive from " + peer_, kExitPeerLost);
			}
			got += static_cast<std::size_t>(rc);
		}
		return got;
	};
	std::byte hdr[wire::kHeaderSize];
	std::size_t got = read_exact(hdr, sizeof hdr);
	if (got == 0)
		return std::nullopt;
	if (got < sizeof hdr)
		throw Error(kExitProtocol, "truncated message from " + peer_ + ": connection closed after " +
						   std::to_string(got) + " of " + std::to_string(sizeof hdr) +
						   " header bytes");
	Message m;
	try {
		m.h = wire::decode_header(std::span<const std::byte, wire::kHeaderSize>(hdr), page_size);
	} catch (const wire::ProtocolError &e) {
		throw Error(kExitProtocol, "malformed message from " + peer_ + ": " + e.what());
	}
	m.payload.resize(m.h.length);
	got = read_exact(m.payload.data(), m.h.length);
	if (got < m.h.length)
		throw Error(kExitProtocol, "truncated message from " + peer_ + ": " +
						   std::string(wire::type_name(m.h.type)) + " announced " +
						   std::to_string(m.h.length) + " payload bytes, connection closed after " +
						   std::to_string(got));
	return m;
}

void Channel::shutdown() noexcept { ::shutdown(fd_.get(), SHUT_RDWR); }

Paired pair(const PairOptions &opt)
{
	UniqueFd listener = listen_on(opt.bind_host, opt.local_port);
	const sockaddr_in remote = resolve(opt.peer_host, opt.remote_port);
	const std::string remote_desc = describe(remote);
	const std::uint64_t nonce = random_nonce();
	const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
						     std::chrono::duration<double>(opt.wait_seconds > 0 ? opt.wait_seconds : 0));

	std::unique_ptr<Channel> out;
	int err = 0;
	UniqueFd ofd = try_connect(remote, 2000, err);
	if (ofd) {
		out = std::make_unique<Channel>(std::move(ofd), remote_desc);
		send_hello(*out, nonce, opt.page_size);
	} else {
		std::fprintf(stderr, "s2dsm: waiting for the peer to connect to %s (connect %s: %s)\n",
			     format_endpoint(opt.bind_host, opt.local_port).c_str(), remote_desc.c_str(),
			     errno_text(err).c_str());
	}

	for (;;) {
		int timeout_ms = -1;
		if (opt.wait_seconds > 0) {
			auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
			if (left <= 0)
				throw Error(kExitPeerLost, "no peer paired within " + std::to_string(static_cast<int>(opt.wait_seconds)) +
								   " s (listening on " + format_endpoint(opt.bind_host, opt.local_port) +
								   ", peer expected at " + remote_desc + ")");
			timeout_ms = static_cast<int>(left);
		}
		pollfd pf[2] = {{listener.get(), POLLIN, 0}, {out ? out->fd_for_poll() : -1, POLLIN, 0}};
		int n = ::poll(pf, 2, timeout_ms);
		if (n < 0) {
			if (errno == EINTR)
				throw Error(kExitError, "interrupted while waiting for the peer");
			throw_errno("poll");
		}
		if (out && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			// The peer's HELLO, or an end-of-stream, on our outgoing connection.
			try {
				read_hello(*out, opt.page_size);
				return Paired{std::move(out), false};
			} catch (const Error &e) {
				if (e.code() == kExitProtocol)
					throw Error(kExitProtocol, "handshake with " + remote_desc + ": " + e.what());
				// The peer dropped our connection: it kept its own (simultaneous start).
				out.reset();
			}
		}
		if (n > 0 && (pf[0].revents & POLLIN)) {
			sockaddr_in from{};
			socklen_t flen = sizeof from;
			UniqueFd in(::accept4(listener.get(), reinterpret_cast<sockaddr *>(&from), &flen, SOCK_CLOEXEC));
			if (!in) {
				if (errno == EINTR || errno == ECONNABORTED)
					continue;
				throw_errno("accept on " + format_endpoint(opt.bind_host, opt.local_port));
			}
			set_nodelay(in.get());
			auto ch = std::make_unique<Channel>(std::move(in), describe(from));
			wire::Hello peer;
			try {
				peer = read_hello(*ch, opt.page_size);
			} catch (const std::exception &e) {
				std::fprintf(stderr, "s2dsm: rejected connection from %s: %s\n", ch->peer().c_str(), e.what());
				continue;
			}
			if (peer.nonce == nonce)
				throw Error(kExitUsage, "connected to ourselves: the remote port " +
								std::to_string(opt.remote_port) + " is our own local port");
			if (out && nonce > peer.nonce)
				continue; // simultaneous start: our outgoing connection wins; drop this one
			out.reset();
			send_hello(*ch, nonce, opt.page_size);
			return Paired{std::move(ch), true};
		}
	}
}

} // namespace s2dsm
