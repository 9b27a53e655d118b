"""kill -9 of hookline-follow, at random moments, while hookline appends
20,000 events under load: no event is skipped, duplicates stay within the
events in flight at each kill, nothing is read from a torn line.

8 clients (hl-load) send 20,000 signed events (100 B to 2 KiB, and 16 of
64-512 KiB) through a real lighttpd to 4 hookline processes
(HOOKLINE_SYNC=always).  hookline-follow -j 4 runs follow-probe for each
event: it hashes its standard input and says whether that is the event's
id (the SHA-256 of the body as sent), so a body read from a torn or mixed
line shows up as "bad".  Meanwhile this test

  - kills hookline-follow with SIGKILL at least 20 times, at random points
    of its progress (the probe's output size), restarting it at once;
  - runs logrotate twice (renaming, nocreate, as shipped; not
    compressing, see below), so the follower crosses files, restarted or
    not;
  - kills a hookline worker 6 times, maybe during a large write, and
    leaves 4 torn records the way a writer killed mid-write does (the
    first part of a record, under the writers' lock), which the next
    writer cuts off (or which end a file that was rotated away).

Checked afterwards, against every record in the log's files (the .gz
one decompressed):
  - every record's command succeeded at least once (every acknowledged
    event is among them);
  - every run got its event's body whole, and no run is for an event not
    in the log;
  - for each kill, the events that ran both just before it and again just
    after it (the repeats it caused) are at most 4, the -j in flight: the
    figures are printed, and the total.
"""

import fcntl
import gzip
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import time

from robustlib import harness, load_results, pool, run_load

from followlib import PROBE, Follower, Runs  # noqa: E402

CLIENTS, EACH, KILLS, WORKER_KILLS, FRAGMENTS, JOBS = 8, 2500, 25, 6, 4, 4
SECRET = "robust-follow-kill9-Wd4"
tap = harness.Tap()
seed = os.environ.get("HOOKLINE_SEED", str(time.time()))
rng = random.Random(seed)
print("# seed %s" % seed)
start = time.time()
logrotate = shutil.which("logrotate", path="/usr/sbin:/usr/bin:/sbin:/bin")
srv = harness.Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/log/events.jsonl",
                        "HOOKLINE_SYNC": "always"}, procs=4)
os.mkdir(srv.path("log"))
log = srv.path("log/events.jsonl")
state = srv.path("state")
runs_path = srv.path("runs")
conf = srv.path("logrotate.conf")
with open(conf, "w") as f:
    # Not compressed: restarted over and over, the follower may lag more
    # than one rotation behind, and a file compressed before it was read
    # to its end is lost to it (hookline-follow(1), CAVEATS).
    f.write("%s/*.jsonl {\n\trotate 30\n\tmissingok\n\tnotifempty\n\tnocreate\n\tnocopytruncate\n"
            "\tnocompress\n}\n" % srv.path("log"))
args = ["--state", state, "-j", str(JOBS), log, "--", PROBE, runs_path]


def follower():
    return Follower(srv.dir, args, name="follow")


fol = follower()
# The probe writes ~215 bytes per run; the log ~1,300 per event (and 16
# large ones).  Kill points are random points of the follower's output,
# rotations and worker kills random points of the log's growth.
expected_runs = CLIENTS * EACH * 200
expected_log = CLIENTS * EACH * (1074 + 260) + CLIENTS * 2 * 300 * 1024
kill_marks = sorted(rng.uniform(0.02, 0.95) * expected_runs for _ in range(KILLS))
worker_marks = sorted(rng.uniform(0.05, 0.9) * expected_log for _ in range(WORKER_KILLS))
rotate_marks = [expected_log / 3, 2 * expected_log / 3]
load = run_load([srv.port], CLIENTS, EACH, srv.path("load"), SECRET, seconds=240, wait=False,
                large=2, large_sizes=(64 * 1024, 512 * 1024))
kills, worker_kills, rotations, fragments = [], 0, [], 0
fragment_marks = sorted(rng.uniform(0.05, 0.9) * expected_log for _ in range(FRAGMENTS))
rotated = 0  # bytes of the log in files rotated away


