#!/usr/bin/env python3
"""analysis/msi_bench.py: the MSI benchmark of one guest run, compared.

Input: the JSON lines scripts/bench-msi-guest prints, one document per
system ("my_shmem": the in-kernel protocol, "s2dsm": userfaultfd + TCP on
loopback), both "schema": "my_shmem.msi-bench/2", measured in the same boot.
Latencies arrive as raw samples ({"unit": "ns", "n", "samples_ns": [...]});
the percentiles (p25/p50/p75/p99, type 7 linear) are computed here through
analysis/stats.py, the project's one definition, and reported in µs.
Documents of schema /1 (percentiles computed by the benchmarks themselves)
are refused: record again with scripts/bench --only msi.
"# meta k=v" lines (scripts/bench-msi-guest prints the guest's memory
state that way) join the report's meta; mem_prealloc=1|0 becomes
"memory": {"prealloc", "how"}.

Output (pure functions over the recorded documents):
  - the in-kernel write ping-pong against s2dsm's (round trips per second,
    ratio; target: at least 10x);
  - the read-miss latency of each (p50, ratio);
  - write-invalidate latency against the sharers invalidated (N - 1 for N
    nodes): a least-squares line, and the cost per sharer at each N relative
    to the smallest N (target: no worse than linear, i.e. that ratio stays
    at or under LINEAR_TOLERANCE);
  - the clean / copy / invalidate share of a transfer (from the tracepoint).
s2dsm needs userfaultfd write-protect on anonymous memory; where the guest
kernel lacks it, its document says "skipped" and why, and so does the report.

usage: analysis/msi_bench.py RAW.jsonl [--meta k=v]... [--json OUT] [--markdown OUT]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import stats  # noqa: E402
# one wording of the memory state, one parser of the guest's '# meta k=v' lines
from first_touch import memory_state, parse_meta as load_meta  # noqa: E402

SCHEMA = "my_shmem.msi-bench/2"
OLD_SCHEMA = "my_shmem.msi-bench/1"
ROUND_TRIP_TARGET = 10.0
# Per-sharer invalidation cost at the largest N may exceed the smallest N's
# by this factor and still count as linear (noise of a TCG guest).
LINEAR_TOLERANCE = 1.5


def load(lines):
    """The documents by system; lines that are not JSON objects are skipped."""
    docs = {}
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        if doc.get("schema") == OLD_SCHEMA:
            raise ValueError("%s document (%s): percentiles computed by the benchmark, no raw "
                             "samples; record it again with scripts/bench --only msi"
                             % (OLD_SCHEMA, doc.get("system")))
        if doc.get("schema") != SCHEMA:
            raise ValueError("not an MSI benchmark document: schema %r" % doc.get("schema"))
        docs[doc["system"]] = doc
    return docs


def latency(block):
    """µs summary (n, p25, p50, p75, p99, mean, min, max) of a raw-sample block."""
    xs = block.get("samples_ns")
    if not xs:
        raise ValueError("latency block without samples_ns: %r" % sorted(block))
    if block.get("n", len(xs)) != len(xs):
        raise ValueError("latency block says n=%s but holds %d samples" % (block["n"], len(xs)))
    s = stats.summarize([x / 1000.0 for x in xs])
    s["unit"] = "us"
    return s


def fit_line(xs, ys):
    """Least-squares y = a + b x; returns (a, b)."""
    n = len(xs)
    if n < 2:
        raise ValueError("a line needs two points")
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("all x equal")
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


def invalidation(scaling):
    """Write-invalidate p50 against sharers invalidated, per node count."""
    rows = sorted(scaling, key=lambda s: s["nodes"])
    sharers = [r["nodes"] - 1 for r in rows]
    p50 = [latency(r["write_invalidate"])["p50"] for r in rows]
    per = [y / x for x, y in zip(sharers, p50)]
    a, b = fit_line(sharers, p50) if len(rows) >= 2 else (None, None)
    growth = max(p / per[0] for p in per)
    return {
        "points": [{"nodes": r["nodes"], "sharers": s, "p50_us": y, "per_sharer_us": q,
                    "per_sharer_vs_smallest": q / per[0]}
                   for r, s, y, q in zip(rows, sharers, p50, per)],
        "fit_intercept_us": a,
        "fit_us_per_sharer": b,
        "max_per_sharer_growth": growth,
        "linear_tolerance": LINEAR_TOLERANCE,
        "no_worse_than_linear": growth <= LINEAR_TOLERANCE,
    }


def compare(kernel, s2dsm):
    """In-kernel against s2dsm, both from the same boot."""
    k_rt = kernel["write_pingpong"]["round_trips_per_s"]
    s_rt = s2dsm["write_pingpong"]["round_trips_per_s"]
    ratio = k_rt / s_rt
    k_miss = latency(kernel["read_miss"])
    s_miss = latency(s2dsm["read_miss"])
    return {
        "pingpong_round_trips_per_s": {"my_shmem": k_rt, "s2dsm": s_rt},
        "pingpong_ratio": ratio,
        "pingpong_target": ROUND_TRIP_TARGET,
        "pingpong_target_met": ratio >= ROUND_TRIP_TARGET,
        "read_miss_us": {"my_shmem": k_miss, "s2dsm": s_miss},
        "read_miss_p50_us": {"my_shmem": k_miss["p50"], "s2dsm": s_miss["p50"]},
        "read_miss_speedup": s_miss["p50"] / k_miss["p50"],
    }


def analyse(docs, meta=None):
    if "my_shmem" not in docs:
        raise ValueError("no in-kernel (my_shmem) document")
    kernel = docs["my_shmem"]
    meta = dict(meta or {})
    scaling = []
    for s in sorted(kernel["scaling"], key=lambda s: s["nodes"]):
        rm, wi = latency(s["read_miss"]), latency(s["write_invalidate"])
        scaling.append({"nodes": s["nodes"], "read_miss_us": rm, "write_invalidate_us": wi,
                        "read_miss_p50_us": rm["p50"], "write_invalidate_p50_us": wi["p50"]})
    out = {"schema": "my_shmem.msi-report/2", "meta": meta,
           "host": kernel["host"],
           "percentile_method": "type 7 linear (analysis/stats.py)",
           "invalidation": invalidation(kernel["scaling"]),
           "scaling": scaling,
           "transfer_shares": kernel.get("transfer_shares")}
    if "mem_prealloc" in meta:
        out["memory"] = memory_state(meta["mem_prealloc"])
    if "s2dsm" in docs and "skipped" in docs["s2dsm"]:
        out["versus_s2dsm"] = {"skipped": docs["s2dsm"]["skipped"]}
    elif "s2dsm" in docs:
        out["versus_s2dsm"] = compare(kernel, docs["s2dsm"])
    return out


def markdown(rep):
    m = rep["meta"]
    lines = ["# In-kernel MSI benchmark", ""]
    if m.get("caveat"):
        lines += ["> " + m["caveat"], ""]
    if rep.get("memory"):
        lines += ["Guest memory: %s." % rep["memory"]["how"], ""]
    lines += ["| nodes | read miss p50 (µs) | p99 | write-invalidate p50 (µs) | p99 | per sharer (µs) |",
              "|---:|---:|---:|---:|---:|---:|"]
    per = {p["nodes"]: p for p in rep["invalidation"]["points"]}
    for s in rep["scaling"]:
        lines.append("| %d | %.1f | %.1f | %.1f | %.1f | %.2f |" % (
            s["nodes"], s["read_miss_p50_us"], s["read_miss_us"]["p99"],
            s["write_invalidate_p50_us"], s["write_invalidate_us"]["p99"],
            per[s["nodes"]]["per_sharer_us"]))
    lines += ["", "Percentiles of the raw samples (type 7 linear, analysis/stats.py)."]
    inv = rep["invalidation"]
    lines += ["", "Invalidation: %.2f µs per sharer (least squares); per-sharer cost grows at most "
              "%.2fx from the smallest node count (linear if <= %.1fx): %s." % (
                  inv["fit_us_per_sharer"], inv["max_per_sharer_growth"], LINEAR_TOLERANCE,
                  "yes" if inv["no_worse_than_linear"] else "NO")]
    v = rep.get("versus_s2dsm")
    if v and "skipped" in v:
        lines += ["", "s2dsm comparison skipped: " + v["skipped"]]
    elif v:
        lines += ["", "| write ping-pong | round trips/s |", "|---|---:|",
                  "| in-kernel (my_shmem) | %.0f |" % v["pingpong_round_trips_per_s"]["my_shmem"],
                  "| s2dsm (userfaultfd + TCP loopback) | %.0f |" % v["pingpong_round_trips_per_s"]["s2dsm"],
                  "", "In-kernel / s2dsm: %.1fx (target %.0fx: %s); read miss p50 %.1f µs vs %.1f µs "
                  "(%.1fx)." % (v["pingpong_ratio"], ROUND_TRIP_TARGET,
                                "met" if v["pingpong_target_met"] else "NOT met",
                                v["read_miss_p50_us"]["my_shmem"], v["read_miss_p50_us"]["s2dsm"],
                                v["read_miss_speedup"])]
    t = rep.get("transfer_shares")
    if t:
        lines += ["", "Transfer (%d transfers, %d nodes): clean %.0f%%, copy %.0f%%, invalidate %.0f%%." % (
            t["transfers"], t["nodes"], 100 * t["clean_share"], 100 * t["copy_share"],
            100 * t["inval_share"])]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw")
    ap.add_argument("--meta", action="append", default=[], help="k=v for the report")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    a = ap.parse_args(argv)
    with open(a.raw) as f:
        lines = f.readlines()
    meta = load_meta(lines)
    meta.update(kv.split("=", 1) for kv in a.meta)
    rep = analyse(load(lines), meta)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rep, f, indent=2)
            f.write("\n")
    text = markdown(rep)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
