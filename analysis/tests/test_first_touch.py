#!/usr/bin/env python3
"""Unit tests of analysis/first_touch.py on a recorded run (aarch64, Debian
6.1, QEMU TCG, recorded by scripts/bench-guest) and on small hand-made inputs."""
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import first_touch as ft  # noqa: E402

FIXTURE = os.path.join(HERE, 'fixtures', 'first-touch-aarch64-6.1.jsonl')


def rec(target, mode, size, ns, order=-1, alloc_ns=None, alloc_pages=None, retouch=None):
    r = {'target': target, 'mode': mode, 'size': size, 'pages': size // 4096,
         'order': order, 'ns_per_page': ns}
    if alloc_ns is not None:
        r.update(alloc_ns=alloc_ns, alloc_pages=alloc_pages)
    if retouch is not None:
        r['retouch_ns_per_page'] = retouch
    return r


class ParseTest(unittest.TestCase):
    def test_recorded_run(self):
        with open(FIXTURE) as f:
            recs = ft.parse_records(f)
        self.assertEqual(24, len(recs))     # 18 my_shmem runs + 6 memfd runs
        self.assertEqual(18, sum(r['target'] == 'shmem' for r in recs))

    def test_comments_and_blanks_skipped(self):
        recs = ft.parse_records(['# meta kernel=x', '', rec_line()])
        self.assertEqual(1, len(recs))

    def test_bad_json_names_the_line(self):
        with self.assertRaisesRegex(ValueError, 'line 2: not JSON'):
            ft.parse_records([rec_line(), '{oops'])

    def test_missing_field(self):
        with self.assertRaisesRegex(ValueError, 'missing "ns_per_page"'):
            ft.parse_records(['{"target":"shmem","mode":"byte","size":1,"pages":1}'])


def rec_line():
    return '{"target":"memfd","mode":"byte","size":4096,"pages":1,"ns_per_page":5}'


class AnalyseTest(unittest.TestCase):
    def setUp(self):
        with open(FIXTURE) as f:
            self.result = ft.analyse(ft.parse_records(f))

    def row(self, order, mode, size):
        return next(r for r in self.result['rows']
                    if (r['order'], r['mode'], r['size']) == (order, mode, size))

    def test_floor_and_ratios_from_recorded_run(self):
        r = self.row(8, 'byte', 1 << 30)
        self.assertAlmostEqual(475333936 / 262144, r['floor_ns_per_page'], places=6)
        self.assertAlmostEqual(2977.6 / (475333936 / 262144), r['vs_floor'], places=6)
        self.assertAlmostEqual(57768.0 / 2977.6, r['vs_memfd'], places=2)

    def test_no_memfd_baseline_for_size(self):
        res = ft.analyse([rec('memfd', 'byte', 1 << 20, 100.0),
                          rec('shmem', 'byte', 1 << 30, 50.0, 4)])
        self.assertIsNone(res['rows'][0]['vs_memfd'])
        self.assertIsNone(res['rows'][0]['vs_floor'])
        self.assertEqual('not measured', res['targets']['ahead_of_memfd'])

    def test_size_scaling(self):
        s = next(s for s in self.result['size_scaling']
                 if s['order'] == 4 and s['mode'] == 'byte')
        self.assertEqual((1 << 20, 1 << 30), (s['small'], s['large']))
        self.assertAlmostEqual(4475.6 / 8691.2, s['ratio'], places=6)

    def test_targets_of_recorded_run(self):
        t = self.result['targets']
        self.assertEqual('met', t['size_scaling_le_1.3'])
        self.assertTrue(t['floor_within_1.3_at_order_ge_4'].startswith('missed'))


class VerdictTest(unittest.TestCase):
    def test_verdicts(self):
        self.assertEqual('met', ft.verdict([True, True]))
        self.assertEqual('missed (1 of 3)', ft.verdict([True, False, True]))
        self.assertEqual('not measured', ft.verdict([]))

    def test_small_input(self):
        recs = [rec('memfd', 'byte', 1 << 20, 100.0),
                rec('shmem', 'byte', 1 << 20, 50.0, 4, alloc_ns=256 * 40, alloc_pages=256,
                    retouch=5.0),
                rec('shmem', 'byte', 1 << 28, 60.0, 4, alloc_ns=65536 * 40, alloc_pages=65536)]
        res = ft.analyse(recs)
        r = res['rows'][0]
        self.assertEqual(2.0, r['vs_memfd'])
        self.assertEqual(50.0 / 40, r['vs_floor'])
        self.assertEqual(45.0 / 40, r['fault_vs_floor'])
        self.assertEqual('met', res['targets']['ahead_of_memfd'])
        self.assertEqual('met', res['targets']['size_scaling_le_1.3'])
        self.assertEqual('missed (1 of 2)', res['targets']['floor_within_1.3_at_order_ge_4'])
        md = ft.render_markdown(res, {'arch': 'test'})
        self.assertIn('| 4 | byte | 1 MiB | 50 | 100 | 2.00 | 40 | 1.25 | 5 | 1.12 |', md)


class MemoryTest(unittest.TestCase):
    def test_states(self):
        self.assertEqual({'prealloc': True, 'how': 'qemu -mem-prealloc'}, ft.memory_state('1'))
        self.assertIs(False, ft.memory_state('0')['prealloc'])
        self.assertIn('lazily', ft.memory_state('0')['how'])
        self.assertEqual({'prealloc': None, 'how': 'bare metal: host RAM, no lazy backing'},
                         ft.memory_state(None))
        with self.assertRaisesRegex(ValueError, 'must be 1, 0 or empty'):
            ft.memory_state('on')

    def test_meta_lines(self):
        self.assertEqual({'kernel': 'x', 'mem_prealloc': '1'},
                         ft.parse_meta(['# meta kernel=x\n', '# meta mem_prealloc=1\n',
                                        rec_line() + '\n', '# other\n']))

    def run_main(self, prealloc):
        with tempfile.TemporaryDirectory() as d:
            raw = os.path.join(d, 'raw.jsonl')
            with open(raw, 'w') as f:
                f.write(f'# meta mem_prealloc={prealloc}\n' + rec_line() + '\n' +
                        json.dumps(rec('shmem', 'byte', 4096, 50.0, 0)) + '\n')
            out = os.path.join(d, 'r.json')
            with redirect_stdout(io.StringIO()) as md:
                self.assertEqual(0, ft.main([raw, '--meta', 'arch=test', '--json', out]))
            with open(out) as f:
                return json.load(f), md.getvalue()

    def test_report_records_the_memory_state(self):
        res, md = self.run_main(1)
        self.assertEqual({'prealloc': True, 'how': 'qemu -mem-prealloc'}, res['memory'])
        self.assertEqual({'mem_prealloc': '1', 'arch': 'test'}, res['meta'])
        self.assertNotIn('backed lazily', md)

    def test_lazy_guest_memory_is_flagged(self):
        res, md = self.run_main(0)
        self.assertIs(False, res['memory']['prealloc'])
        self.assertIn('Guest RAM backed lazily by QEMU', md)


if __name__ == '__main__':
    unittest.main()
