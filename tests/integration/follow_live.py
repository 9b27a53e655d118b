"""hookline-follow while the log changes under it (no --once):

  - -j 4: at most 4 commands at once, started in log order; while the
    first event's command runs, the committed position stays before it
    and no fifth command starts (a crash repeats at most -j events);
  - waiting is inotify, not polling: idle, the process sits in poll(2)
    with no timeout and uses no CPU; a record without its final newline
    is not acted on, and is as soon as its newline comes;
  - SIGTERM: the running command finishes, nothing new starts, the
    position is committed, exit 0;
  - a log that vanishes: the file removed (what was read is finished, the
    next file LOG names is followed), then its whole directory removed
    and made again; a log that does not exist yet when it starts.
"""

import os
import shutil
import signal
import time

import harness
from followlib import PROBE, Follower, Runs, append, append_events, body, event_id, record, state_offsets, wait_for

tap = harness.Tap()
t0 = time.time()
work = harness.Workdir("hookline-follow-live-").path


def case(name):
    d = os.path.join(work, name)
    os.mkdir(d)
    return d, os.path.join(d, "events.jsonl"), os.path.join(d, "state"), os.path.join(d, "runs")


# ---- -j 4 ------------------------------------------------------------------
d, log, st, out = case("jobs")
bodies = [body(0, "SLOW")] + [body(i) for i in range(1, 12)]
append_events(log, bodies)
ends0 = len(record(bodies[0], received="2026-11-30T10:00:00.000000Z"))
f = Follower(d, ["--state", st, "-j", "4", log, "--", PROBE, "-s", "300", "-S", "SLOW=2000", out])
wait_for(lambda: len(Runs(out).ends) >= 3, 10)
mid = state_offsets(st).get(log)
time.sleep(0.5)
started_mid = len(Runs(out).starts)
ok = wait_for(lambda: len(Runs(out).ends) == 12, 20)
wait_for(lambda: state_offsets(st).get(log) == os.path.getsize(log), 5)
f.stop()
runs = Runs(out)
spans = [(e["start"], e["end"]) for e in runs.ends]
most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
tap.ok(ok and sorted(runs.ids()) == sorted(event_id(b) for b in bodies), "-j 4: every event ran once")
tap.eq(most, 4, "at most 4 commands at once (and 4 did run at once)")
# Spawned in order, pids rise in order (the probes' own clocks race).
tap.eq([s[0] for s in sorted(runs.starts, key=lambda s: s[1])], [event_id(b) for b in bodies],
       "commands started in log order")
tap.ok(mid is not None and mid < ends0, "while the first event runs, the position stays before it (%s)" % mid)
tap.eq(started_mid, 4, "and no fifth command starts: 3 done, 1 running, none committed")
tap.eq(state_offsets(st).get(log), os.path.getsize(log), "all done: the position at the end")

# ---- inotify, torn lines ----------------------------------------------------
d, log, st, out = case("wait")
append(log, record(body(0)))
f = Follower(d, ["--state", st, log, "--", PROBE, out])
wait_for(lambda: len(Runs(out).ends) == 1, 10)
time.sleep(0.3)


def cpu(pid):
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def syscall(pid):
    with open("/proc/%d/syscall" % pid) as fh:
        return fh.read().split()


c0, sc = cpu(f.proc.pid), syscall(f.proc.pid)
time.sleep(1.0)
c1 = cpu(f.proc.pid)
tap.ok(sc[0] == "7" and int(sc[3], 16) & 0xffffffff == 0xffffffff,
       "idle: blocked in poll(2) without a timeout (not polling)", sc)
tap.eq(c1 - c0, 0, "idle for 1 s: no CPU time used")
line = record(body(1))
append(log, line[:50])
time.sleep(0.3)
append(log, line[50:-1])
time.sleep(0.3)
tap.eq(len(Runs(out).starts), 1, "a record without its newline is not acted on")
t = time.time()
append(log, b"\n")
ok = wait_for(lambda: len(Runs(out).ends) == 2, 5, step=0.002)
took = time.time() - t
tap.ok(ok and Runs(out).ids()[1] == event_id(body(1)) and not Runs(out).bad(),
       "its newline came: acted on at once (%.0f ms), the whole body" % (took * 1000))
f.stop()

# ---- SIGTERM ---------------------------------------------------------------------
d, log, st, out = case("term")
for i in range(3):
    append(log, record(body(i, "SLOW" if i == 0 else "JOB_COMPLETED")))
f = Follower(d, ["--state", st, log, "--", PROBE, "-S", "SLOW=1500", out])
wait_for(lambda: len(Runs(out).starts) == 1, 10)
time.sleep(0.3)
t = time.time()
f.proc.send_signal(signal.SIGTERM)
rc = f.wait(30)
took = time.time() - t
runs = Runs(out)
tap.eq(rc, 0, "SIGTERM: exit 0")
tap.ok(len(runs.ends) == 1 and runs.ends[0]["code"] == 0 and took >= 1.0,
       "the running command finished first (%.1f s later)" % took)
tap.eq(len(runs.starts), 1, "nothing new started")
tap.eq(state_offsets(st).get(log), len(record(body(0, "SLOW"))), "the position committed past it")
tap.ok("signal 15: stopping once the running commands are done" in f.stderr(), "it says so", f.stderr())

# ---- a log that vanishes ------------------------------------------------------
d, log, st, out = case("vanish")
logdir = os.path.join(d, "logs")
os.mkdir(logdir)
log = os.path.join(logdir, "events.jsonl")
append(log, record(body(0)))
f = Follower(d, ["--state", st, log, "--", PROBE, out])
wait_for(lambda: len(Runs(out).ends) == 1, 10)
append(log, record(body(1)))
os.unlink(log)
append(log, record(body(2)))
ok = wait_for(lambda: len(Runs(out).ends) == 3, 10)
tap.ok(ok and Runs(out).ids() == [event_id(body(i)) for i in range(3)],
       "the file removed: its last event and the next file's ran", Runs(out).ids())
append(log, record(body(3)))
shutil.rmtree(logdir)
wait_for(lambda: "does not exist: waiting for it" in f.stderr(), 5)
tap.ok(f.proc.poll() is None and "does not exist: waiting for it" in f.stderr(),
       "its directory removed: still running, waiting for it", f.stderr()[-500:])
os.mkdir(logdir)
append(log, record(body(4)))
ok = wait_for(lambda: len(Runs(out).ends) == 5, 10)
tap.ok(ok and Runs(out).ids() == [event_id(body(i)) for i in range(5)],
       "made again: its events ran, and the one written just before it went", Runs(out).ids())
tap.eq(f.stop(), 0, "still stops cleanly")

d, log, st, out = case("later")
logdir = os.path.join(d, "not-yet")
log = os.path.join(logdir, "%Y-%m-%d.jsonl")
f = Follower(d, ["--state", st, log, "--", PROBE, out])
time.sleep(0.5)
os.mkdir(logdir)
now = time.gmtime()
append(time.strftime(log, now), record(body(0)) + record(body(1)))
ok = wait_for(lambda: len(Runs(out).ends) == 2, 10)
tap.ok(ok and f.proc.poll() is None, "a log that did not exist at start: followed once it does")
tap.eq(f.stop(), 0, "and stops cleanly")
tap.eq(harness.sanitizer_reports(work), "", "no sanitizer report")
print("# time: %.1f s" % (time.time() - t0))
tap.done()
