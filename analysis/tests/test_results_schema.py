#!/usr/bin/env python3
"""docs/results.schema.json and analysis/schema.py: the schema accepts the
fixtures (run-mini's meta.json, index.json and anchor.json, the summary.json
report.py writes from them, anchor.json as my_shmem-cmo-anchor prints it)
and rejects each kind of drift: a missing field, a wrong type, an unknown
field, the old "size" field.  The smoke check fails on a violation."""
import copy
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import report  # noqa: E402
import schema  # noqa: E402
import smoke_check  # noqa: E402
from test_latency_report import MINI, RunDir, quiet  # noqa: E402

try:
    schema._jsonschema()
    NO_JSONSCHEMA = None
except ImportError as e:
    NO_JSONSCHEMA = str(e)


def load(*parts):
    with open(os.path.join(MINI, *parts)) as f:
        return json.load(f)


# One row as userspace/anchor/cmo_bench.cpp prints it (its field set and
# order; numbers from run-mini's anchor.json).
CMO_ROW = {'instruction': 'clflushopt', 'state': 'dirty', 'size': 1048576, 'order': 8,
           'lines': 16384, 'line_size': 64, 'reps': 3,
           'samples_ns': [204800.0, 200000.0, 230000.0], 'cpu': 'hand-made'}


@unittest.skipIf(NO_JSONSCHEMA, NO_JSONSCHEMA)
class AcceptTest(unittest.TestCase):
    def test_schema_is_a_valid_2020_12_schema(self):
        js = schema._jsonschema()
        doc = schema.load_schema()
        self.assertEqual('https://json-schema.org/draft/2020-12/schema', doc['$schema'])
        js.Draft202012Validator.check_schema(doc)
        self.assertEqual(set(schema.KINDS), set(schema.KINDS) & set(doc['$defs']))

    def test_fixtures(self):
        schema.validate('meta', load('meta.json'))
        schema.validate('index', load('raw', 'E2', 'index.json'))
        schema.validate('anchor', load('anchor.json'))
        schema.validate('anchor', [CMO_ROW])
        schema.validate('anchor', {'cpu_model': 'x', 'results': [CMO_ROW]})

    def test_summary_report_writes(self):
        with RunDir() as p:
            summary, _, _ = report.run(p, plots=False)
            schema.validate('summary', summary)
            with open(os.path.join(p, 'summary.json')) as f:
                schema.validate('summary', json.load(f))
            self.assertEqual([], schema.check_dir(p))
            rc, out, err = quiet(schema.main, [p])
            self.assertEqual((0, ''), (rc, err))

    def test_bare_metal_meta(self):
        m = load('meta.json')
        m.update(accelerator='none (bare metal)', qemu_version=None, caveat=None,
                 memory={'prealloc': None, 'how': 'bare metal: host RAM, no lazy backing'})
        m['cpu'].update(vendor=None, model_name=None)
        schema.validate('meta', m)


@unittest.skipIf(NO_JSONSCHEMA, NO_JSONSCHEMA)
class RejectTest(unittest.TestCase):
    def rejected(self, kind, doc, *fragments):
        with self.assertRaises(ValueError) as cm:
            schema.validate(kind, doc)
        for f in fragments:
            self.assertIn(f, str(cm.exception))
        return str(cm.exception)

    def test_meta_missing_field(self):
        m = load('meta.json')
        del m['cpu']
        self.rejected('meta', m, "$: 'cpu' is a required property")
        m = load('meta.json')
        del m['memory']['how']
        self.rejected('meta', m, "$.memory: 'how' is a required property")

    def test_meta_wrong_type(self):
        m = load('meta.json')
        m['memory']['prealloc'] = 'yes'
        self.rejected('meta', m, "$.memory.prealloc: 'yes' is not of type 'boolean', 'null'")
        m = load('meta.json')
        m['experiments'] = ['E2', 'E4']
        self.rejected('meta', m, '$.experiments[1]:')

    def test_meta_extra_field(self):
        m = load('meta.json')
        m['cpu_part'] = '0xd0b'
        self.rejected('meta', m, "$: Additional properties are not allowed ('cpu_part'")
        m = load('meta.json')
        m['tools']['perf'] = '6.1'
        self.rejected('meta', m, '$.tools: Additional properties')

    def test_index_entry_drift(self):
        idx = load('raw', 'E2', 'index.json')
        for mutate, fragment in (
                (lambda e: e.pop('mapping_size'), "$[2]: 'mapping_size' is a required property"),
                (lambda e: e.pop('function'), "$[2]: 'function' is a required property"),
                (lambda e: e.update(order='4'), "$[2].order: '4' is not of type 'integer'"),
                (lambda e: e.update(backend='dma-coherent'), '$[2].backend:'),
                (lambda e: e.update(alloc_size=None), '$[2].alloc_size: None is not of type'),
                (lambda e: e.update(flags=1), "$[2]: Additional properties are not allowed ('flags'"),
                (lambda e: e.update(size=65536), "$[2]: Additional properties are not allowed ('size'")):
            bad = copy.deepcopy(idx)
            mutate(bad[2])
            self.rejected('index', bad, fragment)

    def test_index_ftrace_needs_a_function(self):
        idx = load('raw', 'E2', 'index.json')
        idx[0]['function'] = None
        self.rejected('index', idx, '$[0].function: None is not of type')
        idx = load('raw', 'E2', 'index.json')
        idx[5]['function'] = None           # bcc: the raw v2 samples name it
        schema.validate('index', idx)

    def test_summary_drift(self):
        with RunDir() as p:
            summary, _, _ = report.run(p, plots=False)
        bad = copy.deepcopy(summary)
        bad['experiments']['E2']['clean']['bcc'][0]['size'] = 65536
        self.rejected('summary', bad, '$.experiments.E2.clean.bcc[0]: Additional properties',
                      "'size'")
        bad = copy.deepcopy(summary)
        del bad['notes']
        self.rejected('summary', bad, "$: 'notes' is a required property")
        bad = copy.deepcopy(summary)
        del bad['experiments']['E2']['clean']['ftrace'][0]['p50']
        self.rejected('summary', bad, "$.experiments.E2.clean.ftrace[0]: 'p50' is a required")
        bad = copy.deepcopy(summary)
        bad['meta']['n'] = 'four'
        self.rejected('summary', bad, "$.meta.n: 'four' is not of type 'integer'")

    def test_anchor_drift(self):
        self.rejected('anchor', [dict(CMO_ROW, state='warm')], "$[0].state: 'warm' is not one of")
        self.rejected('anchor', [dict(CMO_ROW, cycles=3)], "('cycles' was unexpected)")
        row = dict(CMO_ROW)
        del row['samples_ns']
        self.rejected('anchor', {'results': [row]}, "$.results[0]: ")
        self.rejected('anchor', [dict(CMO_ROW, samples_ns=[])], "$[0].samples_ns: [] ")


    def test_unknown_kind(self):
        with self.assertRaisesRegex(ValueError, 'unknown kind "raw"'):
            schema.validate('raw', {})


