#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, checked from the outside: `fleetstation demo --devices 4` in a
# fresh workspace, then every certificate in the database is verified by
# OpenSSL and GnuTLS against the demo chain, the bytes each simulated device
# stored are compared with what the database says was burned, and the burned
# certificate's extensions and serial are read back by openssl and certtool.
set -euo pipefail

: "${FST_STATION:?}" "${FST_DEVSIM:?}" "${FST_TEMPLATES_DIR:?}"
n=4
ws=$(mktemp -d /tmp/fst-demo-test.XXXXXX)
trap 'rm -rf "$ws"' EXIT
. "$(dirname "$0")/fst-test-lib.sh"
q() { sqlite3 -batch -noheader "$ws/station.db" "$@"; }

unset FLEETSTATION_CA_PASSPHRASE
# as README's demo command runs it: the build tree's program finds the simulator
# and the templates on its own
env -u FST_DEVSIM -u FST_TEMPLATES_DIR "$FST_STATION" demo --workspace "$ws" --devices $n \
	--baud 921600 >"$ws/demo.out" 2>&1 ||
	{ cat "$ws/demo.out"; fail "demo exited $?"; }
cat "$ws/demo.out"

# not a terminal: plain lines, one per step, no escape codes
grep -q $'\033' "$ws/demo.out" && fail "escape codes in piped output"
[ "$(grep -c ' done ' "$ws/demo.out")" -eq $n ] || fail "expected $n 'done' progress lines"
grep -q "^$n provisioned, 0 failed" "$ws/demo.out" || fail "summary line missing"

# the CA keys are encrypted and private
for key in root-ca.key issuing-ca.key passphrase; do
	[ "$(stat -c %a "$ws/ca/$key")" = 600 ] || fail "$key is not mode 0600"
done
grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$ws/ca/issuing-ca.key" || fail "issuing CA key not encrypted"
grep -q "BEGIN PRIVATE KEY\|BEGIN EC PRIVATE KEY" "$ws/ca/issuing-ca.key" && fail "clear key on disk"

[ "$(q "select count(*) from devices where state = 'provisioned'")" -eq $n ] || fail "devices not provisioned"
[ "$(q "select count(*) from certificates where state = 'verified'")" -eq $n ] || fail "certificates not verified"
[ "$(q "select count(distinct serial_hex) from certificates")" -eq $n ] || fail "serials not distinct"

amazon_all=$(awk '$2 ~ /^AmazonRootCA[1-4][.]pem$/ { print $1 }' "$FST_TEMPLATES_DIR/trust/roots.list" | sort | tr '\n' ' ')
[ "$(echo $amazon_all | wc -w)" = 4 ] || fail "Amazon Root CA 1-4 not in the trust list"

