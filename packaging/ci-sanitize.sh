#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the unit and integration tests of an ASan+UBSan build
# (-DFST_SANITIZE=ON): any sanitizer report fails its test, leaks included
# (LeakSanitizer). A skipped test fails the stage, as in `setup.sh test`
# (but for those optional-skips.sh names: moto's, and the FUSE test).
#
#   packaging/ci-sanitize.sh BUILD_DIR
#
# FST_SANITIZE_EXCLUDE: a ctest -E regex of tests left out; each left out test
# is listed here with the reason it cannot run under ASan.
set -euo pipefail
build=$(cd "${1:?usage: ci-sanitize.sh BUILD_DIR}" && pwd)
jobs=${JOBS:-$(nproc)}
grep -q 'FST_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" ||
	{ echo "ci-sanitize: $build is not a -DFST_SANITIZE=ON build" >&2; exit 2; }
exclude=${FST_SANITIZE_EXCLUDE:-}
# shellcheck source=optional-skips.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/optional-skips.sh"

# GLib's slice allocator hides heap errors from ASan
export G_SLICE=always-malloc G_DEBUG=gc-friendly,fatal-criticals
# the fast unwinder stops at the first system library without frame pointers
# (GLib): to see who owns a leak, run its test again with
# ASAN_OPTIONS=fast_unwind_on_malloc=0:malloc_context_size=30 (slower by far:
# the whole stage would take several times as long)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"

junit=$build/ctest-sanitize-junit.xml
rm -f "$junit"
args=(-L '^(unit|integration)$' --output-on-failure -j "$jobs" --output-junit "$junit")
[ -n "$exclude" ] && args+=(-E "$exclude")
ctest --test-dir "$build" "${args[@]}"
skipped=$(grep -o '<testcase name="[^"]*"[^>]*status="notrun"' "$junit" | sed 's/<testcase name="\([^"]*\)".*/\1/' || true)
# moto's tests and the FUSE test may skip, said aloud, as in `setup.sh test`
# shellcheck disable=SC2086
skipped=$(drop_optional_skips "$build" ci-sanitize $skipped)
if [ -n "$skipped" ]; then
	echo "ci-sanitize: these tests were skipped:" >&2
	printf '  %s\n' $skipped >&2
	exit 1
fi
echo "ci-sanitize: ok"
