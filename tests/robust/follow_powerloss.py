"""Power loss, applied to hookline-follow's state: whatever instant the
power fails, the state that survives never lies past an event whose
command had not succeeded, and nothing was acted on that the log could
still lose.

The model is tests/robust/powerloss.py's: what survives a power cut is
what a completed fdatasync/fsync made durable (a file's data), and for a
name, what a completed fsync of its directory made durable; a rename not
yet followed by one may or may not survive.  So every state file that a
rename put in place may be the one found after the cut, and each must be
whole and true.  The shims record, in order, across hookline and
hookline-follow: hookline's writes of each record (shim-trace.so), the
follower's syncs of the log, its writes and syncs of DIR/state.tmp, of
the dead-letter file and of DIR, and its renames with the content renamed
(follow-shim-rename.so); follow-probe, the command, adds a line when it
starts and one when it ends, with its exit status.  Checked at each
rename of a state file:

  (a) the file renamed was fsynced (returned 0) after it was written:
      the state found after the cut is whole;
  (b) every event before the position it records had ended: its command
      exited 0, or exited 3 and its dead letter was written and synced;
and at each command's start:
  (c) the follower had fdatasynced the log after hookline wrote the
      event: a power cut cannot take back an event it acted on.

Once with every sync working (-j 2, some commands exiting 3), once with
every 13th sync of the follower failing with EIO: then it stops with
status 1 and says why, is started again, and (a)-(c) hold all the same,
and every event still ran.
"""

import json
import os
import time

from robustlib import harness, load_results, run_load

from followlib import PROBE, SHIM_RENAME, SHIM_TRACE, Follower, wait_for  # noqa: E402

SECRET = "robust-follow-power-Tq8"
CLIENTS, EACH = 4, 100
tap = harness.Tap()
t0 = time.time()


