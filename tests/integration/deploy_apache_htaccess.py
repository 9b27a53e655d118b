"""Shared hosting: Apache 2.4 (mpm_event) runs hookline as a CGI program
from a user's directory, configured only by what the user may write:
deploy/apache/htaccess and deploy/cgi/hookline.conf as shipped (paths
replaced, nothing else) next to a copy of the binary.  The server grants
what Debian's userdir.conf grants plus Options=ExecCGI, as shared hosts
do; nothing in its configuration names hookline.  Both CGI modules: mod_cgi,
and mod_cgid (which Debian's "a2enmod cgi" picks under mpm_event).  Each
twice, the way docs/deploy.md tells the user to set it up:

- with suEXEC (apache2-suexec-pristine; the URL /~user/ runs the program
  as the user): suEXEC drops every SetEnv, hookline.conf (0600) decides;
  the log is the user's own;
- without suEXEC (the same directory through an Alias: the program runs
  as www-data): the .htaccess SetEnv lines decide, and ACLs the user sets
  let www-data read the secret and write the log's directory, and the
  user read the log www-data writes.

Signed events are stored byte for byte, unsigned ones refused, 1 MiB
passes, 2 MiB gets hookline's own 413 and a chunked body its 411 (the
body refused unread is read before the answer, or mod_cgid would drop
it); the user can read the log; the secret file and the log live outside
the document root and no URL serves them, nor the .htaccess nor
hookline.conf; no secret in the error log or ps; no sanitizer report."""

import os
import pwd
import secrets
import shutil
import subprocess

from harness import BIN, Client, Tap, read_log, sha1_sig
from servers import MIB, Apache, Site, check_log, chunked_post, sized_event, standard_events, which

SUEXEC = "/usr/lib/apache2/suexec"
SERVER = """
UserDir %(home)s/*/public_html
<Directory "%(home)s/*/public_html">
    AllowOverride FileInfo AuthConfig Limit Indexes Options=ExecCGI
    Options MultiViews Indexes SymLinksIfOwnerMatch IncludesNoExec
    Require method GET POST OPTIONS
</Directory>
"""
# Without suEXEC: the same directory, mapped by an Alias (no user identity).
ALIAS = 'Alias "/~%(user)s" "%(home)s/%(user)s/public_html"\n'

tap = Tap()
suexec_ok = os.path.exists(SUEXEC) and os.stat(SUEXEC).st_mode & 0o4000 and os.stat(SUEXEC).st_uid == 0
if os.geteuid() != 0 or not which("useradd") or not which("setfacl"):
    print("1..0 # SKIP needs root, useradd and setfacl (acl) to make a shared-hosting user")
    raise SystemExit(0)


