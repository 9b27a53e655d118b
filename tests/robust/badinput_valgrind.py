"""The whole hostile-input table (badinput_table.py) under valgrind.

The HTTP rows go through a real lighttpd to one hookline FastCGI process
that runs under valgrind (it gets its listening socket on fd 0, as
spawn-fcgi hands it over); each CGI row runs hookline under valgrind too.
Every row must get its status, the FastCGI process must serve them all
and exit 0 on SIGTERM, and valgrind must report no error and no leak.
"""

import os
import time

from badinput_table import (SECRET, cgi_rows, events_in, expected_log, http_rows, run_cgi,
                            run_http)
from robustlib import harness

VALGRIND = harness.VALGRIND
tap = harness.Tap()
t0 = time.time()
work = harness.Workdir()
rows = http_rows()
crows = cgi_rows()

# The process environment sets nothing: each location brings its settings.
vg = harness.ValgrindFcgi({}, work.path)
BASE = {"HOOKLINE_SECRET": SECRET, "HOOKLINE_SYNC": "none", "HOOKLINE_LOG": os.path.join(work.path, "events.jsonl")}
srv = harness.Lighttpd({}, fcgi_socket=vg.socket,
                       locations={"/hook": BASE, "/small/": dict(BASE, HOOKLINE_MAX_BODY="1k")})
results = run_http(srv.port, rows, timeout=120)
bad = [(name, want, got) for name, want, got, secs, resp in results if got != want]
tap.eq(bad, [], "%d HTTP rows under valgrind, each with its status" % len(rows))
tap.ok(vg.proc.poll() is None, "0 crashes: the FastCGI process under valgrind served every row")
slow = max(results, key=lambda r: r[3])
tap.ok(slow[3] < 120, "0 hangs: slowest row %.1f s under valgrind (%s)" % (slow[3], slow[0]))
srv.stop()
vg.finish(tap)
want_h, want_c = expected_log(rows, crows)
got_h, recs = events_in(os.path.join(work.path, "events.jsonl"))
tap.ok(got_h == want_h, "HTTP: exactly the %d accepted rows logged, verbatim" % len(want_h))

log = os.path.join(work.path, "cgi.jsonl")
cres = run_cgi(crows, log, work.path, prefix=VALGRIND + ["-q"], timeout=120)
bad = [(name, want, got, rc, err[-800:]) for name, want, got, secs, rc, err, out in cres
       if got != want or rc != 0]
tap.eq(bad, [], "%d CGI rows under valgrind, each with its status, no error, no leak" % len(crows))
got_c, recs = events_in(log)
tap.ok(got_c == want_c, "CGI: exactly the %d accepted rows logged, verbatim" % len(want_c))
print("# rows: %d HTTP + %d CGI = %d inputs under valgrind; time: %.1f s" % (
    len(rows), len(crows), len(rows) + len(crows), time.time() - t0))
tap.done()
