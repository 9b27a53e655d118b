"""The redis plugin through a real lighttpd and a real redis-server on a
loopback port: every event lands in the stream (XRANGE), MAXLEN ~ trims,
and when Redis dies mid-stream (kill -9; Redis runs with appendfsync
always, as a deployment that cares would) every event answered 200 is in
the stream after Redis comes back and every other one got 503; then
events flow again without restarting hookline."""

import os
import signal
import socket
import subprocess
import threading
import time

from harness import Client, Lighttpd, Tap, Workdir, check_clean_shutdown, event_body, free_port, require, sha1_sig

BUILD = os.environ.get("HOOKLINE_BUILDDIR", ".")
REDIS_SO = os.path.join(BUILD, "handler/plugins/.libs/redis.so")
SECRET = "it-redis-secret"
REDIS = require("redis-server", "redis-server")
require("lighttpd", "lighttpd")
tap = Tap()
work = Workdir()
port = free_port()


def start_redis():
    p = subprocess.Popen([REDIS, "--port", str(port),
                          "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                          "--dir", work.path, "--daemonize", "no", "--protected-mode", "yes"],
                         stdout=open(os.path.join(work.path, "redis.out"), "a"), stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            if resp("PING") == "PONG":
                return p
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def resp(*args):
    """One command over RESP, the reply as Python values."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a) for a in (x if isinstance(x, bytes) else x.encode() for x in args)))
        f = s.makefile("rb")

        def read():
            line = f.readline()[:-2]
            t, rest = line[:1], line[1:]
            if t == b"+":
                return rest.decode()
            if t == b"-":
                raise RuntimeError(rest.decode())
            if t == b":":
                return int(rest)
            if t == b"$":
                n = int(rest)
                if n < 0:
                    return None
                data = f.read(n + 2)[:-2]
                return data
            if t == b"*":
                return [read() for _ in range(int(rest))]
            raise RuntimeError("bad reply %r" % line)
        return read()


def stream(name):
    """{body: fields} of every entry."""
    out = []
    for _, fields in resp("XRANGE", name, "-", "+"):
        out.append({fields[i].decode(): fields[i + 1] for i in range(0, len(fields), 2)})
    return out


redis = start_redis()
BASE = {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": "@DIR@/events.jsonl"}
# A plugin comes from the process environment only: one pool each.
srv = Lighttpd(BASE, procs=4, pools={
    "/hook": dict(BASE, HOOKLINE_PLUGIN=REDIS_SO, HOOKLINE_PLUGIN_ARG="port=%d stream=hooks timeout=500" % port),
    "/capped/": dict(BASE, HOOKLINE_PLUGIN=REDIS_SO, HOOKLINE_PLUGIN_ARG="port=%d stream=capped maxlen=10" % port),
    "/bad/": dict(BASE, HOOKLINE_PLUGIN=REDIS_SO, HOOKLINE_PLUGIN_ARG="port=%d colour=blue" % port),
})
c = Client(srv.port)
sent = []
for i in range(200):
    body = event_body(i)
    r = c.post("/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
    if r.status != 200:
        tap.ok(False, "event %d: %d" % (i, r.status), r.body)
        break
    sent.append(body)
tap.eq(len(sent), 200, "200 events answered 200")
entries = stream("hooks")
tap.eq([e["body"] for e in entries], sent, "XRANGE holds the 200 raw bodies, in order")
import hashlib, json  # noqa: E402
tap.ok(all(e["id"].decode() == hashlib.sha256(e["body"]).hexdigest()
           and e["status"].decode() == json.loads(e["body"])["status"] for e in entries),
       "each entry's id and status fields match its body")
for i in range(300):
    body = event_body(1000 + i)
    c.post("/capped/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
n = resp("XLEN", "capped")
tap.ok(10 <= n < 300, "MAXLEN ~ 10 trims the stream (300 sent, %d kept)" % n)
body = event_body(2000)
tap.eq(c.post("/bad/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)}).status, 500,
       "unknown plugin setting -> 500")
c.close()

# Redis dies mid-stream and comes back.
acked, refused, other = [], [], []
progress = [0]


def client(k):
    cl = Client(srv.port)
    for j in range(150):
        body = event_body(10000 + k * 1000 + j)
        r = cl.post("/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
        (acked if r.status == 200 else refused if r.status == 503 else other).append(body)
        progress[0] += 1
        time.sleep(0.002)
    cl.close()


threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
deadline = time.time() + 60
while progress[0] < 150 and time.time() < deadline:
    time.sleep(0.01)
redis.send_signal(signal.SIGKILL)
redis.wait()
down_at = progress[0]
while progress[0] < down_at + 100 and time.time() < deadline:
    time.sleep(0.01)
redis = start_redis()
for t in threads:
    t.join(timeout=300)
tap.eq(len(other), 0, "every answer was 200 or 503")
tap.ok(len(refused) > 0 and len(acked) > 150, "%d acknowledged, %d refused with 503 while Redis was down"
       % (len(acked), len(refused)))
inside = {e["body"] for e in stream("hooks")}
tap.eq(sum(1 for b in acked if b not in inside), 0, "every event answered 200 is in the stream")
c = Client(srv.port)
body = event_body(99999)
tap.eq(c.post("/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)}).status, 200,
       "after Redis is back, events flow again (reconnected)")
c.close()
check_clean_shutdown(tap, srv)
redis.send_signal(signal.SIGTERM)
redis.wait(timeout=30)
err = srv.errors()
tap.ok("cannot connect to redis" in err or "redis:" in err, "the outage is in the error log", err[-1500:])
tap.ok('bad setting "colour=blue"' in err, "bad setting named in the error log", err[-1500:])
tap.done()
