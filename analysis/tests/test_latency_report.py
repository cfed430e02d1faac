#!/usr/bin/env python3
"""Tests of analysis/report.py and analysis/smoke_check.py on a small results
directory (fixtures/latency/run-mini: see fixtures/latency/README) copied to
a temporary directory, plus broken variants of it."""
import contextlib
import csv
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import report  # noqa: E402
import smoke_check  # noqa: E402

MINI = os.path.join(HERE, 'fixtures', 'latency', 'run-mini')


class RunDir:
    """A scratch copy of run-mini."""

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix='latency-test-')
        self.path = os.path.join(self.tmp, 'run')
        shutil.copytree(MINI, self.path)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.tmp)

    @staticmethod
    def edit_index(path, exp, fn):
        p = os.path.join(path, 'raw', exp, 'index.json')
        with open(p) as f:
            idx = json.load(f)
        idx = fn(idx)
        with open(p, 'w') as f:
            json.dump(idx, f)


def quiet(fn, *args, **kw):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = fn(*args, **kw)
    return rc, out.getvalue(), err.getvalue()


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rd = RunDir()
        cls.path = cls.rd.__enter__()
        cls.summary, cls.md, cls.problems = report.run(cls.path, plots=False)

    @classmethod
    def tearDownClass(cls):
        cls.rd.__exit__()

    def rows(self, inst, op='clean'):
        return {r['order']: r for r in self.summary['experiments']['E2'][op][inst]}

    def test_exact_percentiles(self):
        r = self.rows('ftrace')[4]           # 20, 22, 24, 26 µs
        self.assertEqual(4, r['n'])
        self.assertAlmostEqual(21500, r['p25'])
        self.assertAlmostEqual(23000, r['p50'])
        self.assertAlmostEqual(24500, r['p75'])
        self.assertAlmostEqual(25940, r['p99'])
        self.assertAlmostEqual(22000, self.rows('tracepoint')[4]['p50'])
        self.assertAlmostEqual(85500, self.rows('bcc')[6]['p50'])   # 79.5 83.5 87.5 91.5

    def test_histogram_percentiles(self):
        r = self.rows('funclatency')[4]      # 4 calls in 16384..32767 ns
        self.assertEqual('log2-histogram', r['method'])
        self.assertAlmostEqual(16384 + 2 / 4 * 16384, r['p50'])
        self.assertAlmostEqual(16384 + 1 / 4 * 16384, r['p25'])

    def test_tlb_table(self):
        r = self.rows('ftrace', 'tlb')[4]    # 5, 7, 9, 11 µs
        self.assertAlmostEqual(8000, r['p50'])

    def test_tracepoint_alloc_events_ignored(self):
        self.assertEqual({4, 6}, set(self.rows('tracepoint')))
        self.assertEqual(4, self.rows('tracepoint')[4]['n'])

    def test_csv(self):
        with open(os.path.join(self.path, 'E2.csv'), newline='') as f:
            rows = list(csv.DictReader(f))
        # ftrace 8 clean + 4 tlb, funclatency 8, bcc 8, tracepoint 8
        self.assertEqual(36, len(rows))
        self.assertEqual(list(report.CSV_FIELDS), list(rows[0]))
        fl = [r for r in rows if r['instrument'] == 'funclatency' and r['order'] == '4']
        self.assertEqual({('16384', '32767')}, {(r['ns'], r['ns_max']) for r in fl})
        bcc = [r for r in rows if r['instrument'] == 'bcc' and r['order'] == '6']
        self.assertEqual(['79500', '83500', '87500', '91500'], [r['ns'] for r in bcc])
        self.assertEqual({'262144'}, {r['alloc_size'] for r in bcc})
        self.assertEqual({'4194304'}, {r['mapping_size'] for r in bcc})
        self.assertEqual({'my_shmem_dcache_clean_poc'}, {r['function'] for r in bcc})
        self.assertNotIn('size', rows[0])

    def test_markdown(self):
        md = self.md
        self.assertIn('aarch64, kernel 6.1.0-56-arm64, backend insn', md.splitlines()[0])
        # meta.caveat is null but the accelerator is TCG: docs/tcg-caveat.txt
        with open(report.TCG_CAVEAT_PATH) as f:
            caveat = f.read().strip()
        self.assertIn(f'> **{caveat}**', md)
        self.assertIn(f'> {caveat}\n\n| order | ftrace 25p', md)
        for field in ('cpu_model', 'accelerator', 'qemu_version', 'tool: trace-cmd',
                      'tool: funclatency', 'tool: bcc', 'n', 'memory'):
            self.assertIn(f'| {field} |', md)
        self.assertIn('| cpu: model_name | Cortex-A76 |', md)
        self.assertNotIn('Vendor ID:', md)          # lscpu's list: summary.json only
        row4 = next(l for l in md.splitlines() if l.startswith('| 4 ') and '19.22' in l)
        cells = [c.strip() for c in row4.strip('|').split('|')]
        self.assertEqual(['4', '21.50', '23.00', '24.50', '25.94', '4',      # ftrace
                          '20.48', '24.58'], cells[:8])                       # funclatency
        self.assertEqual(['19.22', '21.12', '23.65', '123.98', '100'], cells[-5:])
        self.assertIn('## E2: TLB flush (`flush_tlb_mm_range`)', md)
        self.assertIn('| clflushopt  | dirty | 1 MiB |   12.50 |  5.12 |', md)

    def test_summary_json(self):
        with open(os.path.join(self.path, 'summary.json')) as f:
            s = json.load(f)
        self.assertEqual('6.1.0-56-arm64', s['meta']['kernel'])
        self.assertEqual(report.tcg_caveat(), s['caveat'])
        self.assertEqual('my_shmem.latency-summary/2', s['schema'])
        row = next(r for r in s['experiments']['E2']['clean']['bcc'] if r['order'] == 6)
        self.assertEqual((262144, 4194304, 'my_shmem_dcache_clean_poc', 'insn'),
                         (row['alloc_size'], row['mapping_size'], row['function'],
                          row['backend']))
        self.assertNotIn('size', row)
        self.assertEqual(21.12, s['thesis_e2_us']['4']['p50'])
        self.assertEqual(2, len(s['anchor']['results']))
        self.assertEqual([], s['problems'])


