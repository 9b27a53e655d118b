"""Disk full, read-only, vanished directory and I/O errors: never a 200.

Each case points hookline (behind a real lighttpd, or as CGI) at a log
that cannot take the event, sends several signed events, and checks that
every one is answered 503 (500 where hookline(8) calls it a
configuration error: a log that is a directory or not a regular file),
that the error log says why, that nothing half-written is left in the log,
and that once the cause is gone the next event is stored:

  - a full tmpfs (mounted here, then filled), including a record larger
    than the space left (a short write, undone);
  - a full ext4 on a loop device (a journaling filesystem, with the
    fdatasync of HOOKLINE_SYNC=always);
  - a read-only tmpfs (no log yet) and a read-only bind mount over a
    directory with a log in it (root ignores permissions, a read-only
    mount it cannot);
  - a directory without write permission, for hookline run as nobody (CGI);
  - the log's directory removed while hookline holds the log open;
  - I/O errors on open, write and fdatasync, and a short write, injected
    by the LD_PRELOAD shim (CGI);
  - /dev/full and a directory as HOOKLINE_LOG: 500;
  - a full /dev/shm with HOOKLINE_SYNC=group: the group-commit counters
    cannot be had, and every event is stored all the same.

On a full filesystem the log's last page (or block) may still have room
for a record or two; from the first refusal on, every event must be
refused, and at most 12 records (4 KiB / 350 bytes) may slip in.

The cases that mount run in a private mount namespace (unshare), so their
mounts are invisible to the rest of the machine and go away with it even
if it is killed; each is also unmounted here, after stopping the server
whose processes hold the log open.  Where there is no such namespace (not
root, a chroot whose root is no mount point, a container that may not
mount) those cases are skipped with the reason, and so is the full ext4
without a loop device and the unwritable directory where hookline cannot
be run as nobody; the others run anyway.
"""

import os
import shutil
import subprocess
import sys
import time

NS = "HOOKLINE_ROBUST_NS"
if NS not in os.environ:
    if os.geteuid() != 0:
        os.environ[NS] = "mounting filesystems needs root"
    else:
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        if p.returncode != 0:
            os.environ[NS] = "no private mount namespace here (%s)" % p.stdout.strip().replace("\n", "; ")
        else:
            os.environ[NS] = ""
            os.execvp("unshare", ["unshare", "--mount", "--propagation", "private",
                                  sys.executable, os.path.abspath(__file__)])

from robustlib import SHIM, fill, harness  # noqa: E402

SECRET = "robust-storage-secret-Kd8"
harness.require("lighttpd", "lighttpd")
tap = harness.Tap()
t0 = time.time()
base = harness.Workdir().path
mounts = []
errors = []  # every error log, for the final secret check


def sh(*cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), p.stdout.decode(errors="replace")))
    return p.stdout.decode()


def mount(*args):
    sh("mount", *args)
    mounts.append(args[-1])


def umount(path):
    """Unmounts path.  The hookline processes of a server just stopped may
    still be exiting (lighttpd does not wait for its backends; slower under
    ASan and on a loaded machine) and hold the log open: "target is busy"
    is tried again for at most 20 s."""
    for _ in range(200):
        try:
            sh("umount", path)
            break
        except RuntimeError as e:
            if "busy" not in str(e):
                raise
            time.sleep(0.1)
    else:
        sh("umount", path)
    mounts.remove(path)


def whole_lines(path):
    """(number of lines, problems): every line must be one whole record."""
    if not os.path.exists(path):
        return 0, []
    with open(path, "rb") as f:
        data = f.read()
    bad = [ln[:80] for ln, rec in harness.read_log(path) if rec is None or "event" not in rec]
    if data and not data.endswith(b"\n"):
        bad.append(b"no final newline: " + data[-60:])
    return data.count(b"\n"), bad


