#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The central registry from the outside, against a real PostgreSQL server
# started here: `central init` (twice, and from two stations at once),
# `central status`, a device provisioned at station A recognised at station B
# (refused with A named), two stations racing for the same device ids
# (exactly one proceeds each time, the other names it; one certificate in
# service per id centrally), offline=refuse|proceed, a conflict flagged at
# sync, one key refused for a second device at another station, a clone
# shipped by two stations at the same moment flagged, the keys of certificates
# shipped without them filed by central init, a batch rolled back for a
# deadlock sent again, and the central audit. Skipped (77) without the PostgreSQL binaries.
set -euo pipefail

: "${FST_STATION:?}" "${FST_DEVSIM:?}" "${FST_TEMPLATES_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
pg="$here/fst-central-pg.sh"
ROUNDS=${FST_CENTRAL_RACE_ROUNDS:-10}
GANG=${FST_CENTRAL_RACE_GANG:-10}
ws=$(mktemp -d /tmp/fst-central-test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$pg" destroy "$ws/pg" >/dev/null 2>&1 || true
	[ -n "${FST_KEEP:-}" ] || rm -rf "$ws"
}
trap cleanup EXIT
. "$(dirname "$0")/fst-test-lib.sh"
unset FLEETSTATION_CA_PASSPHRASE NO_COLOR
rc=0
conninfo=$("$pg" start "$ws/pg") || rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || fail "cannot start PostgreSQL"
psql_q() { psql -X -A -t -q "$conninfo" -c "$1"; }
mkdir -p "$ws/links" "$ws/storage"

# sim NAME UID [devsim options...]: a simulated device behind $ws/links/NAME
sim() {
	local name=$1 uid=$2
	shift 2
	rm -f "$ws/$name.ready"
	"$FST_DEVSIM" --uid "$uid" --model devsim-ecc --key-types ec-p256 \
		--validation rsa,ecdsa-p256,ecdsa-p384 --storage "$ws/storage/$name.bin" \
		--link "$ws/links/$name" "$@" >"$ws/$name.ready" &
	pids+=($!)
	for _ in $(seq 200); do
		grep -q READY "$ws/$name.ready" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "simulator $name did not start"
}

# station NAME: a workspace with its own demo CA, named NAME, on the registry
station() {
	"$FST_STATION" init --workspace "$ws/$1" --demo-ca --profile aws-iot-ecc --lot "LOT-$1" \
		--central "$conninfo" >"$ws/init-$1.out" 2>&1 || { cat "$ws/init-$1.out"; fail "init $1"; }
	sed -i "s/^name=.*/name=$1/" "$ws/$1/station.conf"
	grep -q '^\[central\]' "$ws/$1/station.conf" || fail "init --central wrote no [central] group"
}

# a password in the configuration is refused
rc=0
"$FST_STATION" init --workspace "$ws/bad" --central "$conninfo password=secret" >"$ws/bad.out" 2>&1 || rc=$?
[ $rc -eq 3 ] || { cat "$ws/bad.out"; fail "a conninfo with a password should exit 3, got $rc"; }
grep -q 'pgpass' "$ws/bad.out" || { cat "$ws/bad.out"; fail "the refusal does not say where the password goes"; }

station A
station B
# two stations create the schema at once: each version applied once
"$FST_STATION" central init --workspace "$ws/A" >"$ws/ci-a.out" 2>&1 &
ia=$!
"$FST_STATION" central init --workspace "$ws/B" >"$ws/ci-b.out" 2>&1 || fail "central init B: $(cat "$ws/ci-b.out")"
wait $ia || fail "central init A: $(cat "$ws/ci-a.out")"
[ "$(psql_q "select count(*) from fst_central_migrations")" -eq "$(psql_q "select max(version) from fst_central_migrations")" ] || fail "the migration was applied twice"
"$FST_STATION" central init --workspace "$ws/A" >"$ws/ci2.out" 2>&1 || fail "central init again"
grep -q 'nothing to do' "$ws/ci2.out" || { cat "$ws/ci2.out"; fail "a second central init should do nothing"; }

# a device provisioned at A, recognised at B: refused, A named, nothing issued at B
sim a1 CEN-RET-1
"$FST_STATION" provision --workspace "$ws/A" --port "$ws/links/a1" >"$ws/pa.out" 2>&1 ||
	{ cat "$ws/pa.out"; fail "provisioning at A"; }
