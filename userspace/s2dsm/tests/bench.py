#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make -C userspace/s2dsm bench: loopback benchmark of s2dsm.

Measures (1) read-miss fetch latency: P1 dirties every page, P2 reads each page once,
each read being a userfaultfd missing fault served over TCP by P1 (which is then
downgraded M -> S); (2) write ping-pong: a token bounces through page 0, each round
trip moving write ownership P1 -> P2 -> P1.  Prints one JSON document and writes it
to --out.  The schema ("my_shmem.msi-bench/2") is the one the in-kernel MSI benchmark
emits, so the two can be put side by side: raw samples (read-miss latencies in ns, in the
order taken); the percentiles are computed by analysis/msi_bench.py (analysis/stats.py,
the project's one percentile definition)."""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s2dsmlib as L  # noqa: E402


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "cpu model", "hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def start_ordered(binary, args1, args2, timeout=60):
    """P1, then P2 once P1 is waiting for its peer (it has said so on stderr).

    s2dsm makes the process that waited P1; a fixed delay between the two
    starts (s2dsmlib.start_pair) loses that race on a loaded TCG host, and P2
    then asks for the page count it was never given."""
    a, b = L.free_ports()
    p1 = L.Proc([binary, "--wait", "60", *args1, str(a), str(b)], stdin=False)
    deadline = time.time() + timeout
    while b"waiting for the peer" not in p1.err:
        if p1.p.poll() is not None or time.time() > deadline:
            p1._pump(0.1)
            raise SystemExit("s2dsm bench: P1 did not start waiting for its peer within %d s "
                             "(exit %s): %s" % (timeout, p1.p.poll(), p1.stderr()))
        p1._pump(0.05)
    p2 = L.Proc([binary, "--wait", "60", *args2, str(b), str(a)], stdin=False)
    return p1, p2


def run_pair(binary, pages, text, timeout):
    fd, path = tempfile.mkstemp(prefix="s2dsm-bench-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    try:
        p1, p2 = start_ordered(binary, ["--pages", str(pages), "--script", path, "-q"],
                               ["--script", path, "-q"])
        codes = L.wait_all([p1, p2], timeout)
        if codes != [0, 0]:
            raise SystemExit("s2dsm bench run failed: exit %s\nP1: %s\nP2: %s"
                             % (codes, p1.stderr(), p2.stderr()))
        return p1.stdout(), p2.stdout()
    finally:
        os.unlink(path)
        L.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pages", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=16)
    ap.add_argument("--round-trips", type=int, default=2000)
    ap.add_argument("--timeout", type=int, default=900,
                    help="seconds each of the two runs may take (a TCG guest on a busy "
                         "host is tens of times slower than usual)")
    args = ap.parse_args()

    probe = subprocess.run([args.bin, "--check"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise SystemExit("s2dsm bench: " + probe.stdout.strip())

    _, out2 = run_pair(args.bin, args.pages, "readmiss %d\n" % args.rounds, args.timeout)
    samples = []
    for line in out2.splitlines():
        if line.startswith("readmiss-ns"):
            samples = [int(x) for x in line.split()[1:]]
    if not samples:
        raise SystemExit("s2dsm bench: no read-miss samples in P2 output")

    out1, _ = run_pair(args.bin, 1, "pingpong %d\n" % args.round_trips, args.timeout)
    rt = ns = None
    for line in out1.splitlines():
        if line.startswith("pingpong "):
            kv = dict(x.split("=") for x in line.split()[1:])
            rt, ns = int(kv["round_trips"]), int(kv["ns"])
    if rt is None:
        raise SystemExit("s2dsm bench: no ping-pong result in P1 output")

    uname = os.uname()
    doc = {
        "schema": "my_shmem.msi-bench/2",
        "system": "s2dsm",
        "implementation": "userspace MSI over userfaultfd (missing + write-protect) and TCP",
        "transport": "tcp-loopback",
        "note": ("loopback TCP on one host (127.0.0.1): both processes share this host's CPUs; "
                 "a read miss costs a userfaultfd fault, a TCP request/reply and UFFDIO_COPY, "
                 "no real network latency is included"),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": {
            "kernel": uname.release,
            "arch": uname.machine,
            "cpu_model": cpu_model(),
            "cpus": os.cpu_count(),
            "page_size": os.sysconf("SC_PAGE_SIZE"),
            "hostname": uname.nodename,
        },
        "read_miss": {
            "description": "latency of one read that misses locally and fetches the page from the "
                           "peer holding it Modified",
            "unit": "ns",
            "n": len(samples),
            "samples_ns": samples,
            "pages": args.pages,
            "rounds": args.rounds,
        },
        "write_pingpong": {
            "description": "a token bounces through one page; one round trip = P1 writes, P2 sees "
                           "it and writes, P1 sees that (two read misses and two S->M upgrades)",
            "round_trips": rt,
            "seconds": round(ns / 1e9, 4),
            "round_trips_per_s": round(rt / (ns / 1e9), 1),
            "us_per_round_trip": round(ns / 1e3 / rt, 2),
        },
    }
    text = json.dumps(doc, indent=2)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
