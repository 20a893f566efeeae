#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the station's udev rules from templates/ports/known-devices.conf, so
that the USB ids the station knows and the ids udev opens up are one list.

For every known USB id:
- the USB device node (libusb): the logged-in user (uaccess) and the plugdev
  group may open it;
- its serial ports: the logged-in user and the dialout group may open them,
  and each gets a stable name per physical socket of the jig,
  /dev/fleetstation/by-path/<ID_PATH_TAG>, whatever ttyUSB number the kernel
  gives it.

usage: fst-udev-rules.py KNOWN_DEVICES_CONF OUTPUT
"""
import configparser
import re
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    conf = configparser.ConfigParser(interpolation=None, strict=True)
    with open(src, encoding="utf-8") as f:
        conf.read_file(f)
    lines = [
        "# fleetstation: access to the station's USB devices and serial adapters, and a",
        "# stable link per jig socket. Made from templates/ports/known-devices.conf.",
        "",
        'ACTION=="remove", GOTO="fleetstation_end"',
        "",
    ]
    for section in conf.sections():
        m = re.fullmatch(r"usb ([0-9a-f]{4}):([0-9a-f]{4}|\*)", section)
        if m is None:
            sys.exit(f"{src}: [{section}] is not a USB id")
        vid, pid = m.group(1), m.group(2)
        match_usb = f'ATTR{{idVendor}}=="{vid}"'
        match_tty = f'ATTRS{{idVendor}}=="{vid}"'
        if pid != "*":
            match_usb += f', ATTR{{idProduct}}=="{pid}"'
            match_tty += f', ATTRS{{idProduct}}=="{pid}"'
        lines.append(f"# {conf[section].get('description', section)}")
        lines.append(
            f'SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_device", {match_usb}, '
            'TAG+="uaccess", GROUP="plugdev", MODE="0660"'
        )
        lines.append(
            f'SUBSYSTEM=="tty", {match_tty}, TAG+="uaccess", GROUP="dialout", MODE="0660", '
            'IMPORT{builtin}="path_id", ENV{FLEETSTATION_PORT}="1"'
        )
        lines.append("")
    # udev runs a rule's matches before its assignments: the path comes first
    lines.append("# a stable name per jig socket, from the physical USB path")
    lines.append(
        'SUBSYSTEM=="tty", ENV{FLEETSTATION_PORT}=="1", ENV{ID_PATH_TAG}=="?*", '
        'SYMLINK+="fleetstation/by-path/$env{ID_PATH_TAG}"'
    )
    lines.append("")
    lines.append('LABEL="fleetstation_end"')
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