def logged():
    try:
        return rotated + os.path.getsize(log)
    except OSError:
        return rotated


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def tear(n):
    """Leaves what a writer killed mid-write leaves: the first part of a
    record, under the writers' lock.  Its event was never sent."""
    b = b'{"torn":%d,"pad":"%s"}' % (n, b"t" * 3000)
    line = json.dumps({"received": "2026-01-01T00:00:00.000000Z",
                       "id": hashlib.sha256(b).hexdigest()}, separators=(",", ":")).encode()[:-1] + b',"event":' + b + b"}\n"
    try:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, line[:len(line) // 2])
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


deadline = time.time() + 280
done_loading = None
last_size = [0, time.time()]
while time.time() < deadline:
    if load.poll() is not None and done_loading is None:
        done_loading = time.time()
    if kill_marks and size(runs_path) >= kill_marks[0]:
        kill_marks.pop(0)
        kills.append(time.time_ns())
        fol.kill()
        fol = follower()
    if worker_marks and logged() >= worker_marks[0]:
        worker_marks.pop(0)
        victims = pool(srv)
        if len(victims) >= 2:
            os.kill(rng.choice(victims), signal.SIGKILL)
            worker_kills += 1
    if fragment_marks and logged() >= fragment_marks[0]:
        fragment_marks.pop(0)
        tear(fragments)
        fragments += 1
    if rotate_marks and logged() >= rotate_marks[0] and logrotate is not None:
        rotate_marks.pop(0)
        before = size(log)
        p = subprocess.run([logrotate, "-f", "-s", srv.path("lr.state"), conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        rotated += before
        rotations.append(p.returncode)
    # After the load, kills go on while the follower catches up: until
    # the marks are used up, or its output stopped growing (caught up).
    grown = size(runs_path)
    if grown != last_size[0]:
        last_size[:] = [grown, time.time()]
    if done_loading is not None and (not kill_marks or time.time() - last_size[1] > 5):
        break
    time.sleep(0.003)
rc = load.wait(timeout=120)
tap.eq(rc, 0, "load driver finished")
# One more event through a fresh worker, so that any torn record left at
# the end of the log is cut off and followed by a whole one.
time.sleep(1.5)
tap.eq(run_load([srv.port], 1, 1, srv.path("final"), SECRET, seconds=60, first=CLIENTS), 0, "final event sent")


def records():
    """{id: count} of the records in the log's files, and the problems."""
    ids, bad = {}, []
    for name in sorted(os.listdir(srv.path("log"))):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(srv.path("log/" + name), "rb") as fh:
            data = fh.read()
        for line in data.split(b"\n")[:-1]:
            try:
                i = json.loads(line)["id"]
            except (ValueError, KeyError):
                bad.append(line[:80])
                continue
            ids[i] = ids.get(i, 0) + 1
    return ids, bad


logged_ids, _ = records()
caught = False
t = time.time()
while time.time() - t < 120:
    ran = Runs(runs_path).count(0)
    if all(i in ran for i in logged_ids):
        caught = True
        break
    time.sleep(0.2)
tap.ok(caught, "the follower caught up with the log (%.1f s after the load)" % (time.time() - t))
tap.eq(fol.stop(), 0, "SIGTERM: exit 0")
srv.stop()

results = load_results(srv.path("load"), CLIENTS)
statuses = {}
for v in results.values():
    statuses[v[2]] = statuses.get(v[2], 0) + 1
logged_ids, torn = records()
runs = Runs(runs_path)
ran_ok = runs.count(0)
tap.ok(len(kills) >= 20, "%d SIGKILLs to hookline-follow" % len(kills))
tap.ok(logrotate is None or rotations == [0, 0], "logrotate moved the file twice under load (%s)" % rotations)
tap.ok(worker_kills >= 3, "%d SIGKILLs to hookline workers" % worker_kills)
tap.eq(torn, [], "every line of the log's files is a whole record")
tap.ok(statuses.get(200, 0) >= CLIENTS * EACH // 2, "most events acknowledged (%d)" % statuses.get(200, 0))
missing = [i for i in logged_ids if i not in ran_ok]
tap.eq(missing[:5], [], "every record's command succeeded at least once (%d records)" % len(logged_ids))
tap.eq(runs.bad()[:3], [], "every run got its event's body whole: nothing read from a torn line")
strangers = [i for i in ran_ok if i not in logged_ids]
tap.eq(strangers[:3], [], "no run for an event that is not in the log")
# Repeats per kill: the runs, after it and before the next, of events
# that had run before (each repeat belongs to the kill just before it).
firsts, repeats = set(), [0] * (len(kills) + 1)
for ts, i in sorted((s[2], s[0]) for s in runs.starts):
    if i in firsts:
        repeats[sum(1 for k in kills if k <= ts)] += 1
    firsts.add(i)
extra = sum(v - 1 for v in runs.count().values() if v > 1)
tap.eq(repeats[0], 0, "nothing ran twice before the first kill")
repeats = repeats[1:]
tap.ok(all(r <= JOBS for r in repeats), "each kill repeated at most %d events (the -j in flight): %s"
       % (JOBS, repeats))
tap.eq(extra, sum(repeats), "and those are all the repeats there are")
err = srv.errors()
fol_err = fol.stderr()
tap.ok(err.count("cut ") + fol_err.count("never completed") >= fragments,
       "the %d torn records were cut off by hookline, or skipped at the end of a file" % fragments)
print("# follower kills: %d; repeats per kill: max %d, mean %.2f, total %d of %d runs"
      % (len(kills), max(repeats or [0]), sum(repeats) / max(1, len(kills)), extra, len(runs.ends)))
print("# events: %d sent, %d acknowledged, %d records in the log (unacknowledged ones included)"
      % (len(results), statuses.get(200, 0), len(logged_ids)))
print("# worker kills: %d; torn records left: %d; cut off by the next writer: %d; skipped at the end of "
      "a finished file by the follower: %d" % (worker_kills, fragments, err.count("cut "),
                                              fol_err.count("never completed")))
print("# time: %.1f s" % (time.time() - start))
tap.done()