"$FST_STATION" central sync --workspace "$ws/A" >/dev/null 2>&1 || fail "central sync A"
[ "$(psql_q "select count(*) from certificates where device_uid = 'CEN-RET-1' and state = 'verified'")" -eq 1 ] ||
	fail "the certificate of A is not in the registry"
rc=0
"$FST_STATION" provision --workspace "$ws/B" --port "$ws/links/a1" >"$ws/pb.out" 2>&1 || rc=$?
[ $rc -eq 1 ] || { cat "$ws/pb.out"; fail "B should refuse the device A provisioned (exit 1), got $rc"; }
grep -q 'device CEN-RET-1 came back: station A provisioned it' "$ws/pb.out" ||
	{ cat "$ws/pb.out"; fail "B's refusal does not name station A"; }
grep -q 'lot LOT-A' "$ws/pb.out" || { cat "$ws/pb.out"; fail "B's refusal does not show the central history"; }
[ "$(sqlite3 "$ws/B/station.db" "select count(*) from certificates")" -eq 0 ] || fail "B issued a certificate"

# the rework profile at B: the device taken over into its other slot, A's
# certificate superseded centrally by B's (not a conflict), A's journal as it was
sim a2 CEN-RET-2 --cred-slots 2
"$FST_STATION" provision --workspace "$ws/A" --port "$ws/links/a2" >"$ws/pa2.out" 2>&1 ||
	{ cat "$ws/pa2.out"; fail "provisioning CEN-RET-2 at A"; }
"$FST_STATION" central sync --workspace "$ws/A" >/dev/null 2>&1 || fail "central sync A"
old_serial=$(psql_q "select serial_hex from certificates where device_uid = 'CEN-RET-2'")
"$FST_STATION" provision --workspace "$ws/B" --port "$ws/links/a2" --profile aws-iot-ecc-rework >"$ws/pb2.out" 2>&1 ||
	{ cat "$ws/pb2.out"; fail "B should re-provision CEN-RET-2 under the rework profile"; }
grep -q 'came back from station A' "$ws/pb2.out" || { cat "$ws/pb2.out"; fail "B does not say the device came from A"; }
"$FST_DEVSIM" --storage "$ws/storage/a2.bin" --dump slots >"$ws/slots" || fail "dump slots"
grep -q '^active-slot=1$' "$ws/slots" || { cat "$ws/slots"; fail "B did not write the alternate slot"; }
"$FST_STATION" central sync --workspace "$ws/B" >/dev/null 2>&1 || fail "central sync B"
new_serial=$(sqlite3 "$ws/B/station.db" "select serial_hex from certificates where state = 'verified'")
[ "$(psql_q "select superseded_by from certificates where serial_hex = '$old_serial'")" = "B $new_serial" ] ||
	fail "A's certificate is not superseded by B's centrally"
[ "$(psql_q "select state from certificates where serial_hex = '$old_serial'")" = verified ] ||
	fail "the central copy of A's certificate no longer matches A's journal"
[ "$(psql_q "select count(*) from certificates where device_uid = 'CEN-RET-2' and state = 'verified' and conflict is null and superseded_by is null")" -eq 1 ] ||
	fail "CEN-RET-2 should have exactly one certificate in service centrally"
[ "$(psql_q "select count(*) from conflicts")" -eq 0 ] || fail "the takeover was flagged as a conflict"

