# harness.sh: sourced by integration scripts (bash). Starts real servers on
# free loopback ports in a private directory and stops them by pid on exit.
#
#   . "$top_srcdir/tests/lib/harness.sh"
#   gh_require_tool "$GEARMAND"      # exit 77 (skip) when absent
#   gh_start_gearmand                # sets GH_GEARMAND_PORT, GH_GEARMAND_PID
#   ...                              # everything is stopped on exit

set -u
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${GEARMAND:=/usr/sbin/gearmand}"

# The private directory: under $TMPDIR, else under the build tree (make
# clean removes it), as tests/lib/files.h does for the C suites.
if [ -n "${TMPDIR:-}" ]; then
	GH_TMP=$(mktemp -d "$TMPDIR/gh-XXXXXX")
else
	mkdir -p "$top_builddir/tests/tmp"
	GH_TMP=$(mktemp -d "$top_builddir/tests/tmp/gh-XXXXXX")
fi
[ -n "$GH_TMP" ] || { echo "FAIL: no private directory" >&2; exit 99; }
GH_PIDS=()

gh_cleanup() {
	local pid
	# Callers may run with set -e; stopping must go on past a process
	# that is already gone.
	set +e
	for pid in "${GH_PIDS[@]}"; do
		gh_stop_pid "$pid"
	done
	# PostgreSQL last, once its clients are gone: SIGINT is its fast shutdown.
	[ -z "${GH_PG_PID:-}" ] || gh_stop_pid "$GH_PG_PID" INT
	if [ "${GH_KEEP_TMP:-0}" = 1 ]; then
		echo "harness: kept $GH_TMP" >&2
	else
		rm -rf "$GH_TMP"
	fi
}
trap gh_cleanup EXIT

gh_skip() { echo "SKIP: $*" >&2; exit 77; }
gh_fail() { echo "FAIL: $*" >&2; exit 1; }
gh_require_tool() { [ -n "${1:-}" ] && [ -x "$1" ] || gh_skip "${1:-a required tool} is not installed"; }
# An input from the source tree: exit 77 (skip) when it is missing.
gh_require_input() { [ -e "$1" ] || gh_skip "$1 not found (is top_srcdir right?)"; }

gh_free_port() { "$top_builddir/tests/freeport"; }

# Stops a process by pid: signal $2 (default TERM), then SIGKILL after 10 s;
# reaps it if it is our child.
gh_stop_pid() {
	local pid=$1 sig=${2:-TERM} i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill "-$sig" "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 0
}

# Waits up to $2 seconds (default 10) for a command to succeed.
gh_wait_for() {
	local cmd=$1 limit=${2:-10} i
	for i in $(seq 1 $((limit * 10))); do
		eval "$cmd" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Waits up to $4 seconds (default 60) until process $1 has written a line
# matching the extended regular expression $3 to the file $2: returns 0.
# Returns the process's exit status (at least 1) if it exits first, or 1 when
# the time runs out.
gh_wait_log() {
	local pid=$1 log=$2 re=$3 limit=${4:-60} i rc
	for i in $(seq 1 $((limit * 10))); do
		grep -Eq -- "$re" "$log" 2>/dev/null && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			grep -Eq -- "$re" "$log" 2>/dev/null && return 0
			wait "$pid" 2>/dev/null
			rc=$?
			return $((rc ? rc : 1))
		fi
		sleep 0.1
	done
	return 1
}

# Starts gearhorn-router on three new loopback ports with the options given,
# its output to the file $1. Sets GH_ROUTER_FRONT, GH_ROUTER_BACK,
# GH_ROUTER_ADMIN (tcp:// endpoints) and GH_ROUTER_PID, and returns once it
# has started. A port can be taken between gh_free_port and the router's
# bind (exit 69): then again with new ones, after calling the function
# gh_router_prepare if the caller defines one (to write the new ports into
# a configuration file, say).
gh_start_router() {
	local log=$1 attempt rc
	shift
	for attempt in 1 2 3 4 5; do
		GH_ROUTER_FRONT=tcp://127.0.0.1:$(gh_free_port)
		GH_ROUTER_BACK=tcp://127.0.0.1:$(gh_free_port)
		GH_ROUTER_ADMIN=tcp://127.0.0.1:$(gh_free_port)
		if declare -F gh_router_prepare >/dev/null; then gh_router_prepare; fi
		"$top_builddir/src/router/gearhorn-router" -f "$GH_ROUTER_FRONT" -b "$GH_ROUTER_BACK" \
			-a "$GH_ROUTER_ADMIN" "$@" </dev/null >"$log" 2>&1 &
		GH_ROUTER_PID=$!
		GH_PIDS+=("$GH_ROUTER_PID")
		gh_wait_log "$GH_ROUTER_PID" "$log" "gearhorn-router\[$GH_ROUTER_PID\].* started" && return 0
		rc=$?
		[ $rc = 69 ] || break
	done
	tail -n 40 "$log" >&2
	gh_fail "router did not start"
}

# Whether process $1 has a TCP socket listening on 127.0.0.1:$2 (Linux; true
# where /proc cannot tell). A port from gh_free_port can be taken by another
# server before ours binds it, and that one would answer in its place.
gh_pid_listens() {
	local pid=$1 port=$2 inode
	[ -r /proc/net/tcp ] && [ -d "/proc/$pid/fd" ] || return 0
	for inode in $(awk -v a="0100007F:$(printf '%04X' "$port")" '$2 == a && $4 == "0A" { print $10 }' /proc/net/tcp); do
		ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "socket:\[$inode\]" && return 0
	done
	return 1
}

# gearman admin text protocol over bash's /dev/tcp.
gh_gearman_admin() {
	local port=$1 cmd=$2 line
	exec 9<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf '%s\n' "$cmd" >&9
	while IFS= read -r -t 30 line <&9; do
		[ "$line" = "." ] && break
		printf '%s\n' "$line"
		case "$line" in OK*|ERR*) [ "$cmd" = version ] && break ;; esac
	done
	exec 9<&- 9>&-
}

