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
#     failure.
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
		tail -n 15 "$out/$name.stderr" | sed 's/^/   stderr: /'
	fi
	"$repo"/scripts/tap-summary "$tap" | sed "s/^/   $name: /"
	echo "   ($((SECONDS - t0)) s)"
}
