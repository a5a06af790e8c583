# Helpers for the tests that need a real redis-server on loopback
# (turn_redis.sh, turn_fleet.sh). Sourced after lib.sh; the test sets
# RPORT, REALM and REDIS_PID="" first, and kills $REDIS_PID in its cleanup.

rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "$RPORT" "$@"; }
# The long-term key of USER with PASSWORD, as turnadmin writes it.
key_of() { printf '%s:%s:%s' "$1" "$REALM" "$2" | md5sum | cut -d' ' -f1; }
add_user() { rcli set "turn/realm/$REALM/user/$1/key" "$(key_of "$1" "$2")" >/dev/null; }

# start_redis: a fresh redis-server on 127.0.0.1:$RPORT, no persistence;
# returns once it answers PING.
start_redis() {
	redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
		>"$T_DIR/redis.log" 2>&1 &
	REDIS_PID=$!
	for _ in $(seq 1 50); do
		[ "$(rcli PING 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	cat "$T_DIR/redis.log"
	return 1
}