def as_user(user, script):
    """Runs a shell script as the user, in their home; returns the output."""
    p = subprocess.run(["su", "-s", "/bin/sh", user.pw_name, "-c", "cd && " + script], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


def make_user(site):
    name = "hl" + secrets.token_hex(4)
    home = site.path("home/" + name)
    subprocess.run(["useradd", "--home-dir", home, "--no-create-home", "--shell", "/bin/sh", name], check=True)
    os.makedirs(home)
    user = pwd.getpwnam(name)
    os.chown(home, user.pw_uid, user.pw_gid)
    os.chmod(home, 0o711)
    return user, home


for suexec in ((True, False) if suexec_ok else (False,)):
    for module in ("cgi", "cgid"):
        label = "mod_%s + .htaccess, %s" % (module, "suEXEC" if suexec else "no suEXEC")
        site = Site("htaccess-" + module)
        os.makedirs(site.path("home"), mode=0o755)
        user, home = make_user(site)
        try:
            values = {"/home/alice": home}
            # What the user does, in their shell (docs/deploy.md).
            setup = ("mkdir -p public_html/hooks hookline && chmod 755 public_html public_html/hooks && "
                     "chmod 700 hookline && (umask 077; cat >hookline/secret) && ")
            if not suexec:
                setup += ("setfacl -m u:www-data:r hookline/secret && "
                          "setfacl -m u:www-data:rwx hookline && setfacl -d -m u:$(id -un):rw hookline && ")
            setup += "true"
            p = subprocess.run(["su", "-s", "/bin/sh", user.pw_name, "-c", "cd && " + setup],
                               input=(site.secret + "\n").encode(), timeout=60)
            tap.eq(p.returncode, 0, "%s: the user's set-up commands" % label)
            hooks = os.path.join(home, "public_html", "hooks")
            prog = os.path.join(hooks, "hookline.cgi")
            shutil.copy(BIN, prog)
            shutil.copy(site.install("apache/htaccess", values=values), os.path.join(hooks, ".htaccess"))
            files = [prog, os.path.join(hooks, ".htaccess")]
            if suexec:
                shutil.copy(site.install("cgi/hookline.conf", values=values), os.path.join(hooks, "hookline.conf"))
                files.append(os.path.join(hooks, "hookline.conf"))
            for f in files:
                os.chown(f, user.pw_uid, user.pw_gid)
            os.chmod(prog, 0o755)
            os.chmod(os.path.join(hooks, ".htaccess"), 0o644)
            if suexec:
                os.chmod(os.path.join(hooks, "hookline.conf"), 0o600)
            # With the settings the web server gives it (docs/deploy.md).
            env = "" if suexec else ("HOOKLINE_SECRET_FILE=$HOME/hookline/secret "
                                     "HOOKLINE_LOG=$HOME/hookline/events.jsonl ")
            rc, out = as_user(user, "cd public_html/hooks && %s./hookline.cgi --check" % env)
            tap.ok(rc == 0 and "usable" in out and site.secret not in out,
                   "%s: ./hookline.cgi --check in the user's shell: usable" % label, out)

            body = SERVER % {"home": site.path("home")}
            mods = ["authz_core", "env", "mime", "userdir", module]
            if not suexec:
                body = ALIAS % {"user": user.pw_name, "home": site.path("home")} + body
                mods.append("alias")
            srv = Apache(site, mods, body=body)
            c = Client(srv.port)
            url = "/~%s/hooks/hookline.cgi" % user.pw_name
            log = os.path.join(home, "hookline", "events.jsonl")
            # Apache hands a CGI program no CONTENT_LENGTH for a chunked body.
            stored = standard_events(tap, c, url, site.secret, label, chunked=411, port=srv.port)
            # The 2 MiB body again, three times, each with its own slice of
            # the error log: hookline answers before reading it, then reads it.
            drained = []
            for i in range(3):
                before = len(srv.errors())
                big = sized_event(2 * MIB, "drain-%d" % i)
                try:
                    r = c.post(url, big, {"X-Hub-Signature": sha1_sig(site.secret, big)})
                except OSError as e:  # the answer lost: what mod_cgid does without the drain
                    drained.append(repr(e))
                    c.close()
                    continue
                after = srv.errors()[before:]
                drained.append(r.status == 413 and r.json() == {"error": "body too large"}
                               and "413 body too large" in after and "Error writing request body" not in after)
            tap.ok(drained == [True] * 3, "%s: 2 MiB refused with hookline's 413, the body read to its end" % label,
                   drained)
            chunk = sized_event(300 * 1024, "chunked")
            tap.eq([chunked_post(srv.port, url, chunk, {"X-Hub-Signature": sha1_sig(site.secret, chunk)})
                    for i in range(3)], [411] * 3, "%s: chunked 300 KiB: hookline's 411, every time" % label)
            owner = user.pw_name if suexec else "www-data"
            check_log(tap, log, stored, label, owner=owner)
            rc, out = as_user(user, "wc -l <hookline/events.jsonl")
            tap.ok(rc == 0 and out.strip() == str(len(stored)),
                   "%s: the user reads their log (%s lines)" % (label, out.strip()), out)
            tap.eq(os.path.commonpath([log, os.path.join(home, "public_html")]), home,
                   "%s: the log is outside the document root" % label)

            leaked = []
            base = "/~%s" % user.pw_name
            for path in ("/hookline/events.jsonl", "/../hookline/events.jsonl", "/hooks/../../hookline/events.jsonl",
                         "/hooks/%2e%2e/%2e%2e/hookline/events.jsonl", "/hooks/..%2f..%2fhookline/events.jsonl",
                         "/hookline/secret", "/hooks/.htaccess", "/hooks/hookline.conf", "/hooks/"):
                r = c.request("GET", base + path)
                if r.status == 200 or b"job-0000" in r.body or site.secret.encode() in r.body \
                        or b"HOOKLINE_SECRET_FILE" in r.body:
                    leaked.append((path, r.status, r.body[:200]))
            tap.eq(leaked, [], "%s: no URL serves the log, the secret, the .htaccess or hookline.conf" % label)
            tap.eq(site.secrets_in_ps(), [], "%s: no secret in ps output" % label)
            c.close()
            tap.eq(srv.stop(), 0, "%s: Apache stops cleanly" % label)
            err = srv.errors()
            tap.eq(site.secrets_in(err), [], "%s: no secret in Apache's error log" % label)
            tap.eq(len(read_log(log)), len(stored), "%s: nothing else logged" % label)
            tap.eq(site.sanitizer_reports(), "", "%s: no sanitizer report" % label)
        finally:
            site.kill_leftovers()
            subprocess.run(["userdel", user.pw_name], stderr=subprocess.DEVNULL)
if not suexec_ok:
    tap.skip("the suEXEC variant", "%s is not installed setuid root (Debian package apache2-suexec-pristine)"
             % SUEXEC)
tap.done()
