"""hookline-follow under valgrind (memcheck, full leak check): every path
that allocates, run to its end, then a clean exit with nothing lost.

  - --once over events that succeed, retry (exit 75, run again after a
    backoff), fail for good (dead letters), are skipped by --match or as
    duplicates, a line that is not a record, a large event, -j 3;
  - the same directory again (the state, the window's file read back);
  - no command: lines printed;
  - following a log while it rotates, then SIGTERM while a command runs.
Left out of ASan builds, as the other valgrind tests are."""

import json
import os
import re
import signal
import subprocess
import time

import harness
from followlib import FOLLOW, PROBE, Runs, append, append_events, body, deadletters, event_id, record, wait_for

harness.require("valgrind", "valgrind")

tap = harness.Tap()
t0 = time.time()
work = harness.Workdir("hookline-follow-vg-").path
log = os.path.join(work, "events.jsonl")
st = os.path.join(work, "state")
out = os.path.join(work, "runs")
n = [0]


def valgrind(args, wait=True):
    n[0] += 1
    vlog = os.path.join(work, "vg%d.log" % n[0])
    p = subprocess.Popen(harness.VALGRIND + ["--log-file=" + vlog, FOLLOW] + args, env=harness.child_env(),
                         stdin=subprocess.DEVNULL, stdout=open(os.path.join(work, "out%d" % n[0]), "wb"),
                         stderr=open(os.path.join(work, "err%d" % n[0]), "wb"))
    if not wait:
        return p, vlog
    return p.wait(timeout=300), vlog


def clean(rc, vlog, what, want_rc=0):
    with open(vlog) as f:
        report = f.read()
    tap.eq(rc, want_rc, "%s: exit %d (99: valgrind found errors)" % (what, want_rc))
    tap.ok("ERROR SUMMARY: 0 errors" in report, "%s: valgrind: 0 errors" % what, report[-2000:])
    for kind in ("definitely", "indirectly"):
        m = re.search(r"%s lost: ([\d,]+) bytes" % kind, report)
        tap.ok(m is None or m.group(1) == "0", "%s: nothing %s lost" % (what, kind), report[-2000:])


bodies = [body(i, ("JOB_COMPLETED", "BROKEN", "SKIP")[i % 3], pad=(300000 if i == 4 else 0)) for i in range(12)]
append_events(log, bodies)
append(log, record(bodies[0]))  # a retried delivery
append(log, b"not a record\n")
rc, vlog = valgrind(["--state", st, "--once", "-j", "3", "--backoff", "0.05,0.1", "--match", "status=JOB_COMPLETED",
                     "--match", "status=BROKEN", log, "--", PROBE, "-m", "BROKEN=3", "-r", "1", out])
tap.eq(rc, 75, "--once stops at the first retry (exit 75)")
for _ in range(6):
    rc, vlog = valgrind(["--state", st, "--once", "-j", "3", "--match", "status=JOB_COMPLETED", "--match",
                         "status=BROKEN", log, "--", PROBE, "-m", "BROKEN=3", "-r", "1", out])
    if rc != 75:
        break
clean(rc, vlog, "--once with retries, dead letters, skips, -j 3")
ran = Runs(out).count(0)
tap.eq(sorted(ran), sorted(event_id(b) for b in bodies if b"JOB_COMPLETED" in b), "the right events succeeded")
# A dead letter written behind an event to retry is written again by
# the next run (the position could not pass it): count distinct ones.
dl = {json.dumps(d.get("record", d.get("line")), sort_keys=True) for d in deadletters(st)}
tap.eq(len(dl), 5, "4 failed events and a foreign line in the dead-letter file")
rc, vlog = valgrind(["--state", os.path.join(work, "print"), "--once", log])
clean(rc, vlog, "no command (lines printed)")

# Following while the log is rotated, then SIGTERM during a command.
live = os.path.join(work, "live.jsonl")
out2 = os.path.join(work, "runs2")
append(live, record(body(100)))
p, vlog = valgrind(["--state", os.path.join(work, "state2"), live, "--", PROBE, "-S", "SLOW=1500", out2], wait=False)
ok = wait_for(lambda: len(Runs(out2).ends) == 1, 60)
os.rename(live, live + ".1")
append(live + ".1", record(body(101)))
append(live, record(body(102)) + record(body(103, "SLOW")))
ok = ok and wait_for(lambda: len(Runs(out2).starts) == 4, 60)
p.send_signal(signal.SIGTERM)
rc = p.wait(timeout=120)
clean(rc, vlog, "following across a rename, stopped by SIGTERM during a command")
tap.eq(sorted(Runs(out2).ids()), sorted(event_id(body(i, "SLOW" if i == 103 else "JOB_COMPLETED"))
                                        for i in range(100, 104)), "each event ran, the last one to its end")
print("# time: %.1f s" % (time.time() - t0))
tap.done()
