#!/bin/sh
# Reflection (issue 13 item 7): a 20-byte header-only Allocate gets a
# 120-byte 401, a header-only Binding a 32-byte answer, from any source a
# spoofer names. With the default unauth-rate and unauth-burst, a flood of
# 50,000 of each from one source gets back less than it sent (bytes out per
# byte in, measured at the attacking socket, under 1.0); meanwhile a
# legitimate client on another source address relays with 0 loss, a
# source that stays under the limit gets every answer, and one over it
# still gets every answer to its authenticated requests.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/abuse/abuse_lib.sh"

FLOOD="$top_srcdir/tests/abuse/flood.py"
COUNT=50000   # datagrams of each kind
SECONDS_=4    # spread over about this long, so the server reads them
BOUND=1.0

pick_port METRICS_PORT || { not_ok "no free port for /metrics"; finish; }
# uclient draws channel numbers from 0x4000-0x7FFF (RFC 5766). The limit
# is left at its defaults: they are what is measured.
TURND_EXTRA_CONF="legacy-channel-numbers = true
metrics-port = $METRICS_PORT"
start_turn_server || { not_ok "start turnd"; finish; }
ok "turnd up on port $PORT"

pick_port PEER_PORT || { not_ok "no free port for the peer"; finish; }
spawn turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >"$T_DIR/peer.log" 2>&1

# ratio KIND: flood from 127.0.0.1 (one socket), and its figure.
ratio() {
	out=$(timeout 60 "$PYTHON3" "$FLOOD" reflect 127.0.0.1 "$PORT" "$1" "$COUNT" "$SECONDS_")
	echo "  $1 flood: $out"
	set -- "$1" $out # sent IN answers N bytes_out OUT seconds S
	r=$(awk -v o="$7" -v i="$3" 'BEGIN { printf "%.3f", (i > 0 ? o / i : 99) }')
	figure "reflection, bytes out per byte in, header-only $1 flood from one source" "$r" ratio \
		le "$BOUND"
}

# The legitimate client, from 127.0.0.2, runs through both floods (about
# 11 s: uclient starts its sessions 1-6 s late).
legit_start legit -p "$PORT" -L 127.0.0.2 -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1
sleep 1
ratio allocate
ratio binding
legit_check legit "uclient from 127.0.0.2 during the floods: 0 loss"

# A source under the limit: 300 Binding requests at 100 a second (half the
# default rate, three times less than the burst) all answered.
under() {
	out=$(timeout 30 "$PYTHON3" "$FLOOD" steady 127.0.0.1 "$PORT" 300 100 127.0.0.3)
	echo "  127.0.0.3: $out"
	[ "$out" = "sent 300 answered 300" ]
}
check "a source under the limit (127.0.0.3, 100 Binding/s) gets every answer" under

# Authenticated requests are never limited: a client on 127.0.0.4 spends
# its address's budget with 3,000 header-only Bindings (fewer answered),
# then 300 authenticated Refreshes sent at once are all answered.
authed() {
	out=$(timeout 30 "$PYTHON3" "$FLOOD" authed 127.0.0.1 "$PORT" "$TURN_USER" "$TURN_PASS" \
		127.0.0.4 300)
	echo "  127.0.0.4: $out"
	set -- $out # bindings answered B refreshes N answered M
	[ "${3:-3000}" -lt 3000 ] && [ "${7:-0}" = 300 ]
}
check "a source over the limit still gets every answer to authenticated requests" authed

suppressed() {
	n=$(metric turnd_unauth_answers_suppressed_total)
	echo "  turnd_unauth_answers_suppressed_total $n"
	[ "${n:-0}" -gt 0 ]
}
sleep 1.2 # the metrics are the workers' copies as of their last tick
check "the suppressed answers are counted in /metrics" suppressed
check "turnd stops cleanly" stop_turn_server
finish
