"""hookline on a fresh Debian machine, the way a new user meets it.

In a root with nothing but git (freshroot.py), for one release:

1. the README's first command: clone the repository, run scripts/serve,
   run the curl command it prints (200, the event's id) and the jq
   command that reads the event back; Ctrl-C (SIGINT to its process
   group, as a terminal sends it) stops it and leaves no process behind;
2. the Debian package: dpkg-buildpackage -us -uc -b in that clone (after
   apt-get build-dep), and lintian on the result: no error, no warning
   that is not overridden with a reason;
3. in a second fresh root, the package as an Apache admin installs it:
   apt install ./hookline_*.deb apache2 libapache2-mod-fcgid; the secret
   it generated (root:www-data 0640) and said so; nothing enabled; then
   a2enconf, Apache started, a signed event: 200 and in
   /var/log/hookline/; Apache's own 413 is JSON; hookline-jetstream and
   hookline-postgres install and hookline loads each plugin by name,
   then they are purged; docs/deploy.md walked
   section by section, its commands as written; then remove and purge
   leave nothing of the package behind but the event logs;
4. in a third fresh root, the README's "Building by hand" commands as
   written: make check passes, and what cannot run without the servers
   and tools that scripts/check would install is a SKIP with its reason.

Apache in the root is stopped by policy-rc.d while packages install (the
root shares the host's network) and listens on 127.0.0.1 at a free port:
the only changes the test makes to what a user would do.  A release whose
root cannot be made here (no root, no namespaces, no network for the first
download) is a SKIP with the reason.
"""

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# tests/integration is on the PYTHONPATH that make check sets; freshroot
# is beside this file.
import deploy_docs  # noqa: E402
import freshroot  # noqa: E402
from harness import Client, Response, Tap, free_port, sha1_sig, skip  # noqa: E402
from servers import MIB, sized_event  # noqa: E402

APT = "DEBIAN_FRONTEND=noninteractive "
SAMPLE = "tests/vectors/hotglue-job-completed.json"


def serve(tap, root, rel):
    """Step 1: scripts/serve, the command it prints, Ctrl-C."""
    port = free_port()
    t0 = time.time()
    proc = root.popen("cd %s && exec scripts/serve" % freshroot.CLONE, env={"PORT": str(port)})
    found, out = freshroot.wait_output(proc, "Ctrl-C stops it.", 1800)
    if not tap.ok(found, "Debian %s: scripts/serve installs, builds and serves (%d s)" % (rel, time.time() - t0),
                  out[-3000:]):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return
    lines = out.splitlines()
    where = [i for i, ln in enumerate(lines) if ln.startswith("send a signed sample hotglue event, from ")]
    reads = [i for i, ln in enumerate(lines) if ln.startswith("and read it back:")]
    tap.ok(where and reads, "it prints the command to send a signed event and the one to read it back", out)
    if where and reads:
        cwd = lines[where[0]][len("send a signed sample hotglue event, from "):].rstrip(":")
        curl = lines[where[0] + 1].strip()
        jq = lines[reads[0] + 1].strip()
        rc, answer = root.run("cd %s && %s" % (cwd, curl), timeout=120)
        with open(root.path(os.path.join(freshroot.CLONE, SAMPLE)), "rb") as f:
            sample = f.read()
        want = {"ok": True, "id": hashlib.sha256(sample).hexdigest()}
        tap.ok(rc == 0 and _json(answer) == want, "Debian %s: the printed curl command: stored, the event's id"
               % rel, "%s\nexit %s: %s" % (curl, rc, answer))
        # The status itself, which curl -sS does not show.
        with open(root.path(os.path.join(cwd, "var/secret"))) as f:
            secret = f.read()
        r = _post(port, sample, secret, seconds=5)
        tap.eq(r.status, 200, "Debian %s: the same event signed with var/secret: 200" % rel)
        rc, got = root.run("cd %s && %s" % (cwd, jq), timeout=60)
        records = [_json(ln) for ln in got.splitlines()]
        tap.ok(rc == 0 and len(records) == 2 and all(r and r.get("status") == "JOB_COMPLETED" for r in records),
               "Debian %s: the printed jq command reads both events back" % rel, "exit %s: %s" % (rc, got))
    os.killpg(proc.pid, signal.SIGINT)
    try:
        rc = proc.wait(timeout=60)
    except Exception:
        rc = None
    _, rest = freshroot.wait_output(proc, "\0", 5)
    tap.ok(rc == 0 and "stopped" in rest, "Debian %s: Ctrl-C stops scripts/serve (exit %s)" % (rel, rc), rest)
    if rc is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    left = _settle(root)
    tap.eq(left, [], "Debian %s: Ctrl-C leaves no process behind" % rel)


