#!/usr/bin/env python3
"""First-touch benchmark analysis (make bench): pure functions over the JSON
lines that scripts/bench-guest records, plus a small command-line front end.

Input records (one JSON object per line):
  {"target": "shmem"|"memfd", "mode": "byte"|"page", "size": bytes,
   "pages": n, "order": k (-1 for memfd), "seconds": s, "ns_per_page": x,
   "alloc_ns": total in-kernel allocate+zero ns (shmem only),
   "alloc_pages": pages allocated in that run (shmem only)}

"# meta k=v" lines carry the guest's context; mem_prealloc=1|0 (the
MY_SHMEM_MEM_PREALLOC scripts/vm-run gives the guest) becomes the report's
"memory": {"prealloc", "how"}. A guest whose RAM QEMU backs lazily pays a
host page fault and zeroing at the first touch of each guest-physical page:
its first-touch figures are then not the guest's, and the report says so.

Figures derived, each a ratio of two numbers from the same run:
  size_scaling   ns/page at the largest size / ns/page at the smallest
                 (target <= 1.3: cost per page does not grow with the mapping)
  vs_memfd       memfd ns/page / my_shmem ns/page at the same size and mode
                 (target > 1: my_shmem first touch is faster than memfd's)
  vs_floor       my_shmem ns/page / in-kernel allocate+zero ns/page
                 (target <= 1.3 at order >= 4: the fault path adds little)
  fault_vs_floor (first touch - second touch) ns/page / allocate+zero ns/page:
                 the same without the cost of the stores themselves, which
                 under TCG include an emulated TLB refill per page
"""
import argparse
import json
import sys

SIZE_SCALING_MAX = 1.3
FLOOR_RATIO_MAX = 1.3
FLOOR_MIN_ORDER = 4


def memory_state(value):
    """The guest's memory state from MY_SHMEM_MEM_PREALLOC (scripts/vm-run):
    "1" preallocated, "0" backed lazily by QEMU, None or "" bare metal."""
    if value in (None, ''):
        return {'prealloc': None, 'how': 'bare metal: host RAM, no lazy backing'}
    if value == '1':
        return {'prealloc': True, 'how': 'qemu -mem-prealloc'}
    if value == '0':
        return {'prealloc': False,
                'how': 'qemu: guest RAM backed lazily (a host page fault and zeroing at the '
                       'first touch of each guest page)'}
    raise ValueError(f'mem_prealloc must be 1, 0 or empty, not {value!r}')


def parse_meta(lines):
    """k=v pairs of the '# meta k=v' lines scripts/bench-guest prints."""
    meta = {}
    for line in lines:
        if line.startswith('# meta ') and '=' in line:
            k, v = line[len('# meta '):].strip().split('=', 1)
            meta[k] = v
    return meta


def parse_records(lines):
    """JSON objects from an iterable of lines; blank and '#' lines skipped."""
    out = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f'line {n}: not JSON: {e}') from None
        for key in ('target', 'mode', 'size', 'pages', 'ns_per_page'):
            if key not in rec:
                raise ValueError(f'line {n}: missing "{key}"')
        out.append(rec)
    return out


def floor_ns_per_page(rec):
    """In-kernel allocate+zero cost per page of a my_shmem run, or None."""
    if rec.get('target') != 'shmem' or not rec.get('alloc_pages'):
        return None
    return rec['alloc_ns'] / rec['alloc_pages']


