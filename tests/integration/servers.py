"""Real web servers for the deployment tests, configured with the very
files that deploy/ ships and docs/deploy.md shows.

A Site is a temporary directory that stands in for the production paths
those files name (/etc/hookline, /var/log/hookline, /run/hookline, ...).
A shipped file is read from deploy/, its production paths (and secret
placeholders) are replaced by the Site's, and nothing else is changed,
but for the sanitizer settings that Apache adds to a FcgidCmdOptions
line's InitialEnv (it passes no other environment to that program).
Servers start as root and serve as www-data, as Debian runs them, on
127.0.0.1 only; every one is stopped at exit, and any process left that
names the Site's directory is killed by its pid.
"""

import atexit
import grp
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import time

from harness import (BIN, SRCDIR, Workdir, alive, child_env, event_body, free_port, logged_event_bytes,
                     raw_request, read_log, require, sanitizer_reports, sha1_sig, sha256_sig, skip, wait_port)

DEPLOY = os.path.join(SRCDIR, "deploy")
USER = "www-data"
APACHE = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"
NGINX = "/usr/sbin/nginx"
LIGHTTPD = "/usr/sbin/lighttpd"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The production paths that shipped files may name, and where a Site
# keeps each (relative to its directory).
PRODUCTION = {
    "/usr/sbin/hookline": None,  # the binary under test
    "/usr/local/sbin/hookline-sites": "sbin/hookline-sites",  # a link to it
    "/etc/hookline": "etc",
    "/var/log/hookline": "log",
    "/run/hookline": "run/hookline",
    "/run/lighttpd": "run/lighttpd",
    "/home/alice": "home/alice",
    "/usr/share/hookline/lighttpd-errors": "share/lighttpd-errors",
}


def which(name):
    return shutil.which(name, path=PATH)


def need_www_data():
    """Ends the test with a SKIP unless it can do what Debian does: start
    servers as root that serve as www-data, and give files to www-data."""
    if os.geteuid() != 0:
        skip("needs root: the web servers start as root and serve as %s" % USER)
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        skip("no user %s here" % USER)
    work = Workdir("hookline-probe-")
    try:
        os.chown(work.path, pw.pw_uid, pw.pw_gid)
    except OSError as e:
        skip("cannot give a file to %s here (%s): a container that does not map that user?" % (USER, e.strerror))
    finally:
        work.cleanup()


def _chown(path, user=USER, group=USER, mode=None):
    os.chown(path, pwd.getpwnam(user).pw_uid if user else 0, grp.getgrnam(group).gr_gid if group else 0)
    if mode is not None:
        os.chmod(path, mode)


