#!/bin/bash
# make bench: our figures beside baselines measured in the same run.
# Never part of make check; nothing here asserts a time. Prints one table:
# path, ours, baseline, ratio, target.
#
# The pipelined and journal figures use a job manager with 8 worker processes
# and [jobmanager] prefetch 256 (BENCH_JOBS, BENCH_PREFETCH): the setting for
# queues of short jobs, which these are. The default (prefetch 0) is shown
# beside it.
#
# The baseline broker runs as three processes, like the stack, and is the
# usual broker loop (one message from each ready socket per zmq_poll): the
# broker of the anchor figure the targets were set against (239k round trips
# a second with 1000 in flight). A broker that drains each ready socket before
# it polls again, as gearhorn-router does, runs about twice as fast; it is
# shown as a stricter baseline. So is a draining broker that carries eMQP's
# messages (ACK, REQUEST, REPLY, READY, REPLY: 35 frames a job against the
# bare broker's 14) with no logic: the floor the protocol's shape sets.
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
target() { # target VALUE OP LIMIT -> "OP LIMIT  met: yes|no" (OP is >=, <= or <)
	local met
	met=$(awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
		if (v == "-" || v == "") { print "no"; exit }
		ok = op == ">=" ? v + 0 >= t : op == "<=" ? v + 0 <= t : v + 0 < t
		print ok ? "yes" : "no" }')
	printf '%s %s  met: %s' "$2" "$3" "$met"
}

# Fanout: gearhorn-fanout (background fanouts, KF subscribers, copies left
# queued in gearmand) against a bare libgearman batched fanout in
# bench_fanout itself. Every run gets a fresh gearmand (and gearhorn-fanout),
# so that the copies queued by earlier runs weigh on none.
BF=$top_builddir/tests/bench/bench_fanout
FANOUT=$top_builddir/fanout/gearhorn-fanout
NF=${BENCH_NF:-20000} # fanout events per run: NF x KF copies queued in gearmand
KF=10                 # subscribers
IF=${BENCH_IF:-100}   # fanout jobs in flight to gearhorn-fanout
NS=${BENCH_NS:-2000}  # subscribe_fanout and unsubscribe_fanout jobs per run
# Fanout worker threads: [fanout] threads unless BENCH_FANOUT_THREADS is set.
FANOUT_ENV=()
[ -n "$BENCH_FANOUT_THREADS" ] && FANOUT_ENV=(GEARHORN_FANOUT_THREADS="$BENCH_FANOUT_THREADS")

# fanout_once MODE: one run of bench_fanout MODE (bare, worker, subscribe) on
# a fresh gearmand, with gearhorn-fanout unless bare. Prints bench_fanout's lines.
fanout_once() {
	local mode=$1 fpid="" port queued
	gh_start_gearmand
	port=$GH_GEARMAND_PORT
	if [ "$mode" = bare ]; then
		"$BF" bare -s "127.0.0.1:$port" -n "$NF" -k "$KF"
	else
		rm -f "$GH_TMP"/fanout.db*
		env "${FANOUT_ENV[@]}" "$FANOUT" -c /dev/null -s "127.0.0.1:$port" \
			-d "$GH_TMP/fanout.db" -l warn 2>>"$GH_TMP/fanout.log" &
		fpid=$!
		gh_wait_for "gh_gearman_admin $port status | awk '\$1 == \"fanout\" && \$4 > 0 {f = 1} END {exit !f}'" 10 ||
			echo "bench: gearhorn-fanout did not register fanout" >&2
		if [ "$mode" = worker ]; then
			"$BF" worker -s "127.0.0.1:$port" -n "$NF" -k "$KF" -i "$IF"
		else
			"$BF" subscribe -s "127.0.0.1:$port" -n "$NS" -i "$IF"
		fi
	fi
	# Every copy must be queued in gearmand: NF on each bench_sN.
	if [ "$mode" != subscribe ]; then
		queued=$(gh_gearman_admin "$port" status | awk '$1 ~ /^bench_s/ {q += $2} END {print q + 0}')
		[ "$queued" = $((NF * KF)) ] ||
			echo "bench: $mode: $queued copies queued in gearmand, expected $((NF * KF))" >&2
	fi
	[ -n "$fpid" ] && gh_stop_pid "$fpid"
	gh_stop_pid "$GH_GEARMAND_PID"
}

