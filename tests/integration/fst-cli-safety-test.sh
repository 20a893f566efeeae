#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Commands that must not harm a production workspace: `demo` keeps to its own
# workspace and refuses one whose CA it did not make; `init` changes defaults
# without the CA secret, and an `init` that fails writes nothing.
set -euo pipefail

B=${FST_STATION:?FST_STATION must name the fleetstation binary}
T=$(mktemp -d /tmp/fst-cli-safety-XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
unset FLEETSTATION_CA_PASSPHRASE FLEETSTATION_DEMO_WORKSPACE
. "$(dirname "$0")/fst-test-lib.sh"
expect_rc() { # expect_rc RC CMD...: runs CMD without a terminal, checks its exit status
	local want=$1; shift
	set +e; setsid "$@" </dev/null >"$T/out" 2>"$T/err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "$* exited $rc, expected $want"; }
}
printf 'production pass phrase' >"$T/pass"; chmod 600 "$T/pass"

# a production workspace: a created CA whose passphrase only the operator has
P=$T/prod
expect_rc 0 "$B" ca create -w "$P" --passphrase-file "$T/pass" --organization "Acme Production"
expect_rc 0 "$B" init -w "$P" --passphrase-file "$T/pass" --lot LOT-A
snapshot() { (cd "$P" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# --- demo without --workspace uses its own, even with $FLEETSTATION_WORKSPACE set ---
export XDG_DATA_HOME=$T/xdg FLEETSTATION_WORKSPACE=$P
before=$(snapshot)
expect_rc 0 "$B" demo --devices 1 --quiet
[ -f "$T/xdg/fleetstation-demo/station.db" ] || fail "demo did not use \$XDG_DATA_HOME/fleetstation-demo"
[ "$(snapshot)" = "$before" ] || fail "demo without --workspace changed the production workspace"
# its own workspace is reused on the next run
expect_rc 0 "$B" demo --devices 1 --quiet

# --- demo refuses a workspace whose CA it did not make, and writes nothing there ---
expect_rc 3 "$B" demo -w "$P" --devices 1
grep -q -- "--force-workspace" "$T/err" || fail "the refusal does not name --force-workspace: $(cat "$T/err")"
expect_rc 3 "$B" demo -w "$P" --devices 1 --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["event"]=="error" or "error" in d, d' "$T/out" \
	|| fail "demo --json refusal is not a JSON error: $(cat "$T/out")"
[ "$(snapshot)" = "$before" ] || fail "a refused demo changed the production workspace"

# --- init changes a default without the CA secret ---
expect_rc 0 "$B" init -w "$P" --lot LOT-B
grep -q '^lot=LOT-B$' "$P/station.conf" || fail "init --lot did not save the lot"
expect_rc 0 "$B" init -w "$P" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["lot"]=="LOT-B" and d["ca"] is True, d' "$T/out" \
	|| fail "init --json: $(cat "$T/out")"

# --- an init that fails changes nothing ---
before=$(snapshot)
expect_rc 3 "$B" init -w "$P" --lot LOT-C --profile no-such-profile
[ "$(snapshot)" = "$before" ] || fail "a failed init changed the workspace"
grep -q '^lot=LOT-B$' "$P/station.conf" || fail "a failed init saved its lot"

# --- a demo PKI made by init --demo-ca is the demo's ---
expect_rc 0 "$B" init -w "$T/demoinit" --demo-ca
expect_rc 0 "$B" demo -w "$T/demoinit" --devices 1 --quiet
echo "cli safety test: ok"
