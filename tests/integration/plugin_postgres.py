"""The postgres plugin through a real lighttpd into a real PostgreSQL: a
cluster made with initdb in a temporary directory, run as nobody (or as
the user running the test), listening on a loopback port with
scram-sha-256 logins; the table and role are created by the very DDL of
docs/hookline-postgres.3.

- a few events: each row holds the event's id, scheme, delivery id and
  status, the body as jsonb and byte for byte; the man page's queries
  (events of a job, failures of the last hour) find them; a body jsonb
  cannot hold gets 422
- 10,000 events from 4 clients while the server is restarted twice with
  pg_ctl restart -m immediate: every answer is 200 or 503, every 200 is a
  row, and once the sender has retried its 503s every event is a row,
  each exactly once; sending acknowledged bodies again adds no row
- the server stopped for longer than the timeout: 503s; started again:
  200s from the same processes
- three workers running the man page's SELECT ... FOR UPDATE SKIP LOCKED
  loop at once take every row exactly once between them
- a wrong password, no password, an unknown setting, no table=, a
  password= in the argument, a table that does not exist: 500, with the
  reason in the error log
- the plugin under valgrind for 1,000 events with a restart in the middle:
  no memory error, no leak
"""

import hashlib
import json
import os
import shutil
import threading
import time

from harness import Client, Lighttpd, Tap, ValgrindFcgi, Workdir, check_clean_shutdown, event_body, sha1_sig
from engines import Postgres, asan_build, exit_on_signals, man_block, man_lint, pg_bindir, skip

BUILD = os.environ.get("HOOKLINE_BUILDDIR", ".")
PG_SO = os.path.abspath(os.path.join(BUILD, "handler/plugins/.libs/postgres.so"))
SECRET = "it-postgres-secret"
PASSWORD = "hookline-it-pw-5e1f"
LOAD = 10000
CLIENTS = 4
VALGRIND_EVENTS = 1000

exit_on_signals()
bindir = pg_bindir()
if bindir is None:
    skip("no PostgreSQL server (Debian package postgresql)")
if shutil.which("psql", path="/usr/bin:/bin") is None:
    skip("no psql (Debian package postgresql-client)")
if not os.path.exists(PG_SO):
    skip("postgres.so not built (configure found no libpq?)")

tap = Tap()
work = Workdir()
man_lint(tap, "hookline-postgres.3")
t0 = time.time()
pg = Postgres(work.path, bindir)
pg.psql("CREATE DATABASE hooks ENCODING 'UTF8' TEMPLATE template0", db="postgres")
pg.psql(man_block("hookline-postgres.3", "ddl"))
pg.psql("ALTER ROLE hookline PASSWORD '%s'" % PASSWORD)
print("# initdb, a server as %s on port %d, the man page's DDL (%.1f s)"
      % ("nobody" if os.geteuid() == 0 else "this user", pg.port, time.time() - t0))


def passfile(name, password):
    path = os.path.join(work.path, name)
    with open(path, "w") as f:
        f.write("127.0.0.1:%d:hooks:hookline:%s\n" % (pg.port, password))
    os.chmod(path, 0o600)
    return path


CONN = "host=127.0.0.1 port=%d dbname=hooks user=hookline sslmode=disable" % pg.port
GOOD = passfile("pgpass", PASSWORD)
BASE = {"HOOKLINE_SECRET": SECRET}


def pool(arg, pgpass=GOOD):
    return dict(BASE, HOOKLINE_PLUGIN=PG_SO, HOOKLINE_PLUGIN_ARG=arg, PGPASSFILE=pgpass)


# A plugin comes from the process environment only: one pool each.
srv = Lighttpd(BASE, procs=4, pools={
    "/hook": pool("table=hookline_events timeout=3000 " + CONN),
    "/wrongpw/": pool("table=hookline_events " + CONN, passfile("wrong", "not-the-password")),
    "/nopw/": pool("table=hookline_events " + CONN, os.path.join(work.path, "absent")),
    "/unknown/": pool("table=hookline_events colour=blue " + CONN),
    "/notable/": pool(CONN),
    "/password/": pool("table=hookline_events password=%s %s" % (PASSWORD, CONN)),
    "/nosuch/": pool("table=hookline_event " + CONN),
    "/short/": pool("table=hookline_events timeout=500 " + CONN),
})


def post(c, path, body, delivery=None):
    h = {"X-Hub-Signature": sha1_sig(SECRET, body)}
    if delivery:
        h["X-GitHub-Delivery"] = delivery
    return c.post(path, body, h)


def rows(where="true"):
    """{id: (scheme, delivery, status, body jsonb as text, raw)}"""
    out = {}
    for r in pg.psql("SELECT id, coalesce(scheme, ''), coalesce(delivery, ''), coalesce(status, ''), body::text, "
                     "encode(convert_to(raw, 'UTF8'), 'hex') FROM hookline_events WHERE " + where):
        out[r[0]] = (r[1], r[2], r[3], r[4], bytes.fromhex(r[5]))
    return out


