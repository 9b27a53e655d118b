"""Plugins through a real lighttpd: every loader refusal (500 and one clear
error-log line), the OK / RETRY / REJECT mapping (200 / 503 / 422), the
fields a plugin is handed, init once per process and fini at exit, the log
written before the plugin, and a plugin that crashes (abort() in handle):
that request gets a 5xx from the server, the next one is served, nothing
acknowledged is lost."""

import datetime
import hashlib
import os
import time

from harness import Client, Lighttpd, Tap, check_clean_shutdown, event_body, read_log, sha1_sig

BUILD = os.environ.get("HOOKLINE_BUILDDIR", ".")
TP = os.path.join(BUILD, "tests/plugins/.libs")
SECRET = "it-plugins-secret"
tap = Tap()


def plugin(name):
    return os.path.join(TP, name + ".so")


verdict = plugin("verdict")
locs = {
    "/ok/": {"HOOKLINE_PLUGIN": verdict, "HOOKLINE_LOG": "@DIR@/events.jsonl",
             "HOOKLINE_PLUGIN_ARG": "ok record=@DIR@/ok.rec log=@DIR@/events.jsonl"},
    "/retry/": {"HOOKLINE_PLUGIN": verdict, "HOOKLINE_LOG": "@DIR@/events.jsonl",
                "HOOKLINE_PLUGIN_ARG": "retry"},
    "/reject/": {"HOOKLINE_PLUGIN": verdict, "HOOKLINE_PLUGIN_ARG": "reject"},
    "/bogus/": {"HOOKLINE_PLUGIN": verdict, "HOOKLINE_PLUGIN_ARG": "bogus"},
    "/only/": {"HOOKLINE_PLUGIN": verdict, "HOOKLINE_PLUGIN_ARG": "ok record=@DIR@/only.rec"},
    "/slowinit/": {"HOOKLINE_PLUGIN": verdict, "HOOKLINE_LOG": "@DIR@/slowinit.jsonl",
                   "HOOKLINE_PLUGIN_ARG": "ok sleep=2"},
    "/noentry/": {"HOOKLINE_PLUGIN": plugin("noentry")},
    "/abimajor/": {"HOOKLINE_PLUGIN": plugin("abimajor")},
    "/abiminor/": {"HOOKLINE_PLUGIN": plugin("abiminor")},
    "/incomplete/": {"HOOKLINE_PLUGIN": plugin("incomplete")},
    "/initfail/": {"HOOKLINE_PLUGIN": plugin("initfail")},
    "/missing/": {"HOOKLINE_PLUGIN": "/nonexistent/hookline-plugin.so"},
    "/relative/": {"HOOKLINE_PLUGIN": "plugins/verdict.so"},
}
# A plugin comes only from the process environment: each location is a
# pool of its own, as an administrator pins one plugin per process.
srv = Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/unused.jsonl"}, procs=1,
               pools={u: dict(e, HOOKLINE_SECRET=SECRET) for u, e in locs.items()})
c = Client(srv.port)


def send(path, i, secret=SECRET):
    body = event_body(i)
    h = {"X-Hub-Signature": sha1_sig(secret, body)} if secret else {}
    return c.post(path, body, h), body


for i in range(3):
    r, body = send("/ok/hook", i)
    tap.ok(r.status == 200 and r.json() == {"ok": True, "id": hashlib.sha256(body).hexdigest()},
           "OK -> 200 (event %d; the plugin found it already in the log)" % i, (r.status, r.body))
