#!/bin/sh
# bench/bench.sh: the table of shared/BENCHMARK.md, run side by side on one
# machine: turnd, coturn (Debian's turnserver, when installed) and, where it
# applies, bench/fwd, a bare recvmmsg/sendmmsg UDP forwarder (what the
# machine can do). docs/BENCHMARKS.md describes the method and the knobs.
#
# Each round runs every figure against turnd, then coturn, then the bare
# forwarder (A B C A B C ...); the table quotes the median over the rounds.
# The same alternation compares two builds of turnd: with
# BENCH_SERVERS="turnd turnd_base" and TURND_BASE=/path/to/other/turnd, the
# second one runs as turnd_base (same configuration, same pinning) next to
# turnd in every round (the order flips every other round: a fixed order
# biases the ratio), gets its own column, and a list under the table
# gives turnd/turnd_base for each figure (make bench-ab does that for the
# figures (a) and (c)).
# Servers run on core 1 with one relay thread, turnload and the echo peer
# (turnpeer) on core 0. Everything is on loopback, every command has a
# timeout, and whatever was started is stopped on exit.
#
# Programs, from the environment (make bench sets them) or the current
# directory: TURND TURNPEER TURNPROBE TURNLOAD BENCH_FWD.
#
# Knobs: BENCH_ROUNDS (5), BENCH_SECONDS (5, per measurement),
# BENCH_SMOKE=1 (one short round, small N: proves every step runs),
# BENCH_OUT (table file; default bench/out/latest.md),
# BENCH_SERVERS ("turnd coturn fwd"; any of turnd, turnd_base, coturn, fwd,
# in the order they run each round), TURND_BASE (the turnd_base binary),
# BENCH_FIGURES ("a b c d e f g h i j k"; only those figures are measured
# and shown; (i) to (k), the kernel fast path's, run in network namespaces
# after the others: bench/offload.sh and its knobs), and the others listed
# under "Knobs" below.
set -u

# ---------------------------------------------------------------------------
# Knobs.

SMOKE=${BENCH_SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
	d_rounds=1 d_secs=1 d_probe=1 d_steps=1 d_sessions=4 d_mem=200 d_hold=500
	d_uc_m=2 d_uc_n=50 d_timeout=240
else
	d_rounds=5 d_secs=5 d_probe=2 d_steps=5 d_sessions="4 64" d_mem="1000 10000" d_hold=50000
	d_uc_m=40 d_uc_n=2000 d_timeout=10800
fi
ROUNDS=${BENCH_ROUNDS:-$d_rounds}
SECS=${BENCH_SECONDS:-$d_secs}
PROBE_SECS=${BENCH_PROBE_SECONDS:-$d_probe}    # one step of the paced-rate bisection
STEPS=${BENCH_BISECT_STEPS:-$d_steps}         # bisection steps per paced figure
SESSIONS=${BENCH_SESSIONS:-$d_sessions}       # sessions for figures (a) and (b)
PAYLOAD=${BENCH_PAYLOAD:-120}
# Round trips/s for figure (c), one row each: a light load, where every
# datagram costs a wake-up, and a heavier one (two thirds of coturn's
# paced maximum here), where batches form. Both servers must carry each.
CPU_RATE=${BENCH_CPU_RATE:-20000 50000}
# turnd's (c) again with rx-coalesce-us set to this (by a reload); 0: not.
COALESCE_US=${BENCH_COALESCE_US:-200}
LAT_RATE=${BENCH_LAT_RATE:-}                  # round trips/s for (f); default half the max
ALLOC_SESSIONS=${BENCH_ALLOC_SESSIONS:-64}    # clients in figure (d)
MEM_N=${BENCH_MEM_N:-$d_mem}                  # allocations held in figure (e)
HOLD=${BENCH_HOLD:-$d_hold}                   # allocations held in figure (g)
HOLD_TIMEOUT=${BENCH_HOLD_TIMEOUT:-300}       # seconds to set up figure (g)
RELAY_IPS=${BENCH_RELAY_IPS:-4}               # relay addresses 127.0.0.2 ...
UC_M=${BENCH_UCLIENT_M:-$d_uc_m}              # figure (h): turnutils_uclient -m, -n
UC_N=${BENCH_UCLIENT_N:-$d_uc_n}
PIN=${BENCH_PIN:-1}                           # 0: unpinned, servers on every core
SERVERS=${BENCH_SERVERS:-"turnd coturn fwd"} # fwd: the bare forwarder
TURND_BASE=${TURND_BASE:-}                    # the build that runs as turnd_base
FIGURES=${BENCH_FIGURES:-"a b c d e f g h i j k"} # which figures to measure
TOTAL_TIMEOUT=${BENCH_TIMEOUT:-$d_timeout}    # the whole run

MIN_PORT=10000 # relay ports, per relay address; below the ephemeral range
MAX_PORT=29999
USER_NAME=user
USER_PASS=pass
REALM=bench

here=$(cd "$(dirname "$0")" && pwd)
TURND=${TURND:-./turnd}
TURNPEER=${TURNPEER:-./turnpeer}
TURNPROBE=${TURNPROBE:-./turnprobe}
TURNLOAD=${TURNLOAD:-./turnload}
BENCH_FWD=${BENCH_FWD:-./bench/fwd}
OUT=${BENCH_OUT:-$here/out/latest.md}

# The whole run is bounded: run again under timeout(1). --foreground keeps
# Ctrl-C working; the EXIT trap below stops what the script started.
if [ -z "${BENCH_BOUNDED:-}" ]; then
	BENCH_BOUNDED=1 exec timeout --foreground -k 20 "$TOTAL_TIMEOUT" sh "$0" "$@"
fi

for p in "$TURND" "$TURNPEER" "$TURNPROBE" "$TURNLOAD" "$BENCH_FWD" ${TURND_BASE:+"$TURND_BASE"}; do
	if [ ! -x "$p" ]; then
		echo "bench: $p is not built (make turnd turnpeer turnprobe turnload bench/fwd)" >&2
		exit 2
	fi
done
for t in python3 taskset timeout ss; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing" >&2; exit 2; }
done
HAVE_COTURN=""
command -v turnserver >/dev/null && HAVE_COTURN=1
HAVE_UCLIENT=""
command -v turnutils_uclient >/dev/null && HAVE_UCLIENT=1
IMPLS="" RUN_FWD=""
for s in $SERVERS; do
	case "$s" in
	turnd) IMPLS="$IMPLS turnd" ;;
	turnd_base)
		if [ -z "$TURND_BASE" ]; then
			echo "bench: BENCH_SERVERS has turnd_base: set TURND_BASE to its turnd binary" >&2
			exit 2
		fi
		IMPLS="$IMPLS turnd_base" ;;
	coturn) [ -n "$HAVE_COTURN" ] && IMPLS="$IMPLS coturn" ;;
	fwd) RUN_FWD=1 ;;
	*) echo "bench: BENCH_SERVERS: unknown server '$s'" >&2; exit 2 ;;
	esac
done
for f in $FIGURES; do
	case "$f" in
	[a-k]) ;;
	*) echo "bench: BENCH_FIGURES: unknown figure '$f' (a to k)" >&2; exit 2 ;;
	esac
