"""hookline-follow, one behaviour at a time, on logs it reads to the end
(--once): each case is a fresh log and a fresh state directory.

  - a line hookline itself wrote (CGI, X-Hub-Signature-256, a body with
    CR, LF and a byte order mark): the command gets the event's text
    exactly as it stands in the line on standard input, and only the
    allowlisted environment (no secret, nothing else);
  - verdicts: exit 0 done; exit 3 to the dead-letter file (the log line,
    the exit status, the time) and following goes on; --stop-on-failure
    exits 3 with the position before the event; a line that is not a
    record goes to the dead-letter file too;
  - exit 75 and the time limit: retried with exponential backoff, capped,
    never skipped, nothing after it meanwhile (-j 1); the timed-out
    command's whole process group killed; --once exits 75 at a retry,
    and the next run retries it;
  - --match (AND across keys, OR within one; skipped events committed);
  - the dedupe window: a duplicate id skipped, by default; --no-dedupe;
    by count; by age; kept across restarts;
  - no command: each event's line printed, a foreign line not; a closed
    standard output stops it with status 1, the position at what was
    written;
  - two consumers with their own directories both see every event; one
    directory is refused to a second follower, and to another log;
  - usage errors exit 2.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import harness
from followlib import (FOLLOW, PROBE, Follower, Runs, append, body, deadletters, event_id, record, run,
                       state_offsets, wait_for)

tap = harness.Tap()
t0 = time.time()
work = harness.Workdir("hookline-follow-").path
case_n = [0]


def case(name):
    """A fresh directory: (dir, log path, state dir, probe output)."""
    case_n[0] += 1
    d = os.path.join(work, "%02d-%s" % (case_n[0], name))
    os.mkdir(d)
    return d, os.path.join(d, "events.jsonl"), os.path.join(d, "state"), os.path.join(d, "runs")


def write_log(log, bodies, received_base="2026-11-30T10:00:00"):
    for i, b in enumerate(bodies):
        append(log, record(b, received="%s.%06dZ" % (received_base, i)))


# ---- a line hookline wrote, through CGI ---------------------------------
d, log, st, out = case("env")
SECRET = "follow-env-secret-Pz7"
raw = b'\xef\xbb\xbf{"job_id":"J1",\r\n"status":"JOB_COMPLETED","flow_id":"F9","tenant":"t\\u00e9",' \
      b'"n":9007199254740993,\n"remote":"ignored"}'
status, _, payload, err = harness.cgi({
    "HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": log, "REQUEST_METHOD": "POST",
    "CONTENT_LENGTH": str(len(raw)), "REMOTE_ADDR": "198.51.100.7",
    "HTTP_X_HUB_SIGNATURE_256": harness.sha256_sig(SECRET, raw)}, raw)
tap.eq(status, 200, "hookline (CGI) stored an event with CR, LF and a BOM")
capture = os.path.join(d, "capture.sh")
with open(capture, "w") as f:
    f.write('#!/bin/sh\ncat > "$1.body"\n/usr/bin/env > "$1.env"\n')
os.chmod(capture, 0o755)
rc, err = run(d, ["--state", st, "--once", log, "--", capture, os.path.join(d, "cap")],
              env={"HOOKLINE_SECRET": SECRET, "HOOKLINE_SECRET_FILE": "/etc/x", "OTHER": "1", "LC_ALL": "C",
                   "TZ": "UTC", "HOME": "/root"})
tap.eq(rc, 0, "--once: exit 0 when caught up")
line = harness.read_log(log)[0][0]
with open(os.path.join(d, "cap.body"), "rb") as f:
    got = f.read()
tap.eq(got, harness.logged_event_bytes(line), "stdin: the event's text exactly as in the log line")
with open(os.path.join(d, "cap.env")) as f:
    env = dict(ln.rstrip("\n").split("=", 1) for ln in f if "=" in ln)
for k in ("PWD", "SHLVL", "_", "OLDPWD"):  # the shell's own
    env.pop(k, None)
want = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C", "LC_ALL": "C", "TZ": "UTC",
        "HOOKLINE_EVENT_ID": hashlib.sha256(raw).hexdigest(), "HOOKLINE_EVENT_STATUS": "JOB_COMPLETED",
        "HOOKLINE_JOB_ID": "J1", "HOOKLINE_FLOW_ID": "F9", "HOOKLINE_TENANT": "t\u00e9",
        "HOOKLINE_REMOTE_ADDR": "198.51.100.7", "HOOKLINE_SIGNATURE_SCHEME": "sha256"}
tap.eq(env, want, "the environment: PATH, HOME, LANG, LC_ALL, TZ and the event's fields, nothing else")
tap.ok(all(SECRET not in v for v in env.values()), "no secret in the command's environment")

# ---- verdicts and the dead-letter file ---------------------------------
d, log, st, out = case("verdicts")
bodies = [body(0), body(1, "BROKEN"), body(2), body(3)]
write_log(log, bodies)
append(log, b"this line is not a record\n")
append(log, b"a NUL \0 in a foreign line\n")
append(log, record(body(4)))
rc, err = run(d, ["--state", st, "--once", log, "--", PROBE, "-m", "BROKEN=3", out])
runs = Runs(out)
tap.eq(rc, 0, "exit 3 of one command: following goes on, --once exits 0")
tap.eq(runs.ids(), [event_id(b) for b in bodies] + [event_id(body(4))], "each event ran once, in log order")
dl = deadletters(st)
lines = harness.read_log(log)
tap.eq(len(dl), 3, "three dead letters: the failed event, two foreign lines")
tap.ok(dl and dl[0].get("exit") == 3 and dl[0].get("record") == lines[1][1] and
       dl[0].get("failed", "").endswith("Z"), "dead letter: the log line, exit 3, the time", dl[:1])
tap.ok(len(dl) > 1 and dl[1].get("line") == "this line is not a record" and "not" in dl[1].get("error", ""),
       "dead letter: the foreign line, as a string, with the reason", dl[1:])
tap.ok(len(dl) > 2 and dl[2].get("line") == "a NUL \u0000 in a foreign line",
       "a NUL in a foreign line is kept, escaped", dl[2:])
tap.ok("exited 3; written to" in err and "deadletter.jsonl" in err, "the failure is logged", err)
tap.eq(list(state_offsets(st).values()), [os.path.getsize(log)], "the position is at the end")

d, log, st, out = case("stop")
write_log(log, bodies)
rc, err = run(d, ["--state", st, "--once", "--stop-on-failure", log, "--", PROBE, "-m", "BROKEN=3", out])
tap.eq(rc, 3, "--stop-on-failure: exit 3")
tap.eq(Runs(out).ids(), [event_id(b) for b in bodies[:2]], "nothing after the failed event ran")
tap.eq(list(state_offsets(st).values()), [len(record(bodies[0], received="2026-11-30T10:00:00.000000Z"))],
       "the position stays before the failed event")
tap.eq(deadletters(st), [], "and it is not dead-lettered")
rc, err = run(d, ["--state", st, "--once", log, "--", PROBE, out])
tap.ok(rc == 0 and Runs(out).count()[event_id(bodies[1])] == 2 and len(Runs(out).ids()) == 5,
       "the next start runs it again, then the rest", Runs(out).ids())

# ---- retries: exit 75, backoff, --once ----------------------------------
d, log, st, out = case("backoff")
write_log(log, [body(0), body(1)])
f = Follower(d, ["--state", st, "--backoff", "0.2,0.5", log, "--", PROBE, "-r", "4", out])
ok = wait_for(lambda: len(Runs(out).ends) >= 6, 20)
f.stop()
runs = Runs(out)
first = [e for e in sorted(runs.ends, key=lambda e: e["start"]) if e["id"] == event_id(body(0))]
gaps = [(b["start"] - a["end"]) / 1e9 for a, b in zip(first, first[1:])]
tap.ok(ok and [e["code"] for e in first] == [75, 75, 75, 75, 0],
       "exit 75 four times, then 0: retried until it succeeded", [e["code"] for e in first])
tap.ok(len(gaps) == 4 and all(abs(g - w) < 0.15 for g, w in zip(gaps, (0.2, 0.4, 0.5, 0.5))),
       "backoff 0.2 s, doubled, capped at 0.5 s: %s" % ["%.2f" % g for g in gaps])
tap.ok(runs.ends and min(e["start"] for e in runs.ends if e["id"] == event_id(body(1))) > first[-1]["end"],
       "-j 1: the next event waited for it (never skipped)")
tap.ok("exited 75; retry 1 in 0.2 s" in f.stderr(), "each retry is logged", f.stderr()[-600:])

d, log, st, out = case("once-retry")
write_log(log, [body(0), body(1)])
rc, err = run(d, ["--state", st, "--once", log, "--", PROBE, "-r", "1", out])
tap.eq(rc, 75, "--once at an event to retry: exit 75")
tap.eq(state_offsets(st).get(log), 0, "its position not passed")
rc, err = run(d, ["--state", st, "--once", log, "--", PROBE, "-r", "1", out])
rc2, err = run(d, ["--state", st, "--once", log, "--", PROBE, "-r", "1", out])
tap.ok(rc == 75 and rc2 == 0 and Runs(out).count(0) == {event_id(body(0)): 1, event_id(body(1)): 1},
       "the next run retries it, then goes on (and stops at the next retry)", (rc, rc2, Runs(out).count()))

d, log, st, out = case("timeout")
write_log(log, [body(0)])
slow = os.path.join(d, "slow.sh")
with open(slow, "w") as f:
    f.write('#!/bin/sh\ncat >/dev/null\nif [ ! -e "$1.once" ]; then touch "$1.once"; sleep 300 & '
            'echo $! > "$1.gc"; sleep 300; fi\necho ran >> "$1.ran"\n')
os.chmod(slow, 0o755)
t = time.time()
f = Follower(d, ["--state", st, "-t", "1", "--backoff", "0.1,0.1", log, "--", slow, os.path.join(d, "s")])
ok = wait_for(lambda: os.path.exists(os.path.join(d, "s.ran")), 15)
took = time.time() - t
f.stop()
with open(os.path.join(d, "s.gc")) as fh:
    gc = int(fh.read())
gone = wait_for(lambda: not os.path.exists("/proc/%d" % gc) or open("/proc/%d/stat" % gc).read().split()[2] == "Z", 5)
tap.ok(ok and 1.0 <= took < 8, "past -t 1 the command was killed and the event retried (%.1f s)" % took)
tap.ok(gone, "the timed-out command's whole process group was killed")
tap.ok("ran past its time limit" in f.stderr(), "the timeout is logged", f.stderr()[-600:])

# A command that leaves its process group for hookline-follow's and
# hangs: the group kill misses it, the kill of its pid must not.
d, log, st, out = case("leave")
write_log(log, [body(0)])
leave = os.path.join(d, "leave.py")
with open(leave, "w") as f:
    f.write("#!%s -I\nimport os, sys, time\nsys.stdin.read()\n" % sys.executable
            + "if not os.path.exists(sys.argv[1] + '.once'):\n"
            + "    open(sys.argv[1] + '.once', 'w').write(str(os.getpid()))\n"
            + "    os.setpgid(0, os.getpgid(os.getppid()))\n"
            + "    time.sleep(300)\n"
            + "open(sys.argv[1] + '.ran', 'a').write('ran\\n')\n")
os.chmod(leave, 0o755)
t = time.time()
f = Follower(d, ["--state", st, "-t", "1", "--backoff", "0.1,0.1", log, "--", leave, os.path.join(d, "l")])
ok = wait_for(lambda: os.path.exists(os.path.join(d, "l.ran")), 15)
took = time.time() - t
tap.ok(ok and f.stop() == 0, "a timed-out command that left its process group is killed too, and the event "
       "retried (%.1f s)" % took, f.stderr()[-600:])
with open(os.path.join(d, "l.once")) as fh:  # nothing outlives the test, whatever happened
    left = int(fh.read() or 0)
if left and harness.alive(left):
    os.kill(left, signal.SIGKILL)

# ---- --match -------------------------------------------------------------
d, log, st, out = case("match")
bodies = [body(i, ("JOB_COMPLETED", "SYNC_FAILED", "JOB_STARTED")[i % 3], tenant="t%d" % (i % 2))
          for i in range(12)]
write_log(log, bodies)
rc, err = run(d, ["--state", st, "--once", "--match", "status=JOB_COMPLETED", "--match", "status=SYNC_FAILED",
                  "--match", "tenant=t0", log, "--", PROBE, out])
want = [event_id(b) for b in bodies if json.loads(b)["status"] != "JOB_STARTED" and json.loads(b)["tenant"] == "t0"]
tap.ok(rc == 0 and Runs(out).ids() == want, "--match: either status, and the tenant (%d of 12)" % len(want))
tap.eq(list(state_offsets(st).values()), [os.path.getsize(log)], "skipped events are committed too")

# ---- the dedupe window ----------------------------------------------------
d, log, st, out = case("dedupe")
a, b, c = body(0), body(1), body(2)
write_log(log, [a, b, a])
rc, _ = run(d, ["--state", st, "--once", log, "--", PROBE, out])
tap.eq(Runs(out).count(), {event_id(a): 1, event_id(b): 1}, "a retried delivery (same id) runs once")
append(log, record(a))
rc, _ = run(d, ["--state", st, "--once", log, "--", PROBE, out])
tap.eq(Runs(out).count(), {event_id(a): 1, event_id(b): 1}, "the window is kept across a restart")
rc, _ = run(d, ["--state", st + "2", "--once", "--no-dedupe", log, "--", PROBE, out + "2"])
tap.eq(Runs(out + "2").count(), {event_id(a): 3, event_id(b): 1}, "--no-dedupe: every line runs")
d, log, st, out = case("dedupe-count")
write_log(log, [a, b, c, a])
rc, _ = run(d, ["--state", st, "--once", "--dedupe", "2", log, "--", PROBE, out])
tap.eq(Runs(out).count(), {event_id(a): 2, event_id(b): 1, event_id(c): 1},
       "--dedupe 2: an id two successes back has left the window")
d, log, st, out = case("dedupe-age")
write_log(log, [a])
rc, _ = run(d, ["--state", st, "--once", "--dedupe", "10,1", log, "--", PROBE, out])
time.sleep(2.1)
append(log, record(a))
rc, _ = run(d, ["--state", st, "--once", "--dedupe", "10,1", log, "--", PROBE, out])
tap.eq(Runs(out).count(), {event_id(a): 2}, "--dedupe 10,1: a success older than 1 s no longer counts")

# ---- no command: print the lines ---------------------------------------
d, log, st, out = case("print")
bodies = [body(i, ("JOB_COMPLETED", "SYNC_FAILED")[i % 2]) for i in range(5)]
write_log(log, bodies[:3])
append(log, b"foreign\n")
write_log(log, bodies[3:], received_base="2026-11-30T10:00:01")
f = Follower(d, ["--state", st, "--once", "--match", "status=JOB_COMPLETED", log])
rc = f.wait()
want = b"".join(ln + b"\n" for ln, rec in harness.read_log(log) if rec and rec["event"]["status"] == "JOB_COMPLETED")
tap.ok(rc == 0 and f.stdout() == want, "no command: each matching event's line on stdout, as in the log",
       f.stdout()[:300])
tap.eq(list(state_offsets(st).values()), [os.path.getsize(log)], "committed once written")
d, log, st, out = case("epipe")
write_log(log, [body(i, pad=2000) for i in range(200)])
p = subprocess.Popen([FOLLOW, "--state", st, "--once", log], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     env=harness.child_env())
first_line = p.stdout.readline()
p.stdout.close()
_, err = p.communicate(timeout=30)
off = list(state_offsets(st).values())
tap.ok(p.returncode == 1 and b"cannot write to standard output" in err,
       "a closed standard output: exit 1, and why (%s)" % err.decode(errors="replace").strip()[-80:])
tap.ok(first_line.startswith(b'{"received"') and off and 0 < off[0] < os.path.getsize(log),
       "the position stops at what was written (%s of %d)" % (off, os.path.getsize(log)))

# ---- consumers, directories ------------------------------------------------
d, log, st, out = case("two")
bodies = [body(i) for i in range(20)]
write_log(log, bodies)
p1 = Follower(d, ["--state", st + "1", "--once", log, "--", PROBE, out + "1"])
p2 = Follower(d, ["--state", st + "2", "--once", "-j", "3", log, "--", PROBE, out + "2"])
tap.ok(p1.wait() == 0 and p2.wait() == 0, "two consumers, each with its own directory")
tap.ok(sorted(Runs(out + "1").ids()) == sorted(Runs(out + "2").ids()) == sorted(event_id(b) for b in bodies),
       "each ran every event once")
hold = Follower(d, ["--state", st + "1", log, "--", PROBE, out + "3"])
wait_for(lambda: "lock" in os.listdir(st + "1") and hold.proc.poll() is None, 2)
time.sleep(0.3)
rc, err = run(d, ["--state", st + "1", "--once", log, "--", PROBE, out + "3"])
tap.ok(rc == 1 and "another hookline-follow uses" in err, "a directory in use is refused: exit 1", err)
hold.stop()
rc, err = run(d, ["--state", st + "1", "--once", os.path.join(d, "other.jsonl")])
tap.ok(rc == 1 and "give each log a state directory of its own" in err,
       "a directory that follows another log is refused", err)

rc, err = run(d, ["--state", st + "9", "--once", log, "--", "/nonexistent/cmd"])
tap.ok(rc == 2 and "cannot execute /nonexistent/cmd" in err, "a command that cannot run: exit 2 at start", err)
rc, err = run(d, ["--state", st + "9", "--once", log, "--", "no-such-command-here"])
tap.ok(rc == 2 and "no such command in PATH" in err, "nor one that is not in PATH", err)
for args, what in ((["--once", "/l"], "no --state"), (["--state", st, "rel"], "relative LOG"),
                   (["--state", st, "/l", "cmd"], "a command without --"), (["-j", "0", "--state", st, "/l"], "-j 0")):
    rc, err = run(d, args)
    tap.ok(rc == 2 and "usage:" in err, "usage error (%s): exit 2" % what, err)
p = subprocess.run([FOLLOW, "--version"], stdout=subprocess.PIPE, timeout=10)
tap.ok(p.returncode == 0 and p.stdout.startswith(b"hookline-follow "), "--version")
tap.eq(harness.sanitizer_reports(work), "", "no sanitizer report")
print("# time: %.1f s" % (time.time() - t0))
tap.done()
