"""Apache 2.4 (mpm_event) with mod_proxy_fcgi, configured with
deploy/apache/hookline-proxy-fcgi.conf as shipped, in front of hookline
started by deploy/spawn-fcgi/hookline-spawn-fcgi as shipped (paths
replaced, nothing else): 4 processes on a Unix socket that only www-data
may use, no TCP port.  Signed events are stored byte for byte, unsigned
ones refused, 1 MiB passes and 2 MiB (declared or chunked) gets 413; the
hookline processes end cleanly on SIGTERM; no secret in the error log or
ps; no sanitizer report."""

import grp
import os
import pwd
import stat

from harness import Client, Tap, sha1_sig
from servers import (MIB, USER, Apache, Site, SpawnFcgi, check_log, chunked_post, fd_inodes, sized_event,
                     standard_events, tcp_socket_inodes, unix_socket_inodes)

tap = Tap()
site = Site("proxyfcgi")
spawn = SpawnFcgi(site)
tap.eq(spawn.rc, 0, "hookline-spawn-fcgi starts hookline")
tap.eq(len(spawn.pids), 4, "4 hookline processes, pids in the pid file")

st = os.stat(spawn.socket)
tap.ok(stat.S_ISSOCK(st.st_mode) and oct(st.st_mode & 0o777) == "0o660"
       and pwd.getpwuid(st.st_uid).pw_name == USER and grp.getgrgid(st.st_gid).gr_name == USER,
       "socket is a Unix socket, www-data:www-data 0660", (oct(st.st_mode), st.st_uid, st.st_gid))
bound = unix_socket_inodes(spawn.socket)
tcp = tcp_socket_inodes()
listening = []
for pid in spawn.pids:
    socks = fd_inodes(pid)
    listening.append(socks.get(0) in bound and not (set(socks.values()) & tcp)
                     and pwd.getpwuid(os.stat("/proc/%d" % pid).st_uid).pw_name == USER)
tap.ok(all(listening), "each hookline runs as www-data with the Unix socket on fd 0 and no TCP socket",
       listening)

conf = site.install("apache/hookline-proxy-fcgi.conf")
srv = Apache(site, ["authz_core", "proxy", "proxy_fcgi"], [conf])
c = Client(srv.port)
log = site.path("log/events.jsonl")
stored = standard_events(tap, c, "/hook", site.secret, "mod_proxy_fcgi", port=srv.port)
big = sized_event(2 * MIB)
tap.eq(chunked_post(srv.port, "/hook", big, {"X-Hub-Signature": sha1_sig(site.secret, big)}), 413,
       "mod_proxy_fcgi: chunked 2 MiB event: 413")
check_log(tap, log, stored, "mod_proxy_fcgi")

tap.eq(site.secrets_in_ps(), [], "no secret in ps output")
c.close()
tap.eq(srv.stop(), 0, "Apache stops cleanly")
tap.eq(spawn.stop(), [], "every hookline process ends on SIGTERM")
err = srv.errors()
tap.eq(site.secrets_in(err), [], "no secret in Apache's error log")
tap.ok("hookline[" in err and "401 invalid signature" in err,
       "hookline's reasons reach Apache's error log", err[-2000:])
tap.eq(site.sanitizer_reports(), "", "no sanitizer report")
tap.done()
