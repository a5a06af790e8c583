#!/bin/sh
# bps-capacity and user-max-bps against the real daemon with two workers
# (relay-threads = 2), and the per-user totals it writes to the Redis event
# stream (a real redis-server on loopback, user-usage-interval = 1).
#
# 1. bps-capacity = 2,000,000 bytes/s: turnload (16 sessions, spread over
#    both workers by SO_REUSEPORT: each worker's closing log line shows
#    relayed traffic) offers 1000-byte datagrams at 2,000/s to the echo
#    peer, twice the cap counting both ways. What the user relayed (its
#    final "usage" entry, exact), less the budget's initial burst, over
#    turnload's traffic time: within 5% of the cap. The overflow is
#    dropped and counted on /metrics.
#    A SIGHUP that lowers bps-capacity to 1,000,000: the next load (half
#    the rate, again twice the cap) relays within 5% of the new cap.
# 2. user-max-bps = 500,000 bytes/s: "capped" offers twice that, "free"
#    (two sessions at 100 datagrams/s, a fifth of it) loses nothing;
#    "capped" relays within 5% of its cap, measured as above.
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

# rate NAME CAP BASE: bytes a second (both ways) the user of turnload run
# NAME relayed, from its final "usage" entry (FINAL, see final) less BASE
# (the user's totals before the run) and less the budget's initial burst
# (100 ms of CAP, at least 64 KiB: util/bw_share.h), over the run's
# traffic time (duration_s). Exact counts, so no tick of a worker's
# counters falls in or out of the window.
rate() {
	set -- "$1" "$2" "$3" $FINAL
	tail -n 1 "$T_DIR/$1.out" | sed -n 's/.*"duration_s":\([0-9.]*\).*/\1/p' |
		awk -v cap="$2" -v base="$3" -v c2p="$5" -v p2c="$6" '{
			burst = cap / 10 < 65536 ? 65536 : cap / 10
			printf "%d\n", (c2p + p2c - base - burst) / $1 }'
}

# near RATE CAP: RATE within 5% of CAP.
near() {
	echo "  relayed $1 bytes/s, cap $2"
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
dropped_ok() {
	sleep 1.2 # the workers copy their counters once a tick
	page=$(curl -sf "http://127.0.0.1:$METRICS_PORT/metrics") || return 1
	d=$(printf '%s\n' "$page" | awk '$1 == "turnd_bps_capacity_dropped_packets_total" { print $2 }')
	b=$(printf '%s\n' "$page" | awk '$1 == "turnd_bps_capacity_dropped_bytes_total" { print $2 }')
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
check "relayed within 5% of bps-capacity" near "$(rate cap "$CAP" 0)" "$CAP"

# A reload lowers the cap: the next load relays within 5% of the new one.
CAP2=1000000
sed -i "s/^bps-capacity = .*/bps-capacity = $CAP2/" "$T_DIR/turnd.conf"
BASE=$(echo "$FINAL" | awk '{ print $2 + $3 }')
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
after_reload() {
	for _ in $(seq 1 50); do
		usage user | tail -n 1 | awk -v a="$AFTER" '$1 > a && $6 == 0 { ok = 1 } END { exit !ok }' &&
			break
		sleep 0.1
	done
	final user && near "$(rate cap2 "$CAP2" "$BASE")" "$CAP2"
}
check "after the reload, relayed within 5% of the new bps-capacity" after_reload
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
check "the capped user relayed within 5% of user-max-bps" near "$(rate capped "$UCAP" 0)" "$UCAP"
user_drops_ok() {
	d=$(metric 'turnd_drops_total{reason="bps_per_credential"}')
	echo "  dropped over user-max-bps: $d"
	[ "${d:-0}" -gt 1000 ]
}
check "the capped user's overflow counted on /metrics" user_drops_ok
check "turnd stops cleanly" stop_turnd
check "the sessions spread over both workers" both_workers
check "redis-server stops cleanly" stop_redis
finish