class DocumentedTest(unittest.TestCase):
    """Every field the schema defines is named in docs/results-format.md."""

    def test_every_property_is_documented(self):
        with open(os.path.join(os.path.dirname(schema.SCHEMA_PATH), 'results-format.md')) as f:
            doc = f.read()
        defs = schema.load_schema()['$defs']
        missing = []

        def walk(where, node):
            if isinstance(node, dict):
                for name in node.get('properties', {}):
                    if f'`{name}`' not in doc and f'"{name}"' not in doc:
                        missing.append(f'{where}.{name}')
                for k, v in node.items():
                    walk(where, v)
            elif isinstance(node, list):
                for v in node:
                    walk(where, v)
        for name, d in defs.items():
            walk(name, d)
        self.assertEqual([], missing)


@unittest.skipIf(NO_JSONSCHEMA, NO_JSONSCHEMA)
class DirectoryTest(unittest.TestCase):
    def test_cli_lists_every_problem(self):
        with RunDir() as p:
            RunDir.edit_index(p, 'E2', lambda idx: [dict(e, size=1) if i == 1 else e
                                                    for i, e in enumerate(idx)])
            with open(os.path.join(p, 'meta.json')) as f:
                m = json.load(f)
            m['experiments'] = ['E2', 'E6']
            with open(os.path.join(p, 'meta.json'), 'w') as f:
                json.dump(m, f)
            rc, _, err = quiet(schema.main, [p])
        self.assertEqual(1, rc)
        self.assertRegex(err, r'raw/E2/index\.json: \$\[1\]: Additional properties .*\'size\'')
        self.assertRegex(err, r'raw/E6/index\.json: missing, but meta\.json lists E6')

    def test_cli_kind_and_usage(self):
        rc, _, _ = quiet(schema.main, ['--kind', 'anchor', os.path.join(MINI, 'anchor.json')])
        self.assertEqual(0, rc)
        rc, _, err = quiet(schema.main, ['--kind', 'meta', os.path.join(MINI, 'anchor.json')])
        self.assertEqual(1, rc)
        self.assertIn("anchor.json: $: 'schema' is a required property", err)
        rc, _, err = quiet(schema.main, [os.path.join(MINI, 'meta.json')])
        self.assertEqual(2, rc)
        self.assertIn('not a results directory', err)

    def test_smoke_check_fails_on_a_violation(self):
        # an unknown field the analysis itself would not mind: only the
        # schema catches it
        with RunDir() as p:
            RunDir.edit_index(p, 'E2', lambda idx: [dict(e, seconds=3) for e in idx])
            quiet(report.main, [p, '--no-plots'])
            rc, out, _ = quiet(smoke_check.main, [p])
        self.assertEqual(1, rc)
        self.assertRegex(out, r"not ok 2 - every JSON file matches docs/results\.schema\.json: "
                              r".*raw/E2/index\.json: \$\[0\]: Additional properties are not "
                              r"allowed \('seconds' was unexpected\)")
        self.assertNotRegex(out, r'not ok (?!2 )')


@unittest.skipIf(NO_JSONSCHEMA, NO_JSONSCHEMA)
class OldResultsTest(unittest.TestCase):
    """Results written before issue 12 (index entries with "size"): the
    report reads them and says how; the schema refuses them."""

    def test_old_index_is_read_with_a_note_and_fails_the_schema(self):
        with RunDir() as p:
            def old(idx):
                return [{k: v for k, v in dict(e, size=e['alloc_size']).items()
                         if k not in ('alloc_size', 'mapping_size')} for e in idx]
            RunDir.edit_index(p, 'E2', old)
            summary, _, problems = report.run(p, plots=False)
            self.assertEqual([], problems)
            row = next(r for r in summary['experiments']['E2']['clean']['ftrace']
                       if r['order'] == 6)
            self.assertEqual((262144, 4194304), (row['alloc_size'], row['mapping_size']))
            self.assertTrue(any(n.startswith(
                'E2/index.json is in the format before issue 12 (one "size" field): '
                'read as alloc_size = size, mapping_size = meta size') for n in summary['notes']),
                summary['notes'])
            self.assertTrue(any("'size' was unexpected" in e for e in schema.check_dir(p)))


if __name__ == '__main__':
    unittest.main()
