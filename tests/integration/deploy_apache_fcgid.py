"""Apache 2.4 (mpm_event) with mod_fcgid, configured with
deploy/apache/hookline-fcgid.conf and deploy/apache/hookline-fcgid-sites.conf
as shipped (paths and the two sites' secrets replaced, nothing else):

- the secret reaches hookline through FcgidCmdOptions' InitialEnv (a
  secret file);
- signed events are stored byte for byte, unsigned ones refused, an event
  of exactly 1 MiB passes FcgidMaxRequestLen, a 2 MiB one gets Apache's
  413 and a chunked one over the limit mod_fcgid's 500, both as JSON
  (ErrorDocument, mod_headers);
- two locations with their own SetEnv HOOKLINE_SECRET_FILE and
  HOOKLINE_LOG, served by one pool of hookline processes (a link to
  hookline, without settings of its own), never verify with or write to
  each other's settings; that pool is not /hook's;
- 10 s of wrk at 16 connections, after 2 s at 32 that grow the pool: every
  request answered 200 and logged, p99 printed (asserted only under 1 s:
  a stall of mod_fcgid's spawn logic costs a whole second);
- no secret in the error log or in ps; no sanitizer report."""

import re

from harness import Client, Tap, event_body, logged_event_bytes, read_log, raw_request, sha1_sig
from servers import MIB, USER, Apache, Site, check_log, sized_event, standard_events, wait_gone, wrk

tap = Tap()
site = Site("fcgid")
A, B = site.new_secret(), site.new_secret()
site.write_secret(site.path("etc/site-a.secret"), A, "root", USER, 0o640)
site.write_secret(site.path("etc/site-b.secret"), B, "root", USER, 0o640)
confs = [site.install("apache/hookline-fcgid.conf"), site.install("apache/hookline-fcgid-sites.conf")]
srv = Apache(site, ["authz_core", "alias", "env", "headers", "fcgid"], confs)
c = Client(srv.port)
log = site.path("log/events.jsonl")

# Load first.  mod_fcgid starts no process before a request needs one, and
# a request that finds them all busy waits a whole second before it asks
# for one more: the pool must be larger than the concurrency before the
# latency is worth measuring (docs/deploy.md).  2 s at 32 connections grow
# it to FcgidMaxProcessesPerClass, then 10 s at 16 are measured.
body = event_body(999999)
headers = {"X-Hub-Signature": sha1_sig(site.secret, body), "Content-Type": "application/json"}
url = "http://127.0.0.1:%d/hook" % srv.port
warm = wrk(url, body, headers, seconds=2, connections=32)
if warm is None:
    tap.skip("wrk: p99 and every request logged", "wrk not installed (Debian package wrk)")
else:
    # A second run only if the first was slow: this machine is shared, and
    # a stall of the configuration shows in both.
    runs = [wrk(url, body, headers)]
    if runs[0]["p99_ms"] is None or runs[0]["p99_ms"] >= 1000 or runs[0]["errors"]:
        runs.append(wrk(url, body, headers))
    # A socket error while mod_fcgid still spawns (seen under ASan on a
    # loaded machine) earns a second run; one of them must be clean.
    best = min(runs, key=lambda r: (r["errors"] or 0, r["p99_ms"] if r["p99_ms"] is not None else 1e9))
    for r in runs:
        print("# mod_fcgid: wrk 10 s, 16 connections: %s requests, p99 %s ms" % (r["requests"], r["p99_ms"]))
    tap.ok(best["p99_ms"] is not None and best["p99_ms"] < 1000,
           "wrk: p99 under 1 s (no spawn stall)", "\n".join(r["output"] for r in runs))
    tap.ok(best["requests"] and best["errors"] == 0 and all(r["non2xx"] == 0 for r in runs + [warm]),
           "wrk: every request answered 200", "\n".join(r["output"] for r in [warm] + runs))
    logged = len(read_log(log))
    sent = sum(r["requests"] or 0 for r in [warm] + runs)
    # Above: what wrk did not count when it stopped, at most a request
    # per connection and one more per wrk thread (seen: 49 for 48 conns).
    tap.ok(sent <= logged <= sent + 2 * (32 + 16 * len(runs)),
           "wrk: every acknowledged event logged (%d sent, %d lines)" % (sent, logged))


