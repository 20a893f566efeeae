#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The headless CLI from the outside: init and its defaults, provision on a gang
# of simulated devices (plain lines, --json), a profile of the workspace's own,
# the failures an operator must
# understand (busy port, wrong model, full device, no answer), and Ctrl-C
# finishing the devices in flight without marking a half-done device done.
set -euo pipefail

: "${FST_STATION:?}" "${FST_DEVSIM:?}" "${FST_TEMPLATES_DIR:?}"
ws=$(mktemp -d /tmp/fst-cli-test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
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
# reap PID: its exit status in rc, killed after 60 s so that a hang fails fast
reap() {
	for _ in $(seq 1200); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$1" 2>/dev/null || true
	rc=0
	wait "$1" || rc=$?
}
unset FLEETSTATION_CA_PASSPHRASE NO_COLOR
mkdir -p "$ws/links" "$ws/storage"

# sim NAME UID [devsim options...]: a simulated device behind the link $ws/links/NAME
sim() {
	local name=$1 uid=$2
	shift 2
	"$FST_DEVSIM" --uid "$uid" --model devsim-ecc --key-types ec-p256 --validation ecdsa-p256 \
		--storage "$ws/storage/$uid.bin" --link "$ws/links/$name" "$@" >"$ws/$name.ready" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q READY "$ws/$name.ready" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "simulator $name did not start"
}

# init: the workspace, and the defaults written to station.conf
"$FST_STATION" init --workspace "$ws/w" --demo-ca --profile aws-iot-ecc --lot LOT-A --baud 921600 \
	>"$ws/init.out" 2>&1 || { cat "$ws/init.out"; fail "init"; }
grep -q '^\[defaults\]' "$ws/w/station.conf" || fail "no [defaults] in station.conf"
grep -q '^profile=aws-iot-ecc' "$ws/w/station.conf" || fail "default profile not saved"
grep -q '^baud=921600' "$ws/w/station.conf" || fail "default baud not saved"
grep -q '^name=' "$ws/w/station.conf" || fail "init lost the [station] group"
"$FST_STATION" init --workspace "$ws/w" --json >"$ws/init.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["profile"]=="aws-iot-ecc" and d["lot"]=="LOT-A" and d["baud"]==921600, d' \
	"$ws/init.json" || fail "init --json does not show the kept defaults"
rc=0
"$FST_STATION" init --workspace "$ws/w" --baud 7 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "bad --baud should exit 2, got $rc"

# init without --demo-ca: a workspace waiting for `ca create`/`ca import`, no CA made
"$FST_STATION" init --workspace "$ws/noca" >"$ws/noca.out" 2>&1 || { cat "$ws/noca.out"; fail "init without a CA"; }
grep -q 'without an issuing CA: run `fleetstation ca create`' "$ws/noca.out" || { cat "$ws/noca.out"; fail "init does not say what comes next"; }
[ ! -e "$ws/noca/ca/issuing-ca.pem" ] && [ ! -e "$ws/noca/ca/passphrase" ] || fail "init made a CA without --demo-ca"
[ -f "$ws/noca/station.db" ] || fail "init did not make the database"
rc=0
"$FST_STATION" provision --workspace "$ws/noca" --profile aws-iot-ecc --port /dev/null >"$ws/noca.prov" 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat "$ws/noca.prov"; fail "provision without a CA should exit 4, got $rc"; }

# a gang of three, piped: plain lines, no escape codes, the defaults used
sim p1 CLI-0001 --baud 921600
sim p2 CLI-0002 --baud 921600
sim p3 CLI-0003 --baud 921600
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/p1" --port "$ws/links/p2" \
	--port "$ws/links/p3" >"$ws/gang.out" 2>&1 || { cat "$ws/gang.out"; fail "provision exited $?"; }
