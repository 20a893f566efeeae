#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The CLI's contract, command by command: every command and subcommand prints
its help with --help (exit 0), refuses an unknown option and an unknown value
as a usage error (exit 2, and a JSON error object on stdout with --json), and
with --json prints JSON only: one document, or for demo event lines valid
against station/cli/fleetstation-events.schema.json. Commands honour
$FLEETSTATION_WORKSPACE, and given a folder that is not a workspace say how
to make one or give another (exit 3). A JSON listing that the database fails in the
middle of ends its partial document with a newline, prints the error object
on the next line and exits 5. Skipped (77) without python3-jsonschema.
"""
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed")
    sys.exit(77)

STATION = os.environ["FST_STATION"]
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_PATH = os.path.join(HERE, "..", "..", "station", "cli", "fleetstation-events.schema.json")

COMMANDS = ["demo", "devices", "revoke", "escrow", "init", "ports", "provision", "certs", "show",
            "batch", "watch", "audit", "db", "report", "profile", "roots", "register", "central",
            "ca"]
SUBCOMMANDS = ["ca create", "ca install", "ca import", "ca renew", "ca list", "ca verification-cert",
               "ca register-aws", "ca crl", "certs export", "report verify", "audit verify",
               "audit checkpoint", "db backup", "db check", "db stats", "profile check",
               "roots list", "roots report", "register status", "register push",
               "register retry", "register reconcile", "central init", "central status", "central sync",
               "central audit", "central report"]

failures = []

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
TIME_KEYS = ("not_before", "not_after", "cert_not_after")


def times_ok(doc, where):
    """every time member is an RFC 3339 UTC string or null"""
    if isinstance(doc, list):
        for d in doc:
            times_ok(d, where)
    elif isinstance(doc, dict):
        for k, v in doc.items():
            if k.endswith("_at") or k in TIME_KEYS:
                if v is not None and not (isinstance(v, str) and RFC3339.match(v)):
                    fail(f"{where}: {k} is {v!r}, not an RFC 3339 UTC time")
            times_ok(v, where)


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def run(args, env, timeout=120):
    return subprocess.run([STATION] + args, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, start_new_session=True)


def main():
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    events = cls(schema)
    error_object = cls(dict(schema, oneOf=[{"$ref": "#/$defs/error"}]))

    tmp = tempfile.TemporaryDirectory(prefix="fst-cli-contract-")
    ws = os.path.join(tmp.name, "w")
    env = dict(os.environ)
    for k in ("FLEETSTATION_CA_PASSPHRASE", "FLEETSTATION_DEMO_WORKSPACE", "NO_COLOR"):
        env.pop(k, None)
    env["XDG_DATA_HOME"] = os.path.join(tmp.name, "xdg")
    env["FLEETSTATION_WORKSPACE"] = ws

    # --help: exit 0 and a usage text, for every command and subcommand, with
    # the exit codes
    for cmd in COMMANDS + SUBCOMMANDS + ["help " + c for c in COMMANDS]:
        r = run(cmd.split() + ["--help"] if not cmd.startswith("help ") else cmd.split(), env)
        if r.returncode != 0 or "Usage" not in r.stdout or "Exit status:" not in r.stdout:
            fail(f"`{cmd} --help` exited {r.returncode}; stdout {r.stdout[:200]!r}")
    # a command's own description is kept beside them
    for cmd, says in (("register", "credential_process"), ("escrow", "openssl cms -decrypt"),
                      ("central", "ship this station's records now")):
        r = run([cmd, "--help"], env)
        if says not in r.stdout:
            fail(f"`{cmd} --help` lost its description ({says!r}): {r.stdout[-400:]!r}")

    # an unknown option is a usage error everywhere, a JSON error object with --json
    for cmd in COMMANDS + SUBCOMMANDS:
        r = run(cmd.split() + ["--no-such-option"], env)
        if r.returncode != 2:
            fail(f"`{cmd} --no-such-option` exited {r.returncode}, not 2")
        r = run(cmd.split() + ["--no-such-option", "--json"], env)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            fail(f"`{cmd} --no-such-option --json` printed no JSON error: {r.stdout[:200]!r}")
            continue
        for e in error_object.iter_errors(doc):
            fail(f"`{cmd} --no-such-option --json` error object: {e.message}")
        if r.returncode != 2 or doc.get("exit_code") != 2 or doc.get("error_code") != "usage":
            fail(f"`{cmd} --no-such-option --json` exited {r.returncode}: {doc}")

    # demo --json: every line an event valid against the schema, the summary last
    r = run(["demo", "--workspace", ws, "--devices", "2", "--json"], env, timeout=240)
    if r.returncode != 0:
        fail(f"demo --json exited {r.returncode}: {r.stderr[-500:]}")
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    for n, line in enumerate(lines, 1):
        try:
            doc = json.loads(line)
        except ValueError:
            fail(f"demo --json line {n} is not JSON: {line[:120]}")
            continue
        for e in events.iter_errors(doc):
            fail(f"demo --json line {n}: {e.message}")
    if not lines or json.loads(lines[-1]).get("event") != "summary":
        fail("demo --json did not end with a summary")
    kinds = {json.loads(l).get("event") for l in lines}
    if not {"progress", "result", "summary"} <= kinds:
        fail(f"demo --json events {sorted(kinds)}: expected progress, result and summary")

    # --json on the commands that print: one JSON document on stdout, exit 0;
    # the workspace comes from $FLEETSTATION_WORKSPACE
    serial = None
    for d in json.loads(lines[-1]).get("devices", []) if lines else []:
        serial = serial or d.get("serial")
    profile = os.path.join(os.environ.get("FST_TEMPLATES_DIR", ""), "profiles",
                           "aws-iot-ecc.profile")
    documents = [["devices"], ["certs"], ["roots", "report"], ["ca", "list"], ["init"], ["audit", "verify"],
                 ["audit", "checkpoint", "--out", os.path.join(tmp.name, "a.anchor")],
                 ["db", "stats"], ["db", "check"],
                 ["db", "backup", os.path.join(tmp.name, "backup.db")],
                 ["ca", "crl"], ["ca", "verification-cert", "--code", "0123456789abcdef"],
                 ["roots", "list"], ["ports"]]
    if os.path.exists(profile):
        documents.append(["profile", "check", profile])
    if serial:
        documents.append(["show", json.loads(lines[-1])["devices"][0]["device"]])
        documents.append(["revoke", serial, "--reason", "superseded"])
        documents.append(["certs", "--state", "revoked"])
    for args in documents:
        r = run(args + ["--json"], env)
        try:
            doc = json.loads(r.stdout)
            if not isinstance(doc, (dict, list)):
                raise ValueError("not an object")
        except ValueError as e:
            fail(f"`{' '.join(args)} --json` printed no JSON document ({e}): {r.stdout[:200]!r}")
            continue
        if r.returncode != 0:
            fail(f"`{' '.join(args)} --json` exited {r.returncode}: {r.stderr[-300:]}")
        times_ok(doc, " ".join(args))

    # --json on the commands that make or check things: a document on success,
    # a JSON error object on failure
    def json_doc(args, rc=0):
        r = run(args + ["--json"], env)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            fail(f"`{' '.join(args)} --json` printed no JSON: {r.stdout[:200]!r} {r.stderr[-300:]}")
            return None
        if r.returncode != rc:
            fail(f"`{' '.join(args)} --json` exited {r.returncode}, not {rc}: {r.stderr[-300:]}")
        if rc != 0:
            for e in error_object.iter_errors(doc):
                fail(f"`{' '.join(args)} --json` error object: {e.message}")
        return doc

    passfile = os.path.join(tmp.name, "pass")
    with open(os.open(passfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("correct horse battery staple\n")
    ws2 = os.path.join(tmp.name, "w2")
    doc = json_doc(["ca", "create", "--workspace", ws2, "--passphrase-file", passfile])
    if doc is not None and sorted(c["name"] for c in doc.get("cas", [])) != ["issuing-ca", "root-ca"]:
        fail(f"ca create --json: {doc}")
    doc = json_doc(["ca", "create", "--workspace", ws2, "--passphrase-file", passfile], rc=3)
    if doc is not None and doc.get("error_code") != "config":
        fail(f"ca create --json over a CA: {doc}")
    json_doc(["ca", "install", "--workspace", ws2, "--cert", os.path.join(tmp.name, "none.pem")],
             rc=3)
    json_doc(["ca", "install", "--workspace", ws2], rc=2)
    json_doc(["ca", "import", "--workspace", os.path.join(tmp.name, "w3"), "--pkcs12",
              os.path.join(tmp.name, "none.p12"), "--passphrase-file", passfile], rc=3)
    if serial:
        doc = json_doc(["certs", "export", serial])
        if doc is not None and not (doc.get("serial") == serial and
                                    doc.get("pem", "").startswith("-----BEGIN CERTIFICATE")):
            fail(f"certs export --json: {doc}")
    json_doc(["certs", "export", "00AB", "--der"], rc=2)
    # report writes its file with -o/--out, as certs export, escrow and ca crl
    # do; --output json, how the listing commands ask for JSON, is refused
    # rather than written to a file named json, and --output FILE, the older
    # name, still writes FILE, with a note
    cwd = os.getcwd()
    os.chdir(tmp.name)
    try:
        doc = json_doc(["report", "--output", "json"], rc=2)
        if doc is not None and "--format" not in doc.get("error", ""):
            fail(f"report --output json: {doc}")
        if os.path.exists("json"):
            fail("report --output json wrote a file named json")
    finally:
        os.chdir(cwd)
    old_name = os.path.join(tmp.name, "old-name.csv")
    r = run(["report", "--output", old_name], env)
    if r.returncode != 0 or "-o/--out" not in r.stderr or not os.path.exists(old_name):
        fail(f"report --output FILE: exit {r.returncode}: {r.stderr[-300:]}")
    csv = os.path.join(tmp.name, "r.csv")
    r = run(["report", "--out", csv, "--sign"], env)
    if r.returncode != 0:
        fail(f"report --sign exited {r.returncode}: {r.stderr[-300:]}")
    else:
        doc = json_doc(["report", "verify", csv, csv + ".sig"])
        if doc is not None and doc.get("verified") is not True:
            fail(f"report verify --json: {doc}")
        with open(csv, "a", encoding="utf-8") as f:
            f.write("x\n")
        doc = json_doc(["report", "verify", csv, csv + ".sig"], rc=1)
        if doc is not None and doc.get("error_code") != "verify-failed":
            fail(f"report verify --json of a changed report: {doc}")

    # --output table|plain|json on the listing commands: plain is one row per
    # line, tab-separated, as many cells as the table has columns; json is
    # --json; a table on a narrow terminal fits it and keeps serials whole
    for args, n_cols in ((["devices"], 6), (["certs"], 6), (["ports"], 8), (["roots", "list"], 6),
                          (["register", "status"], 6)):
        name = " ".join(args)
        table = run(args + ["--output", "table"], env)
        plain = run(args + ["--output", "plain"], env)
        as_json = run(args + ["--output", "json"], env)
        if table.returncode or plain.returncode or as_json.returncode:
            fail(f"{name} --output: exit {table.returncode} {plain.returncode} {as_json.returncode}")
            continue
        rows = plain.stdout.splitlines()
        # the table's rows: not its heading, the notes under it, or the counts above it
        lines = [l for l in table.stdout.splitlines()
                 if ": not accessible: " not in l and not re.match(r"^\d+ pending, ", l)]
        n_table = max(len(lines) - 1, 0)
        if len(rows) != n_table:
            fail(f"{name} --output plain has {len(rows)} rows, the table {n_table}")
        for row in rows:
            if len(row.split("\t")) != n_cols:
                fail(f"{name} --output plain: {row!r} is not {n_cols} tab-separated cells")
        try:
            json.loads(as_json.stdout)
        except ValueError:
            fail(f"{name} --output json printed no JSON: {as_json.stdout[:200]!r}")
        doc = json_doc(args + ["--output", "bogus"], rc=2)
        if doc is not None and doc.get("error_code") != "usage":
            fail(f"{name} --output bogus --json: {doc}")
    narrow = dict(env, COLUMNS="100")
    r = subprocess.run([STATION, "certs", "--output", "table"], env=narrow, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    for line in r.stdout.splitlines():
        if len(line) > 100:
            fail(f"certs table at 100 columns: {len(line)} columns: {line!r}")
    if serial and serial not in r.stdout:
        fail(f"certs table at 100 columns cut the serial {serial}: {r.stdout!r}")
    if "Fleetstation Demo" in r.stdout:
        fail(f"certs table at 100 columns did not cut the subject: {r.stdout!r}")

    # the report honours $FLEETSTATION_WORKSPACE too (its content is --format json)
    r = run(["report", "--format", "json"], env)
    if r.returncode != 0:
        fail(f"report with $FLEETSTATION_WORKSPACE exited {r.returncode}: {r.stderr[-300:]}")

    # unknown values: exit 2, and with --json a JSON error object on stdout
    bad_values = [["certs", "--state", "bogus"], ["devices", "--state", "bogus"],
                  ["revoke", "00AB", "--reason", "bogus"], ["ca", "crl", "--days", "0"],
                  ["db", "bogus"], ["audit", "bogus"], ["profile", "check"],
                  ["ca", "verification-cert"]]
    for args in bad_values:
        r = run(args + ["--json"], env)
        if r.returncode != 2:
            fail(f"`{' '.join(args)} --json` exited {r.returncode}, not 2")
            continue
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            fail(f"`{' '.join(args)} --json` printed no JSON error: {r.stdout[:200]!r}")
            continue
        for e in error_object.iter_errors(doc):
            fail(f"`{' '.join(args)} --json` error object: {e.message}")
        if doc.get("exit_code") != 2 or doc.get("error_code") != "usage":
            fail(f"`{' '.join(args)} --json` error object {doc}")
    for args in [["report", "--format", "bogus"], ["demo", "--devices", "0"],
                 ["init", "--baud", "7"], ["ca", "create", "--key-type", "bogus"]]:
        r = run(args, env)
        if r.returncode != 2:
            fail(f"`{' '.join(args)}` exited {r.returncode}, not 2")

    # an error that is not a usage error is a JSON error object too
    r = run(["devices", "--workspace", os.path.join(tmp.name, "none"), "--json"], env)
    try:
        doc = json.loads(r.stdout)
        for e in error_object.iter_errors(doc):
            fail(f"devices in a missing workspace: error object: {e.message}")
    except ValueError:
        fail(f"devices --json in a missing workspace printed no JSON: {r.stdout[:200]!r}")

    # every command that needs a workspace, given a folder that is not one,
    # says so in one message: what makes one and how to give another (exit
    # 3); run from inside a workspace, it adds `--workspace .`
    none = os.path.join(tmp.name, "none")
    needs_workspace = [["devices"], ["certs"], ["show", "X"], ["provision"], ["watch"],
                       ["report"], ["audit", "verify"], ["audit", "checkpoint", "--out",
                       os.path.join(tmp.name, "none.anchor")], ["db", "check"], ["db", "stats"],
                       ["db", "backup", os.path.join(tmp.name, "none.db")], ["roots", "report"],
                       ["register", "status"], ["central", "status"],
                       ["revoke", "00AB", "--reason", "superseded"],
                       ["escrow", "00AB", "--out", os.path.join(tmp.name, "none.cms")]]
    no_env = dict(env, FLEETSTATION_WORKSPACE=none)
    for where, hint in ((tmp.name, False), (ws, True)):
        for args in needs_workspace:
            name = " ".join(args)
            r = subprocess.run([STATION] + args, env=no_env, cwd=where, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=120)
            says = (f"{none} is not a workspace (no station.conf): make it one with "
                    f"`fleetstation init --workspace {none}`, or give yours with --workspace or "
                    f"FLEETSTATION_WORKSPACE")
            if r.returncode != 3 or says not in r.stderr:
                fail(f"`{name}` outside a workspace exited {r.returncode}: {r.stderr[-400:]!r}")
            if ("the current directory is one: add --workspace ." in r.stderr) != hint:
                fail(f"`{name}` run in {where}: the hint to add --workspace . is "
                     f"{'missing' if hint else 'wrong'}: {r.stderr[-400:]!r}")
        if os.path.exists(none):
            fail(f"a command outside a workspace made {none}")
    r = subprocess.run([STATION, "certs", "--json"], env=no_env, cwd=ws, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    try:
        doc = json.loads(r.stdout)
        if doc.get("error_code") != "config" or "add --workspace ." not in doc.get("error", ""):
            fail(f"certs --json outside a workspace: {doc}")
    except ValueError:
        fail(f"certs --json outside a workspace printed no JSON: {r.stdout[:200]!r}")

    # standard output on a full disk (/dev/full): the listing, the help and
    # the version are cut short, and that is an error saying so, never exit 0
    if os.path.exists("/dev/full"):
        for args in (["certs", "--json"], ["devices"], ["--help"], ["--version"]):
            with open("/dev/full", "w") as full:
                r = subprocess.run([STATION] + args, env=env, stdin=subprocess.DEVNULL, stdout=full,
                                   stderr=subprocess.PIPE, text=True, timeout=120)
            if r.returncode == 0 or "writing to standard output failed" not in r.stderr:
                fail(f"`{' '.join(args)} > /dev/full` exited {r.returncode}: {r.stderr[-300:]!r}")

    # a listing the database fails in the middle of (the page of the
    # certificates table that holds the last one damaged): the rows read so
    # far, then on a line of its own the error object, exit 5; never a
    # document that parses as whole
    ws3 = os.path.join(tmp.name, "w3")
    r = run(["demo", "--workspace", ws3, "--devices", "16"], env, timeout=300)
    if r.returncode != 0:
        fail(f"demo of 16 devices exited {r.returncode}: {r.stderr[-300:]}")
    else:
        db = os.path.join(ws3, "station.db")
        con = sqlite3.connect(db)
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        ders = [row[0] for row in con.execute("SELECT der FROM certificates ORDER BY id")]
        con.close()
        with open(db, "rb") as f:
            data = bytearray(f.read())
        first, last = data.find(ders[0]), data.find(ders[-1])
        if first < 0 or last < 0 or first // page_size == last // page_size:
            fail(f"the certificates are not where the test looks for them ({first}, {last})")
        else:
            # the page's b-tree type byte: no page SQLite can read
            data[last // page_size * page_size] = 0
            with open(db, "r+b") as f:
                f.write(data)
            r = run(["certs", "--workspace", ws3, "--json"], env)
            lines = r.stdout.splitlines()
            if r.returncode != 5 or len(lines) != 2:
                fail(f"certs --json over a damaged page exited {r.returncode} with "
                     f"{len(lines)} lines: {r.stdout[-300:]!r} {r.stderr[-300:]}")
            else:
                if not lines[0].startswith('{"certificates":[{') or '"serial"' not in lines[0]:
                    fail(f"certs --json over a damaged page: no rows before the error: "
                         f"{lines[0][:200]!r}")
                try:
                    json.loads(lines[0])
                    fail("certs --json over a damaged page printed a whole document")
                except ValueError:
                    pass
                try:
                    doc = json.loads(lines[1])
                    for e in error_object.iter_errors(doc):
                        fail(f"certs --json over a damaged page: error object: {e.message}")
                    if doc.get("exit_code") != 5:
                        fail(f"certs --json over a damaged page: error object {doc}")
                except ValueError:
                    fail(f"certs --json over a damaged page: no error object: {lines[1]!r}")

    # short options mean one thing in every command
    shorts = {}
    for cmd in COMMANDS + SUBCOMMANDS:
        r = run(cmd.split() + ["--help"], env)
        for line in r.stdout.splitlines():
            parts = line.strip().split()
            if len(parts) >= 2 and len(parts[0]) == 3 and parts[0].startswith("-") \
                    and parts[0].endswith(",") and parts[1].startswith("--"):
                long = parts[1].split("=")[0]
                shorts.setdefault(parts[0][:2], set()).add(long)
    allowed = {"-n": {"--count", "--devices"}, "-o": {"--out", "--output"}}
    for short, longs in sorted(shorts.items()):
        if len(longs) > 1 and longs != allowed.get(short, set()) and \
                not longs <= allowed.get(short, set()):
            fail(f"{short} means {sorted(longs)}")

    if failures:
        print(f"{len(failures)} contract failure(s)", file=sys.stderr)
        return 1
    print("cli contract: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