def build_package(tap, root, rel):
    """Step 2: dpkg-buildpackage and lintian; returns the .deb paths."""
    t0 = time.time()
    block = [text for lang, text in _sections(root)["The package"] if lang == "sh"][0]
    rc, out = root.run("cd /root && set -e && " + block, env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=2400)
    debs = sorted(n for n in os.listdir(root.path("root")) if n.endswith(".deb"))
    tap.ok(rc == 0 and all(any(n.startswith(p + "_") for n in debs)
                           for p in ("hookline", "hookline-dev", "hookline-jetstream", "hookline-postgres")),
           "Debian %s: docs/deploy.md's package commands, as written: %s (%d s)"
           % (rel, " ".join(debs), time.time() - t0),
           out[-3000:])
    rc, out = root.run("%sapt-get install -y -qq --no-install-recommends lintian >/tmp/lintian-apt.log 2>&1 "
                       "|| { tail -20 /tmp/lintian-apt.log; exit 1; }; cd /root && "
                       "lintian --pedantic -I --show-overrides hookline_*.changes" % APT, timeout=1200)
    shown = [ln for ln in out.splitlines() if ln.strip() and "running with root privileges" not in ln]
    for ln in shown:
        print("# lintian (Debian %s): %s" % (rel, ln))
    bad = [ln for ln in shown if re.match(r"[EW]: ", ln)]
    tap.ok(rc == 0 and not bad, "Debian %s: lintian: no error, no warning without an override" % rel,
           "exit %s\n%s" % (rc, "\n".join(bad)))
    return [root.path("root/" + n) for n in debs]


