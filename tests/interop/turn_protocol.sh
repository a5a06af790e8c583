#!/bin/sh
# TURN protocol outcomes against the real turnd (RFC 8656, RFC 8489,
# SECURITY.md "Protocol state that must hold"), over UDP and TCP on
# loopback, with turnprobe (through turnpeer) and the python client
# tests/interop/turn_client.py, which checks one allowed outcome per case:
#
#   config A (loopback peers allowed, max-allocate-lifetime 900):
#     turnprobe turn echoes over UDP, TCP and an IPv6 relay; a wrong
#     password prints "Allocate: 401 Unauthorized"; 401 challenge with
#     REALM/NONCE/PASSWORD-ALGORITHMS; 401 for a wrong password; 437 and
#     the retransmitted success; 441; 442 (TCP relay over UDP); 443; 403 for 10.0.0.1,
#     169.254.169.254 and the server's own listening addresses; over TCP,
#     RFC 6062 with real sockets (Connect 403/446/447, ConnectionBind
#     400/441, ConnectionAttempt, bytes piped both ways, a sender held
#     back while the peer does not read); 400 for
#     channels 0x3FFF/0x5000/0x7FFF/0xFFFF and for rebinding a channel or
#     a peer; 420; LIFETIME clamped, a LIFETIME after MESSAGE-INTEGRITY
#     ignored, Refresh 0 deletes, then 437; 438 and the retry; TURN REST
#     valid/expired; hostile usernames refused and Binding still answered.
#   config B (no allowed-peer-ip, user-quota 1, total-quota 2):
#     403 for loopback peers; 486; 508; quota back after a delete;
#     turnprobe prints "CreatePermission: 403 Forbidden".
#
# After each config turnd must stop with status 0 (the same script runs
# against the sanitizer build) and report no allocation, relay port or
# quota left in use; turnpeer and turnprobe must exit 0 too. Bounded: every client run is under `timeout`, and a
# dead turnd fails the remaining cases at once.
. "$top_srcdir/tests/interop/lib.sh"

: "${TURNPEER:?set by make check}"
PY=${PYTHON3:-python3}
CLIENT=$top_srcdir/tests/interop/turn_client.py
REALM=turnd.test
SECRET=s3cret
MAX_LIFETIME=900
PEER_PID=""

trap peer_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

PORT=$(free_port) || { not_ok "a free port"; finish; }
PEER_PORT=$(free_port)
while [ "$PEER_PORT" = "$PORT" ]; do PEER_PORT=$(free_port); done
# Relay ports: a random block of 250 in 10000-19999, below free_port's
# range and the kernel's ephemeral range.
MINPORT=$(( 10000 + ($(od -An -N2 -tu2 /dev/urandom) % 40) * 250 ))
MAXPORT=$((MINPORT + 249))

