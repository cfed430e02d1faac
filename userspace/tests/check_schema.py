#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check shmemctl's JSON output against docs/shmemctl.schema.json; TAP on stdout.

What it checks (any combination; at least one source of documents):

  --dir DIR           every recorded document under DIR (recursively; the
                      option may repeat), e.g. the unit tests' $SHMEMCTL_JSON_OUT
                      or the guest test's build/<arch>/shmemctl-json/<kernel>/
  --unit-tests BIN    run the unit test binary BIN with $SHMEMCTL_JSON_OUT set to
                      a temporary directory, then check that directory as --dir
  --shmemctl BIN      run shmemctl BIN itself against a fake root built here
                      (the module's sysfs files, tracefs events and a regular
                      file as /dev/my_shmem) and check what each command printed
                      and its exit status
  --root-fixture DIR  build that fake root as DIR/shmemctl-root (replaced, and
                      kept for trying commands by hand) instead of in a
                      temporary directory
  --require K,K,...   fail unless --dir / --unit-tests gave at least one
                      document of each kind K
  --docs FILE         the JSON examples of FILE (default docs/shmemctl.md): each
                      ```json block right after a line "<!-- schema: KIND -->"
                      must match that kind

Always: the schema is a valid schema, and it rejects a set of broken
documents (so that it cannot pass everything).

Naming convention of a recorded directory (what --dir reads):

    <kind>.json  or  <kind>-<anything>.json     one document of that kind
    watch.jsonl  or  watch-<anything>.jsonl     one event per line (shmemctl --json watch)

with <kind> the command that printed it:

    status       shmemctl --json status           $defs/status (loaded, or {"loaded": false})
    param        shmemctl --json param get NAME   $defs/param  (one object)
    param-list   shmemctl --json param get [N..]  $defs/param_list (no name, or several)
    param-get    either of the two                $defs/param_get
    param-set    shmemctl --json param set        $defs/param_set
    seg-create   shmemctl --json seg create       $defs/seg_create
    seg-list     shmemctl --json seg list         $defs/seg_list
    seg-info     shmemctl --json seg info         $defs/seg_info
    seg-delete   shmemctl --json seg delete       $defs/seg_delete
    seg-attach   shmemctl --json seg attach       $defs/seg_attach
    touch        shmemctl --json touch            $defs/touch
    sync         shmemctl --json sync             $defs/sync
    watch        shmemctl --json watch            $defs/event, each line
    msi-view     shmemctl --json msi view         $defs/msi_view
    msi-nodes    shmemctl --json msi nodes        $defs/msi_nodes
    dsm-view     a v of shmemctl --json dsm       $defs/dsm_view

The longest kind that is the file name's stem or a prefix of it followed by
"-" wins ("param-list-3.json" is param-list, not param).  A file of any other
name fails the check, as does an empty file: a recording that went wrong must
not pass unseen.  Both the unit tests (userspace/tests/unit_tests.cpp) and the
guest test (userspace/tests/shmemctl_test.cpp) record as <kind>-<n>.json and
watch-<n>.jsonl, n counting from 0 per kind.

Exit status: 0 every check passed, 1 a check failed, 2 usage error.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import jsonschema
    from jsonschema import validators
except ImportError:  # pragma: no cover
    print("Bail out! python3-jsonschema is not installed")
    sys.exit(1)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
SCHEMA = os.path.join(REPO, "docs", "shmemctl.schema.json")
DOCS = os.path.join(REPO, "docs", "shmemctl.md")

# kind (file name prefix) -> $defs entry; watch is checked line by line.
KINDS = {
    "status": "status",
    "param": "param",
    "param-list": "param_list",
    "param-get": "param_get",
    "param-set": "param_set",
    "seg-create": "seg_create",
    "seg-list": "seg_list",
    "seg-info": "seg_info",
    "seg-delete": "seg_delete",
    "seg-attach": "seg_attach",
    "touch": "touch",
    "sync": "sync",
    "watch": "event",
    "msi-view": "msi_view",
    "msi-nodes": "msi_nodes",
    "dsm-view": "dsm_view",
}


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        print("TAP version 13", flush=True)

    def ok(self, good, what, why=""):
        self.n += 1
        if not good:
            self.failed += 1
        print("%s %d - %s" % ("ok" if good else "not ok", self.n, what))
        for line in str(why).splitlines() if not good and why else []:
            print("#   " + line)
        sys.stdout.flush()

    def comment(self, text):
        for line in text.splitlines():
            print("# " + line)

    def done(self):
        print("1..%d" % self.n)
        if self.failed:
            print("# %d of %d checks failed" % (self.failed, self.n))
        return 1 if self.failed or not self.n else 0


class Schema:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.root = json.load(f)
        self.cls = validators.validator_for(self.root)
        self.cls.check_schema(self.root)
        self.validators = {}

    def errors(self, doc, name):
        """Why @doc does not match $defs/@name ([] if it does)."""
        if name not in self.root.get("$defs", {}):
            return ["the schema has no $defs/%s" % name]
        v = self.validators.get(name)
        if v is None:
            sub = {"$schema": self.root.get("$schema"), "$defs": self.root["$defs"],
                   "$ref": "#/$defs/" + name}
            v = self.validators[name] = self.cls(sub)
        out = []
        for e in sorted(v.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
            # oneOf/anyOf: say why the closest alternative failed
            while e.context:
                e = jsonschema.exceptions.best_match(e.context)
            out.append("%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(document)",
                                   e.message))
        return out


def kind_of(filename):
    """The kind a recorded file's name says, or None."""
    base = os.path.basename(filename)
    stem, ext = os.path.splitext(base)
    if ext not in (".json", ".jsonl"):
        return None
    best = None
    for k in KINDS:
        if (stem == k or stem.startswith(k + "-")) and (best is None or len(k) > len(best)):
            best = k
    if best is None or (ext == ".jsonl") != (best == "watch"):
        return None
    return best


def documents(text, jsonl):
    """The JSON documents of @text: one, or one per non-empty line."""
    if not jsonl:
        return [json.loads(text)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def check_text(tap, schema, text, kind, what):
    name = KINDS[kind]
    if not text.strip():
        tap.ok(False, "%s is empty" % what)
        return
    try:
        docs = documents(text, kind == "watch")
    except ValueError as e:
        tap.ok(False, "%s is JSON" % what, e)
        return
    for i, doc in enumerate(docs):
        where = what if kind != "watch" else "%s line %d" % (what, i + 1)
        errs = schema.errors(doc, name)
        tap.ok(not errs, "%s matches $defs/%s" % (where, name), "\n".join(errs[:10]))


def check_dir(tap, schema, top, label=None):
    """Every recorded file under @top; returns the kinds seen."""
    seen = {}
    if not os.path.isdir(top):
        tap.ok(False, "%s is a directory of recorded JSON" % top)
        return seen
    for d, dirs, files in os.walk(top):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(d, f)
            rel = os.path.relpath(path, top)
            shown = os.path.join(label, rel) if label else path
            kind = kind_of(f)
            if kind is None:
                tap.ok(False, "%s: a known kind (<kind>[-N].json, watch[-N].jsonl)" % shown,
                       "kinds: " + ", ".join(sorted(KINDS)))
                continue
            seen[kind] = seen.get(kind, 0) + 1
            with open(path, encoding="utf-8", errors="replace") as fh:
                check_text(tap, schema, fh.read(), kind, shown)
    if not seen:
        tap.ok(False, "%s holds recorded JSON" % top)
    return seen


# --------------------------------------------------------------- broken documents

def rejects(tap, schema):
    """The schema must refuse what shmemctl never prints."""
    allocs = [0] * 11
    seg = {"id": 1, "key": 42, "bytes": 4096, "mode": "shared", "perm": 384, "deleted": False,
           "uid": 0, "gid": 0, "cuid": 0, "cgid": 0, "cpid": 1, "lpid": 0, "nattch": 0,
           "nodes": 0, "atime": 0, "dtime": 0, "ctime": 1, "pages": 0, "faults": 0,
           "cleans": 0, "invals": 0, "allocs_by_order": allocs}
    stats = {"pages_in_use": 0, "max_pages": 0, "faults": 0, "cleans": 0, "invals": 0,
             "sigbus": 0, "order_fallbacks": 0, "vmas": 0, "files": 0, "segments": 1,
             "allocs_by_order": allocs, "source": "sysfs"}
    params = {n: "0" for n in ("max_contiguous_alloc_order", "backend", "max_pages",
                               "max_segments", "max_segment_pages", "seg0_pages", "seg0_mode")}
    status = {"loaded": True, "version": "", "srcversion": "X", "netlink_version": None,
              "device_present": True, "device_access": "read-write", "tracepoints": [],
              "params": params, "stats": stats}
    touch = {"op": "write", "segment": 0, "key": 0, "offset_pages": 0, "pages": 1, "repeat": 1,
             "order": None, "seconds": 0.1, "us_per_page": 1.0}
    event = {"type": "alloc", "seg_id": 1, "key": 42, "pgoff": 0, "order": 0, "dropped": 0}
    sync = {"op": "clean", "segment": 0, "key": 0, "offset": 0, "len": 4096, "repeat": 1,
            "allocs": 0, "seconds": 0.0}
    counters = {n: 0 for n in ("read_faults", "write_faults", "fetches", "invals_received",
                               "writebacks", "bytes_moved", "cleans", "invals", "pages_s",
                               "pages_m")}
    view = {"segment": 3, "pages": 2, "first": 0,
            "nodes": [{"node": 0, "states": "SM", "counters": counters},
                      {"node": 1, "states": "SI", "counters": counters}],
            "directory": [{"page": 0, "owner": None, "sharers": 2},
                          {"page": 1, "owner": 0, "sharers": 0}]}
    node = {"segment": 3, "node": 0, "nr_nodes": 2, "counters": counters}
    dsm_view = {"pages": [{"page": 0, "state": "S", "name": "Shared"}],
                "counts": {"M": 0, "S": 1, "I": 0}}

    def edit(doc, **kw):
        d = json.loads(json.dumps(doc))
        for k, v in kw.items():
            if v is KeyError:
                d.pop(k, None)
            else:
                d[k] = v
        return d

    good = [("status", status), ("status", {"loaded": False}), ("seg_info", seg),
            ("touch", touch), ("touch", edit(touch, op="read", mismatches=None)),
            ("event", event), ("event", edit(event, type="seg-created", pgoff=KeyError,
                                             order=KeyError)), ("sync", sync),
            ("msi_view", view), ("msi_view", edit(view, nodes=[])), ("msi_nodes", [node]),
            ("msi_nodes", []), ("dsm_view", dsm_view)]
    for name, doc in good:
        errs = schema.errors(doc, name)
        tap.ok(not errs, "schema accepts a good %s (self-test)" % name, "\n".join(errs))

    bad = [
        ("status", edit(status, stats=KeyError), "status without stats"),
        ("status", {"loaded": False, "version": "1"}, "status not loaded with more fields"),
        ("status", {"loaded": True}, "status loaded without its fields"),
        ("status", edit(status, extra=1), "status with an unknown field"),
        ("status", edit(status, device_access="rw"), "status with device_access rw"),
        ("status", edit(status, stats=edit(stats, source="proc")), "stats from proc"),
        ("status", edit(status, stats=edit(stats, allocs_by_order=[0] * 10)),
         "allocs_by_order of 10"),
        ("status", edit(status, stats=edit(stats, faults=-1)), "a negative counter"),
        ("status", edit(status, params=edit(params, backend=KeyError)), "params without backend"),
        ("status", edit(status, params=edit(params, backend=1)), "a parameter as a number"),
        ("param", {"name": "backend", "value": "insn"}, "param without writable"),
        ("param_set", {"name": "seg0_mode", "old": "0600", "value": "0660"},
         "param set of seg0_mode"),
        ("param_set", {"name": "order", "old": "0", "value": "4"}, "param set naming the alias"),
        ("seg_info", edit(seg, mode="weird"), "segment of mode weird"),
        ("seg_info", edit(seg, perm=512), "segment perm 01000"),
        ("seg_info", edit(seg, nattch=KeyError), "segment without nattch"),
        ("seg_list", [seg, edit(seg, id="1")], "seg list with an id as a string"),
        ("seg_create", {"created": True}, "seg create without the segment"),
        ("seg_delete", {"id": 1, "key": 2}, "seg delete without freed"),
        ("seg_attach", {"id": 1, "key": 2, "address": "268435456", "bytes": 4096,
                        "read_only": False, "pid": 7}, "seg attach with a decimal address"),
        ("touch", edit(touch, mismatches=0), "touch write with mismatches"),
        ("touch", edit(touch, op="read"), "touch read without mismatches"),
        ("touch", edit(touch, order=11), "touch at order 11"),
        ("touch", edit(touch, pages=0), "touch of 0 pages"),
        ("touch", edit(touch, op="scribble"), "touch op scribble"),
        ("sync", edit(sync, op="flush"), "sync op flush"),
        ("sync", edit(sync, len=0), "sync of 0 bytes"),
        ("event", edit(event, order=KeyError), "alloc event without order"),
        ("event", edit(event, type="seg-deleted"), "seg-deleted event with pgoff"),
        ("event", edit(event, type="unknown"), "event of type unknown"),
        ("msi_view", edit(view, nodes=[{"node": 0, "states": "SX", "counters": counters}]),
         "msi view with a state X"),
        ("msi_view", edit(view, nodes=[{"node": 0, "states": "", "counters": counters}]),
         "msi view with no states"),
        ("msi_view", edit(view, nodes=[{"node": 0, "states": "SM", "counters":
                                        edit(counters, pages_m=KeyError)}]),
         "msi view with a counter missing"),
        ("msi_view", edit(view, directory=[{"page": 0, "owner": 1, "sharers": 1}]),
         "a page in M and in S at once"),
        ("msi_view", edit(view, directory=[{"page": 0, "owner": 65536, "sharers": 0}]),
         "an owner beyond MY_SHMEM_MAX_NODES"),
        ("msi_view", edit(view, directory=[{"page": 0, "sharers": 0}]),
         "a directory entry without owner"),
        ("msi_view", edit(view, directory=[]), "msi view of no pages"),
        ("msi_view", edit(view, pages=KeyError), "msi view without pages"),
        ("msi_nodes", [edit(node, nr_nodes=0)], "a node of a segment of 0 nodes"),
        ("msi_nodes", [edit(node, counters=edit(counters, extra=1))], "a node with an unknown counter"),
        ("dsm_view", edit(dsm_view, counts={"M": 0, "S": 1}), "dsm view without counts.I"),
    ]
    for name, doc, what in bad:
        tap.ok(bool(schema.errors(doc, name)), "schema rejects %s (self-test)" % what,
               "accepted as $defs/%s" % name)


# --------------------------------------------------------------- documented examples

def check_docs(tap, schema, path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(r"<!--\s*schema:\s*([\w-]+)\s*-->\s*\n```json\n(.*?)```", text, re.S)
    if not blocks:
        tap.ok(False, "%s has JSON examples marked <!-- schema: KIND -->" % path)
    for kind, body in blocks:
        if kind not in KINDS:
            tap.ok(False, "%s: example of a known kind" % path, "unknown kind " + kind)
            continue
        check_text(tap, schema, body, kind, "%s example (%s)" % (os.path.basename(path), kind))


# --------------------------------------------------------------- shmemctl itself

PARAMS = [("max_contiguous_alloc_order", "0"), ("backend", "insn"), ("max_pages", "0"),
          ("max_segments", "64"), ("max_segment_pages", "1024"), ("seg0_pages", "16"),
          ("seg0_mode", "0600")]
STATS = [("pages_in_use", 4), ("faults", 4), ("cleans", 2), ("invals", 0), ("sigbus", 0),
         ("order_fallbacks", 0), ("vmas", 0), ("files", 1), ("segments", 1)]


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.chmod(path, 0o644)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def build_root(root, pages=16):
    """A tree that looks like my_shmem loaded, /dev/my_shmem a regular file of @pages."""
    mod = os.path.join(root, "sys/module/my_shmem")
    write(os.path.join(mod, "version"), "1.0\n")
    write(os.path.join(mod, "srcversion"), "0123456789ABCDEF0123456\n")
    for n, v in PARAMS:
        write(os.path.join(mod, "parameters", n), v + "\n", 0o444 if n == "seg0_mode" else 0o644)
    st = os.path.join(root, "sys/class/misc/my_shmem/stats")
    for n, v in STATS:
        write(os.path.join(st, n), "%d\n" % v, 0o444)
    write(os.path.join(st, "allocs_by_order"), "4 0 0 0 0 0 0 0 0 0 0\n", 0o444)
    for e in ("alloc", "clean", "fault", "inval"):
        os.makedirs(os.path.join(root, "sys/kernel/tracing/events/my_shmem", e), exist_ok=True)
    dev = os.path.join(root, "dev/my_shmem")
    write(dev, "")
    os.truncate(dev, pages * os.sysconf("SC_PAGE_SIZE"))


def check_shmemctl(tap, schema, binary, fixture):
    if not os.access(binary, os.X_OK):
        tap.ok(False, "%s is an executable" % binary)
        return
    tmp = None
    if fixture:
        root = os.path.join(fixture, "shmemctl-root")
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
    else:
        tmp = tempfile.mkdtemp(prefix="shmemctl-schema.")
        root = tmp
    try:
        build_root(root)
        runs = [
            (["--json", "status"], 0, "status"),
            (["--pretty", "status"], 0, "status"),
            (["--json", "param", "get"], 0, "param-list"),
            (["--json", "param", "get", "order"], 0, "param"),
            (["--json", "param", "get", "order", "seg0_mode"], 0, "param-list"),
            (["--json", "param", "set", "order", "3"], 0, "param-set"),
            (["--json", "param", "set", "backend", "pmem"], 0, "param-set"),
            (["--json", "touch", "write", "-n", "8"], 0, "touch"),
            (["--json", "touch", "write", "-n", "4", "--offset", "2", "--repeat", "3",
              "--order", "2"], 0, "touch"),
            (["--json", "touch", "read", "-n", "8"], 0, "touch"),
            (["--json", "touch", "read", "-n", "8", "--no-verify"], 0, "touch"),
            (["--json", "touch", "read", "-n", "4", "--offset", "12"], 1, "touch"),
        ]
        for args, rc, kind in runs:
            run(tap, schema, binary, root, args, rc, kind)
        # the environment instead of --root
        run(tap, schema, binary, root, ["--json", "status"], 0, "status", env_root=True)
        shutil.rmtree(os.path.join(root, "sys/module/my_shmem"))
        run(tap, schema, binary, root, ["--json", "status"], 1, "status")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def run(tap, schema, binary, root, args, rc, kind, env_root=False):
    env = dict(os.environ)
    env.pop("MY_SHMEM_ROOT", None)
    if env_root:
        env["MY_SHMEM_ROOT"] = root
        cmd = [binary] + args
    else:
        cmd = [binary, "--root", root] + args
    shown = "shmemctl " + " ".join(args) + (" (MY_SHMEM_ROOT)" if env_root else "")
    try:
        p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        tap.ok(False, "%s runs" % shown, e)
        return
    tap.ok(p.returncode == rc, "%s: exit status %d" % (shown, rc),
           "exit status %d\n%s" % (p.returncode, p.stderr))
    check_text(tap, schema, p.stdout, kind, shown)


# --------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(
        description="Check shmemctl's JSON output against docs/shmemctl.schema.json (TAP).",
        epilog="Recorded files: <kind>[-N].json, watch[-N].jsonl; see the top of this script.")
    ap.add_argument("--schema", default=SCHEMA, help="the schema (default: %(default)s)")
    ap.add_argument("--dir", action="append", default=[], metavar="DIR",
                    help="check every recorded document under DIR (repeatable)")
    ap.add_argument("--unit-tests", metavar="BIN",
                    help="run the unit tests with $SHMEMCTL_JSON_OUT and check what they wrote")
    ap.add_argument("--shmemctl", metavar="BIN", help="run BIN against a fake root and check it")
    ap.add_argument("--root-fixture", metavar="DIR",
                    help="build the fake root as DIR/shmemctl-root and keep it")
    ap.add_argument("--require", default="", metavar="K,K,...",
                    help="kinds --dir / --unit-tests must have recorded")
    ap.add_argument("--docs", default=DOCS, metavar="FILE",
                    help="check the marked JSON examples of FILE (default: %(default)s; "
                         "'' to skip)")
    a = ap.parse_args()

    required = [k for k in a.require.split(",") if k]
    for k in required:
        if k not in KINDS:
            ap.error("--require: unknown kind %s (kinds: %s)" % (k, ", ".join(sorted(KINDS))))
    if not (a.dir or a.unit_tests or a.shmemctl):
        ap.error("nothing to check: give --dir, --unit-tests or --shmemctl")
    if required and not (a.dir or a.unit_tests):
        ap.error("--require needs --dir or --unit-tests")

    tap = Tap()
    try:
        schema = Schema(a.schema)
        tap.ok(True, "%s is a valid %s schema" % (os.path.relpath(a.schema, REPO),
                                                  schema.cls.__name__))
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as e:
        tap.ok(False, "%s is a valid schema" % a.schema, e)
        return tap.done()

    rejects(tap, schema)
    if a.docs:
        check_docs(tap, schema, a.docs)

    seen = {}

    def add(s):
        for k, n in s.items():
            seen[k] = seen.get(k, 0) + n

    for d in a.dir:
        add(check_dir(tap, schema, d))
    if a.unit_tests:
        out = tempfile.mkdtemp(prefix="shmemctl-json.")
        try:
            env = dict(os.environ, SHMEMCTL_JSON_OUT=out)
            p = subprocess.run([a.unit_tests], env=env, capture_output=True, text=True,
                               check=False)
            tap.ok(p.returncode == 0, "%s passes" % a.unit_tests,
                   "\n".join(line for line in p.stdout.splitlines()
                             if line.startswith("not ok") or line.startswith("#")))
            add(check_dir(tap, schema, out, label="$SHMEMCTL_JSON_OUT"))
        finally:
            shutil.rmtree(out, ignore_errors=True)
    for k in required:
        tap.ok(seen.get(k, 0) > 0, "a recorded %s document was checked" % k,
               "no %s-*.%s among the recorded files" % (k, "jsonl" if k == "watch" else "json"))
    if a.shmemctl:
        check_shmemctl(tap, schema, a.shmemctl, a.root_fixture)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
