"""Rotation mid-stream, as logrotate does it (rename, then the next writer
creates a new file): 4 clients keep sending while the log is moved away
twice.  Nothing is lost, nothing is doubled, the new file is created 0640."""

import os
import threading
import time

from harness import Lighttpd, Tap, check_clean_shutdown, post_events, read_log

CLIENTS, EACH = 4, 400
SECRET = "it-rotation-secret"
tap = Tap()
srv = Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl",
                "HOOKLINE_SYNC": "none"}, procs=4)
log = srv.path("events.jsonl")
acked = []
progress = [0]


def client(k):
    post_events(srv.port, SECRET, k * EACH, EACH, acked, progress)


threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
for t in threads:
    t.start()
moves = 0
for target, at in ((log + ".2", CLIENTS * EACH // 3), (log + ".1", 2 * CLIENTS * EACH // 3)):
    deadline = time.time() + 120
    while progress[0] < at and time.time() < deadline:
        time.sleep(0.005)
    if os.path.exists(log):
        os.rename(log, target)
        moves += 1
for t in threads:
    t.join(timeout=600)
check_clean_shutdown(tap, srv)

tap.eq(moves, 2, "log moved away twice while events kept coming")
tap.eq(len(acked), CLIENTS * EACH, "every event acknowledged")
logged = []
for name in (log + ".2", log + ".1", log):
    lines = read_log(name)
    tap.ok(len(lines) > 0, "%s holds events" % os.path.basename(name), len(lines))
    logged += [rec["event"]["job_id"] for _, rec in lines if rec is not None]
tap.eq(sorted(logged), sorted(acked), "the three files hold every acknowledged event once")
tap.eq(oct(os.stat(log).st_mode & 0o777), "0o640", "new log created 0640")
tap.done()
