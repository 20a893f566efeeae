#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs a test with TMPDIR a directory of its own, removed when the test ends,
# for a test whose libraries leave files there that it cannot remove itself
# (umockdev's testbed, which must live until the process exits).
set -u
dir=$(mktemp -d "${TMPDIR:-/tmp}/fst-test.XXXXXX") || exit 1
TMPDIR=$dir "$@"
rc=$?
rm -rf "$dir"
exit $rc
