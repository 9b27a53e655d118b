"""Rotation with the real logrotate and deploy/logrotate/hookline as
shipped (paths replaced, nothing else), run twice with its own state file
(-f: "daily" would wait a day) while 4 clients keep sending events through
lighttpd (deploy/lighttpd/hookline.conf, 4 hookline processes as
www-data).  Nothing is lost and nothing doubled across events.jsonl,
events.jsonl.1 and events.jsonl.2.gz (delaycompress: the newest rotated
file stays uncompressed); the rotated files keep mode 0640 and their
owner, and hookline creates the new file 0640 itself (nocreate)."""

import gzip
import json
import os
import pwd
import subprocess
import threading
import time

from harness import Tap, post_events
from servers import USER, Lighttpd, Site, which

CLIENTS, EACH = 4, 300
tap = Tap()
logrotate = which("logrotate")
if logrotate is None:
    print("1..0 # SKIP logrotate not installed (Debian package logrotate)")
    raise SystemExit(0)

site = Site("logrotate")
srv = Lighttpd(site, site.install("lighttpd/hookline.conf"))
conf = site.install("logrotate/hookline")
state = site.path("logrotate.state")
log = site.path("log/events.jsonl")
acked = []
progress = [0]


def client(k):
    post_events(srv.port, site.secret, k * EACH, EACH, acked, progress)


threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
for t in threads:
    t.start()
runs = []
for at in (CLIENTS * EACH // 3, 2 * CLIENTS * EACH // 3):
    deadline = time.time() + 120
    while progress[0] < at and time.time() < deadline:
        time.sleep(0.005)
    p = subprocess.run([logrotate, "-v", "-f", "-s", state, conf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    runs.append((p.returncode, p.stdout))
    done_at = progress[0]
for t in threads:
    t.join(timeout=600)
tap.ok(done_at < CLIENTS * EACH, "the second rotation ran while events kept coming (%d of %d sent)"
       % (done_at, CLIENTS * EACH))
for n, (rc, out) in enumerate(runs):
    tap.ok(rc == 0 and "error" not in out.lower(), "logrotate run %d: exit 0, no error" % (n + 1), out)
tap.eq(len(acked), CLIENTS * EACH, "every event acknowledged")
tap.eq(sorted(os.listdir(site.path("log"))), ["events.jsonl", "events.jsonl.1", "events.jsonl.2.gz"],
       "events.jsonl, events.jsonl.1 (delaycompress), events.jsonl.2.gz")

logged = []
for name in ("events.jsonl.2.gz", "events.jsonl.1", "events.jsonl"):
    path = site.path("log/" + name)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    tap.ok(data.endswith(b"\n") and len(lines) > 1, "%s: whole lines, %d of them" % (name, len(lines) - 1))
    logged += [json.loads(line)["event"]["job_id"] for line in lines[:-1]]
    st = os.stat(path)
    tap.eq((oct(st.st_mode & 0o777), pwd.getpwuid(st.st_uid).pw_name), ("0o640", USER),
           "%s: mode 0640, owned by %s" % (name, USER))
tap.eq(len(logged), len(set(logged)), "no event logged twice")
tap.eq(sorted(logged), sorted(acked), "the three files hold every acknowledged event")
# lighttpd 1.4.69 exits 1 when a connection was still open: not a failure.
tap.ok(srv.stop() in (0, 1), "lighttpd ends on SIGTERM")
tap.eq(site.sanitizer_reports(), "", "no sanitizer report")
tap.done()
