"""bench/benchlib.py: what the bench's experiments share.

Each experiment (bench/exp_*.py) measures one thing and writes
build/bench/NAME.json; bench/report.py renders docs/benchmarks.md from
those files alone.  This module holds what more than one of them needs:
the run's context and its checks (Run), the servers (a FastCGI pool under
the test suite's own lighttpd launcher, adnanh/webhook), wrk and its
summary line, points cut into interleaved slices and their aggregation,
group commit against one sync per event, /proc sampling, callgrind and
callgrind_annotate, the machine's facts, and the entry point that runs one
experiment and writes its JSON (main, run_experiment).

Lighttpd, free_port, wait_port and terminate are the integration tests'
(tests/integration/harness.py), found through the PYTHONPATH that
scripts/bench sets; to run an experiment alone after scripts/bench built
build/bench:

    PYTHONPATH=tests/integration python3 bench/exp_cpu.py [--smoke]

Only 127.0.0.1 is ever a target; every run and every wait is bounded.
Standard library only.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

try:
    from harness import Lighttpd, free_port, terminate, wait_port
    from harness import children as harness_children
except ImportError:
    sys.exit("bench: tests/integration is not on PYTHONPATH (scripts/bench sets it); "
             "run as PYTHONPATH=tests/integration python3 %s" % " ".join(sys.argv))

# A secret of the bench's choosing: it signs the sample event, nothing else.
SECRET = "bench-only-secret-4b1d9e"
FCGI_PROCS = 4
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
BODY = "tests/vectors/hotglue-job-completed.json"
BENCH_LINE = re.compile(r"^BENCH (.*)$", re.M)
# The hookline build's options, as scripts/bench configures build/bench.
BUILD = 'configure CFLAGS="-O2 -g" --disable-integration-tests'


def log(msg):
    print("bench: " + msg, flush=True)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def first_line(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        return p.stdout.decode(errors="replace").strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


# ---- /proc -------------------------------------------------------------------


def children(pid):
    """Pids whose parent is pid (lighttpd's FastCGI processes)."""
    return harness_children(pid)


def rss_kib(pid):
    """VmRSS of pid in KiB, or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_cpu(pid):
    """CPU seconds pid has used so far, with the children it reaped."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in v[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def cpu_busy():
    """Seconds of CPU time the whole machine spent busy so far (all CPUs,
    /proc/stat: everything but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def gsync_path(log_path):
    """Where hookline keeps a log file's group-commit counters
    (handler/gsync.c); raises OSError when the log does not exist."""
    st = os.stat(log_path)
    return "/dev/shm/hookline-gsync2-%d-%d-%d" % (os.geteuid(), st.st_dev, st.st_ino)


def gsync_counters(log_path):
    """A log file's group-commit counters: (tickets taken, fdatasyncs
    made), or None."""
    try:
        with open(gsync_path(log_path), "rb") as f:
            seq, _, syncs = struct.unpack("<QQQ", f.read(24))
        return seq, syncs
    except (OSError, struct.error):
        return None


class LogCounter:
    """Counts the lines of a log that only grows, reading only what is new."""

    def __init__(self, path):
        self.path = path
        self.size = 0
        self.lines = 0

    def count(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.size)
                data = f.read()
        except FileNotFoundError:
            return self.lines
        self.size += len(data)
        self.lines += data.count(b"\n")
        return self.lines

    def settle(self, quiet=0.5, limit=10.0):
        """Waits until the log stops growing (requests still in flight when
        wrk stopped are served and logged); returns the line count."""
        deadline = time.time() + limit
        last = self.count()
        still = time.time()
        while time.time() < deadline:
            time.sleep(0.05)
            n = self.count()
            if n != last:
                last, still = n, time.time()
            elif time.time() - still >= quiet:
                break
        return last


# ---- servers -------------------------------------------------------------------


class Server:
    """A server under test: key, label, url, the log it writes (a
    LogCounter, or None) and the processes that do the application's work."""

    def __init__(self, key, label, log_path=None):
        self.key = key
        self.label = label
        self.log = LogCounter(log_path) if log_path else None
        self.proc = None
        self.url = None
        self.known_children = []

    def worker_pids(self):
        return [self.proc.pid] if self.proc else []

    def app_cpu(self):
        """CPU seconds the application's processes have used so far (with
        the children they reaped: webhook's sh commands)."""
        return sum(proc_cpu(p) for p in self.worker_pids())

    def rss(self):
        return [r for r in (rss_kib(p) for p in self.worker_pids()) if r is not None]

    def stop(self):
        if self.proc is None:
            return
        terminate(self.proc)
        # Only the processes this server spawned, by pid.
        for pid in self.known_children:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        self.proc = None


