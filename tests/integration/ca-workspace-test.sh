#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The workspace and its CA files from the outside: a pending CA is never
# overwritten by a demo PKI, CA creation killed at any point leaves a whole CA
# or none (a renewal: the CA before or the renewed one), simulated devices get
# no secret, a lost database is refused, a second process does not take the
# first one's devices for interrupted ones, exports never overwrite, and the
# workspace is the station's alone.
set -euo pipefail

B=${FST_STATION:?FST_STATION must name the fleetstation binary}
DEVSIM=${FST_DEVSIM:?FST_DEVSIM must name fleetstation-devsim}
T=$(mktemp -d /tmp/fst-ca-ws-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
unset FLEETSTATION_CA_PASSPHRASE FLEETSTATION_WORKSPACE
. "$(dirname "$0")/fst-test-lib.sh"
expect_rc() { # expect_rc RC CMD...: runs CMD, checks its exit status, keeps stderr in $T/err
	local want=$1; shift
	set +e; "$@" >"$T/out" 2>"$T/err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "$* exited $rc, expected $want"; }
}
q() { sqlite3 -batch -noheader "$1/station.db" "$2"; }

# --- a demo never writes over a CA being set up ---
W=$T/pending
expect_rc 0 "$B" init -w "$W"
echo "operator pass" >"$W/ca/passphrase"; chmod 600 "$W/ca/passphrase"
expect_rc 0 "$B" ca create -w "$W" --csr --organization "Pending"
sum_before=$(cd "$W/ca" && sha256sum passphrase issuing-ca.key issuing-ca.csr)
expect_rc 3 "$B" demo -w "$W" --devices 1
grep -q "nothing was changed" "$T/err" || fail "demo over a pending CA: $(cat "$T/err")"
expect_rc 3 "$B" init -w "$W" --demo-ca
[ "$(cd "$W/ca" && sha256sum passphrase issuing-ca.key issuing-ca.csr)" = "$sum_before" ] ||
	fail "a CA file changed"
[ "$(ls "$W/ca" | sort | tr '\n' ' ')" = "issuing-ca.csr issuing-ca.key passphrase " ] ||
	fail "files added to a pending ca/: $(ls "$W/ca")"
openssl pkey -in "$W/ca/issuing-ca.key" -passin file:"$W/ca/passphrase" -noout ||
	fail "the pending issuing key no longer opens with ca/passphrase"

# --- a missing issuing CA certificate: the CA is unavailable (exit 4) ---
expect_rc 4 "$B" provision -w "$W" --profile aws-iot-ecc --port /dev/null
grep -q "no issuing CA" "$T/err" || fail "missing issuing CA: $(cat "$T/err")"

# --- CA creation killed at random points: a whole CA or none, and the next run works ---
n_whole=0
for i in $(seq 1 12); do
	W=$T/kill-$i
	mkdir -m 700 "$W"
	FST_TEST_CA_STAGE_PAUSE_MS=40 "$B" init -w "$W" --demo-ca >/dev/null 2>&1 &
	p=$!
	sleep "0.$(( (RANDOM % 40) + 5 ))"
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	cafiles=0
	for f in root-ca.pem root-ca.key issuing-ca.pem issuing-ca.key; do
		[ -e "$W/ca/$f" ] && cafiles=$((cafiles + 1))
	done
	case "$cafiles" in
	0) ;;
	4)
		n_whole=$((n_whole + 1))
		openssl pkey -in "$W/ca/issuing-ca.key" -passin file:"$W/ca/passphrase" -noout ||
			fail "run $i: the issuing key does not open"
		openssl verify -CAfile "$W/ca/root-ca.pem" "$W/ca/issuing-ca.pem" >/dev/null ||
			fail "run $i: the issuing CA does not chain to the root"
		;;
	*) fail "run $i: a half-made ca/ after SIGKILL: $(ls -a "$W/ca")" ;;
	esac
	expect_rc 0 "$B" init -w "$W" --demo-ca
	[ -f "$W/ca/issuing-ca.pem" ] || fail "run $i: no CA after a second init"
	ls -a "$W" | grep -q '^\.ca\.new-' && fail "run $i: a staging folder was left behind"
