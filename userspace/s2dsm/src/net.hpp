// SPDX-License-Identifier: GPL-2.0
// TCP transport: a framed, length-checked message channel and the pairing handshake.
#pragma once

#include "fd.hpp"
#include "wire.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace s2dsm {

struct Message {
	wire::Header h;
	std::vector<std::byte> payload;
};

class Channel {
public:
	Channel(UniqueFd fd, std::string peer);
	Channel(Channel &&) = delete;

	// Sends one whole message; safe to call from several threads.  Throws Error
	// (kExitPeerLost) when the connection is gone.
	void send(const wire::Header &h, std::span<const std::byte> payload = {});
	// Receives one whole, validated message.  nullopt on end-of-stream at a message
	// boundary; Error(kExitProtocol) on malformed or truncated input; Error(kExitPeerLost)
	// on connection errors or when the receive timeout (if set) expires.
	std::optional<Message> recv(std::uint32_t page_size);
	void set_recv_timeout(double seconds);
	void set_send_timeout(double seconds);
	// Wakes a thread blocked in recv (it then sees end-of-stream).
	void shutdown() noexcept;
	const std::string &peer() const noexcept { return peer_; }
	int fd_for_poll() const noexcept { return fd_.get(); }

private:
	UniqueFd fd_;
	std::string peer_;
	std::mutex send_mu_;
};

struct PairOptions {
	std::string bind_host;    // address the listener binds to
	std::uint16_t local_port = 0;
	std::string peer_host;    // where the peer listens
	std::uint16_t remote_port = 0;
	double wait_seconds = 0;  // give up pairing after this long; <= 0: wait forever
	std::uint32_t page_size = 0;
};

struct Paired {
	std::unique_ptr<Channel> channel;
	bool first = false; // true: we accepted the connection (we were waiting): we are P1
};

// Listens on bind_host:local_port and connects to peer_host:remote_port; whichever
// process starts first waits for the other.  If both connect to each other at the same
// time, the connection opened by the side with the larger random nonce is kept.
Paired pair(const PairOptions &opt);

std::string format_endpoint(const std::string &host, std::uint16_t port);
bool is_loopback_host(const std::string &host);

} // namespace s2dsm