# Starts gearmand on a free loopback port. Sets GH_GEARMAND_PORT and GH_GEARMAND_PID.
gh_start_gearmand() {
	local attempt port pid
	gh_require_tool "$GEARMAND"
	for attempt in 1 2 3 4 5; do
		port=$(gh_free_port)
		"$GEARMAND" --listen=127.0.0.1 --port="$port" --threads=2 --verbose=WARNING \
			--log-file="$GH_TMP/gearmand-$port.log" --pid-file="$GH_TMP/gearmand-$port.pid" \
			</dev/null >/dev/null 2>&1 &
		pid=$!
		# gearmand keeps trying a port it cannot bind: another server may
		# be the one answering there.
		if gh_wait_for "gh_gearman_admin $port version | grep -q ^OK && gh_pid_listens $pid $port" 30; then
			GH_GEARMAND_PORT=$port
			GH_GEARMAND_PID=$pid
			GH_PIDS+=("$pid")
			return 0
		fi
		gh_stop_pid "$pid"
	done
	gh_fail "gearmand did not start"
}

# The directory holding initdb and pg_ctl: $PG_BINDIR (only), else the newest
# /usr/lib/postgresql/*/bin (Debian's postgresql package), else PATH. Prints
# nothing when PostgreSQL is not installed.
gh_pg_bindir() {
	local d
	if [ -n "${PG_BINDIR:-}" ]; then
		[ -x "$PG_BINDIR/initdb" ] && [ -x "$PG_BINDIR/pg_ctl" ] && printf '%s\n' "$PG_BINDIR"
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { printf '%s\n' "$d"; return; }
	done
	d=$(command -v pg_ctl 2>/dev/null) && [ -x "$(dirname "$d")/initdb" ] && dirname "$d"
}

# Runs a command as the owner of the cluster: postgres when we are root
# (PostgreSQL refuses to run as root), else ourselves.
gh_pg_run() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Starts a private PostgreSQL cluster in $GH_TMP/pg, listening on a Unix
# socket in that directory only (no TCP). Exits 77 (skip) when PostgreSQL is
# absent. Sets GH_PG_DIR, GH_PG_PID (the postmaster's, from postmaster.pid)
# and GH_PG_URI (postgresql:// to the database "gearhorn"); the cluster is
# stopped by that pid on exit, after the processes in GH_PIDS (its clients).
gh_start_postgres() {
	local bin
	bin=$(gh_pg_bindir)
	[ -n "$bin" ] || gh_skip "PostgreSQL (initdb, pg_ctl) is not installed"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || gh_skip "running as root and there is no postgres user"
		command -v runuser >/dev/null || gh_skip "running as root and there is no runuser"
	fi
	# The server runs in its data directory: the socket needs the full path.
	GH_PG_DIR=$(cd "$GH_TMP" && pwd)/pg
	mkdir -p "$GH_PG_DIR"
	chmod 700 "$GH_PG_DIR"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$GH_PG_DIR"
		# postgres must reach the directory through ours.
		chmod o+x "$GH_TMP"
	fi
	gh_pg_run "$bin/initdb" -D "$GH_PG_DIR/data" -U postgres -A trust --no-sync \
		>"$GH_PG_DIR/initdb.log" 2>&1 || {
		tail -n 20 "$GH_PG_DIR/initdb.log" >&2
		gh_skip "initdb failed (see above)"
	}
	gh_pg_run "$bin/pg_ctl" -D "$GH_PG_DIR/data" -l "$GH_PG_DIR/postgres.log" -w -t 60 \
		-o "-c listen_addresses='' -k $GH_PG_DIR -c fsync=off" start >/dev/null 2>&1 || {
		tail -n 20 "$GH_PG_DIR/postgres.log" >&2
		gh_fail "PostgreSQL did not start"
	}
	GH_PG_PID=$(head -n 1 "$GH_PG_DIR/data/postmaster.pid")
	[ -n "$GH_PG_PID" ] || gh_fail "no postmaster.pid"
	gh_pg_run "$bin/createdb" -h "$GH_PG_DIR" -U postgres gearhorn ||
		gh_fail "createdb failed"
	GH_PG_URI="postgresql:///gearhorn?host=$GH_PG_DIR&user=postgres"
}

# Runs psql (from the same directory as pg_ctl) against the private cluster.
gh_psql() {
	"$(gh_pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$GH_PG_DIR" -U postgres -d gearhorn "$@"
}
