"""Secrets never reach a core file or another process of the same user.

hookline turns core dumps off for itself and makes its memory (and
/proc/PID/environ, where a CGI's HOOKLINE_SECRET sits) unreadable to other
processes of its user, unless HOOKLINE_CORE_DUMPS=1 is in the environment
it starts with.  Each check runs both ways, so that it can fail: with
HOOKLINE_CORE_DUMPS=1 the core is written and the environment readable."""

import os
import pwd
import resource
import shutil
import signal
import subprocess
import time

from robustlib import harness

tap = harness.Tap()
work = harness.Workdir()
SECRET = "cores-secret-Vb81"
# A copy that www-data can run: the build tree may sit under a directory
# only root may enter (a clone in /root, a mktemp -d).
BIN = os.path.join(work.path, "hookline")
shutil.copy(harness.BIN, BIN)
os.chmod(BIN, 0o755)


def asan_build():
    try:
        out = subprocess.run(["nm", "-D", BIN], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    except OSError:  # no binutils: not a sanitizer build, which needs them
        return False
    return b"__asan_init" in out


def cgi_waiting(extra, cwd, user=None):
    """A CGI hookline that waits for a body that does not come."""
    env = harness.child_env(dict({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": os.path.join(work.path, "e.jsonl"),
                                  "REQUEST_METHOD": "POST", "CONTENT_LENGTH": "100"}, **extra))

    def pre():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)
        if user is not None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

    p = subprocess.Popen([BIN], cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, preexec_fn=pre)
    time.sleep(0.3)
    return p


with open("/proc/sys/kernel/core_pattern") as f:
    pattern = f.read().strip()
if pattern.startswith("|") or "/" in pattern:
    tap.skip("core files", "core_pattern %r does not write cores beside the program" % pattern)
elif asan_build():
    tap.skip("core files", "AddressSanitizer builds never dump core (disable_coredump)")
else:
    for extra, want, label in (({}, False, "by default"), ({"HOOKLINE_CORE_DUMPS": "1"}, True,
                                                           "with HOOKLINE_CORE_DUMPS=1")):
        cwd = os.path.join(work.path, "core-%d" % want)
        os.mkdir(cwd)
        p = cgi_waiting(extra, cwd)
        p.send_signal(signal.SIGQUIT)
        p.wait(timeout=60)
        p.stdin.close()
        cores = os.listdir(cwd)
        tap.ok(p.returncode == -signal.SIGQUIT and bool(cores) == want,
               "SIGQUIT %s: %s" % (label, "a core is written" if want else "no core file"), (p.returncode, cores))
        for c in cores:
            os.unlink(os.path.join(cwd, c))

try:
    www = pwd.getpwnam("www-data")
except KeyError:
    www = None
if os.geteuid() != 0 or www is None:
    tap.skip("another process of the same user", "needs root and a www-data user to run two processes as one user")
else:
    os.chmod(work.path, 0o777)
    for extra, readable, label in (({}, False, "by default"), ({"HOOKLINE_CORE_DUMPS": "1"}, True,
                                                               "with HOOKLINE_CORE_DUMPS=1")):
        p = cgi_waiting(extra, work.path, www)
        probe = subprocess.run(
            ["python3", "-c", "import sys\ntry:\n open('/proc/%d/environ','rb').read()\nexcept OSError:\n"
             " sys.exit(3)" % p.pid],
            preexec_fn=lambda: (os.setgid(www.pw_gid), os.setuid(www.pw_uid)), timeout=30)
        p.kill()
        p.wait(timeout=30)
        p.stdin.close()
        tap.ok((probe.returncode == 0) == readable,
               "another www-data process %s read hookline's /proc/PID/environ %s"
               % ("can" if readable else "cannot", label), probe.returncode)
tap.done()
