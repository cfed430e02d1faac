#!/usr/bin/env python3
"""Latency experiment report: analysis/report.py RESULTS_DIR

Reads RESULTS_DIR/meta.json and RESULTS_DIR/raw/<EXP>/index.json (formats in
docs/results-format.md), parses every raw file (analysis/parse.py), and
writes into RESULTS_DIR:

  <EXP>.csv       one row per sample: experiment, instrument, op, function,
                  backend, order, alloc_size, mapping_size, ns, ns_max (a
                  funclatency call is known only to its log2 bucket:
                  ns..ns_max; for exact samples ns_max == ns)
  summary.json    every meta field, the caveat, percentile tables per
                  experiment / op / instrument, anchor results, problems
  summary.md      the same as Markdown tables, thesis-style (µs), one column
                  group per instrument side by side; E2 also shows the
                  thesis' own numbers; E6 puts the backends (insn, dma,
                  kernel) side by side per instrument
  *.png           log-scale latency distributions with 25/50/75th percentile
                  lines; latency against order; E1 latency against mapping size

and prints summary.md.  Exit status: 0; 1 when a raw file could not be read
or parsed (everything else is still written and the problem is listed);
2 when meta.json or an index.json is unreadable.
"""
import csv
import json
import os
import re
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import parse  # noqa: E402
import stats  # noqa: E402

INSTRUMENTS = ('ftrace', 'funclatency', 'bcc', 'tracepoint')
INSTRUMENT_LABEL = {
    'ftrace': 'ftrace (function_graph)',
    'funclatency': 'funclatency (log2 hist)',
    'bcc': 'bcc (my_shmem_lat)',
    'tracepoint': 'tracepoint (in-module)',
}
HIST_INSTRUMENTS = ('funclatency',)
CSV_FIELDS = ('experiment', 'instrument', 'op', 'function', 'backend', 'order',
              'alloc_size', 'mapping_size', 'ns', 'ns_max')
SUMMARY_SCHEMA = 'my_shmem.latency-summary/2'
WRAPPER = parse.WRAPPER

# DESIGN.md section 6: the thesis' E2 table (µs), QEMU virt 8.2 TCG,
# Cortex-A76, Linux 6.7, bcc-tools, N = 100 per order.
THESIS_E2 = {
    0: (5.97, 9.81, 15.81, 58.46),
    2: (8.96, 13.15, 17.78, 39.18),
    4: (19.22, 21.12, 23.65, 123.98),
    6: (67.38, 70.35, 74.30, 103.12),
    8: (278.78, 303.14, 324.05, 1783.01),
    10: (1050.75, 1141.31, 1912.58, 2325.10),
}
THESIS_N = 100
THESIS_LABEL = 'thesis (QEMU 8.2 TCG, Linux 6.7, bcc)'

# The TCG caveat is written once, in docs/tcg-caveat.txt (CONTRACT item 9).
TCG_CAVEAT_PATH = os.path.join(os.path.dirname(HERE), 'docs', 'tcg-caveat.txt')

EXPERIMENT_TITLE = {
    'E1': 'E1: order-0 allocations, latency by mapping size',
    'E2': 'E2: latency by allocation order',
    'E3': 'E3: invalidate (dcache_inval_poc) by allocation order',
    'E5': 'E5: the `none` backend (wrapper and tracer overhead) by order',
    'E6': 'E6: what a driver pays (the streaming DMA API, `dma`) against the '
          'instructions alone (`insn`) and the kernel\'s own (`kernel`), by order',
}
# E6: backends in table order, and the kernel function each backend's dma
# path reaches (CONTRACT item 5), by op.
E6_BACKENDS = ('insn', 'dma', 'kernel')
ARCH_SYNC_DMA = {'clean': 'arch_sync_dma_for_device', 'inval': 'arch_sync_dma_for_cpu'}
COHERENT_DMA_ARCHES = ('x86_64',)


class InputError(Exception):
    """meta.json or an index.json cannot be used."""


# --------------------------------------------------------------------------
# loading

def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f'{path}: cannot read: {e.strerror}') from None
    except json.JSONDecodeError as e:
        raise InputError(f'{path}: not JSON: {e}') from None