def parse_trace(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            p = line.rstrip("\n").split(" ", 5 if line.startswith("N ") else 20)
            out.append(p)
    return out


def log_offsets(path):
    """{id: end offset} of the records of the log."""
    ends, off = {}, 0
    with open(path, "rb") as f:
        for line in f:
            off += len(line)
            rec = json.loads(line)
            ends[rec["id"]] = off
    return ends


def replay(trace, log, state_name, dead_name):
    """The model's checks; returns (counts, violations)."""
    lines = parse_trace(trace)
    ends = log_offsets(log)
    v = []
    sb = os.stat(log)
    log_ino = "%d:%d" % (sb.st_dev, sb.st_ino)
    written = {}  # id -> index of hookline's whole write
    for i, f in enumerate(lines):
        if f[0] == "W" and f[4] == log_ino and f[5] in ends and f[2] == f[3]:
            written.setdefault(f[5], i)
    # The follower's successful syncs of a file: (began, returned) per inode.
    began, syncs = {}, {}
    for i, f in enumerate(lines):
        if f[0] == "B":
            began[f[1]] = (i, f[2])
        elif f[0] == "S":
            b = began.pop(f[1], None)
            if f[2] == "0" and b is not None and b[1] == f[3]:
                syncs.setdefault(f[3], []).append((b[0], i))
    writes_to = {}
    for i, f in enumerate(lines):
        if f[0] == "W":
            writes_to.setdefault(f[4], []).append(i)
    done, dead_synced = {}, {}
    dead_writes = {}  # id -> index of its dead letter's write
    counts = {"renames": 0, "starts": 0, "ends": 0, "dead": 0, "positions": set()}
    for i, f in enumerate(lines):
        if f[0] == "W" and f[5] in ends and f[4] != log_ino:
            dead_writes.setdefault(f[5], (i, f[4]))
        elif f[0] == "X":
            counts["ends"] += 1
            if f[7] == "0" or f[7] == "3":
                done.setdefault(f[1], (i, f[7]))
        elif f[0] == "P":
            counts["starts"] += 1
            w = written.get(f[1])
            if w is None:
                v.append("command started for %s, which hookline never wrote whole" % f[1][:12])
                continue
            ino = lines[w][4]
            if not any(w < b and e < i for b, e in syncs.get(ino, ())):
                v.append("command for %s started before the log was synced after its write" % f[1][:12])
        elif f[0] == "N" and f[4] == state_name:
            counts["renames"] += 1
            if f[2] != "0":
                continue
            ino = f[3]
            ws = [k for k in writes_to.get(ino, ()) if k < i]
            if not ws or not any(ws[-1] < b and e < i for b, e in syncs.get(ino, ())):
                v.append("state renamed into place at %d before it was synced whole" % i)
            pos = 0
            for item in f[5].split("|"):
                p = item.split(" ")
                if p[0] == "file":
                    pos = int(p[2])
            counts["positions"].add(pos)
            for eid, end in ends.items():
                if end > pos:
                    continue
                d = done.get(eid)
                if d is None or d[0] > i:
                    v.append("state at %d passes %s, whose command had not ended" % (pos, eid[:12]))
                    continue
                if d[1] == "3":
                    dw = dead_writes.get(eid)
                    if dw is None or dw[0] > i or not any(dw[0] < b and e < i
                                                         for b, e in syncs.get(dw[1], ())):
                        v.append("state at %d passes %s, failed, before its dead letter was synced"
                                 % (pos, eid[:12]))
                    else:
                        dead_synced[eid] = True
    counts["dead"] = len(dead_synced)
    counts["positions"] = len(counts["positions"])
    return counts, v


for fail in (None, "fdatasync"):
    name = "every 13th sync of the follower failing (EIO)" if fail else "every sync working"
    srv = harness.Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/d/events.jsonl",
                            "LD_PRELOAD": SHIM_TRACE, "HLSHIM_DIR": "@DIR@/d", "HLSHIM_TRACE": "@DIR@/trace",
                            "ASAN_OPTIONS": "log_path=@DIR@/san:abort_on_error=1:detect_leaks=1:"
                                            "verify_asan_link_order=0"}, procs=4)
    d = srv.path("d")
    os.mkdir(d)
    trace = srv.path("trace")
    log = os.path.join(d, "events.jsonl")
    st = os.path.join(d, "state")
    env = {"LD_PRELOAD": SHIM_TRACE + " " + SHIM_RENAME, "HLSHIM_DIR": d, "HLSHIM_TRACE": trace,
           "ASAN_OPTIONS": "log_path=%s/san:abort_on_error=1:detect_leaks=1:verify_asan_link_order=0" % srv.dir}
    if fail:
        env.update({"HLSHIM_FAIL": fail, "HLSHIM_FAIL_EVERY": "13"})
    # Events whose id starts with 0 (1 in 16) fail for good: exit 3.
    args = ["--state", st, "-j", "2", log, "--", PROBE, "-i", "0=3", trace]
    fol = Follower(srv.dir, args, env=env, name="follow")
    rc = run_load([srv.port], CLIENTS, EACH, srv.path("load"), SECRET, seconds=120)
    tap.eq(rc, 0, "%s: %d events sent" % (name, CLIENTS * EACH))
    statuses = {}
    for r in load_results(srv.path("load"), CLIENTS).values():
        statuses[r[2]] = statuses.get(r[2], 0) + 1
    restarts = 0
    deadline = time.time() + 120
    while time.time() < deadline:
        if fol.proc.poll() is not None:
            restarts += 1
            fol = Follower(srv.dir, args, env=env, name="follow")
        with open(trace, errors="replace") as fh:
            ended = sum(1 for ln in fh if ln.startswith("X "))
        if ended >= CLIENTS * EACH and os.path.exists(os.path.join(st, "state")):
            offs = [ln for ln in open(os.path.join(st, "state")) if ln.startswith("file ")]
            if offs and int(offs[0].split()[2]) == os.path.getsize(log):
                break
        time.sleep(0.05)
    rc = fol.stop()
    srv.stop()
    counts, violations = replay(trace, log, os.path.join(st, "state"), "deadletter.jsonl")
    print("# %s: statuses %r; follower restarts %d; %r" % (name, statuses, restarts, counts))
    tap.eq(statuses.get(200, 0), CLIENTS * EACH, "%s: every event acknowledged" % name)
    tap.ok(counts["starts"] >= CLIENTS * EACH and counts["renames"] > 50,
           "%s: %d commands, %d commits traced" % (name, counts["starts"], counts["renames"]))
    tap.eq(violations[:5], [], "%s: every state renamed into place was synced whole, passes only events "
           "that had ended (and failed ones' dead letters synced), and every command started after the "
           "log was synced past its event" % name)
    tap.ok(counts["dead"] > 0, "%s: failed events among them (%d)" % (name, counts["dead"]))
    if fail:
        err = fol.stderr()
        tap.ok(restarts > 0 and "Input/output error" in err and
               ("cannot commit the position" in err or "cannot read" in err),
               "%s: it stopped with status 1 and said why, %d times" % (name, restarts), err[-800:])
    else:
        tap.eq(restarts, 0, "%s: no restart needed" % name)
        tap.eq(rc, 0, "%s: SIGTERM: exit 0" % name)
    tap.eq(harness.sanitizer_reports(srv.dir), "", "%s: no sanitizer report" % name)
print("# time: %.1f s" % (time.time() - t0))
tap.done()
