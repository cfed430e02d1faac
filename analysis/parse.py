#!/usr/bin/env python3
"""Parsers for the raw output of the latency experiment's instruments.

Pure functions: each takes an iterable of text lines (as the tool printed
them) and returns plain Python data.  Durations are always returned in
nanoseconds.  See docs/results-format.md for where each file comes from.

  ftrace       `trace-cmd report` of a function_graph recording
               -> parse_function_graph(lines, function): [ns, ...]
  funclatency  libbpf-tools funclatency (and bcc's print_log2_hist) output
               -> parse_log2_hist(lines): {'unit', 'buckets': [(lo, hi, count)]}
               -> parse_log2_hists(lines): {section: hist} for bcc's
                  sectioned histograms ("order = 4" headers)
  bcc          scripts/bcc/my_shmem_lat --raw sample file (raw v1 or v2)
               -> parse_bcc_raw(lines): ([{'op', 'order', 'alloc_size', 'ns',
                  'function', ...}], summary)
  tracepoint   the module's my_shmem:clean / my_shmem:inval event lines
               -> parse_samples(lines): [{'op', 'order', 'alloc_size', 'backend', 'ns'}]
  index.json   an entry of raw/<EXP>/index.json, old ("size") or current
               -> normalize_entry(exp, entry, meta): (entry, note)

Percentiles are not computed here: analysis/stats.py is the one place.
"""
import re

UNIT_NS = {'ns': 1, 'nsec': 1, 'nsecs': 1,
           'us': 1000, 'usec': 1000, 'usecs': 1000, 'µs': 1000,
           'ms': 1000000, 'msec': 1000000, 'msecs': 1000000,
           's': 1000000000, 'sec': 1000000000, 'secs': 1000000000}

# --------------------------------------------------------------------------
# trace-cmd report, function_graph
#
#   <comm>-<pid> [cpu] <ts>: funcgraph_entry:        0.123 us   |    leaf();
#   <comm>-<pid> [cpu] <ts>: funcgraph_entry:                   |  fn() {
#   <comm>-<pid> [cpu] <ts>: funcgraph_exit:       + 12.345 us  |  }
#
# The duration may carry a marker for long calls (+ >10us, ! >100us,
# # >1ms, * >10ms, @ >100ms, $ >1s); exits may be tailed with
# "/* fn */" (funcgraph-tail) and either line with "(ret=0x0)"
# (funcgraph-retval).  Lines of other events (irq, sched, lost-event
# notices, "cpus=2" headers) are ignored.

_FG_RE = re.compile(
    r'funcgraph_(?P<kind>entry|exit):\s*'
    r'(?:(?P<mark>[-+!#*@$])\s*)?'
    r'(?:(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>ns|us|µs|ms|s)\s*)?'
    r'\|(?P<body>.*)$')
_FG_TASK_RE = re.compile(r'-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]')
_FG_TASK_LAT_RE = re.compile(r'-(?P<pid>\d+)\s+(?P<cpu>\d+)[.A-Za-z]')
_FG_CALL_RE = re.compile(r'^\s*(?P<fn>[A-Za-z_][\w.$]*)\(\)\s*(?P<open>\{|;)')
_FG_CLOSE_RE = re.compile(r'^\s*\}\s*(?:/\*\s*(?P<fn>[\w.$]+)\s*\*/)?')


def _duration_ns(num, unit):
    return round(float(num) * UNIT_NS[unit])


def _task_key(line, match_start):
    """Which call stack a function_graph line belongs to: the task (pid),
    except the per-CPU idle tasks (pid 0), which are keyed by CPU."""
    head = line[:match_start]
    m = _FG_TASK_RE.search(head) or _FG_TASK_LAT_RE.search(head)
    if not m:
        return ('all',)
    pid, cpu = int(m.group('pid')), int(m.group('cpu'))
    return ('cpu', cpu) if pid == 0 else ('pid', pid)


