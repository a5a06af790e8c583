#!/bin/sh
# Two turnd servers on one real redis-server, acting as one service:
# user-quota (set in Redis, not in the files) holds across both; a server
# over its allocation or bandwidth threshold answers 300 with the other's
# address; peer ranges added to Redis take effect without a restart;
# allocation events land in the Redis stream with their traffic; and a
# server killed while holding allocations stops holding quota once its
# liveness key expires.
. "$top_srcdir/tests/interop/lib.sh"

REDIS_PID=""
PEER_PID=""
B_PID=""
fleet_cleanup() {
	for p in $REDIS_PID $PEER_PID $B_PID; do kill -KILL "$p" 2>/dev/null; done
	cleanup
}
trap fleet_cleanup EXIT

REALM=turnd.test
RPORT=$(free_port)
PORT=$(free_port)
PB=$(free_port)
PEER_PORT=$(free_port)
. "$top_srcdir/tests/interop/redis_lib.sh"
fleet() { timeout 60 "$PYTHON3" "$top_srcdir/tests/interop/fleet_client.py" --redis-port "$RPORT" "$@"; }


# The same service settings on both; each names the other as its alternate.
# The loopback peer is one of the host's own addresses: allow-own-peers
# lets Redis's allowed-peer-ip decide about it.
common="listening-ip = { \"127.0.0.1\" }
relay-ip = { \"127.0.0.1\" }
allow-own-peers = true
realm = \"$REALM\"
redis = true
redis-port = $RPORT
redis-poll-interval = 2"

start_b() { # B: in the background, its own config and log
	printf '%s\nlistening-port = %s\nalternate-server = { "127.0.0.1:%s" }\nnode-id = "b"\n' \
		"$common" "$PB" "$PORT" >"$T_DIR/b.conf"
	"$TURND" -c "$T_DIR/b.conf" >"$T_DIR/b.out" 2>"$T_DIR/b.log" &
	B_PID=$!
	for _ in $(seq 1 50); do
		"$TURNPROBE" stun "127.0.0.1:$PB" --timeout 200 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$T_DIR/b.log"
	return 1
}

# wait_log FILE PATTERN: up to 10 s for a line in a server's log.
wait_log() {
	for _ in $(seq 1 100); do
		grep -q "$2" "$1" && return 0
		sleep 0.1
	done
	echo "no '$2' in $1:"; tail -n 20 "$1"
	return 1
}

check "redis-server on 127.0.0.1:$RPORT" start_redis
add_user alice pass
add_user bob pass
add_user carol pass
rcli set "turn/realm/$REALM/user-quota" 2 >/dev/null
"$TURNPEER" -L "127.0.0.1:$PEER_PORT" --max-seconds 120 -q &
PEER_PID=$!

start_turnd "$common
listening-port = $PORT
alternate-server = { \"127.0.0.1:$PB\" }
node-id = \"a\"
shed-allocations = 2
shed-bps = 20000
redis-events = true" || exit 1
check "server B on :$PB" start_b
check "A took user-quota 2 from Redis" wait_log "$T_DIR/turnd.log" "user-quota 2 "
check "B took user-quota 2 from Redis" wait_log "$T_DIR/b.log" "user-quota 2 "
check "both servers' liveness keys are in Redis" sh -c \
	"[ \"\$(timeout 5 redis-cli -p $RPORT exists turn/realm/$REALM/node/a turn/realm/$REALM/node/b)\" = 2 ]"

check "user-quota 2 holds across A and B, and frees with a delete" fleet quota "$PORT" "$PB" alice pass
check "A over shed-allocations: 300 naming B, and B allocates" \
	fleet shed_count "$PORT" "$PB" bob pass carol pass

check "loopback peer refused before Redis allows it" fleet peer "$PORT" bob pass "127.0.0.1:$PEER_PORT" 403
rcli sadd "turn/realm/$REALM/allowed-peer-ip" 127.0.0.1 >/dev/null
check "A picked up allowed-peer-ip from Redis" wait_log "$T_DIR/turnd.log" "1 allowed and 0 denied"
sleep 1.2 # every worker applies it on its next tick
check "loopback peer allowed after the Redis change, no restart" \
	fleet peer "$PORT" bob pass "127.0.0.1:$PEER_PORT" 0
check "A over shed-bps while relaying: 300 naming B; quiet again: allocated" \
	fleet shed_bps "$PORT" "$PB" carol pass "127.0.0.1:$PEER_PORT"
check "allocation events in the Redis stream, with traffic" fleet events "$REALM" carol

# B dies holding two of alice's allocations: A refuses her until B's
# liveness key lapses (3 polls of 2 s), then counts only itself.
check "alice holds 2 allocations on B" fleet hold "$PB" alice pass 2
kill -KILL "$B_PID"
wait "$B_PID" 2>/dev/null
B_PID=""
check "B killed: its count still holds alice to her quota on A" fleet refused "$PORT" alice pass
check "  ... and lapses with B's liveness key: A allocates for alice" \
	fleet eventually "$PORT" alice pass 20

check "turnd A stops cleanly" stop_turnd
check "A's stop line counts quota checks and events" grep -Eq \
	"redis: quota checks [1-9][0-9]* \(refused [1-9][0-9]*, unchecked 0\), events sent [1-9][0-9]*, dropped 0" \
	"$T_DIR/turnd.log"
finish