grep -q $'\033' "$ws/gang.out" && fail "escape codes in piped output"
[ "$(grep -c ' done ' "$ws/gang.out")" -eq 3 ] || { cat "$ws/gang.out"; fail "expected 3 done lines"; }
grep -q '^3 provisioned, 0 failed' "$ws/gang.out" || fail "summary line"
[ "$(q "select count(*) from devices where state = 'provisioned'")" -eq 3 ] || fail "3 devices not provisioned"
[ "$(q "select count(*) from certificates where state = 'verified'")" -eq 3 ] || fail "3 certificates not verified"
[ "$(q "select count(distinct l.name) from devices d join lots l on l.id = d.lot_id where l.name = 'LOT-A'")" -eq 1 ] ||
	fail "the default lot was not recorded with the devices"
# without --operator, the login name (or $FLEETSTATION_OPERATOR) is the operator
[ "$(q "select count(*) from certificates c join operators o on o.id = c.operator_id where o.name = '$(id -un)'")" -eq 3 ] ||
	fail "the login name was not recorded as the operator"

# the workspace's own profiles: a name is looked up in WORKSPACE/profiles/
# first, then in the templates; one found nowhere is named with the folders
# looked in and the profiles they hold
mkdir -p "$ws/w/profiles"
sed 's/^name=aws-iot-ecc$/name=line-7/' "$FST_TEMPLATES_DIR/profiles/aws-iot-ecc.profile" >"$ws/w/profiles/line-7.profile"
sim own OWN-0001 --baud 921600
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/own" --profile line-7 >"$ws/own.out" 2>&1 ||
	{ cat "$ws/own.out"; fail "provision with the workspace's profile line-7"; }
[ "$(q "select p.name from certificates c join devices d on d.id = c.device_id join profiles p on p.id = c.profile_id where d.uid = 'OWN-0001'")" = line-7 ] ||
	fail "OWN-0001 was not certified under the workspace's profile line-7"
rc=0
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/own" --profile line-8 >"$ws/nope.out" 2>&1 || rc=$?
[ $rc -eq 3 ] || { cat "$ws/nope.out"; fail "an unknown profile should exit 3, got $rc"; }
grep -q "no profile named line-8 in $ws/w/profiles or .*/profiles (there: aws-iot-ecc, .*line-7" "$ws/nope.out" ||
	{ cat "$ws/nope.out"; fail "the unknown profile's message does not name the folders and the profiles"; }

# --json: one object per line, a summary last
sim p4 CLI-0004 --baud 921600
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/p4" --json --lot LOT-B --operator 'Ana Lima' >"$ws/json.out" 2>"$ws/json.err" ||
	{ cat "$ws/json.out" "$ws/json.err"; fail "provision --json"; }
events_check "$ws/json.out"
python3 - "$ws/json.out" <<'PY' || fail "--json output"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert all(l["event"] in ("progress", "result", "summary") for l in lines), lines
results = [l for l in lines if l["event"] == "result"]
assert len(results) == 1 and results[0]["device"] == "CLI-0004" and results[0]["result"] == "ok", results
assert lines.index(results[0]) == len(lines) - 2, "the result comes after the device's progress, before the summary"
steps = [l["step"] for l in lines if l["event"] == "progress"]
for s in ("connect", "identify", "keygen", "issue", "burn", "verify", "done"):
    assert s in steps, (s, steps)
s = lines[-1]
assert s["event"] == "summary" and s["provisioned"] == 1 and s["failed"] == 0 and s["exit_code"] == 0, s
d = s["devices"][0]
assert d["device"] == "CLI-0004" and d["result"] == "ok" and len(d["serial"]) > 0, d
PY
[ "$(q "select o.name from devices d join operators o on o.id = d.operator_id where d.uid = 'CLI-0004'")" = 'Ana Lima' ] ||
	fail "--operator was not recorded with the device"
[ "$(q "select count(*) from event_steps e join operators o on o.id = e.operator_id join devices d on d.id = e.device_id where d.uid = 'CLI-0004' and o.name = 'Ana Lima'")" -ge 5 ] ||
	fail "--operator was not recorded with the events"
[ "$(q "select l.name from devices d join lots l on l.id = d.lot_id where d.uid = 'CLI-0004'")" = LOT-B ] ||
	fail "--lot did not override the default lot"