# ---- the rows -------------------------------------------------------------
c = Client(srv.port)
few = [event_body(i, status="JOB_FAILED" if i % 3 == 0 else "JOB_COMPLETED") for i in range(12)]
few.append(b'{"status":"JOB_COMPLETED","job_id":"job-000004","note":"\xc3\xa9t\xc3\xa9",  "n": 1.50}')
# A leading byte order mark, which hookline accepts (RFC 8259 lets a
# parser ignore it) and jsonb does not: the row's raw keeps it.
few.append(b'\xef\xbb\xbf{"status":"JOB_COMPLETED","job_id":"job-bom"}')
answers = [post(c, "/hook", b, "delivery-%d" % i).status for i, b in enumerate(few)]
tap.eq(answers, [200] * len(few), "%d events answered 200" % len(few))
got = rows()
ok = len(got) == len(few)
for i, b in enumerate(few):
    r = got.get(hashlib.sha256(b).hexdigest())
    ok = ok and r is not None and r[0] == "sha1" and r[1] == "delivery-%d" % i \
        and r[2] == json.loads(b)["status"] and json.loads(r[3]) == json.loads(b) and r[4] == b
tap.ok(ok, "each row: id = SHA-256 of the body, scheme, delivery id, status, body as jsonb and byte for byte "
       "(a leading BOM too)",
       {k: v[:4] for k, v in list(got.items())[:3]})
job = man_block("hookline-postgres.3", "job").replace("job-000042", "job-000004")
tap.eq(sorted(r[2] for r in pg.psql(job)), sorted([few[4].decode(), few[12].decode()]),
       "the man page's 'events of a job' query finds the job's two events")
failures = pg.psql(man_block("hookline-postgres.3", "failures"))
tap.eq(sorted(r[1] for r in failures), sorted("job-%06d" % i for i in range(0, 12, 3)),
       "the man page's 'failures of the last hour' query finds the 4 JOB_FAILED events")
r = post(c, "/hook", b'{"status":"x","s":"\\u0000"}')
tap.eq(r.status, 422, "a body jsonb cannot hold (\\u0000): 422, not retried for ever")
c.close()
pg.psql("DELETE FROM hookline_events")

# ---- 10,000 events, two restarts ------------------------------------------
acked, refused, other = [], [], []
lock = threading.Lock()
progress = [0]


