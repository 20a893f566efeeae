#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
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
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from fst_central_harness import (PG, cleanup, fail, init_station, make_tmp, psql,
                                 run, start_pg, start_sim)

STATION = os.environ["FST_STATION"]
DEVSIM = os.environ["FST_DEVSIM"]
TEMPLATES = os.environ["FST_TEMPLATES_DIR"]
STATIONS = ["S1", "S2", "S3", "S4"]
GANG = int(os.environ.get("FST_CENTRAL_GANG", "4"))
ROUNDS = 4


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.pgdir = os.path.join(tmp, "pg")
        self.conninfo = None
        self.sims = []
        self.lock = threading.Lock()

    def psql(self, sql):
        return psql(self.conninfo, sql)

    def ws(self, name):
        return os.path.join(self.tmp, name)

    def sim(self, name, uid):
        link, storage, p = start_sim(DEVSIM, self.tmp, name, uid)
        with self.lock:
            self.sims.append(p)
        return link, storage, p

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


def wait_for(cond, what, timeout=300):
    """polls @cond until it holds: a condition the test can see, not a delay"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    fail(f"timed out waiting for {what}")


def local_int(ws, sql):
    """one number from a station's SQLite journal, read while it may be written"""
    db = sqlite3.connect(f"file:{os.path.join(ws, 'station.db')}?mode=ro", uri=True, timeout=30)
    try:
        row = db.execute(sql).fetchone()
    finally:
        db.close()
    return int(row[0]) if row and row[0] is not None else 0


def device_serial(storage):
    out = run([DEVSIM, "--storage", storage, "--dump", "device-cert"])
    pem = out.stdout
    x = run(["openssl", "x509", "-noout", "-serial"], input=pem)
    return x.stdout.decode().strip().split("=", 1)[1].upper()


def main():
    tmp = make_tmp("fst-central-stations-")
    env = Env(tmp)
    try:
        env.conninfo = start_pg(env.pgdir)
        if env.conninfo is None:
            return 77

        # a profile that goes on while the server is away
        with open(os.path.join(TEMPLATES, "profiles", "aws-iot-ecc.profile")) as f:
            text = f.read()
        text = re.sub(r"^name=.*$", "name=central-proceed", text, count=1, flags=re.M)
        text = text.replace("[profile]\n", "[profile]\noffline=proceed\n", 1)
        profile = os.path.join(tmp, "proceed.profile")
        with open(profile, "w") as f:
            f.write(text)
        for s in STATIONS:
            init_station(STATION, env.ws(s), s, profile, env.conninfo,
                         ("batch-events=1\n" if s == "S3" else "") + "interval-ms=100\n")
        run([STATION, "central", "init", "--workspace", env.ws("S1")])

        # round 0: all four online
        parallel(env, STATIONS, 0)
        # round 1: the server stops while the stations work, once S3 has
        # recorded its first device of the round; until then a session of
        # the test holds the central events table, so that no sync ships
        # anything of the round however fast the devices are
        holder = subprocess.Popen(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", env.conninfo],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True)
        holder.stdin.write("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE; SELECT 'held';\n")
        holder.stdin.flush()
        if holder.stdout.readline().strip() != "held":
            fail("the test's session could not hold the central events table")

        def stop_server():
            wait_for(lambda: local_int(env.ws("S3"), "select count(*) from devices where uid like 'S3-DEV-1-%'") > 0,
                     "S3 to start round 1")
            run([PG, "stop", env.pgdir])
            holder.stdin.close()
            holder.wait()
        parallel(env, STATIONS, 1, during=stop_server)
        s3_db = os.path.join(env.ws("S3"), "station.db")
        with sqlite3.connect(s3_db) as db:
            s3_max = db.execute("select max(id) from events").fetchone()[0]
        run([PG, "restart", env.pgdir])
        shipped = int(env.psql("select coalesce(max(head_id), 0) from stations where name = 'S3'") or 0)
        if shipped >= s3_max:
            fail(f"S3 had nothing left to ship after the server stopped ({shipped} of {s3_max})")

        # S3's sync SIGKILLed between two batches (one event each), while the
        # others ship their backlog with round 2: a session of the test holds
        # the key of the second event S3 has to ship (an uncommitted row), so
        # the sync commits its first batch and then waits on that key, where
        # it is killed; no timing involved
        def kill_s3_sync():
            mark = local_int(env.ws("S3"), "select value from db_properties where key = 'central-synced-events'")
            if s3_max < mark + 2:
                fail(f"S3 has {s3_max - mark} events to ship, the kill needs two batches")
            sid = env.psql("select id from stations where name = 'S3'")
            blocker = subprocess.Popen(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", env.conninfo],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            blocker.stdin.write(
                "BEGIN; INSERT INTO events (station_id, local_id, step, started_at, ended_at, outcome, hash)"
                f" VALUES ({sid}, {mark + 2}, 'held-by-test', 0, 0, 'ok', '\\x00'); SELECT pg_backend_pid();\n")
            blocker.stdin.flush()
            blocker_pid = blocker.stdout.readline().strip()
            if not blocker_pid.isdigit():
                fail(f"the test's session could not hold event {mark + 2}: {blocker_pid!r}")
            p = subprocess.Popen([STATION, "central", "sync", "--workspace", env.ws("S3")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            waiting = []

            def sync_waits():
                if p.poll() is not None:
                    fail(f"the sync of S3 ended ({p.returncode}) instead of waiting for event {mark + 2}")
                waiting[:] = env.psql("select pid from pg_stat_activity "
                                      f"where {blocker_pid} = any(pg_blocking_pids(pid))").split()
                return bool(waiting)
            wait_for(sync_waits, f"the sync of S3 to wait for event {mark + 2}")
            p.send_signal(signal.SIGKILL)
            p.wait()
            head = int(env.psql("select head_id from stations where name = 'S3'"))
            blocker.stdin.write("ROLLBACK;\n")
            blocker.stdin.close()
            blocker.wait()
            # the killed sync's server session ends (and drops S3's sync lock)
            wait_for(lambda: env.psql(f"select count(*) from pg_stat_activity where pid = {waiting[0]}") == "0",
                     "the killed sync's session to end")
            if head != mark + 1:
                fail(f"S3's central head is {head} when its sync was killed, not {mark + 1}")
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
        cleanup(tmp, env.pgdir, env.sims)


if __name__ == "__main__":
    sys.exit(main())
