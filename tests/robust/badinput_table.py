"""The hostile-input table shared by badinput.py and badinput_valgrind.py.

HTTP rows go through a real lighttpd to hookline (FastCGI) as raw bytes,
so that duplicated, empty, oversized or malformed headers reach the server
exactly as written; a few of them are answered by lighttpd itself (it
normalises the request line and Content-Length before any backend sees
them), and the table says so.  CGI rows set the environment and standard
input directly: CONTENT_LENGTH values that a web server would never pass
on, a body shorter or longer than declared, a missing REQUEST_METHOD.

Each row is (name, expected status, request).  A 200 row's body must then
be in the log exactly once, verbatim (a leading BOM dropped, CR and LF as
spaces), in table order.
"""

import hashlib
import hmac
import os
import subprocess
import time

from robustlib import harness

SECRET = "robust-badinput-secret-Jm4"
MIB = 1024 * 1024


def s1(body, secret=SECRET):
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest().encode()


def s256(body, secret=SECRET):
    return b"sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()


def http(body=b"", headers=None, method=b"POST", path=b"/hook", sig="sha1", length=True, raw_body=None,
         ctype=b"application/json"):
    """Raw HTTP/1.1 request bytes; headers is a list of (name, value)."""
    h = [(b"Host", b"127.0.0.1"), (b"Connection", b"close")]
    if ctype is not None:
        h.append((b"Content-Type", ctype))
    if sig == "sha1":
        h.append((b"X-Hub-Signature", s1(body)))
    elif sig == "sha256":
        h.append((b"X-Hub-Signature-256", s256(body)))
    h += headers or []
    if length:
        h.append((b"Content-Length", str(len(body)).encode()))
    head = method + b" " + path + b" HTTP/1.1\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in h)
    return head + b"\r\n" + (body if raw_body is None else raw_body)


def chunked(body):
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                    for i in range(0, len(body), 65536)) + b"0\r\n\r\n"


EV = b'{"job_id":"bad-input","status":"JOB_COMPLETED"}'
BIG_STRING = b'{"s":"' + b"x" * (MIB - 8) + b'"}'          # exactly 1 MiB
OVER = b'{"s":"' + b"x" * (MIB - 7) + b'"}'                # 1 MiB + 1
AT_1K = b'{"s":"' + b"y" * (1024 - 8) + b'"}'
DEEP = b"[" * 100000
DEEP_OBJ = b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"
MANY_KEYS = b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(50000)) + b"}"


def hdr_sig(value):
    return [(b"X-Hub-Signature", value)]


