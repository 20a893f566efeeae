#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target of a -DFST_FUZZ=ON build (the ctest tests with
# label fuzz) for FST_FUZZ_SECONDS (default 60) each, from its seed corpus,
# JOBS targets at a time. New inputs go to BUILD_DIR/fuzz/NAME/corpus (the seed
# corpus in the source tree is left as it is). A crash, leak or timeout fails
# the stage; its input is kept as BUILD_DIR/fuzz/NAME/crash-<sha1> (add it to
# the seed corpus as a regression case once fixed).
#
#   packaging/ci-fuzz.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: ci-fuzz.sh BUILD_DIR}" && pwd)
seconds=${FST_FUZZ_SECONDS:-60}
jobs=${JOBS:-$(nproc)}
grep -q 'FST_FUZZ:BOOL=ON' "$build/CMakeCache.txt" ||
	{ echo "ci-fuzz: $build is not a -DFST_FUZZ=ON build" >&2; exit 2; }

# name, program, seed corpus and environment of each fuzz test, from ctest
targets=$(ctest --test-dir "$build" -N -L '^fuzz$' --show-only=json-v1 | python3 -c '
import json, sys
for t in json.load(sys.stdin)["tests"]:
    env = ""
    for p in t.get("properties", []):
        if p["name"] == "ENVIRONMENT":
            env = "\x1f".join(p["value"])
    print("\t".join([t["name"], t["command"][0], t["command"][-1], env]))
')
[ -n "$targets" ] || { echo "ci-fuzz: no fuzz target in $build" >&2; exit 1; }

export G_SLICE=always-malloc
# leaks inside system libraries are suppressed (lsan.supp, lsan-fuzz.supp); GLib has no frame
# pointers, so finding the library's frames needs the slow unwinder
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cat "$here/lsan.supp" "$here/lsan-fuzz.supp" >"$build/lsan-fuzz.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$build/lsan-fuzz.supp:print_suppressions=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
run_one() {
	local name=$1 exe=$2 seed=$3 env=$4 dir=$build/fuzz/$1 rc=0
	local -a envs=()
	mkdir -p "$dir/corpus"
	[ -n "$env" ] && IFS=$'\x1f' read -r -a envs <<<"$env"
	env "${envs[@]}" "$exe" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
		-artifact_prefix="$dir/" "$dir/corpus" "$seed" >"$dir/log" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 60 "$dir/log" >&2
		echo "ci-fuzz: FAIL: $name exited $rc; its input: $(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null | tr '\n' ' ')" >&2
		return 1
	fi
	echo "ci-fuzz: $name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$dir/log" | awk '{print $2}') runs in ${seconds} s, corpus $(ls "$dir/corpus" | wc -l) new + $(ls "$seed" | wc -l) seed"
}

failed=0
running=0
while IFS=$'\t' read -r name exe seed env; do
	run_one "$name" "$exe" "$seed" "$env" &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n || failed=1
		running=$((running - 1))
	fi
done <<<"$targets"
while [ $running -gt 0 ]; do
	wait -n || failed=1
	running=$((running - 1))
done
[ $failed -eq 0 ] || { echo "ci-fuzz: a fuzz target failed (see above)" >&2; exit 1; }
echo "ci-fuzz: ok"
