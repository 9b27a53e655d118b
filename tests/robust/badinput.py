"""Hostile input: the table of badinput_table.py, each row with its status.

About 110 malformed or hostile requests: 85 through a real lighttpd to 2
hookline FastCGI processes (signature headers missing, doubled, overlong,
non-hex, odd-length, wrong algorithm; every method; lengths at and over
the limits; invalid UTF-8, NUL bytes, 100,000 nested arrays, every kind of
top-level value, trailing garbage, duplicate keys, a 1 MB string, lone
surrogate escapes, byte order marks...) and 25 as CGI, where
CONTENT_LENGTH and the body can disagree in ways no web server passes on.

Checked: each row's status; 0 crashes (the FastCGI processes are the same
before and after, every CGI run exits 0, no sanitizer report); 0 hangs
(each row answered within its timeout); the 200 rows, and only they,
are in the log, verbatim; hookline's answers are one-line JSON; the
secret appears in no answer and no error line.  badinput_valgrind.py runs
the same table under valgrind.
"""

import json
import os
import time

from badinput_table import (SECRET, cgi_rows, events_in, expected_log, http_rows, run_cgi,
                            run_http)
from robustlib import harness, pool

tap = harness.Tap()
t0 = time.time()


def one_json_line(body):
    try:
        return body.endswith(b"\n") and body.count(b"\n") == 1 and isinstance(json.loads(body), dict)
    except ValueError:
        return False


rows = http_rows()
crows = cgi_rows()
tap.ok(len(rows) + len(crows) >= 60, "%d HTTP rows and %d CGI rows" % (len(rows), len(crows)))
BASE = {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl"}
srv = harness.Lighttpd({}, procs=2, locations={"/hook": BASE, "/small/": dict(BASE, HOOKLINE_MAX_BODY="1k")})
deadline = time.time() + 10
while len(pool(srv)) < 2 and time.time() < deadline:
    time.sleep(0.05)
before = pool(srv)
results = run_http(srv.port, rows, timeout=30)
after = pool(srv)
for name, want, got, secs, resp in results:
    tap.ok(got == want, "%s %s" % (want, name), "got %r in %.1f s: %r" % (got, secs, resp[:300]))
tap.ok(len(before) == 2 and before == after, "0 crashes: the same 2 FastCGI processes served every row",
       (before, after))
slow = max(results, key=lambda r: r[3])
tap.ok(slow[3] < 30, "0 hangs: slowest row %.2f s (%s)" % (slow[3], slow[0]))
ours = [r for r in results if b"Content-Type: application/json" in r[4] and r[0] != "HEAD"]
bad = [r[0] for r in ours if not one_json_line(r[4].partition(b"\r\n\r\n")[2])]
tap.ok(len(ours) >= 70 and bad == [], "hookline's answers (%d) have a one-line JSON body" % len(ours), bad)
harness.check_clean_shutdown(tap, srv)
want_h, want_c = expected_log(rows, crows)
got_h, recs = events_in(srv.path("events.jsonl"))
tap.eq(len(got_h), len(want_h), "HTTP: exactly the %d accepted rows logged" % len(want_h))
tap.ok(got_h == want_h, "HTTP: each logged verbatim, in order",
       [(i, a[:60], b[:60]) for i, (a, b) in enumerate(zip(got_h, want_h)) if a != b][:3])
err = srv.errors()
tap.ok(SECRET not in err and not any(SECRET.encode() in r[4] for r in results),
       "HTTP: the secret is in no answer and no error-log line")

work = harness.Workdir()
log = os.path.join(work.path, "cgi.jsonl")
cres = run_cgi(crows, log, work.path)
for name, want, got, secs, rc, stderr, stdout in cres:
    tap.ok(got == want and rc == 0, "%s %s" % (want, name), "got %r, exit %r: %s" % (got, rc, stderr[-500:]))
    if want != 200:
        tap.ok(stderr.startswith("hookline[") and stderr.count("\n") == 1 and SECRET not in stderr,
               "%s: one error line, without the secret" % name, stderr[-500:])
tap.ok(harness.sanitizer_reports(work.path) == "", "CGI: no sanitizer report",
       harness.sanitizer_reports(work.path)[:3000])
got_c, recs = events_in(log)
tap.ok(got_c == want_c and all(r is not None for r in recs),
       "CGI: exactly the %d accepted rows logged, verbatim, every line JSON" % len(want_c), (got_c, want_c))
tap.ok(not any(SECRET.encode() in r[6] for r in cres), "CGI: the secret is in no answer")
print("# rows: %d HTTP + %d CGI = %d inputs; time: %.1f s" % (len(rows), len(crows), len(rows) + len(crows),
                                                              time.time() - t0))
tap.done()
