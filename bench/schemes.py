"""Per-event cost of each signature scheme: callgrind instructions per
event through serve_request() (bench/hl-events), 1000 events of the
sample hotglue body, HOOKLINE_SYNC=none, signatures made here with
Python's hmac (an oracle independent of hookline).

    python3 bench/schemes.py BUILDDIR     # after make bench-drivers
"""
import base64
import hashlib
import hmac
import os
import re
import subprocess
import sys
import time
B = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "vectors", "hotglue-job-completed.json")
body = open(B, "rb").read()
HL = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "bench", "hl-events")
def run(name, scheme, secret, params, env_extra=None):
    env = dict(os.environ, HOOKLINE_SECRET=secret, HOOKLINE_SCHEME=scheme)
    out = "/tmp/cgs-%s.out" % name
    log = "/tmp/cgs-%s.jsonl" % name
    if os.path.exists(log): os.unlink(log)
    p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                        "--toggle-collect=bench_events", HL, "1000", B, log] + params,
                       env=env, capture_output=True, text=True)
    m = re.search(r"Collected : (\d+)", p.stderr)
    ok = "stored 1000" in p.stderr
    print("%-10s %8.0f Ir/event %s" % (name, int(m.group(1)) / 1000 if m else -1, "" if ok else "NOT STORED " + p.stderr[-300:]))
now = str(int(time.time()))
s = "bench-secret"
run("hub", "hub", s, [hmac.new(s.encode(), body, hashlib.sha1).hexdigest()])
key = b"0123456789abcdef0123456789abcdef"
std = "whsec_" + base64.b64encode(key).decode()
mid = "msg_bench"
sig = base64.b64encode(hmac.new(key, (mid + "." + now + ".").encode() + body, hashlib.sha256).digest()).decode()
run("standard", "standard", std, ["HTTP_WEBHOOK_ID=" + mid, "HTTP_WEBHOOK_TIMESTAMP=" + now, "HTTP_WEBHOOK_SIGNATURE=v1," + sig])
st = "whsec_bench"
v1 = hmac.new(st.encode(), (now + ".").encode() + body, hashlib.sha256).hexdigest()
run("stripe", "stripe", st, ["HTTP_STRIPE_SIGNATURE=t=%s,v1=%s" % (now, v1), "X=1"])
run("shopify", "shopify", s, ["HTTP_X_SHOPIFY_HMAC_SHA256=" + base64.b64encode(hmac.new(s.encode(), body, hashlib.sha256).digest()).decode(), "X=1"])
run("gitlab", "gitlab", s, ["HTTP_X_GITLAB_TOKEN=" + s, "X=1"])
