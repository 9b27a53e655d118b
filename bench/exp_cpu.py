"""bench/exp_cpu.py: what one event costs in CPU, measured without the
noise: callgrind instruction counts.

  per event  bench/hl-events (hookline's per-event path, serve_request()
             over handler/libhookline.a) and bench/floor-events (HMAC-SHA1 +
             cJSON parse), N1 and N2 events; per event = difference / (N2 -
             N1), so start-up cancels out
  native     the same drivers' user + system time per event (rusage, the
             difference between two run lengths, median of 3)
  profile    the measured loop alone (--toggle-collect=bench_events): the
             pipeline's steps inclusive, the top functions
  schemes    the same loop for each signature scheme (hub, standard,
             stripe, shopify, gitlab), with the scheme's headers signed
             here by Python's hmac (an oracle independent of hookline)
  CGI        one whole hookline process answering one CGI request, and
             /bin/true

Checked: every run exited 0 and every driver stored every event.  Writes
build/bench/cpu.json; run alone with

    PYTHONPATH=tests/integration python3 bench/exp_cpu.py [--smoke]
"""

import base64
import hashlib
import hmac
import os
import resource
import subprocess
import sys
import time

import benchlib
from benchlib import SECRET, LogCounter, log

NAME = "cpu"
ENV = dict(benchlib.CLEAN_ENV, HOOKLINE_SECRET=SECRET)
# hookline's per-event steps for the inclusive table: (function, depth, note).
HL_STEPS = [
    ("serve_request", 0, "the whole per-request pipeline but the transport"),
    ("request_check_method", 1, ""),
    ("config_get", 1, "HOOKLINE_* lookups in the parameters, then getenv; cached parse"),
    ("request_read_body", 1, ""),
    ("sig_verify", 1, "hex decode + HMAC-SHA1 (reused context)"),
    ("event_parse", 1, ""),
    ("json_text_ok", 2, "strict UTF-8 / control character / number pass"),
    ("cJSON_ParseWithLengthOpts", 2, ""),
    ("EVP_Digest", 2, "SHA-256 of the body: the event id"),
    ("cJSON_GetObjectItemCaseSensitive", 2, "status, job_id, flow_id, tenant"),
    ("record_max", 1, ""),
    ("record_format", 1, "the log line: timestamp (gmtime_r, snprintf), copy with CR/LF -> space"),
    ("sink_log_append", 1, "user-space part only: flock, fstat, stat, pread, write are system calls"),
    ("answer_format", 1, ""),
    ("event_clear", 1, "cJSON_Delete"),
    ("io_param", 0, "all calls, any step (FCGX_GetParam: linear strncmp scan of the parameters)"),
    ("getenv", 0, "all calls, any step"),
]
FLOOR_STEPS = ["EVP_MAC_init", "EVP_MAC_update", "EVP_MAC_final", "cJSON_ParseWithLengthOpts", "cJSON_Delete"]
# One CGI execution of hookline: inclusive Ir of these, where present.
CGI_STEPS = [
    ("main", "all of hookline's own work"),
    ("serve_cgi", ""),
    ("config_get", "settings, and keying the HMACs"),
    ("sig_hmac_key", "EVP_MAC_fetch + EVP_MAC_CTX_new + EVP_MAC_init, x2 (SHA-1, SHA-256)"),
    ("EVP_MAC_fetch", "OpenSSL 3 provider and algorithm fetch"),
    ("event_parse", ""),
    ("EVP_MD_fetch", "digest fetches: HMAC keying (SHA-1, SHA-256) and the id's SHA-256"),
    ("sink_log_append", ""),
    ("OPENSSL_init_crypto", ""),
    ("OPENSSL_cleanup", "at exit"),
    ("_dl_relocate_object", "dynamic loader: relocations and symbol lookups"),
    ("_dl_map_object", "dynamic loader: finding and mapping the libraries"),
    ("_dl_init", "library constructors"),
    ("exit", "exit handlers"),
]


