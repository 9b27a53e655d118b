"""hookline's FastCGI loop under valgrind for 1000 requests through a real
lighttpd (valid events, bad signatures, bad JSON, wrong methods, oversized
bodies, config errors), then a clean SIGTERM exit: no memory error, no
leak.  hookline gets its listening socket on fd 0 the way spawn-fcgi and
systemd hand it over.  Then a few CGI runs under valgrind too."""

import os
import subprocess

from harness import (BIN, VALGRIND, Client, Lighttpd, Tap, ValgrindFcgi, Workdir, child_env, event_body,
                     read_log, sha1_sig)

SECRET = "it-valgrind-secret"
TOTAL = 1000
tap = Tap()
work = Workdir()
# The process environment sets nothing: each location brings its settings.
vg = ValgrindFcgi({}, work.path)
BASE = {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": os.path.join(work.path, "events.jsonl"), "HOOKLINE_SYNC": "none"}
srv = Lighttpd({}, fcgi_socket=vg.socket, locations={"/hook": BASE, "/bad/": dict(BASE, HOOKLINE_SYNC="maybe")})
c = Client(srv.port, timeout=120)
want = {}
stored = 0
for i in range(TOTAL):
    body = event_body(i)
    kind = i % 10
    if kind == 0:
        r = c.post("/hook", body, {"X-Hub-Signature": sha1_sig("wrong", body)})
        exp = 401
    elif kind == 1:
        b = b"[%d]" % i
        r = c.post("/hook", b, {"X-Hub-Signature": sha1_sig(SECRET, b)})
        exp = 400
    elif kind == 2:
        r = c.request("GET", "/hook")
        exp = 405
    elif kind == 3 and i % 100 == 3:
        b = b'{"a":"' + b"x" * (1024 * 1024) + b'"}'
        r = c.post("/hook", b, {"X-Hub-Signature": sha1_sig(SECRET, b)})
        exp = 413
    elif kind == 4:
        r = c.post("/bad/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
        exp = 500
    else:
        r = c.post("/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
        exp = 200
        stored += 1
    want[exp] = want.get(exp, 0) + (1 if r.status == exp else 0)
    if r.status != exp:
        tap.ok(False, "request %d: %d, want %d" % (i, r.status, exp), r.body)
        break
c.close()
tap.ok(sum(want.values()) == TOTAL, "%d requests under valgrind, each with its status: %r" % (TOTAL, want))
tap.eq(len(read_log(os.path.join(work.path, "events.jsonl"))), stored, "%d events stored" % stored)
srv.stop()
vg.finish(tap)

# CGI mode: one request per process, several outcomes.
log = os.path.join(work.path, "cgi.jsonl")
for name, body, extra, status in [
    ("stored", event_body(1), {}, b"200"),
    ("bad signature", event_body(2), {"HTTP_X_HUB_SIGNATURE": "0" * 40}, b"401"),
    ("config error", event_body(3), {"HOOKLINE_SYNC": "x"}, b"500"),
    ("invalid JSON", b"{", {}, b"400"),
]:
    e = child_env({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": log, "REQUEST_METHOD": "POST",
                   "CONTENT_LENGTH": str(len(body)), "HTTP_X_HUB_SIGNATURE": sha1_sig(SECRET, body)})
    e.update(extra)
    p = subprocess.run(VALGRIND + ["-q", BIN], input=body, env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    tap.ok(p.returncode == 0 and p.stdout.startswith(b"Status: " + status),
           "CGI under valgrind, %s: %s, clean" % (name, status.decode()),
           p.stderr.decode(errors="replace")[-2000:])
tap.done()
