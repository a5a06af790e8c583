#!/bin/sh
# bps-capacity and user-max-bps against the real daemon with two workers
# (relay-threads = 2), and the per-user totals it writes to the Redis event
# stream (a real redis-server on loopback, user-usage-interval = 1).
#
# 1. bps-capacity = 2,000,000 bytes/s: turnload (16 sessions, spread over
#    both workers by SO_REUSEPORT: each worker's closing log line shows
#    relayed traffic) offers 1000-byte datagrams at 2,000/s to the echo
#    peer, twice the cap counting both ways. Relayed over a steady window
#    (two "usage" entries of the stream, 5 s apart: their totals' delta
#    over their timestamps' delta, so the first burst is left out): within
#    5% of the cap. The overflow is dropped and counted on /metrics.
#    A SIGHUP that lowers bps-capacity to 1,000,000: the next load (half
#    the rate, again twice the cap) relays within 5% of the new cap.
# 2. user-max-bps = 500,000 bytes/s: "capped" offers twice that, "free"
#    (two sessions at 100 datagrams/s, a fifth of it) loses nothing;
#    "capped" relays within 5% of its cap over the steady window.
# In both, each user's final "usage" entry (written once its last
# allocation closed) matches what turnload counted: every datagram a
# client sent and got back for a user under its cap, and for a capped one
# the datagrams that came back to the client (peer_to_client_packets).
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

TURNLOAD=${TURNLOAD:-${top_builddir:-.}/turnload}
TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}
REDIS_PID=""
bw_cleanup() {
	[ -n "$REDIS_PID" ] && kill -KILL "$REDIS_PID" 2>/dev/null
	turn_cleanup
}
trap bw_cleanup EXIT

REALM=turnd.test
STREAM="turn/realm/$REALM/events"
PAYLOAD=1000
pick_port PORT || { not_ok "no free port"; finish; }
pick_port RPORT || { not_ok "no free port for redis"; finish; }
pick_port PEER_PORT || { not_ok "no free port for turnpeer"; finish; }
pick_port METRICS_PORT || { not_ok "no free port for metrics"; finish; }
relay_range
. "$top_srcdir/tests/interop/redis_lib.sh"
check "redis-server on 127.0.0.1:$RPORT" start_redis

spawn "$TURNPEER" -L "127.0.0.1:$PEER_PORT" --max-seconds 300 -q >"$T_DIR/peer.out" 2>"$T_DIR/peer.err"

