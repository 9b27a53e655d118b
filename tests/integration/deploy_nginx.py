"""nginx with deploy/nginx/hookline.conf as shipped, in front of hookline
started by deploy/spawn-fcgi/hookline-spawn-fcgi as shipped (paths
replaced, nothing else): 4 processes on a Unix socket that only www-data
may use.  X-Hub-Signature and X-Hub-Signature-256 reach hookline (signed
events stored byte for byte), unsigned ones are refused;
client_max_body_size matches HOOKLINE_MAX_BODY: 1 MiB passes, 2 MiB
(declared or chunked) gets 413 from nginx, as JSON like hookline's own
answers, and so does nginx's 502 once hookline is gone; hookline ends
cleanly on SIGTERM; no secret in the error logs or ps; no sanitizer report."""

from harness import Client, Tap, sha1_sig
from servers import MIB, Nginx, Site, SpawnFcgi, check_log, chunked_post, read_text, sized_event, standard_events

tap = Tap()
site = Site("nginx")
spawn = SpawnFcgi(site)
tap.ok(spawn.rc == 0 and len(spawn.pids) == 4, "hookline-spawn-fcgi starts 4 hookline processes",
       read_text(spawn.out))
srv = Nginx(site, site.install("nginx/hookline.conf"))
c = Client(srv.port)
log = site.path("log/events.jsonl")
stored = standard_events(tap, c, "/hook", site.secret, "nginx", port=srv.port)
big = sized_event(2 * MIB)
tap.eq(chunked_post(srv.port, "/hook", big, {"X-Hub-Signature": sha1_sig(site.secret, big)}), 413,
       "nginx: chunked 2 MiB event: 413")
check_log(tap, log, stored, "nginx")

tap.eq(site.secrets_in_ps(), [], "no secret in ps output")
c.close()
tap.eq(spawn.stop(), [], "every hookline process ends on SIGTERM")
c = Client(srv.port)
small = sized_event(1000)
r = c.post("/hook", small, {"X-Hub-Signature": sha1_sig(site.secret, small)})
tap.eq((r.status, r.headers.get("content-type"), r.json()),
       (502, "application/json", {"error": "temporarily unavailable"}),
       "nginx: with hookline stopped, nginx's 502 is JSON (the sender retries)")
c.close()
tap.eq(srv.stop(), 0, "nginx stops cleanly")
err = srv.errors()
tap.eq(site.secrets_in(err + read_text(spawn.out)), [], "no secret in the error logs")
tap.ok("hookline[" in err and "401 invalid signature" in err, "hookline's reasons reach nginx's error log",
       err[-2000:])
tap.eq(site.sanitizer_reports(), "", "no sanitizer report")
tap.done()
