#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# An issuing CA key in a PKCS#11 token (SoftHSM2 in a private token directory):
# `ca create --key pkcs11:...` and `ca import --key pkcs11:...`, the station
# provisioning devices with it (demo), the AWS verification certificate and a
# CRL signed by the token, all checked with OpenSSL and GnuTLS certtool. The key
# is made non-extractable in the token and the workspace only holds its URI.
set -euo pipefail

B=${FST_STATION:?FST_STATION must name the fleetstation binary}
for need in softhsm2-util pkcs11-tool certtool p11-kit; do
	command -v $need >/dev/null || { echo "SKIP: missing $need: apt-get install softhsm2 opensc gnutls-bin p11-kit" >&2; exit 77; }
done
# SoftHSM2 as p11-kit has it configured (softhsm2.module), the engine in OpenSSL's engines directory
MODULE=$(p11-kit list-modules 2>/dev/null | sed -n 's/^softhsm2: *//p')
[ -n "$MODULE" ] && [ -e "$MODULE" ] || { echo "SKIP: p11-kit has no softhsm2 module: apt-get install softhsm2" >&2; exit 77; }
ENGINES=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
[ -e "$ENGINES/pkcs11.so" ] || { echo "$ENGINES/pkcs11.so is missing: apt-get install libengine-pkcs11-openssl" >&2; exit 1; }

