#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs two programs of a plain build under valgrind; each must show no memory
# error and no definitely lost block ("definitely lost: 0"), or the stage fails:
#   - `fleetstation demo` (its device simulators run outside valgrind);
#   - one session of fleetstation-gui in the GUI test harness
#     (tests/gui/fst-gui-test.sh session: unlock, a line of 3 simulated boards,
#     quit through app.quit), with GL disabled and packaging/valgrind-gui.supp
#     for leaks of the font stack that no frame of ours owns. The harness waits
#     FST_VALGRIND_GUI_SCALE (20) times longer for the window than usual.
#
#   packaging/ci-valgrind.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: ci-valgrind.sh BUILD_DIR}" && pwd)
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v valgrind >/dev/null || { echo "ci-valgrind: valgrind is not installed (packaging/deps.txt)" >&2; exit 1; }
work=$(mktemp -d /tmp/fst-valgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT
devices=${FST_VALGRIND_DEVICES:-2}
vg=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 --num-callers=40)

# what: the program's name; log: its valgrind log; rc: its exit code
check_log() {
	local what=$1 log=$2 rc=$3
	grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|suppressed:' "$log" || true
	if [ "$rc" -ne 0 ]; then
		cat "$log" >&2
		echo "ci-valgrind: FAIL: $what under valgrind exited $rc" >&2
		exit 1
	fi
	grep -qE 'definitely lost: 0 bytes|All heap blocks were freed' "$log" ||
		{ cat "$log" >&2; echo "ci-valgrind: FAIL: $what: memory definitely lost" >&2; exit 1; }
	grep -q 'ERROR SUMMARY: 0 errors' "$log" ||
		{ cat "$log" >&2; echo "ci-valgrind: FAIL: $what: valgrind reports errors" >&2; exit 1; }
}

# the demo
rc=0
G_SLICE=always-malloc FST_TEMPLATES_DIR="$top/templates" FST_DEVSIM="$build/protocols/fleetstation-devsim" \
	"${vg[@]}" --log-file="$work/valgrind.log" \
	"$build/station/cli/fleetstation" demo --workspace "$work/demo" --devices "$devices" \
	>"$work/demo.out" 2>&1 || rc=$?
cat "$work/demo.out"
check_log "the demo" "$work/valgrind.log" $rc
grep -q "^$devices provisioned, 0 failed" "$work/demo.out" || { echo "ci-valgrind: FAIL: demo summary" >&2; exit 1; }
echo "ci-valgrind: demo ok"

# one GUI session
gui=$build/gui/fleetstation-gui
[ -x "$gui" ] || { echo "ci-valgrind: FAIL: no $gui (GTK 4 missing at build time: packaging/deps.txt)" >&2; exit 1; }
wrapper=$(printf '%q ' "${vg[@]}" --suppressions="$top/packaging/valgrind-gui.supp" --log-file="$work/valgrind-gui.log")
rc=0
G_SLICE=always-malloc GDK_DEBUG=gl-disable FST_GUI="$gui" FST_GUI_WRAPPER="$wrapper" \
	FST_GUI_TIMEOUT_SCALE="${FST_VALGRIND_GUI_SCALE:-20}" FST_TEMPLATES_DIR="$top/templates" \
	FST_STATION="$build/station/cli/fleetstation" FST_DEVSIM="$build/protocols/fleetstation-devsim" \
	"$top/tests/gui/fst-gui-test.sh" session >"$work/gui.out" 2>&1 || rc=$?
grep -v '^dbus-daemon' "$work/gui.out" | tail -n 40
if [ $rc -ne 0 ] || ! grep -q '^ok   session' "$work/gui.out"; then
	[ -f "$work/valgrind-gui.log" ] && tail -n 200 "$work/valgrind-gui.log" >&2
	[ $rc -eq 77 ] && echo "ci-valgrind: a program the GUI tests need is missing (packaging/deps.txt)" >&2
	echo "ci-valgrind: FAIL: the GUI session under valgrind exited $rc" >&2
	exit 1
fi
check_log "fleetstation-gui" "$work/valgrind-gui.log" 0
echo "ci-valgrind: ok"