done
# Figures (i), (j), (k), the kernel fast path's, in namespaces of their own.
. "$here/offload.sh"
# want FIGURE...: one of these figures was asked for.
want() {
	for _w in "$@"; do
		case " $FIGURES " in *" $_w "*) return 0 ;; esac
	done
	return 1
}
# The forwarder measures only the relay figures: (a), (c) and (f).
want a c f || RUN_FWD=""

if [ "$PIN" = 1 ]; then
	PIN_LOAD="taskset -c 0" PIN_SRV="taskset -c 1" THREADS=1
else
	PIN_LOAD="" PIN_SRV="" THREADS=0
fi

W=$(mktemp -d /tmp/turnd-bench.XXXXXX)
RAW=$W/raw.log       # every command and what it printed
RESULTS=$W/results   # figure impl round value
NOTES=$W/notes       # what went wrong, for the report
META=$W/meta         # machine facts
: >"$RESULTS"
: >"$NOTES"
: >"$META"

# Run copies of the programs: a rebuild in the tree during a long run must
# not change the binary between rounds.
mkdir "$W/bin"
cp "$TURND" "$TURNPEER" "$TURNPROBE" "$TURNLOAD" "$BENCH_FWD" "$W/bin/" || exit 1
if [ -n "$TURND_BASE" ]; then
	TURND_BASE_SRC=$TURND_BASE # for the record
	cp "$TURND_BASE" "$W/bin/turnd_base" || exit 1
	TURND_BASE=$W/bin/turnd_base
fi
TURND=$W/bin/$(basename "$TURND") TURNPEER=$W/bin/$(basename "$TURNPEER")
TURNPROBE=$W/bin/$(basename "$TURNPROBE") TURNLOAD=$W/bin/$(basename "$TURNLOAD")
BENCH_FWD=$W/bin/$(basename "$BENCH_FWD")

# ---------------------------------------------------------------------------
# Processes. Long-lived ones (servers, peer, forwarder, held loads) run
# under timeout(1) so that nothing outlives the run even if this shell is
# killed; PIDS lists the timeout processes, which pass a TERM on.

PIDS=""

cleanup() {
	trap - EXIT INT TERM HUP
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			alive "$p" || break
			sleep 0.1
		done
		for c in $(children "$p"); do kill -KILL "$c" 2>/dev/null; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=""
	ofl_teardown # bench/offload.sh: its namespaces, bpf_stats_enabled
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "bench: work files kept in $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# alive PID: running, not a zombie waiting to be reaped.
alive() {
	st=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# spawn BOUND OUTFILE CMD...: run CMD in the background under timeout;
# SPAWN_PID is the timeout process, SPAWN_CHILD the command itself (for
# /proc figures; taskset execs the program, so it is the program).
spawn() {
	bound=$1 outfile=$2
	shift 2
	timeout -k 5 "$bound" "$@" >"$outfile" 2>&1 &
	SPAWN_PID=$!
	PIDS="$PIDS $SPAWN_PID"
	SPAWN_CHILD=""
	for _ in $(seq 1 50); do
		SPAWN_CHILD=$(children "$SPAWN_PID")
		SPAWN_CHILD=${SPAWN_CHILD%% *}
		[ -n "$SPAWN_CHILD" ] && break
		alive "$SPAWN_PID" || break
		sleep 0.02
	done
}

# children PID: the processes PID started.
children() { cat "/proc/$1/task/$1/children" 2>/dev/null; }

# stop PID [TENTHS]: TERM (timeout passes it on), then KILL after TENTHS/10
# seconds (default 5 s), the command first: timeout cannot pass a KILL on.
stop() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 1 "${2:-50}"); do
		alive "$1" || break
		sleep 0.1
	done
	for c in $(children "$1"); do kill -KILL "$c" 2>/dev/null; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	PIDS=$(echo " $PIDS " | sed "s/ $1 / /")
}

# A port free for UDP and TCP on loopback whose next port is free too
# (coturn also listens on port + 1), never one handed out before.
PORTS_TAKEN=""
free_port() {
	for _ in $(seq 1 100); do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 10000))
		case " $PORTS_TAKEN " in *" $p "* | *" $((p - 1)) "* | *" $((p + 1)) "*) continue ;; esac
		if ! ss -Hluntap 2>/dev/null | awk '{print $5}' | grep -qE ":($p|$((p + 1)))\$"; then
			PORTS_TAKEN="$PORTS_TAKEN $p"
			echo "$p"
			return 0
		fi
	done
	return 1
}

say() { echo "bench: $*"; echo "## $*" >>"$RAW"; }
# round_order LIST: LIST as it is in odd rounds ($ROUND), reversed in even ones.
round_order() {
	if [ $((ROUND % 2)) -eq 0 ]; then
		echo "$1" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }'
	else
		echo "$1"
	fi
}
note() { echo "- $*" >>"$NOTES"; echo "bench: note: $*"; }
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$ROUND" "$3" >>"$RESULTS"; }

# Float arithmetic and comparisons, by awk.
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }
calc_int() { awk "BEGIN { printf \"%d\", $1 }"; }
true_if() { awk "BEGIN { exit !($1) }"; }
num() { case "$1" in '' | nan | *[!0-9.eE+-]*) return 1 ;; esac; }

# jvals FILE KEY...: values from the last JSON object in FILE (a.b for
# nested keys), space separated, "nan" for one that is missing.
jvals() {
	python3 - "$@" <<'EOF'
import json, sys
obj = None
try:
    text = open(sys.argv[1], errors="replace").read()
except OSError:
    text = ""
# The last JSON object in the output, on one line or several.
starts = [i for i in range(len(text)) if text[i] == "{" and (i == 0 or text[i - 1] == "\n")]
for i in reversed(starts):
    try:
        obj = json.JSONDecoder().raw_decode(text[i:])[0]
        break
    except ValueError:
        pass
out = []
for key in sys.argv[2:]:
    v = obj
    for k in key.split("."):
        v = v.get(k) if isinstance(v, dict) else None
    out.append("nan" if not isinstance(v, (int, float)) else repr(float(v)))
print(" ".join(out))
EOF
}

# CPU time of a process in clock ticks (utime + stime, all threads).
proc_ticks() {
	[ -n "$1" ] || { echo 0; return; }
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# Busy and total ticks of cores 0 and 1, for the "who was the bottleneck" check.
cpu_snap() {
	awk '$1 == "cpu0" || $1 == "cpu1" { b = $2 + $3 + $4 + $7 + $8 + $9; printf "%d %d ", b, b + $5 + $6 }' /proc/stat
}
busy_pct() { # SNAP0 SNAP1 CORE -> percent busy in between
	echo "$1 $2" | awk -v c="$3" '{ i = 2 * c + 1; db = $(i + 4) - $i; dt = $(i + 5) - $(i + 1);
		printf "%.0f", (dt > 0 ? 100 * db / dt : 0) }'
}
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------
# Servers. start_server IMPL sets SRV_KIND, SRV_PID (timeout), SRV_CHILD
# (the server), SRV_PORT; the server answers STUN when it returns 0.

RELAY_LIST=""
i=2
while [ "$i" -le $((RELAY_IPS + 1)) ]; do
	RELAY_LIST="$RELAY_LIST 127.0.0.$i"
	i=$((i + 1))
done

# Where the servers listen, where the echo peer is, and the client source
# addresses turnload rotates through (CLIENT_NET + CLIENT_HOST0 and up):
# loopback here; bench/offload.sh sets them for its namespaces, with
# IN_CLIENT, the prefix that runs a command in the client's namespace.
LISTEN_IP=127.0.0.1 PEER_IP=127.0.0.1
CLIENT_NET=127.0.2. CLIENT_HOST0=1 CLIENT_HOSTS=250
IN_CLIENT="" TURND_EXTRA=""

