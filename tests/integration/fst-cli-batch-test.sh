#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fleetstation batch: a CSV manifest run once with troubles (a full device, the
# wrong board on a fixture, a device nowhere), reported per row; then run again
# after the fixes: the rows done are skipped (no second certificate), the others
# resume. A JSON manifest and malformed manifests too.
set -euo pipefail

: "${FST_STATION:?}" "${FST_DEVSIM:?}" "${FST_TEMPLATES_DIR:?}"
ws=$(mktemp -d /tmp/fst-batch-test.XXXXXX)
declare -A sim_pid
cleanup() {
	for p in "${sim_pid[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$ws"
}
trap cleanup EXIT
. "$(dirname "$0")/fst-test-lib.sh"
# events_check [--with-log] FILE...: every --json line valid against the event schema
events_check() {
	local rc=0
	python3 "$(dirname "$0")/fst-cli-events-check.py" "$@" >/dev/null || rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 77 ] || fail "--json lines do not match station/cli/fleetstation-events.schema.json: $*"
}
q() { sqlite3 -batch -noheader "$ws/w/station.db" "$@"; }
unset FLEETSTATION_CA_PASSPHRASE
L=$ws/links
mkdir -p "$L" "$ws/storage"

sim() {
	local name=$1 uid=$2
	shift 2
	if [ -n "${sim_pid[$name]:-}" ]; then
		kill "${sim_pid[$name]}"
		wait "${sim_pid[$name]}" 2>/dev/null || true
	fi
	rm -f "$ws/$name.ready"
	"$FST_DEVSIM" --uid "$uid" --model devsim-ecc --key-types ec-p256 --validation ecdsa-p256 \
		--storage "$ws/storage/$uid.bin" --link "$L/$name" --baud 921600 "$@" >"$ws/$name.ready" &
	sim_pid[$name]=$!
	for _ in $(seq 100); do
		grep -q READY "$ws/$name.ready" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "simulator $name did not start"
}

"$FST_STATION" init --workspace "$ws/w" --demo-ca --profile aws-iot-ecc >/dev/null 2>&1 || fail "init"
sim b1 BAT-1
sim b2 BAT-2
sim b3 BAT-3 --capacity-cert 300
sim wrong BAT-X
sim c1 BAT-4
cat >"$ws/m.csv" <<CSV
# the morning run of line 3
device,port,lot

BAT-1,$L/b1,L1
,$L/b2,L1
BAT-3,$L/b3,L1
BAT-4,,L1
BAT-5,$L/wrong,L1
BAT-6,,L1
CSV

rc=0
"$FST_STATION" batch --workspace "$ws/w" --port "$L/c1" --port "$L/c2" "$ws/m.csv" --json >"$ws/run1.json" 2>"$ws/run1.err" || rc=$?
[ $rc -eq 1 ] || { cat "$ws/run1.json" "$ws/run1.err"; fail "first run should exit 1, got $rc"; }
events_check "$ws/run1.json"
python3 - "$ws/run1.json" <<'PY' || { cat "$ws/run1.json"; fail "first run report"; }
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]
rows = {r["line"]: r for r in s["rows"]}
assert s["event"] == "summary" and s["command"] == "batch", s
assert rows[4]["status"] == "provisioned" and rows[4]["serial"], rows[4]
assert rows[5]["status"] == "provisioned" and rows[5]["device"] == "BAT-2", rows[5]
assert rows[6]["status"] == "failed" and rows[6]["error_code"] == "storage-full", rows[6]
assert rows[7]["status"] == "provisioned" and rows[7]["port"] is None, rows[7]
assert rows[8]["status"] == "failed" and "BAT-X" in rows[8]["error"] and "BAT-5" in rows[8]["error"], rows[8]
assert rows[9]["status"] == "missing" and "BAT-6" in rows[9]["error"], rows[9]
assert (s["provisioned"], s["failed"], s["missing"], s["skipped"]) == (3, 2, 1, 0), s
PY
[ "$(q "select count(*) from devices where uid = 'BAT-X'")" -eq 0 ] || fail "the wrong board was touched"
[ "$(q "select l.name from devices d join lots l on l.id = d.lot_id where d.uid = 'BAT-4'")" = L1 ] || fail "lot of a row"

# the fixes: a good BAT-3, the right board on the fixture, BAT-6 plugged in
sim b3 BAT-3
sim wrong BAT-5
sim c2 BAT-6
"$FST_STATION" batch --workspace "$ws/w" --port "$L/c1" --port "$L/c2" "$ws/m.csv" >"$ws/run2.out" 2>&1 ||
	{ cat "$ws/run2.out"; fail "second run should pass"; }
cat "$ws/run2.out"
grep -q '^3 provisioned, 0 failed, 3 skipped, 0 missing, 0 not run' "$ws/run2.out" || fail "second run counts"
[ "$(q "select count(*) from certificates c join devices d on d.id = c.device_id where d.uid = 'BAT-1'")" -eq 1 ] ||
	fail "a done row was provisioned again"
[ "$(q "select count(*) from devices where uid like 'BAT-%' and state = 'provisioned'")" -eq 6 ] || fail "not all 6 provisioned"

