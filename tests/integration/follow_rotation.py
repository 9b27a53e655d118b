"""hookline-follow across the log's files, with hookline writing them
through a real lighttpd:

  - logrotate, run twice while 4 clients keep sending (the shipped
    directives: nocreate, delaycompress), then a third time: every
    acknowledged event ran exactly once, in log order within each file;
    the rotated files are finished and let go;
  - a strftime pattern with seconds (a new file every second, the
    "midnight" switch many times over) under 4 clients with -j 2: every
    event exactly once, though a writer may append to the previous
    second's file after the next one began; superseded files are let go
    15 s after their successor began;
  - copytruncate while hookline-follow is stopped mid-file: the copy is
    found by its first line and finished, the truncated file's new
    events follow; neither skipped nor repeated;
  - a file removed and a new one made in its place (its inode most likely
    reused): the new file is read from its start, not from the old
    offset.
"""

import os
import shutil
import subprocess
import threading
import time

import harness
from followlib import (PROBE, Follower, Runs, append, append_events, body, copytruncate, event_id, record,
                       state_offsets, wait_for)

SECRET = "follow-rotation-secret-Ls2"
tap = harness.Tap()
t0 = time.time()
logrotate = shutil.which("logrotate", path="/usr/sbin:/usr/bin:/sbin:/bin")


def send(port, first, count, acked, progress=None, pace=0):
    c = harness.Client(port)
    for i in range(first, first + count):
        time.sleep(pace)
        b = body(i, pad=i % 300)
        r = c.post("/hook", b, {"X-Hub-Signature": harness.sha1_sig(SECRET, b)})
        if r.status == 200:
            acked.append(event_id(b))
        if progress is not None:
            progress[0] += 1
    c.close()


def once_each(tap, runs, acked, what):
    """Checks that every acknowledged event ran exactly once."""
    counts = runs.count()
    missing = [i for i in acked if i not in counts]
    twice = [i for i, n in counts.items() if n > 1]
    strangers = [i for i in counts if i not in set(acked)]
    tap.ok(not missing and not twice and not strangers, what,
           "%d missing, %d more than once, %d not sent: %s" % (len(missing), len(twice), len(strangers),
                                                              (missing + twice + strangers)[:3]))


def load(port, clients, each, progress=None, pace=0):
    acked = []
    threads = [threading.Thread(target=send, args=(port, k * each, each, acked, progress, pace))
               for k in range(clients)]
    for t in threads:
        t.start()
    return threads, acked


# ---- logrotate, twice under load ----------------------------------------
if logrotate is None:
    tap.ok(True, "# SKIP logrotate not installed (Debian package logrotate)")
