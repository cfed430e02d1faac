#!/usr/bin/env python3
"""E6 in analysis/report.py and analysis/smoke_check.py: run-mini (see
fixtures/latency/README) plus a raw/E6/ written here in the tools' exact line
formats, with round numbers chosen per test so every figure can be checked
by hand: insn and dma backends, orders 4 and 6, ops clean and inval, all
four instruments, and the dma path's arch_sync_dma_* function recorded by
ftrace, funclatency and the bcc tool (raw v2)."""
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import report  # noqa: E402
import smoke_check  # noqa: E402
from test_latency_report import MINI, quiet  # noqa: E402

WRAPPER = {'clean': 'my_shmem_dcache_clean_poc', 'inval': 'my_shmem_dcache_inval_poc'}
ARCH = {'clean': 'arch_sync_dma_for_device', 'inval': 'arch_sync_dma_for_cpu'}
MAPPING = 4 << 20
# insn medians (ns) per order; each series is base * (0.9, 0.95, 1.05, 1.1)
BASE = {4: 20000, 6: 80000}
SPREAD = (0.9, 0.95, 1.05, 1.1)


def ftrace_text(fn, xs):
    out = ['cpus=2']
    for i, x in enumerate(xs):
        out.append(f'    shmemctl-300   [001]   200.{i:06d}: funcgraph_entry:      '
                   f'+ {x / 1000:.3f} us  |  {fn}();')
    return '\n'.join(out) + '\n'


def funclatency_text(fn, xs):
    counts = {}
    for x in xs:
        lo = 1 << (int(x).bit_length() - 1)
        counts[lo] = counts.get(lo, 0) + 1
    out = [f'Tracing {fn}.  Hit Ctrl-C to exit', '',
           '     nsec                : count    distribution']
    out += [f'     {lo} -> {2 * lo - 1}      : {c}        |****|' for lo, c in sorted(counts.items())]
    return '\n'.join(out + [f'Exiting trace of {fn}']) + '\n'


def make_e6(path, arch='aarch64', dma_factor=1.1, arch_fn=True):
    """Add raw/E6 to the run-mini copy at path; dma medians are insn's
    times dma_factor, the arch_sync_dma_* function's 1 µs less."""
    with open(os.path.join(path, 'meta.json')) as f:
        meta = json.load(f)
    meta['arch'] = arch
    meta['experiments'] = ['E2', 'E6']
    meta['seconds']['E6'] = 600
    with open(os.path.join(path, 'meta.json'), 'w') as f:
        json.dump(meta, f)
    raw = os.path.join(path, 'raw', 'E6')
    os.makedirs(raw)
    index = []

    def entry(name, inst, op, fn, be, order, text):
        with open(os.path.join(raw, name), 'w') as f:
            f.write(text)
        index.append({'file': name, 'instrument': inst, 'op': op, 'function': fn,
                      'backend': be, 'order': order,
                      'alloc_size': None if order is None else 4096 << order,
                      'mapping_size': MAPPING})

    def xs(op, be, k, fn):
        m = BASE[k] * (dma_factor if be == 'dma' else 1) - (1000 if fn == ARCH[op] else 0)
        return [round(m * f) for f in SPREAD]

    for op in ('clean', 'inval'):
        for be in ('insn', 'dma'):
            fns = [WRAPPER[op]] + ([ARCH[op]] if be == 'dma' and arch_fn else [])
            for fn in fns:
                tag = '' if fn == WRAPPER[op] else '-arch'
                for k in BASE:
                    entry(f'ftrace-{op}-{be}{tag}-order{k}.txt', 'ftrace', op, fn, be, k,
                          ftrace_text(fn, xs(op, be, k, fn)))
                    entry(f'funclatency-{op}-{be}{tag}-order{k}.txt', 'funclatency', op, fn,
                          be, k, funclatency_text(fn, xs(op, be, k, fn)))
            # bcc: one run per function, as the runner does (--no-dma for
            # the wrapper, --dma-only for the sync function)
            for fn in fns:
                lines = ['# my_shmem_lat raw v2',
                         '# columns: ts_ns cpu pid op order size_bytes ns function']
                for k in BASE:
                    lines += [f'{1000 + i} 1 300 {op} {k} {4096 << k} {x} {fn}'
                              for i, x in enumerate(xs(op, be, k, fn))]
                n = len(lines) - 2
                lines.append(f'# summary: samples={n} lost=0 calls={n}')
                sync = fn != WRAPPER[op]
                entry(f'bcc-{op}-{be}' + (f'-{fn}' if sync else '') + '.txt', 'bcc', op,
                      fn if sync else None, be, None, '\n'.join(lines) + '\n')
            tp = ['# tracer: nop']
            for k in BASE:
                tp += [f'    shmemctl-300   [001] .....   300.{i:06d}: {op}: '
                       f'size={4096 << k} order={k} backend={be} ns={x}'
                       for i, x in enumerate(xs(op, be, k, WRAPPER[op]))]
            entry(f'tracepoint-{op}-{be}.txt', 'tracepoint', op, WRAPPER[op], be, None,
                  '\n'.join(tp) + '\n')
    with open(os.path.join(raw, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
    return index


class E6Dir:
    def __init__(self, **kw):
        self.kw = kw

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix='latency-e6-')
        self.path = os.path.join(self.tmp, 'run')
        shutil.copytree(MINI, self.path)
        make_e6(self.path, **self.kw)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.tmp)


