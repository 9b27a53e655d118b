"""The whole hostile-input table (badinput_table.py) under valgrind.

The HTTP rows go through a real lighttpd to one hookline FastCGI process
that runs under valgrind (it gets its listening socket on fd 0, as
spawn-fcgi hands it over); each CGI row runs hookline under valgrind too.
Every row must get its status, the FastCGI process must serve them all
and exit 0 on SIGTERM, and valgrind must report no error and no leak.
"""

import os
import re
import signal
import socket
import subprocess
import time

from badinput_table import (SECRET, cgi_rows, events_in, expected_log, http_rows, run_cgi,
                            run_http)
from robustlib import harness

VALGRIND = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99"]
tap = harness.Tap()
t0 = time.time()
work = harness.Workdir()
rows = http_rows()
crows = cgi_rows()

sock_path = os.path.join(work.path, "hookline.sock")
vlog = os.path.join(work.path, "valgrind.log")
lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lsock.bind(sock_path)
lsock.listen(64)
env = harness.child_env({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": os.path.join(work.path, "events.jsonl"),
                         "HOOKLINE_SYNC": "none"})
proc = subprocess.Popen(VALGRIND + ["--log-file=" + vlog, harness.BIN], stdin=lsock.fileno(), env=env,
                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work.path, "stderr"), "w"))
lsock.close()


def stop():
    if proc.poll() is None:
        proc.kill()
        proc.wait()


import atexit  # noqa: E402

atexit.register(stop)
srv = harness.Lighttpd({}, fcgi_socket=sock_path, locations={"/small/": {"HOOKLINE_MAX_BODY": "1k"}})
results = run_http(srv.port, rows, timeout=120)
bad = [(name, want, got) for name, want, got, secs, resp in results if got != want]
tap.eq(bad, [], "%d HTTP rows under valgrind, each with its status" % len(rows))
tap.ok(proc.poll() is None, "0 crashes: the FastCGI process under valgrind served every row")
slow = max(results, key=lambda r: r[3])
tap.ok(slow[3] < 120, "0 hangs: slowest row %.1f s under valgrind (%s)" % (slow[3], slow[0]))
srv.stop()
proc.send_signal(signal.SIGTERM)
try:
    rc = proc.wait(timeout=120)
except subprocess.TimeoutExpired:
    proc.kill()
    rc = proc.wait()
with open(vlog) as f:
    report = f.read()
tap.eq(rc, 0, "SIGTERM ends the FastCGI loop with status 0 (99 = valgrind found errors)")
tap.ok("ERROR SUMMARY: 0 errors" in report, "valgrind: 0 errors", report[-3000:])
for kind in ("definitely", "indirectly"):
    m = re.search(r"%s lost: ([\d,]+) bytes" % kind, report)
    tap.ok(m is None or m.group(1) == "0", "valgrind: nothing %s lost" % kind, report[-3000:])
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
