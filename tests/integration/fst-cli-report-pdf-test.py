#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The PDF report read back as a person reads it, on A4 and on Letter: every
40-digit serial appears whole (pdftotext finds it as one word) and inside its
column (its box ends before the next column begins, within the page margin),
and a long failure message is shortened, not run past the margin.
Skipped (77) without pdftotext and pdfinfo (poppler-utils).
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

STATION = os.environ["FST_STATION"]


def run(args, env):
    r = subprocess.run([STATION] + args, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=240)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {r.returncode}: {r.stderr[-500:]}")
    return r.stdout


def words(pdf):
    """(text, xMin, xMax, page width) of every word, from pdftotext -bbox"""
    out = subprocess.run(["pdftotext", "-bbox", pdf, "-"], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    result = []
    width = None
    for line in out.splitlines():
        m = re.search(r'<page width="([\d.]+)"', line)
        if m:
            width = float(m.group(1))
        m = re.search(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(.*)</word>',
                      line)
        if m:
            result.append((m.group(3), float(m.group(1)), float(m.group(2)), width))
    return result


def main():
    if not shutil.which("pdftotext") or not shutil.which("pdfinfo"):
        print("SKIP: pdftotext and pdfinfo (poppler-utils) are not installed")
        return 77
    tmp = tempfile.TemporaryDirectory(prefix="fst-report-pdf-")
    ws = os.path.join(tmp.name, "w")
    env = dict(os.environ)
    env.pop("FLEETSTATION_CA_PASSPHRASE", None)
    env["FLEETSTATION_WORKSPACE"] = ws
    env["XDG_DATA_HOME"] = os.path.join(tmp.name, "xdg")
    run(["demo", "--workspace", ws, "--devices", "3"], env)
    serials = [l.split("\t")[0] for l in run(["certs", "--output", "plain"], env).splitlines()]
    assert len(serials) == 3 and all(len(s) == 40 for s in serials), serials
    # a failed device whose message is far longer than a line
    long_reason = "the device answered " + "with a very long story " * 20 + "END-OF-REASON"
    db = sqlite3.connect(os.path.join(ws, "station.db"))
    db.execute("update devices set state = 'failed', last_error = ? where id = "
               "(select max(id) from devices)", (long_reason,))
    db.commit()
    db.close()

    failures = []
    for paper, size in (("a4", "595 x 842"), ("letter", "612 x 792")):
        pdf = os.path.join(tmp.name, paper + ".pdf")
        run(["report", "--format", "pdf", "--paper", paper, "--out", pdf], env)
        info = subprocess.run(["pdfinfo", pdf], stdout=subprocess.PIPE, text=True).stdout
        if f"Page size:       {size} pts" not in info:
            failures.append(f"{paper}: page size: {info}")
        ws_ = words(pdf)
        cert_col = [w for w in ws_ if w[0] == "Certificate"]
        if not cert_col:
            failures.append(f"{paper}: no Certificate column heading")
            continue
        next_col = cert_col[0][1]
        for s in serials:
            found = [w for w in ws_ if w[0] == s]
            if not found:
                failures.append(f"{paper}: serial {s} is not one whole word in the PDF text")
                continue
            _, x0, x1, width = found[0]
            if x1 > next_col or x1 > width - 40 + 0.5:
                failures.append(f"{paper}: serial {s} runs to x={x1:.1f}, past its column "
                                f"(the next starts at {next_col:.1f})")
        for text, x0, x1, width in ws_:
            if x1 > width - 40 + 0.5:
                failures.append(f"{paper}: {text!r} runs past the right margin (x={x1:.1f})")
        if any(w[0] == "END-OF-REASON" for w in ws_):
            failures.append(f"{paper}: the long failure message was not shortened")
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    if failures:
        return 1
    print("ok: PDF report serials whole and inside their column on A4 and Letter")
    return 0


if __name__ == "__main__":
    sys.exit(main())