done
echo "kill loop: $n_whole of 12 runs were killed after the CA was complete"

# --- CA renewal killed at random points: the CA before or the renewed one, never half ---
n_renewed=0
for i in $(seq 1 8); do
	W=$T/renew-kill-$i
	cp -a "$T/kill-1" "$W"
	old_sha=$(openssl x509 -in "$W/ca/issuing-ca.pem" -outform DER | sha256sum | cut -c1-64)
	FST_TEST_CA_STAGE_PAUSE_MS=40 "$B" ca renew -w "$W" >/dev/null 2>&1 &
	p=$!
	sleep "0.$(( (RANDOM % 40) + 5 ))"
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	sha=$(openssl x509 -in "$W/ca/issuing-ca.pem" -outform DER | sha256sum | cut -c1-64)
	retired=$W/ca/retired-issuing-ca-${old_sha:0:16}
	if [ "$sha" = "$old_sha" ]; then
		[ ! -e "$retired.pem" ] && [ ! -e "$retired.key" ] || fail "renewal run $i: retired files beside the CA in service"
	else
		n_renewed=$((n_renewed + 1))
		[ "$(openssl x509 -in "$retired.pem" -outform DER | sha256sum | cut -c1-64)" = "$old_sha" ] ||
			fail "renewal run $i: the CA before is not kept"
		openssl pkey -in "$retired.key" -passin file:"$W/ca/passphrase" -noout ||
			fail "renewal run $i: the retired key does not open"
	fi
	openssl pkey -in "$W/ca/issuing-ca.key" -passin file:"$W/ca/passphrase" -pubout |
		cmp -s - <(openssl x509 -in "$W/ca/issuing-ca.pem" -noout -pubkey) ||
		fail "renewal run $i: the issuing key is not the issuing CA's"
	openssl verify -CAfile "$W/ca/root-ca.pem" "$W/ca/issuing-ca.pem" >/dev/null ||
		fail "renewal run $i: the issuing CA does not chain to the root"
	expect_rc 0 "$B" ca renew -w "$W"
	ls -a "$W" | grep -q '^\.ca\.new-' && fail "renewal run $i: a staging folder was left behind"
done
echo "renewal kill loop: $n_renewed of 8 runs were killed after the renewal was complete"

# --- simulated devices get no secret from the station ---
W=$T/env
cat >"$T/devsim-wrapper" <<EOF
#!/bin/sh
tr '\0' '\n' </proc/\$\$/environ >"$T/devsim-env.\$\$"
exec "$DEVSIM" "\$@"
EOF
chmod +x "$T/devsim-wrapper"
FLEETSTATION_CA_PASSPHRASE="demo secret passphrase" FST_DEVSIM=$T/devsim-wrapper \
	expect_rc 0 "$B" demo -w "$W" --devices 2 --quiet
ls "$T"/devsim-env.* >/dev/null 2>&1 || fail "the devsim wrapper did not run"
grep -q '^FLEETSTATION_PARENT_PID=' "$T"/devsim-env.* || fail "the wrapper saw no station environment"
if grep -l 'FLEETSTATION_CA_PASSPHRASE\|demo secret passphrase' "$T"/devsim-env.*; then
	fail "a simulated device got the CA passphrase"
fi

# --- the workspace is private, also when it existed before init ---
W=$T/perm
mkdir -m 755 "$W"
umask 022
expect_rc 0 "$B" init -w "$W" --demo-ca
[ "$(stat -c %a "$W")" = 700 ] || fail "workspace mode $(stat -c %a "$W")"
for f in station.conf station.db; do
	[ "$(stat -c %a "$W/$f")" = 600 ] || fail "$f mode $(stat -c %a "$W/$f")"
