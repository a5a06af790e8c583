#!/bin/sh
# Issue 13, item 3: the Redis credential cache is shared by every worker.
# With relay-threads = 4, alice (a key in Redis) allocates once while
# Redis is up; Redis is killed; then 16 allocations of hers, each from a
# fresh source port (so the kernel's SO_REUSEPORT hash hands them to
# every worker), must all succeed from the cache. Figure: allocations
# refused after Redis went (bound 0). Then made-up users with a valid
# nonce and a wrong MAC (badmac: they reach the lookup) while Redis was
# up cannot have pushed her out either: checked with the smallest cache.
# Meanwhile coturn's turnutils_uclient relays as a static user with 0
# loss.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/abuse/abuse_lib.sh"

FLOOD="$top_srcdir/tests/abuse/auth_flood.py"
REALM=$TURN_REALM
REDIS_PID=""
TRIES=16
pick_port PORT || exit 1
pick_port PEER_PORT || exit 1
pick_port RPORT || exit 1
relay_range
. "$top_srcdir/tests/interop/redis_lib.sh"

M=2
N=300
spawn "$TURNPEER" -L "127.0.0.1:$PEER_PORT" -L "127.0.0.1:$((PEER_PORT + 1))" --max-seconds 300 -q

# run CACHE-SIZE FLOOD: one round, the figure for it.
run() {
	check "redis-server on 127.0.0.1:$RPORT" start_redis
	T_BG_PIDS="$T_BG_PIDS $REDIS_PID"
	add_user alice pass
	rcli sadd "turn/realm/$REALM/secret" rsecret >/dev/null
	start_turnd "$(abuse_conf)
user-quota = 0
total-quota = 0
relay-threads = 4
redis = true
redis-port = $RPORT
redis-cache-size = $1
redis-poll-interval = 3600
redis-shared-quota = false" || exit 1
	check "alice allocates once while Redis is up (cache size $1)" probe_user alice pass
	if [ "$2" = badmac ]; then
		# A valid nonce for 127.0.0.1 (turnd binds it to the address),
		# then made-up REST users with a wrong password from there.
		nonce=$("$PYTHON3" - "$PORT" <<'EOF'
import socket, struct, sys, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(("127.0.0.1", int(sys.argv[1])))
body = struct.pack("!HHI", 0x0019, 4, 0x11000000)
s.send(struct.pack("!HHI", 0x0003, len(body), 0x2112A442) + os.urandom(12) + body)
r = s.recv(2048)
pos = 20
while pos + 4 <= len(r):
    t, n = struct.unpack("!HH", r[pos:pos + 4])
    if t == 0x0015:
        print(r[pos + 4:pos + 4 + n].decode())
    pos += 4 + n + (4 - n % 4) % 4
EOF
)
		timeout 120 "$PYTHON3" "$FLOOD" --port "$PORT" --realm "$REALM" --mode badmac \
			--nonce "$nonce" --source 127.0.0.1 --count 2000 >"$T_DIR/flood.out" 2>&1
		sed 's/^/  /' "$T_DIR/flood.out"
		check "made-up users with a valid nonce and a wrong MAC: 401" \
			grep -q "401" "$T_DIR/flood.out"
	fi
	kill -KILL "$REDIS_PID"
	wait "$REDIS_PID" 2>/dev/null
	legit "cache$1"
	refused=0
	for i in $(seq 1 "$TRIES"); do
		probe_user alice pass || refused=$((refused + 1))
	done
	legit_check "cache$1" "legitimate client relayed while Redis was down with 0 loss"
	# relay-threads = 4, Redis killed: alice allocates from $TRIES fresh source ports.
	figure "allocations refused after Redis went, cache $1${2:+ after a $2 flood}" \
		"$refused" "of $TRIES" le 0
	check "turnd stops cleanly" stop_turnd
}

run 10000 ""
run 16 badmac
finish
