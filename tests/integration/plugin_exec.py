"""The exec plugin through a real lighttpd: the command gets the raw body on
stdin and the event in its environment (with PATH and LANG, nothing else:
never the secret), its output goes to the error log, and its exit decides:
0 -> 200, 75 -> 503, other -> 422, past the timeout -> 503 with its whole
process group killed."""

import hashlib
import json
import os
import time

from harness import Client, Lighttpd, Tap, alive, check_clean_shutdown, event_body, read_log, sha1_sig

BUILD = os.environ.get("HOOKLINE_BUILDDIR", ".")
EXEC = os.path.join(BUILD, "handler/plugins/.libs/exec.so")
SECRET = "it-exec-secret-Qw3"
tap = Tap()
locs = {}
for name, arg in [("true", "/bin/true"), ("capture", "@DIR@/capture.sh @DIR@/out"),
                  ("exit3", "@DIR@/exit.sh 3"), ("exit75", "@DIR@/exit.sh 75"),
                  ("slow", "-t 1 @DIR@/slow.sh @DIR@/grandchild.pid"),
                  ("missing", "/nonexistent/hookline-command"), ("badt", "-t 0 /bin/true"),
                  ("empty", "")]:
    locs["/%s/" % name] = {"HOOKLINE_PLUGIN": EXEC, "HOOKLINE_PLUGIN_ARG": arg}
# A plugin comes only from the process environment: a pool per command.
BASE = {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl"}
srv = Lighttpd(BASE, procs=2, pools={u: dict(BASE, **e) for u, e in locs.items()})
scripts = {
    # Saves stdin and the environment, says something on both outputs.
    "capture.sh": '#!/bin/sh\ncat > "$1.body"\nenv > "$1.env"\necho "capture saw $HOOKLINE_EVENT_ID"\n'
                  'echo "capture on stderr" >&2\n',
    "exit.sh": '#!/bin/sh\ncat >/dev/null\necho "exiting $1" >&2\nexit "$1"\n',
    # Leaves a grandchild behind in its process group, then hangs.
    "slow.sh": '#!/bin/sh\nsleep 300 &\necho $! > "$1"\nsleep 300\n',
}
for name, text in scripts.items():
    with open(srv.path(name), "w") as f:
        f.write(text)
    os.chmod(srv.path(name), 0o755)
c = Client(srv.port)


def send(loc, i):
    body = event_body(i)
    return c.post("/%s/hook" % loc, body, {"X-Hub-Signature": sha1_sig(SECRET, body)}), body


r, _ = send("true", 1)
tap.eq(r.status, 200, "/bin/true -> 200")
r, body = send("capture", 2)
tap.eq(r.status, 200, "capturing script -> 200")
with open(srv.path("out.body"), "rb") as f:
    tap.eq(f.read(), body, "the command got the raw body on stdin")
with open(srv.path("out.env")) as f:
    env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
ev = json.loads(body)
want = {"HOOKLINE_EVENT_ID": hashlib.sha256(body).hexdigest(), "HOOKLINE_EVENT_STATUS": ev["status"],
        "HOOKLINE_JOB_ID": ev["job_id"], "HOOKLINE_FLOW_ID": ev["flow_id"], "HOOKLINE_TENANT": ev["tenant"],
        "HOOKLINE_REMOTE_ADDR": "127.0.0.1", "HOOKLINE_SIGNATURE_SCHEME": "sha1"}
tap.eq({k: env.get(k) for k in want}, want, "the event's fields are in the command's environment")
tap.ok(all(SECRET not in v for v in env.values()) and "HOOKLINE_SECRET" not in env,
       "no secret in the command's environment")
# hookline's own environment (harness.child_env) holds PATH, LANG, the
# sanitizers' options and HOOKLINE_*: only the allowlisted reach the command
# (PWD is the shell's own).
want.update(PATH="/usr/sbin:/usr/bin:/sbin:/bin", LANG="C")
env.pop("PWD", None)
tap.eq(env, want, "the command's environment is exactly the allowlist")
r, _ = send("exit3", 3)
tap.ok(r.status == 422 and r.json() == {"error": "rejected"}, "exit 3 -> 422", (r.status, r.body))
r, _ = send("exit75", 4)
tap.ok(r.status == 503 and r.json() == {"error": "temporarily unavailable"}, "exit 75 -> 503", (r.status, r.body))
t0 = time.time()
r, _ = send("slow", 5)
took = time.time() - t0
tap.eq(r.status, 503, "past the timeout -> 503")
tap.ok(0.9 <= took < 10, "the 1 s timeout applied (answer after %.1f s)" % took)
with open(srv.path("grandchild.pid")) as f:
    gpid = int(f.read())
for _ in range(100):
    if not alive(gpid):
        break
    time.sleep(0.05)
tap.ok(not alive(gpid), "the command's whole process group was killed")
for loc in ("missing", "badt", "empty"):
    r, _ = send(loc, 6)
    tap.eq(r.status, 500, "bad command line (%s) -> 500" % loc)
# Bounded burst: a command per event, every event answered after it ran.
ok = sum(1 for i in range(100) if send("true", 100 + i)[0].status == 200)
tap.eq(ok, 100, "100 events through /bin/true, all 200")
c.close()
check_clean_shutdown(tap, srv)
err = srv.errors()
tap.ok("capture on stderr" in err and "capture saw " + want["HOOKLINE_EVENT_ID"] in err,
       "the command's stdout and stderr reach the error log", err[-2000:])
tap.ok("exited 3" in err and "ran past 1 s" in err, "exit statuses and the timeout are logged", err[-2000:])
tap.ok("cannot execute /nonexistent/hookline-command" in err and "-t wants seconds" in err,
       "init failures say why", err[-2000:])
tap.ok(SECRET not in err, "no secret in the error log")
tap.eq(len(read_log(srv.path("events.jsonl"))), 105, "every verified event is in the log (written first)")
tap.done()