def parse_function_graph(lines, function):
    """Durations (ns) of every completed call of `function` in the text of
    `trace-cmd report` of a function_graph trace, in trace order.

    A call appears either as a leaf line "function();" carrying its duration,
    or as "function() {" ... "}" where the closing line carries it; the
    closing brace is matched to its opening through a per-task stack, so
    nested calls, interrupts nested inside the call and other tasks' lines
    interleaved by CPU do not confuse it.  A close without an open (the trace
    began inside a call) and an open never closed (it ended inside one) are
    not counted.  "function.isra.0"-style suffixes match `function`.
    """
    out = []
    stacks = {}

    def same(fn):
        return fn == function or fn.split('.', 1)[0] == function

    for line in lines:
        m = _FG_RE.search(line)
        if not m:
            continue
        body = m.group('body')
        stack = stacks.setdefault(_task_key(line, m.start()), [])
        if m.group('kind') == 'entry':
            c = _FG_CALL_RE.match(body)
            if not c:
                continue
            if c.group('open') == '{':
                stack.append(c.group('fn'))
            elif same(c.group('fn')) and m.group('num'):
                out.append(_duration_ns(m.group('num'), m.group('unit')))
            continue
        c = _FG_CLOSE_RE.match(body)
        if not c or not stack:
            continue
        fn = stack.pop()
        tail = c.group('fn')
        if tail and tail != fn:
            # A tail names the function closed: resynchronise on it.
            while stack and fn != tail:
                fn = stack.pop()
            if fn != tail:
                continue
        if same(fn) and m.group('num'):
            out.append(_duration_ns(m.group('num'), m.group('unit')))
    return out


# --------------------------------------------------------------------------
# log2 histograms: libbpf-tools funclatency 0.26 (trace_helpers.c
# print_log2_hist) and bcc's Python print_log2_hist
#
#   Tracing my_shmem_dcache_clean_poc.  Hit Ctrl-C to exit
#
#        nsec                : count    distribution
#            0 -> 1          : 0        |                                        |
#        16384 -> 32767      : 93       |****************************************|
#   Exiting trace of my_shmem_dcache_clean_poc
#
# Bucket i holds values v with floor(log2(v)) == i, printed as
# "2^i -> 2^(i+1)-1" (bucket 0 is "0 -> 1").  We keep [lo, hi) with
# hi = printed high + 1.  With -i, several histograms (each maybe preceded
# by a HH:MM:SS line) follow one another; they are summed.

_HIST_HEAD_RE = re.compile(r'^\s*(?P<unit>[A-Za-zµ]+)\s*:\s*count\s+distribution')
_HIST_ROW_RE = re.compile(r'^\s*(?P<lo>\d+)\s*->\s*(?P<hi>\d+)\s*:\s*(?P<n>\d+)\s*\|')
_SECTION_RE = re.compile(r'^\s*(?P<key>[A-Za-z_]\w*)\s*=\s*(?P<val>\S.*?)\s*$')


def parse_log2_hists(lines):
    """Histograms in printing order, as a dict {section: hist}: section is
    the value of a bcc "key = value" header line before the histogram (e.g.
    "order = 4" -> '4'), or None when there is none.  Histograms of one
    section (interval output) are summed.  hist = {'unit': 'nsec', 'scale':
    ns per unit, 'buckets': [(lo_ns, hi_ns_exclusive, count), ...]}."""
    hists = {}
    section = None
    cur = None
    for n, line in enumerate(lines, 1):
        h = _HIST_HEAD_RE.match(line)
        if h:
            unit = h.group('unit')
            if unit not in UNIT_NS:
                raise ValueError(f'line {n}: unknown histogram unit "{unit}"')
            cur = hists.get(section)
            if cur is None:
                cur = hists[section] = {'unit': unit, 'scale': UNIT_NS[unit],
                                        'buckets': {}}
            elif cur['unit'] != unit:
                raise ValueError(f'line {n}: unit {unit} after {cur["unit"]}')
            continue
        r = _HIST_ROW_RE.match(line)
        if r and cur is not None:
            lo, hi, cnt = int(r.group('lo')), int(r.group('hi')) + 1, int(r.group('n'))
            if lo == 0 and hi == 2:
                pass                    # bucket 0: "0 -> 1"
            elif hi != 2 * lo:
                raise ValueError(f'line {n}: not a log2 bucket: {line.strip()}')
            key = (lo * cur['scale'], hi * cur['scale'])
            cur['buckets'][key] = cur['buckets'].get(key, 0) + cnt
            continue
        s = _SECTION_RE.match(line)
        if s and not r:
            section = s.group('val')
            cur = None
    for hist in hists.values():
        hist['buckets'] = [(lo, hi, c) for (lo, hi), c in sorted(hist['buckets'].items())]
    return hists