class Pool(Server):
    """The integration tests' lighttpd on 127.0.0.1 spawning procs copies
    of bin_path as a FastCGI pool with env as their environment."""

    def __init__(self, key, label, bin_path, env, log_path=None, procs=FCGI_PROCS):
        Server.__init__(self, key, label, log_path)
        self.lighttpd = Lighttpd(env, procs=procs, bin_path=bin_path)
        self.proc = self.lighttpd.proc
        self.dir = self.lighttpd.dir
        self.url = "http://127.0.0.1:%d/hook" % self.lighttpd.port
        deadline = time.time() + 10
        while len(children(self.proc.pid)) < procs and time.time() < deadline:
            time.sleep(0.05)
        self.known_children = children(self.proc.pid)

    def worker_pids(self):
        return children(self.proc.pid) if self.proc else []


class Webhook(Server):
    """adnanh/webhook with a payload-hmac-sha1 rule on X-Hub-Signature whose
    command (sh) appends the raw body as one line; the answer waits for the
    command (include-command-output-in-response)."""

    def __init__(self, work, key, label):
        self.dir = os.path.join(work, key)
        os.makedirs(self.dir, exist_ok=True)
        Server.__init__(self, key, label, os.path.join(self.dir, "events.log"))
        script = os.path.join(self.dir, "append.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n# Appends the webhook's body as one line.\n"
                    "printf '%%s\\n' \"$1\" >>%s\n" % shell_quote(self.log.path))
        os.chmod(script, 0o755)
        hooks_path = os.path.join(self.dir, "hooks.json")
        with open(hooks_path, "w") as f:
            json.dump([{
                "id": "hook",
                "execute-command": script,
                "command-working-directory": self.dir,
                "include-command-output-in-response": True,
                "http-methods": ["POST"],
                "pass-arguments-to-command": [{"source": "raw-request-body"}],
                "trigger-rule": {"match": {"type": "payload-hmac-sha1", "secret": SECRET,
                                           "parameter": {"source": "header", "name": "X-Hub-Signature"}}},
            }], f, indent=1)
        port = free_port()
        self.url = "http://127.0.0.1:%d/hooks/hook" % port
        self.proc = subprocess.Popen(["webhook", "-ip", "127.0.0.1", "-port", str(port), "-hooks", hooks_path],
                                     env=CLEAN_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "webhook.stderr"), "w"))
        if not wait_port(port, self.proc):
            raise RuntimeError("webhook did not start; see %s" % self.dir)


# ---- wrk and points ----------------------------------------------------------


def parse_wrk(text):
    """The numbers of bench/post.lua's BENCH line, and what follows from
    them: rps, ok2xx, sockerr."""
    m = BENCH_LINE.search(text)
    if not m:
        raise RuntimeError("wrk gave no summary:\n" + text[-2000:])
    r = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
    r["ok2xx"] = int(r["requests"] - r["non2xx"])
    r["sockerr"] = int(r["connect"] + r["read"] + r["write"] + r["timeout"])
    return r


def stop_at_limit(p, watch, limit, seconds):
    """wrk's main thread sleeps for -d whatever its threads do: stops it
    (SIGINT prints the summary) once limit more lines are in the log watch,
    or when nothing more comes."""
    base = watch.count()
    last, still = base, time.time()
    deadline = time.time() + seconds
    while p.poll() is None and time.time() < deadline:
        time.sleep(0.1)
        n = watch.count()
        if n - base >= limit or (n == last and n > base and time.time() - still > 5):
            time.sleep(0.2)
            break
        if n != last:
            last, still = n, time.time()
    if p.poll() is None:
        p.send_signal(signal.SIGINT)