def tcg_caveat(path=TCG_CAVEAT_PATH):
    """The text of docs/tcg-caveat.txt, stripped."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        raise InputError(f'{path}: cannot read the TCG caveat: {e.strerror} '
                         '(it ships with the repository: run the analysis from a checkout)') from None


def caveat_of(meta):
    """The meta's caveat, or docs/tcg-caveat.txt when the accelerator is TCG
    and meta has none (results of a runner that did not record it)."""
    if meta.get('caveat'):
        return meta['caveat']
    if 'TCG' in str(meta.get('accelerator') or '').upper():
        return tcg_caveat()
    return None


def _int_or_none(v):
    return None if v is None or v == '' else int(v)


def series_from_entry(exp, entry, lines):
    """Series (dicts) parsed from one raw file's lines, as described by its
    index entry (current format: see parse.normalize_entry).  Each series:
    experiment, instrument, op, function, order, alloc_size, mapping_size,
    backend and either 'samples' (ns) or 'hist' buckets."""
    inst = entry.get('instrument')
    op = entry.get('op')
    base = {'experiment': exp, 'instrument': inst, 'op': op,
            'function': entry.get('function') or None,
            'order': _int_or_none(entry.get('order')),
            'alloc_size': _int_or_none(entry.get('alloc_size')),
            'mapping_size': _int_or_none(entry.get('mapping_size')),
            'backend': entry.get('backend')}
    if inst in ('ftrace', 'funclatency') and not base['function']:
        raise ValueError('index entry has no "function"')
    if inst == 'ftrace':
        return [dict(base, samples=parse.parse_function_graph(lines, base['function']))]
    if inst == 'funclatency':
        return [dict(base, hist=parse.parse_log2_hist(lines)['buckets'])]
    if inst in ('bcc', 'tracepoint'):
        lines = list(lines)
        lost = None
        if inst == 'bcc' and parse.is_bcc_raw(lines):
            recs, summ = parse.parse_bcc_raw(lines)
            lost = summ.get('lost') if summ else None
        else:
            recs = parse.parse_samples(lines, default_op=base['op'])
        if not recs and inst == 'bcc':
            hists = parse.parse_log2_hists(lines)
            if hists:
                return [dict(base, function=base['function'] or WRAPPER.get(op),
                             order=_section_order(sec, base['order']),
                             hist=h['buckets']) for sec, h in hists.items()]
        groups = {}
        for r in recs:
            if op and r.get('op') and r['op'] != op:
                continue            # e.g. clean events in an inval file
            rop = r.get('op') or op
            key = (rop,
                   r.get('function') or base['function'] or WRAPPER.get(rop),
                   r.get('order', base['order']),
                   r.get('alloc_size', base['alloc_size']),
                   r.get('mapping_size', base['mapping_size']),
                   r.get('backend', base['backend']))
            groups.setdefault(key, []).append(r['ns'])
        if not groups:
            return [dict(base, function=base['function'] or WRAPPER.get(op),
                         samples=[], lost=lost)]
        return [dict(base, op=o, function=fn, order=order, alloc_size=asz,
                     mapping_size=ms, backend=be, samples=xs, lost=lost)
                for (o, fn, order, asz, ms, be), xs in groups.items()]
    raise ValueError(f'unknown instrument "{inst}"')


def _section_order(section, default):
    """The order named by a bcc histogram section ("4", "clean, order 4 (64 KiB)")."""
    if section is None:
        return default
    m = re.search(r'order\D*(\d+)', section) or re.fullmatch(r'\s*(\d+)\s*', section)
    return int(m.group(1)) if m else default


def load_run(results_dir):
    """(meta, series, problems, notes): every raw file of every experiment
    parsed.  InputError for unusable meta.json / index.json; a raw file that
    cannot be read or parsed becomes a problem string instead of a series;
    notes are remarks on data that did parse (e.g. samples the bcc tool
    lost)."""
    meta = read_json(os.path.join(results_dir, 'meta.json'))
    if not isinstance(meta, dict):
        raise InputError(f'{results_dir}/meta.json: not a JSON object')
    exps = meta.get('experiments')
    if not exps:
        raw = os.path.join(results_dir, 'raw')
        exps = sorted(os.listdir(raw)) if os.path.isdir(raw) else []
    series, problems, notes = [], [], []
    for exp in exps:
        idx_path = os.path.join(results_dir, 'raw', exp, 'index.json')
        index = read_json(idx_path)
        if not isinstance(index, list):
            raise InputError(f'{idx_path}: not a JSON list')
        old = None
        for entry in index:
            if not isinstance(entry, dict) or 'file' not in entry:
                raise InputError(f'{idx_path}: entry without "file": {entry!r}')
            try:
                entry, how = parse.normalize_entry(exp, entry, meta)
            except ValueError as e:
                raise InputError(f'{idx_path}: {entry["file"]}: {e}') from None
            old = old or how
            path = os.path.join(results_dir, 'raw', exp, entry['file'])
            try:
                with open(path, errors='replace') as f:
                    got = series_from_entry(exp, entry, f.read().splitlines())
            except OSError as e:
                problems.append(f'{exp}/{entry["file"]}: cannot read: {e.strerror}')
                continue
            except ValueError as e:
                problems.append(f'{exp}/{entry["file"]}: {e}')
                continue
            if entry.get('lost'):
                notes.append(f'{exp}/{entry["file"]}: the recorder reports {entry["lost"]} '
                             'events lost')
            for s in got:
                s['file'] = entry['file']
                if s.get('lost'):
                    notes.append(f'{exp}/{entry["file"]}: the ring buffer dropped '
                                 f'{s["lost"]} samples (counted by the tool, absent here)')
            series.extend(got)
        if old:
            notes.append(f'{exp}/index.json is in the format before issue 12 (one "size" '
                         f'field): read as {old} (docs/results-format.md, "Older results '
                         'directories")')
    return meta, merge_series(series), problems, notes


def merge_series(series):
    """Series of one configuration recorded in several files, merged."""
    out = {}
    for s in series:
        key = (s['experiment'], s['instrument'], s['op'], s['function'], s['order'],
               s['mapping_size'], s['backend'])
        if key not in out:
            out[key] = dict(s, files=[s['file']])
            if 'samples' in s:
                out[key]['samples'] = list(s['samples'])
            else:
                out[key]['hist'] = list(s['hist'])
            continue
        m = out[key]
        m['files'].append(s['file'])
        if 'samples' in s and 'samples' in m:
            m['samples'].extend(s['samples'])
        elif 'hist' in s and 'hist' in m:
            m['hist'] = _add_hists(m['hist'], s['hist'])
        else:
            raise ValueError(f'{key}: samples and histograms mixed')
    return list(out.values())


def _add_hists(a, b):
    acc = {}
    for lo, hi, c in list(a) + list(b):
        acc[(lo, hi)] = acc.get((lo, hi), 0) + c
    return [(lo, hi, c) for (lo, hi), c in sorted(acc.items())]


def series_count(s):
    return len(s['samples']) if 'samples' in s else sum(c for _, _, c in s['hist'])


def series_stats(s):
    """Percentile summary of a series (ns), or None when it is empty."""
    if not series_count(s):
        return None
    if 'samples' in s:
        return stats.summarize(s['samples'])
    return stats.summarize_hist(s['hist'])


# --------------------------------------------------------------------------
# derived tables

def row_key(s):
    """What a table row is: the mapping size in E1, the order elsewhere."""
    return s['mapping_size'] if s['experiment'] == 'E1' else s['order']


def build_summary(meta, series, problems, anchor=None, notes=()):
    """summary.json's content: meta, caveat, per experiment / op / instrument
    a list of rows {order|mapping_size, n, p25, p50, p75, p99, ...} (ns)."""
    exps = {}
    for s in sorted(series, key=lambda s: (s['experiment'], s['op'] or '',
                                           INSTRUMENTS.index(s['instrument'])
                                           if s['instrument'] in INSTRUMENTS else 99,
                                           row_key(s) if row_key(s) is not None else -1)):
        st = series_stats(s)
        row = {'order': s['order'], 'alloc_size': s['alloc_size'],
               'mapping_size': s['mapping_size'], 'backend': s['backend'],
               'function': s['function'], 'n': series_count(s)}
        if st:
            row.update(st)
        (exps.setdefault(s['experiment'], {})
             .setdefault(s['op'] or 'unknown', {})
             .setdefault(s['instrument'], [])
             .append(row))
    out = {'schema': SUMMARY_SCHEMA, 'meta': meta,
           'caveat': caveat_of(meta), 'units': 'ns',
           'percentile_methods': {
               'exact': 'linear interpolation between closest ranks (type 7)',
               'log2-histogram': 'linear interpolation within the log2 bucket '
                                 'holding rank p/100*N'},
           'experiments': exps, 'problems': list(problems), 'notes': list(notes)}
    if 'E2' in exps:
        out['thesis_e2_us'] = {str(k): dict(zip(('p25', 'p50', 'p75', 'p99'), v),
                                            n=THESIS_N)
                               for k, v in THESIS_E2.items()}
    if anchor is not None:
        out['anchor'] = anchor
    return out


def csv_rows(series):
    """<EXP>.csv rows (dicts) of the given series, one per sample; a
    histogram contributes one row per counted call, ns..ns_max its bucket."""
    rows = []
    for s in series:
        base = {k: s[k] for k in CSV_FIELDS if k not in ('ns', 'ns_max')}
        if 'samples' in s:
            rows.extend(dict(base, ns=x, ns_max=x) for x in s['samples'])
        else:
            for lo, hi, c in s['hist']:
                rows.extend(dict(base, ns=lo, ns_max=hi - 1) for _ in range(c))
    return rows


def write_csv(path, rows):
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, lineterminator='\n')
        w.writeheader()
        for r in rows:
            w.writerow({k: ('' if r.get(k) is None else r[k]) for k in CSV_FIELDS})


# --------------------------------------------------------------------------
# Markdown

def us(ns):
    return f'{ns / 1000:.2f}'


def human_size(b):
    for unit, shift in (('GiB', 30), ('MiB', 20), ('KiB', 10)):
        if b >= 1 << shift and b % (1 << shift) == 0:
            return f'{b >> shift} {unit}'
    return f'{b} B'


def md_table(header, rows):
    """A Markdown table with columns padded to line up in a terminal."""
    cells = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    width = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for n, r in enumerate(cells):
        out.append('| ' + ' | '.join(c.rjust(width[i]) if n and i else c.ljust(width[i])
                                     for i, c in enumerate(r)) + ' |')
        if n == 0:
            out.append('|' + '|'.join('-' * (w + 1) + ':' if i else '-' * (w + 2)
                                      for i, w in enumerate(width)) + '|')
    return '\n'.join(out)


def side_by_side(rows_by_inst, key_name, key_fmt, thesis=None):
    """Header and rows of one table: a row per key (order or mapping size),
    per instrument a column group 25p 50p 75p 99p (µs) N."""
    insts = [i for i in INSTRUMENTS if i in rows_by_inst] + \
            sorted(i for i in rows_by_inst if i not in INSTRUMENTS)
    keys = sorted({r[key_name] for rs in rows_by_inst.values() for r in rs
                   if r[key_name] is not None})
    header = [key_name.replace('_', ' ')]
    for inst in insts:
        tag = inst + ('~' if inst in HIST_INSTRUMENTS else '')
        header += [f'{tag} 25p', '50p', '75p', '99p', 'N']
    if thesis:
        header += ['thesis 25p', '50p', '75p', '99p', 'N']
    rows = []
    for k in keys:
        row = [key_fmt(k)]
        for inst in insts:
            r = next((r for r in rows_by_inst[inst] if r[key_name] == k), None)
            if r is None or not r.get('n'):
                row += ['—'] * 4 + [str(r['n']) if r else '0']
            else:
                row += [us(r[f'p{p}']) for p in stats.PERCENTILES] + [str(r['n'])]
        if thesis:
            t = thesis.get(k)
            row += ([f'{v:.2f}' for v in t] + [str(THESIS_N)]) if t else ['—'] * 4 + ['']
        rows.append(row)
    return header, rows


def _pcts(r):
    """25p 50p 75p 99p (µs) and N cells of a summary row (or of none)."""
    if r is None or not r.get('n'):
        return ['—'] * 4 + [str(r['n']) if r else '0']
    return [us(r[f'p{p}']) for p in stats.PERCENTILES] + [str(r['n'])]


def dma_is_coherent(meta):
    """True where the streaming DMA API does no cache maintenance (x86_64)."""
    return str(meta.get('arch') or '') in COHERENT_DMA_ARCHES


def e6_markdown(meta, op, by_inst):
    """E6 lines for one op: what the arch does, then per instrument a table
    with a row per order, the backends side by side (25p 50p 75p 99p µs, N),
    the share of the dma median that the instructions (insn) account for,
    and below each order the dma backend's arch_sync_dma_* row when that
    function was recorded."""
    sync = 'dma_sync_single_for_device' if op == 'clean' else 'dma_sync_single_for_cpu'
    arch_fn = ARCH_SYNC_DMA[op]
    wrapper = WRAPPER[op]
    poc = 'dcache_clean_poc' if op == 'clean' else 'dcache_inval_poc'
    out = []
    if dma_is_coherent(meta):
        out += [f"On {meta.get('arch')} DMA is coherent: `{sync}` does no cache "
                f'maintenance and no `{arch_fn}` exists, so `dma` is the cost of the DMA '
                'API alone (no instruction runs), not of a cache clean or invalidate; '
                '`insn` is the cost of the instructions.', '']
    else:
        out += [f'`dma`: `{wrapper}` → `{sync}` → `{arch_fn}` → `{poc}`, the path of every '
                f'driver, on a stock kernel; `insn`: the module\'s own instruction loop; '
                f'`kernel`: the patched kernel\'s exported `__{poc}`. '
                f'`insn/dma`: the share of the `dma` median that the instructions account for. '
                f'Rows `{arch_fn}`: the kernel function alone, inside `dma`.', '']
    for inst in [i for i in INSTRUMENTS if i in by_inst] + \
            sorted(i for i in by_inst if i not in INSTRUMENTS):
        rows = by_inst[inst]
        backends = [b for b in E6_BACKENDS if any(r['backend'] == b for r in rows)] + \
            sorted({r['backend'] for r in rows if r['backend'] not in E6_BACKENDS})
        tag = '~' if inst in HIST_INSTRUMENTS else ''
        header = ['order']
        for b in backends:
            header += [f'{b}{tag} 25p', '50p', '75p', '99p', 'N']
        header.append(f'insn/dma{tag} 50p')

        def find(be, fn, k):
            return next((r for r in rows if r['backend'] == be and r['function'] == fn
                         and r['order'] == k), None)
        table = []
        for k in sorted({r['order'] for r in rows if r['order'] is not None}):
            line = [str(k)]
            for b in backends:
                line += _pcts(find(b, wrapper, k))
            ri, rd = find('insn', wrapper, k), find('dma', wrapper, k)
            share = ''
            if ri and rd and ri.get('n') and rd.get('n') and rd['p50'] > 0:
                share = f"{100 * ri['p50'] / rd['p50']:.0f}%"
            table.append(line + [share])
            ra = find('dma', arch_fn, k)
            if ra is not None:
                line = [f'{k} `{arch_fn}`']
                for b in backends:
                    line += _pcts(ra) if b == 'dma' else [''] * 5
                table.append(line + [''])
        out += [f'### {INSTRUMENT_LABEL.get(inst, inst)}', '', md_table(header, table), '']
    return out


def render_markdown(summary, anchor=None, pngs=()):
    meta = summary['meta']
    caveat = summary['caveat']
    title = (f"# my_shmem latency — {meta.get('arch', '?')}, kernel "
             f"{meta.get('kernel', '?')}, backend {meta.get('backend', '?')}")
    out = [title, '']
    if caveat:
        out += [f'> **{caveat}**', '']
    out += ['| field | value |', '|---|---|']
    for k, v in meta.items():
        if k == 'tools' and isinstance(v, dict):
            for tk, tv in v.items():
                out.append(f'| tool: {tk} | {_md_cell(tv)} |')
        elif k == 'cpu' and isinstance(v, dict):
            # lscpu's whole list stays in summary.json
            for ck in ('architecture', 'vendor', 'model_name'):
                out.append(f'| cpu: {ck} | {_md_cell(v.get(ck))} |')
        else:
            out.append(f'| {k} | {_md_cell(v)} |')
    out += ['', 'Percentiles in µs. Exact samples: linear interpolation between '
            'closest ranks. `~` (funclatency): estimated from its log2 histogram by '
            'linear interpolation within the bucket, so only known to within the '
            'bucket (a factor of 2).', '']
    for exp in sorted(summary['experiments']):
        ops = summary['experiments'][exp]
        for op in sorted(ops, key=lambda o: (o == 'tlb', o)):
            by_inst = ops[op]
            if op == 'tlb':
                fn = meta.get('tlb_flush_function') or 'TLB flush'
                heading = f'## {exp}: TLB flush (`{fn}`)'
            else:
                heading = f'## {EXPERIMENT_TITLE.get(exp, exp)} — `{op}`'
            out += [heading, '']
            if caveat:
                out += [f'> {caveat}', '']
            if exp == 'E6' and op in ARCH_SYNC_DMA:
                out += e6_markdown(meta, op, by_inst)
                continue
            groups = sorted({(r['function'] or '', r['backend'] or '')
                             for rs in by_inst.values() for r in rs})
            for fn, be in groups:
                sel = {i: [r for r in rs if (r['function'] or '', r['backend'] or '') == (fn, be)]
                       for i, rs in by_inst.items()}
                sel = {i: rs for i, rs in sel.items() if rs}
                if len(groups) > 1:
                    out += [f'### `{fn}`, backend `{be}`', '']
                if exp == 'E1':
                    header, rows = side_by_side(sel, 'mapping_size', human_size)
                else:
                    thesis = THESIS_E2 if (exp == 'E2' and op == 'clean') else None
                    header, rows = side_by_side(sel, 'order', str, thesis)
                    if thesis:
                        out += [f'Thesis reference: {THESIS_LABEL}; Ampere Altra was '
                                'about 1/10 of these.', '']
                out += [md_table(header, rows), '']
    if anchor is not None:
        out += ['## Physical anchor: host cache-maintenance microbenchmark', '']
        if anchor.get('cpu_model'):
            out += [f"Host CPU: {anchor['cpu_model']}"
                    + (f", kernel {anchor['kernel']}" if anchor.get('kernel') else '')
                    + (f", line {anchor['line_size']} B" if anchor.get('line_size') else ''),
                    '']
        rows = [[r['instruction'], r['state'], human_size(int(r['size'])),
                 f"{float(r['ns_per_line']):.2f}", f"{float(r['gbps']):.2f}"]
                for r in anchor['results']]
        out += [md_table(['instruction', 'state', 'size', 'ns/line', 'GB/s'], rows), '']
    if pngs:
        out += ['## Plots', ''] + [f'- [{p}]({p})' for p in pngs] + ['']
    if summary.get('notes'):
        out += ['## Notes', ''] + [f'- {n}' for n in summary['notes']] + ['']
    if summary['problems']:
        out += ['## Problems', ''] + [f'- {p}' for p in summary['problems']] + ['']
    return '\n'.join(out)


def _md_cell(v):
    if v is None:
        return '—'
    if isinstance(v, (list, dict)):
        v = json.dumps(v)
    return str(v).replace('|', '\\|').replace('\n', ' ')


# --------------------------------------------------------------------------
# anchor.json (docs/results-format.md)

def load_anchor(path):
    """anchor.json as {'results': [...], ...}; a bare list is accepted.
    A result with raw samples (`samples_ns`, what my_shmem-cmo-anchor
    writes) gets its median_ns, ns_per_line and gbps computed here, through
    stats.percentile like every other percentile of the project; a result
    that already has ns_per_line and gbps is taken as it is.  InputError
    when it is unreadable or a result lacks a field."""
    a = read_json(path)
    if isinstance(a, list):
        a = {'results': a}
    if not isinstance(a, dict) or not isinstance(a.get('results'), list):
        raise InputError(f'{path}: expected {{"results": [...]}} or a list')
    for i, r in enumerate(a['results']):
        for k in ('instruction', 'state', 'size'):
            if not isinstance(r, dict) or k not in r:
                raise InputError(f'{path}: result {i} has no "{k}"')
        if 'samples_ns' in r:
            xs, lines = r['samples_ns'], r.get('lines')
            if not xs or not isinstance(lines, int) or lines < 1:
                raise InputError(f'{path}: result {i} has samples_ns but no samples '
                                 f'or no "lines"')
            med = stats.percentile(xs, 50)
            r['median_ns'] = med
            r['ns_per_line'] = med / lines
            r['gbps'] = int(r['size']) / med if med > 0 else 0.0
        elif 'ns_per_line' not in r or 'gbps' not in r:
            raise InputError(f'{path}: result {i} has neither "samples_ns" nor '
                             f'"ns_per_line" and "gbps"')
    return a


# --------------------------------------------------------------------------
# plots (matplotlib, Agg)

DEBIAN_DIST_PACKAGES = '/usr/lib/python3/dist-packages'


def _pyplot():
    """matplotlib.pyplot on the Agg backend, or None.  The project depends on
    Debian's python3-matplotlib; a python3 other than Debian's (pyenv, venv)
    does not see it, so its dist-packages directory is tried last."""
    try:
        import matplotlib
    except ImportError:
        if not os.path.isdir(DEBIAN_DIST_PACKAGES) or DEBIAN_DIST_PACKAGES in sys.path:
            return None
        sys.path.append(DEBIAN_DIST_PACKAGES)
        try:
            import matplotlib
        except ImportError:
            return None
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _subtitle(meta, caveat, width=100):
    s = (f"{meta.get('arch', '?')}, kernel {meta.get('kernel', '?')}, backend "
         f"{meta.get('backend', '?')}, {meta.get('cpu_model') or '?'}, "
         f"{meta.get('accelerator') or '?'}")
    if caveat:
        s += '\n' + textwrap.fill(caveat, width)
    return s


def plot_all(results_dir, meta, series, caveat):
    """Write the PNGs; returns their file names (empty without matplotlib)."""
    plt = _pyplot()
    if plt is None:
        print('report: matplotlib not available (apt install python3-matplotlib): '
              'no plots', file=sys.stderr)
        return []
    written = []
    groups = {}
    for s in series:
        if series_count(s):
            groups.setdefault((s['experiment'], s['op'] or 'unknown'), {}) \
                  .setdefault((s['backend'] or '', s['function'] or ''), []).append(s)
    for (exp, op), by_conf in sorted(groups.items()):
        for (be, fn), ss in sorted(by_conf.items()):
            # one backend and function (E1..E5): E2-clean-...; several (E6):
            # E6-clean-dma-..., E6-clean-dma-arch_sync_dma_for_device-...
            stem, label, m = f'{exp}-{op}', op, meta
            if len(by_conf) > 1:
                m = dict(meta, backend=be)          # the subtitle names this one
                stem += f'-{be}' + (f'-{fn}' if fn and fn != WRAPPER.get(op) else '')
                label += f'` backend `{be}' + (f'` `{fn}' if fn and fn != WRAPPER.get(op) else '')
            name = f'{stem}-distributions.png'
            _plot_distributions(plt, os.path.join(results_dir, name), exp, label, ss, m,
                                caveat)
            written.append(name)
            name = f'{stem}-vs-size.png' if exp == 'E1' else f'{stem}-vs-order.png'
            _plot_vs_key(plt, os.path.join(results_dir, name), exp, label, ss, m, caveat)
            written.append(name)
    return written


def _inst_order(ss):
    insts = sorted({s['instrument'] for s in ss},
                   key=lambda i: INSTRUMENTS.index(i) if i in INSTRUMENTS else 99)
    return insts


def _key_label(exp, k):
    return f'mapping {human_size(k)}' if exp == 'E1' else f'order {k}'


def _plot_distributions(plt, path, exp, op, ss, meta, caveat):
    """Grid: a row per order (mapping size), a column per instrument; each
    panel a histogram of latency on log-spaced bins (µs, log x), with the
    25th / 50th / 75th percentiles as vertical lines."""
    import math
    insts = _inst_order(ss)
    keys = sorted({row_key(s) for s in ss if row_key(s) is not None})
    if not keys:
        keys = [None]
    lo = min(min(s['samples']) if 'samples' in s else
             min(b[0] for b in s['hist'] if b[2]) for s in ss) / 1000
    hi = max(max(s['samples']) if 'samples' in s else
             max(b[1] for b in s['hist'] if b[2]) for s in ss) / 1000
    lo = max(lo, 0.01)
    hi = max(hi, lo * 10)
    edges = [10 ** (math.log10(lo) + i * (math.log10(hi) - math.log10(lo)) / 40)
             for i in range(41)]
    fig, axes = plt.subplots(len(keys), len(insts), squeeze=False, sharex=True,
                             figsize=(3.4 * len(insts) + 1, 1.55 * len(keys) + 1.6),
                             constrained_layout=True)
    colors = {'ftrace': 'tab:blue', 'funclatency': 'tab:orange', 'bcc': 'tab:green',
              'tracepoint': 'tab:red'}
    for r, k in enumerate(keys):
        for c, inst in enumerate(insts):
            ax = axes[r][c]
            s = next((s for s in ss if s['instrument'] == inst and row_key(s) == k), None)
            col = colors.get(inst, 'tab:gray')
            if s is None:
                ax.text(0.5, 0.5, 'no samples', ha='center', va='center',
                        transform=ax.transAxes, fontsize=8, color='gray')
            elif 'samples' in s:
                ax.hist([x / 1000 for x in s['samples']], bins=edges, color=col, alpha=0.75)
            else:
                bs = [b for b in s['hist'] if b[2]]
                ax.bar([max(b[0], 1) / 1000 for b in bs], [b[2] for b in bs],
                       width=[(b[1] - max(b[0], 1)) / 1000 for b in bs], align='edge',
                       color=col, alpha=0.75, edgecolor='white')
            if s is not None:
                st = series_stats(s)
                for p, ls in ((25, ':'), (50, '-'), (75, '--')):
                    ax.axvline(st[f'p{p}'] / 1000, color='black', linestyle=ls, linewidth=1,
                               label=f'{p}th' if (r, c) == (0, 0) else None)
                ax.text(0.98, 0.92, f"N={st['n']}\n50p={st['p50'] / 1000:.1f} µs",
                        transform=ax.transAxes, ha='right', va='top', fontsize=7)
            ax.set_xscale('log')
            ax.tick_params(labelsize=7)
            if r == 0:
                ax.set_title(INSTRUMENT_LABEL.get(inst, inst), fontsize=9)
            if c == 0:
                ax.set_ylabel(_key_label(exp, k) + '\ncalls', fontsize=8)
            if r == len(keys) - 1:
                ax.set_xlabel('latency (µs, log scale)', fontsize=8)
    fig.suptitle(f'{exp} `{op}` latency distributions with 25/50/75th percentiles\n'
                 + _subtitle(meta, caveat, width=40 * len(insts)), fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        axes[0][0].legend(handles, labels, loc='upper left', fontsize=6,
                          title='percentile', title_fontsize=6)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_vs_key(plt, path, exp, op, ss, meta, caveat):
    """Median per instrument against order (or E1 mapping size), the
    25–75th percentile band shaded and the 99th dotted; log y."""
    fig, ax = plt.subplots(figsize=(8, 5.2))
    colors = {'ftrace': 'tab:blue', 'funclatency': 'tab:orange', 'bcc': 'tab:green',
              'tracepoint': 'tab:red'}
    for inst in _inst_order(ss):
        pts = sorted(((row_key(s), series_stats(s)) for s in ss
                      if s['instrument'] == inst and row_key(s) is not None),
                     key=lambda t: t[0])
        if not pts:
            continue
        xs = [k for k, _ in pts]
        col = colors.get(inst, 'tab:gray')
        ax.plot(xs, [st['p50'] / 1000 for _, st in pts], marker='o', color=col,
                label=INSTRUMENT_LABEL.get(inst, inst) + ' 50p')
        ax.fill_between(xs, [st['p25'] / 1000 for _, st in pts],
                        [st['p75'] / 1000 for _, st in pts], color=col, alpha=0.15)
        ax.plot(xs, [st['p99'] / 1000 for _, st in pts], linestyle=':', color=col,
                linewidth=1)
    if exp == 'E2' and op == 'clean':
        ks = sorted(THESIS_E2)
        ax.plot(ks, [THESIS_E2[k][1] for k in ks], linestyle='--', color='black',
                marker='x', label=THESIS_LABEL + ' 50p')
    ax.set_yscale('log')
    if exp == 'E1':
        ax.set_xscale('log', base=2)
        ks = sorted({row_key(s) for s in ss if row_key(s) is not None})
        ax.set_xticks(ks)
        ax.set_xticklabels([human_size(k) for k in ks], rotation=30, fontsize=8)
        ax.set_xlabel('mapping size (log2 scale)')
        ax.set_title(f'{exp} `{op}` latency against mapping size (order-0 allocations)\n'
                     + _subtitle(meta, caveat, 95), fontsize=8)
    else:
        ax.set_xlabel('allocation order (2^order pages per clean)')
        ax.set_xticks(sorted({row_key(s) for s in ss if row_key(s) is not None}))
        ax.set_title(f'{exp} `{op}` latency against allocation order\n'
                     + _subtitle(meta, caveat, 95), fontsize=8)
    from matplotlib.ticker import FuncFormatter
    fmt = FuncFormatter(lambda v, _: f'{v:g}')
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_formatter(fmt if ax.get_ylim()[1] / ax.get_ylim()[0] < 20
                                 else FuncFormatter(lambda v, _: ''))
    ax.set_ylabel('latency (µs, log scale)\nline: 50p; band: 25–75p; dotted: 99p')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------
# front end

def run(results_dir, plots=True):
    """Write every derived file; returns (summary, markdown, problems)."""
    meta, series, problems, notes = load_run(results_dir)
    anchor = None
    apath = os.path.join(results_dir, 'anchor.json')
    if os.path.exists(apath):
        anchor = load_anchor(apath)
    caveat = caveat_of(meta)
    for exp in sorted({s['experiment'] for s in series}):
        write_csv(os.path.join(results_dir, f'{exp}.csv'),
                  csv_rows([s for s in series if s['experiment'] == exp]))
    summary = build_summary(meta, series, problems, anchor, notes)
    with open(os.path.join(results_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1, sort_keys=False)
        f.write('\n')
    pngs = plot_all(results_dir, meta, series, caveat) if plots else []
    md = render_markdown(summary, anchor, pngs)
    with open(os.path.join(results_dir, 'summary.md'), 'w') as f:
        f.write(md + '\n')
    return summary, md, problems


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('results_dir')
    ap.add_argument('--no-plots', action='store_true')
    args = ap.parse_args(argv)
    if not os.path.isdir(args.results_dir):
        print(f'report: {args.results_dir}: not a directory', file=sys.stderr)
        return 2
    try:
        _, md, problems = run(args.results_dir, plots=not args.no_plots)
    except InputError as e:
        print(f'report: {e}', file=sys.stderr)
        return 2
    print(md)
    for p in problems:
        print(f'report: {p}', file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
