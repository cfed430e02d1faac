// SPDX-License-Identifier: GPL-2.0
// s2dsm uses the project's RAII owners for file descriptors and mappings.
#pragma once

#include "my_shmem/fd.hpp"

namespace s2dsm {

using UniqueFd = my_shmem::Fd;
using my_shmem::Mapping;

} // namespace s2dsm
