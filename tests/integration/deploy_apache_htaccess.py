"""Shared hosting: Apache 2.4 (mpm_event) runs hookline as a CGI program
from a user directory, configured only by deploy/apache/htaccess as
shipped (paths replaced, nothing else) next to a copy of the binary.  The
server grants what Debian's userdir.conf grants plus Options=ExecCGI, as
shared hosts do; nothing in its configuration names hookline.  Both CGI
modules: mod_cgi, and mod_cgid (which Debian's "a2enmod cgi" picks under
mpm_event).

Signed events are stored byte for byte, unsigned ones refused, 1 MiB
passes, 2 MiB gets hookline's own 413 and a chunked body its 411 (the
body refused unread is read before the answer, or mod_cgid would drop
it); the secret file and the log live
outside the document root and no URL serves them; the .htaccess is not
served either; no secret in the error log or ps; no sanitizer report."""

import os
import shutil

from harness import BIN, Client, Tap, read_log, sha1_sig
from servers import MIB, USER, Apache, Site, _chown, check_log, chunked_post, sized_event, standard_events

SERVER = """
UserDir %(home)s/*/public_html
<Directory "%(home)s/*/public_html">
    AllowOverride FileInfo AuthConfig Limit Indexes Options=ExecCGI
    Options MultiViews Indexes SymLinksIfOwnerMatch IncludesNoExec
    Require method GET POST OPTIONS
</Directory>
"""

tap = Tap()
for module in ("cgi", "cgid"):
    site = Site("htaccess-" + module)
    home = site.path("home/alice")
    hooks = os.path.join(home, "public_html", "hooks")
    data = os.path.join(home, "hookline")
    os.makedirs(hooks)
    os.makedirs(data)
    # No suEXEC here: hookline.cgi runs as www-data, which must write the
    # log's directory and read (not own) the secret.
    _chown(data, USER, USER, 0o750)
    site.write_secret(os.path.join(data, "secret"), site.secret, "root", USER, 0o640)
    shutil.copy(BIN, os.path.join(hooks, "hookline.cgi"))
    os.chmod(os.path.join(hooks, "hookline.cgi"), 0o755)
    shutil.copy(site.install("apache/htaccess"), os.path.join(hooks, ".htaccess"))
    srv = Apache(site, ["authz_core", "env", "mime", "userdir", module],
                 body=SERVER % {"home": site.path("home")})
    c = Client(srv.port)
    label = "mod_%s + .htaccess" % module
    url = "/~alice/hooks/hookline.cgi"
    log = os.path.join(data, "events.jsonl")
    # Apache hands a CGI program no CONTENT_LENGTH for a chunked body.
    stored = standard_events(tap, c, url, site.secret, label, chunked=411, port=srv.port)
    # The 2 MiB body again, three times, each with its own slice of the
    # error log: hookline answers before reading it, then reads it.
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
    tap.ok(drained == [True] * 3, "%s: 2 MiB refused with hookline's 413, the body read to its end" % label, drained)
    # A chunked body comes without CONTENT_LENGTH: 411, once it is read.
    chunk = sized_event(300 * 1024, "chunked")
    tap.eq([chunked_post(srv.port, url, chunk, {"X-Hub-Signature": sha1_sig(site.secret, chunk)})
            for i in range(3)], [411] * 3, "%s: chunked 300 KiB: hookline's 411, every time" % label)
    check_log(tap, log, stored, label)
    tap.eq(os.path.commonpath([log, os.path.join(home, "public_html")]), home,
           "%s: the log is outside the document root" % label)

    leaked = []
    for path in ("/~alice/hookline/events.jsonl", "/~alice/../hookline/events.jsonl",
                 "/~alice/hooks/../../hookline/events.jsonl", "/~alice/hooks/%2e%2e/%2e%2e/hookline/events.jsonl",
                 "/~alice/hooks/..%2f..%2fhookline/events.jsonl", "/~alice/hookline/secret",
                 "/~alice/hooks/.htaccess", "/~alice/hooks/"):
        r = c.request("GET", path)
        if r.status == 200 or b"job-0000" in r.body or site.secret.encode() in r.body \
                or b"HOOKLINE_SECRET_FILE" in r.body:
            leaked.append((path, r.status, r.body[:200]))
    tap.eq(leaked, [], "%s: no URL serves the log, the secret or the .htaccess" % label)
    tap.eq(site.secrets_in_ps(), [], "%s: no secret in ps output" % label)
    c.close()
    tap.eq(srv.stop(), 0, "%s: Apache stops cleanly" % label)
    err = srv.errors()
    tap.eq(site.secrets_in(err), [], "%s: no secret in Apache's error log" % label)
    tap.eq(len(read_log(log)), len(stored), "%s: nothing else logged" % label)
    tap.eq(site.sanitizer_reports(), "", "%s: no sanitizer report" % label)
tap.done()