def aggregate(sl):
    """One figure from a point's slices: medians for rates and latency
    percentiles (robust to a slice hit by a burst), sums for counts."""
    r = {"slices": sl, "n": len(sl), "conns": sl[0]["conns"]}
    for k in ("rps", "p50_us", "p90_us", "p99_us", "cpu_us", "app_cpu_us"):
        r[k] = median([x[k] for x in sl])
    r["rps_min"] = min(x["rps"] for x in sl)
    r["rps_max"] = max(x["rps"] for x in sl)
    r["p99_max_us"] = max(x["p99_us"] for x in sl)
    for k in ("requests", "non2xx", "ok2xx", "sockerr", "timeout", "read"):
        r[k] = sum(x[k] for x in sl)
    r["seconds"] = sum(x["duration_us"] for x in sl) / 1e6
    if sl[0]["lines"] is None:
        r["lines"] = r["lines_ok"] = None
    else:
        r["lines"] = sum(x["lines"] for x in sl)
        r["lines_ok"] = all(x["lines_ok"] for x in sl)
    return r


def paired_ratio(a, b):
    """Median over slices of a's rate / b's rate in the same round:
    neighbours in time, so drift of the machine cancels out."""
    rs = [x["rps"] / y["rps"] for x, y in zip(a["slices"], b["slices"]) if y["rps"] > 0]
    return median(rs) if rs else 0.0


# ---- the run -------------------------------------------------------------------


