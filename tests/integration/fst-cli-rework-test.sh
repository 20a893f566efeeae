#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Devices that come back, from the outside: the shipped profile refuses a
# provisioned device (exit 1, its history in the message, nothing issued), the
# rework profile rotates it into its alternate slot, `show` gives each
# certificate's slot and deactivation, and `provision --trust-only` rewrites
# just the root CAs.
set -euo pipefail

: "${FST_STATION:?}" "${FST_DEVSIM:?}" "${FST_TEMPLATES_DIR:?}"
ws=$(mktemp -d /tmp/fst-cli-rework-test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$ws"
}
trap cleanup EXIT
. "$(dirname "$0")/fst-test-lib.sh"
q() { sqlite3 -batch -noheader "$ws/w/station.db" "$@"; }
unset FLEETSTATION_CA_PASSPHRASE NO_COLOR
mkdir -p "$ws/links" "$ws/storage"

# sim NAME UID [devsim options...]: a simulated device behind the link $ws/links/NAME
sim() {
	local name=$1 uid=$2
	shift 2
	"$FST_DEVSIM" --uid "$uid" --model devsim-ecc --key-types ec-p256 \
		--validation rsa,ecdsa-p256,ecdsa-p384 --storage "$ws/storage/$uid.bin" \
		--link "$ws/links/$name" "$@" >"$ws/$name.ready" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q READY "$ws/$name.ready" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "simulator $name did not start"
}

"$FST_STATION" init --workspace "$ws/w" --demo-ca --profile aws-iot-ecc --lot LOT-R \
	>"$ws/init.out" 2>&1 || { cat "$ws/init.out"; fail "init"; }
sim ab RW-CLI-1 --cred-slots 2
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/ab" >"$ws/p1.out" 2>&1 ||
	{ cat "$ws/p1.out"; fail "first provisioning"; }
first=$(q "select serial_hex from certificates c join devices d on d.id = c.device_id where d.uid = 'RW-CLI-1'")
[ -n "$first" ] || fail "no certificate after the first provisioning"

# back on the line with the base profile: refused, exit 1, the history shown
rc=0
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/ab" >"$ws/p2.out" 2>&1 || rc=$?
[ $rc -eq 1 ] || { cat "$ws/p2.out"; fail "a refused device should exit 1, got $rc"; }
grep -q 'device RW-CLI-1 came back' "$ws/p2.out" || { cat "$ws/p2.out"; fail "refusal does not name the device"; }
grep -q "$first verified" "$ws/p2.out" || { cat "$ws/p2.out"; fail "refusal does not show the history"; }
grep -q 'lot LOT-R' "$ws/p2.out" || { cat "$ws/p2.out"; fail "refusal does not show the lot"; }
grep -q 'fleetstation show RW-CLI-1' "$ws/p2.out" || fail "refusal does not say what to do"
[ "$(q "select count(*) from certificates")" -eq 1 ] || fail "a certificate was issued for a refused device"
[ "$(q "select state from devices where uid = 'RW-CLI-1'")" = provisioned ] || fail "refusal changed the device state"

# the rework profile: a new certificate in slot B, the old one superseded
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/ab" --profile aws-iot-ecc-rework \
	>"$ws/p3.out" 2>&1 || { cat "$ws/p3.out"; fail "rework"; }
"$FST_DEVSIM" --storage "$ws/storage/RW-CLI-1.bin" --dump slots >"$ws/slots" || fail "dump slots"
grep -q '^active-slot=1$' "$ws/slots" || { cat "$ws/slots"; fail "slot B not active after rework"; }
[ "$(q "select state from certificates where serial_hex = '$first'")" = superseded ] || fail "old certificate not superseded"
[ "$(q "select count(*) from registrations r join certificates c on c.id = r.certificate_id where c.serial_hex = '$first' and r.action = 'deactivate'")" -eq 1 ] ||
	fail "old certificate not queued for deactivation"
"$FST_STATION" show --workspace "$ws/w" RW-CLI-1 >"$ws/show.txt" || fail "show"
grep -q "$first superseded slot A" "$ws/show.txt" || { cat "$ws/show.txt"; fail "show: superseded certificate"; }
grep -q 'deactivation pending' "$ws/show.txt" || { cat "$ws/show.txt"; fail "show: deactivation queue"; }
grep -q 'verified   slot B' "$ws/show.txt" || { cat "$ws/show.txt"; fail "show: new certificate in slot B"; }
"$FST_STATION" show --workspace "$ws/w" RW-CLI-1 --json >"$ws/show.json" || fail "show --json"
python3 - "$ws/show.json" "$first" <<'PY' || fail "show --json slots and deactivations"
import json, sys
d = json.load(open(sys.argv[1]))
slots = {c["serial"]: c["slot"] for c in d["certificates"]}
assert slots[sys.argv[2]] == 0 and sorted(slots.values()) == [0, 1], slots
assert [x["serial"] for x in d["deactivations"]] == [sys.argv[2]], d["deactivations"]
PY

