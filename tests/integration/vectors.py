"""Every entry of tests/vectors/vectors.json (a copy of the shared test
vectors) through a real lighttpd + mod_fastcgi, each answered with the
status the vector names.  Each vector's secret is set per location with
mod_setenv, so this also drives configuration from request parameters."""

import base64
import json
import os

from harness import SRCDIR, Client, Lighttpd, Tap, check_clean_shutdown, logged_event_bytes, read_log

tap = Tap()
with open(os.path.join(SRCDIR, "tests/vectors/vectors.json")) as f:
    vectors = json.load(f)
tap.ok(len(vectors) >= 12, "%d vectors loaded" % len(vectors))
secrets = sorted({v["secret"] for v in vectors})
locations = {"/s%d/" % i: {"HOOKLINE_SECRET": s, "HOOKLINE_LOG": "@DIR@/events-%d.jsonl" % i}
             for i, s in enumerate(secrets)}
srv = Lighttpd({}, procs=4, locations=locations)
c = Client(srv.port)
sent = []
for v in vectors:
    i = secrets.index(v["secret"])
    body = base64.b64decode(v["body_b64"])
    r = c.post("/s%d/hook" % i, body, v["headers"])
    tap.ok(r.status == v["status"], "%s: %d" % (v["name"], v["status"]), (r.status, r.body))
    if r.status == 200:
        sent.append((i, v["name"], body))
c.close()
check_clean_shutdown(tap, srv)

logged = {}
for i in range(len(secrets)):
    for line, rec in read_log(srv.path("events-%d.jsonl" % i)):
        logged.setdefault(i, []).append(line)
for i, name, body in sent:
    lines = logged.get(i, [])
    line = lines.pop(0) if lines else b""
    want = body.replace(b"\r", b" ").replace(b"\n", b" ")
    tap.eq(logged_event_bytes(line) if line else None, want, "%s: logged event is the body" % name)
    if name == "precision and unicode":
        tap.ok(b"9007199254740993" in line and b"2.50" in line and b"-0" in line and b"1e400" in line,
               "precision and unicode: numbers kept byte for byte", line)
tap.ok(all(not v for v in logged.values()), "nothing else logged")
tap.done()
