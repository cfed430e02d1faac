// SPDX-License-Identifier: GPL-2.0
// The generic-netlink family "my_shmem" (uapi/netlink/my_shmem.yaml) over
// libnl-genl-3: family resolution, requests, dumps and the "events"
// multicast group.  Errors carry the errno and the kernel's extended-ack
// message.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "types.hpp"

struct nl_sock;
struct nl_msg;

namespace my_shmem {

class Netlink {
public:
	// Connect and resolve the family; nullopt when the kernel has no family
	// "my_shmem" (module not loaded).  Throws Error on anything else.
	static std::optional<Netlink> open();

	Netlink(Netlink &&) noexcept;
	Netlink &operator=(Netlink &&) noexcept;
	~Netlink();

	std::uint32_t family_version() const noexcept { return version_; }

	Stats stats();
	// nullopt: no segment with this id (ENOENT).
	std::optional<SegInfo> seg_get(std::uint32_t id);
	std::vector<SegInfo> seg_list();
	void seg_delete(std::uint32_t id);	// needs CAP_NET_ADMIN
	Param param_get(const std::string &name);
	std::vector<Param> param_list();
	void param_set(const std::string &name, const std::string &value);	// CAP_NET_ADMIN

	// Join the "events" group on a socket of its own.
	void subscribe();
	int event_fd() const;
	// Receive what is queued (blocking if @block and nothing is; a signal
	// ends the wait); each event goes to @on.  Returns false if the socket
	// buffer overran (events lost in the socket, not counted by the kernel).
	bool receive_events(const std::function<void(const Event &)> &on, bool block);

private:
	Netlink() = default;
	using Parse = std::function<void(nl_msg *)>;
	// Send one request and receive until it is answered; @on_reply sees
	// each reply message.  @doing names the request in errors.
	void transact(std::uint8_t cmd, bool dump, const std::function<void(nl_msg *)> &put,
		      const Parse &on_reply, const std::string &doing);

	struct SockDel { void operator()(nl_sock *s) const noexcept; };
	std::unique_ptr<nl_sock, SockDel> sk_;
	std::unique_ptr<nl_sock, SockDel> ev_;
	int family_ = 0;
	std::uint32_t version_ = 0;
};

} // namespace my_shmem
