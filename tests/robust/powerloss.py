"""Power loss: what HOOKLINE_SYNC=always guarantees and =none does not.

The model.  When the power fails, whatever the kernel holds only in its
page cache is gone; what survives is what a completed fdatasync(2) made
durable (the file's data and size) and, for a file's name, what a
completed fsync(2) of its directory made durable.  We assume the disk
honours cache flushes and the power may fail at any instant.  The worst
instant for an event is right after its 200 left hookline (the sender
then never retries), so an acknowledged event survives every power cut
exactly when, in the process that answered, before the 200 was written:

  (a) the record was written whole (write(2) returned its full length);
  (b) an fdatasync of that file returned 0 after that write;
  (c) the directory holding the file was fsynced (returned 0) after the
      process opened the file: a name created an instant ago by another
      process is not durable until someone syncs its directory, and the
      answering process cannot know whether that happened.

How it is observed.  An LD_PRELOAD shim (shim-trace.so, built by this
fragment) records, per hookline process and in order, every open, write,
fdatasync and fsync on the log's directory, and every response written to
the FastCGI socket or CGI stdout with its status and event id.  The test
replays each process's trace and evaluates, at each 200, which records a
power cut at that instant would keep.

  always: every 200 satisfies (a), (b) and (c);
  none:   no fdatasync at all on the log, so at each 200 the record is in
          the page cache only: the test counts how many acknowledged
          events a power cut right after their 200 would lose (all);
  always + failing fdatasync (the shim answers EIO for every 3rd one):
          those requests get 503, never 200, and (a)-(c) still hold.

This is a model checked on real traces, not a pulled plug: it proves
hookline asks the kernel for durability before answering, in the right
order, and never answers 200 when the kernel says the data did not make
it; it cannot prove the disk keeps its promise.
"""

import os
import time

from robustlib import SHIM, harness, load_results, run_load

SECRET = "robust-power-secret-Vb3"
CLIENTS, EACH = 4, 150
tap = harness.Tap()
t0 = time.time()


def trace_server(sync, fail=None):
    """A lighttpd + 4 hookline with the shim; returns (server, trace path)."""
    env = {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/logs/events.jsonl",
           "HOOKLINE_SYNC": sync, "LD_PRELOAD": SHIM, "HLSHIM_DIR": "@DIR@/logs",
           "HLSHIM_TRACE": "@DIR@/trace",
           # The shim is not built with ASan: let an ASan hookline load it.
           "ASAN_OPTIONS": "log_path=@DIR@/san:abort_on_error=1:detect_leaks=1:verify_asan_link_order=0"}
    if fail:
        env["HLSHIM_FAIL"] = fail
        env["HLSHIM_FAIL_EVERY"] = "3"
    srv = harness.Lighttpd(env, procs=4)
    os.mkdir(srv.path("logs"))
    return srv, srv.path("trace")


def replay(trace, logdir):
    """Evaluates the model on a trace.

    Returns (acked, violations, unsynced_acks, counts) where unsynced_acks
    is the number of 200s whose record a power cut right after the 200
    would lose, and counts tallies the trace's calls."""
    procs = {}
    counts = {"W": 0, "S": 0, "D": 0, "O": 0, "R200": 0, "Rother": 0, "Sfail": 0}
    for line in open(trace):
        f = line.split()
        kind, pid = f[0], f[1]
        p = procs.setdefault(pid, [])
        p.append(f)
        if kind == "R":
            counts["R200" if f[2] == "200" else "Rother"] += 1
        else:
            counts[kind] += 1
            if kind == "S" and f[2] != "0":
                counts["Sfail"] += 1
    acked, violations, unsynced = 0, [], 0
    for pid, events in procs.items():
        opened = None      # index of the last successful open of the log
        dir_synced = -1    # index of the last successful fsync of logdir
        written = {}       # id -> (index, dev:ino) of its whole write
        synced = {}        # dev:ino -> index of the last successful sync
        for i, f in enumerate(events):
            kind = f[0]
            if kind == "O" and f[2] == "0" and f[3] != logdir:
                opened = i
            elif kind == "D" and f[2] == "0" and f[3] == logdir:
                dir_synced = i
            elif kind == "W" and f[2] == f[3]:
                written[f[5]] = (i, f[4])
            elif kind == "S" and f[2] == "0":
                synced[f[3]] = i
            elif kind == "R" and f[2] == "200":
                acked += 1
                rid = f[3]
                if rid not in written:
                    violations.append("pid %s: 200 for %s never written whole" % (pid, rid[:12]))
                    continue
                wi, ino = written[rid]
                durable_data = synced.get(ino, -1) > wi
                durable_name = opened is not None and dir_synced > opened
                if not durable_data:
                    unsynced += 1
                    violations.append("pid %s: 200 for %s before an fdatasync of its write" % (pid, rid[:12]))
                elif not durable_name:
                    violations.append("pid %s: 200 for %s before the log's directory was synced"
                                      % (pid, rid[:12]))
    return acked, violations, unsynced, counts