class Site:
    """A temporary stand-in for a production machine's hookline paths.

    etc/secret holds a fresh secret, root:www-data 0640 in a root:www-data
    0750 directory; log/ is www-data's, 0750: what docs/deploy.md asks for.
    """

    def __init__(self, name):
        need_www_data()
        self.work = Workdir("hookline-%s-" % name)
        self.dir = self.work.path
        self.paths = {}
        # The binary under test, copied to where www-data can run it: the
        # build tree may sit under a directory only root may enter (CI
        # clones into a mktemp -d directory, mode 0700).
        os.mkdir(self.path("sbin"))
        self.bin = self.path("sbin/hookline")
        shutil.copy(BIN, self.bin)
        os.chmod(self.bin, 0o755)
        os.symlink(self.bin, self.path("sbin/hookline-sites"))
        for prod, rel in PRODUCTION.items():
            self.paths[prod] = self.bin if rel is None else os.path.join(self.dir, rel)
        self.secret = "hl-" + secrets.token_urlsafe(24)
        self.secrets = [self.secret]
        for sub in ("etc", "log", "run", "conf", "san", "www"):
            os.mkdir(self.path(sub))
        _chown(self.path("etc"), "root", USER, 0o750)
        _chown(self.path("log"), USER, USER, 0o750)
        _chown(self.path("san"), USER, USER, 0o755)
        self.write_secret(self.path("etc/secret"), self.secret, "root", USER, 0o640)
        # What the package installs beside the snippets.
        shutil.copytree(os.path.join(DEPLOY, "lighttpd/errors"), self.path("share/lighttpd-errors"))
        atexit.register(self.kill_leftovers)

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def write_secret(self, path, secret, user, group, mode):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
        _chown(path, user, group, mode)

    def new_secret(self):
        s = "hl-" + secrets.token_urlsafe(24)
        self.secrets.append(s)
        return s

    def text(self, rel, values=None):
        """deploy/rel with placeholders (values) and production paths
        replaced; refuses a result that still names a production path."""
        with open(os.path.join(DEPLOY, rel)) as f:
            text = f.read()
        # Placeholders and production paths become tokens first, so that
        # what is left can be checked before the Site's paths (which may
        # well contain "/run/" or "/usr/local/") go in.
        tokens = {}
        for k, v in (values or {}).items():
            if k not in text:
                raise RuntimeError("%s: no %s to replace" % (rel, k))
            tokens["\0%d\0" % len(tokens)] = v
            text = text.replace(k, "\0%d\0" % (len(tokens) - 1))
        for prod in sorted(self.paths, key=len, reverse=True):
            tokens["\0%d\0" % len(tokens)] = self.paths[prod]
            text = text.replace(prod, "\0%d\0" % (len(tokens) - 1))
        left = [p for p in list(PRODUCTION) + ["/var/log/", "/run/", "/usr/local/"] if p in text]
        if left:
            raise RuntimeError("%s still names %s" % (rel, left))
        for token, path in tokens.items():
            text = text.replace(token, path)
        return text

    def install(self, rel, name=None, values=None, mode=0o644):
        """Writes deploy/rel, adapted by text(), into conf/; returns the path."""
        dest = self.path(os.path.join("conf", name or os.path.basename(rel)))
        with open(dest, "w") as f:
            f.write(self.text(rel, values))
        os.chmod(dest, mode)
        return dest

    def env(self, extra=None):
        """A clean environment; sanitizer reports go to san/."""
        return child_env(extra, self.path("san"))

    def sanitizer_reports(self):
        return sanitizer_reports(self.path("san"))

    def processes(self):
        """Pids of the processes whose command line or environment names
        this Site's directory (the servers and hookline processes it ran)."""
        out = []
        marker = self.dir.encode()
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            for what in ("cmdline", "environ"):
                try:
                    with open("/proc/%s/%s" % (name, what), "rb") as f:
                        if marker in f.read():
                            out.append(int(name))
                            break
                except OSError:
                    break
        return out

    def kill_leftovers(self):
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def secrets_in_ps(self):
        """Lines of ps output that show one of the Site's secrets."""
        out = subprocess.run(["ps", "-eww", "-o", "args"], stdout=subprocess.PIPE,
                             universal_newlines=True, errors="replace").stdout
        return [ln for ln in out.splitlines() if any(s in ln for s in self.secrets)]

    def secrets_in(self, text):
        return [s for s in self.secrets if s in text]


def read_text(path):
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()


def wait_gone(pids, seconds):
    """Waits until none of pids runs (or is a zombie); returns those left."""
    deadline = time.time() + seconds
    left = list(pids)
    while left and time.time() < deadline:
        left = [p for p in left if _alive(p)]
        if left:
            time.sleep(0.05)
    return left


_alive = alive


class Server:
    """A server process in its own process group, stopped at exit."""

    def __init__(self, site, name, argv, port, stop_signal=signal.SIGTERM):
        self.site = site
        self.name = name
        self.port = port
        self.stop_signal = stop_signal
        self.stderr = site.path("%s.stderr" % name)
        self.proc = subprocess.Popen(argv, env=site.env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.stderr, "w"),
                                     start_new_session=True)
        atexit.register(self.stop)
        if port is not None and not wait_port(port, self.proc):
            raise RuntimeError("%s did not start:\n%s" % (name, self.errors()))

    def errors(self):
        return read_text(self.stderr)

    def stop(self, seconds=30):
        """SIGTERM (or the server's stop signal), then SIGKILL to its group."""
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