class Run:
    """One experiment's run: its parameters (smoke or full), its work
    directory build/bench/run/NAME, the servers to stop, and its checks."""

    def __init__(self, name, top, build, smoke):
        self.name = name
        self.top = top
        self.build = build
        self.smoke = smoke
        self.work = os.path.join(build, "run", name)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        os.chmod(self.work, 0o755)
        # The test harness's lighttpd directories go here and stay, as the
        # run's raw material.
        tempfile.tempdir = self.work
        os.environ["HOOKLINE_KEEP_TMP"] = "1"
        self.seconds = int(os.environ.get("BENCH_SECONDS") or (1 if smoke else 10))
        self.conns = [1, 16] if smoke else [1, 4, 16, 64]
        self.ncpu = os.cpu_count() or 2
        self.body_path = os.path.join(top, BODY)
        with open(self.body_path, "rb") as f:
            self.body = f.read()
        self.sig = hmac.new(SECRET.encode(), self.body, hashlib.sha1).hexdigest()
        self.hookline = os.path.join(build, "handler/hookline")
        self.drivers = os.path.join(build, "bench")
        self.lua = os.path.join(top, "bench/post.lua")
        self.servers = []
        self.failures = []
        self.wrk_log = open(os.path.join(self.work, "wrk.out"), "w")

    def check(self, cond, what):
        if not cond:
            self.failures.append(what)
            log("CHECK FAILED: " + what)
        return cond

    def stop_servers(self):
        for s in self.servers:
            s.stop()

    def hl_pool(self, key, label, log_path, sync):
        """A pool of hookline processes (lighttpd + FCGI_PROCS) logging to
        log_path with HOOKLINE_SYNC=sync; stopped with the run."""
        srv = Pool(key, label, self.hookline,
                   {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": log_path, "HOOKLINE_SYNC": sync},
                   log_path=log_path)
        self.servers.append(srv)
        return srv

    def wrk(self, url, conns, seconds, limit=None, watch=None):
        """One wrk run; returns the numbers of post.lua's BENCH line.  With
        limit, the run is bounded by that many requests (watch, the log,
        tells when they are in) and seconds is only the upper bound."""
        threads = max(1, min(conns, self.ncpu))
        env = dict(os.environ, BENCH_BODY=self.body_path, BENCH_SIG=self.sig, BENCH_THREADS=str(threads))
        if limit:
            env["BENCH_LIMIT"] = str(limit)
        cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", "%ds" % seconds,
               "--latency", "--timeout", "10s", "-s", self.lua, url]
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if limit:
            stop_at_limit(p, watch, limit, seconds)
        try:
            out, _ = p.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        text = out.decode(errors="replace")
        self.wrk_log.write("$ %s\n%s\n" % (" ".join(cmd), text))
        self.wrk_log.flush()
        return parse_wrk(text)

    def point(self, srv, conns, seconds):
        """wrk against srv for seconds at conns connections, with the CPU
        used per request and the lines its log gained; checked."""
        # The previous point of this server ended with a settle().
        before = srv.log.count() if srv.log else None
        busy, app = cpu_busy(), srv.app_cpu()
        r = self.wrk(srv.url, conns, seconds)
        # Whole machine (wrk and the web server included), so only
        # differences between scenarios of one run mean anything; and the
        # application's own processes (FastCGI workers, webhook).
        per = 1e6 / r["requests"] if r["requests"] else 0.0
        r["cpu_us"] = (cpu_busy() - busy) * per
        r["app_cpu_us"] = (srv.app_cpu() - app) * per
        r["lines"] = srv.log.settle() - before if srv.log else None
        r["conns"] = conns
        self.check_point(srv.key, r)
        return r

    def check_point(self, key, r):
        """Some requests served, no non-2xx answer, every 2xx logged (and,
        in a full run, no more lines than the in-flight slack allows)."""
        what = "%s at %d connections" % (key, r["conns"])
        self.check(r["requests"] > 0, what + ": no request served")
        self.check(r["non2xx"] == 0, what + ": %d non-2xx answers" % r["non2xx"])
        if r["lines"] is None:
            r["lines_ok"] = None
            return
        # wrk may not count answers still in flight when its time is up
        # (at most one per connection), nor ones it gave up on.
        slack = r["conns"] + r["timeout"] + r["read"]
        r["lines_ok"] = r["lines"] >= r["ok2xx"] and r["lines"] - r["ok2xx"] <= slack
        self.check(r["lines"] >= r["ok2xx"],
                   what + ": %d log lines < %d 2xx answers" % (r["lines"], r["ok2xx"]))
        if not self.smoke:
            self.check(r["lines"] - r["ok2xx"] <= slack,
                       what + ": %d log lines, %d more than the %d 2xx answers (slack %d)"
                       % (r["lines"], r["lines"] - r["ok2xx"], r["ok2xx"], slack))

    def slices(self):
        """How a point's seconds are cut: (number of slices, seconds each)."""
        n = max(1, self.seconds // 2)
        return n, max(1, round(self.seconds / n))

    def warm_up(self, servers):
        """A one-second point at 4 connections on each server (full runs
        only): pages in, fills caches."""
        if not self.smoke:
            for srv in servers:
                self.point(srv, 4, 1)

    def interleaved(self, servers, conns, shift=0):
        """Runs each server for self.seconds at conns connections, in slices
        of ~2 s taken in turn (order rotated, and reversed every other
        round), so that a burst of load from the neighbours lands on one
        slice of each scenario rather than on one whole scenario.  Returns
        {key: aggregate}."""
        n, secs = self.slices()
        acc = {s.key: [] for s in servers}
        for k in range(n):
            j = (shift + k) % len(servers)
            order = servers[j:] + servers[:j]
            if k % 2:
                order = order[::-1]
            for srv in order:
                acc[srv.key].append(self.point(srv, conns, secs))
        return {key: aggregate(v) for key, v in acc.items()}

    def cgi_env(self, log_path):
        """The environment lighttpd's mod_cgi gives hookline for the sample
        event, with its settings (SYNC=none, log_path)."""
        return dict(CLEAN_ENV, **{
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "lighttpd/1.4.69",
            "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "127.0.0.1", "SERVER_ADDR": "127.0.0.1",
            "SERVER_PORT": "80", "REQUEST_METHOD": "POST", "REQUEST_URI": "/cgi-bin/hookline",
            "SCRIPT_NAME": "/cgi-bin/hookline", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "40000", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(self.body)), "HTTP_HOST": "127.0.0.1",
            "HTTP_X_HUB_SIGNATURE": self.sig, "HOOKLINE_SECRET": SECRET,
            "HOOKLINE_LOG": log_path, "HOOKLINE_SYNC": "none",
        })

    def callgrind(self, name, argv, env, stdin=None, toggle=None):
        """argv under callgrind (only the function toggle, if given);
        returns (the callgrind file, total Ir).  Checks the exit status."""
        out = os.path.join(self.work, "callgrind.%s" % name)
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
        if toggle:
            cmd += ["--collect-atstart=no", "--toggle-collect=" + toggle]
        with open(out + ".stderr", "w") as err:
            p = subprocess.run(cmd + argv, env=env, stdin=stdin or subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=err, timeout=900)
        self.check(p.returncode == 0, "callgrind %s: exit %d (see %s.stderr)" % (name, p.returncode, out))
        total = None
        with open(out) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    total = int(line.split()[1])
        return out, total