class AnchorTest(unittest.TestCase):
    """my_shmem-cmo-anchor writes raw samples; the analysis derives."""

    def load(self, doc):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, 'anchor.json')
            with open(p, 'w') as f:
                json.dump(doc, f)
            return report.load_anchor(p)

    def test_raw_samples_give_median_per_line_and_rate(self):
        a = self.load([{'instruction': 'dc civac', 'state': 'dirty', 'size': 65536,
                        'lines': 1024, 'reps': 4, 'samples_ns': [900.0, 1000.0, 3000.0, 1100.0]}])
        r = a['results'][0]
        self.assertEqual(1050.0, r['median_ns'])          # type 7 between 1000 and 1100
        self.assertAlmostEqual(1050.0 / 1024, r['ns_per_line'])
        self.assertAlmostEqual(65536 / 1050.0, r['gbps'])

    def test_derived_rows_are_kept_and_incomplete_rows_refused(self):
        a = self.load({'results': [{'instruction': 'clwb', 'state': 'clean', 'size': 4096,
                                    'ns_per_line': 2.0, 'gbps': 32.0}]})
        self.assertEqual(2.0, a['results'][0]['ns_per_line'])
        with self.assertRaisesRegex(report.InputError, 'neither "samples_ns"'):
            self.load([{'instruction': 'clwb', 'state': 'clean', 'size': 4096}])
        with self.assertRaisesRegex(report.InputError, 'no "lines"'):
            self.load([{'instruction': 'clwb', 'state': 'clean', 'size': 4096,
                        'samples_ns': [1.0]}])


