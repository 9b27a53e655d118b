"""bench/exp_rss.py: does hookline's memory stay flat?  A fresh lighttpd +
4 hookline processes (SYNC=none): VmRSS of each at spawn, after a bounded
warm-up and after a bounded run of 100k requests (smoke: 2000) from wrk at
16 connections.

Checked: no non-2xx answer, every 2xx logged, at least 95% of the
requests answered, the same processes at the end.  Writes
build/bench/rss.json; run alone with

    PYTHONPATH=tests/integration python3 bench/exp_rss.py [--smoke]
"""

import os
import sys
import time

import benchlib
from benchlib import log, rss_kib

NAME = "rss"
CONNS = 16


def measure(run):
    limit = 2000 if run.smoke else 100000
    warm = 200 if run.smoke else 1000
    srv = run.hl_pool("rss", "hookline, SYNC=none (RSS run)", os.path.join(run.work, "events.jsonl"), "none")
    pids = srv.worker_pids()
    snap = lambda: [rss_kib(p) for p in pids]
    out = {"limit": limit, "warm": warm, "pids": pids, "start": snap()}
    w = run.wrk(srv.url, CONNS, 120, limit=warm, watch=srv.log)
    srv.log.settle()
    out["warmed"] = snap()
    base = srv.log.lines
    t0 = time.time()
    r = run.wrk(srv.url, CONNS, 600, limit=limit, watch=srv.log)
    r["lines"] = srv.log.settle() - base
    r["conns"] = CONNS
    out.update(seconds=time.time() - t0, after=snap(), wrk=r, alive=[p for p in pids if rss_kib(p) is not None])
    run.check_point(srv.key, r)
    run.check(w["non2xx"] == 0, "rss warm-up: %d non-2xx" % w["non2xx"])
    run.check(r["ok2xx"] >= limit * 0.95, "rss run: only %d of %d requests answered" % (r["ok2xx"], limit))
    run.check(srv.worker_pids() == pids, "rss run: the hookline processes changed (a crash?)")
    log("rss: %s -> %s KiB over %d requests" % (out["warmed"], out["after"], r["ok2xx"]))
    return out


if __name__ == "__main__":
    sys.exit(benchlib.main(NAME, measure, __doc__))
