"""bench/report.py: docs/benchmarks.md and docs/benchmarks.png from the
experiments' JSON files (build/bench/NAME.json) and nothing else.

    python3 bench/report.py [--top TOP] [--build TOP/build/bench]

A full run's files give docs/benchmarks.md and docs/benchmarks.png; a
smoke run's (scripts/bench --smoke) give build/bench/smoke.md and
build/bench/run/smoke.png.  Exit status 1 when a file is missing, the
files mix smoke and full runs, or any experiment recorded a failed check.
Standard library, and gnuplot for the plot.
"""

import argparse
import json
import os
import subprocess
import sys

EXPERIMENTS = ["throughput", "filesystems", "rss", "cgi", "cpu"]
INDENT = "&nbsp;&nbsp;&nbsp;&nbsp;"


def table(w, head, rows):
    """A markdown table; a title starting with '>' is right-aligned."""
    w("|" + "|".join(" %s " % t.lstrip(">") if t else " " for t in head) + "|")
    w("|" + "|".join("---:" if t.startswith(">") else "---" for t in head) + "|")
    for r in rows:
        w("|" + "|".join(" %s " % c if c != "" else " " for c in r) + "|")
    w("")


def para(w, *blocks):
    """Each block (a heading, a paragraph, a list item) and a blank line."""
    for b in blocks:
        w(b)
        w("")


def at(d):
    """The throughput matrix by (scenario, connections)."""
    return {(r["key"], r["conns"]): r for r in d["throughput"]["points"]}


def pct(v, whole):
    return "%.1f%%" % (100 * v / whole)


def per_conns(ratio):
    """'0.95 at 1 connections, ...' of [{conns, ratio}]."""
    return ", ".join("%.2f at %d connections" % (x["ratio"], x["conns"]) for x in ratio)


def slashed(ratio, key):
    return "/".join(("%.2f" if key == "ratio" else "%d") % x[key] for x in ratio)


# ---- the page, section by section --------------------------------------------


def intro(w, d):
    metas = [d[e]["meta"] for e in EXPERIMENTS]
    para(w, "# hookline benchmarks",
            "Written by `scripts/bench`%s on %s; the whole run took %d s. Every figure "
            "below comes from this one run on this one machine: the scenarios ran side by "
            "side (all servers up at once, the order rotated at each connection count), so "
            "the ratios compare like with like even though other jobs shared the CPUs. "
            "Throughput and latency move with that noise from run to run; the callgrind "
            "instruction counts do not." % (" --smoke" if metas[0]["smoke"] else "", d["date"], d["elapsed"]))
    runs = sorted(set(m["run_id"] for m in metas))
    if len(runs) > 1:
        para(w, "**Not one run:** the experiments' files come from %d runs (%s): %s." % (
            len(runs), ", ".join(runs), ", ".join("%s %s" % (m["name"], m["date"]) for m in metas)))


def machine(w, d):
    f = d["machine"]
    para(w, "## Machine")
    table(w, ["", ""], [
        ["CPUs (nproc)", f["nproc"]], ["CPU model", f["cpu"]], ["kernel", f["kernel"]], ["date", d["date"]],
        ["load average at start / end", "%s / %s" % (d["load_start"], d["load_end"])],
        ["/tmp, logs", f["fs"]],
        ["hookline build", "`%s` (no sanitizer; the project's warning and hardening flags) in build/bench"
         % f["build"]],
        ["tools", "; ".join(f["tools"])],
    ])


