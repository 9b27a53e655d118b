"""The deployment documentation cannot rot.

docs/deploy.md shows every file of deploy/ verbatim (the systemd service
as the package installs it); each setup's section names the packages it
needs in its first command block and ends with a check: a signed event
sent with hookline-sign and curl, and the log's last line.  Its command
blocks come in two kinds: fenced as `sh`, commands that tests/fresh runs
as written, in order, in a fresh Debian root with the package it built
(sections() and WALK are for that walk); fenced as `shell`, commands for a
machine the walk does not have (a build without the package, a shared
host's account).  docs/hookline.8 and docs/hookline-sign.1 pass mandoc
-Tlint, and hookline.8 names every HOOKLINE_* variable that
handler/config.c reads and every answer that handler/answer.c gives.  No
server: this runs under make distcheck too.
"""

import os
import re
import shutil
import subprocess

from harness import SRCDIR, Tap

FILES = ["apache/hookline-fcgid.conf", "apache/hookline-fcgid-sites.conf", "apache/hookline-proxy-fcgi.conf",
         "apache/htaccess", "nginx/hookline.conf", "lighttpd/hookline.conf", "spawn-fcgi/hookline-spawn-fcgi",
         "logrotate/hookline", "systemd/hookline.socket", "systemd/hookline.service.in", "cgi/hookline.conf"]
PAGES = ["hookline.8", "hookline-sign.1", "hookline-verify.1"]
# Which manuals are installed here is not the page's business.
ELSEWHERE = re.compile(r"referenced manual not found|outdated mandoc\.db")

# Each setup's section, in the page's order: the packages its first block
# must install (besides ./hookline_*.deb and curl, which every check
# needs), and how the fresh-root walk treats it: "reset" (walked after the
# servers of the sections before are stopped and their snippets
# disabled), "keep" (walked with the setup before it still running), or
# the reason it is not walked.
SETUPS = [
    ("Apache 2.4 with mod_fcgid", ["apache2", "libapache2-mod-fcgid"], "reset"),
    ("Apache 2.4 with mod_proxy_fcgi", ["apache2", "spawn-fcgi"], "reset"),
    ("nginx and spawn-fcgi", ["nginx", "spawn-fcgi"], "reset"),
    ("lighttpd with mod_fastcgi", ["lighttpd"], "reset"),
    ("systemd socket activation", ["nginx"], "systemd does not run in a chroot (deploy_systemd.py tests the units)"),
    ("Rotating the log", ["logrotate"], "keep"),
    ("Shared hosting: an .htaccess and mod_cgi", [],
     "it is for an account on a shared host (deploy_apache_htaccess.py tests the file)"),
]
CHECK = re.compile(r"hookline-sign\).*\n.*curl -sS -H \"X-Hub-Signature: \$sig\" --data-binary \"\$body\" "
                   r"(\S+)\n.*tail -n 1 (\S+)\n$")


def read(*parts):
    with open(os.path.join(SRCDIR, *parts)) as f:
        return f.read()


def sections(md):
    """{title: [(fence language, block text)]} of the page's ## sections."""
    out = {}
    for part in re.split(r"^## ", md, flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        out[title.strip()] = re.findall(r"^```([a-z]*)\n(.*?)^```$", body, re.M | re.S)
    return out


def installs(block):
    """The package names of the apt install lines of a block."""
    names = []
    for m in re.finditer(r"^apt(?:-get)? install (.*)$", block, re.M):
        names += [w for w in m.group(1).split() if not w.startswith("-")]
    return names


def main():
    tap = Tap()
    md = read("docs", "deploy.md")
    blocks = [text for _, text in re.findall(r"^```([a-z]*)\n(.*?)^```$", md, re.M | re.S)]
    for name in FILES:
        text = read("deploy", name)
        if name.endswith(".in"):
            text = text.replace("@sbindir@", "/usr/sbin")
        tap.ok(text in blocks, "docs/deploy.md shows deploy/%s verbatim" % name)

    secs = sections(md)
    tap.eq([t for t in secs if t in dict((s[0], 1) for s in SETUPS)], [s[0] for s in SETUPS],
           "docs/deploy.md has a section for each setup, in this order")
    walked = secs.get("The package", [])
    tap.ok([lang for lang, _ in walked][:1] == ["sh"] and "dpkg-buildpackage -us -uc -b" in walked[0][1],
           "the package section builds the package with commands the walk runs")
    for title, packages, walk in SETUPS:
        code = [(lang, text) for lang, text in secs.get(title, []) if lang in ("sh", "shell")]
        if not code:
            tap.ok(False, "%s: commands" % title)
            continue
        if packages:
            got = installs(code[0][1])
            want = ["./hookline_*.deb"] + packages + ["curl"]
            tap.ok(all(p in got for p in want), "%s: the first block installs %s" % (title, " ".join(want)), got)
        m = CHECK.search(code[-1][1])
        tap.ok(m is not None, "%s: ends with a signed event sent with curl and the log's last line" % title,
               code[-1][1])
        kind = "sh" if walk in ("reset", "keep") else "shell"
        tap.ok(all(lang == kind for lang, _ in code[:1] + code[-1:]),
               "%s: its commands are %s" % (title, "walked (sh)" if kind == "sh" else "not walked (shell): " + walk))

    mandoc = shutil.which("mandoc", path="/usr/bin:/bin:" + os.environ.get("PATH", ""))
    for page in PAGES:
        path = os.path.join(SRCDIR, "docs", page)
        if mandoc is None:
            tap.skip("mandoc -Tlint %s" % page, "mandoc not installed (Debian package mandoc)")
            continue
        p = subprocess.run([mandoc, "-Tlint", "-Wstyle", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=60)
        left = [ln for ln in p.stdout.splitlines() if not ELSEWHERE.search(ln)]
        tap.eq(left, [], "mandoc -Tlint: %s clean" % page)
        p = subprocess.run([mandoc, "-Tlint", "-Wwarning", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        tap.ok(p.returncode == 0 and p.stdout == "", "mandoc -Tlint -Wwarning %s: exit 0, silent" % page, p.stdout)

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


if __name__ == "__main__":
    main()
