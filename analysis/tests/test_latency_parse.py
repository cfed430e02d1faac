#!/usr/bin/env python3
"""Unit tests of analysis/parse.py on recorded tool output
(fixtures/latency/, see its README) and on small hand-made inputs."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import parse  # noqa: E402

FIX = os.path.join(HERE, 'fixtures', 'latency')


def lines(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read().splitlines()


class FunctionGraphTest(unittest.TestCase):
    def test_handmade_trace(self):
        # Hand-computed from ftrace-handmade.txt: the nested call (21.125 us)
        # without its children, the idle CPU's leaf in trace order, the
        # markers ! # @ $, a funcgraph-tail close, a "(ret=...)" suffix, a
        # "ms" duration on an .isra clone; the orphan close after the tail
        # and the open never closed are not counted.
        got = parse.parse_function_graph(lines('ftrace-handmade.txt'),
                                         'my_shmem_dcache_clean_poc')
        self.assertEqual([1250, 21125, 150500, 2200000, 123456789,
                          1234567000, 1500000], got)

    def test_other_function_in_same_trace(self):
        got = parse.parse_function_graph(lines('ftrace-handmade.txt'),
                                         'flush_tlb_mm_range')
        self.assertEqual([3000], got)

    def test_children_with_the_same_name_prefix_do_not_count(self):
        text = [
            ' a-1 [000] 1.0: funcgraph_entry:                   |  my_shmem_dcache_clean_poc() {',
            ' a-1 [000] 1.0: funcgraph_entry:        9.000 us   |    my_shmem_dcache_clean_poc_x();',
            ' a-1 [000] 1.0: funcgraph_exit:       + 30.000 us  |  }',
        ]
        self.assertEqual([30000], parse.parse_function_graph(text, 'my_shmem_dcache_clean_poc'))

    def test_interleaved_tasks_on_two_cpus(self):
        # Task 7 opens on CPU 0, task 8 opens and closes on CPU 1 in between:
        # each close belongs to its own task.
        text = [
            ' x-7 [000] 1.0: funcgraph_entry:                   |  f() {',
            ' y-8 [001] 1.0: funcgraph_entry:                   |  g() {',
            ' y-8 [001] 1.0: funcgraph_exit:         5.000 us   |  }',
            ' x-7 [000] 1.0: funcgraph_exit:       + 11.000 us  |  }',
        ]
        self.assertEqual([11000], parse.parse_function_graph(text, 'f'))
        self.assertEqual([5000], parse.parse_function_graph(text, 'g'))

    def test_latency_format_flags_column(self):
        text = ['  <...>-57 1.Ns.. 336.1: funcgraph_entry:      + 12.500 us  |  f();']
        self.assertEqual([12500], parse.parse_function_graph(text, 'f'))

    def test_no_calls(self):
        self.assertEqual([], parse.parse_function_graph(['cpus=2', ''], 'f'))


class Log2HistTest(unittest.TestCase):
    def test_recorded_nsec(self):
        h = parse.parse_log2_hist(lines('funclatency-malloc-nsec.txt'))
        self.assertEqual('nsec', h['unit'])
        self.assertEqual(25, len(h['buckets']))
        self.assertEqual((0, 2, 0), h['buckets'][0])
        self.assertEqual((1024, 2048, 179745), h['buckets'][10])
        self.assertEqual((16777216, 33554432, 3), h['buckets'][-1])
        # 179745 + 93352 + 259 + 6150 + 1038 + 1055 + 315 + 84 + 30 + 18
        # + 20 + 81 + 27 + 12 + 3
        self.assertEqual(282189, parse.hist_count(h))

    def test_recorded_usec_scaled_to_ns(self):
        h = parse.parse_log2_hist(lines('funclatency-malloc-usec.txt'))
        self.assertEqual('usec', h['unit'])
        self.assertEqual((0, 2000, 168100), h['buckets'][0])
        self.assertEqual((2000, 4000, 87803), h['buckets'][1])
        self.assertEqual((8192000, 16384000, 4), h['buckets'][-1])

    def test_recorded_intervals_are_summed(self):
        # -T -i 1: two timestamped histograms; 8192..16383 holds 45939 + 75445,
        # 16777216.. appears only in the second.
        h = parse.parse_log2_hist(lines('funclatency-free-interval.txt'))
        b = {lo: c for lo, _, c in h['buckets']}
        self.assertEqual(45939 + 75445, b[8192])
        self.assertEqual(4, b[16777216])

    def test_no_calls_counted_is_empty_not_an_error(self):
        h = parse.parse_log2_hist(['Tracing f.  Hit Ctrl-C to exit', '',
                                   'Exiting trace of f'])
        self.assertEqual([], h['buckets'])

    def test_attach_failure_is_an_error(self):
        with self.assertRaisesRegex(ValueError, 'no log2 histogram'):
            parse.parse_log2_hist(['failed to attach kprobe: -2'])

    def test_bcc_sections(self):
        text = ['', 'op = clean, order 4 (64 KiB)',
                '     nsec                : count     distribution',
                '     16384 -> 32767      : 7        |****|',
                '', 'op = clean, order 6 (256 KiB)',
                '     nsec                : count     distribution',
                '     65536 -> 131071     : 5        |****|']
        hs = parse.parse_log2_hists(text)
        self.assertEqual(['clean, order 4 (64 KiB)', 'clean, order 6 (256 KiB)'], list(hs))
        self.assertEqual([(65536, 131072, 5)], hs['clean, order 6 (256 KiB)']['buckets'])

    def test_not_a_log2_bucket(self):
        with self.assertRaisesRegex(ValueError, 'line 2: not a log2 bucket'):
            parse.parse_log2_hist(['     nsec                : count    distribution',
                                   '        16 -> 40         : 3        |*|'])


class SampleLineTest(unittest.TestCase):
    def test_tracepoint_lines(self):
        text = [
            '# tracer: nop',
            '    my_shmem_lat-312   [001] .....  1021.500000: clean: size=65536 order=4 backend=insn ns=20544',
            '    my_shmem_lat-312   [001] 1021.6: my_shmem:inval: size=4096 order=0 backend=none ns=310',
            '    my_shmem_lat-312   [001] 1021.7: alloc: pgoff=0 order=4 pages=16 ns=999',
        ]
        got = parse.parse_samples(text)
        self.assertEqual(3, len(got))
        self.assertEqual({'op': 'clean', 'alloc_size': 65536, 'order': 4, 'backend': 'insn',
                          'ns': 20544}, got[0])
        self.assertEqual(('inval', 310), (got[1]['op'], got[1]['ns']))
        self.assertEqual('alloc', got[2]['op'])     # not a clean / inval event

    def test_op_from_default_without_event_name(self):
        got = parse.parse_samples(['order=4 size=65536 ns=7'], default_op='clean')
        self.assertEqual('clean', got[0]['op'])

    def test_bad_integer_names_the_line(self):
        with self.assertRaisesRegex(ValueError, 'line 2: ns=x'):
            parse.parse_samples(['', 'clean: size=1 order=0 backend=insn ns=x'])

    def test_bcc_raw(self):
        text = ['# my_shmem_lat raw v1',
                '# started 2026-01-01T00:00:00Z, page size 4096, ops clean',
                '# columns: ts_ns cpu pid op order size_bytes ns',
                '1021503326112 1 312 clean 4 65536 20544',
                '1021503400000 0 312 inval 0 4096 977',
                '# summary: samples=2 lost=3 calls=5']
        self.assertTrue(parse.is_bcc_raw(text))
        self.assertEqual(1, parse.bcc_raw_version(text))
        got, summ = parse.parse_bcc_raw(text)
        # v1 has no function column: each sample is of its op's wrapper
        self.assertEqual([('clean', 4, 65536, 20544, 'my_shmem_dcache_clean_poc'),
                          ('inval', 0, 4096, 977, 'my_shmem_dcache_inval_poc')],
                         [(r['op'], r['order'], r['alloc_size'], r['ns'], r['function'])
                          for r in got])
        self.assertEqual({'samples': 2, 'lost': 3, 'calls': 5}, summ)

    def test_bcc_raw_v2(self):
        text = ['# my_shmem_lat raw v2',
                '# columns: ts_ns cpu pid op order size_bytes ns function',
                '1021503326112 1 312 clean 4 65536 20544 my_shmem_dcache_clean_poc',
                '1021503326900 1 312 clean 4 65536 19200 arch_sync_dma_for_device',
                '1021503400000 0 312 inval 6 262144 977 arch_sync_dma_for_cpu',
                '# summary: samples=3 lost=0 calls=3']
        self.assertEqual(2, parse.bcc_raw_version(text))
        got, summ = parse.parse_bcc_raw(text)
        self.assertEqual([('clean', 4, 65536, 20544, 'my_shmem_dcache_clean_poc'),
                          ('clean', 4, 65536, 19200, 'arch_sync_dma_for_device'),
                          ('inval', 6, 262144, 977, 'arch_sync_dma_for_cpu')],
                         [(r['op'], r['order'], r['alloc_size'], r['ns'], r['function'])
                          for r in got])
        self.assertEqual({'samples': 3, 'lost': 0, 'calls': 3}, summ)

    def test_bcc_raw_v2_needs_the_function_column(self):
        # a v1 line in a v2 file, and a v2 line in a v1 file, are both errors
        with self.assertRaisesRegex(ValueError, r'line 2: not "ts_ns .* ns function" \(raw v2\)'):
            parse.parse_bcc_raw(['# my_shmem_lat raw v2', '1 0 9 clean 0 4096 5'])
        with self.assertRaisesRegex(ValueError, r'line 2: .*\(raw v1\)'):
            parse.parse_bcc_raw(['# my_shmem_lat raw v1', '1 0 9 clean 0 4096 5 f'])
        with self.assertRaisesRegex(ValueError, 'line 2: "0x1" is not a function name'):
            parse.parse_bcc_raw(['# my_shmem_lat raw v2', '1 0 9 clean 0 4096 5 0x1'])

    def test_bcc_raw_without_summary_and_malformed(self):
        got, summ = parse.parse_bcc_raw(['# my_shmem_lat raw v1', '1 0 9 clean 0 4096 5'])
        self.assertIsNone(summ)
        self.assertEqual(5, got[0]['ns'])
        with self.assertRaisesRegex(ValueError, 'line 2'):
            parse.parse_bcc_raw(['# my_shmem_lat raw v1', '1 0 9 clean 0 4096'])


class IndexEntryTest(unittest.TestCase):
    META = {'page_size': 4096, 'size': 4194304}

    def test_current_entry_unchanged(self):
        e = {'file': 'f', 'instrument': 'ftrace', 'op': 'clean', 'function': 'f',
             'backend': 'dma', 'order': 4, 'alloc_size': 65536, 'mapping_size': 4194304}
        self.assertEqual((e, None), parse.normalize_entry('E6', e, self.META))

    def test_old_e2_entry(self):
        e = {'file': 'tracepoint-clean.txt', 'instrument': 'tracepoint', 'op': 'clean',
             'order': 4, 'size': 65536, 'backend': 'insn', 'function': ''}
        got, how = parse.normalize_entry('E2', e, self.META)
        self.assertEqual((65536, 4194304, 'my_shmem_dcache_clean_poc'),
                         (got['alloc_size'], got['mapping_size'], got['function']))
        self.assertNotIn('size', got)
        self.assertIn('alloc_size = size', how)

    def test_old_e1_entry(self):
        # the old runner wrote E1's mapping size as "size"
        e = {'file': 'ftrace-clean-size-64K.txt', 'instrument': 'ftrace', 'op': 'clean',
             'order': 0, 'size': 65536, 'backend': 'insn',
             'function': 'my_shmem_dcache_clean_poc'}
        got, how = parse.normalize_entry('E1', e, self.META)
        self.assertEqual((4096, 65536), (got['alloc_size'], got['mapping_size']))
        self.assertIn('mapping_size = size', how)

    def test_old_bcc_entry_keeps_function_null(self):
        e = {'file': 'bcc-clean.txt', 'instrument': 'bcc', 'op': 'clean', 'order': None,
             'size': None, 'backend': 'insn', 'function': ''}
        got, _ = parse.normalize_entry('E2', e, self.META)
        self.assertEqual((None, None), (got['function'], got['alloc_size']))

    def test_mixed_and_empty_entries_are_refused(self):
        with self.assertRaisesRegex(ValueError, 'mixed formats'):
            parse.normalize_entry('E2', {'size': 1, 'alloc_size': 1}, self.META)
        with self.assertRaisesRegex(ValueError, 'neither "alloc_size"'):
            parse.normalize_entry('E2', {'file': 'x'}, self.META)


if __name__ == '__main__':
    unittest.main()