fanout_rows() {
	local what="fanout, background, $KF subscribers, copies/s" why="" bare ours i sub unsub
	[ -x "$BF" ] || why="(bench_fanout not built)"
	[ -z "$why" ] && [ ! -x "$GEARMAND" ] && why="(gearmand not installed)"
	if [ -n "$why" ]; then
		row "$what" "-" "-" "-" "$why"
		row "subscribe_fanout jobs/s, $IF in flight" "-" "-" "-" "$why"
		row "unsubscribe_fanout jobs/s, $IF in flight" "-" "-" "-" "$why"
		return 0
	fi
	bare=$(measure copies_rate fanout_once bare)
	if [ ! -x "$FANOUT" ]; then
		why="(gearhorn-fanout not built)"
		row "$what" "-" "$bare" "-" "$why"
		row "subscribe_fanout jobs/s, $IF in flight" "-" "-" "-" "$why"
		row "unsubscribe_fanout jobs/s, $IF in flight" "-" "-" "-" "$why"
		return 0
	fi
	ours=$(measure copies_rate fanout_once worker)
	row "$what" "$ours" "$bare" "$(ratio "$ours" "$bare")" "$(target "$(ratio "$ours" "$bare")" ">=" 0.90)"
	for i in $(seq 1 "$RUNS"); do fanout_once subscribe >"$GH_TMP/subscribe-$i.out"; done
	sub=$(cat "$GH_TMP"/subscribe-*.out | grep '^mode=subscribe ' | field rate | median)
	unsub=$(cat "$GH_TMP"/subscribe-*.out | grep '^mode=unsubscribe ' | field rate | median)
	row "subscribe_fanout jobs/s, $IF in flight" "$sub" "-" "-" "-"
	row "unsubscribe_fanout jobs/s, $IF in flight" "$unsub" "-" "-" "-"
}

# Bridge: a gearman client's foreground jobs (add_task x IG + run_tasks, in
# rounds) through gearhorn-bridge, the router and a job manager running the
# builtin echo (the pipelined stack of the rows above: JOBS workers, prefetch
# PREFETCH), against the same client and one bench_gearman echo worker
# directly behind gearmand (the anchor "add_task x100 + run_tasks, 1 worker").
# One worker is the baseline's limit: the bridge registers max_in_flight
# workers, and gearmand with 4 or more echo workers ran ~2.5x as fast.
# The bridge runs with [bridge] max_in_flight BRIDGE_MIF (BENCH_BRIDGE_MIF):
# 16, 32 and 64 measured within noise of each other; 32 was a little ahead.
# Every result must equal its workload; a run with a failed or wrong job
# counts for nothing.
BG=$top_builddir/tests/bench/bench_gearman
BRIDGE=$top_builddir/bridge/gearhorn-bridge
NG=${BENCH_NG:-20000}          # jobs per run
IG=${BENCH_IG:-100}            # jobs per round (in flight)
BRIDGE_MIF=${BENCH_BRIDGE_MIF:-32}

gearman_once() { # gearman_once PORT FUNCTION: one client run; no line if it failed
	local out
	out=$("$BG" client -s "127.0.0.1:$1" -f "$2" -n "$NG" -i "$IG") ||
		{ echo "bench: bench_gearman client -f $2 failed: $out" >&2; return 0; }
	printf '%s\n' "$out"
}

# registered PORT FUNCTION N: gearmand has N workers of FUNCTION
registered() {
	gh_gearman_admin "$1" status | awk -v f="$2" -v n="$3" '$1 == f && $4 >= n {r = 1} END {exit !r}'
}