def install(tap, root, rel, debs):
    """Step 3: the package in a fresh root, behind Apache; then purge."""
    for d in debs:
        shutil.copy(d, root.path("root"))
    _policy_rc_d(root)
    rc, out = root.run("cd /root && %sapt install -y ./hookline_*.deb apache2 libapache2-mod-fcgid" % APT,
                       timeout=1800)
    tap.ok(rc == 0, "Debian %s: apt install ./hookline_*.deb apache2 libapache2-mod-fcgid" % rel, out[-3000:])
    if rc != 0:
        return
    said = [ln for ln in out.splitlines() if ln.startswith("hookline:")]
    tap.ok(any("/etc/hookline/secret" in ln for ln in said), "Debian %s: the package says where the secret is"
           % rel, "\n".join(said))
    tap.eq(_owner(root, "etc/hookline/secret"), ("root", "www-data", "0o640"),
           "Debian %s: /etc/hookline/secret is root:www-data 0640" % rel)
    tap.eq(_owner(root, "etc/hookline"), ("root", "www-data", "0o750"), "Debian %s: /etc/hookline is 0750" % rel)
    tap.eq(_owner(root, "var/log/hookline"), ("www-data", "www-data", "0o750"),
           "Debian %s: /var/log/hookline belongs to www-data" % rel)
    enabled = [p for p in ("etc/apache2/conf-enabled/hookline.conf",
                           "etc/apache2/conf-enabled/hookline-proxy-fcgi.conf",
                           "etc/lighttpd/conf-enabled/50-hookline.conf",
                           "etc/systemd/system/sockets.target.wants/hookline.socket")
               if os.path.lexists(root.path(p))]
    tap.eq(enabled, [], "Debian %s: nothing enabled by the installation" % rel)
    rc, out = root.run("dpkg -L hookline", timeout=60)
    files = out.split()

    port = free_port()
    with open(root.path("etc/apache2/ports.conf"), "w") as f:
        f.write("Listen 127.0.0.1:%d\n" % port)
    rc, out = root.run("a2enmod headers && a2enconf hookline && apache2ctl start", timeout=120)
    tap.ok(rc == 0, "Debian %s: a2enmod headers, a2enconf hookline, Apache starts" % rel, out)
    with open(root.path("etc/hookline/secret")) as f:
        secret = f.read().strip()
    body = b'{"status":"JOB_COMPLETED","job_id":"fresh-%s"}' % rel.encode()
    r = _post(port, body, secret)
    errlog = root.path("var/log/apache2/error.log")
    tap.ok(r.status == 200 and _json(r.body) == {"ok": True, "id": hashlib.sha256(body).hexdigest()},
           "Debian %s: a signed event: 200" % rel, (r.status, r.body[:300], _read(errlog)[-2000:]))
    logged = _read(root.path("var/log/hookline/events.jsonl"))
    tap.ok(body in logged, "Debian %s: the event is in /var/log/hookline/events.jsonl" % rel, logged[-600:])
    r = _post(port, sized_event(2 * MIB), secret)
    tap.eq((r.status, r.headers.get("content-type"), _json(r.body)),
           (413, "application/json", {"error": "body too large"}), "Debian %s: Apache's own 413 is JSON" % rel)
    rc, out = root.run("apache2ctl stop", timeout=120)
    left = _settle(root)
    tap.eq(left, [], "Debian %s: Apache stopped, no process left" % rel)
    plugin_packages(tap, root, rel)

    walk(tap, root, rel)

    rc, out = root.run("%sapt-get remove -y hookline" % APT, timeout=600)
    tap.ok(rc == 0 and not os.path.lexists(root.path("usr/sbin/hookline"))
           and not os.path.lexists(root.path("etc/apache2/conf-enabled/hookline.conf")),
           "Debian %s: apt-get remove: the programs are gone, the Apache conf is disabled" % rel, out[-2000:])
    rc, out = root.run("%sapt-get purge -y hookline" % APT, timeout=600)
    tap.ok(rc == 0, "Debian %s: apt-get purge hookline" % rel, out[-2000:])
    rc, out = root.run("apache2ctl configtest", timeout=60)
    tap.ok(rc == 0, "Debian %s: Apache's configuration is still valid" % rel, out)
    left = _leftovers(root, files)
    tap.eq(left, [], "Debian %s: purge leaves nothing of the package but the event logs" % rel)
    kept = b"".join(_read(p) for p in glob.glob(root.path("var/log/hookline/events.jsonl*")))
    tap.ok(body in kept, "Debian %s: the event log is kept" % rel, os.listdir(root.path("var/log/hookline")))


def plugin_packages(tap, root, rel):
    """hookline-jetstream and hookline-postgres install with their
    libraries, and hookline loads each plugin by name (no server runs:
    jetstream's init succeeds and reconnects later, postgres's refuses an
    argument without table=, in its own words)."""
    rc, out = root.run("cd /root && %sapt install -y ./hookline-jetstream_*.deb ./hookline-postgres_*.deb" % APT,
                       timeout=1800)
    tap.ok(rc == 0, "Debian %s: apt install ./hookline-jetstream_*.deb ./hookline-postgres_*.deb" % rel, out[-3000:])
    env = "HOOKLINE_SECRET=x HOOKLINE_LOG=/tmp/check.jsonl"
    rc, out = root.run("%s HOOKLINE_PLUGIN=jetstream HOOKLINE_PLUGIN_ARG='servers=nats://127.0.0.1:1 "
                       "subject=x stream=X' hookline --check 2>&1" % env, timeout=120)
    tap.ok("plugin jetstream loaded and initialised" in out, "Debian %s: HOOKLINE_PLUGIN=jetstream loads" % rel, out)
    rc, out = root.run("%s HOOKLINE_PLUGIN=postgres HOOKLINE_PLUGIN_ARG='dbname=x' hookline --check 2>&1" % env,
                       timeout=120)
    tap.ok("plugin postgres: HOOKLINE_PLUGIN_ARG: table= is required" in out,
           "Debian %s: HOOKLINE_PLUGIN=postgres loads" % rel, out)
    rc, out = root.run("%sapt-get purge -y hookline-jetstream hookline-postgres" % APT, timeout=600)
    tap.ok(rc == 0 and not glob.glob(root.path("usr/lib/*/hookline/jetstream.so"))
           and not glob.glob(root.path("usr/lib/*/hookline/postgres.so")),
           "Debian %s: apt-get purge hookline-jetstream hookline-postgres" % rel, out[-2000:])