def measured(w, d):
    t, f, m = d["throughput"], d["machine"], d["throughput"]["meta"]
    para(w, "## What was measured")
    w("- Request: `POST` of `tests/vectors/hotglue-job-completed.json` (%d bytes) with "
      "`X-Hub-Signature: <hex HMAC-SHA1>` (secret chosen by the bench), keep-alive, "
      "from `wrk --latency` with `bench/post.lua`, %d s per point, %s connections, "
      "`-t` = min(connections, %d). The client shares the %d CPUs with the servers."
      % (t["body_bytes"], m["seconds"], ", ".join(str(c) for c in m["conns"]), f["nproc"], f["nproc"]))
    w("- **noop**: lighttpd 1.4 (mod_fastcgi, %d processes) + `bench/noop-fcgi` "
      "(libfcgi FCGX: reads the body, answers 204): the floor of the FastCGI path." % t["procs"])
    w("- **hl-none** / **hl-always**: hookline under the same lighttpd setup, "
      "`HOOKLINE_SECRET` and `HOOKLINE_LOG` in `bin-environment`, `HOOKLINE_SYNC=none` "
      "(page cache only) and `always` (fdatasync before the 200; on this filesystem %s). "
      "Logs on %s." % ("one per event" if f["fs"].startswith(("ext4", "tmpfs")) else
                       "shared between the processes", f["fs"]))
    w("- **webhook**: adnanh/webhook %s, one hook with a `payload-hmac-sha1` trigger "
      "rule on `X-Hub-Signature`, `include-command-output-in-response: true`, command "
      "`/bin/sh` script appending the raw body (`raw-request-body`) with `printf >>` "
      "(one exec per event, no fsync)." % f["webhook"])
    w("- CPU us/req: CPU time the whole machine spent busy during the slice (/proc/stat: all "
      "but idle and iowait; wrk, lighttpd and the neighbours included) over the requests "
      "served. Only differences between scenarios mean something. App CPU us/req: the same for "
      "the application's processes alone (the FastCGI workers; webhook with the sh commands it "
      "ran), from /proc/PID/stat.")
    para(w, "- non-2xx: wrk's count of answers above 399. Log lines: lines added to the "
            "scenario's log during the point, counted after the server went quiet; the "
            "check is lines >= 2xx and lines - 2xx <= connections (+ wrk timeouts/read "
            "errors): wrk does not count answers in flight when its time is up.")


def results(w, d):
    t = d["throughput"]
    para(w, "## Results",
            "Each point: %d slice(s) of %d s per scenario, taken in turn. req/s, p50, p90 and p99 are "
            "the medians over the slices (min-max of req/s and the worst slice's p99 shown for the "
            "noise); counts are totals." % tuple(t["slices"]))
    rows = []
    for s in t["scenarios"]:
        for r in (x for x in t["points"] if x["key"] == s["key"]):
            rows.append([s["key"], r["conns"], "%.0f" % r["rps"], "%.0f-%.0f" % (r["rps_min"], r["rps_max"])]
                        + ["%.2f" % (r[k] / 1e3) for k in ("p50_us", "p90_us", "p99_us", "p99_max_us")]
                        + ["%.0f" % r["cpu_us"], "%.1f" % r["app_cpu_us"], r["non2xx"], r["sockerr"], r["ok2xx"],
                           "-" if r["lines"] is None else r["lines"],
                           "-" if r["lines_ok"] is None else ("ok" if r["lines_ok"] else "**MISMATCH**")])
    table(w, ["scenario", ">conns", ">req/s", ">req/s min-max", ">p50 ms", ">p90 ms", ">p99 ms", ">worst p99 ms",
              ">CPU us/req", ">app CPU us/req", ">non-2xx", ">socket errors", ">2xx", ">log lines", "lines check"],
          rows)
    para(w, "RSS per process (VmRSS, KiB) after the runs above:")
    rss = t["rss_after"]
    table(w, ["scenario", ">processes", "VmRSS KiB each"],
          [[s["key"], len(rss.get(s["key"], [])), ", ".join(str(x) for x in rss.get(s["key"], [])) or "-"]
           for s in t["scenarios"]])


def ratios(w, d):
    para(w, "## Ratios (same run)",
            "Throughput ratios per connection count, each the median over rounds of the two "
            "scenarios' req/s in the same round (neighbours in time); the last column is "
            "hl-none's median p99 over noop's.")
    cols = ["hl-none/noop", "hl-always/noop", "hl-none/webhook", "hl-always/webhook", "webhook/noop",
            "p99 hl-none/noop"]
    table(w, [">conns"] + [">" + c.replace("/", " / ") for c in cols],
          [[r["conns"]] + ["%.2f" % r[c] for c in cols] for r in d["throughput"]["ratios"]])
    para(w, "![throughput vs connections](benchmarks.png)" if not d["smoke"] else "(plot: %s)" % d["png_name"])


