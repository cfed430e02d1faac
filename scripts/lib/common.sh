# shellcheck shell=bash
# scripts/lib/common.sh — helpers shared by the my_shmem host scripts.
#
# Source it from a bash script that runs with `set -euo pipefail`:
#   . "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"
#
# Provides:
#   REPO               absolute path of the repository root
#   CACHE              download/extract cache (${MY_SHMEM_CACHE:-$HOME/.cache/my_shmem})
#   PROG               basename of the running script (used in messages)
#   log/warn/die       messages on stderr, prefixed with PROG
#   arch_norm A        x86_64|amd64 -> x86_64, aarch64|arm64 -> aarch64 (dies otherwise)
#   deb_arch A         x86_64 -> amd64, aarch64 -> arm64
#   kernel_norm K      6.1|6.12|rt (dies otherwise)
#   apt_candidate P    candidate version of package P (P may be name:arch), "" if none
#   apt_field P V F    field F of package P at version V (from the local apt lists)
#   apt_fetch DIR P=V… apt-get download into DIR (no root sandbox warning)
#   need_cmd C…        die unless every command C exists
#   with_lock FILE CMD… run CMD while holding an exclusive flock on FILE

# The caller sets `set -euo pipefail`; make command substitutions honour it too.
shopt -s inherit_errexit

PROG=${PROG:-$(basename "$0")}
REPO=${REPO:-$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd -P)}
# shellcheck disable=SC2034  # used by the scripts that source this file
CACHE=${MY_SHMEM_CACHE:-$HOME/.cache/my_shmem}

# Debian's docker images disable apt's binary package cache (every apt-cache
# call then re-parses all lists: ~1.5 s). Keep a private one in the cache dir;
# apt rebuilds it by itself whenever the lists change.
APT_OPTS=(-o "Dir::Cache::pkgcache=$CACHE/apt/pkgcache.bin"
	-o "Dir::Cache::srcpkgcache=$CACHE/apt/srcpkgcache.bin")
mkdir -p "$CACHE/apt" 2>/dev/null || true

log()  { printf '%s: %s\n' "$PROG" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die()  { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

arch_norm() {
	case "${1:-}" in
	x86_64|amd64)  echo x86_64 ;;
	aarch64|arm64) echo aarch64 ;;
	*) die "unknown architecture '${1:-}' (expected x86_64 or aarch64)" ;;
	esac
}

deb_arch() {
	case "$(arch_norm "$1")" in
	x86_64)  echo amd64 ;;
	aarch64) echo arm64 ;;
	esac
}

kernel_norm() {
	case "${1:-}" in
	6.1|6.12|rt) echo "$1" ;;
	*) die "unknown kernel '${1:-}' (expected 6.1, 6.12 or rt)" ;;
	esac
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			die "required command '$c' not found (run scripts/install-deps)"
	done
}

# Candidate version of a package according to the local apt lists (no network).
apt_candidate() {
	LC_ALL=C apt-cache "${APT_OPTS[@]}" policy -- "$1" 2>/dev/null |
		awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }'
}

# One field of one exact package version, e.g. apt_field linux-image-amd64 6.1.192-2 Depends
apt_field() {
	LC_ALL=C apt-cache "${APT_OPTS[@]}" show -- "$1=$2" 2>/dev/null |
		awk -v f="$3" '
			$0 == "" { exit }
			index($0, f ":") == 1 { sub("^[^:]*: *", ""); print; exit }'
}

apt_fetch() {
	local dir=$1; shift
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then die "apt_fetch: no download directory '$dir'"; fi
	(cd "$dir" && apt-get "${APT_OPTS[@]}" download -q -o APT::Sandbox::User=root -- "$@") >&2 ||
		die "apt-get download failed for: $* (is the apt mirror reachable? try 'apt-get update')"
}

with_lock() {
	local lockfile=$1; shift
	mkdir -p "$(dirname "$lockfile")"
	(
		flock -x 9 || die "cannot lock $lockfile"
		"$@"
	) 9>"$lockfile"
}
