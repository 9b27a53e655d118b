"""deploy/systemd/hookline-follow@.service.in as shipped, behind hookline
as shipped (deploy/lighttpd/hookline.conf, 4 processes as www-data).

systemd does not run here, so this test starts hookline-follow the way
systemd would start hookline-follow@deploy from the unit: it reads
ExecStart= (%i is the instance), User=, Group=, StateDirectory= and
StateDirectoryMode= (and makes that directory, owned by User=, as
systemd does) and starts it as www-data with only PATH in its
environment, output to a file standing in for the journal; KillMode=mixed
means systemctl stop sends SIGTERM to hookline-follow alone.  Also:
systemd-analyze verify accepts the unit, the unit make put in the build
tree names the configured bindir, and TimeoutStopSec= leaves the
commands their time limit.

Signed events sent to hookline run /etc/hookline/follow/deploy once each,
as www-data, with the event's fields; systemctl stop while a command runs
lets it finish, and hookline-follow exits 0 with the position committed;
started again, it goes on where it stopped; no sanitizer report.
"""

import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import time

from followlib import FOLLOW, Runs, state_offsets, wait_for
from harness import Client, Tap, Workdir, event_body, sha1_sig
from servers import DEPLOY, USER, Lighttpd, Site, one, read_text, unit, which

tap = Tap()
t0 = time.time()
UNIT = "systemd/hookline-follow@.service.in"


with open(os.path.join(DEPLOY, UNIT)) as f:
    unit_in = f.read()
built = os.path.join(os.environ.get("HOOKLINE_BUILDDIR", "."), "deploy", "systemd", "hookline-follow@.service")
text = read_text(built)
m = re.search(r"^ExecStart=(/\S*)/hookline-follow ", text, re.M)
tap.ok(m is not None and "@bindir@" not in text and text == unit_in.replace("@bindir@", m.group(1)),
       "built hookline-follow@.service: ExecStart=%s/hookline-follow, the rest as shipped"
       % (m.group(1) if m else "?"), text[:300])

site = Site("follow")
site.paths["/var/lib/hookline-follow"] = site.path("lib/hookline-follow")
follow_bin = site.path("sbin/hookline-follow")
shutil.copy(FOLLOW, follow_bin)
os.chmod(follow_bin, 0o755)
service_text = site.text(UNIT, values={"@bindir@/hookline-follow": follow_bin})

analyze = which("systemd-analyze")
if analyze is None:
    tap.ok(True, "# SKIP systemd-analyze not installed")
