"""The state directory on a full or read-only disk: hookline-follow
stops with a clear error and status 1, and skips nothing.

  - a tmpfs filled up while it follows: the next commit fails, it stops
    and says "No space left on device"; the position on disk is the last
    one committed; once there is room again, a restart runs the event
    that was in flight again and goes on: every event ran, at most the
    one in flight twice;
  - the same when a command failed for good and its dead letter cannot
    be written: the position stays before that event, which runs again
    after the restart and goes to the dead-letter file then;
  - a state directory on a disk full already: refused at start;
  - a read-only state directory: refused at start.

Mounting needs root; the test runs in a private mount namespace
(unshare), so its mounts go away with it, and unmounts them itself.
"""

import os
import signal
import subprocess
import sys
import time

if os.environ.get("HOOKLINE_FOLLOW_NS") != "1":
    if os.geteuid() != 0:
        print("1..0 # SKIP mounting filesystems needs root")
        sys.exit(0)
    # A chroot whose root is no mount point has no private mount namespace.
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    if p.returncode != 0:
        print("1..0 # SKIP no private mount namespace here (%s)" % p.stdout.strip().replace("\n", "; "))
        sys.exit(0)
    os.environ["HOOKLINE_FOLLOW_NS"] = "1"
    os.execvp("unshare", ["unshare", "--mount", "--propagation", "private",
                          sys.executable, os.path.abspath(__file__)])

from robustlib import fill, harness  # noqa: E402

from followlib import PROBE, Follower, Runs, append, append_events, body, deadletters, event_id, run  # noqa: E402
from followlib import line_ends, state_offsets, wait_for  # noqa: E402

tap = harness.Tap()
t0 = time.time()
base = harness.Workdir("hookline-follow-storage-").path
mounts = []


def sh(*cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), p.stdout.decode(errors="replace")))


def tmpfs(name, size, ro=False):
    path = os.path.join(base, name)
    os.mkdir(path)
    sh("mount", "-t", "tmpfs", "-o", "size=%s%s" % (size, ",ro" if ro else ""), "tmpfs", path)
    mounts.append(path)
    return path


def committed(st, log):
    return state_offsets(st).get(log)


