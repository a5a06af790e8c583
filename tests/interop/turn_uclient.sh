#!/bin/sh
# TURN relaying under coturn's own load client: turnutils_uclient against
# the TURN server, echoed by turnutils_peer on 127.0.0.1 and ::1. Each mode
# must deliver every packet (0 lost, 0 send dropped, echoes received ==
# packets sent >= clients x messages):
#   channels (uclient's default), Send/Data indications (-s),
#   client-to-client through two relays (-y), TCP to the server (-t),
#   IPv6 relay with server and peer on ::1 (-x), and the TURN REST API
#   (-W: uclient makes "expiry:user" and its HMAC password itself).
# Wrong credentials must be refused. Long-term credentials user/pass,
# realm turnd.test, REST secret "secret".
#
# The server is turnd by default; TURN_SERVER_IMPL=coturn runs the same
# test against Debian's turnserver (see turn_lib.sh). The six modes run at
# once (~12 s in all: uclient starts each session 1-6 s late, then sends
# -n packets 20 ms apart); TURN_UCLIENT_SERIAL=1 runs them one at a time
# (~60 s), which is easier to read in a server log.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

M=${UCLIENT_M:-10}   # clients (sessions: half RTP, half RTCP)
N=${UCLIENT_N:-200}  # messages per session, 20 ms apart (50 pps each)
L=${UCLIENT_L:-120}  # payload bytes
CLIENT_TIMEOUT=30    # seconds for one uclient run (a good one takes ~11)
# uclient writes its report with stdio: line-buffer it so that a run
# killed by timeout still shows how far it got.
UCLIENT="stdbuf -oL -eL turnutils_uclient"

# uclient draws channel numbers from 0x4000-0x7FFF (RFC 5766); RFC 8656
# reserves 0x5000-0x7FFF and turnd refuses them (400) unless told.
TURND_EXTRA_CONF="legacy-channel-numbers = true
# Every uclient session is one allocation of the one user: more at once
# than the default user-quota (32) lets a user hold.
user-quota = 0"
start_turn_server || { not_ok "start $TURN_SERVER_IMPL"; finish; }
start_rest_server || { not_ok "start $TURN_SERVER_IMPL for REST"; finish; }
ok "$TURN_SERVER_IMPL up on 127.0.0.1/[::1] port $PORT (REST port $REST_PORT), relay ports $MINPORT-$MAXPORT"

pick_port PEER_PORT || { not_ok "no free port for the peers"; finish; }
spawn turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >"$T_DIR/peer4.log" 2>&1
spawn turnutils_peer -L ::1 -p "$PEER_PORT" >"$T_DIR/peer6.log" 2>&1
check "turnutils_peer listening on 127.0.0.1:$PEER_PORT and [::1]:$PEER_PORT" \
	udp_bound "127.0.0.1:$PEER_PORT" "[::1]:$PEER_PORT"

# turn_lib.sh's uclient_cmd MODE: the turnutils_uclient arguments of a mode.
uclient_desc() {
	case "$1" in
	channels) echo "channels, UDP to 127.0.0.1, IPv4 relay" ;;
	send)     echo "Send/Data indications (-s), UDP, IPv4 relay" ;;
	c2c)      echo "client to client through two relays (-y), UDP" ;;
	tcp)      echo "TCP to the server (-t), IPv4 relay" ;;
	ipv6)     echo "IPv6 relay (-x), server and peer on ::1" ;;
	rest)     echo "TURN REST API credentials (-W secret)" ;;
	esac
}

# verify MODE: wait for it; every packet sent must have come back.
verify() { uclient_verify "$1" "uclient $(uclient_desc "$1")"; }

# uclient_refused MODE: the allocation must fail, fast, with nothing relayed.
uclient_refused() {
	timeout -k 2 5 $UCLIENT $(uclient_cmd "$1") >"$T_DIR/uc-$1.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] &&
		grep -q "Cannot complete Allocation" "$T_DIR/uc-$1.out" &&
		! grep -q "tot_recv_msgs=[1-9]" "$T_DIR/uc-$1.out"; then
		return 0
	fi
	echo "  exit $rc:"; sed 's/^/  | /' "$T_DIR/uc-$1.out" | tail -n 10
	return 1
}
check "wrong password refused (uclient: Cannot complete Allocation)" uclient_refused badpass
check "wrong REST secret refused (uclient: Cannot complete Allocation)" uclient_refused badsecret

MODES="channels send c2c tcp ipv6 rest"
drops0=$(udp_drops)
start=$(date +%s)
if [ -n "${TURN_UCLIENT_SERIAL:-}" ]; then
	for m in $MODES; do uclient_launch "$m"; verify "$m"; done
else
	for m in $MODES; do uclient_launch "$m"; done
	for m in $MODES; do verify "$m"; done
fi
echo "  uclient runs took $(( $(date +%s) - start )) s; kernel UDP receive-buffer drops meanwhile (machine-wide): $(( $(udp_drops) - drops0 ))"

check "$TURN_SERVER_IMPL still answers STUN after the runs" stun_ok
check "$TURN_SERVER_IMPL stops cleanly on SIGTERM" stop_turn_server
finish