# ---- group commit against one sync per event -----------------------------------


def compare_sync(run, tag, logdir, conns_list):
    """Group commit against one fdatasync per event: two pools of
    FCGI_PROCS hookline processes logging to logdir, SYNC=group and
    SYNC=each, in turn slice by slice at each connection count.  Returns
    {"rows": aggregates with mode and per_sync, "ratio": [{conns, ratio}]}
    where ratio is group / each."""
    pools = {}
    for mode in ("group", "each"):
        key = "hl-%s%s" % (mode, tag)
        pools[mode] = run.hl_pool(key, "hookline, SYNC=%s" % mode, os.path.join(logdir, key + ".jsonl"), mode)
    rows, ratio = [], []
    try:
        run.warm_up(list(pools.values()))
        for i, c in enumerate(conns_list):
            before = {m: gsync_counters(v.log.path) for m, v in pools.items()}
            res = run.interleaved(list(pools.values()), c, shift=i)
            for mode, srv in pools.items():
                rows.append(sync_row(run, res[srv.key], mode, tag, before[mode], gsync_counters(srv.log.path)))
            ratio.append({"conns": c, "ratio": paired_ratio(res[pools["group"].key], res[pools["each"].key])})
    finally:
        for srv in pools.values():
            srv.stop()
            # hookline's counters for this log, which nobody rotates.
            try:
                os.unlink(gsync_path(srv.log.path))
            except OSError:
                pass
    return {"rows": rows, "ratio": ratio}


def sync_row(run, r, mode, tag, before, after):
    """One SYNC pool's aggregate at one connection count, with its events
    per fdatasync from hookline's counters (SYNC=each makes one per event);
    checked."""
    r["mode"] = mode
    b = before or (0, 0)
    r["per_sync"] = (after[0] - b[0]) / (after[1] - b[1]) if after and after[1] > b[1] else 1.0
    log("sync %-5s%s c=%-3d %.0f req/s p99 %.2f ms, %.2f events/fdatasync"
        % (mode, tag, r["conns"], r["rps"], r["p99_us"] / 1e3, r["per_sync"]))
    run.check(r["non2xx"] == 0 and r["ok2xx"] > 0 and r["lines_ok"] is not False,
              "sync %s%s c=%d: %d non-2xx, %d 2xx, %s log lines"
              % (mode, tag, r["conns"], r["non2xx"], r["ok2xx"], r["lines"]))
    return r


# ---- callgrind_annotate -------------------------------------------------------


def annotate(path, inclusive=False):
    """callgrind_annotate's function list: [(Ir, name)]."""
    cmd = ["callgrind_annotate", "--threshold=100", "--inclusive=" + ("yes" if inclusive else "no"), path]
    text = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          timeout=300).stdout.decode(errors="replace")
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+) \([ \d.]+%\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    return rows


def callers(path):
    """For each function ('file:fn [object]'), its costliest caller."""
    cmd = ["callgrind_annotate", "--threshold=100", "--tree=caller", path]
    text = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          timeout=300).stdout.decode(errors="replace")
    best = {}
    group = []
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+) \([ \d.]+%\)\s+([<*])\s+(\S.*?)(?: \([\d,]+x\))?( \[.*\])?$", line)
        if not m:
            group = []
            continue
        ir, name = int(m.group(1).replace(",", "")), m.group(3) + (m.group(4) or "")
        if m.group(2) == "<":
            group.append((ir, name))
        else:
            if group:
                best[name] = max(group)[1]
            group = []
    return best


def split_name(name):
    """'file:function [object]' -> (file, function, object)."""
    m = re.match(r"^(.*?):(.*?)(?: \[(.*)\])?$", name)
    return (m.group(1), m.group(2), m.group(3) or "") if m else ("", name, "")


