# SPDX-License-Identifier: Apache-2.0
"""Simulated devices for the Python tests: a fleetstation-devsim behind a pty
link, started until it says READY, and stopped until its link is gone (the
next board on the same port)."""

import os
import subprocess
import time


class SimError(Exception):
    """a simulator that did not start"""


def start(devsim, uid, link, storage, ready, *extra, timeout=10.0):
    """an ECC board UID on a pty behind LINK, its storage in STORAGE; its
    standard output (READY PTY) goes to the file READY. EXTRA are more
    simulator options. Returns the process once it is ready."""
    with open(ready, "w") as out:
        p = subprocess.Popen([devsim, "--uid", uid, "--key-types", "ec-p256", "--validation",
                              "ecdsa-p256", "--storage", storage, "--link", link, *extra],
                             stdout=out, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(ready) as f:
            if "READY" in f.read():
                return p
        if p.poll() is not None:
            raise SimError("simulator %s exited %d before READY" % (uid, p.returncode))
        time.sleep(0.01)
    p.kill()
    p.wait()
    raise SimError("simulator %s did not start in %.0f s" % (uid, timeout))


def stop(p, link, timeout=2.0):
    """stops a simulator and waits until its LINK is gone, so that the next
    one can take the port"""
    p.terminate()
    p.wait(timeout=30)
    deadline = time.monotonic() + timeout
    while os.path.lexists(link) and time.monotonic() < deadline:
        time.sleep(0.01)
