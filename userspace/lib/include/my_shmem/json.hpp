// SPDX-License-Identifier: GPL-2.0
// JSON (nlohmann-json) for the library's values; the field names are the
// ones docs/shmemctl.md and docs/shmemctl.schema.json document.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "control.hpp"
#include "types.hpp"
#include "workload.hpp"

namespace my_shmem {

using json = nlohmann::ordered_json;

json to_json(const Stats &s);
json to_json(const SegInfo &s);
json to_json(const Param &p);
json to_json(const Event &e);
json to_json(const ModuleInfo &m);
// {"segment","node","nr_nodes","counters":{...}}; the counters alone below.
json to_json(const NodeInfo &n);
// {"read_faults","write_faults","fetches","invals_received","writebacks",
//  "bytes_moved","cleans","invals","pages_s","pages_m"}
json node_counters(const NodeInfo &n);
// {"owner": id or null, "sharers": n}
json to_json(const DirEntry &d);
// {"segment","node": id or null,"first","pages","states": "SSIM" or null,
//  "directory":[{"page","owner","sharers"},...]}
json to_json(const MsiView &v);

// A list of any of the above, as a JSON array.
template <typename T> json to_json(const std::vector<T> &v)
{
	json a = json::array();

	for (const T &e : v)
		a.push_back(to_json(e));
	return a;
}

} // namespace my_shmem
