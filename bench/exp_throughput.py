"""bench/exp_throughput.py: hookline against its peers over HTTP, and
durable throughput: group commit against one fdatasync per event.

  matrix   lighttpd + bench/noop-fcgi (the floor), hookline SYNC=none and
           SYNC=always under lighttpd, adnanh/webhook with an HMAC rule and
           a sh command appending the body; wrk + bench/post.lua at 1, 4,
           16, 64 connections (smoke: 1, 16), the scenarios in slices taken
           in turn, the order rotated at each count; each pool's RSS after
  durable  hookline SYNC=group against SYNC=each, 4 processes each, logs in
           the work directory, at the same connection counts

Every point is checked: requests served, no non-2xx answer, every 2xx
logged.  Writes build/bench/throughput.json; run alone with

    PYTHONPATH=tests/integration python3 bench/exp_throughput.py [--smoke]
"""

import os
import sys

import benchlib
from benchlib import log

NAME = "throughput"
SCENARIOS = [
    # key, label
    ("noop", "lighttpd + no-op FastCGI (floor)"),
    ("hl-none", "hookline, SYNC=none"),
    ("hl-always", "hookline, SYNC=always"),
    ("webhook", "adnanh/webhook + sh append"),
]
# The same-run throughput ratios the report shows: (a, b) is a / b.
PAIRS = [("hl-none", "noop"), ("hl-always", "noop"), ("hl-none", "webhook"),
         ("hl-always", "webhook"), ("webhook", "noop")]


def start_servers(run):
    """The four scenarios' servers, in SCENARIOS' order."""
    for key, label in SCENARIOS:
        if key == "webhook":
            run.servers.append(benchlib.Webhook(run.work, key, label))
        elif key == "noop":
            run.servers.append(benchlib.Pool(key, label, os.path.join(run.drivers, "noop-fcgi"), {}))
        else:
            lp = os.path.join(run.work, key + ".jsonl")
            run.hl_pool(key, label, lp, key.split("-")[1])
    log("servers: " + ", ".join("%s %s" % (s.key, s.url) for s in run.servers))
    return list(run.servers)


def matrix(run, servers):
    """Every scenario at every connection count: [aggregate with key]."""
    run.warm_up(servers)
    points = []
    for i, c in enumerate(run.conns):
        for key, r in run.interleaved(servers, c, shift=i).items():
            r["key"] = key
            points.append(r)
            log("%-10s c=%-3d %9.0f req/s (%.0f-%.0f)  p50 %.2f ms  p99 %.2f ms  non2xx %d  2xx %d  lines %s"
                % (key, c, r["rps"], r["rps_min"], r["rps_max"], r["p50_us"] / 1e3, r["p99_us"] / 1e3,
                   r["non2xx"], r["ok2xx"], r["lines"]))
    return points


def ratios(points, conns):
    """PAIRS' paired ratios and hl-none's p99 over noop's, per count."""
    at = {(r["key"], r["conns"]): r for r in points}
    out = []
    for c in conns:
        row = {"conns": c, "p99 hl-none/noop": at[("hl-none", c)]["p99_us"] / at[("noop", c)]["p99_us"]}
        for a, b in PAIRS:
            row["%s/%s" % (a, b)] = benchlib.paired_ratio(at[(a, c)], at[(b, c)])
        out.append(row)
    return out


def measure(run):
    servers = start_servers(run)
    points = matrix(run, servers)
    rss_after = {s.key: s.rss() for s in servers}
    run.stop_servers()
    durable = benchlib.compare_sync(run, "", run.work, run.conns)
    return {
        "scenarios": [{"key": k, "label": lab} for k, lab in SCENARIOS],
        "procs": benchlib.FCGI_PROCS,
        "body_bytes": len(run.body),
        "slices": run.slices(),
        "points": points,
        "rss_after": rss_after,
        "ratios": ratios(points, run.conns),
        "durable": durable,
    }


if __name__ == "__main__":
    sys.exit(benchlib.main(NAME, measure, __doc__))
