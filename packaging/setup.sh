#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fleetstation set-up on Debian 12, as root or through sudo. Idempotent.
#
#   packaging/setup.sh demo [DEMO OPTIONS]   install packages, build, run `fleetstation demo`
#   packaging/setup.sh test                  install packages, build, run the whole suite (ctest)
#
# Environment: BUILD_DIR (default: build), FST_WERROR (default: ON), JOBS,
# FST_ALLOW_SKIPS=1 (a test run with skipped tests passes; by default it fails).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=optional-skips.sh
. "$here/optional-skips.sh"
top=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$top/build}
jobs=${JOBS:-$(nproc)}
mode=${1:-demo}
[ $# -gt 0 ] && shift

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "setup: need root to install packages: run as root or install sudo" >&2
		exit 3
	fi
}

install_packages() {
	local missing=() pkg
	while read -r pkg; do
		case "$pkg" in "" | \#*) continue ;; esac
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
	done <"$here/deps.txt"
	if [ ${#missing[@]} -gt 0 ]; then
		echo "setup: installing ${missing[*]}"
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	fi
}

build() {
	cmake -S "$top" -B "$build" -DFST_WERROR="${FST_WERROR:-ON}" >/dev/null
	cmake --build "$build" -j "$jobs"
}

# ctest, then a check that nothing was skipped: `test` installs every package
# the suite needs, so a skip (exit 77: a missing program or library) means a
# package or an install step is missing, and the run fails naming the tests.
# FST_ALLOW_SKIPS=1 lets a run with skips pass (a machine without root).
run_tests() {
	local junit rc=0 skipped
	junit=$(cd "$build" && pwd)/ctest-junit.xml
	rm -f "$junit"
	ctest --test-dir "$build" --output-on-failure -j "$jobs" --output-junit "$junit" "$@" || rc=$?
	[ $rc -eq 0 ] || return $rc
	[ -f "$junit" ] || { echo "setup: ctest wrote no $junit: cannot tell skipped tests" >&2; return 1; }
	skipped=$(grep -o '<testcase name="[^"]*"[^>]*status="notrun"' "$junit" | sed 's/<testcase name="\([^"]*\)".*/\1/' || true)
	# moto's and the FUSE test may skip, said aloud (optional-skips.sh)
	# shellcheck disable=SC2086
	skipped=$(drop_optional_skips "$build" setup $skipped)
	if [ -n "$skipped" ]; then
		echo "setup: these tests were skipped (a missing program or library; see their SKIP lines):" >&2
		printf '  %s\n' $skipped >&2
		if [ "${FST_ALLOW_SKIPS:-0}" != 1 ]; then
			echo "setup: every test must run: install what they name (packaging/deps.txt)" >&2
			return 1
		fi
	fi
}

case "$mode" in
demo)
	install_packages
	build
	exec "$build/station/cli/fleetstation" demo "$@"
	;;
test)
	install_packages
	build
	run_tests "$@"
	;;
*)
	echo "usage: packaging/setup.sh demo|test [OPTIONS]" >&2
	exit 2
	;;
esac
