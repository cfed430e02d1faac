// SPDX-License-Identifier: GPL-2.0
// libnl-genl-3 client of the "my_shmem" family.  Requests ask for an ACK
// (do) or NLMSG_DONE (dump) and are received until it comes; errors come
// with the kernel's extended-ack message (NETLINK_EXT_ACK).  Events are
// read from a socket of their own with recv(2), so that an overrun
// (ENOBUFS) is told apart from anything else.
#include "my_shmem/netlink.hpp"

#include <cerrno>
#include <cstring>

#include <linux/my_shmem.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include "my_shmem/error.hpp"

namespace my_shmem {

namespace {

// libnl's error codes, back to the errno they came from where that is known.
int nl_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_NOMEM: return ENOMEM;
	case NLE_PERM: return EPERM;
	case NLE_NOACCESS: return EACCES;
	case NLE_OBJ_NOTFOUND: return ENOENT;
	case NLE_INVAL: return EINVAL;
	case NLE_RANGE: return ERANGE;
	case NLE_AGAIN: return EAGAIN;
	case NLE_INTR: return EINTR;
	case NLE_DUMP_INTR: return EINTR;
	case NLE_BUSY: return EBUSY;
	case NLE_OPNOTSUPP: return EOPNOTSUPP;
	case NLE_EXIST: return EEXIST;
	case NLE_MSGSIZE: return EMSGSIZE;
	case NLE_PROTO_MISMATCH: return EPROTONOSUPPORT;
	}
	return EIO;
}

// The NLMSGERR_ATTR_MSG of an error or ACK message, or "".
std::string extack_message(const nlmsgerr *e)
{
	const auto *nlh = reinterpret_cast<const nlmsghdr *>(
		reinterpret_cast<const char *>(e) - NLMSG_HDRLEN);
	std::size_t off = NLMSG_HDRLEN + sizeof(*e);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return {};
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	if (off >= nlh->nlmsg_len)
		return {};
	nlattr *a;
	int rem;
	auto *head = reinterpret_cast<nlattr *>(const_cast<char *>(
		reinterpret_cast<const char *>(nlh) + off));

	nla_for_each_attr(a, head, static_cast<int>(nlh->nlmsg_len - off), rem) {
		if (nla_type(a) == NLMSGERR_ATTR_MSG && nla_len(a) > 0)
			return std::string(static_cast<const char *>(nla_data(a)),
					   strnlen(static_cast<const char *>(nla_data(a)),
						   nla_len(a)));
	}
	return {};
}

std::uint64_t get_uint(const nlattr *a)
{
	switch (nla_len(a)) {
	case 8: return nla_get_u64(const_cast<nlattr *>(a));
	case 4: return nla_get_u32(const_cast<nlattr *>(a));
	case 2: return nla_get_u16(const_cast<nlattr *>(a));
	case 1: return nla_get_u8(const_cast<nlattr *>(a));
	}
	return 0;
}

std::int64_t get_sint(const nlattr *a)
{
	switch (nla_len(a)) {
	case 8: return static_cast<std::int64_t>(nla_get_u64(const_cast<nlattr *>(a)));
	case 4: return static_cast<std::int32_t>(nla_get_u32(const_cast<nlattr *>(a)));
	}
	return 0;
}

std::string get_string(const nlattr *a)
{
	const char *s = static_cast<const char *>(nla_data(a));

	return std::string(s, strnlen(s, nla_len(a)));
}

// Walk the attributes of a generic-netlink message.
template <typename F> void for_each_attr(const nlmsghdr *nlh, F &&f)
{
	auto *h = const_cast<nlmsghdr *>(nlh);
	nlattr *a;
	int rem;

	nla_for_each_attr(a, genlmsg_attrdata(static_cast<genlmsghdr *>(nlmsg_data(h)), 0),
			  genlmsg_attrlen(static_cast<genlmsghdr *>(nlmsg_data(h)), 0), rem)
		f(nla_type(a), a);
}