class E6ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = E6Dir()
        cls.path = cls.d.__enter__()
        cls.summary, cls.md, cls.problems = report.run(cls.path, plots=False)

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__()

    def test_summary_rows_per_backend_and_function(self):
        self.assertEqual([], self.problems)
        rows = self.summary['experiments']['E6']['clean']['ftrace']
        got = {(r['backend'], r['function'], r['order']): r['p50'] for r in rows}
        # medians: base * (0.95 + 1.05) / 2 = base
        self.assertAlmostEqual(20000, got[('insn', 'my_shmem_dcache_clean_poc', 4)])
        self.assertAlmostEqual(22000, got[('dma', 'my_shmem_dcache_clean_poc', 4)])
        self.assertAlmostEqual(21000, got[('dma', 'arch_sync_dma_for_device', 4)])
        self.assertEqual(6, len(rows))
        bcc = {(r['backend'], r['function'], r['order'])
               for r in self.summary['experiments']['E6']['inval']['bcc']}
        self.assertIn(('dma', 'arch_sync_dma_for_cpu', 6), bcc)

    def test_markdown_table(self):
        md = self.md
        self.assertIn('## ' + report.EXPERIMENT_TITLE['E6'] + ' — `clean`', md)
        self.assertIn('→ `arch_sync_dma_for_device` → `dcache_clean_poc`', md)
        e6 = md.split('## ' + report.EXPERIMENT_TITLE['E6'] + ' — `clean`')[1]
        sec = e6.split('### ftrace (function_graph)')[1].split('###')[0]
        lines = [l for l in sec.splitlines() if l.startswith('|')]
        self.assertEqual(['order', 'insn 25p', '50p', '75p', '99p', 'N', 'dma 25p', '50p',
                          '75p', '99p', 'N', 'insn/dma 50p'],
                         [c.strip() for c in lines[0].strip('|').split('|')])
        row4 = [c.strip() for c in lines[2].strip('|').split('|')]
        # insn 18 19 21 22 µs (type 7: h = 0.75, 1.5, 2.25, 2.97);
        # dma x1.1: 19.8 20.9 23.1 24.2; share of the median 20/22 = 91%
        self.assertEqual(['4', '18.75', '20.00', '21.25', '21.97', '4'], row4[:6])
        self.assertEqual(['20.62', '22.00', '23.38', '24.17', '4', '91%'], row4[6:])
        # arch_sync_dma_for_device: 1 µs under dma: 18.9 19.95 22.05 23.1
        arch = [c.strip() for c in lines[3].strip('|').split('|')]
        self.assertEqual(['4 `arch_sync_dma_for_device`', '', '', '', '', '',
                          '19.69', '21.00', '22.31', '23.07', '4', ''], arch)
        self.assertIn('### funclatency (log2 hist)', e6)
        self.assertRegex(e6, r'\| order +\| insn~ 25p')
        self.assertNotIn('DMA is coherent', md)

    def test_x86_64_says_coherent(self):
        with E6Dir(arch='x86_64', arch_fn=False) as p:
            _, md, _ = report.run(p, plots=False)
        self.assertIn('On x86_64 DMA is coherent: `dma_sync_single_for_device` does no cache '
                      'maintenance and no `arch_sync_dma_for_device` exists, so `dma` is the '
                      'cost of the DMA API alone', md)
        self.assertIn('`dma_sync_single_for_cpu` does no cache', md)
        self.assertNotIn('arch_sync_dma_for_device`', md.split('DMA API alone')[1])


