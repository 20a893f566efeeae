# SPDX-License-Identifier: Apache-2.0
# Sourced by setup.sh and ci-sanitize.sh: the tests that may be skipped, said
# aloud, where every other skip fails the run. The local AWS IoT peer is moto,
# which Debian does not package (label moto); a FUSE mount needs /dev/fuse,
# which a container may not give (label fuse).
#
#   drop_optional_skips BUILD_DIR PREFIX SKIPPED...
# prints the skipped tests left once the optional ones are dropped (one per
# line), and says on stderr, after PREFIX, why each dropped one was skipped.
drop_optional_skips() {
	local build=$1 prefix=$2 label why t
	shift 2
	local left
	left=$(printf '%s\n' "$@")
	for label in moto fuse; do
		case $label in
		moto) why="moto (the local AWS IoT peer) is not installed; it is not in Debian" ;;
		fuse) why="this machine cannot mount a FUSE file system (/dev/fuse)" ;;
		esac
		for t in $(ctest --test-dir "$build" -N -L "$label" | sed -n 's/^ *Test *#[0-9]*: //p'); do
			if grep -qx "$t" <<<"$left"; then
				echo "$prefix: $t skipped: $why" >&2
				left=$(grep -vx "$t" <<<"$left" || true)
			fi
		done
	done
	[ -z "$left" ] || printf '%s\n' "$left"
}
