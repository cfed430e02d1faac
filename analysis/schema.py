#!/usr/bin/env python3
"""Validate a latency results directory against docs/results.schema.json.

usage: python3 analysis/schema.py RESULTS_DIR
       python3 analysis/schema.py --kind KIND FILE...

The first form checks every JSON file of a results directory (layout in
docs/results-format.md) against its definition in the schema:

  meta.json             $defs/meta     (required)
  raw/<EXP>/index.json  $defs/index    (one per experiment; every experiment
                                        meta.json lists must have one)
  summary.json          $defs/summary  (when analysis/report.py wrote it)
  anchor.json           $defs/anchor   (when the host anchor ran)

The second form checks the given files as documents of KIND (meta, index,
summary or anchor).  Each problem is printed on its own line as
"FILE: $.json.path: what is wrong".

As a module: validate(kind, doc) raises ValueError naming the JSON path of
every violation; check_dir(results_dir) returns the problems as strings.

Needs python3-jsonschema (Debian: apt-get install python3-jsonschema); a
python3 that does not see Debian's packages (pyenv, venv) gets Debian's
dist-packages directory appended to its path as a last resort.

Exit status: 0 every file is valid; 1 a file is missing, not JSON or
invalid (all problems listed on stderr); 2 usage error or no jsonschema.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_PATH = os.path.join(os.path.dirname(HERE), 'docs', 'results.schema.json')
KINDS = ('meta', 'index', 'summary', 'anchor')
DEBIAN_DIST_PACKAGES = '/usr/lib/python3/dist-packages'

_validators = {}


def _jsonschema():
    try:
        import jsonschema
    except ImportError:
        if os.path.isdir(DEBIAN_DIST_PACKAGES) and DEBIAN_DIST_PACKAGES not in sys.path:
            sys.path.append(DEBIAN_DIST_PACKAGES)
            try:
                import jsonschema
                return jsonschema
            except ImportError:
                pass
        raise ImportError('python3-jsonschema is not installed '
                          '(apt-get install python3-jsonschema)') from None
    return jsonschema


def load_schema(path=SCHEMA_PATH):
    with open(path) as f:
        return json.load(f)


def validator(kind):
    """A Draft 2020-12 validator of $defs/<kind> (cached)."""
    if kind not in KINDS:
        raise ValueError(f'unknown kind "{kind}" (one of {", ".join(KINDS)})')
    if kind not in _validators:
        js = _jsonschema()
        schema = load_schema()
        schema.pop('anyOf', None)
        schema['$ref'] = f'#/$defs/{kind}'
        js.Draft202012Validator.check_schema(schema)
        _validators[kind] = js.Draft202012Validator(schema)
    return _validators[kind]


def json_path(parts):
    """'$.a[0].b' of a jsonschema error path (a deque of keys and indices)."""
    out = '$'
    for p in parts:
        if isinstance(p, int):
            out += f'[{p}]'
        elif isinstance(p, str) and p.replace('_', '').replace('-', '').isalnum():
            out += f'.{p}'
        else:
            out += f'[{json.dumps(p)}]'
    return out


def _leaves(err):
    """The most specific errors behind err: an anyOf/oneOf failure is
    explained by the best of its alternatives' errors."""
    if err.context:
        js = _jsonschema()
        # Alternatives the value does not even have the type of (an object
        # given to the list form of anchor) explain nothing when another
        # alternative got further.
        ctx = [e for e in err.context
               if not (e.validator == 'type' and e.absolute_path == err.absolute_path)]
        best = js.exceptions.best_match(ctx or err.context)
        if best is not None and len(best.absolute_path) >= len(err.absolute_path):
            return _leaves(best)
    return [err]


def errors(kind, doc):
    """['$.path: message', ...] of doc against $defs/<kind>; [] when valid."""
    out = []
    for err in sorted(validator(kind).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        for leaf in _leaves(err):
            msg = leaf.message
            if len(msg) > 300:
                msg = msg[:300] + '...'
            line = f'{json_path(leaf.absolute_path)}: {msg}'
            if line not in out:
                out.append(line)
    return out


def validate(kind, doc):
    """Raise ValueError listing every violation of doc against $defs/<kind>
    (each as '$.json.path: message')."""
    errs = errors(kind, doc)
    if errs:
        raise ValueError(f'not a valid {kind} document: ' + '; '.join(errs))


def check_file(kind, path):
    """Problems ('PATH: ...') of one file as a document of kind."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        return [f'{path}: cannot read: {e.strerror}']
    except json.JSONDecodeError as e:
        return [f'{path}: not JSON: {e}']
    return [f'{path}: {e}' for e in errors(kind, doc)]


def check_dir(results_dir):
    """Problems of every JSON file of a results directory (see the module
    docstring); [] when all are valid."""
    problems = []
    meta_path = os.path.join(results_dir, 'meta.json')
    if not os.path.exists(meta_path):
        problems.append(f'{meta_path}: missing (every results directory has one)')
        meta = None
    else:
        problems += check_file('meta', meta_path)
        try:
            with open(meta_path) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            meta = None
    raw = os.path.join(results_dir, 'raw')
    exps = sorted(os.listdir(raw)) if os.path.isdir(raw) else []
    listed = meta.get('experiments') if isinstance(meta, dict) else None
    for exp in listed if isinstance(listed, list) else []:
        if exp not in exps:
            problems.append(f'{raw}/{exp}/index.json: missing, but meta.json lists {exp}')
    for exp in exps:
        path = os.path.join(raw, exp, 'index.json')
        if not os.path.isdir(os.path.join(raw, exp)):
            continue
        if not os.path.exists(path):
            problems.append(f'{path}: missing (raw/{exp}/ has no index)')
            continue
        problems += check_file('index', path)
    for name, kind in (('summary.json', 'summary'), ('anchor.json', 'anchor')):
        path = os.path.join(results_dir, name)
        if os.path.exists(path):
            problems += check_file(kind, path)
    return problems


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(
        description='Validate a latency results directory (or single files) against '
                    'docs/results.schema.json.',
        epilog='Exit status: 0 valid; 1 problems (listed on stderr); 2 usage error or '
               'python3-jsonschema missing.')
    ap.add_argument('--kind', choices=KINDS,
                    help='check the given FILEs as documents of this kind')
    ap.add_argument('paths', nargs='+', metavar='RESULTS_DIR|FILE')
    args = ap.parse_args(argv)
    try:
        _jsonschema()
    except ImportError as e:
        print(f'schema: {e}', file=sys.stderr)
        return 2
    problems = []
    if args.kind:
        for p in args.paths:
            problems += check_file(args.kind, p)
    else:
        if len(args.paths) != 1 or not os.path.isdir(args.paths[0]):
            print(f'schema: {" ".join(args.paths)}: not a results directory '
                  '(give one directory, or --kind KIND FILE...)', file=sys.stderr)
            return 2
        problems = check_dir(args.paths[0])
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f'schema: {" ".join(args.paths)}: valid')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