done
chmod 755 "$W"; chmod 644 "$W/station.conf" "$W/station.db"
FLEETSTATION_CA_PASSPHRASE=$(cat "$W/ca/passphrase") expect_rc 0 "$B" init -w "$W"
[ "$(stat -c %a "$W")" = 700 ] || fail "existing workspace not tightened"
for f in station.conf station.db; do
	[ "$(stat -c %a "$W/$f")" = 600 ] || fail "existing $f not tightened"
done
# a run in WAL mode makes -wal and -shm: they get the database's mode
expect_rc 0 "$B" demo -w "$W" --devices 1 --quiet
for f in station.db-wal station.db-shm; do
	if [ -e "$W/$f" ]; then [ "$(stat -c %a "$W/$f")" = 600 ] || fail "$f mode $(stat -c %a "$W/$f")"; fi
done

# --- a lost database is refused, not silently recreated ---
W=$T/lost
expect_rc 0 "$B" demo -w "$W" --devices 1 --quiet
id=$(q "$W" "select value from db_properties where key = 'database-id'")
grep -q "^database-id=$id\$" "$W/station.conf" || fail "station.conf does not record the database-id"
expect_rc 0 "$B" db backup -w "$W" "$T/lost-backup.db"
mv "$W/station.db" "$T/lost-moved.db"; rm -f "$W/station.db-wal" "$W/station.db-shm"
expect_rc 5 "$B" demo -w "$W" --devices 1 --quiet
grep -q "db backup" "$T/err" || fail "no pointer to db backup: $(cat "$T/err")"
[ -e "$W/station.db" ] && fail "a new database was created"
expect_rc 5 "$B" init -w "$W"
: >"$W/station.db"
expect_rc 5 "$B" devices -w "$W"
expect_rc 5 "$B" ca list -w "$W"
expect_rc 5 "$B" certs export -w "$W" 0BADC0DE
expect_rc 5 "$B" provision -w "$W" --profile aws-iot-ecc --port /dev/null
[ -s "$W/station.db" ] && fail "the empty database was filled"
# another workspace's database is refused too
cp "$T/kill-1/station.db" "$W/station.db"
expect_rc 5 "$B" init -w "$W"
grep -q "$id" "$T/err" || fail "a foreign database: $(cat "$T/err")"
# the backup brings it back
cp "$T/lost-backup.db" "$W/station.db"
expect_rc 0 "$B" init -w "$W"

# --- a second process does not take the first one's devices for interrupted ones ---
W=$T/two
expect_rc 0 "$B" init -w "$W" --demo-ca
"$B" demo -w "$W" --devices 2 --baud 2400 --quiet >"$T/slow.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
	[ "$(q "$W" "select count(*) from devices where state = 'in-progress'" 2>/dev/null || echo 0)" -gt 0 ] && break
	sleep 0.1
done
[ "$(q "$W" "select count(*) from devices where state = 'in-progress'")" -gt 0 ] ||
	fail "the slow demo never had a device in progress"
FLEETSTATION_CA_PASSPHRASE=$(cat "$W/ca/passphrase") expect_rc 0 "$B" init -w "$W"
[ "$(q "$W" "select count(*) from devices where state = 'rework'")" = 0 ] ||
	fail "the second process marked the first one's devices for rework"
[ "$(q "$W" "select count(*) from events where step = 'interrupted' or outcome = 'interrupted'")" = 0 ] ||
	fail "the second process wrote interrupted events"
wait "${pids[0]}" || { cat "$T/slow.out"; fail "the first process failed"; }
pids=()
grep -q "^2 provisioned, 0 failed" "$T/slow.out" || { cat "$T/slow.out"; fail "the first run did not finish its devices"; }