class ReportErrorTest(unittest.TestCase):
    def test_missing_meta(self):
        with RunDir() as p:
            os.remove(os.path.join(p, 'meta.json'))
            rc, out, err = quiet(report.main, [p, '--no-plots'])
            self.assertEqual(2, rc)
            self.assertRegex(err, r'meta\.json: cannot read')

    def test_bad_index(self):
        with RunDir() as p:
            with open(os.path.join(p, 'raw', 'E2', 'index.json'), 'w') as f:
                f.write('[{"file": ')
            rc, _, err = quiet(report.main, [p, '--no-plots'])
            self.assertEqual(2, rc)
            self.assertIn('index.json: not JSON', err)

    def test_unparseable_raw_file_is_listed_and_fails(self):
        with RunDir() as p:
            with open(os.path.join(p, 'raw', 'E2', 'funclatency-clean-order6.txt'), 'w') as f:
                f.write('failed to attach kprobe: -2\n')
            rc, out, err = quiet(report.main, [p, '--no-plots'])
            self.assertEqual(1, rc)
            self.assertIn('funclatency-clean-order6.txt: no log2 histogram', err)
            self.assertIn('## Problems', out)
            rc, out, _ = quiet(smoke_check.main, [p])
            self.assertEqual(1, rc)
            self.assertRegex(out, r'not ok \d+ - every raw file parses')

    def test_not_a_directory(self):
        rc, _, err = quiet(report.main, ['/nonexistent/run', '--no-plots'])
        self.assertEqual(2, rc)
        self.assertIn('not a directory', err)


class SmokeCheckTest(unittest.TestCase):
    def test_passes_after_report(self):
        with RunDir() as p:
            quiet(report.main, [p, '--no-plots'])
            rc, out, _ = quiet(smoke_check.main, [p])
            self.assertEqual(0, rc, out)
            self.assertIn('ok 2 - every JSON file matches docs/results.schema.json\n', out)
            self.assertIn('ok 5 - E2 ftrace: 12 samples', out)
            self.assertRegex(out, r'ok \d+ - E2\.csv parses: 36 rows, 36 samples')
            self.assertRegex(out, r'ok \d+ - E2 clean order 4: medians agree within x3 '
                                  r'\(worst x1\.05 ftrace/tracepoint')
            self.assertTrue(out.rstrip().endswith('1..14'), out)

    def test_missing_instrument_fails(self):
        with RunDir() as p:
            RunDir.edit_index(p, 'E2', lambda idx: [e for e in idx if e['instrument'] != 'bcc'])
            rc, out, _ = quiet(smoke_check.main, [p])
            self.assertEqual(1, rc)
            self.assertIn('not ok 7 - E2 bcc: 0 samples', out)

    def test_missing_order_fails(self):
        with RunDir() as p:
            RunDir.edit_index(p, 'E2', lambda idx: [e for e in idx
                                                    if e['file'] != 'ftrace-clean-order6.txt'])
            rc, out, _ = quiet(smoke_check.main, [p])
            self.assertEqual(1, rc)
            self.assertIn("missing: {'ftrace': [6]}", out)

    def test_disagreeing_medians_fail(self):
        with RunDir() as p:
            path = os.path.join(p, 'raw', 'E2', 'tracepoint-clean.txt')
            with open(path) as f:
                text = f.read()
            # order 6 in-module timings x10 (e.g. a unit error): 790 .. 910 µs
            with open(path, 'w') as f:
                f.write(text.replace('ns=79000', 'ns=790000').replace('ns=83000', 'ns=830000')
                        .replace('ns=87000', 'ns=870000').replace('ns=91000', 'ns=910000'))
            rc, out, _ = quiet(smoke_check.main, [p])
            self.assertEqual(1, rc)
            self.assertRegex(out, r'not ok \d+ - E2 clean order 6: medians agree')
            self.assertRegex(out, r'ok \d+ - E2 clean order 4: medians agree')

    def write_funclatency_order6(self, p, buckets):
        """Replace E2's funclatency order-6 histogram with {lo: count}."""
        rows = [f'     {lo} -> {2 * lo - 1}      : {c}        |****|'
                for lo, c in sorted(buckets.items())]
        with open(os.path.join(p, 'raw', 'E2', 'funclatency-clean-order6.txt'), 'w') as f:
            f.write('Tracing my_shmem_dcache_clean_poc.  Hit Ctrl-C to exit\n\n'
                    '     nsec                : count    distribution\n'
                    + '\n'.join(rows) + '\nExiting trace of my_shmem_dcache_clean_poc\n')

    def test_load_in_one_window_agrees_by_the_fastest_calls(self):
        # the CI failure's shape: most of funclatency's calls slowed ~x6 in
        # its window (median bucket [524, 1049) µs against 80-92 µs), its
        # fastest call in the bucket of the others' [65, 131) µs
        with RunDir() as p:
            self.write_funclatency_order6(p, {65536: 1, 524288: 3})
            rc, out, _ = quiet(smoke_check.main, [p])
            self.assertEqual(0, rc, out)
            self.assertRegex(out, r'ok \d+ - E2 clean order 6: medians agree within x3 '
                                  r'\(worst x\d+\.\d+ [a-z]+/[a-z]+;.*the fastest calls agree '
                                  r"\(.*funclatency.*\): load in one recorder's window\)")

    def test_every_call_slower_fails_although_load_could_explain_a_median(self):
        # every funclatency call in [524, 1049) µs: the fastest call moved
        # too, so this is a wrong order, unit or function, not load
        with RunDir() as p:
            self.write_funclatency_order6(p, {524288: 4})
            rc, out, _ = quiet(smoke_check.main, [p])
            self.assertEqual(1, rc, out)
            self.assertRegex(out, r'not ok \d+ - E2 clean order 6: medians agree within x3')
            self.assertNotIn('fastest calls agree', out)

    def test_fastest_of(self):
        self.assertEqual((3.0, None), smoke_check.fastest_of({'samples': [5, 3, 9]}))
        self.assertEqual((4096.0, (4096, 8192)), smoke_check.fastest_of(
            {'hist': [(2048, 4096, 0), (4096, 8192, 2), (8192, 16384, 5)]}))

    def test_histogram_bucket_counts_as_nearest_point(self):
        # medians (value, bucket): 24576 in [16384, 32768) against 40000:
        # nearest point 32768, ratio 40000 / 32768
        r = smoke_check.pair_ratio((24576, (16384, 32768)), (40000, None))
        self.assertAlmostEqual(40000 / 32768, r)
        self.assertEqual(1.0, smoke_check.pair_ratio((24576, (16384, 32768)), (20000, None)))
        self.assertAlmostEqual(3.0, smoke_check.pair_ratio((30, None), (10, None)))


