#!/bin/bash
# make bench: our figures beside baselines measured in the same run.
# Never part of make check; nothing here asserts a time. Prints one table:
# path, ours, baseline, ratio, target.
. "$top_srcdir/tests/lib/harness.sh"
set +u
B=$top_builddir/tests/bench/bench_emqp
ROUTER=$top_builddir/src/router/gearhorn-router
JM=$top_builddir/src/jobmanager/gearhorn-jobmanager
N1=${BENCH_N1:-20000}      # round trips with 1 in flight
NP=${BENCH_NP:-300000}     # round trips with 1000 in flight
RUNS=${BENCH_RUNS:-3}      # each figure is the median of this many runs

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # measure FIELD CMD... -> median of FIELD over RUNS runs
	local f=$1 i
	shift
	for i in $(seq 1 "$RUNS"); do "$@" | field "$f"; done | median
}
row() { # row PATH OURS BASE RATIO TARGET
	printf '%-58s %12s %12s %8s  %s\n' "$1" "$2" "$3" "$4" "$5"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "gearhorn make bench: $(nproc) cores, $RUNS runs per figure (median)"
row "path" "ours" "baseline" "ratio" "target"

bare_p50=$(measure p50_us "$B" bare -n "$N1" -i 1)
bare_rate=$(measure rate "$B" bare -n "$NP" -i 1000)

if [ ! -x "$ROUTER" ] || [ ! -x "$JM" ]; then
	row "bare broker, 1 in flight, p50 us" "-" "$bare_p50" "-" "(router or job manager not built)"
	row "bare broker, 1000 in flight, round trips/s" "-" "$bare_rate" "-" "(router or job manager not built)"
	exit 0
fi

JOBS=${BENCH_JOBS:-8} # worker processes of the job manager
start_stack() { # start_stack NAME [ENV...]: a router and a job manager; sets front, rpid
	local name=$1
	shift
	front=tcp://127.0.0.1:$(gh_free_port)
	local back=tcp://127.0.0.1:$(gh_free_port) admin=tcp://127.0.0.1:$(gh_free_port)
	env "$@" "$ROUTER" -c /dev/null -f "$front" -b "$back" -a "$admin" --max-length 1000000 \
		-l warn 2>"$GH_TMP/router-$name.log" &
	rpid=$!
	GH_PIDS+=("$rpid")
	"$JM" -c /dev/null -r "$back" -Q bench -j "$JOBS" -l warn 2>"$GH_TMP/jm-$name.log" &
	jpid=$!
	GH_PIDS+=("$jpid")
	sleep 1
}
start_stack plain

ours_p50=$(measure p50_us "$B" router "$front" -q bench -n "$N1" -i 1)
ours_rate=$(measure rate "$B" router "$front" -q bench -n "$NP" -i 1000)
row "client->router->jobmanager->echo->client, 1000 in flight/s" "$ours_rate" "$bare_rate" \
	"$(ratio "$ours_rate" "$bare_rate")" ">= 0.40"
row "same, 1 in flight, p50 us" "$ours_p50" "$bare_p50" "$(ratio "$ours_p50" "$bare_p50")" "<= 2.5"

# Idle: CPU time the router spends in 5 s with peers connected and nothing to do.
hz=$(getconf CLK_TCK)
t0=$(awk '{print $14 + $15}' "/proc/$rpid/stat")
sleep 5
t1=$(awk '{print $14 + $15}' "/proc/$rpid/stat")
idle=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz / 5 * 100 }')
row "router idle, % of a core" "$idle" "-" "-" "< 0.5"
gh_stop_pid "$jpid"
gh_stop_pid "$rpid"

# The journal: guarantee jobs, 1000 in flight, journal off and on.
start_stack nojournal
off=$(measure rate "$B" router "$front" -q bench -g -n "$NP" -i 1000)
gh_stop_pid "$jpid"
gh_stop_pid "$rpid"
start_stack journal GEARHORN_ROUTER_JOURNAL=true GEARHORN_ROUTER_JOURNAL_PATH="$GH_TMP/journal.db"
on=$(measure rate "$B" router "$front" -q bench -g -n "$NP" -i 1000)
gh_stop_pid "$jpid"
gh_stop_pid "$rpid"
row "guarantee jobs/s, journal on (baseline: journal off)" "$on" "$off" "$(ratio "$on" "$off")" \
	">= 0.50"

# Memory: 100k jobs of a queue nobody serves, beyond their payload (the body).
NM=${BENCH_NM:-100000}
front=tcp://127.0.0.1:$(gh_free_port)
"$ROUTER" -c /dev/null -f "$front" -b "tcp://127.0.0.1:$(gh_free_port)" \
	-a "tcp://127.0.0.1:$(gh_free_port)" --max-length $((NM * 2)) -l warn 2>"$GH_TMP/router-mem.log" &
rpid=$!
GH_PIDS+=("$rpid")
sleep 0.5
rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$rpid/status"; }
before=$(rss)
out=$("$B" router "$front" -q mem -a -n "$NM" -i 1000)
after=$(rss)
body=$(printf '%s\n' "$out" | field body_bytes)
per=$(awk -v a="$after" -v b="$before" -v n="$NM" -v p="$body" 'BEGIN { printf "%.0f", (a - b) / n - p }')
row "router bytes per buffered job beyond its ${body}-byte body" "$per" "-" "-" "<= 400"
