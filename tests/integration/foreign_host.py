"""The static hookline on a host that has none of its libraries: a Debian
11 (bullseye) root, minbase + Apache + suEXEC, where a user runs it as a
CGI program from ~/public_html/cgi-bin, as shared hosts do.

The root is made once with debootstrap (its mirror read at run time from
this host's apt sources) and kept as $HOOKLINE_TEST_CACHE/bullseye.tar
(default /var/cache/hookline-test): only the first run downloads.  Each
run unpacks it, checks that libfcgi, libcjson and libcrypto.so.3 are not
in it, creates the user carol, enables mod_cgid, mod_userdir and suEXEC,
and starts Apache inside it on 127.0.0.1 at a free port.  Every command
in the root runs in a mount namespace of its own (unshare) holding
/proc and /dev/null, /dev/zero, /dev/random, /dev/urandom: the kernel
removes those mounts with the last process, on every exit path, and the
test checks that none is left on the host.

suEXEC gives a CGI program only a few safe variables, so no SetEnv
reaches hookline.  Two setups, each with signed events (200, the line in
carol's log, owned by and readable by carol) and a wrong signature (401):

- cgi-bin/env/hookline.cgi, a two-line sh wrapper that sets HOOKLINE_*
  and runs the static binary kept in ~/bin: needs nothing new;
- cgi-bin/hookline.cgi, the static binary itself, with hookline.conf
  (mode 0600, carol's) beside it; then the secret made 0644 on purpose,
  and `hookline.cgi --check` must fail naming HOOKLINE_SECRET_FILE and
  the mode.  These test points need hookline.conf and --check (being
  built in main): while the binary does not know --check they are
  marked TODO, so they show without failing the suite.
"""

import atexit
import ctypes
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from harness import Client, Tap, Workdir, event_body, free_port, read_log, sha1_sig, terminate, wait_port
from staticbuild import skip, static_bins

SUITE = "bullseye"
CACHE = os.environ.get("HOOKLINE_TEST_CACHE", "/var/cache/hookline-test")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
USER, UID = "carol", 2001
HOME = "/home/" + USER
DEVICES = ("null", "zero", "random", "urandom")
SECRET = "fh-secret-Qz8+/w"

# ---- the cached root ---------------------------------------------------------


def host_mirror():
    """The Debian mirror this host's apt uses for its own release, read
    from /etc/apt at run time, or None (debootstrap's default)."""
    codename = None
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("VERSION_CODENAME="):
                    codename = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        return None
    files = ["/etc/apt/sources.list"]
    if os.path.isdir("/etc/apt/sources.list.d"):
        files += [os.path.join("/etc/apt/sources.list.d", n) for n in sorted(os.listdir("/etc/apt/sources.list.d"))
                  if n.endswith((".list", ".sources"))]
    for path in files:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):  # deb822 stanzas
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    k, sep, v = line.partition(":")
                    if sep and not line.startswith("#"):
                        fields[k.strip().lower()] = v.split()
                if ("deb" in fields.get("types", []) and codename in fields.get("suites", [])
                        and fields.get("enabled") != ["no"] and fields.get("uris")):
                    return fields["uris"][0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == codename:
                    return words[1]
    return None


def make_root_tar(tar):
    """debootstraps the root and stores it as tar; returns None, or why it
    could not (then the test is skipped: no network, no debootstrap)."""
    debootstrap = shutil.which("debootstrap", path=PATH)
    if debootstrap is None:
        return "debootstrap is not installed (apt-get install debootstrap)"
    log = os.path.join(CACHE, SUITE + "-debootstrap.log")
    tmp = tempfile.mkdtemp(prefix="hookline-debootstrap-", dir=CACHE)
    root = os.path.join(tmp, "root")
    cmd = [debootstrap, "--variant=minbase", "--include=apache2,apache2-suexec-pristine", SUITE, root]
    mirror = host_mirror()
    if mirror:
        cmd.append(mirror)
    try:
        with open(log, "w") as f:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, timeout=1800,
                               env={"PATH": PATH, "LANG": "C"})
        if p.returncode != 0:
            return "debootstrap exited %d (see %s)" % (p.returncode, log)
        for d in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for top, _, files in os.walk(os.path.join(root, d)):
                for name in files:
                    if name.endswith((".deb", "Packages", "InRelease", "Release", ".gpg")):
                        os.unlink(os.path.join(top, name))
        p = subprocess.run(["tar", "-C", root, "--numeric-owner", "-cf", tar + ".new", "."],
                           stderr=subprocess.PIPE, timeout=600)
        if p.returncode != 0:
            return "tar failed: %s" % p.stderr.decode(errors="replace")[-500:]
        os.rename(tar + ".new", tar)
        return None
    except (OSError, subprocess.TimeoutExpired) as e:
        return "debootstrap failed: %s" % e
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", tmp], check=False)


