#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fleetstation ports from the outside, on umockdev's emulated sysfs: a CP2102
# adapter (known: dialect fsp), a Prolific one (unknown), and a pid.codes USB
# board seen through libusb; --known keeps only the known serial port.
set -euo pipefail

: "${FST_STATION:?}" "${FST_TEMPLATES_DIR:?}"
command -v umockdev-run >/dev/null || { echo "umockdev-run missing: skipped"; exit 77; }
# umockdev preloads its library: an ASan build must not insist on coming first
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
ws=$(mktemp -d /tmp/fst-ports-test.XXXXXX)
trap 'rm -rf "$ws"' EXIT
. "$(dirname "$0")/fst-test-lib.sh"
cp "$(dirname "$0")/../data/usb/serial-adapters.umockdev" "$ws/rec.umockdev"

umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" ports --json >"$ws/all.json" 2>"$ws/err" ||
	{ cat "$ws/err"; fail "ports --json"; }
umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" ports --known --json >"$ws/known.json" 2>"$ws/err" ||
	{ cat "$ws/err"; fail "ports --known --json"; }
umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" ports >"$ws/table.txt" 2>"$ws/err" ||
	{ cat "$ws/err"; fail "ports"; }
python3 - "$ws" <<'PY' || { cat "$ws/all.json"; fail "ports documents"; }
import json, sys
ws = sys.argv[1]
a = {p["name"]: p for p in json.load(open(ws + "/all.json"))["serial"]}
u0 = a["/dev/ttyUSB0"]
assert (u0["vid"], u0["pid"], u0["serial"], u0["dialect"], u0["transport"], u0["busy"]) == \
    (0x10c4, 0xea60, "FIX-0001", "fsp", "usb", False), u0
assert a["/dev/ttyUSB1"]["dialect"] is None and a["/dev/ttyUSB1"]["vid"] == 0x067b, a["/dev/ttyUSB1"]
k = [p["name"] for p in json.load(open(ws + "/known.json"))["serial"]]
assert k == ["/dev/ttyUSB0"], k
PY
grep -q '^/dev/ttyUSB0 *usb *10c4:ea60 *FIX-0001 *fsp *free' "$ws/table.txt" || { cat "$ws/table.txt"; fail "ports table"; }
echo "ok: ports lists USB serial adapters with VID:PID, serial, dialect and state"

# a port this user may not open is listed as denied, naming the group that
# would give it, not as free: ttyUSB0's node is dialout's (0660), ttyUSB1's
# open to all. As root the listing runs as nobody (setpriv); otherwise the
# node is closed to its owner too, and no group gives it.
cat >"$ws/denied.sh" <<'SH'
set -e
chmod -R a+rwX "$UMOCKDEV_DIR"
p=$(readlink -f "$UMOCKDEV_DIR/dev/ttyUSB0")
q=$(readlink -f "$UMOCKDEV_DIR/dev/ttyUSB1")
chmod 0666 "$q"
if [ "$(id -u)" -eq 0 ]; then
	chgrp dialout "$p"
	chmod 0660 "$p"
	run() { setpriv --reuid=65534 --regid=65534 --clear-groups "$FST_STATION" "$@"; }
else
	chmod 0000 "$p"
	run() { "$FST_STATION" "$@"; }
fi
run ports >"$OUT.txt"
run ports --json >"$OUT.json"
SH
OUT="$ws/denied" umockdev-run -d "$ws/rec.umockdev" -- bash "$ws/denied.sh" 2>"$ws/err" || { cat "$ws/err"; fail "ports as a user without access"; }
grep -q '^/dev/ttyUSB0 .* denied ' "$ws/denied.txt" || { cat "$ws/denied.txt"; fail "a port the user cannot open is not shown as denied"; }
grep -q '^/dev/ttyUSB1 .* free ' "$ws/denied.txt" || { cat "$ws/denied.txt"; fail "an open port is not free"; }
grep -q '^/dev/ttyUSB0: not accessible: .*Permission denied' "$ws/denied.txt" || { cat "$ws/denied.txt"; fail "no access explanation"; }
python3 - "$ws/denied.json" "$(id -u)" <<'PY' || { cat "$ws/denied.json"; fail "denied port document"; }
import json, sys
a = {p["name"]: p for p in json.load(open(sys.argv[1]))["serial"]}
u0, u1 = a["/dev/ttyUSB0"], a["/dev/ttyUSB1"]
assert u0["accessible"] is False and u0["busy"] is False, u0
assert "Permission denied" in u0["access_error"], u0
if sys.argv[2] == "0":
    assert "add the station user to the dialout group" in u0["access_error"], u0
assert u1["accessible"] is True and u1["access_error"] is None, u1
PY
echo "ok: ports shows a port this user may not open as denied, with the group it needs"

# jig lanes: socket 5 is the adapter with serial FIX-0001, socket 6 the one in USB port 1-4
mkdir -p "$ws/jig"
printf '[station]\nname=jig\n[lanes]\n5=serial:FIX-0001\n6=1-4\n' >"$ws/jig/station.conf"
umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" ports --workspace "$ws/jig" >"$ws/lanes.txt" 2>"$ws/err" ||
	{ cat "$ws/err"; fail "ports --workspace"; }
umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" ports --workspace "$ws/jig" --json >"$ws/lanes.json" 2>"$ws/err" ||
	{ cat "$ws/err"; fail "ports --workspace --json"; }
grep -q '^/dev/ttyUSB0 *usb *10c4:ea60 *FIX-0001 *fsp *free *5 ' "$ws/lanes.txt" || { cat "$ws/lanes.txt"; fail "lane 5"; }
grep -q '^/dev/ttyUSB1 .* 6 ' "$ws/lanes.txt" || { cat "$ws/lanes.txt"; fail "lane 6"; }
python3 - "$ws" <<'PY' || { cat "$ws/lanes.json"; fail "lanes document"; }
import json, sys
a = {p["name"]: p for p in json.load(open(sys.argv[1] + "/lanes.json"))["serial"]}
assert (a["/dev/ttyUSB0"]["lane"], a["/dev/ttyUSB0"]["usb_path"]) == ("5", "1-3"), a["/dev/ttyUSB0"]
assert a["/dev/ttyUSB1"]["usb_path"] == "1-4", a["/dev/ttyUSB1"]
assert a["/dev/ttyUSB1"]["lane"] == "6", a["/dev/ttyUSB1"]
PY
# a binding that names no place is an error naming it
printf '[lanes]\n5=ttyUSB0\n' >"$ws/jig/station.conf"
if umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" ports --workspace "$ws/jig" >"$ws/bad.txt" 2>"$ws/err"; then
	fail "a bad lane binding was accepted"
fi
grep -q '5=ttyUSB0' "$ws/err" || { cat "$ws/err"; fail "bad lane message"; }
echo "ok: ports shows the jig lane bound to a USB port path or an adapter serial number"

# init binds lanes, keeping the rest of station.conf
rm -rf "$ws/jig2"
"$FST_STATION" init --workspace "$ws/jig2" --lane 7=1-3 --lane 8=serial:PL-9 >/dev/null 2>"$ws/err" ||
	{ cat "$ws/err"; fail "init --lane"; }
grep -q '^7=1-3$' "$ws/jig2/station.conf" || { cat "$ws/jig2/station.conf"; fail "init wrote no lane"; }
grep -q '^\[station\]' "$ws/jig2/station.conf" || fail "init lost the station identity"
umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" ports --workspace "$ws/jig2" >"$ws/lanes2.txt" 2>"$ws/err" ||
	{ cat "$ws/err"; fail "ports after init --lane"; }
grep -q '^/dev/ttyUSB0 .* 7 ' "$ws/lanes2.txt" || { cat "$ws/lanes2.txt"; fail "lane 7"; }
if "$FST_STATION" init --workspace "$ws/jig2" --lane 9=1-3 >/dev/null 2>"$ws/err"; then
	fail "two lanes in one place were accepted"
fi
grep -q '^9=' "$ws/jig2/station.conf" && fail "a refused lane was kept"
echo "ok: init binds jig lanes"

# provision names ports by jig lane: lane:5 is the adapter with serial FIX-0001
# (ttyUSB0), lane:6 the one in USB port 1-4 (ttyUSB1). The emulated adapters
# have no board behind them: each port is opened and times out at HELLO.
"$FST_STATION" init --workspace "$ws/jig3" --demo-ca --profile aws-iot-ecc --lot LOT-LANE \
	--lane 5=serial:FIX-0001 --lane 6=1-4 --lane 7=1-9 >/dev/null 2>"$ws/err" || { cat "$ws/err"; fail "init a jig"; }
rc=0
umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" provision --workspace "$ws/jig3" \
	--port lane:6 --port lane:5 --json >"$ws/prov.json" 2>"$ws/err" || rc=$?
[ "$rc" = 1 ] || { cat "$ws/err"; fail "provision on lanes exited $rc, expected 1 (no board answers)"; }
python3 - "$ws/prov.json" <<'PY' || { cat "$ws/prov.json"; fail "provision on lanes"; }
import json, sys
summary = [json.loads(l) for l in open(sys.argv[1]) if '"summary"' in l][-1]
ports = sorted(d["port"] for d in summary["devices"])
assert ports == ["/dev/ttyUSB0", "/dev/ttyUSB1"], ports
assert all(d["error_code"] == "timed-out" for d in summary["devices"]), summary["devices"]
PY
# a lane whose place has no port now, and a lane not bound: errors naming them
rc=0
umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" provision --workspace "$ws/jig3" \
	--port lane:5 --port lane:7 >/dev/null 2>"$ws/err" || rc=$?
[ "$rc" = 3 ] || { cat "$ws/err"; fail "an empty lane exited $rc, expected 3"; }
grep -q 'lane:7: lane 7 (USB port 1-9) has no device: is its socket empty or its adapter unplugged' "$ws/err" ||
	{ cat "$ws/err"; fail "empty lane message"; }
rc=0
umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" provision --workspace "$ws/jig3" \
	--port lane:8 >/dev/null 2>"$ws/err" || rc=$?
[ "$rc" = 3 ] || { cat "$ws/err"; fail "an unbound lane exited $rc, expected 3"; }
grep -q 'lane 8 is not bound in the workspace (\[lanes\] of station.conf)' "$ws/err" ||
	{ cat "$ws/err"; fail "unbound lane message"; }
echo "ok: provision --port lane:NAME takes the port at the lane's place now"
