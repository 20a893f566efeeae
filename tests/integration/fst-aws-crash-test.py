#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Crash test of issuance by AWS IoT (a profile with issuer=aws).

With issuer=aws the certificate is made by AWS IoT, in the station's AWS
account, before the station records it: the station asks AWS for it INACTIVE,
records it (the first commit of the device), and only then activates it
(station/fst-aws-issuer.c). This test kills the station at random points of
such runs and checks, besides what fst-crash-test.py checks after each kill
and its restart (every certificate a simulated device holds is recorded for
it, no device stays in-progress, the audit chain is intact):

- every certificate ACTIVE at AWS is in the station's database: a kill never
  leaves a usable certificate that the records do not know;
- every certificate in the database exists at AWS;
- every certificate the database has as `verified` is ACTIVE at AWS.

The certificates that AWS holds INACTIVE and the database does not know (a
kill between AWS's answer and the first commit) are counted and printed: no
device has them and they were never activated. Before the kills, one run has
the peer lose its answer to two CreateCertificateFromCsr requests after
making the certificate: the station retries and issues again, then finds
the certificates made for the lost answers by the device's key and deletes
them, so that after that run AWS holds exactly the certificates the
database records.

The peer is fst-aws-peer.py (moto); the test exits 77 (skipped) without moto,
which Debian does not package. The runs are `fleetstation demo --profile P`
with P asking AWS to sign the device's CSR (CreateCertificateFromCsr): the
demo's simulated devices make their own keys and cannot take an injected one,
so CreateKeysAndCertificate, which goes through the same create, record and
activate steps, is covered by fst-aws-job-test instead, without kills.

Environment: FST_STATION, FST_DEVSIM (set by ctest), FST_MOTO_PYTHON (the
Python that has moto; default: python3 on the PATH), FST_AWS_CRASH_KILLS
(default 15), FST_CRASH_DEVICES (default 4), FST_CRASH_SEED (default: random,
printed).
"""

import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("fst_crash", os.path.join(HERE, "fst-crash-test.py"))
crash = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crash)

KILLS = int(os.environ.get("FST_AWS_CRASH_KILLS", "15"))
MOTO_PYTHON = os.environ.get("FST_MOTO_PYTHON", "python3")

PROFILE = """[profile]
name=aws-crash
description=AWS IoT signs the device's CSR (crash test)
models=devsim-*
key-source=device-csr
key-types=ec-p256
issuer=aws
[subject]
cn={model}-{uid}
o=Fleetstation Crash Test
[validity]
days=365
[trust]
endpoint=ats
include-starfield=false
[aws]
register=false
region=us-east-1
"""


def start_peer(tmp):
    """the peer's URL, or exits 77 when moto is missing"""
    port_file = os.path.join(tmp, "peer-port")
    peer = subprocess.Popen([MOTO_PYTHON, os.path.join(HERE, "fst-aws-peer.py"), port_file],
                            stdout=subprocess.DEVNULL)
    for _ in range(600):
        if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
            with open(port_file) as f:
                return peer, f"http://127.0.0.1:{f.read().strip()}"
        if peer.poll() is not None:
            if peer.returncode == 77:
                print("SKIP: moto (the local AWS IoT peer) is not installed in "
                      f"{MOTO_PYTHON}; set FST_MOTO_PYTHON to a Python that has it", flush=True)
                sys.exit(77)
            crash.fail(f"the AWS peer exited with {peer.returncode}")
        time.sleep(0.1)
    crash.fail("the AWS peer did not start in 60 s")
    return None, None


def faults(url, cfg):
    req = urllib.request.Request(f"{url}/__peer/faults", data=json.dumps(cfg).encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()


class AwsCheck:
    """the station's records against what AWS (the peer) holds"""

    def __init__(self, url):
        self.url = url
        self.orphans = 0

    def __call__(self, ws):
        with urllib.request.urlopen(f"{self.url}/__peer/certificates", timeout=60) as r:
            at_aws = {c["certificateId"]: c["status"] for c in json.load(r)["certificates"]}
        recorded = dict(crash.db_rows(ws, "SELECT aws_cert_id, state FROM certificates"))
        for cert_id, status in at_aws.items():
            if status == "ACTIVE" and cert_id not in recorded:
                crash.fail(f"certificate {cert_id} is ACTIVE at AWS and NOT in the database")
        for cert_id, state in recorded.items():
            if cert_id not in at_aws:
                crash.fail(f"certificate {cert_id} is in the database ({state}) and not at AWS")
            if state == "verified" and at_aws[cert_id] != "ACTIVE":
                crash.fail(f"certificate {cert_id} is verified in the database and "
                           f"{at_aws[cert_id]} at AWS")
        self.orphans = sum(1 for c in at_aws if c not in recorded)
        return len(at_aws)


def main():
    random.seed(crash.SEED)
    print(f"seed {crash.SEED}, {KILLS} kills, {crash.DEVICES} devices per run", flush=True)
    tmp = tempfile.mkdtemp(prefix="fst-aws-crash-")
    ws = os.path.join(tmp, "ws")
    peer = None
    started = time.monotonic()
    try:
        peer, url = start_peer(tmp)
        os.environ.update({"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                           "AWS_SECRET_ACCESS_KEY": "testing-secret",
                           "AWS_CONFIG_FILE": "/nonexistent",
                           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_IOT"):
            os.environ.pop(name, None)
        profile = os.path.join(tmp, "aws-crash.profile")
        with open(profile, "w") as f:
            f.write(PROFILE)
        crash.DEMO_OPTIONS[:] = ["--profile", profile]
        check = AwsCheck(url)

        t0 = time.monotonic()
        crash.run_to_end(ws, crash.DEVICES)
        full = time.monotonic() - t0
        if check(ws) != crash.DEVICES:
            crash.fail(f"a whole run of {crash.DEVICES} devices left a different number of "
                       "certificates at AWS")
        # the kills are placed from the faster of two whole runs: the first
        # is the peer's first work, slower than the runs to come
        t0 = time.monotonic()
        crash.run_to_end(ws, crash.DEVICES)
        full = min(full, time.monotonic() - t0)
        if check(ws) != 2 * crash.DEVICES:
            crash.fail(f"two whole runs of {crash.DEVICES} devices left a different number of "
                       "certificates at AWS")
        print(f"a whole run takes {full:.2f} s", flush=True)

        # answers lost after AWS made the certificate: the station never sees them
        faults(url, {"lost_next": 2, "lost_op": "POST /certificates"})
        crash.run_to_end(ws, crash.DEVICES)
        faults(url, {"lost_next": 0, "lost_op": None})
        check(ws)
        if check.orphans != 0:
            crash.fail(f"two answers of AWS were lost, and {check.orphans} certificates at AWS "
                       "are unknown to the database")
        deleted = crash.db_rows(ws, "SELECT count(*) FROM event_steps WHERE step = 'issue' "
                                    "AND detail LIKE '%lost; certificate% deleted at AWS'")[0][0]
        if deleted < 1:
            crash.fail("two answers of AWS were lost, and no issue step says that the "
                       "certificates made for them were deleted")
        print("ok: the two certificates whose answer was lost were deleted at AWS, and the "
              "devices got others", flush=True)

        kills, reworked, held = crash.kill_runs(ws, crash.DEVICES, KILLS, full, check)
        total = check(ws)
        recorded = crash.db_rows(ws, "SELECT count(*) FROM certificates")[0][0]
        print(f"ok: {kills} kills in {time.monotonic() - started:.1f} s, {reworked} devices "
              f"marked for re-work, {held} certificates held by devices, {recorded} recorded, "
              f"{total} at AWS, of which {check.orphans} unknown to the database and INACTIVE "
              "(killed between AWS's answer and the first commit)",
              flush=True)
        if reworked == 0:
            crash.fail("no kill ever left a device in-progress: the kill points missed the runs")
    finally:
        if peer is not None:
            peer.kill()
            peer.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
