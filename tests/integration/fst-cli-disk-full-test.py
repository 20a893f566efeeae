#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The station's disk fills up in the middle of a device, on a real full file
system: a 4 MiB tmpfs holds the workspace (mounted in a mount namespace of
this test's own, with a user namespace when not root), and the test fills it
while the first device of a `provision --count 2 --json` run is being
burned, after its certificate was recorded. Checks that:

- the device's final state cannot be written, and the run says so;
- the line stops: the next board put on the port is never touched;
- the run ends with exit 5, a summary and then an error event naming the full
  disk, and the same on stderr;
- a report or a backup written onto a full disk fails and leaves no file
  behind;
- nothing is lost: once space is freed, the database holds the certificate the
  device holds (its serial, read from the simulator's storage); the next run
  provisions the next board and marks the half-done device for re-work, its
  certificate interrupted; the audit chain verifies.

Exit 77 when no tmpfs can be mounted (neither root nor user namespaces)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import fst_devsim_harness

STATION = os.environ["FST_STATION"]
DEVSIM = os.environ["FST_DEVSIM"]
BAUD = "19200"  # a burn of about 3 s: time to fill the disk in it


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def mount_tmpfs(path):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0


def in_namespace_or_skip(path):
    """mounts the tmpfs in a mount namespace of this test's own (a user
    namespace too when not root), so that nothing is left mounted whatever
    happens; as root without unshare, on the host, unmounted at the end"""
    if os.environ.get("FST_DISK_FULL_NS") != "1" and shutil.which("unshare") is not None:
        cmd = ["unshare", "--mount"]
        if os.geteuid() != 0:
            cmd = ["unshare", "--user", "--map-root-user", "--mount"]
        if subprocess.run(cmd + ["true"], capture_output=True).returncode == 0:
            env = dict(os.environ, FST_DISK_FULL_NS="1")
            sys.exit(subprocess.run(cmd + [sys.executable] + sys.argv, env=env).returncode)
    if not mount_tmpfs(path):
        print("SKIP: cannot mount a tmpfs (not root, and no user namespaces)")
        sys.exit(77)


def start_sim(tmp, uid, link):
    try:
        return fst_devsim_harness.start(DEVSIM, uid, link, os.path.join(tmp, uid + ".bin"),
                                        os.path.join(tmp, uid + ".ready"), "--baud", BAUD)
    except fst_devsim_harness.SimError as e:
        fail(str(e))


def fill(path):
    """writes until the file system has no byte left"""
    fd = os.open(os.path.join(path, "filler"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 1):
            chunk = b"\0" * size
            try:
                while True:
                    os.write(fd, chunk)
            except OSError:
                pass
    finally:
        os.close(fd)


def main():
    tmp = tempfile.mkdtemp(prefix="fst-disk-full.")
    small = os.path.join(tmp, "small")
    os.mkdir(small)
    sims = []
    try:
        in_namespace_or_skip(small)
        try:
            run(tmp, small, sims)
        finally:
            for p in sims:
                if p.poll() is None:
                    p.kill()
            subprocess.run(["umount", small], capture_output=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp, small, sims):
    ws = os.path.join(small, "ws")
    link = os.path.join(tmp, "port0")
    env = dict(os.environ)
    env.pop("FLEETSTATION_CA_PASSPHRASE", None)
    r = subprocess.run([STATION, "init", "--workspace", ws, "--demo-ca", "--profile", "aws-iot-ecc",
                        "--baud", BAUD], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail("init: " + r.stdout + r.stderr)

    first = start_sim(tmp, "DISK-FULL-1", link)
    sims.append(first)
    proc = subprocess.Popen([STATION, "provision", "--workspace", ws, "--port", link, "--count", "2",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    events = []
    filled = False
    swapped = False
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if time.monotonic() > deadline:
            proc.kill()
            fail("the run did not end")
        ev = json.loads(line)
        events.append(ev)
        if ev.get("event") == "progress" and ev.get("step") == "burn" and not filled:
            fill(small)
            filled = True
        # the first board is done: the technician puts the next one on
        if ev.get("device") == "DISK-FULL-1" and ev.get("step") in ("done", "failed") and not swapped:
            fst_devsim_harness.stop(first, link)
            sims.append(start_sim(tmp, "DISK-FULL-2", link))
            swapped = True
    rc = proc.wait(timeout=120)
    err = proc.stderr.read()
    print(err, file=sys.stderr)
    if not filled:
        fail("the device was never burned: %s" % events)
    if not swapped:
        fail("the first device never ended: %s" % events)

    # the first device: its final state could not be written, and it says so
    results = [e for e in events if e.get("event") == "result"]
    first_results = [e for e in results if e.get("device") == "DISK-FULL-1"]
    if len(first_results) != 1 or first_results[0]["result"] != "failed":
        fail("DISK-FULL-1: expected one failed result: %s" % results)
    if "NOT RECORDED" not in first_results[0].get("error", "") or "disk is full" not in first_results[0]["error"]:
        fail("DISK-FULL-1: the error does not say that it was not recorded: %s" % first_results[0])
    # the line stopped: the next board was never touched
    if any(e.get("device") == "DISK-FULL-2" for e in events):
        fail("the line went on to the next board after the database could not record")
    if any(e.get("step") == "identify" for e in events[events.index(first_results[0]):]):
        fail("a device was started after the database could not record")
    # exit 5, a summary, then the error
    if rc != 5:
        fail("exit %d, expected 5 (database)" % rc)
    if [e.get("event") for e in events[-2:]] != ["summary", "error"]:
        fail("the run did not end with a summary and an error: %s" % events[-2:])
    summary, error = events[-2], events[-1]
    if summary["exit_code"] != 5 or summary["failed"] != 1 or summary["cancelled"]:
        fail("summary: %s" % summary)
    if error["error_code"] != "database" or "the line stopped" not in error["error"] \
            or "disk is full" not in error["error"]:
        fail("error event: %s" % error)
    if "the line stopped" not in err:
        fail("stderr does not say that the line stopped")

    # a report onto a full disk (a memory stick, say: a second tmpfs) fails,
    # and leaves nothing that could pass for a report, nor a temporary file
    stick = os.path.join(tmp, "stick")
    os.mkdir(stick)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", stick]).returncode != 0:
        fail("cannot mount the second tmpfs")
    try:
        fill(stick)
        for fmt in ("csv", "pdf"):
            out = os.path.join(stick, "report." + fmt)
            r = subprocess.run([STATION, "report", "--workspace", ws, "--format", fmt, "-o", out],
                               capture_output=True, text=True, env=env)
            if r.returncode == 0 or "free space" not in r.stderr or out not in r.stderr:
                fail("report --format %s onto a full disk: exit %d: %s" % (fmt, r.returncode, r.stderr))
            if sorted(os.listdir(stick)) != ["filler"]:
                fail("report --format %s onto a full disk left %s" % (fmt, os.listdir(stick)))
        # and a backup onto it: no incomplete copy left either
        out = os.path.join(stick, "backup.db")
        r = subprocess.run([STATION, "db", "backup", "--workspace", ws, out], capture_output=True, text=True,
                           env=env)
        if r.returncode != 5 or "free space" not in r.stderr:
            fail("db backup onto a full disk: exit %d: %s" % (r.returncode, r.stderr))
        if sorted(os.listdir(stick)) != ["filler"]:
            fail("db backup onto a full disk left %s" % os.listdir(stick))
    finally:
        subprocess.run(["umount", stick])

    # nothing lost: with space again, the database knows the device's certificate
    os.unlink(os.path.join(small, "filler"))
    dump = subprocess.run([DEVSIM, "--storage", os.path.join(tmp, "DISK-FULL-1.bin"), "--dump", "device-cert"],
                          capture_output=True)
    if dump.returncode != 0:
        fail("DISK-FULL-1 holds no certificate: the test did not fill the disk after the burn began")
    serial = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=dump.stdout,
                            capture_output=True).stdout.decode().strip().split("=")[1].upper()
    r = subprocess.run([STATION, "certs", "--workspace", ws, "--json"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail("certs: " + r.stderr)
    recorded = {c["serial"]: c for c in json.loads(r.stdout)["certificates"]}
    if serial not in recorded:
        fail("the certificate DISK-FULL-1 holds (%s) is not in the database: %s" % (serial, sorted(recorded)))
    if recorded[serial]["state"] != "issued":
        fail("DISK-FULL-1's certificate: %s, expected issued (the final commit failed)" % recorded[serial])
    # run again with space: the next board is provisioned, and the device left
    # half-done is marked for re-work, its certificate interrupted
    r = subprocess.run([STATION, "provision", "--workspace", ws, "--port", link, "--json"],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail("the run after freeing space: exit %d: %s" % (r.returncode, r.stdout + r.stderr))
    r = subprocess.run([STATION, "certs", "--workspace", ws, "--json"], capture_output=True, text=True, env=env)
    after = {c["serial"]: c for c in json.loads(r.stdout)["certificates"]}
    if after[serial]["state"] != "interrupted":
        fail("DISK-FULL-1's certificate after the next start: %s, expected interrupted" % after[serial])
    if sorted(c["device"] for c in after.values()) != ["DISK-FULL-1", "DISK-FULL-2"]:
        fail("certificates after the next run: %s" % after)
    r = subprocess.run([STATION, "audit", "verify", "--workspace", ws], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail("audit verify: " + r.stdout + r.stderr)
    print("disk full: the line stopped after DISK-FULL-1 (exit 5); its certificate %s was recorded, "
          "and is interrupted after the next start" % serial)


if __name__ == "__main__":
    main()
