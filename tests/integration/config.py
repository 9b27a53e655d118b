"""Configuration through a real lighttpd.  Settings come from exactly one
layer: hookline's process environment (bin-environment) when it sets any
HOOKLINE_* variable, the request's parameters (mod_setenv) otherwise; a
plugin only ever from the process environment.  One FastCGI process serving
several locations never carries one request's settings into the next."""

import os

from harness import Client, Lighttpd, Tap, check_clean_shutdown, event_body, read_log, sha1_sig

tap = Tap()
PROC_SECRET, A_SECRET, B_SECRET = "proc-secret-1", "loc-a-secret-2", "loc-b-secret-3"
SECRETS = (PROC_SECRET, A_SECRET, B_SECRET, "file-secret-4", "file-secret-5")

# A pool that its administrator configured in its environment: pinned.
pinned = Lighttpd({"HOOKLINE_SECRET": PROC_SECRET, "HOOKLINE_LOG": "@DIR@/proc.jsonl"}, procs=1, locations={
    "/a/": {"HOOKLINE_SECRET": A_SECRET, "HOOKLINE_LOG": "@DIR@/a.jsonl"},
    "/small/": {"HOOKLINE_MAX_BODY": "100", "HOOKLINE_PLUGIN": "exec",
                "HOOKLINE_PLUGIN_ARG": "/bin/touch @DIR@/ran"},
})
# A pool whose environment sets nothing: each location brings its own.
srv = Lighttpd({}, procs=1, locations={
    "/a/": {"HOOKLINE_SECRET": A_SECRET, "HOOKLINE_LOG": "@DIR@/a.jsonl"},
    "/b/": {"HOOKLINE_SECRET": B_SECRET, "HOOKLINE_LOG": "@DIR@/b.jsonl"},
    "/file/": {"HOOKLINE_SECRET_FILE": "@DIR@/secret", "HOOKLINE_LOG": "@DIR@/file.jsonl"},
    "/open/": {"HOOKLINE_SECRET": "", "HOOKLINE_SECRET_FILE": "@DIR@/no-secret-here",
               "HOOKLINE_LOG": "@DIR@/open.jsonl"},
    "/small/": {"HOOKLINE_SECRET": A_SECRET, "HOOKLINE_LOG": "@DIR@/a.jsonl", "HOOKLINE_MAX_BODY": "100"},
    "/plugin/": {"HOOKLINE_SECRET": A_SECRET, "HOOKLINE_LOG": "@DIR@/a.jsonl",
                 "HOOKLINE_PLUGIN": "exec", "HOOKLINE_PLUGIN_ARG": "/bin/touch @DIR@/ran"},
    "/none/": {},
})
with open(srv.path("secret"), "w") as f:
    f.write("file-secret-4\n")
os.chmod(srv.path("secret"), 0o640)


def send(client, path, secret, i):
    body = event_body(i)
    return client.post(path, body, {"X-Hub-Signature": sha1_sig(secret, body)}).status


def jobs(server, name):
    if not os.path.exists(server.path(name)):
        return []
    return [rec["event"]["job_id"] for _, rec in read_log(server.path(name))]


# ---- pinned: nothing a request sets changes anything ----------------------
c = Client(pinned.port)
tap.eq(send(c, "/a/hook", A_SECRET, 1), 401, "pinned: a location's own secret is not used")
tap.eq(send(c, "/a/hook", PROC_SECRET, 2), 200, "pinned: the process's secret is")
tap.eq(send(c, "/small/hook", PROC_SECRET, 3), 200,
       "pinned: a location's HOOKLINE_MAX_BODY and plugin are ignored")
tap.eq(send(c, "/hook", PROC_SECRET, 4), 200, "pinned: plain location")
c.close()
check_clean_shutdown(tap, pinned)
tap.eq(jobs(pinned, "proc.jsonl"), ["job-%06d" % i for i in (2, 3, 4)],
       "pinned: every event in the process's log")
tap.ok(not os.path.exists(pinned.path("a.jsonl")), "pinned: no log where a request pointed")
tap.ok(not os.path.exists(pinned.path("ran")), "pinned: no command a request named ran")
err = pinned.errors()
tap.eq(err.count("ignoring HOOKLINE_* request parameters"), 1,
       "pinned: the error log says once that request parameters are ignored")

# ---- per-location pool -----------------------------------------------------
c = Client(srv.port)
n = 0
for rnd in range(3):
    for path, good, bad in [("/a/hook", A_SECRET, B_SECRET), ("/b/hook", B_SECRET, A_SECRET),
                            ("/file/hook", "file-secret-4", A_SECRET)]:
        n += 1
        tap.eq(send(c, path, good, n), 200, "round %d: %s verifies with its own secret" % (rnd, path))
        tap.eq(send(c, path, bad, 1000 + n), 401, "round %d: %s refuses the other's secret" % (rnd, path))
tap.eq(send(c, "/small/hook", A_SECRET, 9000), 413, "a location's HOOKLINE_MAX_BODY applies to it")
tap.eq(send(c, "/a/hook", A_SECRET, 9001), 200, "and not to the next request elsewhere")
tap.eq(send(c, "/plugin/hook", A_SECRET, 9006), 500, "a plugin named by a request is refused: 500")
tap.ok(not os.path.exists(srv.path("ran")), "and its command did not run")
tap.eq(send(c, "/none/hook", A_SECRET, 9007), 500, "no settings anywhere: 500")

# A rotated secret file is picked up without a restart.
with open(srv.path("secret"), "w") as f:
    f.write("file-secret-5")
tap.eq(send(c, "/file/hook", "file-secret-5", 9002), 200, "changed secret file used at once")
tap.eq(send(c, "/file/hook", "file-secret-4", 9003), 401, "old secret refused after the change")
os.chmod(srv.path("secret"), 0o644)
tap.eq(send(c, "/file/hook", "file-secret-5", 9004), 500, "world-readable secret file refused")
tap.eq(send(c, "/open/hook", A_SECRET, 9005), 500, "missing secret file: 500, not open")
c.close()
check_clean_shutdown(tap, srv)

want = {"a.jsonl": [1, 4, 7, 9001], "b.jsonl": [2, 5, 8], "file.jsonl": [3, 6, 9, 9002]}
for name, ids in want.items():
    tap.eq(jobs(srv, name), ["job-%06d" % i for i in ids], "%s holds exactly its own events" % name)
err = srv.errors()
tap.ok("accessible by others" in err, "error log explains the refused secret file", err[-1500:])
tap.ok("HOOKLINE_PLUGIN is set by the request" in err, "error log explains the refused plugin", err[-1500:])
tap.ok(all(s not in err + pinned.errors() for s in SECRETS), "no secret in the error logs")
tap.done()
