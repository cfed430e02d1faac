# SPDX-License-Identifier: GPL-2.0
"""Helpers shared by the s2dsm tests and benchmark: process control with hard
timeouts, free-port selection, an expect-style driver for the interactive prompts,
and a fake peer that speaks (or deliberately mis-speaks) the wire protocol."""

import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import time

PROMPT_CMD = "> Which command should I run? (r:read, w:write, v:view msi array): "
PROMPT_PAGES = "> How many pages would you like to allocate (greater than 0)?\n"
PROMPT_MSG = "> Type your new message: "


def prompt_page(last):
    return "> For which page? (0-%d, or -1 for all): " % last


NAMES = {"M": "Modified", "S": "Shared", "I": "Invalid"}


def view_text(states):
    return "".join("Page %d: %s (%s)\n" % (i, s, NAMES[s]) for i, s in enumerate(states))


_procs = []


def cleanup():
    """Kill every process we started that is still running."""
    for p in _procs:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    _procs.clear()


def free_ports(n=2):
    """n distinct bindable TCP ports below the ephemeral range."""
    ports = []
    while len(ports) < n:
        port = random.randint(20000, 32000)
        if port in ports:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            ports.append(port)
        except OSError:
            pass
        finally:
            s.close()
    return ports


class Proc:
    """A child process with non-blocking access to stdout/stderr."""

    def __init__(self, argv, stdin=True, env=None):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        _procs.append(self.p)
        self.out = bytearray()
        self.err = bytearray()
        self.pos = 0  # consumed part of self.out

    @property
    def pid(self):
        return self.p.pid

    def _pump(self, timeout):
        fds = [f for f in (self.p.stdout, self.p.stderr) if f and not f.closed]
        if not fds:
            time.sleep(timeout)
            return False
        r, _, _ = select.select(fds, [], [], timeout)
        got = False
        for f in r:
            data = os.read(f.fileno(), 65536)
            if not data:
                f.close()
                continue
            got = True
            if f is self.p.stdout:
                self.out += data
            else:
                self.err += data
        return got

    def expect(self, text, timeout=10):
        """Waits until `text` appears in unconsumed stdout; returns everything up to and
        including it and consumes it.  Raises AssertionError on timeout or exit."""
        want = text.encode()
        deadline = time.time() + timeout
        while True:
            idx = self.out.find(want, self.pos)
            if idx >= 0:
                chunk = self.out[self.pos: idx + len(want)]
                self.pos = idx + len(want)
                return chunk.decode(errors="replace")
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("timeout waiting for %r; stdout so far: %r; stderr: %r"
                                     % (text, self.out[self.pos:].decode(errors="replace"),
                                        self.err.decode(errors="replace")))
            if not self._pump(min(left, 0.2)) and self.p.poll() is not None:
                self._pump(0)
                if self.out.find(want, self.pos) >= 0:
                    continue
                raise AssertionError("process exited (%s) while waiting for %r; stdout: %r; stderr: %r"
                                     % (self.p.returncode, text,
                                        self.out[self.pos:].decode(errors="replace"),
                                        self.err.decode(errors="replace")))

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def close_stdin(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass

    def wait(self, timeout=10):
        """Waits for exit (collecting output); returns the exit status or None on timeout."""
        deadline = time.time() + timeout
        while self.p.poll() is None and time.time() < deadline:
            self._pump(0.1)
        while self._pump(0):
            pass
        return self.p.poll()

    def kill(self, sig=signal.SIGKILL):
        if self.p.poll() is None:
            os.kill(self.p.pid, sig)

    def stdout(self):
        return self.out.decode(errors="replace")

    def stderr(self):
        return self.err.decode(errors="replace")


def start_pair(binary, args1=(), args2=(), stdin=True, delay=0.15, retries=3):
    """Starts P1 (waits) and then P2 (connects) on fresh ports; retries on a port clash."""
    for attempt in range(retries):
        a, b = free_ports()
        p1 = Proc([binary, "--wait", "20", *args1, str(a), str(b)], stdin=stdin)
        # P2 must find P1 listening, or the two swap roles: wait for P1 to say
        # so (its start can take longer than `delay` on a busy host or under a
        # sanitizer), 10 s at most.
        deadline = time.time() + 10
        while b"waiting for the peer" not in p1.err and p1.p.poll() is None and time.time() < deadline:
            p1._pump(0.05)
        time.sleep(delay)
        if p1.p.poll() is not None:
            p1.wait(1)
            if "Address already in use" in p1.stderr():
                continue
            raise AssertionError("P1 exited early (%s): %s" % (p1.p.returncode, p1.stderr()))
        p2 = Proc([binary, "--wait", "20", *args2, str(b), str(a)], stdin=stdin)
        time.sleep(0.05)
        if p2.p.poll() is not None and "Address already in use" in p2.stderr():
            p1.kill()
            p1.wait(2)
            continue
        return p1, p2, (a, b)
    raise AssertionError("could not find free ports")


# --- wire protocol, for the fake peer -------------------------------------------------
MAGIC = 0x5332444D
VERSION = 1
T_HELLO, T_SETUP, T_SETUP_ACK, T_REQ_READ, T_REQ_WRITE, T_REPLY, T_BARRIER, T_BYE = range(1, 9)
HDR = struct.Struct(">IHHIIII")


def header(mtype, page=0, seq=0, flags=0, length=0, magic=MAGIC, version=VERSION):
    return HDR.pack(magic, version, mtype, page, seq, flags, length)


def hello(nonce=None, page_size=4096, version=VERSION):
    if nonce is None:
        nonce = random.getrandbits(64)
    return header(T_HELLO, length=16, version=version) + struct.pack(">QII", nonce, page_size, 0)


def recv_exact(sock, n, timeout=10):
    sock.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise AssertionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_msg(sock, timeout=10):
    h = recv_exact(sock, HDR.size, timeout)
    magic, version, mtype, page, seq, flags, length = HDR.unpack(h)
    payload = recv_exact(sock, length, timeout) if length else b""
    return mtype, page, seq, flags, payload


def fake_second(port, timeout=10):
    """Connects to a waiting s2dsm as the second process and completes setup.
    Returns (socket, address, size)."""
    deadline = time.time() + timeout
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    s.sendall(hello())
    mtype, *_ = recv_msg(s)
    assert mtype == T_HELLO, "expected HELLO, got %d" % mtype
    mtype, _, _, _, payload = recv_msg(s)
    assert mtype == T_SETUP, "expected SETUP, got %d" % mtype
    addr, size = struct.unpack(">QQ", payload)
    s.sendall(header(T_SETUP_ACK))
    return s, addr, size


ADDR_RE = re.compile(r"Address returned by mmap\(\) = (0x[0-9a-f]+)\nSize of mapped region = (\d+)\n")


def wait_all(procs, timeout=10):
    """Waits for all processes while draining every pipe (a child blocked on a full
    stdout pipe would otherwise stall its peer too).  Returns their exit statuses."""
    deadline = time.time() + timeout
    while time.time() < deadline and any(p.p.poll() is None for p in procs):
        for p in procs:
            p._pump(0.02)
    for p in procs:
        while p._pump(0):
            pass
    return [p.p.poll() for p in procs]
