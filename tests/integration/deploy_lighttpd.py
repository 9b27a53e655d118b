"""lighttpd with mod_fastcgi, configured with deploy/lighttpd/hookline.conf
as shipped (paths replaced, nothing else), lighttpd serving as www-data
as Debian runs it: the 4 hookline processes it spawns get the secret file
from bin-environment; signed events are stored byte for byte, unsigned
ones refused; server.max-request-size matches HOOKLINE_MAX_BODY: 1 MiB
passes, 2 MiB (declared or chunked) gets 413, as JSON like hookline's
own answers (server.errorfile-prefix); no secret in the error log
or ps; no sanitizer report."""

from harness import Client, Tap, sha1_sig
from servers import MIB, Lighttpd, Site, check_log, chunked_post, sized_event, standard_events, wait_gone

tap = Tap()
site = Site("lighttpd")
srv = Lighttpd(site, site.install("lighttpd/hookline.conf"))
c = Client(srv.port)
log = site.path("log/events.jsonl")
stored = standard_events(tap, c, "/hook", site.secret, "lighttpd", port=srv.port)
big = sized_event(2 * MIB)
tap.eq(chunked_post(srv.port, "/hook", big, {"X-Hub-Signature": sha1_sig(site.secret, big)}), 413,
       "lighttpd: chunked 2 MiB event: 413")
check_log(tap, log, stored, "lighttpd")

tap.eq(site.secrets_in_ps(), [], "no secret in ps output")
c.close()
hooklines = [p for p in site.processes() if p != srv.proc.pid]
# lighttpd 1.4.69 exits 1 when a connection was still open: not a failure.
tap.ok(srv.stop() in (0, 1), "lighttpd ends on SIGTERM")
tap.eq(wait_gone(hooklines, 20), [], "no hookline process outlives lighttpd")
err = srv.errors()
tap.eq(site.secrets_in(err), [], "no secret in lighttpd's error log")
tap.ok("hookline[" in err and "401 invalid signature" in err, "hookline's reasons reach lighttpd's error log",
       err[-2000:])
tap.eq(site.sanitizer_reports(), "", "no sanitizer report")
tap.done()