# a third run has nothing to do: every row skipped, the devices met on a port
# are skipped results (with the certificate in service), and it passes
"$FST_STATION" batch --workspace "$ws/w" --port "$L/c1" --port "$L/c2" "$ws/m.csv" --quiet >"$ws/run3.out" 2>&1 ||
	{ cat "$ws/run3.out"; fail "third run"; }
grep -q '^0 provisioned, 0 failed, 6 skipped' "$ws/run3.out" || { cat "$ws/run3.out"; fail "third run counts"; }
"$FST_STATION" batch --workspace "$ws/w" --port "$L/c1" --port "$L/c2" "$ws/m.csv" --json >"$ws/run4.json" 2>"$ws/run4.err" ||
	{ cat "$ws/run4.json" "$ws/run4.err"; fail "fourth run"; }
events_check "$ws/run4.json"
python3 - "$ws/run4.json" "$(q "select c.serial_hex from certificates c join devices d on d.id = c.device_id where d.uid = 'BAT-2' and c.state = 'verified'")" <<'PY' || { cat "$ws/run4.json"; fail "fourth run report"; }
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
s = lines[-1]
assert s["exit_code"] == 0 and s["skipped"] == 6 and s["provisioned"] == 0, s
assert all(r["status"] == "skipped" and r["serial"] for r in s["rows"]), s["rows"]
# BAT-2's row names a port and no device: the device is met there, and skipped
res = [l for l in lines if l["event"] == "result"]
assert [(r["device"], r["result"], r["serial"]) for r in res] == [("BAT-2", "skipped", sys.argv[2])], res
steps = [l["step"] for l in lines if l["event"] == "progress" and l["device"] == "BAT-2"]
assert steps[-1] == "skipped" and "done" not in steps, steps
PY

# a JSON manifest with a manifest-wide lot
sim j1 BAT-7
printf '{"lot": "LJ", "devices": [{"device": "BAT-7", "port": "%s"}]}\n' "$L/j1" >"$ws/m.json"
"$FST_STATION" batch --workspace "$ws/w" "$ws/m.json" >"$ws/json.out" 2>&1 || { cat "$ws/json.out"; fail "json manifest"; }
[ "$(q "select l.name from devices d join lots l on l.id = d.lot_id where d.uid = 'BAT-7'")" = LJ ] || fail "json lot"

# a manifest as a spreadsheet in a German locale saves it: semicolons, a
# notes column (ignored, with a note) holding a multi-line cell, CRLF
sim s1 BAT-8
printf 'Device;Port;Notes;Lot\r\nBAT-8;%s;"Spannung 3,3 V;\r\nzweite Zeile";LS\r\n' "$L/s1" >"$ws/de.csv"
"$FST_STATION" batch --workspace "$ws/w" "$ws/de.csv" >"$ws/de.out" 2>&1 || { cat "$ws/de.out"; fail "semicolon manifest"; }
grep -q '^1 provisioned, 0 failed' "$ws/de.out" || { cat "$ws/de.out"; fail "semicolon manifest counts"; }
grep -q 'de.csv:1: column "notes" is not one of device, port, profile, lot: ignored' "$ws/de.out" ||
	{ cat "$ws/de.out"; fail "no note for the ignored column"; }
[ "$(q "select l.name from devices d join lots l on l.id = d.lot_id where d.uid = 'BAT-8'")" = LS ] || fail "semicolon manifest lot"

# malformed manifests: exit 3, the file and line named
bad() {
	printf '%b' "$1" >"$ws/bad"
	rc=0
	"$FST_STATION" batch --workspace "$ws/w" "$ws/bad" >"$ws/bad.out" 2>&1 || rc=$?
	[ $rc -eq 3 ] || { cat "$ws/bad.out"; fail "malformed manifest ($1) exited $rc"; }
	grep -q "$2" "$ws/bad.out" || { cat "$ws/bad.out"; fail "message for ($1) lacks $2"; }
}
bad 'device,Device\nA,B\n' 'bad:1: column "device" is repeated'
bad 'device,port\nA\n' 'bad:2: 1 fields'
bad 'device,port\nA,\nA,\n' 'bad:3: A is already on line 2'
bad 'device,port\n,\n' 'bad:2: the row needs a device or a port'
bad '{"devices": [{"device": 7}]}' '"device" must be a string'
bad '{"devices": [' 'not valid JSON'
bad 'device\nA\x01B\n' 'control character'
bad '{"devices": [{"device": "A",\n "device": "B"}]}' 'bad:2: "device" appears twice'

# what is not a manifest file: exit 3 with what it is, never a hang or a crash
not_file() {
	rc=0
	timeout 20 "$FST_STATION" batch --workspace "$ws/w" "$1" >"$ws/nf.out" 2>&1 || rc=$?
	[ $rc -eq 3 ] || { cat "$ws/nf.out"; fail "batch $1 exited $rc"; }
	grep -q "$2, not a regular file" "$ws/nf.out" || { cat "$ws/nf.out"; fail "message for $1 lacks $2"; }
}
mkdir "$ws/dir"
mkfifo "$ws/fifo"
not_file "$ws/dir" "is a directory"
not_file "$ws/fifo" "is a FIFO"
not_file /dev/zero "is a character device"
echo "ok: batch report per row, resume on re-run, JSON manifest, malformed manifests, non-files"
