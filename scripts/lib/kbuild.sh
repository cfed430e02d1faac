# shellcheck shell=bash
# scripts/lib/kbuild.sh — building a small kernel from Debian's linux-source-<K>:
# shared by scripts/build-patched-kernel and scripts/build-debug-kernel.
#
# Source it after lib/common.sh (needs die/log) from a `set -euo pipefail` script.
#
#   kbuild_pkgver K               version of linux-source-K, path-safe (6.12.57-1~deb12u1
#                                 -> 6.12.57-1_deb12u1); dies if it is not installed
#   kbuild_extract K SRC [PATCH]  extract /usr/src/linux-source-K.tar.xz into SRC once
#                                 (atomically: SRC.tmp then mv), applying PATCH if given
#   kbuild_configure SRC O KARCH CROSS FRAG...
#                                 allnoconfig + the fragments (merge_config.sh -n) into
#                                 O/.config, then verify that every CONFIG_ line of every
#                                 fragment (later fragments win) is in .config; dies
#                                 naming the values that did not stick. Done once
#                                 (O/.config-done).
#   kbuild_build SRC O KARCH CROSS TARGET...
#                                 make TARGETs and modules_install into O/modroot, once
#                                 (O/.build-done), timing it into O/build-time; log in
#                                 O/build.log

kbuild_pkgver() {
	local pkg=linux-source-$1 v
	[ -f "/usr/src/$pkg.tar.xz" ] || die "/usr/src/$pkg.tar.xz missing: apt-get install $pkg (scripts/install-deps)"
	v=$(dpkg-query -W -f='${Version}' "$pkg") || die "dpkg-query $pkg failed"
	printf '%s\n' "${v//[^A-Za-z0-9.+-]/_}"
}

kbuild_extract() {
	local k=$1 src=$2 patch=${3:-} tarball=/usr/src/linux-source-$1.tar.xz
	[ -f "$src/.extracted" ] && return 0
	log "extracting $tarball into $src"
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	nice tar -C "$src.tmp" --strip-components=1 -xJf "$tarball" || die "extracting $tarball failed"
	if [ -n "$patch" ]; then
		log "applying $(basename "$patch")"
		(cd "$src.tmp" && patch -p1 --forward --no-backup-if-mismatch <"$patch") >&2 ||
			die "$(basename "$patch") does not apply to linux-source-$k"
	fi
	touch "$src.tmp/.extracted"
	mv "$src.tmp" "$src"
}

# The value each fragment line asks for, the last fragment winning: prints
# "CONFIG_X<TAB>line" for every CONFIG_ line.
kbuild_wanted() {
	grep -hE '^(CONFIG_[A-Za-z0-9_]+=.*|# CONFIG_[A-Za-z0-9_]+ is not set)$' "$@" |
		awk '{ s = $0; sub(/^# /, "", s); sub(/[= ].*/, "", s); want[s] = $0; if (!(s in seen)) { seen[s] = 1; order[++n] = s } }
		     END { for (i = 1; i <= n; i++) printf "%s\t%s\n", order[i], want[order[i]] }'
}

kbuild_configure() {
	local src=$1 o=$2 karch=$3 cross=$4 bad sym line
	shift 4
	[ -f "$o/.config-done" ] && return 0
	mkdir -p "$o"
	log "configuring: allnoconfig + $(for f in "$@"; do basename "$f"; done | tr '\n' ' ')"
	(cd "$src" && ARCH=$karch CROSS_COMPILE=$cross \
		scripts/kconfig/merge_config.sh -n -O "$o" "$@") >"$o/merge_config.log" 2>&1 ||
		{ cat "$o/merge_config.log" >&2; die "merge_config.sh failed"; }
	# merge_config.sh only warns; a fragment value that did not stick is an error.
	bad=$(kbuild_wanted "$@" | while IFS=$'\t' read -r sym line; do
		case $line in
		"# "*) ! grep -q "^$sym=" "$o/.config" || echo "$line" ;;
		*)     grep -qxF "$line" "$o/.config" || echo "$line" ;;
		esac
	done)
	[ -z "$bad" ] || die "not in the resulting $o/.config (see $o/merge_config.log): $(tr '\n' ' ' <<<"$bad")"
	touch "$o/.config-done"
}

kbuild_build() {
	local src=$1 o=$2 karch=$3 cross=$4 t0 t1 jobs
	shift 4
	[ -f "$o/.build-done" ] && return 0
	jobs=${KBUILD_JOBS:-$(nproc)}
	local args=(ARCH="$karch" CROSS_COMPILE="$cross" O="$o"
		KBUILD_BUILD_USER=my_shmem KBUILD_BUILD_HOST=localhost)
	log "building $(basename "$o") ($*) with -j$jobs (log: $o/build.log)"
	t0=$(date +%s)
	nice make -C "$src" "${args[@]}" -j"$jobs" "$@" modules >"$o/build.log" 2>&1 ||
		{ tail -30 "$o/build.log" >&2; die "kernel build failed (see $o/build.log)"; }
	rm -rf "$o/modroot"
	nice make -C "$src" "${args[@]}" INSTALL_MOD_PATH="$o/modroot" modules_install \
		>>"$o/build.log" 2>&1 ||
		{ tail -30 "$o/build.log" >&2; die "modules_install failed (see $o/build.log)"; }
	t1=$(date +%s)
	echo "$((t1 - t0)) s wall, -j$jobs, $(nproc) CPUs" >"$o/build-time"
	touch "$o/.build-done"
	log "built in $((t1 - t0)) s"
}