def target_floor(d):
    """The first target's row: hl-none against the no-op floor."""
    pts, cpu = at(d), d["cpu"]["cpu"]
    rs = [r["hl-none/noop"] for r in d["throughput"]["ratios"]]
    noop16 = pts[("noop", 16)]["cpu_us"] if ("noop", 16) in pts else 0.0
    app16 = {k: pts[(k, 16)]["app_cpu_us"] for k in ("noop", "hl-none") if (k, 16) in pts}
    return ["non-durable throughput >= 95% of the no-op floor",
            "hl-none / noop = %s (at %s connections). "
            "At 16 connections the no-op path costs %.1f us of CPU per request (whole machine), so 95%% "
            "leaves hookline %.1f us more; in a hot loop (bench/hl-events, native) its per-event work takes "
            "%.1f us (%.1f in user space, %.1f in the kernel: the log's write, flock x2 and stat, and "
            "the driver's read, lseek and answer), HMAC-SHA1 + cJSON alone %.1f us; under load the "
            "FastCGI workers use %.1f us per request (noop) and %.1f us (hookline)" % (
                ", ".join("%.2f" % x for x in rs), ", ".join(str(r["conns"]) for r in d["throughput"]["ratios"]),
                noop16, noop16 * (1 / 0.95 - 1), cpu["hl_us"], cpu["hl_user_us"], cpu["hl_sys_us"],
                cpu["floor_us"], app16.get("noop", 0), app16.get("hl-none", 0)),
            "yes" if min(rs) >= 0.95 else "no"]


def target_sync(d):
    """The group commit row: group / each on the work directory and on the
    fresh filesystems."""
    dur, fss = d["throughput"]["durable"]["ratio"], d["filesystems"]["filesystems"]
    best = ", ".join("%s %s" % (x["fs"], slashed(x["ratio"], "ratio")) for x in fss)
    return ["group commit: durable throughput against one fdatasync per event",
            "group / each = %s (work dir, at %s connections); %s (fresh filesystems, at %s connections)" % (
                slashed(dur, "ratio"), slashed(dur, "conns"), best or "-",
                slashed(fss[0]["ratio"], "conns") if fss else "-"),
            "measured; `always` shares syncs only where it won (see below)"]


