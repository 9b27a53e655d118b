"""Fresh Debian roots: hookline tried the way a new user tries it.

A root is a minimal Debian (debootstrap --variant=minbase) with git and
nothing else, one per release.  Each is made once and kept as a tarball in
the cache, $HOOKLINE_TEST_CACHE or /var/cache/hookline-test, together with
the packages apt downloads inside it (its archive and lists are bind
mounts of the cache's), so that only the first run downloads.  debootstrap
gets the mirror of the host's own apt sources, or picks its default.

Each use extracts the tarball into a new directory, which is removed
afterwards.  Everything that runs in the root runs in private mount and PID
namespaces (unshare): the mounts (/proc, /sys, /dev, the caches) go with
the namespace and every process with its first one, however the test ends.
The root shares the host's network, so nothing in it may start a service
on its own: tests that install servers keep them stopped (policy-rc.d)
and start them on 127.0.0.1.

Run by hand, this runs a command in a fresh root with the repository
cloned at /root/hookline (its uncommitted changes copied over the clone):

    python3 tests/fresh/freshroot.py 13 -- scripts/check
    python3 tests/fresh/freshroot.py 13 --keep -- scripts/check
    python3 tests/fresh/freshroot.py 13 --reuse /var/tmp/hookline-root-trixie-XXXX --userns -- scripts/check

(the last as root of a user namespace: an unprivileged container).
"""

import fcntl
import glob
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("HOOKLINE_TEST_CACHE", "/var/cache/hookline-test")
RELEASES = {"12": "bookworm", "13": "trixie"}
INSIDE = "HOOKLINE_FRESH_INSIDE"  # set in the namespace: the root's directory
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLONE = "/root/hookline"


class Unavailable(Exception):
    """A root cannot be had here; the message says why (a SKIP reason)."""


def _which(name):
    return shutil.which(name, path=PATH)


def unavailable():
    """Why no root can be made on this machine, or None."""
    if os.geteuid() != 0:
        return "making a Debian root needs root"
    for tool, package in (("debootstrap", "debootstrap"), ("unshare", "util-linux"), ("chroot", "coreutils"),
                          ("mount", "mount"), ("tar", "tar"), ("git", "git")):
        if _which(tool) is None:
            return "%s not installed (Debian package %s)" % (tool, package)
    p = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--propagation", "private", "true"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    if p.returncode != 0:
        return "no private mount and PID namespace here (%s)" % p.stdout.strip().replace("\n", "; ")
    return None


def host_release():
    """(VERSION_ID, VERSION_CODENAME) from /etc/os-release."""
    info = {}
    with open("/etc/os-release") as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            info[k] = v.strip('"')
    return info.get("VERSION_ID", ""), info.get("VERSION_CODENAME", "")


def host_mirror():
    """The URI of the host's Debian archive (the entry for its own release
    with component main), or None: then debootstrap picks its default."""
    codename = host_release()[1]
    entries = []  # (uri, suites, components)
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            with open(path) as f:
                for line in f:
                    words = line.split("#")[0].split()
                    if words[:1] != ["deb"]:
                        continue
                    words = words[1:]
                    if words and words[0].startswith("["):
                        while words and not words[0].endswith("]"):
                            words.pop(0)
                        words = words[1:]
                    if len(words) >= 3:
                        entries.append((words[0], words[1:2], words[2:]))
        except OSError:
            pass
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        try:
            with open(path) as f:
                stanzas = f.read().split("\n\n")
        except OSError:
            continue
        for stanza in stanzas:
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                k, _, v = line.partition(":")
                fields[k.strip().lower()] = v.split()
            if "deb" not in fields.get("types", []) or fields.get("enabled", ["yes"]) == ["no"]:
                continue
            for uri in fields.get("uris", []):
                entries.append((uri, fields.get("suites", []), fields.get("components", [])))
    for uri, suites, components in entries:
        if codename in suites and "main" in components:
            return uri
    return None


