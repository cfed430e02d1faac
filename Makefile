# my_shmem — top-level build.
#
#   make run      the latency experiment: boot a QEMU guest (aarch64, Debian 6.1), record
#                 cache-maintenance latencies with ftrace, bcc and tracepoints, print the
#                 table, write results/<time>-<arch>-<kernel>/ (GUEST_ARCH, GUEST_KERNEL=6.12|rt,
#                 N, EXPERIMENTS choose; see scripts/latency --help)
#   make check    host checks, the selftests in QEMU on {x86_64,aarch64} x {6.1,6.12} and
#                 under debug kernels (lockdep, KASAN, kmemleak, fault injection), then a
#                 smoke run of the latency pipeline on both arches (scripts/check --help)
#   make demo     the thesis' writer and reader over 64 pages, and the module's counters
#   make bench    first-touch and MSI benchmarks in the guest (JSON under build/bench/)
#   make lint     checkpatch --strict and sparse over kmod/, the in-tree build in Debian's
#                 6.1 and 6.12 sources, shellcheck and pyflakes over every script, ASan+UBSan
#                 and TSan host builds running their tests (scripts/lint --help)
#   make module   build kmod/ against the running kernel (or KDIR=...) — for a real board
#   make tools    shmemctl, libmy_shmem and the man page for this machine (build/host/)
#   make install  shmemctl, libmy_shmem.a, its headers and pkg-config file, the man page,
#                 bash completion, the udev rule (group my_shmem, 0660) and, when the
#                 kernel's headers are there (or KDIR=...), the module through
#                 modules_install (PREFIX=/usr/local, DESTDIR=, UDEVRULESDIR=); make uninstall
#   make dkms-install  the module's source to /usr/src/my_shmem-<version> and dkms install
#                 (rebuilt on kernel upgrades); make dkms-uninstall
#   make deb      Debian packages my-shmem-dkms, shmemctl, libmy-shmem-dev (build/deb/);
#                 make check-packages installs them in a guest and tests them (about 10
#                 min; make check runs that too)
#
# Everything fetched or built from outside the repo is cached in
# MY_SHMEM_CACHE (default ~/.cache/my_shmem); build output goes to build/.

REPO := $(CURDIR)
BUILD := $(REPO)/build
SHELL := /bin/bash

GUEST_ARCH ?= aarch64
GUEST_KERNEL ?= 6.1

KARCH_x86_64 := x86_64
KARCH_aarch64 := arm64
CROSS_x86_64 := $(if $(filter x86_64,$(shell uname -m)),,x86_64-linux-gnu-)
CROSS_aarch64 := $(if $(filter aarch64,$(shell uname -m)),,aarch64-linux-gnu-)

