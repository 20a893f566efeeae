#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails when a C file of the tree differs from what clang-format makes of it with
# the project's .clang-format (exit 77, a skip, where clang-format is missing).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
command -v clang-format >/dev/null || { echo "SKIP: clang-format is not installed"; exit 77; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files '*.c' '*.h')
else
	mapfile -t files < <(find station protocols db gui tests -name '*.[ch]' | sort)
fi
bad=$(clang-format --dry-run "${files[@]}" 2>&1 | grep -o '^[^:]*:[0-9]*:[0-9]*: warning' | cut -d: -f1 | sort -u || true)
if [ -n "$bad" ]; then
	echo "these files are not formatted (clang-format -i FILE...):"
	printf '  %s\n' $bad
	exit 1
fi
echo "check-format: ${#files[@]} files formatted"
