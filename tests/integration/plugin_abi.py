"""The plugin ABI as an outside developer meets it: `make install` into a
staging directory, then the complete example of hookline-plugin(3), taken
from the man page itself, built out of tree with
`cc -shared -fPIC $(pkg-config --cflags hookline-plugin)` against the
installed header, and run by hookline behind a real lighttpd."""

import os
import re
import subprocess

from harness import SRCDIR, Client, Lighttpd, Tap, Workdir, check_clean_shutdown, event_body, sha1_sig

BUILD = os.environ.get("HOOKLINE_BUILDDIR", ".")
SECRET = "it-abi-secret"
tap = Tap()
work = Workdir()
stage = os.path.join(work.path, "stage")
p = subprocess.run(["make", "-s", "-C", BUILD, "install-hooklineincludeHEADERS", "install-pkgconfigDATA",
                    "DESTDIR=" + stage], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
tap.ok(p.returncode == 0, "header and pkg-config file installed into a staging directory", p.stdout.decode()[-2000:])
pcdirs = [d for d, _, files in os.walk(stage) if "hookline-plugin.pc" in files]
headers = [d for d, _, files in os.walk(stage) if "plugin.h" in files and d.endswith("/hookline")]
tap.ok(len(pcdirs) == 1 and len(headers) == 1, "installed: hookline-plugin.pc and hookline/plugin.h",
       (pcdirs, headers))

with open(os.path.join(SRCDIR, "docs/hookline-plugin.3")) as f:
    man = f.read()
examples = man[man.index(".Sh EXAMPLES"):]
code = re.search(r"\.Bd -literal -offset indent\n(.*?)\n\.Ed", examples, re.S).group(1)
code = code.replace("\\e", "\\")
tap.ok("hookline_plugin_entry" in code and "#include <hookline/plugin.h>" in code,
       "the man page's example is a whole plugin")
src = os.path.join(work.path, "example.c")
with open(src, "w") as f:
    f.write(code + "\n")
env = dict(os.environ, PKG_CONFIG_PATH=pcdirs[0] if pcdirs else "", PKG_CONFIG_SYSROOT_DIR=stage)
cflags = subprocess.run(["pkg-config", "--cflags", "hookline-plugin"], env=env, stdout=subprocess.PIPE,
                        text=True).stdout.split()
so = os.path.join(work.path, "example.so")
p = subprocess.run(["cc", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror"] + cflags + ["-o", so, src],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
tap.ok(p.returncode == 0 and any(stage in c for c in cflags),
       "built out of tree with pkg-config's flags, no warning", (cflags, p.stdout.decode()))

srv = Lighttpd({"HOOKLINE_SECRET": SECRET, "HOOKLINE_PLUGIN": so, "HOOKLINE_PLUGIN_ARG": "hello"}, procs=1)
c = Client(srv.port)
body = event_body(1)
r = c.post("/hook", body, {"X-Hub-Signature": sha1_sig(SECRET, body)})
tap.eq(r.status, 200, "hookline runs the example plugin: 200")
c.close()
check_clean_shutdown(tap, srv)
err = srv.errors()
tap.ok("plugin example: starting with argument 'hello'" in err, "init logged through the host", err[-1000:])
tap.ok("plugin example: event %s status JOB_COMPLETED" % r.json()["id"] in err, "handle logged the event",
       err[-1000:])
tap.done()