Stats parse_stats(const nlmsghdr *nlh)
{
	Stats s;

	for_each_attr(nlh, [&s](int type, const nlattr *a) {
		switch (type) {
		case MY_SHMEM_A_STATS_PAGES_IN_USE: s.pages_in_use = get_uint(a); break;
		case MY_SHMEM_A_STATS_MAX_PAGES: s.max_pages = get_uint(a); break;
		case MY_SHMEM_A_STATS_FAULTS: s.faults = get_uint(a); break;
		case MY_SHMEM_A_STATS_CLEANS: s.cleans = get_uint(a); break;
		case MY_SHMEM_A_STATS_INVALS: s.invals = get_uint(a); break;
		case MY_SHMEM_A_STATS_SIGBUS: s.sigbus = get_uint(a); break;
		case MY_SHMEM_A_STATS_ORDER_FALLBACKS: s.order_fallbacks = get_uint(a); break;
		case MY_SHMEM_A_STATS_VMAS: s.vmas = get_uint(a); break;
		case MY_SHMEM_A_STATS_FILES: s.files = get_uint(a); break;
		case MY_SHMEM_A_STATS_SEGMENTS: s.segments = get_uint(a); break;
		case MY_SHMEM_A_STATS_ALLOCS_BY_ORDER: s.allocs_by_order.push_back(get_uint(a)); break;
		}
	});
	s.source = Source::Netlink;
	return s;
}

SegInfo parse_seg(const nlmsghdr *nlh)
{
	SegInfo s;

	for_each_attr(nlh, [&s](int type, const nlattr *a) {
		switch (type) {
		case MY_SHMEM_A_SEG_ID: s.id = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_SEG_KEY: s.key = get_uint(a); break;
		case MY_SHMEM_A_SEG_BYTES: s.bytes = get_uint(a); break;
		case MY_SHMEM_A_SEG_MODE: s.mode = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_SEG_PERM: s.perm = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_SEG_FLAGS: s.flags = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_SEG_UID: s.uid = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_SEG_GID: s.gid = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_SEG_CUID: s.cuid = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_SEG_CGID: s.cgid = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_SEG_CPID: s.cpid = static_cast<std::int32_t>(get_sint(a)); break;
		case MY_SHMEM_A_SEG_LPID: s.lpid = static_cast<std::int32_t>(get_sint(a)); break;
		case MY_SHMEM_A_SEG_NATTCH: s.nattch = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_SEG_NODES: s.nodes = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_SEG_ATIME: s.atime = get_sint(a); break;
		case MY_SHMEM_A_SEG_DTIME: s.dtime = get_sint(a); break;
		case MY_SHMEM_A_SEG_CTIME: s.ctime = get_sint(a); break;
		case MY_SHMEM_A_SEG_PAGES: s.pages = get_uint(a); break;
		case MY_SHMEM_A_SEG_FAULTS: s.faults = get_uint(a); break;
		case MY_SHMEM_A_SEG_CLEANS: s.cleans = get_uint(a); break;
		case MY_SHMEM_A_SEG_INVALS: s.invals = get_uint(a); break;
		case MY_SHMEM_A_SEG_ALLOCS_BY_ORDER: s.allocs_by_order.push_back(get_uint(a)); break;
		}
	});
	return s;
}

Param parse_param(const nlmsghdr *nlh)
{
	Param p;

	for_each_attr(nlh, [&p](int type, const nlattr *a) {
		if (type == MY_SHMEM_A_PARAM_NAME)
			p.name = get_string(a);
		else if (type == MY_SHMEM_A_PARAM_VALUE)
			p.value = get_string(a);
	});
	p.source = Source::Netlink;
	return p;
}

Event parse_event(const nlmsghdr *nlh)
{
	Event e;

	for_each_attr(nlh, [&e](int type, const nlattr *a) {
		switch (type) {
		case MY_SHMEM_A_EVENT_TYPE: e.type = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_EVENT_SEG_ID: e.seg_id = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_EVENT_KEY: e.key = get_uint(a); break;
		case MY_SHMEM_A_EVENT_PGOFF: e.pgoff = get_uint(a); break;
		case MY_SHMEM_A_EVENT_ORDER: e.order = static_cast<std::uint32_t>(get_uint(a)); break;
		case MY_SHMEM_A_EVENT_DROPPED: e.dropped = get_uint(a); break;
		}
	});
	return e;
}

// State of one request while its answer is received.
struct Txn {
	const std::function<void(nl_msg *)> *on_reply = nullptr;
	bool done = false;
	bool interrupted = false;	// a dump part carried NLM_F_DUMP_INTR
	int err = 0;
	std::string ext;
};

int on_valid(nl_msg *m, void *arg)
{
	(*static_cast<Txn *>(arg)->on_reply)(m);
	return NL_OK;
}

