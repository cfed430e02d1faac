// SPDX-License-Identifier: GPL-2.0
// shmemctl: the control tool of the my_shmem kernel module (see --help).
#include <iostream>

#include "commands.hpp"

int main(int argc, char **argv)
{
	return shmemctl::main_with(argc, argv, std::cout, std::cerr);
}
