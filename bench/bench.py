"""bench/bench.py: where hookline stands against its peers and its limits.

Run by scripts/bench, which installs the tools, builds hookline and the
drivers in build/bench and calls

    python3 bench/bench.py --top TOP --build TOP/build/bench [--smoke]

Everything runs side by side in one run on this machine, so that the
ratios (hookline against the no-op FastCGI floor, against adnanh/webhook,
against its own instruction floor, against exec'ing /bin/true) are measured
under the same noise; callgrind instruction counts are the figures that do
not depend on the noise at all.

  servers  lighttpd + bench/noop-fcgi (floor), hookline SYNC=none and
           SYNC=always under lighttpd, adnanh/webhook with an HMAC rule and
           a sh command appending the body; wrk + bench/post.lua at 1, 4,
           16, 64 connections, the scenarios in rotated order at each count
  durable  hookline SYNC=group (group commit) against SYNC=each (one
           fdatasync per event), 4 processes each, at 1, 4, 16, 64
           connections; then the same on a fresh ext4, XFS and btrfs (loop
           devices) at 4, 16, 64
  rss      hookline SYNC=none: VmRSS before and after a bounded 100k run
  cgi      bench/cgi-loop: hookline and /bin/true spawned alternately;
           hyperfine as a cross-check
  cpu      callgrind: bench/hl-events (hookline's per-event path) and
           bench/floor-events (HMAC-SHA1 + cJSON), N1 and N2 events, the
           difference per event; top functions; CGI start-up counts

The full run writes docs/benchmarks.md and docs/benchmarks.png; --smoke
runs every part for a second or two, writes build/bench/smoke.md and checks
only correctness: each scenario served requests, none got a non-2xx
answer, the logs hold at least as many lines as 2xx answers, the drivers
stored every event.  Exit status 1 when a check fails.  Only 127.0.0.1 is
ever a target; every run and every wait is bounded.  Standard library only.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import struct
import sys
import time

# Loopback ports and readiness, as the integration tests do them.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import free_port, terminate, wait_port  # noqa: E402

# A secret of the bench's choosing: it signs the sample event, nothing else.
SECRET = "bench-only-secret-4b1d9e"

SCENARIOS = [
    # key, label, kind
    ("noop", "lighttpd + no-op FastCGI (floor)", "fcgi"),
    ("hl-none", "hookline, SYNC=none", "fcgi"),
    ("hl-always", "hookline, SYNC=always", "fcgi"),
    ("webhook", "adnanh/webhook + sh append", "webhook"),
]
FCGI_PROCS = 4

# hookline's per-event steps for the inclusive table: (function, depth, note).
HL_STEPS = [
    ("serve_request", 0, "the whole per-request pipeline but the transport"),
    ("request_check_method", 1, ""),
    ("config_get", 1, "HOOKLINE_* lookups in the parameters, then getenv; cached parse"),
    ("request_read_body", 1, ""),
    ("sig_verify", 1, "hex decode + HMAC-SHA1 (reused context)"),
    ("event_parse", 1, ""),
    ("json_text_ok", 2, "strict UTF-8 / control character / number pass"),
    ("cJSON_ParseWithLengthOpts", 2, ""),
    ("EVP_Digest", 2, "SHA-256 of the body: the event id"),
    ("cJSON_GetObjectItemCaseSensitive", 2, "status, job_id, flow_id, tenant"),
    ("record_max", 1, ""),
    ("record_format", 1, "the log line: timestamp (gmtime_r, snprintf), copy with CR/LF -> space"),
    ("sink_log_append", 1, "user-space part only: flock, fstat, stat, pread, write are system calls"),
    ("answer_format", 1, ""),
    ("event_clear", 1, "cJSON_Delete"),
    ("io_param", 0, "all calls, any step (FCGX_GetParam: linear strncmp scan of the parameters)"),
    ("getenv", 0, "all calls, any step"),
]
FLOOR_STEPS = ["EVP_MAC_init", "EVP_MAC_update", "EVP_MAC_final", "cJSON_ParseWithLengthOpts", "cJSON_Delete"]
# One CGI execution of hookline: inclusive Ir of these, where present.
CGI_STEPS = [
    ("main", "all of hookline's own work"),
    ("serve_cgi", ""),
    ("config_get", "settings, and keying the HMACs"),
    ("sig_hmac_key", "EVP_MAC_fetch + EVP_MAC_CTX_new + EVP_MAC_init, x2 (SHA-1, SHA-256)"),
    ("EVP_MAC_fetch", "OpenSSL 3 provider and algorithm fetch"),
    ("event_parse", ""),
    ("EVP_MD_fetch", "digest fetches: HMAC keying (SHA-1, SHA-256) and the id's SHA-256"),
    ("sink_log_append", ""),
    ("OPENSSL_init_crypto", ""),
    ("OPENSSL_cleanup", "at exit"),
    ("_dl_relocate_object", "dynamic loader: relocations and symbol lookups"),
    ("_dl_map_object", "dynamic loader: finding and mapping the libraries"),
    ("_dl_init", "library constructors"),
    ("exit", "exit handlers"),
]


def log(msg):
    print("bench: " + msg, flush=True)


# ---- small helpers ---------------------------------------------------------


def children(pid):
    """Pids whose parent is pid (lighttpd's FastCGI processes)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return sorted(out)


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def first_line(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        return p.stdout.decode(errors="replace").strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def lighttpd_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


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


# ---- the servers -------------------------------------------------------------


class Server:
    def __init__(self, key, label):
        self.key = key
        self.label = label
        self.proc = None
        self.port = None
        self.url = None
        self.log = None
        self.known_children = []

    def worker_pids(self):
        return [self.proc.pid]

    def app_cpu(self):
        """CPU seconds the application's processes have used so far (with
        the children they reaped: webhook's sh commands)."""
        t = 0
        for pid in self.worker_pids():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    v = f.read().rsplit(")", 1)[1].split()
                t += sum(int(x) for x in v[11:15])
            except (OSError, IndexError, ValueError):
                pass
        return t / os.sysconf("SC_CLK_TCK")

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


class LighttpdFcgi(Server):
    """lighttpd on 127.0.0.1 spawning bin_path as a FastCGI pool."""

    def __init__(self, work, key, label, bin_path, env, procs=FCGI_PROCS, log_path=None):
        Server.__init__(self, key, label)
        self.dir = os.path.join(work, key)
        os.makedirs(os.path.join(self.dir, "www"), exist_ok=True)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/hook" % self.port
        self.log = LogCounter(log_path) if log_path else None
        benv = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
        benv.update(env)
        envs = ", ".join("%s => %s" % (lighttpd_quote(k), lighttpd_quote(v)) for k, v in benv.items())
        conf = "\n".join([
            'server.modules = ("mod_fastcgi")',
            "server.document-root = %s" % lighttpd_quote(os.path.join(self.dir, "www")),
            'server.bind = "127.0.0.1"',
            "server.port = %d" % self.port,
            "server.errorlog = %s" % lighttpd_quote(os.path.join(self.dir, "error.log")),
            'fastcgi.server = ( "/hook" => (( "bin-path" => %s, "socket" => %s, '
            '"max-procs" => %d, "check-local" => "disable", "bin-environment" => ( %s ) )) )'
            % (lighttpd_quote(bin_path), lighttpd_quote(os.path.join(self.dir, "fcgi.sock")), procs, envs),
        ]) + "\n"
        self.conf = os.path.join(self.dir, "lighttpd.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        lighttpd = shutil.which("lighttpd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", ""))
        self.proc = subprocess.Popen([lighttpd, "-D", "-f", self.conf],
                                     env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "lighttpd.stderr"), "w"))
        if not wait_port(self.port, self.proc):
            raise RuntimeError("%s: lighttpd did not start; see %s" % (key, self.dir))
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
        Server.__init__(self, key, label)
        self.dir = os.path.join(work, key)
        os.makedirs(self.dir, exist_ok=True)
        log_path = os.path.join(self.dir, "events.log")
        self.log = LogCounter(log_path)
        script = os.path.join(self.dir, "append.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n# Appends the webhook's body as one line.\n"
                    "printf '%%s\\n' \"$1\" >>%s\n" % shlex_quote(log_path))
        os.chmod(script, 0o755)
        hooks = [{
            "id": "hook",
            "execute-command": script,
            "command-working-directory": self.dir,
            "include-command-output-in-response": True,
            "http-methods": ["POST"],
            "pass-arguments-to-command": [{"source": "raw-request-body"}],
            "trigger-rule": {"match": {"type": "payload-hmac-sha1", "secret": SECRET,
                                       "parameter": {"source": "header", "name": "X-Hub-Signature"}}},
        }]
        hooks_path = os.path.join(self.dir, "hooks.json")
        with open(hooks_path, "w") as f:
            json.dump(hooks, f, indent=1)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/hooks/hook" % self.port
        self.proc = subprocess.Popen(["webhook", "-ip", "127.0.0.1", "-port", str(self.port),
                                      "-hooks", hooks_path],
                                     env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "webhook.stderr"), "w"))
        if not wait_port(self.port, self.proc):
            raise RuntimeError("webhook did not start; see %s" % self.dir)


