"""The statically linked hookline (scripts/static) does what the usual
build does, with nothing from the host.

Both programs are static ELF files (no program interpreter, no dynamic
section; ldd agrees).  `--version` names the OpenSSL linked in, in this
build and in the dynamic one.  As CGI in an otherwise empty root (a
chroot holding the binary, the secret and a log directory: no libc, no
/proc, no /dev) and as an unprivileged user: a signed event gets 200 and
its line in the log, a wrong signature 401, a plugin path 500 with the
reason.  As FastCGI behind the real lighttpd: signed events stored and
handed to the exec plugin, named bare because it is linked in (its
command writes a file per event); a shared object's path and a plugin
that is not built in are refused with the reason in the error log.
"""

import hashlib
import os
import re
import secrets
import shutil
import subprocess

from harness import BIN, Client, Lighttpd, Tap, Workdir, event_body, read_log, sha1_sig
from staticbuild import is_static, static_bins, skip

CHROOT = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")
REFUSAL = "this hookline is statically linked and loads no shared objects; built in: exec"
NOBODY = 65534

if os.geteuid() != 0:
    skip("needs root (chroot, and scripts/static installs packages)")
if CHROOT is None:
    skip("no chroot command (coreutils)")
tap = Tap()
work = Workdir("hookline-static-")
hookline, sign = static_bins(tap, work.path)
secret = "st-" + secrets.token_hex(12)

# ---- what the files are ---------------------------------------------------

for path in (hookline, sign):
    name = os.path.basename(path)
    tap.eq(is_static(path), None, "%s: no PT_INTERP, no PT_DYNAMIC" % name)
    p = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tap.ok("not a dynamic executable" in p.stdout.decode(errors="replace"),
           "%s: ldd says not a dynamic executable" % name, p.stdout)

