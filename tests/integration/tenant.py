"""A tenant of a shared Apache against the administrator's hookline.

The administrator runs hookline as a FastCGI daemon (the shipped
deploy/spawn-fcgi script, as www-data) behind mod_proxy_fcgi exactly as
deploy/apache/hookline-proxy-fcgi.conf shows, configured in its own
environment: HOOKLINE_SECRET_FILE (root:www-data 0640) and HOOKLINE_LOG.
A tenant may only write an .htaccess in their own directory
(AllowOverride FileInfo, no ExecCGI); theirs routes to the administrator's
socket with SetHandler "proxy:unix:...|fcgi://hookline/" and adds SetEnv
lines of its own.  Three attacks must fail while the administrator's own
events still get 200:

1. their own HOOKLINE_SECRET and the administrator's HOOKLINE_LOG: no forged
   line in the administrator's log;
2. HOOKLINE_PLUGIN=exec.so with a command copying the secret file out: no
   command runs;
3. the redis plugin with password_file= the secret file and a host of
   theirs: nothing connects to their listener, no secret sent.

Then the same pool of 2 processes (HOOKLINE_READ_TIMEOUT=3) against slow
uploads: 4 clients trickling a declared 1 MB body at 600 bytes/s each get
408 with hookline's JSON answer after about 3 s, and a signed event sent
meanwhile is answered 200 instead of waiting behind them."""

import os
import shutil
import socket
import threading
import time

from harness import Client, Tap, event_body, sha1_sig
from servers import USER, Apache, Site, SpawnFcgi, _chown, read_text

BUILD = os.environ.get("HOOKLINE_BUILDDIR", ".")
tap = Tap()
site = Site("tenant")
TIMEOUT = 3
# The shipped script, with a pool of 2 and a short read deadline.
spawn_values = {"HOOKLINE_MAX_BODY=1M": "HOOKLINE_MAX_BODY=1M\nHOOKLINE_READ_TIMEOUT=%d" % TIMEOUT,
                "export HOOKLINE_SECRET_FILE": "export HOOKLINE_READ_TIMEOUT HOOKLINE_SECRET_FILE",
                "-F 4": "-F 2"}
script = site.install("spawn-fcgi/hookline-spawn-fcgi", values=spawn_values, mode=0o755)
spawn = SpawnFcgi(site, script=script)
tap.eq(len(spawn.pids), 2, "administrator's pool: 2 hookline processes")

# The plugins a tenant would name, where www-data can read them.
plugins = {}
for name in ("exec", "redis"):
    src = os.path.join(BUILD, "handler/plugins/.libs/%s.so" % name)
    if os.path.exists(src):
        plugins[name] = site.path("www/%s.so" % name)
        shutil.copy(src, plugins[name])
        os.chmod(plugins[name], 0o644)

# A listener of the tenant's: the redis plugin would connect and AUTH.
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
listener.settimeout(0.2)
heard = []


def listen():
    end = time.time() + 120
    while time.time() < end and listener.fileno() != -1:
        try:
            conn, _ = listener.accept()
        except (socket.timeout, OSError):
            continue
        conn.settimeout(1)
        try:
            heard.append(conn.recv(4096))
        except OSError:
            heard.append(b"")
        conn.close()


threading.Thread(target=listen, daemon=True).start()

sock = spawn.socket
admin_log = site.path("log/events.jsonl")
secret_file = site.path("etc/secret")
stolen = site.path("www/t2/stolen")
handler = 'SetHandler "proxy:unix:%s|fcgi://hookline/"' % sock
tenants = {
    "t1": ["SetEnv HOOKLINE_SECRET tenant-one-secret", "SetEnv HOOKLINE_LOG %s" % admin_log],
    "t2": ["SetEnv HOOKLINE_SECRET tenant-two-secret",
           "SetEnv HOOKLINE_PLUGIN %s" % plugins.get("exec", "exec"),
           'SetEnv HOOKLINE_PLUGIN_ARG "/bin/cp %s %s"' % (secret_file, stolen)],
    "t3": ["SetEnv HOOKLINE_SECRET tenant-three-secret",
           "SetEnv HOOKLINE_PLUGIN %s" % plugins.get("redis", "redis"),
           'SetEnv HOOKLINE_PLUGIN_ARG "host=127.0.0.1 port=%d password_file=%s stream=x"'
           % (listener.getsockname()[1], secret_file)],
}
for name, lines in tenants.items():
    d = site.path("www/" + name)
    os.mkdir(d)
    _chown(d, USER, USER, 0o755)  # the tenant may write here, nothing else
    with open(os.path.join(d, ".htaccess"), "w") as f:
        f.write("\n".join([handler] + lines) + "\n")

