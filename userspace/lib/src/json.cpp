// SPDX-License-Identifier: GPL-2.0
#include "my_shmem/json.hpp"

namespace my_shmem {

json to_json(const Stats &s)
{
	return json{
		{ "pages_in_use", s.pages_in_use },
		{ "max_pages", s.max_pages },
		{ "faults", s.faults },
		{ "cleans", s.cleans },
		{ "invals", s.invals },
		{ "sigbus", s.sigbus },
		{ "order_fallbacks", s.order_fallbacks },
		{ "vmas", s.vmas },
		{ "files", s.files },
		{ "segments", s.segments },
		{ "allocs_by_order", s.allocs_by_order },
		{ "source", source_name(s.source) },
	};
}

json to_json(const SegInfo &s)
{
	return json{
		{ "id", s.id },
		{ "key", s.key },
		{ "bytes", s.bytes },
		{ "mode", mode_name(s.mode) },
		{ "perm", s.perm },
		{ "deleted", s.deleted() },
		{ "uid", s.uid },
		{ "gid", s.gid },
		{ "cuid", s.cuid },
		{ "cgid", s.cgid },
		{ "cpid", s.cpid },
		{ "lpid", s.lpid },
		{ "nattch", s.nattch },
		{ "nodes", s.nodes },
		{ "atime", s.atime },
		{ "dtime", s.dtime },
		{ "ctime", s.ctime },
		{ "pages", s.pages },
		{ "faults", s.faults },
		{ "cleans", s.cleans },
		{ "invals", s.invals },
		{ "allocs_by_order", s.allocs_by_order },
	};
}

json to_json(const Param &p)
{
	return json{ { "name", p.name }, { "value", p.value }, { "writable", p.writable } };
}

json to_json(const Event &e)
{
	json j{ { "type", event_type_name(e.type) }, { "seg_id", e.seg_id }, { "key", e.key } };

	if (e.pgoff)
		j["pgoff"] = *e.pgoff;
	if (e.order)
		j["order"] = *e.order;
	j["dropped"] = e.dropped;
	return j;
}

json to_json(const ModuleInfo &m)
{
	json j{ { "loaded", m.loaded } };

	if (!m.loaded)
		return j;
	j["version"] = m.version;
	j["srcversion"] = m.srcversion;
	j["netlink_version"] = m.netlink_version ? json(*m.netlink_version) : json(nullptr);
	j["device_present"] = m.device_present;
	j["device_access"] = m.device_access;
	j["tracepoints"] = m.tracepoints;
	return j;
}

json node_counters(const NodeInfo &n)
{
	return json{
		{ "read_faults", n.read_faults },
		{ "write_faults", n.write_faults },
		{ "fetches", n.fetches },
		{ "invals_received", n.invals_received },
		{ "writebacks", n.writebacks },
		{ "bytes_moved", n.bytes_moved },
		{ "cleans", n.cleans },
		{ "invals", n.invals },
		{ "pages_s", n.pages_s },
		{ "pages_m", n.pages_m },
	};
}

json to_json(const NodeInfo &n)
{
	return json{ { "segment", n.seg },
		     { "node", n.node },
		     { "nr_nodes", n.nr_nodes },
		     { "counters", node_counters(n) } };
}

json to_json(const DirEntry &d)
{
	return json{ { "owner", d.owner ? json(*d.owner) : json(nullptr) }, { "sharers", d.sharers } };
}

json to_json(const MsiView &v)
{
	json dir = json::array();

	for (std::size_t i = 0; i < v.directory.size(); i++) {
		json e{ { "page", v.first + i } };

		e.update(to_json(v.directory[i]));
		dir.push_back(std::move(e));
	}
	return json{ { "segment", v.seg },
		     { "node", v.node ? json(*v.node) : json(nullptr) },
		     { "first", v.first },
		     { "pages", v.pages() },
		     { "states", v.node ? json(msi::letters(v.states)) : json(nullptr) },
		     { "directory", std::move(dir) } };
}

} // namespace my_shmem
