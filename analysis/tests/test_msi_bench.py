#!/usr/bin/env python3
"""Unit tests of analysis/msi_bench.py on a recorded run (both systems, one
guest boot, recorded by scripts/bench-msi-guest) and on hand-made inputs."""
import io
import json
import os
import sys
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import msi_bench as mb  # noqa: E402
import stats  # noqa: E402

# Recorded with raw samples: scripts/bench --only msi --arch aarch64 (Debian
# 6.12, QEMU TCG, guest RAM preallocated), msi-raw.jsonl as written.
FIXTURE = os.path.join(HERE, 'fixtures', 'msi-bench-aarch64-6.12-raw.jsonl')


def summ(p50):
    """A raw-sample block whose every percentile is p50 µs."""
    return {'unit': 'ns', 'n': 4, 'samples_ns': [int(p50 * 1000)] * 4}


def kernel_doc(inval, rt=5000.0, miss=20.0):
    """In-kernel document whose write-invalidate p50 at N nodes is inval[N]."""
    scaling = [{'nodes': n, 'read_miss': summ(miss), 'write_invalidate': summ(v)}
               for n, v in inval.items()]
    return {'schema': mb.SCHEMA, 'system': 'my_shmem', 'host': {'arch': 'test'},
            'read_miss': summ(miss), 'scaling': scaling,
            'write_pingpong': {'round_trips_per_s': rt},
            'transfer_shares': {'nodes': 16, 'transfers': 10, 'clean_share': 0.25,
                                'copy_share': 0.5, 'inval_share': 0.25}}


def s2dsm_doc(rt=250.0, miss=700.0):
    return {'schema': mb.SCHEMA, 'system': 's2dsm', 'read_miss': summ(miss),
            'write_pingpong': {'round_trips_per_s': rt}}


class LoadTest(unittest.TestCase):
    def test_skips_non_json_lines_and_keys_by_system(self):
        text = 'vm-run: booting\n' + json.dumps(kernel_doc({2: 1, 4: 3})) + '\n' + \
            json.dumps(s2dsm_doc()) + '\n'
        docs = mb.load(io.StringIO(text))
        self.assertEqual({'my_shmem', 's2dsm'}, set(docs))

    def test_rejects_another_schema(self):
        with self.assertRaises(ValueError):
            mb.load(io.StringIO('{"schema": "other/1", "system": "x"}\n'))

    def test_rejects_schema_1_with_percentiles_and_says_how_to_fix(self):
        old = {'schema': 'my_shmem.msi-bench/1', 'system': 'my_shmem',
               'read_miss': {'unit': 'us', 'p50': 3.0}}
        with self.assertRaisesRegex(ValueError, 'no raw samples.*scripts/bench --only msi'):
            mb.load(io.StringIO(json.dumps(old) + '\n'))

    def test_meta_lines(self):
        meta = mb.load_meta(io.StringIO('# meta mem_prealloc=1\n# meta kernel=6.12\n'
                                        '{"schema": "x"}\n# other\n'))
        self.assertEqual({'mem_prealloc': '1', 'kernel': '6.12'}, meta)


class LatencyTest(unittest.TestCase):
    def test_percentiles_of_the_raw_samples_in_us(self):
        # unsorted on purpose: order taken, not sorted by the benchmark
        s = mb.latency({'unit': 'ns', 'n': 5,
                        'samples_ns': [4000, 1000, 100000, 3000, 2000]})
        self.assertEqual(5, s['n'])
        self.assertAlmostEqual(2.0, s['p25'])
        self.assertAlmostEqual(3.0, s['p50'])
        self.assertAlmostEqual(4.0, s['p75'])
        # type 7: h = 4 * 0.99 = 3.96 -> 4 + 0.96 * (100 - 4)
        self.assertAlmostEqual(96.16, s['p99'])
        self.assertAlmostEqual(1.0, s['min'])
        self.assertAlmostEqual(100.0, s['max'])
        self.assertAlmostEqual(22.0, s['mean'])
        self.assertEqual('us', s['unit'])

    def test_percentiles_come_from_stats(self):
        # one definition in the project: msi_bench must not have its own
        with mock.patch.object(stats, 'percentile', lambda xs, p: 42.0):
            s = mb.latency({'unit': 'ns', 'n': 2, 'samples_ns': [1000, 2000]})
        self.assertEqual(42.0, s['p50'])
        self.assertEqual(42.0, s['p99'])

    def test_needs_samples_and_a_consistent_n(self):
        with self.assertRaisesRegex(ValueError, 'without samples_ns'):
            mb.latency({'unit': 'us', 'p50': 3.0})
        with self.assertRaisesRegex(ValueError, 'n=3 but holds 2'):
            mb.latency({'unit': 'ns', 'n': 3, 'samples_ns': [1, 2]})


class MemoryTest(unittest.TestCase):
    def test_states(self):
        self.assertEqual({'prealloc': True, 'how': 'qemu -mem-prealloc'}, mb.memory_state('1'))
        self.assertIs(False, mb.memory_state('0')['prealloc'])
        self.assertIsNone(mb.memory_state(None)['prealloc'])
        with self.assertRaises(ValueError):
            mb.memory_state('yes')

    def test_report_carries_it(self):
        rep = mb.analyse({'my_shmem': kernel_doc({2: 1, 4: 2})}, {'mem_prealloc': '1'})
        self.assertEqual({'prealloc': True, 'how': 'qemu -mem-prealloc'}, rep['memory'])
        self.assertIn('Guest memory: qemu -mem-prealloc.', mb.markdown(rep))
        self.assertNotIn('memory', mb.analyse({'my_shmem': kernel_doc({2: 1, 4: 2})}))


