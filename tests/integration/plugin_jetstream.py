"""The jetstream plugin through a real lighttpd into a real NATS cluster:
three nats-server nodes on loopback ports, clustered, JetStream with file
storage, logins by user and password; the stream HOOKS (3 replicas) and
the durable consumer are made by the worker of docs/hookline-jetstream.3,
compiled from the page.

- a few events: subject hooks.{status} (statuses reduced to a safe token),
  Nats-Msg-Id = the event's id, the scheme and delivery id in headers; the
  same event twice is stored once
- 10,000 events from 4 clients while the stream's leader is killed with
  kill -9 and brought back: every answer is 200 or 503, every 200's id is
  in the stream exactly once, and once the sender has retried its 503s
  every event is, exactly once (the duplicate window drops the retries of
  events whose acknowledgement was lost)
- two of the three nodes killed: no quorum, 503s and no 200; nothing
  acknowledged before is lost; once they are back, 200s again
- two workers (the man page's, sharing the durable consumer) take every
  message exactly once between them
- a wrong password, an unreadable creds file, an unknown setting, no
  subject=, a password in a server URL: 500 with the reason in the error
  log; stream= naming another stream: 503
- the plugin under valgrind for 1,000 events while a node is killed and
  brought back: no memory error, no leak
"""

import hashlib
import os
import shutil
import subprocess
import threading
import time

from harness import Client, Lighttpd, Tap, ValgrindFcgi, Workdir, check_clean_shutdown, event_body, sha1_sig
from engines import (NATS_SERVER, NatsCluster, asan_build, exit_on_signals, killpg, man_block, man_lint, skip,
                     stream_messages)

BUILD = os.environ.get("HOOKLINE_BUILDDIR", ".")
JS_SO = os.path.abspath(os.path.join(BUILD, "handler/plugins/.libs/jetstream.so"))
SECRET = "it-jetstream-secret"
HOOKLINE_PW = "hookline-it-nats-7c2a"
WORKER_PW = "worker-it-nats-19fe"
LOAD = 10000
CLIENTS = 4
VALGRIND_EVENTS = 1000
NO_QUORUM = 24  # events sent with two nodes down: 2 s each, 4 at a time

exit_on_signals()
if NATS_SERVER is None:
    skip("no nats-server (Debian package nats-server)")
if not os.path.exists(JS_SO):
    skip("jetstream.so not built (configure found no libnats?)")
CC = shutil.which(os.environ.get("CC", "cc").split()[0])
if CC is None:
    skip("no C compiler for the man page's worker")

tap = Tap()
work = Workdir()
man_lint(tap, "hookline-jetstream.3")


