#!/usr/bin/env python3
"""Percentiles of latency samples and of log2 histograms.  Pure functions.

Exact samples (ftrace, bcc raw samples, tracepoint):
  percentile(xs, p) is linear interpolation between the two closest ranks
  (Hyndman & Fan type 7, numpy's default "linear"): with the n samples
  sorted x[0] <= ... <= x[n-1], h = (n - 1) * p / 100 and
  P = x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]).
  P0 is the minimum, P100 the maximum; one sample is every percentile.

Log2 histograms (funclatency): only the bucket of each call is known.
  hist_percentile(buckets, p) finds the bucket holding rank r = p/100 * N
  (cumulative counts c_before < r <= c_before + count) and interpolates
  linearly inside it, i.e. assumes the bucket's calls spread evenly over
  [lo, hi): P = lo + (r - c_before) / count * (hi - lo).  The error is
  bounded by the bucket: the true percentile lies in [lo, hi), a factor of
  two wide.  P0 is the low edge of the first non-empty bucket.
"""
import math

PERCENTILES = (25, 50, 75, 99)


def percentile(xs, p):
    """p-th percentile (0..100) of the samples xs, type-7 interpolation."""
    if not xs:
        raise ValueError('percentile of no samples')
    if not 0 <= p <= 100:
        raise ValueError(f'percentile {p} outside 0..100')
    s = sorted(xs)
    h = (len(s) - 1) * p / 100
    lo = math.floor(h)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])


def hist_percentile(buckets, p):
    """p-th percentile of a histogram [(lo, hi_exclusive, count), ...],
    linear interpolation within the bucket holding rank p/100 * N."""
    if not 0 <= p <= 100:
        raise ValueError(f'percentile {p} outside 0..100')
    bs = sorted((lo, hi, c) for lo, hi, c in buckets if c > 0)
    total = sum(c for _, _, c in bs)
    if not total:
        raise ValueError('percentile of an empty histogram')
    rank = p / 100 * total
    before = 0
    for lo, hi, c in bs:
        if rank <= before + c:
            return lo + max(0.0, rank - before) / c * (hi - lo)
        before += c
    lo, hi, _ = bs[-1]
    return float(hi)


def hist_bucket_of(buckets, p):
    """(lo, hi) of the bucket holding the p-th percentile's rank."""
    bs = sorted((lo, hi, c) for lo, hi, c in buckets if c > 0)
    total = sum(c for _, _, c in bs)
    if not total:
        raise ValueError('percentile of an empty histogram')
    rank = max(p / 100 * total, 1e-9)
    before = 0
    for lo, hi, c in bs:
        if rank <= before + c:
            return lo, hi
        before += c
    return bs[-1][0], bs[-1][1]


def summarize(xs, ps=PERCENTILES):
    """{'n', 'p25', 'p50', ..., 'mean', 'min', 'max'} of exact samples (ns)."""
    out = {'n': len(xs), 'method': 'exact'}
    for p in ps:
        out[f'p{p}'] = percentile(xs, p)
    out['mean'] = sum(xs) / len(xs)
    out['min'] = min(xs)
    out['max'] = max(xs)
    return out


def summarize_hist(buckets, ps=PERCENTILES):
    """Like summarize() for a histogram; min / max are bucket edges, and
    p50_bucket gives the bucket the median lies in."""
    bs = [(lo, hi, c) for lo, hi, c in buckets if c > 0]
    out = {'n': sum(c for _, _, c in bs), 'method': 'log2-histogram'}
    for p in ps:
        out[f'p{p}'] = hist_percentile(bs, p)
    out['min'] = min(lo for lo, _, _ in bs)
    out['max'] = max(hi for _, hi, _ in bs)
    out['p50_bucket'] = list(hist_bucket_of(bs, 50))
    return out


def samples_to_hist(xs):
    """Exact samples binned like funclatency: bucket floor(log2(ns)), bucket
    0 holding 0 and 1.  Returns [(lo, hi_exclusive, count)]."""
    counts = {}
    for x in xs:
        i = int(x).bit_length() - 1 if x >= 2 else 0
        counts[i] = counts.get(i, 0) + 1
    return [((1 << i) if i else 0, 1 << (i + 1), c) for i, c in sorted(counts.items())]