try:
    # ---- full while following ----------------------------------------------
    disk = tmpfs("full", "256k")
    st = os.path.join(disk, "state")
    log = os.path.join(base, "events.jsonl")
    out = os.path.join(base, "runs")
    bodies = [body(i) for i in range(20)]
    append_events(log, bodies)
    args = ["--state", st, "--dedupe", "100", log, "--", PROBE, "-s", "100", out]
    f = Follower(base, args)
    wait_for(lambda: len(Runs(out).ends) >= 5, 20)
    filler = fill(disk)
    rc = f.wait(30)
    at = committed(st, log)
    ran = len(Runs(out).ends)
    tap.eq(rc, 1, "the state's disk filled up: exit 1")
    err = f.stderr()
    tap.ok("cannot commit the position" in err and "No space left on device" in err,
           "it says why: %s" % err.strip().splitlines()[-1][-120:] if err.strip() else "", err)
    ends = line_ends(log)
    tap.ok(at is not None and at in ends and ends.index(at) + 1 <= ran,
           "the position on disk (%s) passes only events that ran (%d)" % (at, ran))
    os.unlink(filler)
    rc, err = run(base, ["--once"] + args)
    runs = Runs(out)
    counts = runs.count(0)
    tap.eq(rc, 0, "room again: a restart finishes (--once, exit 0)")
    tap.eq(sorted(counts), sorted(event_id(b) for b in bodies), "every event ran")
    tap.ok(sum(counts.values()) - len(bodies) <= 1, "at most the one in flight ran twice (%d)"
           % (sum(counts.values()) - len(bodies)))

    # ---- full while a long command runs ------------------------------------
    # -j 2: event 0's command takes 10 s, event 1's a minute.  The disk
    # fills while both run; the commit after event 0 fails and stops
    # hookline-follow, which kills event 1's command: that event runs again
    # at the next start, which must not find the old command still at work.
    disk = tmpfs("longrun", "256k")
    st = os.path.join(disk, "state")
    log = os.path.join(base, "long.jsonl")
    out = os.path.join(base, "runs-long")
    bodies = [body(0), body(1, status="SLOW")]
    append_events(log, bodies)
    f = Follower(base, ["--state", st, "-j", "2", "-t", "120", log, "--", PROBE, "-s", "10000", "-S", "SLOW=60000",
                        out])
    both = wait_for(lambda: len(Runs(out).starts) >= 2, 20)
    filler = fill(disk)
    rc = f.wait(45)
    slow = [pid for i, pid, _ in Runs(out).starts if i == event_id(bodies[1])]
    gone = len(slow) == 1 and wait_for(lambda: not harness.alive(slow[0]), 5)
    tap.ok(both and rc == 1 and gone,
           "the state's disk filled up while a command ran: exit 1, and the command was killed (pid %s)" % slow,
           "both started: %s, exit %s\n%s" % (both, rc, f.stderr()[-800:]))
    for pid in slow:  # whatever happened, nothing outlives the test
        if harness.alive(pid):
            os.kill(pid, signal.SIGKILL)
    tap.ok("killed the command of event %s" % event_id(bodies[1]) in f.stderr(), "it says so", f.stderr()[-800:])
    os.unlink(filler)

    # ---- a dead letter that cannot be written ------------------------------
    disk = tmpfs("dead", "256k")
    st = os.path.join(disk, "state")
    log = os.path.join(base, "dead.jsonl")
    out = os.path.join(base, "runs-dead")
    bodies = [body(i, "BROKEN" if i == 3 else "JOB_COMPLETED") for i in range(6)]
    append_events(log, bodies)
    args = ["--state", st, "--dedupe", "100", log, "--", PROBE, "-S", "BROKEN=500", "-m", "BROKEN=3", out]
    f = Follower(base, args)
    wait_for(lambda: len(Runs(out).starts) >= 4, 20)
    filler = fill(disk)
    rc = f.wait(30)
    err = f.stderr()
    ends = line_ends(log)
    tap.eq(rc, 1, "a dead letter on a full disk: exit 1")
    tap.ok("cannot write the dead-letter file" in err and "No space left on device" in err,
           "it says why", err[-400:])
    tap.eq(committed(st, log), ends[2], "the position stays before the failed event")
    os.unlink(filler)
    rc, err = run(base, ["--once"] + args)
    dl = deadletters(st)
    tap.ok(rc == 0 and len(dl) == 1 and dl[0]["record"]["id"] == event_id(bodies[3]) and dl[0]["exit"] == 3,
           "room again: it ran again and went to the dead-letter file, once", dl)
    tap.eq(sorted(Runs(out).count(0)), sorted(event_id(b) for b in bodies if b != bodies[3]),
           "and the others ran")

    # ---- refused at start --------------------------------------------------
    disk = tmpfs("small", "64k")
    os.mkdir(os.path.join(disk, "st"))
    fill(disk)
    rc, err = run(base, ["--state", os.path.join(disk, "st"), "--once", log, "--", PROBE, out + "-small"])
    tap.ok(rc == 1 and "No space left on device" in err, "a state directory on a full disk: refused at start",
           err)
    tap.ok(not os.path.exists(out + "-small"), "nothing ran")
    disk = tmpfs("ro", "1m", ro=True)
    rc, err = run(base, ["--state", os.path.join(disk, "st"), "--once", log, "--", PROBE, out + "-ro"])
    tap.ok(rc == 1 and "Read-only file system" in err, "a read-only state directory: refused at start", err)
    tap.ok(not os.path.exists(out + "-ro"), "nothing ran")
finally:
    for m in reversed(mounts):
        subprocess.run(["umount", "-l", m], timeout=60)
tap.eq(harness.sanitizer_reports(base), "", "no sanitizer report")
print("# time: %.1f s" % (time.time() - t0))
tap.done()