class PlotTest(unittest.TestCase):
    def test_pngs_written(self):
        if report._pyplot() is None:
            self.skipTest('matplotlib not installed')
        with RunDir() as p:
            rc, out, _ = quiet(report.main, [p])
            self.assertEqual(0, rc)
            for name in ('E2-clean-distributions.png', 'E2-clean-vs-order.png',
                         'E2-tlb-vs-order.png'):
                with open(os.path.join(p, name), 'rb') as f:
                    self.assertEqual(b'\x89PNG', f.read(4), name)
                self.assertIn(f'({name})', out)


if __name__ == '__main__':
    unittest.main()


class NetOfOverheadTest(unittest.TestCase):
    """The smoke check's second chance: within the ratio once each
    instrument's none-backend overhead is taken off (numbers from the x86_64
    smoke run of E3 order 4 that failed the plain ratio: 5.77 vs 1.43 µs)."""

    def test_net_ratio_by_hand(self):
        import smoke_check
        ftrace, tp = (5770.0, None), (1430.0, None)
        self.assertAlmostEqual(5770 / 1430, smoke_check.pair_ratio(ftrace, tp))
        self.assertAlmostEqual((5770 - 2560) / (1430 - 210),
                               smoke_check.net_ratio(ftrace, tp, 2560.0, 210.0))

    def test_overhead_larger_than_median_fails(self):
        import smoke_check
        self.assertEqual(float('inf'),
                         smoke_check.net_ratio((5000.0, None), (1000.0, None), 100.0, 1000.0))

    def test_bucket_takes_nearest_point(self):
        import smoke_check
        self.assertEqual((4096.0, 1430.0),
                         smoke_check.pair_points((4780.0, (4096.0, 8192.0)), (1430.0, None)))
