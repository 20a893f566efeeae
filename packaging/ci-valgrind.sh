#!/usr/bin/env bash
# Runs `fleetstation demo` of a plain build under valgrind: no memory error and
# no definitely lost block ("definitely lost: 0"), or the stage fails.
#
#   packaging/ci-valgrind.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: ci-valgrind.sh BUILD_DIR}" && pwd)
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v valgrind >/dev/null || { echo "ci-valgrind: valgrind is not installed (packaging/deps.txt)" >&2; exit 1; }
work=$(mktemp -d /tmp/fst-valgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT
devices=${FST_VALGRIND_DEVICES:-2}

# the demo's device simulators run as child processes, outside valgrind
rc=0
G_SLICE=always-malloc FST_TEMPLATES_DIR="$top/templates" FST_DEVSIM="$build/protocols/fleetstation-devsim" \
	valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
	--log-file="$work/valgrind.log" \
	"$build/station/cli/fleetstation" demo --workspace "$work/demo" --devices "$devices" \
	>"$work/demo.out" 2>&1 || rc=$?
cat "$work/demo.out"
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost' "$work/valgrind.log" || true
if [ $rc -ne 0 ]; then
	cat "$work/valgrind.log" >&2
	echo "ci-valgrind: FAIL: the demo under valgrind exited $rc" >&2
	exit 1
fi
grep -q "^$devices provisioned, 0 failed" "$work/demo.out" || { echo "ci-valgrind: FAIL: demo summary" >&2; exit 1; }
grep -qE 'definitely lost: 0 bytes|All heap blocks were freed' "$work/valgrind.log" ||
	{ cat "$work/valgrind.log" >&2; echo "ci-valgrind: FAIL: memory definitely lost" >&2; exit 1; }
grep -q 'ERROR SUMMARY: 0 errors' "$work/valgrind.log" ||
	{ cat "$work/valgrind.log" >&2; echo "ci-valgrind: FAIL: valgrind reports errors" >&2; exit 1; }
echo "ci-valgrind: ok"
