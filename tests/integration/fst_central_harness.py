"""What the central registry's Python tests share: running commands, psql,
and simulated devices behind pty links."""

import os
import subprocess
import sys
import time


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
    ready = os.path.join(tmp, name + ".ready")
    with open(ready, "w") as f:
        p = subprocess.Popen(
            [devsim, "--uid", uid, "--model", "devsim-ecc", "--key-types", "ec-p256",
             "--validation", "rsa,ecdsa-p256,ecdsa-p384", "--storage", storage,
             "--link", link, *extra], stdout=f, stderr=subprocess.DEVNULL)
    for _ in range(200):
        with open(ready) as f:
            if "READY" in f.read():
                return link, storage, p
        time.sleep(0.05)
    p.kill()
    p.wait()
    fail(f"simulator {name} did not start")
