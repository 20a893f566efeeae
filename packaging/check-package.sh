#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package from a build tree, installs it with apt-get as a
# station would, and runs the installed programs from their installed files:
# `fleetstation --version`, the demo (templates found relative to /usr/bin),
# the man pages and completion in place, the .desktop file and AppStream
# metainfo validated, the GUI smoke test under Xvfb, lintian without errors,
# and the ELF hardening of every installed program. Removes the package at the end.
#
#   packaging/check-package.sh BUILD_DIR
#
# Needs root (apt-get install); CI runs it after the test suite.
set -euo pipefail

build=$(cd "${1:?usage: check-package.sh BUILD_DIR}" && pwd)
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/fst-package.XXXXXX)
cleanup() {
	apt-get remove -y -qq fleetstation >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "check-package: FAIL: $*" >&2
	exit 1
}

(cd "$build" && cpack -G DEB >/dev/null 2>&1)
deb=$(ls "$build"/fleetstation_*.deb)
echo "check-package: built $(basename "$deb")"

# lintian: errors fail, warnings are listed
if command -v lintian >/dev/null; then
	lintian --allow-root "$deb" >"$work/lintian" 2>&1 || true
	cat "$work/lintian"
	! grep -q '^E:' "$work/lintian" || fail "lintian reports errors"
else
	fail "lintian is not installed (packaging/deps.txt lists it)"
fi

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null
dpkg -L fleetstation >"$work/files"
for f in /usr/bin/fleetstation /usr/bin/fleetstation-devsim /usr/share/man/man1/fleetstation.1.gz \
	/usr/share/man/man1/fleetstation-devsim.1.gz /usr/share/bash-completion/completions/fleetstation \
	/usr/lib/udev/rules.d/70-fleetstation.rules /usr/lib/systemd/system/fleetstation-watch.service \
	/usr/share/fleetstation/templates/profiles/aws-iot-ecc.profile /usr/share/doc/fleetstation/copyright; do
	grep -qx "$f" "$work/files" || fail "the package does not install $f"
done

# the desktop integration: the .desktop file, AppStream metainfo and the icon
desktop=/usr/share/applications/io.github.fleetstation.Station.desktop
metainfo=/usr/share/metainfo/io.github.fleetstation.Station.metainfo.xml
for f in /usr/bin/fleetstation-gui "$desktop" "$metainfo" \
	/usr/share/icons/hicolor/scalable/apps/io.github.fleetstation.Station.svg; do
	grep -qx "$f" "$work/files" || fail "the package does not install $f"
done
command -v desktop-file-validate >/dev/null || fail "desktop-file-validate is not installed (desktop-file-utils)"
command -v appstreamcli >/dev/null || fail "appstreamcli is not installed (appstream)"
desktop-file-validate "$desktop" || fail "desktop-file-validate rejects $desktop"
appstreamcli validate --no-net "$metainfo" || fail "appstreamcli validate rejects $metainfo"

# the installed programs, not the build tree's: no source templates, no build paths
version=$(env -i PATH=/usr/bin:/bin HOME="$work" /usr/bin/fleetstation --version)
grep -q '^fleetstation ' <<<"$version" || fail "fleetstation --version"
env -i PATH=/usr/bin:/bin HOME="$work" /usr/bin/fleetstation demo --workspace "$work/demo" --devices 2 \
	>"$work/demo.out" 2>&1 || { cat "$work/demo.out"; fail "demo from the installed files"; }
grep -q '^2 provisioned, 0 failed' "$work/demo.out" || { cat "$work/demo.out"; fail "demo summary"; }

# hardening, read from the ELF of each installed program
for exe in $(grep -x '/usr/bin/.*' "$work/files"); do
	# read once: grep -q would end the pipe early under pipefail
	header=$(readelf -h "$exe")
	dynamic=$(readelf -d "$exe")
	segments=$(readelf -l "$exe")
	symbols=$(readelf --dyn-syms -W "$exe")
	grep -q 'DYN (Position-Independent' <<<"$header" || fail "$exe is not PIE"
	grep -q 'BIND_NOW' <<<"$dynamic" || fail "$exe has no BIND_NOW (-z now)"
	grep -q 'GNU_RELRO' <<<"$segments" || fail "$exe has no RELRO"
	grep -q '__stack_chk_fail' <<<"$symbols" || fail "$exe has no stack protector"
	grep -q '_chk@' <<<"$symbols" || fail "$exe has no fortified calls"
	echo "check-package: $exe: PIE, full RELRO, stack protector, fortified"
done

# the GUI smoke test (a real window under Xvfb, driven through AT-SPI) with the
# installed programs; the test script comes from the source tree. It checks
# that the setup page shows FST_TEMPLATES_DIR: the installed templates (that
# they are found without it is the demo's check above)
env FST_TEMPLATES_DIR=/usr/share/fleetstation/templates FST_GUI=/usr/bin/fleetstation-gui FST_STATION=/usr/bin/fleetstation \
	FST_DEVSIM=/usr/bin/fleetstation-devsim FST_GUI_SHOTS="$work" \
	"$top/tests/gui/fst-gui-test.sh" line >"$work/gui.out" 2>&1 || {
	rc=$?
	cat "$work/gui.out"
	[ $rc -eq 77 ] && fail "the GUI smoke test was skipped: a tool is missing (packaging/deps.txt)"
	fail "the GUI smoke test with the installed programs"
}
echo "check-package: GUI smoke test with /usr/bin/fleetstation-gui passed"

# the completion completes commands from the installed program
commands=$(bash -c "source /usr/share/bash-completion/completions/fleetstation; _fleetstation_commands")
grep -qx provision <<<"$commands" || fail "bash completion does not list the commands"
echo "check-package: ok"
