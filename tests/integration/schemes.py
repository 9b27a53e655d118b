"""Every signature scheme end to end, through a real lighttpd with one
hookline pool per scheme (HOOKLINE_SCHEME in each pool's process
environment, its secrets in a file).

Signatures are made here by Python's own hmac, hashlib and base64 (an
oracle that shares nothing with hookline) with a current timestamp, and
again by hookline-sign --scheme, also piped into curl -H @- as its man
page shows: 200 and the log line's scheme, delivery, key, signature and
timestamp.  Per scheme a table of malformed headers (missing or
duplicated parts, an empty list, wrong prefix or version, bad base64 or
hex, wrong length, overflowing or signed timestamps, whitespace, a
timestamp outside the tolerance either way): each 401 with its reason in
the error log, and nothing logged.  Rotation with two and then three
secrets: each verifies and the log's key says which.  No secret, GitLab's
token least of all, is in any log.

The signers are also what verify.py sends with (import, not run)."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import subprocess
import time

from harness import SIGN, Lighttpd, Tap, child_env, check_clean_shutdown, read_log

SCHEMES = ("hub", "standard", "stripe", "shopify", "gitlab")
TOLERANCE = 300  # hookline's default HOOKLINE_TOLERANCE


def new_secret(scheme):
    """A fresh secret in the form the sender shows it."""
    raw = os.urandom(24)
    if scheme == "standard":
        return "whsec_" + base64.b64encode(raw).decode()
    if scheme == "stripe":
        return "whsec_" + raw.hex()
    if scheme == "gitlab":
        return "glwht-" + raw.hex()[:32]
    return raw.hex()


def _mac(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def sign(scheme, secret, body, ts=None, delivery=None):
    """The headers the scheme's sender sends for body, as (name, value)
    pairs, computed from the published scheme alone."""
    ts = str(int(time.time()) if ts is None else ts)
    if scheme == "standard":
        key = base64.b64decode(secret[6:] if secret.startswith("whsec_") else secret)
        mid = delivery or "msg_" + os.urandom(12).hex()
        sig = base64.b64encode(_mac(key, ("%s.%s." % (mid, ts)).encode() + body)).decode()
        return [("webhook-id", mid), ("webhook-timestamp", ts), ("webhook-signature", "v1," + sig)]
    if scheme == "stripe":
        return [("Stripe-Signature", "t=%s,v1=%s" % (ts, _mac(secret.encode(), ts.encode() + b"." + body).hex()))]
    if scheme == "shopify":
        h = [("X-Shopify-Hmac-Sha256", base64.b64encode(_mac(secret.encode(), body)).decode())]
        return h + ([("X-Shopify-Webhook-Id", delivery)] if delivery else [])
    if scheme == "gitlab":
        return [("X-Gitlab-Token", secret)] + ([("Idempotency-Key", delivery)] if delivery else [])
    h = [("X-Hub-Signature-256", "sha256=" + _mac(secret.encode(), body).hex()),
         ("X-Hub-Signature", "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest())]
    return h + ([("X-GitHub-Delivery", delivery)] if delivery else [])


def expected_record(scheme, headers):
    """What the log line must say about a delivery with these headers:
    signature, delivery, timestamp (None: no such member)."""
    h = dict(headers)
    if scheme == "standard":
        return h["webhook-signature"], h["webhook-id"], h["webhook-timestamp"]
    if scheme == "stripe":
        return h["Stripe-Signature"], None, None
    if scheme == "shopify":
        return h["X-Shopify-Hmac-Sha256"], h.get("X-Shopify-Webhook-Id"), None
    if scheme == "gitlab":
        return None, h.get("Idempotency-Key"), None
    return h["X-Hub-Signature-256"], h.get("X-GitHub-Delivery"), None


def write_secrets(path, secrets):
    """Replaces the secret file (a new inode, mode 0600): hookline reads
    it again on the next request."""
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(s + "\n" for s in secrets))
    os.replace(tmp, path)


def post(port, path, body, headers):
    """POSTs body with headers, a list of pairs (a name may come twice).
    Returns (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest("POST", path)
        for k, v in headers:
            conn.putheader(k, v)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def pools(secret_path, log_path):
    """One hookline pool per scheme: {url: process environment}."""
    return {"/%s/" % s: {"HOOKLINE_SCHEME": s, "HOOKLINE_SECRET_FILE": secret_path(s),
                         "HOOKLINE_LOG": log_path(s), "HOOKLINE_SYNC": "none"} for s in SCHEMES}


def sign_with_tool(scheme, secret_file, body_file, *args):
    """hookline-sign --scheme's header lines as (name, value) pairs (a
    pseudo-header saying why, when it fails)."""
    p = subprocess.run([SIGN, "--scheme", scheme] + list(args) + [body_file],
                       env=child_env({"HOOKLINE_SECRET_FILE": secret_file}),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        return [("X-Hookline-Sign-Failed", p.stderr.decode(errors="replace").strip())]
    return [tuple(x.split(": ", 1)) for x in p.stdout.decode().splitlines()]


class Run:
    """The server, the secrets and what was sent, per scheme."""

    def __init__(self, tap):
        self.tap = tap
        self.srv = Lighttpd({}, procs=1, pools=pools(lambda s: "@DIR@/secret-" + s, lambda s: "@DIR@/%s.jsonl" % s))
        self.secrets = {s: [new_secret(s)] for s in SCHEMES}
        self.seen = set()  # every secret ever used, for the leak check
        for s in SCHEMES:
            self.set_secrets(s, self.secrets[s])
        self.stored = {s: 0 for s in SCHEMES}
        self.errpos = 0
        self.n = 0

    def set_secrets(self, scheme, secrets):
        self.secrets[scheme] = secrets
        self.seen.update(secrets)
        write_secrets(self.secret_file(scheme), secrets)

    def secret_file(self, scheme):
        return self.srv.path("secret-" + scheme)

    def log(self, scheme):
        return self.srv.path(scheme + ".jsonl")

    def body(self):
        self.n += 1
        return json.dumps({"n": self.n, "status": "JOB_COMPLETED", "big": 9007199254740993 + self.n},
                          separators=(",", ":")).encode()

    def new_errors(self):
        """What the error log gained since the last call (waits up to 2 s
        for a line to appear)."""
        deadline = time.time() + 2
        while True:
            with open(self.srv.errlog, "rb") as f:
                f.seek(self.errpos)
                text = f.read()
            if text or time.time() > deadline:
                self.errpos += len(text)
                return text.decode(errors="replace")
            time.sleep(0.02)

    def accepted(self, scheme, headers, body, key, name):
        """Sends; wants 200 and a log line that says what was sent."""
        if not self.tap.ok(headers[0][0] != "X-Hookline-Sign-Failed", "%s: %s: headers made" % (scheme, name),
                           headers):
            return
        status, answer = post(self.srv.port, "/%s/hook" % scheme, body, headers)
        if not self.tap.ok(status == 200, "%s: %s: 200" % (scheme, name), (status, answer)):
            self.tap.ok(False, "why", self.new_errors())
            return
        self.stored[scheme] += 1
        lines = read_log(self.log(scheme))
        line, rec = lines[-1] if lines else (b"", None)
        sig, delivery, ts = expected_record(scheme, headers)
        want = {"scheme": scheme, "delivery": delivery, "key": key, "signature": sig,
                "id": hashlib.sha256(body).hexdigest()}
        got = {k: rec.get(k) for k in want} if rec else None
        self.tap.eq(got, want, "%s: %s: logged with scheme, delivery, key %d, signature, id" % (scheme, name, key))
        self.tap.eq(rec.get("timestamp") if rec else "?", ts,
                    "%s: %s: timestamp %s" % (scheme, name, "as signed" if ts else "absent"))

    def refused(self, scheme, headers, body, reasons, name):
        """Sends; wants 401 and one of the reasons in the error log."""
        status, answer = post(self.srv.port, "/%s/hook" % scheme, body, headers)
        err = self.new_errors()
        if isinstance(reasons, str):
            reasons = (reasons,)
        self.tap.ok(status == 401 and "401 invalid signature" in err and any(r in err for r in reasons),
                    "%s: %s: 401, error log says %r" % (scheme, name, reasons[0]), (status, answer, err))


def valid_cases(run):
    """Python's oracle, a current timestamp; then hookline-sign."""
    for s in SCHEMES:
        secret = run.secrets[s][0]
        body = run.body()
        run.accepted(s, sign(s, secret, body, delivery="d-%s-1" % s if s != "stripe" else None), body, 1,
                     "signed by Python's hmac")
        body = run.body()
        bf = run.srv.path("body-%s.json" % s)
        with open(bf, "wb") as f:
            f.write(body)
        run.accepted(s, sign_with_tool(s, run.secret_file(s), bf), body, 1, "signed by hookline-sign")
    for s, args in (("standard", ["-t", str(int(time.time()) - 200), "-i", "msg_fixed-id_1"]),
                    ("stripe", ["-t", str(int(time.time()) + 200)]),
                    ("shopify", ["-i", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"]),
                    ("gitlab", ["-i", "idem-7"]), ("hub", ["-i", "72d3162e-cc78-11e3"])):
        body = run.body()
        bf = run.srv.path("body-%s.json" % s)
        with open(bf, "wb") as f:
            f.write(body)
        run.accepted(s, sign_with_tool(s, run.secret_file(s), bf, *args), body, 1,
                     "hookline-sign " + " ".join(args))
    # Just inside the tolerance, both ways.
    for s in ("standard", "stripe"):
        for off in (-(TOLERANCE - 20), TOLERANCE - 20):
            body = run.body()
            run.accepted(s, sign(s, run.secrets[s][0], body, ts=int(time.time()) + off), body, 1,
                         "timestamp %+d s" % off)


def curl_cases(run):
    """The man page's pipe: hookline-sign --scheme S body | curl -H @-."""
    curl = shutil.which("curl")
    for s in SCHEMES:
        if curl is None:
            run.tap.skip("%s: hookline-sign | curl -H @-" % s, "no curl (Debian package curl)")
            continue
        body = run.body()
        bf = run.srv.path("body-%s.json" % s)
        with open(bf, "wb") as f:
            f.write(body)
        env = child_env({"HOOKLINE_SECRET_FILE": run.secret_file(s)})
        sign_p = subprocess.Popen([SIGN, "--scheme", s, bf], env=env, stdout=subprocess.PIPE)
        p = subprocess.run([curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "@-", "--data-binary",
                            "@" + bf, "http://127.0.0.1:%d/%s/hook" % (run.srv.port, s)], env=env,
                           stdin=sign_p.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        sign_p.stdout.close()
        sign_p.wait(timeout=30)
        ok = run.tap.ok(p.stdout == b"200", "%s: hookline-sign --scheme %s body | curl -H @-: 200" % (s, s),
                        (p.stdout, p.stderr))
        if ok:
            run.stored[s] += 1
            rec = read_log(run.log(s))[-1][1]
            run.tap.ok(rec and rec["id"] == hashlib.sha256(body).hexdigest() and rec["key"] == 1,
                       "%s: curl's event logged, key 1" % s, rec)


def replace(headers, name, value):
    """headers with name's value replaced (None: removed)."""
    return [(k, value if k == name else v) for k, v in headers if not (k == name and value is None)]


def out_of_tolerance(s, secret, body, now):
    """Rightly signed, a minute outside the tolerance, either way."""
    return [("timestamp %+d s, rightly signed" % off, sign(s, secret, body, ts=now + off), "outside HOOKLINE_TOLERANCE")
            for off in (-(TOLERANCE + 60), TOLERANCE + 60)]


def malformed_standard(run):
    s, secret = "standard", run.secrets["standard"][0]
    body = run.body()
    now = int(time.time())
    good = sign(s, secret, body)
    sig = dict(good)["webhook-signature"][3:]
    wrong = base64.b64encode(b"\0" * 32).decode()
    table = [
        ("no webhook-id", replace(good, "webhook-id", None), "no webhook-id header"),
        ("no webhook-timestamp", replace(good, "webhook-timestamp", None), "no webhook-timestamp header"),
        ("no webhook-signature", replace(good, "webhook-signature", None), "no webhook-signature header"),
        ("empty list", replace(good, "webhook-signature", ""),
         ("holds no v1 signature", "no webhook-signature header")),
        ("a list of spaces", replace(good, "webhook-signature", "v2,x  v0,y"), "holds no v1 signature"),
        ("only another version", replace(good, "webhook-signature", "v2," + sig), "holds no v1 signature"),
        ("no version", replace(good, "webhook-signature", sig), "holds no v1 signature"),
        ("wrong separator v1=", replace(good, "webhook-signature", "v1=" + sig), "holds no v1 signature"),
        ("wrong version case V1,", replace(good, "webhook-signature", "V1," + sig), "holds no v1 signature"),
        ("bad base64", replace(good, "webhook-signature", "v1," + sig[:-2] + "*="), "not 32 bytes of base64"),
        ("base64 of 31 bytes", replace(good, "webhook-signature", "v1," + base64.b64encode(b"x" * 31).decode()),
         "not 32 bytes of base64"),
        ("base64 without padding", replace(good, "webhook-signature", "v1," + sig.rstrip("=")),
         "not 32 bytes of base64"),
        ("hex instead of base64", replace(good, "webhook-signature", "v1," + "ab" * 32), "not 32 bytes of base64"),
        ("whitespace after the comma", replace(good, "webhook-signature", "v1, " + sig), "holds no v1 signature"),
        ("a wrong v1 only", replace(good, "webhook-signature", "v1," + wrong), "signature does not match the body"),
        ("a bad v1 beside the good one", replace(good, "webhook-signature", "v1,AAAA v1," + sig),
         "not 32 bytes of base64"),
        ("duplicated webhook-signature", good + [("webhook-signature", "v1," + wrong)],
         ("not 32 bytes of base64", "does not match")),
        ("duplicated webhook-timestamp", good + [("webhook-timestamp", str(now))], "not a plain decimal"),
        ("empty webhook-id", replace(good, "webhook-id", ""), ("empty or holds a '.'", "no webhook-id header")),
        ("a '.' in webhook-id", replace(good, "webhook-id", "msg_a.b"), "empty or holds a '.'"),
        ("overflowing timestamp", replace(good, "webhook-timestamp", "9" * 25), "not a plain decimal"),
        ("18-digit timestamp", replace(good, "webhook-timestamp", "9" * 18), "outside HOOKLINE_TOLERANCE"),
        ("signed timestamp +", replace(good, "webhook-timestamp", "+%d" % now), "not a plain decimal"),
        ("signed timestamp -", replace(good, "webhook-timestamp", "-%d" % now), "not a plain decimal"),
        ("timestamp with a space inside", replace(good, "webhook-timestamp", "%d 0" % now), "not a plain decimal"),
        ("fractional timestamp", replace(good, "webhook-timestamp", "%d.5" % now), "not a plain decimal"),
        ("wrong secret", sign(s, new_secret(s), body), "signature does not match the body"),
        ("signed for another id", replace(good, "webhook-id", "msg_other"), "signature does not match the body"),
    ]
    return s, body, table + out_of_tolerance(s, secret, body, now)


def malformed_stripe(run):
    s, secret = "stripe", run.secrets["stripe"][0]
    body = run.body()
    now = int(time.time())
    good = sign(s, secret, body)
    v = dict(good)["Stripe-Signature"]
    t, v1 = v.split(",")
    h = lambda value: [("Stripe-Signature", value)]  # noqa: E731
    table = [
        ("no header", [], "no Stripe-Signature header"),
        ("empty header", h(""), ("has no timestamp", "no Stripe-Signature header")),
        ("no t=", h(v1), "has no timestamp (t=)"),
        ("no v1=", h(t), "has no v1 signature"),
        ("only v0=", h(t + ",v0=" + v1[3:]), "has no v1 signature"),
        ("duplicated t=", h("%s,%s,%s" % (t, t, v1)), "has two timestamps"),
        ("duplicated header, a stale one first", [("Stripe-Signature", "t=%d,v1=%s" % (now - 3600, "0" * 64)),
                                                  ("Stripe-Signature", v)], "outside HOOKLINE_TOLERANCE"),
        ("an empty part", h("%s,,%s" % (t, v1)), "no key=value"),
        ("a part without =", h("%s,v1%s" % (t, v1[3:])), "no key=value"),
        ("wrong version case V1=", h("%s,V1=%s" % (t, v1[3:])), "has no v1 signature"),
        ("bad hex", h("%s,v1=%s" % (t, "zz" + v1[5:])), "not 64 hex digits"),
        ("63 hex digits", h("%s,v1=%s" % (t, v1[3:-1])), "not 64 hex digits"),
        ("base64 instead of hex", h("%s,v1=%s" % (t, base64.b64encode(bytes.fromhex(v1[3:])).decode())),
         "not 64 hex digits"),
        ("whitespace after the comma", h("%s, %s" % (t, v1)), "has no v1 signature"),
        ("whitespace after t=", h("t= %d,%s" % (now, v1)), "not a plain decimal"),
        ("overflowing timestamp", h("t=%s,%s" % ("9" * 25, v1)), "not a plain decimal"),
        ("signed timestamp -", h("t=-%d,%s" % (now, v1)), "not a plain decimal"),
        ("signed timestamp +", h("t=+%d,%s" % (now, v1)), "not a plain decimal"),
        ("empty timestamp", h("t=,%s" % v1), "not a plain decimal"),
        ("wrong secret", sign(s, new_secret(s), body), "signature does not match the body"),
        ("another timestamp than signed", h("t=%d,%s" % (now - 1, v1)), "signature does not match the body"),
    ]
    return s, body, table + out_of_tolerance(s, secret, body, now)


def malformed_shopify(run):
    s, secret = "shopify", run.secrets["shopify"][0]
    body = run.body()
    b64 = dict(sign(s, secret, body))["X-Shopify-Hmac-Sha256"]
    h = lambda value: [("X-Shopify-Hmac-Sha256", value)]  # noqa: E731
    table = [
        ("no header", [], "no X-Shopify-Hmac-Sha256 header"),
        ("empty", h(""), ("not 32 bytes of base64", "no X-Shopify-Hmac-Sha256 header")),
        ("sha256= prefix", h("sha256=" + b64), "not 32 bytes of base64"),
        ("hex instead of base64", h(base64.b64decode(b64).hex()), "not 32 bytes of base64"),
        ("bad base64", h(b64[:-2] + "!="), "not 32 bytes of base64"),
        ("base64 of 20 bytes", h(base64.b64encode(b"y" * 20).decode()), "not 32 bytes of base64"),
        ("no padding", h(b64.rstrip("=")), "not 32 bytes of base64"),
        ("url-safe alphabet", h(base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode()), "not 32 bytes of base64"),
        ("whitespace inside", h(b64[:10] + " " + b64[10:]), "not 32 bytes of base64"),
        ("duplicated header", h(b64) + h(b64), "not 32 bytes of base64"),
        ("wrong secret", sign(s, new_secret(s), body), "signature does not match the body"),
    ]
    return s, body, table


def malformed_gitlab(run):
    s, secret = "gitlab", run.secrets["gitlab"][0]
    body = run.body()
    h = lambda value: [("X-Gitlab-Token", value)]  # noqa: E731
    table = [
        ("no header", [], "no X-Gitlab-Token header"),
        ("empty token", h(""), ("is not the secret", "no X-Gitlab-Token header")),
        ("a prefix of the token", h(secret[:-1]), "is not the secret"),
        ("the token and more", h(secret + "x"), "is not the secret"),
        ("whitespace inside", h(secret[:5] + " " + secret[5:]), "is not the secret"),
        ("other case", h(secret.upper()), "is not the secret"),
        ("duplicated header", h(secret) + h(secret), "is not the secret"),
        ("another token", h(new_secret(s)), "is not the secret"),
    ]
    return s, body, table


def malformed_hub(run):
    s, secret = "hub", run.secrets["hub"][0]
    body = run.body()
    good = dict(sign(s, secret, body))
    hex256, hex1 = good["X-Hub-Signature-256"][7:], good["X-Hub-Signature"][5:]
    table = [
        ("no header", [], "no X-Hub-Signature or X-Hub-Signature-256 header"),
        ("empty", [("X-Hub-Signature", "")], ("wrong length", "no X-Hub-Signature")),
        ("wrong prefix sha512=", [("X-Hub-Signature-256", "sha512=" + hex256)], "wrong length"),
        ("sha1= on the 256 header", [("X-Hub-Signature-256", "sha1=" + hex256)], "wrong length"),
        ("sha256= on the SHA-1 header", [("X-Hub-Signature", "sha256=" + hex256)], "wrong length"),
        ("bad hex", [("X-Hub-Signature-256", "sha256=" + "g" + hex256[1:])], "not hexadecimal"),
        ("39 hex digits", [("X-Hub-Signature", hex1[:-1])], "wrong length"),
        ("base64 instead of hex", [("X-Hub-Signature-256", "sha256=" + base64.b64encode(bytes.fromhex(hex256))
                                    .decode())], "wrong length"),
        ("whitespace inside", [("X-Hub-Signature-256", "sha256= " + hex256[1:])], "not hexadecimal"),
        ("duplicated header", [("X-Hub-Signature", hex1), ("X-Hub-Signature", hex1)], "wrong length"),
        ("a bad SHA-256 beside a good SHA-1", [("X-Hub-Signature", hex1), ("X-Hub-Signature-256", "sha256="
                                                                           + "0" * 64)],
         "signature does not match the body"),
        ("wrong secret", sign(s, new_secret(s), body), "signature does not match the body"),
    ]
    return s, body, table


def rotation(run):
    """Two secrets, then three, the new one first: each verifies, and the
    log's key is its line in the file."""
    for s in SCHEMES:
        old = run.secrets[s][0]
        two = [new_secret(s), old]
        run.set_secrets(s, two)
        for k, secret in enumerate(two, 1):
            body = run.body()
            run.accepted(s, sign(s, secret, body, delivery="rot2-%d" % k if s != "stripe" else None), body, k,
                         "2 secrets, signed with secret %d" % k)
        three = [new_secret(s)] + two
        run.set_secrets(s, three)
        for k, secret in enumerate(three, 1):
            body = run.body()
            run.accepted(s, sign(s, secret, body, delivery="rot3-%d" % k if s != "stripe" else None), body, k,
                         "3 secrets, signed with secret %d" % k)
        body = run.body()
        bf = run.srv.path("body-%s.json" % s)
        with open(bf, "wb") as f:
            f.write(body)
        run.accepted(s, sign_with_tool(s, run.secret_file(s), bf), body, 1,
                     "3 secrets: hookline-sign signs with the first")
        body = run.body()
        run.refused(s, sign(s, new_secret(s), body), body,
                    ("does not match the body", "is not the secret"), "3 secrets, signed with none of them")


def main():
    tap = Tap()
    run = Run(tap)
    valid_cases(run)
    curl_cases(run)
    before = {s: len(read_log(run.log(s))) for s in SCHEMES}
    for table in (malformed_standard, malformed_stripe, malformed_shopify, malformed_gitlab, malformed_hub):
        s, body, cases = table(run)
        for name, headers, reason in cases:
            run.refused(s, headers, body, reason, name)
    tap.eq({s: len(read_log(run.log(s))) for s in SCHEMES}, before, "nothing refused was logged")
    rotation(run)
    check_clean_shutdown(tap, run.srv)
    for s in SCHEMES:
        lines = read_log(run.log(s))
        tap.eq(len(lines), run.stored[s], "%s: the log holds exactly the %d events answered 200" % (s, run.stored[s]))
        tap.ok(all(rec is not None for _, rec in lines), "%s: every line is JSON" % s)
    logs = b"".join(open(run.log(s), "rb").read() for s in SCHEMES)
    err = run.srv.errors().encode()
    leaked = [x for x in sorted(run.seen) if x.encode() in logs or x.encode() in err]
    tap.eq(leaked, [], "no secret (GitLab's tokens included) in the event logs or the error log")
    tap.ok(all(rec["signature"] is None for _, rec in read_log(run.log("gitlab"))), "gitlab: signature is null")
    tap.done()


if __name__ == "__main__":
    main()
