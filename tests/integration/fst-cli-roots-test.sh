#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Root CAs from the outside: `roots list` shows the catalogue with fingerprints
# and expiry; each device's plan event says which roots were burned and why the
# others were not; provisioning warns when a burned root ends before the device
# certificate; `roots report` lists those devices per lot and profile with the
# trust-only job that would refresh them; a forged root in WORKSPACE/trust stops
# everything.
set -euo pipefail

: "${FST_STATION:?}" "${FST_DEVSIM:?}" "${FST_TEMPLATES_DIR:?}"
ws=$(mktemp -d /tmp/fst-cli-roots-test.XXXXXX)
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
		--storage "$ws/storage/$uid.bin" --link "$ws/links/$name" "$@" >"$ws/$name.ready" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q READY "$ws/$name.ready" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "simulator $name did not start"
}

"$FST_STATION" init --workspace "$ws/w" --demo-ca --profile aws-iot-ecc --lot LOT-T \
	>"$ws/init.out" 2>&1 || { cat "$ws/init.out"; fail "init"; }

# the catalogue: every pinned root, its fingerprint and its end
"$FST_STATION" roots list --workspace "$ws/w" --json >"$ws/list.json" || fail "roots list --json"
python3 - "$ws/list.json" "$FST_TEMPLATES_DIR/trust/roots.list" <<'PY' || fail "roots list --json content"
import json, sys
roots = {r["name"]: r for r in json.load(open(sys.argv[1]))["roots"]}
pinned = {}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 3 and not line.startswith("#"):
        pinned[f[1][:-4]] = f[0]
assert {n: r["sha256"] for n, r in roots.items()} == pinned, roots
assert roots["AmazonRootCA1"]["not_after_date"] == "2038-01-17"
assert roots["AmazonRootCA3"]["not_after_date"] == "2040-05-26"
assert roots["AmazonRootCA3"]["pem_bytes"] == 656 and roots["AmazonRootCA3"]["der_bytes"] == 442
assert roots["SFSRootCAG2"]["role"] == "ats-starfield"
PY
"$FST_STATION" roots list --workspace "$ws/w" >"$ws/list.txt" || fail "roots list"
grep -q '^AmazonRootCA1  .* 2038-01-17 8ecde6884f3d87b1' "$ws/list.txt" || { cat "$ws/list.txt"; fail "roots list text"; }

# a profile whose certificates outlive every Amazon root (16 years: after 2040, before the demo issuing CA ends)
sed -e 's/^name=aws-iot-ecc$/name=roots-long/' -e 's/^days=3650$/days=5840/' \
	"$FST_TEMPLATES_DIR/profiles/aws-iot-ecc.profile" >"$ws/roots-long.profile"
grep -q '^days=5840$' "$ws/roots-long.profile" || fail "profile variant"

# a device with room for every root: all four, and a warning that they end first
sim big RT-BIG --validation ecdsa-p256
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/big" --profile "$ws/roots-long.profile" \
	>"$ws/p1.out" 2>&1 || { cat "$ws/p1.out"; fail "provisioning RT-BIG"; }
grep -q 'device RT-BIG: root CA .*AmazonRootCA1 (2038-01-17).* ends before its certificate' "$ws/p1.out" ||
	{ cat "$ws/p1.out"; fail "no warning that the roots end before the certificate"; }
q "select detail from event_steps e join devices d on d.id = e.device_id where d.uid = 'RT-BIG' and e.step = 'plan'" |
	grep -q 'roots AmazonRootCA3,AmazonRootCA4,AmazonRootCA1,AmazonRootCA2 (all ATS roots fit: 4,464 of 16,384 bytes free)' ||
	fail "RT-BIG plan event does not record the roots and why"

# an RSA-only device with 2,048 bytes: CA 3/4 and then CA 2 left out, and said so
sim rsa RT-RSA --validation rsa --capacity-roots 2048
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/rsa" --profile "$ws/roots-long.profile" \
	>"$ws/p2.out" 2>&1 || { cat "$ws/p2.out"; fail "provisioning RT-RSA"; }
q "select detail from event_steps e join devices d on d.id = e.device_id where d.uid = 'RT-RSA' and e.step = 'plan'" |
	grep -q 'roots AmazonRootCA1 (CA 3/4 omitted: device validates RSA only, 2,048 bytes free, all need 4,464; CA 2 omitted: reserved for future use' ||
	fail "RT-RSA plan event does not say why CA 2/3/4 were left out"

# a device whose certificate ends long before its roots: not reported
sed -e 's/^name=aws-iot-ecc$/name=roots-short/' -e 's/^days=3650$/days=365/' \
	"$FST_TEMPLATES_DIR/profiles/aws-iot-ecc.profile" >"$ws/roots-short.profile"
sim short RT-SHORT --validation ecdsa-p256
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/short" --profile "$ws/roots-short.profile" \
	>"$ws/p3.out" 2>&1 || { cat "$ws/p3.out"; fail "provisioning RT-SHORT"; }
grep -q 'ends before its certificate' "$ws/p3.out" && fail "warning for a certificate that ends first"

# the report: per lot and profile, the devices and the job
"$FST_STATION" roots report --workspace "$ws/w" >"$ws/report.txt" || { cat "$ws/report.txt"; fail "roots report"; }
grep -q '^lot LOT-T, profile roots-long: 2 of 2 device(s) need new roots$' "$ws/report.txt" ||
	{ cat "$ws/report.txt"; fail "report: roots-long group"; }
grep -q '^lot LOT-T, profile roots-short: 0 of 1 device(s) need new roots$' "$ws/report.txt" ||
	{ cat "$ws/report.txt"; fail "report: roots-short group"; }
