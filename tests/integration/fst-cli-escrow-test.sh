#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Key escrow from the outside: a key-injection board provisioned with
# a profile naming an escrow certificate; `fleetstation escrow` hands out the
# CMS envelope (mode 0600, never over a file, the export an audit event), and
# only the escrow key holder opens it, to the key of the issued certificate.
set -euo pipefail

: "${FST_STATION:?}" "${FST_DEVSIM:?}" "${FST_TEMPLATES_DIR:?}"
ws=$(mktemp -d /tmp/fst-cli-escrow-test.XXXXXX)
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

"$FST_STATION" init --workspace "$ws/w" --demo-ca >/dev/null 2>&1 || fail "init"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ws/escrow.key" -out "$ws/escrow.pem" \
	-subj /CN=Escrow -days 2 2>/dev/null || fail "escrow key"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ws/other.key" -out "$ws/other.pem" \
	-subj /CN=Other -days 2 2>/dev/null || fail "other key"
cat >"$ws/escrow.profile" <<PROFILE
[profile]
name=escrow-cli
models=devsim-*
key-source=station-generated
key-types=ec-p256
escrow-certificate=$ws/escrow.pem
[subject]
cn={model}-{uid}
o=Escrow Test
[validity]
days=365
PROFILE

"$FST_DEVSIM" --uid ESC-1 --model-file "$FST_TEMPLATES_DIR/../protocols/sim/models/key-injection.model" \
	--storage "$ws/ESC-1.bin" --link "$ws/p1" >"$ws/p1.ready" &
pids+=($!)
for _ in $(seq 100); do grep -q READY "$ws/p1.ready" 2>/dev/null && break; sleep 0.05; done
"$FST_STATION" provision --workspace "$ws/w" --profile "$ws/escrow.profile" --port "$ws/p1" \
	>"$ws/prov.out" 2>&1 || { cat "$ws/prov.out"; fail "provision"; }
serial=$(q "select serial_hex from certificates c join devices d on d.id = c.device_id where d.uid = 'ESC-1'")
[ -n "$serial" ] || fail "no certificate"

# the export: the CMS as stored, 0600, and an audit event
FLEETSTATION_OPERATOR=escrow-officer-1 "$FST_STATION" escrow --workspace "$ws/w" "$serial" --out "$ws/key.cms" >"$ws/esc.out" 2>&1 ||
	{ cat "$ws/esc.out"; fail "escrow export"; }
[ "$(stat -c %a "$ws/key.cms")" = 600 ] || fail "the export is not mode 0600"
[ "$(q "select count(*) from events where step = 'escrow-export' and detail like 'certificate $serial:%'")" -eq 1 ] ||
	fail "the export is not an audit event"
[ "$(q "select o.name from events e join operators o on o.id = e.operator_id where e.step = 'escrow-export'")" = escrow-officer-1 ] ||
	fail "the export event does not name the operator"
"$FST_STATION" audit verify --workspace "$ws/w" >/dev/null || fail "the audit chain broke"
q "select writefile('$ws/stored.cms', e.cms) from key_escrows e join certificates c on c.id = e.certificate_id where c.serial_hex = '$serial'" >/dev/null
cmp -s "$ws/key.cms" "$ws/stored.cms" || fail "the export is not the stored envelope"

# the escrow key opens it, to the key of the issued certificate; another key does not
openssl cms -decrypt -inform DER -in "$ws/key.cms" -recip "$ws/escrow.pem" -inkey "$ws/escrow.key" \
	-out "$ws/device.key" || fail "the escrow key does not open the envelope"
q "select writefile('$ws/cert.der', der) from certificates where serial_hex = '$serial'" >/dev/null
[ "$(openssl pkey -inform DER -in "$ws/device.key" -pubout 2>/dev/null || openssl pkey -in "$ws/device.key" -pubout)" = \
	"$(openssl x509 -inform DER -in "$ws/cert.der" -noout -pubkey)" ] || fail "the escrowed key is not the certificate's"
if openssl cms -decrypt -inform DER -in "$ws/key.cms" -recip "$ws/other.pem" -inkey "$ws/other.key" \
	-out /dev/null 2>/dev/null; then
	fail "another key opened the envelope"
fi

# never over a file; a certificate without escrow is NOT_FOUND (exit 3)
rc=0
"$FST_STATION" escrow --workspace "$ws/w" "$serial" --out "$ws/key.cms" >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "an existing file should refuse the export (exit 2), got $rc"
rc=0
"$FST_STATION" escrow --workspace "$ws/w" 0A0B --out "$ws/none.cms" >"$ws/none.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ ! -e "$ws/none.cms" ] || fail "a certificate without escrow was exported"
grep -q "0A0B" "$ws/none.out" || { cat "$ws/none.out"; fail "the error does not name the serial"; }
echo "ok: escrow export"
