"""8 concurrent clients x 500 signed events through lighttpd with 4 hookline
processes appending to one log (HOOKLINE_SYNC=always): exactly 4000 lines,
each valid JSON, each id the SHA-256 of its logged event, each event once."""

import hashlib
import threading

from harness import Client, Lighttpd, Tap, check_clean_shutdown, event_body, logged_event_bytes, read_log, sha1_sig

CLIENTS, EACH = 8, 500
SECRET = "it-concurrency-secret"
tap = Tap()
srv = Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl"}, procs=4)
statuses = [[] for _ in range(CLIENTS)]
bodies = {}


def client(k):
    c = Client(srv.port)
    for j in range(EACH):
        i = k * EACH + j
        # Sizes vary so that records of different lengths race each other.
        body = event_body(i, pad=(i * 37) % 3000)
        bodies[body] = i
        statuses[k].append(c.post("/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)}).status)
    c.close()


threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=600)
all_status = [s for per in statuses for s in per]
tap.eq(len(all_status), CLIENTS * EACH, "every request answered")
tap.eq(sum(1 for s in all_status if s == 200), CLIENTS * EACH, "every request answered 200")
check_clean_shutdown(tap, srv)

lines = read_log(srv.path("events.jsonl"))
tap.eq(len(lines), CLIENTS * EACH, "exactly %d lines" % (CLIENTS * EACH))
tap.eq(sum(1 for _, rec in lines if rec is None), 0, "every line is valid JSON")
bad_id = sum(1 for line, rec in lines
             if rec is None or rec["id"] != hashlib.sha256(logged_event_bytes(line)).hexdigest())
tap.eq(bad_id, 0, "every id is the SHA-256 of its logged event")
seen = {}
for line, _ in lines:
    b = logged_event_bytes(line)
    seen[b] = seen.get(b, 0) + 1
tap.eq(sum(1 for b in bodies if seen.get(b) != 1), 0, "every event logged exactly once")
tap.done()
