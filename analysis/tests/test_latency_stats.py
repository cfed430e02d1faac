#!/usr/bin/env python3
"""Unit tests of analysis/stats.py: exact percentiles by hand and histogram
percentiles on the recorded funclatency fixture."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import parse  # noqa: E402
import stats  # noqa: E402

FIX = os.path.join(HERE, 'fixtures', 'latency')


class ExactTest(unittest.TestCase):
    def test_type7_by_hand(self):
        xs = [40, 10, 30, 20]                 # sorted 10 20 30 40
        self.assertEqual(10, stats.percentile(xs, 0))
        self.assertEqual(40, stats.percentile(xs, 100))
        self.assertAlmostEqual(25.0, stats.percentile(xs, 50))    # h = 1.5
        self.assertAlmostEqual(17.5, stats.percentile(xs, 25))    # h = 0.75
        self.assertAlmostEqual(39.7, stats.percentile(xs, 99))    # h = 2.97

    def test_one_sample(self):
        self.assertEqual(7, stats.percentile([7], 99))

    def test_errors(self):
        with self.assertRaises(ValueError):
            stats.percentile([], 50)
        with self.assertRaises(ValueError):
            stats.percentile([1], 101)

    def test_summarize(self):
        s = stats.summarize(list(range(1, 101)))          # 1..100
        self.assertEqual(100, s['n'])
        self.assertAlmostEqual(50.5, s['p50'])
        self.assertAlmostEqual(25.75, s['p25'])
        self.assertAlmostEqual(99.01, s['p99'])
        self.assertEqual('exact', s['method'])


class HistTest(unittest.TestCase):
    def test_by_hand(self):
        b = [(8, 16, 2), (16, 32, 6), (32, 64, 2)]        # N = 10
        self.assertEqual(16.0, stats.hist_percentile(b, 20))   # rank 2: top of 1st
        self.assertAlmostEqual(16 + 3 / 6 * 16, stats.hist_percentile(b, 50))
        self.assertAlmostEqual(32 + 1.9 / 2 * 32, stats.hist_percentile(b, 99))
        self.assertEqual(8.0, stats.hist_percentile(b, 0))
        self.assertEqual((16, 32), stats.hist_bucket_of(b, 50))

    def test_recorded_funclatency(self):
        with open(os.path.join(FIX, 'funclatency-malloc-nsec.txt')) as f:
            h = parse.parse_log2_hist(f.read().splitlines())
        s = stats.summarize_hist(h['buckets'])
        self.assertEqual(282189, s['n'])
        # median rank 141094.5 lies in 1024..2047 (179745 calls)
        self.assertAlmostEqual(1024 + 141094.5 / 179745 * 1024, s['p50'])
        # p75 rank 211641.75: 179745 below, in 2048..4095 (93352 calls)
        self.assertAlmostEqual(2048 + (211641.75 - 179745) / 93352 * 2048, s['p75'])
        # p99 rank 279367.11: 273356 below 8192, 6150 in 8192..16383
        self.assertAlmostEqual(8192 + (279367.11 - 273356) / 6150 * 8192, s['p99'], places=3)
        self.assertEqual([1024, 2048], s['p50_bucket'])
        self.assertEqual(1024, s['min'])
        self.assertEqual(33554432, s['max'])

    def test_samples_to_hist_matches_funclatency_buckets(self):
        self.assertEqual([(0, 2, 2), (2, 4, 1), (1024, 2048, 2)],
                         stats.samples_to_hist([0, 1, 3, 1024, 2047]))

    def test_empty(self):
        with self.assertRaises(ValueError):
            stats.hist_percentile([(1, 2, 0)], 50)


if __name__ == '__main__':
    unittest.main()
