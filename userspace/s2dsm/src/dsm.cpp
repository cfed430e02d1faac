// SPDX-License-Identifier: GPL-2.0
#include "dsm.hpp"

#include "error.hpp"
#include "output.hpp"

#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace s2dsm {

using my_shmem::msi::State;

namespace {
// Helper threads never take SIGINT/SIGTERM: the main thread handles them.
class BlockSignals {
public:
	BlockSignals()
	{
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &set, &old_);
	}
	~BlockSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

private:
	sigset_t old_;
};
} // namespace

Dsm::Dsm(Channel &ch, Uffd &uffd, std::byte *base, std::size_t npages, std::size_t page_size, Config cfg)
	: ch_(ch), uffd_(uffd), base_(base), npages_(npages), psz_(page_size), cfg_(cfg),
	  state_(npages, State::Invalid), scratch_(page_size), zero_page_(page_size),
	  ended_efd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
	if (!ended_efd_)
		throw_errno("eventfd");
}

Dsm::~Dsm()
{
	// Normal paths call finish(); this is the exception path.
	fail(kExitError, "stopped");
	if (fault_thread_.joinable())
		fault_thread_.join();
	if (message_thread_.joinable())
		message_thread_.join();
}

void Dsm::start()
{
	BlockSignals blocked;
	message_thread_ = std::thread([this] { message_loop(); });
	fault_thread_ = std::thread([this] { fault_loop(); });
}

std::vector<State> Dsm::states()
{
	std::lock_guard lk(mu_);
	return state_;
}

Dsm::Stats Dsm::stats()
{
	std::lock_guard lk(mu_);
	return stats_;
}

int Dsm::end_code()
{
	std::lock_guard lk(mu_);
	return end_code_;
}

std::string Dsm::end_reason()
{
	std::lock_guard lk(mu_);
	return end_reason_;
}

void Dsm::fail(int code, const std::string &reason)
{
	{
		std::lock_guard lk(mu_);
		if (ended_.load())
			return;
		end_code_ = code;
		end_reason_ = reason;
		ended_.store(true);
	}
	cv_.notify_all();
	std::uint64_t one = 1;
	[[maybe_unused]] ssize_t rc = ::write(ended_efd_.get(), &one, sizeof one);
	ch_.shutdown();
}

// ---------------------------------------------------------------------------------
// Fault side

