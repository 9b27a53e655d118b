"""bench/exp_filesystems.py: group commit against one fdatasync per event
on a fresh ext4 (with its journal), XFS and btrfs, each on a loop device
backed by a 1 GiB sparse file in the work directory: which one
HOOKLINE_SYNC=always should pick where.  Two pools of 4 hookline processes
(SYNC=group, SYNC=each) at 4, 16, 64 connections (smoke: 16); root is
needed for the loop devices and mounts.

Every point is checked: no non-2xx answer, every 2xx logged.  Writes
build/bench/filesystems.json; run alone with

    PYTHONPATH=tests/integration python3 bench/exp_filesystems.py [--smoke]
"""

import contextlib
import os
import subprocess
import sys

import benchlib

NAME = "filesystems"
FILESYSTEMS = [
    ("ext4", ["mkfs.ext4", "-q", "-F"]),
    ("xfs", ["mkfs.xfs", "-q", "-f"]),
    ("btrfs", ["mkfs.btrfs", "-q", "-f"]),
]


@contextlib.contextmanager
def fresh_fs(work, fs, mkfs):
    """A new filesystem made by mkfs on a loop device over a sparse file in
    work, mounted; yields the mount point, then unmounts and removes it."""
    img, mnt = os.path.join(work, fs + ".img"), os.path.join(work, fs)
    os.makedirs(mnt)
    with open(img, "wb") as f:
        f.truncate(1 << 30)
    dev = None
    try:
        dev = subprocess.run(["losetup", "-f", "--show", img], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=30, check=True).stdout.decode().strip()
        subprocess.run(mkfs + [dev], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                       timeout=120, check=True)
        subprocess.run(["mount", dev, mnt], timeout=30, check=True)
        os.chmod(mnt, 0o755)
        yield mnt
    finally:
        subprocess.run(["umount", mnt], stderr=subprocess.DEVNULL, timeout=60)
        if dev:
            subprocess.run(["losetup", "-d", dev], stderr=subprocess.DEVNULL, timeout=30)
        os.unlink(img)


def measure(run):
    conns = [16] if run.smoke else [4, 16, 64]
    out = []
    for fs, mkfs in FILESYSTEMS:
        try:
            with fresh_fs(run.work, fs, mkfs) as mnt:
                res = benchlib.compare_sync(run, "-" + fs, mnt, conns)
            out.append(dict(res, fs=fs))
        except (OSError, subprocess.SubprocessError) as e:
            run.check(False, "%s on a loop device: %s" % (fs, e))
    return {"conns": conns, "filesystems": out}


if __name__ == "__main__":
    sys.exit(benchlib.main(NAME, measure, __doc__))
