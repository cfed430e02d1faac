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
        self.assertEqual({'op': 'clean', 'size': 65536, 'order': 4, 'backend': 'insn',
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
        got, summ = parse.parse_bcc_raw(text)
        self.assertEqual([('clean', 4, 65536, 20544), ('inval', 0, 4096, 977)],
                         [(r['op'], r['order'], r['size'], r['ns']) for r in got])
        self.assertEqual({'samples': 2, 'lost': 3, 'calls': 5}, summ)

    def test_bcc_raw_without_summary_and_malformed(self):
        got, summ = parse.parse_bcc_raw(['# my_shmem_lat raw v1', '1 0 9 clean 0 4096 5'])
        self.assertIsNone(summ)
        self.assertEqual(5, got[0]['ns'])
        with self.assertRaisesRegex(ValueError, 'line 2'):
            parse.parse_bcc_raw(['# my_shmem_lat raw v1', '1 0 9 clean 0 4096'])


if __name__ == '__main__':
    unittest.main()