# the failures, each naming the port and the device
sim busy CLI-0005 --baud 921600
sim model CLI-0006 --model acme-board
sim full CLI-0007 --capacity-cert 300
sim full2 CLI-0027 --capacity-cert 300
exec 9<"$ws/links/busy"
flock -n 9 || fail "cannot lock the busy port for the test"
rc=0
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/busy" --port "$ws/links/model" \
	--port "$ws/links/full" --port "$ws/links/nothing" --port "$ws/links/full2" --json >"$ws/fail.out" 2>&1 || rc=$?
[ $rc -eq 1 ] || { cat "$ws/fail.out"; fail "failed devices should exit 1, got $rc"; }
events_check --with-log "$ws/fail.out"
python3 - "$ws/fail.out" "$ws/links" <<'PY' || { cat "$ws/fail.out"; fail "failure messages"; }
import json, sys
links = sys.argv[2]
s = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
by_port = {d["port"].split("/")[-1]: d for d in s["devices"]}
assert s["failed"] == 5 and s["provisioned"] == 0, s
assert by_port["busy"]["error_code"] == "busy" and "busy" in by_port["busy"]["error"], by_port["busy"]
assert links + "/busy" in by_port["busy"]["error"], by_port["busy"]
m = by_port["model"]
assert m["device"] == "CLI-0006" and "acme-board" in m["error"], m
f = by_port["full"]
assert f["device"] == "CLI-0007" and f["error_code"] == "storage-full" and "CLI-0007" in f["error"], f
n = by_port["nothing"]
assert n["error_code"] == "not-found" and links + "/nothing" in n["error"], n
# failures by class (error code and step), not by message: the two full
# boards are one class, with both as examples
groups = {(g["error_code"], g["step"]): g for g in s["failures"]}
assert sum(g["devices"] for g in s["failures"]) == 5, s["failures"]
full = [g for g in s["failures"] if g["error_code"] == "storage-full"]
assert len(full) == 1 and full[0]["devices"] == 2, s["failures"]
assert sorted(full[0]["example_devices"]) == ["CLI-0007", "CLI-0027"], full
assert s["failures"][0] is full[0], "most devices first"
assert groups[("busy", "connect")]["devices"] == 1, groups
assert groups[("not-found", "connect")]["devices"] == 1, groups
PY
[ "$(q "select state from devices where uid = 'CLI-0007'")" = failed ] || fail "full device not marked failed"
# the report gives the same class, read from the steps its device logs recorded
"$FST_STATION" report --workspace "$ws/w" --format json >"$ws/fail-report.json" ||
	fail "report of the failed devices"
python3 - "$ws/fail-report.json" <<'PY' || fail "the report's failure classes"
import json, sys
rows = {r["device_uid"]: r for r in json.load(open(sys.argv[1]))["devices"]}
for uid in ("CLI-0007", "CLI-0027"):
    r = rows[uid]
    assert (r["error_code"], r["failed_step"]) == ("storage-full", "issue"), r
PY
[ "$(q "select count(*) from devices where uid = 'CLI-0005'")" -eq 0 ] || fail "busy port's device touched"
exec 9<&-

# Ctrl-C: the devices in flight finish and are recorded; exit 7
sim s1 CLI-0008 --baud 19200
sim s2 CLI-0009 --baud 19200
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/s1" --port "$ws/links/s2" >"$ws/int.out" 2>&1 &
station=$!
for _ in $(seq 200); do grep -q ' keygen' "$ws/int.out" 2>/dev/null && break; sleep 0.05; done
kill -INT $station
t0=$(date +%s.%N)
reap $station
[ $rc -eq 7 ] || { cat "$ws/int.out"; fail "Ctrl-C should exit 7, got $rc"; }
echo "after Ctrl-C the devices in flight took $(echo "$(date +%s.%N) - $t0" | bc) s to finish"
grep -q 'burn' "$ws/int.out" || fail "the devices were not in flight when Ctrl-C came"
grep -q 'finishing the devices in flight' "$ws/int.out" || fail "no stopping message"
[ "$(q "select count(*) from devices where uid in ('CLI-0008','CLI-0009') and state = 'provisioned'")" -eq 2 ] ||
	{ cat "$ws/int.out"; fail "devices in flight did not finish after one Ctrl-C"; }

