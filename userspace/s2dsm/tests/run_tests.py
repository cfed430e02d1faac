#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make -C userspace/s2dsm check: unit tests, then two-process integration tests of
s2dsm on this host.  One TAP-ish line per test; exit status 1 if any failed."""

import argparse
import bisect
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s2dsmlib as L  # noqa: E402

BIN = None
TMP = None
results = []  # (ok, name, skip_reason)


class Skip(Exception):
    pass


def report(ok, name, skip=None, detail=None):
    n = len(results) + 1
    results.append((ok, name, skip))
    if skip:
        print("ok %d - %s # SKIP %s" % (n, name, skip), flush=True)
    elif ok:
        print("ok %d - %s" % (n, name), flush=True)
    else:
        print("not ok %d - %s" % (n, name), flush=True)
        if detail:
            for line in detail.rstrip().splitlines():
                print("#   " + line, flush=True)


TESTS = []


def test(name, needs_uffd=True):
    def deco(fn):
        TESTS.append((name, fn, needs_uffd))
        return fn
    return deco


def script(text):
    fd, path = tempfile.mkstemp(prefix="s2dsm-", suffix=".txt", dir=TMP)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run_cmd(args, timeout=10):
    return subprocess.run([BIN, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------- arguments
@test("--help is a manual (protocol, prompts, options, exit status, example)", needs_uffd=False)
def t_help():
    r = run_cmd(["--help"])
    check(r.returncode == 0, "exit %d" % r.returncode)
    for needle in ["PAIRING", "PROTOCOL", "PROMPTS", "EXIT STATUS", "EXAMPLE", "--peer", "--pages",
                   "--script", "--json", "MADV_DONTNEED", "s2dsm 4000 4001", "How many pages"]:
        check(needle in r.stdout, "--help lacks %r" % needle)


BAD_ARGS = [
    ([], "required"),
    (["4000"], "required"),
    (["0", "4001"], "local-port"),
    (["70000", "4001"], "local-port"),
    (["abc", "4001"], "local-port"),
    (["4000", "4000"], "must differ"),
    (["--pages", "0", "4000", "4001"], "--pages"),
    (["--pages", "-3", "4000", "4001"], "--pages"),
    (["--script", "/nonexistent/s2dsm.txt", "4000", "4001"], "--script"),
    (["--timeout", "0", "4000", "4001"], "--timeout"),
    (["--frobnicate", "4000", "4001"], "frobnicate"),
    (["4000", "4001", "4002"], "4002"),
]


@test("bad arguments: exit status 2 and a message naming the problem", needs_uffd=False)
def t_bad_args():
    for args, needle in BAD_ARGS:
        r = run_cmd(args)
        check(r.returncode == 2, "%s: exit %d, stderr %r" % (args, r.returncode, r.stderr))
        check(needle in r.stderr and r.stderr.startswith("s2dsm: "),
              "%s: stderr %r lacks %r" % (args, r.stderr, needle))


@test("bad script: exit status 2 naming file and line", needs_uffd=False)
def t_bad_script():
    for text, needle in [("r 0\nfly 3\n", "line 2: unknown command 'fly'"),
                         ("w\n", "line 1: w needs a page number"),
                         ("r x\n", "line 1: 'x' is not a page number"),
                         ("v 1 2\n", "line 1: unexpected '2'"),
                         ("sleep\n", "line 1: sleep needs")]:
        path = script(text)
        a, b = L.free_ports()
        r = run_cmd(["--script", path, "--wait", "1", str(a), str(b)])
        check(r.returncode == 2 and needle in r.stderr and path in r.stderr,
              "%r: exit %d, stderr %r" % (text, r.returncode, r.stderr))


@test("port already in use: exit 1 with bind error and strerror")
def t_port_in_use():
    a, b = L.free_ports()
    s = socket.socket()
    s.bind(("127.0.0.1", a))
    s.listen(1)
    try:
        r = run_cmd(["--wait", "1", str(a), str(b)])
    finally:
        s.close()
    check(r.returncode == 1, "exit %d" % r.returncode)
    check("s2dsm: bind 127.0.0.1:%d: Address already in use" % a in r.stderr, "stderr %r" % r.stderr)


@test("no peer within --wait: exit 3 with a clear message")
def t_no_peer():
    a, b = L.free_ports()
    t0 = time.time()
    r = run_cmd(["--wait", "1", str(a), str(b)])
    check(r.returncode == 3, "exit %d" % r.returncode)
    check("no peer paired within 1 s" in r.stderr, "stderr %r" % r.stderr)
    check(time.time() - t0 < 5, "took too long")


# --------------------------------------------------------------------------- part 2
def op(p, last, cmd, page, msg=None):
    """Runs one interactive command; returns what it printed before the next prompt."""
    p.send(cmd + "\n")
    p.expect(L.prompt_page(last))
    p.send("%d\n" % page)
    if msg is not None:
        p.expect(L.PROMPT_MSG)
        p.send(msg + "\n")
    out = p.expect(L.PROMPT_CMD)
    return out[: -len(L.PROMPT_CMD)]


def expect_eq(got, want, what):
    check(got == want, "%s:\n--- expected\n%s--- got\n%s---" % (what, want, got))


@test("assignment part 2 sequence, two interactive processes, every print checked")
def t_part2():
    p1, p2, _ = L.start_pair(BIN)
    got = p1.expect(L.PROMPT_PAGES)
    expect_eq(got, L.PROMPT_PAGES, "P1 first prompt")
    p1.send("3\n")
    o1 = p1.expect(L.PROMPT_CMD)
    o2 = p2.expect(L.PROMPT_CMD)
    m1, m2 = L.ADDR_RE.fullmatch(o1[: -len(L.PROMPT_CMD)]), L.ADDR_RE.fullmatch(o2[: -len(L.PROMPT_CMD)])
    check(m1 and m2, "address/size lines: P1 %r P2 %r" % (o1, o2))
    check(m1.groups() == m2.groups(), "P1 %s vs P2 %s" % (m1.groups(), m2.groups()))
    check(m1.group(2) == str(3 * os.sysconf("SC_PAGE_SIZE")), "size %s" % m1.group(2))

    def views(s1, s2, step):
        expect_eq(op(p1, 2, "v", -1), L.view_text(s1), "P1 view after " + step)
        expect_eq(op(p2, 2, "v", -1), L.view_text(s2), "P2 view after " + step)

    def page(i, text, fault):
        return ("[x] PAGEFAULT\n" if fault else "") + "[*] Page %d:\n%s\n" % (i, text)

    views("III", "III", "pairing")
    expect_eq(op(p1, 2, "r", 0), page(0, "", True), "P1 reads page 0")
    views("SII", "III", "P1 read page 0")
    expect_eq(op(p1, 2, "r", -1), page(0, "", False) + page(1, "", True) + page(2, "", True),
              "P1 reads all pages")
    views("SSS", "III", "P1 read all")
    expect_eq(op(p2, 2, "w", 2, "Hello Userfaultfd!"), "[x] PAGEFAULT\n", "P2 writes page 2")
    views("SSI", "IIM", "P2 wrote page 2")
    # Pages 0 and 1 are Shared: write-protect faults; page 2 is Invalid: missing fault.
    expect_eq(op(p1, 2, "w", -1, "Writing this to all pages!"), "[x] PAGEFAULT\n" * 3,
              "P1 writes all pages")
    views("MMM", "III", "P1 wrote all")
    msg = "Writing this to all pages!"
    expect_eq(op(p1, 2, "r", -1), page(0, msg, False) + page(1, msg, False) + page(2, msg, False),
              "P1 reads all pages")
    views("MMM", "III", "P1 read all again")
    # Beyond the sequence: P2 reads what P1 wrote (fetch), P1 is downgraded to S.
    expect_eq(op(p2, 2, "r", 1), page(1, msg, True), "P2 reads page 1")
    views("MSM", "ISI", "P2 read page 1")
    # Orderly end: P1 reaches end of input, says goodbye; P2 exits 0 too.
    p1.close_stdin()
    check(p1.wait(10) == 0, "P1 exit %s, stderr %r" % (p1.p.returncode, p1.stderr()))
    check(p2.wait(10) == 0, "P2 exit %s, stderr %r" % (p2.p.returncode, p2.stderr()))
    check("ended the session" in p2.stderr(), "P2 stderr %r" % p2.stderr())


@test("interactive input errors re-prompt; --json view")
def t_interactive_errors():
    p1, p2, _ = L.start_pair(BIN, args1=["--json"])
    p1.expect(L.PROMPT_PAGES)
    p1.send("zero\n")
    p1.expect(L.PROMPT_PAGES)
    p1.send("0\n")
    p1.expect(L.PROMPT_PAGES)
    p1.send("2\n")
    p1.expect(L.PROMPT_CMD)
    p2.expect(L.PROMPT_CMD)
    p1.send("x\n")
    p1.expect(L.PROMPT_CMD)
    p1.send("r\n")
    p1.expect(L.prompt_page(1))
    p1.send("5\n")
    p1.expect(L.PROMPT_CMD)
    out = op(p1, 1, "v", -1)
    doc = json.loads(out)
    check([x["state"] for x in doc["pages"]] == ["I", "I"], "json %r" % out)
    check(doc["counts"] == {"M": 0, "S": 0, "I": 2}, "json %r" % out)
    err = p1.stderr()
    for needle in ["please enter a whole number", "unknown command 'x'", "no page '5'"]:
        check(needle in err, "stderr lacks %r: %r" % (needle, err))
    p2.close_stdin()
    check(p2.wait(10) == 0 and p1.wait(10) == 0, "exit %s/%s" % (p1.p.returncode, p2.p.returncode))


@test("coherence for plain stores: a write from a script (no w prompt) invalidates the peer")
def t_script_coherence():
    s1 = script("w 0 first\nbarrier\nbarrier\nr 0\nv\nbarrier\n")
    s2 = script("barrier\nr 0\nw 0 second\nv\nbarrier\nbarrier\n")
    p1, p2, _ = L.start_pair(BIN, ["--pages", "1", "--script", s1, "-q"], ["--script", s2, "-q"], stdin=False)
    c1, c2 = L.wait_all([p1, p2], 20)
    check(c1 == 0 and c2 == 0, "exit %s/%s: %s %s" % (c1, c2, p1.stderr(), p2.stderr()))
    o1 = L.ADDR_RE.sub("", p1.stdout())
    o2 = L.ADDR_RE.sub("", p2.stdout())
    expect_eq(o1, "[*] Page 0:\nsecond\n" + L.view_text("S"), "P1 output")
    expect_eq(o2, "[*] Page 0:\nfirst\n" + L.view_text("M"), "P2 output")


@test("simultaneous start: both processes pair (5 rounds)")
def t_simultaneous():
    for _ in range(5):
        a, b = L.free_ports()
        s = script("v\nbarrier\n")
        p1 = L.Proc([BIN, "--wait", "10", "--pages", "2", "--script", s, str(a), str(b)], stdin=False)
        p2 = L.Proc([BIN, "--wait", "10", "--pages", "2", "--script", s, str(b), str(a)], stdin=False)
        c1, c2 = L.wait_all([p1, p2], 15)
        check(c1 == 0 and c2 == 0, "exit %s/%s: %r %r" % (c1, c2, p1.stderr(), p2.stderr()))
        check(L.view_text("II") in p1.stdout() and L.view_text("II") in p2.stdout(), "views")


# --------------------------------------------------------------------------- stress
def check_history(logs):
    """Single-writer coherence: no read returns a value older than the last write to
    that page that completed before the read began.  Returns a list of violations."""
    writes = {}   # value -> (page, start, end)
    per_page = {}
    reads = []
    for log in logs:
        for line in log.splitlines():
            if not line.startswith("op "):
                continue
            _, kind, page, val, t0, t1 = line.split()
            page, val, t0, t1 = int(page), int(val, 16), int(t0), int(t1)
            if kind == "w":
                writes[val] = (page, t0, t1)
                per_page.setdefault(page, []).append((t1, t0))
            else:
                reads.append((page, val, t0, t1))
    index = {}
    for page, lst in per_page.items():
        lst.sort()
        ends = [e for e, _ in lst]
        prefmax, m = [], -1
        for _, s in lst:
            m = max(m, s)
            prefmax.append(m)
        index[page] = (ends, prefmax)
    bad = []
    for page, val, t0, t1 in reads:
        ends, prefmax = index.get(page, ([], []))
        k = bisect.bisect_left(ends, t0)  # writes completed strictly before the read began
        latest_start = prefmax[k - 1] if k else None
        if val == 0:
            if latest_start is not None:
                bad.append("page %d read initial 0 after a completed write" % page)
            continue
        if val not in writes:
            bad.append("page %d read %x, never written" % (page, val))
            continue
        wpage, ws, we = writes[val]
        if wpage != page:
            bad.append("page %d read %x written to page %d" % (page, val, wpage))
        elif ws > t1:
            bad.append("page %d read %x before it was written" % (page, val))
        elif latest_start is not None and we < latest_start:
            bad.append("page %d read stale %x (written until %d; a later write started %d and "
                       "completed before the read at %d)" % (page, val, we, latest_start, t0))
    return bad, len(reads), len(writes)


@test("checker self-test: a stale read is detected", needs_uffd=False)
def t_checker():
    w = (1 << 56) | 1
    w2 = (2 << 56) | 1
    log1 = "op w 0 %x 10 20\nop r 0 %x 100 110\n" % (w, w)
    log2 = "op w 0 %x 30 40\n" % w2
    bad, _, _ = check_history([log1, log2])
    check(len(bad) == 1 and "stale" in bad[0], "violations %r" % bad)
    bad, _, _ = check_history(["op w 0 %x 10 20\nop r 0 %x 15 25\nop r 0 0 5 8\n" % (w, w)])
    check(not bad, "false positives %r" % bad)


def stress(pages, seconds):
    s = script("barrier\nstress %g 7\nbarrier\nv\nbarrier\n" % seconds)
    p1, p2, _ = L.start_pair(BIN, ["--pages", str(pages), "--script", s, "-q", "--json"],
                             ["--script", s, "-q", "--json"], stdin=False)
    c1, c2 = L.wait_all([p1, p2], seconds + 30)
    check(c1 == 0 and c2 == 0, "exit %s/%s: %r %r" % (c1, c2, p1.stderr()[-2000:], p2.stderr()[-2000:]))
    bad, nreads, nwrites = check_history([p1.stdout(), p2.stdout()])
    check(not bad, "%d violations, e.g.:\n%s" % (len(bad), "\n".join(bad[:10])))
    check(nreads > 100 and nwrites > 100, "too few operations: %d reads, %d writes" % (nreads, nwrites))
    v1 = [json.loads(l) for l in p1.stdout().splitlines() if l.startswith("{")][-1]
    v2 = [json.loads(l) for l in p2.stdout().splitlines() if l.startswith("{")][-1]
    for a, b in zip(v1["pages"], v2["pages"]):
        pair = {a["state"], b["state"]}
        check(not ("M" in pair and pair != {"M", "I"}), "page %d: P1 %s, P2 %s" % (a["page"], a["state"], b["state"]))
    for who, p in (("P1", p1), ("P2", p2)):
        done = [l for l in p.stdout().splitlines() if l.startswith("stress-done")]
        if done:
            print("# %s %s" % (who, done[-1]), flush=True)
    return nreads, nwrites


@test("concurrent stress, 8 pages, 2 s: no stale reads, MSI invariant holds")
def t_stress8():
    stress(8, 2)


@test("concurrent stress, 1 page (both sides fault on it at once), 1.5 s")
def t_stress1():
    stress(1, 1.5)


# --------------------------------------------------------------------------- failures
@test("peer killed (SIGKILL) while idle: the other exits 3 with a message, promptly")
def t_kill_idle():
    p1, p2, _ = L.start_pair(BIN, ["--pages", "2"])
    p1.expect(L.PROMPT_CMD)
    p2.expect(L.PROMPT_CMD)
    t0 = time.time()
    p1.kill()
    c2 = p2.wait(10)
    check(c2 == 3, "exit %s, stderr %r" % (c2, p2.stderr()))
    check("disconnected without saying goodbye" in p2.stderr(), "stderr %r" % p2.stderr())
    check(time.time() - t0 < 5, "took %.1f s" % (time.time() - t0))


@test("peer killed during a stress run: the other exits 3, no hang")
def t_kill_busy():
    s = script("barrier\nstress 20 3\nbarrier\n")
    p1, p2, _ = L.start_pair(BIN, ["--pages", "4", "--script", s, "-q"], ["--script", s, "-q"], stdin=False)
    time.sleep(1.5)
    p1.kill()
    c2 = p2.wait(15)
    check(c2 == 3, "exit %s, stderr %r" % (c2, p2.stderr()[-500:]))
    check("disconnected" in p2.stderr() or "Connection reset" in p2.stderr(), "stderr %r" % p2.stderr()[-500:])


@test("peer stopped (SIGSTOP) while we fault: --timeout ends the wait, exit 3")
def t_stopped_peer():
    p1, p2, _ = L.start_pair(BIN, ["--pages", "2", "--timeout", "1"], ["--timeout", "1"])
    p1.expect(L.PROMPT_CMD)
    p2.expect(L.PROMPT_CMD)
    os.kill(p1.pid, signal.SIGSTOP)
    try:
        p2.send("r\n")
        p2.expect(L.prompt_page(1))
        p2.send("0\n")
        c2 = p2.wait(10)
        check(c2 == 3, "exit %s, stderr %r" % (c2, p2.stderr()))
        check("did not answer REQ_READ for page 0 within 1 s" in p2.stderr(), "stderr %r" % p2.stderr())
        check("[*] Page 0" not in p2.stdout(), "printed a page after the peer was lost")
    finally:
        os.kill(p1.pid, signal.SIGCONT)
    c1 = p1.wait(10)
    check(c1 == 3, "P1 exit %s, stderr %r" % (c1, p1.stderr()))


@test("SIGINT: goodbye to the peer, exit 130; peer exits 0")
def t_sigint():
    p1, p2, _ = L.start_pair(BIN, ["--pages", "2"])
    p1.expect(L.PROMPT_CMD)
    p2.expect(L.PROMPT_CMD)
    p2.kill(signal.SIGINT)
    c2, c1 = L.wait_all([p2, p1], 10)
    check(c2 == 130, "P2 exit %s, stderr %r" % (c2, p2.stderr()))
    check(c1 == 0 and "ended the session" in p1.stderr(), "P1 exit %s, stderr %r" % (c1, p1.stderr()))


@test("peer disconnects before setup: P2 reports it, exit 3")
def t_disconnect_before_setup():
    p1, p2, _ = L.start_pair(BIN)
    p1.expect(L.PROMPT_PAGES)
    p1.kill()
    c2 = p2.wait(10)
    check(c2 == 3 and "disconnected before setting up the region" in p2.stderr(),
          "exit %s, stderr %r" % (c2, p2.stderr()))


@test("region address taken in P2 (MAP_FIXED_NOREPLACE fails): both exit 5 and say so")
def t_placement():
    probe = subprocess.run(["setarch", os.uname().machine, "-R", "true"], capture_output=True)
    if probe.returncode != 0:
        raise Skip("setarch -R (ADDR_NO_RANDOMIZE) not permitted here")
    # Without ASLR a PIE binary's text starts at 0x555555554000; ask P1 to put the region
    # there (free in P1, which keeps ASLR) so that P2 (started with -R) cannot.
    a, b = L.free_ports()
    p1 = L.Proc([BIN, "--wait", "10", "--pages", "1", "--addr", "0x555555554000", str(a), str(b)])
    time.sleep(0.15)
    p2 = L.Proc(["setarch", os.uname().machine, "-R", BIN, "--wait", "10", str(b), str(a)])
    c1, c2 = L.wait_all([p1, p2], 10)
    if c1 == 5 and "mmap" in p1.stderr() and "at 0x555555554000" in p1.stderr() and c2 is None:
        raise Skip("P1 itself could not use 0x555555554000")
    check(c2 == 5, "P2 exit %s, stderr %r" % (c2, p2.stderr()))
    check("cannot map the shared region at the peer's address 0x555555554000 (4096 bytes): "
          "mmap MAP_FIXED_NOREPLACE: File exists" in p2.stderr(), "P2 stderr %r" % p2.stderr())
    check(c1 == 5, "P1 exit %s, stderr %r" % (c1, p1.stderr()))
    check("the peer cannot map the region at the same address 0x555555554000" in p1.stderr()
          and "File exists" in p1.stderr(), "P1 stderr %r" % p1.stderr())


# --------------------------------------------------------------------------- malformed
def waiting_s2dsm(extra=()):
    a, b = L.free_ports()
    p = L.Proc([BIN, "--wait", "10", "--pages", "2", "--timeout", "2", *extra, str(a), str(b)])
    deadline = time.time() + 5
    while "waiting for the peer" not in p.stderr():
        check(time.time() < deadline and p.p.poll() is None, "s2dsm did not start waiting: %r" % p.stderr())
        p._pump(0.05)
    return p, a, b


@test("garbage connection while pairing is rejected; a real peer still pairs")
def t_garbage_pairing():
    p, a, b = waiting_s2dsm()
    s = socket.create_connection(("127.0.0.1", a), timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n!!!!!!")
    time.sleep(0.3)
    s.close()
    fs, addr, size = L.fake_second(a)
    check(size == 2 * 4096 or size == 2 * os.sysconf("SC_PAGE_SIZE"), "size %d" % size)
    fs.sendall(L.header(L.T_BYE))
    c = p.wait(10)
    fs.close()
    check(c == 0, "exit %s, stderr %r" % (c, p.stderr()))
    check("rejected connection from 127.0.0.1" in p.stderr() and "bad magic" in p.stderr(), "stderr %r" % p.stderr())


MALFORMED = [
    ("request for a page out of range", lambda: L.header(L.T_REQ_READ, page=99), "REQ_READ for page 99, but the region has 2 pages"),
    ("oversized payload length", lambda: L.header(L.T_REQ_WRITE, length=1 << 30), "payload length 1073741824"),
    ("unknown type", lambda: L.header(42), "unknown message type 42"),
    ("wrong version mid-session", lambda: L.header(L.T_BYE, version=7), "version 7"),
    ("unsolicited reply", lambda: L.header(L.T_REPLY, page=1), "unsolicited REPLY for page 1"),
    ("truncated reply", lambda: L.header(L.T_REPLY, page=0, flags=1, length=4096) + b"x" * 100, "truncated message"),
    ("truncated header", lambda: L.header(L.T_BYE)[:10], "truncated message"),
    ("barrier out of sequence", lambda: L.header(L.T_BARRIER, seq=5), "BARRIER 5 out of sequence"),
]


def t_malformed_case(payload, needle):
    p, a, b = waiting_s2dsm()
    fs, addr, size = L.fake_second(a)
    p.expect(L.PROMPT_CMD)
    fs.sendall(payload())
    if "truncated" in needle:
        fs.shutdown(socket.SHUT_WR)
    c = p.wait(10)
    fs.close()
    check(c == 4, "exit %s, stderr %r" % (c, p.stderr()))
    check(needle in p.stderr(), "stderr %r lacks %r" % (p.stderr(), needle))


for _name, _payload, _needle in MALFORMED:
    test("malformed message rejected, exit 4: " + _name)(
        (lambda pl, nd: lambda: t_malformed_case(pl, nd))(_payload, _needle))


@test("peer speaking another protocol version at pairing: exit 4 naming both versions")
def t_version_hello():
    a, b = L.free_ports()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", b))
    srv.listen(1)
    p = L.Proc([BIN, "--wait", "10", str(a), str(b)])
    try:
        srv.settimeout(5)
        conn, _ = srv.accept()
        L.recv_msg(conn)  # its HELLO
        conn.sendall(L.hello(version=2))
        c = p.wait(10)
        conn.close()
    finally:
        srv.close()
    check(c == 4, "exit %s, stderr %r" % (c, p.stderr()))
    check("version 2, this s2dsm speaks version 1" in p.stderr(), "stderr %r" % p.stderr())


@test("fake peer answers a read with data: page content arrives intact")
def t_fake_reply():
    p, a, b = waiting_s2dsm()
    fs, addr, size = L.fake_second(a)
    p.expect(L.PROMPT_CMD)
    p.send("r\n")
    p.expect(L.prompt_page(1))
    p.send("1\n")
    mtype, page, _, _, _ = L.recv_msg(fs)
    check(mtype == L.T_REQ_READ and page == 1, "got type %d page %d" % (mtype, page))
    psz = os.sysconf("SC_PAGE_SIZE")
    data = b"from the fake peer\0".ljust(psz, b"\0")
    fs.sendall(L.header(L.T_REPLY, page=1, flags=1, length=psz) + data)
    out = p.expect(L.PROMPT_CMD)
    expect_eq(out[: -len(L.PROMPT_CMD)], "[x] PAGEFAULT\n[*] Page 1:\nfrom the fake peer\n", "read output")
    fs.sendall(L.header(L.T_BYE))
    check(p.wait(10) == 0, "exit %s" % p.p.returncode)
    fs.close()


# --------------------------------------------------------------------------- main
def main():
    global BIN, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--unit", required=True)
    ap.add_argument("-k", help="only tests whose name contains this")
    args = ap.parse_args()
    BIN = os.path.abspath(args.bin)
    TMP = tempfile.mkdtemp(prefix="s2dsm-tests-")

    unit = subprocess.run([args.unit], capture_output=True, text=True, timeout=30)
    for line in unit.stdout.splitlines():
        m = re.match(r"(not ok|ok) - (.*)", line)
        if m:
            report(m.group(1) == "ok", "unit: " + m.group(2).split(": ", 1)[0] if m.group(1) != "ok" else "unit: " + m.group(2),
                   detail=m.group(2))
    if unit.returncode != 0 and not any(not ok for ok, _, _ in results):
        report(False, "unit tests", detail=unit.stderr)

    probe = subprocess.run([BIN, "--check"], capture_output=True, text=True, timeout=10)
    uffd_skip = None
    if probe.returncode != 0:
        uffd_skip = probe.stdout.strip().replace("s2dsm: ", "") or "userfaultfd unavailable"

    for name, fn, needs_uffd in TESTS:
        if args.k and args.k not in name:
            continue
        if needs_uffd and uffd_skip:
            report(True, name, skip=uffd_skip)
            continue
        try:
            fn()
            report(True, name)
        except Skip as e:
            report(True, name, skip=str(e))
        except Exception as e:  # noqa: BLE001
            detail = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
            report(False, name, detail=detail)
        finally:
            L.cleanup()

    failed = sum(1 for ok, _, _ in results if not ok)
    skipped = sum(1 for _, _, s in results if s)
    print("1..%d" % len(results))
    print("# %d passed, %d failed%s" % (len(results) - failed - skipped, failed,
                                         ", %d skipped" % skipped if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        L.cleanup()
        if TMP:
            shutil.rmtree(TMP, ignore_errors=True)