def targets(w, d):
    cpu, cg, rr = d["cpu"]["cpu"], d["cgi"], d["rss"]
    growth = [(b or 0) - (a or 0) for a, b in zip(rr["warmed"], rr["after"])]
    kib = lambda v: ", ".join(str(x) for x in v) if v else "-"
    para(w, "## Targets")
    table(w, ["target", "figure (this run)", "met"], [
        target_floor(d),
        ["per-event instructions <= 1.3x the HMAC+parse floor", "%.0f / %.0f = %.2fx" % (
            cpu["hl"], cpu["floor"], cpu["ratio"]), "yes" if cpu["ratio"] <= 1.3 else "no"],
        ["CGI <= 1.5x the time of exec'ing /bin/true", "%.0f / %.0f us (median) = %.2fx" % (
            cg["hookline"]["median_us"], cg["true"]["median_us"], cg["ratio"]), "yes" if cg["ratio"] <= 1.5 else "no"],
        target_sync(d),
        ["RSS flat over %dk requests (each process grows <= 64 KiB)" % (rr["limit"] // 1000),
         "%s -> %s KiB" % (kib(rr["warmed"]), kib(rr["after"])),
         "yes" if growth and max(growth) <= 64 and len(rr["alive"]) == len(rr["pids"]) else "no"],
    ])


def sync_table(w, rows):
    table(w, ["SYNC", ">conns", ">req/s", ">req/s min-max", ">p50 ms", ">p99 ms", ">events per fdatasync",
              ">CPU us per event", ">non-2xx", ">2xx", ">log lines"],
          [[r["mode"], r["conns"], "%.0f" % r["rps"], "%.0f-%.0f" % (r["rps_min"], r["rps_max"]),
            "%.2f" % (r["p50_us"] / 1e3), "%.2f" % (r["p99_us"] / 1e3), "%.2f" % r["per_sync"],
            "%.0f" % r["cpu_us"], r["non2xx"], r["ok2xx"], r["lines"]] for r in rows])


def durable(w, d):
    dur = d["throughput"]["durable"]
    para(w, "## Durable throughput: group commit against one sync per event",
            "Each pool has %d hookline processes appending to one log and answers 200 only after an "
            "fdatasync that began after the event was written. **group** shares syncs between the "
            "processes (group commit, `handler/gsync.c`): a process whose record another process's "
            "finished sync already covers answers without syncing again. **each** gives every event "
            "its own fdatasync. The two pools ran in turn, slice by slice. Events per fdatasync "
            "come from hookline's shared counters; CPU us per event is the whole machine's."
            % d["throughput"]["procs"],
            "### The work directory (%s)" % d["machine"]["fs"])
    sync_table(w, dur["rows"])
    para(w, "group / each (median of paired slices): %s." % per_conns(dur["ratio"]))
    for x in d["filesystems"]["filesystems"]:
        para(w, "### %s, fresh, on a loop device (1 GiB sparse file in the work directory)" % x["fs"])
        sync_table(w, x["rows"])
        para(w, "group / each: %s. `HOOKLINE_SYNC=always` %s on %s." % (
                  per_conns(x["ratio"]), "gives each event its own sync" if x["fs"] == "ext4" else "shares syncs",
                  x["fs"]))


def rss(w, d):
    rr = d["rss"]
    r = rr["wrk"]
    para(w, "## RSS over a bounded run (SYNC=none)",
            "A fresh lighttpd + %d hookline processes; wrk at 16 connections stopped after "
            "%d requests (%d answered 2xx, %d log lines, %.0f s, %d non-2xx)."
            % (len(rr["pids"]), rr["limit"], r["ok2xx"], r["lines"], rr["seconds"], r["non2xx"]))
    rows = []
    for i, (a, b, c) in enumerate(zip(rr["start"], rr["warmed"], rr["after"])):
        rows.append(["hookline #%d" % (i + 1), a, b, c, "-" if b is None or c is None else "%+d" % (c - b)])
    table(w, ["process", ">VmRSS at spawn KiB", ">after %d-request warm-up" % rr["warm"],
              ">after %d more" % rr["limit"], ">growth"], rows)


def cgi(w, d):
    cg = d["cgi"]
    para(w, "## CGI mode (process per request)",
            "`bench/cgi-loop` starts each program with posix_spawn (as lighttpd's mod_cgi does), "
            "the body as standard input, the CGI environment (`HOOKLINE_SYNC=none`, log on %s), "
            "alternating hookline and /bin/true, %d times each; every hookline run must log its event "
            "(%d lines)." % (d["machine"]["fs"], cg["n"], cg["lines"]))
    h, t = cg["hookline"], cg["true"]
    table(w, ["program", ">median us", ">mean us", ">min us"], [
        ["hookline (CGI)", "%.0f" % h["median_us"], "%.0f" % h["mean_us"], "%.0f" % h["min_us"]],
        ["/bin/true", "%.0f" % t["median_us"], "%.0f" % t["mean_us"], "%.0f" % t["min_us"]],
        ["**ratio (median)**", "**%.2f**" % cg["ratio"], "%.2f" % (h["mean_us"] / t["mean_us"]),
         "%.2f" % (h["min_us"] / t["min_us"])],
    ])
    hf = cg["hyperfine"]
    if hf:
        para(w, "Cross-check, hyperfine (`sh -c 'exec PROG <body'`, %d runs each, not interleaved): "
                "hookline %.0f us, /bin/true %.0f us (means), ratio %.2f. hyperfine subtracts the "
                "start-up of its shell, and with it the cost of creating a process, from both figures; "
                "cgi-loop keeps that cost in, as a web server pays it for every CGI request, so its "
                "ratio is the one the target refers to."
                % (hf["runs"], hf["hookline"]["mean"] * 1e6, hf["true"]["mean"] * 1e6, hf["ratio"]))


def instructions(w, d):
    c = d["cpu"]["cpu"]
    para(w, "## Instructions per event (callgrind)",
            "`valgrind --tool=callgrind`, instructions retired (Ir) under valgrind's CPU model "
            "(OpenSSL picks its code paths from valgrind's CPUID, so absolute figures differ from "
            "native ones; both drivers run under the same model). Each driver runs with "
            "N = %d and %d events; per event = difference / %d, so start-up cancels out."
            % (c["n1"], c["n2"], c["n2"] - c["n1"]))
    w("- `bench/hl-events`: the steps of serve.c's handle() for one event, through "
      "handler/libhookline.a: method check, config_get() (parameters as lighttpd sends them, "
      "settings from the process environment), body read (CGI read path), signature check "
      "(sig_verify), event_parse() (UTF-8/number check, cJSON parse, SHA-256 id), "
      "record_max/record_format, sink_log_append() with SYNC=none to a file on %s, "
      "answer_format, event_clear. Not the FastCGI transport." % d["machine"]["fs"])
    para(w, "- `bench/floor-events`: HMAC-SHA1 of the body with one reused OpenSSL context + "
            "cJSON_ParseWithLengthOpts + cJSON_Delete.")
    table(w, ["driver", ">Ir/event", ">start-up Ir", ">ratio"], [
        ["hookline per-event path", "%.0f" % c["hl"], "%.0f" % c["hl_startup"], "**%.2f**" % c["ratio"]],
        ["floor: HMAC-SHA1 + cJSON parse/delete", "%.0f" % c["floor"], "%.0f" % c["floor_startup"], "1.00"],
    ])
    idc = {s["name"]: s["ir"] for s in c["steps"]}.get("EVP_Digest", 0)
    para(w, "The event id (SHA-256 of the body) alone costs %.0f Ir/event here: "
            "floor + id = %.2fx the floor, before any other step." % (idc, (c["floor"] + idc) / c["floor"]),
            "Instructions spent in user space only: the system calls hookline makes per event "
            "(read, fstat, stat, pread, flock x2, write) cost kernel time that callgrind does not see.")


def step_rows(c):
    """The inclusive steps table's rows, with the glue that no step
    covers before the cross-cutting functions."""
    rows, parts, whole = [], 0, c["hl_prof"]
    for s in c["steps"]:
        if s["depth"] == 1:
            parts += s["ir"]
        if s["name"] == "io_param":
            other = c["steps"][0]["ir"] - parts
            rows.append(["*other: glue in serve_request(), clock_gettime, buffers*", "%.0f" % other,
                         pct(other, whole), ""])
            rows.append(["*cross-cutting (already counted above):*", "", "", ""])
        rows.append(["%s`%s`" % (INDENT * s["depth"], s["name"]), "%.0f" % s["ir"], pct(s["ir"], whole),
                     s["note"]])
    return rows


def where(w, d):
    c = d["cpu"]["cpu"]
    para(w, "### Where hookline's per-event instructions go",
            "Profile of the loop alone (`--toggle-collect=bench_events`, %d events after one warm-up "
            "event: %.0f Ir/event). Inclusive instructions per event of the pipeline's steps "
            "(indented: part of the step above):" % (c["nprof"], c["hl_prof"]))
    table(w, ["step (inclusive)", ">Ir/event", ">share", "note"], step_rows(c))
    para(w, "The floor's loop (%.0f Ir/event), same view:" % c["floor_prof"])
    table(w, ["step (inclusive)", ">Ir/event"], [["`%s`" % s["name"], "%.0f" % s["ir"]] for s in c["fsteps"]])
    para(w, "Top 15 functions of hookline's per-event path by own (exclusive) instructions "
            "(Debian's libcrypto and libcjson keep no symbols for their static functions: those "
            "are named by address and by the nearest named function above them):")
    table(w, [">#", ">Ir/event", ">share", "function"],
          [[i + 1, "%.0f" % v, pct(v, c["hl_prof"]), name] for i, (v, name) in enumerate(c["top"])])
    para(w, "The floor's top functions, for comparison:")
    table(w, [">#", ">Ir/event", "function"], [[i + 1, "%.0f" % v, name] for i, (v, name) in enumerate(c["ftop"])])


def schemes(w, d):
    sc = d["cpu"]["schemes"]
    hub = next((s for s in sc if s["scheme"] == "hub"), None)
    para(w, "### Per signature scheme",
            "The same loop (`--toggle-collect=bench_events`, %d events after one warm-up event) with "
            "`HOOKLINE_SCHEME` set to each scheme and that scheme's headers as CGI parameters, "
            "signed by the bench with Python's hmac (independent of hookline); every event must be "
            "stored. `sig_check` is the signature step, inclusive: the schemes differ almost only "
            "there." % (sc[0]["n"] if sc else 0))
    table(w, ["scheme", "headers", ">Ir/event", ">`sig_check` Ir/event", ">Ir/event against hub"],
          [[s["scheme"], s["headers"], "%.0f" % s["ir"], "%.0f" % s["sig_check"],
            "%.2f" % (s["ir"] / hub["ir"]) if hub else "-"] for s in sc])


def cgi_startup(w, d):
    cc = d["cpu"]["cgi"]
    para(w, "### CGI start-up (one execution)",
            "callgrind of one whole process: hookline answering one CGI request (the sample event, "
            "`HOOKLINE_SYNC=none`), and /bin/true with the same environment and input.")
    table(w, ["program", ">Ir, whole process", ">in main()", ">outside main() (loader, library init, exit)"], [
        ["hookline, one CGI request", cc["hookline"], cc["main"], cc["hookline"] - cc["main"]],
        ["/bin/true", cc["true"], "", ""],
        ["**ratio**", "**%.1f**" % (cc["hookline"] / cc["true"]), "", ""],
    ])
    para(w, "Inclusive instructions of the costly parts of hookline's CGI run:")
    table(w, ["function (inclusive)", ">Ir", ">share", "note"],
          [["`%s`" % s["name"], s["ir"], pct(s["ir"], cc["hookline"]), s["note"]] for s in cc["steps"]])
    para(w, "Top 10 functions of the hookline CGI run by own instructions:")
    table(w, [">#", ">Ir", "function"], [[i + 1, "%d" % v, name] for i, (v, name) in enumerate(cc["top"])])


def checks(w, d):
    para(w, "## Checks")
    if d["failures"]:
        for x in d["failures"]:
            w("- FAILED: " + x)
    else:
        w("All checks passed: every scenario served requests with no non-2xx answer, every "
          "log holds as many lines as 2xx answers (within the in-flight slack), the drivers "
          "stored every event.")
    w("")
    para(w, "## Re-running")
    w("    scripts/bench            # full run, ~%d min; writes docs/benchmarks.md and docs/benchmarks.png"
      % max(1, round(d["elapsed"] / 60)))
    w("    BENCH_SECONDS=3 scripts/bench   # shorter points")
    para(w, "    scripts/bench --smoke    # ~30 s, checks only (build/bench/smoke.md)",
            "Each experiment (`bench/exp_*.py`) also runs alone and rewrites its own build/bench/NAME.json, "
            "e.g. `PYTHONPATH=tests/integration python3 bench/exp_cpu.py`; `python3 bench/report.py` "
            "renders this page again from those files.",
            "Raw material of the last run (wrk output, callgrind files, server logs) is in build/bench/run/.")


SECTIONS = [intro, machine, measured, results, ratios, targets, durable, rss, cgi, instructions, where,
            schemes, cgi_startup, checks]


# ---- the plot ------------------------------------------------------------------


def plot(d, png):
    """Requests/s against connections: the matrix's scenarios and the
    durable pools; returns gnuplot's complaint, or None."""
    t = d["throughput"]
    data = os.path.join(d["build"], "run", "plot.dat")
    labels = [(s["key"], s["label"]) for s in t["scenarios"]] + [
        ("hl-group", "hookline, SYNC=group (group commit)"),
        ("hl-each", "hookline, SYNC=each (one fdatasync per event)")]
    rps = {(r["key"], r["conns"]): r["rps"] for r in t["points"]}
    rps.update({("hl-" + r["mode"], r["conns"]): r["rps"] for r in t["durable"]["rows"]})
    conns = t["meta"]["conns"]
    with open(data, "w") as f:
        f.write("# conns " + " ".join(k for k, _ in labels) + "\n")
        for c in conns:
            f.write("%d %s\n" % (c, " ".join("%.1f" % rps[(k, c)] for k, _ in labels)))
    plots = ", ".join("'%s' using 1:%d with linespoints lw 2 pt 7 title '%s'" % (data, i + 2, lab)
                      for i, (_, lab) in enumerate(labels))
    script = "\n".join([
        "set terminal pngcairo size 900,560 font 'sans,10'",
        "set output '%s'" % png,
        'set title "Signed 670-byte hotglue event, POST over keep-alive (wrk); median of %d-s slices\\n'
        '%s, %d CPUs shared with other jobs, %s"'
        % (t["slices"][1], d["machine"]["cpu"].replace('"', ""), d["machine"]["nproc"], d["date"][:10]),
        "set xlabel 'concurrent connections'",
        "set ylabel 'requests/s'",
        "set logscale x 2",
        "set xrange [0.8:%g]" % (conns[-1] * 1.25),
        "set xtics (%s)" % ", ".join(str(c) for c in conns),
        "set yrange [0:*]",
        "set grid",
        "set key below",
        "plot " + plots,
    ]) + "\n"
    p = subprocess.run(["gnuplot"], input=script.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0 or not os.path.exists(png) or os.path.getsize(png) == 0:
        return "gnuplot failed: " + p.stdout.decode(errors="replace")[-500:]
    return None


# ---- reading the files, writing the page ---------------------------------------


def load(build):
    """The experiments' files, and what the page takes from them as a
    whole: date, elapsed, load, machine, smoke, failures.  Raises
    SystemExit naming what is missing or mixed."""
    d = {"build": build}
    missing = [e for e in EXPERIMENTS if not os.path.exists(os.path.join(build, e + ".json"))]
    if missing:
        raise SystemExit("report: no %s in %s (run scripts/bench, or the experiment alone)"
                         % (", ".join(e + ".json" for e in missing), build))
    for e in EXPERIMENTS:
        with open(os.path.join(build, e + ".json")) as f:
            d[e] = json.load(f)
    metas = sorted((d[e]["meta"] for e in EXPERIMENTS), key=lambda m: m["date"])
    if len(set(m["smoke"] for m in metas)) > 1:
        raise SystemExit("report: the files mix smoke and full runs: %s" % ", ".join(
            "%s%s" % (m["name"], " (smoke)" if m["smoke"] else "") for m in metas))
    d.update(date=metas[0]["date"], elapsed=sum(m["elapsed"] for m in metas), smoke=metas[0]["smoke"],
             load_start=metas[0]["load_start"], load_end=metas[-1]["load_end"],
             machine=d["throughput"]["meta"]["machine"],
             failures=[x for e in EXPERIMENTS for x in d[e]["failures"]])
    return d


def write(top, build):
    """Renders the page of the files in build; returns the exit status."""
    d = load(build)
    if d["smoke"]:
        md, png = os.path.join(build, "smoke.md"), os.path.join(build, "run", "smoke.png")
    else:
        md, png = os.path.join(top, "docs", "benchmarks.md"), os.path.join(top, "docs", "benchmarks.png")
    d["png_name"] = os.path.basename(png)
    err = plot(d, png)
    if err:
        d["failures"].append(err)
    lines = []
    for section in SECTIONS:
        section(lines.append, d)
    with open(md, "w") as f:
        f.write("\n".join(lines))
    print("bench: wrote %s and %s (the experiments took %d s)" % (md, png, d["elapsed"]), flush=True)
    if d["failures"]:
        print("bench: %d check(s) failed:" % len(d["failures"]), flush=True)
        for x in d["failures"]:
            print("bench:   " + x, flush=True)
        return 1
    print("bench: all checks passed", flush=True)
    return 0


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", default=top, help="the source tree (default: %(default)s)")
    ap.add_argument("--build", help="where the JSON files are (default: TOP/build/bench)")
    args = ap.parse_args()
    return write(args.top, args.build or os.path.join(args.top, "build", "bench"))


if __name__ == "__main__":
    sys.exit(main())
