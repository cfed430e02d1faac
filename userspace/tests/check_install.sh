#!/bin/sh
# make install into a staging directory, then build and run a program against
# the installed library through its pkg-config file: TAP on stdout.
#
# usage: tests/check_install.sh   (from userspace/, after make TARGET=host)
set -u
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
n=0 fail=0
t() {	# t NAME COMMAND...
	n=$((n + 1))
	name=$1
	shift
	if out=$("$@" 2>&1); then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		echo "$out" | sed 's/^/# /'
		fail=1
	fi
}
t "make install DESTDIR PREFIX=/usr" make -s install DESTDIR="$stage" PREFIX=/usr
for f in bin/shmemctl lib/libmy_shmem.a include/my_shmem/my_shmem.hpp include/linux/my_shmem.h \
	lib/pkgconfig/my_shmem.pc share/man/man1/shmemctl.1 share/bash-completion/completions/shmemctl; do
	t "installed: /usr/$f" test -s "$stage/usr/$f"
done
cat >"$stage/consumer.cpp" <<'CPP'
#include <my_shmem/my_shmem.hpp>
#include <linux/my_shmem.h>
#include <iostream>
int main()
{
	my_shmem::Paths p{ "/nonexistent" };
	my_shmem::Control c(p);
	std::cout << my_shmem::to_json(c.module_info()).dump() << "\n";
	return c.loaded() ? 1 : 0;
}
CPP
export PKG_CONFIG_SYSROOT_DIR="$stage" PKG_CONFIG_LIBDIR="$stage/usr/lib/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig"
t "a program builds with pkg-config --cflags --libs my_shmem" sh -c \
	"g++ -o '$stage/consumer' '$stage/consumer.cpp' \$(pkg-config --cflags --libs --static my_shmem)"
t "and runs: module_info of an empty root is {\"loaded\":false}" sh -c \
	"[ \"\$('$stage/consumer')\" = '{\"loaded\":false}' ]"
t "make uninstall removes it all" sh -c \
	"make -s uninstall DESTDIR='$stage' PREFIX=/usr && [ -z \"\$(find '$stage/usr' -type f)\" ]"
echo "1..$n"
exit $fail
