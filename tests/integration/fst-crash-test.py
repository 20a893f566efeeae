#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Crash test of the station's records ("nothing issued is ever unknown").

Runs `fleetstation demo --workspace W --devices N` again and again and kills it
with SIGKILL at a random moment of each run (the simulated devices die with it:
PR_SET_PDEATHSIG). After each kill it restarts the station once (a short run
that must complete: opening the station marks what the dead run left
in-progress for re-work) and checks, from the outside:

- every certificate that any simulated device holds
  (`fleetstation-devsim --storage W/devsim/UID.bin --dump device-cert`) is in
  the database, by the SHA-256 of its DER, recorded for that device, with
  the device-cert object row committed with it (before the write);
- no serial number and no DER appears twice;
- no device is left `in-progress`; every device the killed run left
  in-progress is `rework` with an `interrupted` event;
- the audit chain is intact (`fleetstation audit verify`).

Then the same for devices that come back: two simulated boards with
A/B credential slots, provisioned once, are re-provisioned again and again with
the rework profile (`aws-iot-ecc-rework`: the new credentials go to the other
slot, ACTIVATE comes last) and the station is killed at random points of
those runs (FST_CRASH_REWORK_KILLS, default 15). After each kill, the
certificates in both slots of each board are in the database for that board;
after the restart run, the board's active slot holds the certificate the
database has in service, and the audit chain is intact.

Then the same with 16 lanes: runs of 16 simulated devices, one port worker
each, whose commits the database writes together (group commit: one
transaction for the lanes that reach a commit point at the same time), are
killed at random points (FST_CRASH_LANE_KILLS, default 10), with the same
checks after each kill and its restart; at least one transaction of those
runs must have recorded several devices, or the group commit was not
exercised.

Kill points are drawn over the time a whole run took; a run that ends before
its kill point is not a kill, and is tried again. The test fails when the
kill points keep missing (fewer than one kill in four tries after 20 tries),
not on wall time, so that a loaded machine only makes it slower.

