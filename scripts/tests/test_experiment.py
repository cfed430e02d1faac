# SPDX-License-Identifier: GPL-2.0
"""Host tests of scripts/experiment, no guest: its pure parts (sizes, E1
ladder, CPU and memory identification, report cutting), its bounded stop,
and whole runs against a fake tracefs directory, a fake module (parameters
and counters) and fake tools (scripts/tests/fixtures/experiment/bin: a
shmemctl that plays the module, trace-cmd, funclatency and the bcc tool,
any of which can be told to ignore SIGINT).

Run: python3 scripts/tests/run-experiment-tests (TAP) or
     python3 -m unittest discover -s scripts/tests -p 'test_*.py'
"""
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(REPO, 'scripts', 'experiment')
FIX = os.path.join(HERE, 'fixtures', 'experiment')
BIN = os.path.join(FIX, 'bin')
PAGE = os.sysconf('SC_PAGE_SIZE')


def load_experiment():
    loader = importlib.machinery.SourceFileLoader('experiment_under_test', SCRIPT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


X = load_experiment()
X.QUIET = True      # the functions called here directly: no progress lines

try:
    sys.path.insert(0, os.path.join(REPO, 'analysis'))
    import schema as SCHEMA     # analysis/schema.py: validate(kind, doc)
    if not hasattr(SCHEMA, 'validate'):
        SCHEMA = None
except Exception:               # absent, or its jsonschema missing
    SCHEMA = None
finally:
    sys.path.pop(0)

INDEX_KEYS = ('file', 'instrument', 'op', 'function', 'backend', 'order',
              'alloc_size', 'mapping_size')


def report_wrapper(op):
    """The module's wrapper for OP (what the bcc tool names in its samples)."""
    return {'clean': 'my_shmem_dcache_clean_poc', 'inval': 'my_shmem_dcache_inval_poc'}[op]


def read(path):
    with open(path) as f:
        return f.read()


def put(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(f'{text}\n' if text != '' else '')


# --- pure parts ---------------------------------------------------------------

class Sizes(unittest.TestCase):
    def test_to_bytes(self):
        self.assertEqual(X.to_bytes('16K'), 16384)
        self.assertEqual(X.to_bytes('4m'), 4 << 20)
        self.assertEqual(X.to_bytes('1G'), 1 << 30)
        self.assertEqual(X.to_bytes('4096'), 4096)
        for bad in ('', 'K', '4MB', '-1', '1.5M'):
            with self.assertRaises(X.Usage, msg=bad):
                X.to_bytes(bad)

    def test_human(self):
        self.assertEqual([X.human(b) for b in (16384, 4 << 20, 1 << 30, 1000)],
                         ['16K', '4M', '1G', '1000'])


class E1Ladder(unittest.TestCase):
    GIB = 1 << 30

    def test_ladder_capped_at_1g(self):
        sizes, w = X.e1_sizes(8 * self.GIB, 0, 4096)
        self.assertEqual(sizes[0], 16 << 10)
        self.assertEqual(sizes[-1], self.GIB)
        self.assertTrue(all(b == 4 * a for a, b in zip(sizes, sizes[1:])))
        self.assertEqual(w, [])

    def test_mem_available_less_reserve(self):
        # 600 MiB available, 256 MiB reserved: 256 MiB is the largest step
        sizes, _ = X.e1_sizes(600 << 20, 0, 4096)
        self.assertEqual(sizes[-1], 256 << 20)
        # bcc compiles in the target: 640 MiB reserved, so 64 MiB at most
        # of 800 MiB
        sizes, _ = X.e1_sizes(800 << 20, 0, 4096, bcc=True)
        self.assertEqual(sizes[-1], 64 << 20)

    def test_max_pages(self):
        sizes, _ = X.e1_sizes(8 * self.GIB, 1000, 4096)    # 4000 KiB cap
        self.assertEqual(sizes[-1], 1 << 20)
        self.assertEqual(X.human(sizes[-1]), '1M')
        sizes, _ = X.e1_sizes(8 * self.GIB, 1024, 4096)    # 4 MiB: included
        self.assertEqual(sizes[-1], 4 << 20)

    def test_e1_max_wins_with_a_warning(self):
        sizes, w = X.e1_sizes(8 * self.GIB, 0, 4096, e1_max='64K')
        self.assertEqual(sizes, [16 << 10, 64 << 10])
        self.assertEqual(w, [])
        sizes, w = X.e1_sizes(300 << 20, 0, 4096, e1_max='256M')
        self.assertEqual(sizes[-1], 256 << 20)
        self.assertEqual(len(w), 1)
        self.assertIn('does not fit', w[0])

    def test_explicit_sizes(self):
        sizes, _ = X.e1_sizes(8 * self.GIB, 0, 4096, explicit='16K,1M 8K')
        self.assertEqual(sizes, [16 << 10, 1 << 20, 8 << 10])
        with self.assertRaises(X.Usage):
            X.e1_sizes(8 * self.GIB, 0, 4096, explicit='6K')

    def test_nothing_fits(self):
        with self.assertRaises(X.Failure):
            X.e1_sizes(100 << 20, 0, 4096)


class Options(unittest.TestCase):
    def test_defaults(self):
        o = X.parse_args(['--out', 'd'])
        self.assertEqual((o.exp_list, o.n, o.order_list, o.size_b, o.backend, o.instr,
                          o.mode, o.graph_depth, o.bcc_timeout, o.stop_timeout),
                         (['E2', 'E1'], 100, [0, 2, 4, 6, 8, 10], 4 << 20, 'insn',
                          ['ftrace', 'funclatency', 'bcc', 'tracepoint'], 'turn', 1, 900, 120))

    def test_e4_and_e6_and_dma(self):
        o = X.parse_args(['-o', 'd', '-e', 'E4,E6', '--backend', 'dma'])
        self.assertEqual(o.exp_list, ['E2', 'E6'])
        self.assertTrue(o.want_rt)
        self.assertEqual(o.backend, 'dma')

    def test_usage_errors(self):
        for argv in (['-e', 'E2'], ['-o', 'd', '-n', '0'], ['-o', 'd', '--orders', '11'],
                     ['-o', 'd', '--backend', 'fast'], ['-o', 'd', '--mode', 'all'],
                     ['-o', 'd', '-i', 'perf'], ['-o', 'd', '--bogus'], ['-o'],
                     ['-o', 'd', '-e', ','], ['-o', 'd', '--size', '4Q']):
            with self.assertRaises(X.Usage, msg=argv):
                X.parse_args(argv)

    def test_command_line_exit_status_and_help(self):
        r = subprocess.run([SCRIPT, '--out', 'x', '-e', 'E7'], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown experiment 'E7'", r.stderr)
        self.assertIn('(see --help)', r.stderr)
        r = subprocess.run([SCRIPT, '--help'], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for opt in list(X.VALUED) + ['--quiet', '--help', 'E6', 'dma', 'MY_SHMEM_TRACEFS',
                                     'MY_SHMEM_PARAMS', 'MY_SHMEM_STATS', 'MY_SHMEM_TRACE_CMD',
                                     'MY_SHMEM_FUNCLATENCY', 'MY_SHMEM_BCC_TOOL',
                                     'MY_SHMEM_MEM_PREALLOC', 'EXIT STATUS']:
            self.assertIn(opt, r.stdout, opt)


class Mounts(unittest.TestCase):
    """fs_type(): where the workload lives decides whether it is staged on
    tmpfs (a guest's 9p share re-reads the binary on every exec)."""
    MOUNTS = """rootfs / rootfs rw 0 0
repo /work/main 9p rw,trans=virtio 0 0
tmpfs /tmp tmpfs rw 0 0
/dev/vda1 /work/main/build/local ext4 rw 0 0
share /my\\040dir 9p rw 0 0
"""

    def test_longest_mount_point_wins(self):
        self.assertEqual(X.fs_type('/work/main/build/aarch64/bin/shmemctl', self.MOUNTS), '9p')
        self.assertEqual(X.fs_type('/work/main/build/local/shmemctl', self.MOUNTS), 'ext4')
        self.assertEqual(X.fs_type('/tmp/x', self.MOUNTS), 'tmpfs')
        self.assertEqual(X.fs_type('/usr/bin/shmemctl', self.MOUNTS), 'rootfs')

    def test_prefix_is_not_a_parent(self):
        self.assertEqual(X.fs_type('/work/mainly/x', self.MOUNTS), 'rootfs')

    def test_escaped_space(self):
        self.assertEqual(X.fs_type('/my dir/shmemctl', self.MOUNTS), '9p')


class Identification(unittest.TestCase):
    def lscpu(self, name):
        return read(os.path.join(FIX, name))

    def test_cpu_x86(self):
        cpu = X.cpu_info('x86_64', self.lscpu('lscpu-x86_64.json'))
        self.assertEqual(cpu['architecture'], 'x86_64')
        self.assertEqual(cpu['vendor'], 'AuthenticAMD')
        self.assertEqual(cpu['model_name'], 'QEMU Virtual CPU version 2.5+')
        self.assertEqual(X.cpu_model(cpu), 'QEMU Virtual CPU version 2.5+')
        self.assertIsInstance(cpu['lscpu'], list)

    def test_cpu_arm64_nested(self):
        # util-linux 2.38 nests "Model name" under "Vendor ID"
        cpu = X.cpu_info('aarch64', self.lscpu('lscpu-aarch64.json'))
        self.assertEqual((cpu['vendor'], cpu['model_name']), ('ARM', 'Cortex-A76'))
        self.assertEqual(X.cpu_model(cpu), 'Cortex-A76')

    def test_cpu_without_lscpu(self):
        cpu = X.cpu_info('riscv64', '')
        self.assertEqual(cpu, {'architecture': 'riscv64', 'vendor': None, 'model_name': None,
                               'lscpu': []})
        self.assertEqual(X.cpu_model(cpu), 'unknown')

    def test_memory(self):
        self.assertEqual(X.memory_info({'MY_SHMEM_MEM_PREALLOC': '1'})['prealloc'], True)
        self.assertEqual(X.memory_info({'MY_SHMEM_MEM_PREALLOC': '0'})['prealloc'], False)
        self.assertEqual(X.memory_info({}), {'prealloc': None,
                                             'how': 'bare metal: host RAM, no lazy backing'})
        # a guest of a scripts/vm-run that does not set it: not bare metal
        m = X.memory_info({'MY_SHMEM_ACCEL': 'TCG'})
        self.assertIsNone(m['prealloc'])
        self.assertIn('unknown', m['how'])

    def test_clocksource(self):
        tmp = tempfile.mkdtemp()
        try:
            path = os.path.join(tmp, 'current_clocksource')
            with open(path, 'w') as f:
                f.write('tsc\n')
            self.assertEqual(X.clocksource(path), 'tsc')
            with open(path, 'w') as f:
                f.write('\n')
            self.assertIsNone(X.clocksource(path))
            self.assertIsNone(X.clocksource(os.path.join(tmp, 'absent')))
        finally:
            shutil.rmtree(tmp)

    def test_caveat_from_docs(self):
        text = read(os.path.join(REPO, 'docs', 'tcg-caveat.txt')).strip()
        self.assertEqual(X.caveat({'MY_SHMEM_ACCEL': 'TCG'}), text)
        self.assertIsNone(X.caveat({'MY_SHMEM_ACCEL': 'KVM'}))
        self.assertIsNone(X.caveat({}))
        with self.assertRaises(X.Failure):
            X.caveat({'MY_SHMEM_ACCEL': 'TCG'}, repo='/nonexistent')


class ReportCutting(unittest.TestCase):
    REPORT = """cpus=2
 experiment-280   [000]   10.000100: print:                tracing_mark_write: my_shmem-experiment begin order4
 my_shmem-worklo-287   [001]   10.000200: funcgraph_entry:      + 21.125 us |  my_shmem_dcache_clean_poc();
 kworker/1:1-30   [001]   10.000250: funcgraph_entry:      + 3.000 us |  flush_tlb_mm_range();
 my_shmem-worklo-287   [001]   10.000300: funcgraph_entry:      + 5.000 us |  flush_tlb_mm_range();
CPU:1 [12 EVENTS DROPPED]
 experiment-280   [000]   10.000400: print:                tracing_mark_write: my_shmem-experiment end order4
 experiment-280   [000]   10.000500: print:                tracing_mark_write: my_shmem-experiment begin order40
 my_shmem-worklo-287   [001]   10.000600: funcgraph_entry:      + 99.000 us |  my_shmem_dcache_clean_poc();
 experiment-280   [000]   10.000700: print:                tracing_mark_write: my_shmem-experiment end order40
CPU:0 [3 EVENTS DROPPED]
""".splitlines()

    def test_split(self):
        out = X.split_report(self.REPORT, 'order4', 'my_shmem_dcache_clean_poc')
        self.assertEqual(out[0], 'cpus=2')
        fn = [x for x in out if 'clean_poc' in x]
        self.assertEqual(len(fn), 1)
        self.assertIn('21.125', fn[0])      # not order40's
        tlb = X.split_report(self.REPORT, 'order4', 'flush_tlb_mm_range', 'my_shmem-worklo')
        self.assertEqual(len([x for x in tlb if 'flush_tlb' in x]), 1)   # no kworker
        self.assertEqual(X.split_report(self.REPORT, 'order4', 'flush_tlb_mm_range', 'my_shmem'),
                         ['cpus=2', 'CPU:1 [12 EVENTS DROPPED]', 'CPU:0 [3 EVENTS DROPPED]'])

    def test_split_by_timestamp_not_position(self):
        # trace-cmd report printed CPU 0's later calls before CPU 1's
        # earlier end marker (aarch64 smoke, 2026-12-01): they belong to
        # the job whose markers bracket their timestamps
        report = """cpus=2
 python3-158   [001]    74.674680: print:                tracing_mark_write: my_shmem-experiment begin order0
 shmemctl-272   [000]    74.801309: funcgraph_entry:        2.000 us   |  my_shmem_dcache_clean_poc();
 shmemctl-271   [001]    74.750632: funcgraph_entry:        1.232 us   |  my_shmem_dcache_clean_poc();
 python3-158   [001]    74.761866: print:                tracing_mark_write: my_shmem-experiment end order0
 python3-158   [001]    74.762605: print:                tracing_mark_write: my_shmem-experiment begin order2
 python3-158   [001]    74.812769: print:                tracing_mark_write: my_shmem-experiment end order2
""".splitlines()
        fn = 'my_shmem_dcache_clean_poc'
        o0 = [x for x in X.split_report(report, 'order0', fn) if fn in x]
        o2 = [x for x in X.split_report(report, 'order2', fn) if fn in x]
        self.assertEqual(len(o0), 1)
        self.assertIn('1.232', o0[0])
        self.assertEqual(len(o2), 1)
        self.assertIn('74.801309', o2[0])
        # a job without its end marker gets nothing
        self.assertEqual(X.split_report(report[:4], 'order0', fn), ['cpus=2'])

    def test_dropped(self):
        self.assertEqual(X.dropped(self.REPORT), 15)

    def test_hist_total(self):
        path = os.path.join(REPO, 'analysis', 'tests', 'fixtures', 'latency',
                            'recorded-aarch64-E2', 'funclatency-clean-order10.txt')
        self.assertEqual(X.hist_total(path), 100)

    def test_split_bcc(self):
        lines = ['# my_shmem_lat raw v2', '# columns: ts_ns cpu pid op order size_bytes ns function',
                 '1 0 9 clean 0 4096 10 my_shmem_dcache_clean_poc',
                 '# mark 1 samples=1 lost=0 calls=1',
                 '2 0 9 clean 0 4096 11 my_shmem_dcache_clean_poc',
                 '3 0 9 clean 0 4096 12 my_shmem_dcache_clean_poc',
                 '# mark 2 samples=2 lost=1 calls=3',
                 '# summary: samples=3 lost=1 calls=4']
        two = X.split_bcc(lines, 2)
        self.assertEqual(two[0], '# my_shmem_lat raw v2')
        self.assertEqual([x.split()[6] for x in two if not x.startswith('#')], ['11', '12'])
        self.assertEqual(two[-1], '# summary: samples=2 lost=1 calls=3')
        self.assertEqual(X.bcc_summary(two), {'samples': 2, 'lost': 1, 'calls': 3})
        self.assertEqual(X.bcc_summary(X.split_bcc(lines, 1))['samples'], 1)


# --- the bounded stop -----------------------------------------------------------

FIXTURE_PROC = r'''
import os, signal, sys, time
def arm():
    signal.signal(signal.SIGINT, lambda *a: sys.exit(0))
    for s in sys.argv[1].split():
        signal.signal(getattr(signal, "SIG" + s), signal.SIG_IGN)
arm()
if sys.argv[2]:
    pid = os.fork()
    if pid == 0:
        arm()
        while True:
            time.sleep(0.1)
    with open(sys.argv[2], "w") as f:
        f.write(str(pid))
print("ready", flush=True)
while True:
    time.sleep(0.1)
'''


class Stop(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.log = os.path.join(self.tmp, 'log')
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            if p.stdout:
                p.stdout.close()
        shutil.rmtree(self.tmp)

    def spawn(self, ignore, child=''):
        p = subprocess.Popen([sys.executable, '-c', FIXTURE_PROC, ignore, child],
                             stdout=subprocess.PIPE, start_new_session=True)
        self.procs.append(p)
        p.stdout.readline()     # its handlers are set
        return p

    def test_exits_on_sigint(self):
        p = self.spawn('')
        t0 = time.monotonic()
        self.assertTrue(X.stop_bg(p, 'fixture', self.log, 30, lambda: 'diag\n'))
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIsNotNone(p.returncode)
        self.assertFalse(os.path.exists(self.log))

    def test_ignores_sigint_described_then_killed(self):
        childf = os.path.join(self.tmp, 'child')
        p = self.spawn('INT', childf)
        child = int(read(childf))
        t0 = time.monotonic()
        self.assertFalse(X.stop_bg(p, 'fixture', self.log, 1, lambda: 'diag: extra state\n'))
        dt = time.monotonic() - t0
        self.assertGreaterEqual(dt, 1)
        self.assertLess(dt, 12)
        self.assertFalse(X.alive(p.pid))
        for _ in range(50):     # SIGKILLed, the orphan still has to exit
            if not X.alive(child):
                break
            time.sleep(0.1)
        self.assertFalse(X.alive(child), 'its child was killed too')
        log = read(self.log)
        self.assertIn(f'fixture (pid {p.pid}) still running 1 s after SIGINT', log)
        self.assertIn(f'--- pid {child}: kernel stack', log)
        self.assertIn(f'--- pid {p.pid}: threads (tid comm state)', log)
        self.assertRegex(log, rf'(?m)^ *{child} ')     # ps line of the child
        self.assertIn('diag: extra state', log)

    def test_ignores_sigint_and_sigterm(self):
        p = self.spawn('INT TERM')
        t0 = time.monotonic()
        self.assertFalse(X.stop_bg(p, 'fixture', self.log, 1))
        dt = time.monotonic() - t0
        self.assertGreaterEqual(dt, 1 + X.KILL_GRACE)
        self.assertLess(dt, 15 + X.KILL_GRACE)   # a loaded machine: ps is slow
        self.assertEqual(p.returncode, -signal.SIGKILL)

    def test_descendants_deepest_first(self):
        p = subprocess.Popen(['bash', '-c', 'bash -c "sleep 30 & wait" & wait'],
                             start_new_session=True)
        self.procs.append(p)
        time.sleep(0.5)
        d = X.descendants(p.pid)
        self.assertEqual(len(d), 2)
        with open(f'/proc/{d[-1]}/stat') as f:
            self.assertEqual(int(f.read().rsplit(')', 1)[1].split()[1]), p.pid)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


# --- whole runs against the fakes -----------------------------------------------------

def make_world(root, arch='x86_64'):
    """A fake tracefs, module parameters and counters under ROOT; the
    environment that points the runner and the fake tools at them."""
    T, P, S = (os.path.join(root, d) for d in ('tracing', 'params', 'stats'))
    funcs = ['my_shmem_dcache_clean_poc [my_shmem]', 'my_shmem_dcache_inval_poc [my_shmem]',
             'do_exit']
    funcs += (['tlb_flush_mmu', 'arch_sync_dma_for_device', 'arch_sync_dma_for_cpu']
              if arch == 'aarch64' else ['flush_tlb_mm_range'])
    for name, v in (('available_tracers', 'blk function_graph function nop'),
                    ('available_filter_functions', '\n'.join(funcs)),
                    ('current_tracer', 'nop'), ('tracing_on', 1), ('trace', ''),
                    ('trace_marker', ''), ('set_ftrace_filter', '#### all functions enabled ####'),
                    ('set_graph_function', '#### all functions enabled ####'),
                    ('set_ftrace_pid', 'no pid'), ('max_graph_depth', 0),
                    ('kprobe_events', 'p:kprobes/p_my_shmem_dcache_clean_poc_bcc_99 '
                                      'my_shmem_dcache_clean_poc'),
                    ('per_cpu/cpu0/stats', 'entries: 0\noverrun: 0')):
        put(os.path.join(T, name), v)
    inst = os.path.join(T, 'instances', X.INST_NAME)
    for name, v in (('tracing_on', 1), ('buffer_size_kb', 1408), ('trace', ''),
                    ('events/enable', 0), ('events/my_shmem/clean/enable', 0),
                    ('events/my_shmem/inval/enable', 0),
                    ('per_cpu/cpu0/stats', 'entries: 0\noverrun: 2'),
                    ('per_cpu/cpu1/stats', 'entries: 0\noverrun: 1')):
        put(os.path.join(inst, name), v)
    for name, v in (('max_contiguous_alloc_order', 3), ('backend', 'pmem'),
                    ('max_pages', 0), ('seg0_pages', 512)):
        put(os.path.join(P, name), v)
    for name, v in (('pages_in_use', 0), ('allocs_by_order', ' '.join(['0'] * 11)),
                    ('order_fallbacks', 0), ('cleans', 0), ('invals', 0), ('files', 0)):
        put(os.path.join(S, name), v)
    env = dict(os.environ)
    for k in list(env):
        if k.startswith('MY_SHMEM_') or k.startswith('FAKE_'):
            del env[k]
    env.update({'MY_SHMEM_TRACEFS': T, 'MY_SHMEM_PARAMS': P, 'MY_SHMEM_STATS': S,
                'MY_SHMEM_TRACE_CMD': os.path.join(BIN, 'trace-cmd'),
                'MY_SHMEM_FUNCLATENCY': os.path.join(BIN, 'funclatency'),
                'MY_SHMEM_BCC_TOOL': os.path.join(BIN, 'my_shmem_lat'),
                'MY_SHMEM_ACCEL': 'TCG', 'MY_SHMEM_QEMU_VERSION': 'QEMU emulator version 7.2.22',
                'MY_SHMEM_MEM_PREALLOC': '1', 'FAKE_STATE': root})
    return env, T, P, S


@unittest.skipUnless(os.geteuid() == 0, 'the runner insists on root')
class FakeRuns(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix='experiment-test-')
        self.out = os.path.join(self.root, 'out')

    def tearDown(self):
        shutil.rmtree(self.root)

    def run_exp(self, args, arch='x86_64', extra_env=None, timeout=180):
        self.env, self.T, self.P, self.S = make_world(self.root, arch)
        self.env.update(extra_env or {})
        r = subprocess.run([SCRIPT, '--out', self.out, '--workload', os.path.join(BIN, 'shmemctl'),
                            '--stop-timeout', '2'] + args,
                           env=self.env, capture_output=True, text=True, timeout=timeout)
        self.stderr = r.stderr
        return r.returncode

    def index(self, exp):
        return json.loads(read(os.path.join(self.out, 'raw', exp, 'index.json')))

    def meta(self):
        return json.loads(read(os.path.join(self.out, 'meta.json')))

    def check_index(self, exp, index):
        for e in index:
            self.assertEqual(list(e)[:8], list(INDEX_KEYS), e['file'])
            self.assertNotIn('size', e)
            self.assertTrue(os.path.exists(os.path.join(self.out, 'raw', exp, e['file'])))
            if e['order'] is None:
                self.assertIsNone(e['alloc_size'])
            else:
                self.assertEqual(e['alloc_size'], PAGE << e['order'], e['file'])
            self.assertIsInstance(e['mapping_size'], int)
            if e['instrument'] == 'bcc':
                # the wrapper's run: null (its samples name the function);
                # the --dma-only run: the sync function, in the file name too
                if e['function'] is not None:
                    self.assertIn(e['function'], ('arch_sync_dma_for_device',
                                                  'arch_sync_dma_for_cpu'))
                    self.assertTrue(e['file'].endswith(f"-{e['function']}.txt"), e['file'])
            else:
                self.assertTrue(e['function'])
            if e['op'] != 'tlb':
                self.assertGreater(e['samples'], 0, e['file'])
                self.assertEqual(e['samples'], e['calls'], e['file'])
        if SCHEMA:
            SCHEMA.validate('index', index)

    def check_clean_state(self, ftrace=True):
        """ftrace reset, the module put back as found, kprobes removed."""
        self.assertEqual(read(f'{self.T}/current_tracer').strip(), 'nop')
        if ftrace:
            self.assertEqual(read(f'{self.T}/set_ftrace_filter').strip(), '')
            self.assertEqual(read(f'{self.T}/max_graph_depth').strip(), '0')
        self.assertEqual(read(f'{self.T}/tracing_on').strip(), '1')
        self.assertEqual(read(f'{self.P}/backend').strip(), 'pmem')
        self.assertEqual(read(f'{self.P}/max_contiguous_alloc_order').strip(), '3')
        self.assertEqual(read(f'{self.P}/seg0_pages').strip(), '512')
        self.assertIn('-:kprobes/p_my_shmem_dcache_clean_poc_bcc_99', read(f'{self.T}/kprobe_events'))
        inst = f'{self.T}/instances/{X.INST_NAME}'
        self.assertEqual(read(f'{inst}/events/enable').strip(), '0')
        self.assertEqual(read(f'{inst}/tracing_on').strip(), '0')
        out = subprocess.run(['pgrep', '-f', BIN], capture_output=True, text=True).stdout
        self.assertEqual(out.strip(), '', 'no fake recorder left running')

    def test_e2_e3_all_recorders(self):
        rc = self.run_exp(['-e', 'E2,E3', '-n', '6', '--orders', '0 2', '--size', '16K'])
        self.assertEqual(rc, 0, self.stderr)
        for exp, op in (('E2', 'clean'), ('E3', 'inval')):
            idx = self.index(exp)
            self.check_index(exp, idx)
            got = sorted((e['instrument'], e['op'], e['order']) for e in idx)
            want = [('bcc', op, None), ('ftrace', op, 0), ('ftrace', op, 2),
                    ('funclatency', op, 0), ('funclatency', op, 2), ('tracepoint', op, None)]
            if op == 'clean':
                want += [('ftrace', 'tlb', 0), ('ftrace', 'tlb', 2)]
            self.assertEqual(got, sorted(want, key=lambda t: (t[0], t[1], t[2] is None, t[2] or 0)))
            by = {e['file']: e for e in idx}
            self.assertEqual(by[f'ftrace-{op}-order0.txt']['passes'], 2)   # 4 runs, n 6
            self.assertEqual(by[f'ftrace-{op}-order0.txt']['calls'], 8)
            self.assertEqual(by[f'ftrace-{op}-order2.txt']['calls'], 6)    # 1 run, 6 passes
            self.assertEqual(by[f'ftrace-{op}-order0.txt']['dat'], f'ftrace-{op}.dat')
            if op == 'clean':   # one TLB flush per pass, the workload's only
                self.assertEqual(by['ftrace-tlb-order0.txt']['samples'], 2)
                self.assertEqual(by['ftrace-tlb-order2.txt']['samples'], 6)
            self.assertEqual(by[f'tracepoint-{op}.txt']['lost'], 3)
            self.assertEqual(by[f'bcc-{op}.txt']['calls'], 14)
            self.assertEqual(by[f'funclatency-{op}-order2.txt']['unit'], 'nsec')
            for e in idx:
                self.assertEqual(e['backend'], 'insn')
                self.assertEqual(e['mapping_size'], 16384)
            bcc = read(os.path.join(self.out, 'raw', exp, f'bcc-{op}.txt'))
            self.assertTrue(bcc.startswith('# my_shmem_lat raw v2\n'))
        m = self.meta()
        self.assertEqual(m['status'], 'complete')
        self.assertEqual(m['experiments'], ['E2', 'E3'])
        self.assertEqual(m['instruments'], ['ftrace', 'funclatency', 'bcc', 'tracepoint'])
        self.assertEqual(m['incidents'], [])
        self.assertEqual(m['memory']['prealloc'], True)
        self.assertEqual(m['caveat'], read(os.path.join(REPO, 'docs', 'tcg-caveat.txt')).strip())
        self.assertEqual(m['cpu']['architecture'], os.uname().machine)
        self.assertIn('trace-cmd version 3.1.6', m['tools']['trace-cmd'])
        self.assertEqual(m['cpu_model'], X.cpu_model(m['cpu']))
        self.assertEqual(set(m['seconds']), {'E2', 'E3', 'total'})
        if SCHEMA:
            SCHEMA.validate('meta', m)
        self.check_clean_state()

    def test_e1_sizes_and_cut_bcc(self):
        rc = self.run_exp(['-e', 'E1', '--e1-sizes', '16K,64K', '--e1-samples', '8',
                           '-i', 'bcc,tracepoint,ftrace'])
        self.assertEqual(rc, 0, self.stderr)
        idx = self.index('E1')
        self.check_index('E1', idx)
        files = sorted(e['file'] for e in idx)
        self.assertEqual(files, ['bcc-clean-size-16K.txt', 'bcc-clean-size-64K.txt',
                                 'ftrace-clean-size-16K.txt', 'ftrace-clean-size-64K.txt',
                                 'ftrace-tlb-size-16K.txt', 'ftrace-tlb-size-64K.txt',
                                 'tracepoint-clean-size-16K.txt',
                                 'tracepoint-clean-size-64K.txt'])
        by = {e['file']: e for e in idx}
        pages16 = 16384 // PAGE
        self.assertEqual(by['bcc-clean-size-16K.txt']['calls'],
                         pages16 * X.ceil_div(8, pages16))
        self.assertEqual(by['bcc-clean-size-64K.txt']['split_from'], 'bcc-clean.txt')
        for e in idx:
            self.assertEqual((e['order'], e['alloc_size']), (0, PAGE))
            self.assertEqual(e['mapping_size'], 16384 if '16K' in e['file'] else 65536)
        self.assertEqual(self.meta()['e1_sizes'], [16384, 65536])

    def test_e6_arm64_dma_functions(self):
        rc = self.run_exp(['-e', 'E6', '-n', '2', '--orders', '2', '--size', '16K',
                           '-i', 'ftrace,funclatency,bcc'], arch='aarch64')
        self.assertEqual(rc, 0, self.stderr)
        idx = self.index('E6')
        self.check_index('E6', idx)
        self.assertEqual(sorted({e['backend'] for e in idx}), ['dma', 'insn', 'kernel'])
        dma = {e['file']: e for e in idx if e['backend'] == 'dma'}
        for op, fn in (('clean', 'arch_sync_dma_for_device'), ('inval', 'arch_sync_dma_for_cpu')):
            for inst in ('ftrace', 'funclatency'):
                e = dma[f'{inst}-{op}-dma-order2-{fn}.txt']
                self.assertEqual((e['function'], e['op'], e['order']), (fn, op, 2))
            self.assertEqual(dma[f'ftrace-{op}-dma-order2-{fn}.txt']['dat'],
                             f'ftrace-{op}-dma-{fn}.dat')
            # bcc times the wrapper alone (--no-dma): nested probes on the
            # sync function would inflate the wrapper's time; a run of its
            # own times the sync function alone (--dma-only)
            bcc = read(os.path.join(self.out, 'raw', 'E6', f'bcc-{op}-dma.txt'))
            self.assertNotIn(f' {fn}\n', bcc)
            self.assertIn(f' {report_wrapper(op)}\n', bcc)
            self.assertEqual(dma[f'bcc-{op}-dma.txt']['samples'], dma[f'bcc-{op}-dma.txt']['calls'])
            name = f'bcc-{op}-dma-{fn}.txt'
            sync = read(os.path.join(self.out, 'raw', 'E6', name))
            self.assertIn(f' {fn}\n', sync)
            self.assertNotIn(f' {report_wrapper(op)}\n', sync)
            e = dma[name]
            self.assertEqual((e['instrument'], e['function'], e['op']), ('bcc', fn, op))
            self.assertEqual(e['samples'], e['calls'])
            self.assertGreater(e['samples'], 0)
        insn = [e for e in idx if e['backend'] == 'insn']
        self.assertFalse([e for e in insn if 'arch_sync' in (e['function'] or '')])
        self.assertEqual(self.meta()['experiments'], ['E6'])

    def test_e6_x86_no_dma_functions(self):
        rc = self.run_exp(['-e', 'E6', '-n', '2', '--orders', '2', '--size', '16K',
                           '-i', 'ftrace,funclatency'])
        self.assertEqual(rc, 0, self.stderr)
        idx = self.index('E6')
        self.check_index('E6', idx)
        self.assertFalse([e for e in idx if 'arch_sync' in e['function']])
        self.assertEqual(sorted({e['backend'] for e in idx}), ['dma', 'insn', 'kernel'])

    def test_redo_of_a_trace_cmd_that_ignores_sigint(self):
        rc = self.run_exp(['-e', 'E2', '-n', '4', '--orders', '0 2', '--size', '16K',
                           '-i', 'ftrace,tracepoint'], extra_env={'FAKE_HANG': 'trace-cmd'})
        self.assertEqual(rc, 0, self.stderr)
        self.assertIn('trace-cmd record did not exit within 2 s of SIGINT: killed', self.stderr)
        self.assertIn('redoing the ftrace session once', self.stderr)
        log = read(os.path.join(self.out, 'raw', 'E2', 'ftrace.log'))
        self.assertIn('still running 2 s after SIGINT', log)
        self.assertIn('kernel stack', log)
        self.assertIn('--- files in', log)
        m = self.meta()
        self.assertEqual(len(m['incidents']), 1)
        self.assertIn('session redone', m['incidents'][0])
        idx = self.index('E2')
        self.check_index('E2', idx)
        self.assertEqual(len([e for e in idx if e['instrument'] == 'ftrace']), 4)
        self.check_clean_state()

    def test_together_mode_does_not_redo(self):
        rc = self.run_exp(['-e', 'E2', '-n', '2', '--orders', '2', '--size', '16K',
                           '-i', 'ftrace,tracepoint', '--mode', 'together'],
                          extra_env={'FAKE_HANG': 'trace-cmd'})
        self.assertEqual(rc, 1, self.stderr)
        self.assertIn('error: trace-cmd record did not stop', self.stderr)
        self.assertIn('exiting with status 1', self.stderr)
        self.assertEqual(self.meta()['status'], 'running')
        self.check_clean_state()

    def test_funclatency_that_does_not_stop_fails(self):
        rc = self.run_exp(['-e', 'E2', '-n', '2', '--orders', '2', '--size', '16K',
                           '-i', 'funclatency'], extra_env={'FAKE_HANG': 'funclatency'})
        self.assertEqual(rc, 1, self.stderr)
        self.assertIn('funclatency did not stop: its histogram is lost', self.stderr)
        self.check_clean_state(ftrace=False)

    def test_sigterm_cleans_up(self):
        self.env, self.T, self.P, self.S = make_world(self.root)
        p = subprocess.Popen([SCRIPT, '--out', self.out, '--workload', os.path.join(BIN, 'shmemctl'),
                              '-e', 'E2', '-n', '2', '--orders', '2', '--size', '16K',
                              '-i', 'tracepoint,ftrace'], env=self.env,
                             stderr=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        while read(f'{self.T}/current_tracer').strip() != 'function_graph':
            self.assertLess(time.monotonic() - t0, 60, 'ftrace never started')
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn('warning: interrupted', err)
        self.check_clean_state()

    def test_missing_prerequisites(self):
        rc = self.run_exp(['-e', 'E2'], extra_env={'MY_SHMEM_FUNCLATENCY': '/nonexistent'})
        self.assertEqual(rc, 1)
        self.assertIn('funclatency not found (Debian package libbpf-tools)', self.stderr)
        os.unlink(os.path.join(self.root, 'tracing', 'available_tracers'))
        r = subprocess.run([SCRIPT, '--out', self.out, '--workload', os.path.join(BIN, 'shmemctl')],
                           env=self.env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn('no function_graph tracer', r.stderr)


class E6Backends(unittest.TestCase):
    """kernel is recorded only when the module takes it; dma is required."""

    class FakeRun:
        def __init__(self, available):
            self.available = available
            self.loaded = []

        def load_module(self, b):
            self.loaded.append(b)

        def backend_available(self, b):
            return b in self.available

    def test_kernel_only_when_available(self):
        ex = X.Experiments(self.FakeRun({'insn', 'dma'}))
        self.assertEqual(ex.e6_backends(), ['insn', 'dma'])
        ex = X.Experiments(self.FakeRun({'insn', 'dma', 'kernel'}))
        self.assertEqual(ex.e6_backends(), ['insn', 'dma', 'kernel'])

    def test_dma_required(self):
        with self.assertRaises(X.Failure):
            X.Experiments(self.FakeRun({'insn', 'kernel'})).e6_backends()

    def test_backend_probe_through_sysfs(self):
        tmp = tempfile.mkdtemp()
        try:
            put(os.path.join(tmp, 'backend'), 'insn')

            class R(X.Run):
                def __init__(self):
                    self.params = tmp
            real_write = X.write

            def refusing(path, v, append=False):
                if v == 'kernel':
                    raise OSError(19, 'No such device')
                real_write(path, v, append)
            X.write = refusing
            try:
                self.assertFalse(R().backend_available('kernel'))
                self.assertTrue(R().backend_available('dma'))
            finally:
                X.write = real_write
            self.assertEqual(read(os.path.join(tmp, 'backend')).strip(), 'insn')
        finally:
            shutil.rmtree(tmp)


class IndexAndMeta(unittest.TestCase):
    def test_index_entry_order_and_atomic_file(self):
        tmp = tempfile.mkdtemp()
        try:
            r = X.Run(X.parse_args(['-o', tmp]), env={})
            r.raw = tmp
            r.index_add(file='a.txt', instrument='funclatency', op='clean',
                        function='my_shmem_dcache_clean_poc', backend='insn', order=4,
                        alloc_size=65536, mapping_size=4 << 20, samples=3, calls=3,
                        lost=None, passes=1, unit='nsec')
            doc = json.loads(read(os.path.join(tmp, 'index.json')))
            self.assertEqual(list(doc[0]), list(INDEX_KEYS) + ['samples', 'calls', 'lost',
                                                               'passes', 'unit'])
            self.assertEqual(os.listdir(tmp), ['index.json'])
        finally:
            shutil.rmtree(tmp)

    def test_meta_without_vm(self):
        r = X.Run(X.parse_args(['-o', '/tmp/x', '-e', 'E6', '-i', 'tracepoint']), env={})
        r.workload = '/bin/true'
        m = r.meta('running')
        self.assertEqual(m['accelerator'], 'none (bare metal)')
        self.assertIsNone(m['qemu_version'])
        self.assertIsNone(m['caveat'])
        self.assertEqual(m['memory']['prealloc'], None)
        self.assertEqual(m['clocksource'], X.clocksource())
        self.assertEqual(m['experiments'], ['E6'])
        self.assertIsNone(m['finished'])
        json.dumps(m)
        if SCHEMA:
            SCHEMA.validate('meta', m)


@unittest.skipIf(SCHEMA is not None, 'analysis/schema.py present: the runs above validate')
class SchemaAbsent(unittest.TestCase):
    def test_schema(self):
        self.skipTest('analysis/schema.py (validate(kind, doc)) not in this tree: '
                      'index and meta are checked field by field only')


if __name__ == '__main__':
    unittest.main()
