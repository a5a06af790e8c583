#!/bin/sh
# TCP relay allocations (RFC 6062) under coturn's own load client:
# turnutils_uclient -T runs client to client through two TCP allocations
# (-T implies -t, -y, -c): one side sends Connect to the other's relayed
# address, the other gets a ConnectionAttempt, both open a data connection
# with ConnectionBind, and the messages flow as raw bytes through the
# relays. Every message must arrive (0 lost, 0 send dropped, received ==
# sent >= clients x messages), over TCP (IPv4, and IPv6 relays with -x)
# and over TLS (-S), small and bounded in time. Afterwards /metrics shows the connections made and none
# left (connections, pipes, allocations back to 0), and turnd still
# answers STUN; connections nobody binds are closed after 30 s; peers connecting while turnd is out of descriptors are
# refused without a busy loop; and turnd stops cleanly with connections
# piped (under the sanitizers: no report, no leak).
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

M=${UCLIENT_M:-4}   # clients
N=${UCLIENT_N:-50}  # messages per client, 20 ms apart
L=${UCLIENT_L:-120} # payload bytes
CLIENT_TIMEOUT=40   # seconds for one uclient run (a good one takes ~5)
UCLIENT="stdbuf -oL -eL turnutils_uclient"

for tool in openssl turnutils_uclient; do
	command -v "$tool" >/dev/null 2>&1 || { not_ok "$tool installed (scripts/deps.sh)"; finish; }
done
if [ "$TURN_SERVER_IMPL" != turnd ]; then
	not_ok "this test runs turnd only (TURN_SERVER_IMPL=$TURN_SERVER_IMPL)"
	finish
fi

check "throwaway CA and server certificate made with openssl" tls_certs
pick_port TLS_PORT || { not_ok "no free port for TLS"; finish; }
pick_port METRICS_PORT || { not_ok "no free port for metrics"; finish; }
TURND_EXTRA_CONF="metrics-port = $METRICS_PORT
# Every uclient session is one allocation of the one user: more at once
# than the default user-quota (32) lets a user hold.
user-quota = 0
tls-listening-port = $TLS_PORT
cert = \"$T_DIR/cert.pem\"
pkey = \"$T_DIR/key.pem\"
log-level = info"
start_turn_server || { not_ok "start turnd"; finish; }
ok "turnd up on 127.0.0.1/[::1], port $PORT, TLS port $TLS_PORT, relay ports $MINPORT-$MAXPORT"

# turn_lib.sh's uclient_cmd relay_tcp, relay_tcp6, relay_tls: uclient -T
# (RFC 6062 TCP relay) over TCP, TCP on ::1 and TLS; uclient_launch and
# uclient_verify run one and check that every message sent arrived.

# Meanwhile (it takes 30 s): connections nobody binds are closed.
spawn timeout 60 "${PYTHON3:-python3}" "$top_srcdir/tests/interop/turn_client.py" --tcp \
	--port "$PORT" --realm "$TURN_REALM" tcp_bind_timeout "$TURN_USER" "$TURN_PASS" \
	>"$T_DIR/bind-timeout.out" 2>&1
BIND_TIMEOUT_PID=$BG_PID

for m in tcp tcp6 tls; do
	uclient_launch "relay_$m"
	uclient_verify "relay_$m" "uclient -T over $m"
done

bind_timeout() {
	reap "$BIND_TIMEOUT_PID"
	rc=$?
	cat "$T_DIR/bind-timeout.out"
	return $rc
}
check "connections not bound within 30 s are closed (RFC 6062), the allocation lives on" \
	bind_timeout

# Counters are copied once a second: wait for the clients' allocations
# to be gone (uclient closes its connections as it exits).
all_closed() {
	for _ in $(seq 1 50); do
		a=$(metric turnd_allocations) c=$(metric turnd_tcp_relay_connections)
		p=$(metric turnd_tcp_relay_pipes)
		[ "$a" = 0 ] && [ "$c" = 0 ] && [ "$p" = 0 ] && break
		sleep 0.2
	done
	total=$(metric turnd_tcp_relay_connections_total)
	up=$(metric 'turnd_tcp_relay_bytes_total{direction="to_peer"}')
	down=$(metric 'turnd_tcp_relay_bytes_total{direction="to_client"}')
	echo "  allocations $a, TCP relay connections $c (made $total), pipes $p," \
		"bytes piped $up to peers, $down to clients"
	# Three runs: every client's messages went one way and came the other.
	[ "$a" = 0 ] && [ "$c" = 0 ] && [ "$p" = 0 ] && [ "${total:-0}" -ge $((3 * M)) ] &&
		[ "${up:-0}" -ge $((3 * M * N * L)) ] && [ "${down:-0}" -ge $((3 * M * N * L)) ]
}
check "/metrics: TCP relay connections made, none left after the clients" all_closed

