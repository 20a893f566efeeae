#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fleetstation watch: simulators started while the watch runs are provisioned
# as they arrive (stable --link names matched by a pattern); a board provisioned
# before is skipped when it comes back; a failing board is reported; SIGTERM
# lets a device in flight finish and ends the watch with the summary.
set -euo pipefail

: "${FST_STATION:?}" "${FST_DEVSIM:?}" "${FST_TEMPLATES_DIR:?}"
ws=$(mktemp -d /tmp/fst-watch-test.XXXXXX)
declare -A sim_pid
watch_pid=
cleanup() {
	[ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null || true
	for p in "${sim_pid[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$ws"
}
trap cleanup EXIT
. "$(dirname "$0")/fst-test-lib.sh"
FAIL_LOGS="$ws/watch.out"
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
	"$FST_DEVSIM" --uid "$uid" --model devsim-ecc --key-types ec-p256 --validation ecdsa-p256 \
		--storage "$ws/storage/$uid.bin" --link "$L/$name" "$@" >/dev/null &
	sim_pid[$name]=$!
}
# wait_for PATTERN COUNT: until the watch output has COUNT lines matching
wait_for() {
	for _ in $(seq 300); do
		[ "$(grep -c -- "$1" "$ws/watch.out" 2>/dev/null || true)" -ge "$2" ] && return 0
		sleep 0.05
	done
	fail "timed out waiting for $2 x '$1'"
}

"$FST_STATION" init --workspace "$ws/w" --demo-ca --profile aws-iot-ecc --lot WATCH >/dev/null 2>&1 || fail "init"
"$FST_STATION" watch --workspace "$ws/w" --port "$L/fix*" --poll 50 >"$ws/watch.out" 2>&1 &
watch_pid=$!
sleep 0.3

# two boards plugged in at once, then a third
sim fix1 WAT-1 --baud 921600
sim fix2 WAT-2 --baud 921600
wait_for ' done ' 2
sim fix3 WAT-3 --baud 921600
wait_for ' done ' 3
# WAT-1 comes back on another fixture: skipped, not provisioned twice
kill "${sim_pid[fix1]}"
unset 'sim_pid[fix1]'
sim fix4 WAT-1 --baud 921600
wait_for 'skipped' 1
# a board with no room for its certificate
sim fix5 WAT-5 --capacity-cert 300
wait_for ' failed ' 1
# a slow board in flight when SIGTERM comes
sim fix6 WAT-6 --baud 19200
wait_for 'WAT-6 keygen' 1
kill -TERM "$watch_pid"
reap "$watch_pid"
watch_pid=
[ $rc -eq 1 ] || fail "watch with one failed device should exit 1, got $rc"
grep -q '^4 provisioned, 1 failed, 1 skipped' "$ws/watch.out" || fail "summary"
grep -Eq "WAT-1 +skipped +[0-9A-F]{40}" "$ws/watch.out" || fail "the board that came back is not a skipped row with its serial"
grep -Eq "^ +1 storage-full at [a-z]+ \(e\.g\. WAT-5\): .*WAT-5" "$ws/watch.out" || fail "failures by class"
for u in WAT-1 WAT-2 WAT-3 WAT-6; do
	[ "$(q "select state from devices where uid = '$u'")" = provisioned ] || fail "$u not provisioned"
done
[ "$(q "select count(*) from certificates c join devices d on d.id = c.device_id where d.uid = 'WAT-1'")" -eq 1 ] ||
	fail "WAT-1 provisioned twice"
[ "$(q "select state from devices where uid = 'WAT-5'")" = failed ] || fail "WAT-5 not failed"
[ "$(q "select count(*) from devices d join lots l on l.id = d.lot_id where l.name = 'WATCH'")" -eq 5 ] ||
	fail "lot not recorded"

# --json: result events as devices end, a summary at the end; the pattern
# matches only ports (character devices and pty links), not the files beside them
echo 1234 >"$L/j1.pid"
echo log >"$L/j-run.log"
"$FST_STATION" watch --workspace "$ws/w" --port "$L/j*" --poll 50 --json >"$ws/watch.out" 2>&1 &
watch_pid=$!
sim j1 WAT-7 --baud 921600
wait_for '"event":"result"' 1
# a board provisioned before: a skipped result, not a second certificate
kill "${sim_pid[fix3]}"
unset 'sim_pid[fix3]'
sim j2 WAT-3 --baud 921600
wait_for '"event":"result"' 2
kill -INT "$watch_pid"
reap "$watch_pid"
watch_pid=
[ $rc -eq 0 ] || fail "watch --json exited $rc"
events_check "$ws/watch.out"
python3 - "$ws/watch.out" <<'PY' || fail "watch --json lines"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
r = [l for l in lines if l["event"] == "result"]
assert len(r) == 2 and r[0]["device"] == "WAT-7" and r[0]["result"] == "ok", r
assert r[1]["device"] == "WAT-3" and r[1]["result"] == "skipped" and r[1]["serial"], r
assert r[1]["error"] is None and r[1]["error_code"] is None, r
steps = [l["step"] for l in lines if l["event"] == "progress" and l["device"] == "WAT-3"]
assert steps == ["skipped"], steps
assert not [l for l in lines if l.get("port", "").endswith((".pid", ".log"))], lines
s = lines[-1]
assert s["event"] == "summary" and s["command"] == "watch", s
assert (s["provisioned"], s["failed"], s["skipped"], s["exit_code"]) == (1, 0, 1, 0), s
PY
# on-return=reprovision: a board provisioned before this watch (WAT-2, still on
# its fixture) gets a new certificate once; the one it re-provisioned is not
# taken again while it stays plugged in (re-enumeration is not a return)
sed 's/^on-return=refuse$/on-return=reprovision/' "$FST_TEMPLATES_DIR/profiles/aws-iot-ecc.profile" >"$ws/rp.profile"
grep -q '^on-return=reprovision$' "$ws/rp.profile" || fail "could not make the reprovision profile"
old=$(q "select c.serial_hex from certificates c join devices d on d.id = c.device_id where d.uid = 'WAT-2' and c.state = 'verified'")
"$FST_STATION" watch --workspace "$ws/w" --profile "$ws/rp.profile" --port "$L/fix2" --poll 50 >"$ws/watch.out" 2>&1 &
watch_pid=$!
wait_for ' done ' 1
sleep 1
kill -INT "$watch_pid"
reap "$watch_pid"
watch_pid=
[ $rc -eq 0 ] || fail "reprovision watch exited $rc"
grep -q '^1 provisioned, 0 failed' "$ws/watch.out" || fail "reprovision watch summary"
[ "$(q "select count(*) from certificates c join devices d on d.id = c.device_id where d.uid = 'WAT-2'")" -eq 2 ] ||
	fail "WAT-2 not re-provisioned exactly once"
[ "$(q "select state from certificates where serial_hex = '$old'")" = superseded ] || fail "WAT-2's old certificate not superseded"
echo "ok: watch provisions arrivals, skips done boards, reports failures, finishes on SIGTERM, re-provisions once"
