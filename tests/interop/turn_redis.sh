#!/bin/sh
# Credentials in Redis against a real redis-server on loopback: users and
# REST secrets written with redis-cli authenticate coturn's
# turnutils_uclient (-u/-w and -W) with 0 loss; with Redis stopped
# mid-run, existing allocations keep relaying, a cached user can still
# allocate and an unknown user gets none; after Redis restarts a new user
# authenticates without restarting turnd; after a SIGHUP that adds a
# static user, Redis users still authenticate. Then over TLS (redis-tls, with a
# throwaway CA and certificates made here with openssl): a user
# authenticates through a Redis that wants a client certificate; with
# another CA nobody does, the reason is logged once, and turnd keeps
# answering; a missing CA file stops turnd at start, naming it.
. "$top_srcdir/tests/interop/lib.sh"

REDIS_PID=""
PEER_PID=""
redis_cleanup() {
	[ -n "$REDIS_PID" ] && kill -KILL "$REDIS_PID" 2>/dev/null
	[ -n "$PEER_PID" ] && kill -KILL "$PEER_PID" 2>/dev/null
	cleanup
}
trap redis_cleanup EXIT

REALM=turnd.test
RPORT=$(free_port)
PORT=$(free_port)
PEER_PORT=$(free_port)
while [ "$((PEER_PORT + 1))" = "$PORT" ] || [ "$((PEER_PORT + 1))" = "$RPORT" ]; do
	PEER_PORT=$(free_port)
done
. "$top_srcdir/tests/interop/redis_lib.sh"

check "redis-server on 127.0.0.1:$RPORT" start_redis
add_user alice pass
rcli sadd "turn/realm/$REALM/secret" rsecret >/dev/null