# The OpenSSL inside is the one libssl-dev (whose libcrypto.a was linked)
# holds: 3.0.19 for 3.0.19-1~deb12u2.
p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libssl-dev"], stdout=subprocess.PIPE)
dev = re.match(r"(\d+\.\d+\.\d+)", p.stdout.decode())
p = subprocess.run([hookline, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
version = p.stdout.decode(errors="replace").splitlines()
tap.ok(p.returncode == 0 and len(version) == 2 and version[0].startswith("hookline ")
       and "statically linked" in version[0] and "exec" in version[0],
       "--version: hookline's version, statically linked, exec built in", version)
tap.ok(len(version) == 2 and dev is not None and version[1].startswith("OpenSSL " + dev.group(1) + " "),
       "--version: the OpenSSL linked in (libssl-dev %s)" % (dev and dev.group(1)), version)
p = subprocess.run([BIN, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
dyn = p.stdout.decode(errors="replace").splitlines()
tap.ok(p.returncode == 0 and len(dyn) == 2 and dyn[1].startswith("OpenSSL "),
       "--version of the dynamic build names its OpenSSL too", dyn)
body = event_body(1)
p = subprocess.run([sign], input=body, env={"HOOKLINE_SECRET": secret}, stdout=subprocess.PIPE, timeout=30)
tap.eq(p.stdout.decode().strip(), sha1_sig(secret, body), "static hookline-sign signs as the sender does")

# ---- CGI in an empty root ---------------------------------------------------

root = os.path.join(work.path, "root")
os.mkdir(root, 0o755)
os.link(hookline, os.path.join(root, "hookline"))
with open(os.path.join(root, "secret"), "w") as f:
    f.write(secret + "\n")
os.chown(os.path.join(root, "secret"), NOBODY, NOBODY)
os.chmod(os.path.join(root, "secret"), 0o600)
os.mkdir(os.path.join(root, "log"), 0o700)
os.chown(os.path.join(root, "log"), NOBODY, NOBODY)
tap.eq(sorted(os.listdir(root)), ["hookline", "log", "secret"], "the root holds the binary, the secret, the log directory")
log = os.path.join(root, "log", "events.jsonl")


def chroot_cgi(body, sig, extra=None):
    """One CGI request to /hookline in the empty root, as nobody; returns
    (status, body, stderr)."""
    env = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "192.0.2.7",
           "REQUEST_URI": "/cgi-bin/hookline", "GATEWAY_INTERFACE": "CGI/1.1",
           "HOOKLINE_SECRET_FILE": "/secret", "HOOKLINE_LOG": "/log/events.jsonl", "HTTP_X_HUB_SIGNATURE": sig}
    env.update(extra or {})
    p = subprocess.run([CHROOT, "--userspec=%d:%d" % (NOBODY, NOBODY), root, "/hookline"], input=body, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    head, _, out = p.stdout.partition(b"\r\n\r\n")
    m = re.search(rb"^Status: (\d+)", head, re.M)
    return int(m.group(1)) if m else 0, out, p.stderr.decode(errors="replace")


st, out, err = chroot_cgi(body, sha1_sig(secret, body))
tap.ok(st == 200 and out == b'{"ok":true,"id":"%s"}\n' % hashlib.sha256(body).hexdigest().encode() and err == "",
       "empty root, CGI: 200 for a signed event, nothing on stderr", (st, out, err))
lines = read_log(log)
tap.ok(len(lines) == 1 and lines[0][1] and lines[0][1]["event"]["job_id"] == "job-000001"
       and lines[0][1]["remote"] == "192.0.2.7", "empty root, CGI: the event's line in the log", lines)
tap.eq(os.stat(log).st_uid, NOBODY, "empty root, CGI: the log belongs to the user hookline ran as")
st, out, err = chroot_cgi(event_body(2), sha1_sig(secret + "x", event_body(2)))
tap.ok(st == 401 and out == b'{"error":"invalid signature"}\n' and "401 invalid signature" in err,
       "empty root, CGI: 401 for a wrong signature, the reason on stderr", (st, out, err))
st, out, err = chroot_cgi(body, sha1_sig(secret, body), {"HOOKLINE_PLUGIN": "/exec.so"})
tap.ok(st == 500 and REFUSAL in err, "empty root, CGI: a plugin path gets 500 and the reason", (st, err))
tap.eq(len(read_log(log)), 1, "empty root, CGI: only the signed event is logged")
tap.eq(sorted(os.listdir(root)), ["hookline", "log", "secret"], "the root still holds nothing else")

# ---- FastCGI behind lighttpd, the exec plugin built in ------------------------

ran = os.path.join(work.path, "ran")
os.mkdir(ran)
record = os.path.join(work.path, "record.sh")
with open(record, "w") as f:
    f.write('#!/bin/sh\ncat >"$1/$HOOKLINE_EVENT_ID.json"\n')
os.chmod(record, 0o755)
so = os.path.join(os.environ.get("HOOKLINE_BUILDDIR", "."), "handler", "plugins", ".libs", "exec.so")
pool = {"HOOKLINE_SECRET": secret, "HOOKLINE_LOG": "@DIR@/refused.jsonl"}
srv = Lighttpd({"HOOKLINE_SECRET": secret, "HOOKLINE_LOG": "@DIR@/events.jsonl", "HOOKLINE_PLUGIN": "exec",
                "HOOKLINE_PLUGIN_ARG": "%s %s" % (record, ran)}, procs=2, bin_path=hookline,
               pools={"/so": dict(pool, HOOKLINE_PLUGIN=os.path.abspath(so)),
                      "/redis": dict(pool, HOOKLINE_PLUGIN="redis")})
c = Client(srv.port)
bodies = [event_body(100 + i) for i in range(20)]
got = [c.post("/hook", b, {"X-Hub-Signature": sha1_sig(secret, b)}).status for b in bodies]
tap.eq(got, [200] * 20, "FastCGI: 20 signed events, 200 each")
lines = read_log(srv.path("events.jsonl"))
tap.eq([ln[1]["id"] for ln in lines], [hashlib.sha256(b).hexdigest() for b in bodies],
       "FastCGI: every event's line in the log, in order")
made = {}
for b in bodies:
    path = os.path.join(ran, hashlib.sha256(b).hexdigest() + ".json")
    if os.path.exists(path):
        with open(path, "rb") as f:
            made[path] = f.read() == b
tap.ok(len(made) == 20 and all(made.values()),
       "HOOKLINE_PLUGIN=exec by name: the built-in exec ran the command for each event, body on stdin",
       "%d of 20 files, %d with the body" % (len(made), sum(made.values())))
r = c.post("/hook", bodies[0], {"X-Hub-Signature": sha1_sig(secret, bodies[1])})
tap.eq(r.status, 401, "FastCGI: 401 for a wrong signature")
r = c.post("/so", bodies[0], {"X-Hub-Signature": sha1_sig(secret, bodies[0])})
tap.ok(r.status == 500 and "cannot load %s: %s" % (os.path.abspath(so), REFUSAL) in srv.errors(),
       "FastCGI: a shared object's path gets 500, the reason in the error log",
       (r.status, srv.errors()[-1500:]))
r = c.post("/redis", bodies[0], {"X-Hub-Signature": sha1_sig(secret, bodies[0])})
tap.ok(r.status == 500 and 'no plugin "redis": ' + REFUSAL in srv.errors(),
       "FastCGI: a plugin that is not built in gets 500, the reason in the error log",
       (r.status, srv.errors()[-1500:]))
tap.eq(read_log(srv.path("refused.jsonl")), [], "FastCGI: nothing stored where the plugin was refused")
c.close()
# lighttpd 1.4.69 exits 1 now and then on SIGTERM, whatever it spawned
# (the dynamic build too): as in deploy_lighttpd.py.
tap.ok(srv.stop() in (0, 1), "lighttpd ends on SIGTERM")
tap.ok(secret not in srv.errors(), "no secret in the error log")
tap.done()
