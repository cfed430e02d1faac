# shellcheck shell=bash
# scripts/lib/stop.sh — stop a background recorder without ever waiting forever.
#
# Sourced by scripts/diag/ftrace-session-loop and by its host unit test
# scripts/tests/test-stop. Needs only bash, kill, sleep, pgrep and ps. The
# latency runner (scripts/experiment, Python) does the same in stop_bg()
# and ftrace_reset() of its own, tested by scripts/tests/test_experiment.py;
# a change to the behaviour belongs in both.
#
#   descendants PID      every descendant pid of PID, deepest first
#   stop_bg PID WHAT LOG TIMEOUT [DIAG]
#                        SIGINT to PID (a child of this shell), then wait at
#                        most TIMEOUT s for it to exit. If it is still there:
#                        append to LOG what it and its descendants are doing
#                        (ps with wchan, /proc/PID/stack, thread states, then
#                        the output of the function DIAG if given), send them
#                        SIGTERM and, 10 s later, SIGKILL, and reap PID.
#                        Status 0 if PID exited on SIGINT, 1 if it was killed.
#   ftrace_reset T       after `trace-cmd record -k` (which leaves ftrace as
#                        it was): tracing off, tracer nop, THEN the filters,
#                        depth 0, tracing on, in tracefs T. This order patches
#                        no more than the filtered call sites; trace-cmd's own
#                        reset clears set_ftrace_filter while function_graph is
#                        still the tracer, which patches every traceable
#                        function of the kernel, and under QEMU MTTCG (x86_64)
#                        that mass cross-modification of running code
#                        livelocked the guest (both vCPUs looping through an
#                        int3 in __rcu_read_unlock) once every few sessions
#                        (scripts/diag/ftrace-session-loop reproduces it).

descendants() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		descendants "$c"
		echo "$c"
	done
}

stop_bg() {
	local pid=$1 what=$2 logf=$3 timeout=$4 diag=${5:-} t=0 p kids
	kill -INT "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && [ "$t" -lt $((timeout * 5)) ]; do
		sleep 0.2
		t=$((t + 1))
	done
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null || true
		return 0
	fi
	kids=$(descendants "$pid")
	{
		echo "=== $what (pid $pid) still running $timeout s after SIGINT, $(date -u +%FT%TZ)"
		# shellcheck disable=SC2086  # $kids: a list of pids
		ps -o pid,ppid,stat,pcpu,etime,wchan:32,args -p "$(echo "$pid" $kids | tr ' ' ,)" || true
		for p in $pid $kids; do
			echo "--- pid $p: kernel stack"
			cat "/proc/$p/stack" || true
			echo "--- pid $p: threads (tid comm state)"
			cat /proc/"$p"/task/*/stat 2>/dev/null | awk '{ print $1, $2, $3 }' || true
		done
		if [ -n "$diag" ]; then "$diag" || true; fi
	} >> "$logf" 2>&1
	# shellcheck disable=SC2086  # $kids: a list of pids
	kill -TERM "$pid" $kids 2>/dev/null || true
	t=0
	while kill -0 "$pid" 2>/dev/null && [ "$t" -lt 50 ]; do
		sleep 0.2
		t=$((t + 1))
	done
	# shellcheck disable=SC2086
	kill -KILL "$pid" $kids 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 1
}

ftrace_reset() {
	echo 0 > "$1/tracing_on"
	echo nop > "$1/current_tracer"
	: > "$1/set_ftrace_filter"
	: > "$1/set_graph_function"
	echo 0 > "$1/max_graph_depth"
	echo 1 > "$1/tracing_on"
}
