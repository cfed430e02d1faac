// SPDX-License-Identifier: GPL-2.0
// libmy_shmem: the C++ library under shmemctl, the tests and the benchmarks.
//   pkg-config --cflags --libs my_shmem
#pragma once

#include "control.hpp"
#include "device.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "json.hpp"
#include "msi.hpp"
#include "netlink.hpp"
#include "params.hpp"
#include "paths.hpp"
#include "types.hpp"
#include "workload.hpp"
