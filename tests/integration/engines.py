"""The destinations that hookline's scale-out plugins write to, as real
servers on 127.0.0.1 for plugin_jetstream.py, plugin_postgres.py and
bench/plugins.py: a NATS cluster with JetStream (nats-server) and a
PostgreSQL cluster made with initdb in a temporary directory.  Standard
library only.

Every server runs in a process group of its own and is stopped (SIGKILL
to the group if need be) at exit, on SIGTERM, SIGINT and SIGHUP too
(exit_on_signals()).  PostgreSQL runs as an unprivileged user (nobody
when the test runs as root, as CI does).  Every wait is bounded.
"""

import atexit
import base64
import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from harness import BIN, SRCDIR, free_port

NATS_SERVER = shutil.which("nats-server", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", ""))


def exit_on_signals():
    """SIGTERM, SIGINT and SIGHUP end the test through sys.exit, so that
    every atexit handler (each stopping a server) runs."""
    def leave(signum, frame):
        sys.exit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, leave)


def skip(reason):
    """The whole test is skipped, visibly (TAP: 1..0 # SKIP reason)."""
    print("1..0 # SKIP %s" % reason)
    sys.stdout.flush()
    sys.exit(0)


def asan_build():
    """Whether hookline was built with AddressSanitizer (then valgrind
    cannot run it)."""
    p = subprocess.run(["ldd", BIN], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
    return b"libasan" in p.stdout


def killpg(pid, sig=signal.SIGKILL):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def man_block(page, marker):
    """The literal display (.Bd -literal ... .Ed) that follows the comment
    line '.\\" marker' in docs/PAGE, with roff's escapes undone: the very
    text a reader copies from the page."""
    with open(os.path.join(SRCDIR, "docs", page)) as f:
        text = f.read()
    m = re.search(r'^\.\\" %s\n(?:.*\n)*?\.Bd -literal[^\n]*\n(.*?)^\.Ed$' % re.escape(marker), text, re.M | re.S)
    if m is None:
        raise RuntimeError("no block %r in docs/%s" % (marker, page))
    return m.group(1).replace("\\e", "\\").replace("\\&", "").replace("\\-", "-")


def man_lint(tap, page):
    """mandoc -Tlint -Wwarning on docs/PAGE: silent, or a SKIP without mandoc."""
    mandoc = shutil.which("mandoc", path="/usr/bin:/bin:" + os.environ.get("PATH", ""))
    if mandoc is None:
        tap.skip("mandoc -T lint", "mandoc not installed (Debian package mandoc)")
        return
    p = subprocess.run([mandoc, "-Tlint", "-Wwarning", os.path.join(SRCDIR, "docs", page)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    tap.ok(p.returncode == 0 and p.stdout == "", "mandoc -Tlint -Wwarning: %s clean" % page, p.stdout)


# ---- NATS -----------------------------------------------------------------

class NatsError(Exception):
    pass


class Nats:
    """A minimal NATS client over the text protocol: requests (for the
    JetStream API) and nothing else."""

    def __init__(self, port, user=None, password=None, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")
        line = self.f.readline()
        if not line.startswith(b"INFO "):
            raise NatsError("no INFO: %r" % line)
        hello = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                 "protocol": 1, "name": "hookline-test", "lang": "python"}
        if user is not None:
            hello.update(user=user, **{"pass": password})
        self.sock.sendall(b"CONNECT " + json.dumps(hello).encode() + b"\r\nPING\r\n")
        self._until_pong()
        self.sid = 0
        self.inbox = "_INBOX.t%d%d" % (os.getpid(), port)

    def _until_pong(self):
        while True:
            line = self.f.readline()
            if not line:
                raise NatsError("connection closed")
            if line.startswith(b"PONG"):
                return
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode().strip())

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def request(self, subject, payload=b"", timeout=5.0):
        """Returns (status, headers, payload) of the first reply;
        status is None for a plain message, 503 for no responders."""
        self.sid += 1
        sid = self.sid
        inbox = "%s.%d" % (self.inbox, sid)
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
        self.sock.settimeout(timeout)
        self.sock.sendall(b"SUB %s %d\r\nUNSUB %d 1\r\nPUB %s %s %d\r\n%s\r\n" % (
            inbox.encode(), sid, sid, subject.encode(), inbox.encode(), len(payload), payload))
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.f.readline()
            if not line:
                raise NatsError("connection closed")
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
                continue
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode().strip())
            if line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                parts = line.split()
                hlen = int(parts[-2]) if line.startswith(b"HMSG ") else 0
                total = int(parts[-1])
                data = self.f.read(total + 2)[:-2]
                if int(parts[2]) != sid:
                    continue
                status, headers = None, {}
                if hlen:
                    head = data[:hlen].decode().split("\r\n")
                    first = head[0].split()
                    if len(first) >= 2:
                        status = int(first[1])
                    for h in head[1:]:
                        if ":" in h:
                            k, _, v = h.partition(":")
                            headers[k.strip()] = v.strip()
                return status, headers, data[hlen:]
        raise NatsError("no reply on %s within %.1f s" % (subject, timeout))

    def api(self, subject, payload=b"", timeout=5.0):
        """A JetStream API request: the reply's JSON, NatsError on an error."""
        status, _, data = self.request(subject, payload, timeout)
        if status == 503:
            raise NatsError("no responders for %s" % subject)
        reply = json.loads(data)
        if "error" in reply:
            raise NatsError("%s: %s" % (subject, reply["error"]))
        return reply


class NatsCluster:
    """n nats-server processes on loopback ports, clustered, each with
    JetStream (file storage in the workdir) and user/password login."""

    def __init__(self, workdir, n=3, users=None, name="hl"):
        self.dir = workdir
        self.users = users or {}
        self.ports = [free_port() for _ in range(n)]
        self.cluster_ports = [free_port() for _ in range(n)]
        self.procs = [None] * n
        self.names = ["n%d" % i for i in range(n)]
        self.confs = []
        for i in range(n):
            store = os.path.join(workdir, "js-%d" % i)
            os.makedirs(store, exist_ok=True)
            routes = ", ".join("nats-route://127.0.0.1:%d" % p for j, p in enumerate(self.cluster_ports) if j != i)
            users = ", ".join("{user: %s, password: %s}" % (json.dumps(u), json.dumps(p))
                              for u, p in self.users.items())
            conf = "\n".join([
                "server_name: %s" % self.names[i],
                "listen: 127.0.0.1:%d" % self.ports[i],
                "jetstream { store_dir: %s }" % json.dumps(store),
                "cluster { name: %s, listen: 127.0.0.1:%d, routes: [%s] }" % (name, self.cluster_ports[i], routes),
                "authorization { users: [%s] }" % users if users else "",
            ]) + "\n"
            path = os.path.join(workdir, "nats-%d.conf" % i)
            with open(path, "w") as f:
                f.write(conf)
            self.confs.append(path)
        atexit.register(self.stop_all)
        for i in range(n):
            self.start(i)

    def wait_ready(self, user, password, seconds=60):
        """Until JetStream answers (the cluster has a metadata leader)."""
        return self.api(user, password, "$JS.API.INFO", seconds=seconds)

    def urls(self):
        return ",".join("nats://127.0.0.1:%d" % p for p in self.ports)

    def start(self, i):
        log = open(os.path.join(self.dir, "nats-%d.log" % i), "a")
        self.procs[i] = subprocess.Popen([NATS_SERVER, "-c", self.confs[i]], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ports[i]), timeout=1).close()
                return
            except OSError:
                if self.procs[i].poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("nats-server %d did not start:\n%s" % (i, self.log(i)[-2000:]))

    def kill(self, i):
        """kill -9, the whole process group."""
        p = self.procs[i]
        if p is not None and p.poll() is None:
            killpg(p.pid)
            p.wait()
        self.procs[i] = None

    def stop_all(self):
        for i, p in enumerate(self.procs):
            if p is not None and p.poll() is None:
                killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    killpg(p.pid)
                    p.wait()
            self.procs[i] = None

    def up(self):
        return [i for i, p in enumerate(self.procs) if p is not None and p.poll() is None]

    def log(self, i):
        with open(os.path.join(self.dir, "nats-%d.log" % i), errors="replace") as f:
            return f.read()

    def client(self, user, password, i=None, timeout=10):
        """A client on node i, or on the first live node that answers."""
        last = None
        for j in ([i] if i is not None else self.up()):
            try:
                return Nats(self.ports[j], user, password, timeout)
            except (OSError, NatsError) as e:
                last = e
        raise NatsError("no node answers: %s" % last)

    def api(self, user, password, subject, payload=b"", seconds=60, timeout=3.0):
        """A JetStream API request, retried (a new leader may be electing)
        for up to seconds."""
        deadline = time.time() + seconds
        last = None
        while time.time() < deadline:
            try:
                c = self.client(user, password)
                try:
                    return c.api(subject, payload, timeout)
                finally:
                    c.close()
            except (OSError, NatsError, ValueError) as e:
                last = e
                time.sleep(0.25)
        raise NatsError("%s: no answer within %d s: %s" % (subject, seconds, last))