def drivers(run, log_path):
    """{name: (program, its arguments after N)}: hl-events logging to
    log_path, and floor-events."""
    return {"hl": (os.path.join(run.drivers, "hl-events"), [run.body_path, log_path, run.sig]),
            "floor": (os.path.join(run.drivers, "floor-events"), [run.body_path, run.sig])}


def stored(run, counter, want, what):
    """Checks that a driver's log holds want lines: every event stored."""
    got = counter.count()
    run.check(got == want, "%s: %d log lines for %d events" % (what, got, want))


def per_event(run, cpu):
    """Callgrind Ir per event and at start-up of both drivers."""
    n1, n2 = (100, 600) if run.smoke else (1000, 11000)
    lp = os.path.join(run.work, "events.jsonl")
    cpu.update(n1=n1, n2=n2)
    for name, (exe, args) in drivers(run, lp).items():
        tot = {n: run.callgrind("%s.%d" % (name, n), [exe, str(n)] + args, ENV)[1] for n in (n1, n2)}
        cpu[name] = (tot[n2] - tot[n1]) / (n2 - n1)
        cpu[name + "_startup"] = tot[n1] - n1 * cpu[name]
    # Each driver run logs one warm-up event besides its N.
    stored(run, LogCounter(lp), n1 + n2 + 2, "hl-events")
    cpu["ratio"] = cpu["hl"] / cpu["floor"]
    log("callgrind: hookline %.0f Ir/event, floor %.0f Ir/event, ratio %.2f" % (cpu["hl"], cpu["floor"], cpu["ratio"]))


def native(run, cpu):
    """Native CPU time per event (user + system, the difference between two
    run lengths; median of 3): what the callgrind counts cost on this CPU,
    to set against the no-op FastCGI path's CPU per request."""
    m1, m2 = (200, 2000) if run.smoke else (2000, 22000)
    lp = os.path.join(run.work, "native.jsonl")
    for name, (exe, args) in drivers(run, lp).items():
        per = []
        for _ in range(3):
            t = {}
            for n in (m1, m2):
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run([exe, str(n)] + args, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=300, check=True)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t[n] = (r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime)
            # Clock ticks make a small difference noisy: never below 0.
            per.append(tuple(max(0.0, (t[m2][k] - t[m1][k]) * 1e6 / (m2 - m1)) for k in (0, 1)))
        per.sort(key=sum)
        cpu[name + "_user_us"], cpu[name + "_sys_us"] = per[1]
        cpu[name + "_us"] = sum(per[1])
    stored(run, LogCounter(lp), 3 * (m1 + m2 + 2), "hl-events (native runs)")
    log("native CPU: hookline %.2f us/event (%.2f user), floor %.2f us/event (%.2f user)"
        % (cpu["hl_us"], cpu["hl_user_us"], cpu["floor_us"], cpu["floor_user_us"]))


def profiles(run, cpu):
    """The loops alone: per-event Ir, the steps inclusive, top functions."""
    nprof = 500 if run.smoke else 10000
    lp = os.path.join(run.work, "prof.jsonl")
    prof = {}
    for name, (exe, args) in drivers(run, lp).items():
        prof[name], total = run.callgrind(name + ".prof", [exe, str(nprof)] + args, ENV, toggle="bench_events")
        cpu[name + "_prof"] = total / nprof
    stored(run, LogCounter(lp), nprof + 1, "hl-events (profile)")
    cpu["nprof"] = nprof
    cpu["top"] = benchlib.top_functions(prof["hl"], 15, nprof)
    cpu["ftop"] = benchlib.top_functions(prof["floor"], 8, nprof)
    incl = benchlib.inclusive(prof["hl"], set(n for n, _, _ in HL_STEPS))
    cpu["steps"] = [{"name": n, "depth": depth, "note": note, "ir": incl.get(n, 0) / nprof}
                    for n, depth, note in HL_STEPS]
    fincl = benchlib.inclusive(prof["floor"], set(FLOOR_STEPS))
    cpu["fsteps"] = [{"name": n, "ir": fincl.get(n, 0) / nprof} for n in FLOOR_STEPS]


