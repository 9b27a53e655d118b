"""bench/follow-bench.py: hookline-follow against `tail -F | while read`,
side by side in one run, by hand:

    python3 bench/follow-bench.py --build build/x [--events 5000] [--latency 400]

(the build directory of a configured and built tree: make, then make
tests/robust/follow-probe).

  latency     hookline (HOOKLINE_SYNC=always, 4 processes) behind a real
              lighttpd on 127.0.0.1; one client sends an event every
              20 ms and notes when each 200 arrives.  hookline-follow and
              a `tail -n0 -F LOG | while read` loop follow the same log,
              each running follow-probe for every event (it notes when it
              starts).  Latency: the command's start minus the 200's
              arrival, p50 and p99 (negative: before the 200 reached the
              client; hookline-follow acts once the event is on disk,
              which hookline makes sure of before it answers).
  throughput  a backlog of N events in a log; the time to run a no-op
              command for each: hookline-follow --once (-j 1 and -j 4,
              committing each position durably) against
              `tail -n +1 -F | head -n N | while read` running /bin/true
              (nothing committed: a crash loses the position), and the
              same loop doing what hookline-follow does per event (the
              id and the body cut from the line, the body on stdin).

Standard library only; only 127.0.0.1 is a target; every wait bounded.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--build", required=True)
ap.add_argument("--events", type=int, default=5000)
ap.add_argument("--latency", type=int, default=400)
args = ap.parse_args()
build = os.path.abspath(args.build)
os.environ.update({"HOOKLINE_BIN": os.path.join(build, "handler", "hookline"),
                   "HOOKLINE_SIGN": os.path.join(build, "handler", "hookline-sign"),
                   "HOOKLINE_BUILDDIR": build, "HOOKLINE_SRCDIR": os.path.dirname(HERE)})
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
from followlib import FOLLOW, PROBE, Runs, append, body, record, wait_for  # noqa: E402

SECRET = "bench-follow-secret-1c9"
BASH = shutil.which("bash")
# What `tail -F | while read` has to do to give a command what
# hookline-follow gives it: the id and the body, cut from the line.
LOOP_SAME = r'''while IFS= read -r line; do
  id=${line#*\"id\":\"}; id=${id%%\"*}
  b=${line#*,\"event\":}; b=${b%\}}
  printf '%s' "$b" | HOOKLINE_EVENT_ID=$id "$@"
done'''
LOOP_BARE = 'while IFS= read -r line; do "$@"; done'


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


def latency(work):
    srv = harness.Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl"}, procs=4)
    log = srv.path("events.jsonl")
    c = harness.Client(srv.port)
    b = body(0)  # the log exists before tail starts
    c.post("/hook", b, {"X-Hub-Signature": harness.sha1_sig(SECRET, b)})
    fout, tout = os.path.join(work, "lat-follow"), os.path.join(work, "lat-tail")
    fol = subprocess.Popen([FOLLOW, "--state", os.path.join(work, "lat-state"), log, "--", PROBE, fout],
                           stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(fout), 10)
    tail = subprocess.Popen("tail -n0 -F %s 2>/dev/null | %s -c '%s' loop %s %s" % (
        log, BASH, LOOP_SAME.replace("'", "'\\''"), PROBE, tout), shell=True, start_new_session=True)
    time.sleep(1)
    acked = {}
    for i in range(1, args.latency + 1):
        b = body(i)
        r = c.post("/hook", b, {"X-Hub-Signature": harness.sha1_sig(SECRET, b)})
        if r.status == 200:
            acked[r.json()["id"]] = time.time_ns()
        time.sleep(0.02)
    wait_for(lambda: len(Runs(fout).starts) > args.latency and len(Runs(tout).starts) >= args.latency, 60)
    fol.terminate()
    fol.wait()
    os.killpg(tail.pid, 15)
    tail.wait()
    c.close()
    srv.stop()
    out = {}
    for name, path in (("hookline-follow", fout), ("tail -F \\| while read", tout)):
        lat = [(s[2] - acked[s[0]]) / 1e6 for s in Runs(path).starts if s[0] in acked]
        out[name] = (len(lat), pct(lat, 50), pct(lat, 99))
    return out


def throughput(work):
    log = os.path.join(work, "backlog.jsonl")
    n = args.events
    data = b"".join(record(body(i, pad=400)) for i in range(n))
    append(log, data)
    out = {}
    for name, cmd in (
            ("hookline-follow -j 1, /bin/true", [FOLLOW, "--state", os.path.join(work, "tp1"), "--once", log, "--",
                                                  "/bin/true"]),
            ("hookline-follow -j 4, /bin/true", [FOLLOW, "--state", os.path.join(work, "tp4"), "--once", "-j", "4",
                                                  log, "--", "/bin/true"]),
            ("tail -F \\| while read: /bin/true", ["/bin/sh", "-c", "tail -n +1 -F %s 2>/dev/null | head -n %d | "
                                                 "%s -c '%s' loop /bin/true" % (log, n, BASH, LOOP_BARE)]),
            ("tail -F \\| while read: id and body to /bin/true",
             ["/bin/sh", "-c", "tail -n +1 -F %s 2>/dev/null | head -n %d | %s -c '%s' loop /bin/true"
              % (log, n, BASH, LOOP_SAME.replace("'", "'\\''"))])):
        t = time.time()
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=600)
        out[name] = n / (time.time() - t)
    return out


work = tempfile.mkdtemp(prefix="hookline-follow-bench-")
try:
    print("hookline-follow bench, %s, %d CPUs, load %s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                                          os.cpu_count(), open("/proc/loadavg").read().split()[0]))
    print("\n| latency, 200 to the command's start (%d events, one each 20 ms) | n | p50 ms | p99 ms |"
          % args.latency)
    print("|---|---|---|---|")
    for name, (n, p50, p99) in latency(work).items():
        print("| %s | %d | %.1f | %.1f |" % (name, n, p50, p99))
    print("\n| throughput, a backlog of %d events, a no-op command each | events/s |" % args.events)
    print("|---|---|")
    for name, rate in throughput(work).items():
        print("| %s | %.0f |" % (name, rate))
finally:
    shutil.rmtree(work, ignore_errors=True)
