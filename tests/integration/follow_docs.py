"""hookline-follow's documentation cannot rot: docs/hookline-follow.1 passes
mandoc -Tlint and names every option that handler/follow/opts.c takes,
every exit status of handler/follow/main.c and every variable that
handler/follow/child.c gives the command; docs/deploy.md, once it has a
section on hookline-follow, shows deploy/systemd/hookline-follow@.service
verbatim (as installed with the default prefix).  No server: this runs
under make distcheck too."""

import os
import re
import shutil
import subprocess

from harness import SRCDIR, Tap

ELSEWHERE = re.compile(r"referenced manual not found|outdated mandoc\.db")


def read(*parts):
    with open(os.path.join(SRCDIR, *parts)) as f:
        return f.read()


tap = Tap()
page = os.path.join(SRCDIR, "docs", "hookline-follow.1")
man = read("docs", "hookline-follow.1")
mandoc = shutil.which("mandoc", path="/usr/bin:/bin:" + os.environ.get("PATH", ""))
if mandoc is None:
    tap.ok(True, "# SKIP mandoc not installed (Debian package mandoc)")
else:
    p = subprocess.run([mandoc, "-Tlint", "-Wstyle", page], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    left = [ln for ln in p.stdout.splitlines() if not ELSEWHERE.search(ln)]
    tap.eq(left, [], "mandoc -Tlint: hookline-follow.1 clean")

opts = read("handler", "follow", "opts.c")
longs = re.findall(r'\{"([a-z-]+)", (?:no|required)_argument', opts)
tap.ok(len(longs) >= 10, "opts.c takes %d long options" % len(longs), longs)
for name in longs:
    tap.ok(re.search(r"^\.(?:It|Op) .*Fl -%s\b" % re.escape(name), man, re.M) is not None
           or re.search(r"Fl -%s\b" % re.escape(name), man) is not None,
           "hookline-follow.1 documents --%s" % name)
shorts = re.search(r'getopt_long\(argc, argv, "\+([^"]*)"', opts).group(1).replace(":", "")
for c in shorts:
    tap.ok(re.search(r"^\.It Fl %s\b" % c, man, re.M) is not None, "hookline-follow.1 documents -%s" % c)
statuses = sorted(set(int(n) for n in re.findall(r"\[FL_E?[A-Z]+\] = (\d+)", read("handler", "follow", "main.c"))))
tap.ok(len(statuses) >= 4, "main.c exits with %s" % statuses)
exit_section = man[man.index(".Sh EXIT STATUS"):man.index(".Sh EXAMPLES")]
for n in statuses:
    tap.ok(re.search(r"^\.It %d$" % n, exit_section, re.M) is not None, "EXIT STATUS documents %d" % n)
child = read("handler", "follow", "child.c")
names = re.findall(r'\{"(HOOKLINE_[A-Z_]+)", l->', child) + \
    re.findall(r'"([A-Z_]+)"', child[child.index("passed[]"):child.index("#define NPASSED")])
tap.ok(len(names) == 12, "child.c gives the command %d variables" % len(names), names)
for name in names:
    tap.ok(re.search(r"Ev .*\b%s\b" % name, man) is not None, "hookline-follow.1 names %s" % name)

md = read("docs", "deploy.md")
unit = read("deploy", "systemd", "hookline-follow@.service.in").replace("@bindir@", "/usr/local/bin")
blocks = re.findall(r"^```[a-z]*\n(.*?)^```$", md, re.M | re.S)
tap.ok(unit in blocks, "docs/deploy.md shows deploy/systemd/hookline-follow@.service verbatim")
tap.done()