else:
    check = Workdir("hookline-follow-unit-")
    with open(os.path.join(check.path, "hookline-follow@.service"), "w") as f:
        f.write(service_text)
    p = subprocess.run([analyze, "verify", "--man=no", "hookline-follow@.service"], cwd=check.path,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    tap.ok(p.returncode == 0 and p.stdout.strip() == "", "systemd-analyze verify: the unit is clean", p.stdout)

svc = unit(service_text)["Service"]
tap.eq((one(svc, "KillMode"), one(svc, "User"), one(svc, "Group")), ("mixed", USER, USER),
       "KillMode=mixed (SIGTERM to hookline-follow alone), as www-data")
tap.ok(int(one(svc, "TimeoutStopSec")) > 60, "TimeoutStopSec=%s leaves a command its 60 s"
       % one(svc, "TimeoutStopSec"))

# hookline, as shipped for lighttpd.
srv = Lighttpd(site, site.install("lighttpd/hookline.conf"))
log = site.path("log/events.jsonl")

# The command: /etc/hookline/follow/deploy, root:www-data 0750.  It records
# the event and who ran it, and takes a second over a SLOW one.
out = site.path("out")
os.mkdir(out)
shutil.chown(out, USER, USER)
os.makedirs(site.path("etc/follow"))
shutil.chown(site.path("etc/follow"), "root", USER)
os.chmod(site.path("etc/follow"), 0o750)
cmd = site.path("etc/follow/deploy")
with open(cmd, "w") as f:
    f.write('#!/bin/sh\nbody=$(cat)\n[ "$HOOKLINE_EVENT_STATUS" = SLOW ] && sleep 1\n'
            'echo "X $HOOKLINE_EVENT_ID $(id -un) 0 0 0 ${#body} 0" >> %s/runs\n' % out)
shutil.chown(cmd, "root", USER)
os.chmod(cmd, 0o750)

# What systemd does for hookline-follow@deploy: StateDirectory=, then
# ExecStart= as User= with the unit's environment.
state_top = site.path("lib/hookline-follow")
os.makedirs(state_top)
state = os.path.join(state_top, "deploy")
os.mkdir(state, int(one(svc, "StateDirectoryMode"), 8))
shutil.chown(state, USER, USER)
tap.eq(one(svc, "StateDirectory"), "hookline-follow/%i", "StateDirectory=hookline-follow/%i")
argv = one(svc, "ExecStart").replace("%i", "deploy").split()
tap.eq(argv, [follow_bin, "--state", state, log, "--", cmd], "ExecStart: the instance's state and command")
journal = site.path("journal")


def start():
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=open(journal, "a"), stderr=subprocess.STDOUT,
                            env=site.env({"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}),
                            user=pwd.getpwnam(one(svc, "User")).pw_uid,
                            group=grp.getgrnam(one(svc, "Group")).gr_gid, extra_groups=[],
                            start_new_session=True)


proc = start()
c = Client(srv.port)
sent = []
for i in range(20):
    b = event_body(i, status="SLOW" if i == 19 else "JOB_COMPLETED")
    r = c.post("/hook", b, {"X-Hub-Signature": sha1_sig(site.secret, b)})
    if r.status == 200:
        sent.append(r.json()["id"])
tap.eq(len(sent), 20, "hookline stored 20 events (and answered at once)")
ok = wait_for(lambda: len(Runs(os.path.join(out, "runs")).ends) >= 19, 20)
runs = Runs(os.path.join(out, "runs"))
tap.ok(ok and runs.ids() == sent[:19], "the command ran once for each event, in order")
with open(os.path.join(out, "runs")) as f:
    users = {ln.split()[2] for ln in f}
tap.eq(users, {USER}, "as www-data")
# systemctl stop while the SLOW event's command runs (KillMode=mixed).
time.sleep(0.3)
t = time.time()
proc.send_signal(signal.SIGTERM)
try:
    rc = proc.wait(timeout=int(one(svc, "TimeoutStopSec")))
except subprocess.TimeoutExpired:
    proc.kill()
    rc = proc.wait()
took = time.time() - t
runs = Runs(os.path.join(out, "runs"))
tap.eq(rc, 0, "systemctl stop: hookline-follow exits 0")
tap.ok(runs.ids() == sent and took >= 0.5, "the running command finished first (%.1f s)" % took)
tap.eq(state_offsets(state).get(log), os.path.getsize(log), "and the position is committed")
st = os.stat(os.path.join(state, "state"))
tap.eq((pwd.getpwuid(st.st_uid).pw_name, oct(st.st_mode & 0o777)), (USER, "0o600"),
       "the state belongs to www-data, mode 0600")
b = event_body(99)
r = c.post("/hook", b, {"X-Hub-Signature": sha1_sig(site.secret, b)})
proc = start()
ok = wait_for(lambda: len(Runs(os.path.join(out, "runs")).ends) == 21, 10)
tap.ok(ok and r.status == 200 and Runs(os.path.join(out, "runs")).ids() == sent + [r.json()["id"]],
       "started again: the event sent meanwhile ran, nothing twice")
proc.send_signal(signal.SIGTERM)
tap.eq(proc.wait(timeout=30), 0, "stopped again: exit 0")
c.close()
srv.stop()
tap.eq(site.secrets_in(read_text(journal)), [], "no secret in the journal")
tap.eq(site.sanitizer_reports(), "", "no sanitizer report")
print("# time: %.1f s" % (time.time() - t0))
tap.done()