def http_rows():
    g = s1(EV)
    rows = [
        # ---- signature headers -------------------------------------------
        ("no signature header", 401, http(EV, sig=None)),
        ("empty X-Hub-Signature (lighttpd drops it: no header)", 401, http(EV, hdr_sig(b""), sig=None)),
        ("X-Hub-Signature twice, both right (joined with a comma)", 401,
         http(EV, hdr_sig(g) + hdr_sig(g), sig=None)),
        ("X-Hub-Signature twice, wrong then right", 401, http(EV, hdr_sig(b"0" * 40) + hdr_sig(g), sig=None)),
        ("signature one hex digit too long", 401, http(EV, hdr_sig(g + b"0"), sig=None)),
        ("signature of 4000 hex digits", 401, http(EV, hdr_sig(b"a" * 4000), sig=None)),
        ("signature header over lighttpd's header limit", 431, http(EV, hdr_sig(b"a" * 9000), sig=None)),
        ("non-hex signature", 401, http(EV, hdr_sig(b"g" * 40), sig=None)),
        ("odd-length signature (39 digits)", 401, http(EV, hdr_sig(g[:39]), sig=None)),
        ("sha1= with SHA-256 length", 401, http(EV, hdr_sig(b"sha1=" + s256(EV)[7:]), sig=None)),
        ("sha256= prefix in X-Hub-Signature", 401, http(EV, hdr_sig(b"sha256=" + g), sig=None)),
        ("bare sha1= prefix", 401, http(EV, hdr_sig(b"sha1="), sig=None)),
        ("X-Hub-Signature-256 with SHA-1 length", 401,
         http(EV, [(b"X-Hub-Signature-256", b"sha256=" + g)], sig=None)),
        ("X-Hub-Signature-256 carrying sha1=", 401, http(EV, [(b"X-Hub-Signature-256", b"sha1=" + g)], sig=None)),
        ("both headers: SHA-256 wrong, SHA-1 right", 401,
         http(EV, hdr_sig(g) + [(b"X-Hub-Signature-256", s256(EV, "other"))], sig=None)),
        ("both headers: SHA-256 right, SHA-1 wrong", 200,
         http(EV, hdr_sig(b"0" * 40) + [(b"X-Hub-Signature-256", s256(EV))], sig=None)),
        ("uppercase hex", 200, http(EV, hdr_sig(g.upper()), sig=None)),
        ("SHA1= prefix in capitals", 200, http(EV, hdr_sig(b"SHA1=" + g), sig=None)),
        ("bare hex in X-Hub-Signature-256", 200, http(EV, [(b"X-Hub-Signature-256", s256(EV)[7:])], sig=None)),
        ("empty X-Hub-Signature-256 beside a right X-Hub-Signature (dropped)", 200,
         http(EV, [(b"X-Hub-Signature-256", b"")])),
        ("signature of another body", 401, http(EV, hdr_sig(s1(EV + b" ")), sig=None)),
        ("signature with another secret", 401, http(EV, hdr_sig(s1(EV, "other")), sig=None)),
        ("space inside the signature", 401, http(EV, hdr_sig(b"sha1= " + g), sig=None)),
        ("bytes above 0x7f in the signature", 401, http(EV, hdr_sig(b"\xff" * 40), sig=None)),
        ("control character in the signature (lighttpd refuses)", 400,
         http(EV, hdr_sig(g[:5] + b"\x01" + g[6:]), sig=None)),
        # ---- methods ------------------------------------------------------
        ("GET", 405, http(b"", method=b"GET", sig=None, length=False)),
        ("PUT with a signed event", 405, http(EV, method=b"PUT")),
        ("DELETE", 405, http(b"", method=b"DELETE", sig=None, length=False)),
        ("PATCH with a signed event", 405, http(EV, method=b"PATCH")),
        ("HEAD", 405, http(b"", method=b"HEAD", sig=None, length=False)),
        ("OPTIONS", 405, http(b"", method=b"OPTIONS", sig=None, length=False)),
        ("lowercase post (lighttpd: unknown method)", 501, http(EV, method=b"post")),
        # ---- length and size ------------------------------------------------
        ("POST with no body (Content-Length: 0), signed", 400, http(b"")),
        ("POST without Content-Length (lighttpd: 411)", 411, http(EV, length=False)),
        ("Content-Length: -1 (lighttpd refuses)", 400, http(EV, [(b"Content-Length", b"-1")], length=False)),
        ("Content-Length not a number (lighttpd refuses)", 400,
         http(EV, [(b"Content-Length", b"abc")], length=False)),
        ("Content-Length huge (lighttpd: 413)", 413,
         http(EV, [(b"Content-Length", b"99999999999")], length=False)),
        ("two different Content-Length headers (lighttpd refuses)", 400,
         http(EV, [(b"Content-Length", b"8")])),
        ("Content-Length one short of the body: the signature no longer matches", 401,
         http(EV, [(b"Content-Length", str(len(EV) - 1).encode())], length=False)),
        ("body exactly at HOOKLINE_MAX_BODY=1k", 200, http(AT_1K, path=b"/small/hook")),
        ("body one byte over HOOKLINE_MAX_BODY=1k", 413,
         http(AT_1K[:-2] + b'y"}', path=b"/small/hook")),
        ("1 MB string: body exactly 1 MiB, the default limit", 200, http(BIG_STRING)),
        ("body 1 MiB + 1 byte", 413, http(OVER)),
        ("chunked body, signed", 200, http(EV + b" ", [(b"Transfer-Encoding", b"chunked")], length=False,
                                           raw_body=chunked(EV + b" "))),
        ("chunked body over 1 MiB", 413, http(OVER, [(b"Transfer-Encoding", b"chunked")], length=False,
                                              raw_body=chunked(OVER))),
        ("Expect: 100-continue", 200, http(EV + b"  ", [(b"Expect", b"100-continue")])),
        ("Content-Type text/plain", 200, http(EV + b"   ", ctype=b"text/plain")),
        ("Content-Type multipart/form-data", 200,
         http(EV + b"    ", ctype=b"multipart/form-data; boundary=x")),
        ("no Content-Type", 200, http(EV + b"     ", ctype=None)),
    ]
    bodies = [
        # ---- not UTF-8, not text ------------------------------------------
        ("invalid UTF-8 (0xff)", 400, b'{"a":"\xff"}'),
        ("overlong UTF-8 for '/'", 400, b'{"a":"\xc0\xaf"}'),
        ("UTF-8-encoded surrogate", 400, b'{"a":"\xed\xa0\x80"}'),
        ("code point above U+10FFFF", 400, b'{"a":"\xf4\x90\x80\x80"}'),
        ("5-byte UTF-8 lead byte", 400, b'{"a":"\xf8\x88\x80\x80\x80"}'),
        ("truncated UTF-8 sequence", 400, b'{"a":"\xe6\xbc"}'),
        ("invalid UTF-8 in a key", 400, b'{"\xfe":1}'),
        ("NUL byte in a string", 400, b'{"a":"x\x00y"}'),
        ("NUL byte after the object", 400, b"{}\x00"),
        ("raw control character in a string", 400, b'{"a":"\x01"}'),
        ("raw newline in a string", 400, b'{"a":"x\ny"}'),
        ("vertical tab as whitespace", 400, b'{"a":1}\x0b'),
        ("form feed as whitespace", 400, b'\x0c{"a":1}'),
        # ---- not an object ----------------------------------------------------
        ("100,000 [", 400, DEEP),
        ("100,000 nested arrays inside an object", 400, DEEP_OBJ),
        ("top-level array", 400, b"[1,2,3]"),
        ("top-level number", 400, b"42"),
        ("top-level string", 400, b'"event"'),
        ("top-level null", 400, b"null"),
        ("top-level true", 400, b"true"),
        ("empty body", 400, b""),
        ("whitespace only", 400, b" \r\n\t "),
        ("trailing garbage after the object", 400, b'{"a":1}x'),
        ("two objects", 400, b"{}{}"),
        ("truncated object", 400, b'{"a":1'),
        ("unterminated string", 400, b'{"a":"x}'),
        ("single quotes", 400, b"{'a':1}"),
        ("comment", 400, b'{/* c */"a":1}'),
        ("trailing comma in an object", 400, b'{"a":1,}'),
        ("trailing comma in an array", 400, b'{"a":[1,]}'),
        ("unknown escape \\x", 400, b'{"a":"\\x41"}'),
        ("short \\u escape", 400, b'{"a":"\\u12"}'),
        ("lone high surrogate escape", 400, b'{"a":"\\ud800"}'),
        ("lone low surrogate escape", 400, b'{"a":"\\udc00"}'),
        ("high surrogate escape then a non-surrogate", 400, b'{"a":"\\ud800\\u0041"}'),
        ("reversed surrogate pair", 400, b'{"a":"\\udc00\\ud800"}'),
        ("leading zero", 400, b'{"a":01}'),
        ("1.", 400, b'{"a":1.}'),
        (".5", 400, b'{"a":.5}'),
        ("lone minus", 400, b'{"a":-}'),
        ("+1", 400, b'{"a":+1}'),
        ("NaN", 400, b'{"a":NaN}'),
        ("Infinity", 400, b'{"a":Infinity}'),
        ("hex number", 400, b'{"a":0x10}'),
        ("BOM alone", 400, b"\xef\xbb\xbf"),
        ("two BOMs", 400, b"\xef\xbb\xbf\xef\xbb\xbf{}"),
        ("BOM after whitespace", 400, b" \xef\xbb\xbf{}"),
        # ---- odd but valid: stored verbatim -----------------------------------
        ("empty object", 200, b"{}"),
        ("duplicate keys (stored verbatim)", 200, b'{"a":1,"a":2}'),
        ("leading BOM (dropped from the log line)", 200, b'\xef\xbb\xbf{"bom":true}'),
        ("valid surrogate pair escape", 200, b'{"a":"\\ud83d\\ude00"}'),
        ("escaped NUL \\u0000", 200, b'{"a":"x\\u0000y"}'),
        ("raw U+2028 in a string", 200, b'{"a":"\xe2\x80\xa8"}'),
        ("CR LF between tokens (logged as spaces)", 200, b'{\r\n"a":\r\n1\r\n}\r\n'),
        ("number 1e999999", 200, b'{"a":1e999999}'),
        ("9007199254740993 and -0.0e-0", 200, b'{"a":9007199254740993,"b":-0.0e-0}'),
        ("50,000 keys", 200, MANY_KEYS),
    ]
    rows += [(name, st, http(body)) for name, st, body in bodies]
    return rows