class Apache(Server):
    """Apache 2.4, mpm_event, from a configuration of its own (ServerRoot,
    pid file, logs, mutexes, mod_fcgid's and mod_cgid's sockets in the
    Site), as Debian's apache2.conf runs it: User www-data, everything
    denied but the document root, .ht* files denied.  modules: names as in
    /usr/lib/apache2/modules/mod_NAME.so.  body: more configuration, after
    which the files in includes are Included."""

    def __init__(self, site, modules, includes=(), body=""):
        require("apache2", "apache2")
        for m in modules:
            if not os.path.exists("%s/mod_%s.so" % (APACHE_MODULES, m)):
                skip("Apache's mod_%s not installed (Debian package %s)"
                     % (m, {"fcgid": "libapache2-mod-fcgid"}.get(m, "apache2")))
        port = free_port()
        top = site.path("apache")
        run = os.path.join(top, "run")
        os.makedirs(run)
        _chown(run, USER, USER, 0o755)
        self.errlog = os.path.join(top, "error.log")
        san = site.env()
        conf = [
            'ServerRoot "%s"' % top,
            "ServerName 127.0.0.1",
            "Listen 127.0.0.1:%d" % port,
            'PidFile "%s/apache.pid"' % top,
            'ErrorLog "%s"' % self.errlog,
            "LogLevel warn",
            "Mutex file:%s default" % run,
            'DefaultRuntimeDir "%s"' % run,
            "User %s" % USER,
            "Group %s" % USER,
            "Timeout 60",
            "LoadModule mpm_event_module %s/mod_mpm_event.so" % APACHE_MODULES,
        ]
        conf += ["LoadModule %s_module %s/mod_%s.so" % (m, APACHE_MODULES, m) for m in modules]
        conf += [
            'DocumentRoot "%s"' % site.path("www"),
            "<Directory />", "    Options FollowSymLinks", "    AllowOverride None",
            "    Require all denied", "</Directory>",
            '<Directory "%s">' % site.path("www"), "    Require all granted", "</Directory>",
            '<FilesMatch "^\\.ht">', "    Require all denied", "</FilesMatch>",
        ]
        if "mime" in modules:
            conf.append("TypesConfig /etc/mime.types")
        if "fcgid" in modules:
            # Debian keeps these in /var/lib/apache2/fcgid; the sanitizer
            # settings reach hookline only through FcgidInitialEnv.
            conf += ['FcgidIPCDir "%s"' % run, 'FcgidProcessTableFile "%s/fcgid_shm"' % run]
            conf += ['FcgidInitialEnv %s "%s"' % (k, san[k]) for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")]
        if "cgid" in modules:
            conf.append('ScriptSock "%s/cgisock"' % run)
        if "env" in modules:
            conf.append("PassEnv ASAN_OPTIONS UBSAN_OPTIONS")
        conf.append(body)
        for p in includes:
            _add_sanitizer_env(p, san)
        conf += ['Include "%s"' % p for p in includes]
        self.conf = os.path.join(top, "apache2.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        Server.__init__(self, site, "apache", [APACHE, "-f", self.conf, "-DFOREGROUND"], port)

    def errors(self):
        return read_text(self.errlog) + Server.errors(self)


def _add_sanitizer_env(path, env):
    """mod_fcgid gives a program that has FcgidCmdOptions only the
    environment those options name (not FcgidInitialEnv's): the sanitizer
    settings go into each such line of the file at path."""
    with open(path) as f:
        text = f.read()
    extra = "".join(" InitialEnv %s=%s" % (k, env[k]) for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"))
    new = re.sub(r"^(FcgidCmdOptions \S+)", lambda m: m.group(1) + extra, text, flags=re.M)
    if new != text:
        with open(path, "w") as f:
            f.write(new)


class Nginx(Server):
    """nginx (master as root, 2 workers as www-data) whose one server block
    includes the file at include."""

    def __init__(self, site, include):
        require("nginx", "nginx")
        port = free_port()
        top = site.path("nginx")
        tmp = os.path.join(top, "tmp")
        os.makedirs(tmp)
        _chown(tmp, USER, USER, 0o700)
        # The snippet says "include fastcgi_params;", relative to the
        # configuration's directory as on Debian.
        shutil.copy("/etc/nginx/fastcgi_params", top)
        self.errlog = os.path.join(top, "error.log")
        conf = """user %(user)s;
worker_processes 2;
pid %(top)s/nginx.pid;
error_log %(top)s/error.log warn;
daemon off;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path %(tmp)s/body;
    fastcgi_temp_path %(tmp)s/fastcgi;
    proxy_temp_path %(tmp)s/proxy;
    uwsgi_temp_path %(tmp)s/uwsgi;
    scgi_temp_path %(tmp)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        server_name localhost;
        include %(include)s;
    }
}
""" % dict(user=USER, top=top, tmp=tmp, port=port, include=include)
        self.conf = os.path.join(top, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        Server.__init__(self, site, "nginx", [NGINX, "-e", self.errlog, "-p", top + "/", "-c", self.conf],
                        port)

    def errors(self):
        return read_text(self.errlog) + Server.errors(self)


class Lighttpd(Server):
    """lighttpd as Debian's lighttpd.conf runs it (root, then www-data),
    with the file at include."""

    def __init__(self, site, include):
        require("lighttpd", "lighttpd")
        port = free_port()
        top = site.path("lighttpd")
        os.makedirs(top)
        _chown(top, USER, USER, 0o755)  # the error log is opened as www-data
        run = site.path("run/lighttpd")
        os.makedirs(run)
        _chown(run, USER, USER, 0o750)
        self.errlog = os.path.join(top, "error.log")
        conf = [
            'server.modules = ("mod_fastcgi")',
            'server.document-root = "%s"' % site.path("www"),
            'server.bind = "127.0.0.1"',
            "server.port = %d" % port,
            'server.username = "%s"' % USER,
            'server.groupname = "%s"' % USER,
            'server.errorlog = "%s"' % self.errlog,
            'include "%s"' % include,
        ]
        self.conf = os.path.join(top, "lighttpd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        Server.__init__(self, site, "lighttpd", [LIGHTTPD, "-D", "-f", self.conf], port)

    def errors(self):
        return read_text(self.errlog) + Server.errors(self)


class SpawnFcgi:
    """hookline started by the shipped deploy/spawn-fcgi/hookline-spawn-fcgi
    (its paths replaced, nothing else): 4 processes on a Unix socket."""

    def __init__(self, site, script=None):
        require("spawn-fcgi", "spawn-fcgi")
        self.site = site
        script = script or site.install("spawn-fcgi/hookline-spawn-fcgi", mode=0o755)
        self.out = site.path("spawn-fcgi.out")
        with open(self.out, "w") as out:
            self.rc = subprocess.run(["/bin/sh", script], env=site.env(), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT, timeout=60).returncode
        self.socket = site.path("run/hookline/hookline.sock")
        pidfile = site.path("run/hookline/hookline.pid")
        self.pids = [int(p) for p in read_text(pidfile).split()]
        atexit.register(self.stop)
        # spawn-fcgi exits once it forked: wait for each child to be
        # hookline (dropped to www-data, socket on fd 0, exec done).
        deadline = time.time() + 20
        while time.time() < deadline and not all(self._is_hookline(p, site.bin) for p in self.pids):
            time.sleep(0.02)

    @staticmethod
    def _is_hookline(pid, binary):
        try:
            return os.path.realpath("/proc/%d/exe" % pid) == os.path.realpath(binary)
        except OSError:
            return False

    def stop(self, seconds=20):
        """SIGTERM, as the script's comment says; returns pids still alive."""
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        return wait_gone(self.pids, seconds)


def fd_inodes(pid):
    """{fd: socket inode} for the sockets a process has open."""
    out = {}
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(os.path.join(d, fd)))
        except OSError:
            continue
        if m:
            out[int(fd)] = int(m.group(1))
    return out


def unix_socket_inodes(path):
    """Inodes of the Unix sockets bound to path (from /proc/net/unix)."""
    out = set()
    with open("/proc/net/unix") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if len(parts) >= 8 and parts[7] == path:
                out.add(int(parts[6]))
    return out


def tcp_socket_inodes():
    """Inodes of every TCP socket on the machine (IPv4 and IPv6)."""
    out = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        if os.path.exists(name):
            with open(name) as f:
                for line in f.readlines()[1:]:
                    parts = line.split()
                    if len(parts) > 9:
                        out.add(int(parts[9]))
    return out


def wrk(url, body, headers, seconds=10, connections=16):
    """A wrk --latency run of POSTs; returns a dict: p99_ms, requests,
    non2xx, errors (socket errors), output.  None when wrk is missing."""
    exe = which("wrk")
    if exe is None:
        return None
    work = Workdir("hookline-wrk-")
    script = os.path.join(work.path, "post.lua")
    if b"]]" in body:
        raise ValueError("body cannot be a Lua long string")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = [[%s]]\n' % body.decode())
        for k, v in headers.items():
            f.write("wrk.headers[%s] = %s\n" % (json.dumps(k), json.dumps(v)))
    p = subprocess.run([exe, "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency", "-s", script, url],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                       timeout=seconds + 60)
    out = p.stdout
    res = {"output": out, "p99_ms": None, "requests": None, "non2xx": 0, "errors": 0}
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m:
        res["p99_ms"] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    m = re.search(r"^\s*(\d+) requests in", out, re.M)
    if m:
        res["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["errors"] = sum(int(x) for x in m.groups())
    return res


MIB = 1024 * 1024


def sized_event(n, tag="big"):
    """A JSON object of exactly n bytes."""
    head = b'{"job_id":"%s","pad":"' % tag.encode()
    return head + b"x" * (n - len(head) - 2) + b'"}'


def unit(text):
    """{section: [(key, value), ...]} of a unit file."""
    out, cur = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            cur = out.setdefault(line[1:-1], [])
            continue
        k, _, v = line.partition("=")
        cur.append((k.strip(), v.strip()))
    return out


def one(section, key):
    """The one value of key in a section of unit()."""
    vals = [v for k, v in section if k == key]
    if len(vals) != 1:
        raise RuntimeError("%s: %d values" % (key, len(vals)))
    return vals[0]


def chunked_post(port, path, body, headers):
    """POSTs body with Transfer-Encoding: chunked; returns the status (0
    when the connection closed without one)."""
    req = b"POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % path.encode()
    req += b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n"
    req += b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers.items()) + b"\r\n"
    req += b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                    for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
    out = raw_request(port, req, timeout=30)
    m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
    return int(m.group(1)) if m else 0


def standard_events(tap, client, path, secret, label, first=0, chunked=200, port=None):
    """The requests every deployment must get right, through the real
    server at path.  Returns the bodies that must now be in the log, in
    order.  chunked: the status a small chunked event gets (servers differ
    in what they pass on for a body without Content-Length)."""
    stored = []
    answers = []

    def post(body, headers, want, name):
        r = client.post(path, body, headers)
        answers.append(r.body)
        ok = tap.ok(r.status == want, "%s: %s: %d" % (label, name, want), (r.status, r.headers, r.body[:300]))
        if ok and want == 200:
            tap.eq(r.json(), {"ok": True, "id": hashlib.sha256(body).hexdigest()},
                   "%s: %s: answer carries the event id" % (label, name))
            stored.append(body)
        return r

    b = event_body(first + 1)
    post(b, {"X-Hub-Signature": sha1_sig(secret, b)}, 200, "X-Hub-Signature (bare hex)")
    b = event_body(first + 2)
    post(b, {"X-Hub-Signature": "sha1=" + sha1_sig(secret, b)}, 200, "X-Hub-Signature sha1=")
    b = event_body(first + 3)
    post(b, {"X-Hub-Signature-256": sha256_sig(secret, b)}, 200, "X-Hub-Signature-256")
    b = event_body(first + 4)
    r = post(b, {}, 401, "unsigned event refused")
    tap.eq(r.json(), {"error": "invalid signature"}, "%s: unsigned: hookline's JSON answer" % label)
    post(b, {"X-Hub-Signature": sha1_sig(secret + "x", b)}, 401, "wrong secret refused")
    r = client.request("GET", path)
    answers.append(r.body)
    tap.ok(r.status == 405 and r.headers.get("allow") == "POST", "%s: GET: 405, Allow: POST" % label,
           (r.status, r.headers))
    b = sized_event(MIB)
    post(b, {"X-Hub-Signature": sha1_sig(secret, b)}, 200, "event of exactly HOOKLINE_MAX_BODY (1 MiB)")
    b = sized_event(2 * MIB)
    try:
        r = client.post(path, b, {"X-Hub-Signature": sha1_sig(secret, b)})
        answers.append(r.body)
        # hookline's answers end with a newline; a web server's JSON
        # ErrorDocument string cannot.
        who = "hookline" if r.body.endswith(b"}\n") else "the web server"
        tap.ok(r.status == 413 and r.headers.get("content-type") == "application/json"
               and r.body.rstrip(b"\n") == b'{"error":"body too large"}',
               "%s: 2 MiB event: 413 (from %s), as JSON" % (label, who), (r.status, r.headers, r.body[:300]))
    except OSError as e:
        client.close()
        tap.ok(False, "%s: 2 MiB event: 413" % label, "no answer: %r" % e)
    if port is not None:
        b = event_body(first + 5)
        st = chunked_post(port, path, b, {"X-Hub-Signature": sha1_sig(secret, b)})
        tap.eq(st, chunked, "%s: chunked event: %d" % (label, chunked))
        if st == 200:
            stored.append(b)
    tap.ok(all(secret.encode() not in a for a in answers), "%s: no answer shows the secret" % label)
    return stored


def check_log(tap, path, bodies, label, remote="127.0.0.1", owner=USER):
    """The log holds exactly bodies, in order, byte for byte, each with its
    id and remote address; created 0640 by the user hookline runs as."""
    lines = read_log(path)
    got = [logged_event_bytes(line) for line, _ in lines]
    tap.ok(got == bodies, "%s: log holds exactly the %d accepted events, byte for byte" % (label, len(bodies)),
           "logged %d lines, want %d" % (len(got), len(bodies)))
    tap.ok(all(rec is not None and rec["id"] == hashlib.sha256(logged_event_bytes(line)).hexdigest()
               and rec["remote"] == remote for line, rec in lines),
           "%s: every record parses, with its id and remote %s" % (label, remote))
    if os.path.exists(path):
        st = os.stat(path)
        tap.eq((oct(st.st_mode & 0o777), pwd.getpwuid(st.st_uid).pw_name), ("0o640", owner),
               "%s: log created 0640 by %s" % (label, owner))
    return lines