T=$(mktemp -d /tmp/fst-ca-p11-XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
unset FLEETSTATION_CA_PASSPHRASE FLEETSTATION_WORKSPACE
. "$(dirname "$0")/fst-test-lib.sh"
expect_rc() {
	local want=$1; shift
	set +e; "$@" >"$T/out" 2>"$T/err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "$* exited $rc, expected $want"; }
}

# a private token directory: never the shared /var/lib/softhsm
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" >"$T/softhsm2.conf"
export SOFTHSM2_CONF=$T/softhsm2.conf
export PKCS11_MODULE_PATH=$MODULE
softhsm2-util --init-token --free --label fleet-ca --pin 4321 --so-pin 12345678 >/dev/null
pkcs11-tool --module "$MODULE" --token-label fleet-ca --login --pin 4321 \
	--keypairgen --key-type EC:secp384r1 --id 01 --label ca-key >/dev/null 2>&1
pkcs11-tool --module "$MODULE" --token-label fleet-ca --login --pin 4321 --list-objects --type privkey >"$T/objs" 2>/dev/null
grep -q 'never extractable' "$T/objs" || { cat "$T/objs"; fail "token key is extractable"; }
printf '4321' >"$T/pin"; chmod 600 "$T/pin"
printf '0000' >"$T/badpin"; chmod 600 "$T/badpin"
printf 'root pass' >"$T/pass"; chmod 600 "$T/pass"
URI='pkcs11:token=fleet-ca;object=ca-key;type=private'

# the PIN is never part of a stored URI
expect_rc 3 "$B" ca create -w "$T/bad" --key "$URI;pin-value=4321" --passphrase-file "$T/pass"
grep -q 'holds the PIN' "$T/err" || fail "pin-value message"
expect_rc 4 "$B" ca create -w "$T/bad" --key "$URI" --pin-file "$T/badpin" --passphrase-file "$T/pass"
grep -q 'cannot open the PKCS#11 key' "$T/err" || fail "wrong PIN message"
[ ! -e "$T/bad/ca" ] || fail "a failed create left files"

# create: root in an encrypted file, issuing key in the token
W=$T/ws
expect_rc 0 "$B" ca create -w "$W" --key "$URI" --pin-file "$T/pin" --passphrase-file "$T/pass" --organization "HSM Test"
C=$W/ca
[ "$(cat "$C/issuing-ca.key")" = "$URI" ] || fail "issuing-ca.key should hold only the URI"
[ "$(stat -c %a "$C/issuing-ca.key")" = 600 ] || fail "key reference mode"
grep -q 'PRIVATE KEY' "$C/issuing-ca.key" && fail "key material on disk"
openssl x509 -in "$C/issuing-ca.pem" -noout -text | grep -q 'ASN1 OID: secp384r1' || fail "not the token's P-384 key"
# (that the certificate holds the token's public key is shown below: what the token signs
# verifies with the certificate)
openssl verify -CAfile "$C/root-ca.pem" "$C/issuing-ca.pem" >/dev/null || fail "openssl verify"
certtool --verify --load-ca-certificate "$C/root-ca.pem" --infile "$C/issuing-ca.pem" >/dev/null 2>&1 || fail "certtool verify"
expect_rc 0 "$B" ca list -w "$W"
grep -q "ec-p384, $URI" "$T/out" || fail "list does not show the token key"

# signatures by the token: verification certificate and CRL
expect_rc 0 "$B" ca verification-cert -w "$W" --pin-file "$T/pin" --code 0123abcd --out "$T/ver.pem"
openssl verify -CAfile "$C/root-ca.pem" -untrusted "$C/issuing-ca.pem" "$T/ver.pem" >/dev/null || fail "verification cert"
expect_rc 4 "$B" ca verification-cert -w "$W" --pin-file "$T/badpin" --code 0123abcd
expect_rc 0 "$B" ca crl -w "$W" --pin-file "$T/pin" --out "$T/crl.pem"
openssl crl -in "$T/crl.pem" -CAfile "$C/issuing-ca.pem" -noout -verify 2>&1 | grep -q 'verify OK' || fail "CRL verify"
certtool --verify-crl --load-ca-certificate "$C/issuing-ca.pem" --infile "$T/crl.pem" >/dev/null 2>&1 || fail "certtool CRL"

# the station issues device certificates with the token key (PIN from the environment),
# from two port workers at once
FLEETSTATION_CA_PASSPHRASE=4321 "$B" demo --workspace "$W" --force-workspace --devices 2 >"$T/demo" 2>&1 || { tail -20 "$T/demo"; fail "demo with a token CA"; }
n=0
for s in $(sqlite3 "$W/station.db" "select serial_hex from certificates"); do
	sqlite3 "$W/station.db" "select writefile('$T/d.der', der) from certificates where serial_hex='$s'" >/dev/null
	openssl x509 -inform DER -in "$T/d.der" -out "$T/d.pem"
	openssl verify -CAfile "$C/root-ca.pem" -untrusted "$C/issuing-ca.pem" "$T/d.pem" >/dev/null || fail "device cert $s"
	cat "$T/d.pem" "$C/issuing-ca.pem" >"$T/dchain.pem"
	certtool --verify --load-ca-certificate "$C/root-ca.pem" --infile "$T/dchain.pem" >/dev/null 2>&1 || fail "certtool device cert $s"
	n=$((n + 1))
done
[ "$n" = 2 ] || fail "expected 2 device certificates, got $n"
# without a PIN (no environment, no pin-source in the URI) the station says where to give one;
# the workspace passphrase of the root key is never tried as the PIN
expect_rc 4 "$B" demo --workspace "$W" --force-workspace --devices 1
grep -q 'no PIN for the issuing CA key in the PKCS#11 token' "$T/err" || { cat "$T/err"; fail "station no-PIN message"; }
grep -q 'pin-source=file:' "$T/err" || fail "station no-PIN message does not name pin-source"

# import: an existing CA whose key is in the token, the PIN named by pin-source
pkcs11-tool --module "$MODULE" --token-label fleet-ca --login --pin 4321 \
	--keypairgen --key-type EC:prime256v1 --id 02 --label other-key >/dev/null 2>&1
openssl req -x509 -engine pkcs11 -keyform engine -key "pkcs11:token=fleet-ca;object=other-key;type=private;pin-value=4321" \
	-subj "/O=HSM Test/CN=Imported HSM CA" -days 7300 -out "$T/imported.pem" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1 \
	|| fail "openssl could not make the imported CA"
URI2="pkcs11:token=fleet-ca;object=other-key;type=private?pin-source=file:$T/pin"
expect_rc 3 "$B" ca import -w "$T/ws2" --cert "$C/issuing-ca.pem" --key "$URI2"
grep -q 'does not belong' "$T/err" || fail "token import mismatch message"
expect_rc 0 "$B" ca import -w "$T/ws2" --cert "$T/imported.pem" --key "$URI2"
[ "$(cat "$T/ws2/ca/issuing-ca.key")" = "$URI2" ] || fail "imported reference"
expect_rc 0 "$B" ca verification-cert -w "$T/ws2" --code FEED --out "$T/ver2.pem"
openssl verify -CAfile "$T/imported.pem" "$T/ver2.pem" >/dev/null || fail "imported token CA does not sign"
# the station takes the PIN from the URI's pin-source, with nothing in the environment
"$B" demo --workspace "$T/ws2" --force-workspace --devices 1 >"$T/demo2" 2>&1 || { tail -20 "$T/demo2"; fail "demo with a pin-source token CA"; }
sqlite3 "$T/ws2/station.db" "select writefile('$T/d2.der', der) from certificates" >/dev/null
openssl x509 -inform DER -in "$T/d2.der" -out "$T/d2.pem"
openssl verify -CAfile "$T/imported.pem" "$T/d2.pem" >/dev/null || fail "device cert from the pin-source token CA"
# an issuing CA whose token key is certified by an offline root: --csr, then install
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/offroot.key" \
	-subj "/O=Offline/CN=Offline Root" -days 3650 -out "$T/offroot.pem" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
expect_rc 0 "$B" ca create -w "$T/ws3" --csr --key "$URI" --pin-file "$T/pin"
[ "$(cat "$T/ws3/ca/issuing-ca.key")" = "$URI" ] || fail "csr: key reference"
openssl req -in "$T/ws3/ca/issuing-ca.csr" -noout -verify 2>/dev/null || fail "token-signed CSR"
openssl x509 -req -in "$T/ws3/ca/issuing-ca.csr" -CA "$T/offroot.pem" -CAkey "$T/offroot.key" -CAcreateserial \
	-copy_extensions copy -days 1000 -out "$T/signed.pem" 2>/dev/null
expect_rc 0 "$B" ca install -w "$T/ws3" --cert "$T/signed.pem" --chain "$T/offroot.pem"
expect_rc 0 "$B" ca verification-cert -w "$T/ws3" --pin-file "$T/pin" --code CAFE --out "$T/ver3.pem"
openssl verify -CAfile "$T/offroot.pem" -untrusted "$T/ws3/ca/issuing-ca.pem" "$T/ver3.pem" >/dev/null || fail "installed token CA"
# the module named as p11-kit configures it (module-name), with no PKCS11_MODULE_PATH
expect_rc 0 env -u PKCS11_MODULE_PATH "$B" ca create -w "$T/ws4" --key "$URI?module-name=softhsm2" \
	--pin-file "$T/pin" --passphrase-file "$T/pass"
expect_rc 0 env -u PKCS11_MODULE_PATH "$B" ca verification-cert -w "$T/ws4" --pin-file "$T/pin" --code BEEF --out "$T/ver4.pem"
openssl verify -CAfile "$T/ws4/ca/root-ca.pem" -untrusted "$T/ws4/ca/issuing-ca.pem" "$T/ver4.pem" >/dev/null ||
	fail "token CA found through p11-kit's module config"
# a module p11-kit does not know is named, not replaced by another module that has the token
expect_rc 3 env -u PKCS11_MODULE_PATH "$B" ca create -w "$T/ws5" --key "$URI?module-name=fst-no-such-module" \
	--pin-file "$T/pin" --passphrase-file "$T/pass"
grep -q "no p11-kit module named 'fst-no-such-module'" "$T/err" || { cat "$T/err"; fail "unknown module-name message"; }
echo "PASS ca-pkcs11-test"