bridge_rows() {
	local what="gearman client -> bridge -> router -> JM -> back, jobs/s" why="" port wpid bpid
	local direct ours r met
	local how="  bridge max_in_flight $BRIDGE_MIF; JM prefetch ${PREFETCH:-256}, ${JOBS:-8} workers"
	[ -x "$BG" ] || why="(bench_gearman not built)"
	[ -z "$why" ] && [ ! -x "$GEARMAND" ] && why="(gearmand not installed)"
	if [ -n "$why" ]; then
		row "$what" "-" "-" "-" "$why"
		return 0
	fi
	gh_start_gearmand
	port=$GH_GEARMAND_PORT
	"$BG" worker -s "127.0.0.1:$port" -f echo 2>>"$GH_TMP/bench_gearman.log" &
	wpid=$!
	GH_PIDS+=("$wpid")
	gh_wait_for "registered $port echo 1" 10 || echo "bench: bench_gearman worker did not register echo" >&2
	direct=$(measure rate gearman_once "$port" echo)
	gh_stop_pid "$wpid"
	if [ ! -x "$BRIDGE" ] || [ ! -x "$ROUTER" ] || [ ! -x "$JM" ]; then
		gh_stop_pid "$GH_GEARMAND_PID"
		row "$what" "-" "$direct" "-" "(bridge, router or job manager not built)"
		return 0
	fi
	start_stack bridge "$PREFETCH"
	cat >"$GH_TMP/bridge.conf" <<-EOF
		[global]
		gearman_servers = 127.0.0.1:$port
		log_level = warn
		[bridge]
		to_zeromq = benchfn=bench@builtin:echo
		router_frontend = $front
		max_in_flight = $BRIDGE_MIF
	EOF
	"$BRIDGE" -c "$GH_TMP/bridge.conf" 2>"$GH_TMP/bridge.log" &
	bpid=$!
	GH_PIDS+=("$bpid")
	gh_wait_for "registered $port benchfn $BRIDGE_MIF" 10 ||
		echo "bench: gearhorn-bridge did not register benchfn $BRIDGE_MIF times" >&2
	ours=$(measure rate gearman_once "$port" benchfn)
	gh_stop_pid "$bpid"
	gh_stop_pid "$jpid"
	gh_stop_pid "$rpid"
	gh_stop_pid "$GH_GEARMAND_PID"
	r=-
	[ -n "$ours" ] && [ -n "$direct" ] && r=$(ratio "$ours" "$direct")
	row "$what" "${ours:--}" "${direct:--}" "$r" "$(target "$r" ">=" 0.70)"
	row "$how" "-" "-" "-" "-"
}

echo "gearhorn make bench: $(nproc) cores, $RUNS runs per figure (median)"
row "path" "ours" "baseline" "ratio" "target"

bare_p50=$(measure p50_us "$B" bare -n "$N1" -i 1)
bare_rate=$(measure rate "$B" bare -n "$NP" -i 1000)
drain_rate=$(measure rate "$B" bare-drain -n "$NP" -i 1000)
# The same three processes exchanging eMQP's messages with no logic behind
# them: what the protocol's shape costs before any router or job manager.
emqp_rate=$(measure rate "$B" bare-emqp -n "$NP" -i 1000)

if [ ! -x "$ROUTER" ] || [ ! -x "$JM" ]; then
	row "bare broker, 1 in flight, p50 us" "-" "$bare_p50" "-" "(router or job manager not built)"
	row "bare broker, 1000 in flight, round trips/s" "-" "$bare_rate" "-" "(router or job manager not built)"
	fanout_rows
	bridge_rows
	exit 0
fi