void Dsm::fault_loop()
{
	pollfd pf[2] = {{uffd_.fd(), POLLIN, 0}, {ended_efd_.get(), POLLIN, 0}};
	while (!ended_.load()) {
		int n = ::poll(pf, 2, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(kExitError, "poll on userfaultfd: " + errno_text(errno));
			break;
		}
		if (pf[1].revents)
			break;
		uffd_msg msg;
		ssize_t rc = ::read(uffd_.fd(), &msg, sizeof msg);
		if (rc < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fail(kExitError, "read from userfaultfd: " + errno_text(errno));
			break;
		}
		if (rc != sizeof msg || msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		auto addr = static_cast<std::uintptr_t>(msg.arg.pagefault.address);
		auto base = reinterpret_cast<std::uintptr_t>(base_);
		if (addr < base || addr >= base + npages_ * psz_)
			continue;
		std::size_t page = (addr - base) / psz_;
		bool write = msg.arg.pagefault.flags & (UFFD_PAGEFAULT_FLAG_WRITE | UFFD_PAGEFAULT_FLAG_WP);
		if (cfg_.log_faults)
			out::print("[x] PAGEFAULT\n");
		try {
			resolve(page, write);
		} catch (const Error &e) {
			fail(e.code(), e.what());
		} catch (const std::exception &e) {
			fail(kExitError, e.what());
		}
	}
	// Whatever happens to the session, nobody may stay blocked in a fault on our
	// region: unregistering wakes every waiter and leaves plain anonymous memory.
	uffd_.unregister_range(base_, npages_ * psz_);
}

void Dsm::resolve(std::size_t page, bool want_m)
{
	std::unique_lock lk(mu_);
	if (ended_.load())
		return;
	++stats_.faults;
	State st = state_[page];
	if (want_m ? st == State::Modified : st != State::Invalid) {
		// Already resolved by an earlier event (several threads faulted on one page).
		uffd_.wake(page_ptr(page), psz_);
		return;
	}
	pend_.active = true;
	pend_.page = static_cast<std::uint32_t>(page);
	pend_.want_m = want_m;
	++stats_.requests;
	ch_.send({want_m ? wire::Type::ReqWrite : wire::Type::ReqRead, pend_.page, 0, 0, 0});
	// The message thread installs the page when the reply arrives (one wake-up less on
	// the critical path: UFFDIO_COPY wakes the faulting thread directly); we only wait
	// for that to have happened before taking the next fault.
	auto timeout = std::chrono::duration<double>(cfg_.timeout_s);
	bool ok = cv_.wait_for(lk, timeout, [&] { return !pend_.active || ended_.load(); });
	if (!pend_.active)
		return;
	pend_.active = false;
	if (ended_.load())
		return;
	if (!ok) {
		char buf[64];
		std::snprintf(buf, sizeof buf, "%g", cfg_.timeout_s);
		throw Error(kExitPeerLost, "peer " + ch_.peer() + " did not answer " +
						   (want_m ? "REQ_WRITE" : "REQ_READ") + " for page " +
						   std::to_string(page) + " within " + buf + " s");
	}
}

void Dsm::install_locked(std::size_t page, const std::byte *data)
{
	void *addr = page_ptr(page);
	const void *src = data ? static_cast<const void *>(data) : static_cast<const void *>(zero_page_.data());
	State st = state_[page];
	if (pend_.want_m) {
		if (st == State::Shared) {
			// Our copy is valid (the peer's is now gone): just allow writes.
			uffd_.write_protect(addr, psz_, false, true);
		} else if (!uffd_.copy(addr, src, psz_, false)) {
			throw Error(kExitError, "internal error: page " + std::to_string(page) +
							" is present although Invalid");
		}
		state_[page] = State::Modified;
	} else {
		if (st == State::Invalid && !uffd_.copy(addr, src, psz_, true))
			throw Error(kExitError, "internal error: page " + std::to_string(page) +
							" is present although Invalid");
		if (st == State::Invalid)
			state_[page] = State::Shared;
	}
}

// ---------------------------------------------------------------------------------
// Message side

void Dsm::serve_locked(std::uint32_t page, bool want_m)
{
	void *addr = page_ptr(page);
	State st = state_[page];
	bool has = st != State::Invalid;
	if (has) {
		// Stop local writers first, so the copy we send is the final content.
		if (st == State::Modified)
			uffd_.write_protect(addr, psz_, true, false);
		std::memcpy(scratch_.data(), addr, psz_);
		if (want_m) {
			if (::madvise(addr, psz_, MADV_DONTNEED) < 0)
				throw_errno("madvise(MADV_DONTNEED) page " + std::to_string(page));
			state_[page] = State::Invalid;
		} else {
			state_[page] = State::Shared;
		}
	}
	++stats_.served;
	ch_.send({wire::Type::Reply, page, 0, has ? wire::kReplyHasData : 0u,
		  has ? static_cast<std::uint32_t>(psz_) : 0u},
		 has ? std::span<const std::byte>(scratch_) : std::span<const std::byte>());
}

void Dsm::serve_deferred_locked()
{
	std::vector<PeerRequest> todo;
	todo.swap(deferred_);
	for (const PeerRequest &r : todo)
		serve_locked(r.page, r.want_m);
}

void Dsm::handle(const Message &m)
{
	using wire::Type;
	const wire::Header &h = m.h;
	auto protocol = [&](const std::string &what) {
		return Error(kExitProtocol, "protocol error from " + ch_.peer() + ": " + what);
	};
	switch (h.type) {
	case Type::ReqRead:
	case Type::ReqWrite: {
		if (h.page >= npages_)
			throw protocol(std::string(wire::type_name(h.type)) + " for page " + std::to_string(h.page) +
				       ", but the region has " + std::to_string(npages_) + " pages");
		bool want_m = h.type == Type::ReqWrite;
		std::lock_guard lk(mu_);
		if (pend_.active && pend_.page == h.page && cfg_.primary) {
			// The peer has one fault thread: it cannot have two requests outstanding.
			if (!deferred_.empty())
				throw protocol("second request outstanding for page " + std::to_string(h.page));
			deferred_.push_back({h.page, want_m});
			++stats_.deferred;
		} else {
			serve_locked(h.page, want_m);
		}
		return;
	}
	case Type::Reply: {
		{
			std::lock_guard lk(mu_);
			if (!pend_.active || pend_.page != h.page)
				throw protocol("unsolicited REPLY for page " + std::to_string(h.page));
			// Install and change state in one step under the lock, then answer any
			// request of the peer's that had to wait for this one.
			install_locked(h.page, (h.flags & wire::kReplyHasData) ? m.payload.data() : nullptr);
			pend_.active = false;
			serve_deferred_locked();
		}
		cv_.notify_all();
		return;
	}
	case Type::Barrier: {
		{
			std::lock_guard lk(mu_);
			if (h.seq != barrier_recv_ + 1)
				throw protocol("BARRIER " + std::to_string(h.seq) + " out of sequence (expected " +
					       std::to_string(barrier_recv_ + 1) + ")");
			barrier_recv_ = h.seq;
		}
		cv_.notify_all();
		return;
	}
	case Type::Bye:
	case Type::Hello:
	case Type::Setup:
	case Type::SetupAck:
		break;
	}
	throw protocol("unexpected " + std::string(wire::type_name(h.type)) + " during the session");
}

void Dsm::message_loop()
{
	for (;;) {
		std::optional<Message> m;
		try {
			m = ch_.recv(static_cast<std::uint32_t>(psz_));
			if (m && m->h.type == wire::Type::Bye) {
				{
					std::lock_guard lk(mu_);
					peer_closed_ = true;
				}
				cv_.notify_all();
				if (!stopping_.load())
					fail(kExitOk, "peer " + ch_.peer() + " ended the session");
				return;
			}
			if (m)
				handle(*m);
		} catch (const Error &e) {
			if (!stopping_.load() && !ended_.load())
				fail(e.code(), e.what());
			break;
		} catch (const std::exception &e) {
			fail(kExitError, e.what());
			break;
		}
		if (!m) {
			if (!stopping_.load() && !ended_.load())
				fail(kExitPeerLost, "peer " + ch_.peer() +
							    " disconnected without saying goodbye (crashed or killed?)");
			break;
		}
	}
	{
		std::lock_guard lk(mu_);
		peer_closed_ = true;
	}
	cv_.notify_all();
}

void Dsm::barrier(double timeout_s)
{
	std::unique_lock lk(mu_);
	check();
	std::uint32_t k = ++barrier_sent_;
	ch_.send({wire::Type::Barrier, 0, k, 0, 0});
	bool ok = cv_.wait_for(lk, std::chrono::duration<double>(timeout_s),
			       [&] { return barrier_recv_ >= k || ended_.load(); });
	if (barrier_recv_ >= k)
		return; // reached, even if the peer said goodbye right after
	if (ended_.load())
		throw SessionEnded{};
	if (!ok) {
		lk.unlock();
		fail(kExitPeerLost, "peer " + ch_.peer() + " did not reach barrier " + std::to_string(k) +
					    " within " + std::to_string(static_cast<int>(timeout_s)) + " s");
		throw SessionEnded{};
	}
}

void Dsm::finish()
{
	if (finished_)
		return;
	finished_ = true;
	stopping_.store(true);
	if (!ended_.load()) {
		try {
			ch_.send({wire::Type::Bye, 0, 0, 0, 0});
			// Keep serving the peer until it has seen our goodbye and closed (bounded).
			std::unique_lock lk(mu_);
			cv_.wait_for(lk, std::chrono::seconds(2), [&] { return peer_closed_; });
		} catch (const Error &) {
			// The peer is already gone; nothing left to tell it.
		}
	}
	{
		std::lock_guard lk(mu_);
		if (!ended_.load()) {
			end_code_ = kExitOk;
			ended_.store(true);
		}
	}
	cv_.notify_all();
	std::uint64_t one = 1;
	[[maybe_unused]] ssize_t rc = ::write(ended_efd_.get(), &one, sizeof one);
	ch_.shutdown();
	if (fault_thread_.joinable())
		fault_thread_.join();
	if (message_thread_.joinable())
		message_thread_.join();
}

} // namespace s2dsm