loaded = read_log(log)
stored = standard_events(tap, c, "/hook", site.secret, "mod_fcgid", port=srv.port)
big = sized_event(2 * MIB)
r = c.post("/hook", big, {"X-Hub-Signature": sha1_sig(site.secret, big)})
tap.eq((r.status, r.headers.get("content-type"), r.json()), (413, "application/json", {"error": "body too large"}),
       "mod_fcgid: Apache's own 413 is JSON")
big = sized_event(MIB + 1)
out = raw_request(srv.port, b"POST /hook HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: close\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(big), big), timeout=30)
head, _, body = out.partition(b"\r\n\r\n")
tap.ok(head.startswith(b"HTTP/1.1 500 ") and b"\r\nContent-Type: application/json" in head
       and body == b'{"error":"internal server error"}',
       "mod_fcgid: a chunked body over FcgidMaxRequestLen gets mod_fcgid's 500, as JSON", out[:600])
check_log(tap, log, [logged_event_bytes(line) for line, _ in loaded] + stored, "mod_fcgid")

# Two locations, one pool.  Requests alternate between the locations (and
# the process-wide /hook), each with its own secret and then the other's.
want = {"/site-a/hook": [], "/site-b/hook": [], "/hook": []}
wrong = []
n = 100
for rnd in range(4):
    for loc, good, bad in (("/site-a/hook", A, B), ("/site-b/hook", B, A), ("/hook", site.secret, A)):
        n += 1
        body = event_body(n)
        r = c.post(loc, body, {"X-Hub-Signature": sha1_sig(good, body)})
        if r.status == 200:
            want[loc].append(body)
        else:
            wrong.append((loc, "own secret", r.status))
        r = c.post(loc, event_body(n + 1000), {"X-Hub-Signature": sha1_sig(bad, event_body(n + 1000))})
        if r.status != 401:
            wrong.append((loc, "other secret", r.status))
tap.ok(not wrong, "each location verifies with its own secret only (4 rounds x 3 locations)", wrong)
check_log(tap, site.path("log/site-a.jsonl"), want["/site-a/hook"], "/site-a/hook")
check_log(tap, site.path("log/site-b.jsonl"), want["/site-b/hook"], "/site-b/hook")
check_log(tap, log, [logged_event_bytes(line) for line, _ in loaded] + stored + want["/hook"],
          "/hook after the sites' requests")

err = srv.errors()
pids = {}
for m in re.finditer(r'hookline\[(\d+)\]: 127\.0\.0\.1 "POST (/site-[ab]/hook|/hook)": 401', err):
    pids.setdefault(m.group(2), set()).add(int(m.group(1)))
both = pids.get("/site-a/hook", set()) & pids.get("/site-b/hook", set())
tap.ok(both, "the same hookline process served both sites (pids %s)" % sorted(both), pids)
tap.ok(pids.get("/hook") and not (pids["/hook"] & (pids.get("/site-a/hook", set()) | pids.get("/site-b/hook", set()))),
       "/hook's pool served neither site", pids)

tap.eq(site.secrets_in_ps(), [], "no secret in ps output")
c.close()
hooklines = [p for p in site.processes() if p != srv.proc.pid]
tap.eq(srv.stop(), 0, "Apache stops cleanly")
tap.eq(wait_gone(hooklines, 20), [], "no hookline process outlives Apache")
err = srv.errors()
tap.eq(site.secrets_in(err), [], "no secret in Apache's error log")
tap.ok("can't apply process slot" not in err, "mod_fcgid never ran out of process slots", err[-3000:])
tap.eq(site.sanitizer_reports(), "", "no sanitizer report")
tap.done()
