#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throw-away PostgreSQL server for the central registry tests, on a free
# loopback port, as an unprivileged user (PostgreSQL refuses to run as root).
#
#   fst-central-pg.sh start DIR   initdb + pg_ctl start in DIR; prints the
#                                 conninfo on stdout ("host=127.0.0.1 port=N
#                                 dbname=fleetstation user=fst")
#   fst-central-pg.sh stop DIR    stop (fast), keep the data
#   fst-central-pg.sh restart DIR start again on the same port
#   fst-central-pg.sh destroy DIR stop and remove DIR
#
# The server is stopped and DIR removed when the process that ran `start`
# (or $FST_PG_WATCH_PID) exits, whatever way it ends.
#
# With FST_PG_TLS=1, `start` also makes a CA (DIR/tls/ca.crt) and a server
# certificate for 127.0.0.1 signed by it, and the server takes TLS
# connections (sslmode=verify-full sslrootcert=DIR/tls/ca.crt).
#
# Exits 77 (a ctest skip) with a message when the PostgreSQL server binaries
# or a way to drop root are missing.
set -euo pipefail

cmd=${1:?start|stop|restart|destroy} dir=${2:?data directory}
bindir=""
for d in "${FST_PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
	if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
		bindir=$d
		break
	fi
done
[ -n "$bindir" ] || { echo "SKIP: PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql-15" >&2; exit 77; }

# run as the owner of DIR: root drops to an unprivileged user
as_owner() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
		return
	fi
	local user=${FST_PG_USER:-nobody}
	if command -v setpriv >/dev/null; then
		local uid gid
		uid=$(id -u "$user") gid=$(id -g "$user")
		setpriv --reuid "$uid" --regid "$gid" --clear-groups env HOME="$dir" "$@"
	elif command -v runuser >/dev/null; then
		runuser -u "$user" -- env HOME="$dir" "$@"
	else
		echo "SKIP: running as root without setpriv or runuser to start PostgreSQL as $user" >&2
		exit 77
	fi
}

free_port() {
	python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

start() {
	local port
	port=$(cat "$dir/port")
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c fsync=on -c max_connections=100 $(cat "$dir/opts")" \
		start >/dev/null
}

# a CA and a server certificate for 127.0.0.1 (ECDSA P-256)
make_tls() {
	local t=$dir/tls
	mkdir -p "$t"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=fleetstation test central CA" -keyout "$t/ca.key" -out "$t/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$t/ext"
	openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
		-days 2 -extfile "$t/ext" -out "$t/server.crt" 2>/dev/null
	chmod 0600 "$t/server.key"
	chmod 0644 "$t/ca.crt"
	echo "-c ssl=on -c ssl_cert_file=$t/server.crt -c ssl_key_file=$t/server.key" >"$dir/opts"
}

case $cmd in
start)
	mkdir -p "$dir/sock"
	: >"$dir/opts"
	if [ "${FST_PG_TLS:-0}" = 1 ]; then
		command -v openssl >/dev/null || { echo "SKIP: openssl not found for the TLS server certificate" >&2; exit 77; }
		make_tls
	fi
	if [ "$(id -u)" -eq 0 ]; then
		chown -R "${FST_PG_USER:-nobody}" "$dir"
		chmod 0700 "$dir"
		# the server user must reach DIR through a private temporary parent
		chmod o+x "$(dirname "$dir")"
	fi
	as_owner "$bindir/initdb" -D "$dir/data" -U fst --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	free_port >"$dir/port"
	start
	as_owner "$bindir/createdb" -h 127.0.0.1 -p "$(cat "$dir/port")" -U fst fleetstation
	# a test that dies (an assertion, a kill) leaves no server behind: this
	# watcher stops it once the process that started it is gone
	parent=${FST_PG_WATCH_PID:-$PPID}
	(
		while kill -0 "$parent" 2>/dev/null; do sleep 1; done
		as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop
		rm -rf "$dir"
	) </dev/null >/dev/null 2>&1 &
	echo "host=127.0.0.1 port=$(cat "$dir/port") dbname=fleetstation user=fst connect_timeout=3"
	;;
stop)
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	;;
restart)
	start
	;;
destroy)
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	;;
*)
	echo "unknown command $cmd" >&2
	exit 2
	;;
esac
