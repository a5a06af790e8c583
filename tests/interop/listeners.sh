#!/bin/sh
# The 'listener' option: more listening addresses and ports, each with its
# own transports, beside listening-ip:listening-port (UDP, TCP) and the TLS
# port. The way operators put TURN over TLS on 443 for clients behind
# strict firewalls while keeping 3478 and 5349.
#   - turnd binds exactly the sockets each listener names (ss), and no
#     others on those ports;
#   - coturn's turnutils_uclient relays with 0 loss through a TLS-only
#     listener on 127.0.0.1, a DTLS one on [::1] and a UDP-only one;
#   - a transport the listener does not name is not served there;
#   - relaying to a listener's own address is refused (relay loop);
#   - bad listeners are refused at start-up naming the option.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}
M=${UCLIENT_M:-5}
N=${UCLIENT_N:-100}

check "throwaway CA and server certificate" tls_certs

# ---- Refused configurations ------------------------------------------------

# listener_refused "description" "text the error must contain" CONFIG-LINES: after
# listening-ip and listening-port (lines 1 and 2), lib.sh's config_refused.
listener_refused() {
	check "$1" config_refused "$2" "listening-ip = 127.0.0.1
listening-port = 3478
$3"
}
listener_refused "unknown transport named, with file and line" "bad.conf:3" \
	'listener = { "127.0.0.1:4000/sctp" }'
listener_refused "listener without a port" "is not an address with a port" \
	'listener = { "127.0.0.1/udp" }'
listener_refused "udp and dtls on one port" "use two ports" \
	'listener = { "127.0.0.1:4000/udp,dtls" }'
listener_refused "two listeners on one socket" "already does" \
	'listener = { "127.0.0.1:4000/tcp", "127.0.0.1:4000/tls" }'
listener_refused "a listener on listening-ip:listening-port" "already listens on" \
	'listener = { "127.0.0.1:3478/udp" }'
listener_refused "TLS without a certificate" "without options 'cert' and 'pkey'" \
	'listener = { "127.0.0.1:4000/tls" }'

# ---- The server ------------------------------------------------------------

pick_port TLS_PORT && pick_port LT && pick_port LD && pick_port LU ||
	{ not_ok "free ports"; finish; }
TURND_EXTRA_CONF="legacy-channel-numbers = true
# Every uclient session is one allocation of the one user: more at once
# than the default user-quota (32) lets a user hold.
user-quota = 0
tls-listening-port = $TLS_PORT
cert = \"$T_DIR/cert.pem\"
pkey = \"$T_DIR/key.pem\"
listener = { \"127.0.0.1:$LT/tls\", \"[::1]:$LD/dtls\", \"127.0.0.1:$LU/udp\" }
log-level = info"
start_turn_server || { not_ok "start turnd"; finish; }
ok "turnd up: port $PORT, TLS port $TLS_PORT, listeners $LT/tls, [::1]:$LD/dtls, $LU/udp"
check "start-up log names each listener" sh -c \
	"grep -q 'listening on 127.0.0.1:$LT tls (listener)' '$TURN_LOG' &&
	 grep -q 'listening on \[::1\]:$LD dtls (listener)' '$TURN_LOG' &&
	 grep -q 'listening on 127.0.0.1:$LU udp (listener)' '$TURN_LOG'"

# sockets PROTO PORT: the distinct local addresses listening there.
sockets() {
	ss -Hl"$1"n | awk '{print $4}' | grep -E ":$2\$" | sort -u | tr '\n' ' '
}
check "TLS listener: TCP 127.0.0.1:$LT only, no UDP [$(sockets t "$LT")/$(sockets u "$LT")]" \
	[ "$(sockets t "$LT")" = "127.0.0.1:$LT " ] && [ -z "$(sockets u "$LT")" ]
check "DTLS listener: UDP [::1]:$LD only, no TCP [$(sockets u "$LD")/$(sockets t "$LD")]" \
	[ "$(sockets u "$LD")" = "[::1]:$LD " ] && [ -z "$(sockets t "$LD")" ]
check "UDP listener: UDP 127.0.0.1:$LU only, no TCP [$(sockets u "$LU")/$(sockets t "$LU")]" \
	[ "$(sockets u "$LU")" = "127.0.0.1:$LU " ] && [ -z "$(sockets t "$LU")" ]

check "STUN over UDP on the UDP listener" "$TURNPROBE" stun "127.0.0.1:$LU"
tls_handshake() {
	echo | timeout 10 openssl s_client "$@" -CAfile "$T_DIR/ca.pem" -verify_return_error \
		>"$T_DIR/sc.out" 2>&1 && grep -q "Verify return code: 0 (ok)" "$T_DIR/sc.out"
}
check "TLS handshake on the TLS listener" tls_handshake -connect "127.0.0.1:$LT"
check "DTLS handshake on the DTLS listener" tls_handshake -dtls1_2 -connect "[::1]:$LD"
check "no plain STUN over TCP on the TLS listener" sh -c \
	"! '$TURNPROBE' stun 127.0.0.1:$LT --tcp --timeout 500 >/dev/null 2>&1"

# ---- uclient through each listener -------------------------------------------

pick_port PEER_PORT || { not_ok "no free port for the peer"; finish; }
spawn "$TURNPEER" -q -L "127.0.0.1:$PEER_PORT" -L "127.0.0.1:$((PEER_PORT + 1))" \
	-L "[::1]:$PEER_PORT" -L "[::1]:$((PEER_PORT + 1))" >"$T_DIR/peer.log" 2>&1
sleep 0.3
check "turnutils_uclient over TLS via the 127.0.0.1:$LT listener: 0 loss" \
	uclient tls -p "$LT" -t -S -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1
check "turnutils_uclient over DTLS via the [::1]:$LD listener: 0 loss" \
	uclient dtls -p "$LD" -S -x -e ::1 -r "$PEER_PORT" ::1
check "turnutils_uclient over UDP via the 127.0.0.1:$LU listener: 0 loss" \
	uclient udp -p "$LU" -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1

# A peer at a listener's own address would feed the relay back into turnd.
loop_refused() {
	"$TURNPROBE" turn "127.0.0.1:$PORT" -u "$TURN_USER" -w "$TURN_PASS" \
		--peer "127.0.0.1:$LU" >"$T_DIR/loop.out" 2>&1
	sed 's/^/  /' "$T_DIR/loop.out" | tail -n 3
	grep -q "403" "$T_DIR/loop.out"
}
check "a permission for a listener's own address gets 403" loop_refused

check "turnd stops cleanly" stop_turn_server
finish
