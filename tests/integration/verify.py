"""The round trip body -> hookline (a real lighttpd, one pool per scheme,
all writing one log) -> log -> hookline-verify, for bodies with CR, LF,
CRLF, a byte order mark and none, signed with either of two secrets:
every line verifies, "raw" is there exactly when the body needs it, and
each secret's count is what was sent with it.  Then copies of the log,
changed: each tampered line (event, signature, raw, id, timestamp,
scheme, ...) fails with its file:line and the exit status is 1; a torn
last line is reported and is no failure; a rotated set of two files plus
one gzipped through standard input; the exit statuses of usage and I/O
errors; and hookline-verify under valgrind on 1,000 lines."""

import base64
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import time

from harness import VALGRIND, Lighttpd, Tap, check_clean_shutdown, child_env, read_log
from schemes import SCHEMES, new_secret, pools, post, sign, write_secrets

VERIFY = os.environ.get("HOOKLINE_VERIFY") or os.path.join(os.environ.get("HOOKLINE_BUILDDIR", "."), "handler",
                                                           "hookline-verify")
BOM = b"\xef\xbb\xbf"
BODIES = [
    ("no CR, LF or BOM", b'{"kind":"plain","n":9007199254740993}'),
    ("LF", b'{\n"kind":"lf",\n"n":1}\n'),
    ("CR", b'{"kind":"cr",\r"n":2}'),
    ("CRLF", b'{\r\n  "kind": "crlf",\r\n  "n": 3\r\n}\r\n'),
    ("BOM", BOM + b'{"kind":"bom","n":4}'),
    ("BOM and CRLF", BOM + b'{\r\n"kind":"bom crlf","e":"\xc3\xa9"}\r\n'),
]


def needs_raw(body):
    return body.startswith(BOM) or b"\r" in body or b"\n" in body


