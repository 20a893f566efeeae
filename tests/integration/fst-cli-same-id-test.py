#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Two boards giving one id (a serial number copied with a firmware image),
each on a port of its own `fleetstation provision` process with the same
workspace open at the same time (the GUI and a `watch`, a second terminal).
The first board is slow (a throttled line) and still in flight when the
second identifies. Checks that:

- the second process refuses its board at identify with `busy`, naming the
  other process, its own port, and nothing issued or burned;
- the first board is provisioned, and the database holds one device with
  one certificate;
- the refusal is in the device's history (`fleetstation show`);
- once the first run ended the id is free again: the board comes back as a
  device the station knows, and the profile's on-return decides."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import fst_devsim_harness

STATION = os.environ["FST_STATION"]
DEVSIM = os.environ["FST_DEVSIM"]
UID = "SAME-ID-0001"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def start_sim(tmp, name, *extra):
    link = os.path.join(tmp, name)
    try:
        return link, fst_devsim_harness.start(DEVSIM, UID, link, os.path.join(tmp, name + ".bin"),
                                              os.path.join(tmp, name + ".ready"), *extra)
    except fst_devsim_harness.SimError as e:
        fail(str(e))


def provision(ws, port):
    return [STATION, "provision", "--workspace", ws, "--profile", "aws-iot-ecc", "--port", port,
            "--passphrase-file", os.path.join(ws, "ca", "passphrase"), "--json"]


def run(tmp, procs):
    ws = os.path.join(tmp, "ws")
    env = dict(os.environ, FLEETSTATION_DEMO_WORKSPACE=ws)
    env.pop("FLEETSTATION_CA_PASSPHRASE", None)
    r = subprocess.run([STATION, "demo", "--devices", "1", "--quiet"], capture_output=True, text=True,
                       env=env)
    if r.returncode != 0:
        fail("demo: " + r.stdout + r.stderr)

    # the slow board: about 4 s for its burn at 19,200 bit/s
    slow_port, slow = start_sim(tmp, "slow", "--baud", "19200")
    procs.append(slow)
    first = subprocess.Popen(provision(ws, slow_port), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    procs.append(first)
    events = []
    for line in first.stdout:
        ev = json.loads(line)
        events.append(ev)
        if ev.get("event") == "progress" and ev.get("device") == UID and ev.get("step") == "burn":
            break
    else:
        fail("the slow board never reached its burn: %s" % events[-3:])

    # the second board, in a second process, while the first is in flight
    fast_port, fast = start_sim(tmp, "fast")
    procs.append(fast)
    r = subprocess.run(provision(ws, fast_port), capture_output=True, text=True, env=env,
                       timeout=120)
    if first.poll() is not None:
        fail("the slow board ended before the second one identified: the test proves nothing")
    second = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    results = [e for e in second if e.get("event") == "result"]
    if r.returncode != 1 or len(results) != 1:
        fail("second process: exit %d, %s\n%s" % (r.returncode, results, r.stderr))
    refused = results[0]
    message = refused.get("error") or ""
    if refused["result"] != "failed" or refused.get("error_code") != "busy" \
            or "another process" not in message or fast_port not in message \
            or refused.get("serial") is not None:
        fail("the second board was not refused as busy: %s" % refused)
    steps = [e["step"] for e in second if e.get("event") == "progress"]
    if "identify" not in steps or steps[-1] != "failed" or "keygen" in steps or "burn" in steps:
        fail("the second board went past identify: %s" % steps)

    # the first board ends provisioned
    rest, err = first.communicate(timeout=120)
    events += [json.loads(l) for l in rest.splitlines() if l.strip()]
    results = [e for e in events if e.get("event") == "result"]
    if first.returncode != 0 or [(e["device"], e["result"]) for e in results] != [(UID, "ok")]:
        fail("first process: exit %d, %s\n%s" % (first.returncode, results, err))
    db = sqlite3.connect(os.path.join(ws, "station.db"))
    rows = db.execute("select d.state, count(c.id) from devices d left join certificates c "
                      "on c.device_id = d.id where d.uid = ? group by d.id", (UID,)).fetchall()
    db.close()
    if rows != [("provisioned", 1)]:
        fail("the database holds %s for %s" % (rows, UID))

    # the refusal in the device's history
    r = subprocess.run([STATION, "show", "--workspace", ws, UID], capture_output=True, text=True,
                       env=env)
    busy = [l for l in r.stdout.splitlines() if " busy " in l]
    if r.returncode != 0 or len(busy) != 1 or fast_port not in busy[0]:
        fail("show does not list the refusal once:\n" + r.stdout + r.stderr)

    # one after the other: a device that comes back, which aws-iot-ecc refuses
    r = subprocess.run(provision(ws, fast_port), capture_output=True, text=True, env=env,
                       timeout=120)
    again = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    results = [e for e in again if e.get("event") == "result"]
    if len(results) != 1 or results[0].get("error_code") == "busy" \
            or "came back" not in (results[0].get("error") or ""):
        fail("the board after the first run ended: %s\n%s" % (results, r.stderr))
    print("ok: the second board with id %s was refused by the second process while the first "
          "was in flight, and came back as a known device after" % UID)


def main():
    tmp = tempfile.mkdtemp(prefix="fst-same-id.")
    procs = []
    try:
        run(tmp, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