# --trust-only: the roots of the reserved CAs added, the certificate untouched
cp "$ws/storage/RW-CLI-1.bin" "$ws/before.bin"
"$FST_DEVSIM" --storage "$ws/before.bin" --dump device-cert-b >"$ws/cert.before"
cat >"$ws/roots.profile" <<'PROFILE'
[profile]
name=roots-test
models=devsim-*
job=trust-only
[trust]
include-reserved=true
PROFILE
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/ab" --profile "$ws/roots.profile" \
	>"$ws/p4.out" 2>&1 || { cat "$ws/p4.out"; fail "trust-only profile"; }
"$FST_DEVSIM" --storage "$ws/storage/RW-CLI-1.bin" --dump device-cert-b >"$ws/cert.after"
cmp -s "$ws/cert.before" "$ws/cert.after" || fail "trust-only changed the device certificate"
[ "$(q "select count(*) from device_objects where kind = 'trust-roots' and certificate_id is null")" -eq 1 ] ||
	fail "trust-only object row not recorded"
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/ab" --profile aws-iot-ecc-rework --trust-only \
	>"$ws/p5.out" 2>&1 || { cat "$ws/p5.out"; fail "--trust-only"; }
[ "$(q "select count(*) from device_objects where kind = 'trust-roots' and certificate_id is null")" -eq 2 ] ||
	fail "--trust-only object row not recorded"
[ "$(q "select count(*) from certificates")" -eq 2 ] || fail "a trust-only job issued a certificate"
# the summary line names no serial, and never prints a NULL one
grep -q "(null)" "$ws/p4.out" "$ws/p5.out" && { cat "$ws/p5.out"; fail "trust-only summary prints (null)"; }
grep -Eq "RW-CLI-1 +ok +- \(no certificate issued\)" "$ws/p5.out" ||
	{ cat "$ws/p5.out"; fail "trust-only summary line"; }
[ "$(q "select state from devices where uid = 'RW-CLI-1'")" = provisioned ] || fail "trust-only changed the device state"

# --trust-only on a device never provisioned: refused, exit 1
sim new RW-CLI-2
rc=0
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/new" --trust-only >"$ws/p6.out" 2>&1 || rc=$?
[ $rc -eq 1 ] || { cat "$ws/p6.out"; fail "trust-only on a new device should exit 1, got $rc"; }
grep -q 'device RW-CLI-2 has no certificate in service' "$ws/p6.out" || { cat "$ws/p6.out"; fail "trust-only refusal message"; }
# a rework manifest: the device re-provisioned for the manifest's lot once; a
# re-run finds its certificate in service issued for that lot and skips it
printf 'device,port,profile,lot\nRW-CLI-1,%s,aws-iot-ecc-rework,RW-LOT-2\n' "$ws/links/ab" >"$ws/rework.csv"
n0=$(q "select count(*) from certificates")
"$FST_STATION" batch --workspace "$ws/w" "$ws/rework.csv" >"$ws/b1.out" 2>&1 || { cat "$ws/b1.out"; fail "rework batch"; }
grep -q '^1 provisioned, 0 failed, 0 skipped' "$ws/b1.out" || { cat "$ws/b1.out"; fail "rework batch counts"; }
[ "$(q "select count(*) from certificates")" -eq $((n0 + 1)) ] || fail "rework batch did not issue one certificate"
[ "$(q "select l.name from certificates c join lots l on l.id = c.lot_id where c.state = 'verified' and c.device_id = (select id from devices where uid = 'RW-CLI-1')")" = RW-LOT-2 ] ||
	fail "the certificate in service is not the rework lot's"
"$FST_STATION" batch --workspace "$ws/w" "$ws/rework.csv" >"$ws/b2.out" 2>&1 || { cat "$ws/b2.out"; fail "rework batch re-run"; }
grep -q '^0 provisioned, 0 failed, 1 skipped' "$ws/b2.out" || { cat "$ws/b2.out"; fail "rework batch re-run counts"; }
[ "$(q "select count(*) from certificates")" -eq $((n0 + 1)) ] || fail "a re-run of the rework manifest issued again"
echo "ok: rework from the CLI"
