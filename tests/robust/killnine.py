"""kill -9 under load: no acknowledged event is ever lost or altered.

8 clients (hl-load) send 20,000 signed events (100 B to 2 KiB, and 16 of
64-512 KiB), one at a time each, through
a real lighttpd to 4 hookline FastCGI processes with HOOKLINE_SYNC=always,
while this test kills those processes with SIGKILL at random moments (at
least 20 times; lighttpd respawns them).  A request in flight when its
process dies gets a 5xx from lighttpd or a broken connection: the client
records that and moves on (no re-send, so that every count below means
exactly what it says).

Checked afterwards, against the bodies rebuilt byte for byte:
  - every event that got a 200 is in the log exactly once, exactly as sent;
  - every line of the log is one whole record of one sent event (no torn
    or interleaved line: a writer killed mid-write leaves a fragment that
    the next writer cuts off, so one more event is sent after the kills);
  - events that got no 200 may be absent or present (delivery is at least
    once); how many of each is printed as TAP comments.
Kill moments are random points of the log's growth (its size is polled),
so the kills spread over the whole run whatever the machine's speed.
"""

import os
import random
import signal
import time

from robustlib import harness, load_results, pool, run_load, scan_log

CLIENTS, EACH, KILLS = 8, 2500, 30
SECRET = "robust-kill9-secret-Hq2"
tap = harness.Tap()
rng = random.Random(os.environ.get("HOOKLINE_SEED", str(time.time())))
srv = harness.Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl",
                        "HOOKLINE_SYNC": "always"}, procs=4)
log = srv.path("events.jsonl")
out = srv.path("load")
start = time.time()
t = time.time()
while len(pool(srv)) < 4 and time.time() - t < 10:
    time.sleep(0.05)
tap.eq(len(pool(srv)), 4, "lighttpd spawned 4 hookline processes")

# A record is its body (100-2048 bytes, 1074 on average) plus ~260 bytes;
# two bodies per client are large (64-512 KiB), so that some kills land
# in the middle of a long write(2) and leave a fragment to cut off.
expected = CLIENTS * EACH * (1074 + 260) + CLIENTS * 2 * 300 * 1024
marks = sorted(rng.uniform(0.02, 0.9) * expected for _ in range(KILLS))
load = run_load([srv.port], CLIENTS, EACH, out, SECRET, seconds=240, wait=False,
                large=2, large_sizes=(64 * 1024, 512 * 1024))
kills = []
deadline = time.time() + 300
while load.poll() is None and time.time() < deadline:
    size = os.path.getsize(log) if os.path.exists(log) else 0
    if marks and size >= marks[0]:
        marks.pop(0)
        victims = pool(srv)
        if victims:
            pid = rng.choice(victims)
            try:
                os.kill(pid, signal.SIGKILL)
                kills.append(pid)
            except ProcessLookupError:
                pass
        # lighttpd notices a dead backend and respawns it within a second
        # or so; keep at least one process alive between two kills.
        t = time.time()
        while len(pool(srv)) < 2 and time.time() - t < 3:
            time.sleep(0.01)
    time.sleep(0.002)
rc = load.wait(timeout=120)
tap.eq(rc, 0, "load driver finished")
tap.ok(len(kills) >= 20, "%d FastCGI processes killed with SIGKILL mid-load" % len(kills))

# One more event through a fresh process, after the last kill: whatever
# fragment a killed writer left must be gone before this one is written.
time.sleep(1.5)
rc = run_load([srv.port], 1, 1, srv.path("final"), SECRET, seconds=60, first=CLIENTS)
tap.eq(rc, 0, "final event sent")
results = load_results(out, CLIENTS)
fin = load_results(srv.path("final"), 1, first=CLIENTS)
tap.eq(fin[(CLIENTS, 0)][2], 200, "the final event, after the kills, is acknowledged")
srv.stop()
tap.ok(harness.sanitizer_reports(srv.dir) == "", "no sanitizer report from surviving processes",
       harness.sanitizer_reports(srv.dir)[:3000])

statuses = {}
for v in results.values():
    statuses[v[2]] = statuses.get(v[2], 0) + 1
tap.eq(len(results), CLIENTS * EACH, "a result for each of the %d events" % (CLIENTS * EACH))
tap.eq(statuses.get(-1, 0), 0, "every event was sent before the deadline")
acked = {key for key, v in results.items() if v[2] == 200}
tap.ok(all(results[key][3] for key in acked), "every 200 carried the SHA-256 id of its body")
tap.ok(len(acked) >= CLIENTS * EACH // 2, "most events acknowledged (%d)" % len(acked))

counts, problems = scan_log(log, {**results, **fin})
tap.eq(counts.get((CLIENTS, 0), 0), 1, "the final event is logged once")
tap.eq(problems[:10], [], "every line is one whole record of a sent event, byte for byte")
lost = sorted(key for key in acked if counts.get(key, 0) == 0)
tap.eq(lost[:10], [], "every acknowledged event is in the log (%d)" % len(acked))
dup = sorted(key for key, n in counts.items() if n > 1)
tap.eq(dup[:10], [], "no event logged twice (none was sent twice)")
unacked = [key for key, v in results.items() if v[2] != 200]
present = sum(1 for key in unacked if counts.get(key, 0) > 0)
print("# kills: %d (SIGKILL to FastCGI workers)" % len(kills))
print("# events: %d sent, %d acknowledged (200), %d not acknowledged" %
      (len(results), len(acked), len(unacked)))
print("# not acknowledged: %d present in the log (at-least-once), %d absent" %
      (present, len(unacked) - present))
print("# statuses: %s" % ", ".join("%s: %d" % (k if k else "no answer", v) for k, v in sorted(statuses.items())))
err = srv.errors()
print("# torn records cut off by the next writer: %d" % err.count("cut "))
print("# time: %.1f s" % (time.time() - start))
tap.ok(SECRET not in err, "the secret is not in the error log")
tap.done()