start_turnd() { # BINARY; configuration and log named after SRV_KIND
	conf=$W/$SRV_KIND.conf
	{
		echo "listening-ip = { \"$LISTEN_IP\" }"
		echo "listening-port = $SRV_PORT"
		printf 'relay-ip = {'
		sep=" "
		for a in $RELAY_LIST; do printf '%s"%s"' "$sep" "$a"; sep=", "; done
		echo " }"
		echo "min-port = $MIN_PORT"
		echo "max-port = $MAX_PORT"
		echo "realm = \"$REALM\""
		echo "user = { \"$USER_NAME:$USER_PASS\" }"
		echo "allowed-peer-ip = { \"$PEER_IP\" }"
		echo "allow-own-peers = true"
		echo "legacy-channel-numbers = true"
		# A load of one user: no quota (the defaults, 32 per user
		# and 8192 in all, are for a public server).
		echo "user-quota = 0"
		echo "total-quota = 0"
		echo "relay-threads = $THREADS"
		echo "log-level = warn"
		# turnload is one source address making thousands of 401s a
		# second: the reflection limit would measure itself, not turnd.
		echo "unauth-rate = 0"
		[ -z "$TURND_EXTRA" ] || echo "$TURND_EXTRA"
	} >"$conf"
	echo "\$ $PIN_SRV $1 -c $conf   # $(tr '\n' ' ' <"$conf")" >>"$RAW"
	spawn "$TOTAL_TIMEOUT" "$W/$SRV_KIND.log" $PIN_SRV "$1" -c "$conf"
}

start_coturn() {
	set -- -n --listening-ip "$LISTEN_IP" -p "$SRV_PORT"
	for a in $RELAY_LIST; do set -- "$@" --relay-ip "$a"; done
	set -- "$@" --min-port "$MIN_PORT" --max-port "$MAX_PORT" \
		--allow-loopback-peers --lt-cred-mech --user "$USER_NAME:$USER_PASS" -r "$REALM" \
		--no-tls --no-dtls --no-cli --pidfile "$W/coturn.pid" --db "$W/coturn.db"
	[ "$THREADS" -gt 0 ] && set -- "$@" --relay-threads "$THREADS"
	# Logging off, as for turnd: coturn logs every session at its only level.
	if [ -n "${BENCH_COTURN_LOG:-}" ]; then
		set -- "$@" --log-file stdout
	else
		set -- "$@" --log-file /dev/null --simple-log --no-stdout-log
	fi
	echo "\$ $PIN_SRV turnserver $*" >>"$RAW"
	spawn "$TOTAL_TIMEOUT" "$W/coturn.log" $PIN_SRV turnserver "$@"
}

start_server() {
	SRV_KIND=$1
	SRV_PORT=$(free_port) || { note "no free port"; return 1; }
	case "$1" in
	turnd) start_turnd "$TURND" ;;
	turnd_on | turnd_off) start_turnd "$TURND" ;; # bench/offload.sh sets TURND_EXTRA
	turnd_base) start_turnd "$TURND_BASE" ;;
	coturn) start_coturn ;;
	esac
	SRV_PID=$SPAWN_PID SRV_CHILD=$SPAWN_CHILD
	for _ in $(seq 1 50); do
		if $IN_CLIENT "$TURNPROBE" stun "$LISTEN_IP:$SRV_PORT" --timeout 200 >/dev/null 2>&1; then
			return 0
		fi
		alive "$SRV_PID" || break
		sleep 0.1
	done
	note "$1 did not start on $LISTEN_IP:$SRV_PORT: $(tail -n 3 "$W/$1.log" | tr '\n' ' ')"
	stop "$SRV_PID"
	SRV_PID="" SRV_CHILD=""
	return 1
}

stop_server() {
	stop "$SRV_PID" 100
	SRV_PID="" SRV_CHILD=""
}

start_fwd() {
	SRV_KIND=fwd
	SRV_PORT=$(free_port) || return 1
	echo "\$ $PIN_SRV $BENCH_FWD -L $LISTEN_IP:$SRV_PORT -e $PEER_IP:$PEER_PORT" >>"$RAW"
	spawn "$TOTAL_TIMEOUT" "$W/fwd.log" $PIN_SRV "$BENCH_FWD" \
		-L "$LISTEN_IP:$SRV_PORT" -e "$PEER_IP:$PEER_PORT"
	SRV_PID=$SPAWN_PID SRV_CHILD=$SPAWN_CHILD
	for _ in $(seq 1 50); do
		grep -q listening "$W/fwd.log" && return 0
		alive "$SRV_PID" || break
		sleep 0.1
	done
	note "bench/fwd did not start: $(tail -n 3 "$W/fwd.log" | tr '\n' ' ')"
	return 1
}

# ---------------------------------------------------------------------------
# Load. target_args MODE [BIND]: turnload's arguments that name the server
# (or the forwarder, or the peer itself for the no-relay baseline). Each
# run against a server sends from its own source address 127.0.2.x (in
# the namespaces of bench/offload.sh, another client address) unless BIND
# says otherwise: a run that reused the 5-tuple of an allocation an
# earlier run left behind would get 437 (Allocation Mismatch).
target_args() {
	case "$SRV_KIND" in
	turnd | turnd_base | turnd_on | turnd_off | coturn)
		echo "-u $USER_NAME -w $USER_PASS -e $PEER_IP:$PEER_PORT $1" \
			"-b ${2:-$CLIENT_NET$((RUN_NO % CLIENT_HOSTS + CLIENT_HOST0))} $LISTEN_IP:$SRV_PORT" ;;
	fwd) echo "--raw $LISTEN_IP:$SRV_PORT" ;;
	base) echo "--raw $PEER_IP:$PEER_PORT" ;;
	esac
}

# Seconds of CPU this shell's finished children used so far, from the
# times builtin's second line; not in $(...), whose subshell has no children.
child_cpu() { # FILE
	times >"$1"
	awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$1"
}
now_s() { date +%s.%N; }

