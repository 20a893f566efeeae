#!/usr/bin/env bash
# fleetstation ports from the outside, on umockdev's emulated sysfs: a CP2102
# adapter (known: dialect fsp), a Prolific one (unknown), and a pid.codes USB
# board seen through libusb; --known keeps only the known serial port.
set -euo pipefail

: "${FST_STATION:?}" "${FST_TEMPLATES_DIR:?}"
command -v umockdev-run >/dev/null || { echo "umockdev-run missing: skipped"; exit 77; }
# umockdev preloads its library: an ASan build must not insist on coming first
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
ws=$(mktemp -d /tmp/fst-ports-test.XXXXXX)
trap 'rm -rf "$ws"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
cat >"$ws/rec.umockdev" <<'REC'
P: /devices/pci0000:00/0000:00:14.0/usb1/1-3
E: SUBSYSTEM=usb
E: DEVTYPE=usb_device
E: BUSNUM=001
E: DEVNUM=004
A: busnum=1
A: devnum=4
A: idVendor=10c4
A: idProduct=ea60
A: manufacturer=Silicon Labs
A: product=CP2102 USB to UART Bridge Controller
A: serial=FIX-0001

P: /devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0
E: SUBSYSTEM=usb
E: DEVTYPE=usb_interface
A: bInterfaceNumber=00

P: /devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/ttyUSB0
E: SUBSYSTEM=usb-serial
E: DRIVER=cp210x

P: /devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/ttyUSB0/tty/ttyUSB0
L: device=../../../ttyUSB0
N: ttyUSB0
E: SUBSYSTEM=tty
E: DEVNAME=/dev/ttyUSB0
E: MAJOR=188
E: MINOR=0
A: dev=188:0

P: /devices/pci0000:00/0000:00:14.0/usb1/1-4
E: SUBSYSTEM=usb
E: DEVTYPE=usb_device
E: BUSNUM=001
E: DEVNUM=005
A: busnum=1
A: devnum=5
A: idVendor=067b
A: idProduct=2303
A: product=USB-Serial Controller

P: /devices/pci0000:00/0000:00:14.0/usb1/1-4/1-4:1.0
E: SUBSYSTEM=usb
E: DEVTYPE=usb_interface
A: bInterfaceNumber=00

P: /devices/pci0000:00/0000:00:14.0/usb1/1-4/1-4:1.0/ttyUSB1
E: SUBSYSTEM=usb-serial
E: DRIVER=pl2303

P: /devices/pci0000:00/0000:00:14.0/usb1/1-4/1-4:1.0/ttyUSB1/tty/ttyUSB1
L: device=../../../ttyUSB1
N: ttyUSB1
E: SUBSYSTEM=tty
E: DEVNAME=/dev/ttyUSB1
E: MAJOR=188
E: MINOR=1
A: dev=188:1
REC

umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" ports --json >"$ws/all.json" 2>"$ws/err" ||
	{ cat "$ws/err"; fail "ports --json"; }
umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" ports --known --json >"$ws/known.json" 2>"$ws/err" ||
	{ cat "$ws/err"; fail "ports --known --json"; }
umockdev-run -d "$ws/rec.umockdev" -- "$FST_STATION" ports >"$ws/table.txt" 2>"$ws/err" ||
	{ cat "$ws/err"; fail "ports"; }
python3 - "$ws" <<'PY' || { cat "$ws/all.json"; fail "ports documents"; }
import json, sys
ws = sys.argv[1]
a = {p["name"]: p for p in json.load(open(ws + "/all.json"))["serial"]}
u0 = a["/dev/ttyUSB0"]
assert (u0["vid"], u0["pid"], u0["serial"], u0["dialect"], u0["transport"], u0["busy"]) == \
    (0x10c4, 0xea60, "FIX-0001", "fsp", "usb", False), u0
assert a["/dev/ttyUSB1"]["dialect"] is None and a["/dev/ttyUSB1"]["vid"] == 0x067b, a["/dev/ttyUSB1"]
k = [p["name"] for p in json.load(open(ws + "/known.json"))["serial"]]
assert k == ["/dev/ttyUSB0"], k
PY
grep -q '^/dev/ttyUSB0 *usb *10c4:ea60 *FIX-0001 *fsp *free' "$ws/table.txt" || { cat "$ws/table.txt"; fail "ports table"; }
echo "ok: ports lists USB serial adapters with VID:PID, serial, dialect and state"
