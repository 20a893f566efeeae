#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Exports onto a FAT memory stick, as an auditor takes them away: a FAT file
# system (mkfs.vfat) mounted through FUSE (fusefat), which, like FAT, exFAT
# and NTFS mounted by a desktop, has no O_TMPFILE, no hard links and no
# rename that refuses to replace. A signed CSV report, a PDF report, a
# database backup and a certificate export are written whole, leave no
# temporary file beside them, read back the same as on the local disk, and
# never replace a file already on the stick. Skipped (77) without fusefat,
# mkfs.vfat or /dev/fuse.
set -euo pipefail

: "${FST_STATION:?}" "${FST_DEVSIM:?}" "${FST_TEMPLATES_DIR:?}"
for tool in fusefat mkfs.vfat fusermount sqlite3; do
	command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found: apt-get install fusefat dosfstools fuse sqlite3" >&2; exit 77; }
done
[ -c /dev/fuse ] && [ -r /dev/fuse ] && [ -w /dev/fuse ] ||
	{ echo "SKIP: /dev/fuse is not there (or not usable): FUSE file systems cannot be mounted here" >&2; exit 77; }

ws=$(mktemp -d /tmp/fst-cli-fat-test.XXXXXX)
stick=$ws/stick
cleanup() {
	fusermount -u "$stick" 2>/dev/null || true
	[ -n "${FST_KEEP:-}" ] || rm -rf "$ws"
}
trap cleanup EXIT
. "$(dirname "$0")/fst-test-lib.sh"
unset FLEETSTATION_CA_PASSPHRASE NO_COLOR
F=$FST_STATION

"$F" demo --workspace "$ws/w" >"$ws/demo.out" 2>&1 || { cat "$ws/demo.out"; fail "demo"; }

mkdir -p "$stick"
dd if=/dev/zero of="$ws/stick.img" bs=1M count=16 status=none
mkfs.vfat "$ws/stick.img" >/dev/null
fusefat -o rw+ "$ws/stick.img" "$stick" >"$ws/fusefat.out" 2>&1 ||
	{ cat "$ws/fusefat.out"; echo "SKIP: fusefat could not mount a FAT image here" >&2; exit 77; }
grep -q " $stick fuse" /proc/mounts || fail "the FAT image is not mounted at $stick"
# what makes the stick a test of the fallbacks: no O_TMPFILE, no hard link
python3 - "$stick" <<'PY' || fail "the stick is not FAT-like (O_TMPFILE or hard links work)"
import errno, os, sys
d = sys.argv[1]
try:
    os.close(os.open(d, os.O_TMPFILE | os.O_WRONLY, 0o600))
    sys.exit("O_TMPFILE works")
except OSError as e:
    assert e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL), e
open(os.path.join(d, "probe"), "w").close()
try:
    os.link(os.path.join(d, "probe"), os.path.join(d, "probe2"))
    sys.exit("hard links work")
except OSError:
    pass
os.unlink(os.path.join(d, "probe"))
PY

# the same exports on the stick and on the local disk
"$F" report --workspace "$ws/w" --sign -o "$stick/report.csv" >"$ws/r.out" 2>&1 || { cat "$ws/r.out"; fail "signed CSV report onto the stick"; }
"$F" report --workspace "$ws/w" -o "$ws/report.csv" >/dev/null 2>&1 || fail "CSV report onto the local disk"
cmp "$stick/report.csv" "$ws/report.csv" || fail "the CSV report on the stick differs from the one on the disk"
"$F" report verify "$stick/report.csv" "$stick/report.csv.sig" --workspace "$ws/w" >"$ws/v.out" 2>&1 ||
	{ cat "$ws/v.out"; fail "the report's signature on the stick does not verify"; }
"$F" report --workspace "$ws/w" --format pdf -o "$stick/report.pdf" >"$ws/p.out" 2>&1 || { cat "$ws/p.out"; fail "PDF report onto the stick"; }
[ "$(head -c 5 "$stick/report.pdf")" = "%PDF-" ] && tail -c 8 "$stick/report.pdf" | grep -q '%%EOF' ||
	fail "the PDF report on the stick is not whole"
"$F" db backup "$stick/station.db" --workspace "$ws/w" >"$ws/b.out" 2>&1 || { cat "$ws/b.out"; fail "database backup onto the stick"; }
[ "$(sqlite3 "$stick/station.db" 'pragma integrity_check')" = ok ] || fail "the backup on the stick is damaged"
[ "$(sqlite3 "$stick/station.db" "select count(*) from devices where state = 'provisioned'")" -eq 4 ] ||
	fail "the backup on the stick does not hold the 4 devices"
serial=$(sqlite3 "$ws/w/station.db" "select serial_hex from certificates order by id limit 1")
"$F" certs export "$serial" --workspace "$ws/w" -o "$stick/device.pem" >"$ws/c.out" 2>&1 || { cat "$ws/c.out"; fail "certificate export onto the stick"; }
openssl x509 -in "$stick/device.pem" -noout -serial | grep -qi "=$serial\$" || fail "the certificate on the stick is not $serial"

# nothing else on the stick: no temporary file left behind
listed=$(cd "$stick" && ls -A | sort | tr '\n' ' ')
[ "$listed" = "device.pem report.csv report.csv.sig report.pdf station.db " ] ||
	fail "the stick holds more than the exports: $listed"

# a file already on the stick is never replaced
before=$(sha256sum <"$stick/report.csv")
rc=0
"$F" report --workspace "$ws/w" --format json -o "$stick/report.csv" >"$ws/again.out" 2>&1 || rc=$?
[ $rc -eq 3 ] || { cat "$ws/again.out"; fail "a report onto an existing file should be refused (exit 3), got $rc"; }
grep -q 'exists' "$ws/again.out" || { cat "$ws/again.out"; fail "the refusal does not say that the file exists"; }
[ "$(sha256sum <"$stick/report.csv")" = "$before" ] || fail "the report on the stick was replaced"
listed=$(cd "$stick" && ls -A | sort | tr '\n' ' ')
[ "$listed" = "device.pem report.csv report.csv.sig report.pdf station.db " ] ||
	fail "a refused export left a file on the stick: $listed"
echo "ok: exports onto a FAT memory stick"