body = '<Directory "%s">\n    AllowOverride FileInfo\n</Directory>' % site.path("www")
conf = site.install("apache/hookline-proxy-fcgi.conf")
srv = Apache(site, ["authz_core", "proxy", "proxy_fcgi", "env"], [conf], body=body)
c = Client(srv.port)


def post(path, secret, i, client=c):
    b = event_body(i)
    return client.post(path, b, {"X-Hub-Signature": sha1_sig(secret, b)}).status


tap.eq(post("/hook", site.secret, 1), 200, "the administrator's own event: 200")
for name, secret in (("t1", "tenant-one-secret"), ("t2", "tenant-two-secret"), ("t3", "tenant-three-secret")):
    for i in range(3):
        # Each of the 2 processes sees the tenant's requests.
        tap.eq(post("/%s/hook" % name, secret, 100 + i), 401,
               "%s: an event signed with the tenant's own secret: 401 (%d)" % (name, i))
tap.eq(post("/t1/hook", site.secret, 2), 200,
       "t1: through the tenant's route, only the administrator's secret verifies")
tap.eq(post("/hook", site.secret, 3), 200, "the administrator's event after the attacks: 200")
time.sleep(0.5)
lines = read_text(admin_log).splitlines()
tap.eq(len(lines), 3, "the administrator's log holds the 3 real events, no forged line")
tap.ok(all("job-%06d" % i in "".join(lines) for i in (1, 2, 3)), "the 3 are the administrator's", lines)
tap.ok(not os.path.exists(stolen), "t2: the command the tenant named did not run (no copied secret)")
listener.close()
tap.eq([h for h in heard if h], [], "t3: nothing connected to the tenant's listener, no secret sent")
tap.ok(not any(site.secret.encode() in h for h in heard), "t3: the secret never left")
err = srv.errors()
tap.ok("ignoring HOOKLINE_* request parameters" in err,
       "the error log says the request's settings were ignored", err[-2000:])


# ---- slow uploads ------------------------------------------------------------
def slow_client(results, k):
    """Declares 1 MB and sends 600 bytes/s until an answer comes (or 30 s)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    b = event_body(200 + k)
    s.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"X-Hub-Signature: %s\r\nContent-Length: 1000000\r\n\r\n" % sha1_sig(site.secret, b).encode())
    t0, got = time.time(), b""
    s.setblocking(False)
    while time.time() - t0 < 30 and b"\r\n\r\n" not in got:
        try:
            s.send(b" " * 60)
        except OSError:
            pass
        time.sleep(0.1)
        try:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        except BlockingIOError:
            pass
        except OSError:
            break
    # The rest of the answer, if it came in pieces.
    s.setblocking(True)
    s.settimeout(2)
    try:
        while b"}" not in got.partition(b"\r\n\r\n")[2]:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    results[k] = (time.time() - t0, got)
    s.close()


results = {}
threads = [threading.Thread(target=slow_client, args=(results, k)) for k in range(4)]
for t in threads:
    t.start()
time.sleep(1)
c2 = Client(srv.port, timeout=60)
t0 = time.time()
st = post("/hook", site.secret, 300, client=c2)
fast = time.time() - t0
for t in threads:
    t.join(60)
c2.close()
tap.eq(st, 200, "a signed event sent while 4 slow uploads hold the pool of 2: 200 (after %.1f s)" % fast)
tap.ok(fast < TIMEOUT * 3 + 5, "it waited at most about the read deadline behind them (%.1f s)" % fast)
for k in range(4):
    secs, got = results.get(k, (None, b""))
    tap.ok(got.startswith(b"HTTP/1.1 408") and b'{"error":"request timeout"}' in got,
           "slow upload %d: 408 with hookline's JSON answer" % k, got[:300])
    tap.ok(secs is not None and secs < TIMEOUT + 10, "slow upload %d: answered after %.1f s" % (k, secs or -1))
err = srv.errors()
tap.ok("408 request timeout: body not received within HOOKLINE_READ_TIMEOUT (3 s)" in err,
       "the error log says why", err[-2000:])

c.close()
tap.eq(srv.stop(), 0, "Apache stops cleanly")
tap.eq(spawn.stop(), [], "every hookline process ends on SIGTERM")
tap.eq(site.secrets_in(srv.errors()), [], "no secret in Apache's error log")
tap.eq(site.sanitizer_reports(), "", "no sanitizer report")
tap.done()