def verify(tap, args, cwd, env=None, stdin=None):
    """Runs hookline-verify; returns (status, stdout, stderr)."""
    p = subprocess.run([VERIFY] + args, cwd=cwd, env=child_env(env), stdin=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def summary(out):
    """The counts of the summary line, by name, and the per-key counts."""
    m = re.search(r"^(\d+) lines: (\d+) verified, (\d+) failed, (\d+) unsigned, (\d+) gitlab-not-signed, "
                  r"(\d+) torn$", out, re.M)
    counts = dict(zip(("lines", "verified", "failed", "unsigned", "gitlab", "torn"), map(int, m.groups()))) \
        if m else None
    keys = {int(k): int(n) for k, n in re.findall(r"^key (\d+): (\d+) events$", out, re.M)}
    return counts, keys


def failures(out, name):
    """{line number: reason} of the lines reported as failing in file name."""
    return {int(n): why for n, why in re.findall(r"^%s:(\d+): (.*)$" % re.escape(name), out, re.M)}


def send_all(tap, srv, secrets):
    """Each body to each scheme, alternating the secrets, and two unsigned.
    Returns what the summary must then say, and the bodies in log order."""
    want_keys = {1: 0, 2: 0}
    sent = []
    n = 0
    for s in SCHEMES:
        for name, body in BODIES:
            k = n % 2 + 1
            n += 1
            status, answer = post(srv.port, "/%s/hook" % s, body, sign(s, secrets[k - 1], body,
                                  delivery="dlv-%d" % n if s != "stripe" else None))
            if tap.ok(status == 200, "%s, body with %s, secret %d: 200" % (s, name, k), (status, answer)):
                sent.append(body)
                if s != "gitlab":
                    want_keys[k] += 1
    # hub as hotglue (bare SHA-1 hex) and GitHub (sha1=) send it alone,
    # and X-Hub-Signature-256 without its prefix: each is logged as it
    # came, and hookline-verify must pick the header from the value.
    for i, hdr in enumerate((lambda b: [("X-Hub-Signature", sign("hub", secrets[1], b)[1][1][5:])],
                             lambda b: [sign("hub", secrets[0], b)[1]],
                             lambda b: [("X-Hub-Signature-256", sign("hub", secrets[1], b)[0][1][7:])])):
        body = b'{"kind":"hub %d"}' % i
        status, answer = post(srv.port, "/hub/hook", body, hdr(body))
        if tap.ok(status == 200, "hub, %s: 200" % ("bare SHA-1", "sha1=", "bare SHA-256")[i], (status, answer)):
            sent.append(body)
            want_keys[2 if i != 1 else 1] += 1
    # Signed 50 minutes ago, accepted where HOOKLINE_TOLERANCE allows it: the
    # recorded timestamp verifies, not the clock of now (300 s by default).
    for s in ("standard", "stripe"):
        body = b'{"kind":"old"}'
        status, answer = post(srv.port, "/%s/hook" % s, body, sign(s, secrets[0], body, ts=int(time.time()) - 3000))
        if tap.ok(status == 200, "%s, signed 3000 s ago, HOOKLINE_TOLERANCE=3600: 200" % s, (status, answer)):
            sent.append(body)
            want_keys[1] += 1
    # A webhook-id in UTF-8 is signed as sent and logged as sent (a byte
    # that is no UTF-8 would be '?' in the line, and fail here).
    body = b'{"kind":"utf8 id"}'
    hdrs = [(k, v.encode() if k == "webhook-id" else v)
            for k, v in sign("standard", secrets[0], body, delivery="msg_\u00e9\u20ac")]
    status, answer = post(srv.port, "/standard/hook", body, hdrs)
    if tap.ok(status == 200, "standard, a webhook-id in UTF-8: 200", (status, answer)):
        sent.append(body)
        want_keys[1] += 1
    for hdrs in ([], [("X-Hub-Signature", "0" * 40)]):
        body = b'{"kind":"unsigned"}'
        status, answer = post(srv.port, "/unsigned/hook", body, hdrs)
        if tap.ok(status == 200, "unsigned location, %s: 200" % ("a signature" if hdrs else "no signature"),
                  (status, answer)):
            sent.append(body)
    counts = {"lines": len(sent), "verified": sum(want_keys.values()), "failed": 0, "unsigned": 2,
              "gitlab": len(BODIES), "torn": 0}
    return counts, want_keys, sent


def check_raw(tap, log, sent):
    lines = read_log(log)
    tap.eq(len(lines), len(sent), "%d lines logged" % len(sent))
    good = [rec is not None and ("raw" in rec) == needs_raw(body)
            and (("raw" not in rec) or base64.b64decode(rec["raw"]) == body)
            and rec["id"] == hashlib.sha256(body).hexdigest() for (_, rec), body in zip(lines, sent)]
    tap.ok(all(good), "raw is there exactly when the body has CR, LF or a BOM, and is the body",
           [i + 1 for i, g in enumerate(good) if not g])


def tamper_table(lines):
    """(description, line number, new line, reason) for changed copies of
    the log's lines, each of another line."""
    def pick(scheme, kind):
        i = next(i for i, (_, r) in enumerate(lines) if r["scheme"] == scheme and r["event"]["kind"] == kind)
        return i, lines[i][0], lines[i][1]

    out = []
    i, ln, rec = pick("standard", "plain")
    out.append(("event changed (no raw)", i, ln.replace(b'"kind":"plain"', b'"kind":"plainer"'),
                "not the SHA-256"))
    i, ln, rec = pick("stripe", "crlf")
    out.append(("event changed, raw kept", i, ln.replace(b'"kind": "crlf"', b'"kind": "CRLF"'),
                "the event is not the body that raw holds"))
    i, ln, rec = pick("standard", "lf")
    body = base64.b64decode(rec["raw"]).replace(b'"n":1', b'"n":7')
    new = ln.replace(rec["raw"].encode(), base64.b64encode(body))
    new = new.replace(rec["id"].encode(), hashlib.sha256(body).hexdigest().encode())
    new = new[:new.index(b',"event":') + 9] + body.replace(b"\n", b" ") + b"}"
    out.append(("raw, event and id changed together", i, new, "signature does not match the body"))
    i, ln, rec = pick("shopify", "bom")
    out.append(("raw changed alone", i, ln.replace(rec["raw"].encode(), base64.b64encode(b'{"x":1}\n')),
                "the event is not the body that raw holds"))
    i, ln, rec = pick("hub", "plain")
    sig = rec["signature"]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    out.append(("signature changed", i, ln.replace(sig.encode(), flipped.encode()),
                "signature does not match the body"))
    i, ln, rec = pick("hub", "cr")
    out.append(("id changed", i, ln.replace(rec["id"].encode(), hashlib.sha256(b"other").hexdigest().encode()),
                "not the SHA-256"))
    i, ln, rec = pick("standard", "cr")
    out.append(("timestamp changed", i, ln.replace(b'"timestamp":"%s"' % rec["timestamp"].encode(),
                                                   b'"timestamp":"%d"' % (int(rec["timestamp"]) - 1)),
                "signature does not match the body"))
    i, ln, rec = pick("stripe", "plain")
    t = re.search(r"t=(\d+)", rec["signature"]).group(1)
    out.append(("stripe's t= changed", i, ln.replace(b"t=" + t.encode(), b"t=%d" % (int(t) + 1)),
                "signature does not match the body"))
    i, ln, rec = pick("standard", "bom")
    out.append(("delivery (the signed webhook-id) changed", i,
                ln.replace(b'"delivery":"%s"' % rec["delivery"].encode(), b'"delivery":"dlv-x"'),
                "signature does not match the body"))
    i, ln, rec = pick("standard", "crlf")
    out.append(("scheme changed", i, ln.replace(b'"scheme":"standard"', b'"scheme":"shopify"'),
                "shopify: X-Shopify-Hmac-Sha256 is not 32 bytes"))
    i, ln, rec = pick("shopify", "plain")
    out.append(("a member twice", i, ln.replace(b'"remote":', b'"remote":"x","remote":'), "stands twice"))
    i, ln, rec = pick("shopify", "lf")
    out.append(("key not a number", i, ln.replace(b'"key":', b'"key":"1","k":'),
                "neither a secret's number nor null"))
    i, ln, rec = pick("hub", "bom")
    out.append(("not JSON", i, b"this is not a record", "not one JSON object"))
    i, ln, rec = pick("hub", "lf")
    out.append(("raw dropped", i, re.sub(rb',"raw":"[^"]*"', b"", ln), "not the SHA-256"))
    return [(d, i + 1, new, reason) for d, i, new, reason in out]


def tampered_copy(tap, srv, lines):
    changed = {n: (desc, new, reason) for desc, n, new, reason in tamper_table(lines)}
    with open(srv.path("tampered.jsonl"), "wb") as f:
        for i, (ln, _) in enumerate(lines):
            f.write((changed[i + 1][1] if i + 1 in changed else ln) + b"\n")
    rc, out, err = verify(tap, ["-s", "secret", "tampered.jsonl"], srv.dir)
    tap.eq(rc, 1, "tampered log: exit status 1")
    got = failures(out, "tampered.jsonl")
    tap.eq(sorted(got), sorted(changed), "tampered log: exactly the changed lines fail, by line number")
    for n, (desc, _, reason) in sorted(changed.items()):
        tap.ok(reason in got.get(n, ""), "tampered line %d (%s): %s" % (n, desc, reason), got.get(n))
    counts, _ = summary(out)
    tap.ok(counts is not None and counts["failed"] == len(changed) and counts["lines"] == len(lines),
           "tampered log: the summary counts %d failed of %d" % (len(changed), len(lines)), out)


def torn(tap, srv, lines, want):
    with open(srv.path("torn.jsonl"), "wb") as f:
        for ln, _ in lines:
            f.write(ln + b"\n")
        f.write(lines[0][0][:60])
    rc, out, err = verify(tap, ["-s", "secret", "torn.jsonl"], srv.dir)
    tap.eq(rc, 0, "a torn last line is no failure: exit status 0")
    tap.ok(re.search(r"^torn.jsonl:%d: torn last line" % (len(lines) + 1), out, re.M) is not None,
           "the torn line is reported with its file:line", out)
    counts, _ = summary(out)
    tap.eq(counts, dict(want, lines=want["lines"] + 1, torn=1), "torn: counted apart")


def rotated_set(tap, srv, lines, want, want_keys):
    """Oldest part gzipped and read through stdin, then two files."""
    a, b = len(lines) // 3, 2 * len(lines) // 3
    with gzip.open(srv.path("events.jsonl.3.gz"), "wb") as f:
        f.write(b"".join(ln + b"\n" for ln, _ in lines[:a]))
    for name, part in (("events.jsonl.2", lines[a:b]), ("events.jsonl.1", lines[b:])):
        with open(srv.path(name), "wb") as f:
            f.write(b"".join(ln + b"\n" for ln, _ in part))
    z = subprocess.Popen(["gzip", "-dc", srv.path("events.jsonl.3.gz")], stdout=subprocess.PIPE)
    rc, out, err = verify(tap, ["-s", "secret", "-", "events.jsonl.2", "events.jsonl.1"], srv.dir, stdin=z.stdout)
    z.stdout.close()
    z.wait(timeout=30)
    tap.eq(rc, 0, "rotated set (gzip | -, two files): exit status 0")
    tap.eq(summary(out), (want, want_keys), "rotated set: the same counts as the whole log")
    # A failure in a later file is named by that file and its own line.
    with open(srv.path("events.jsonl.1"), "ab") as f:
        f.write(b"{}\n")
    rc, out, err = verify(tap, ["-s", "secret", "events.jsonl.2", "events.jsonl.1"], srv.dir)
    tap.ok(rc == 1 and list(failures(out, "events.jsonl.1")) == [len(lines) - b + 1],
           "a failing line is named by its own file and line", out)


def exit_statuses(tap, srv):
    d = srv.dir
    rc, out, err = verify(tap, ["events.jsonl"], d)
    tap.ok(rc == 2 and "-s or HOOKLINE_SECRET_FILE" in err, "no secret file named: 2", (rc, err))
    rc, out, err = verify(tap, ["events.jsonl"], d, env={"HOOKLINE_SECRET": "x"})
    tap.ok(rc == 2 and "HOOKLINE_SECRET_FILE" in err, "HOOKLINE_SECRET alone is not taken: 2", (rc, err))
    rc, out, err = verify(tap, ["-x", "events.jsonl"], d)
    tap.ok(rc == 2 and "usage" in err, "unknown option: 2 and the usage", (rc, err))
    rc, out, err = verify(tap, ["-s", "nonexistent", "events.jsonl"], d)
    tap.ok(rc == 2 and "cannot open nonexistent" in err, "missing secret file: 2", (rc, err))
    shutil.copy(srv.path("secret"), srv.path("open-secret"))
    os.chmod(srv.path("open-secret"), 0o644)
    rc, out, err = verify(tap, ["-s", "open-secret", "events.jsonl"], d)
    tap.ok(rc == 2 and "accessible by others" in err, "a secret file others may read: 2, as hookline says",
           (rc, err))
    rc, out, err = verify(tap, ["-s", "secret", "events.jsonl", "nonexistent.jsonl"], d)
    tap.ok(rc == 2 and "nonexistent.jsonl" in err and summary(out)[0] is not None,
           "a log that cannot be read: 2, the others still verified", (rc, out, err))
    write_secrets(srv.path("other-secret"), [new_secret("standard")])
    rc, out, err = verify(tap, ["-s", "other-secret", "events.jsonl"], d)
    counts, keys = summary(out)
    tap.ok(rc == 1 and counts and counts["verified"] == 0 and keys == {1: 0},
           "another secret: every signed line fails, exit 1, key 1: 0 events", out)
    rc, out, err = verify(tap, ["-s", "secret", "/dev/null"], d)
    tap.ok(rc == 0 and summary(out)[0] == dict(lines=0, verified=0, failed=0, unsigned=0, gitlab=0, torn=0),
           "an empty log: 0 lines, exit 0", out)


def under_valgrind(tap, srv, lines):
    """1,000 real lines (the log's, repeated) under valgrind: no error, no leak."""
    vg = shutil.which("valgrind")
    ldd = subprocess.run(["ldd", VERIFY], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    if vg is None or b"libasan" in ldd or b"libubsan" in ldd:
        tap.skip("hookline-verify under valgrind", "no valgrind" if vg is None else "a sanitizer build")
        return
    with open(srv.path("big.jsonl"), "wb") as f:
        for i in range(1000):
            f.write(lines[i % len(lines)][0] + b"\n")
    p = subprocess.run(VALGRIND + ["--log-file=" + srv.path("vg.log"), VERIFY, "-s", "secret", "big.jsonl"],
                       cwd=srv.dir, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    with open(srv.path("vg.log")) as f:
        report = f.read()
    tap.eq(p.returncode, 0, "valgrind: hookline-verify on 1,000 lines exits 0 (99: valgrind found errors)")
    tap.ok("ERROR SUMMARY: 0 errors" in report, "valgrind: 0 errors", report[-3000:])
    for kind in ("definitely", "indirectly"):
        m = re.search(r"%s lost: ([\d,]+) bytes" % kind, report)
        tap.ok(m is None or m.group(1) == "0", "valgrind: nothing %s lost" % kind, report[-3000:])
    counts, _ = summary(p.stdout.decode())
    tap.ok(counts is not None and counts["lines"] == 1000 and counts["failed"] == 0, "valgrind: 1,000 lines, none "
           "failed", p.stdout[-500:])


def main():
    tap = Tap()
    secrets = [new_secret("standard"), new_secret("standard")]
    ps = pools(lambda s: "@DIR@/secret", lambda s: "@DIR@/events.jsonl")
    for s in ("standard", "stripe"):
        ps["/%s/" % s]["HOOKLINE_TOLERANCE"] = "3600"
    ps["/unsigned/"] = {"HOOKLINE_ALLOW_UNSIGNED": "1", "HOOKLINE_LOG": "@DIR@/events.jsonl", "HOOKLINE_SYNC": "none"}
    srv = Lighttpd({}, procs=1, pools=ps)
    write_secrets(srv.path("secret"), secrets)
    want, want_keys, sent = send_all(tap, srv, secrets)
    check_clean_shutdown(tap, srv)
    log = srv.path("events.jsonl")
    check_raw(tap, log, sent)

    rc, out, err = verify(tap, ["-s", "secret", "events.jsonl"], srv.dir)
    tap.eq(rc, 0, "hookline-verify on the whole log: exit status 0")
    tap.eq(failures(out, "events.jsonl"), {}, "no line fails")
    tap.eq(summary(out), (want, want_keys), "summary: every signed line verified, each secret's count as sent")
    rc2, out2, err2 = verify(tap, [log], srv.dir, env={"HOOKLINE_SECRET_FILE": srv.path("secret")})
    tap.ok(rc2 == 0 and summary(out2) == summary(out), "HOOKLINE_SECRET_FILE instead of -s: the same", out2)
    write_secrets(srv.path("secret-rotated"), [new_secret("standard")] + secrets[1:])
    rc, out, err = verify(tap, ["-s", "secret-rotated", "events.jsonl"], srv.dir)
    tap.ok(rc == 1 and summary(out)[1] == {1: 0, 2: want_keys[2]},
           "the first secret replaced: the old second one still counts its events", out)

    lines = read_log(log)
    tampered_copy(tap, srv, lines)
    torn(tap, srv, lines, want)
    rotated_set(tap, srv, lines, want, want_keys)
    exit_statuses(tap, srv)
    under_valgrind(tap, srv, lines)
    tap.done()


if __name__ == "__main__":
    main()