# serve EXTRA: turnd with two workers, users "capped", "free" and "user",
# Redis events, usage entries every second, and EXTRA.
serve() {
	rcli del "$STREAM" >/dev/null
	start_turnd "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
relay-ip = { \"127.0.0.1\" }
min-port = $MINPORT
max-port = $MAXPORT
realm = \"$REALM\"
user = { \"user:pass\", \"capped:pass\", \"free:pass\" }
allowed-peer-ip = { \"127.0.0.1\" }
allow-own-peers = true
user-quota = 0
relay-threads = 2
log-level = info
metrics-port = $METRICS_PORT
redis = true
redis-port = $RPORT
redis-events = true
user-usage-interval = 1
$1"
}

# load NAME USER ARGS...: turnload --json as USER (in the background with
# its pid in LOAD_PID); stdout in NAME.out.
load() {
	name=$1 user=$2
	shift 2
	timeout -k 2 60 "$TURNLOAD" --json -u "$user" -w pass -e "127.0.0.1:$PEER_PORT" \
		-l "$PAYLOAD" "$@" "127.0.0.1:$PORT" >"$T_DIR/$name.out" 2>"$T_DIR/$name.err" &
	LOAD_PID=$!
}

# field NAME KEY: a top-level number of turnload's JSON summary.
field() { tail -n 1 "$T_DIR/$1.out" | sed -n "s/.*[{,]\"$2\":\([0-9]*\).*/\1/p"; }

# usage USER: the stream's "usage" entries of USER, one a line:
# "MS C2P_BYTES P2C_BYTES C2P_PKTS P2C_PKTS ALLOCATIONS" (MS: the entry
# id's time, when Redis took it).
usage() {
	rcli XRANGE "$STREAM" - + | awk -v u="$1" '
		function flush() {
			if (f["event"] == "usage" && f["user"] == u)
				print ms, f["client_to_peer_bytes"], f["peer_to_client_bytes"],
				    f["client_to_peer_packets"], f["peer_to_client_packets"],
				    f["allocations"]
			delete f
		}
		/^[0-9]+-[0-9]+$/ { flush(); split($0, id, "-"); ms = id[1]; k = ""; next }
		k == "" { k = $0; next }
		{ f[k] = $0; k = "" }
		END { flush() }'
}

# steady_rate USER FROM TO [AFTER]: bytes a second (both ways) USER
# relayed between its first "usage" entry at least FROM ms after its first
# one (after the time AFTER, in ms, if given) and its first at least TO ms
# after it; 0 when there are not such entries.
steady_rate() {
	usage "$1" | awk -v from="$2" -v to="$3" -v after="${4:-0}" '
		$1 <= after { next }
		t0 == "" { t0 = $1 }
		a == "" && $1 - t0 >= from { a = $1; ab = $2 + $3 }
		b == "" && $1 - t0 >= to { b = $1; bb = $2 + $3 }
		END { if (a == "" || b == "" || b == a) print 0; else printf "%d\n", (bb - ab) * 1000 / (b - a) }'
}

# near RATE CAP: RATE within 5% of CAP.
near() {
	echo "  relayed $1 bytes/s over the steady window, cap $2"
	[ "$1" -ge $(($2 * 95 / 100)) ] && [ "$1" -le $(($2 * 105 / 100)) ]
}

# final USER: the last "usage" entry of USER, once its allocations are
# gone (allocations 0), within 5 s.
final() {
	for _ in $(seq 1 50); do
		FINAL=$(usage "$1" | tail -n 1)
		[ "$(echo "$FINAL" | awk '{print $6}')" = 0 ] && return 0
		sleep 0.1
	done
	echo "  no final usage entry for $1: '$FINAL'"
	return 1
}

# both_workers: the closing log line of each worker shows relayed datagrams.
both_workers() {
	for id in 0 1; do
		n=$(sed -n "s/.*worker $id: .*relayed to peers \([0-9]*\),.*/\1/p" "$T_DIR/turnd.log")
		echo "  worker $id relayed ${n:-nothing} to peers"
		[ "${n:-0}" -gt 0 ] || return 1
	done
}

# ---- 1. bps-capacity ----
CAP=2000000
serve "bps-capacity = $CAP" || exit 1
ok "turnd with relay-threads = 2 and bps-capacity = $CAP"
load cap user -n 16 -r 2000 -d 9
wait "$LOAD_PID"
check "turnload ran (16 sessions, 2000 datagrams/s of $PAYLOAD bytes)" test -s "$T_DIR/cap.out"
check "relayed within 5% of bps-capacity" near "$(steady_rate user 2000 7000)" "$CAP"
dropped_ok() {
	d=$(metric turnd_bps_capacity_dropped_packets_total)
	b=$(metric turnd_bps_capacity_dropped_bytes_total)
	echo "  dropped $d datagrams, $b bytes"
	[ "${d:-0}" -gt 1000 ] && [ "$b" -eq $((d * PAYLOAD)) ]
}
check "the overflow dropped and counted on /metrics" dropped_ok
final_cap_ok() {
	final user || return 1
	echo "  final usage: $FINAL; turnload: sent $(field cap sent) received $(field cap received)"
	set -- $FINAL
	[ "$5" = "$(field cap received)" ] && [ "$3" = $(($5 * PAYLOAD)) ] &&
		[ "$2" = $(($4 * PAYLOAD)) ] && [ "$4" -le "$(field cap sent)" ] && [ "$4" -ge "$5" ]
}
check "user's final totals: every datagram turnload got back, in packets and bytes" final_cap_ok

# A reload lowers the cap: the next load relays within 5% of the new one.
CAP2=1000000
sed -i "s/^bps-capacity = .*/bps-capacity = $CAP2/" "$T_DIR/turnd.conf"
AFTER=$(usage user | tail -n 1 | awk '{print $1}')
kill -HUP "$TURND_PID"
reloaded() {
	for _ in $(seq 1 30); do
		[ "$(metric 'turnd_config_reloads_total{result="applied"}')" = 1 ] && return 0
		sleep 0.2
	done
	return 1
}
check "SIGHUP applied bps-capacity = $CAP2" reloaded
load cap2 user -n 16 -r 1000 -d 9
wait "$LOAD_PID"
check "after the reload, relayed within 5% of the new bps-capacity" \
	near "$(steady_rate user 2000 7000 "$AFTER")" "$CAP2"
check "turnd stops cleanly" stop_turnd
check "the sessions spread over both workers" both_workers

# ---- 2. user-max-bps ----
UCAP=500000
serve "user-max-bps = $UCAP" || exit 1
ok "turnd with relay-threads = 2 and user-max-bps = $UCAP"
load capped capped -n 8 -r 500 -d 9
CAPPED_PID=$LOAD_PID
load free free -n 2 -r 100 -d 9
wait "$LOAD_PID"
wait "$CAPPED_PID"
free_ok() {
	s=$(field free sent) r=$(field free received) l=$(field free lost)
	echo "  free: sent $s received $r lost $l"
	[ "${s:-0}" -gt 800 ] && [ "$s" = "$r" ] && [ "$l" = 0 ]
}
check "the user under the cap lost nothing" free_ok
check "the capped user relayed within 5% of user-max-bps" near "$(steady_rate capped 2000 7000)" "$UCAP"
final_free_ok() {
	final free || return 1
	echo "  final usage: $FINAL"
	set -- $FINAL
	s=$(field free sent)
	[ "$4" = "$s" ] && [ "$5" = "$s" ] && [ "$2" = $((s * PAYLOAD)) ] && [ "$3" = $((s * PAYLOAD)) ]
}
check "free's final totals: exactly what turnload sent and got back" final_free_ok
final_capped_ok() {
	final capped || return 1
	echo "  final usage: $FINAL; turnload received $(field capped received)"
	set -- $FINAL
	[ "$5" = "$(field capped received)" ] && [ "$3" = $(($5 * PAYLOAD)) ]
}
check "capped's final totals: every datagram turnload got back" final_capped_ok
user_drops_ok() {
	d=$(metric 'turnd_drops_total{reason="user_max_bps"}')
	echo "  dropped over user-max-bps: $d"
	[ "${d:-0}" -gt 1000 ]
}
check "the capped user's overflow counted on /metrics" user_drops_ok
check "turnd stops cleanly" stop_turnd
check "the sessions spread over both workers" both_workers
finish