def secret_file(name, text):
    path = os.path.join(work.path, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return path


HOOKLINE_PWF = secret_file("nats-password", HOOKLINE_PW)
WORKER_PWF = secret_file("worker-password", WORKER_PW)
src = os.path.join(work.path, "worker.c")
with open(src, "w") as f:
    f.write(man_block("hookline-jetstream.3", "worker.c"))
WORKER = os.path.join(work.path, "hookline-worker")
p = subprocess.run([CC, "-Wall", "-Wextra", "-Werror", "-o", WORKER, src, "-lnats"], stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, timeout=120)
tap.ok(p.returncode == 0, "the man page's worker compiles (-Wall -Wextra -Werror)", p.stdout.decode(errors="replace"))

t0 = time.time()
cluster = NatsCluster(work.path, 3, users={"hookline": HOOKLINE_PW, "worker": WORKER_PW})
cluster.wait_ready("worker", WORKER_PW)
print("# 3 nats-server nodes clustered, JetStream ready (%.1f s)" % (time.time() - t0))


def api(subject, payload=b"", seconds=60):
    return cluster.api("worker", WORKER_PW, subject, payload, seconds=seconds)


def run_worker(idle, timeout=120):
    return subprocess.Popen([WORKER, cluster.urls(), "worker", WORKER_PWF, str(idle)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


# Until the cluster has elected its metadata leader, making a stream fails:
# the worker says so and exits 1, and is run again.
end = time.time() + 60
tries = 0
while time.time() < end:
    tries += 1
    w = run_worker(0)
    out, err = w.communicate(timeout=120)
    if w.returncode == 0:
        break
    time.sleep(0.5)
cfg = api("$JS.API.STREAM.INFO.HOOKS")["config"]
tap.ok(w.returncode == 0 and cfg["num_replicas"] == 3 and cfg["subjects"] == ["hooks.>"]
       and cfg["duplicate_window"] == 3600 * 10**9,
       "the worker made the stream HOOKS (run %d times): subjects hooks.>, 3 replicas, an hour of duplicate "
       "window" % tries,
       "%s %r" % (err.decode(errors="replace"), cfg))

BASE = {"HOOKLINE_SECRET": SECRET}
ARG = "servers=%s subject=hooks.{status} stream=HOOKS user=hookline password_file=%s" % (cluster.urls(), HOOKLINE_PWF)


def pool(arg):
    return dict(BASE, HOOKLINE_PLUGIN=JS_SO, HOOKLINE_PLUGIN_ARG=arg)


srv = Lighttpd(BASE, procs=4, pools={
    "/hook": pool(ARG + " timeout=2000"),
    "/wrongpw/": pool(ARG.replace(HOOKLINE_PWF, WORKER_PWF)),
    "/nocreds/": pool("servers=%s subject=hooks.x creds=%s" % (cluster.urls(), os.path.join(work.path, "absent"))),
    "/unknown/": pool(ARG + " colour=blue"),
    "/nosubject/": pool("servers=%s user=hookline password_file=%s" % (cluster.urls(), HOOKLINE_PWF)),
    "/inurl/": pool("servers=nats://hookline:%s@127.0.0.1:%d subject=hooks.x" % (HOOKLINE_PW, cluster.ports[0])),
    "/other/": pool(ARG.replace("stream=HOOKS", "stream=ELSEWHERE") + " timeout=1000"),
})


def post(c, path, body, delivery=None):
    h = {"X-Hub-Signature": sha1_sig(SECRET, body)}
    if delivery:
        h["X-GitHub-Delivery"] = delivery
    try:
        return c.post(path, body, h).status
    except OSError:
        return 0


def eid(body):
    return hashlib.sha256(body).hexdigest()


def by_id():
    """{Nats-Msg-Id: [(seq, subject, headers, data), ...]} of the whole stream."""
    out = {}
    for m in stream_messages(cluster, "worker", WORKER_PW, "HOOKS"):
        out.setdefault(m[2].get("Nats-Msg-Id"), []).append(m)
    return out


def leader():
    return api("$JS.API.STREAM.INFO.HOOKS")["cluster"]["leader"]


# ---- the messages -----------------------------------------------------------
c = Client(srv.port)
few = [(event_body(1), "JOB_COMPLETED"), (event_body(2, status="JOB_FAILED"), "JOB_FAILED"),
       (event_body(3, status="a.b c*>"), "a_b_c__"), (b'{"job_id":"none"}', "_")]
answers = [post(c, "/hook", b, "delivery-%d" % i) for i, (b, _) in enumerate(few)]
answers.append(post(c, "/hook", few[0][0], "delivery-0"))
tap.eq(answers, [200] * 5, "4 events and a repeat of the first answered 200")
got = by_id()
ok = len(got) == 4
for i, (b, token) in enumerate(few):
    ms = got.get(eid(b), [])
    ok = ok and len(ms) == 1 and ms[0][1] == "hooks." + token and ms[0][3] == b \
        and ms[0][2].get("Hookline-Scheme") == "sha1" and ms[0][2].get("Hookline-Delivery") == "delivery-%d" % i
tap.ok(ok, "one message each: subject hooks.{status} (JOB_FAILED, 'a.b c*>' -> a_b_c__, none -> _), the raw "
       "body, Nats-Msg-Id, Hookline-Scheme, Hookline-Delivery; the repeat dropped",
       {k: [(m[1], m[2]) for m in v] for k, v in got.items()})
c.close()

# ---- 10,000 events, the leader killed -----------------------------------
lock = threading.Lock()


def load(first, count, clients, outcome, progress, stop=None):
    def client(k):
        cl = Client(srv.port, timeout=60)
        for j in range(k, count, clients):
            if stop is not None and stop.is_set():
                break
            body = event_body(first + j)
            s = post(cl, "/hook", body)
            with lock:
                outcome.setdefault(s, []).append(body)
                progress[0] += 1
        cl.close()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    return threads


def wait_progress(progress, n, deadline):
    while progress[0] < n and time.time() < deadline:
        time.sleep(0.02)


outcome, progress = {}, [0]
t0 = time.time()
deadline = t0 + 150
threads = load(100000, LOAD, CLIENTS, outcome, progress)
wait_progress(progress, LOAD // 4, deadline)
victim_name = leader()
victim = cluster.names.index(victim_name)
killed_at = progress[0]
cluster.kill(victim)
wait_progress(progress, LOAD // 2, deadline)
back_at = progress[0]
cluster.start(victim)
for t in threads:
    t.join(timeout=max(1, deadline - time.time()))
acked, refused = outcome.get(200, []), outcome.get(503, [])
tap.ok(not any(t.is_alive() for t in threads) and back_at < LOAD,
       "%d events in %.1f s; the stream's leader (%s) killed -9 at event %d, back at event %d"
       % (progress[0], time.time() - t0, victim_name, killed_at, back_at))
tap.eq(sorted(k for k in outcome if k not in (200, 503)), [], "every answer was 200 or 503")
tap.ok(len(acked) > LOAD // 2, "%d answered 200, %d answered 503" % (len(acked), len(refused)))
got = by_id()
missing = [b for b in acked if eid(b) not in got]
twice = [b for b in acked if len(got.get(eid(b), [])) > 1]
tap.ok(not missing and not twice, "every one of the %d ids answered 200 is in the stream exactly once "
       "(%d missing, %d twice)" % (len(acked), len(missing), len(twice)))
stored_before_retry = sum(1 for b in refused if eid(b) in got)

c = Client(srv.port)


def retry_all(bodies, seconds=60):
    """The sender retries until each gets 200; returns those that never did."""
    end = time.time() + seconds
    pending = list(bodies)
    while pending and time.time() < end:
        pending = [b for b in pending if time.time() > end or post(c, "/hook", b) != 200]
        if pending:
            time.sleep(0.2)
    return pending


left = retry_all(refused)
got = by_id()
mine = [eid(event_body(100000 + j)) for j in range(LOAD)]
counts = [len(got.get(i, [])) for i in mine]
tap.ok(not left and counts.count(1) == LOAD,
       "after the sender's retries of its %d 503s (%d of them stored already, their retries dropped as "
       "duplicates): %d events, %d in the stream once, %d twice, %d missing"
       % (len(refused), stored_before_retry, LOAD, counts.count(1), sum(1 for n in counts if n > 1),
          counts.count(0)))

# ---- two nodes down: no quorum -----------------------------------------------
down = [i for i in range(3) if i != victim][:2]
for i in down:
    cluster.kill(i)
quorum_outcome, qprogress = {}, [0]
stop = threading.Event()
t0 = time.time()
threads = load(300000, NO_QUORUM, CLIENTS, quorum_outcome, qprogress, stop)
for t in threads:
    t.join(timeout=60)
no_quorum_time = time.time() - t0
tap.ok(quorum_outcome.get(200) is None and len(quorum_outcome.get(503, [])) == NO_QUORUM,
       "two of three nodes killed: %d events, %d answered 503, %d answered 200 (%.1f s)"
       % (NO_QUORUM, len(quorum_outcome.get(503, [])), len(quorum_outcome.get(200, [])), no_quorum_time))
for i in down:
    cluster.start(i)
t0 = time.time()
api("$JS.API.STREAM.INFO.HOOKS", seconds=90)
back = []
end = time.time() + 90
n = 0
while len(back) < 200 and time.time() < end:
    body = event_body(400000 + n)
    n += 1
    s = post(c, "/hook", body)
    back = back + [body] if s == 200 else []
    if s != 200:
        time.sleep(0.1)
tap.ok(len(back) == 200, "nodes back: 200 events in a row answered 200 (%.1f s after the restart, %d tried)"
       % (time.time() - t0, n))
left = retry_all(quorum_outcome.get(503, []))
got = by_id()
every = list(acked) + list(back) + [b for b, _ in few]
retried = quorum_outcome.get(503, [])
tap.ok(not left and all(len(got.get(eid(b), [])) == 1 for b in every + retried),
       "nothing acknowledged was lost: all %d events answered 200 so far are in the stream, once each; "
       "the %d refused with no quorum too, after their retries" % (len(every), len(retried)))
total = sum(len(v) for v in got.values())
tap.eq(total, len(got), "the stream holds %d messages, %d distinct ids: no duplicate" % (total, len(got)))
c.close()

# ---- the workers ---------------------------------------------------------------
# Once the stream and the consumer have a leader and two current replicas
# each: a cluster still settling after the restarts may drop an ack, and a
# message whose ack was lost goes to a worker again (at least once).


def settled(subject):
    info = api(subject, seconds=90).get("cluster", {})
    replicas = info.get("replicas", [])
    return bool(info.get("leader")) and \
        sum(1 for r in replicas if r.get("current") and not r.get("offline")) >= 2


t0 = time.time()
while time.time() < t0 + 60 and not (settled("$JS.API.STREAM.INFO.HOOKS")
                                     and settled("$JS.API.CONSUMER.INFO.HOOKS.workers")):
    time.sleep(0.5)
settle = time.time() - t0
t0 = time.time()
outs = [(b"", b"")] * 2
codes = [None] * 2
for attempt in range(3):  # a worker that could not start is started again
    todo = [k for k in range(2) if codes[k] != 0]
    if not todo:
        break
    workers = {k: run_worker(5) for k in todo}
    for k, w in workers.items():
        try:
            o, e = w.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            killpg(w.pid)
            o, e = w.communicate()
        outs[k] = (outs[k][0] + o, outs[k][1] + e)
        codes[k] = w.returncode
taken = [[ln.split()[0] for ln in o.decode().splitlines() if ln] for o, _ in outs]
first = time.time() - t0
# At least once: a message whose acknowledgement was lost while the cluster
# settled is delivered again once AckWait (60 s) has passed, to a worker
# still there.  One more worker, idle for longer than that, takes them.
missing = set(got) - {i for t in taken for i in t}
again = []
if missing:
    pending = api("$JS.API.CONSUMER.INFO.HOOKS.workers")
    print("# %d messages not taken yet; the consumer has %s ack pending, %s pending"
          % (len(missing), pending.get("num_ack_pending"), pending.get("num_pending")))
    w = run_worker(75)
    try:
        o, e = w.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        killpg(w.pid)
        o, e = w.communicate()
    outs.append((o, e))
    codes.append(w.returncode)
    again = [ln.split()[0] for ln in o.decode().splitlines() if ln]
flat = [i for t in taken for i in t] + again
twice = len(flat) - len(set(flat))
tap.ok(all(c == 0 for c in codes) and set(flat) == set(got) and twice <= len(again),
       "2 workers on the durable consumer (settled in %.1f s) took %s messages in %.1f s; %d more delivered again "
       "after the ack wait: %d in the stream, every one taken, %d of them twice"
       % (settle, "+".join(str(len(t)) for t in taken), first, len(again), len(got), twice),
       "codes %r, %d not taken\n" % (codes, len(set(got) - set(flat)))
       + "\n".join(e.decode(errors="replace")[-500:] for _, e in outs) + "\n%r\n%r" % (
           api("$JS.API.STREAM.INFO.HOOKS").get("cluster"), api("$JS.API.CONSUMER.INFO.HOOKS.workers").get("cluster")))

# ---- configuration errors -------------------------------------------------------
c = Client(srv.port)
for path, status, reason in [
    ("/wrongpw/hook", 500, "Authorization Violation"),
    ("/nocreds/hook", 500, "cannot read creds %s" % os.path.join(work.path, "absent")),
    ("/unknown/hook", 500, 'bad setting "colour=blue"'),
    ("/nosubject/hook", 500, "subject= is required"),
    ("/inurl/hook", 500, "servers= holds credentials"),
    ("/other/hook", 503, "expected stream does not match"),
]:
    s = post(c, path, event_body(900000 + len(path)))
    err = srv.errors()
    tap.ok(s == status and reason in err, "%s: %d, the error log says: %s" % (path.split("/")[1], status, reason),
           "status %d\n%s" % (s, err[-1500:]))
c.close()
tap.ok(HOOKLINE_PW not in srv.errors().replace("servers=nats://hookline:%s@" % HOOKLINE_PW, ""),
       "the password is in no log line")
check_clean_shutdown(tap, srv)

# ---- under valgrind -----------------------------------------------------------
if asan_build():
    tap.skip("1,000 events under valgrind", "this hookline is built with AddressSanitizer")
else:
    vg = ValgrindFcgi(pool(ARG + " timeout=5000"), work.path)
    vsrv = Lighttpd({}, fcgi_socket=vg.socket)
    c = Client(vsrv.port, timeout=120)
    statuses = {}
    vpending = []
    t0 = time.time()
    node = cluster.names.index(leader())
    for i in range(VALGRIND_EVENTS):
        if i == VALGRIND_EVENTS // 3:
            cluster.kill(node)
        if i == 2 * VALGRIND_EVENTS // 3:
            cluster.start(node)
        body = event_body(800000 + i)
        s = post(c, "/hook", body)
        statuses[s] = statuses.get(s, 0) + 1
        if s != 200:
            vpending.append(body)
    vpending = retry_all(vpending)
    c.close()
    tap.ok(set(statuses) <= {200, 503} and not vpending,
           "%d events under valgrind, the leader killed and back (%.1f s): %r, retries all stored"
           % (VALGRIND_EVENTS, time.time() - t0, statuses))
    got = by_id()
    tap.ok(all(len(got.get(eid(event_body(800000 + i)), [])) == 1 for i in range(VALGRIND_EVENTS)),
           "each of them in the stream once")
    vsrv.stop()
    vg.finish(tap)
cluster.stop_all()
tap.done()
