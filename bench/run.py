"""bench/run.py: the whole bench, as scripts/bench runs it.

    PYTHONPATH=TOP/tests/integration python3 bench/run.py --top TOP --build TOP/build/bench [--smoke]

Runs each experiment in turn, in one process (bench/exp_*.py: each
writes build/bench/NAME.json, and each also runs alone), then the report
(bench/report.py), which renders the page from those files only.  The
experiments, in order:

  throughput   wrk against the no-op FastCGI floor, hookline SYNC=none and
               SYNC=always, adnanh/webhook; SYNC=group against SYNC=each
  filesystems  SYNC=group against SYNC=each on fresh ext4, XFS, btrfs
  rss          hookline's VmRSS over a bounded run
  cgi          hookline as CGI against exec'ing /bin/true
  cpu          callgrind instructions per event, per scheme, CGI start-up

A full run writes docs/benchmarks.md and docs/benchmarks.png; --smoke
runs every part for a second or two, writes build/bench/smoke.md and
checks only correctness.  Exit status 0 only if every check passed.
"""

import sys
import traceback

import benchlib
import exp_cgi
import exp_cpu
import exp_filesystems
import exp_rss
import exp_throughput
import report

EXPERIMENTS = [exp_throughput, exp_filesystems, exp_rss, exp_cgi, exp_cpu]


def main():
    args = benchlib.arguments(__doc__)
    benchlib.stop_on_sigterm()
    run_id = benchlib.now_utc()
    status = 0
    try:
        for exp in EXPERIMENTS:
            try:
                rc = benchlib.run_experiment(exp.NAME, exp.measure, args.top, args.build, args.smoke, run_id)
            except Exception:
                # Its file is gone: the report will say so.  The others run.
                traceback.print_exc()
                benchlib.log("%s: failed" % exp.NAME)
                rc = 1
            if rc == 130:
                return rc
            status = status or rc
        return report.write(args.top, args.build) or status
    except KeyboardInterrupt:
        benchlib.log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