One certificate unaccounted for fails the test. Environment: FST_STATION,
FST_DEVSIM (set by ctest), FST_CRASH_KILLS (default 40), FST_CRASH_DEVICES
(default 4), FST_CRASH_SEED (default: random, printed).
"""

import base64
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

STATION = os.environ.get("FST_STATION", "fleetstation")
DEVSIM = os.environ.get("FST_DEVSIM", "fleetstation-devsim")
KILLS = int(os.environ.get("FST_CRASH_KILLS", "40"))
DEVICES = int(os.environ.get("FST_CRASH_DEVICES", "4"))
SEED = int(os.environ.get("FST_CRASH_SEED", str(random.randrange(1 << 31))))
REWORK_KILLS = int(os.environ.get("FST_CRASH_REWORK_KILLS", "15"))
LANES = 16
LANE_KILLS = int(os.environ.get("FST_CRASH_LANE_KILLS", "10"))
# events the pipeline logs in a device's two commits (station/fst-pipeline.c):
# one `device-log` event per commit holding its steps, or (files written
# before schema v6) one event per step
PIPELINE_STEPS = ("device-log", "identify", "plan", "keygen", "issue", "burn", "verify",
                  "provisioned", "failed")


class KillPoints:
    """counts tries and kills; fails when the kill points keep missing the runs"""

    def __init__(self, what):
        self.what = what
        self.tries = 0
        self.kills = 0

    def tried(self, killed, full):
        self.tries += 1
        if killed:
            self.kills += 1
        if self.tries >= 20 and self.kills * 4 < self.tries:
            fail(f"only {self.kills} of {self.tries} {self.what} were killed before they "
                 f"ended (a whole run took {full:.2f} s): the kill points miss the runs")


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


# options every run gets, e.g. a profile (fst-aws-crash-test.py)
DEMO_OPTIONS = []


def demo(ws, devices):
    return [STATION, "demo", "--workspace", ws, "--devices", str(devices)] + DEMO_OPTIONS


def run_to_end(ws, devices):
    out = subprocess.run(demo(ws, devices), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=120, check=False)
    if out.returncode != 0:
        fail(f"an uninterrupted run failed ({out.returncode}):\n{out.stdout.decode(errors='replace')}")


def first_der(data):
    """the DER of the first certificate of a dumped object (PEM or DER)"""
    if data.startswith(b"-----BEGIN"):
        lines = data.decode().splitlines()
        end = lines.index("-----END CERTIFICATE-----")
        return base64.b64decode("".join(lines[1:end]))
    # DER: one SEQUENCE with a definite length
    if data[0] != 0x30:
        fail(f"dumped certificate is neither PEM nor DER: {data[:16].hex()}")
    n = data[1]
    if n < 0x80:
        return data[: 2 + n]
    k = n & 0x7F
    length = int.from_bytes(data[2 : 2 + k], "big")
    return data[: 2 + k + length]


def db_rows(ws, sql, args=()):
    con = sqlite3.connect(f"file:{ws}/station.db?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


# storage file -> (size, mtime_ns, sha256 of the certificate it holds or None)
DUMPED = {}


def held_certificate(path):
    """the SHA-256 of the certificate a simulated device holds, or None"""
    st = os.stat(path)
    known = DUMPED.get(path)
    if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
        return known[2]
    out = subprocess.run([DEVSIM, "--storage", path, "--dump", "device-cert"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, check=False)
    if out.returncode == 1:
        sha = None  # the device never got a certificate
    elif out.returncode != 0:
        fail(f"cannot dump {path}: {out.stderr.decode(errors='replace')}")
    else:
        sha = hashlib.sha256(first_der(out.stdout)).hexdigest()
    DUMPED[path] = (st.st_size, st.st_mtime_ns, sha)
    return sha


def check_certificates(ws):
    """every certificate on a simulated device is in the database, for that device"""
    held = 0
    simdir = os.path.join(ws, "devsim")
    for name in sorted(os.listdir(simdir)) if os.path.isdir(simdir) else []:
        if not name.endswith(".bin"):
            continue
        uid = name[: -len(".bin")]
        sha = held_certificate(os.path.join(simdir, name))
        if sha is None:
            continue
        rows = db_rows(ws, "SELECT d.uid, c.serial_hex FROM certificates c JOIN devices d ON "
                           "d.id = c.device_id WHERE c.aws_cert_id = ?", (sha,))
        if not rows:
            fail(f"device {uid} holds certificate sha256 {sha}, which is NOT in the database")
        if rows[0][0] != uid:
            fail(f"device {uid} holds certificate {rows[0][1]} recorded for {rows[0][0]}")
        # the object row is committed with the certificate, before the write
        objs = db_rows(ws, "SELECT count(*) FROM device_objects o JOIN certificates c ON "
                           "c.id = o.certificate_id WHERE c.aws_cert_id = ? AND "
                           "o.kind = 'device-cert'", (sha,))[0][0]
        if objs == 0:
            fail(f"device {uid} holds certificate {rows[0][1]} with no device-cert object row")
        held += 1
    dup = db_rows(ws, "SELECT serial_hex FROM certificates GROUP BY serial_hex HAVING count(*) > 1")
    if dup:
        fail(f"serial {dup[0][0]} appears twice")
    dup = db_rows(ws, "SELECT aws_cert_id FROM certificates GROUP BY aws_cert_id "
                      "HAVING count(*) > 1")
    if dup:
        fail(f"certificate {dup[0][0]} appears twice")
    return held


def dump(storage, obj):
    """what a two-slot board holds as OBJECT, or None"""
    out = subprocess.run([DEVSIM, "--cred-slots", "2", "--storage", storage, "--dump", obj],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, check=False)
    if out.returncode == 1:
        return None
    if out.returncode != 0:
        fail(f"cannot dump {obj} of {storage}: {out.stderr.decode(errors='replace')}")
    return out.stdout


def check_rework_board(ws, uid, storage, settled):
    """both slots' certificates are recorded for the board; once settled, its
    active slot holds the certificate the database has in service"""
    slots = {}
    for slot, obj in ((0, "device-cert"), (1, "device-cert-b")):
        data = dump(storage, obj)
        if data is None:
            continue
        sha = hashlib.sha256(first_der(data)).hexdigest()
        rows = db_rows(ws, "SELECT d.uid, c.slot, c.state FROM certificates c JOIN devices d "
                           "ON d.id = c.device_id WHERE c.aws_cert_id = ?", (sha,))
        if not rows:
            fail(f"board {uid} holds in slot {'AB'[slot]} certificate sha256 {sha}, "
                 "which is NOT in the database")
        if rows[0][0] != uid or rows[0][1] != slot:
            fail(f"board {uid} slot {'AB'[slot]} holds a certificate recorded for "
                 f"{rows[0][0]} slot {rows[0][1]}")
        slots[slot] = (sha, rows[0][2])
    if not settled:
        return
    active = int(dump(storage, "slots").decode().split("active-slot=")[1].split()[0])
    service = db_rows(ws, "SELECT c.aws_cert_id FROM certificates c JOIN devices d ON "
                          "d.id = c.device_id WHERE d.uid = ? AND c.state IN "
                          "('verified', 'registered')", (uid,))
    if len(service) != 1:
        fail(f"board {uid} has {len(service)} certificates in service, expected 1")
    if active not in slots or slots[active][0] != service[0][0]:
        fail(f"board {uid} uses slot {'AB'[active]}, which does not hold the certificate "
             "the database has in service")


def rework_phase(tmp, ws):
    """kills during rework runs of two A/B boards"""
    links = os.path.join(tmp, "links")
    os.makedirs(links)
    boards = []
    for i in (1, 2):
        uid = f"CRASH-AB-{i}"
        storage = os.path.join(tmp, f"{uid}.bin")
        link = os.path.join(links, f"ab{i}")
        proc = subprocess.Popen([DEVSIM, "--uid", uid, "--model", "devsim-ecc", "--key-types",
                                 "ec-p256", "--validation", "ecdsa-p256", "--cred-slots", "2",
                                 "--baud", "115200", "--storage", storage, "--link", link],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if not proc.stdout.readline().startswith(b"READY"):
            fail(f"simulator {uid} did not start")
        boards.append((uid, storage, link, proc))
    ports = [a for b in boards for a in ("--port", b[2])]

    def provision(profile):
        return [STATION, "provision", "--workspace", ws, "--profile", profile,
                "--quiet"] + ports

    try:
        out = subprocess.run(provision("aws-iot-ecc"), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=120, check=False)
        if out.returncode != 0:
            fail(f"first provisioning of the A/B boards failed:\n{out.stdout.decode(errors='replace')}")
        t0 = time.monotonic()
        out = subprocess.run(provision("aws-iot-ecc-rework"), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=120, check=False)
        if out.returncode != 0:
            fail(f"an uninterrupted rework failed:\n{out.stdout.decode(errors='replace')}")
        full = time.monotonic() - t0
        points = KillPoints("rework runs")
        while points.kills < REWORK_KILLS:
            proc = subprocess.Popen(provision("aws-iot-ecc-rework"), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            # at 115200 baud the boards' work is most of a run
            time.sleep(random.uniform(0.0, full))
            killed = proc.poll() is None
            if killed:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
            points.tried(killed, full)
            if not killed:
                continue
            for uid, storage, _, _ in boards:
                check_rework_board(ws, uid, storage, settled=False)
            # the restart completes both boards' rework
            out = subprocess.run(provision("aws-iot-ecc-rework"), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=120, check=False)
            if out.returncode != 0:
                fail(f"the rework after a kill failed:\n{out.stdout.decode(errors='replace')}")
            for uid, storage, _, _ in boards:
                check_rework_board(ws, uid, storage, settled=True)
            check_audit(ws)
        total = db_rows(ws, "SELECT count(*) FROM certificates c JOIN devices d ON "
                            "d.id = c.device_id WHERE d.uid LIKE 'CRASH-AB-%'")[0][0]
        cut = db_rows(ws, "SELECT count(*) FROM events e JOIN devices d ON d.id = e.device_id "
                          "WHERE d.uid LIKE 'CRASH-AB-%' AND e.step = 'interrupted'")[0][0]
        print(f"ok: {points.kills} kills during A/B rework ({cut} cut a board's rework short), "
              f"{total} certificates of the two boards recorded, each board on the slot the "
              "database has in service", flush=True)
        if cut == 0:
            fail("no kill ever cut a rework short: the kill points missed the runs")
    finally:
        for _, _, _, proc in boards:
            proc.kill()
            proc.wait()


def check_audit(ws):
    out = subprocess.run([STATION, "audit", "verify", "--workspace", ws], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=60, check=False)
    if out.returncode != 0:
        fail(f"audit chain broken after a crash:\n{out.stdout.decode(errors='replace')}")


def kill_runs(ws, devices, kills_wanted, full, check=None):
    """kills runs of DEVICES devices at random points, checking after each kill
    and its restart (also with CHECK(ws), if given); returns (kills, devices
    marked for re-work, certificates held)"""
    points = KillPoints(f"runs of {devices} devices")
    reworked = 0
    held = 0
    while points.kills < kills_wanted:
        before = db_rows(ws, "SELECT coalesce(max(id), 0) FROM devices")[0][0]
        proc = subprocess.Popen(demo(ws, devices), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(random.uniform(0.0, full * 1.1))
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        points.tried(killed, full)
        if not killed:
            continue  # it finished first: not a kill point
        left = db_rows(ws, "SELECT id, uid FROM devices WHERE state = 'in-progress' "
                           "AND id > ?", (before,))
        # what the devices hold is known even before the restart
        held = check_certificates(ws)
        if check is not None:
            check(ws)

        # restart: opening the station marks the dead run's work for re-work
        run_to_end(ws, 1)
        stuck = db_rows(ws, "SELECT uid FROM devices WHERE state = 'in-progress'")
        if stuck:
            fail(f"device {stuck[0][0]} is still in-progress after a restart")
        for dev_id, uid in left:
            state = db_rows(ws, "SELECT state FROM devices WHERE id = ?", (dev_id,))[0][0]
            ev = db_rows(ws, "SELECT count(*) FROM events WHERE device_id = ? AND "
                             "step = 'interrupted'", (dev_id,))[0][0]
            if state != "rework" or ev != 1:
                fail(f"device {uid} left in-progress by a kill is {state} with {ev} "
                     "interrupted event(s), expected rework with 1")
        reworked += len(left)
        check_certificates(ws)
        if check is not None:
            check(ws)
        check_audit(ws)
    return points.kills, reworked, held


def grouped_transactions(ws, after_event):
    """transactions since event AFTER_EVENT that recorded the pipeline steps of
    several devices (a transaction ends with the event that holds its row
    bindings; the restart's marking of interrupted devices, one transaction
    for all of them, has no pipeline step)"""
    n = 0
    devices = set()
    for dev, step, ends in db_rows(ws, "SELECT device_id, step, rows IS NOT NULL FROM events "
                                       "WHERE id > ? ORDER BY id", (after_event,)):
        if dev is not None and step in PIPELINE_STEPS:
            devices.add(dev)
        if ends:
            if len(devices) > 1:
                n += 1
            devices = set()
    return n


def lanes_phase(ws):
    """kills during runs of 16 devices, whose lanes commit together"""
    started = time.monotonic()
    first_event = db_rows(ws, "SELECT coalesce(max(id), 0) FROM events")[0][0]
    t0 = time.monotonic()
    run_to_end(ws, LANES)
    full = time.monotonic() - t0
    kills, reworked, held = kill_runs(ws, LANES, LANE_KILLS, full)
    grouped = grouped_transactions(ws, first_event)
    print(f"ok: {kills} kills of {LANES}-lane runs (a whole run takes {full:.2f} s) in "
          f"{time.monotonic() - started:.1f} s, {reworked} devices marked for re-work, "
          f"{held} certificates held by devices, {grouped} transactions recorded several "
          "devices together", flush=True)
    if grouped == 0:
        fail(f"no transaction of the {LANES}-lane runs recorded two devices together: the "
             "group commit was not exercised")


def main():
    random.seed(SEED)
    print(f"seed {SEED}, {KILLS} kills, {DEVICES} devices per run", flush=True)
    tmp = tempfile.mkdtemp(prefix="fst-crash-")
    ws = os.path.join(tmp, "ws")
    started = time.monotonic()
    try:
        # a first run makes the workspace and CA, and times a whole run
        t0 = time.monotonic()
        run_to_end(ws, DEVICES)
        full = time.monotonic() - t0
        print(f"a whole run takes {full:.2f} s", flush=True)

        kills, reworked, held = kill_runs(ws, DEVICES, KILLS, full)
        total = db_rows(ws, "SELECT count(*) FROM certificates")[0][0]
        print(f"ok: {kills} kills in {time.monotonic() - started:.1f} s, {reworked} devices "
              f"marked for re-work, {held} certificates held by devices, {total} recorded",
              flush=True)
        if reworked == 0:
            fail("no kill ever left a device in-progress: the kill points missed the runs")
        lanes_phase(ws)
        rework_phase(tmp, ws)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