class Server:
    """A lighttpd + 2 hookline on one log; stopped (logs closed) on exit."""

    def __init__(self, log):
        self.srv = harness.Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": log,
                                     "HOOKLINE_SYNC": "always"}, procs=2)
        self.c = harness.Client(self.srv.port)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.c.close()
        self.srv.stop()
        errors.append(self.srv.errors())
        tap.ok(harness.sanitizer_reports(self.srv.dir) == "", "no sanitizer report",
               harness.sanitizer_reports(self.srv.dir)[:3000])

    def send(self, pad=0):
        body = harness.event_body(int(time.time() * 1e6) % 10 ** 9, pad=pad)
        return self.c.post("/hook", body, {"X-Hub-Signature": harness.sha1_sig(SECRET, body)}).status

    def many(self, count, pad=0):
        return [self.send(pad) for _ in range(count)]

    def errors(self):
        return self.srv.errors()


def refused_from(got, limit=12):
    """Index of the first 503 if every status from there on is 503, else -1."""
    first = got.index(503) if 503 in got else len(got)
    return first if first <= limit and all(st == 503 for st in got[first:]) else -1


def full_fs(name, mount_args, directory):
    """Fill a filesystem under a running server, then free it."""
    log = os.path.join(directory, "events.jsonl")
    with Server(log) as s:
        tap.eq(s.many(3), [200] * 3, "%s: events stored while there is room" % name)
        filler = fill(directory)
        got = s.many(20)
        first = refused_from(got)
        tap.ok(first >= 0, "%s full: every event answered 503 from the first refusal on "
               "(%d stored before it)" % (name, first), got)
        n, bad = whole_lines(log)
        tap.ok(n == 3 + max(first, 0) and bad == [], "%s full: %d whole lines, nothing half-written"
               % (name, n), bad)
        tap.ok("No space left on device" in s.errors(), "%s full: the error log says why" % name,
               s.errors()[-1500:])
        os.unlink(filler)
        tap.eq(s.send(), 200, "%s: space freed, the next event is stored" % name)
        if name == "tmpfs":
            # A record larger than the space left: the write is short, then
            # undone, and a smaller one still fits.
            size = os.path.getsize(log)
            filler = fill(directory)
            os.truncate(filler, max(0, os.path.getsize(filler) - 64 * 1024))
            tap.eq(s.send(pad=160 * 1024), 503, "tmpfs: a 160 KiB record with 64 KiB left: 503")
            tap.eq(os.path.getsize(log), size, "tmpfs: the short write was undone")
            tap.eq(s.send(), 200, "tmpfs: a small event still fits afterwards")
            os.unlink(filler)
            tap.eq(s.send(pad=160 * 1024), 200, "tmpfs: the large event is stored once there is room")
        n, bad = whole_lines(log)
        tap.ok(bad == [], "%s: %d whole lines in the end" % (name, n), bad)


def cgi_run(log, user=None, shim_fail=None, trace=None, sync="always"):
    """One CGI request; returns (status, stderr)."""
    body = harness.event_body(int(time.time() * 1e6) % 10 ** 9)
    env = harness.child_env({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": log, "REQUEST_METHOD": "POST",
                             "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "192.0.2.1",
                             "HTTP_X_HUB_SIGNATURE": harness.sha1_sig(SECRET, body),
                             "HOOKLINE_SYNC": sync})
    if shim_fail:
        env.update({"LD_PRELOAD": SHIM, "HLSHIM_DIR": os.path.dirname(log), "HLSHIM_FAIL": shim_fail,
                    "ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=1"})
    binary = harness.BIN
    if user is not None:
        # Another user may not reach the build tree (CI clones into a
        # mktemp -d directory, mode 0700): run a copy it can reach.
        binary = os.path.join(base, "hookline-copy")
        if not os.path.exists(binary):
            shutil.copy(harness.BIN, binary)
            os.chmod(binary, 0o755)
    p = subprocess.run([binary], input=body, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60, user=user)
    status = int(p.stdout.split(b"\r\n")[0].split()[1]) if p.stdout.startswith(b"Status: ") else 0
    err = p.stderr.decode(errors="replace")
    errors.append(err)
    return status, err