def parse_log2_hist(lines):
    """The one histogram (summed over intervals) of a funclatency output;
    ValueError when there is none (e.g. the tool failed to attach)."""
    lines = list(lines)
    hists = parse_log2_hists(lines)
    if not hists:
        # print_log2_hist prints nothing when no call was counted.
        if any(l.startswith('Tracing ') for l in lines) and \
                any(l.startswith('Exiting trace of ') for l in lines):
            return {'unit': 'nsec', 'scale': 1, 'buckets': []}
        raise ValueError('no log2 histogram found')
    if len(hists) > 1:
        raise ValueError(f'{len(hists)} histogram sections; expected one')
    return next(iter(hists.values()))


def hist_count(hist):
    return sum(c for _, _, c in hist['buckets'])


# --------------------------------------------------------------------------
# scripts/bcc/my_shmem_lat --raw FILE
#
#   raw v2 (function = the probed kernel function):
#     # my_shmem_lat raw v2
#     # columns: ts_ns cpu pid op order size_bytes ns function
#     1021503326112 1 312 clean 4 65536 20544 my_shmem_dcache_clean_poc
#     1021503326900 1 312 clean 4 65536 19200 arch_sync_dma_for_device
#     # summary: samples=600 lost=0 calls=600
#   raw v1 (no function column: every sample is of the op's wrapper):
#     # my_shmem_lat raw v1
#     1021503326112 1 312 clean 4 65536 20544

BCC_RAW_MAGIC = {'# my_shmem_lat raw v1': 1, '# my_shmem_lat raw v2': 2}
_BCC_SUMMARY_RE = re.compile(r'^#\s*summary:\s*(.*)$')
_FUNCTION_RE = re.compile(r'^[A-Za-z_][\w.]*$')

# The module's wrappers: what a clean / inval sample times unless it names
# another function (CONTRACT item 2; docs/results-format.md).
WRAPPER = {'clean': 'my_shmem_dcache_clean_poc', 'inval': 'my_shmem_dcache_inval_poc'}


def bcc_raw_version(lines):
    """1 or 2 for a my_shmem_lat raw file (its first non-blank line), else None."""
    for line in lines[:5]:
        v = BCC_RAW_MAGIC.get(line.strip())
        if v:
            return v
    return None


def is_bcc_raw(lines):
    return bcc_raw_version(lines) is not None


def parse_bcc_raw(lines):
    """(samples, summary) of a my_shmem_lat raw file (v1 or v2): samples as
    [{'op', 'order', 'alloc_size', 'ns', 'function', 'cpu', 'pid', 'ts'}]
    (alloc_size: the call's range, size_bytes; function: v2's column, v1's
    op wrapper), summary the "# summary:" line's counts ({'samples', 'lost',
    'calls'}) or None when the tool did not exit normally.  ValueError names
    a malformed line."""
    lines = list(lines)
    version = bcc_raw_version(lines) or 1
    width = 7 if version == 1 else 8
    cols = 'ts_ns cpu pid op order size_bytes ns' + (' function' if version == 2 else '')
    out, summary = [], None
    for n, line in enumerate(lines, 1):
        t = line.strip()
        if not t:
            continue
        if t.startswith('#'):
            m = _BCC_SUMMARY_RE.match(t)
            if m:
                summary = {k: int(v) for k, v in _KV_RE.findall(m.group(1))}
            continue
        f = t.split()
        if len(f) != width or f[3] not in WRAPPER:
            raise ValueError(f'line {n}: not "{cols}" (raw v{version}): {t}')
        try:
            ts, cpu, pid, order, size, ns = (int(x) for x in f[:3] + f[4:7])
        except ValueError:
            raise ValueError(f'line {n}: non-integer field: {t}') from None
        if version == 2 and not _FUNCTION_RE.match(f[7]):
            raise ValueError(f'line {n}: "{f[7]}" is not a function name: {t}')
        out.append({'op': f[3], 'order': order, 'alloc_size': size, 'ns': ns,
                    'function': f[7] if version == 2 else WRAPPER[f[3]],
                    'cpu': cpu, 'pid': pid, 'ts': ts})
    return out, summary