# systemctl for a root without systemd, for the walk: it starts the web
# servers as Debian's units would, but on 127.0.0.1 at the walk's port
# (the root shares the host's network), after the section's commands
# have set them up.
SYSTEMCTL = r"""#!/bin/sh
# tests/fresh: systemctl in a root without systemd (see fresh.py)
set -e
port=${HOOKLINE_WALK_PORT:?}
unit=${2%.service}
case $unit in
apache2)
	echo "Listen 127.0.0.1:$port" >/etc/apache2/ports.conf
	exec apache2ctl restart ;;
nginx)
	sed -i -E "/listen \[::\]/d; s/^(\s*)listen [0-9.:]+( default_server)?;/\1listen 127.0.0.1:$port\2;/" \
		/etc/nginx/sites-available/default
	if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
		exec nginx -s reload
	fi
	exec nginx ;;
lighttpd)
	sed -i -E "s/^server.port\s*=.*/server.port = $port/; /use-ipv6/d" /etc/lighttpd/lighttpd.conf
	grep -q '^server.bind' /etc/lighttpd/lighttpd.conf || echo 'server.bind = "127.0.0.1"' >>/etc/lighttpd/lighttpd.conf
	install -d -o www-data -g www-data -m 0750 /run/lighttpd
	if [ -s /run/lighttpd.pid ]; then
		kill "$(cat /run/lighttpd.pid)" 2>/dev/null || true
		sleep 1
	fi
	exec lighttpd -f /etc/lighttpd/lighttpd.conf ;;
esac
echo "systemctl: $*: no systemd in this root" >&2
exit 1
"""

# What the walk undoes before a section that starts afresh: the servers
# stopped, the snippets disabled, the nginx include taken out again.
RESET = r"""
apache2ctl stop 2>/dev/null || true
[ -s /run/nginx.pid ] && nginx -s stop 2>/dev/null || true
[ -s /run/lighttpd.pid ] && kill "$(cat /run/lighttpd.pid)" 2>/dev/null || true
[ -s /run/hookline/hookline.pid ] && kill $(cat /run/hookline/hookline.pid) 2>/dev/null || true
for c in hookline hookline-proxy-fcgi hookline-fcgid-sites; do
	[ -e /etc/apache2/conf-enabled/$c.conf ] && a2disconf -q $c
done
[ -e /etc/lighttpd/conf-enabled/50-hookline.conf ] && lighty-disable-mod hookline >/dev/null
site=/etc/nginx/sites-available/default
[ -e $site ] && sed -i '/include snippets\/hookline.conf;/d' $site
true
"""


# The files docs/deploy.md has the admin make, the admin's and not the
# package's: removed after the walk, before the package is purged.
UNDO = r"""
rm -f /usr/local/sbin/hookline-sites /usr/local/sbin/hookline-spawn-fcgi /etc/hookline/site-a.secret \
	/etc/hookline/site-b.secret /etc/apache2/conf-available/hookline-fcgid-sites.conf \
	/var/lib/apache2/conf/disabled_by_admin/hookline-fcgid-sites
"""


def _sections(root):
    with open(root.path(os.path.join(freshroot.CLONE, "docs/deploy.md"))) as f:
        return deploy_docs.sections(f.read())