def short(name, up_of=None):
    """'file:function [object]' -> '`function` (file, object)'; a function
    without a symbol is named by its nearest named caller (up_of: callers())."""
    where, fn, obj = split_name(name)
    objb = os.path.basename(obj)
    if where == "???":
        where = objb
    else:
        where = os.path.basename(where)
        if objb and not objb.startswith(("hl-events", "floor-events", "hookline")):
            where += ", " + objb
    s = "`%s` (%s)" % (fn, where)
    if fn.startswith("0x") and up_of:
        up, seen = name, set()
        while up in up_of and up not in seen:
            seen.add(up)
            up = up_of[up]
            cfn = split_name(up)[1]
            if not cfn.startswith("0x"):
                s += ": no symbol (static); under `%s`" % re.sub(r"'\d+$", "", cfn)
                break
    return s


def top_functions(path, count, per=1):
    """The count functions of a callgrind file with the most own
    instructions: [[Ir / per, their short name]]."""
    up_of = callers(path)
    return [[ir / per, short(name, up_of)] for ir, name in annotate(path)[:count]]


def inclusive(path, names):
    """Inclusive Ir of the functions called names (any file), by name."""
    out = {}
    for ir, full in annotate(path, inclusive=True):
        fn = re.sub(r"'\d+$", "", split_name(full)[1])
        if fn in names:
            out[fn] = max(out.get(fn, 0), ir)
    return out


# ---- the machine ---------------------------------------------------------------


def machine(work):
    """What the report's Machine section says: CPUs, kernel, the work
    directory's filesystem, the tools' versions."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    webhook = first_line(["webhook", "-version"]).replace("webhook version ", "")
    return {
        "nproc": os.cpu_count() or 2, "cpu": model, "kernel": platform.release(),
        "fs": first_line(["sh", "-c", "df -PT %s | tail -1 | awk '{print $2\" (\"$1\")\"}'" % shell_quote(work)]),
        "build": BUILD,
        "webhook": webhook,
        "tools": [first_line(["lighttpd", "-v"]).split(" - ")[0], "webhook " + webhook,
                  " ".join(first_line(["wrk", "-v"]).split()[:2]), first_line(["valgrind", "--version"]),
                  first_line(["hyperfine", "--version"]), first_line(["openssl", "version"]).split(" (")[0],
                  first_line(["cc", "--version"])],
    }


# ---- running an experiment -----------------------------------------------------


def run_experiment(name, measure, top, build, smoke, run_id=None):
    """Runs measure(run) and writes build/bench/NAME.json: what it returned,
    the run's facts (meta) and its failed checks.  The file is removed
    first, so that a run that dies leaves none.  Returns the exit status:
    0, 1 when a check failed, 130 when interrupted."""
    out = os.path.join(build, name + ".json")
    if os.path.exists(out):
        os.unlink(out)
    run = Run(name, top, build, smoke)
    meta = {"name": name, "date": now_utc(), "load_start": load_average(), "smoke": smoke,
            "seconds": run.seconds, "conns": run.conns}
    meta["run_id"] = run_id or meta["date"]
    log("%s: work dir %s" % (name, run.work))
    t0 = time.time()
    try:
        data = measure(run)
    except KeyboardInterrupt:
        log("%s: interrupted" % name)
        return 130
    finally:
        run.stop_servers()
    meta.update(elapsed=time.time() - t0, load_end=load_average(), machine=machine(run.work))
    data.update(meta=meta, failures=run.failures)
    with open(out + ".tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.rename(out + ".tmp", out)
    log("%s: wrote %s in %.0f s, %d failed check(s)" % (name, out, meta["elapsed"], len(run.failures)))
    return 1 if run.failures else 0


def stop_on_sigterm():
    """SIGTERM as KeyboardInterrupt, so that the servers are stopped."""
    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)


def arguments(doc):
    """--top, --build, --smoke: the bench's command line."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--top", default=top, help="the source tree (default: %(default)s)")
    ap.add_argument("--build", help="the build directory (default: TOP/build/bench)")
    ap.add_argument("--smoke", action="store_true", help="a second or two per part; checks only")
    args = ap.parse_args()
    args.build = args.build or os.path.join(args.top, "build", "bench")
    return args


def main(name, measure, doc):
    """An experiment run alone: bench/exp_NAME.py [--top T] [--build B] [--smoke]."""
    args = arguments(doc)
    stop_on_sigterm()
    return run_experiment(name, measure, args.top, args.build, args.smoke)
