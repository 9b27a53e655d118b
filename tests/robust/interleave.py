"""Many writers, one log: no record is ever interleaved or torn.

Part 1: 16 clients x 10,000 signed events through a real lighttpd to 16
hookline FastCGI processes, all appending to one log: 160,000 records.

Part 2: two FastCGI pools (two lighttpd servers, 4 hookline processes
each) appending to the same file, HOOKLINE_SYNC=always: 8 clients x 1,000
events, half to each server.

Every line is checked against the bodies rebuilt byte for byte: each line
is one whole record (JSON, its id the SHA-256 of its event), the count is
exact, and each event appears exactly once.

The mix.  Bodies go from 100 bytes to 1 MiB (the default HOOKLINE_MAX_BODY,
hit exactly), but not uniformly: a uniform or log-uniform spread of sizes
would mean tens of gigabytes.  Each client sends 9,984 small bodies (100 B
to 2 KiB, uniform: what webhooks are) and 16 large ones (64 KiB to 1 MiB,
the first exactly 1 MiB), spread evenly through its sequence so that large
and small records race each other all along.  That is about 170 MB of
small and 140 MB of large bodies, 350 MB of log in part 1, and a few
tens of MB in part 2: large writes are where a torn write(2) would show
(the kernel splits them into pages), small ones where lock contention is.
Part 1 runs with HOOKLINE_SYNC=none: whether records interleave depends on
the lock and the single write(2), not on fdatasync, and 160,000 syncs would
only measure the disk; part 2 runs with always, so that the fdatasync after
the lock is released races other pools' appends too.  Both parts are
bounded in time by the load driver's deadline.
"""

import os
import time

from robustlib import harness, load_results, run_load, scan_log

SECRET = "robust-interleave-secret-Wp5"
tap = harness.Tap()
t0 = time.time()


def check(name, log, results, total):
    statuses = {}
    for v in results.values():
        statuses[v[2]] = statuses.get(v[2], 0) + 1
    tap.eq(statuses, {200: total}, "%s: all %d events acknowledged" % (name, total))
    tap.ok(all(v[3] for v in results.values()), "%s: every 200 carried its body's id" % name)
    counts, problems = scan_log(log, results)
    tap.eq(problems[:10], [], "%s: 0 interleaved or torn lines" % name)
    tap.eq(sum(counts.values()), total, "%s: exactly %d lines" % (name, total))
    tap.eq(sorted(k for k, n in counts.items() if n != 1)[:10], [], "%s: each event exactly once" % name)
    size = os.path.getsize(log)
    big = sum(1 for v in results.values() if v[1] >= 60000)
    print("# %s: %d records, %d of them 64 KiB-1 MiB, %.0f MB of log" % (name, total, big, size / 1e6))


# ---- part 1: 16 writers x 10,000 events ------------------------------------
CLIENTS, EACH = 16, 10000
srv = harness.Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl",
                        "HOOKLINE_SYNC": "none"}, procs=16)
out = srv.path("load")
t = time.time()
rc = run_load([srv.port], CLIENTS, EACH, out, SECRET, small=(100, 2048), large=16,
              large_sizes=(64 * 1024, 1024 * 1024), seconds=150)
elapsed = time.time() - t
harness.check_clean_shutdown(tap, srv)
tap.eq(rc, 0, "16 x 10,000: load driver finished (%.0f s)" % elapsed)
check("16 x 10,000", srv.path("events.jsonl"), load_results(out, CLIENTS), CLIENTS * EACH)
tap.ok(SECRET not in srv.errors(), "16 x 10,000: the secret is not in the error log")
srv.work.cleanup()  # 350 MB: not kept until exit

# ---- part 2: two pools, one file --------------------------------------------
CLIENTS, EACH = 8, 1000
work = harness.Workdir()
log = os.path.join(work.path, "events.jsonl")
pools = [harness.Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": log, "HOOKLINE_SYNC": "always"},
                          procs=4) for _ in range(2)]
out = os.path.join(work.path, "load")
rc = run_load([p.port for p in pools], CLIENTS, EACH, out, SECRET, small=(100, 2048), large=4,
              large_sizes=(64 * 1024, 1024 * 1024), seconds=120)
for p in pools:
    harness.check_clean_shutdown(tap, p)
tap.eq(rc, 0, "two pools: load driver finished")
check("two pools", log, load_results(out, CLIENTS), CLIENTS * EACH)
print("# time: %.1f s" % (time.time() - t0))
tap.done()