def tarball(release, log=print):
    """The cached root of release ("12", "13"), made by debootstrap the
    first time; raises Unavailable when that fails (no network)."""
    codename = RELEASES[release]
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, "%s-minbase-git.tar" % codename)
    with open(os.path.join(CACHE, ".%s.lock" % codename), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(path):
            return path
        # What an interrupted run left (debootstrap ran in a mount
        # namespace of its own: nothing is mounted there).
        for stale in glob.glob(os.path.join(CACHE, codename + "-root-*")):
            shutil.rmtree(stale, ignore_errors=True)
        mirror = host_mirror()
        debs = os.path.join(CACHE, "debootstrap-" + codename)
        os.makedirs(debs, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=codename + "-root-", dir=CACHE)
        out = os.path.join(CACHE, "%s-debootstrap.log" % codename)
        log("making a minimal Debian %s root (debootstrap, mirror %s); log in %s"
            % (release, mirror or "debootstrap's default", out))
        # debootstrap mounts /proc and /sys in the root while it works: in
        # a namespace of its own those mounts cannot outlive it.
        cmd = ["unshare", "--mount", "--propagation", "private", "debootstrap", "--variant=minbase",
               "--include=git", "--cache-dir=" + debs, codename, tmp] + ([mirror] if mirror else [])
        try:
            with open(out, "w") as f:
                rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                    timeout=3600).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        if rc != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            with open(out, errors="replace") as f:
                last = [ln.strip() for ln in f if ln.strip()][-1:] or ["no output"]
            raise Unavailable("debootstrap %s failed (%s): %s" % (codename, rc, last[0]))
        for junk in glob.glob(os.path.join(tmp, "var/cache/apt/archives/*.deb")):
            os.unlink(junk)
        os.chmod(tmp, 0o755)  # the root's "/", which mkdtemp made 0700
        subprocess.run(["tar", "-C", tmp, "--numeric-owner", "-cf", path + ".tmp", "."], check=True)
        os.rename(path + ".tmp", path)
        shutil.rmtree(tmp)
        return path


def _extract(tar, directory):
    """A new root at directory from the tarball; its "/" searchable by
    all, as on a real machine (the web servers' users need that)."""
    os.mkdir(directory)
    subprocess.run(["tar", "-C", directory, "--numeric-owner", "-xf", tar], check=True)
    os.chmod(directory, 0o755)


SNAPSHOT = ("hookline.bundle", "hookline-changed", "hookline-changes.tar", "hookline-deleted")


def _repo_snapshot(dest):
    """Writes dest/hookline.bundle (HEAD of this repository) and
    dest/hookline-changes.tar (its uncommitted files) with
    dest/hookline-deleted (tracked files deleted), for clone()."""
    def git(*args):
        return subprocess.run(["git", "-C", TOP] + list(args), stdout=subprocess.PIPE, check=True).stdout
    git("bundle", "create", os.path.join(dest, "hookline.bundle"), "HEAD")
    changed = [n for n in git("ls-files", "-z", "--modified", "--others", "--exclude-standard").split(b"\0")
               if n and os.path.lexists(os.path.join(TOP.encode(), n))]
    with open(os.path.join(dest, "hookline-changed"), "wb") as f:
        f.write(b"\0".join(changed))
    subprocess.run(["tar", "-C", TOP, "--null", "-T", os.path.join(dest, "hookline-changed"), "-cf",
                    os.path.join(dest, "hookline-changes.tar")], check=True)
    with open(os.path.join(dest, "hookline-deleted"), "wb") as f:
        f.write(git("ls-files", "-z", "--deleted"))
    return len(changed)


