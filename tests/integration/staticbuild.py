"""The statically linked hookline for static.py and foreign_host.py.

$HOOKLINE_STATIC_BIN, when set, is the static hookline (hookline-sign
beside it): binaries built once, or elsewhere, to be tested.  Otherwise scripts/static builds them in $HOOKLINE_BUILDDIR/static
(about 20 s, once Debian's cJSON source is cached; it downloads that
source on its first run).  Either way the test gets copies of its own,
taken under scripts/static's lock, so that a build running in parallel
cannot change them underneath it.
"""

import fcntl
import os
import platform
import shutil
import struct
import subprocess
import sys

from harness import SRCDIR


def skip(reason):
    """Ends the test as skipped, visibly, with the reason."""
    print("1..0 # SKIP %s" % reason)
    sys.stdout.flush()
    sys.exit(0)


def static_bins(tap, dest):
    """Copies the static hookline and hookline-sign into directory dest and
    returns their paths; skips the test when they cannot be had for want
    of something outside hookline, and fails it when they do not build."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        skip("the static build is for x86-64 Linux")
    given = os.environ.get("HOOKLINE_STATIC_BIN")
    if given:
        bindir = os.path.dirname(os.path.abspath(given))
        lockdir = None
        names = (os.path.basename(given), "hookline-sign")
    else:
        if os.geteuid() != 0:
            skip("scripts/static installs packages and writes /var/cache: run as root")
        if os.path.exists(os.path.join(SRCDIR, "config.status")):
            skip("the source tree is configured in place (./configure): scripts/static builds in a "
                 "directory of its own, from a tree configured nowhere")
        builddir = os.path.join(os.environ.get("HOOKLINE_BUILDDIR", "."), "static")
        p = subprocess.run([os.path.join(SRCDIR, "scripts", "static"), builddir, "--enable-werror"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        out = p.stdout.decode(errors="replace")
        if p.returncode == 2:
            skip("scripts/static could not get a prerequisite: %s"
                 % (out.strip().splitlines() or ["?"])[-1])
        if not tap.ok(p.returncode == 0, "scripts/static builds and checks the static programs", out[-3000:]):
            tap.done()
        bindir = os.path.join(builddir, "handler")
        lockdir = builddir
        names = ("hookline", "hookline-sign")
    lock = open(os.path.join(lockdir, ".static.lock"), "a") if lockdir else None
    try:
        if lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
        out = []
        for name, copy in zip(names, ("hookline", "hookline-sign")):
            src = os.path.join(bindir, name)
            if not os.path.isfile(src):
                skip("no %s (HOOKLINE_STATIC_BIN=%s)" % (src, given))
            out.append(os.path.join(dest, copy))
            shutil.copy(src, out[-1])
            os.chmod(out[-1], 0o755)
        return out
    finally:
        if lock:
            lock.close()


def is_static(path):
    """None when the ELF file at path asks for no program interpreter and
    has no dynamic section (no PT_INTERP, no PT_DYNAMIC), else what it
    has.  Reads the 64-bit little-endian program headers itself."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return "not a 64-bit little-endian ELF file"
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    found = []
    for i in range(phnum):
        ptype, = struct.unpack_from("<I", table, i * phentsize)
        if ptype == 3:
            found.append("PT_INTERP")
        elif ptype == 2:
            found.append("PT_DYNAMIC")
    return ", ".join(found) or None