# load TAG SECONDS ARGS...: one turnload run on the load core, bounded;
# its JSON in $W/TAG.json. Sets TICKS (server CPU ticks meanwhile),
# BUSY_SRV and BUSY_LOAD (percent busy of the two cores, whoever used
# them: the machine may be shared), and CPU_SRV, CPU_LOAD, CPU_PEER (the
# server, turnload and turnpeer, in percent of one core).
RUN_NO=0
load() {
	tag=$1 secs=$2
	shift 2
	RUN_NO=$((RUN_NO + 1))
	LOAD_OUT=$W/$RUN_NO-$tag.json
	echo "\$ $PIN_LOAD turnload --json -q $*" >>"$RAW"
	c0=$(cpu_snap)
	t0=$(proc_ticks "$SRV_CHILD")
	p0=$(proc_ticks "$PEER_CHILD")
	child_cpu "$W/times0" >"$W/cpu0"
	w0=$(now_s)
	timeout --foreground -k 2 $((secs + 30)) $PIN_LOAD "$TURNLOAD" --json -q "$@" \
		>"$LOAD_OUT" 2>"$LOAD_OUT.err"
	rc=$?
	t1=$(proc_ticks "$SRV_CHILD")
	p1=$(proc_ticks "$PEER_CHILD")
	w1=$(now_s)
	child_cpu "$W/times1" >"$W/cpu1"
	l0=$(cat "$W/cpu0") l1=$(cat "$W/cpu1")
	c1=$(cpu_snap)
	TICKS=$((${t1:-0} - ${t0:-0}))
	BUSY_LOAD=$(busy_pct "$c0" "$c1" 0)
	BUSY_SRV=$(busy_pct "$c0" "$c1" 1)
	# Shares of the whole run, set-up and drain included, so a little low.
	CPU_SRV=$(calc "100 * $TICKS / $CLK_TCK / ($w1 - $w0)")
	CPU_PEER=$(calc "100 * (${p1:-0} - ${p0:-0}) / $CLK_TCK / ($w1 - $w0)")
	CPU_LOAD=$(calc "100 * ($l1 - $l0) / ($w1 - $w0)")
	# For bench/offload.sh: turnload's CPU seconds, turnpeer's ticks, the wall time.
	LOAD_S=$(calc "$l1 - $l0") PEER_TICKS=$((${p1:-0} - ${p0:-0})) WALL_S=$(calc "$w1 - $w0")
	{
		cat "$LOAD_OUT"
		tail -n 5 "$LOAD_OUT.err"
		echo "  (exit $rc; server CPU ticks $TICKS; CPU: server $CPU_SRV%, turnload $CPU_LOAD%, turnpeer $CPU_PEER%; core 1 busy $BUSY_SRV%, core 0 busy $BUSY_LOAD%)"
	} >>"$RAW"
	[ "$rc" -eq 0 ] || note "turnload $tag exited $rc: $(tail -n 2 "$LOAD_OUT.err" | tr '\n' ' ')"
	return "$rc"
}

# ---------------------------------------------------------------------------
# Figures. Each records its value with rec, or "fail".

# (a)/(b) saturated: flood, relayed packets/s = 2 x echoes received/s.
# Sets SAT_RT (round trips/s) for the bisection and the latency figure.
fig_saturated() { # FIGURE SESSIONS MODE
	SAT_RT=""
	load "$SRV_KIND-$1" "$SECS" -n "$2" -l "$PAYLOAD" -r 0 -d "$SECS" \
		$(target_args "$3") || { rec "$1" "$SRV_KIND" fail; return; }
	set -- "$1" $(jvals "$LOAD_OUT" recv_pps send_pps loss_pct)
	if num "$2" && true_if "$2 > 0"; then
		SAT_RT=$2
		rec "$1" "$SRV_KIND" "$(calc "2 * $2")"
		rec "$1.busy_srv" "$SRV_KIND" "$BUSY_SRV"
		rec "$1.busy_load" "$SRV_KIND" "$BUSY_LOAD"
		rec "$1.cpu_srv" "$SRV_KIND" "$CPU_SRV"
		rec "$1.cpu_load" "$SRV_KIND" "$CPU_LOAD"
		rec "$1.cpu_peer" "$SRV_KIND" "$CPU_PEER"
		rec "$1.send_pps" "$SRV_KIND" "$3"
	else
		rec "$1" "$SRV_KIND" fail
	fi
}

# (a)/(b) the highest paced rate with at most 0.1% loss: bisection between
# 1/4 and 5/4 of the saturated rate, STEPS runs of PROBE_SECS. A step
# counts as carried only if turnload really offered the rate (>= 90%: its
# pacing starts a little slow).
fig_paced_max() { # FIGURE SESSIONS MODE SATURATED_RT
	if ! num "$4"; then
		rec "$1" "$SRV_KIND" fail
		return
	fi
	lo=$(calc "$4 / 4") hi=$(calc "$4 * 5 / 4") best=0
	for _ in $(seq 1 "$STEPS"); do
		mid=$(calc_int "($lo + $hi) / 2")
		ok=""
		if load "$SRV_KIND-$1-at-$mid" "$PROBE_SECS" -n "$2" -l "$PAYLOAD" -r "$mid" \
			-d "$PROBE_SECS" $(target_args "$3"); then
			set -- "$1" "$2" "$3" "$4" $(jvals "$LOAD_OUT" loss_pct send_pps received)
			if num "$5" && num "$6" && true_if "$5 <= 0.1 && $6 >= 0.9 * $mid && $7 > 0"; then
				ok=1
			fi
		fi
		if [ -n "$ok" ]; then
			best=$mid lo=$mid
		else
			hi=$mid
		fi
	done
	rec "$1" "$SRV_KIND" "$(calc "2 * $best")"
	[ "$best" = 0 ] && note "$SRV_KIND round $ROUND: $1: no paced rate carried (lowest tried $mid/s)"
	true_if "$best > 0 && $best >= $4 * 1.2" &&
		note "$SRV_KIND round $ROUND: $1: every step carried; the bisection's top (5/4 of saturated) bounds it"
	return 0
}

# (c) server CPU per relayed packet at each CPU_RATE round trips/s, 4
# sessions; for turnd (either build), then again with rx-coalesce-us =
# COALESCE_US, set and unset by reloads (SIGHUP) of the running server.
fig_cpu() {
	fig_cpu_rates cpu
	case "$SRV_KIND" in turnd | turnd_base) ;; *) return 0 ;; esac
	[ "$COALESCE_US" -gt 0 ] || return 0
	echo "rx-coalesce-us = $COALESCE_US" >>"$W/$SRV_KIND.conf"
	echo "\$ echo 'rx-coalesce-us = $COALESCE_US' >>$SRV_KIND.conf; kill -HUP $SRV_KIND" >>"$RAW"
	kill -HUP "$SRV_CHILD"
	sleep 1.5 # the reload, and a tick to see the worker busy
	fig_cpu_rates cpu_co
	sed -i '/^rx-coalesce-us/d' "$W/$SRV_KIND.conf"
	kill -HUP "$SRV_CHILD"
	sleep 0.5
}

fig_cpu_rates() { # FIGURE-PREFIX
	for rate in $CPU_RATE; do
		if ! load "$SRV_KIND-$1-$rate" "$SECS" -n 4 -l "$PAYLOAD" -r "$rate" -d "$SECS" \
			$(target_args ""); then
			rec "$1_$rate" "$SRV_KIND" fail
			continue
		fi
		set -- "$1" $(jvals "$LOAD_OUT" received loss_pct)
		if num "$2" && true_if "$2 > 0"; then
			true_if "$3 > 0.1" &&
				note "$SRV_KIND round $ROUND: $3% lost at the CPU figure's $rate/s ($1)"
			rec "$1_$rate" "$SRV_KIND" "$(calc "$TICKS / $CLK_TCK * 1e6 / (2 * $2)")"
		else
			rec "$1_$rate" "$SRV_KIND" fail
		fi
	done
}

# offered_ok RATE WHAT: note it when the last turnload run did not manage
# to offer RATE (then it measured a busy machine, not the relay).
offered_ok() {
	[ -n "$1" ] || return 0
	set -- "$1" "$2" $(jvals "$LOAD_OUT" send_pps)
	num "$3" && true_if "$3 >= 0.9 * $1" && return 0
	note "round $ROUND: $2 offered ${3:-?}/s of $1/s"
}