# turnd_conf EXTRA: the settings both configs share, then EXTRA.
turnd_conf() {
	printf '%s\n' "listening-ip = { \"127.0.0.1\", \"::1\" }
listening-port = $PORT
relay-ip = { \"127.0.0.1\", \"::1\" }
min-port = $MINPORT
max-port = $MAXPORT
realm = \"$REALM\"
user = { \"alice:wonderland\", \"bob:builder\", \"carol:tiger\" }
static-auth-secret = { \"$SECRET\" }
relay-threads = 2
log-level = \"info\"
$1"
}

# alive: turnd is still running (otherwise every case would wait for
# its timeouts).
alive() {
	[ -n "$TURND_PID" ] && kill -0 "$TURND_PID" 2>/dev/null && return 0
	echo "  turnd is not running"
	return 1
}

# client [--tcp] [--host H] SCENARIO ARGS...: one turn_client.py scenario.
client() {
	alive || return 1
	timeout 40 "$PY" "$CLIENT" --port "$PORT" --realm "$REALM" "$@"
}

# batch PREFIX [--tcp] [--host H]: the turn_client.py scenarios on stdin,
# one a line "DESCRIPTION | SCENARIO ARG...", run in one python process
# (its start-up is what takes time here); each line becomes one ok or
# not ok, its description prefixed with PREFIX.
batch() {
	prefix=$1; shift
	cat >"$T_DIR/batch.in"
	want=$(grep -c '|' "$T_DIR/batch.in")
	alive || { not_ok "$prefix: $want scenarios not run"; return 1; }
	timeout 50 "$PY" "$CLIENT" --port "$PORT" --realm "$REALM" "$@" --batch \
		<"$T_DIR/batch.in" >"$T_DIR/batch.out" 2>&1
	batch_tally "$prefix" "$T_DIR/batch.out" "$want"
}

# lib.sh's probe NAME ARGS... (turnprobe turn ARGS) shows what it printed,
# and so does probe_fails NAME LINE ARGS... (turnprobe exits 1 and prints
# LINE).
PROBE_SHOW=1

# probe_echoes NAME RELAY_PREFIX ARGS...: every echo back, the relayed
# address in the family asked for, the allocation deleted.
probe_echoes() {
	name=$1 prefix=$2; shift 2
	probe "$name" "$@" || return 1
	grep -q "^relayed address: $prefix" "$T_DIR/$name.out" &&
		grep -q "^mapped address: " "$T_DIR/$name.out" &&
		grep -q "^5/5 echoed over" "$T_DIR/$name.out" &&
		grep -q "^allocation deleted" "$T_DIR/$name.out"
}

start_peer() {
	"$TURNPEER" -L 127.0.0.1 -L ::1 -p "$PEER_PORT" >"$T_DIR/peer.out" 2>"$T_DIR/peer.err" &
	PEER_PID=$!
	for _ in $(seq 1 50); do
		[ "$(grep -c '^turnpeer: listening on ' "$T_DIR/peer.out")" -eq 2 ] && return 0
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "turnpeer did not start:"; cat "$T_DIR/peer.out" "$T_DIR/peer.err"
	return 1
}

# lib.sh's stop_peer: turnpeer exits 0 on SIGTERM; its totals shown.
PEER_SHOW=1

# stop_clean: turnd exits 0 and left nothing in use.
stop_clean() {
	stop_turnd || return 1
	grep 'at stop:' "$T_DIR/turnd.log" | sed 's/^/  /'
	grep -q 'at stop: allocations 0, relay ports in use 0, quota in use 0' "$T_DIR/turnd.log"
}

P4="127.0.0.1:$PEER_PORT"
P6="[::1]:$PEER_PORT"
# Nothing listens here: what the relay sends gets ICMP port unreachable.
CLOSED=$(free_port)

# ---------------------------------------------------------------- config A

start_peer || { not_ok "turnpeer on port $PEER_PORT"; finish; }
start_turnd "$(turnd_conf "allowed-peer-ip = { \"127.0.0.1\", \"::1\" }
allow-own-peers = true
max-allocate-lifetime = $MAX_LIFETIME")" || { not_ok "start turnd (config A)"; finish; }
ok "turnd up on port $PORT, relay ports $MINPORT-$MAXPORT, turnpeer on $PEER_PORT"

check "turnprobe turn: 5 echoes over UDP" \
	probe_echoes udp "127.0.0.1:" "127.0.0.1:$PORT" -u alice -w wonderland --peer "$P4"
check "turnprobe turn: 5 echoes over TCP (ChannelData padded)" \
	probe_echoes tcp "127.0.0.1:" "127.0.0.1:$PORT" -u alice -w wonderland --peer "$P4" --tcp
check "turnprobe turn: 5 echoes through an IPv6 relay over ::1" \
	probe_echoes udp6 "\[::1\]:" "[::1]:$PORT" -u bob -w builder --peer "$P6" --ipv6-relay
check "turnprobe turn: 5 echoes through an IPv6 relay over ::1, TCP" \
	probe_echoes tcp6 "\[::1\]:" "[::1]:$PORT" -u bob -w builder --peer "$P6" --ipv6-relay --tcp
now=$(date +%s)
rest_user="$((now + 600)):alice"
# password = base64(HMAC-SHA1(secret, username))
rest_pass=$("$PY" -c 'import base64, hashlib, hmac, sys
print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(),
                                hashlib.sha1).digest()).decode())' "$SECRET" "$rest_user")
check "turnprobe turn with a TURN REST credential" \
	probe_echoes rest "127.0.0.1:" "127.0.0.1:$PORT" -u "$rest_user" -w "$rest_pass" --peer "$P4"
check "turnprobe turn, wrong password: exit 1, 'turnprobe: Allocate: 401 Unauthorized'" \
	probe_fails badpass "turnprobe: Allocate: 401 Unauthorized" \
	"127.0.0.1:$PORT" -u alice -w wrong --peer "$P4"

for t in udp tcp; do
	tcp=""
	[ "$t" = tcp ] && tcp=--tcp
	batch "$t" $tcp <<EOF
unauthenticated Allocate: 401 with REALM, NONCE, PASSWORD-ALGORITHMS | challenge
wrong password: 401 | wrong_password alice wonderland
second Allocate on a 5-tuple: 437; retransmission: same success | mismatch alice wonderland
Refresh by another valid user: 441 | wrong_credentials alice wonderland bob builder
REQUESTED-TRANSPORT TCP: 442 over UDP; over TCP a TCP relay (Connect 403) | transport_tcp alice wonderland
RFC 6062 TCP relay with sockets: Connect, 446, 447, ConnectionBind 441/400, ConnectionAttempt, piping | tcp_relay alice wonderland bob builder
RFC 6062 pipe backpressure: a sender held back while the peer does not read | tcp_backpressure alice wonderland $TURND_PID
RFC 6062: bytes sent right behind a ConnectionBind reach the peer | tcp_bind_early alice wonderland
IPv6 peer on an IPv4 allocation: 443 | peer_family alice wonderland
403 for 10.0.0.1, 169.254.169.254, turnd's own addresses | forbidden alice wonderland 10.0.0.1:9 169.254.169.254:80 127.0.0.1:$PORT [::1]:$PORT
loopback peers allowed by allowed-peer-ip | permitted alice wonderland $P4 $P6
ChannelBind 0x3FFF, 0x5000, 0x7FFF, 0xFFFF: 400; rebinding rules | channel_numbers alice wonderland $P4
unknown comprehension-required attribute: 420 after authentication | unknown_attr alice wonderland
LIFETIME clamped to $MAX_LIFETIME, one after MESSAGE-INTEGRITY ignored; Refresh 0 deletes; then 437 | lifetime alice wonderland $MAX_LIFETIME
a nonce that is not valid: 438 with a fresh one; the retry succeeds | stale_nonce bob builder
TURN REST: valid username succeeds, expired one 401 | rest $SECRET alice
usernames '%s%n', 600 bytes: refused; Binding still answered | bad_usernames
ICMP port unreachable from a closed peer port: Data indication with ICMP | icmp alice wonderland 127.0.0.1:$CLOSED
EOF
done
batch "udp [::1]" --host ::1 <<EOF
second Allocate on a 5-tuple: 437; retransmission: same success | mismatch carol tiger
403 for turnd's own address | forbidden carol tiger [::1]:$PORT
ICMPv6 port unreachable from a closed peer port: Data indication with ICMP | icmp carol tiger [::1]:$CLOSED
EOF
# The tcp_relay scenario piped 14 bytes each way on each of its two
# connections: its allocation's "deleted" line counts them.
check "an allocation's log line counts what its RFC 6062 pipes carried" grep -Eq \
	"allocation deleted: user=alice .*transport=tcp .*to_peer_bytes=28 to_peer_packets=0 to_client_bytes=28 to_client_packets=0" \
	"$T_DIR/turnd.log"
check "turnprobe stun still answered" "$TURNPROBE" stun "127.0.0.1:$PORT"
check "turnd (config A) stops with status 0, nothing left in use" stop_clean
cp "$T_DIR/turnd.log" "$T_DIR/turnd-a.log"

# ---------------------------------------------------------------- config B

start_turnd "$(turnd_conf "user-quota = 1
total-quota = 2")" || { not_ok "start turnd (config B)"; finish; }
for t in udp tcp; do
	tcp=""
	[ "$t" = tcp ] && tcp=--tcp
	batch "$t" $tcp <<EOF
no allowed-peer-ip: 403 for loopback, 10.0.0.1, 169.254.169.254 | forbidden alice wonderland $P4 $P6 10.0.0.1:9 169.254.169.254:80
user-quota 1: 486; total-quota 2: 508; quota back after a delete | quota alice wonderland bob builder carol tiger
EOF
done
check "turnprobe turn, loopback peer refused: exit 1, 'turnprobe: CreatePermission: 403 Forbidden'" \
	probe_fails forbidden "turnprobe: CreatePermission: 403 Forbidden" \
	"127.0.0.1:$PORT" -u alice -w wonderland --peer "$P4"
check "turnprobe turn deleted its allocation after the 403" \
	grep -q "^allocation deleted" "$T_DIR/forbidden.out"
check "binding still answered" client binding
check "turnd (config B) stops with status 0, nothing left in use" stop_clean

# ---------------------------------------------------------------- config C

start_turnd "$(turnd_conf "shed-allocations = 1
alternate-server = { \"192.0.2.77:3478\" }")" || { not_ok "start turnd (config C)"; finish; }
for t in udp tcp; do
	tcp=""
	[ "$t" = tcp ] && tcp=--tcp
	batch "$t" $tcp <<EOF
shed-allocations 1: 300 Try Alternate with ALTERNATE-SERVER, then allocates again | shed alice wonderland bob builder 192.0.2.77:3478
EOF
done
check "turnd (config C) stops with status 0, nothing left in use" stop_clean

# ---------------------------------------------------------------- config D

start_turnd "$(turnd_conf "allowed-peer-ip = { \"127.0.0.1\" }
allow-own-peers = true
max-bps = 100000")" || { not_ok "start turnd (config D)"; finish; }
batch tcp --tcp <<EOF
max-bps on an RFC 6062 pipe: held back, not dropped; lifted for the same pipe by a reload | tcp_pipe_rate alice wonderland 100000 $TURND_PID $T_DIR/turnd.conf
EOF
check "turnd (config D) stops with status 0, nothing left in use" stop_clean

# ---------------------------------------------------------------- config E

start_turnd "$(turnd_conf "allowed-peer-ip = { \"127.0.0.1\" }
allow-own-peers = true
bps-capacity = 100000")" || { not_ok "start turnd (config E)"; finish; }
batch tcp --tcp <<EOF
bps-capacity on an RFC 6062 pipe: held back by the server's budget, not dropped | tcp_capacity_rate alice wonderland 100000
EOF
check "turnd (config E) stops with status 0, nothing left in use" stop_clean
check "turnpeer stops with status 0" stop_peer
finish