int on_finish(nl_msg *, void *arg)
{
	static_cast<Txn *>(arg)->done = true;
	return NL_STOP;
}

int on_dump_intr(nl_msg *, void *arg)
{
	static_cast<Txn *>(arg)->interrupted = true;
	return NL_OK;
}

int on_error(sockaddr_nl *, nlmsgerr *e, void *arg)
{
	auto *t = static_cast<Txn *>(arg);

	t->err = -e->error;
	t->ext = extack_message(e);
	t->done = true;
	return NL_STOP;
}

nl_sock *new_socket(const char *doing)
{
	nl_sock *sk = nl_socket_alloc();
	int one = 1;
	int err;

	if (!sk)
		throw Error(doing, ENOMEM);
	err = genl_connect(sk);
	if (err < 0) {
		nl_socket_free(sk);
		throw Error(std::string(doing) + ": " + nl_geterror(err), nl_to_errno(err));
	}
	nl_socket_disable_auto_ack(sk);
	// Best effort: kernels without them just say less.
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return sk;
}

} // namespace

void Netlink::SockDel::operator()(nl_sock *s) const noexcept
{
	nl_socket_free(s);
}

Netlink::Netlink(Netlink &&) noexcept = default;
Netlink &Netlink::operator=(Netlink &&) noexcept = default;
Netlink::~Netlink() = default;

std::optional<Netlink> Netlink::open()
{
	Netlink n;
	nl_cache *cache = nullptr;
	int err;

	n.sk_.reset(new_socket("connect to generic netlink"));
	err = genl_ctrl_alloc_cache(n.sk_.get(), &cache);
	if (err < 0)
		throw Error(std::string("list generic netlink families: ") + nl_geterror(err),
			    nl_to_errno(err));
	genl_family *fam = genl_ctrl_search_by_name(cache, MY_SHMEM_FAMILY_NAME);

	if (!fam) {
		nl_cache_free(cache);
		return std::nullopt;
	}
	n.family_ = genl_family_get_id(fam);
	n.version_ = static_cast<std::uint32_t>(genl_family_get_version(fam));
	genl_family_put(fam);
	nl_cache_free(cache);
	return n;
}

void Netlink::transact(std::uint8_t cmd, bool dump, const std::function<void(nl_msg *)> &put,
		       const Parse &on_reply, const std::string &doing)
{
	for (int attempt = 0;; attempt++) {
		nl_msg *msg = nlmsg_alloc();
		Txn t;

		t.on_reply = &on_reply;
		int err;

		if (!msg)
			throw Error(doing, ENOMEM);
		if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family_, 0,
				 dump ? NLM_F_DUMP : NLM_F_ACK, cmd, MY_SHMEM_FAMILY_VERSION)) {
			nlmsg_free(msg);
			throw Error(doing, EMSGSIZE);
		}
		if (put)
			put(msg);
		err = nl_send_auto(sk_.get(), msg);
		nlmsg_free(msg);
		if (err < 0)
			throw Error(doing + ": " + nl_geterror(err), nl_to_errno(err));

		std::unique_ptr<nl_cb, void (*)(nl_cb *)> cb(nl_cb_alloc(NL_CB_CUSTOM), nl_cb_put);
		if (!cb)
			throw Error(doing, ENOMEM);
		nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &t);
		nl_cb_set(cb.get(), NL_CB_FINISH, NL_CB_CUSTOM, on_finish, &t);
		nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, on_finish, &t);
		nl_cb_set(cb.get(), NL_CB_DUMP_INTR, NL_CB_CUSTOM, on_dump_intr, &t);
		nl_cb_err(cb.get(), NL_CB_CUSTOM, on_error, &t);
		while (!t.done) {
			err = nl_recvmsgs(sk_.get(), cb.get());
			if (err < 0 && !t.done)
				throw Error(doing + ": " + nl_geterror(err), nl_to_errno(err));
		}
		if (t.err)
			throw Error(doing, t.err, t.ext);
		if (!t.interrupted)
			return;
		// The set changed while it was dumped: the parts may be inconsistent.
		if (attempt == 4)
			throw Error(doing + " (the set kept changing during the dump)", EINTR);
	}
}

Stats Netlink::stats()
{
	Stats s;

	transact(MY_SHMEM_CMD_STATS_GET, false, nullptr,
		 [&s](nl_msg *m) { s = parse_stats(nlmsg_hdr(m)); }, "netlink stats-get");
	return s;
}

