"""The same binary in CGI mode: request in the environment, body on stdin,
answer on stdout, reasons on stderr.  No server: the CGI contract itself."""

import hashlib
import os

from harness import Tap, Workdir, cgi, event_body, read_log, sha1_sig

SECRET = "it-cgi-secret-7uX"
tap = Tap()
work = Workdir()
log = os.path.join(work.path, "events.jsonl")
base = {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": log, "REQUEST_METHOD": "POST",
        "REMOTE_ADDR": "192.0.2.7", "REQUEST_URI": "/cgi-bin/hookline", "GATEWAY_INTERFACE": "CGI/1.1"}


def run(body, env=None, stdin=None, sig=True):
    e = dict(base)
    e["CONTENT_LENGTH"] = str(len(body))
    if sig:
        e["HTTP_X_HUB_SIGNATURE"] = sha1_sig(SECRET, body)
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return cgi(e, body, stdin)


body = event_body(1)
st, h, out, err = run(body)
tap.eq(st, 200, "CGI: 200 for a signed event")
tap.eq(h.get("content-type"), "application/json", "CGI: JSON content type")
tap.eq(out, b'{"ok":true,"id":"%s"}\n' % hashlib.sha256(body).hexdigest().encode(), "CGI: body with id")
tap.eq(err, "", "CGI: nothing on stderr for a stored event")
lines = read_log(log)
tap.ok(len(lines) == 1 and lines[0][1]["remote"] == "192.0.2.7", "CGI: event logged", lines)
tap.eq(oct(os.stat(log).st_mode & 0o777), "0o640", "CGI: log created 0640")

cases = [
    ("GET", 405, "method not allowed", dict(env={"REQUEST_METHOD": "GET"})),
    ("no CONTENT_LENGTH", 411, "length required", dict(env={"CONTENT_LENGTH": None})),
    ("CONTENT_LENGTH -1", 400, "invalid content length", dict(env={"CONTENT_LENGTH": "-1"})),
    ("CONTENT_LENGTH abc", 400, "invalid content length", dict(env={"CONTENT_LENGTH": "abc"})),
    ("declared over 1M", 413, "body too large", dict(env={"CONTENT_LENGTH": "1048577"})),
    ("shorter than declared", 400, "incomplete body", dict(env={"CONTENT_LENGTH": "5000"})),
    ("no signature", 401, "invalid signature", dict(sig=False)),
    ("no secret", 500, "server misconfigured", dict(env={"HOOKLINE_SECRET": None})),
    ("relative log", 500, "server misconfigured", dict(env={"HOOKLINE_LOG": "events.jsonl"})),
    ("log directory missing", 503, "temporarily unavailable",
     dict(env={"HOOKLINE_LOG": "/nonexistent-hookline/x.jsonl"})),
]
for name, status, error, kw in cases:
    st, h, out, err = run(event_body(2), **kw)
    tap.ok(st == status and out == b'{"error":"%s"}\n' % error.encode(), "CGI: %d for %s" % (status, name),
           (st, out, err))
    tap.ok(err.startswith("hookline[") and ": %d " % status in err and err.count("\n") == 1,
           "CGI: one error-log line for %s" % name, err)
    tap.ok(SECRET not in err, "CGI: secret not in the error line for %s" % name)

bad = b"[1]"
st, h, out, err = run(bad)
tap.ok(st == 400 and b"invalid JSON" in out and "not an object" in err, "CGI: 400 for an array", (st, out, err))
st, h, out, err = run(body, env={"HOOKLINE_SECRET": None, "HOOKLINE_ALLOW_UNSIGNED": "1"}, sig=False)
tap.eq(st, 200, "CGI: unsigned accepted with HOOKLINE_ALLOW_UNSIGNED=1 and no secret")
lines = read_log(log)
tap.ok(lines[-1][1]["signature"] is None, "CGI: unsigned event logged with a null signature")
tap.eq(len(lines), 2, "CGI: only the two stored events are in the log")
tap.done()
