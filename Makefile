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
#   make lint     checkpatch --strict and sparse over kmod/, shellcheck and pyflakes over every
#                 script, ASan+UBSan and TSan host builds running their tests (scripts/lint --help)
#   make module   build kmod/ against the running kernel (or KDIR=...) — for a real board
#   make tools    shmemctl, libmy_shmem and the man page for this machine (build/host/)
#   make install  shmemctl, libmy_shmem.a, its headers and pkg-config file, the man page
#                 and bash completion (PREFIX=/usr/local, DESTDIR=); make uninstall
#
# Everything fetched or built from outside the repo is cached in
# $(MY_SHMEM_CACHE) (default ~/.cache/my_shmem); build output goes to build/.

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

all: module

help:
	@sed -n '2,/^$$/{/^#/{s/^# \{0,1\}//;p}}' Makefile

deps:
	scripts/install-deps

# --- on a real machine: the module against the running kernel ------------------
module:
	$(MAKE) -C kmod $(if $(KDIR),KDIR=$(KDIR))

# --- the control tool and its library, for this machine ---------------------------
tools:
	$(MAKE) -C userspace TARGET=host

install uninstall:
	$(MAKE) -C userspace TARGET=host $@ $(if $(PREFIX),PREFIX=$(PREFIX)) $(if $(DESTDIR),DESTDIR=$(DESTDIR))

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
