"""bench/plugins.py: what the scale-out destinations cost, next to the log
alone, measured in one run on this machine (run by hand, not by make):

    python3 bench/plugins.py [--build build/x] [--seconds 8] [--conns 4,16]

One lighttpd with a hookline pool (4 processes) per scenario:

  log             HOOKLINE_LOG, HOOKLINE_SYNC=always (the default)
  jetstream       the jetstream plugin alone, into a 3-node cluster, a
                  stream with 3 replicas
  postgres        the postgres plugin alone, one PostgreSQL (fsync on,
                  synchronous_commit on)
  log+jetstream   both, as a deployment that keeps a local log runs it
  log+postgres

wrk (bench/plugins.lua) sends a different signed event on every request,
for --seconds at each connection count, the scenarios in rotated order at
each count so that they share the machine's noise.  Printed: events/s,
p50 and p99 latency, non-2xx answers, and a check that the destination
holds at least as many events as were answered 2xx.  The servers are the
integration tests' (tests/integration/engines.py): loopback ports only,
all stopped at exit.  Standard library only; needs wrk, nats-server,
PostgreSQL and a build with both plugins.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
os.environ.setdefault("HOOKLINE_SRCDIR", TOP)

SECRET = "bench-plugins-secret-8e4c"
PROCS = 4
BENCH_LINE = re.compile(r"^BENCH (.*)$", re.M)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(TOP, "build", "x"))
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--conns", default="4,16")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.environ["HOOKLINE_BIN"] = os.path.join(build, "handler", "hookline")
    os.environ["HOOKLINE_BUILDDIR"] = build
    # harness reads HOOKLINE_BIN when imported.
    from harness import Lighttpd, Workdir, read_log
    from engines import NatsCluster, Postgres, exit_on_signals, man_block, pg_bindir, stream_messages

    exit_on_signals()
    so = {n: os.path.join(build, "handler", "plugins", ".libs", n + ".so") for n in ("jetstream", "postgres")}
    for n, path in so.items():
        if not os.path.exists(path):
            sys.exit("no %s: build hookline with both plugins first" % path)
    work = Workdir(prefix="hookline-bench-")

    log("starting a 3-node NATS cluster and PostgreSQL")
    pw = {"hookline": "bench-nats-1", "worker": "bench-nats-2"}
    cluster = NatsCluster(work.path, 3, users=pw)
    cluster.wait_ready("worker", pw["worker"])
    end = time.time() + 60
    while time.time() < end:
        try:
            cluster.api("worker", pw["worker"], "$JS.API.STREAM.CREATE.HOOKS", {
                "name": "HOOKS", "subjects": ["hooks.>"], "num_replicas": 3, "storage": "file",
                "duplicate_window": 120 * 10**9}, seconds=5)
            break
        except Exception:  # the cluster is still electing its leader
            time.sleep(0.5)
    nats_pwf = os.path.join(work.path, "nats-password")
    with open(nats_pwf, "w") as f:
        f.write(pw["hookline"] + "\n")
    pg = Postgres(work.path, pg_bindir())
    pg.psql("CREATE DATABASE hooks ENCODING 'UTF8' TEMPLATE template0", db="postgres")
    pg.psql(man_block("hookline-postgres.3", "ddl"))
    pg.psql("ALTER ROLE hookline PASSWORD 'bench-pg'")
    pgpass = os.path.join(work.path, "pgpass")
    with open(pgpass, "w") as f:
        f.write("127.0.0.1:%d:hooks:hookline:bench-pg\n" % pg.port)
    os.chmod(pgpass, 0o600)

    base = {"HOOKLINE_SECRET": SECRET}
    logged = dict(base, HOOKLINE_LOG=os.path.join(work.path, "events.jsonl"))
    js = {"HOOKLINE_PLUGIN": so["jetstream"], "HOOKLINE_PLUGIN_ARG":
          "servers=%s subject=hooks.{status} stream=HOOKS user=hookline password_file=%s"
          % (cluster.urls(), nats_pwf)}
    pq = {"HOOKLINE_PLUGIN": so["postgres"], "HOOKLINE_PLUGIN_ARG":
          "table=hookline_events host=127.0.0.1 port=%d dbname=hooks user=hookline sslmode=disable" % pg.port,
          "PGPASSFILE": pgpass}
    scenarios = [
        ("log", dict(logged)),
        ("jetstream", dict(base, **js)),
        ("postgres", dict(base, **pq)),
        ("log+jetstream", dict(logged, **js)),
        ("log+postgres", dict(logged, **pq)),
    ]
    srv = Lighttpd(base, procs=PROCS, pools={"/%s/" % k: env for k, env in scenarios})

    def stored():
        """Events held by each destination so far."""
        return {"log": len(read_log(logged["HOOKLINE_LOG"])),
                "jetstream": cluster.api("worker", pw["worker"], "$JS.API.STREAM.INFO.HOOKS")["state"]["messages"],
                "postgres": int(pg.psql("SELECT count(*) FROM hookline_events")[0][0])}

    conns = [int(c) for c in args.conns.split(",")]
    results = []
    run = 0
    load0 = os.getloadavg()
    for ci, c in enumerate(conns):
        order = scenarios[ci % len(scenarios):] + scenarios[:ci % len(scenarios)]
        for key, _ in order:
            run += 1
            before = stored()
            r = wrk(srv.port, key, c, args.seconds, run, work.path)
            after = stored()
            ok2xx = int(r["requests"] - r["non2xx"])
            dests = key.split("+")
            held = {d: after[d] - before[d] for d in dests}
            r.update(key=key, conns=c, ok2xx=ok2xx, held=held,
                     check=all(v >= ok2xx for v in held.values()) and r["non2xx"] == 0)
            results.append(r)
            log("%-14s %3d conns: %7.0f events/s, p50 %6.2f ms, p99 %6.2f ms, non-2xx %d, stored %s"
                % (key, c, r["rps"], r["p50_us"] / 1000, r["p99_us"] / 1000, r["non2xx"], held))
    load1 = os.getloadavg()
    srv.stop()
    cluster.stop_all()
    pg.stop()

    print()
    print("hookline %s, %d CPUs, load average %.1f before, %.1f after; %d s per point, %d hookline processes "
          "per scenario" % (os.path.basename(build), os.cpu_count() or 0, load0[0], load1[0], args.seconds, PROCS))
    print()
    print("| scenario | conns | events/s | p50 ms | p99 ms | non-2xx | stored >= 2xx |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for key, _ in scenarios:
        for r in (x for x in results if x["key"] == key):
            print("| %s | %d | %.0f | %.2f | %.2f | %d | %s |" % (
                key, r["conns"], r["rps"], r["p50_us"] / 1000, r["p99_us"] / 1000, r["non2xx"],
                "yes" if r["check"] else "NO %r" % r["held"]))
    sys.exit(0 if all(r["check"] for r in results) else 1)


def log(msg):
    sys.stderr.write("[plugins bench] %s\n" % msg)
    sys.stderr.flush()


def wrk(port, key, conns, seconds, run, workdir):
    """One wrk run of distinct signed events; the numbers of its BENCH line."""
    threads = max(1, min(conns, os.cpu_count() or 1))
    # More events than the fastest scenario sends in the time.
    count = 12000 * seconds
    path = os.path.join(workdir, "events-%d.tsv" % run)
    with open(path, "w") as f:
        for i in range(count):
            body = json.dumps({"job_id": "bench-%d-%d" % (run, i), "status": "JOB_COMPLETED",
                               "tenant": "t%d" % (i % 7), "flow_id": "FLOW1", "n": i},
                              separators=(",", ":"))
            sig = hmac.new(SECRET.encode(), body.encode(), hashlib.sha1).hexdigest()
            f.write("%s\t%s\n" % (sig, body))
    env = dict(os.environ, BENCH_EVENTS=path, BENCH_THREADS=str(threads))
    cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", "%ds" % seconds, "--latency", "--timeout", "10s",
           "-s", os.path.join(TOP, "bench", "plugins.lua"), "http://127.0.0.1:%d/%s/hook" % (port, key)]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=seconds + 120)
    text = p.stdout.decode(errors="replace")
    os.unlink(path)
    m = BENCH_LINE.search(text)
    if not m:
        raise RuntimeError("wrk gave no summary:\n" + text[-2000:])
    r = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
    return r


if __name__ == "__main__":
    main()
