#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The central registration queue drained into AWS IoT by several registrars.

A real PostgreSQL server (fst-central-pg.sh) and the local AWS IoT peer
(fst-aws-peer.py: moto) are started here. Two stations without an uplink to
AWS provision simulated devices whose profile registers them, and ship their
records to the registry. Then `register push --central` runs as several
registrars at once against the peer: one, slowed down, is SIGKILLed after
AWS registered the certificate of the row it holds and before it completed
the row; the others drain the queue side by side, and a last one takes the
killed one's row once its lease ran out. At the end every certificate is
registered at the peer exactly once (one successful RegisterCertificate per
certificate, no registrar ever registering a certificate AWS had already),
with its thing, and every central row is done with the ARN the peer gave.

Then a device of station S1 comes back at station S2, whose profile
re-provisions it: once S2 ships its new certificate, the registry queues the
deactivation of the old one, and the next push leaves the old certificate
INACTIVE and the new one ACTIVE at the peer.

Exit 77 without the PostgreSQL binaries or without moto.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from fst_central_harness import cleanup, fail, init_station, make_tmp, psql, run, start_pg, start_sim

STATION = os.environ["FST_STATION"]
DEVSIM = os.environ["FST_DEVSIM"]
TEMPLATES = os.environ["FST_TEMPLATES_DIR"]
HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "fst-aws-peer.py")
GANG = int(os.environ.get("FST_CENTRAL_REGISTER_GANG", "8"))
REGISTRARS = 3
LEASE = 3


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.pgdir = os.path.join(tmp, "pg")
        self.conninfo = None
        self.peer = None
        self.procs = []
        # the stations have no uplink to AWS: no credentials at all
        self.offline = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.offline.update(AWS_CONFIG_FILE="/nonexistent",
                            AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
        self.aws = None

    def psql(self, sql):
        return psql(self.conninfo, sql)

    def ws(self, name):
        return os.path.join(self.tmp, name)

    def sim(self, name, uid, *extra):
        link, _, p = start_sim(DEVSIM, self.tmp, name, uid, *extra)
        self.procs.append(p)
        return link

    def provision(self, station, links, *extra):
        args = [STATION, "provision", "--workspace", self.ws(station), *extra]
        for link in links:
            args += ["--port", link]
        return run(args, env=self.offline).stdout.decode(errors="replace")

    def push(self, workspace, *extra):
        return subprocess.Popen(
            [STATION, "register", "push", "--central", "--json", "--workspace", self.ws(workspace),
             "--thing-name", "line-{device}", "--lease", str(LEASE), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.aws)

    def peer_get(self, path):
        with urllib.request.urlopen(self.peer + path, timeout=30) as r:
            return json.loads(r.read())

    def peer_certificates(self):
        """certificate id -> status, at the peer (moto)"""
        req = urllib.request.Request(
            self.peer + "/certificates?pageSize=250",
            headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/"
                                      "us-east-1/iot/aws4_request, SignedHeaders=host, "
                                      "Signature=0"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return {c["certificateId"]: c["status"] for c in json.loads(r.read())["certificates"]}

    def thing_principals(self, thing):
        req = urllib.request.Request(
            self.peer + f"/things/{thing}/principals",
            headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/"
                                      "us-east-1/iot/aws4_request, SignedHeaders=host, "
                                      "Signature=0"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["principals"]


def start_peer(env):
    python = os.environ.get("FST_MOTO_PYTHON", "python3")
    port_file = os.path.join(env.tmp, "peer-port")
    p = subprocess.Popen([python, PEER, port_file], stdout=subprocess.DEVNULL)
    env.procs.append(p)
    for _ in range(600):
        if os.path.exists(port_file):
            with open(port_file) as f:
                return int(f.read())
        if p.poll() is not None:
            return None if p.returncode == 77 else fail(f"the AWS peer exited {p.returncode}")
        time.sleep(0.1)
    fail("the AWS peer did not start")


def write_profile(env, base, name):
    with open(os.path.join(TEMPLATES, "profiles", base)) as f:
        text = f.read()
    text = re.sub(r"^name=.*$", f"name={name}", text, count=1, flags=re.M)
    text += "\n[aws]\nregister=true\nregion=us-east-1\nthing-name=line-{device}\n"
    path = os.path.join(env.tmp, name + ".profile")
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_all(procs, what):
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        if p.returncode != 0:
            fail(f"{what} exited {p.returncode}:\n{out.decode()}\n{err.decode()}")
        outs.append(json.loads(out))
    return outs


def main():
    tmp = make_tmp("fst-central-register-")
    env = Env(tmp)
    try:
        env.conninfo = start_pg(env.pgdir)
        if env.conninfo is None:
            return 77
        port = start_peer(env)
        if port is None:
            print("SKIP: moto is not installed in this Python (not in Debian); set "
                  "FST_MOTO_PYTHON to one that has it", file=sys.stderr)
            return 77
        env.peer = f"http://127.0.0.1:{port}"
        env.aws = dict(env.offline, AWS_ENDPOINT_URL=env.peer, AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
                       AWS_SECRET_ACCESS_KEY="testing-secret", AWS_REGION="us-east-1")

        profile = write_profile(env, "aws-iot-ecc.profile", "central-register")
        rework = write_profile(env, "aws-iot-ecc-rework.profile", "central-register-rework")
        for s in ["S1", "S2", "R"]:
            init_station(STATION, env.ws(s), s, profile, env.conninfo)
        run([STATION, "central", "init", "--workspace", env.ws("S1")])

        # two stations provision side by side, offline from AWS
        links = {s: [env.sim(f"{s}-{i}", f"{s}-DEV-{i}", *(["--cred-slots", "2"] if i == 0 else []))
                     for i in range(GANG)] for s in ["S1", "S2"]}
        threads = [threading.Thread(target=env.provision, args=(s, links[s])) for s in links]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s in ["S1", "S2"]:
            run([STATION, "central", "sync", "--workspace", env.ws(s)])
        total = int(env.psql("select count(*) from registrations where action = 'register'"))
        if total != 2 * GANG:
            fail(f"{total} register rows in the central queue, not {2 * GANG}")

        # a row whose certificate never reached the registry: put back, not fatal;
        # a row of another region: left to a registrar of that region
        env.psql("insert into registrations (station_id, local_id, certificate_local_id, target,"
                 " action, created_at) select id, v.l, v.l, v.t, 'register', 0 from stations,"
                 " (values (9999, 'aws-iot:us-east-1'), (9998, 'aws-iot:eu-west-1')) v(l, t)"
                 " where name = 'S1'")

        # a slow registrar, killed once AWS registered its row's certificate
        killed = env.push("R", "--rate", "1", "--registrar", "killed")
        deadline = time.time() + 60
        row = ""
        while time.time() < deadline and not row:
            row = env.psql("select id from registrations where claimed_by = 'killed'"
                           " and remote_id is not null and state = 'in-progress'")
            time.sleep(0.02)
        if not row:
            killed.kill()
            fail("the slow registrar registered nothing within 60 s: "
                 + killed.communicate()[1].decode())
        # the others start while it holds the row, and run side by side
        pushes = [env.push(w, "--registrar", f"reg-{i}")
                  for i, w in enumerate(["S1", "S2", "R"][:REGISTRARS])]
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        held = env.psql(f"select state || ' ' || claimed_by from registrations where id = {row}")
        if held != "in-progress killed":
            fail(f"the killed registrar's row {row} is '{held}', not in progress")
        stats = wait_all(pushes, "register push --central")
        # the killed registrar's row, once its lease ran out
        time.sleep(LEASE + 0.5)
        last = wait_all([env.push("R", "--registrar", "last")], "the last push")[0]
        if last["found_registered"] != 1:
            fail(f"the last registrar should find the killed one's certificate registered: {last}")

        orphan = env.psql("select state, attempts > 0, last_error from registrations"
                          " where local_id = 9999")
        if not orphan.startswith("pending|t|") or "not in the central registry yet" not in orphan:
            fail(f"the row without its certificate is '{orphan}', not put back")
        other = env.psql("select state, attempts, claimed_by is null from registrations"
                         " where local_id = 9998")
        if other != "pending|0|t":
            fail(f"the eu-west-1 row is '{other}': a us-east-1 registrar claimed it")
        env.psql("delete from registrations where local_id in (9998, 9999)")

        # every certificate registered at the peer exactly once
        peer = env.peer_get("/__peer/stats")
        certs = env.psql("select c.aws_cert_id || ' ' || r.remote_id || ' ' || c.device_uid"
                         " from registrations r join certificates c on c.station_id = r.station_id"
                         " and c.local_id = r.certificate_local_id where r.action = 'register'"
                         " and r.state = 'done'").splitlines()
        if len(certs) != total:
            fail(f"{len(certs)} of {total} central rows done: "
                 + env.psql("select state, claimed_by, last_error from registrations"
                            " where state <> 'done'"))
        ids = peer["registered_ids"]
        at_peer = env.peer_certificates()
        for line in certs:
            cid, arn, uid = line.split()
            if ids.get(cid) != 1:
                fail(f"certificate {cid} of {uid} was registered {ids.get(cid, 0)} times at the peer")
            if not arn.endswith("/" + cid) or at_peer.get(cid) != "ACTIVE":
                fail(f"certificate {cid}: central ARN {arn}, at the peer {at_peer.get(cid)}")
            if arn not in env.thing_principals(f"line-{uid}"):
                fail(f"certificate {cid} is not attached to thing line-{uid}")
        if len(ids) != total or peer["register_conflict"] != 0:
            fail(f"{len(ids)} certificates registered at the peer for {total} rows, "
                 f"{peer['register_conflict']} registered twice")
        print(f"ok: {total} certificates from 2 stations registered once each by "
              f"{REGISTRARS} registrars side by side "
              f"({' + '.join(str(s['registered']) for s in stats)}) and one after the kill")

        # a device of S1 comes back at S2, which re-provisions it
        old = env.psql("select aws_cert_id from certificates where device_uid = 'S1-DEV-0'")
        out = env.provision("S2", [links["S1"][0]], "--profile", rework)
        if "came back from station S1" not in out:
            fail("S2 does not say the device came from S1:\n" + out)
        run([STATION, "central", "sync", "--workspace", env.ws("S2")])
        queued = env.psql("select count(*) from registrations r join stations s"
                          " on s.id = r.station_id where s.name = 'S1' and r.action = 'deactivate'")
        if queued != "1":
            fail(f"the take-over queued {queued} deactivations of S1's certificate, not 1")
        after = wait_all([env.push("R")], "the push after the take-over")[0]
        if after["deactivated"] != 1 or after["registered"] != 1:
            fail(f"the push after the take-over: {after}")
        new = env.psql("select aws_cert_id from certificates c join stations s on s.id ="
                       " c.station_id where s.name = 'S2' and device_uid = 'S1-DEV-0'")
        at_peer = env.peer_certificates()
        if at_peer.get(old) != "INACTIVE" or at_peer.get(new) != "ACTIVE":
            fail(f"after the take-over: old certificate {at_peer.get(old)}, new {at_peer.get(new)}")
        status = json.loads(run([STATION, "central", "status", "--json", "--workspace",
                                 env.ws("S1")]).stdout)
        if status["registration_queue"] != {"pending": 0, "in_progress": 0,
                                            "done": 2 * GANG + 2, "failed": 0}:
            fail(f"central status shows the queue as {status['registration_queue']}")
        print("ok: the certificate taken over is INACTIVE at the peer, its successor ACTIVE")
        return 0
    finally:
        cleanup(tmp, env.pgdir, env.procs)


if __name__ == "__main__":
    sys.exit(main())