# the race: both stations get boards with the same ids at the same time
for r in $(seq "$ROUNDS"); do
	args_a=() args_b=()
	for i in $(seq "$GANG"); do
		uid="CEN-RACE-$r-$i"
		sim "ra$r-$i" "$uid"
		sim "rb$r-$i" "$uid"
		args_a+=(--port "$ws/links/ra$r-$i")
		args_b+=(--port "$ws/links/rb$r-$i")
	done
	ra=0 rb=0
	"$FST_STATION" provision --workspace "$ws/A" "${args_a[@]}" >"$ws/race-a-$r.out" 2>&1 &
	pa=$!
	"$FST_STATION" provision --workspace "$ws/B" "${args_b[@]}" >"$ws/race-b-$r.out" 2>&1 || rb=$?
	wait $pa || ra=$?
	[ $ra -le 1 ] && [ $rb -le 1 ] || fail "round $r: provision exited $ra / $rb"
	"$FST_STATION" central sync --workspace "$ws/A" >/dev/null 2>&1 || fail "central sync A"
	"$FST_STATION" central sync --workspace "$ws/B" >/dev/null 2>&1 || fail "central sync B"
	for i in $(seq "$GANG"); do
		uid="CEN-RACE-$r-$i"
		na=$(sqlite3 "$ws/A/station.db" "select count(*) from certificates c join devices d on d.id = c.device_id where d.uid = '$uid' and c.state = 'verified'")
		nb=$(sqlite3 "$ws/B/station.db" "select count(*) from certificates c join devices d on d.id = c.device_id where d.uid = '$uid' and c.state = 'verified'")
		[ $((na + nb)) -eq 1 ] || fail "$uid: $na certificate(s) in service at A and $nb at B"
		[ "$(psql_q "select count(*) from certificates where device_uid = '$uid' and state in ('verified', 'registered') and conflict is null")" -eq 1 ] ||
			fail "$uid: not exactly one certificate in service centrally"
		[ "$(psql_q "select count(*) from certificates where device_uid = '$uid'")" -eq 1 ] ||
			fail "$uid: the loser issued a certificate"
		loser=B other=A out="$ws/race-b-$r.out"
		[ "$na" -eq 1 ] || { loser=A other=B out="$ws/race-a-$r.out"; }
		grep -q "device $uid is being provisioned by station $other\|device $uid came back: station $other provisioned it" "$out" ||
			{ cat "$out"; fail "$uid: station $loser's error does not name station $other"; }
	done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=()
done
[ "$(psql_q "select count(*) from conflicts")" -eq 0 ] || fail "the race left conflicts"

# offline: the server stopped; offline=refuse issues nothing, offline=proceed issues
"$pg" stop "$ws/pg"
# a sync with the registry out of reach: exit 8, the records kept for later
rc=0
"$FST_STATION" central sync --workspace "$ws/A" --json >"$ws/sync-down.json" 2>"$ws/sync-down.err" || rc=$?
[ $rc -eq 8 ] || { cat "$ws/sync-down.err"; fail "central sync with the registry stopped should exit 8 (out of reach), got $rc"; }
python3 - "$ws/sync-down.json" <<'PY' || fail "central sync --json with the registry stopped"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["event"] == "error" and d["error_code"] == "disconnected" and d["exit_code"] == 8, d
PY
sim off1 CEN-OFF-1
rc=0
"$FST_STATION" provision --workspace "$ws/A" --port "$ws/links/off1" >"$ws/off1.out" 2>&1 || rc=$?
[ $rc -eq 1 ] || { cat "$ws/off1.out"; fail "offline=refuse should exit 1, got $rc"; }
grep -q 'offline=refuse' "$ws/off1.out" || { cat "$ws/off1.out"; fail "offline refusal message"; }
sed -e 's/^name=.*/name=offline-proceed/' -e '/^\[profile\]/a offline=proceed' \
	"$FST_TEMPLATES_DIR/profiles/aws-iot-ecc.profile" >"$ws/proceed.profile"
# the same device id at both stations while the server is down: both proceed
sim off2 CEN-OFF-2
sim off3 CEN-OFF-2
"$FST_STATION" provision --workspace "$ws/A" --port "$ws/links/off2" --profile "$ws/proceed.profile" \
	>"$ws/off2.out" 2>&1 || { cat "$ws/off2.out"; fail "offline=proceed at A"; }
"$FST_STATION" provision --workspace "$ws/B" --port "$ws/links/off3" --profile "$ws/proceed.profile" \
	>"$ws/off3.out" 2>&1 || { cat "$ws/off3.out"; fail "offline=proceed at B"; }
"$FST_STATION" central status --workspace "$ws/A" --json >"$ws/status-down.json" || fail "status with the link down"
python3 - "$ws/status-down.json" <<'PY' || fail "status with the link down"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["link"] == "down" and d["backlog_events"] > 0, d
PY
"$pg" restart "$ws/pg"
"$FST_STATION" central sync --workspace "$ws/A" >/dev/null 2>&1 || fail "central sync A after restart"
"$FST_STATION" central sync --workspace "$ws/B" >"$ws/sync-b.out" 2>&1 || fail "central sync B after restart"
[ "$(psql_q "select count(*) from certificates where device_uid = 'CEN-OFF-2'")" -eq 2 ] ||
	fail "both offline certificates should be in the registry"
[ "$(psql_q "select count(*) from certificates where device_uid = 'CEN-OFF-2' and conflict like 'in-service:%station A%'")" -eq 1 ] ||
	fail "B's certificate for CEN-OFF-2 is not flagged against A's"
