# SPDX-License-Identifier: Apache-2.0
"""What the central registry's Python tests share: running commands, psql,
a PostgreSQL server, station workspaces, and simulated devices behind pty
links."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import fst_devsim_harness


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def run(args, check=True, env=None, **kw):
    """runs a command, its output on stdout; fails the test unless it exits 0 (check)"""
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, **kw)
    if check and out.returncode != 0:
        fail(f"{' '.join(args)} exited {out.returncode}:\n{out.stdout.decode(errors='replace')}")
    return out


def psql(conninfo, sql):
    """one statement's result as psql's unaligned text"""
    return run(["psql", "-X", "-A", "-t", "-q", conninfo, "-c", sql]).stdout.decode().strip()


def start_sim(devsim, tmp, name, uid, *extra):
    """a simulated device behind TMP/links/NAME, its storage in
    TMP/storage/NAME.bin; returns (link, storage, process) once it is ready"""
    link = os.path.join(tmp, "links", name)
    storage = os.path.join(tmp, "storage", name + ".bin")
    try:
        p = fst_devsim_harness.start(devsim, uid, link, storage, os.path.join(tmp, name + ".ready"),
                                     "--model", "devsim-ecc", "--validation",
                                     "rsa,ecdsa-p256,ecdsa-p384", *extra)
    except fst_devsim_harness.SimError as e:
        fail(str(e))
    return link, storage, p


PG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fst-central-pg.sh")


def make_tmp(prefix):
    """a temporary directory with links/ and storage/ for simulators; the
    stations ask for nothing (no CA passphrase from the environment)"""
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.makedirs(os.path.join(tmp, "links"))
    os.makedirs(os.path.join(tmp, "storage"))
    os.environ.pop("FLEETSTATION_CA_PASSPHRASE", None)
    return tmp


def start_pg(pgdir):
    """a PostgreSQL server in PGDIR: its conninfo, or None without the
    server binaries (the test skips)"""
    start = subprocess.run([PG, "start", pgdir], stdout=subprocess.PIPE)
    if start.returncode == 77:
        return None
    if start.returncode != 0:
        fail("cannot start PostgreSQL")
    return start.stdout.decode().strip()


def cleanup(tmp, pgdir, procs):
    """kills what is left, removes the server and (unless FST_KEEP) TMP"""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    subprocess.run([PG, "destroy", pgdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not os.environ.get("FST_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)


def init_station(station, ws, name, profile, conninfo, extra=""):
    """a workspace with its own demo CA, named NAME, on the registry; EXTRA
    is appended to its station.conf (the [central] group comes last)"""
    run([station, "init", "--workspace", ws, "--demo-ca", "--profile", profile,
         "--lot", f"LOT-{name}", "--central", conninfo])
    conf = os.path.join(ws, "station.conf")
    with open(conf) as f:
        c = f.read()
    c = re.sub(r"^name=.*$", f"name={name}", c, count=1, flags=re.M)
    with open(conf, "w") as f:
        f.write(c + extra)


class PsqlSession:
    """one psql process for queries in quick succession (a poll that must
    not spend its time starting psql)"""

    def __init__(self, conninfo):
        self.p = subprocess.Popen(["psql", "-X", "-A", "-t", "-q", conninfo],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def query(self, sql):
        self.p.stdin.write(sql.rstrip(";") + ";\n\\echo __fst_end__\n")
        self.p.stdin.flush()
        lines = []
        for line in self.p.stdout:
            if line.strip() == "__fst_end__":
                return "\n".join(lines).strip()
            lines.append(line.rstrip("\n"))
        fail("psql ended: " + sql)

    def close(self):
        self.p.stdin.close()
        self.p.wait()