def shlex_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


# ---- wrk ------------------------------------------------------------------------

BENCH_LINE = re.compile(r"^BENCH (.*)$", re.M)


class Bench:
    def __init__(self, args):
        self.top = args.top
        self.build = args.build
        self.smoke = args.smoke
        self.work = os.path.join(self.build, "run")
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        os.chmod(self.work, 0o755)
        self.seconds = int(os.environ.get("BENCH_SECONDS") or (1 if self.smoke else 10))
        self.conns = [1, 16] if self.smoke else [1, 4, 16, 64]
        self.durable_conns = self.conns
        self.ncpu = os.cpu_count() or 2
        self.body_path = os.path.join(self.top, "tests/vectors/hotglue-job-completed.json")
        with open(self.body_path, "rb") as f:
            self.body = f.read()
        self.sig = hmac.new(SECRET.encode(), self.body, hashlib.sha1).hexdigest()
        self.hookline = os.path.join(self.build, "handler/hookline")
        self.drivers = os.path.join(self.build, "bench")
        self.lua = os.path.join(self.top, "bench/post.lua")
        self.servers = []
        self.failures = []
        self.results = {}  # (key, conns) -> point
        self.wrk_log = open(os.path.join(self.work, "wrk.out"), "w")

    def check(self, cond, what):
        if not cond:
            self.failures.append(what)
            log("CHECK FAILED: " + what)
        return cond

    def wrk(self, url, conns, seconds, limit=None, watch=None):
        """One wrk run; returns the numbers of post.lua's BENCH line.  With
        limit, the run is bounded by that many requests (watch, the log,
        tells when they are in) and seconds is only the upper bound."""
        threads = max(1, min(conns, self.ncpu))
        env = dict(os.environ, BENCH_BODY=self.body_path, BENCH_SIG=self.sig,
                   BENCH_THREADS=str(threads))
        if limit:
            env["BENCH_LIMIT"] = str(limit)
        cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", "%ds" % seconds,
               "--latency", "--timeout", "10s", "-s", self.lua, url]
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if limit:
            # wrk's main thread sleeps for -d whatever its threads do: stop
            # it (SIGINT prints the summary) once the limit is logged, or
            # when nothing more comes.
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
        try:
            out, _ = p.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        text = out.decode(errors="replace")
        self.wrk_log.write("$ %s\n%s\n" % (" ".join(cmd), text))
        self.wrk_log.flush()
        m = BENCH_LINE.search(text)
        if not m:
            raise RuntimeError("wrk gave no summary:\n" + text[-2000:])
        r = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
        r["ok2xx"] = int(r["requests"] - r["non2xx"])
        r["sockerr"] = int(r["connect"] + r["read"] + r["write"] + r["timeout"])
        return r

    @staticmethod
    def cpu_busy():
        """Seconds of CPU time the whole machine spent busy so far (all
        CPUs, /proc/stat: everything but idle and iowait)."""
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def gsync_path(log_path):
        """Where hookline keeps a log file's group-commit counters
        (handler/gsync.c); raises OSError when the log does not exist."""
        st = os.stat(log_path)
        return "/dev/shm/hookline-gsync2-%d-%d-%d" % (os.geteuid(), st.st_dev, st.st_ino)

    def gsync_counters(self, log_path):
        """A log file's group-commit counters: (tickets taken, fdatasyncs
        made), or None."""
        try:
            with open(self.gsync_path(log_path), "rb") as f:
                seq, _, syncs = struct.unpack("<QQQ", f.read(24))
            return seq, syncs
        except (OSError, struct.error):
            return None

    def point(self, srv, conns, seconds):
        # The previous point of this server ended with a settle().
        before = srv.log.count() if srv.log else None
        busy, app = self.cpu_busy(), srv.app_cpu()
        r = self.wrk(srv.url, conns, seconds)
        # Whole machine (wrk and the web server included), so only
        # differences between scenarios of one run mean anything; and the
        # application's own processes (FastCGI workers, webhook).
        per = 1e6 / r["requests"] if r["requests"] else 0.0
        r["cpu_us"] = (self.cpu_busy() - busy) * per
        r["app_cpu_us"] = (srv.app_cpu() - app) * per
        if srv.log:
            r["lines"] = srv.log.settle() - before
        else:
            r["lines"] = None
        r["conns"] = conns
        self.check_point(srv, r)
        return r

    def check_point(self, srv, r):
        what = "%s at %d connections" % (srv.key, r["conns"])
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

    # ---- parts ----------------------------------------------------------------

    def start_servers(self):
        hl_env = {"HOOKLINE_SECRET": SECRET}
        for key, label, kind in SCENARIOS:
            if kind == "webhook":
                srv = Webhook(self.work, key, label)
            elif key == "noop":
                srv = LighttpdFcgi(self.work, key, label, os.path.join(self.drivers, "noop-fcgi"), {})
            else:
                lp = os.path.join(self.work, key, "events.jsonl")
                env = dict(hl_env, HOOKLINE_LOG=lp, HOOKLINE_SYNC=key.split("-")[1])
                srv = LighttpdFcgi(self.work, key, label, self.hookline, env, log_path=lp)
            self.servers.append(srv)
        log("servers: " + ", ".join("%s %s" % (s.key, s.url) for s in self.servers))

    def slices(self):
        """How a point's seconds are cut: (number of slices, seconds each)."""
        n = max(1, self.seconds // 2)
        return n, max(1, round(self.seconds / n))

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
        return {key: self.aggregate(v) for key, v in acc.items()}

    @staticmethod
    def aggregate(sl):
        """One figure from a point's slices: medians for rates and latency
        percentiles (robust to a slice hit by a burst), sums for counts."""
        med = lambda xs: sorted(xs)[len(xs) // 2] if len(xs) % 2 else \
            (sorted(xs)[len(xs) // 2 - 1] + sorted(xs)[len(xs) // 2]) / 2
        r = {"slices": sl, "n": len(sl), "conns": sl[0]["conns"]}
        for k in ("rps", "p50_us", "p90_us", "p99_us", "cpu_us", "app_cpu_us"):
            r[k] = med([x[k] for x in sl])
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

    @staticmethod
    def paired_ratio(a, b):
        """Median over slices of a's rate / b's rate in the same round:
        neighbours in time, so drift of the machine cancels out."""
        rs = sorted(x["rps"] / y["rps"] for x, y in zip(a["slices"], b["slices"]) if y["rps"] > 0)
        if not rs:
            return 0.0
        return rs[len(rs) // 2] if len(rs) % 2 else (rs[len(rs) // 2 - 1] + rs[len(rs) // 2]) / 2

    def run_matrix(self):
        if not self.smoke:
            for srv in self.servers:
                self.point(srv, 4, 1)  # page in, fill caches
        for i, c in enumerate(self.conns):
            for key, r in self.interleaved(self.servers, c, shift=i).items():
                self.results[(key, c)] = r
                log("%-10s c=%-3d %9.0f req/s (%.0f-%.0f)  p50 %.2f ms  p99 %.2f ms  non2xx %d  2xx %d  lines %s"
                    % (key, c, r["rps"], r["rps_min"], r["rps_max"], r["p50_us"] / 1e3, r["p99_us"] / 1e3,
                       r["non2xx"], r["ok2xx"], r["lines"]))
        self.rss_after = {s.key: s.rss() for s in self.servers}

    def compare_sync(self, tag, logdir, conns_list):
        """Group commit against one fdatasync per event: two pools of
        FCGI_PROCS hookline processes logging to logdir, SYNC=group and
        SYNC=each, in turn slice by slice at each connection count.
        Returns (rows, {conns: group / each})."""
        pools = {}
        for mode in ("group", "each"):
            key = "hl-%s%s" % (mode, tag)
            lp = os.path.join(logdir, key + ".jsonl")
            pools[mode] = LighttpdFcgi(self.work, key, "hookline, SYNC=%s" % mode, self.hookline,
                                       {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": lp, "HOOKLINE_SYNC": mode},
                                       log_path=lp)
        rows, ratio = [], {}
        try:
            if not self.smoke:
                for srv in pools.values():
                    self.point(srv, 4, 1)
            for i, c in enumerate(conns_list):
                before = {m: self.gsync_counters(v.log.path) for m, v in pools.items()}
                res = self.interleaved(list(pools.values()), c, shift=i)
                for mode, srv in pools.items():
                    r = res[srv.key]
                    r["mode"] = mode
                    # Events per fdatasync; SYNC=each makes one per event.
                    b, a = before[mode] or (0, 0), self.gsync_counters(srv.log.path)
                    r["per_sync"] = (a[0] - b[0]) / (a[1] - b[1]) if a and a[1] > b[1] else 1.0
                    rows.append(r)
                    log("sync %-5s%s c=%-3d %.0f req/s p99 %.2f ms, %.2f events/fdatasync"
                        % (mode, tag, c, r["rps"], r["p99_us"] / 1e3, r["per_sync"]))
                    self.check(r["non2xx"] == 0 and r["ok2xx"] > 0 and r["lines_ok"] is not False,
                               "sync %s%s c=%d: %d non-2xx, %d 2xx, %s log lines"
                               % (mode, tag, c, r["non2xx"], r["ok2xx"], r["lines"]))
                ratio[c] = self.paired_ratio(res[pools["group"].key], res[pools["each"].key])
        finally:
            for srv in pools.values():
                srv.stop()
                # hookline's counters for this log, which nobody rotates.
                try:
                    os.unlink(self.gsync_path(srv.log.path))
                except OSError:
                    pass
        return rows, ratio

    def run_durable(self):
        """Group commit against one sync per event on the work directory's
        filesystem, at every connection count."""
        self.durable, self.durable_ratio = self.compare_sync("", self.work, self.durable_conns)

    def run_filesystems(self):
        """The same comparison on a fresh ext4 (with its journal), XFS and
        btrfs, each on a loop device backed by a sparse file in the work
        directory: which one HOOKLINE_SYNC=always should pick where."""
        self.fs_rows = []
        conns = [16] if self.smoke else [4, 16, 64]
        for fs, mkfs in (("ext4", ["mkfs.ext4", "-q", "-F"]), ("xfs", ["mkfs.xfs", "-q", "-f"]),
                         ("btrfs", ["mkfs.btrfs", "-q", "-f"])):
            img, mnt = os.path.join(self.work, fs + ".img"), os.path.join(self.work, fs)
            os.makedirs(mnt)
            with open(img, "wb") as f:
                f.truncate(1 << 30)
            dev = None
            try:
                dev = subprocess.run(["losetup", "-f", "--show", img], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, timeout=30, check=True).stdout.decode().strip()
                subprocess.run(mkfs + [dev], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               timeout=120, check=True)
                subprocess.run(["mount", dev, mnt], timeout=30, check=True)
                os.chmod(mnt, 0o755)
                rows, ratio = self.compare_sync("-" + fs, mnt, conns)
                self.fs_rows.append((fs, rows, ratio))
            except (OSError, subprocess.SubprocessError) as e:
                self.check(False, "%s on a loop device: %s" % (fs, e))
            finally:
                subprocess.run(["umount", mnt], stderr=subprocess.DEVNULL, timeout=60)
                if dev:
                    subprocess.run(["losetup", "-d", dev], stderr=subprocess.DEVNULL, timeout=30)
                os.unlink(img)

    def run_rss(self):
        """A fresh hookline pool (SYNC=none): VmRSS at start, after a
        warm-up and after a bounded run of 100k requests."""
        limit = 2000 if self.smoke else 100000
        warm = 200 if self.smoke else 1000
        lp = os.path.join(self.work, "rss", "events.jsonl")
        srv = LighttpdFcgi(self.work, "rss", "hookline, SYNC=none (RSS run)", self.hookline,
                           {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": lp, "HOOKLINE_SYNC": "none"},
                           log_path=lp)
        self.servers.append(srv)
        pids = srv.worker_pids()
        snap = lambda: {p: rss_kib(p) for p in pids}
        self.rss_run = {"limit": limit, "warm": warm, "pids": pids, "start": snap()}
        w = self.wrk(srv.url, 16, 120, limit=warm, watch=srv.log)
        srv.log.settle()
        self.rss_run["warmed"] = snap()
        base = srv.log.lines
        t0 = time.time()
        r = self.wrk(srv.url, 16, 600, limit=limit, watch=srv.log)
        r["lines"] = srv.log.settle() - base
        r["conns"] = 16
        self.rss_run["seconds"] = time.time() - t0
        self.rss_run["after"] = snap()
        self.rss_run["wrk"] = r
        self.rss_run["alive"] = [p for p in pids if rss_kib(p) is not None]
        self.check_point(srv, r)
        self.check(w["non2xx"] == 0, "rss warm-up: %d non-2xx" % w["non2xx"])
        self.check(r["ok2xx"] >= limit * 0.95, "rss run: only %d of %d requests answered" % (r["ok2xx"], limit))
        self.check(srv.worker_pids() == pids, "rss run: the hookline processes changed (a crash?)")
        log("rss: %s -> %s KiB over %d requests" % (
            list(self.rss_run["warmed"].values()), list(self.rss_run["after"].values()), r["ok2xx"]))
        srv.stop()

    def cgi_env(self, log_path):
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "lighttpd/1.4.69",
            "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "127.0.0.1", "SERVER_ADDR": "127.0.0.1",
            "SERVER_PORT": "80", "REQUEST_METHOD": "POST", "REQUEST_URI": "/cgi-bin/hookline",
            "SCRIPT_NAME": "/cgi-bin/hookline", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "40000", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(self.body)), "HTTP_HOST": "127.0.0.1",
            "HTTP_X_HUB_SIGNATURE": self.sig, "HOOKLINE_SECRET": SECRET,
            "HOOKLINE_LOG": log_path, "HOOKLINE_SYNC": "none",
        }

    def run_cgi(self):
        n = 50 if self.smoke else 1000
        d = os.path.join(self.work, "cgi")
        os.makedirs(d, exist_ok=True)
        lp = os.path.join(d, "events.jsonl")
        counter = LogCounter(lp)
        env = self.cgi_env(lp)
        with open(os.path.join(d, "stderr"), "w") as err:
            p = subprocess.run([os.path.join(self.drivers, "cgi-loop"), str(n), self.body_path,
                                self.hookline, "/bin/true"], env=env, stdout=subprocess.PIPE,
                               stderr=err, timeout=900)
        out = p.stdout.decode()
        self.cgi = {"n": n}
        for line in out.splitlines():
            f = line.split()
            key = "hookline" if f[0] == self.hookline else "true"
            self.cgi[key] = {f[i]: float(f[i + 1]) for i in range(1, len(f) - 1, 2)}
        self.check(p.returncode == 0, "cgi-loop: some executions failed (see %s/stderr)" % d)
        lines = counter.count()
        self.check(lines == n, "cgi: %d log lines for %d hookline executions" % (lines, n))
        self.cgi["lines"] = lines
        self.cgi["ratio"] = self.cgi["hookline"]["median_us"] / self.cgi["true"]["median_us"]
        log("cgi: hookline %.0f us, /bin/true %.0f us (median), ratio %.2f" % (
            self.cgi["hookline"]["median_us"], self.cgi["true"]["median_us"], self.cgi["ratio"]))
        # Cross-check with hyperfine: sh -c 'exec PROG <body', shell start-up
        # subtracted by hyperfine.
        runs = 20 if self.smoke else 300
        hf = os.path.join(d, "hyperfine.json")
        cmd = ["hyperfine", "--style", "basic", "--warmup", "10", "--runs", str(runs),
               "--export-json", hf,
               "-n", "hookline", "exec %s <%s >/dev/null" % (shlex_quote(self.hookline), shlex_quote(self.body_path)),
               "-n", "/bin/true", "exec /bin/true <%s >/dev/null" % shlex_quote(self.body_path)]
        before = counter.count()
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        with open(os.path.join(d, "hyperfine.out"), "wb") as f:
            f.write(p.stdout)
        self.check(p.returncode == 0, "hyperfine failed (see %s/hyperfine.out)" % d)
        self.check(counter.count() - before >= runs, "cgi (hyperfine): hookline logged fewer events than runs")
        self.hyperfine = None
        if p.returncode == 0:
            with open(hf) as f:
                res = {r["command"]: r for r in json.load(f)["results"]}
            self.hyperfine = {"runs": runs, "hookline": res["hookline"], "true": res["/bin/true"],
                              "ratio": res["hookline"]["mean"] / res["/bin/true"]["mean"]}

    # ---- callgrind ------------------------------------------------------------

    def callgrind(self, name, argv, env, stdin=None, toggle=None):
        out = os.path.join(self.work, "cpu", "callgrind.%s" % name)
        os.makedirs(os.path.dirname(out), exist_ok=True)
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

    def annotate(self, path, inclusive=False):
        """callgrind_annotate's function list: [(Ir, name)]."""
        cmd = ["callgrind_annotate", "--threshold=100", "--inclusive=" + ("yes" if inclusive else "no"), path]
        text = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300).stdout.decode(errors="replace")
        rows = []
        for line in text.splitlines():
            m = re.match(r"^\s*([\d,]+) \([ \d.]+%\)\s+(\S.*)$", line)
            if m and "PROGRAM TOTALS" not in line:
                rows.append((int(m.group(1).replace(",", "")), m.group(2)))
        return rows

    def callers(self, path):
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

    @staticmethod
    def split_name(name):
        """'file:function [object]' -> (file, function, object)."""
        m = re.match(r"^(.*?):(.*?)(?: \[(.*)\])?$", name)
        return (m.group(1), m.group(2), m.group(3) or "") if m else ("", name, "")

    def short(self, name, callers=None):
        """'file:function [object]' -> '`function` (file, object)'; a
        function without a symbol is named by its nearest named caller."""
        where, fn, obj = self.split_name(name)
        objb = os.path.basename(obj)
        if where == "???":
            where = objb
        else:
            where = os.path.basename(where)
            if objb and not objb.startswith(("hl-events", "floor-events", "hookline")):
                where += ", " + objb
        s = "`%s` (%s)" % (fn, where)
        if fn.startswith("0x") and callers:
            up, seen = name, set()
            while up in callers and up not in seen:
                seen.add(up)
                up = callers[up]
                cfn = self.split_name(up)[1]
                if not cfn.startswith("0x"):
                    s += ": no symbol (static); under `%s`" % re.sub(r"'\d+$", "", cfn)
                    break
        return s

    def inclusive(self, path, names):
        """Inclusive Ir of the functions called names (any file), by name."""
        out = {}
        for ir, full in self.annotate(path, inclusive=True):
            fn = re.sub(r"'\d+$", "", self.split_name(full)[1])
            if fn in names:
                out[fn] = max(out.get(fn, 0), ir)
        return out

    def run_cpu(self):
        n1, n2 = (100, 600) if self.smoke else (1000, 11000)
        nprof = 500 if self.smoke else 10000
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "HOOKLINE_SECRET": SECRET}
        hl = os.path.join(self.drivers, "hl-events")
        fl = os.path.join(self.drivers, "floor-events")
        lp = os.path.join(self.work, "cpu", "events.jsonl")
        os.makedirs(os.path.dirname(lp), exist_ok=True)
        counter = LogCounter(lp)
        cpu = {"n1": n1, "n2": n2, "nprof": nprof}
        tot = {}
        for name, exe, args in (("hl", hl, [self.body_path, lp, self.sig]),
                                ("floor", fl, [self.body_path, self.sig])):
            for n in (n1, n2):
                _, tot[(name, n)] = self.callgrind("%s.%d" % (name, n), [exe, str(n)] + args, env)
            cpu[name] = (tot[(name, n2)] - tot[(name, n1)]) / (n2 - n1)
            cpu[name + "_startup"] = tot[(name, n1)] - n1 * cpu[name]
        # Each driver run logs one warm-up event besides its N.
        self.check(counter.count() == n1 + n2 + 2,
                   "hl-events: %d log lines for %d events" % (counter.lines, n1 + n2 + 2))
        cpu["ratio"] = cpu["hl"] / cpu["floor"]
        log("callgrind: hookline %.0f Ir/event, floor %.0f Ir/event, ratio %.2f" % (cpu["hl"], cpu["floor"], cpu["ratio"]))
        # Native CPU time per event (user + system, the difference between
        # two run lengths; median of 3): what the callgrind counts cost on
        # this CPU, to set against the no-op FastCGI path's CPU per request.
        m1, m2 = (200, 2000) if self.smoke else (2000, 22000)
        for name, exe, args in (("hl", hl, [self.body_path, lp, self.sig]),
                                ("floor", fl, [self.body_path, self.sig])):
            per = []
            for _ in range(3):
                t = {}
                for n in (m1, m2):
                    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    subprocess.run([exe, str(n)] + args, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=300, check=True)
                    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    t[n] = (r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime)
                # Clock ticks make a small difference noisy: never below 0.
                per.append(tuple(max(0.0, (t[m2][k] - t[m1][k]) * 1e6 / (m2 - m1)) for k in (0, 1)))
            per.sort(key=sum)
            cpu[name + "_user_us"], cpu[name + "_sys_us"] = per[1]
            cpu[name + "_us"] = sum(per[1])
        self.check(counter.count() == n1 + n2 + 2 + 3 * (m1 + m2 + 2),
                   "hl-events (native runs): %d log lines" % counter.lines)
        log("native CPU: hookline %.2f us/event (%.2f user), floor %.2f us/event (%.2f user)"
            % (cpu["hl_us"], cpu["hl_user_us"], cpu["floor_us"], cpu["floor_user_us"]))
        # Profiles of the loop alone.
        prof, ptotal = self.callgrind("hl.prof", [hl, str(nprof), self.body_path, lp, self.sig], env,
                                      toggle="bench_events")
        fprof, ftotal = self.callgrind("floor.prof", [fl, str(nprof), self.body_path, self.sig], env,
                                       toggle="bench_events")
        cpu["prof_per_event"] = ptotal / nprof
        cpu["fprof_per_event"] = ftotal / nprof
        callers = self.callers(prof)
        cpu["top"] = [(ir / nprof, self.short(name, callers)) for ir, name in self.annotate(prof)[:15]]
        fcallers = self.callers(fprof)
        cpu["ftop"] = [(ir / nprof, self.short(name, fcallers)) for ir, name in self.annotate(fprof)[:8]]
        names = set(n for n, _, _ in HL_STEPS) | set(FLOOR_STEPS)
        incl = self.inclusive(prof, names)
        cpu["steps"] = [(n, depth, note, incl.get(n, 0) / nprof) for n, depth, note in HL_STEPS]
        fincl = self.inclusive(fprof, names)
        cpu["fsteps"] = [(n, fincl.get(n, 0) / nprof) for n in FLOOR_STEPS]
        self.cpu = cpu
        # CGI start-up: one execution of hookline, and of /bin/true.
        d = os.path.join(self.work, "cpu")
        clp = os.path.join(d, "cgi-events.jsonl")
        cc = LogCounter(clp)
        cenv = self.cgi_env(clp)
        with open(self.body_path, "rb") as body:
            cg_hl, t_hl = self.callgrind("cgi.hookline", [self.hookline], cenv, stdin=body)
        with open(self.body_path, "rb") as body:
            _, t_true = self.callgrind("cgi.true", ["/bin/true"], cenv, stdin=body)
        self.check(cc.count() == 1, "callgrind of hookline as CGI: the event was not logged")
        ccallers = self.callers(cg_hl)
        self.cgi_cpu = {
            "hookline": t_hl, "true": t_true,
            "incl": self.inclusive(cg_hl, set(n for n, _ in CGI_STEPS)),
            "top": [(ir, self.short(name, ccallers)) for ir, name in self.annotate(cg_hl)[:10]],
        }
        self.cgi_cpu["main"] = self.cgi_cpu["incl"].get("main", 0)
        log("callgrind CGI: hookline %d Ir, /bin/true %d Ir" % (t_hl, t_true))

    # ---- report ---------------------------------------------------------------

    def machine(self):
        model = "?"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        model = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        return {"nproc": self.ncpu, "cpu": model, "kernel": platform.release(), "load": load}

    def plot(self, png):
        data = os.path.join(self.work, "plot.dat")
        keys = [s[0] for s in SCENARIOS] + ["hl-group", "hl-each"]
        rps = {(k, c): r["rps"] for (k, c), r in self.results.items()}
        rps.update({("hl-" + r["mode"], r["conns"]): r["rps"] for r in self.durable})
        with open(data, "w") as f:
            f.write("# conns " + " ".join(keys) + "\n")
            for c in self.conns:
                f.write("%d %s\n" % (c, " ".join("%.1f" % rps[(k, c)] for k in keys)))
        labels = {s[0]: s[1] for s in SCENARIOS}
        labels["hl-group"] = "hookline, SYNC=group (group commit)"
        labels["hl-each"] = "hookline, SYNC=each (one fdatasync per event)"
        plots = ", ".join("'%s' using 1:%d with linespoints lw 2 pt 7 title '%s'" % (data, i + 2, labels[k])
                          for i, k in enumerate(keys))
        script = "\n".join([
            "set terminal pngcairo size 900,560 font 'sans,10'",
            "set output '%s'" % png,
            'set title "Signed 670-byte hotglue event, POST over keep-alive (wrk); median of %d-s slices\\n'
            '%s, %d CPUs shared with other jobs, %s"'
            % (self.slices()[1], self.facts["cpu"].replace('"', ""), self.facts["nproc"], self.date[:10]),
            "set xlabel 'concurrent connections'",
            "set ylabel 'requests/s'",
            "set logscale x 2",
            "set xrange [0.8:%g]" % (self.conns[-1] * 1.25),
            "set xtics (%s)" % ", ".join(str(c) for c in self.conns),
            "set yrange [0:*]",
            "set grid",
            "set key below",
            "plot " + plots,
        ]) + "\n"
        p = subprocess.run(["gnuplot"], input=script.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        self.check(p.returncode == 0 and os.path.getsize(png) > 0,
                   "gnuplot failed: " + p.stdout.decode(errors="replace")[-500:])

    def report(self, path, png_name, elapsed):
        L = []
        w = L.append
        f = self.facts
        fmt_rss = lambda v: ", ".join(str(x) for x in v) if v else "-"
        w("# hookline benchmarks")
        w("")
        w("Written by `scripts/bench`%s on %s; the whole run took %d s. Every figure "
          "below comes from this one run on this one machine: the scenarios ran side by "
          "side (all servers up at once, the order rotated at each connection count), so "
          "the ratios compare like with like even though other jobs shared the CPUs. "
          "Throughput and latency move with that noise from run to run; the callgrind "
          "instruction counts do not." % (" --smoke" if self.smoke else "", self.date, elapsed))
        w("")
        w("## Machine")
        w("")
        w("| | |")
        w("|---|---|")
        w("| CPUs (nproc) | %d |" % f["nproc"])
        w("| CPU model | %s |" % f["cpu"])
        w("| kernel | %s |" % f["kernel"])
        w("| date | %s |" % self.date)
        w("| load average at start / end | %s / %s |" % (f["load"], self.load_end))
        w("| /tmp, logs | %s |" % self.fs)
        w("| hookline build | `configure CFLAGS=\"-O2 -g\" --disable-integration-tests` (no sanitizer; the project's warning and hardening flags) in build/bench |")
        w("| tools | %s |" % "; ".join(self.versions))
        w("")
        w("## What was measured")
        w("")
        w("- Request: `POST` of `tests/vectors/hotglue-job-completed.json` (%d bytes) with "
          "`X-Hub-Signature: <hex HMAC-SHA1>` (secret chosen by the bench), keep-alive, "
          "from `wrk --latency` with `bench/post.lua`, %d s per point, %s connections, "
          "`-t` = min(connections, %d). The client shares the %d CPUs with the servers."
          % (len(self.body), self.seconds, ", ".join(str(c) for c in self.conns), self.ncpu, self.ncpu))
        w("- **noop**: lighttpd 1.4 (mod_fastcgi, %d processes) + `bench/noop-fcgi` "
          "(libfcgi FCGX: reads the body, answers 204): the floor of the FastCGI path." % FCGI_PROCS)
        w("- **hl-none** / **hl-always**: hookline under the same lighttpd setup, "
          "`HOOKLINE_SECRET` and `HOOKLINE_LOG` in `bin-environment`, `HOOKLINE_SYNC=none` "
          "(page cache only) and `always` (fdatasync before the 200; on this filesystem %s). "
          "Logs on %s." % ("one per event" if self.fs.startswith(("ext4", "tmpfs")) else
                           "shared between the processes", self.fs))
        w("- **webhook**: adnanh/webhook %s, one hook with a `payload-hmac-sha1` trigger "
          "rule on `X-Hub-Signature`, `include-command-output-in-response: true`, command "
          "`/bin/sh` script appending the raw body (`raw-request-body`) with `printf >>` "
          "(one exec per event, no fsync)." % self.webhook_version)
        w("- CPU us/req: CPU time the whole machine spent busy during the slice (/proc/stat: all "
          "but idle and iowait; wrk, lighttpd and the neighbours included) over the requests "
          "served. Only differences between scenarios mean something. App CPU us/req: the same for "
          "the application's processes alone (the FastCGI workers; webhook with the sh commands it "
          "ran), from /proc/PID/stat.")
        w("- non-2xx: wrk's count of answers above 399. Log lines: lines added to the "
          "scenario's log during the point, counted after the server went quiet; the "
          "check is lines >= 2xx and lines - 2xx <= connections (+ wrk timeouts/read "
          "errors): wrk does not count answers in flight when its time is up.")
        w("")
        w("## Results")
        w("")
        n, secs = self.slices()
        w("Each point: %d slice(s) of %d s per scenario, taken in turn. req/s, p50, p90 and p99 are "
          "the medians over the slices (min-max of req/s and the worst slice's p99 shown for the "
          "noise); counts are totals." % (n, secs))
        w("")
        w("| scenario | conns | req/s | req/s min-max | p50 ms | p90 ms | p99 ms | worst p99 ms | CPU us/req | app CPU us/req | non-2xx | socket errors | 2xx | log lines | lines check |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for key, label, _ in SCENARIOS:
            for c in self.conns:
                r = self.results[(key, c)]
                w("| %s | %d | %.0f | %.0f-%.0f | %.2f | %.2f | %.2f | %.2f | %.0f | %.1f | %d | %d | %d | %s | %s |" % (
                    key, c, r["rps"], r["rps_min"], r["rps_max"], r["p50_us"] / 1e3, r["p90_us"] / 1e3,
                    r["p99_us"] / 1e3, r["p99_max_us"] / 1e3, r["cpu_us"], r["app_cpu_us"], r["non2xx"],
                    r["sockerr"], r["ok2xx"],
                    "-" if r["lines"] is None else r["lines"],
                    "-" if r["lines_ok"] is None else ("ok" if r["lines_ok"] else "**MISMATCH**")))
        w("")
        w("RSS per process (VmRSS, KiB) after the runs above:")
        w("")
        w("| scenario | processes | VmRSS KiB each |")
        w("|---|---:|---|")
        for key, label, _ in SCENARIOS:
            v = self.rss_after.get(key, [])
            w("| %s | %d | %s |" % (key, len(v), fmt_rss(v)))
        w("")
        w("## Ratios (same run)")
        w("")
        w("Throughput ratios per connection count, each the median over rounds of the two "
          "scenarios' req/s in the same round (neighbours in time); the last column is "
          "hl-none's median p99 over noop's.")
        w("")
        w("| conns | hl-none / noop | hl-always / noop | hl-none / webhook | hl-always / webhook | webhook / noop | p99 hl-none / noop |")
        w("|---:|---:|---:|---:|---:|---:|---:|")
        for c in self.conns:
            q = lambda a, b: self.paired_ratio(self.results[(a, c)], self.results[(b, c)])
            p99 = lambda k: self.results[(k, c)]["p99_us"]
            w("| %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
                c, q("hl-none", "noop"), q("hl-always", "noop"), q("hl-none", "webhook"),
                q("hl-always", "webhook"), q("webhook", "noop"), p99("hl-none") / p99("noop")))
        w("")
        w("![throughput vs connections](benchmarks.png)" if not self.smoke else "(plot: %s)" % png_name)
        w("")
        # Targets
        ratios = [self.paired_ratio(self.results[("hl-none", c)], self.results[("noop", c)]) for c in self.conns]
        rr = self.rss_run
        growth = [(rr["after"].get(p) or 0) - (rr["warmed"].get(p) or 0) for p in rr["pids"]]
        w("## Targets")
        w("")
        w("| target | figure (this run) | met |")
        w("|---|---|---|")
        noop16 = self.results[("noop", 16)]["cpu_us"] if ("noop", 16) in self.results else 0.0
        app16 = {k: self.results[(k, 16)]["app_cpu_us"] for k in ("noop", "hl-none") if (k, 16) in self.results}
        w("| non-durable throughput >= 95%% of the no-op floor | hl-none / noop = %s (at %s connections). "
          "At 16 connections the no-op path costs %.1f us of CPU per request (whole machine), so 95%% "
          "leaves hookline %.1f us more; in a hot loop (bench/hl-events, native) its per-event work takes "
          "%.1f us (%.1f in user space, %.1f in the kernel: the log's write, flock x2 and stat, and "
          "the driver's read, lseek and answer), HMAC-SHA1 + cJSON alone %.1f us; under load the "
          "FastCGI workers use %.1f us per request (noop) and %.1f us (hookline) | %s |" % (
            ", ".join("%.2f" % x for x in ratios), ", ".join(str(c) for c in self.conns),
            noop16, noop16 * (1 / 0.95 - 1), self.cpu["hl_us"], self.cpu["hl_user_us"],
            self.cpu["hl_sys_us"], self.cpu["floor_us"], app16.get("noop", 0), app16.get("hl-none", 0),
            "yes" if min(ratios) >= 0.95 else "no"))
        w("| per-event instructions <= 1.3x the HMAC+parse floor | %.0f / %.0f = %.2fx | %s |" % (
            self.cpu["hl"], self.cpu["floor"], self.cpu["ratio"], "yes" if self.cpu["ratio"] <= 1.3 else "no"))
        w("| CGI <= 1.5x the time of exec'ing /bin/true | %.0f / %.0f us (median) = %.2fx | %s |" % (
            self.cgi["hookline"]["median_us"], self.cgi["true"]["median_us"], self.cgi["ratio"],
            "yes" if self.cgi["ratio"] <= 1.5 else "no"))
        best = ", ".join("%s %s" % (fs, "/".join("%.2f" % ratio[c] for c in sorted(ratio)))
                         for fs, _, ratio in self.fs_rows)
        w("| group commit: durable throughput against one fdatasync per event | group / each = %s "
          "(work dir, at %s connections); %s (fresh filesystems, at %s connections) | "
          "measured; `always` shares syncs only where it won (see below) |" % (
              "/".join("%.2f" % self.durable_ratio[c] for c in self.durable_conns),
              "/".join(str(c) for c in self.durable_conns), best or "-",
              "/".join(str(c) for c in sorted(self.fs_rows[0][2])) if self.fs_rows else "-"))
        w("| RSS flat over %dk requests (each process grows <= 64 KiB) | %s -> %s KiB | %s |" % (
            rr["limit"] // 1000, fmt_rss(list(rr["warmed"].values())), fmt_rss(list(rr["after"].values())),
            "yes" if growth and max(growth) <= 64 and len(rr["alive"]) == len(rr["pids"]) else "no"))
        w("")
        # Durable
        w("## Durable throughput: group commit against one sync per event")
        w("")
        w("Each pool has %d hookline processes appending to one log and answers 200 only after an "
          "fdatasync that began after the event was written. **group** shares syncs between the "
          "processes (group commit, `handler/gsync.c`): a process whose record another process's "
          "finished sync already covers answers without syncing again. **each** gives every event "
          "its own fdatasync. The two pools ran in turn, slice by slice. Events per fdatasync "
          "come from hookline's shared counters; CPU us per event is the whole machine's." % FCGI_PROCS)
        w("")

        def sync_table(rows):
            w("| SYNC | conns | req/s | req/s min-max | p50 ms | p99 ms | events per fdatasync | CPU us per event | non-2xx | 2xx | log lines |")
            w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for r in rows:
                w("| %s | %d | %.0f | %.0f-%.0f | %.2f | %.2f | %.2f | %.0f | %d | %d | %d |" % (
                    r["mode"], r["conns"], r["rps"], r["rps_min"], r["rps_max"], r["p50_us"] / 1e3,
                    r["p99_us"] / 1e3, r["per_sync"], r["cpu_us"], r["non2xx"], r["ok2xx"], r["lines"]))
            w("")

        w("### The work directory (%s)" % self.fs)
        w("")
        sync_table(self.durable)
        w("group / each (median of paired slices): %s." % ", ".join(
            "%.2f at %d connections" % (self.durable_ratio[c], c) for c in self.durable_conns))
        w("")
        for fs, rows, ratio in self.fs_rows:
            w("### %s, fresh, on a loop device (1 GiB sparse file in the work directory)" % fs)
            w("")
            sync_table(rows)
            w("group / each: %s. `HOOKLINE_SYNC=always` %s on %s." % (
                ", ".join("%.2f at %d connections" % (ratio[c], c) for c in sorted(ratio)),
                "gives each event its own sync" if fs == "ext4" else "shares syncs", fs))
            w("")
        # RSS
        w("## RSS over a bounded run (SYNC=none)")
        w("")
        r = rr["wrk"]
        w("A fresh lighttpd + %d hookline processes; wrk at 16 connections stopped after "
          "%d requests (%d answered 2xx, %d log lines, %.0f s, %d non-2xx)."
          % (len(rr["pids"]), rr["limit"], r["ok2xx"], r["lines"], rr["seconds"], r["non2xx"]))
        w("")
        w("| process | VmRSS at spawn KiB | after %d-request warm-up | after %d more | growth |" % (rr["warm"], rr["limit"]))
        w("|---|---:|---:|---:|---:|")
        for i, p in enumerate(rr["pids"]):
            a, b, c = rr["start"].get(p), rr["warmed"].get(p), rr["after"].get(p)
            w("| hookline #%d | %s | %s | %s | %s |" % (i + 1, a, b, c, "-" if b is None or c is None else "%+d" % (c - b)))
        w("")
        # CGI
        w("## CGI mode (process per request)")
        w("")
        cg = self.cgi
        w("`bench/cgi-loop` starts each program with posix_spawn (as lighttpd's mod_cgi does), "
          "the body as standard input, the CGI environment (`HOOKLINE_SYNC=none`, log on %s), "
          "alternating hookline and /bin/true, %d times each; every hookline run must log its event "
          "(%d lines)." % (self.fs, cg["n"], cg["lines"]))
        w("")
        w("| program | median us | mean us | min us |")
        w("|---|---:|---:|---:|")
        for k, lab in (("hookline", "hookline (CGI)"), ("true", "/bin/true")):
            w("| %s | %.0f | %.0f | %.0f |" % (lab, cg[k]["median_us"], cg[k]["mean_us"], cg[k]["min_us"]))
        w("| **ratio (median)** | **%.2f** | %.2f | %.2f |" % (
            cg["ratio"], cg["hookline"]["mean_us"] / cg["true"]["mean_us"], cg["hookline"]["min_us"] / cg["true"]["min_us"]))
        w("")
        if self.hyperfine:
            h = self.hyperfine
            w("Cross-check, hyperfine (`sh -c 'exec PROG <body'`, %d runs each, not interleaved): "
              "hookline %.0f us, /bin/true %.0f us (means), ratio %.2f. hyperfine subtracts the "
              "start-up of its shell, and with it the cost of creating a process, from both figures; "
              "cgi-loop keeps that cost in, as a web server pays it for every CGI request, so its "
              "ratio is the one the target refers to."
              % (h["runs"], h["hookline"]["mean"] * 1e6, h["true"]["mean"] * 1e6, h["ratio"]))
            w("")
        # CPU
        c = self.cpu
        w("## Instructions per event (callgrind)")
        w("")
        w("`valgrind --tool=callgrind`, instructions retired (Ir) under valgrind's CPU model "
          "(OpenSSL picks its code paths from valgrind's CPUID, so absolute figures differ from "
          "native ones; both drivers run under the same model). Each driver runs with "
          "N = %d and %d events; per event = difference / %d, so start-up cancels out."
          % (c["n1"], c["n2"], c["n2"] - c["n1"]))
        w("")
        w("- `bench/hl-events`: the steps of serve.c's handle() for one event, through "
          "handler/libhookline.a: method check, config_get() (parameters as lighttpd sends them, "
          "settings from the process environment), body read (CGI read path), signature check "
          "(sig_verify), event_parse() (UTF-8/number check, cJSON parse, SHA-256 id), "
          "record_max/record_format, sink_log_append() with SYNC=none to a file on %s, "
          "answer_format, event_clear. Not the FastCGI transport." % self.fs)
        w("- `bench/floor-events`: HMAC-SHA1 of the body with one reused OpenSSL context + "
          "cJSON_ParseWithLengthOpts + cJSON_Delete.")
        w("")
        w("| driver | Ir/event | start-up Ir | ratio |")
        w("|---|---:|---:|---:|")
        w("| hookline per-event path | %.0f | %.0f | **%.2f** |" % (c["hl"], c["hl_startup"], c["ratio"]))
        w("| floor: HMAC-SHA1 + cJSON parse/delete | %.0f | %.0f | 1.00 |" % (c["floor"], c["floor_startup"]))
        w("")
        idc = dict((n, v) for n, _, _, v in c["steps"]).get("EVP_Digest", 0)
        w("The event id (SHA-256 of the body) alone costs %.0f Ir/event here: "
          "floor + id = %.2fx the floor, before any other step." % (idc, (c["floor"] + idc) / c["floor"]))
        w("")
        w("Instructions spent in user space only: the system calls hookline makes per event "
          "(read, fstat, stat, pread, flock x2, write) cost kernel time that callgrind does not see.")
        w("")
        w("### Where hookline's per-event instructions go")
        w("")
        w("Profile of the loop alone (`--toggle-collect=bench_events`, %d events after one warm-up "
          "event: %.0f Ir/event). Inclusive instructions per event of the pipeline's steps "
          "(indented: part of the step above):" % (c["nprof"], c["prof_per_event"]))
        w("")
        w("| step (inclusive) | Ir/event | share | note |")
        w("|---|---:|---:|---|")
        parts = 0
        for name, depth, note, v in c["steps"]:
            if depth == 1:
                parts += v
            if name == "io_param":
                w("| *other: glue in serve_request(), clock_gettime, buffers* | %.0f | %.1f%% | |" % (
                    c["steps"][0][3] - parts, 100 * (c["steps"][0][3] - parts) / c["prof_per_event"]))
                w("| *cross-cutting (already counted above):* | | | |")
            w("| %s`%s` | %.0f | %.1f%% | %s |" % ("&nbsp;&nbsp;&nbsp;&nbsp;" * depth, name, v,
                                                  100 * v / c["prof_per_event"], note))
        w("")
        w("The floor's loop (%.0f Ir/event), same view:" % c["fprof_per_event"])
        w("")
        w("| step (inclusive) | Ir/event |")
        w("|---|---:|")
        for name, v in c["fsteps"]:
            w("| `%s` | %.0f |" % (name, v))
        w("")
        w("Top 15 functions of hookline's per-event path by own (exclusive) instructions "
          "(Debian's libcrypto and libcjson keep no symbols for their static functions: those "
          "are named by address and by the nearest named function above them):")
        w("")
        w("| # | Ir/event | share | function |")
        w("|---:|---:|---:|---|")
        for i, (v, name) in enumerate(c["top"]):
            w("| %d | %.0f | %.1f%% | %s |" % (i + 1, v, 100 * v / c["prof_per_event"], name))
        w("")
        w("The floor's top functions, for comparison:")
        w("")
        w("| # | Ir/event | function |")
        w("|---:|---:|---|")
        for i, (v, name) in enumerate(c["ftop"]):
            w("| %d | %.0f | %s |" % (i + 1, v, name))
        w("")
        cc = self.cgi_cpu
        w("### CGI start-up (one execution)")
        w("")
        w("callgrind of one whole process: hookline answering one CGI request (the sample event, "
          "`HOOKLINE_SYNC=none`), and /bin/true with the same environment and input.")
        w("")
        w("| program | Ir, whole process | in main() | outside main() (loader, library init, exit) |")
        w("|---|---:|---:|---:|")
        w("| hookline, one CGI request | %d | %d | %d |" % (cc["hookline"], cc["main"], cc["hookline"] - cc["main"]))
        w("| /bin/true | %d | | |" % cc["true"])
        w("| **ratio** | **%.1f** | | |" % (cc["hookline"] / cc["true"]))
        w("")
        w("Inclusive instructions of the costly parts of hookline's CGI run:")
        w("")
        w("| function (inclusive) | Ir | share | note |")
        w("|---|---:|---:|---|")
        for name, note in CGI_STEPS:
            if name in cc["incl"]:
                v = cc["incl"][name]
                w("| `%s` | %d | %.1f%% | %s |" % (name, v, 100 * v / cc["hookline"], note))
        w("")
        w("Top 10 functions of the hookline CGI run by own instructions:")
        w("")
        w("| # | Ir | function |")
        w("|---:|---:|---|")
        for i, (v, name) in enumerate(cc["top"]):
            w("| %d | %d | %s |" % (i + 1, v, name))
        w("")
        w("## Checks")
        w("")
        if self.failures:
            for x in self.failures:
                w("- FAILED: " + x)
        else:
            w("All checks passed: every scenario served requests with no non-2xx answer, every "
              "log holds as many lines as 2xx answers (within the in-flight slack), the drivers "
              "stored every event.")
        w("")
        w("## Re-running")
        w("")
        w("    scripts/bench            # full run, ~%d min; writes docs/benchmarks.md and docs/benchmarks.png"
          % max(1, round(elapsed / 60)))
        w("    BENCH_SECONDS=3 scripts/bench   # shorter points")
        w("    scripts/bench --smoke    # ~30 s, checks only (build/bench/smoke.md)")
        w("")
        w("Raw material of the last run (wrk output, callgrind files, server logs) is in build/bench/run/.")
        w("")
        with open(path, "w") as fh:
            fh.write("\n".join(L))

    def main(self):
        t0 = time.time()
        self.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        self.facts = self.machine()
        self.fs = first_line(["sh", "-c", "df -PT %s | tail -1 | awk '{print $2\" (\"$1\")\"}'"
                              % shlex_quote(self.work)])
        self.webhook_version = first_line(["webhook", "-version"]).replace("webhook version ", "")
        self.versions = [first_line(["lighttpd", "-v"]).split(" - ")[0],
                         "webhook " + self.webhook_version,
                         " ".join(first_line(["wrk", "-v"]).split()[:2]),
                         first_line(["valgrind", "--version"]),
                         first_line(["hyperfine", "--version"]),
                         first_line(["openssl", "version"]).split(" (")[0],
                         first_line(["cc", "--version"])]
        log("work dir %s; %d s per point; connections %s" % (self.work, self.seconds, self.conns))
        try:
            self.start_servers()
            self.run_matrix()
            self.run_durable()
            self.run_filesystems()
            self.run_rss()
        finally:
            for s in self.servers:
                s.stop()
        self.run_cgi()
        self.run_cpu()
        self.load_end = " ".join(open("/proc/loadavg").read().split()[:3])
        elapsed = time.time() - t0
        if self.smoke:
            md = os.path.join(self.build, "smoke.md")
            png = os.path.join(self.work, "smoke.png")
        else:
            md = os.path.join(self.top, "docs/benchmarks.md")
            png = os.path.join(self.top, "docs/benchmarks.png")
            os.makedirs(os.path.dirname(md), exist_ok=True)
        self.plot(png)
        self.report(md, os.path.basename(png), elapsed)
        log("wrote %s and %s in %d s" % (md, png, elapsed))
        if self.failures:
            log("%d check(s) failed:" % len(self.failures))
            for x in self.failures:
                log("  " + x)
            return 1
        log("all checks passed")
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", required=True, help="the source tree")
    ap.add_argument("--build", required=True, help="the build directory (build/bench)")
    ap.add_argument("--smoke", action="store_true", help="a second or two per part; checks only")
    args = ap.parse_args()
    b = Bench(args)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return b.main()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        for s in b.servers:
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
