# shellcheck shell=bash
# scripts/lib/suite.sh — scripts/check's suite runner (sourced; also by
# scripts/tests/test-tap-plan, which runs fake suites through it).
#
# suite NAME CMD...: run a command that prints TAP into $out/NAME.tap (its
# stderr into $out/NAME.stderr) and print a short report. Then:
#   - scripts/tap-plan checks the TAP plans of what it printed: a document
#     that ran fewer or more tests than its plan, a "TAP version" document
#     without a plan, or no plan and no tests at all, adds a "not ok" line
#     naming the suite and the counts;
#   - a non-zero exit with no "not ok" line in the output still counts as one
#     failure;
#   - after a failure, the report shows the stderr lines that name each failed
#     kselftest test ("# file.c:LINE:TEST:..." : its failed assertions and
#     TH_LOG lines, however early in a long log), then the stderr's tail.
#   - a suite that failed while a guest kernel died of QEMU's stale int3
#     (a console-*.log in $out written during the suite, for which
#     `scripts/scan-console --stale-int3` says the first problem is an int3
#     oops at an int3 no longer in memory: multi-threaded TCG ran code that
#     a finished text patch had removed) runs once more, and the report says
#     why; the first run's TAP, stderr and console log are kept as
#     *.stale-int3 and its results do not count. A second such death, or
#     any other problem, fails the suite as usual. stale_int3_reruns counts
#     the reruns.
# Needs $repo (the repository) and $out (the directory for the TAP files).
stale_int3_reruns=0
suite() {
	local name=$1; shift
	local t0=$SECONDS f
	echo "== $name: $*"
	: >"${out:?}/.suite-start"
	if ! suite_once "$name" "$@" && stale_int3_console; then
		stale_int3_reruns=$((stale_int3_reruns + 1))
		for f in "$out/$name.tap" "$out/$name.stderr" "${stale_logs[@]}"; do
			mv "$f" "$f.stale-int3"
		done
		echo "   $stale_msg"
		echo "   $name runs once more: its guest's kernel died of the emulator's race, not of a test (first run kept as *.stale-int3)"
		suite_once "$name" "$@" || true
	fi
	echo "   ($((SECONDS - t0)) s)"
}

# stale_int3_console: succeeds if a console log in $out written since the
# suite started died of QEMU's stale int3; sets stale_msg (scan-console's
# explanation) and stale_logs (every console log the suite wrote).
stale_logs=() stale_msg=''
stale_int3_console() {
	local log m
	stale_logs=() stale_msg=''
	for log in "$out"/console-*.log; do
		[[ -f $log && $log -nt $out/.suite-start ]] || continue
		stale_logs+=("$log")
		if [[ -z $stale_msg ]] && m=$("${repo:?}"/scripts/scan-console --stale-int3 "$log"); then
			stale_msg="${log##*/}: $m"
		fi
	done
	[[ -n $stale_msg ]]
}

# suite_once NAME CMD...: one run of the suite and its report; fails if the
# command failed.
suite_once() {
	local name=$1; shift
	local tap=$out/$name.tap rc plan
	"$@" >"$tap" 2>"$out/$name.stderr"
	rc=$?
	plan=$("${repo:?}"/scripts/tap-plan --name "$name" "$tap")
	if ((rc != 0)) && ! grep -q '^not ok' "$tap"; then
		echo "not ok - $name: '$*' exited with status $rc" >>"$tap"
	fi
	[[ -z $plan ]] || printf '%s\n' "$plan" >>"$tap"
	grep -E '^not ok' "$tap" | sed 's/^/   /'
	if ((rc != 0)); then
		failed_test_lines "$tap" "$out/$name.stderr" | sed 's/^/   stderr: /'
		tail -n 15 "$out/$name.stderr" | sed 's/^/   stderr: /'
	fi
	"$repo"/scripts/tap-summary "$tap" | sed "s/^/   $name: /"
	return "$rc"
}

# failed_test_lines TAP STDERR: for each "not ok N fixture.test" line of a
# kselftest binary in TAP (fixture.variant.test: the part after the last
# dot), the first 20 lines of STDERR that the harness wrote for that test
# (they carry ":test:" after the file and line).
failed_test_lines() {
	local t
	awk '/^not ok [0-9]+ [A-Za-z_]/ { n = split($4, p, "."); print p[n] }' "$1" |
		sort -u | while read -r t; do
			[[ -n $t ]] || continue
			grep -F -- ":$t:" "$2" | head -n 20
		done
}
