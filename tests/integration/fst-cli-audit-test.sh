#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The audit from the outside: `audit checkpoint` anchors the chain head in a
# signed file, `audit verify` checks the chain still extends every anchor
# (checkpoints and signed JSON reports) and shows the last one's age; a
# forged anchor, or a chain cut back behind an anchor, fails (exit 5); and the
# read-only commands (`audit verify`, `report`, `devices`, `db check`) work on
# a workspace on read-only media.
set -euo pipefail

: "${FST_STATION:?}" "${FST_DEVSIM:?}"
ws=$(mktemp -d /tmp/fst-cli-audit-test.XXXXXX)
cleanup() { rm -rf "$ws"; }
trap cleanup EXIT
. "$(dirname "$0")/fst-test-lib.sh"
unset NO_COLOR

"$FST_STATION" demo --workspace "$ws/w" --devices 2 >"$ws/demo.out" 2>&1 ||
	{ cat "$ws/demo.out"; fail "demo"; }

# no anchor yet: said so
"$FST_STATION" audit verify --workspace "$ws/w" >"$ws/v0.out" || fail "verify"
grep -q "anchors: none checked" "$ws/v0.out" || { cat "$ws/v0.out"; fail "no word on anchors"; }

# a checkpoint, kept in the workspace and signed; verify checks it and says its age
"$FST_STATION" audit checkpoint --workspace "$ws/w" >"$ws/cp.out" || { cat "$ws/cp.out"; fail "checkpoint"; }
anchor=$(ls "$ws"/w/anchors/*.anchor)
[ -f "$anchor.sig" ] || fail "the checkpoint is not signed"
head_id=$(sed -n 's/^head-id=//p' "$anchor")
[ "$head_id" -gt 0 ] || fail "the checkpoint names no head"
"$FST_STATION" audit verify --workspace "$ws/w" >"$ws/v1.out" || { cat "$ws/v1.out"; fail "verify with the checkpoint"; }
grep -q "anchors: 1 checked, the chain extends each; last anchor: event $head_id made .* ago" "$ws/v1.out" ||
	{ cat "$ws/v1.out"; fail "the anchor and its age are not shown"; }
# --out never overwrites
"$FST_STATION" audit checkpoint --workspace "$ws/w" --out "$anchor" >/dev/null 2>&1 &&
	fail "a checkpoint overwrote a file"

# a signed JSON report anchors the chain too
"$FST_STATION" report --workspace "$ws/w" --format json --output "$ws/report.json" --sign \
	>/dev/null 2>&1 || fail "signed report"
"$FST_STATION" audit verify --workspace "$ws/w" --anchor "$ws/report.json" --anchor "$anchor" \
	>"$ws/v2.out" || { cat "$ws/v2.out"; fail "verify against the report"; }
grep -q "anchors: 2 checked" "$ws/v2.out" || { cat "$ws/v2.out"; fail "two anchors"; }

# a forged anchor: its signature no longer matches
cp "$anchor" "$ws/forged.anchor"
cp "$anchor.sig" "$ws/forged.anchor.sig"
sed -i 's/^head-id=.*/head-id=1/' "$ws/forged.anchor"
rc=0
"$FST_STATION" audit verify --workspace "$ws/w" --anchor "$ws/forged.anchor" >/dev/null 2>"$ws/v3.err" || rc=$?
[ "$rc" -eq 5 ] || { cat "$ws/v3.err"; fail "a forged anchor gave exit $rc, expected 5"; }
# an unsigned one proves nothing
rm "$ws/forged.anchor.sig"
rc=0
"$FST_STATION" audit verify --workspace "$ws/w" --anchor "$ws/forged.anchor" >/dev/null 2>"$ws/v4.err" || rc=$?
[ "$rc" -eq 5 ] && grep -q "no signature" "$ws/v4.err" || { cat "$ws/v4.err"; fail "an unsigned anchor was accepted"; }

# the chain cut back behind the anchor and its end re-sealed: caught
cp -r "$ws/w" "$ws/cut"
sqlite3 "$ws/cut/station.db" "DELETE FROM events WHERE id >= $head_id;
	UPDATE db_properties SET value = (SELECT id || ' ' || lower(hex(hash)) FROM events
	WHERE id = (SELECT max(id) FROM events)) WHERE key = 'audit-head';"
rc=0
"$FST_STATION" audit verify --workspace "$ws/cut" >"$ws/v5.out" 2>&1 || rc=$?
[ "$rc" -eq 5 ] || { cat "$ws/v5.out"; fail "a chain cut back passed (exit $rc)"; }
grep -q "AUDIT FAILED" "$ws/v5.out" || { cat "$ws/v5.out"; fail "no audit failure reported"; }

# read-only media: a copy of the workspace, closed cleanly (no -wal, no
# -shm), mounted read-only; root ignores file modes, so a read-only bind
# mount in a mount namespace of our own is the media
mkdir "$ws/media" "$ws/ro"
cp -r "$ws/w/." "$ws/media/"
sqlite3 "$ws/media/station.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
rm -f "$ws/media/station.db-wal" "$ws/media/station.db-shm"
cat >"$ws/ro.sh" <<'RO'
set -eu
mount --bind "$1/media" "$1/ro"
mount -o remount,bind,ro "$1/ro"
touch "$1/ro/probe" 2>/dev/null && { echo "the mount is writable"; exit 77; }
"$FST_STATION" audit verify --workspace "$1/ro" >"$1/ro-verify.out" 2>&1 || { cat "$1/ro-verify.out"; exit 1; }
"$FST_STATION" report --workspace "$1/ro" --format csv >"$1/ro-report.csv" 2>"$1/ro-report.err" || { cat "$1/ro-report.err"; exit 2; }
"$FST_STATION" devices --workspace "$1/ro" >"$1/ro-devices.out" 2>&1 || { cat "$1/ro-devices.out"; exit 3; }
"$FST_STATION" db check --workspace "$1/ro" >"$1/ro-check.out" 2>&1 || { cat "$1/ro-check.out"; exit 4; }
[ ! -e "$1/ro/station.db-shm" ] || exit 5
RO
if ! unshare -m true 2>/dev/null; then
	echo "SKIP: no mount namespace (unshare -m) to make read-only media"
	exit 77
fi
rc=0
FST_STATION="$FST_STATION" unshare -m bash "$ws/ro.sh" "$ws" || rc=$?
[ "$rc" -ne 77 ] || { echo "SKIP: cannot make a read-only mount"; exit 77; }
[ "$rc" -eq 0 ] || fail "a read-only command failed on read-only media (step $rc)"
grep -q "audit chain intact" "$ws/ro-verify.out" || fail "verify on read-only media"
[ "$(grep -c SIM "$ws/ro-report.csv")" -eq 2 ] || fail "the report on read-only media lacks devices"
[ "$(grep -c SIM "$ws/ro-devices.out")" -eq 2 ] || fail "devices on read-only media"
echo "ok: checkpoints, report anchors, forged and cut chains, read-only media"
