// SPDX-License-Identifier: GPL-2.0
// The coherence engine: per-page MSI between exactly two nodes, driven by userfaultfd
// (missing faults for Invalid pages, write-protect faults for Shared pages) and by the
// peer's requests arriving over the Channel.
//
// Threads: the fault thread reads userfaultfd events and resolves them one at a time
// (so a node has at most one request of its own in flight); the message thread serves
// the peer's requests and delivers replies.  Neither busy-waits: the fault thread sleeps
// in poll(2) and on a condition variable, the message thread in recv(2).
//
// Simultaneous requests for the same page are ordered by a fixed tie-break: the first
// process (P1, "primary") defers the peer's request until its own completes; the second
// serves it immediately (its own request is then answered from P1's new state).  The
// reply is installed by the message thread the moment it arrives, so no later request
// can overtake it (TCP keeps order).  State changes, page copies, installs and the
// messages that report them happen under one mutex, so a page transfer is atomic with
// respect to the state change and messages leave in state order.
#pragma once

#include "my_shmem/msi.hpp"
#include "fd.hpp"
#include "net.hpp"
#include "uffd.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace s2dsm {

// Thrown to unwind the caller when the session has ended (peer gone, error, goodbye).
struct SessionEnded {};

class Dsm {
public:
	struct Config {
		bool primary = false;   // tie-break role: the first process
		bool log_faults = true; // print "[x] PAGEFAULT" for every fault handled
		double timeout_s = 10;  // how long to wait for the peer's reply
	};

	Dsm(Channel &ch, Uffd &uffd, std::byte *base, std::size_t npages, std::size_t page_size, Config cfg);
	Dsm(const Dsm &) = delete;
	~Dsm();

	void start();
	// Orderly local end: say goodbye, let the peer finish its pending requests
	// (bounded), then stop both threads.  Idempotent.
	void finish();

	std::size_t pages() const noexcept { return npages_; }
	std::size_t page_size() const noexcept { return psz_; }
	std::byte *page(std::size_t i) const noexcept { return base_ + i * psz_; }
	void *page_ptr(std::size_t i) const noexcept { return base_ + i * psz_; }
	std::vector<my_shmem::msi::State> states();

	bool ended() const noexcept { return ended_.load(); }
	int ended_fd() const noexcept { return ended_efd_.get(); }
	int end_code();
	std::string end_reason();
	// Throws SessionEnded if the session is over.
	void check() const
	{
		if (ended_.load())
			throw SessionEnded{};
	}

	// Script synchronisation: returns once the peer has passed the same barrier.
	void barrier(double timeout_s);

	struct Stats {
		std::uint64_t faults = 0, requests = 0, served = 0, deferred = 0;
	};
	Stats stats();

private:
	struct PeerRequest {
		std::uint32_t page;
		bool want_m;
	};

	void fault_loop();
	void message_loop();
	void resolve(std::size_t page, bool want_m);
	void install_locked(std::size_t page, const std::byte *data);
	void serve_locked(std::uint32_t page, bool want_m);
	void serve_deferred_locked();
	void handle(const Message &m);
	void fail(int code, const std::string &reason);

	Channel &ch_;
	Uffd &uffd_;
	std::byte *base_;
	std::size_t npages_;
	std::size_t psz_;
	Config cfg_;

	std::mutex mu_;
	std::condition_variable cv_;
	std::vector<my_shmem::msi::State> state_;
	struct Pending {           // our own request in flight (at most one)
		bool active = false;
		std::uint32_t page = 0;
		bool want_m = false;
	} pend_;
	std::vector<PeerRequest> deferred_;
	std::vector<std::byte> scratch_;   // outgoing page copy (under mu_)
	std::vector<std::byte> zero_page_;
	std::uint32_t barrier_sent_ = 0, barrier_recv_ = 0;
	Stats stats_;

	std::atomic<bool> ended_{false};
	std::atomic<bool> stopping_{false};
	bool peer_closed_ = false;
	int end_code_ = 0;
	std::string end_reason_;
	UniqueFd ended_efd_;

	std::thread fault_thread_, message_thread_;
	bool finished_ = false;
};

} // namespace s2dsm