def body_of(req):
    """The body a request carries, chunked transfer coding undone."""
    head, _, body = req.partition(b"\r\n\r\n")
    if b"Transfer-Encoding: chunked" not in head:
        return body
    out = b""
    while True:
        size, _, rest = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            return out
        out += rest[:n]
        body = rest[n + 2:]


def logged_form(body):
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    return body.replace(b"\r", b" ").replace(b"\n", b" ")


def cgi_rows():
    """(name, status, env changes, stdin) with the body EV unless stated."""
    g = s1(EV).decode()
    pre = EV[:-1] + b',"x":1}'
    return [
        ("CGI: no CONTENT_LENGTH", 411, {"CONTENT_LENGTH": None}, EV),
        ("CGI: empty CONTENT_LENGTH", 411, {"CONTENT_LENGTH": ""}, EV),
        ("CGI: CONTENT_LENGTH -1", 400, {"CONTENT_LENGTH": "-1"}, EV),
        ("CGI: CONTENT_LENGTH +47", 400, {"CONTENT_LENGTH": "+%d" % len(EV)}, EV),
        ("CGI: CONTENT_LENGTH abc", 400, {"CONTENT_LENGTH": "abc"}, EV),
        ("CGI: CONTENT_LENGTH with a leading space", 400, {"CONTENT_LENGTH": " %d" % len(EV)}, EV),
        ("CGI: CONTENT_LENGTH with a trailing space", 400, {"CONTENT_LENGTH": "%d " % len(EV)}, EV),
        ("CGI: CONTENT_LENGTH 0x10", 400, {"CONTENT_LENGTH": "0x10"}, EV),
        ("CGI: CONTENT_LENGTH 1e3", 400, {"CONTENT_LENGTH": "1e3"}, EV),
        ("CGI: CONTENT_LENGTH overflowing 64 bits", 400, {"CONTENT_LENGTH": "9" * 23}, EV),
        ("CGI: CONTENT_LENGTH 2^64-1", 413, {"CONTENT_LENGTH": "18446744073709551615"}, EV),
        ("CGI: CONTENT_LENGTH 1 MiB + 1", 413, {"CONTENT_LENGTH": str(MIB + 1)}, EV),
        ("CGI: CONTENT_LENGTH larger than the body", 400, {"CONTENT_LENGTH": str(len(EV) + 10)}, EV),
        ("CGI: nothing on stdin", 400, {"CONTENT_LENGTH": str(len(EV))}, b""),
        ("CGI: CONTENT_LENGTH smaller than the body, signature of the whole", 401,
         {"CONTENT_LENGTH": str(len(EV) - 1)}, EV),
        ("CGI: CONTENT_LENGTH smaller than the body, signature of the prefix", 200,
         {"CONTENT_LENGTH": str(len(pre)), "HTTP_X_HUB_SIGNATURE": s1(pre).decode()}, pre + b"trailing junk"),
        ("CGI: CONTENT_LENGTH 0 with a body (signed empty body)", 400,
         {"CONTENT_LENGTH": "0", "HTTP_X_HUB_SIGNATURE": s1(b"").decode()}, EV),
        ("CGI: CONTENT_LENGTH with leading zeros", 200, {"CONTENT_LENGTH": "000%d" % len(EV)}, EV),
        ("CGI: no REQUEST_METHOD", 405, {"REQUEST_METHOD": None}, EV),
        ("CGI: REQUEST_METHOD post", 405, {"REQUEST_METHOD": "post"}, EV),
        ("CGI: newline inside the signature", 401, {"HTTP_X_HUB_SIGNATURE": g[:20] + "\n" + g[20:]}, EV),
        ("CGI: 100 KB signature", 401, {"HTTP_X_HUB_SIGNATURE": "a" * 100000}, EV),
        ("CGI: empty X-Hub-Signature-256 beside a right X-Hub-Signature", 401,
         {"HTTP_X_HUB_SIGNATURE_256": ""}, EV),
        ("CGI: hostile REMOTE_ADDR (quote, backslash, newline, 0xff) stored escaped", 200,
         {"REMOTE_ADDR": 'a"b\\c\nd\x7f\udcff', "CONTENT_LENGTH": str(len(EV) + 1),
          "HTTP_X_HUB_SIGNATURE": s1(EV + b" ").decode()}, EV + b" "),
        ("CGI: 10 KB REQUEST_URI", 401, {"REQUEST_URI": "/" + "u" * 10000, "HTTP_X_HUB_SIGNATURE": "0" * 40}, EV),
    ]