# --- report --out never overwrites and never follows a link ---
W=$T/lost
echo "keep me" >"$T/exists.csv"
expect_rc 3 "$B" report -w "$W" --out "$T/exists.csv"
[ "$(cat "$T/exists.csv")" = "keep me" ] || fail "report overwrote a file"
ln -s "$T/link-target" "$T/link.csv"
expect_rc 3 "$B" report -w "$W" --out "$T/link.csv"
[ -e "$T/link-target" ] && fail "report followed a symbolic link"
ln -s "$T/link-target.pdf" "$T/link.pdf"
expect_rc 3 "$B" report -w "$W" --format pdf --out "$T/link.pdf"
[ -e "$T/link-target.pdf" ] && fail "the PDF report followed a symbolic link"
expect_rc 0 "$B" report -w "$W" --format pdf --out "$T/new.pdf"
head -c 5 "$T/new.pdf" | grep -q '%PDF-' || fail "no PDF written"

# --- the report key is kept like the CA keys, its certificate issued by the root ---
W=$T/lost
[ -e "$W/report-key.pem" ] && fail "a report key was made before it was needed"
expect_rc 0 "$B" report -w "$W" --out "$T/first.csv" --sign
head -1 "$W/report-key.pem" | grep -q 'BEGIN ENCRYPTED PRIVATE KEY' || fail "report key not encrypted"
[ "$(stat -c %a "$W/report-key.pem")" = 600 ] || fail "report key mode"
openssl pkey -in "$W/report-key.pem" -passin file:"$W/ca/passphrase" -noout || fail "report key does not open with the CA passphrase"
openssl x509 -in "$W/report-cert.pem" -noout -text >"$T/rc.txt"
grep -q 'Subject: CN *= *fleetstation report signer' "$T/rc.txt" || fail "report certificate name"
grep -A1 'Key Usage: critical' "$T/rc.txt" | grep -q '^ *Digital Signature$' || fail "report certificate key usage"
grep -A1 'Basic Constraints: critical' "$T/rc.txt" | grep -q 'CA:FALSE' || fail "report certificate is a CA"
openssl verify -CAfile "$W/ca/root-ca.pem" "$W/report-cert.pem" >/dev/null || fail "report certificate not issued by the root"
expect_rc 0 "$B" report -w "$W" --out "$T/signed.csv" --sign
openssl cms -verify -binary -inform PEM -in "$T/signed.csv.sig" -content "$T/signed.csv" \
	-CAfile "$W/ca/root-ca.pem" -out /dev/null 2>/dev/null || fail "openssl cms -verify against the root"
expect_rc 0 "$B" report -w "$W" verify "$T/signed.csv" "$T/signed.csv.sig"
# a signed report is written with its signature or not at all: a key that does
# not open, or a signature name taken, leaves no report behind
printf 'not the passphrase\n' >"$T/wrong-pass"
chmod 600 "$T/wrong-pass"
expect_rc 3 "$B" report -w "$W" --out "$T/unsigned.csv" --sign --passphrase-file "$T/wrong-pass"
[ ! -e "$T/unsigned.csv" ] || fail "a report the key could not sign was left"
echo "another signature" >"$T/taken.csv.sig"
expect_rc 3 "$B" report -w "$W" --out "$T/taken.csv" --sign
[ ! -e "$T/taken.csv" ] || fail "a report whose signature name is taken was left"
[ "$(cat "$T/taken.csv.sig")" = "another signature" ] || fail "a signature was overwritten"
# a clear report key of an older workspace is encrypted in place by the next signature
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/report-key.pem" 2>/dev/null
chmod 600 "$W/report-key.pem"
openssl req -new -x509 -key "$W/report-key.pem" -subj "/CN=old report signer" -days 30 -out "$W/report-cert.pem" 2>/dev/null
expect_rc 0 "$B" report -w "$W" --out "$T/migrated.csv" --sign
head -1 "$W/report-key.pem" | grep -q 'BEGIN ENCRYPTED PRIVATE KEY' || fail "clear report key not migrated"
expect_rc 0 "$B" report -w "$W" verify "$T/migrated.csv" "$T/migrated.csv.sig"

