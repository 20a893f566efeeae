#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs fst-gui-test.py MODE inside a private D-Bus session (for the AT-SPI
# bus) and a private X server: the real fleetstation-gui window, driven
# through its accessibility tree. Exit 77 (skip) when a tool is missing.
set -euo pipefail
mode=${1:?mode}
here=$(cd "$(dirname "$0")" && pwd)
[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 is not installed"; exit 77; }
/usr/bin/python3 -c 'import pyatspi' 2>/dev/null || { echo "SKIP: python3-pyatspi is not installed"; exit 77; }
# the test's own helpers need no window
[ "$mode" = harness ] && exec /usr/bin/python3 "$here/fst-gui-test.py" harness
for tool in xvfb-run Xvfb dbus-run-session sqlite3 gdbus; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ -x /usr/libexec/at-spi-bus-launcher ] || { echo "SKIP: at-spi2-core is not installed"; exit 77; }
: "${FST_GUI:?}" "${FST_STATION:?}" "${FST_DEVSIM:?}"
# a private runtime and cache directory: the accessibility bus puts its
# socket there, and GUI tests running at the same time must not share one
priv=$(mktemp -d /tmp/fst-gui-env.XXXXXX)
trap 'rm -rf "$priv"' EXIT
mkdir -m 0700 "$priv/run" "$priv/cache"
export XDG_RUNTIME_DIR=$priv/run XDG_CACHE_HOME=$priv/cache
export GDK_BACKEND=x11 GSK_RENDERER=${GSK_RENDERER:-cairo} GSETTINGS_BACKEND=memory
unset GTK_A11Y FLEETSTATION_CA_PASSPHRASE
dbus-run-session -- xvfb-run -a -s "-screen 0 1280x900x24" \
	/usr/bin/python3 "$here/fst-gui-test.py" "$mode"