# The record's time is taken once the plugin is ready, not before its
# init: a strftime HOOKLINE_LOG names the file by it, and hookline-follow
# counts on records being at most the lock wait late.
t0 = time.time()
r, _ = send("/slowinit/hook", 5)
got = read_log(srv.path("slowinit.jsonl"))
when = datetime.datetime.strptime(got[0][1]["received"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
    tzinfo=datetime.timezone.utc).timestamp() if got else 0
tap.ok(r.status == 200 and when >= t0 + 1.9, "a plugin whose init takes 2 s: the record is stamped after it "
       "(%.1f s after the request)" % (when - t0), (r.status, got))
r, _ = send("/retry/hook", 10)
tap.ok(r.status == 503 and r.json() == {"error": "temporarily unavailable"} and "retry-after" in r.headers,
       "RETRY -> 503 with Retry-After", (r.status, r.headers, r.body))
r, _ = send("/reject/hook", 11)
tap.ok(r.status == 422 and r.json() == {"error": "rejected"}, "REJECT -> 422", (r.status, r.body))
r, _ = send("/bogus/hook", 12)
tap.eq(r.status, 503, "a verdict that is none of the three -> 503")
r, _ = send("/only/hook", 13)
tap.eq(r.status, 200, "plugin without a log -> 200")
r, _ = send("/ok/hook", 15, secret="wrong")
tap.eq(r.status, 401, "a bad signature never reaches the plugin")

for loc, why in [("noentry", "does not export hookline_plugin_entry()"),
                 ("abimajor", "another major version of the ABI"),
                 ("abiminor", "newer minor version of the ABI"),
                 ("incomplete", "descriptor is incomplete"),
                 ("initfail", "init failed"),
                 ("missing", "cannot load /nonexistent/hookline-plugin.so"),
                 ("relative", "must be an absolute path")]:
    r, _ = send("/%s/hook" % loc, 20)
    tap.ok(r.status == 500 and r.json() == {"error": "server misconfigured"}, "%s refused: 500" % loc,
           (r.status, r.body))
    tap.ok(why in srv.errors(), "%s: error log says \"%s\"" % (loc, why), srv.errors()[-1500:])

# A plugin that crashes takes its process down mid-request; lighttpd
# starts another.  One pool runs unsigned, without a secret.
srv2 = Lighttpd({"HOOKLINE_LOG": "@DIR@/events.jsonl", "HOOKLINE_SECRET": SECRET}, procs=1, pools={
    "/abort/": {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl",
                "HOOKLINE_PLUGIN": verdict, "HOOKLINE_PLUGIN_ARG": "abort"},
    "/unsigned/": {"HOOKLINE_ALLOW_UNSIGNED": "1", "HOOKLINE_LOG": "@DIR@/unsigned.jsonl",
                   "HOOKLINE_PLUGIN": verdict, "HOOKLINE_PLUGIN_ARG": "ok record=@DIR@/unsigned.rec"}})
c2 = Client(srv2.port)
body = event_body(30)
r = c2.post("/abort/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
tap.ok(500 <= r.status <= 599, "plugin abort(): the server answers %d (5xx)" % r.status, r.body)
c2.close()
# lighttpd restarts the backend; a sender retries with a back-off (bounded).
body2 = event_body(31)
for attempt in range(50):
    c2 = Client(srv2.port)
    r = c2.post("/hook", body2, {"X-Hub-Signature": sha1_sig(SECRET, body2)})
    if r.status == 200:
        break
    c2.close()
    time.sleep(0.1)
tap.eq(r.status, 200, "a later request is served (after %d retries while the server restarted "
       "the process)" % attempt)
r = c2.post("/unsigned/hook", body2)
tap.eq(r.status, 200, "unsigned event allowed without a secret -> 200")
c2.close()
srv2.stop()
with open(srv2.path("unsigned.rec")) as f:
    tap.ok(" - 127.0.0.1 " in f.read(), "unsigned event: the plugin's scheme is NULL")
jobs = [rec["event"]["job_id"] for _, rec in read_log(srv2.path("events.jsonl"))]
tap.eq(jobs, ["job-000030", "job-000031"],
       "log holds the crashed request's event (written first; its retry dedups by id) and the next")

c.close()
check_clean_shutdown(tap, srv)
# lighttpd does not wait for its backends to finish exiting: give the
# process a moment (bounded) to run fini.
for _ in range(100):
    with open(srv.path("ok.rec")) as f:
        rec = f.read().splitlines()
    if rec and rec[-1] == "fini":
        break
    time.sleep(0.05)
tap.eq(rec.count("init ok record=%s log=%s" % (srv.path("ok.rec"), srv.path("events.jsonl"))), 1,
       "init ran once in the process")
tap.eq(rec[-1], "fini", "fini ran at exit")
handles = [ln.split() for ln in rec if ln.startswith("handle ")]
tap.eq(len(handles), 3, "handle ran once per accepted event")
body = event_body(0)
ev = __import__("json").loads(body)
tap.eq(handles[0][1:10], [hashlib.sha256(body).hexdigest(), str(len(body)), "sha1", "127.0.0.1", ev["status"],
                          ev["job_id"], ev["flow_id"], ev["tenant"], "ok"],
       "handle got id, length, scheme, remote, status, job_id, flow_id, tenant")
jobs = [r["event"]["job_id"] for _, r in read_log(srv.path("events.jsonl"))]
tap.eq(jobs, ["job-000000", "job-000001", "job-000002", "job-000010"],
       "log holds every verified event it was configured for, retried one included")
tap.ok(SECRET not in srv.errors(), "no secret in the error log")
tap.done()
