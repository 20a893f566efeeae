#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `fleetstation ca ...` and `fleetstation revoke` end to end, every output checked
# by OpenSSL and GnuTLS certtool (not by our own code): create, list, refusal to
# overwrite, an issuing CA signed by an offline root made with openssl (CSR,
# install), import of PKCS#12 and encrypted PKCS#8 DER, the AWS verification
# certificate, revoke + CRL against a certificate the demo really issued, and
# renewal of the issuing CA (by the workspace's root, and by an offline root).
set -euo pipefail

B=${FST_STATION:?FST_STATION must name the fleetstation binary}
T=$(mktemp -d /tmp/fst-ca-cli-XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
unset FLEETSTATION_CA_PASSPHRASE FLEETSTATION_WORKSPACE
. "$(dirname "$0")/fst-test-lib.sh"
expect_rc() { # expect_rc RC CMD...: runs CMD, checks its exit status, keeps stderr in $T/err
	local want=$1; shift
	set +e; "$@" >"$T/out" 2>"$T/err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "$* exited $rc, expected $want"; }
}
printf 'station pass phrase' >"$T/pass"; chmod 600 "$T/pass"

# --- create: root RSA-3072 + issuing P-384 with pathlen 1 ---
W=$T/ws
expect_rc 0 "$B" ca create -w "$W" --passphrase-file "$T/pass" --organization "Acme Test" \
	--key-type ec-p384 --root-key-type rsa-3072 --pathlen 1 --days 400 --root-days 800
C=$W/ca
[ "$(stat -c %a "$C")" = 700 ] || fail "ca dir mode"
for k in root-ca.key issuing-ca.key; do
	[ "$(stat -c %a "$C/$k")" = 600 ] || fail "$k mode"
	head -1 "$C/$k" | grep -q 'BEGIN ENCRYPTED PRIVATE KEY' || fail "$k not encrypted"
	openssl pkey -in "$C/$k" -passin file:"$T/pass" -noout || fail "$k does not decrypt"
	if openssl pkey -in "$C/$k" -passin pass:wrong -noout 2>/dev/null; then fail "$k opens with a wrong passphrase"; fi
	openssl asn1parse -in "$C/$k" | grep -q ':scrypt' || fail "$k is not scrypt"
	openssl asn1parse -in "$C/$k" | grep -q ':aes-256-cbc' || fail "$k is not AES-256"
	openssl asn1parse -in "$C/$k" | grep -A2 ':scrypt' | grep -q 'l=  16 prim: OCTET STRING' || fail "$k salt is not 16 bytes"
done
openssl x509 -in "$C/issuing-ca.pem" -noout -text >"$T/iss.txt"
grep -A1 'Basic Constraints: critical' "$T/iss.txt" | grep -q 'CA:TRUE, pathlen:1' || fail "issuing basicConstraints"
grep -A1 'Key Usage: critical' "$T/iss.txt" | grep -q '^ *Certificate Sign, CRL Sign$' || fail "issuing keyUsage"
grep -q 'Subject Key Identifier' "$T/iss.txt" || fail "no SKI"
grep -q 'Authority Key Identifier' "$T/iss.txt" || fail "no AKI"
grep -q 'ASN1 OID: secp384r1' "$T/iss.txt" || fail "issuing key not P-384"
grep -q 'Signature Algorithm: sha256WithRSAEncryption' "$T/iss.txt" || fail "issuing not signed by the RSA root"
openssl x509 -in "$C/root-ca.pem" -noout -text | grep -q 'Public-Key: (3072 bit)' || fail "root not RSA-3072"
ski=$(openssl x509 -in "$C/root-ca.pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' ')
aki=$(openssl x509 -in "$C/issuing-ca.pem" -noout -ext authorityKeyIdentifier | tail -1 | tr -d ' ')
[ "$ski" = "$aki" ] || fail "AKI $aki is not the root SKI $ski"
openssl verify -x509_strict -CAfile "$C/root-ca.pem" "$C/issuing-ca.pem" >/dev/null || fail "openssl verify"
certtool --verify --load-ca-certificate "$C/root-ca.pem" --infile "$C/issuing-ca.pem" >"$T/ct" 2>&1 || { cat "$T/ct"; fail "certtool verify"; }

expect_rc 0 "$B" ca list -w "$W"
grep -q 'CN=Acme Test Issuing CA,O=Acme Test' "$T/out" || fail "list subject"
grep -q 'ec-p384, encrypted file' "$T/out" || fail "list key"
grep -q 'rsa-3072, encrypted file' "$T/out" || fail "list root key"
grep -q 'pathlen 1' "$T/out" || fail "list pathlen"
# a 400-day CA ends before a 3650-day profile would
expect_rc 0 "$B" ca list -w "$W" --profile aws-iot-ecc
grep -q 'WARNING: .*before a device certificate issued now would' "$T/out" || fail "no profile-validity warning"
# a fixed-end profile (not-after=2049-12-31T23:59:59Z) is compared by its end, not by days
expect_rc 0 "$B" ca list -w "$W" --profile small-storage
grep -q 'WARNING: .*issued now would (2049-12-31 23:59:59Z)' "$T/out" || fail "no fixed-end profile warning"
# no database yet: the AWS line says so
grep -q 'AWS: *not registered (no database)' "$T/out" || fail "list AWS state without a database"

# a CA near its end is flagged
expect_rc 0 "$B" ca create -w "$T/short" --passphrase-file "$T/pass" --days 30
expect_rc 0 "$B" ca list -w "$T/short"
grep -q 'WARNING: .*in [23][0-9] days: renew it soon' "$T/out" || fail "no near-end warning"

# never overwritten
sum=$(sha256sum "$C/issuing-ca.pem")
expect_rc 3 "$B" ca create -w "$W" --passphrase-file "$T/pass"
grep -q 'already exists' "$T/err" || fail "overwrite message"
[ "$(sha256sum "$C/issuing-ca.pem")" = "$sum" ] || fail "issuing CA changed"
# bad options
expect_rc 2 "$B" ca create -w "$T/x" --passphrase-file "$T/pass" --key-type ec-p192
expect_rc 3 "$B" ca create -w "$T/x" --passphrase-file "$T/pass" --subject "/O=no cn"
# no passphrase and no terminal: refused, nothing written
expect_rc 4 setsid "$B" ca create -w "$T/y" </dev/null
grep -q 'no terminal' "$T/err" || fail "no-terminal message"
grep -q -- '--passphrase-file' "$T/err" || fail "no-terminal message names no option"
[ ! -e "$T/y/ca/issuing-ca.key" ] || fail "key written without a passphrase"

# the passphrase typed at a prompt on a terminal (script gives one): asked twice, never echoed
(sleep 0.5; printf 'typed secret\n'; sleep 0.3; printf 'typed secret\n'; sleep 1) |
	script -qec "$B ca create -w $T/typed" /dev/null >"$T/typed.out" 2>&1 || { cat "$T/typed.out"; fail "prompted create"; }
grep -q 'typed secret' "$T/typed.out" && fail "the passphrase was echoed"
openssl pkey -in "$T/typed/ca/issuing-ca.key" -passin 'pass:typed secret' -noout || fail "typed passphrase not used"
(sleep 0.5; printf 'one\n'; sleep 0.3; printf 'two\n'; sleep 1) |
	script -qec "$B ca create -w $T/typed2" /dev/null >"$T/typed.out" 2>&1 && fail "different passphrases accepted"
grep -q 'differ' "$T/typed.out" || fail "mismatch message"
[ ! -e "$T/typed2/ca" ] || fail "files written after a mismatch"

# --- AWS IoT verification certificate ---
code=$(openssl rand -hex 32)
expect_rc 0 "$B" ca verification-cert -w "$W" --passphrase-file "$T/pass" --code "$code" --out "$T/ver.pem"
[ "$(openssl x509 -in "$T/ver.pem" -noout -subject -nameopt RFC2253)" = "subject=CN=$code" ] || fail "verification CN"
openssl verify -CAfile "$C/root-ca.pem" -untrusted "$C/issuing-ca.pem" "$T/ver.pem" >/dev/null || fail "verification cert verify"
cat "$T/ver.pem" "$C/issuing-ca.pem" >"$T/verchain.pem"
certtool --verify --load-ca-certificate "$C/root-ca.pem" --infile "$T/verchain.pem" >/dev/null 2>&1 || fail "certtool verification cert"
expect_rc 3 "$B" ca verification-cert -w "$W" --passphrase-file "$T/pass" --code 'abc;rm'
printf 'wrong' >"$T/wrong"; chmod 600 "$T/wrong"
expect_rc 4 "$B" ca verification-cert -w "$W" --passphrase-file "$T/wrong" --code abc
grep -q 'wrong passphrase' "$T/err" || fail "wrong passphrase message"

# --- an issuing CA signed by an offline root (openssl plays the root) ---
W2=$T/ws2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$T/offroot.key" \
	-subj "/O=Offline/CN=Offline Root" -days 3650 -out "$T/offroot.pem" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
expect_rc 0 "$B" ca create -w "$W2" --csr --passphrase-file "$T/pass" --subject "/O=Acme/CN=Line 7 Issuing CA" --key-type rsa-2048
openssl req -in "$W2/ca/issuing-ca.csr" -noout -verify 2>/dev/null || fail "CSR signature"
openssl req -in "$W2/ca/issuing-ca.csr" -noout -text | grep -A1 'Basic Constraints: critical' | grep -q 'CA:TRUE, pathlen:0' || fail "CSR asks no CA"
[ ! -e "$W2/ca/issuing-ca.pem" ] || fail "certificate before install"
expect_rc 0 "$B" ca list -w "$W2"
grep -q 'waiting for its certificate' "$T/out" || fail "list does not show the pending request"
openssl x509 -req -in "$W2/ca/issuing-ca.csr" -CA "$T/offroot.pem" -CAkey "$T/offroot.key" -CAcreateserial \
	-copy_extensions copy -days 1000 -out "$T/signed.pem" 2>/dev/null
# the wrong certificate (the root itself) is refused, then the right one installs
expect_rc 3 "$B" ca install -w "$W2" --cert "$T/offroot.pem" --chain "$T/offroot.pem"
grep -q 'is not for the key' "$T/err" || fail "install mismatch message"
expect_rc 3 "$B" ca install -w "$W2" --cert "$T/signed.pem"
expect_rc 0 "$B" ca install -w "$W2" --cert "$T/signed.pem" --chain "$T/offroot.pem"
cmp -s "$W2/ca/root-ca.pem" <(openssl x509 -in "$T/offroot.pem") || fail "chain not installed"
expect_rc 0 "$B" ca verification-cert -w "$W2" --passphrase-file "$T/pass" --code ABC --out "$T/ver2.pem"
openssl verify -CAfile "$T/offroot.pem" -untrusted "$W2/ca/issuing-ca.pem" "$T/ver2.pem" >/dev/null || fail "installed CA does not sign"
expect_rc 0 "$B" ca list -w "$W2"
grep -q 'offline (not on this station)' "$T/out" || fail "offline root not shown"

# --- import: PKCS#12 (with chain) and encrypted PKCS#8 DER ---
printf 'p12 secret' >"$T/p12pass"; chmod 600 "$T/p12pass"
openssl pkey -in "$C/issuing-ca.key" -passin file:"$T/pass" -out "$T/clear.key"
openssl pkcs12 -export -inkey "$T/clear.key" -in "$C/issuing-ca.pem" -certfile "$C/root-ca.pem" \
	-passout file:"$T/p12pass" -out "$T/ca.p12"
expect_rc 3 "$B" ca import -w "$T/ws3" --pkcs12 "$T/ca.p12" --in-passphrase-file "$T/wrong" --passphrase-file "$T/pass"
grep -q 'passphrase is wrong' "$T/err" || fail "p12 wrong passphrase message"
expect_rc 0 "$B" ca import -w "$T/ws3" --pkcs12 "$T/ca.p12" --in-passphrase-file "$T/p12pass" --passphrase-file "$T/pass"
cmp -s "$T/ws3/ca/issuing-ca.pem" "$C/issuing-ca.pem" || fail "p12 import certificate"
cmp -s "$T/ws3/ca/root-ca.pem" "$C/root-ca.pem" || fail "p12 import chain"
head -1 "$T/ws3/ca/issuing-ca.key" | grep -q ENCRYPTED || fail "p12 import stored the key in clear"
openssl pkcs8 -topk8 -in "$T/clear.key" -v2 aes-256-cbc -passout file:"$T/p12pass" -outform DER -out "$T/ca.p8.der"
openssl x509 -in "$C/issuing-ca.pem" -outform DER -out "$T/ca.der"
expect_rc 0 "$B" ca import -w "$T/ws4" --cert "$T/ca.der" --key "$T/ca.p8.der" --chain "$C/root-ca.pem" \
	--in-passphrase-file "$T/p12pass" --passphrase-file "$T/pass"
openssl pkey -in "$T/ws4/ca/issuing-ca.key" -passin file:"$T/pass" -noout || fail "DER import key"
# the imported key's passphrase is never the workspace's: neither --passphrase-file nor
# $FLEETSTATION_CA_PASSPHRASE answers it, even when they hold the same words
FLEETSTATION_CA_PASSPHRASE="p12 secret" expect_rc 4 setsid "$B" ca import -w "$T/ws6" --cert "$T/ca.der" \
	--key "$T/ca.p8.der" --passphrase-file "$T/p12pass" </dev/null
grep -q -- '--in-passphrase-file' "$T/err" || fail "foreign passphrase: no option named: $(cat "$T/err")"
[ ! -e "$T/ws6/ca/issuing-ca.key" ] || fail "the workspace passphrase opened an imported key"
expect_rc 3 "$B" ca import -w "$T/ws5" --cert "$C/root-ca.pem" --key "$T/clear.key" --passphrase-file "$T/pass"
grep -q 'does not belong' "$T/err" || fail "import mismatch message"
[ ! -e "$T/ws5/ca/issuing-ca.key" ] || fail "mismatched import wrote a key"
rm -f "$T/clear.key"

# --- the station refuses a run whose certificates would outlive the 400-day CA,
# before it touches a device (exit 4: every device would fail at its issue step) ---
export FLEETSTATION_CA_PASSPHRASE="station pass phrase"
rc=0
"$B" demo --workspace "$W" --force-workspace --devices 1 >"$T/demo" 2>&1 || rc=$?
[ "$rc" = 4 ] || { tail "$T/demo"; fail "a run past the end of the CA: exit $rc, expected 4"; }
grep -q 'a device certificate issued now would end .*, after the issuing CA (.*): shorten \[validity\] in profile aws-iot-ecc' "$T/demo" \
	|| { tail "$T/demo"; fail "outlive refusal message"; }
! grep -q ' identify$' "$T/demo" || { cat "$T/demo"; fail "the refused run touched a device"; }
[ "$(sqlite3 "$W/station.db" "select count(*) from devices")" = 0 ] || fail "the refused run recorded a device"
[ "$(sqlite3 "$W/station.db" "select count(*) from certificates")" = 0 ] || fail "a refused certificate was recorded"

# --- revoke and CRL, with certificates the demo issued from a created CA ---
W=$T/ws6
C=$W/ca
expect_rc 0 "$B" ca create -w "$W" --organization "Acme Test"
"$B" demo --workspace "$W" --force-workspace --devices 2 >"$T/demo" 2>&1 || { tail -20 "$T/demo"; fail "demo with the created CA"; }
mapfile -t serials < <(sqlite3 "$W/station.db" "select serial_hex from certificates order by id")
[ "${#serials[@]}" = 2 ] || fail "expected 2 certificates"
expect_rc 0 "$B" ca list -w "$W"
grep -A8 '^issuing-ca' "$T/out" | grep -q 'issued: *2' || fail "issued count"
grep -A8 '^issuing-ca' "$T/out" | grep -q 'AWS: *not registered$' || fail "AWS state without registrations"
# the registrations table (db/schema.md) is what `ca list` reports; nothing is asked of AWS
sqlite3 "$W/station.db" "insert into registrations (certificate_id, target, state, created_at, updated_at)
	select id, 'aws-iot:123456789012:eu-west-1', 'pending', 0, 0 from certificates order by id limit 1;
	insert into registrations (certificate_id, target, state, created_at, updated_at)
	select id, 'aws-iot:123456789012:eu-west-1', 'done', 0, 0 from certificates order by id desc limit 1"
expect_rc 0 "$B" ca list -w "$W"
grep -A8 '^issuing-ca' "$T/out" | grep -q 'AWS: *certificate registrations: 1 done, 1 pending$' \
	|| { cat "$T/out"; fail "AWS state from the registrations table"; }
grep -A8 '^root-ca' "$T/out" | grep -q 'AWS: *not registered$' || fail "root AWS state"
expect_rc 0 "$B" ca list -w "$W" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["cas"][0]; assert c["name"]=="issuing-ca" and c["issued"]==2 and c["key"]=="ec-p256" and c["aws_registration"]=="certificate registrations: 1 done, 1 pending", c' "$T/out" \
	|| fail "ca list --json"
expect_rc 2 "$B" revoke -w "$W" "${serials[0]}" --reason because
expect_rc 2 "$B" revoke -w "$W" "${serials[0]}"
expect_rc 2 "$B" revoke -w "$W" "not-hex" --reason keyCompromise
expect_rc 3 "$B" revoke -w "$W" ABCDEF --reason keyCompromise
FLEETSTATION_OPERATOR=pki-officer-2 expect_rc 0 "$B" revoke -w "$W" "$(echo "${serials[0]}" | tr 'A-F' 'a-f')" --reason key-compromise
[ "$(sqlite3 "$W/station.db" "select state, revocation_reason from certificates where serial_hex='${serials[0]}'")" = "revoked|keyCompromise" ] \
	|| fail "database state after revoke"
# the revocation's event names who revoked it
[ "$(sqlite3 "$W/station.db" "select o.name from events e join operators o on o.id = e.operator_id where e.step = 'certificate-state' and e.detail like 'certificate ${serials[0]}:%revoked%'")" = pki-officer-2 ] \
	|| fail "the revocation does not name the operator"
# its registration row queued a revocation, which `ca list` names as one
expect_rc 0 "$B" ca list -w "$W"
grep -A8 '^issuing-ca' "$T/out" | grep -q 'AWS: *certificate registrations: 1 revocation pending, 1 done, 1 pending$' \
	|| { cat "$T/out"; fail "ca list: the queued revocation"; }
expect_rc 0 "$B" ca crl -w "$W" --out "$T/crl.pem" --days 7
expect_rc 0 "$B" ca crl -w "$W" --out "$T/crl.pem" --days 7
openssl crl -in "$T/crl.pem" -CAfile "$C/issuing-ca.pem" -noout -verify 2>&1 | grep -q 'verify OK' || fail "openssl crl -verify"
openssl crl -in "$T/crl.pem" -noout -text >"$T/crl.txt"
grep -q "Serial Number: ${serials[0]}" "$T/crl.txt" || fail "revoked serial not in the CRL"
grep -q "Serial Number: ${serials[1]}" "$T/crl.txt" && fail "a good certificate is in the CRL"
grep -A4 "Serial Number: ${serials[0]}" "$T/crl.txt" | grep -q 'Key Compromise' || fail "reason not in the CRL"
grep -A1 'CRL Number' "$T/crl.txt" | grep -q '^ *2$' || fail "CRL number is not 2"
certtool --verify-crl --load-ca-certificate "$C/issuing-ca.pem" --infile "$T/crl.pem" >"$T/ct" 2>&1 || { cat "$T/ct"; fail "certtool --verify-crl"; }
# the revoked certificate fails chain validation with the CRL, the other passes
for i in 0 1; do
	sqlite3 "$W/station.db" "select writefile('$T/dev$i.der', der) from certificates where serial_hex='${serials[$i]}'" >/dev/null
	openssl x509 -inform DER -in "$T/dev$i.der" -out "$T/dev$i.pem"
	cat "$C/root-ca.pem" "$C/issuing-ca.pem" "$T/crl.pem" >"$T/trust.pem"
done
openssl verify -crl_check -CAfile "$T/trust.pem" "$T/dev1.pem" >/dev/null || fail "good certificate rejected with the CRL"
if openssl verify -crl_check -CAfile "$T/trust.pem" "$T/dev0.pem" >"$T/v" 2>&1; then fail "revoked certificate passes"; fi
grep -q 'certificate revoked' "$T/v" || fail "revoked certificate: wrong error"
# revoked is final: revoking again says so
expect_rc 3 "$B" revoke -w "$W" "${serials[0]}" --reason superseded

# --- renewal: a new issuing CA under the same root; the one before kept for its certificates ---
# refused, changing nothing: no CA to renew; a passphrase that does not open the root key
expect_rc 3 "$B" ca renew -w "$T/no-ca" --passphrase-file "$T/pass"
grep -q 'no issuing CA to renew' "$T/err" || fail "renew without a CA: $(cat "$T/err")"
ls_before=$(ls "$C")
expect_rc 4 "$B" ca renew -w "$W" --passphrase-file "$T/wrong"
grep -q 'root CA key .* does not open: wrong passphrase' "$T/err" || fail "renew, wrong passphrase: $(cat "$T/err")"
expect_rc 4 "$B" ca renew -w "$W" --csr --passphrase-file "$T/wrong"
grep -q 'issuing CA key .* does not open: wrong passphrase' "$T/err" || fail "renew --csr, wrong passphrase: $(cat "$T/err")"
[ "$(ls "$C")" = "$ls_before" ] || fail "a refused renewal changed ca/: $(ls "$C")"
cp "$C/issuing-ca.pem" "$T/old-issuing.pem"
old_sha=$(openssl x509 -in "$T/old-issuing.pem" -outform DER | sha256sum | cut -c1-64)
retired=retired-issuing-ca-${old_sha:0:16}
expect_rc 0 "$B" ca renew -w "$W" --days 4000
grep -q "kept as $retired" "$T/out" || { cat "$T/out"; fail "renew does not name the retired CA"; }
cmp -s "$C/$retired.pem" "$T/old-issuing.pem" || fail "the retired CA's certificate changed"
[ "$(stat -c %a "$C/$retired.key")" = 600 ] || fail "retired key mode"
openssl x509 -in "$C/$retired.pem" -noout -pubkey >"$T/old.pub"
openssl pkey -in "$C/$retired.key" -passin file:"$T/pass" -pubout >"$T/old-key.pub"
cmp -s "$T/old.pub" "$T/old-key.pub" || fail "the retired key is not the retired CA's"
openssl x509 -in "$C/issuing-ca.pem" -noout -pubkey >"$T/new.pub"
cmp -s "$T/old.pub" "$T/new.pub" && fail "the renewed CA kept the old key"
openssl pkey -in "$C/issuing-ca.key" -passin file:"$T/pass" -pubout | cmp -s - "$T/new.pub" || fail "new issuing key"
[ "$(openssl x509 -in "$C/issuing-ca.pem" -noout -subject)" = "$(openssl x509 -in "$T/old-issuing.pem" -noout -subject)" ] \
	|| fail "the renewed CA's subject changed"
end=$(date -d "$(openssl x509 -in "$C/issuing-ca.pem" -noout -enddate | cut -d= -f2)" +%s)
left=$(( end - $(date +%s) ))
[ "$left" -gt $(( 4000 * 86400 - 600 )) ] && [ "$left" -le $(( 4000 * 86400 )) ] || fail "renewed CA is not valid for 4000 days"
openssl verify -x509_strict -CAfile "$C/root-ca.pem" "$C/issuing-ca.pem" >/dev/null || fail "renewed CA verify"
certtool --verify --load-ca-certificate "$C/root-ca.pem" --infile "$C/issuing-ca.pem" >"$T/ct" 2>&1 || { cat "$T/ct"; fail "certtool: renewed CA"; }
[ "$(sqlite3 "$W/station.db" "select count(*) from events where step = 'ca-renew' and detail like '%replaces issuing CA sha256 $old_sha, kept as $retired'")" = 1 ] \
	|| fail "the renewal is not recorded"
expect_rc 0 "$B" ca list -w "$W"
grep -A8 "^$retired" "$T/out" | grep -q 'issued: *2' || fail "the retired CA's count"
grep -A8 "^$retired" "$T/out" | grep -q 'retired by a renewal' || fail "the retired CA's role"
grep -A8 '^issuing-ca' "$T/out" | grep -q 'issued: *0' || fail "the renewed CA's count"
# a new device is issued by the new CA; the old certificates still chain to the retired one
"$B" demo --workspace "$W" --force-workspace --devices 1 >"$T/demo" 2>&1 || { tail -20 "$T/demo"; fail "demo after the renewal"; }
new_serial=$(sqlite3 "$W/station.db" "select serial_hex from certificates order by id desc limit 1")
sqlite3 "$W/station.db" "select writefile('$T/new.der', der) from certificates where serial_hex='$new_serial'" >/dev/null
openssl x509 -inform DER -in "$T/new.der" -out "$T/new-dev.pem"
openssl verify -CAfile "$C/root-ca.pem" -untrusted "$C/issuing-ca.pem" "$T/new-dev.pem" >/dev/null || fail "new device not issued by the renewed CA"
if openssl verify -CAfile "$C/root-ca.pem" -untrusted "$C/$retired.pem" "$T/new-dev.pem" >/dev/null 2>&1; then fail "new device issued by the retired CA"; fi
openssl verify -CAfile "$C/root-ca.pem" -untrusted "$C/$retired.pem" "$T/dev1.pem" >/dev/null || fail "old device no longer chains"
# the retired CA's CRL lists its revoked certificate; the new CA's does not
expect_rc 0 "$B" ca crl -w "$W" --ca "$retired" --out "$T/crl-old.pem"
openssl crl -in "$T/crl-old.pem" -CAfile "$C/$retired.pem" -noout -verify 2>&1 | grep -q 'verify OK' || fail "retired CRL signature"
openssl crl -in "$T/crl-old.pem" -noout -text | grep -q "Serial Number: ${serials[0]}" || fail "the retired CA's CRL lacks its revoked certificate"
expect_rc 0 "$B" ca crl -w "$W" --out "$T/crl-new.pem"
openssl crl -in "$T/crl-new.pem" -CAfile "$C/issuing-ca.pem" -noout -verify 2>&1 | grep -q 'verify OK' || fail "renewed CRL signature"
openssl crl -in "$T/crl-new.pem" -noout -text | grep -q "Serial Number: ${serials[0]}" && fail "the renewed CA lists a certificate it did not issue"
expect_rc 3 "$B" ca crl -w "$W" --ca "../ca/issuing-ca" --out "$T/crl-bad.pem"
grep -q 'is not a retired issuing CA' "$T/err" || fail "crl --ca of no retired CA"
"$B" audit verify -w "$W" >"$T/audit" 2>&1 || { cat "$T/audit"; fail "audit after the renewal"; }

# renewal by an offline root: a request, the CA in service kept until `ca install`
expect_rc 3 "$B" ca renew -w "$W2"
grep -q 'ca renew --csr' "$T/err" || fail "renew without the root key: no --csr named"
cp "$W2/ca/issuing-ca.pem" "$T/old2.pem"
expect_rc 0 "$B" ca renew -w "$W2" --csr
[ -e "$W2/ca/issuing-ca.next.key" ] && [ -e "$W2/ca/issuing-ca.csr" ] || fail "renew --csr files"
cmp -s "$W2/ca/issuing-ca.pem" "$T/old2.pem" || fail "renew --csr replaced the CA in service"
expect_rc 0 "$B" ca list -w "$W2"
grep -q 'issuing-ca renewal' "$T/out" || fail "list does not show the pending renewal"
expect_rc 3 "$B" ca renew -w "$W2" --csr
openssl x509 -req -in "$W2/ca/issuing-ca.csr" -CA "$T/offroot.pem" -CAkey "$T/offroot.key" -CAcreateserial \
	-copy_extensions copy -days 900 -out "$T/signed2.pem" 2>/dev/null
expect_rc 3 "$B" ca install -w "$W2" --cert "$T/signed.pem"
expect_rc 0 "$B" ca install -w "$W2" --cert "$T/signed2.pem"
old2_sha=$(openssl x509 -in "$T/old2.pem" -outform DER | sha256sum | cut -c1-16)
cmp -s "$W2/ca/retired-issuing-ca-$old2_sha.pem" "$T/old2.pem" || fail "install did not keep the CA it replaced"
cmp -s "$W2/ca/issuing-ca.pem" <(openssl x509 -in "$T/signed2.pem") || fail "the renewed certificate is not in service"
[ ! -e "$W2/ca/issuing-ca.next.key" ] && [ ! -e "$W2/ca/issuing-ca.csr" ] || fail "the request is left after install"
expect_rc 0 "$B" ca verification-cert -w "$W2" --passphrase-file "$T/pass" --code DEF --out "$T/ver3.pem"
openssl verify -CAfile "$T/offroot.pem" -untrusted "$W2/ca/issuing-ca.pem" "$T/ver3.pem" >/dev/null || fail "the renewed CA does not sign"
echo "PASS ca-cli-test"
