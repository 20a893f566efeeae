#!/usr/bin/env python3
"""Four stations, one central registry, a real PostgreSQL server.

Four workspaces provision simulated devices concurrently into one server
(started here on a free loopback port by fst-central-pg.sh). The server is
stopped in the middle of a round (the stations go on, offline=proceed) and
started again; one station's sync is SIGKILLed between two of its batches
and resumed; one station's high-water marks are wiped and everything is
shipped again. At the end every certificate on every simulated device is in
PostgreSQL exactly once, each station's journal and its central copy agree
(counts, hashes, DER, states), the central audit passes and there is no
conflict. Exit 77 without the PostgreSQL binaries.
"""

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

STATION = os.environ["FST_STATION"]
DEVSIM = os.environ["FST_DEVSIM"]
TEMPLATES = os.environ["FST_TEMPLATES_DIR"]
PG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fst-central-pg.sh")
STATIONS = ["S1", "S2", "S3", "S4"]
GANG = int(os.environ.get("FST_CENTRAL_GANG", "4"))
ROUNDS = 4


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def run(args, check=True, **kw):
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if check and out.returncode != 0:
        fail(f"{' '.join(args)} exited {out.returncode}:\n{out.stdout.decode(errors='replace')}")
    return out


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.pgdir = os.path.join(tmp, "pg")
        self.conninfo = None
        self.sims = []
        self.lock = threading.Lock()

    def psql(self, sql):
        out = run(["psql", "-X", "-A", "-t", "-q", self.conninfo, "-c", sql])
        return out.stdout.decode().strip()

    def ws(self, name):
        return os.path.join(self.tmp, name)

    def sim(self, name, uid):
        link = os.path.join(self.tmp, "links", name)
        storage = os.path.join(self.tmp, "storage", name + ".bin")
        ready = os.path.join(self.tmp, name + ".ready")
        with open(ready, "w") as f:
            p = subprocess.Popen(
                [DEVSIM, "--uid", uid, "--model", "devsim-ecc", "--key-types", "ec-p256",
                 "--validation", "rsa,ecdsa-p256,ecdsa-p384", "--storage", storage,
                 "--link", link], stdout=f, stderr=subprocess.DEVNULL)
        with self.lock:
            self.sims.append(p)
        for _ in range(200):
            with open(ready) as f:
                if "READY" in f.read():
                    return link, storage, p
            time.sleep(0.05)
        fail(f"simulator {name} did not start")

    def round(self, station, r):
        """one gang of devices at one station; returns when the job ended"""
        sims = [self.sim(f"{station}-{r}-{i}", f"{station}-DEV-{r}-{i}") for i in range(GANG)]
        args = [STATION, "provision", "--workspace", self.ws(station)]
        for link, _, _ in sims:
            args += ["--port", link]
        out = run(args, check=False)
        if out.returncode != 0:
            fail(f"{station} round {r} exited {out.returncode}:\n{out.stdout.decode(errors='replace')}")
        for _, _, p in sims:
            p.terminate()
            p.wait()


def parallel(env, stations, r, during=None):
    threads = [threading.Thread(target=env.round, args=(s, r)) for s in stations]
    for t in threads:
        t.start()
    if during is not None:
        during()
    for t in threads:
        t.join()


def device_serial(storage):
    out = run([DEVSIM, "--storage", storage, "--dump", "device-cert"])
    pem = out.stdout
    x = run(["openssl", "x509", "-noout", "-serial"], input=pem)
    return x.stdout.decode().strip().split("=", 1)[1].upper()