# (f) latency added by the relay: p50/p99/p99.9 at RATE round trips/s
# (4 sessions), minus the same run straight to the echo peer (--raw).
fig_latency() { # RATE
	rate=$1
	load "$SRV_KIND-latency-at-$rate" "$SECS" -n 4 -l "$PAYLOAD" -r "$rate" -d "$SECS" \
		$(target_args "") || rate=""
	relay=$(jvals "$LOAD_OUT" latency_us.p50 latency_us.p99 latency_us.p999)
	offered_ok "$rate" "$SRV_KIND latency run"
	kind=$SRV_KIND
	SRV_KIND=base
	saved=$SRV_CHILD
	SRV_CHILD=""
	[ -n "$rate" ] && load "base-latency-at-$rate" "$SECS" -n 4 -l "$PAYLOAD" -r "$rate" \
		-d "$SECS" $(target_args "") || rate=""
	base=$(jvals "$LOAD_OUT" latency_us.p50 latency_us.p99 latency_us.p999)
	offered_ok "$rate" "no-relay latency baseline for $kind"
	SRV_KIND=$kind
	SRV_CHILD=$saved
	set -- $relay $base
	for f in "lat_p50 $1 $4" "lat_p99 $2 $5" "lat_p999 $3 $6"; do
		set -- $f
		if [ -n "$rate" ] && num "$2" && num "$3"; then
			rec "$1" "$SRV_KIND" "$(calc "$2 - $3")"
			rec "$1.abs" "$SRV_KIND" "$2"
		else
			rec "$1" "$SRV_KIND" fail
		fi
	done
	rec lat_rate "$SRV_KIND" "${rate:-fail}"
}

# (d) allocations per second: Allocate (401, then again with credentials)
# and Refresh 0, over and over, from ALLOC_SESSIONS clients.
fig_alloc() {
	load "$SRV_KIND-alloc" "$SECS" -a -n "$ALLOC_SESSIONS" -d "$SECS" \
		$(target_args "") || { rec alloc "$SRV_KIND" fail; return; }
	set -- $(jvals "$LOAD_OUT" alloc_per_s alloc_failed)
	if num "$1" && true_if "$1 > 0"; then
		rec alloc "$SRV_KIND" "$1"
		num "$2" && true_if "$2 > 0" && note "$SRV_KIND round $ROUND: $2 allocations failed in (d)"
	else
		rec alloc "$SRV_KIND" fail
	fi
}

# hold N TIMEOUT: turnload -m in the background until it prints "holding K
# allocations" (each with a permission and a channel). One turnload holds
# at most HOLD_PER_PROC, from its own source address 127.0.1.k: a process
# has one socket per allocation and ulimit -n caps its descriptors. Sets
# HELD (the sum of K, or empty if a turnload never got there), HOLD_PIDS,
# HOLD_OUTS; stop_hold stops them.
hold() {
	parts=$((($1 + HOLD_PER_PROC - 1) / HOLD_PER_PROC))
	HOLD_PIDS="" HOLD_OUTS=""
	k=1
	while [ "$k" -le "$parts" ]; do
		n=$(($1 / parts))
		[ "$k" -le $(($1 % parts)) ] && n=$((n + 1))
		RUN_NO=$((RUN_NO + 1))
		o=$W/$RUN_NO-$SRV_KIND-hold-$1-part$k.out
		echo "\$ $PIN_LOAD turnload -m $n -d $(($2 + 30)) $(target_args "" "127.0.1.$k")" >>"$RAW"
		spawn $(($2 + 60)) "$o" $PIN_LOAD "$TURNLOAD" -m "$n" -d $(($2 + 30)) \
			$(target_args "" "127.0.1.$k")
		HOLD_PIDS="$HOLD_PIDS $SPAWN_PID" HOLD_OUTS="$HOLD_OUTS $o"
		k=$((k + 1))
	done
	t=0
	while [ "$t" -lt $(($2 * 5)) ]; do
		HELD=0 waiting=""
		for o in $HOLD_OUTS; do
			h=$(sed -n 's/.*holding \([0-9][0-9]*\) allocation.*/\1/p' "$o" | tail -n 1)
			if [ -n "$h" ]; then HELD=$((HELD + h)); else waiting=1; fi
		done
		[ -z "$waiting" ] && break
		running=""
		for p in $HOLD_PIDS; do alive "$p" && running=1; done
		[ -z "$running" ] && break
		sleep 0.2
		t=$((t + 1))
	done
	for o in $HOLD_OUTS; do tail -n 3 "$o"; done >>"$RAW"
	if [ -n "$waiting" ]; then
		echo "  (not all turnloads report holding after ~$((t / 5)) s; those that did: $HELD)" >>"$RAW"
		HOLD_PARTIAL=$HELD
		HELD=""
	else
		echo "  (held: $HELD after ~$((t / 5)) s)" >>"$RAW"
		sleep 1 # let the server settle before RSS is read
	fi
}

# The last lines the held loads printed, on one line, for a note.
hold_tail() {
	for o in $HOLD_OUTS; do tail -n 2 "$o"; done | tr '\n' ' ' | cut -c 1-400
}

stop_hold() {
	for p in $HOLD_PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $HOLD_PIDS; do stop "$p" "$1"; done
	HOLD_PIDS=""
}

# (e) memory per allocation: (RSS holding N - RSS idle) / N, on a server
# started for this figure alone, so that nothing earlier is in its heap.
fig_memory() { # N
	fig=mem_$1
	start_server "$SRV_KIND" || { rec "$fig" "$SRV_KIND" fail; return; }
	sleep 0.5
	idle=$(rss_kib "$SRV_CHILD")
	hold "$1" $((30 + $1 / 100))
	if [ -n "$HELD" ] && [ "$HELD" -gt 0 ]; then
		full=$(rss_kib "$SRV_CHILD")
		rec "$fig" "$SRV_KIND" "$(calc "($full - $idle) * 1024 / $HELD")"
		[ "$HELD" -lt "$1" ] && note "$SRV_KIND round $ROUND: held $HELD of $1 allocations in (e)"
		echo "  RSS idle $idle KiB, holding $HELD: $full KiB" >>"$RAW"
	else
		rec "$fig" "$SRV_KIND" fail
		note "$SRV_KIND round $ROUND: turnload -m $1 never held its allocations: $(hold_tail)"
	fi
	stop_hold 100
	stop_server
}

# (g) concurrent allocations: HOLD idle allocations over RELAY_IPS relay
# addresses; what was held, and the RSS then. Whatever happens is recorded.
fig_concurrent() {
	start_server "$SRV_KIND" || { rec hold "$SRV_KIND" fail; return; }
	sleep 0.5
	idle=$(rss_kib "$SRV_CHILD")
	HOLD_PARTIAL=""
	hold "$HOLD" "$HOLD_TIMEOUT"
	full=$(rss_kib "$SRV_CHILD")
	if [ -n "$HELD" ]; then
		rec hold "$SRV_KIND" "$HELD"
		rec hold_rss "$SRV_KIND" "$(calc "$full / 1024")"
		[ "$HELD" -gt 0 ] && rec hold_per "$SRV_KIND" "$(calc "($full - $idle) * 1024 / $HELD")"
		[ "$HELD" -lt "$HOLD" ] && note "$SRV_KIND: held $HELD of $HOLD allocations in (g): $(hold_tail)"
	else
		rec hold "$SRV_KIND" fail
		[ -n "$full" ] && rec hold_rss "$SRV_KIND" "$(calc "$full / 1024")"
		alive "$SRV_PID" || note "$SRV_KIND died during (g): $(tail -n 3 "$W/$SRV_KIND.log" | tr '\n' ' ')"
		note "$SRV_KIND: not all of $HOLD allocations held within ${HOLD_TIMEOUT}s (the turnloads that finished hold ${HOLD_PARTIAL:-0}; server RSS ${full:-?} KiB); last lines: $(hold_tail)"
	fi
	stop_hold 300
	stop_server
}

