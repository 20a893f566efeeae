# SPDX-License-Identifier: Apache-2.0
# What the integration scripts share; each sources it:
#   . "$(dirname "$0")/fst-test-lib.sh"
# fail MESSAGE: says what went wrong on stderr, then the files FAIL_LOGS names
# (a program's output the script kept), and ends the script with 1.
fail() {
	echo "FAIL: $*" >&2
	local log
	for log in ${FAIL_LOGS:-}; do
		if [ -f "$log" ]; then cat "$log" >&2; fi
	done
	exit 1
}
