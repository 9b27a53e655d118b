"""Configuration through a real lighttpd: request parameters (mod_setenv)
win over the process environment (bin-environment), and one FastCGI
process serving several locations never carries one request's settings
into the next."""

import os

from harness import Client, Lighttpd, Tap, check_clean_shutdown, event_body, read_log, sha1_sig

tap = Tap()
PROC_SECRET, A_SECRET, B_SECRET = "proc-secret-1", "loc-a-secret-2", "loc-b-secret-3"
# One process, so every request below is served by the same one.
srv = Lighttpd({"HOOKLINE_SECRET": PROC_SECRET, "HOOKLINE_LOG": "@DIR@/proc.jsonl"}, procs=1, locations={
    "/a/": {"HOOKLINE_SECRET": A_SECRET, "HOOKLINE_LOG": "@DIR@/a.jsonl"},
    "/b/": {"HOOKLINE_SECRET": B_SECRET, "HOOKLINE_LOG": "@DIR@/b.jsonl"},
    "/file/": {"HOOKLINE_SECRET_FILE": "@DIR@/secret", "HOOKLINE_LOG": "@DIR@/file.jsonl"},
    "/open/": {"HOOKLINE_SECRET": "", "HOOKLINE_SECRET_FILE": "@DIR@/no-secret-here",
               "HOOKLINE_LOG": "@DIR@/open.jsonl"},
    "/small/": {"HOOKLINE_MAX_BODY": "100"},
})
with open(srv.path("secret"), "w") as f:
    f.write("file-secret-4\n")
os.chmod(srv.path("secret"), 0o640)
c = Client(srv.port)


def send(path, secret, i):
    body = event_body(i)
    return c.post(path, body, {"X-Hub-Signature": sha1_sig(secret, body)}).status


n = 0
for rnd in range(3):
    for path, good, bad in [("/a/hook", A_SECRET, B_SECRET), ("/b/hook", B_SECRET, A_SECRET),
                            ("/hook", PROC_SECRET, A_SECRET), ("/file/hook", "file-secret-4", PROC_SECRET)]:
        n += 1
        tap.eq(send(path, good, n), 200, "round %d: %s verifies with its own secret" % (rnd, path))
        tap.eq(send(path, bad, 1000 + n), 401, "round %d: %s refuses the other's secret" % (rnd, path))
tap.eq(send("/small/hook", PROC_SECRET, 9000), 413, "a location's HOOKLINE_MAX_BODY applies to it")
tap.eq(send("/hook", PROC_SECRET, 9001), 200, "and not to the next request elsewhere")

# A rotated secret file is picked up without a restart.
with open(srv.path("secret"), "w") as f:
    f.write("file-secret-5")
tap.eq(send("/file/hook", "file-secret-5", 9002), 200, "changed secret file used at once")
tap.eq(send("/file/hook", "file-secret-4", 9003), 401, "old secret refused after the change")
os.chmod(srv.path("secret"), 0o644)
tap.eq(send("/file/hook", "file-secret-5", 9004), 500, "world-readable secret file refused")
tap.eq(send("/open/hook", PROC_SECRET, 9005), 500, "missing secret file: 500, not open")
c.close()
check_clean_shutdown(tap, srv)


def jobs(name):
    return [rec["event"]["job_id"] for _, rec in read_log(srv.path(name))]


want = {"a.jsonl": [1, 5, 9], "b.jsonl": [2, 6, 10], "proc.jsonl": [3, 7, 11, 9001],
        "file.jsonl": [4, 8, 12, 9002]}
for name, ids in want.items():
    tap.eq(jobs(name), ["job-%06d" % i for i in ids], "%s holds exactly its own events" % name)
err = srv.errors()
tap.ok("accessible by others" in err, "error log explains the refused secret file", err[-1500:])
tap.ok(all(s not in err for s in (PROC_SECRET, A_SECRET, B_SECRET, "file-secret-4", "file-secret-5")),
       "no secret in the error log")
tap.done()