def walk(tap, root, rel):
    """docs/deploy.md's sections, their sh blocks run as written from
    /root (where the packages are), each block with bash -e; the checks
    must store their event.  curl reaches "localhost" at the walk's port
    (~/.curlrc) and systemctl is the shim above: the only stand-ins."""
    with open(os.path.join(os.path.dirname(HERE), "..", "docs", "deploy.md")) as f:
        secs = deploy_docs.sections(f.read())
    port = free_port()
    with open(root.path("usr/local/sbin/systemctl"), "w") as f:
        f.write(SYSTEMCTL)
    os.chmod(root.path("usr/local/sbin/systemctl"), 0o755)
    with open(root.path("root/.curlrc"), "w") as f:
        f.write('connect-to = "localhost:80:127.0.0.1:%d"\n' % port)
    env = {"HOOKLINE_WALK_PORT": str(port), "DEBIAN_FRONTEND": "noninteractive"}
    for title, _, how in deploy_docs.SETUPS:
        if how not in ("reset", "keep"):
            tap.skip("Debian %s: docs/deploy.md, %s, as written" % (rel, title), how)
            continue
        if how == "reset":
            root.run(RESET, timeout=120)
            _settle(root, 10)
        t0 = time.time()
        for lang, block in secs[title]:
            if lang != "sh":
                continue
            rc, out = root.run("cd /root && set -e\n" + block, env=env, timeout=900)
            m = deploy_docs.CHECK.search(block)
            if m is None:
                ok = tap.ok(rc == 0, "Debian %s: %s: %s" % (rel, title, block.splitlines()[0]), out[-3000:])
            else:
                job = re.search(r'"job_id":"([^"]+)"', block).group(1)
                lines = out.splitlines()
                ok = tap.ok(rc == 0 and len(lines) >= 2 and lines[-2].startswith('{"ok":true,"id":"')
                            and '"job_id":"%s"' % job in lines[-1],
                            "Debian %s: %s: the check stores its event (%d s)" % (rel, title, time.time() - t0),
                            out[-3000:])
            if not ok:
                break
    root.run(RESET + UNDO, timeout=120)
    tap.eq(_settle(root), [], "Debian %s: the walk's servers stopped, no process left" % rel)


def by_hand(tap, root, rel):
    """Step 4: the README's "Building by hand" commands, as written, in a
    fresh clone: the build and make check pass, every test that cannot
    run without the web servers and tools scripts/check installs is a
    SKIP with its reason, none fails."""
    with open(os.path.join(HERE, "..", "..", "README.md")) as f:
        readme = f.read()
    m = re.search(r"^Building by hand, on Debian 12 or 13, as root:\n\n((?:    .*\n)+)", readme, re.M)
    if not tap.ok(m is not None, "Debian %s: the README's building-by-hand commands" % rel):
        return
    block = "".join(ln[4:] for ln in m.group(1).splitlines(True))
    root.clone()
    t0 = time.time()
    rc, out = root.run("cd %s && set -e\n%s" % (freshroot.CLONE, block), timeout=2400,
                       env={"DEBIAN_FRONTEND": "noninteractive"})
    summary = dict(re.findall(r"^# (TOTAL|PASS|SKIP|FAIL|ERROR|XPASS): +(\d+)$", out, re.M))
    tap.ok(rc == 0 and summary.get("FAIL") == "0" and summary.get("ERROR") == "0",
           "Debian %s: the README's build by hand passes (%d s): %s" % (rel, time.time() - t0, summary),
           out[-3000:])
    skips = [ln for ln in out.splitlines() if ln.startswith("SKIP: ")]
    reasons = {}
    for ln in skips:
        m = re.match(r"SKIP: (\S+) - (.+)$", ln) or re.match(r"SKIP: (\S+) \d+ (?:- .*)?# SKIP (?:the rest: )?(.+)$", ln)
        if m:
            reasons.setdefault(m.group(2).strip(), []).append(os.path.basename(m.group(1)))
    for reason, tests in sorted(reasons.items()):
        print("# skipped with build dependencies only (Debian %s): %s: %s"
              % (rel, reason, " ".join(sorted(set(tests)))))
    tap.ok(skips and sum(len(t) for t in reasons.values()) == len(skips),
           "Debian %s: what cannot run there is a SKIP with its reason (%d)" % (rel, len(skips)),
           "\n".join(skips))


