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
# Needs $repo (the repository) and $out (the directory for the TAP files).
suite() {
	local name=$1; shift
	local tap=${out:?}/$name.tap t0=$SECONDS rc plan
	echo "== $name: $*"
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
	echo "   ($((SECONDS - t0)) s)"
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
