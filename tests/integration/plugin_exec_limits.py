"""The exec plugin at its trust boundaries (issue 10).

Through a real lighttpd (FastCGI), with 1 MiB events: a command that echoes
its input (cat) is fed and drained at once, so nothing deadlocks; a command
that never reads its input is judged by its exit status alone; the timeout
covers the whole exchange, including a command that never reads, and kills
the command's whole process group; the command inherits no descriptor but
0-2, so it cannot write FastCGI records on hookline's connection."""

import hashlib
import os
import sys
import time

from harness import Client, Lighttpd, Tap, check_clean_shutdown, event_body, sha1_sig

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
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def group_gone(pidfile):
    """Waits (at most 5 s) for the group recorded in pidfile to be gone."""
    try:
        with open(pidfile) as f:
            pgid = int(f.read())
    except (OSError, ValueError):
        return False  # the command never ran
    for _ in range(100):
        if not group_alive(pgid):
            return True
        time.sleep(0.05)
    return False


locs = {}
for name, arg in [("cat", "-t 5 /bin/cat"), ("noread0", "-t 5 @DIR@/noread.sh 0"),
                  ("noread3", "-t 5 @DIR@/noread.sh 3"),
                  ("noreadhang", "-t 2 @DIR@/noread-hang.sh @DIR@/noreadhang.pid"),
                  ("hang", "-t 2 @DIR@/hang.sh @DIR@/hang.pid"), ("forge", "-t 5 @DIR@/forge.py @DIR@/fds")]:
    locs["/%s/" % name] = {"HOOKLINE_PLUGIN": EXEC, "HOOKLINE_PLUGIN_ARG": arg}
srv = Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_MAX_BODY": "2M"}, procs=2, locations=locs)
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

tap.done()