else:
    srv = harness.Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/log/events.jsonl"}, procs=4)
    os.mkdir(srv.path("log"))
    conf = srv.path("logrotate.conf")
    with open(conf, "w") as f:
        f.write("%s/*.jsonl {\n\trotate 30\n\tmissingok\n\tnotifempty\n\tnocreate\n\tnocopytruncate\n"
                "\tcompress\n\tdelaycompress\n}\n" % srv.path("log"))
    out = srv.path("runs")
    fol = Follower(srv.dir, ["--state", srv.path("state"), srv.path("log/events.jsonl"), "--", PROBE, out])
    progress = [0]
    threads, acked = load(srv.port, 4, 250, progress)
    rot = []
    for at in (300, 650):
        wait_for(lambda: progress[0] >= at, 120)
        p = subprocess.run([logrotate, "-f", "-s", srv.path("lr.state"), conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        rot.append(p.returncode)
    for t in threads:
        t.join(timeout=300)
    # A few more, so that there is a file to rotate a third time even
    # when the second rotation came after the last of the load.
    send(srv.port, 4 * 250, 10, acked, progress)
    done_sending = progress[0]
    ok = wait_for(lambda: len(Runs(out).ends) >= len(acked), 60)
    time.sleep(0.3)
    p = subprocess.run([logrotate, "-f", "-s", srv.path("lr.state"), conf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    rot.append(p.returncode)
    runs = Runs(out)
    tap.eq(rot, [0, 0, 0], "logrotate ran three times, twice under load")
    tap.eq(sorted(os.listdir(srv.path("log"))), ["events.jsonl.1", "events.jsonl.2.gz", "events.jsonl.3.gz"],
           "the log went through .1 to .gz (delaycompress)")
    tap.ok(ok and len(acked) == done_sending == 1010, "1010 events acknowledged")
    once_each(tap, runs, acked, "every acknowledged event ran exactly once")
    tap.eq(runs.bad(), [], "every command got its event's body whole")
    order_ok = True
    for name in ("events.jsonl.1",):
        ids = [rec["id"] for _, rec in harness.read_log(srv.path("log/" + name))]
        pos = {i: n for n, i in enumerate(runs.ids())}
        order_ok &= [pos[i] for i in ids] == sorted(pos[i] for i in ids)
    tap.ok(order_ok, "within a file, in log order")
    tap.eq(fol.stop(), 0, "SIGTERM: exit 0")
    files = state_offsets(srv.path("state"))
    tap.ok(len(files) <= 2, "the rotated files were let go: %d left in the state" % len(files), files)
    srv.stop()
    tap.eq(harness.sanitizer_reports(srv.dir), "", "no sanitizer report")

# ---- a strftime pattern with seconds ----------------------------------------
srv = harness.Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/log/ev-%H%M%S.jsonl"}, procs=4)
os.mkdir(srv.path("log"))
out = srv.path("runs")
fol = Follower(srv.dir, ["--state", srv.path("state"), "-j", "2", srv.path("log/ev-%H%M%S.jsonl"), "--",
                         PROBE, out])
time.sleep(0.3)
start = time.time()
# 350 events each, one every 8 ms or more: 1400 over 3 s or more.
threads, acked = load(srv.port, 4, 350, pace=0.008)
for t in threads:
    t.join(timeout=300)
sent_for = time.time() - start
ok = wait_for(lambda: len(Runs(out).ends) >= len(acked), 60)
nfiles = len(os.listdir(srv.path("log")))
runs = Runs(out)
tap.ok(ok and len(acked) == 1400, "%d events acknowledged over %.1f s" % (len(acked), sent_for))
tap.ok(nfiles >= 3, "into %d files, one per second" % nfiles)
once_each(tap, runs, acked, "every event ran exactly once across the switches")
tap.eq(runs.bad(), [], "every command got its event's body whole")
late = 0
for name in sorted(os.listdir(srv.path("log"))):
    recs = [rec for _, rec in harness.read_log(srv.path("log/" + name))]
    late += sum(1 for a, b in zip(recs, recs[1:]) if b["received"] < a["received"])
print("# records written after a later one in the same file (writers racing): %d" % late)
files = wait_for(lambda: len(state_offsets(srv.path("state"))) == 1, 25, step=0.2)
tap.ok(files, "15 s after their successors began, the superseded files were let go (%d left)"
       % len(state_offsets(srv.path("state"))))
tap.eq(fol.stop(), 0, "SIGTERM: exit 0")
srv.stop()
tap.eq(harness.sanitizer_reports(srv.dir), "", "no sanitizer report")

# ---- copytruncate, and an inode reused ----------------------------------------
work = harness.Workdir("hookline-follow-rot-").path
log = os.path.join(work, "events.jsonl")
st = os.path.join(work, "state")
out = os.path.join(work, "runs")
first = [body(i) for i in range(6)]
append_events(log, first)
fol = Follower(work, ["--state", st, log, "--", PROBE, out])
wait_for(lambda: len(Runs(out).ends) >= 2, 10)
fol.kill()
done = len(Runs(out).ends)
append_events(log, [body(i) for i in range(6, 9)])
copytruncate(log)
append_events(log, [body(i) for i in range(9, 12)])
fol = Follower(work, ["--state", st, log, "--", PROBE, out])
ok = wait_for(lambda: len(set(Runs(out).ids())) == 12, 10)
fol.stop()
runs = Runs(out)
dups = {k: v for k, v in runs.count().items() if v > 1}
tap.ok(ok and set(runs.ids()) == {event_id(body(i)) for i in range(12)},
       "copytruncate while stopped after %d events: the rest of the copy, then the new file" % done)
tap.ok(len(dups) <= 1, "nothing repeated but the event in flight at the kill (%d)" % len(dups), dups)
os.unlink(log + ".1")

# The same while it follows, behind (each command takes 100 ms).
log3 = os.path.join(work, "live.jsonl")
out3 = os.path.join(work, "runs3")
append_events(log3, [body(i) for i in range(20, 30)])
fol = Follower(work, ["--state", os.path.join(work, "state3"), log3, "--", PROBE, "-s", "100", out3])
wait_for(lambda: len(Runs(out3).ends) >= 2, 10)
copytruncate(log3)
append_events(log3, [body(i) for i in range(30, 33)])
ok = wait_for(lambda: len(Runs(out3).ends) >= 13, 15)
time.sleep(0.3)
fol.stop()
tap.ok(ok and Runs(out3).count() == {event_id(body(i)): 1 for i in range(20, 33)},
       "copytruncate while following: the copy finished, the new events run, each once", Runs(out3).count())
tap.ok("truncated or rewritten in place" in fol.stderr(), "the truncation is noticed and said", fol.stderr())

# The copy is older than what was read: hookline appended a record during
# the copy, which the follower ran from the original before the
# truncation.  The copy holds nothing unread; it must not be taken for a
# rewritten file again and again (a loop, one message each time).
log4 = os.path.join(work, "short.jsonl")
out4 = os.path.join(work, "runs4")
append_events(log4, [body(i) for i in range(40, 45)])
with open(log4, "rb") as f:
    copy = f.read()  # cp starts; then one more record comes
append(log4, record(body(45)))
fol = Follower(work, ["--state", os.path.join(work, "state4"), log4, "--", PROBE, out4])
read = wait_for(lambda: len(Runs(out4).ends) >= 6, 30)
copytruncate(log4, copy)  # cp ends with what it read then
time.sleep(1)
append_events(log4, [body(i) for i in range(46, 48)])
ok = wait_for(lambda: len(Runs(out4).ends) >= 8, 15)
time.sleep(0.5)
fol.stop()
said = fol.stderr().count("truncated or rewritten in place")
tap.ok(read and ok and Runs(out4).count() == {event_id(body(i)): 1 for i in range(40, 48)} and said <= 2,
       "copytruncate whose copy ends before what was read: nothing runs twice, the new events run, the truncation "
       "said %d time(s)" % said, (Runs(out4).count(), fol.stderr()[-1500:]))

log2 = os.path.join(work, "other.jsonl")
st2 = os.path.join(work, "state2")
out2 = os.path.join(work, "runs2")
old = [body(100 + i, pad=50) for i in range(4)]
append_events(log2, old)
fol = Follower(work, ["--state", st2, "--once", log2, "--", PROBE, out2])
fol.wait()
ino = os.stat(log2).st_ino
os.unlink(log2)
new = [body(200 + i) for i in range(10)]
append_events(log2, new)
reused = os.stat(log2).st_ino == ino
fol = Follower(work, ["--state", st2, "--once", log2, "--", PROBE, out2])
tap.eq(fol.wait(), 0, "after the file was replaced: --once exits 0")
tap.eq(Runs(out2).ids(), [event_id(b) for b in old + new],
       "the new file (inode %s) is read from its start: nothing skipped, nothing repeated"
       % ("reused" if reused else "not reused"))
tap.eq(harness.sanitizer_reports(work), "", "no sanitizer report")
print("# time: %.1f s" % (time.time() - t0))
tap.done()
