"""Power loss: what HOOKLINE_SYNC=always guarantees and =none does not.

The model.  When the power fails, whatever the kernel holds only in its
page cache is gone; what survives is what a completed fdatasync(2) made
durable (the file's data and size) and, for a file's name, what a
completed fsync(2) of its directory made durable.  We assume the disk
honours cache flushes and the power may fail at any instant.  The worst
instant for an event is right after its 200 left hookline (the sender
then never retries), so an acknowledged event survives every power cut
exactly when, before the 200 was written:

  (a) the answering process wrote the record whole (write(2) returned its
      full length);
  (b) some fdatasync of that file, by any process, began after that write
      returned and returned 0 before the 200: with group commit (gsync.c)
      one process's sync covers the records other processes wrote;
  (c) the answering process fsynced the directory holding the file
      (returned 0) after it opened the file: a name created an instant ago
      by another process is not durable until someone syncs its
      directory, and the answering process cannot know whether that
      happened.

How it is observed.  An LD_PRELOAD shim (shim-trace.so, built by this
fragment) appends to one trace file, in the order they happen across all
processes, every open, write, fdatasync (its beginning and its end) and
fsync on the log's directory, and every response written to the FastCGI
socket or CGI stdout with its status and event id.  The test replays the
trace and evaluates, at each 200, which records a power cut at that
instant would keep.

  always: every 200 satisfies (a), (b) and (c) (processes share syncs
          or not, depending on the filesystem: gsync_worth);
  group:  the same, and the processes shared syncs: fewer fdatasyncs
          than acknowledged events;
  each:   the same guarantee with one fdatasync per record;
  none:   no fdatasync at all on the log, so at each 200 the record is in
          the page cache only: the test counts how many acknowledged
          events a power cut right after their 200 would lose (all);
  always or group + failing fdatasync (the shim answers EIO for every
          3rd one): those requests get 503, never 200, and (a)-(c) still
          hold.

This is a model checked on real traces, not a pulled plug: it proves
hookline asks the kernel for durability before answering, in the right
order, and never answers 200 when the kernel says the data did not make
it; it cannot prove the disk keeps its promise.  The shim's EIO leaves
the page cache alone, so a real writeback error, which Linux reports only
to descriptors opened before it was first reported, is not modelled here:
that case (a newer process's sync must not vouch for an older record) is
tests/unit/test-gsync.c's.
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
    counts = {"W": 0, "B": 0, "S": 0, "D": 0, "O": 0, "R200": 0, "Rother": 0, "Sfail": 0}
    lines = [line.split() for line in open(trace)]
    # Pass 1: every successful fdatasync of a log file, as the trace
    # indices where it began and where it returned, per file.
    syncs, began = {}, {}
    for i, f in enumerate(lines):
        kind, pid = f[0], f[1]
        if kind == "R":
            counts["R200" if f[2] == "200" else "Rother"] += 1
            continue
        counts[kind] += 1
        if kind == "B":
            began[pid] = (i, f[2])
        elif kind == "S":
            b = began.pop(pid, None)
            if f[2] != "0":
                counts["Sfail"] += 1
            elif b is not None and b[1] == f[3]:
                syncs.setdefault(f[3], []).append((b[0], i))
    # Pass 2: each 200 against the model, in trace order.
    acked, violations, unsynced = 0, [], 0
    opened, dir_synced, written = {}, {}, {}  # per pid, as in (a) and (c)
    for i, f in enumerate(lines):
        kind, pid = f[0], f[1]
        if kind == "O" and f[2] == "0" and f[3] != logdir:
            opened[pid] = i
        elif kind == "D" and f[2] == "0" and f[3] == logdir:
            dir_synced[pid] = i
        elif kind == "W" and f[2] == f[3]:
            written[(pid, f[5])] = (i, f[4])
        elif kind == "R" and f[2] == "200":
            acked += 1
            rid = f[3]
            if (pid, rid) not in written:
                violations.append("pid %s: 200 for %s never written whole" % (pid, rid[:12]))
                continue
            wi, ino = written[(pid, rid)]
            durable_data = any(wi < b and e < i for b, e in syncs.get(ino, ()))
            durable_name = pid in opened and dir_synced.get(pid, -1) > opened[pid]
            if not durable_data:
                unsynced += 1
                violations.append("pid %s: 200 for %s before an fdatasync that began after its write"
                                  % (pid, rid[:12]))
            elif not durable_name:
                violations.append("pid %s: 200 for %s before the log's directory was synced"
                                  % (pid, rid[:12]))
    return acked, violations, unsynced, counts


for sync, fail in (("always", None), ("group", None), ("each", None), ("none", None),
                   ("always", "fdatasync"), ("group", "fdatasync")):
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
    if sync != "none":
        tap.eq(violations[:5], [], "%s: every 200 came after an fdatasync that began after its record "
               "was written and after the log's directory was synced" % name)
        tap.eq(unsynced, 0, "%s: a power cut right after any 200 loses no acknowledged event" % name)
    if sync == "group" and not fail:
        tap.ok(0 < counts["S"] < acked, "%s: group commit: %d fdatasyncs for %d acknowledged events"
               % (name, counts["S"], acked))
    elif sync == "each":
        tap.eq(counts["S"], counts["W"], "%s: one fdatasync per record (%d)" % (name, counts["S"]))
    if sync == "none":
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