class E6SmokeTest(unittest.TestCase):
    def smoke(self, **kw):
        with E6Dir(**kw) as p:
            quiet(report.main, [p, '--no-plots'])
            return quiet(smoke_check.main, [p])[:2]

    def test_passes_and_checks_dma_against_insn(self):
        rc, out = self.smoke()
        self.assertEqual(0, rc, out)
        self.assertIn('ok 2 - every JSON file matches docs/results.schema.json\n', out)
        for be in ('insn', 'dma'):
            for inst in ('ftrace', 'funclatency', 'bcc', 'tracepoint'):
                self.assertRegex(out, rf'ok \d+ - E6 {be} {inst}: 16 samples')
            self.assertRegex(out, rf'ok \d+ - E6 inval {be}: every instrument covers every '
                                  r'order \[4, 6\]')
        self.assertRegex(out, r'ok \d+ - E6 clean ftrace order 4: dma 22\.00 µs against insn '
                              r'20\.00 µs, x1\.10 \(must agree within x3 on aarch64\)')
        self.assertRegex(out, r'ok \d+ - E6 clean dma arch_sync_dma_for_device order 6: '
                              r'medians agree within x3')

    def test_dma_far_from_insn_fails_on_aarch64(self):
        rc, out = self.smoke(dma_factor=4)
        self.assertEqual(1, rc)
        self.assertRegex(out, r'not ok \d+ - E6 inval bcc order 6: dma 320\.00 µs against insn '
                              r'80\.00 µs, x4\.00 \(must agree within x3 on aarch64\)')

    def test_dma_median_moved_by_load_agrees_by_the_fastest_calls(self):
        def series(be, xs):
            return {'experiment': 'E6', 'op': 'inval', 'instrument': 'ftrace',
                    'order': 6, 'backend': be, 'function': WRAPPER['inval'],
                    'samples': xs}
        insn = series('insn', [80000, 82000, 84000, 86000])
        # three of four dma calls in a loaded window (x4), the fastest not
        loaded = series('dma', [85000, 330000, 340000, 350000])
        res = smoke_check.e6_dma_insn([insn, loaded], {'arch': 'aarch64'})
        self.assertEqual(1, len(res))
        self.assertTrue(res[0][0], res)
        self.assertRegex(res[0][1], r"x4\.\d+; the fastest calls agree \(x1\.06\): load in one "
                                    r"recorder's window \(must agree within x3 on aarch64\)")
        # every dma call x4: not load, a real disagreement
        slow = series('dma', [330000, 335000, 340000, 350000])
        res = smoke_check.e6_dma_insn([insn, slow], {'arch': 'aarch64'})
        self.assertFalse(res[0][0], res)
        self.assertNotIn('fastest', res[0][1])

    def test_dma_far_from_insn_is_a_note_on_x86_64(self):
        rc, out = self.smoke(dma_factor=4, arch='x86_64', arch_fn=False)
        self.assertEqual(0, rc, out)
        self.assertRegex(out, r'ok \d+ - E6 clean tracepoint order 4: dma 80\.00 µs against '
                              r'insn 20\.00 µs, x4\.00 \(note: x86_64, DMA is coherent there')

    def smoke_with_fast_tracepoint(self, **kw):
        """Smoke check of an E6 run whose dma clean tracepoint samples are
        10x below the other instruments'."""
        with E6Dir(**kw) as p:
            path = os.path.join(p, 'raw', 'E6', 'tracepoint-clean-dma.txt')
            with open(path) as f:
                text = f.read()
            with open(path, 'w') as f:
                f.write(re.sub(r'ns=(\d+)', lambda m: f'ns={int(m.group(1)) // 10}', text))
            quiet(report.main, [p, '--no-plots'])
            return quiet(smoke_check.main, [p])[:2]

    def test_dma_instruments_unchecked_where_dma_is_coherent(self):
        # x86_64: the dma sync does no work, every instrument times its own
        # overhead; a spread that fails on aarch64 is an ok line there
        rc, out = self.smoke_with_fast_tracepoint(arch='x86_64', arch_fn=False)
        self.assertEqual(0, rc, out)
        self.assertRegex(out, r'ok \d+ - E6 clean dma order 4: not checked \(x86_64: DMA is '
                              r'coherent')
        self.assertRegex(out, r'ok \d+ - E6 clean insn order 4: medians agree within x3')
        rc, out = self.smoke_with_fast_tracepoint(arch='aarch64')
        self.assertEqual(1, rc, out)
        self.assertRegex(out, r'not ok \d+ - E6 clean dma order 4: medians agree within x3')

    def smoke_keeping(self, keep):
        """Smoke check of an E6 run whose index keeps only entries keep() accepts."""
        with E6Dir() as p:
            ip = os.path.join(p, 'raw', 'E6', 'index.json')
            with open(ip) as f:
                idx = json.load(f)
            with open(ip, 'w') as f:
                json.dump([e for e in idx if keep(e)], f)
            return quiet(smoke_check.main, [p])[:2]

    def test_an_instrument_missing_for_one_backend_fails(self):
        rc, out = self.smoke_keeping(lambda e: (e['instrument'], e['backend']) != ('bcc', 'dma'))
        self.assertEqual(1, rc)
        self.assertRegex(out, r'not ok \d+ - E6 dma bcc: 0 samples')
        self.assertRegex(out, r'ok \d+ - E6 insn bcc: 16 samples')

    def test_a_sync_function_missing_from_an_instrument_fails_on_aarch64(self):
        rc, out = self.smoke_keeping(lambda e: (e['instrument'], e['function'])
                                     != ('bcc', 'arch_sync_dma_for_cpu'))
        self.assertEqual(1, rc, out)
        self.assertRegex(out, r'not ok \d+ - E6 dma arch_sync_dma_for_cpu bcc: 0 samples')
        self.assertRegex(out, r'ok \d+ - E6 dma arch_sync_dma_for_device bcc: 8 samples')
        self.assertRegex(out, r'ok \d+ - E6 dma arch_sync_dma_for_cpu ftrace: 8 samples')

    def test_no_sync_function_expected_on_x86_64(self):
        rc, out = self.smoke(arch='x86_64', arch_fn=False)
        self.assertEqual(0, rc, out)
        self.assertNotIn('arch_sync_dma_for_cpu bcc', out)

    def test_no_dma_backend_at_all_fails(self):
        rc, out = self.smoke_keeping(lambda e: e['backend'] != 'dma')
        self.assertEqual(1, rc)
        self.assertIn('E6 dma ftrace: 0 samples (E6 always records insn and dma)', out)


if __name__ == '__main__':
    unittest.main()
