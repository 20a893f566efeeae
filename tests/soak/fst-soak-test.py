#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Soak: FST_SOAK_DEVICES (2,000) simulated devices through FST_SOAK_PORTS (16)
ports in one `fleetstation provision --count` run, each port taking the next
board as the one before it leaves. One device in a hundred has an injected
fault (bit errors, disconnect, reboot in a write, storage full, a lying
device that signs with another key). Checks that every device ends
provisioned with a verified certificate, or failed with a recorded reason
(and every device without a fault provisioned); that the database, the
devices (devsim --dump), the audit chain (audit verify) and the AWS IoT
registration peer agree: the profile registers every certificate with AWS
IoT, the job's registration worker drains the queue to a local peer (moto
behind tests/integration/fst-aws-peer.py) while the line runs, and the peer
holds each provisioned device's certificate exactly once and no other; and
that the station's RSS at the last device is at most 1.2x its RSS at device
200, and that it holds no more open descriptors then than at device 200,
give or take two a port (a leak of one a device would end a long shift). Without moto (not in Debian; FST_MOTO_PYTHON names a Python that has
it) the soak runs without registration, checks everything else, says so and
exits 77 (label moto). Exit 77 when a tool is missing."""
import base64
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import json
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import fst_devsim_harness  # noqa: E402

STATION = os.environ["FST_STATION"]
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "fst-aws-peer.py")
DEVSIM = os.environ["FST_DEVSIM"]
N = int(os.environ.get("FST_SOAK_DEVICES", "2000"))
PORTS = int(os.environ.get("FST_SOAK_PORTS", "16"))
RSS_EARLY = min(200, N)
RSS_LIMIT = 1.2

# one device in a hundred: (name, devsim options, whether it may still provision)
FAULTS = [
    ("bit-errors", ["--fault-bit-errors", "0.0005"], True),
    ("disconnect", ["--fault-disconnect-after", "700"], False),
    ("reboot-in-write", ["--fault-reboot-in-write", "2"], False),
    ("storage-full", ["--fault-storage-limit", "300"], False),
    ("lying-device", ["--fault-wrong-key"], False),
]

ws = tempfile.mkdtemp(prefix="fst-soak.", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
W = os.path.join(ws, "w")
LINKS = os.path.join(ws, "links")
STORAGE = os.path.join(ws, "storage")
os.makedirs(LINKS)
os.makedirs(STORAGE)
env = dict(os.environ)
env.pop("FLEETSTATION_CA_PASSPHRASE", None)
peer = None  # the AWS IoT peer's process and URL, when moto is there


def fail(msg):
    print("FAIL: " + msg, flush=True)
    stop_registration_peer()
    sys.exit(1)


def uid_of(i):
    return "SOAK-%05d" % i


def fault_of(i):
    if i % 100 != 50:
        return None
    return FAULTS[(i // 100) % len(FAULTS)]


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


results = {}
results_cv = threading.Condition()
rss = {}
fds = {}


def reader(proc):
    count = 0
    last = None
    for line in proc.stdout:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "summary":
            with results_cv:
                results["__summary__"] = ev
                results_cv.notify_all()
            continue
        if ev.get("event") != "result":
            continue
        count += 1
        last = rss_kib(proc.pid) or last
        if count == RSS_EARLY:
            rss["early"] = last
            fds["early"] = open_fds(proc.pid)
        if count == N:
            rss["last"] = last
            fds["last"] = open_fds(proc.pid)
        with results_cv:
            results[ev["device"]] = ev
            results_cv.notify_all()
    with results_cv:
        results["__eof__"] = True
        results_cv.notify_all()


def start_sim(port, i):
    link = os.path.join(LINKS, "p%d" % port)
    for _ in range(500):
        if not os.path.lexists(link):
            break
        time.sleep(0.01)
    else:
        fail("the link of port %d stayed after its simulator ended" % port)
    extra = fault_of(i)[1] if fault_of(i) else []
    try:
        return fst_devsim_harness.start(DEVSIM, uid_of(i), link, os.path.join(STORAGE, uid_of(i)),
                                        os.path.join(ws, "p%d.ready" % port), "--baud", "921600",
                                        "--seed", str(i), *extra)
    except fst_devsim_harness.SimError as e:
        fail(str(e))


errors = []


def port_worker(port, first_sim):
    sim = first_sim
    mine = list(range(port, N, PORTS))
    for k, i in enumerate(mine):
        if sim is None:
            sim = start_sim(port, i)
        with results_cv:
            ok = results_cv.wait_for(lambda: uid_of(i) in results or "__eof__" in results, timeout=300)
        if not ok or uid_of(i) not in results:
            errors.append("no result for %s on port %d" % (uid_of(i), port))
            sim.terminate()
            return
        sim.terminate()
        sim.wait()
        sim = None


def main():
    for tool in ("sqlite3",):
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed" % tool)
            sys.exit(77)
    profile = start_registration_peer()
    cmd = [STATION, "init", "--workspace", W, "--demo-ca", "--profile", profile, "--lot", "LOT-SOAK",
           "--baud", "921600"]
    for p in range(PORTS):
        cmd += ["--port", os.path.join(LINKS, "p%d" % p)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail("init: " + r.stdout + r.stderr)

    t0 = time.monotonic()
    first = [start_sim(p, p) if p < N else None for p in range(PORTS)]
    cmd = [STATION, "provision", "--workspace", W, "--json", "--count", str(N)]
    for p in range(PORTS):
        cmd += ["--port", os.path.join(LINKS, "p%d" % p)]
    station = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(os.path.join(ws, "station.err"), "w"),
                               text=True, env=env)
    rt = threading.Thread(target=reader, args=(station,))
    rt.start()
    workers = [threading.Thread(target=port_worker, args=(p, first[p])) for p in range(min(PORTS, N))]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    try:
        rc = station.wait(timeout=120)
    except subprocess.TimeoutExpired:
        station.kill()
        fail("the station did not end after the last device")
    rt.join()
    elapsed = time.monotonic() - t0
    if errors:
        fail("; ".join(errors[:10]))
    summary = results.get("__summary__")
    if summary is None:
        fail("no summary from the station (exit %d): %s" % (rc, open(os.path.join(ws, "station.err")).read()))

    # every device: provisioned with a verified certificate, or failed with a reason
    db = sqlite3.connect(os.path.join(W, "station.db"))
    rows = {uid: (state, err) for uid, state, err in db.execute("select uid, state, last_error from devices")}
    if len(rows) != N:
        fail("the database holds %d devices, not %d" % (len(rows), N))
    provisioned = failed = 0
    by_fault = {}
    for i in range(N):
        uid = uid_of(i)
        f = fault_of(i)
        if uid not in rows:
            fail("%s is not in the database" % uid)
        state, err = rows[uid]
        res = results.get(uid)
        if res is None:
            fail("the station reported no result for %s" % uid)
        if state == "provisioned":
            provisioned += 1
            if res["result"] != "ok":
                fail("%s is provisioned in the database but the station reported %s" % (uid, res["result"]))
            if f is not None and not f[2]:
                fail("%s with fault %s was provisioned" % (uid, f[0]))
        elif state == "failed":
            failed += 1
            if not err:
                fail("%s failed without a recorded reason" % uid)
            if res["result"] == "ok":
                fail("%s failed in the database but the station reported ok" % uid)
            if f is None:
                fail("%s without a fault failed: %s" % (uid, err))
        else:
            fail("%s ended %s" % (uid, state))
        if f is not None:
            by_fault.setdefault(f[0], []).append("%s: %s" % (state, (err or "")[:100]))
    if summary["provisioned"] != provisioned or summary["failed"] != failed:
        fail("the station's summary (%d provisioned, %d failed) is not the database's (%d, %d)"
             % (summary["provisioned"], summary["failed"], provisioned, failed))

    # the database and the devices agree: what each provisioned device holds
    # is its newest certificate, verified
    certs = {}
    for uid, der, state in db.execute("select d.uid, c.der, c.state from certificates c join devices d on "
                                      "d.id = c.device_id where d.state = 'provisioned' order by c.id"):
        certs[uid] = (der, state)
    for i in range(N):
        uid = uid_of(i)
        if rows[uid][0] != "provisioned":
            continue
        der, state = certs.get(uid, (None, None))
        if state not in ("verified", "registered"):
            fail("the newest certificate of provisioned %s is %s" % (uid, state))
        r = subprocess.run([DEVSIM, "--storage", os.path.join(STORAGE, uid), "--dump", "device-cert"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            fail("devsim --dump of %s exited %d" % (uid, r.returncode))
        pem = "".join(l for l in r.stdout.splitlines() if l and not l.startswith("-----"))
        if base64.b64decode(pem) != der:
            fail("%s holds another certificate than the database's" % uid)

    registered = check_registration_peer(db, rows, certs)

    # the audit chain covers all of it, the registrations included
    r = subprocess.run([STATION, "audit", "verify", "--workspace", W], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail("audit verify: " + r.stdout + r.stderr)
    events = db.execute("select count(*) from events").fetchone()[0]

    early, last = rss.get("early"), rss.get("last")
    print("soak: %d devices through %d ports in %.1f s: %d provisioned, %d failed, %d events"
          % (N, PORTS, elapsed, provisioned, failed, events))
    for name, outcomes in sorted(by_fault.items()):
        print("soak: fault %s: %d devices; e.g. %s" % (name, len(outcomes), outcomes[0]))
    print("soak: station RSS at device %d: %s KiB, at device %d: %s KiB" % (RSS_EARLY, early, N, last))
    if early is None or last is None:
        fail("could not read the station's RSS")
    if last > RSS_LIMIT * early:
        fail("the station's RSS grew from %d to %d KiB (more than %.1fx)" % (early, last, RSS_LIMIT))
    print("soak: station's open descriptors at device %d: %s, at device %d: %s"
          % (RSS_EARLY, fds.get("early"), N, fds.get("last")))
    if fds.get("early") is None or fds.get("last") is None:
        fail("could not count the station's open descriptors")
    if fds["last"] > fds["early"] + 2 * PORTS:
        fail("the station's open descriptors grew from %d to %d" % (fds["early"], fds["last"]))
    stop_registration_peer()
    shutil.rmtree(ws, ignore_errors=True)
    if registered is None:
        print("SKIP: the soak passed without its AWS IoT registration part: moto (the local AWS IoT peer) "
              "is not installed in this Python (not in Debian); set FST_MOTO_PYTHON to one that has it")
        sys.exit(77)
    print("soak: %d certificates registered with the AWS IoT peer, each once" % registered)
    print("soak: ok")


def start_registration_peer():
    """Starts the local AWS IoT peer and returns the path of a profile that
    registers every certificate there (the job's registration worker); without
    moto, says so and returns the profile without registration."""
    global peer
    python = os.environ.get("FST_MOTO_PYTHON", "python3")
    port_file = os.path.join(ws, "peer.port")
    proc = subprocess.Popen([python, PEER, port_file], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(ws, "peer.err"), "w"))
    for _ in range(600):
        if os.path.exists(port_file):
            break
        if proc.poll() is not None:
            if proc.returncode != 77:
                fail("the AWS IoT peer exited %d: %s" % (proc.returncode, open(os.path.join(ws, "peer.err")).read()))
            print("soak: moto is not installed in %s: the AWS IoT registration part is left out" % python,
                  flush=True)
            return "aws-iot-ecc"
        time.sleep(0.1)
    else:
        proc.kill()
        fail("the AWS IoT peer did not start")
    url = "http://127.0.0.1:%s" % open(port_file).read().strip()
    peer = (proc, url)
    env.update({"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "soak-secret", "AWS_CONFIG_FILE": "/nonexistent",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL_IOT", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    templates = os.environ["FST_TEMPLATES_DIR"]
    with open(os.path.join(templates, "profiles", "aws-iot-ecc.profile")) as f:
        text = f.read()
    text = text.replace("name=aws-iot-ecc", "name=soak-aws-register", 1)
    text += "\n[aws]\nregister=true\nregion=us-east-1\nthing-name=soak-{uid}\nwith-ca=false\nstatus=active\n"
    path = os.path.join(ws, "soak-aws-register.profile")
    with open(path, "w") as f:
        f.write(text)
    return path


def stop_registration_peer():
    if peer is not None and peer[0].poll() is None:
        peer[0].terminate()
        peer[0].wait()


def check_registration_peer(db, rows, certs):
    """The registration queue and the AWS IoT peer against the database: every
    provisioned device's certificate registered exactly once, with its AWS id
    (the SHA-256 of the DER), and active; a certificate of a failed device
    (revoked when its burn failed) never active there: skipped by the worker,
    or, when the worker had already registered it, revoked there. What the job's
    worker left in the queue at the end of the run goes with `register push`,
    as an operator would send it. Returns the number registered, or None
    without the peer."""
    if peer is None:
        return None
    left = db.execute("select count(*) from registrations where state != 'done'").fetchone()[0]
    print("soak: %d registrations left in the queue when the job ended" % left, flush=True)
    if left:
        r = subprocess.run([STATION, "register", "push", "--workspace", W, "--region", "us-east-1",
                            "--thing-name", "soak-{uid}"], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            fail("register push: " + r.stdout + r.stderr)
    with urllib.request.urlopen(peer[1] + "/__peer/stats", timeout=30) as f:
        got = json.load(f)["registered_ids"]
    want = {hashlib.sha256(certs[uid][0]).hexdigest(): uid for uid, (state, _) in rows.items()
            if state == "provisioned"}
    queue = {}
    for uid, dstate, der, action, state, remote in db.execute(
            "select d.uid, d.state, c.der, r.action, r.state, r.remote_id from registrations r "
            "join certificates c on c.id = r.certificate_id join devices d on d.id = c.device_id"):
        queue.setdefault(hashlib.sha256(der).hexdigest(), {"uid": uid, "device": dstate})[action] = (state, remote)
    twice = sorted(cid for cid, n in got.items() if n != 1)
    if twice:
        fail("the peer registered %d certificates more than once, e.g. %s" % (len(twice), twice[0]))
    missing = sorted(want[cid] for cid in set(want) - set(got))
    if missing:
        fail("%d provisioned devices' certificates are not registered at the peer, e.g. %s"
             % (len(missing), missing[:5]))
    for cid, uid in want.items():
        state, remote = queue.get(cid, {}).get("register", (None, None))
        if state != "done" or not remote or not remote.endswith(":cert/" + cid):
            fail("the registration row of %s is %s (%s), not done with its AWS id" % (uid, state, remote))
        if "deactivate" in queue[cid] or "revoke" in queue[cid]:
            fail("the certificate of provisioned %s was deactivated or revoked" % uid)
    skipped = revoked = 0
    revoked_at_peer = []
    for cid, q in queue.items():
        if cid in want:
            continue
        if q["device"] != "failed":
            fail("%s (%s) has a registration row but is not the certificate of a provisioned device"
                 % (q["uid"], q["device"]))
        if any(state != "done" for state, _ in (q.get("register"), q.get("revoke", ("done", None)))):
            fail("the registration rows of failed %s are not done: %s" % (q["uid"], q))
        if cid in got:
            if "revoke" not in q:
                fail("failed %s's certificate is registered at the peer and was not revoked" % q["uid"])
            revoked_at_peer.append(cid)
            revoked += 1
        else:
            if q["register"][1] is not None:
                fail("failed %s's certificate has an AWS id but the peer does not have it" % q["uid"])
            skipped += 1
    extra = set(got) - set(want) - set(revoked_at_peer)
    if extra:
        fail("the peer holds %d certificates of no device, e.g. %s" % (len(extra), sorted(extra)[0]))
    for cid in revoked_at_peer:
        status = peer_certificate_status(cid)
        if status != "REVOKED":
            fail("failed %s's certificate is %s at the peer, not REVOKED" % (queue[cid]["uid"], status))
    print("soak: failed devices' certificates: %d never registered (revoked first), %d revoked at the peer"
          % (skipped, revoked))
    return len(want)


def peer_certificate_status(cid):
    """DescribeCertificate at the peer, signed as the AWS CLI would (botocore
    comes with moto)"""
    import boto3
    iot = boto3.client("iot", endpoint_url=peer[1], region_name="us-east-1",
                       aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="soak-secret")
    return iot.describe_certificate(certificateId=cid)["certificateDescription"]["status"]


if __name__ == "__main__":
    main()