def stream_messages(cluster, user, password, stream, seconds=120):
    """Every message in the stream, as (seq, subject, headers, data), read
    one by one with $JS.API.STREAM.MSG.GET (no consumer involved).  A
    cluster that is still electing answers 503 for a moment: each read is
    tried again, within seconds in all."""
    deadline = time.time() + seconds
    info = cluster.api(user, password, "$JS.API.STREAM.INFO." + stream, seconds=seconds)
    first, last = info["state"]["first_seq"], info["state"]["last_seq"]
    out = []
    c = None
    try:
        for seq in range(first, last + 1):
            while True:
                try:
                    if c is None:
                        c = cluster.client(user, password)
                    m = c.api("$JS.API.STREAM.MSG.GET." + stream, {"seq": seq}, timeout=5)["message"]
                    break
                except NatsError as e:
                    if "no message found" in str(e):  # deleted or trimmed
                        m = None
                        break
                    last_error = e
                except (OSError, ValueError) as e:
                    last_error = e
                if time.time() > deadline:
                    raise NatsError("reading %s at %d: %s" % (stream, seq, last_error))
                if c is not None:
                    c.close()
                    c = None
                time.sleep(0.25)
            if m is None:
                continue
            headers = {}
            if m.get("hdrs"):
                for h in base64.b64decode(m["hdrs"]).decode().split("\r\n")[1:]:
                    if ":" in h:
                        k, _, v = h.partition(":")
                        headers[k.strip()] = v.strip()
            out.append((m["seq"], m["subject"], headers, base64.b64decode(m.get("data", ""))))
    finally:
        if c is not None:
            c.close()
    return out


