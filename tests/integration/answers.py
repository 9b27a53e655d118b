"""Every row of the answer table (hookline(8), DIAGNOSTICS) through a real lighttpd + mod_fastcgi
(4 hookline processes): status, headers, JSON body, the event log and the
server's error log.  (422 needs a plugin: the plugin issue tests it.)"""

import hashlib
import json

from harness import (Client, Lighttpd, Tap, check_clean_shutdown, event_body,
                     logged_event_bytes, raw_request, read_log, sha1_sig, sha256_sig)

SECRET = "it-answers-secret-Zq8"
tap = Tap()
BASE = {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl"}
srv = Lighttpd(BASE, procs=4, pools={
    "/bad-config": dict(BASE, HOOKLINE_SYNC="sometimes"),
    "/no-dir": dict(BASE, HOOKLINE_LOG="/nonexistent-hookline-dir/events.jsonl"),
    "/small": dict(BASE, HOOKLINE_MAX_BODY="1k"),
})
log = srv.path("events.jsonl")
c = Client(srv.port)


def answer(r, status, error=None):
    """Checks status, content type and the one-line JSON body."""
    j = r.json()
    want = {"error": error} if error else None
    good = (r.status == status and r.headers.get("content-type") == "application/json"
            and r.body.endswith(b"\n") and r.body.count(b"\n") == 1
            and (want is None or j == want))
    return tap.ok(good, "%d %s" % (status, error or "ok"),
                  "status %d, headers %r, body %r" % (r.status, r.headers, r.body))


# 200: stored, then answered with the id.
body = event_body(1)
r = c.post("/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
answer(r, 200)
bid = hashlib.sha256(body).hexdigest()
tap.eq(r.json(), {"ok": True, "id": bid}, "200 body carries the SHA-256 id")
lines = read_log(log)
tap.eq(len(lines), 1, "one line logged")
line, rec = lines[0]
tap.ok(rec is not None and rec["id"] == bid and rec["remote"] == "127.0.0.1"
       and rec["signature"] == sha1_sig(SECRET, body) and rec["received"].endswith("Z"),
       "record fields: id, remote, signature, received", line)
tap.eq(logged_event_bytes(line), body, "event logged byte for byte")
tap.eq(sorted(rec.keys()), ["delivery", "event", "id", "key", "received", "remote", "scheme", "signature"],
       "record keys")
tap.ok(rec["scheme"] == "hub" and rec["key"] == 1 and rec["delivery"] is None and list(rec)[-1] == "event",
       "scheme hub, key 1 (the first secret), no delivery id, event last", line)

# Request Content-Type is no reason to refuse a verified event.
body = event_body(2)
r = c.post("/hook", body, {"X-Hub-Signature": "sha1=" + sha1_sig(SECRET, body),
                           "Content-Type": "text/plain"})
tap.eq(r.status, 200, "text/plain content type still stored")
body = event_body(3)
r = c.post("/hook", body, {"X-Hub-Signature-256": sha256_sig(SECRET, body)})
tap.eq(r.status, 200, "X-Hub-Signature-256 alone accepted")

# 405 with Allow: POST.
for m in ("GET", "PUT", "DELETE", "PATCH"):
    r = c.request(m, "/hook")
    answer(r, 405, "method not allowed")
    tap.eq(r.headers.get("allow"), "POST", "%s: Allow: POST" % m)

# 413: declared over the limit, and exactly at / one byte over a small limit.
big = b'{"a":"' + b"x" * (1024 * 1024) + b'"}'
r = c.post("/hook", big, {"X-Hub-Signature": sha1_sig(SECRET, big)})
answer(r, 413, "body too large")
at = b'{"a":"' + b"y" * (1024 - 8) + b'"}'
tap.eq(len(at), 1024, "body of exactly 1k built")
r = c.post("/small", at, {"X-Hub-Signature": sha1_sig(SECRET, at)})
tap.eq(r.status, 200, "body exactly at HOOKLINE_MAX_BODY stored")
over = at[:-2] + b'y"}'
r = c.post("/small", over, {"X-Hub-Signature": sha1_sig(SECRET, over)})
answer(r, 413, "body too large")
# Chunked: no declared length, the actual size decides.
chunked = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 65536]), big[i:i + 65536])
                   for i in range(0, len(big), 65536)) + b"0\r\n\r\n"