def root_tar():
    """The cached root's tar, made first if missing (one maker at a time)."""
    os.makedirs(CACHE, exist_ok=True)
    tar = os.path.join(CACHE, SUITE + ".tar")
    with open(os.path.join(CACHE, "." + SUITE + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(tar):
            start = time.time()
            why = make_root_tar(tar)
            if why:
                skip("no %s root: %s" % (SUITE, why))
            print("# made %s with debootstrap in %.0f s" % (tar, time.time() - start))
    return tar


# ---- commands inside the root --------------------------------------------------

# Mounts what the root needs, in the mount namespace unshare made, then
# chroots: the mounts go with the namespace's last process.
IN_ROOT = """set -e
r=$1
shift
mount -t proc proc "$r/proc"
for d in %s; do mount --bind "/dev/$d" "$r/dev/$d"; done
exec chroot "$r" "$@"
""" % " ".join(DEVICES)


def _die_with_parent():
    """In the child: SIGTERM when the test goes, however it goes."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def in_root(root, args, **kw):
    """Runs args in the root (its own mounts); returns the CompletedProcess,
    stdout and stderr together."""
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", IN_ROOT, "sh",
                           root] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env={"PATH": PATH, "LANG": "C"}, timeout=kw.pop("timeout", 120), **kw)


def mounts_under(path):
    """Mount points at or below path in this (the host's) namespace."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == path or point.startswith(path + "/"):
                out.append(point)
    return out


def write(path, text, mode, uid=0):
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, uid, uid)
    os.chmod(path, mode)


def mkdir(path, mode, uid=UID):
    os.makedirs(path, exist_ok=True)
    os.chown(path, uid, uid)
    os.chmod(path, mode)


# ---- the test ------------------------------------------------------------------

if os.geteuid() != 0:
    skip("needs root (debootstrap, chroot, mounts)")
for tool in ("unshare", "chroot", "tar"):
    if shutil.which(tool, path=PATH) is None:
        skip("no %s command" % tool)
started = time.time()
# A chroot whose root is no mount point (scripts/check run in one) has no
# private mount namespace to mount the Debian 11 root's /proc in.
probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
if probe.returncode != 0:
    skip("no private mount namespace here (%s)" % probe.stdout.strip().replace("\n", "; "))
tap = Tap()
work = Workdir("hookline-foreign-")
tar = root_tar()
hookline, _ = static_bins(tap, work.path)
root = os.path.join(work.path, "root")


@atexit.register
def no_mounts_left():
    """Registered after Workdir, so it runs before the directory goes: a
    mount that leaked to the host is taken down, never deleted into."""
    for point in reversed(mounts_under(root)):
        subprocess.run(["umount", "-l", point], check=False)


os.mkdir(root, 0o755)
p = subprocess.run(["tar", "-C", root, "--numeric-owner", "-xpf", tar], stderr=subprocess.PIPE, timeout=600)
if not tap.ok(p.returncode == 0, "the %s root unpacks from %s" % (SUITE, tar), p.stderr):
    tap.done()
with open(os.path.join(root, "etc/debian_version")) as f:
    tap.ok(f.read().startswith("11."), "the root is Debian 11")
found = []
for top, dirs, files in os.walk(root):
    found += [os.path.join(top, n)[len(root):] for n in files + dirs
              if re.match(r"lib(fcgi|cjson)\.so|libcrypto\.so\.3", n)]
tap.eq(found, [], "the root has no libfcgi.so*, libcjson.so*, libcrypto.so.3")

# The probe for the part being built in main: --check is new.
p = subprocess.run([hookline, "--check"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30,
                   env={"PATH": PATH})
HAS_CHECK = b"usage:" not in p.stdout
if not HAS_CHECK:
    print("# this hookline knows no --check: the hookline.conf test points are TODO")


def needs_conf(cond, name, diag=None):
    """A test point that needs hookline.conf and --check: TODO without."""
    if HAS_CHECK:
        return tap.ok(cond, name, diag)
    tap.count += 1
    print("%s %d - %s # TODO needs hookline.conf and --check (main)" % ("ok" if cond else "not ok", tap.count, name))
    if not cond and diag is not None:
        for line in str(diag).splitlines()[:10]:
            print("#   " + line)
    return cond


# ---- the host's setup: a user, Apache with mod_cgid, userdir, suEXEC -------------

p = in_root(root, ["useradd", "-m", "-u", str(UID), "-U", "-s", "/bin/sh", USER])
tap.ok(p.returncode == 0, "useradd %s in the root" % USER, p.stdout)
port = free_port()
write(os.path.join(root, "etc/apache2/ports.conf"), "Listen 127.0.0.1:%d\n" % port, 0o644)
# What a shared host grants a user's web space: an .htaccess may turn
# CGI on (as in deploy_apache_htaccess.py).
write(os.path.join(root, "etc/apache2/conf-available/shared-host.conf"), """ServerName 127.0.0.1
<Directory /home/*/public_html>
    AllowOverride FileInfo AuthConfig Limit Indexes Options=ExecCGI
</Directory>
""", 0o644)
p = in_root(root, ["sh", "-c", "a2enmod -q cgid userdir suexec && a2enconf -q shared-host"])
tap.ok(p.returncode == 0, "a2enmod cgid userdir suexec", p.stdout)
for d in ("run/apache2", "run/lock/apache2"):
    os.makedirs(os.path.join(root, d), exist_ok=True)

# carol's files: what docs/deploy.md has a shared-host user do.
h = os.path.join(root, HOME.lstrip("/"))
cgi = os.path.join(h, "public_html", "cgi-bin")
data = os.path.join(h, "hookline")
for d, mode in ((h, 0o755), (os.path.join(h, "public_html"), 0o755), (cgi, 0o755), (os.path.join(cgi, "env"), 0o755),
                (os.path.join(h, "bin"), 0o755), (data, 0o700)):
    mkdir(d, mode)
write(os.path.join(data, "secret"), SECRET + "\n", 0o600, UID)
htaccess = "Options +ExecCGI\nAddHandler cgi-script .cgi\n"
write(os.path.join(cgi, ".htaccess"), htaccess, 0o644, UID)
write(os.path.join(cgi, "env", ".htaccess"), htaccess, 0o644, UID)
shutil.copy(hookline, os.path.join(cgi, "hookline.cgi"))
shutil.copy(hookline, os.path.join(h, "bin", "hookline"))
for path in (os.path.join(cgi, "hookline.cgi"), os.path.join(h, "bin", "hookline")):
    os.chown(path, UID, UID)
    os.chmod(path, 0o755)
write(os.path.join(cgi, "hookline.conf"), "# hookline's settings under suEXEC\nHOOKLINE_SECRET_FILE=%s/hookline/secret\n"
      "HOOKLINE_LOG=%s/hookline/events.jsonl\n" % (HOME, HOME), 0o600, UID)
write(os.path.join(cgi, "env", "hookline.cgi"), "#!/bin/sh\nHOOKLINE_SECRET_FILE=%s/hookline/secret "
      "HOOKLINE_LOG=%s/hookline/env.jsonl exec %s/bin/hookline\n" % (HOME, HOME, HOME), 0o755, UID)

# ---- Apache in the root ---------------------------------------------------------------

errlog = os.path.join(root, "var/log/apache2/error.log")
apache = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", IN_ROOT, "sh",
                           root, "/bin/sh", "-c", ". /etc/apache2/envvars && exec /usr/sbin/apache2 -DFOREGROUND"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=open(os.path.join(work.path, "apache.stderr"), "w"),
                          env={"PATH": PATH, "LANG": "C"}, preexec_fn=_die_with_parent)
atexit.register(terminate, apache)


def errors():
    text = ""
    for path in (errlog, os.path.join(work.path, "apache.stderr")):
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                text += f.read()
    return text


up = wait_port(port, apache)
if not tap.ok(up, "Apache 2.4 starts in the root on 127.0.0.1:%d" % port, errors()[-3000:]):
    tap.done()
tap.ok("suEXEC mechanism enabled" in errors(), "Apache found suEXEC", errors()[-2000:])
c = Client(port)


def events(url, logname, label, first, conf=False):
    """Signed events to url (job numbers from first on): 200 each, in
    carol's log, which carol owns and can read; a wrong signature: 401."""
    check = needs_conf if conf else tap.ok
    bodies = [event_body(first + i) for i in range(3)]
    got = [c.post(url, b, {"X-Hub-Signature": sha1_sig(SECRET, b)}) for b in bodies]
    check([r.status for r in got] == [200] * 3, "%s: 3 signed events, 200 each" % label,
          [(r.status, r.body) for r in got] + [errors()[-1500:]])
    log = os.path.join(data, logname)
    lines = read_log(log)
    check([ln[1] and ln[1]["id"] for ln in lines] == [hashlib.sha256(b).hexdigest() for b in bodies],
          "%s: each event's line in %s/hookline/%s" % (label, HOME, logname), lines)
    st = os.stat(log) if os.path.exists(log) else None
    check(st is not None and (st.st_uid, st.st_gid, st.st_mode & 0o777) == (UID, UID, 0o640),
          "%s: the log is %s's, mode 0640: suEXEC ran hookline as %s" % (label, USER, USER),
          st and (st.st_uid, st.st_gid, oct(st.st_mode)))
    p = in_root(root, ["su", USER, "-c", "cat ~/hookline/" + logname])
    check(p.returncode == 0 and p.stdout.count(b"\n") == 3 and bodies[2] in p.stdout,
          "%s: %s reads the log" % (label, USER), p.stdout[-500:])
    bad = event_body(9)
    r = c.post(url, bad, {"X-Hub-Signature": sha1_sig(SECRET + "x", bad)})
    check(r.status == 401 and r.json() == {"error": "invalid signature"},
          "%s: 401 for a wrong signature" % label, (r.status, r.body))


events("/~%s/cgi-bin/env/hookline.cgi" % USER, "env.jsonl", "sh wrapper", 100)
with open(os.path.join(root, "var/log/apache2/suexec.log"), errors="replace") as f:
    suexec = f.read()
tap.ok(re.search(r"uid: \(%d/%s\) gid: \(%d/%s\) cmd: hookline\.cgi" % (UID, USER, UID, USER), suexec),
       "suexec.log: hookline.cgi ran as %s" % USER, suexec[-1000:])
events("/~%s/cgi-bin/hookline.cgi" % USER, "events.jsonl", "hookline.conf", 200, conf=True)
check_cmd = ["su", USER, "-c", "cd ~/public_html/cgi-bin && ./hookline.cgi --check"]
p = in_root(root, check_cmd)
needs_conf(p.returncode == 0, "hookline.cgi --check: the configuration is usable", p.stdout)

# ---- broken on purpose ------------------------------------------------------------------

os.chmod(os.path.join(data, "secret"), 0o644)
b = event_body(300)
before = len(errors())
r = c.post("/~%s/cgi-bin/env/hookline.cgi" % USER, b, {"X-Hub-Signature": sha1_sig(SECRET, b)})
tap.ok(r.status == 500 and "HOOKLINE_SECRET_FILE" in errors()[before:],
       "secret file 0644: 500, the reason in Apache's error log", (r.status, errors()[before:]))
p = in_root(root, check_cmd)
out = p.stdout.decode(errors="replace")
needs_conf(p.returncode != 0 and "HOOKLINE_SECRET_FILE" in out and re.search(r"\b0?644\b", out),
           "secret file 0644: hookline.cgi --check fails, naming HOOKLINE_SECRET_FILE and the mode",
           "exit %d: %s" % (p.returncode, out))

c.close()
apache.send_signal(signal.SIGTERM)
try:
    rc = apache.wait(timeout=30)
except subprocess.TimeoutExpired:
    rc = None
tap.eq(rc, 0, "Apache stops cleanly")
tap.ok(SECRET not in errors(), "no secret in Apache's error log")
tap.eq(mounts_under(root), [], "no mount is left under the root")
print("# %.0f s" % (time.time() - started))
tap.done()