def analyse(records):
    """Rows (one per my_shmem run) with the derived ratios, and target verdicts."""
    memfd = {(r['mode'], r['size']): r['ns_per_page']
             for r in records if r['target'] == 'memfd'}
    shmem = [r for r in records if r['target'] == 'shmem']
    sizes = sorted({r['size'] for r in shmem})
    rows = []
    for r in sorted(shmem, key=lambda r: (r['order'], r['mode'], r['size'])):
        floor = floor_ns_per_page(r)
        base = memfd.get((r['mode'], r['size']))
        retouch = r.get('retouch_ns_per_page')
        fault = r['ns_per_page'] - retouch if retouch is not None else None
        rows.append({
            'order': r['order'], 'mode': r['mode'], 'size': r['size'],
            'pages': r['pages'], 'ns_per_page': r['ns_per_page'],
            'memfd_ns_per_page': base,
            'floor_ns_per_page': floor,
            'vs_memfd': base / r['ns_per_page'] if base else None,
            'vs_floor': r['ns_per_page'] / floor if floor else None,
            'retouch_ns_per_page': retouch,
            'fault_vs_floor': fault / floor if floor and fault is not None else None,
        })
    scaling = []
    for order in sorted({r['order'] for r in rows}):
        for mode in ('byte', 'page'):
            by_size = {r['size']: r['ns_per_page'] for r in rows
                       if r['order'] == order and r['mode'] == mode}
            if len(by_size) >= 2:
                lo, hi = min(by_size), max(by_size)
                scaling.append({'order': order, 'mode': mode,
                                'small': lo, 'large': hi,
                                'ratio': by_size[hi] / by_size[lo]})
    targets = {
        'size_scaling_le_1.3': verdict(
            [s['ratio'] <= SIZE_SCALING_MAX for s in scaling]),
        'ahead_of_memfd': verdict(
            [r['vs_memfd'] > 1 for r in rows if r['vs_memfd'] is not None]),
        'floor_within_1.3_at_order_ge_4': verdict(
            [r['vs_floor'] <= FLOOR_RATIO_MAX for r in rows
             if r['order'] >= FLOOR_MIN_ORDER and r['vs_floor'] is not None]),
    }
    return {'sizes': sizes, 'rows': rows, 'size_scaling': scaling,
            'targets': targets}


def verdict(oks):
    """'met', 'missed (k of n)' or 'not measured'."""
    if not oks:
        return 'not measured'
    bad = oks.count(False)
    return 'met' if not bad else f'missed ({bad} of {len(oks)})'


def human_size(n):
    for unit, div in (('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        if n >= div and n % div == 0:
            return f'{n // div} {unit}'
    return f'{n} B'


def fmt(x, spec='.2f'):
    return '-' if x is None else format(x, spec)


def render_markdown(result, meta):
    """The report as Markdown: context, the table, scaling, targets."""
    out = ['# my_shmem first-touch benchmark', '']
    for k, v in meta.items():
        out.append(f'- {k}: {v}')
    mem = result.get('memory')
    if mem and mem['prealloc'] is False:
        out += ['', '**Guest RAM backed lazily by QEMU: each first touch of a guest page '
                'includes a host page fault and zeroing, so these figures are not the '
                "guest's (scripts/vm-run --mem-prealloc).**"]
    out += ['', '| order | mode | size | ns/page | memfd ns/page | memfd/my_shmem '
            '| alloc+zero ns/page | first touch / alloc+zero | second touch ns/page '
            '| (first - second) / alloc+zero |',
            '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in result['rows']:
        out.append(f"| {r['order']} | {r['mode']} | {human_size(r['size'])} | "
                   f"{fmt(r['ns_per_page'], '.0f')} | {fmt(r['memfd_ns_per_page'], '.0f')} | "
                   f"{fmt(r['vs_memfd'])} | {fmt(r['floor_ns_per_page'], '.0f')} | "
                   f"{fmt(r['vs_floor'])} | {fmt(r['retouch_ns_per_page'], '.0f')} | "
                   f"{fmt(r['fault_vs_floor'])} |")
    out += ['', '| order | mode | ns/page largest / smallest size |', '|---:|---|---:|']
    for s in result['size_scaling']:
        out.append(f"| {s['order']} | {s['mode']} | {s['ratio']:.2f} "
                   f"({human_size(s['large'])} / {human_size(s['small'])}) |")
    out += ['', 'Targets:']
    for k, v in result['targets'].items():
        out.append(f'- {k}: {v}')
    return '\n'.join(out) + '\n'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('raw', help='JSON lines from scripts/bench-guest')
    ap.add_argument('--meta', action='append', default=[], metavar='KEY=VALUE',
                    help='context recorded with the result (repeatable)')
    ap.add_argument('--json', metavar='FILE', help='write the result as JSON')
    ap.add_argument('--markdown', metavar='FILE', help='write the report as Markdown')
    args = ap.parse_args(argv)
    with open(args.raw) as f:
        lines = f.readlines()
    meta = parse_meta(lines)
    meta.update(m.split('=', 1) for m in args.meta)
    result = analyse(parse_records(lines))
    result['meta'] = meta
    if 'mem_prealloc' in meta:
        result['memory'] = memory_state(meta['mem_prealloc'])
    md = render_markdown(result, meta)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
            f.write('\n')
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(md)
    sys.stdout.write(md)
    return 0


if __name__ == '__main__':
    sys.exit(main())
