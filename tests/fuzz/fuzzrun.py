"""Runs one libFuzzer target for make check (tests/fuzz/run-*.py).

The target (built by tests/robust/robust.am with clang and
-fsanitize=fuzzer,address,undefined) first replays its seed corpus from
the tree (tests/fuzz/corpus/<target>/), then fuzzes for
HOOKLINE_FUZZ_SECONDS (default 30) seconds on a copy of it, so that the
tree is never written to.  Output is TAP; the figures (execs, execs/s,
corpus size) are TAP comments.  A crash leaves its input in the build
tree (tests/fuzz/crash-<target>-*) and the command that replays it in
the log.  scripts/fuzz runs the same targets for longer.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("HOOKLINE_SRCDIR", os.path.join(HERE, "..", ".."))
BUILDDIR = os.environ.get("HOOKLINE_BUILDDIR", ".")


def main(target):
    binary = os.path.join(BUILDDIR, "tests", "fuzz", "fuzz-" + target)
    seeds = os.path.join(SRCDIR, "tests", "fuzz", "corpus", target)
    seconds = int(os.environ.get("HOOKLINE_FUZZ_SECONDS", "30"))
    n = 0
    failed = 0

    def ok(cond, name, diag=""):
        nonlocal n, failed
        n += 1
        print(("ok" if cond else "not ok") + " %d - %s" % (n, name))
        if not cond:
            failed += 1
            for line in str(diag).splitlines()[-60:]:
                print("#   " + line)
        sys.stdout.flush()

    if not os.access(binary, os.X_OK):
        print("1..0 # SKIP %s was not built (clang with libFuzzer missing?)" % binary)
        return 0
    work = tempfile.mkdtemp(prefix="hookline-fuzz-%s-" % target)
    try:
        corpus = os.path.join(work, "corpus")
        shutil.copytree(seeds, corpus)
        nseeds = len(os.listdir(corpus))
        ok(nseeds > 0, "%s: %d seed inputs in the tree" % (target, nseeds))
        common = ["-close_fd_mask=3", "-timeout=10", "-rss_limit_mb=2048", "-max_len=16384",
                  "-artifact_prefix=" + os.path.join(work, "")]
        d = os.path.join(SRCDIR, "tests", "fuzz", target + ".dict")
        if os.path.exists(d):
            common.append("-dict=" + d)
        env = dict(os.environ, UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
                   ASAN_OPTIONS="detect_leaks=1")
        p = subprocess.run([binary, "-runs=0"] + common + [corpus], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300)
        out = p.stdout.decode(errors="replace")
        ok(p.returncode == 0, "%s: every seed input replays cleanly" % target, out)
        t = time.time()
        p = subprocess.run([binary, "-max_total_time=%d" % seconds, "-print_final_stats=1"] + common + [corpus],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=seconds + 300)
        elapsed = time.time() - t
        out = p.stdout.decode(errors="replace")
        crashes = [f for f in os.listdir(work) if re.match(r"(crash|leak|timeout|oom|slow-unit)-", f)]
        for f in crashes:
            keep = os.path.join(BUILDDIR, "tests", "fuzz", "%s-%s" % (f.split("-")[0], target) + f[f.index("-"):])
            shutil.copy(os.path.join(work, f), keep)
            print("# replay: %s %s" % (binary, keep))
        ok(p.returncode == 0 and not crashes, "%s: fuzzed %d s without a crash, leak or timeout" % (target, seconds),
           out)
        m = re.search(r"stat::number_of_executed_units: (\d+)", out)
        execs = int(m.group(1)) if m else 0
        ok(execs > 0, "%s: %d inputs executed" % (target, execs))
        print("# %s: %d execs in %.0f s, %.0f execs/s; corpus %d -> %d inputs" % (
            target, execs, elapsed, execs / max(elapsed, 1e-9), nseeds, len(os.listdir(corpus))))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("1..%d" % n)
    return 1 if failed else 0