class FitTest(unittest.TestCase):
    def test_exact_line(self):
        a, b = mb.fit_line([1, 3, 15], [7, 13, 49])
        self.assertAlmostEqual(4.0, a)
        self.assertAlmostEqual(3.0, b)

    def test_needs_two_distinct_points(self):
        with self.assertRaises(ValueError):
            mb.fit_line([1], [2])
        with self.assertRaises(ValueError):
            mb.fit_line([2, 2], [1, 3])


class InvalidationTest(unittest.TestCase):
    def test_linear_cost_passes(self):
        inv = mb.invalidation(kernel_doc({2: 12, 4: 16, 16: 40, 64: 136})['scaling'])
        self.assertTrue(inv['no_worse_than_linear'])
        self.assertAlmostEqual(2.0, inv['fit_us_per_sharer'])
        self.assertEqual([1, 3, 15, 63], [p['sharers'] for p in inv['points']])

    def test_quadratic_cost_fails(self):
        # per sharer: 1, 3, 15, 63 us -> grows with the sharers
        inv = mb.invalidation(kernel_doc({2: 1, 4: 9, 16: 225, 64: 3969})['scaling'])
        self.assertFalse(inv['no_worse_than_linear'])
        self.assertAlmostEqual(63.0, inv['max_per_sharer_growth'])

    def test_unsorted_input(self):
        inv = mb.invalidation(kernel_doc({16: 40, 2: 12, 4: 16})['scaling'])
        self.assertEqual([2, 4, 16], [p['nodes'] for p in inv['points']])


class CompareTest(unittest.TestCase):
    def test_ratio_and_target(self):
        v = mb.compare(kernel_doc({2: 1, 4: 2}, rt=5000), s2dsm_doc(rt=250, miss=700))
        self.assertAlmostEqual(20.0, v['pingpong_ratio'])
        self.assertTrue(v['pingpong_target_met'])
        self.assertAlmostEqual(35.0, v['read_miss_speedup'])
        v = mb.compare(kernel_doc({2: 1, 4: 2}, rt=1000), s2dsm_doc(rt=250))
        self.assertFalse(v['pingpong_target_met'])

    def test_report_without_s2dsm(self):
        rep = mb.analyse({'my_shmem': kernel_doc({2: 1, 4: 2})}, {'arch': 'x'})
        self.assertNotIn('versus_s2dsm', rep)
        self.assertIn('Invalidation:', mb.markdown(rep))

    def test_skipped_s2dsm_is_reported_with_its_reason(self):
        rep = mb.analyse({'my_shmem': kernel_doc({2: 1, 4: 2}),
                          's2dsm': {'schema': mb.SCHEMA, 'system': 's2dsm',
                                    'skipped': 'no uffd-wp'}})
        self.assertEqual({'skipped': 'no uffd-wp'}, rep['versus_s2dsm'])
        self.assertIn('s2dsm comparison skipped: no uffd-wp', mb.markdown(rep))

    def test_report_needs_the_kernel_document(self):
        with self.assertRaises(ValueError):
            mb.analyse({'s2dsm': s2dsm_doc()})


class RecordedTest(unittest.TestCase):
    def test_recorded_run(self):
        with open(FIXTURE) as f:
            lines = f.readlines()
        docs = mb.load(lines)
        meta = mb.load_meta(lines)
        meta['caveat'] = 'TCG'
        rep = mb.analyse(docs, meta)
        self.assertEqual({'prealloc': True, 'how': 'qemu -mem-prealloc'}, rep['memory'])
        self.assertEqual([2, 4, 16, 64, 256, 1024], [s['nodes'] for s in rep['scaling']])
        # 32 pages x 4 rounds of read misses, 32 write invalidations, per N
        for s in rep['scaling']:
            self.assertEqual(128, s['read_miss_us']['n'])
            self.assertEqual(32, s['write_invalidate_us']['n'])
            rm = s['read_miss_us']
            self.assertLessEqual(rm['min'], rm['p25'])
            self.assertLessEqual(rm['p25'], rm['p50'])
            self.assertLessEqual(rm['p50'], rm['p75'])
            self.assertLessEqual(rm['p75'], rm['p99'])
            self.assertLessEqual(rm['p99'], rm['max'])
        # the report's p50 is stats.percentile of the recorded samples
        raw = docs['my_shmem']['scaling'][0]['read_miss']['samples_ns']
        self.assertAlmostEqual(stats.percentile(raw, 50) / 1000,
                               rep['scaling'][0]['read_miss_p50_us'])
        self.assertIn('versus_s2dsm', rep)
        self.assertEqual(1024, rep['versus_s2dsm']['read_miss_us']['s2dsm']['n'])
        self.assertGreater(rep['invalidation']['fit_us_per_sharer'], 0)
        shares = rep['transfer_shares']
        self.assertAlmostEqual(1.0, shares['clean_share'] + shares['copy_share'] +
                               shares['inval_share'], places=6)
        text = mb.markdown(rep)
        self.assertIn('> TCG', text)
        self.assertIn('| 1024 |', text)
        self.assertIn('s2dsm (userfaultfd + TCP loopback)', text)


if __name__ == '__main__':
    unittest.main()