# --------------------------------------------------------------------------
# index.json entries (docs/results-format.md)
#
# Results directories written before issue 12 describe a file's sizes with
# one field, "size", that meant the allocation run in E2/E3/E5 and the
# mapping size in E1 (where a separate "mapping_size" may also be present).
# They are still read: normalize_entry() maps "size" onto alloc_size /
# mapping_size and says so in a note.

INDEX_FIELDS = ('file', 'instrument', 'op', 'function', 'backend', 'order',
                'alloc_size', 'mapping_size')


def normalize_entry(exp, entry, meta):
    """(entry, note): the index entry with alloc_size, mapping_size and
    function as the current format has them.  A current entry is returned
    unchanged with note None.  An old entry (with "size", without
    alloc_size) is mapped, note saying how:
      E1: mapping_size = its mapping_size, else size; alloc_size = one page
          (meta page_size, else 4096) when the order is known;
      else: alloc_size = size; mapping_size = meta's "size" (the --size of
          the run).
    A missing function becomes the op's wrapper for clean / inval files
    (null for tlb, which old entries always named).  ValueError when an
    entry has both "size" and "alloc_size" (mixed formats)."""
    if 'size' not in entry:
        if 'alloc_size' not in entry:
            raise ValueError('index entry has neither "alloc_size" (current format) '
                             'nor "size" (before issue 12)')
        return entry, None
    if 'alloc_size' in entry:
        raise ValueError('index entry has both "size" (before issue 12) and "alloc_size": '
                         'mixed formats; regenerate the index with scripts/experiment')
    e = {k: v for k, v in entry.items() if k != 'size'}
    size = entry.get('size')
    page = (meta or {}).get('page_size') or 4096
    if exp == 'E1':
        e['mapping_size'] = entry.get('mapping_size', size)
        e['alloc_size'] = None if entry.get('order') is None else page << int(entry['order'])
        how = 'mapping_size = size' if 'mapping_size' not in entry else 'size dropped'
    else:
        e['alloc_size'] = size
        e['mapping_size'] = entry.get('mapping_size', (meta or {}).get('size'))
        how = 'alloc_size = size, mapping_size = meta size'
    e['function'] = entry.get('function') or None
    if e['function'] is None and entry.get('op') in WRAPPER \
            and entry.get('instrument') != 'bcc':
        e['function'] = WRAPPER[entry['op']]
    return e, how


# --------------------------------------------------------------------------
# key=value sample lines: the module's tracepoints and our bcc tool
#
#   tracefs / trace-cmd report:
#     my_shmem_lat-312 [001] ..... 1021.5: clean: size=65536 order=4 backend=insn ns=20544
#     my_shmem_lat-312 [001] 1021.5: my_shmem:clean: size=65536 ...
#   scripts/bcc/my_shmem_lat (see docs/results-format.md):
#     op=clean order=4 size=65536 backend=insn ns=20544
#
# Lines without ns= (headers, comments, other events) are skipped.

_KV_RE = re.compile(r'(?<![\w-])([a-z_]+)=(\S+)')
_EVENT_RE = re.compile(r'(?:\w+:)?(?P<op>\w+):\s+[a-z_]+=')
_INT_KEYS = ('order', 'size', 'ns', 'mapping_size')


def parse_samples(lines, default_op=None):
    """Samples from key=value lines: [{'op', 'order', 'alloc_size',
    'backend', 'ns', ...}]; the line's size= (the range of the one call,
    i.e. the allocation run) is returned as alloc_size.  The op is the
    line's op= or its event name (clean: / inval:), else `default_op`.  A
    line with ns= but a non-integer value raises ValueError naming the
    line."""
    out = []
    for n, line in enumerate(lines, 1):
        if line.lstrip().startswith('#'):
            continue
        kv = dict(_KV_RE.findall(line))
        if 'ns' not in kv:
            continue
        rec = {}
        for k, v in kv.items():
            if k in _INT_KEYS:
                try:
                    rec[k] = int(v)
                except ValueError:
                    raise ValueError(f'line {n}: {k}={v} is not an integer') from None
            else:
                rec[k] = v
        if 'size' in rec:
            rec['alloc_size'] = rec.pop('size')
        if 'op' not in rec:
            # A trace line's event name is its op (clean, inval; alloc and
            # fault are kept under their names for the caller to drop).
            e = _EVENT_RE.search(line)
            rec['op'] = e.group('op') if e else default_op
        out.append(rec)
    return out
