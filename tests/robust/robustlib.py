"""Pieces shared by the robustness tests in tests/robust/.

The integration harness (tests/integration/harness.py) starts lighttpd and
hookline; this adds the load driver (hl-load, built in the build tree), the
rebuilding and checking of the bodies it sent, the processes of a
server's FastCGI pool, and a full disk.  Only 127.0.0.1 is ever a target.
"""

import hashlib
import json
import os
import subprocess

import harness  # tests/integration, on the PYTHONPATH that make check sets

BUILDDIR = os.environ.get("HOOKLINE_BUILDDIR",
                          os.path.dirname(os.path.dirname(os.path.abspath(harness.BIN))))
LOAD = os.path.join(BUILDDIR, "tests", "robust", "hl-load")
SHIM = os.path.join(BUILDDIR, "tests", "robust", ".libs", "shim-trace.so")


def fill(directory):
    """Writes a filler file until the filesystem is full; returns its path."""
    path = os.path.join(directory, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
        try:
            while True:
                os.write(fd, chunk)
        except OSError:
            pass
    os.close(fd)
    return path


def body_of(k, j, c, pad):
    """The exact body hl-load sent as event j of client k."""
    return b'{"w":%d,"i":%d,"pad":"%s"}' % (k, j, c.encode() * pad)


def run_load(ports, clients, events, outdir, secret, path="/hook", small=(100, 2048),
             large=0, large_sizes=(0, 0), seconds=240, sha256=False, wait=True, first=0):
    """Starts hl-load; returns the Popen (wait=False) or its exit status."""
    os.makedirs(outdir, exist_ok=True)
    cmd = [LOAD, "-p", ",".join(str(p) for p in ports), "-c", str(clients), "-n", str(events),
           "-o", outdir, "-u", path, "-z", "%d-%d" % small, "-T", str(seconds), "-b", str(first)]
    if large:
        cmd += ["-L", str(large), "-Z", "%d-%d" % large_sizes]
    if sha256:
        cmd.append("-k")
    env = harness.child_env({"HOOKLINE_SECRET": secret})  # never on the command line
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
    if not wait:
        return p
    return p.wait(timeout=seconds + 60)


def load_results(outdir, clients, first=0):
    """{(k, j): (c, pad, status, idok)} from hl-load's result files."""
    res = {}
    for k in range(first, first + clients):
        with open(os.path.join(outdir, "client-%d.txt" % k)) as f:
            for line in f:
                kk, j, c, pad, status, idok = line.split()
                res[(int(kk), int(j))] = (c, int(pad), int(status), idok == "1")
    return res


def scan_log(path, results):
    """Checks every line of the log against the bodies that were sent.

    Returns (counts {(k, j): times logged}, problems [text]).  A line is a
    problem when it is not JSON, is not exactly one sent body, or its id is
    not the SHA-256 of that body: a torn or interleaved record shows up
    here, whatever its cause."""
    counts = {}
    problems = []
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        problems.append("log does not end with a newline: %r" % data[-80:])
    for n, line in enumerate(data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")):
        try:
            rec = json.loads(line)
            ev = harness.logged_event_bytes(line)
            key = (rec["event"]["w"], rec["event"]["i"])
        except (ValueError, KeyError, TypeError):
            problems.append("line %d is not a whole record: %r" % (n + 1, line[:120]))
            continue
        if key not in results:
            problems.append("line %d: unknown event %r" % (n + 1, key))
            continue
        c, pad = results[key][0], results[key][1]
        body = body_of(key[0], key[1], c, pad)
        if ev != body:
            problems.append("line %d: event %r differs from what was sent" % (n + 1, key))
        elif rec["id"] != hashlib.sha256(body).hexdigest():
            problems.append("line %d: wrong id" % (n + 1))
        counts[key] = counts.get(key, 0) + 1
    return counts, problems


def pool(server):
    """PIDs of the FastCGI processes lighttpd spawned (its hookline children)."""
    return harness.children(server.proc.pid, "hookline")
