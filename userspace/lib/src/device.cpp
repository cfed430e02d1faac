// SPDX-License-Identifier: GPL-2.0
#include "my_shmem/device.hpp"

#include <cerrno>
#include <string>

#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/my_shmem.h>

namespace my_shmem {

namespace {

bool exists(const std::string &p)
{
	return ::access(p.c_str(), F_OK) == 0;
}

void copy_orders(std::vector<std::uint64_t> &out, const std::uint64_t *in, std::uint32_t n)
{
	out.assign(in, in + std::min<std::uint32_t>(n, MY_SHMEM_NR_ORDERS));
}

static_assert(Device::kBound == MY_SHMEM_SEG_INFO_BOUND);
static_assert(Device::kNodeSelf == MY_SHMEM_NODE_SELF);
static_assert(static_cast<int>(msi::State::Invalid) == MY_SHMEM_MSI_I &&
	      static_cast<int>(msi::State::Shared) == MY_SHMEM_MSI_S &&
	      static_cast<int>(msi::State::Modified) == MY_SHMEM_MSI_M);

std::string seg_text(std::uint32_t seg)
{
	return seg == Device::kBound ? std::string("(bound segment)") : "segment " + std::to_string(seg);
}

std::string node_text(std::uint32_t node)
{
	return node == Device::kNodeSelf ? std::string("this fd's node") : "node " + std::to_string(node);
}

// The hint of a failed MY_SHMEM_IOC_NODE_INFO / MY_SHMEM_IOC_MSI_VIEW.
Error coherent_error(const std::string &doing, int err, std::uint32_t seg,
		     std::optional<std::uint32_t> node, const std::string &path)
{
	Error e(doing, err);
	const std::string segment = seg == Device::kBound ? "the fd's segment" : seg_text(seg);

	switch (err) {
	case EOPNOTSUPP:
		e.with_hint(segment + " is not coherent (create it with --mode coherent)");
		break;
	case ENOENT:
		if (node && *node != Device::kNodeSelf)
			e.with_hint(segment + " has no node " + std::to_string(*node) +
				    ", or there is no such segment (shmemctl msi nodes lists the "
				    "nodes, shmemctl seg list the segments)");
		else
			e.with_hint("no such segment (shmemctl seg list shows them)");
		break;
	case EACCES:
		e.with_hint("reading " + segment + " needs read permission on it (shmemctl seg info "
			    "shows its perm)");
		break;
	case ENOTTY:
		e.with_hint(path + " is not the my_shmem device, or its module predates coherent "
			    "segments");
		break;
	case EINVAL:
		e.with_hint("the module refused the request: a module older than this tool?");
		break;
	}
	return e;
}

NodeInfo to_node_info(const struct my_shmem_node_info &ni)
{
	NodeInfo n;

	n.seg = ni.seg;
	n.node = ni.node;
	n.nr_nodes = ni.nr_nodes;
	n.read_faults = ni.read_faults;
	n.write_faults = ni.write_faults;
	n.fetches = ni.fetches;
	n.invals_received = ni.invals_received;
	n.writebacks = ni.writebacks;
	n.bytes_moved = ni.bytes_moved;
	n.cleans = ni.cleans;
	n.invals = ni.invals;
	n.pages_s = ni.pages_s;
	n.pages_m = ni.pages_m;
	return n;
}

} // namespace

std::string open_hint(const Paths &paths, int err)
{
	if (!exists(paths.module_dir()))
		return "the my_shmem module is not loaded: load it with 'modprobe my_shmem' "
		       "or 'insmod my_shmem.ko' (as root)";
	switch (err) {
	case ENOENT:
		return "the module is loaded but " + paths.device() +
		       " does not exist: is devtmpfs mounted on /dev, or udev running?";
	case EACCES:
	case EPERM:
		return "no permission on " + paths.device() +
		       ": run as root, or install the udev rule that gives the device to group "
		       "my_shmem (see README, 'Access for a group') and add yourself to that group";
	case ENXIO:
	case ENODEV:
		return paths.device() + " is not served by the module: reload it (rmmod my_shmem; "
		       "modprobe my_shmem)";
	}
	return {};
}

Device Device::open(const Paths &paths, bool write)
{
	const std::string path = paths.device();
	int fd = ::open(path.c_str(), (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		throw Error("open " + path, err).with_hint(open_hint(paths, err));
	}
	return Device(Fd(fd), path, write);
}

std::uint32_t Device::bind(const BindRequest &r)
{
	struct my_shmem_get g = {};

	g.size = sizeof(g);
	g.flags = (r.create ? MY_SHMEM_GET_CREATE : 0) | (r.exclusive ? MY_SHMEM_GET_EXCL : 0);
	g.key = r.key;
	g.bytes = r.bytes;
	g.mode = r.mode;
	g.perm = r.perm;
	if (ioctl(fd_.get(), MY_SHMEM_IOC_GET, &g) < 0) {
		int err = errno;
		Error e("MY_SHMEM_IOC_GET key " + std::to_string(r.key) + " on " + path_, err);

		switch (err) {
		case ENOENT:
			e.with_hint("no segment has key " + std::to_string(r.key) +
				    ": create it first (shmemctl seg create)");
			break;
		case EEXIST:
			e.with_hint("key " + std::to_string(r.key) +
				    " already has a segment (created without --excl it would be reused)");
			break;
		case EACCES:
			e.with_hint("the segment's permission bits do not allow this user (see "
				    "shmemctl seg info); its owner can create it with a wider --perm");
			break;
		case ENOSPC:
			e.with_hint("max_segments reached: delete segments or raise it "
				    "(shmemctl param set max_segments N)");
			break;
		case EFBIG:
			e.with_hint("larger than max_segment_pages (shmemctl param get "
				    "max_segment_pages)");
			break;
		case EINVAL:
			e.with_hint("an existing segment of this key is smaller than asked, or of "
				    "another mode");
			break;
		}
		throw e;
	}
	return g.id;
}

SegInfo Device::seg_info(std::uint32_t id) const
{
	struct my_shmem_seg_info si = {};
	std::uint64_t orders[MY_SHMEM_NR_ORDERS] = {};
	SegInfo s;

	si.size = sizeof(si);
	si.id = id;
	si.orders = reinterpret_cast<std::uintptr_t>(orders);
	si.nr_orders = MY_SHMEM_NR_ORDERS;
	if (ioctl(fd_.get(), MY_SHMEM_IOC_SEG_INFO, &si) < 0)
		throw Error("MY_SHMEM_IOC_SEG_INFO " +
			    (id == kBound ? std::string("(bound segment)") : "id " + std::to_string(id)) +
			    " on " + path_, errno);
	s.id = si.id;
	s.key = si.key;
	s.bytes = si.bytes;
	s.mode = si.mode;
	s.perm = si.perm;
	s.flags = si.flags;
	s.uid = si.uid;
	s.gid = si.gid;
	s.cuid = si.cuid;
	s.cgid = si.cgid;
	s.cpid = si.cpid;
	s.lpid = si.lpid;
	s.nattch = si.nattch;
	s.nodes = si.nodes;
	s.atime = si.atime;
	s.dtime = si.dtime;
	s.ctime = si.ctime;
	s.pages = si.pages;
	s.faults = si.faults;
	s.cleans = si.cleans;
	s.invals = si.invals;
	copy_orders(s.allocs_by_order, orders, si.nr_orders);
	return s;
}

void Device::remove(std::uint32_t id) const
{
	struct my_shmem_delete d = {};

	d.size = sizeof(d);
	d.id = id;
	if (ioctl(fd_.get(), MY_SHMEM_IOC_DELETE, &d) < 0) {
		int err = errno;
		Error e("MY_SHMEM_IOC_DELETE id " + std::to_string(id) + " on " + path_, err);

		if (err == EPERM)
			e.with_hint("only the segment's owner or creator (or CAP_IPC_OWNER) may "
				    "delete it");
		else if (err == EINVAL && id == 0)
			e.with_hint("segment 0 is the module's own and cannot be deleted");
		else if (err == ENOENT)
			e.with_hint("no segment has this id (shmemctl seg list shows them)");
		throw e;
	}
}

Stats Device::stats() const
{
	struct my_shmem_stats st = {};
	std::uint64_t orders[MY_SHMEM_NR_ORDERS] = {};
	Stats s;

	st.size = sizeof(st);
	st.orders = reinterpret_cast<std::uintptr_t>(orders);
	st.nr_orders = MY_SHMEM_NR_ORDERS;
	if (ioctl(fd_.get(), MY_SHMEM_IOC_GET_STATS, &st) < 0)
		throw Error("MY_SHMEM_IOC_GET_STATS on " + path_, errno);
	s.pages_in_use = st.pages_in_use;
	s.max_pages = st.max_pages;
	s.faults = st.faults;
	s.cleans = st.cleans;
	s.invals = st.invals;
	s.sigbus = st.sigbus;
	s.order_fallbacks = st.order_fallbacks;
	s.vmas = st.vmas;
	s.files = st.files;
	s.segments = st.segments;
	copy_orders(s.allocs_by_order, orders, st.nr_orders);
	s.source = Source::Ioctl;
	return s;
}

std::uint32_t Device::sync(const SyncRequest &r) const
{
	struct my_shmem_sync req = {};

	req.offset = r.offset;
	req.len = r.len;
	req.flags = (r.clean ? MY_SHMEM_SYNC_CLEAN : 0) | (r.inval ? MY_SHMEM_SYNC_INVAL : 0);
	if (ioctl(fd_.get(), MY_SHMEM_IOC_SYNC, &req) < 0) {
		int err = errno;
		Error e("MY_SHMEM_IOC_SYNC " + std::to_string(r.len) + " bytes at offset " +
			std::to_string(r.offset) + " on " + path_, err);

		if (err == EINVAL)
			e.with_hint("offset and length must be page aligned and the length "
				    "non-zero");
		else if (err == ENOTTY)
			e.with_hint(path_ + " is not the my_shmem device");
		throw e;
	}
	return req.allocs;
}

NodeInfo Device::node_info(std::uint32_t seg, std::uint32_t node, bool next) const
{
	struct my_shmem_node_info ni = {};

	ni.size = sizeof(ni);
	ni.seg = seg;
	ni.node = node;
	ni.flags = next ? MY_SHMEM_NODE_INFO_NEXT : 0;
	if (ioctl(fd_.get(), MY_SHMEM_IOC_NODE_INFO, &ni) < 0) {
		int err = errno;

		throw coherent_error("MY_SHMEM_IOC_NODE_INFO " + seg_text(seg) + ", " +
					     (next ? "first node from " + std::to_string(node) :
						     node_text(node)) +
					     " on " + path_,
				     err, seg, next ? std::nullopt : std::optional(node), path_);
	}
	return to_node_info(ni);
}

std::vector<NodeInfo> Device::nodes(std::uint32_t seg) const
{
	std::vector<NodeInfo> v;

	for (std::uint64_t from = 0; from < MY_SHMEM_MAX_NODES;) {
		try {
			v.push_back(node_info(seg, static_cast<std::uint32_t>(from), true));
		} catch (const Error &e) {
			if (e.err() == ENOENT && !v.empty())
				break;	// no node at or above @from
			if (e.err() == ENOENT) {
				// None at all, or no such segment: ask for the segment alone.
				try {
					seg_info(seg);
				} catch (Error &e2) {
					if (e2.err() == ENOENT)
						e2.with_hint("no segment has this id (shmemctl seg list "
							     "shows them)");
					throw;
				}
				break;
			}
			throw;
		}
		from = std::uint64_t{ v.back().node } + 1;
		if (seg == kBound)
			seg = v.back().seg;	// the same segment, also if rebound meanwhile
	}
	return v;
}

MsiView Device::msi_view(std::uint32_t seg, std::optional<std::uint32_t> node, std::uint64_t first,
			 std::uint64_t count) const
{
	const SegInfo si = seg_info(seg);
	const std::uint64_t psz = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
	const std::uint64_t pages = si.bytes / psz;
	const std::uint64_t n = first >= pages ? 0 : std::min(count, pages - first);
	std::vector<std::uint8_t> states(node ? n : 0);
	std::vector<std::uint32_t> owners(n), sharers(n);
	struct my_shmem_msi_view v = {};

	v.size = sizeof(v);
	v.seg = si.id;
	v.node = node ? *node : MY_SHMEM_NODE_SELF;
	v.first = first;
	v.count = n;
	v.states = node ? reinterpret_cast<std::uintptr_t>(states.data()) : 0;
	v.owners = reinterpret_cast<std::uintptr_t>(owners.data());
	v.sharers = reinterpret_cast<std::uintptr_t>(sharers.data());
	if (ioctl(fd_.get(), MY_SHMEM_IOC_MSI_VIEW, &v) < 0) {
		int err = errno;

		throw coherent_error("MY_SHMEM_IOC_MSI_VIEW segment " + std::to_string(si.id) +
					     (node ? ", " + node_text(*node) : std::string()) +
					     ", pages " + std::to_string(first) + "+" +
					     std::to_string(n) + " on " + path_,
				     err, si.id, node, path_);
	}
	MsiView out;
	const std::uint64_t got = std::min<std::uint64_t>(v.count, n);

	out.seg = v.seg;
	out.first = first;
	if (node)
		out.node = v.node;
	for (std::uint64_t i = 0; i < got; i++) {
		if (node) {
			if (states[i] > MY_SHMEM_MSI_M)
				throw Error("MY_SHMEM_IOC_MSI_VIEW segment " + std::to_string(si.id) +
						    ": page " + std::to_string(first + i) +
						    " has state " + std::to_string(states[i]) +
						    ", which this tool does not know",
					    EPROTO)
					.with_hint("the module is newer than this tool: update shmemctl");
			out.states.push_back(static_cast<msi::State>(states[i]));
		}
		out.directory.push_back({ owners[i] == MY_SHMEM_NODE_NONE ? std::nullopt :
									    std::optional(owners[i]),
					  sharers[i] });
	}
	return out;
}

Mapping Device::map(std::size_t len, std::uint64_t offset, bool write, void *at) const
{
	int prot = PROT_READ | (write ? PROT_WRITE : 0);
	int flags = MAP_SHARED | (at ? MAP_FIXED_NOREPLACE : 0);
	void *p = ::mmap(at, len, prot, flags, fd_.get(), static_cast<off_t>(offset));

	if (p == MAP_FAILED) {
		int err = errno;
		Error e("mmap " + path_ + " (" + std::to_string(len) + " bytes at offset " +
			std::to_string(offset) + ")", err);

		if (err == EINVAL)
			e.with_hint("the range must lie inside the segment (seg0_pages for segment "
				    "0) and the offset be page aligned");
		else if (err == EEXIST)
			e.with_hint("something is already mapped at the requested address");
		else if (err == EACCES)
			e.with_hint("a writable mapping needs the segment's write permission "
				    "(try --read-only)");
		throw e;
	}
	if (at && p != at) {
		::munmap(p, len);	// kernels before 4.17 ignore MAP_FIXED_NOREPLACE
		throw Error("mmap " + path_ + " at " + std::to_string(reinterpret_cast<std::uintptr_t>(at)),
			    EEXIST);
	}
	return Mapping(p, len);
}

} // namespace my_shmem