# (h) coturn's turnutils_uclient as the load tool. Its own timings are in
# whole seconds, so the lines it prints are timestamped as they arrive:
# the transmit phase runs from its last "Total connect time" line to its
# closing "tot_send_msgs" line.
fig_uclient() {
	[ -n "$HAVE_UCLIENT" ] || { rec uclient "$SRV_KIND" fail; return; }
	RUN_NO=$((RUN_NO + 1))
	out=$W/$RUN_NO-$SRV_KIND-uclient.out
	set -- -u "$USER_NAME" -w "$USER_PASS" -e 127.0.0.1 -r "$PEER_PORT" -c -X \
		-m "$UC_M" -n "$UC_N" -l "$PAYLOAD" -z 0 -p "$SRV_PORT" 127.0.0.1
	echo "\$ $PIN_LOAD turnutils_uclient $*" >>"$RAW"
	res=$(python3 - "$out" 120 $PIN_LOAD stdbuf -oL -eL turnutils_uclient "$@" <<'EOF'
import re, subprocess, sys, threading, time
out, limit, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
timer = threading.Timer(limit, p.kill)
timer.start()
connected = done = None
sent = recv = dropped = None
with open(out, "w") as f:
    for line in p.stdout:
        t = time.monotonic() - t0
        f.write("%.3f %s" % (t, line))
        if "Total connect time" in line:
            connected = t
        m = re.search(r"start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", line)
        if m:
            done, sent, recv = t, int(m.group(1)), int(m.group(2))
        m = re.search(r"total send dropped (\d+)", line, re.I)
        if m:
            dropped = int(m.group(1))
p.wait()
timer.cancel()
if None in (connected, done, sent, recv) or done <= connected:
    print("fail %d" % p.returncode)
else:
    print("%d %d %d %.3f %.3f" % (sent, recv, dropped or 0, done - connected, time.monotonic() - t0))
EOF
)
	{ tail -n 6 "$out"; echo "  (sent recv dropped transmit_s wall_s: $res)"; } >>"$RAW"
	set -- $res
	if [ "$1" != fail ] && [ "$#" -eq 5 ]; then
		rec uclient "$SRV_KIND" "$(calc "2 * $2 / $4")"
		[ "$3" -gt 0 ] && note "$SRV_KIND round $ROUND: uclient send dropped $3 of $1"
		[ "$2" -lt "$1" ] && note "$SRV_KIND round $ROUND: uclient got $2 echoes of $1 sent"
	else
		rec uclient "$SRV_KIND" fail
		note "$SRV_KIND round $ROUND: turnutils_uclient failed: $(tail -n 2 "$out" | tr '\n' ' ')"
	fi
}

# (a) or (b), saturated then paced, for each of SESSIONS. FIRST_SAT keeps
# the round trips/s of the first saturated run, for (f).
fig_rates() { # MODE FLAG
	for s in $SESSIONS; do
		fig_saturated "${1}_sat_$s" "$s" "$2"
		[ -z "$FIRST_SAT" ] && FIRST_SAT=${SAT_RT:-none}
		fig_paced_max "${1}_max_$s" "$s" "$2" "$SAT_RT"
	done
}

# (f) at LAT_RATE, else at half of FIRST_SAT; when (a) was not asked for,
# that first saturated run is made here (its row is not shown). Returns 1
# when there is no rate to measure at.
fig_latency_auto() {
	rate=$LAT_RATE
	if [ -z "$rate" ] && [ -z "$FIRST_SAT" ]; then
		set -- $SESSIONS
		fig_saturated "relay_sat_$1" "$1" ""
		FIRST_SAT=${SAT_RT:-none}
	fi
	[ -z "$rate" ] && num "$FIRST_SAT" && rate=$(calc_int "$FIRST_SAT / 2")
	[ -n "$rate" ] || return 1
	fig_latency "$rate"
}

# Every per-round figure of one server, those of BENCH_FIGURES.
run_server_round() { # IMPL
	SRV_KIND=$1
	if want e; then for n in $MEM_N; do fig_memory "$n"; done; fi
	want a b c d f h || return 0
	start_server "$1" || {
		for f in relay ind; do
			for s in $SESSIONS; do rec "${f}_sat_$s" "$1" fail; rec "${f}_max_$s" "$1" fail; done
		done
		for f in cpu alloc lat_p50 lat_p99 lat_p999 uclient; do rec "$f" "$1" fail; done
		return
	}
	FIRST_SAT=""
	want a && fig_rates relay ""
	want b && fig_rates ind -s
	want c && fig_cpu
	if want f && ! fig_latency_auto; then
		for f in lat_p50 lat_p99 lat_p999; do rec "$f" "$1" fail; done
	fi
	want h && fig_uclient
	want d && fig_alloc # last: it churns the heap
	stop_server
}

# The forwarder's share of the figures: the relay ones, CPU and latency.
run_fwd_round() {
	start_fwd || {
		for s in $SESSIONS; do rec "relay_sat_$s" fwd fail; rec "relay_max_$s" fwd fail; done
		return
	}
	FIRST_SAT=""
	want a && fig_rates relay ""
	want c && fig_cpu
	want f && fig_latency_auto
	stop_server
	grep '^fwd:' "$W/fwd.log" | tail -n 1 >>"$RAW"
}

# ---------------------------------------------------------------------------
# Machine facts, recorded before and after.

udp_drops() {
	nstat -asz UdpRcvbufErrors UdpSndbufErrors 2>/dev/null |
		awk '$1 ~ /^Udp/ { printf "%s=%s ", $1, $2 }'
}

# Enough descriptors for the held allocations: one socket per allocation
# in the server and one per client in turnload. Root may raise the hard
# limit; otherwise the soft one goes as far as the hard one allows.
want_fds=$((2 * HOLD + 4096))
[ "$want_fds" -lt 65536 ] && want_fds=65536
ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
nofile=$(ulimit -n)
HOLD_PER_PROC=${BENCH_HOLD_PER_PROC:-15000}
[ "$HOLD_PER_PROC" -gt $((nofile - 1000)) ] && HOLD_PER_PROC=$((nofile - 1000))

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores"
	echo "kernel: $(uname -sr)"
	echo "turnd: $("$TURND" --version 2>&1 | head -n 1), source $(git -C "$here/.." describe --always --dirty 2>/dev/null || echo unknown)"
	if [ -n "$TURND_BASE" ]; then
		echo "turnd_base: $("$TURND_BASE" --version 2>&1 | head -n 1), $TURND_BASE_SRC$(cmp -s "$TURND" "$TURND_BASE" && echo " (the same binary as turnd)")"
	fi
	if [ -n "$HAVE_COTURN" ]; then
		echo "coturn: $(dpkg-query -W -f='${Version}' coturn 2>/dev/null || turnserver --version 2>&1 | head -n 1)"
	else
		echo "coturn: not installed (apt-get install coturn)"
	fi
	echo "net.core.rmem_max: $(cat /proc/sys/net/core/rmem_max)"
	echo "net.core.wmem_max: $(cat /proc/sys/net/core/wmem_max)"
	echo "ulimit -n: $nofile (hard $(ulimit -Hn)$([ "$nofile" -lt "$want_fds" ] && echo ", could not raise it to $want_fds"))"
	echo "pinning: $([ "$PIN" = 1 ] && echo "servers on core 1 (taskset -c 1, one relay thread), turnload and turnpeer on core 0" || echo "none, servers on every core")"
	echo "servers:$IMPLS${RUN_FWD:+ fwd}, in that order in odd rounds, reversed in even ones; figures: $FIGURES"
	echo "rounds: $ROUNDS; $SECS s per measurement, $STEPS bisection steps of $PROBE_SECS s; payload $PAYLOAD B"
	echo "relay addresses: $(echo $RELAY_LIST | tr ' ' ','), ports $MIN_PORT-$MAX_PORT each"
	echo "udp drops before: $(udp_drops)"
	echo "load average before (other work on the machine): $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$META"