std::optional<SegInfo> Netlink::seg_get(std::uint32_t id)
{
	std::optional<SegInfo> s;

	try {
		transact(MY_SHMEM_CMD_SEG_GET, false,
			 [id](nl_msg *m) { nla_put_u32(m, MY_SHMEM_A_SEG_ID, id); },
			 [&s](nl_msg *m) { s = parse_seg(nlmsg_hdr(m)); },
			 "netlink seg-get id " + std::to_string(id));
	} catch (const Error &e) {
		if (e.err() == ENOENT)
			return std::nullopt;
		throw;
	}
	return s;
}

std::vector<SegInfo> Netlink::seg_list()
{
	std::vector<SegInfo> v;

	transact(MY_SHMEM_CMD_SEG_GET, true, nullptr,
		 [&v](nl_msg *m) { v.push_back(parse_seg(nlmsg_hdr(m))); }, "netlink seg-get dump");
	return v;
}

void Netlink::seg_delete(std::uint32_t id)
{
	transact(MY_SHMEM_CMD_SEG_DEL, false,
		 [id](nl_msg *m) { nla_put_u32(m, MY_SHMEM_A_SEG_ID, id); }, [](nl_msg *) {},
		 "netlink seg-del id " + std::to_string(id));
}

Param Netlink::param_get(const std::string &name)
{
	Param p;

	transact(MY_SHMEM_CMD_PARAM_GET, false,
		 [&name](nl_msg *m) { nla_put_string(m, MY_SHMEM_A_PARAM_NAME, name.c_str()); },
		 [&p](nl_msg *m) { p = parse_param(nlmsg_hdr(m)); },
		 "netlink param-get " + name);
	return p;
}

std::vector<Param> Netlink::param_list()
{
	std::vector<Param> v;

	transact(MY_SHMEM_CMD_PARAM_GET, true, nullptr,
		 [&v](nl_msg *m) { v.push_back(parse_param(nlmsg_hdr(m))); },
		 "netlink param-get dump");
	return v;
}

void Netlink::param_set(const std::string &name, const std::string &value)
{
	transact(MY_SHMEM_CMD_PARAM_SET, false,
		 [&](nl_msg *m) {
			 nla_put_string(m, MY_SHMEM_A_PARAM_NAME, name.c_str());
			 nla_put_string(m, MY_SHMEM_A_PARAM_VALUE, value.c_str());
		 },
		 [](nl_msg *) {}, "netlink param-set " + name + "=" + value);
}

void Netlink::subscribe()
{
	int grp = genl_ctrl_resolve_grp(sk_.get(), MY_SHMEM_FAMILY_NAME, MY_SHMEM_MCGRP_EVENTS);

	if (grp < 0)
		throw Error(std::string("resolve multicast group " MY_SHMEM_MCGRP_EVENTS ": ") +
			    nl_geterror(grp), nl_to_errno(grp));
	ev_.reset(new_socket("connect the event socket"));
	nl_socket_disable_seq_check(ev_.get());
	int err = nl_socket_add_membership(ev_.get(), grp);

	if (err < 0)
		throw Error(std::string("join multicast group " MY_SHMEM_MCGRP_EVENTS ": ") +
			    nl_geterror(err), nl_to_errno(err));
}

int Netlink::event_fd() const
{
	return ev_ ? nl_socket_get_fd(ev_.get()) : -1;
}

bool Netlink::receive_events(const std::function<void(const Event &)> &on, bool block)
{
	alignas(nlmsghdr) char buf[16384];
	bool intact = true;
	int fd = event_fd();

	if (fd < 0)
		throw Error("receive events (not subscribed)", EBADF);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), block ? 0 : MSG_DONTWAIT);

		if (n < 0) {
			// EINTR: a signal; the caller decides whether to go on.
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				return intact;
			if (errno == ENOBUFS) {	// the socket overran: say so, go on
				intact = false;
				continue;
			}
			throw Error("receive events", errno);
		}
		int len = static_cast<int>(n);

		for (auto *nlh = reinterpret_cast<nlmsghdr *>(buf); NLMSG_OK(nlh, len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_type != family_ ||
			    nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
				continue;
			auto *g = static_cast<genlmsghdr *>(nlmsg_data(nlh));

			if (g->cmd == MY_SHMEM_CMD_EVENT)
				on(parse_event(nlh));
		}
		block = false;	// got something: drain what else is queued, then return
	}
}

} // namespace my_shmem