def no_mount():
    """Why nothing can be mounted here, or None."""
    if os.environ[NS]:
        return os.environ[NS]
    d = os.path.join(base, "probe")
    os.mkdir(d)
    try:
        sh("mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", d)
        sh("umount", d)
    except RuntimeError as e:
        return "cannot mount a tmpfs here (%s)" % str(e).strip().replace("\n", "; ")
    return None


def no_nobody():
    """Why hookline cannot be run as nobody here, or None."""
    if os.geteuid() != 0:
        return "running hookline as nobody needs root"
    try:
        subprocess.run(["true"], user=65534, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        return "cannot run a program as nobody here (%s)" % getattr(e, "strerror", e)
    return None


NO_MOUNT = no_mount()


def case(name, needs, fn):
    """Runs fn, or one skipped point when needs (a reason) says it cannot."""
    if needs:
        tap.skip(name, needs)
    else:
        fn()


def tmpfs_full():
    d = os.path.join(base, "tmpfs")
    os.mkdir(d)
    mount("-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", d)
    full_fs("tmpfs", None, d)
    umount(d)


def ext4_full():
    if shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        tap.skip("a full ext4", "mkfs.ext4 not installed (Debian package e2fsprogs)")
        return
    img = os.path.join(base, "ext4.img")
    with open(img, "wb") as f:
        f.truncate(8 * 1024 * 1024)
    sh("mkfs.ext4", "-q", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0", img)
    d = os.path.join(base, "ext4")
    os.mkdir(d)
    try:
        mount("-o", "loop", img, d)
    except RuntimeError as e:
        tap.skip("a full ext4", "no loop device here (%s)" % str(e).strip().replace("\n", "; "))
        return
    full_fs("ext4", None, d)
    umount(d)
    os.unlink(img)


def read_only_tmpfs():
    d = os.path.join(base, "rotmp")
    os.mkdir(d)
    mount("-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", d)
    with Server(os.path.join(d, "events.jsonl")) as s:
        tap.eq(s.many(5), [503] * 5, "read-only tmpfs, no log yet: every event 503")
        tap.ok("Read-only file system" in s.errors(), "read-only tmpfs: the error log says why",
               s.errors()[-1000:])
        umount(d)
        tap.eq(s.send(), 200, "read-only tmpfs unmounted: the next event is stored")


def read_only_bind():
    d = os.path.join(base, "robind")
    os.mkdir(d)
    log = os.path.join(d, "events.jsonl")
    tap.eq(cgi_run(log)[0], 200, "robind: a first event (CGI) creates the log")
    mount("--bind", d, d)
    sh("mount", "-o", "remount,bind,ro", d)
    with Server(log) as s:
        tap.eq(s.many(5), [503] * 5, "read-only bind mount over a directory with a log: every event 503")
        tap.ok("Read-only file system" in s.errors(), "read-only bind mount: the error log says why",
               s.errors()[-1000:])
        umount(d)
        tap.eq(s.send(), 200, "bind mount gone: the next event is stored")
    n, bad = whole_lines(log)
    tap.ok(n == 2 and bad == [], "robind: exactly the two stored events", (n, bad))


def no_permission():
    d = os.path.join(base, "noperm")
    os.mkdir(d, 0o755)
    os.chmod(base, 0o755)
    log = os.path.join(d, "events.jsonl")
    got = [cgi_run(log, user=65534) for _ in range(3)]
    tap.eq([g[0] for g in got], [503] * 3, "unwritable directory, hookline as nobody: every event 503")
    tap.ok("Permission denied" in got[0][1], "unwritable directory: the error line says why", got[0][1])
    os.chmod(d, 0o777)
    tap.eq(cgi_run(log, user=65534)[0], 200, "directory made writable: the next event is stored")


def directory_gone():
    d = os.path.join(base, "gone")
    os.mkdir(d)
    log = os.path.join(d, "events.jsonl")
    with Server(log) as s:
        tap.eq(s.many(4), [200] * 4, "gone: events stored")
        subprocess.run(["rm", "-rf", d], check=True)
        tap.eq(s.many(5), [503] * 5, "log directory removed: every event 503")
        tap.ok("No such file or directory" in s.errors(), "directory removed: the error log says why",
               s.errors()[-1000:])
        os.mkdir(d)
        tap.eq(s.send(), 200, "directory back: the next event is stored")
    n, bad = whole_lines(log)
    tap.ok(n == 1 and bad == [], "gone: the new log holds just that event", (n, bad))


def io_errors():
    """I/O errors, injected by the LD_PRELOAD shim."""
    d = os.path.join(base, "eio")
    os.mkdir(d)
    log = os.path.join(d, "events.jsonl")
    tap.eq(cgi_run(log)[0], 200, "eio: a first event stored")
    for fail, reason, left in (("open", "cannot open log", 0), ("write", "cannot write to log", 0),
                               ("write-short", "cannot write to log", 0),
                               ("fdatasync", "cannot sync log", 1)):
        before = whole_lines(log)[0]
        got = [cgi_run(log, shim_fail=fail) for _ in range(3)]
        tap.eq([g[0] for g in got], [503] * 3, "%s fails: every event 503" % fail)
        tap.ok(all(reason in g[1] for g in got), "%s fails: the error line says why" % fail, got[0][1])
        n, bad = whole_lines(log)
        # A failed fdatasync leaves the record written whole, never acked:
        # a retry then stores it again (at least once).
        tap.ok(n == before + 3 * left and bad == [], "%s fails: %s" % (
            fail, "nothing of the refused events in the log" if not left else
            "each unacknowledged record whole, never half-written"), (before, n, bad))
        tap.eq(cgi_run(log)[0], 200, "%s works again: the next event is stored" % fail)


def shm_full():
    """A full /dev/shm: group commit does without its counters (an
    unallocated page of a full tmpfs, touched through a mapping, would
    kill hookline with SIGBUS)."""
    d = os.path.join(base, "shmfull")
    os.mkdir(d)
    log = os.path.join(d, "events.jsonl")
    mount("-t", "tmpfs", "-o", "size=4k,mode=1777", "tmpfs", "/dev/shm")
    fill("/dev/shm")
    got = [cgi_run(log, sync="group") for _ in range(3)]
    tap.eq([g[0] for g in got], [200] * 3, "/dev/shm full, HOOKLINE_SYNC=group: every event stored")
    umount("/dev/shm")
    n, bad = whole_lines(log)
    tap.ok(n == 3 and bad == [], "/dev/shm full: three whole records", (n, bad))


def config_errors():
    """Configuration errors: 500."""
    for name, path, reason in (("/dev/full", "/dev/full", "not a regular file"),
                               ("a directory", base, "Is a directory")):
        if not os.path.exists(path):
            tap.skip("HOOKLINE_LOG is %s" % name, "no %s here" % path)
            continue
        got = [cgi_run(path) for _ in range(3)]
        tap.eq([g[0] for g in got], [500] * 3, "HOOKLINE_LOG is %s: every event 500" % name)
        tap.ok(reason in got[0][1], "HOOKLINE_LOG is %s: the error line says why" % name, got[0][1])


try:
    case("a full tmpfs", NO_MOUNT, tmpfs_full)
    case("a full ext4", NO_MOUNT, ext4_full)
    case("a read-only tmpfs", NO_MOUNT, read_only_tmpfs)
    case("a read-only bind mount", NO_MOUNT, read_only_bind)
    case("an unwritable directory", no_nobody(), no_permission)
    directory_gone()
    io_errors()
    case("a full /dev/shm", NO_MOUNT, shm_full)
    config_errors()
except Exception as e:  # noqa: BLE001 - report it, then unmount below
    tap.ok(False, "every storage case ran to the end", repr(e))
finally:
    for m in reversed(list(mounts)):
        subprocess.run(["umount", "-l", m], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open("/proc/self/mounts") as f:
        left = [ln for ln in f if base in ln]
    tap.eq(left, [], "everything mounted here is unmounted")

tap.ok(not any(SECRET in e for e in errors), "the secret is in no error log")
print("# time: %.1f s" % (time.time() - t0))
tap.done()
