#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""No certificate can be issued any more in the middle of a run, two ways:

- the issuing CA expires: a real CA (made here with python3-cryptography,
  imported with `ca import`) ends a few seconds after the run starts; its
  profile lets certificates outlive it, so the run is not refused at its
  start;
- the profile's fixed end passes: its `[validity] not-after` is a few
  seconds after the run starts (the CA lives 30 days).

`provision --count 3 --json` provisions the first board; the test waits
until the end has passed and puts the second board on the port. Checks that:

- the second device fails at its issue step, before anything is burned, and
  the error says what ended;
- the line stops: it does not wait for a third board;
- the run ends with exit 4 (the CA) or 3 (the profile), a summary and then
  an error event naming what ended, and the same on stderr;
- the database holds the first device provisioned, the second failed with no
  certificate, and the audit chain verifies.

If this machine was so slow that the end passed before the first board was
issued, the case starts again with an end twice as far.

And a watch waiting for boards, none coming, whose CA ends: it is told when
the end passes, not only at the next board; and one whose CA ends in a day
and a few seconds is told again when the day count changes."""
import datetime
import json
import re
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import fst_devsim_harness

STATION = os.environ["FST_STATION"]
DEVSIM = os.environ["FST_DEVSIM"]
TEMPLATES = os.environ["FST_TEMPLATES_DIR"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class TooSlow(Exception):
    """the end passed before the first board was issued"""


# what ends in each case: the exit status, the error code and what the
# error says
CASES = {
    "ca": (4, "ca-unavailable", "has expired"),
    "profile": (3, "config", "which has passed"),
}


def make_ca(name, key, issuer, issuer_key, not_after):
    now = datetime.datetime.utcnow()
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Expiry Test"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer.subject if issuer is not None else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0 if issuer else None),
                              critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def start_sim(tmp, uid, link):
    try:
        return fst_devsim_harness.start(DEVSIM, uid, link, os.path.join(tmp, uid + ".bin"),
                                        os.path.join(tmp, uid + ".ready"))
    except fst_devsim_harness.SimError as e:
        fail(str(e))


def make_workspace(case, tmp, end):
    """a workspace whose imported CA ends at @end ("ca") or in 20 days, and a
    profile that lets certificates outlive it ("ca") or ends at @end"""
    ws = os.path.join(tmp, "ws")
    passfile = os.path.join(tmp, "pass")
    write_private(passfile, b"expiry test pass phrase")
    env = dict(os.environ)
    env.pop("FLEETSTATION_CA_PASSPHRASE", None)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root = make_ca("Expiry Test Root CA", root_key, None, None,
                   datetime.datetime.utcnow() + datetime.timedelta(days=30))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_end = end if case == "ca" else int(time.time()) + 20 * 86400
    ca = make_ca("Expiry Test Issuing CA", ca_key, root, root_key,
                 datetime.datetime.utcfromtimestamp(ca_end))
    with open(os.path.join(tmp, "root.pem"), "wb") as f:
        f.write(root.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(tmp, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    write_private(os.path.join(tmp, "ca.key"),
                  ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    r = subprocess.run([STATION, "init", "--workspace", ws], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail("init: " + r.stdout + r.stderr)
    r = subprocess.run([STATION, "ca", "import", "--workspace", ws, "--cert", os.path.join(tmp, "ca.pem"),
                        "--key", os.path.join(tmp, "ca.key"), "--chain", os.path.join(tmp, "root.pem"),
                        "--passphrase-file", passfile], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail("ca import: " + r.stdout + r.stderr)

    # the demo profile, with certificates that may outlive the CA, or with
    # a fixed end: the run is not refused at its start
    with open(os.path.join(TEMPLATES, "profiles", "aws-iot-ecc.profile")) as f:
        text = f.read()
    text = text.replace("name=aws-iot-ecc", "name=expiry-test")
    if case == "ca":
        validity = "[validity]\ndays=30\nallow-outlive-ca=true"
    else:
        validity = "[validity]\nnot-after=" + \
            datetime.datetime.utcfromtimestamp(end).strftime("%Y-%m-%dT%H:%M:%SZ")
    if "[validity]\ndays=3650" not in text:
        fail("the demo profile changed: no [validity] days=3650 to replace")
    text = text.replace("[validity]\ndays=3650", validity)
    profile = os.path.join(tmp, "expiry-test.profile")
    with open(profile, "w") as f:
        f.write(text)
    return ws, passfile, profile, env


def run(case, tmp, lifetime, sims):
    exit_code, error_code, says = CASES[case]
    end = int(time.time()) + lifetime
    ws, passfile, profile, env = make_workspace(case, tmp, end)
    link = os.path.join(tmp, "port0")

    first = start_sim(tmp, "EXPIRY-1", link)
    sims.append(first)
    proc = subprocess.Popen([STATION, "provision", "--workspace", ws, "--port", link, "--count", "3",
                             "--profile", profile, "--passphrase-file", passfile, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sims.append(proc)
    events = []
    swapped = False
    # a line that goes on waits for a third board that never comes
    watchdog = threading.Timer(lifetime + 60, proc.kill)
    watchdog.start()
    for line in proc.stdout:
        ev = json.loads(line)
        events.append(ev)
        if ev.get("event") == "result" and ev.get("device") == "EXPIRY-1":
            if ev["result"] != "ok":
                proc.kill()
                proc.wait()
                if says in (ev.get("error") or ""):
                    raise TooSlow()
                fail("EXPIRY-1 was not provisioned: %s" % ev)
            # the end passes; then the technician puts the next board on
            fst_devsim_harness.stop(first, link)
            while time.time() < end + 1:
                time.sleep(0.1)
            sims.append(start_sim(tmp, "EXPIRY-2", link))
            swapped = True
    rc = proc.wait()
    killed = not watchdog.is_alive()
    watchdog.cancel()
    if killed:
        fail("the line went on after no certificate could be issued (it waited for a third "
             "board): %s" % events[-3:])
    err = proc.stderr.read()
    print(err, file=sys.stderr)
    if not swapped:
        fail("the first device never ended: %s" % events)

    results = [e for e in events if e.get("event") == "result"]
    if [(e["device"], e["result"]) for e in results] != [("EXPIRY-1", "ok"), ("EXPIRY-2", "failed")]:
        fail("results: %s" % results)
    second = results[1]
    if second.get("error_code") != error_code or says not in (second.get("error") or ""):
        fail("EXPIRY-2 did not fail for the %s's end: %s" % (case, second))
    steps = [e["step"] for e in events if e.get("event") == "progress" and e.get("device") == "EXPIRY-2"]
    if "issue" not in steps or steps[-1] != "failed" or "burn" in steps:
        fail("EXPIRY-2 did not fail at its issue step, before the burn: %s" % steps)
    # the exit status of what ended, a summary, then the error
    if rc != exit_code:
        fail("exit %d, expected %d (the %s)" % (rc, exit_code, case))
    if [e.get("event") for e in events[-2:]] != ["summary", "error"]:
        fail("the run did not end with a summary and an error: %s" % events[-2:])
    summary, error = events[-2], events[-1]
    if summary["exit_code"] != exit_code or summary["provisioned"] != 1 or summary["failed"] != 1 \
            or summary["cancelled"]:
        fail("summary: %s" % summary)
    if error["error_code"] != error_code or "the line stopped" not in error["error"] \
            or says not in error["error"] or "EXPIRY-2" not in error["error"]:
        fail("error event: %s" % error)
    if "the line stopped" not in err:
        fail("stderr does not say that the line stopped")

    # the records: one provisioned, one failed with no certificate
    db = sqlite3.connect(os.path.join(ws, "station.db"))
    rows = db.execute("select d.uid, d.state, count(c.id) from devices d "
                      "left join certificates c on c.device_id = d.id "
                      "group by d.id order by d.uid").fetchall()
    db.close()
    if rows != [("EXPIRY-1", "provisioned", 1), ("EXPIRY-2", "failed", 0)]:
        fail("the database holds %s" % rows)
    r = subprocess.run([STATION, "audit", "verify", "--workspace", ws], capture_output=True, text=True,
                       env=env)
    if r.returncode != 0:
        fail("audit verify: " + r.stdout + r.stderr)
    print("ok: the %s's end passed after %d s; the line stopped at the next board with exit %d"
          % (case, lifetime, exit_code))


def watch_until(tmp, end, told):
    """a watch waiting for boards, none coming, with a CA ending at @end and
    the station looking at it every 200 ms (FST_TEST_CA_CHECK_MS; every
    minute otherwise), stopped with Ctrl-C once a line of its stderr
    contains @told: its lines, when that was told (or None), its exit, and
    the workspace"""
    ws, passfile, profile, env = make_workspace("ca", tmp, end)
    env["FST_TEST_CA_CHECK_MS"] = "200"
    proc = subprocess.Popen([STATION, "watch", "--workspace", ws, "--port", os.path.join(tmp, "none*"),
                             "--profile", profile, "--passphrase-file", passfile],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    lines = []
    told_at = None
    for line in proc.stderr:
        lines.append(line.rstrip())
        if told in line:
            told_at = time.time()
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=30)[1]
    watchdog.cancel()
    return lines + rest.splitlines(), told_at, proc.returncode, ws


def ca_list_left(ws):
    """what `ca list` says of the issuing CA's time left"""
    r = subprocess.run([STATION, "ca", "list", "--workspace", ws], capture_output=True, text=True)
    m = re.search(r"^issuing-ca\n(?:  .*\n)*?  validity:  \S+ to \S+ \((.*)\)$", r.stdout, re.M)
    if r.returncode != 0 or m is None:
        fail("ca list: exit %d: %s%s" % (r.returncode, r.stdout, r.stderr))
        return None
    return m.group(1)


