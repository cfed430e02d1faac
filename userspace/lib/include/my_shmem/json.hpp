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

// A list of any of the above, as a JSON array.
template <typename T> json to_json(const std::vector<T> &v)
{
	json a = json::array();

	for (const T &e : v)
		a.push_back(to_json(e));
	return a;
}

} // namespace my_shmem