"$FST_STATION" central status --workspace "$ws/B" --json >"$ws/status.json" || fail "central status"
python3 - "$ws/status.json" <<'PY' || fail "central status --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["link"] == "up" and d["backlog_events"] == 0, d
assert [c["device"] for c in d["conflicts"]] == ["CEN-OFF-2"], d["conflicts"]
assert d["conflicts"][0]["station"] == "B" and d["conflicts"][0]["other_station"] == "A", d["conflicts"]
names = sorted(s["name"] for s in d["stations"])
assert names == ["A", "B"], names
PY
"$FST_STATION" report --central --workspace "$ws/A" --json >"$ws/report.json" || fail "report --central"
python3 - "$ws/report.json" <<'PY' || fail "central report --json"
import json, sys
d = json.load(open(sys.argv[1]))
flagged = [c for c in d["certificates"] if c["conflict"]]
assert len(flagged) == 1 and flagged[0]["device"] == "CEN-OFF-2", flagged
assert d["conflicts"] == 1
PY

# one key, one device across the stations: a board at B whose key a board at
# A holds (one faulty key generator on two lines) is refused before anything
# is issued for it, with A's device named; what the sync ships carries each
# certificate's key (a clone that got past, offline, is flagged `key`:
# fst-central-db-test)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ws/one-key.pem" 2>/dev/null ||
	fail "openssl genpkey"
sim k1 CEN-KEY-1 --fault-fixed-key "$ws/one-key.pem"
sim k2 CEN-KEY-2 --fault-fixed-key "$ws/one-key.pem"
"$FST_STATION" provision --workspace "$ws/A" --port "$ws/links/k1" >"$ws/k1.out" 2>&1 ||
	{ cat "$ws/k1.out"; fail "provisioning CEN-KEY-1 at A"; }
"$FST_STATION" central sync --workspace "$ws/A" >/dev/null 2>&1 || fail "central sync A (key)"
[ "$(psql_q "select count(*) from certificates where device_uid = 'CEN-KEY-1' and conflict is null and key_sha256 ~ '^[0-9a-f]{64}$'")" -eq 1 ] ||
	fail "A's certificate reached the registry without its key"
rc=0
"$FST_STATION" provision --workspace "$ws/B" --port "$ws/links/k2" >"$ws/k2.out" 2>&1 || rc=$?
[ $rc -eq 1 ] || { cat "$ws/k2.out"; fail "B should refuse CEN-KEY-2 (exit 1), got $rc"; }
grep -q 'is already certified for device CEN-KEY-1, by station A' "$ws/k2.out" ||
	{ cat "$ws/k2.out"; fail "B's refusal does not name CEN-KEY-1 and station A"; }
[ "$(sqlite3 "$ws/B/station.db" "select count(*) from certificates c join devices d on d.id = c.device_id where d.uid = 'CEN-KEY-2'")" -eq 0 ] ||
	fail "B recorded a certificate for CEN-KEY-2"

# a clone that got past the key check, offline, is flagged `key` at the sync,
# also when the two stations ship it at the same moment: with the registry
# stopped, k3 at A and k4 at B are certified for one key (offline=proceed:
# the key could not be looked up, and the board goes on); then A's sync is
# held inside its batch (a trigger of the test sleeps after A's certificate
# row) while B ships its own, which waits for A's lock on the key and is
# flagged against it
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ws/two-key.pem" 2>/dev/null ||
	fail "openssl genpkey"
"$pg" stop "$ws/pg"
sim k3 CEN-KEY-3 --fault-fixed-key "$ws/two-key.pem"
sim k4 CEN-KEY-4 --fault-fixed-key "$ws/two-key.pem"
"$FST_STATION" provision --workspace "$ws/A" --port "$ws/links/k3" --profile "$ws/proceed.profile" \
	>"$ws/k3.out" 2>&1 || { cat "$ws/k3.out"; fail "offline=proceed: CEN-KEY-3 at A"; }
"$FST_STATION" provision --workspace "$ws/B" --port "$ws/links/k4" --profile "$ws/proceed.profile" \
	>"$ws/k4.out" 2>&1 || { cat "$ws/k4.out"; fail "offline=proceed: CEN-KEY-4 at B"; }
"$pg" restart "$ws/pg"
psql_q "create function fst_test_hold() returns trigger language plpgsql as
	\$\$ begin perform pg_sleep(3); return new; end \$\$;
	create trigger fst_test_hold after insert on certificates for each row
	when (new.device_uid = 'CEN-KEY-3') execute function fst_test_hold()"