class Root:
    """An extracted root, used inside the namespace that run() made."""

    def __init__(self, directory, release):
        self.dir = directory
        self.release = release
        self.codename = RELEASES[release]
        self.mounts = []

    def path(self, rel):
        return os.path.join(self.dir, rel.lstrip("/"))

    def sibling(self):
        """Another fresh root of the same release beside this one, set
        up, removed with it."""
        n = 2
        while os.path.exists(self.dir + str(n)):
            n += 1
        directory = self.dir + str(n)
        _extract(tarball(self.release), directory)
        for name in SNAPSHOT:
            shutil.copy(self.path("root/" + name), os.path.join(directory, "root", name))
        root = Root(directory, self.release)
        root.setup()
        return root

    def _mount(self, *args):
        subprocess.run(["mount"] + list(args), check=True)
        self.mounts.append(args[-1])

    def setup(self):
        """Mounts /proc, /sys, /dev, /run and the apt caches; copies the
        host's resolv.conf (apt needs the network)."""
        r = self.path
        self._mount("-t", "proc", "proc", r("proc"))
        self._mount("--rbind", "/sys", r("sys"))
        self._mount("--rbind", "/dev", r("dev"))
        self._mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", r("dev/shm"))
        self._mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", r("run"))
        os.mkdir(r("run/lock"), 0o1777)
        apt_uid = self.uid("_apt")
        for rel, sub in (("var/cache/apt/archives", "archives"), ("var/lib/apt/lists", "lists")):
            cache = os.path.join(CACHE, "apt-" + self.codename, sub)
            os.makedirs(os.path.join(cache, "partial"), exist_ok=True)
            if apt_uid is not None:  # apt downloads as _apt into partial/
                try:
                    os.chown(os.path.join(cache, "partial"), apt_uid, 0)
                    os.chmod(os.path.join(cache, "partial"), 0o700)
                except OSError:
                    pass  # a user namespace without _apt: apt will not run there
            os.makedirs(r(rel), exist_ok=True)
            self._mount("--bind", cache, r(rel))
        if os.path.exists("/etc/resolv.conf"):
            if os.path.lexists(r("etc/resolv.conf")):
                os.unlink(r("etc/resolv.conf"))
            shutil.copy("/etc/resolv.conf", r("etc/resolv.conf"))
        if not os.path.exists(r("etc/hosts")):
            with open(r("etc/hosts"), "w") as f:
                f.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")

    def uid(self, user):
        """user's uid in the root's /etc/passwd, or None."""
        with open(self.path("etc/passwd")) as f:
            for line in f:
                fields = line.split(":")
                if fields[0] == user:
                    return int(fields[2])
        return None

    def argv(self, script, env=None):
        """The command line that runs shell script in the root as root, in
        the environment of a fresh login (plus env)."""
        e = ["PATH=" + PATH, "HOME=/root", "LANG=C.UTF-8", "TERM=dumb", "USER=root", "LOGNAME=root"]
        e += ["%s=%s" % kv for kv in (env or {}).items()]
        return ["chroot", self.dir, "/usr/bin/env", "-i"] + e + ["/bin/bash", "-c", script]

    def run(self, script, timeout=1800, env=None, check=False):
        """Runs script; returns (exit status, output).  A timeout is status
        None (the processes are left for the namespace's end)."""
        try:
            p = subprocess.run(self.argv(script, env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=timeout)
            rc, out = p.returncode, p.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            rc, out = None, (e.output or b"").decode(errors="replace") + "\n[timed out after %d s]" % timeout
        if check and rc != 0:
            raise RuntimeError("in the Debian %s root, %r: exit %s\n%s" % (self.release, script, rc, out[-3000:]))
        return rc, out

    def popen(self, script, env=None):
        """Starts script in a process group of its own (a terminal's
        foreground job), output and errors on one pipe."""
        return subprocess.Popen(self.argv(script, env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def clone(self):
        """Clones the repository to /root/hookline as a user would, with
        git in the root, from a bundle of HEAD; then copies the uncommitted
        changes over it.  Returns how many files those were."""
        n = int(os.environ.get("HOOKLINE_FRESH_CHANGED", "0"))
        self.run("cd /root && git clone -q /root/hookline.bundle hookline 2>&1 && cd hookline && "
                 "tar -xf /root/hookline-changes.tar && "
                 "xargs -0 -r rm -f -- </root/hookline-deleted", check=True, timeout=300)
        return n

    def processes(self):
        """Pids of every process of the namespace but this one; reaps the
        zombies handed to it (it is the namespace's first process)."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        me = os.getpid()
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) != me:
                try:
                    with open("/proc/%s/stat" % name) as f:
                        stat = f.read()
                except OSError:
                    continue
                out.append("%s %s" % (name, stat[stat.index("(") :].split(")")[0] + ")"))
        return out


def _inner(release, directory):
    """In the namespace: mounts, then the caller's work (the re-executed
    test or command) runs on the returned Root."""
    root = Root(directory, release)
    root.setup()
    return root


def run(release, reuse=None, userns=False):
    """Gives a Root of release to the calling test: outside the
    namespaces, extracts a root (or takes the one kept in the directory
    reuse), re-executes the caller in private mount and PID namespaces
    (and a user namespace that maps only root, with userns: root without
    privileges over the machine, like an unprivileged container), removes
    the root once they are gone unless reused or kept, and exits with the
    caller's status; inside, returns the Root.  Raises Unavailable outside
    when there can be no root here."""
    if os.environ.get(INSIDE):
        return _inner(release, os.environ[INSIDE])
    reason = unavailable()
    if reason:
        raise Unavailable(reason)
    if reuse:
        work = os.path.abspath(reuse)
    else:
        tar = tarball(release, log=lambda s: print("# " + s, flush=True))
        work = tempfile.mkdtemp(prefix="hookline-root-%s-" % RELEASES[release], dir="/var/tmp")
    directory = os.path.join(work, "root")
    proc = None

    def forward(signum, _frame):
        if proc is not None and proc.poll() is None:
            proc.send_signal(signum)
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        n = 0
        if not reuse:
            _extract(tar, directory)
            n = _repo_snapshot(os.path.join(directory, "root"))
        env = dict(os.environ, **{INSIDE: directory, "HOOKLINE_FRESH_CHANGED": str(n)})
        # --kill-child: if unshare dies, so does the namespace's first
        # process, and with it every process of the namespace.
        ns = ["unshare"] + (["--user", "--map-root-user"] if userns else [])
        proc = subprocess.Popen(ns + ["--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                                      "--propagation", "private", sys.executable,
                                      os.path.abspath(sys.argv[0])] + sys.argv[1:], env=env)
        rc = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if not reuse:
            _remove(work)
    sys.exit(rc if rc >= 0 else 128 - rc)


def _remove(work):
    """Removes a root's directory, unless anything is still mounted below
    it (then it says so and leaves it: a removal could reach the host's
    /dev)."""
    with open("/proc/self/mountinfo") as f:
        below = [ln.split()[4] for ln in f if ln.split()[4].startswith(work + "/")]
    if below:
        print("# not removing %s: still mounted there: %s" % (work, " ".join(below)), flush=True)
        return
    if os.environ.get("HOOKLINE_KEEP_TMP"):
        print("# kept %s" % work, flush=True)
        return
    shutil.rmtree(work, ignore_errors=True)


def wait_output(proc, until, seconds):
    """Reads proc's output until a line contains until, proc exits or
    seconds pass; returns (found, text)."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    text = b""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if until.encode() in text:
            return True, text.decode(errors="replace")
        if not sel.select(timeout=min(5, max(0.1, deadline - time.time()))):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        text += chunk
    return until.encode() in text, text.decode(errors="replace")


def main():
    import argparse
    ap = argparse.ArgumentParser(usage="%(prog)s [--keep] [--reuse DIR] [--userns] {12,13} [-- command...]",
                                 description="Runs a command (default: a shell) in a fresh Debian root, this "
                                 "repository cloned at %s (HOME is /root)." % CLONE)
    ap.add_argument("release", choices=sorted(RELEASES))
    ap.add_argument("--keep", action="store_true", help="keep the root afterwards (its directory is printed)")
    ap.add_argument("--reuse", metavar="DIR", help="run in the root kept in DIR, as it is (no new clone)")
    ap.add_argument("--userns", action="store_true",
                    help="as root of a user namespace that maps only root: no privileges over the machine")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    args.command = argv[cut + 1:] or ["bash", "-i"]
    if args.keep:
        os.environ["HOOKLINE_KEEP_TMP"] = "1"
    try:
        root = run(args.release, reuse=args.reuse, userns=args.userns)
    except Unavailable as e:
        print("no Debian %s root: %s" % (args.release, e), file=sys.stderr)
        sys.exit(77)
    if not args.reuse:
        root.clone()
    script = "cd %s && exec %s" % (CLONE, " ".join(shlex.quote(a) for a in args.command))
    rc = subprocess.run(root.argv(script)).returncode
    left = root.processes()
    if left:
        print("left running in the root: %s" % ", ".join(left), file=sys.stderr)
    sys.exit(rc)


if __name__ == "__main__":
    main()