# ---------------------------------------------------------------------------
# The run.

PEER_PORT=$(free_port) || { echo "bench: no free port" >&2; exit 1; }
echo "\$ $PIN_LOAD $TURNPEER -L 127.0.0.1 -p $PEER_PORT -q" >>"$RAW"
spawn "$TOTAL_TIMEOUT" "$W/peer.log" $PIN_LOAD "$TURNPEER" -L 127.0.0.1 -p "$PEER_PORT" -q
PEER_PID=$SPAWN_PID PEER_CHILD=$SPAWN_CHILD
sleep 0.2
alive "$PEER_PID" || { echo "bench: turnpeer did not start: $(cat "$W/peer.log")" >&2; exit 1; }

say "servers:$IMPLS${RUN_FWD:+ + bare forwarder}; figures: $FIGURES; $ROUNDS round(s) of $SECS s measurements; work files in $W"
case " $SERVERS " in *" coturn "*)
	[ -n "$HAVE_COTURN" ] || note "coturn is not installed: no coturn column (apt-get install coturn)" ;;
esac
start_s=$(date +%s)
ROUND=1
# The servers' order flips every other round (A B, B A, ...): a server
# measured second in a round was seen to show up to ~7% less CPU per
# packet than the same binary measured first (two runs of figure (c) with
# the order swapped), so a fixed order biases every ratio.
want a b c d e f h || ROUND=$((ROUNDS + 1)) # only (g) or (i)-(k)
while [ "$ROUND" -le "$ROUNDS" ]; do
	for impl in $(round_order "$IMPLS"); do
		say "round $ROUND/$ROUNDS: $impl ($(($(date +%s) - start_s)) s)"
		run_server_round "$impl"
	done
	if [ -n "$RUN_FWD" ]; then
		say "round $ROUND/$ROUNDS: bare forwarder ($(($(date +%s) - start_s)) s)"
		run_fwd_round
	fi
	ROUND=$((ROUND + 1))
done
ROUND=0
for impl in $IMPLS; do
	want g || break
	say "concurrent allocations: $impl holds $HOLD ($(($(date +%s) - start_s)) s)"
	SRV_KIND=$impl
	fig_concurrent
done
stop "$PEER_PID"
ofl_run
echo "udp drops after: $(udp_drops)" >>"$META"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
echo "duration: $(($(date +%s) - start_s)) s" >>"$META"

# ---------------------------------------------------------------------------
# The table: medians over the rounds, turnd against coturn and the bare
# forwarder, and whether each target of BENCHMARK.md is met.

mkdir -p "$(dirname "$OUT")"
python3 - "$RESULTS" "$META" "$NOTES" "$SESSIONS" "$MEM_N" "$HOLD" "$CPU_RATE" \
	"$ALLOC_SESSIONS" "$UC_M" "$UC_N" "$COALESCE_US" "$SERVERS" "$IMPLS" "$FIGURES" \
	"${TURND_BASE_SRC:-}" >"$OUT.tmp" <<'EOF'
import statistics, sys
results, meta, notes = sys.argv[1:4]
sessions, mem_n = sys.argv[4].split(), sys.argv[5].split()
hold, cpu_rate, alloc_sessions, uc_m, uc_n, coalesce_us = sys.argv[6:12]
servers, impls, figures = sys.argv[12].split(), sys.argv[13].split(), sys.argv[14].split()
base_src = sys.argv[15]

vals = {}  # (figure, impl) -> list of values or "fail"
by_round = {}  # (figure, impl) -> {round: value or "fail"}
for line in open(results):
    fig, impl, rnd, v = line.rstrip("\n").split("\t")
    try:
        v = float(v)
    except ValueError:
        v = "fail"
    vals.setdefault((fig, impl), []).append(v)
    by_round.setdefault((fig, impl), {})[rnd] = v

def median(fig, impl):
    vs = vals.get((fig, impl))
    if not vs:
        return None, ""
    nums = [v for v in vs if v != "fail"]
    if not nums:
        return "fail", ""
    tag = "" if len(nums) == len(vs) else " (%d/%d)" % (len(nums), len(vs))
    return statistics.median(nums), tag

def fmt(v, unit):
    if v is None:
        return "n/a"
    if v == "fail":
        return "fail"
    if unit == "us":
        return "%.2f" % v if abs(v) < 10 else "%.1f" % v
    if abs(v) >= 100:
        return "{:,.0f}".format(v)
    return "%.2f" % v

# id, label, unit, whether the forwarder runs it, target kind
rows = []
for mode, what in (("relay", "ChannelData"), ("ind", "Send/Data indications")):
    for s in sessions:
        rows.append(("%s_sat_%s" % (mode, s), "(%s) relayed pkt/s, %s, %s sessions, saturated"
                     % ("a" if mode == "relay" else "b", what, s), "pkt/s", mode == "relay",
                     "hi2" if mode == "ind" else "hi2fwd"))
        rows.append(("%s_max_%s" % (mode, s), "(%s) relayed pkt/s, %s, %s sessions, paced, <= 0.1%% loss"
                     % ("a" if mode == "relay" else "b", what, s), "pkt/s", mode == "relay",
                     "hi2" if mode == "ind" else "hi2fwd"))
for rate in cpu_rate.split():
    rows.append(("cpu_" + rate, "(c) server CPU per relayed packet at %s round trips/s" % rate,
                 "us", True, "lo_half"))
if int(coalesce_us) > 0:
    # turnd with rx-coalesce-us against the others' figure at that rate
    for rate in cpu_rate.split():
        rows.append(("cpu_co_" + rate, "(c) the same at %s round trips/s, turnd with "
                     "rx-coalesce-us = %s" % (rate, coalesce_us), "us", True, "lo_half",
                     "cpu_" + rate))
rows.append(("alloc", "(d) allocations/s (401 + Allocate + Refresh 0, %s clients)" % alloc_sessions,
             "1/s", False, "hi5"))
for n in mem_n:
    rows.append(("mem_" + n, "(e) memory per allocation, N = %s" % n, "B", False, "mem"))
for p, name in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
    rows.append(("lat_" + p, "(f) latency added by the relay, %s, at half the max rate" % name,
                 "us", True, "lat" if p == "p99" else ""))
rows.append(("hold", "(g) concurrent allocations held (of %s)" % hold, "", False, "hold"))
rows.append(("hold_rss", "(g) server RSS holding them", "MiB", False, ""))
rows.append(("hold_per", "(g) memory per held allocation", "B", False, "mem"))
rows.append(("uclient", "(h) relayed pkt/s under turnutils_uclient -m %s -n %s -z 0" % (uc_m, uc_n),
             "pkt/s", False, ""))