# two Ctrl-C: the devices in flight are aborted, recorded failed, never done
sim a1 CLI-0010 --baud 9600
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/a1" >"$ws/abort.out" 2>&1 &
station=$!
for _ in $(seq 200); do grep -q ' burn' "$ws/abort.out" 2>/dev/null && break; sleep 0.05; done
kill -INT $station
sleep 0.2
kill -INT $station
reap $station
[ $rc -eq 7 ] || { cat "$ws/abort.out"; fail "abort should exit 7, got $rc"; }
[ "$(q "select state from devices where uid = 'CLI-0010'")" = failed ] || fail "aborted device not failed"
[ "$(q "select count(*) from certificates c join devices d on d.id = c.device_id where d.uid = 'CLI-0010' and c.state = 'verified'")" -eq 0 ] ||
	fail "aborted device has a verified certificate"
# whatever reached the device is in the database: the certificate issued before the burn
[ "$(q "select count(*) from certificates c join devices d on d.id = c.device_id where d.uid = 'CLI-0010'")" -eq 1 ] ||
	fail "aborted device's certificate is not recorded"
# --count: the port takes the next board put on it until the count is done
sim n1 CNT-1 --baud 921600
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/n1" --count 2 >"$ws/count.out" 2>&1 &
station=$!
for _ in $(seq 200); do grep -q 'CNT-1 done' "$ws/count.out" 2>/dev/null && break; sleep 0.05; done
grep -q 'CNT-1 done' "$ws/count.out" || fail "first board of --count not done"
# the old simulator removes its link as it goes: wait for that before the next one
kill "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
sim n1 CNT-2 --baud 921600
reap $station
[ $rc -eq 0 ] || { cat "$ws/count.out"; fail "--count 2 exited $rc"; }
grep -q '^2 provisioned, 0 failed' "$ws/count.out" || { cat "$ws/count.out"; fail "--count 2 summary"; }
# a counted run keeps counts, not results: the boards that passed are not listed
grep -Eq '(CNT-1|CNT-2) +ok ' "$ws/count.out" && { cat "$ws/count.out"; fail "--count kept the results that passed"; }
grep -q 'waiting for the next device' "$ws/count.out" || fail "--count did not say it waits"

# --dialect: one this build does not speak is refused before the device is touched;
# the built-in one by name provisions
sim d1 DIA-1 --baud 921600
rc=0
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/d1" --dialect nosuch >"$ws/dialect.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || { cat "$ws/dialect.out"; fail "--dialect nosuch accepted"; }
grep -q "no dialect named 'nosuch' in this build (it knows fsp" "$ws/dialect.out" ||
	{ cat "$ws/dialect.out"; fail "--dialect nosuch message"; }
[ "$(q "select count(*) from devices where uid = 'DIA-1'")" -eq 0 ] || fail "device touched with an unknown dialect"
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/d1" --dialect fsp >"$ws/dialect2.out" 2>&1 ||
	{ cat "$ws/dialect2.out"; fail "--dialect fsp"; }

# a locked CA: exit 4, nothing touched
sim lk LOCK-1 --baud 921600
rc=0
FLEETSTATION_CA_PASSPHRASE=wrong "$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/lk" >"$ws/locked.out" 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat "$ws/locked.out"; fail "a locked CA should exit 4, got $rc"; }
[ "$(q "select count(*) from devices where uid = 'LOCK-1'")" -eq 0 ] || fail "device touched with the CA locked"

# ports: one JSON document, whatever this machine has plugged in
"$FST_STATION" ports --json >"$ws/ports.json" || fail "ports --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d["serial"], list) and isinstance(d["usb"], list)' \
	"$ws/ports.json" || fail "ports --json document"

# on a terminal: progress bars with colour, none with NO_COLOR (a terminal
# from script(1); without it the test ends as a skip, not a pass)
skipped=
if ! command -v script >/dev/null; then
	skipped="script (bsdutils) is not installed: the terminal checks did not run"