KMOD_SRC := $(wildcard kmod/*.c kmod/*.h kmod/Kbuild) uapi/linux/my_shmem.h
KMOD_OUT := $(BUILD)/$(GUEST_ARCH)-$(GUEST_KERNEL)
GUEST_BIN := $(BUILD)/$(GUEST_ARCH)/bin

CXXFLAGS_USER := -std=c++20 -O2 -g -Wall -Wextra -Werror

.PHONY: FORCE anchor all demo run check bench lint module tools install uninstall guest-prep guest-module guest-bins deps clean help
.PHONY: install-tools install-udev install-module uninstall-tools uninstall-udev uninstall-module
.PHONY: dkms-install dkms-uninstall deb check-packages

all: module

# The comment block at the top of this file, up to its first line that is not
# a comment.
help:
	@sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//;p}' $(firstword $(MAKEFILE_LIST))

deps:
	scripts/install-deps

# --- on a real machine: the module against the running kernel ------------------
module:
	$(MAKE) -C kmod $(if $(KDIR),KDIR=$(KDIR))

# --- the control tool and its library, for this machine ---------------------------
tools:
	$(MAKE) -C userspace TARGET=host

# --- make install / uninstall (PREFIX, DESTDIR honoured) ---------------------------
# udev reads rules from /etc/udev/rules.d (the administrator's) and
# /usr/lib/udev/rules.d (packages'), never from under /usr/local.
UDEVRULESDIR ?= /etc/udev/rules.d
# The module goes to the kernel whose build tree is KDIR (default: the running
# kernel's headers), under /lib/modules/<release>/updates/ ($(DESTDIR) first).
INSTALL_KDIR = $(or $(KDIR),/lib/modules/$(shell uname -r)/build)
INSTALL_KREL = $(or $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"$$/\1/p' $(INSTALL_KDIR)/include/generated/utsrelease.h 2>/dev/null),$(shell uname -r))
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' dkms.conf)
DKMS_SRC = $(DESTDIR)/usr/src/my_shmem-$(DKMS_VERSION)

install: install-tools install-udev install-module
uninstall: uninstall-tools uninstall-udev uninstall-module

install-tools uninstall-tools:
	$(MAKE) -C userspace TARGET=host $(@:-tools=) $(if $(PREFIX),PREFIX=$(PREFIX)) $(if $(DESTDIR),DESTDIR=$(DESTDIR))

# On the live system (no DESTDIR) also the group the rule names, and udev told.
install-udev:
	install -D -m 0644 udev/60-my_shmem.rules $(DESTDIR)$(UDEVRULESDIR)/60-my_shmem.rules
ifeq ($(DESTDIR),)
	getent group my_shmem >/dev/null || groupadd --system my_shmem
	-udevadm control --reload 2>/dev/null && udevadm trigger --name-match=my_shmem 2>/dev/null
endif

uninstall-udev:
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-my_shmem.rules
ifeq ($(DESTDIR),)
	-udevadm control --reload 2>/dev/null
	@echo "make uninstall: the group my_shmem stays (groupdel my_shmem removes it)"
endif

# Without the kernel's build tree the module is left out, with a note (make
# dkms-install, the my-shmem-dkms package or KDIR=... install it). Built in
# build/install/ (a copy, as guest-prep does: kmod/ stays clean). Staged
# installs (DESTDIR) run no depmod; the live one does.
install-module:
	@if [ ! -f "$(INSTALL_KDIR)/Makefile" ]; then \
	  echo "make install: module left out: no kernel build tree at $(INSTALL_KDIR)" >&2; \
	  echo "  (install the headers of kernel $(INSTALL_KREL), give KDIR=..., or use make dkms-install)" >&2; \
	else \
	  rm -rf $(BUILD)/install/kmod && mkdir -p $(BUILD)/install/kmod $(BUILD)/install/uapi/linux && \
	  cp kmod/*.c kmod/*.h kmod/Kbuild $(BUILD)/install/kmod/ && \
	  cp uapi/linux/my_shmem.h $(BUILD)/install/uapi/linux/ && \
	  $(MAKE) -C $(INSTALL_KDIR) M=$(BUILD)/install/kmod modules && \
	  $(MAKE) -C $(INSTALL_KDIR) M=$(BUILD)/install/kmod INSTALL_MOD_DIR=updates \
	    $(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR) DEPMOD=true) modules_install; \
	fi

uninstall-module:
	rm -f $(DESTDIR)/lib/modules/$(INSTALL_KREL)/updates/my_shmem.ko*
	-rmdir $(DESTDIR)/lib/modules/$(INSTALL_KREL)/updates 2>/dev/null
ifeq ($(DESTDIR),)
	-depmod -a $(INSTALL_KREL)
endif

# --- DKMS: the module's source under /usr/src, built for each kernel by dkms ----
dkms-install:
	install -d $(DKMS_SRC)/kmod $(DKMS_SRC)/uapi/linux
	install -m 0644 dkms.conf $(DKMS_SRC)/dkms.conf
	install -m 0644 kmod/*.c kmod/*.h kmod/Kbuild $(DKMS_SRC)/kmod/
	install -m 0644 uapi/linux/my_shmem.h $(DKMS_SRC)/uapi/linux/
ifeq ($(DESTDIR),)
	dkms status -m my_shmem -v $(DKMS_VERSION) | grep . >/dev/null || dkms add -m my_shmem -v $(DKMS_VERSION)
	dkms install -m my_shmem -v $(DKMS_VERSION)
endif

dkms-uninstall:
ifeq ($(DESTDIR),)
	-dkms remove -m my_shmem -v $(DKMS_VERSION) --all
endif
	rm -rf $(DKMS_SRC)

# --- Debian packages (dpkg-buildpackage from a copy of the tree, build/deb/) -----
deb:
	scripts/deb-build

# The packages end to end in an x86_64 rootfs guest (scripts/tests/test-packages;
# about 10 minutes with the package build; make check runs it as the suite
# guest-x86_64-packages, scripts/check --no-packages leaves it out).
check-packages:
	scripts/deb-build
	scripts/vm-run --rootfs --arch x86_64 --kernel 6.12 --timeout 3000 -- \
		scripts/tests/test-packages --deps "$$(scripts/deb-guest-deps --arch x86_64 udev xz-utils pahole)"

# --- for a guest: called by scripts/vm-run with KDIR/KREL of the guest kernel ---
guest-prep: guest-module guest-bins

guest-module: $(KMOD_OUT)/kmod/my_shmem.ko

# Rebuild when the guest kernel release changes (the archive moved on).
$(KMOD_OUT)/krel: FORCE
	@mkdir -p $(@D)
	@[ "$$(cat $@ 2>/dev/null)" = "$(KREL)" ] || echo "$(KREL)" > $@

$(KMOD_OUT)/kmod/my_shmem.ko: $(KMOD_SRC) $(KMOD_OUT)/krel
	@test -n "$(KDIR)" || { echo "guest-prep: KDIR is not set (scripts/vm-run sets it from scripts/kernel-fetch)" >&2; exit 2; }
	@mkdir -p $(KMOD_OUT)/kmod $(KMOD_OUT)/uapi/linux
	@cp kmod/*.c kmod/*.h kmod/Kbuild $(KMOD_OUT)/kmod/
	@cp uapi/linux/my_shmem.h $(KMOD_OUT)/uapi/linux/
	$(MAKE) -s -C $(KDIR) M=$(KMOD_OUT)/kmod ARCH=$(KARCH_$(GUEST_ARCH)) \
		CROSS_COMPILE=$(CROSS_$(GUEST_ARCH)) W=1 KCFLAGS=-Werror modules

# shmemctl, its end-to-end test and the benchmarks (userspace/Makefile), the
# CPU anchor and the selftests; static, so that they run in the busybox guest
# and on any board.
guest-bins: $(GUEST_BIN)/my_shmem-cmo-anchor
	$(MAKE) -s -C userspace TARGET=$(GUEST_ARCH)
	$(MAKE) -s -C selftests GUEST_ARCH=$(GUEST_ARCH)

$(GUEST_BIN)/my_shmem-cmo-anchor: userspace/anchor/cmo_bench.cpp
	@mkdir -p $(@D)
	$(CROSS_$(GUEST_ARCH))g++ $(CXXFLAGS_USER) -static -o $@ $<

# The physical anchor, for the machine make runs on.
anchor: $(BUILD)/host/bin/my_shmem-cmo-anchor

$(BUILD)/host/bin/my_shmem-cmo-anchor: userspace/anchor/cmo_bench.cpp
	@mkdir -p $(@D)
	g++ $(CXXFLAGS_USER) -o $@ $<

# --- the two commands -------------------------------------------------------------
run:
	scripts/install-deps
	$(MAKE) -s anchor
	GUEST_ARCH=$(GUEST_ARCH) GUEST_KERNEL=$(GUEST_KERNEL) $(if $(N),N=$(N)) \
		$(if $(EXPERIMENTS),EXPERIMENTS=$(EXPERIMENTS)) scripts/latency --no-deps

demo:
	scripts/install-deps
	scripts/demo --arch $(GUEST_ARCH) --kernel $(GUEST_KERNEL)

check:
	scripts/install-deps
	scripts/check

bench:
	scripts/install-deps
	scripts/bench --arch $(GUEST_ARCH) --kernel $(GUEST_KERNEL)

lint:
	scripts/lint

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C kmod clean 2>/dev/null