for uid in $(q "select uid from devices order by uid"); do
	d="$ws/check-$uid"
	mkdir -p "$d"
	q "select writefile('$d/cert.der', c.der) from certificates c join devices d on d.id = c.device_id where d.uid = '$uid'" >/dev/null
	openssl x509 -inform DER -in "$d/cert.der" -out "$d/cert.pem"

	# independent verifiers: OpenSSL and GnuTLS, for TLS client use
	openssl verify -purpose sslclient -CAfile "$ws/ca/root-ca.pem" -untrusted "$ws/ca/issuing-ca.pem" "$d/cert.pem" >/dev/null ||
		fail "$uid: openssl verify"
	cat "$d/cert.pem" "$ws/ca/issuing-ca.pem" >"$d/chain.pem"
	certtool --verify --load-ca-certificate "$ws/ca/root-ca.pem" --infile "$d/chain.pem" >"$d/certtool.out" 2>&1 ||
		{ cat "$d/certtool.out"; fail "$uid: certtool --verify"; }

	# the database's AWS certificate id is the SHA-256 of the DER
	[ "$(q "select aws_cert_id from certificates c join devices d on d.id = c.device_id where d.uid = '$uid'")" = \
		"$(sha256sum "$d/cert.der" | cut -d' ' -f1)" ] || fail "$uid: aws_cert_id"

	# the subject comes from the profile: CN={model}-{uid}
	openssl x509 -in "$d/cert.pem" -noout -subject -nameopt RFC2253 | grep -q "CN=devsim-ecc-$uid" ||
		fail "$uid: subject"

	storage=$ws/devsim/$uid.bin
	# what the device holds is what the database says was burned
	for kind in device-cert ca-chain trust-roots; do
		"$FST_DEVSIM" --storage "$storage" --dump "$kind" >"$d/$kind.stored" || fail "$uid: no $kind on device"
		want=$(q "select o.sha256 from device_objects o join devices d on d.id = o.device_id where d.uid = '$uid' and o.kind = '$kind' order by o.id desc limit 1")
		[ "$(sha256sum <"$d/$kind.stored" | cut -d' ' -f1)" = "$want" ] || fail "$uid: $kind differs from the database"
	done
	# the stored certificate is the database's certificate
	openssl x509 -in "$d/device-cert.stored" -outform DER -out "$d/stored.der"
	cmp -s "$d/stored.der" "$d/cert.der" || fail "$uid: stored certificate is not the database's"
	# the burned certificate read by outside parsers: a leaf (CA:FALSE, critical),
	# digitalSignature only (critical), clientAuth, and the database's serial:
	# 20 bytes, positive
	serial=$(q "select serial_hex from certificates c join devices d on d.id = c.device_id where d.uid = '$uid'")
	[[ $serial =~ ^[0-7][0-9A-F]{39}$ ]] || fail "$uid: serial $serial is not 20 positive bytes"
	openssl x509 -in "$d/device-cert.stored" -noout -serial -ext basicConstraints,keyUsage,extendedKeyUsage \
		>"$d/ext.txt" || fail "$uid: openssl x509 cannot read the stored certificate"
	printf '%s\n' "serial=$serial" "X509v3 Basic Constraints: critical" "    CA:FALSE" \
		"X509v3 Key Usage: critical" "    Digital Signature" "X509v3 Extended Key Usage: " \
		"    TLS Web Client Authentication" | diff -u - "$d/ext.txt" ||
		fail "$uid: the burned certificate's serial or extensions (openssl)"
	certtool -i --infile "$d/device-cert.stored" >"$d/certtool-i.txt" 2>&1 ||
		{ cat "$d/certtool-i.txt"; fail "$uid: certtool -i cannot read the stored certificate"; }
	for want in "Serial Number (hex): ${serial,,}" "Basic Constraints (critical):" \
		"Certificate Authority (CA): FALSE" "Key Usage (critical):" "Digital signature." \
		"Key Purpose (not critical):" "TLS WWW Client."; do
		grep -qF "$want" "$d/certtool-i.txt" || { cat "$d/certtool-i.txt"; fail "$uid: certtool -i lacks '$want'"; }
	done
	grep -qE "Key encipherment|Certificate signing|CRL signing|TLS WWW Server" "$d/certtool-i.txt" &&
		fail "$uid: the burned certificate allows more than the profile says (certtool)"

	# the stored chain is the issuing CA
	cmp -s <(openssl x509 -in "$d/ca-chain.stored" -outform DER) <(openssl x509 -in "$ws/ca/issuing-ca.pem" -outform DER) ||
		fail "$uid: stored CA chain is not the issuing CA"
	# the stored roots are every Amazon root CA 1-4, as AWS advises: the
	# simulator has room for them all, and the plan event says so
	roots=$(openssl storeutl -noout -certs "$d/trust-roots.stored" 2>/dev/null | grep -c '^[0-9]*: Certificate') || true
	[ "$roots" = 4 ] || fail "$uid: expected 4 roots, found $roots"
	got=$(awk -v p="$d/root" '/BEGIN CERT/ { f = p "." ++n } { print > f }' "$d/trust-roots.stored"
		for f in "$d"/root.*; do openssl x509 -in "$f" -outform DER | sha256sum | cut -d' ' -f1; done | sort | tr '\n' ' ')
	[ "$got" = "$amazon_all" ] || fail "$uid: stored roots are not Amazon Root CA 1-4: $got"
	q "select detail from event_steps e join devices d on d.id = e.device_id where d.uid = '$uid' and e.step = 'plan'" |
		grep -q 'all ATS roots fit: 4,464 of 16,384 bytes free' || fail "$uid: the plan does not say why these roots"
	echo "ok $uid"
done

# every step is an event
[ "$(q "select count(*) from event_steps where step = 'issue' and outcome = 'ok'")" -eq $n ] || fail "issue events"

# a station whose ports get descriptors of 1,024 (FD_SETSIZE) and more, as a
# gang of a few hundred ports has, under Debian's soft limit of 1,024 open
# files: every descriptor under 1,020 is taken before the station starts
if [ "$(ulimit -H -n)" = unlimited ] || [ "$(ulimit -H -n)" -ge 2048 ]; then
	ws2=$ws/high-descriptors
	(
		ulimit -S -n 1024
		for fd in $(seq 3 1019); do eval "exec $fd</dev/null"; done
		exec "$FST_STATION" demo --workspace "$ws2" --devices $n --baud 921600
	) >"$ws/demo-high.out" 2>&1 || { rc=$?; cat "$ws/demo-high.out"; fail "demo on high descriptors exited $rc"; }
	grep -q "^$n provisioned, 0 failed" "$ws/demo-high.out" ||
		{ cat "$ws/demo-high.out"; fail "demo on high descriptors: summary line missing"; }
else
	echo "note: the hard limit of open files is under 2,048: demo on high descriptors not run"
fi
echo "demo test: $n devices verified"
