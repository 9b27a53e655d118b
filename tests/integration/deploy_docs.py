"""The deployment documentation cannot rot: docs/deploy.md shows every
file of deploy/ verbatim (the systemd service as installed with the
default prefix), and docs/hookline.8 passes mandoc -Tlint and names every
HOOKLINE_* variable that handler/config.c reads and every answer that
handler/answer.c gives.  No server: this runs under make distcheck too."""

import os
import re
import shutil
import subprocess

from harness import SRCDIR, Tap

FILES = ["apache/hookline-fcgid.conf", "apache/hookline-fcgid-sites.conf", "apache/hookline-proxy-fcgi.conf",
         "apache/htaccess", "nginx/hookline.conf", "lighttpd/hookline.conf", "spawn-fcgi/hookline-spawn-fcgi",
         "logrotate/hookline", "systemd/hookline.socket", "systemd/hookline.service.in"]
# Which manuals are installed here is not the page's business.
ELSEWHERE = re.compile(r"referenced manual not found|outdated mandoc\.db")


def read(*parts):
    with open(os.path.join(SRCDIR, *parts)) as f:
        return f.read()


tap = Tap()
md = read("docs", "deploy.md")
blocks = re.findall(r"^```[a-z]*\n(.*?)^```$", md, re.M | re.S)
for name in FILES:
    text = read("deploy", name)
    if name.endswith(".in"):
        text = text.replace("@sbindir@", "/usr/sbin")
    tap.ok(text in blocks, "docs/deploy.md shows deploy/%s verbatim" % name)

page = os.path.join(SRCDIR, "docs", "hookline.8")
mandoc = shutil.which("mandoc", path="/usr/bin:/bin:" + os.environ.get("PATH", ""))
if mandoc is None:
    tap.ok(True, "# SKIP mandoc not installed (Debian package mandoc)")
else:
    p = subprocess.run([mandoc, "-Tlint", "-Wstyle", page], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    left = [ln for ln in p.stdout.splitlines() if not ELSEWHERE.search(ln)]
    tap.eq(left, [], "mandoc -Tlint: hookline.8 clean")
    p = subprocess.run([mandoc, "-Tlint", "-Wwarning", page], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    tap.ok(p.returncode == 0 and p.stdout == "", "mandoc -Tlint -Wwarning: exit 0, silent", p.stdout)

man = read("docs", "hookline.8")
names = sorted(set(re.findall(r'"(HOOKLINE_[A-Z_]+)"', read("handler", "config.c"))))
tap.ok(len(names) >= 8, "config.c reads %d HOOKLINE_* variables" % len(names), names)
for name in names:
    tap.ok(re.search(r"^\.It Ev %s$" % name, man, re.M) is not None, "hookline.8 documents %s" % name)
answers = re.findall(r'\{(\d{3}), "[^"]*", "([^"]+)"', read("handler", "answer.c"))
tap.ok(len(answers) >= 10, "answer.c gives %d error answers" % len(answers), answers)
for status, message in answers:
    tap.ok('{"error":"%s"}' % message in man and re.search(r"^\.It %s\b" % status, man, re.M) is not None,
           "hookline.8 documents %s %s" % (status, message))
tap.done()
