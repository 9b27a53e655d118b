"""Pieces shared by hookline-follow's tests (tests/integration/follow*.py,
tests/robust/follow_*.py, bench/follow-bench.py).

harness.py starts lighttpd and hookline; this adds hookline-follow itself,
the probe command it runs in the tests (tests/robust/follow-probe: one
line when it starts, one when it ends, with whether its standard input
hashed to the event's id), log lines written the way hookline writes
them, and bounded waits.  Only 127.0.0.1 is ever a target.
"""

import atexit
import hashlib
import json
import os
import signal
import subprocess
import time

import harness

BUILDDIR = os.environ.get("HOOKLINE_BUILDDIR",
                          os.path.dirname(os.path.dirname(os.path.abspath(harness.BIN))))
FOLLOW = os.path.join(BUILDDIR, "handler", "hookline-follow")
PROBE = os.path.join(BUILDDIR, "tests", "robust", "follow-probe")
SHIM_TRACE = os.path.join(BUILDDIR, "tests", "robust", ".libs", "shim-trace.so")
SHIM_RENAME = os.path.join(BUILDDIR, "tests", "robust", ".libs", "follow-shim-rename.so")


def record(body, received=None, remote="127.0.0.1", signature="sha1sig"):
    """One log line (bytes, newline included) as hookline writes it."""
    if received is None:
        t = time.time()
        received = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int(t % 1 * 1e6)
    head = {"received": received, "id": hashlib.sha256(body).hexdigest(), "remote": remote,
            "signature": signature}
    text = json.dumps(head, separators=(",", ":"))[:-1]
    return text.encode() + b',"event":' + body.replace(b"\n", b" ").replace(b"\r", b" ") + b"}\n"


def body(i, status="JOB_COMPLETED", pad=0, tenant=None):
    """A hotglue-shaped body, unique per i."""
    ev = {"job_id": "job-%06d" % i, "flow_id": "FLOW1", "tenant": tenant or "tenant-%d" % (i % 3),
          "status": status, "n": i, "pad": "x" * pad}
    return json.dumps(ev, separators=(",", ":")).encode()


def append(path, data):
    with open(path, "ab") as f:
        f.write(data)


def append_events(path, bodies):
    """Appends each body's record to path, one write each, as hookline does."""
    for b in bodies:
        append(path, record(b))


def copytruncate(path, copy=None):
    """What logrotate's copytruncate does: path's bytes (or copy, what cp
    had read by then) to path.1, then path truncated in place."""
    if copy is None:
        with open(path, "rb") as f:
            copy = f.read()
    with open(path + ".1", "wb") as f:
        f.write(copy)
    with open(path, "r+b") as f:
        f.truncate(0)


def event_id(b):
    return hashlib.sha256(b).hexdigest()


class Runs:
    """What follow-probe wrote: its P (started) and X (ended) lines."""

    def __init__(self, path):
        self.starts, self.ends = [], []
        if not os.path.exists(path):
            return
        with open(path) as f:
            for line in f:
                p = line.split()
                if p and p[0] == "P" and len(p) == 4:
                    self.starts.append((p[1], int(p[2]), int(p[3])))
                elif p and p[0] == "X" and len(p) == 8:
                    self.ends.append({"id": p[1], "ok": p[2] == "ok", "pid": int(p[3]), "start": int(p[4]),
                                      "end": int(p[5]), "bytes": int(p[6]), "code": int(p[7])})

    def ids(self):
        """Ids of the runs that ended, in the order they started."""
        return [e["id"] for e in sorted(self.ends, key=lambda e: e["start"])]

    def count(self, code=None):
        out = {}
        for e in self.ends:
            if code is None or e["code"] == code:
                out[e["id"]] = out.get(e["id"], 0) + 1
        return out

    def bad(self):
        return [e for e in self.ends if not e["ok"]]


def wait_for(cond, seconds, step=0.02):
    """Polls cond() until true or seconds passed; returns its last value."""
    deadline = time.time() + seconds
    while True:
        v = cond()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


class Follower:
    """hookline-follow started with args (a list), output to files in work."""

    count = 0

    def __init__(self, work, args, env=None, name=None):
        Follower.count += 1
        self.name = name or "follow%d" % Follower.count
        self.out = os.path.join(work, self.name + ".out")
        self.err = os.path.join(work, self.name + ".err")
        e = harness.child_env(env, work)
        self.proc = subprocess.Popen([FOLLOW] + args, env=e, stdin=subprocess.DEVNULL,
                                     stdout=open(self.out, "ab"), stderr=open(self.err, "ab"))
        atexit.register(self.kill)  # whatever happens to the test

    def wait(self, seconds=60):
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "timeout"

    def stop(self, seconds=30):
        return harness.terminate(self.proc, seconds)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait()

    def stderr(self):
        with open(self.err, errors="replace") as f:
            return f.read()

    def stdout(self):
        with open(self.out, "rb") as f:
            return f.read()


def run(work, args, env=None, seconds=60):
    """Runs hookline-follow to its end (--once); returns (status, stderr)."""
    f = Follower(work, args, env)
    rc = f.wait(seconds)
    return rc, f.stderr()


def state_offsets(state_dir):
    """{file name: committed offset} from DIR/state."""
    out = {}
    path = os.path.join(state_dir, "state")
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split(" ", 7)
            if p[0] == "file":
                out[p[7]] = int(p[2])
    return out


def line_ends(path):
    """The offset where each line of the file ends."""
    ends = []
    with open(path, "rb") as f:
        for line in f:
            ends.append((ends[-1] if ends else 0) + len(line))
    return ends


def deadletters(state_dir):
    path = os.path.join(state_dir, "deadletter.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [json.loads(line) for line in f]
