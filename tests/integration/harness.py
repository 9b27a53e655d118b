"""Shared pieces of hookline's integration tests.

Each test starts real programs (lighttpd, hookline itself) on 127.0.0.1 at
a free high port, sends real signed HTTP requests, and reads the real log.
Output is TAP for automake's tap-driver.sh.  Only loopback is ever a
target, and every loop is bounded.
"""

import atexit
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("HOOKLINE_BIN", "handler/hookline")
SIGN = os.environ.get("HOOKLINE_SIGN", "handler/hookline-sign")
SRCDIR = os.environ.get("HOOKLINE_SRCDIR", ".")
TOOL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LIGHTTPD = shutil.which("lighttpd", path=TOOL_PATH)

# A test must not depend on the signal dispositions it inherits: started as
# a background job of a script, it (and every program it starts) would
# ignore SIGINT and SIGQUIT.  The defaults, for this process and its
# children.
for _sig in (signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
    if signal.getsignal(_sig) == signal.SIG_IGN:
        signal.signal(_sig, signal.SIG_DFL)
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_taps = []  # the test's Tap, for skip()


class Tap:
    """Numbers test points and prints the plan at the end."""

    def __init__(self):
        self.count = 0
        self.failed = 0
        _taps.append(self)

    def ok(self, cond, name, diag=None):
        self.count += 1
        print(("ok" if cond else "not ok") + " %d - %s" % (self.count, name))
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines()[:40]:
                    print("#   " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def skip(self, name, reason):
        """A test point that cannot run here, with the reason."""
        self.count += 1
        print("ok %d - %s # SKIP %s" % (self.count, name, reason))
        sys.stdout.flush()

    def done(self):
        print("1..%d" % self.count)
        sys.stdout.flush()
        sys.exit(1 if self.failed or self.count == 0 else 0)


def skip(reason):
    """Ends the test with a visible SKIP and the reason: the whole test
    (1..0) when it has printed no test point yet, else the points not
    reached, as one skipped point before the plan."""
    tap = _taps[-1] if _taps else None
    if tap is None or tap.count == 0:
        print("1..0 # SKIP " + reason)
        sys.stdout.flush()
        sys.exit(0)
    tap.count += 1
    print("ok %d # SKIP the rest: %s" % (tap.count, reason))
    tap.done()


def require(tool, package):
    """The path of tool; without it the test ends with a SKIP that names
    the Debian package to install."""
    path = shutil.which(tool, path=TOOL_PATH)
    if path is None:
        skip("%s not installed (Debian package %s)" % (tool, package))
    return path


def proc_stat(pid):
    """(comm, state, ppid, pgid) of process pid from /proc, or None when it
    is gone.  comm may hold spaces and parentheses: it ends at the last ')'."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return st[st.index("(") + 1:st.rindex(")")], fields[0], int(fields[1]), int(fields[2])


def alive(pid):
    """Whether process pid runs (a zombie does not)."""
    st = proc_stat(pid)
    return st is not None and st[1] != "Z"


def processes(match):
    """Pids of the live processes whose (comm, state, ppid, pgid) match()
    accepts, sorted: one scan of /proc for the tests and the bench."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(d)
            if st is not None and st[1] != "Z" and match(st):
                out.append(int(d))
    return sorted(out)


def children(ppid, comm=""):
    """Live children of ppid whose command name starts with comm."""
    return processes(lambda st: st[2] == ppid and st[0].startswith(comm))


def post_events(port, secret, first, count, acked, progress=None, path="/hook"):
    """POSTs count signed events (event_body(first...)) on one connection;
    appends the job id of each answered 200 to acked, counts in progress[0]."""
    c = Client(port)
    for i in range(first, first + count):
        body = event_body(i)
        if c.post(path, body, {"X-Hub-Signature": sha1_sig(secret, body)}).status == 200:
            acked.append("job-%06d" % i)
        if progress is not None:
            progress[0] += 1
    c.close()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha1_sig(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def sha256_sig(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_body(i=0, status="JOB_COMPLETED", pad=0):
    """A hotglue-shaped event, compact, unique per i."""
    ev = {
        "job_id": "job-%06d" % i,
        "env_id": "dev.hotglue.example",
        "flow_id": "FLOW1",
        "tenant": "tenant-%d" % (i % 7),
        "status": status,
        "n": 9007199254740993 + i,
        "pad": "x" * pad,
    }
    return json.dumps(ev, separators=(",", ":")).encode()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Client:
    """One keep-alive HTTP connection to 127.0.0.1:port."""

    def __init__(self, port, timeout=60):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                res = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
                if r.will_close:
                    self.close()
                return res
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def post(self, path, body, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", path, body, h)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def raw_request(port, data, shut_write=False, timeout=10):
    """Sends raw bytes, returns whatever comes back (for malformed HTTP)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out


def read_log(path):
    """The log's lines as (raw line bytes, parsed dict or None)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    out = []
    for line in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        try:
            out.append((line, json.loads(line)))
        except ValueError:
            out.append((line, None))
    return out


def logged_event_bytes(line):
    """The raw bytes of the "event" member: the body as hookline wrote it."""
    i = line.index(b',"event":') + len(b',"event":')
    return line[i:-1]


def sanitizer_reports(directory):
    """Text of any ASan/UBSan/LSan report files written under directory."""
    out = []
    for name in sorted(os.listdir(directory)):
        if name.startswith("san."):
            with open(os.path.join(directory, name), errors="replace") as f:
                out.append(f.read())
    return "\n".join(out)


def child_env(extra=None, workdir=None):
    """A clean environment for servers and hookline: no test variables."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    if workdir is not None:
        # Sanitizer reports go to files that the test reads at the end.
        env["ASAN_OPTIONS"] = "log_path=%s/san:abort_on_error=1:detect_leaks=1" % workdir
        env["UBSAN_OPTIONS"] = "log_path=%s/san:print_stacktrace=1:halt_on_error=1" % workdir
    env.update(extra or {})
    return env


def wait_port(port, proc, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def lighttpd_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lighttpd_env(d):
    return "(" + ", ".join("%s => %s" % (lighttpd_quote(k), lighttpd_quote(v)) for k, v in d.items()) + ")"


def terminate(proc, timeout=20):
    """SIGTERM, SIGKILL if proc has not exited after timeout seconds;
    returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Workdir:
    """A temporary directory, removed at exit unless HOOKLINE_KEEP_TMP is set."""

    def __init__(self, prefix="hookline-it-"):
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o755)
        atexit.register(self.cleanup)

    def cleanup(self):
        if os.environ.get("HOOKLINE_KEEP_TMP"):
            return
        # hookline's group-commit counters are named after the log file's
        # device and inode (/dev/shm/hookline-UID-DEV-INO): remove those
        # of the files about to go, or every run leaves some behind.
        ids = set()
        for top, _, files in os.walk(self.path):
            for f in files:
                try:
                    st = os.lstat(os.path.join(top, f))
                    ids.add("-%d-%d" % (st.st_dev, st.st_ino))
                except OSError:
                    pass
        try:
            for name in os.listdir("/dev/shm"):
                if name.startswith("hookline-gsync") and name[name.index("-", name.index("-", 9) + 1):] in ids:
                    os.unlink(os.path.join("/dev/shm", name))
        except (OSError, ValueError):
            pass
        shutil.rmtree(self.path, ignore_errors=True)


class Lighttpd:
    """A real lighttpd on 127.0.0.1 spawning hookline through mod_fastcgi.

    env: hookline's process environment (bin-environment).
    locations: {url prefix: request environment (mod_setenv)}.
    pools: {url prefix: process environment} of further hookline pools.
    In both, "@DIR@" stands for the server's temporary directory.
    """

    def __init__(self, env, procs=4, locations=None, extra_conf="", bin_path=None,
                 fcgi_socket=None, stream_body=0, pools=None):
        require("lighttpd", "lighttpd")
        self.work = Workdir()
        self.dir = self.work.path
        self.port = free_port()
        self.errlog = os.path.join(self.dir, "error.log")
        www = os.path.join(self.dir, "www")
        os.mkdir(www)
        env = {k: v.replace("@DIR@", self.dir) for k, v in env.items()}
        locations = {u: {k: v.replace("@DIR@", self.dir) for k, v in e.items()}
                     for u, e in (locations or {}).items()}
        def spawned(name, penv):
            return '"bin-path" => %s, "socket" => %s, "max-procs" => %d, "bin-environment" => %s,' % (
                lighttpd_quote(bin_path or BIN), lighttpd_quote(os.path.join(self.dir, name + ".sock")),
                procs, lighttpd_env(child_env(penv, self.dir)))

        if fcgi_socket is None:
            backend = spawned("fcgi", env)
        else:
            backend = '"socket" => %s,' % lighttpd_quote(fcgi_socket)
        # pools: {url prefix: process environment} for hookline processes
        # of their own, as an administrator pins a plugin: matched first.
        servers = ['%s => (( %s "check-local" => "disable" ))' % (
            lighttpd_quote(url), spawned("pool%d" % i, {k: v.replace("@DIR@", self.dir) for k, v in penv.items()}))
            for i, (url, penv) in enumerate((pools or {}).items())]
        servers.append('"/" => (( %s "check-local" => "disable" ))' % backend)
        conf = [
            'server.modules = ("mod_setenv", "mod_fastcgi")',
            "server.document-root = %s" % lighttpd_quote(www),
            'server.bind = "127.0.0.1"',
            "server.port = %d" % self.port,
            "server.errorlog = %s" % lighttpd_quote(self.errlog),
            "server.stream-request-body = %d" % stream_body,
            "server.max-request-size = 16384",  # KiB: above any test body
            "fastcgi.server = ( %s )" % ", ".join(servers),
        ]
        for url, renv in locations.items():
            if renv:
                conf.append('$HTTP["url"] =~ "^%s" { setenv.add-environment = %s }' % (url, lighttpd_env(renv)))
        conf.append(extra_conf)
        self.conf = os.path.join(self.dir, "lighttpd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.proc = subprocess.Popen([LIGHTTPD, "-D", "-f", self.conf], env=child_env(None, self.dir),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "lighttpd.stderr"), "w"))
        atexit.register(self.stop)
        if not wait_port(self.port, self.proc):
            raise RuntimeError("lighttpd did not start:\n" + self.errors())

    def errors(self):
        text = ""
        for name in ("error.log", "lighttpd.stderr"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    text += f.read()
        return text

    def stop(self):
        return terminate(self.proc)

    def path(self, name):
        return os.path.join(self.dir, name)


def check_clean_shutdown(tap, server):
    """Stops the server and checks no sanitizer spoke and no secret leaked."""
    server.stop()
    tap.ok(sanitizer_reports(server.dir) == "", "no sanitizer report",
           sanitizer_reports(server.dir)[:3000])


VALGRIND = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99"]


class ValgrindFcgi:
    """hookline's FastCGI loop under valgrind, its listening Unix socket on
    fd 0 the way spawn-fcgi and systemd hand it over (self.socket, for a
    Lighttpd(fcgi_socket=...)).  env: hookline's process environment."""

    def __init__(self, env, workdir):
        require("valgrind", "valgrind")
        self.socket = os.path.join(workdir, "hookline.sock")
        self.log = os.path.join(workdir, "valgrind.log")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(self.socket)
        lsock.listen(64)
        self.proc = subprocess.Popen(VALGRIND + ["--log-file=" + self.log, BIN], stdin=lsock.fileno(),
                                     env=child_env(env), stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(workdir, "stderr"), "w"))
        lsock.close()
        atexit.register(self.kill)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def finish(self, tap):
        """SIGTERM, then checks the clean exit and valgrind's report."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = self.proc.returncode
        with open(self.log) as f:
            report = f.read()
        tap.eq(rc, 0, "SIGTERM ends the FastCGI loop with status 0 (99 = valgrind found errors)")
        tap.ok("ERROR SUMMARY: 0 errors" in report, "valgrind: 0 errors", report[-3000:])
        for kind in ("definitely", "indirectly"):
            m = re.search(r"%s lost: ([\d,]+) bytes" % kind, report)
            tap.ok(m is None or m.group(1) == "0", "valgrind: nothing %s lost" % kind, report[-3000:])


def cgi(env, body=b"", stdin=None, extra=None):
    """Runs hookline once as CGI; returns (status, headers, body, stderr)."""
    work = Workdir()
    e = child_env(env, work.path)
    e.update(extra or {})
    p = subprocess.run([BIN], input=body if stdin is None else stdin, env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    head, _, payload = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for ln in lines:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "0").split()[0]) if headers.get("status") else 0
    san = sanitizer_reports(work.path)
    return status, headers, payload, p.stderr.decode(errors="replace") + san