def run_http(port, rows, timeout):
    """Sends each row; returns [(name, want, got, seconds, response)]."""
    out = []
    for name, want, req in rows:
        t = time.time()
        try:
            resp = harness.raw_request(port, req, shut_write=False, timeout=timeout)
        except OSError as e:
            resp = repr(e).encode()
        got = None
        if resp.startswith(b"HTTP/1."):
            try:
                got = int(resp.split(b" ", 2)[1])
            except ValueError:
                pass
        out.append((name, want, got, time.time() - t, resp))
    return out


def cgi_env(changes, body, logpath):
    env = {"HOOKLINE_SECRET": SECRET, "HOOKLINE_LOG": logpath, "REQUEST_METHOD": "POST",
           "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "192.0.2.9", "REQUEST_URI": "/cgi-bin/hookline",
           "HTTP_X_HUB_SIGNATURE": s1(EV).decode()}
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_cgi(rows, logpath, workdir, prefix=(), timeout=60):
    """Runs each CGI row; returns [(name, want, got, seconds, exit status, stderr, stdout)]."""
    out = []
    for name, want, changes, body in rows:
        env = harness.child_env(cgi_env(changes, body, logpath), workdir)
        env = {k: (v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v) for k, v in env.items()}
        t = time.time()
        try:
            p = subprocess.run(list(prefix) + [harness.BIN], input=body, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout)
            got = int(p.stdout.split(b"\r\n")[0].split()[1]) if p.stdout.startswith(b"Status: ") else None
            rc, err, resp = p.returncode, p.stderr.decode(errors="replace"), p.stdout
        except subprocess.TimeoutExpired:
            got, rc, err, resp = None, "timeout", "", b""
        out.append((name, want, got, time.time() - t, rc, err, resp))
    return out


def expected_log(http_rows_, cgi_rows_):
    """The events the 200 rows must leave, in order: (http list, cgi list)."""
    h = [logged_form(body_of(req)) for name, st, req in http_rows_ if st == 200]
    c = []
    for name, st, changes, body in cgi_rows_:
        if st == 200:
            n = int(changes.get("CONTENT_LENGTH", len(body)))
            c.append(logged_form(body[:n]))
    return h, c


def events_in(path):
    lines = harness.read_log(path)
    return [harness.logged_event_bytes(ln) for ln, rec in lines], [rec for ln, rec in lines]


def proc_alive(pid):
    return os.path.exists("/proc/%d" % pid)