# ---- PostgreSQL ----------------------------------------------------------

def pg_bindir():
    """The newest installed server's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


class Postgres:
    """A cluster made by initdb in workdir/pg, run with pg_ctl as an
    unprivileged user (nobody when we are root), listening on a loopback
    port (scram-sha-256) and on a Unix socket in workdir/pg (trust, for the
    test's psql as the superuser postgres)."""

    def __init__(self, workdir, bindir):
        self.bin = bindir
        self.dir = os.path.join(workdir, "pg")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "server.log")
        self.port = free_port()
        os.mkdir(self.dir, 0o755)
        self.run_as = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.run_as = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        self.env = {"PATH": "/usr/bin:/bin", "LANG": "C", "HOME": self.dir}
        atexit.register(self.stop)
        self.ctl(["initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8", "--locale=C",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"], timeout=120)
        self.start()

    def ctl(self, argv, timeout=90, check=True):
        p = subprocess.run([os.path.join(self.bin, argv[0])] + argv[1:], env=self.env, cwd=self.dir,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, **self.run_as)
        if check and p.returncode != 0:
            raise RuntimeError("%s: %s\n%s" % (argv[0], p.stdout.decode(errors="replace"), self.log()[-2000:]))
        return p

    def options(self):
        return ("-c port=%d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s "
                "-c max_connections=60 -c fsync=on -c synchronous_commit=on" % (self.port, self.dir))

    def postmaster(self):
        """The running postmaster's pid (ours: its command line names our
        directory, as -D or as the socket directory), or None."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                pid = int(f.readline())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if self.dir.encode() in f.read():
                    return pid
        except (OSError, ValueError):
            pass
        return None

    def start(self):
        self.ctl(["pg_ctl", "-D", self.data, "-l", self.logfile, "-o", self.options(), "-w", "-t", "60", "start"])

    def restart_immediate(self):
        """pg_ctl restart -m immediate: no shutdown checkpoint, crash
        recovery on the way up."""
        self.ctl(["pg_ctl", "-D", self.data, "-l", self.logfile, "-o", self.options(), "-m", "immediate", "-w",
                  "-t", "60", "restart"])

    def stop(self):
        """pg_ctl stop -m immediate; SIGKILL to the postmaster's session
        (pg_ctl starts it in one of its own) if that did not stop it."""
        if self.postmaster() is None:
            return
        try:
            self.ctl(["pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-t", "30", "stop"], check=False)
        except subprocess.TimeoutExpired:
            pass
        pid = self.postmaster()
        if pid is not None:
            killpg(pid)

    def psql(self, sql, db="hooks", user="postgres", timeout=120):
        """Runs sql through the Unix socket; returns the rows, each a list
        of fields (psql -At, fields split at the unit separator)."""
        p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\x1f", "-h", self.dir,
                            "-p", str(self.port), "-U", user, "-d", db, "-c", sql],
                           env=dict(self.env, PGCONNECT_TIMEOUT="10"), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("psql: %s\nserver log:\n%s" % (p.stderr.decode(errors="replace"), self.log()[-3000:]))
        return [ln.split("\x1f") for ln in p.stdout.decode().split("\n") if ln != ""]

    def session(self, db="hooks", user="postgres"):
        """An interactive psql (stdin/stdout pipes) for a worker that holds
        a transaction open: see PsqlSession."""
        return PsqlSession(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\x1f", "-h", self.dir,
                            "-p", str(self.port), "-U", user, "-d", db], self.env)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class PsqlSession:
    """One psql process driven statement by statement through pipes."""

    END = "__hookline_end__"

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        atexit.register(self.close)

    def run(self, sql):
        """Rows of sql's output (psql -At), up to an \\echo marker."""
        self.proc.stdin.write(("%s\n\\echo %s\n" % (sql, self.END)).encode())
        self.proc.stdin.flush()
        rows = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("psql ended: %r" % rows[-5:])
            line = line.decode().rstrip("\n")
            if line == self.END:
                return rows
            if line.startswith(("ERROR:", "psql:", "FATAL:")):
                raise RuntimeError(line)
            rows.append(line.split("\x1f"))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                killpg(self.proc.pid)
                self.proc.wait()
