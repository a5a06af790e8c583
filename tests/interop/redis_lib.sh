# Helpers for the tests that need a real redis-server on loopback
# (turn_redis.sh, turn_fleet.sh, turnadmin.sh, the abuse tests on Redis).
# Sourced after lib.sh; the test sets RPORT, REALM and REDIS_PID="" first,
# and kills $REDIS_PID in its cleanup. REDIS_SERVER and REDIS_CLI name the
# programs (default redis-server, redis-cli).

# rcli ARGS...: redis-cli on the test's server, after RCLI_OPTS (the
# test's login or TLS options, split on blanks).
rcli() {
	# shellcheck disable=SC2086 # RCLI_OPTS is a list of options
	timeout 10 "${REDIS_CLI:-redis-cli}" ${RCLI_OPTS:-} -h 127.0.0.1 -p "$RPORT" "$@"
}
# The long-term key of USER with PASSWORD, as turnadmin writes it.
key_of() { printf '%s:%s:%s' "$1" "$REALM" "$2" | md5sum | cut -d' ' -f1; }
add_user() { rcli set "turn/realm/$REALM/user/$1/key" "$(key_of "$1" "$2")" >/dev/null; }

# start_redis [ARGS...]: a fresh redis-server on 127.0.0.1:$RPORT, no
# persistence, with ARGS (more options); returns once it answers PING.
start_redis() {
	"${REDIS_SERVER:-redis-server}" --port "$RPORT" --bind 127.0.0.1 --save "" \
		--appendonly no "$@" >"$T_DIR/redis.log" 2>&1 &
	REDIS_PID=$!
	redis_wait
}

# redis_wait: the redis-server REDIS_PID answers PING (rcli) within 5 s;
# else its log.
redis_wait() {
	for _ in $(seq 1 50); do
		[ "$(rcli PING 2>/dev/null)" = PONG ] && return 0
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "redis-server did not start:"; cat "$T_DIR/redis.log"
	return 1
}

# stop_redis: SIGTERM, and redis-server must exit 0.
stop_redis() {
	kill -TERM "$REDIS_PID"
	wait "$REDIS_PID"
	rc=$?
	REDIS_PID=""
	[ "$rc" -eq 0 ] || { echo "  redis-server exited with $rc"; tail -n 5 "$T_DIR/redis.log"; }
	[ "$rc" -eq 0 ]
}