def scheme_cases(body, now):
    """[(scheme, secret, CGI parameters, its headers in words)], signed
    here with Python's hmac."""
    b64 = lambda d: base64.b64encode(d).decode()
    sha256 = lambda key, msg: hmac.new(key, msg, hashlib.sha256).digest()
    key = b"0123456789abcdef0123456789abcdef"
    std = sha256(key, ("msg_bench.%s." % now).encode() + body)
    stripe = sha256(b"whsec_bench", ("%s." % now).encode() + body).hex()
    return [
        ("hub", SECRET, ["HTTP_X_HUB_SIGNATURE=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()],
         "`X-Hub-Signature`: hex HMAC-SHA1 of the body"),
        ("standard", "whsec_" + b64(key), ["HTTP_WEBHOOK_ID=msg_bench", "HTTP_WEBHOOK_TIMESTAMP=" + now,
                                           "HTTP_WEBHOOK_SIGNATURE=v1," + b64(std)],
         "`webhook-id`, `webhook-timestamp`, `webhook-signature`: base64 HMAC-SHA256 of id.timestamp.body"),
        ("stripe", "whsec_bench", ["HTTP_STRIPE_SIGNATURE=t=%s,v1=%s" % (now, stripe)],
         "`Stripe-Signature`: t=timestamp, v1=hex HMAC-SHA256 of timestamp.body"),
        ("shopify", SECRET, ["HTTP_X_SHOPIFY_HMAC_SHA256=" + b64(sha256(SECRET.encode(), body))],
         "`X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the body"),
        ("gitlab", SECRET, ["HTTP_X_GITLAB_TOKEN=" + SECRET], "`X-Gitlab-Token`: the secret itself"),
    ]


def schemes(run):
    """The measured loop once per signature scheme: [{scheme, headers,
    ir (per event), sig_check, serve_request (inclusive, per event)}]."""
    n = 200 if run.smoke else 2000
    hl = os.path.join(run.drivers, "hl-events")
    out = []
    for scheme, secret, params, headers in scheme_cases(run.body, str(int(time.time()))):
        lp = os.path.join(run.work, "scheme-%s.jsonl" % scheme)
        env = dict(ENV, HOOKLINE_SECRET=secret, HOOKLINE_SCHEME=scheme)
        path, total = run.callgrind("scheme." + scheme, [hl, str(n), run.body_path, lp] + params, env,
                                    toggle="bench_events")
        stored(run, LogCounter(lp), n + 1, "hl-events, scheme %s" % scheme)
        incl = benchlib.inclusive(path, {"sig_check", "serve_request"})
        out.append({"scheme": scheme, "headers": headers, "n": n, "ir": total / n,
                    "sig_check": incl.get("sig_check", 0) / n, "serve_request": incl.get("serve_request", 0) / n})
        log("scheme %-8s %.0f Ir/event, sig_check %.0f" % (scheme, total / n, out[-1]["sig_check"]))
    return out


def cgi_startup(run):
    """One execution of hookline answering one CGI request, and of
    /bin/true, under callgrind."""
    lp = os.path.join(run.work, "cgi-events.jsonl")
    env = run.cgi_env(lp)
    with open(run.body_path, "rb") as body:
        path, t_hl = run.callgrind("cgi.hookline", [run.hookline], env, stdin=body)
    with open(run.body_path, "rb") as body:
        t_true = run.callgrind("cgi.true", ["/bin/true"], env, stdin=body)[1]
    stored(run, LogCounter(lp), 1, "callgrind of hookline as CGI")
    incl = benchlib.inclusive(path, set(n for n, _ in CGI_STEPS))
    log("callgrind CGI: hookline %d Ir, /bin/true %d Ir" % (t_hl, t_true))
    return {"hookline": t_hl, "true": t_true, "main": incl.get("main", 0),
            "steps": [{"name": n, "note": note, "ir": incl[n]} for n, note in CGI_STEPS if n in incl],
            "top": benchlib.top_functions(path, 10)}


def measure(run):
    cpu = {}
    per_event(run, cpu)
    native(run, cpu)
    profiles(run, cpu)
    return {"cpu": cpu, "schemes": schemes(run), "cgi": cgi_startup(run)}


if __name__ == "__main__":
    sys.exit(benchlib.main(NAME, measure, __doc__))