def first_index(lines, text):
    return next((i for i, l in enumerate(lines) if text in l), None)


def run_idle(tmp):
    """the CA's end is told as it passes, not only at the next board, which
    the line would stop at"""
    end = int(time.time()) + 4
    lines, told_at, rc, ws = watch_until(tmp, end, "the issuing CA expired on")
    if told_at is None:
        fail("an idle watch was not told that the CA expired: %s" % lines)
    before = first_index(lines, "in less than a day: renew it now")
    if before is None or before > first_index(lines, "the issuing CA expired on"):
        fail("the watch's start did not warn of the CA's near end first: %s" % lines)
    if told_at < end or told_at > end + 10:
        fail("the CA's end (%d) was told at %.1f" % (end, told_at))
    if rc != 0:
        fail("the idle watch exited %d after Ctrl-C: %s" % (rc, lines))
    left = ca_list_left(ws)
    if left != "expired":
        fail("ca list says of an expired CA: (%s)" % left)
    print("ok: an idle watch was told the CA expired %.1f s after its end" % (told_at - end))


def run_days_pass(tmp):
    """a CA ending in a day and 4 s: told "in 1 day" at the start, then told
    again once the day count changes ("in less than a day")"""
    end = int(time.time()) + 86400 + 4
    lines, told_at, rc, ws = watch_until(tmp, end, "in less than a day: renew it now")
    if told_at is None:
        fail("a watch was not told again as the CA's last day began: %s" % lines)
    first = first_index(lines, ", in 1 day: renew it soon")
    if first is None or first > first_index(lines, "in less than a day"):
        fail("the watch's start did not say the CA ends in 1 day first: %s" % lines)
    if told_at < end - 86400 or told_at > end - 86400 + 10:
        fail("the CA's last day (from %d) was told at %.1f" % (end - 86400, told_at))
    if rc != 0:
        fail("the watch exited %d after Ctrl-C: %s" % (rc, lines))
    left = ca_list_left(ws)
    if left != "less than a day left":
        fail("ca list says of a CA in its last day: (%s)" % left)
    print("ok: a waiting watch was told again %.1f s after the CA's last day began"
          % (told_at - (end - 86400)))


def run_case(case):
    lifetime = 8
    for _ in range(3):
        tmp = tempfile.mkdtemp(prefix="fst-ca-expiry.")
        sims = []
        try:
            run(case, tmp, lifetime, sims)
            return
        except TooSlow:
            print("the %s's end passed before the first board was issued; again with %d s"
                  % (case, 2 * lifetime))
            lifetime *= 2
        finally:
            for p in sims:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            shutil.rmtree(tmp, ignore_errors=True)
    fail("the %s's end passed before the first board was issued, three times" % case)


def main():
    for case in CASES:
        run_case(case)
    for idle in (run_idle, run_days_pass):
        tmp = tempfile.mkdtemp(prefix="fst-ca-expiry.")
        try:
            idle(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