# --- certs export: PEM, DER, the chain, never over a file, each export audited ---
W=$T/lost
S=$(q "$W" "select serial_hex from certificates order by id limit 1")
expect_rc 0 "$B" certs export -w "$W" "$S" --chain --out "$T/chain.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/chain.pem")" = 2 ] || fail "the chain is not the certificate and the issuing CA"
openssl verify -CAfile "$W/ca/root-ca.pem" -untrusted "$T/chain.pem" "$T/chain.pem" >/dev/null || fail "exported chain does not verify"
expect_rc 0 "$B" certs export -w "$W" "$S" --der --out "$T/cert.der"
[ "$(openssl x509 -inform DER -in "$T/cert.der" -noout -serial)" = "serial=$S" ] || fail "DER export serial"
q "$W" "select writefile('$T/db.der', der) from certificates where serial_hex = '$S'" >/dev/null
cmp -s "$T/cert.der" "$T/db.der" || fail "DER export differs from the database"
expect_rc 0 "$B" certs export -w "$W" "$S"
openssl x509 -in "$T/out" -noout -serial | grep -q "$S" || fail "PEM export to standard output"
expect_rc 3 "$B" certs export -w "$W" "$S" --out "$T/chain.pem"
expect_rc 2 "$B" certs export -w "$W" "$S" --der --chain
expect_rc 3 "$B" certs export -w "$W" 0BADC0DE
[ "$(q "$W" "select count(*) from events where step = 'certificate-export'")" = 3 ] || fail "exports not audited"
# revoke and CRL: engine operations with their events
expect_rc 0 "$B" revoke -w "$W" "$S" --reason keyCompromise
expect_rc 0 "$B" ca crl -w "$W" --out "$T/ws.crl"
openssl crl -in "$T/ws.crl" -noout -text | grep -q "Serial Number: $S" || fail "revoked certificate not in the CRL"
[ "$(q "$W" "select count(*) from events where step = 'crl-issue' and detail like 'CRL number 1 %'")" = 1 ] ||
	fail "CRL issue not audited"

# --- every command asks for the CA secret the same way: option file, environment,
# workspace file, terminal prompt ---
W=$T/secret
expect_rc 0 "$B" init -w "$W" --demo-ca
mv "$W/ca/passphrase" "$T/secret-pass"
for cmd in provision watch batch; do
	"$B" "$cmd" --help | grep -q -- '--passphrase-file' || fail "$cmd has no --passphrase-file"
done
expect_rc 1 "$B" provision -w "$W" --profile aws-iot-ecc --port /dev/fst-no-such-port --quiet \
	--passphrase-file "$T/secret-pass"
grep -q "does not exist" "$T/out" || fail "provision with --passphrase-file did not reach the port"
expect_rc 4 setsid "$B" provision -w "$W" --profile aws-iot-ecc --port /dev/fst-no-such-port </dev/null
grep -q -- "--passphrase-file" "$T/err" || fail "no secret: $(cat "$T/err")"
printf 'wrong passphrase' >"$T/wrong-pass"; chmod 600 "$T/wrong-pass"
FLEETSTATION_CA_PASSPHRASE=$(cat "$T/secret-pass") expect_rc 4 "$B" provision -w "$W" \
	--profile aws-iot-ecc --port /dev/fst-no-such-port --passphrase-file "$T/wrong-pass"
if command -v script >/dev/null; then
	# the prompt reads the controlling terminal with echo off (input sent after it flushes)
	(sleep 1; cat "$T/secret-pass"; echo) | script -qec "'$B' provision -w '$W' --profile aws-iot-ecc --port /dev/fst-no-such-port --quiet" /dev/null >"$T/script.out" 2>&1 || true
	grep -q "Passphrase for the issuing CA key" "$T/script.out" || { cat "$T/script.out"; fail "no prompt"; }
	grep -q "does not exist" "$T/script.out" || { cat "$T/script.out"; fail "the prompted passphrase did not unlock the CA"; }
else
	echo "SKIP: the terminal prompt (no script(1))"
fi
echo "ok"