def main():
    tmp = tempfile.mkdtemp(prefix="fst-central-stations-")
    env = Env(tmp)
    os.makedirs(os.path.join(tmp, "links"))
    os.makedirs(os.path.join(tmp, "storage"))
    os.environ.pop("FLEETSTATION_CA_PASSPHRASE", None)
    try:
        start = subprocess.run([PG, "start", env.pgdir], stdout=subprocess.PIPE)
        if start.returncode == 77:
            return 77
        if start.returncode != 0:
            fail("cannot start PostgreSQL")
        env.conninfo = start.stdout.decode().strip()

        # a profile that goes on while the server is away
        with open(os.path.join(TEMPLATES, "profiles", "aws-iot-ecc.profile")) as f:
            text = f.read()
        text = re.sub(r"^name=.*$", "name=central-proceed", text, count=1, flags=re.M)
        text = text.replace("[profile]\n", "[profile]\noffline=proceed\n", 1)
        profile = os.path.join(tmp, "proceed.profile")
        with open(profile, "w") as f:
            f.write(text)
        for s in STATIONS:
            run([STATION, "init", "--workspace", env.ws(s), "--demo-ca", "--profile", profile,
                 "--lot", f"LOT-{s}", "--central", env.conninfo])
            conf = os.path.join(env.ws(s), "station.conf")
            with open(conf) as f:
                c = f.read()
            c = re.sub(r"^name=.*$", f"name={s}", c, count=1, flags=re.M)
            c += "batch-events=1\n" if s == "S3" else ""
            c += "interval-ms=100\n"
            with open(conf, "w") as f:
                f.write(c)
        run([STATION, "central", "init", "--workspace", env.ws("S1")])

        # round 0: all four online
        parallel(env, STATIONS, 0)
        # round 1: the server stops while the stations work
        def stop_server():
            time.sleep(0.3)
            run([PG, "stop", env.pgdir])
        parallel(env, STATIONS, 1, during=stop_server)
        s3_db = os.path.join(env.ws("S3"), "station.db")
        with sqlite3.connect(s3_db) as db:
            s3_max = db.execute("select max(id) from events").fetchone()[0]
        run([PG, "restart", env.pgdir])
        shipped = int(env.psql("select coalesce(max(head_id), 0) from stations where name = 'S3'") or 0)
        if shipped >= s3_max:
            fail(f"S3 had nothing left to ship after the server stopped ({shipped} of {s3_max})")

        # S3's sync SIGKILLed between two batches (one event each), while the
        # others ship their backlog with round 2
        def kill_s3_sync():
            p = subprocess.Popen([STATION, "central", "sync", "--workspace", env.ws("S3")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # the station's own mark, read in-process: it moves right after
            # each central commit, and a psql per look would let a short
            # backlog (one event per device log commit) ship whole meanwhile
            deadline = time.time() + 30
            while time.time() < deadline:
                with sqlite3.connect(f"file:{s3_db}?mode=ro", uri=True) as db:
                    mark = db.execute("select value from db_properties where key = "
                                      "'central-synced-events'").fetchone()
                if mark is not None and int(mark[0]) > shipped:
                    break
                time.sleep(0.0005)
            p.send_signal(signal.SIGKILL)
            p.wait()
            head = int(env.psql("select head_id from stations where name = 'S3'"))
            if head >= s3_max:
                fail(f"the sync of S3 finished ({head} of {s3_max} events) before it was killed")
            print(f"S3 sync killed with {head} of {s3_max} events shipped")
        parallel(env, ["S1", "S2", "S4"], 2, during=kill_s3_sync)
        # S3 goes on: its worker resumes from its mark
        parallel(env, STATIONS, 3)
        # S4 ships everything again from scratch: nothing may be duplicated
        with sqlite3.connect(os.path.join(env.ws("S4"), "station.db")) as db:
            db.execute("delete from db_properties where key like 'central-synced-%'")
        for s in STATIONS:
            run([STATION, "central", "sync", "--workspace", env.ws(s)])

        # every certificate on every device, exactly once, at its station
        storages = sorted(os.listdir(os.path.join(tmp, "storage")))
        if len(storages) != len(STATIONS) * GANG * (ROUNDS - 1) + (len(STATIONS) - 1) * GANG:
            fail(f"{len(storages)} device storages")
        for name in storages:
            station = name.split("-")[0]
            serial = device_serial(os.path.join(tmp, "storage", name))
            rows = env.psql(
                "select s.name from certificates c join stations s on s.id = c.station_id "
                f"where c.serial_hex = '{serial}'").split()
            if rows != [station]:
                fail(f"certificate {serial} of {name} is in the registry as {rows}")
        # each journal and its central copy agree
        for s in STATIONS:
            with sqlite3.connect(os.path.join(env.ws(s), "station.db")) as db:
                local = {
                    "events": db.execute("select count(*), max(id) from events").fetchone(),
                    "certificates": db.execute("select count(*) from certificates").fetchone()[0],
                    "devices": db.execute("select count(*) from devices").fetchone()[0],
                    "objects": db.execute("select count(*) from device_objects").fetchone()[0],
                    "verified": db.execute(
                        "select count(*) from certificates where state = 'verified'").fetchone()[0],
                }
            sid = env.psql(f"select id from stations where name = '{s}'")
            central = {
                "events": tuple(int(x) for x in env.psql(
                    f"select count(*), max(local_id) from events where station_id = {sid}").split("|")),
                "certificates": int(env.psql(f"select count(*) from certificates where station_id = {sid}")),
                "devices": int(env.psql(f"select count(*) from devices where station_id = {sid}")),
                "objects": int(env.psql(f"select count(*) from device_objects where station_id = {sid}")),
                "verified": int(env.psql(
                    f"select count(*) from certificates where station_id = {sid} and state = 'verified'")),
            }
            if central != local:
                fail(f"station {s}: journal {local}, central copy {central}")
            out = run([STATION, "central", "audit", "--workspace", env.ws(s)], check=False)
            text = out.stdout.decode(errors="replace")
            if out.returncode != 0 or f"journal of station {s} against its central copy: the same" not in text:
                fail(f"central audit from {s}:\n{text}")
        if env.psql("select count(*) from conflicts") != "0":
            fail("conflicts: " + env.psql("select detail from conflicts"))
        total = env.psql("select count(*) from certificates")
        print(f"ok: {len(STATIONS)} stations, {total} certificates in the registry exactly once")
        return 0
    finally:
        for p in env.sims:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run([PG, "destroy", env.pgdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not os.environ.get("FST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
