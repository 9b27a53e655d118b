"""The exec plugin at its trust boundaries (issue 10).

Through a real lighttpd (FastCGI), with 1 MiB events: a command that echoes
its input (cat) is fed and drained at once, so nothing deadlocks; a command
that never reads its input is judged by its exit status alone; the timeout
covers the whole exchange, including a command that never reads, and kills
the command's whole process group, and the command itself if it left that
group; the command inherits no descriptor but 0-2, so it cannot write
FastCGI records on hookline's connection.

In CGI mode, where the web server puts the client's headers (HTTP_*) and,
after an Apache internal redirect, REDIRECT_HOOKLINE_SECRET into hookline's
environment: the command's environment is exactly the allowlist.  And with
SIGCHLD inherited as ignored, a command that exits 0 is still a 200."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

from harness import BIN, Client, Lighttpd, Tap, Workdir, check_clean_shutdown, event_body, processes, sha1_sig

BUILD = os.environ.get("HOOKLINE_BUILDDIR", ".")
EXEC = os.path.join(BUILD, "handler/plugins/.libs/exec.so")
SECRET = "it-exec-limits-secret-J8q"
MIB = 1024 * 1024
tap = Tap()

scripts = {
    # Never reads its input, then exits with the status it is given.
    "noread.sh": '#!/bin/sh\nsleep 1\nexit "$1"\n',
    # Never reads its input and outlives any timeout; records its group.
    "noread-hang.sh": '#!/bin/sh\necho $$ > "$1"\nexec sleep 60\n',
    # Reads its input, leaves a grandchild in its group, outlives any timeout.
    "hang.sh": '#!/bin/sh\ncat >/dev/null\necho $$ > "$1"\nsleep 60 &\nsleep 60\n',
    # Reads its input, leaves its own process group for hookline's, hangs.
    "leave.py": "#!%s -I\n" % sys.executable + r'''import os, sys, time
sys.stdin.buffer.read()
os.setpgid(0, os.getpgid(os.getppid()))
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()))
time.sleep(60)
''',
    # Lists its open descriptors above 2 (those still open once listdir
    # closed its own) before anything can answer the client, then writes a
    # forged FastCGI answer on each of 3-20.
    "forge.py": "#!%s -I\n" % sys.executable + r'''import os, struct, sys
def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
fds = sorted(int(f) for f in os.listdir("/proc/self/fd") if int(f) > 2 and is_open(int(f)))
with open(sys.argv[1], "w") as f:
    f.write(" ".join(map(str, fds)))
body = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nforged\n"
forged = (struct.pack(">BBHHBB", 1, 6, 1, len(body), 0, 0) + body +
          struct.pack(">BBHHBB", 1, 3, 1, 8, 0, 0) + bytes(8))
for fd in range(3, 21):
    try:
        os.write(fd, forged)
    except OSError:
        pass
''',
}


def big_event(i):
    """An event of exactly 1 MiB."""
    return event_body(i, pad=MIB - len(event_body(i)))


def group_alive(pgid):
    """Whether any live (not zombie) process is in process group pgid."""
    return processes(lambda st: st[3] == pgid) != []


def read_pid(pidfile):
    """The number a command wrote into pidfile, or None."""
    try:
        with open(pidfile) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None  # the command never got that far


def group_gone(pidfile):
    """Waits (at most 5 s) for the group recorded in pidfile to be gone."""
    pgid = read_pid(pidfile)
    if pgid is None:
        return False
    for _ in range(100):
        if not group_alive(pgid):
            return True
        time.sleep(0.05)
    return False


# ---- through lighttpd: big events, the timeout, descriptors ---------------

locs = {}
for name, arg in [("cat", "-t 5 /bin/cat"), ("noread0", "-t 5 @DIR@/noread.sh 0"),
                  ("noread3", "-t 5 @DIR@/noread.sh 3"),
                  ("noreadhang", "-t 2 @DIR@/noread-hang.sh @DIR@/noreadhang.pid"),
                  ("hang", "-t 2 @DIR@/hang.sh @DIR@/hang.pid"), ("leave", "-t 2 @DIR@/leave.py @DIR@/leave.pid"),
                  ("forge", "-t 5 @DIR@/forge.py @DIR@/fds")]:
    locs["/%s/" % name] = {"HOOKLINE_PLUGIN": EXEC, "HOOKLINE_PLUGIN_ARG": arg}
# A plugin comes only from the process environment: a pool per command.
BASE = {"HOOKLINE_SECRET": SECRET, "HOOKLINE_MAX_BODY": "2M"}
srv = Lighttpd(BASE, procs=2, pools={u: dict(BASE, **e) for u, e in locs.items()})
for name, text in scripts.items():
    with open(srv.path(name), "w") as f:
        f.write(text)
    os.chmod(srv.path(name), 0o755)
# A hookline that deadlocks must fail the test, not hang it.
c = Client(srv.port, timeout=20)


def send(loc, body):
    """POSTs body, signed; returns (response or None on no answer, seconds)."""
    t0 = time.monotonic()
    try:
        r = c.post("/%s/hook" % loc, body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
    except OSError as e:  # socket.timeout among them
        c.close()
        r = None
        tap.ok(False, "an answer to /%s/ within 20 s" % loc, e)
    return r, time.monotonic() - t0


def ok_answer(body):
    return b'{"ok":true,"id":"%s"}\n' % hashlib.sha256(body).hexdigest().encode()


body = big_event(1)
tap.eq(len(body), MIB, "the test event is 1 MiB")
r, _ = send("cat", body)
tap.ok(r is not None and r.status == 200, "1 MiB to cat, which echoes it -> 200 (no deadlock)")
r, _ = send("noread0", big_event(2))
tap.ok(r is not None and r.status == 200, "1 MiB to a command that never reads and exits 0 -> 200")
r, _ = send("noread3", big_event(3))
tap.ok(r is not None and r.status == 422, "1 MiB to a command that never reads and exits 3 -> 422")
r, took = send("noreadhang", big_event(4))
tap.ok(r is not None and r.status == 503, "1 MiB to a command that never reads and hangs -> 503")
tap.ok(1.5 <= took < 10, "the 2 s timeout covered the write of stdin (answer after %.1f s)" % took)
tap.ok(group_gone(srv.path("noreadhang.pid")), "the command that never read was killed")
r, took = send("hang", big_event(5))
tap.ok(r is not None and r.status == 503, "1 MiB to a command that reads, then hangs -> 503")
tap.ok(1.5 <= took < 10, "the 2 s timeout applied (answer after %.1f s)" % took)
tap.ok(group_gone(srv.path("hang.pid")), "the command's whole process group (grandchild too) was killed")
r, took = send("leave", big_event(6))
tap.ok(r is not None and r.status == 503 and took < 10,
       "a command that left its process group and hangs -> 503 (after %.1f s)" % took)
pid = read_pid(srv.path("leave.pid"))
tap.ok(pid is not None and not os.path.exists("/proc/%d" % pid),
       "the command that left its process group was killed too")
body = event_body(6)
r, _ = send("forge", body)
tap.ok(r is not None and r.status == 200 and r.body == ok_answer(body),
       "a forged FastCGI answer on fds 3-20 does not reach the client", r and (r.status, r.body))
try:
    with open(srv.path("fds")) as f:
        fds = f.read()
except OSError:
    fds = None
tap.eq(fds, "", "the command has no descriptor open but 0, 1 and 2")
c.close()
check_clean_shutdown(tap, srv)
err = srv.errors()
tap.ok("ran past 2 s" in err and "exited 3" in err, "the timeout and the exit status are logged", err[-2000:])
tap.ok(SECRET not in err, "no secret in the error log")

# ---- CGI mode: the environment, an inherited ignored SIGCHLD ---------------

work = Workdir()


def run_cgi(env, preexec_fn=None):
    """Runs hookline once as CGI with env (and the request, the secret, the
    plugin, the sanitizers' options) and a signed event; returns (status,
    body, stderr text)."""
    body = event_body(7)
    e = {"REQUEST_METHOD": "POST", "REMOTE_ADDR": "192.0.2.9", "CONTENT_LENGTH": str(len(body)),
         "GATEWAY_INTERFACE": "CGI/1.1", "HTTP_X_HUB_SIGNATURE": sha1_sig(SECRET, body),
         "HOOKLINE_SECRET": SECRET, "HOOKLINE_PLUGIN": EXEC,
         "ASAN_OPTIONS": "log_path=%s/san:abort_on_error=1:detect_leaks=1" % work.path,
         "UBSAN_OPTIONS": "log_path=%s/san:print_stacktrace=1:halt_on_error=1" % work.path}
    e.update(env)
    p = subprocess.run([BIN], input=body, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60, preexec_fn=preexec_fn)
    status = 0
    for line in p.stdout.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n"):
        if line.lower().startswith("status:"):
            status = int(line.split()[1])
    return status, body, p.stderr.decode(errors="replace")


def command_env(err):
    """The environment that /usr/bin/env printed, from hookline's stderr."""
    mark = "plugin exec: /usr/bin/env: "
    return dict(line.split(mark, 1)[1].split("=", 1) for line in err.splitlines() if mark in line)