# Only the figures of BENCH_FIGURES: each label starts with "(letter)".
rows = [row for row in rows if row[1][1] in figures]

target_text = {"hi2fwd": ">= 2x coturn; >= fwd/1.5", "hi2": ">= 2x coturn", "lo_half": "<= 0.5x coturn",
               "hi5": ">= 5x coturn", "mem": "<= 2048 B", "lat": "< 100 us", "hold": ">= 50,000", "": ""}

def met(kind, t, c, f):
    num = lambda x: isinstance(x, float)
    checks = []
    if kind in ("hi2", "hi2fwd", "hi5", "lo_half") and num(t) and num(c) and c > 0:
        r = t / c
        checks.append({"hi2": r >= 2, "hi2fwd": r >= 2, "hi5": r >= 5, "lo_half": r <= 0.5}[kind])
    if kind == "hi2fwd" and num(t) and num(f) and f > 0:
        checks.append(t >= f / 1.5)
    if kind == "mem" and num(t):
        checks.append(t <= 2048)
    if kind == "lat" and num(t):
        checks.append(t < 100)
    if kind == "hold" and num(t):
        checks.append(t >= 50000)
    if not checks:
        return ""
    return "yes" if all(checks) else "no"

def ratio(a, b):
    if isinstance(a, float) and isinstance(b, float) and a > 0 and b > 0:
        return "%.2fx" % (a / b)
    return ""

# A column and a ratio for each server of BENCH_SERVERS besides turnd.
cols = [impl for impl in ("coturn", "fwd", "turnd_base") if impl in servers]
out = []
out.append("| " + " | ".join(["figure", "unit", "turnd"] + [h for impl in cols
           for h in (impl, "turnd/" + impl)] + ["target", "met"]) + " |")
out.append("| --- | --- | ---: | " + "---: | " * (2 * len(cols)) + "--- | --- |")
for row in rows:
    fig, label, unit, fwd, kind = row[:5]
    other = row[5] if len(row) > 5 else fig
    t, tt = median(fig, "turnd")
    cells = [label, unit.replace("us", "µs"), fmt(t, unit) + tt]
    got = {}
    for impl in cols:
        if impl == "fwd" and not fwd:
            cells += ["", ""]
            continue
        # turnd_base has rows of its own with rx-coalesce-us, as turnd
        got[impl], tag = median(fig if impl == "turnd_base" else other, impl)
        cells += [fmt(got[impl], unit) + tag, ratio(t, got[impl])]
    cells += [target_text[kind], met(kind, t, got.get("coturn"), got.get("fwd"))]
    out.append("| " + " | ".join(cells) + " |")

# turnd against turnd_base, figure by figure: the ratio of the medians, how
# much worse in the figure's own sense, and the ratio in each round.
ab = []
for fig, label, unit in ([row[:3] for row in rows] if "turnd_base" in impls else []):
    t, tt = median(fig, "turnd")
    b, bt = median(fig, "turnd_base")
    rt, rb = by_round.get((fig, "turnd"), {}), by_round.get((fig, "turnd_base"), {})
    paired = sorted(set(rt) & set(rb), key=int)
    per = " ".join(ratio(rt[r], rb[r]) or "-" for r in paired)
    # a round's two runs saw the same machine: their ratio drifts less
    per_r = [rt[r] / rb[r] for r in paired if ratio(rt[r], rb[r])]
    if len(per_r) > 1:
        per += "; median %.2fx" % statistics.median(per_r)
    verdict = "no figure to compare"
    if ratio(t, b):
        worse = t / b - 1 if unit in ("us", "B", "MiB") else 1 - t / b
        verdict = "turnd %.1f%% %s; within 5%%: %s" % (
            100 * abs(worse), "worse" if worse > 0 else "better", "yes" if worse <= 0.05 else "no")
    ab.append("- %s: turnd %s%s%s, turnd_base %s%s: %s, %s (rounds: %s)" % (
        label, fmt(t, unit), tt, " " + unit.replace("us", "µs") if unit else "", fmt(b, unit), bt,
        ratio(t, b) or "n/a", verdict, per or "none"))

checks = []
for fig in ["%s_sat_%s" % (m, s) for m in ("relay", "ind") for s in sessions]:
    if {"relay": "a", "ind": "b"}[fig.split("_")[0]] not in figures:
        continue
    for impl in ("turnd", "turnd_base", "coturn", "fwd"):
        b, _ = median(fig + ".busy_srv", impl)
        l, _ = median(fig + ".busy_load", impl)
        sp, _ = median(fig + ".send_pps", impl)
        cs, cl, cp = (median(fig + k, impl)[0] for k in (".cpu_srv", ".cpu_load", ".cpu_peer"))
        pct = lambda x: "%.0f%%" % x if isinstance(x, float) else "n/a"
        if isinstance(b, float):
            checks.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                fig, impl, pct(cs), pct(cl), pct(cp), pct(b), pct(l), fmt(sp, "")))
lat_abs = []
for impl in ("turnd", "turnd_base", "coturn", "fwd"):
    r, _ = median("lat_rate", impl)
    p = [median("lat_%s.abs" % q, impl)[0] for q in ("p50", "p99", "p999")]
    if isinstance(r, float):
        lat_abs.append("- %s: paced at %s round trips/s; through the relay p50/p99/p99.9 = %s µs"
                       % (impl, fmt(r, ""), " / ".join(fmt(x, "us") for x in p)))

if rows:
    print("\n".join(out))
if ab:
    print()
    print("turnd against turnd_base (%s), medians of the alternated rounds; worse is in the" % base_src)
    print("figure's own sense (fewer packets/s, more CPU, memory or latency), and within 5% means")
    print("turnd is at most 5% worse:")
    print()
    print("\n".join(ab))
print()
print("Machine and set-up:")
print()
for line in open(meta):
    print("- " + line.rstrip("\n"))
if checks:
    print()
    print("Saturated runs, medians: was the server the bottleneck, or the load tool? CPU of each")
    print("process in percent of one core, and how busy each core was (with whatever else ran on it).")
    print()
    print("| run | server | server CPU | turnload CPU | turnpeer CPU | core 1 busy | core 0 busy | turnload send pkt/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(checks))
if lat_abs:
    print()
    print("Latency, absolute (the table subtracts the same run straight to the echo peer):")
    print()
    print("\n".join(lat_abs))
note_lines = [l.rstrip("\n") for l in open(notes) if l.strip()]
if note_lines:
    print()
    print("Notes from the run:")
    print()
    print("\n".join(note_lines))
EOF
ofl_table >"$OUT.ofl"
if [ -s "$OUT.ofl" ]; then
	# before the machine's facts, after the table of (a) to (h)
	awk -v f="$OUT.ofl" '/^Machine and set-up:/ && !done { while ((getline l < f) > 0) print l; print ""; done = 1 } { print }' \
		"$OUT.tmp" >"$OUT.tmp2" && mv "$OUT.tmp2" "$OUT.tmp"
fi
rm -f "$OUT.ofl"
mv "$OUT.tmp" "$OUT"
cp "$RAW" "${OUT%.md}.raw.log"
echo
cat "$OUT"
echo
echo "bench: table in $OUT, every command and its output in ${OUT%.md}.raw.log"