for sync, fail in (("always", None), ("none", None), ("always", "fdatasync")):
    name = "sync=%s%s" % (sync, " with every 3rd fdatasync failing (EIO)" if fail else "")
    srv, trace = trace_server(sync, fail)
    out = srv.path("load")
    rc = run_load([srv.port], CLIENTS, EACH, out, SECRET, seconds=120)
    srv.stop()
    tap.eq(rc, 0, "%s: %d events sent" % (name, CLIENTS * EACH))
    res = load_results(out, CLIENTS)
    statuses = {}
    for v in res.values():
        statuses[v[2]] = statuses.get(v[2], 0) + 1
    acked, violations, unsynced, counts = replay(trace, srv.path("logs"))
    print("# %s: statuses %r; trace: %r" % (name, statuses, counts))
    tap.eq(acked, statuses.get(200, 0), "%s: the shim saw every 200 the clients got (%d)" % (name, acked))
    tap.ok(counts["W"] >= acked > 0, "%s: records written (%d) for the acknowledged events" % (name, counts["W"]))
    if sync == "always":
        tap.eq(violations[:5], [], "%s: every 200 came after its record's fdatasync returned "
               "and after the log's directory was synced" % name)
        tap.eq(unsynced, 0, "%s: a power cut right after any 200 loses no acknowledged event" % name)
    else:
        tap.eq(counts["S"], 0, "%s: no fdatasync or fsync of the log at all" % name)
        tap.eq(unsynced, acked, "%s: a power cut right after a 200 can lose that event: %d of %d "
               "acknowledged events were in the page cache only" % (name, unsynced, acked))
    if fail:
        tap.ok(counts["Sfail"] > 0 and statuses.get(503, 0) == counts["Sfail"],
               "%s: each failed fdatasync (%d) answered 503, none 200" % (name, counts["Sfail"]),
               statuses)
        err = srv.errors()
        tap.ok("cannot sync log" in err and "Input/output error" in err,
               "%s: the error log says the sync failed and why" % name, err[-1500:])
    else:
        tap.eq(statuses.get(200, 0), CLIENTS * EACH, "%s: every event acknowledged" % name)
    tap.ok(harness.sanitizer_reports(srv.dir) == "", "%s: no sanitizer report" % name,
           harness.sanitizer_reports(srv.dir)[:3000])

# CGI mode is the same pipeline: one process, one request, one trace.
work = harness.Workdir()
logdir = os.path.join(work.path, "logs")
os.mkdir(logdir)
trace = os.path.join(work.path, "trace")
for i in range(3):
    body = harness.event_body(i)
    st, h, payload, err = harness.cgi(
        {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": logdir + "/events.jsonl", "REQUEST_METHOD": "POST",
         "CONTENT_LENGTH": str(len(body)), "HTTP_X_HUB_SIGNATURE": harness.sha1_sig(SECRET, body),
         "LD_PRELOAD": SHIM, "HLSHIM_DIR": logdir, "HLSHIM_TRACE": trace,
         "ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=1"}, body)
    tap.eq(st, 200, "CGI event %d stored" % i)
acked, violations, unsynced, counts = replay(trace, logdir)
tap.ok(acked == 3 and violations == [] and unsynced == 0,
       "CGI, sync=always: each 200 after fdatasync and directory sync", (acked, violations, counts))
print("# time: %.1f s" % (time.time() - t0))
tap.done()