evil = {"HOOKLINE_PLUGIN_ARG": "/usr/bin/env", "REDIRECT_HOOKLINE_SECRET": SECRET,
        "REDIRECT_REDIRECT_HOOKLINE_SECRET": SECRET, "REDIRECT_STATUS": "200",
        "HTTP_X_EVIL": "evil", "HTTP_PROXY": "http://127.0.0.1:9", "SERVER_SOFTWARE": "Apache", "LD_PRELOAD": "",
        "PATH": "/opt/hookline-test/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC",
        "HOME": "/nonexistent/home"}
st, body, err = run_cgi(evil)
tap.eq(st, 200, "CGI: /usr/bin/env as the command -> 200")
ev = json.loads(body)
want = {"PATH": evil["PATH"], "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC", "HOME": "/nonexistent/home",
        "HOOKLINE_EVENT_ID": hashlib.sha256(body).hexdigest(), "HOOKLINE_EVENT_STATUS": ev["status"],
        "HOOKLINE_JOB_ID": ev["job_id"], "HOOKLINE_FLOW_ID": ev["flow_id"], "HOOKLINE_TENANT": ev["tenant"],
        "HOOKLINE_REMOTE_ADDR": "192.0.2.9", "HOOKLINE_SIGNATURE_SCHEME": "sha1"}
tap.eq(command_env(err), want, "CGI: the command's environment is exactly the allowlist (no REDIRECT_*, "
       "HTTP_*, secret)")
st, body, err = run_cgi({"HOOKLINE_PLUGIN_ARG": "/usr/bin/env"})
got = command_env(err)
tap.ok(st == 200 and got.get("PATH") == "/usr/local/bin:/usr/bin:/bin" and
       sorted(k for k in got if not k.startswith("HOOKLINE_")) == ["PATH"],
       "CGI: without PATH, LANG, LC_ALL, TZ, HOME the command gets the default PATH only", got)
tap.ok(SECRET not in err, "CGI: no secret in the error log")


def ignore_sigchld():
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)


st, _, err = run_cgi({"HOOKLINE_PLUGIN_ARG": "-t 3 /bin/true"}, preexec_fn=ignore_sigchld)
tap.eq(st, 200, "CGI with SIGCHLD ignored: a command that exits 0 -> 200")
tap.ok("ran past" not in err and "killed" not in err and "cannot wait" not in err,
       "CGI with SIGCHLD ignored: the command was waited for, not killed", err)
san = [n for n in os.listdir(work.path) if n.startswith("san.")]
tap.eq(san, [], "CGI: no sanitizer report")
tap.done()