grep -q 'refresh: fleetstation provision --workspace .* --profile aws-iot-trust-update --lot LOT-T' "$ws/report.txt" ||
	{ cat "$ws/report.txt"; fail "report: no trust-only job"; }
grep -q 'note: no ATS root of the catalogue lasts longer (the last ends 2040-05-26)' "$ws/report.txt" ||
	{ cat "$ws/report.txt"; fail "report: no note that the catalogue needs newer roots first"; }
"$FST_STATION" roots report --workspace "$ws/w" --json >"$ws/report.json" || fail "roots report --json"
python3 - "$ws/report.json" <<'PY' || fail "roots report --json content"
import json, sys
d = json.load(open(sys.argv[1]))
g = {x["profile"]: x for x in d["groups"]}
assert d["horizon"] is None
assert g["roots-long"]["lot"] == "LOT-T" and g["roots-long"]["checked"] == 2
devs = {x["device"]: x for x in g["roots-long"]["devices"]}
assert set(devs) == {"RT-BIG", "RT-RSA"}, devs
assert devs["RT-RSA"]["roots"] == "AmazonRootCA1" and devs["RT-RSA"]["before_cert"]
assert devs["RT-RSA"]["roots_reason"].startswith("CA 3/4 omitted: device validates RSA only")
assert "AmazonRootCA4 (2040-05-26)" in devs["RT-BIG"]["ending"]
assert g["roots-short"]["devices"] == [] and g["roots-short"]["job"] is None
PY
# the device reports carry the roots and the reason in their own column
"$FST_STATION" report --workspace "$ws/w" --lot LOT-T --format csv --out "$ws/lot.csv" >/dev/null 2>&1 ||
	fail "report --format csv"
"$FST_STATION" report --workspace "$ws/w" --lot LOT-T --format json --output "$ws/lot.json" >/dev/null 2>&1 ||
	fail "report --format json"
python3 - "$ws/lot.csv" "$ws/lot.json" <<'PY' || fail "report roots column"
import csv, json, sys
rows = {r["device_uid"]: r for r in csv.DictReader(open(sys.argv[1]))}
assert rows["RT-RSA"]["roots"].startswith(
    "AmazonRootCA1 (CA 3/4 omitted: device validates RSA only, 2,048 bytes free, all need 4,464; "
    "CA 2 omitted: reserved for future use"), rows["RT-RSA"]["roots"]
assert rows["RT-BIG"]["roots"] == ("AmazonRootCA3,AmazonRootCA4,AmazonRootCA1,AmazonRootCA2 "
                                   "(all ATS roots fit: 4,464 of 16,384 bytes free)"), rows["RT-BIG"]
doc = json.load(open(sys.argv[2]))
devs = doc["devices"] if isinstance(doc, dict) else doc
assert any(d.get("roots", "").startswith("AmazonRootCA1 (CA 3/4 omitted") for d in devs), devs
PY

# a horizon beyond every root brings the short-lived device in too
"$FST_STATION" roots report --workspace "$ws/w" --within 50 --lot LOT-T >"$ws/report50.txt" ||
	fail "roots report --within"
grep -q '^lot LOT-T, profile roots-short: 1 of 1 device(s) need new roots$' "$ws/report50.txt" ||
	{ cat "$ws/report50.txt"; fail "report --within 50: roots-short group"; }
grep -q 'RT-SHORT .* roots ending within the horizon: AmazonRootCA' "$ws/report50.txt" || { cat "$ws/report50.txt"; fail "report --within: reason"; }
"$FST_STATION" roots report --workspace "$ws/w" --lot NO-SUCH-LOT >"$ws/empty.txt" || fail "roots report --lot"
grep -q 'no provisioned device' "$ws/empty.txt" || { cat "$ws/empty.txt"; fail "report of an empty lot"; }

# a forged "Amazon Root CA 1 cross-signed by Starfield" in the workspace's trust
# folder: the real root's name and key, Starfield's name as issuer, another key's
# signature; refused, by name, and nothing is provisioned while it is there
mkdir -p "$ws/w/trust"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ws/forger.key" -days 30 -out "$ws/fake-sf.pem" \
	-subj "/C=US/ST=Arizona/L=Scottsdale/O=Starfield Technologies, Inc./CN=Starfield Services Root Certificate Authority - G2" \
	2>/dev/null || fail "openssl req"
openssl x509 -in "$FST_TEMPLATES_DIR/trust/AmazonRootCA1.pem" -noout -pubkey >"$ws/ca1.pub"
printf 'basicConstraints=critical,CA:TRUE\n' >"$ws/ca.ext"
openssl x509 -new -subj "/C=US/O=Amazon/CN=Amazon Root CA 1" -force_pubkey "$ws/ca1.pub" \
	-CA "$ws/fake-sf.pem" -CAkey "$ws/forger.key" -extfile "$ws/ca.ext" -days 30 \
	-out "$ws/w/trust/G2-RootCA1.pem" 2>/dev/null || fail "openssl x509 -new"
rc=0
"$FST_STATION" roots list --workspace "$ws/w" >"$ws/forged.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || { cat "$ws/forged.out"; fail "a forged user root was listed"; }
grep -q "G2-RootCA1.pem .*Starfield.*signature does not verify" "$ws/forged.out" ||
	{ cat "$ws/forged.out"; fail "refusal does not name the file and the failed signature"; }
sim forged RT-FORGED --validation ecdsa-p256
rc=0
"$FST_STATION" provision --workspace "$ws/w" --port "$ws/links/forged" >"$ws/p4.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || { cat "$ws/p4.out"; fail "provisioning ran with a forged root in the trust folder"; }
[ "$(q "select count(*) from devices where uid = 'RT-FORGED'")" -eq 0 ] || fail "a device was recorded with a forged root present"
echo "roots cli test: ok"
