#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Validates the --json lines of provision, batch, watch and demo against
station/cli/fleetstation-events.schema.json.

Usage: fst-cli-events-check.py [--with-log] FILE...

Every non-empty line of each FILE must be one JSON object valid against the
schema; the last must be a `summary` or an `error`. With --with-log (output
captured with 2>&1), lines of the stderr log format (`fleetstation: ...`) are
left out. Exits 0 when all are valid, 1 otherwise, 77 without python3-jsonschema.
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(77)

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "station", "cli",
                      "fleetstation-events.schema.json")


def check(path, with_log, validator):
    bad = 0
    events = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if with_log and line.startswith("fleetstation"):
                continue
            try:
                doc = json.loads(line)
            except ValueError as e:
                print(f"{path}:{n}: not JSON ({e}): {line[:120]}", file=sys.stderr)
                bad += 1
                continue
            for err in validator.iter_errors(doc):
                print(f"{path}:{n}: {err.message} at {list(err.absolute_path)}", file=sys.stderr)
                bad += 1
            events.append(doc.get("event") if isinstance(doc, dict) else None)
    if not events:
        print(f"{path}: no event lines", file=sys.stderr)
        bad += 1
    elif events[-1] not in ("summary", "error"):
        print(f"{path}: the last line is a {events[-1]} event, not a summary", file=sys.stderr)
        bad += 1
    return bad, len(events)


def main(argv):
    with_log = "--with-log" in argv
    files = [a for a in argv if a != "--with-log"]
    if not files:
        print(__doc__, file=sys.stderr)
        return 2
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    bad = 0
    for path in files:
        b, n = check(path, with_log, validator)
        bad += b
        if b == 0:
            print(f"{path}: {n} event lines valid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