def client(k):
    cl = Client(srv.port, timeout=60)
    for j in range(LOAD // CLIENTS):
        body = event_body(100000 + k * LOAD + j)
        try:
            status = post(cl, "/hook", body).status
        except OSError:
            status = 0
        with lock:
            (acked if status == 200 else refused if status == 503 else other).append((body, status))
            progress[0] += 1
    cl.close()


def wait_progress(n, deadline):
    while progress[0] < n and time.time() < deadline:
        time.sleep(0.02)


t0 = time.time()
threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
for t in threads:
    t.start()
deadline = time.time() + 150
restarts = []
for at in (LOAD * 3 // 10, LOAD * 65 // 100):
    wait_progress(at, deadline)
    r0 = time.time()
    pg.restart_immediate()
    restarts.append((progress[0], time.time() - r0))
for t in threads:
    t.join(timeout=max(1, deadline - time.time()))
elapsed = time.time() - t0
tap.ok(not any(t.is_alive() for t in threads) and all(at < LOAD for at, _ in restarts),
       "%d events sent in %.1f s, restarts at events %s"
       % (progress[0], elapsed, ", ".join("%d (%.1f s down)" % r for r in restarts)))
tap.eq(other, [], "every answer was 200 or 503")
tap.ok(len(acked) + len(refused) == LOAD,
       "%d answered 200, %d answered 503 (the plugin waits up to timeout=3000 for the server to be back)"
       % (len(acked), len(refused)))
ids = {r[0] for r in pg.psql("SELECT id FROM hookline_events")}
missing = [b for b, _ in acked if hashlib.sha256(b).hexdigest() not in ids]
tap.eq(len(missing), 0, "every one of the %d events answered 200 is a row (%d rows)" % (len(acked), len(ids)))
stored_before_retry = sum(1 for b, _ in refused if hashlib.sha256(b).hexdigest() in ids)

# The sender retries its 503s.
c = Client(srv.port)
pending = [b for b, _ in refused]
deadline = time.time() + 60
while pending and time.time() < deadline:
    pending = [b for b in pending if time.time() > deadline or post(c, "/hook", b).status != 200]
    time.sleep(0.2 if pending else 0)
tap.eq(len(pending), 0, "the sender's retries of the %d events answered 503 all got 200 (%d of them had been "
       "stored already)" % (len(refused), stored_before_retry))
count = pg.psql("SELECT count(*), count(DISTINCT id) FROM hookline_events")[0]
tap.eq(count, [str(LOAD), str(LOAD)], "%d events, %d rows, each once" % (LOAD, LOAD))
sample = rows("id IN (%s)" % ",".join("'%s'" % hashlib.sha256(b).hexdigest() for b, _ in acked[::97]))
tap.ok(all(sample[hashlib.sha256(b).hexdigest()][4] == b for b, _ in acked[::97]),
       "the raw column holds each body byte for byte (%d checked)" % len(sample))
again = [post(c, "/hook", b).status for b, _ in acked[:300]]
tap.eq((again.count(200), pg.psql("SELECT count(*) FROM hookline_events")[0][0]), (300, str(LOAD)),
       "300 acknowledged bodies sent again: 200 each, no row added")
c.close()

# ---- the server down for longer than the timeout: 503s, then 200s ----
pg.stop()
c = Client(srv.port)
t0 = time.time()
down = [post(c, "/short/hook", event_body(700000 + i)).status for i in range(6)]
down_time = time.time() - t0
pg.start()
t0 = time.time()
up = [post(c, "/short/hook", event_body(700000 + i)).status for i in range(6)]
c.close()
tap.ok(down == [503] * 6 and up == [200] * 6,
       "server stopped: 6 events answered 503 after timeout=500 each (%.1f s); started again: the same 6 "
       "answered 200 (%.1f s), on a new connection" % (down_time, time.time() - t0), (down, up))

# ---- the workers: SELECT ... FOR UPDATE SKIP LOCKED -------------------------
statements = [s.strip() for s in man_block("hookline-postgres.3", "worker").split(";")]
claim = next(s for s in statements if s.startswith("SELECT"))
mark = next(s for s in statements if s.startswith("-- handle") or s.startswith("UPDATE"))
mark = mark[mark.index("UPDATE"):]
taken = {}


def worker(name):
    s = pg.session()
    mine = []
    try:
        for _ in range(LOAD):  # bounded: at least one row per round
            s.run("BEGIN;")
            got = s.run(claim + ";")
            if not got:
                s.run("COMMIT;")
                break
            time.sleep(0.01)  # handling: the rows stay locked meanwhile
            s.run(mark.replace("('...', '...')", "(%s)" % ",".join("'%s'" % r[0] for r in got)) + ";")
            s.run("COMMIT;")
            mine += [r[0] for r in got]
    finally:
        s.close()
        taken[name] = mine


workers = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
t0 = time.time()
for t in workers:
    t.start()
for t in workers:
    t.join(timeout=120)
every = [i for m in taken.values() for i in m]
table = {r[0] for r in pg.psql("SELECT id FROM hookline_events")}
tap.ok(sorted(every) == sorted(table) and all(len(m) > 0 for m in taken.values()),
       "3 workers took %s of the %d rows (%d in all, %d distinct) in %.1f s: each row once"
       % ("+".join(str(len(m)) for m in taken.values()), len(table), len(every), len(set(every)),
          time.time() - t0))
tap.eq(pg.psql("SELECT count(*) FROM hookline_events WHERE done IS NULL")[0][0], "0", "every row is marked done")

# ---- configuration errors --------------------------------------------------
c = Client(srv.port)
for path, reason in [
    ("/wrongpw/hook", 'password authentication failed for user "hookline"'),
    ("/nopw/hook", "no password supplied"),
    ("/unknown/hook", 'bad setting "colour=blue"'),
    ("/notable/hook", "table= is required"),
    ("/password/hook", "password= is refused"),
    ("/nosuch/hook", 'table hookline_event: relation "hookline_event" does not exist'),
]:
    body = event_body(900000 + len(path))
    r = post(c, path, body)
    err = srv.errors()
    tap.ok(r.status == 500 and reason in err, "%s: 500, the error log says: %s" % (path.split("/")[1], reason),
           "status %d\n%s" % (r.status, err[-1500:]))
c.close()
tap.ok(PASSWORD not in srv.errors(), "the password is in no log line")
check_clean_shutdown(tap, srv)

# ---- under valgrind ---------------------------------------------------------
if asan_build():
    tap.skip("1,000 events under valgrind", "this hookline is built with AddressSanitizer")
else:
    vg = ValgrindFcgi(pool("table=hookline_events timeout=20000 " + CONN), work.path)
    vsrv = Lighttpd({}, fcgi_socket=vg.socket)
    c = Client(vsrv.port, timeout=120)
    statuses = {}
    vpending = []
    t0 = time.time()
    for i in range(VALGRIND_EVENTS):
        if i == VALGRIND_EVENTS // 2:
            pg.restart_immediate()
        body = event_body(800000 + i)
        s = post(c, "/hook", body).status
        statuses[s] = statuses.get(s, 0) + 1
        if s != 200:
            vpending.append(body)
    deadline = time.time() + 60
    while vpending and time.time() < deadline:
        vpending = [b for b in vpending if time.time() > deadline or post(c, "/hook", b).status != 200]
        time.sleep(0.2 if vpending else 0)
    c.close()
    tap.ok(set(statuses) <= {200, 503} and not vpending,
           "%d events under valgrind, a restart in the middle (%.1f s): %r, retries all stored"
           % (VALGRIND_EVENTS, time.time() - t0, statuses))
    tap.eq(pg.psql("SELECT count(*) FROM hookline_events WHERE id IN (%s)" % ",".join(
        "'%s'" % hashlib.sha256(event_body(800000 + i)).hexdigest() for i in range(VALGRIND_EVENTS)))[0][0],
        str(VALGRIND_EVENTS), "each of them a row")
    vsrv.stop()
    vg.finish(tap)
pg.stop()
tap.done()