# Piped bytes are relayed bytes: turnd_relayed_bytes_total over TCP holds
# at least the piped ones, and the allocations' "deleted" log lines count
# what their data connections piped.
relayed_counts_pipes() {
	up=$(metric 'turnd_tcp_relay_bytes_total{direction="to_peer"}')
	down=$(metric 'turnd_tcp_relay_bytes_total{direction="to_client"}')
	rup=$(metric 'turnd_relayed_bytes_total{direction="to_peer",transport="tcp"}')
	rdown=$(metric 'turnd_relayed_bytes_total{direction="to_client",transport="tcp"}')
	set -- $(sed -n 's/.*allocation deleted: .*transport=tcp .*to_peer_bytes=\([0-9]*\) .*to_client_bytes=\([0-9]*\) .*/\1 \2/p' \
		"$TURN_LOG" | awk '{u += $1; d += $2} END {print u + 0, d + 0}')
	echo "  piped $up/$down; relayed over TCP $rup/$rdown; in deleted lines $1/$2"
	# uclient may end an allocation before its data connection: what is
	# piped after that belongs to no allocation's line.
	[ "${rup:-0}" -ge "${up:-1}" ] && [ "${rdown:-0}" -ge "${down:-1}" ] &&
		[ "$1" -gt 0 ] && [ "$1" -le "$up" ] && [ "$2" -gt 0 ] && [ "$2" -le "$down" ]
}
check "piped bytes counted as relayed: in /metrics and the allocation log lines" \
	relayed_counts_pipes

check "turnd still answers STUN after the runs" stun_ok

# Out of descriptors (SECURITY.md): with turnd's limit lowered to what it
# has open plus a few, peers connecting to a relayed address are refused
# at once, turnd does not spin, and the allocation still answers.
exhausted() {
	lim=$(prlimit --pid "$TURND_PID" --nofile --noheadings --output SOFT,HARD | awk '{print $1":"$2}')
	nfd=$(ls "/proc/$TURND_PID/fd" | wc -l)
	refused0=$(metric turnd_tcp_relay_refused_total)
	prlimit --pid "$TURND_PID" --nofile=$((nfd + 24)):"${lim#*:}" || return 1
	timeout 30 "${PYTHON3:-python3}" "$top_srcdir/tests/interop/turn_client.py" --tcp \
		--port "$PORT" --realm "$TURN_REALM" tcp_fd_exhaustion "$TURN_USER" "$TURN_PASS" \
		"$TURND_PID"
	rc=$?
	prlimit --pid "$TURND_PID" --nofile="$lim"
	sleep 1.2 # a tick: the counters are copied once a second
	refused=$(metric turnd_tcp_relay_refused_total)
	echo "  peers' connections refused: $((refused - refused0))"
	[ "$rc" -eq 0 ] && [ "$((refused - refused0))" -ge 50 ]
}
check "out of descriptors: peers refused at once, no busy loop" exhausted

# Stopping while connections are piped (both directions, both workers):
# every worker frees its own, none wakes one already gone, and nothing
# leaks (the sanitizer build checks).
piping() {
	for _ in $(seq 1 50); do
		p=$(metric turnd_tcp_relay_pipes)
		[ "${p:-0}" -ge 2 ] && return 0
		sleep 0.2
	done
	echo "  pipes: ${p:-none}"
	return 1
}
spawn timeout -k 5 "$CLIENT_TIMEOUT" $UCLIENT -u "$TURN_USER" -w "$TURN_PASS" -m "$M" -n 1000 \
	-l "$L" -T -p "$PORT" 127.0.0.1 >"$T_DIR/uc-stop.out" 2>&1
check "a long uclient -T run is piping" piping
check "turnd stops cleanly on SIGTERM with TCP relay connections piped" stop_turn_server
finish