# turnutils_uclient spreads its sessions over the peer port and the one
# after it (turnutils_peer listens on both): so does this echo peer.
"$TURNPEER" -L "127.0.0.1:$PEER_PORT" -L "127.0.0.1:$((PEER_PORT + 1))" --max-seconds 120 -q &
PEER_PID=$!
start_turnd "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
relay-ip = { \"127.0.0.1\" }
realm = \"$REALM\"
allowed-peer-ip = { \"127.0.0.1\" }
allow-own-peers = true
legacy-channel-numbers = true
redis = true
redis-port = $RPORT
redis-timeout = 300" || exit 1

# uclient MODE-ARGS...: run turnutils_uclient; 0 loss and all echoed. Paced
# (-z 5): a flood measures the machine's UDP buffers under make -j, not turnd.
uclient() {
	timeout 40 turnutils_uclient -m 4 -n 200 -l 120 -z 5 -e 127.0.0.1 -r "$PEER_PORT" \
		-p "$PORT" "$@" 127.0.0.1 >"$T_DIR/uc.out" 2>&1
	grep -q "Total lost packets 0 (" "$T_DIR/uc.out" &&
		grep -Eq "tot_send_msgs=([1-9][0-9]*), tot_recv_msgs=\1$" "$T_DIR/uc.out" ||
		{ tail -n 5 "$T_DIR/uc.out"; return 1; }
}

check "uclient -u alice -w (key written with redis-cli): 0 lost" uclient -u alice -w pass -X
check "uclient -W (secret from the Redis set): 0 lost" uclient -W rsecret -u alice -X
check "uclient with a wrong password gets no allocation" sh -c \
	"! timeout 20 turnutils_uclient -m 1 -n 5 -e 127.0.0.1 -r $PEER_PORT -p $PORT -u alice -w nope 127.0.0.1 2>&1 | grep -q 'Total lost'"

check "hostile username a%s%n%x%p refused" sh -c "! '$TURNPROBE' turn 127.0.0.1:$PORT -u 'a%s%n%x%p' -w x --peer 127.0.0.1:$PEER_PORT -n 1"
long=$(head -c 600 /dev/zero | tr '\0' 'u')
check "600-byte username refused" sh -c "! '$TURNPROBE' turn 127.0.0.1:$PORT -u '$long' -w x --peer 127.0.0.1:$PEER_PORT -n 1"

# Redis goes away under a running load.
timeout 40 turnutils_uclient -m 2 -n 400 -l 120 -z 10 -e 127.0.0.1 -r "$PEER_PORT" \
	-p "$PORT" -u alice -w pass -X 127.0.0.1 >"$T_DIR/during.out" 2>&1 &
UC=$!
sleep 1.5
stop_redis
wait "$UC"
sed -n 's/.*Total transmit time is /  uclient ran for (s): /p' "$T_DIR/during.out"
check "Redis stopped mid-run: the running allocations relayed with 0 loss" \
	grep -q "Total lost packets 0 (" "$T_DIR/during.out"
check "Redis down: cached user alice still allocates" probe_user alice pass
probe_user bob pass
rc=$?
check "Redis down: unknown user bob gets no allocation (exit $rc)" [ "$rc" -ne 0 ]
check "  ... answered 500, a code the client may retry" grep -q "500" "$T_DIR/probe.out"
check "turnd still answers Binding" "$TURNPROBE" stun "127.0.0.1:$PORT"

check "redis-server restarted on the same port" start_redis
add_user carol secret2
recovered() {
	for _ in $(seq 1 30); do
		probe_user carol secret2 && return 0
		sleep 0.5
	done
	cat "$T_DIR/probe.out"
	return 1
}
check "after the restart a new user (carol) authenticates, turnd not restarted" recovered

# SIGHUP: a static user joins; the Redis backend moves to the new chain
# with its connection, and a Redis option that changed waits for a restart.
printf 'user = { "dan:static" }\nredis-timeout = 400\n' >>"$T_DIR/turnd.conf"
kill -HUP "$TURND_PID"
reloaded() {
	for _ in $(seq 1 50); do
		grep -q "SIGHUP: every worker runs the new configuration" "$T_DIR/turnd.log" && return 0
		sleep 0.1
	done
	tail -n 10 "$T_DIR/turnd.log"
	return 1
}
check "SIGHUP: reloaded by every worker" reloaded
check "  ... redis options reported as needing a restart" \
	grep -q "SIGHUP: option 'redis' changed in .*, but it takes effect only at a restart" "$T_DIR/turnd.log"
check "after SIGHUP: static user dan authenticates" probe_user dan static
check "after SIGHUP: Redis user carol still authenticates" probe_user carol secret2
add_user erin secret3
check "after SIGHUP: a user new in Redis (erin) authenticates" probe_user erin secret3
check "turnd stops cleanly" stop_turnd

# RFC 6062: a ConnectionBind that waits for Redis (erin's cached key has
# expired after redis-cache-ttl) with the client's first bytes right
# behind it in the same segment: they wait for the answer, then reach the
# peer; they are not read as a frame.
one_worker_conf() { # turnd on 127.0.0.1, one worker, users in the Redis on RPORT
	printf '%s\n' "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
relay-ip = { \"127.0.0.1\" }
realm = \"$REALM\"
allowed-peer-ip = { \"127.0.0.1\" }
allow-own-peers = true
relay-threads = 1
redis = true
redis-port = $RPORT"
}
start_turnd "$(one_worker_conf)
redis-cache-ttl = 1" || exit 1
mgets() { rcli INFO commandstats | sed -n 's/^cmdstat_mget:calls=\([0-9]*\),.*/\1/p'; }
rcli CONFIG RESETSTAT >/dev/null
check "a ConnectionBind waiting for Redis, bytes right behind it: they reach the peer" \
	timeout 30 "${PYTHON3:-python3}" "$top_srcdir/tests/interop/turn_client.py" --tcp \
	--port "$PORT" --realm "$REALM" tcp_bind_early erin secret3 2
n=$(mgets)
check "  ... the Allocate and the ConnectionBind each asked Redis ($n lookups)" \
	[ "${n:-0}" -ge 2 ]
check "turnd stops cleanly" stop_turnd
stop_redis

# ---- TLS ----------------------------------------------------------------

P="$T_DIR/pki"
make_pki() ( # in a subshell: cd and set -e stay here
	set -e
	mkdir -p "$P"
	cd "$P"
	ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	for ca in ca other; do
		# shellcheck disable=SC2086
		openssl req -x509 $ec -keyout "$ca.key" -out "$ca.pem" -days 2 -subj "/CN=turnd $ca" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
	done
	# shellcheck disable=SC2086
	openssl req $ec -keyout server.key -out server.csr -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -addext extendedKeyUsage=serverAuth
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-copy_extensions copy -out server.pem
	# shellcheck disable=SC2086
	openssl req $ec -keyout client.key -out client.csr -subj /CN=turnd \
		-addext extendedKeyUsage=clientAuth
	openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-copy_extensions copy -out client.pem
)
if make_pki >"$T_DIR/pki.log" 2>&1; then
	ok "a throwaway CA, server and client certificates (openssl)"
else
	cat "$T_DIR/pki.log"
	not_ok "a throwaway CA, server and client certificates (openssl)"
	finish
fi

RPORT=$(free_port)
# redis_lib.sh's rcli, over TLS with the client certificate.
RCLI_OPTS="--tls --cacert $P/ca.pem --cert $P/client.pem --key $P/client.key"
start_tls_redis() { # TLS only (--port 0), and a client certificate required
	redis-server --port 0 --tls-port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
		--tls-cert-file "$P/server.pem" --tls-key-file "$P/server.key" \
		--tls-ca-cert-file "$P/ca.pem" --tls-auth-clients yes >"$T_DIR/redis.log" 2>&1 &
	REDIS_PID=$!
	redis_wait
}
check "redis-server with TLS alone on 127.0.0.1:$RPORT (tls-auth-clients yes)" start_tls_redis
add_user dave tlspass

tls_conf() { # tls_conf CA: turnd over TLS to that Redis, one worker
	printf '%s\n' "$(one_worker_conf)
redis-timeout = 300
redis-tls = true
redis-tls-ca = \"$1\"
redis-tls-cert = \"$P/client.pem\"
redis-tls-key = \"$P/client.key\""
}
tls_found() { # the first connection may still be under way
	for _ in $(seq 1 20); do
		probe_user dave tlspass && return 0
		sleep 0.25
	done
	cat "$T_DIR/probe.out"
	return 1
}
start_turnd "$(tls_conf "$P/ca.pem")" || exit 1
check "over TLS (client certificate, server certificate verified) dave authenticates" tls_found
check "  ... turnd says it is connected with TLS" grep -q "connected (TLS)" "$T_DIR/turnd.log"
check "turnd stops cleanly" stop_turnd

rcli CONFIG RESETSTAT >/dev/null
no_mget() { ! rcli INFO commandstats | grep -q cmdstat_mget; }
start_turnd "$(tls_conf "$P/other.pem")" || exit 1
sleep 1.5
probe_user dave tlspass
rc=$?
check "Redis's certificate from another CA: dave gets no allocation (exit $rc)" [ "$rc" -ne 0 ]
check "  ... answered 500, a code the client may retry" grep -q "500" "$T_DIR/probe.out"
check "  ... the reason logged once" \
	[ "$(grep -c "cannot connect (TLS: certificate verify failed" "$T_DIR/turnd.log")" -eq 1 ]
check "  ... no lookup reached Redis" no_mget
check "turnd still answers Binding" "$TURNPROBE" stun "127.0.0.1:$PORT"
check "turnd stops cleanly" stop_turnd

tls_conf "$T_DIR/missing.pem" >"$T_DIR/missing.conf"
timeout 10 "$TURND" -c "$T_DIR/missing.conf" >/dev/null 2>"$T_DIR/missing.log"
rc=$?
check "a missing redis-tls-ca stops turnd at start (exit $rc)" sh -c "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
check "  ... naming the option and the file" \
	grep -q "redis-tls-ca '$T_DIR/missing.pem': No such file or directory" "$T_DIR/missing.log"
finish