def _post(port, body, secret, seconds=30):
    """POSTs a signed body once the server answers; a Response whose
    status is 0 when it never did (the error as its body)."""
    deadline = time.time() + seconds
    while True:
        c = Client(port, timeout=60)
        try:
            return c.post("/hook", body, {"X-Hub-Signature": sha1_sig(secret, body)})
        except OSError as e:
            if time.time() > deadline:
                return Response(0, {}, repr(e).encode())
            time.sleep(0.5)
        finally:
            c.close()


def _leftovers(root, files):
    """What of the package is still in the root: paths named after it
    (but the event logs), its files, and mentions of it in /etc."""
    left = []
    skip = {"proc", "sys", "dev", "run", "tmp", "root", "var/cache/apt", "var/lib/apt/lists", "var/log/apt"}
    for top, dirs, names in os.walk(root.dir):
        rel = os.path.relpath(top, root.dir)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel, d)) not in skip]
        for n in dirs + names:
            p = os.path.normpath(os.path.join(rel, n))
            if "hookline" in n and not (p == "var/log/hookline" or p.startswith("var/log/hookline/")):
                left.append("/" + p)
    for f in files:
        p = root.path(f)
        if os.path.lexists(p) and not os.path.isdir(p):
            left.append(f)
    rc, out = root.run("grep -rl hookline /etc || true", timeout=120)
    left += ["mentioned in " + ln for ln in out.split()]
    return sorted(set(left))


def _policy_rc_d(root):
    with open(root.path("usr/sbin/policy-rc.d"), "w") as f:
        f.write("#!/bin/sh\n# tests/fresh: no service starts in a root that shares the host's network\nexit 101\n")
    os.chmod(root.path("usr/sbin/policy-rc.d"), 0o755)


def _owner(root, rel):
    """(user, group, mode) of a path in the root, by the root's own names."""
    try:
        st = os.stat(root.path(rel))
    except OSError as e:
        return str(e)
    names = {}
    for db in ("passwd", "group"):
        with open(root.path("etc/" + db)) as f:
            names[db] = {int(ln.split(":")[2]): ln.split(":")[0] for ln in f if ln.count(":") >= 3}
    return (names["passwd"].get(st.st_uid, st.st_uid), names["group"].get(st.st_gid, st.st_gid),
            oct(st.st_mode & 0o777))


def _settle(root, seconds=20):
    """The processes left in the namespace, once they had a moment to go."""
    deadline = time.time() + seconds
    left = root.processes()
    while left and time.time() < deadline:
        time.sleep(0.2)
        left = root.processes()
    return left


def _json(text):
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def main(rel):
    try:
        root = freshroot.run(rel)
    except freshroot.Unavailable as e:
        print("1..0 # SKIP no fresh Debian %s root: %s" % (rel, e))
        sys.exit(0)
    # The packages come from the network (or apt's cache in the cache
    # directory, but the lists are refreshed first): without it, no test.
    rc, out = root.run("apt-get update -qq --error-on=any", timeout=600)
    if rc != 0:
        said = [ln.strip() for ln in out.splitlines() if ln.startswith(("W:", "E:"))] or [out.strip() or "no output"]
        skip("apt-get update fails in the Debian %s root (no network?): %s" % (rel, said[0]))
    tap = Tap()
    n = root.clone()
    if n:
        print("# the clone is HEAD plus %d uncommitted files of the working tree" % n)
    serve(tap, root, rel)
    debs = build_package(tap, root, rel)
    if debs:
        install(tap, root.sibling(), rel, debs)
    by_hand(tap, root.sibling(), rel)
    tap.done()
