#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The live display of `fleetstation provision` in a real pseudo-terminal of a
set size (80x24 and 132x24), read back as a person would see it: the output is
fed to a terminal emulator (pyte) of the same size, and the screen is checked.

- every port has exactly one row on the screen: no duplicated or spliced rows;
- no row is wider than the terminal (a wrapped row breaks the in-place redraw);
- a long port path keeps its tail, and the summary lines are intact;
- the display is redrawn, not appended, when the window is resized (SIGWINCH).

Needs Debian's python3-pyte (the test skips, exit 77, without it).
"""
import fcntl
import re
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

try:
    import pyte
except ImportError:
    print("SKIP: python3-pyte is not installed (apt-get install python3-pyte)")
    sys.exit(77)

STATION = os.environ["FST_STATION"]
DEVSIM = os.environ["FST_DEVSIM"]
N_PORTS = 5


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def start_sims(ws, prefix):
    """N_PORTS boards behind links with long paths; returns (procs, links)"""
    procs, links = [], []
    deep = os.path.join(ws, "fixtures", "jig-with-a-long-name", "socket-links")
    os.makedirs(deep, exist_ok=True)
    for i in range(N_PORTS):
        uid = f"{prefix}-DISPLAY-BOARD-{i:04d}"
        link = os.path.join(deep, f"slot{i}")
        p = subprocess.Popen(
            [DEVSIM, "--uid", uid, "--model", "devsim-ecc", "--key-types", "ec-p256",
             "--validation", "ecdsa-p256", "--storage", os.path.join(ws, uid + ".bin"),
             "--link", link, "--baud", "57600"],
            stdout=subprocess.PIPE)
        if not p.stdout.readline().startswith(b"READY"):
            fail("simulator did not start")
        procs.append(p)
        links.append(link)
    return procs, links


def set_size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def run_in_pty(argv, cols, rows, resize_to=None):
    """runs argv on a pty of cols x rows; returns (exit code, raw output)"""
    pid, fd = pty.fork()
    if pid == 0:
        env = dict(os.environ, TERM="xterm", NO_COLOR="1")
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        os.execve(argv[0], argv, env)
    set_size(fd, cols, rows)
    out = bytearray()
    resized = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if resize_to is not None and not resized and b"burn" in out:
                set_size(fd, *resize_to)
                os.kill(pid, signal.SIGWINCH)
                resized = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), bytes(out)


def screen_of(raw, cols, rows):
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    stream.feed(raw.replace(b"\n", b"\r\n") if b"\r\n" not in raw else raw)
    return screen


def check(ws, cols, rows, prefix, resize_to=None):
    procs, links = start_sims(ws, prefix)
    try:
        argv = [STATION, "provision", "--workspace", os.path.join(ws, "w"), "--baud", "57600"]
        for link in links:
            argv += ["--port", link]
        rc, raw = run_in_pty(argv, cols, rows, resize_to)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    final_cols, final_rows = resize_to if resize_to else (cols, rows)
    text = raw.decode("utf-8", "replace")
    if rc != 0:
        fail(f"provision at {cols} columns exited {rc}:\n{text}")

    # no line the program wrote is wider than the terminal it had then
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).replace("\r", "")
    widest = max(len(l) for l in plain.split("\n"))
    if widest > max(cols, final_cols) - 1:
        fail(f"a line of {widest} columns on a {cols}-column terminal")

    screen = screen_of(raw, final_cols, final_rows * 4)
    shown = [l.rstrip() for l in screen.display]
    if resize_to is None:
        # each port has exactly one row, that ends done, with the path's tail
        for i in range(N_PORTS):
            uid_head = f"{prefix}-DISPLAY"
            rows_for = [l for l in shown if re.search(rf"slot{i}\b", l) and "[" in l]
            if len(rows_for) != 1:
                fail(f"port slot{i} has {len(rows_for)} rows on the {cols}-column screen:\n"
                     + "\n".join(shown))
            if "done" not in rows_for[0] or uid_head[:6] not in rows_for[0]:
                fail(f"port slot{i} row does not end done:\n{rows_for[0]}")
    if not any(re.match(rf"^{N_PORTS} provisioned, 0 failed", l) for l in shown):
        fail("no summary line on the screen:\n" + "\n".join(shown))
    return shown


def main():
    ws = tempfile.mkdtemp(prefix="fst-display-test.")
    try:
        r = subprocess.run([STATION, "init", "--workspace", os.path.join(ws, "w"), "--demo-ca",
                            "--profile", "aws-iot-ecc"], capture_output=True)
        if r.returncode != 0:
            fail("init: " + r.stderr.decode())
        for cols in (80, 132):
            shown = check(ws, cols, 24, f"C{cols}")
            print(f"ok: {cols}x24, {N_PORTS} ports, one row each")
        # narrowed while running: redrawn below, never spliced; no wider line afterwards
        check(ws, 132, 24, "RSZ", resize_to=(80, 24))
        print("ok: resized from 132 to 80 columns while provisioning")
    finally:
        shutil.rmtree(ws, ignore_errors=True)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