else
	sim t1 TTY-1 --baud 921600
	script -qec "\"$FST_STATION\" provision --workspace \"$ws/w\" --port \"$ws/links/t1\"" /dev/null >"$ws/tty.out" 2>&1 ||
		{ cat "$ws/tty.out"; fail "provision on a terminal"; }
	grep -q $'\033\[32m' "$ws/tty.out" || fail "no colour on a terminal"
	grep -qE '\[#{6,}\]' "$ws/tty.out" || fail "no progress bar on a terminal"
	sim t2 TTY-2 --baud 921600
	NO_COLOR=1 script -qec "\"$FST_STATION\" provision --workspace \"$ws/w\" --port \"$ws/links/t2\"" /dev/null >"$ws/tty2.out" 2>&1 ||
		fail "provision on a terminal with NO_COLOR"
	grep -q $'\033\[3[123]m' "$ws/tty2.out" && fail "colour despite NO_COLOR"
	grep -qE '\[#{6,}\]' "$ws/tty2.out" || fail "no progress bar with NO_COLOR"
fi

# the queries: devices, certs, show
"$FST_STATION" devices --workspace "$ws/w" --json --state provisioned >"$ws/devices.json" || fail "devices --json"
"$FST_STATION" certs --workspace "$ws/w" --device CLI-0001 --json >"$ws/certs.json" || fail "certs --json"
"$FST_STATION" show --workspace "$ws/w" CLI-0007 --json >"$ws/show.json" || fail "show --json"
python3 - "$ws" <<'PY' || fail "query documents"
import json, sys
ws = sys.argv[1]
d = json.load(open(ws + "/devices.json"))["devices"]
uids = sorted(x["device"] for x in d)
assert [u for u in uids if u.startswith("CLI-")] == ["CLI-0001", "CLI-0002", "CLI-0003", "CLI-0004", "CLI-0008", "CLI-0009"], uids
assert "CNT-1" in uids and "CNT-2" in uids, uids
assert all(x["cert_state"] == "verified" for x in d), d
c = json.load(open(ws + "/certs.json"))["certificates"]
assert len(c) == 1 and c[0]["device"] == "CLI-0001" and c[0]["state"] == "verified" and c[0]["lot"] == "LOT-A", c
assert "CN=devsim-ecc-CLI-0001" in c[0]["subject"] or "devsim-ecc-CLI-0001" in c[0]["subject"], c
s = json.load(open(ws + "/show.json"))
assert s["device"] == "CLI-0007" and s["state"] == "failed" and "CLI-0007" in s["last_error"], s
failed = [e for e in s["events"] if e["outcome"] != "ok"]
assert any(e["outcome"] == "storage-full" for e in failed), s["events"]
PY
"$FST_STATION" show --workspace "$ws/w" CLI-0001 >"$ws/show.txt" || fail "show"
grep -q '^certificates:' "$ws/show.txt" || fail "show text"
# the events in columns: every outcome starts where the others do, also
# after a step as long as certificate-issued
python3 - "$ws/show.txt" <<'PY' || { cat "$ws/show.txt"; fail "show: events not in columns"; }
import re, sys
lines = open(sys.argv[1]).read().split("events:\n", 1)[1].splitlines()
starts = {re.match(r"  \S+ \S+ +", l).end() for l in lines}
assert len(lines) >= 5 and any("certificate-issued" in l for l in lines), lines
assert len(starts) == 1, starts
PY
# the same device by its certificate's serial (lower case) or AWS id (upper case)
serial=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["certificates"][0]["serial"].lower())' "$ws/certs.json")
aws_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["certificates"][0]["aws_cert_id"].upper())' "$ws/certs.json")
for ref in "$serial" "$aws_id"; do
	"$FST_STATION" show --workspace "$ws/w" "$ref" --json >"$ws/show-ref.json" || fail "show $ref"
	python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["device"] == "CLI-0001"' \
		"$ws/show-ref.json" || fail "show $ref is not CLI-0001"
done
rc=0
"$FST_STATION" show --workspace "$ws/w" NO-SUCH-DEVICE 2>"$ws/show.err" || rc=$?
[ $rc -ne 0 ] && grep -q NO-SUCH-DEVICE "$ws/show.err" || fail "show of an unknown device"
echo "ok: init, provision (plain, json), busy/model/full/absent, Ctrl-C finish and abort"
if [ -n "$skipped" ]; then
	echo "SKIP: $skipped" >&2
	exit 77
fi