"$FST_STATION" central sync --workspace "$ws/A" >"$ws/sync-k3.out" 2>&1 &
sync_a=$!
for _ in $(seq 100); do
	[ "$(psql_q "select count(*) from pg_stat_activity where wait_event = 'PgSleep'")" -eq 1 ] && break
	sleep 0.05
done
[ "$(psql_q "select count(*) from pg_stat_activity where wait_event = 'PgSleep'")" -eq 1 ] ||
	fail "A's sync did not reach CEN-KEY-3's certificate"
"$FST_STATION" central sync --workspace "$ws/B" >"$ws/sync-k4.out" 2>&1 || { cat "$ws/sync-k4.out"; fail "central sync B (clone)"; }
wait $sync_a || { cat "$ws/sync-k3.out"; fail "central sync A (clone)"; }
psql_q "drop trigger fst_test_hold on certificates; drop function fst_test_hold()"
[ "$(psql_q "select count(*) from certificates where device_uid = 'CEN-KEY-3' and conflict is null")" -eq 1 ] ||
	fail "A's certificate for CEN-KEY-3 should stand"
[ "$(psql_q "select count(*) from certificates where device_uid = 'CEN-KEY-4' and conflict like 'key:%certified for device CEN-KEY-3 by station A%'")" -eq 1 ] ||
	{ psql_q "select device_uid, conflict from certificates where device_uid like 'CEN-KEY-%'"; fail "B's clone CEN-KEY-4, shipped at the same moment, is not flagged against A's"; }

# certificates shipped without their key (before central schema version 3)
# get it at the next central init, oldest first: the clone certified later
# is flagged again, and a second run finds nothing left
psql_q "update certificates set key_sha256 = null, conflict = null where device_uid like 'CEN-KEY-%';
	delete from conflicts where device_uid like 'CEN-KEY-%'"
"$FST_STATION" central init --workspace "$ws/B" --json >"$ws/fill.json" || { cat "$ws/fill.json"; fail "central init (keys)"; }
python3 - "$ws/fill.json" <<'PY' || fail "central init --json: keys filled"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["keys_filled"] == 3 and d["keys_flagged"] == 1, d
PY
[ "$(psql_q "select count(*) from certificates where device_uid like 'CEN-KEY-%' and key_sha256 ~ '^[0-9a-f]{64}$'")" -eq 3 ] ||
	fail "central init did not file the keys"
[ "$(psql_q "select string_agg(device_uid, ',' order by device_uid) from conflicts where kind = 'key'")" = "CEN-KEY-4" ] ||
	{ psql_q "select device_uid, conflict from certificates where device_uid like 'CEN-KEY-%'"; fail "after filling the keys, only CEN-KEY-4 should be flagged"; }
"$FST_STATION" central init --workspace "$ws/B" >"$ws/fill2.out" || fail "central init (keys, again)"
grep -q 'nothing to do' "$ws/fill2.out" || { cat "$ws/fill2.out"; fail "a second central init filled keys again"; }

# a batch the registry rolls back for a deadlock is sent again: with the
# registry stopped, CEN-DL-1 is certified at A; then a session of the test
# holds its reservation's row and, once A's batch (holding the key's lock)
# waits for that row, asks for the key's lock. PostgreSQL ends A's transaction (the
# session waits longer before it looks for deadlocks); the sync sends the
# batch again once the session is done, and ships everything
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ws/dl-key.pem" 2>/dev/null ||
	fail "openssl genpkey"
dl_lock=$(openssl pkey -in "$ws/dl-key.pem" -pubout -outform DER | sha256sum |
	python3 -c 'import sys; v = int(sys.stdin.read()[:8], 16); print(v - (1 << 32) if v >= 1 << 31 else v)')
"$pg" stop "$ws/pg"
sim d1 CEN-DL-1 --fault-fixed-key "$ws/dl-key.pem"
"$FST_STATION" provision --workspace "$ws/A" --port "$ws/links/d1" --profile "$ws/proceed.profile" \
	>"$ws/d1.out" 2>&1 || { cat "$ws/d1.out"; fail "offline=proceed: CEN-DL-1 at A"; }
"$pg" restart "$ws/pg"
psql_q "insert into reservations (device_uid, station) values ('CEN-DL-1', 'A')"
psql -X -q -v ON_ERROR_STOP=1 "$conninfo" >"$ws/dl-session.out" 2>&1 <<SQL &
BEGIN;
SET LOCAL deadlock_timeout = '60s';
SELECT 1 FROM reservations WHERE device_uid = 'CEN-DL-1' FOR UPDATE;
DO \$\$ BEGIN
  FOR i IN 1..1000 LOOP
    IF EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 1718842475
               AND granted)
       AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted) THEN
      RETURN;
    END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
  RAISE EXCEPTION 'no batch held a key and waited for the reservation';