raw = raw_request(srv.port, b"POST /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  b"Transfer-Encoding: chunked\r\nX-Hub-Signature: " + sha1_sig(SECRET, big).encode()
                  + b"\r\n\r\n" + chunked)
tap.ok(raw.startswith(b"HTTP/1.1 413"), "chunked body over the limit: 413", raw[:200])
small = event_body(4)
raw = raw_request(srv.port, b"POST /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  b"Transfer-Encoding: chunked\r\nX-Hub-Signature: " + sha1_sig(SECRET, small).encode()
                  + b"\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(small), small))
tap.ok(raw.startswith(b"HTTP/1.1 200"), "chunked event stored", raw[:300])

# 401: missing, malformed, wrong.
body = event_body(5)
for name, hdrs in [
    ("no signature header", {}),
    ("empty signature", {"X-Hub-Signature": ""}),
    ("odd-length hex", {"X-Hub-Signature": sha1_sig(SECRET, body)[:-1]}),
    ("non-hex", {"X-Hub-Signature": "z" * 40}),
    ("wrong secret", {"X-Hub-Signature": sha1_sig("other", body)}),
    ("sha1= with SHA-256 length", {"X-Hub-Signature": "sha1=" + sha256_sig(SECRET, body)[7:]}),
    ("bad SHA-256 beside a good SHA-1", {"X-Hub-Signature": sha1_sig(SECRET, body),
                                        "X-Hub-Signature-256": sha256_sig("other", body)}),
]:
    r = c.post("/hook", body, hdrs)
    tap.ok(r.status == 401 and r.json() == {"error": "invalid signature"},
           "401 for %s" % name, (r.status, r.body))

# 400: verified but not a JSON object in UTF-8.
for name, b in [("array", b"[1,2]"), ("invalid UTF-8", b'{"a":"\xff"}'),
                ("trailing garbage", b"{}x"), ("empty body", b""),
                ("raw newline in a string", b'{"a":"x\ny"}')]:
    r = c.post("/hook", b, {"X-Hub-Signature": sha1_sig(SECRET, b)})
    tap.ok(r.status == 400 and r.json() == {"error": "invalid JSON"}, "400 for %s" % name,
           (r.status, r.body))

# 500: configuration error, the variable named in the error log.
body = event_body(6)
r = c.post("/bad-config", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
answer(r, 500, "server misconfigured")

# 503 with Retry-After when the log cannot be written.
r = c.post("/no-dir", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
answer(r, 503, "temporarily unavailable")
tap.ok(r.headers.get("retry-after", "").isdigit(), "503 has Retry-After", r.headers)

c.close()
check_clean_shutdown(tap, srv)
err = srv.errors()
tap.ok("HOOKLINE_SYNC must be always, group, each or none" in err, "error log names HOOKLINE_SYNC", err[-2000:])
tap.ok("cannot open log /nonexistent-hookline-dir/events.jsonl" in err and "No such file" in err,
       "error log says why the log could not be written", err[-2000:])
tap.ok("401 invalid signature: signature does not match the body" in err,
       "error log says why a signature failed", err[-2000:])
tap.ok('127.0.0.1 "GET /hook": 405' in err, "error log names remote, method and URI", err[-2000:])
tap.ok(SECRET not in err, "the secret never appears in the error log")
lines = read_log(log)
tap.eq(len(lines), 5, "exactly the five accepted events are logged")
tap.ok(all(rec is not None for _, rec in lines), "every line is JSON")

# 400 incomplete body: a lighttpd that streams bodies to the backend, and a
# client that declares 1000 bytes, sends 20 and goes away.  Nobody is left
# to read the answer, so the error log is where it shows.
srv = Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl"}, procs=1,
               stream_body=2)
raw_request(srv.port, b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
            b"X-Hub-Signature: " + b"0" * 40 + b"\r\n\r\n" + b'{"job_id":"partial"  ', shut_write=True,
            timeout=5)
c = Client(srv.port)
body = event_body(7)
r = c.post("/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
tap.eq(r.status, 200, "the next request after a vanished client is served")
c.close()
check_clean_shutdown(tap, srv)
err = srv.errors()
tap.ok("400 incomplete body: body ended after" in err,
       "incomplete body answered 400 and logged", err[-2000:])
tap.eq([rec["event"]["job_id"] for _, rec in read_log(srv.path("events.jsonl"))], ["job-000007"],
       "nothing of the incomplete body logged")
tap.done()
