"""bench/exp_cgi.py: hookline as a CGI program against exec'ing /bin/true.
bench/cgi-loop spawns hookline and /bin/true alternately (posix_spawn, as
lighttpd's mod_cgi does), the sample event as standard input, 1000 times
each (smoke: 50); hyperfine is the cross-check.

Checked: every execution succeeded, every hookline run logged its event.
Writes build/bench/cgi.json; run alone with

    PYTHONPATH=tests/integration python3 bench/exp_cgi.py [--smoke]
"""

import json
import os
import subprocess
import sys

import benchlib
from benchlib import LogCounter, log, shell_quote

NAME = "cgi"


def cgi_loop(run, env, counter):
    """bench/cgi-loop: {n, hookline: {median_us...}, true: {...}, lines, ratio}."""
    n = 50 if run.smoke else 1000
    with open(os.path.join(run.work, "stderr"), "w") as err:
        p = subprocess.run([os.path.join(run.drivers, "cgi-loop"), str(n), run.body_path,
                            run.hookline, "/bin/true"], env=env, stdout=subprocess.PIPE,
                           stderr=err, timeout=900)
    out = {"n": n}
    for line in p.stdout.decode().splitlines():
        f = line.split()
        key = "hookline" if f[0] == run.hookline else "true"
        out[key] = {f[i]: float(f[i + 1]) for i in range(1, len(f) - 1, 2)}
    run.check(p.returncode == 0, "cgi-loop: some executions failed (see %s/stderr)" % run.work)
    out["lines"] = counter.count()
    run.check(out["lines"] == n, "cgi: %d log lines for %d hookline executions" % (out["lines"], n))
    out["ratio"] = out["hookline"]["median_us"] / out["true"]["median_us"]
    log("cgi: hookline %.0f us, /bin/true %.0f us (median), ratio %.2f" % (
        out["hookline"]["median_us"], out["true"]["median_us"], out["ratio"]))
    return out


def hyperfine(run, env, counter):
    """The cross-check: sh -c 'exec PROG <body', shell start-up subtracted
    by hyperfine.  {runs, hookline: {mean...}, true: {...}, ratio}, or None."""
    runs = 20 if run.smoke else 300
    hf = os.path.join(run.work, "hyperfine.json")
    body = shell_quote(run.body_path)
    cmd = ["hyperfine", "--style", "basic", "--warmup", "10", "--runs", str(runs), "--export-json", hf,
           "-n", "hookline", "exec %s <%s >/dev/null" % (shell_quote(run.hookline), body),
           "-n", "/bin/true", "exec /bin/true <%s >/dev/null" % body]
    before = counter.count()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    with open(os.path.join(run.work, "hyperfine.out"), "wb") as f:
        f.write(p.stdout)
    run.check(p.returncode == 0, "hyperfine failed (see %s/hyperfine.out)" % run.work)
    run.check(counter.count() - before >= runs, "cgi (hyperfine): hookline logged fewer events than runs")
    if p.returncode != 0:
        return None
    with open(hf) as f:
        res = {r["command"]: {k: r[k] for k in ("mean", "stddev", "median", "min", "max")}
               for r in json.load(f)["results"]}
    return {"runs": runs, "hookline": res["hookline"], "true": res["/bin/true"],
            "ratio": res["hookline"]["mean"] / res["/bin/true"]["mean"]}


def measure(run):
    lp = os.path.join(run.work, "events.jsonl")
    counter = LogCounter(lp)
    env = run.cgi_env(lp)
    out = cgi_loop(run, env, counter)
    out["hyperfine"] = hyperfine(run, env, counter)
    return out


if __name__ == "__main__":
    sys.exit(benchlib.main(NAME, measure, __doc__))