END \$\$;
SELECT pg_advisory_xact_lock(1718842475, $dl_lock);
COMMIT;
SQL
session=$!
for _ in $(seq 100); do
	[ "$(psql_q "select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid where l.locktype = 'relation' and l.relation = 'reservations'::regclass and l.mode = 'RowShareLock' and a.pid <> pg_backend_pid()")" -ge 1 ] && break
	sleep 0.05
done
rc=0
"$FST_STATION" central sync --workspace "$ws/A" --json >"$ws/sync-dl.json" 2>"$ws/sync-dl.err" || rc=$?
wait $session || { cat "$ws/dl-session.out"; fail "the test's session that makes the deadlock"; }
[ $rc -eq 0 ] || { cat "$ws/sync-dl.json" "$ws/sync-dl.err"; fail "central sync A after a deadlock: exit $rc"; }
python3 - "$ws/sync-dl.json" <<'PY' || fail "central sync --json: the batch rolled back for a deadlock was not sent again"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["retried"] == 1 and d["events"] > 0, (d, open(sys.argv[1].replace("sync-dl.json", "dl-session.out")).read())
PY
[ "$(psql_q "select count(*) from certificates where device_uid = 'CEN-DL-1' and conflict is null")" -eq 1 ] ||
	fail "CEN-DL-1's certificate was not shipped after the deadlock"

# the central audit passes; each kind of edit of the central copy is found:
# a certificate's state, its DER, a certificate no event recorded
"$FST_STATION" audit verify --central --workspace "$ws/A" >"$ws/audit.out" 2>&1 || { cat "$ws/audit.out"; fail "audit verify --central"; }
grep -q 'journal of station A against its central copy: the same' "$ws/audit.out" || { cat "$ws/audit.out"; fail "journal comparison"; }
# edit SQL, then the problems the audit must name: in the central chain, and
# (if given) against station A's journal
central_edit() {
	local rc=0
	psql_q "$1" >/dev/null
	"$FST_STATION" central audit --workspace "$ws/A" >"$ws/audit2.out" 2>&1 || rc=$?
	[ $rc -eq 5 ] || { cat "$ws/audit2.out"; fail "an edited central copy ($1) should fail the audit (5), got $rc"; }
	grep -q "$2" "$ws/audit2.out" || { cat "$ws/audit2.out"; fail "the audit does not say: $2"; }
	[ -z "${3:-}" ] || grep -q "$3" "$ws/audit2.out" || { cat "$ws/audit2.out"; fail "the journal comparison does not say: $3"; }
}
state=$(psql_q "select state from certificates where device_uid = 'CEN-RET-1'")
der=$(psql_q "select encode(der, 'hex') from certificates where device_uid = 'CEN-RET-1'")
central_edit "update certificates set state = 'revoked' where device_uid = 'CEN-RET-1'" 'is revoked centrally' \
	"is revoked centrally and $state in the station's journal"
psql_q "update certificates set state = '$state' where device_uid = 'CEN-RET-1'"
central_edit "update certificates set der = (select der from certificates where device_uid = 'CEN-KEY-1')
	where device_uid = 'CEN-RET-1'" "its central DER is not the one the station recorded" \
	"the central DER differs from the station's journal"
psql_q "update certificates set der = decode('$der', 'hex') where device_uid = 'CEN-RET-1'"
hash=$(psql_q "select encode(e.hash, 'hex') from events e join stations s on s.id = e.station_id where s.name = 'A' and e.local_id = 3")
central_edit "update events set hash = sha256(hash) where local_id = 3 and station_id = (select id from stations where name = 'A')" \
	'event 3 (.*) of the central copy does not match the hash the station signed' \
	'event 3 of station A: the central copy has hash'
psql_q "update events set hash = decode('$hash', 'hex') where local_id = 3 and station_id = (select id from stations where name = 'A')"
central_edit "create temp table t as select * from certificates where device_uid = 'CEN-RET-1';
	update t set local_id = local_id + 1000000, serial_hex = 'AB' || serial_hex, state = 'superseded';
	insert into certificates select * from t" 'has no certificate-issued event in the central chain: inserted centrally'
echo "ok: central registry from the CLI"
