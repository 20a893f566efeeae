#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Fails when a translation of the GUI (gui/po/LINGUAS) misses a string the
# GUI's sources have, or holds one only as a fuzzy guess: the strings are
# extracted from gui/po/POTFILES as `--target fleetstation-pot` does, and
# each po/LANG.po is compared with them (msgcmp). Fix: `cmake --build build
# --target fleetstation-po-update`, then translate what it left empty or
# marked fuzzy.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
command -v xgettext >/dev/null && command -v msgcmp >/dev/null ||
	{ echo "SKIP: xgettext and msgcmp (gettext) are not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src/gui"
mapfile -t files < po/POTFILES
xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=ngettext:1,2 \
	--package-name=fleetstation -o "$tmp/fleetstation.pot" "${files[@]}"
status=0
while read -r lang; do
	[ -n "$lang" ] || continue
	if ! msgcmp "po/$lang.po" "$tmp/fleetstation.pot"; then
		echo "gui/po/$lang.po lacks the strings above (or has them fuzzy)"
		status=1
	fi
done < po/LINGUAS
[ "$status" -eq 0 ] && echo "check-translations: $(wc -l < po/LINGUAS) translation(s) complete"
exit "$status"
