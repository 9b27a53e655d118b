"""hookline.conf beside a CGI program, and hookline --check.

suEXEC hands a CGI program only its own list of variables, so SetEnv never
arrives; a CGI hookline reads hookline.conf from its own directory instead,
and when the file is there it alone decides.  hookline --check, run where
the program sits, says in plain words whether the configuration is usable
and what to change, never showing the secret."""

import os
import shutil
import subprocess

from harness import BIN, Tap, Workdir, child_env, event_body, read_log, sha1_sig

SECRET = "conffile-secret-Tk5"
tap = Tap()
work = Workdir()
prog_dir = os.path.join(work.path, "cgi-bin")
data = os.path.join(work.path, "hookline")
os.mkdir(prog_dir)
os.mkdir(data)
prog = os.path.join(prog_dir, "hookline.cgi")
shutil.copy(BIN, prog)
conf = os.path.join(prog_dir, "hookline.conf")
secret = os.path.join(data, "secret")
log = os.path.join(data, "events.jsonl")
with open(secret, "w") as f:
    f.write(SECRET + "\n")
os.chmod(secret, 0o600)


def write_conf(text, mode=0o600):
    with open(conf, "w") as f:
        f.write(text)
    os.chmod(conf, mode)


def request(body, key=SECRET, env=None):
    """One CGI request to the copied program; (status, stderr)."""
    e = child_env(dict({"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)),
                        "HTTP_X_HUB_SIGNATURE": sha1_sig(key, body), "REMOTE_ADDR": "192.0.2.9"},
                       **(env or {})), work.path)
    p = subprocess.run([prog], input=body, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    head = p.stdout.split(b"\r\n\r\n")[0].decode("latin-1")
    status = int(head.split("Status: ")[1].split()[0]) if "Status: " in head else 0
    return status, p.stderr.decode(errors="replace")


def check(env=None, cwd=prog_dir):
    e = child_env(env or {}, work.path)
    p = subprocess.run([prog, "--check"], env=e, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


GOOD = "# settings of this CGI program\n\nHOOKLINE_SECRET_FILE=%s\nHOOKLINE_LOG=%s\n" % (secret, log)
write_conf(GOOD)
st, err = request(event_body(1))
tap.eq(st, 200, "hookline.conf beside the program: a signed event: 200")
tap.eq(request(event_body(2), key="other")[0], 401, "a wrong signature: 401")
st, err = request(event_body(3), key="env-secret",
                  env={"HOOKLINE_SECRET": "env-secret", "HOOKLINE_LOG": os.path.join(data, "env.jsonl")})
tap.eq(st, 401, "the environment's HOOKLINE_* (an .htaccess SetEnv) cannot override hookline.conf")
tap.ok("ignoring HOOKLINE_* request parameters (SetEnv): hookline.conf" in err, "and the error log says so", err)
tap.ok(not os.path.exists(os.path.join(data, "env.jsonl")), "no log where the environment pointed")
tap.eq([rec["event"]["job_id"] for _, rec in read_log(log)], ["job-000001"], "the log holds the one event")

rc, out = check()
tap.ok(rc == 0 and "settings: %s" % conf in out and "usable" in out and "secret of %d bytes" % len(SECRET) in out,
       "--check: usable, says where the settings come from", out)
tap.ok(SECRET not in out, "--check never shows the secret")

for text, mode, why, label in (
        (GOOD, 0o644, "may be read or changed by others (mode 0644)", "hookline.conf readable by others"),
        (GOOD, 0o620, "may be read or changed by others (mode 0620)", "hookline.conf writable by the group"),
        (GOOD + "HOOKLINE_SECERT=x\n", 0o600, "HOOKLINE_SECERT is not a setting", "a misspelt setting"),
        (GOOD + "HOOKLINE_SYNC = none\n", 0o600, "line 5: expected NAME=value", "spaces around '='"),
        (GOOD + "HOOKLINE_SYNC=sometimes\n", 0o600, "HOOKLINE_SYNC must be", "a bad value")):
    write_conf(text, mode)
    st, err = request(event_body(10))
    tap.ok(st == 500 and why in err, "%s: 500 with the reason in the error log" % label, (st, err))
    rc, out = check()
    tap.ok(rc == 1 and why in out and "not usable" in out, "%s: --check says so and exits 1" % label, out)

write_conf(GOOD)
os.chmod(secret, 0o644)
rc, out = check()
tap.ok(rc == 1 and "HOOKLINE_SECRET_FILE" in out and "0644" in out and "chmod" in out and SECRET not in out,
       "--check: a secret file others may read: named, with its mode and the fix, secret not shown", out)
os.chmod(secret, 0o600)
write_conf("HOOKLINE_SECRET_FILE=%s\nHOOKLINE_LOG=%s/missing/events.jsonl\n" % (secret, data))
rc, out = check()
tap.ok(rc == 1 and "%s/missing" % data in out and "cannot be created" in out,
       "--check: a log directory that does not exist is named", out)
os.unlink(conf)
rc, out = check({"HOOKLINE_SECRET_FILE": secret, "HOOKLINE_LOG": log})
tap.ok(rc == 0 and "settings: the environment" in out, "--check without hookline.conf: the environment", out)
rc, out = check({"HOOKLINE_LOG": log})
tap.ok(rc == 1 and "no secret" in out, "--check: no secret anywhere is a problem", out)
rc, out = check({"HOOKLINE_SECRET_FILE": secret, "HOOKLINE_LOG": log, "HOOKLINE_PLUGIN": "/nonexistent/p.so"})
tap.ok(rc == 1 and "cannot load /nonexistent/p.so" in out, "--check: a plugin that cannot be loaded", out)
tap.done()