JOBS=${BENCH_JOBS:-8}             # worker processes of the job manager
PREFETCH=${BENCH_PREFETCH:-256}   # [jobmanager] prefetch for the pipelined figures
start_stack() { # start_stack NAME PREFETCH [ENV...]: a router and a job manager; sets front, rpid
	local name=$1 prefetch=$2
	shift 2
	front=tcp://127.0.0.1:$(gh_free_port)
	local back=tcp://127.0.0.1:$(gh_free_port) admin=tcp://127.0.0.1:$(gh_free_port)
	env "$@" "$ROUTER" -c /dev/null -f "$front" -b "$back" -a "$admin" --max-length 1000000 \
		-l warn 2>"$GH_TMP/router-$name.log" &
	rpid=$!
	GH_PIDS+=("$rpid")
	GEARHORN_JOBMANAGER_PREFETCH=$prefetch "$JM" -c /dev/null -r "$back" -Q bench -j "$JOBS" \
		-l warn 2>"$GH_TMP/jm-$name.log" &
	jpid=$!
	GH_PIDS+=("$jpid")
	sleep 1
}
start_stack default 0

ours_p50=$(measure p50_us "$B" router "$front" -q bench -n "$N1" -i 1)
default_rate=$(measure rate "$B" router "$front" -q bench -n "$NP" -i 1000)

# Idle: CPU time the router spends in 5 s with peers connected and nothing to do.
# CPU time in nanoseconds of all the router's threads (schedstat: finer
# than the clock ticks of /proc/PID/stat, which would round 5 s to 0.2 %).
cpu_ns() { cat /proc/"$rpid"/task/*/schedstat | awk '{s += $1} END {print s}'; }
t0=$(cpu_ns)
sleep 5
t1=$(cpu_ns)
idle=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 5e9 * 100 }')
gh_stop_pid "$jpid"
gh_stop_pid "$rpid"

start_stack prefetch "$PREFETCH"
ours_rate=$(measure rate "$B" router "$front" -q bench -n "$NP" -i 1000)
gh_stop_pid "$jpid"
gh_stop_pid "$rpid"
row "client->router->jobmanager->echo->client, 1000 in flight/s" "$ours_rate" "$bare_rate" \
	"$(ratio "$ours_rate" "$bare_rate")" "$(target "$(ratio "$ours_rate" "$bare_rate")" ">=" 0.40)"
row "  the same with prefetch 0 (the default)" "$default_rate" "$bare_rate" \
	"$(ratio "$default_rate" "$bare_rate")" "-"
row "  ours against a draining bare broker (stricter)" "$ours_rate" "$drain_rate" \
	"$(ratio "$ours_rate" "$drain_rate")" "-"
row "  draining broker carrying eMQP's messages, no logic/s" "$emqp_rate" "$drain_rate" \
	"$(ratio "$emqp_rate" "$drain_rate")" "-"
row "  ours against that eMQP floor" "$ours_rate" "$emqp_rate" \
	"$(ratio "$ours_rate" "$emqp_rate")" "-"
row "same, 1 in flight, p50 us" "$ours_p50" "$bare_p50" "$(ratio "$ours_p50" "$bare_p50")" \
	"$(target "$(ratio "$ours_p50" "$bare_p50")" "<=" 2.5)"
row "router idle, % of a core" "$idle" "-" "-" "$(target "$idle" "<" 0.5)"

# The journal: guarantee jobs, 1000 in flight, journal off and on.
start_stack nojournal "$PREFETCH"
off=$(measure rate "$B" router "$front" -q bench -g -n "$NP" -i 1000)
gh_stop_pid "$jpid"
gh_stop_pid "$rpid"
start_stack journal "$PREFETCH" GEARHORN_ROUTER_JOURNAL=true GEARHORN_ROUTER_JOURNAL_PATH="$GH_TMP/journal.db"
on=$(measure rate "$B" router "$front" -q bench -g -n "$NP" -i 1000)
gh_stop_pid "$jpid"
gh_stop_pid "$rpid"
row "guarantee jobs/s, journal on (baseline: journal off)" "$on" "$off" "$(ratio "$on" "$off")" \
	"$(target "$(ratio "$on" "$off")" ">=" 0.50)"

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
row "router bytes per buffered job beyond its ${body}-byte body" "$per" "-" "-" \
	"$(target "$per" "<=" 400)"

fanout_rows
bridge_rows
