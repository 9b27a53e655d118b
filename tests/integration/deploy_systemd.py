"""systemd socket activation: deploy/systemd/hookline.socket and
hookline.service.in as shipped, nginx in front with
deploy/nginx/hookline.conf.  systemd does not run here, so this test
starts hookline the way systemd would from those very units: it reads
ListenStream=, SocketUser=, SocketGroup= and SocketMode= and creates that
listening Unix socket; it reads ExecStart=, User=, Group= and the
Environment= lines and starts hookline as www-data with only that
environment (plus PATH and LISTEN_FDS/LISTEN_PID), the socket on fd 0
(StandardInput=socket) and on fd 3, standard output and error to a file
standing in for the journal.  The sandboxing lines (ProtectSystem= ...)
are not emulated.  Also: systemd-analyze verify accepts both units, and
the unit that make put in the build tree names the configured sbindir.

Signed events are stored byte for byte, unsigned ones refused; 1 MiB
passes, 2 MiB gets 413; SIGTERM (systemctl stop) ends hookline with
status 0; no secret in the error log, the journal or ps; no sanitizer
report."""

import grp
import os
import pwd
import re
import socket
import stat
import subprocess

from harness import Client, Tap, Workdir
from servers import DEPLOY, Nginx, Site, check_log, one, read_text, standard_events, unit, which

tap = Tap()


# The unit make built: @sbindir@ resolved, nothing else changed.
with open(os.path.join(DEPLOY, "systemd", "hookline.service.in")) as f:
    unit_in = f.read()
built = os.path.join(os.environ.get("HOOKLINE_BUILDDIR", "."), "deploy", "systemd", "hookline.service")
text = read_text(built)
m = re.search(r"^ExecStart=(/\S*)/hookline$", text, re.M)
tap.ok(m is not None and "@" not in text and text == unit_in.replace("@sbindir@", m.group(1)),
       "built hookline.service: ExecStart=%s/hookline, the rest as shipped" % (m.group(1) if m else "?"), text)

site = Site("systemd")
socket_text = site.text("systemd/hookline.socket")
service_text = site.text("systemd/hookline.service.in", values={"@sbindir@/hookline": site.bin})

analyze = which("systemd-analyze")
if analyze is None:
    tap.skip("systemd-analyze verify", "systemd-analyze not installed (Debian package systemd)")
else:
    check = Workdir("hookline-units-")
    for name, body in (("hookline.socket", socket_text), ("hookline.service", service_text)):
        with open(os.path.join(check.path, name), "w") as f:
            f.write(body)
    p = subprocess.run([analyze, "verify", "--man=no", "hookline.socket", "hookline.service"], cwd=check.path,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    tap.ok(p.returncode == 0 and p.stdout.strip() == "", "systemd-analyze verify: both units clean", p.stdout)

sock_unit = unit(socket_text)["Socket"]
svc = unit(service_text)["Service"]
tap.eq((one(svc, "StandardInput"), one(sock_unit, "Accept")), ("socket", "no"),
       "StandardInput=socket, Accept=no: one process gets the listening socket")

# What systemd does for hookline.socket ...
path = one(sock_unit, "ListenStream")
os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lsock.bind(path)
os.chown(path, pwd.getpwnam(one(sock_unit, "SocketUser")).pw_uid, grp.getgrnam(one(sock_unit, "SocketGroup")).gr_gid)
os.chmod(path, int(one(sock_unit, "SocketMode"), 8))
lsock.listen(socket.SOMAXCONN)
st = os.stat(path)
tap.ok(stat.S_ISSOCK(st.st_mode) and oct(st.st_mode & 0o777) == "0o660", "socket %s, mode 0660" % path)

# ... and for hookline.service when the first connection comes.
env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LISTEN_FDS": "1",
       "LISTEN_FDNAMES": "hookline.socket"}
env.update(dict(v.split("=", 1) for k, v in svc if k == "Environment"))
env.update({k: v for k, v in site.env().items() if k.endswith("SAN_OPTIONS")})
journal = site.path("journal")
argv = one(svc, "ExecStart").split()
tap.eq(argv, [site.bin], "ExecStart runs hookline without arguments")
proc = subprocess.Popen(["/bin/sh", "-c", 'exec 3<&0; LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"'] + argv,
                        stdin=lsock.fileno(), stdout=open(journal, "w"), stderr=subprocess.STDOUT, env=env,
                        user=pwd.getpwnam(one(svc, "User")).pw_uid, group=grp.getgrnam(one(svc, "Group")).gr_gid,
                        extra_groups=[], start_new_session=True)
lsock.close()

srv = Nginx(site, site.install("nginx/hookline.conf"))
c = Client(srv.port)
log = site.path("log/events.jsonl")
stored = standard_events(tap, c, "/hook", site.secret, "systemd socket + nginx", port=srv.port)
check_log(tap, log, stored, "systemd socket + nginx")
tap.eq(pwd.getpwuid(os.stat("/proc/%d" % proc.pid).st_uid).pw_name, one(svc, "User"), "hookline runs as User=")

tap.eq(site.secrets_in_ps(), [], "no secret in ps output")
c.close()
tap.eq(srv.stop(), 0, "nginx stops cleanly")
proc.terminate()
try:
    rc = proc.wait(timeout=20)
except subprocess.TimeoutExpired:
    proc.kill()
    rc = proc.wait()
tap.eq(rc, 0, "SIGTERM (systemctl stop) ends hookline with status 0")
err = srv.errors() + read_text(journal)
tap.eq(site.secrets_in(err), [], "no secret in nginx's error log or the journal")
tap.eq(site.sanitizer_reports(), "", "no sanitizer report")
tap.done()
