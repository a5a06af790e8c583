#!/bin/sh
# /metrics and /healthz of the real turnd, checked against the traffic the
# test sends: TURN sessions over UDP and TCP through turnpeer with a known
# number of echoes, one wrong password, and the counters and histogram
# that must follow from them.
. "$top_srcdir/tests/interop/lib.sh"

PEER_PID=""
trap peer_cleanup EXIT

PORT=$(free_port)
MPORT=$(free_port)
PEER_PORT=$(free_port)
"$TURNPEER" -L "127.0.0.1:$PEER_PORT" --max-seconds 60 -q &
PEER_PID=$!
start_turnd "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
relay-ip = { \"127.0.0.1\" }
realm = \"turnd.test\"
user = { \"user:pass\" }
allowed-peer-ip = { \"127.0.0.1\" }
allow-own-peers = true
relay-threads = 1
kernel-offload = off
metrics-port = $MPORT" || exit 1

scrape() { # scrape FILE: GET /metrics into FILE
	timeout 5 "$PYTHON3" -c "
import sys, urllib.request
r = urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=3)
assert r.status == 200 and r.headers['Content-Type'].startswith('text/plain; version=0.0.4')
sys.stdout.write(r.read().decode())" >"$1"
}
# value FILE SERIES: the number of one series, exactly as written
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }
is() { # is FILE SERIES WANT
	got=$(value "$1" "$2")
	[ "$got" = "$3" ] || { echo "  $2 = '$got', want $3"; return 1; }
}

check "GET /healthz: 200 ok" sh -c \
	"timeout 5 $PYTHON3 -c \"import urllib.request as u; r = u.urlopen('http://127.0.0.1:$MPORT/healthz', timeout=3); assert r.status == 200 and r.read() == b'ok\\\\n'\""
check "POST /metrics is refused" sh -c \
	"timeout 5 $PYTHON3 -c \"
import urllib.request as u, urllib.error as e
try:
    u.urlopen(u.Request('http://127.0.0.1:$MPORT/metrics', data=b'x', method='POST'), timeout=3)
    raise SystemExit(1)
except e.HTTPError as x:
    raise SystemExit(0 if x.code in (405, 413, 501) else 1)\""

check "a TURN session over UDP: 7 echoes" sh -c "'$TURNPROBE' turn 127.0.0.1:$PORT -u user -w pass \
	--peer 127.0.0.1:$PEER_PORT -n 7 >'$T_DIR/p1.out'"
check "a TURN session over TCP: 3 echoes" sh -c "'$TURNPROBE' turn 127.0.0.1:$PORT --tcp -u user -w pass \
	--peer 127.0.0.1:$PEER_PORT -n 3 >'$T_DIR/p2.out'"
# The first allocation's relay port is in quarantine (relay-port-quarantine,
# issue 13 item 6): the second allocation gets another, though one worker
# serves both.
check "the second allocation does not get the first one's relay port (quarantine)" sh -c \
	"a=\$(grep 'relayed address' '$T_DIR/p1.out'); [ -n \"\$a\" ] && [ -n \"\$(grep 'relayed address' '$T_DIR/p2.out')\" ] && [ \"\$a\" != \"\$(grep 'relayed address' '$T_DIR/p2.out')\" ]"
"$TURNPROBE" turn "127.0.0.1:$PORT" -u user -w wrong --peer "127.0.0.1:$PEER_PORT" -n 1 \
	>/dev/null 2>&1
sleep 1.5 # every worker copies its counters once a second
check "scrape" scrape "$T_DIR/m1"
# Each probe payload is its own; read the byte counts from the echoes.
check "relayed to peers over UDP: 7 packets" is "$T_DIR/m1" \
	'turnd_relayed_packets_total{direction="to_peer",transport="udp"}' 7
check "relayed to clients over UDP: 7 packets" is "$T_DIR/m1" \
	'turnd_relayed_packets_total{direction="to_client",transport="udp"}' 7
check "relayed to peers over TCP: 3 packets" is "$T_DIR/m1" \
	'turnd_relayed_packets_total{direction="to_peer",transport="tcp"}' 3
check "relayed to clients over TCP: 3 packets" is "$T_DIR/m1" \
	'turnd_relayed_packets_total{direction="to_client",transport="tcp"}' 3
check "bytes both ways equal (echoes), and more than 0" sh -c "
	a=\$(awk '\$1 ~ /^turnd_relayed_bytes_total.direction=\"to_peer\"/ {s += \$2} END {print s}' $T_DIR/m1)
	b=\$(awk '\$1 ~ /^turnd_relayed_bytes_total.direction=\"to_client\"/ {s += \$2} END {print s}' $T_DIR/m1)
	[ \"\$a\" -gt 0 ] && [ \"\$a\" = \"\$b\" ]"
check "two allocations made, none left" sh -c \
	"[ \"\$(awk '\$1 == \"turnd_allocations_total\" {print \$2}' $T_DIR/m1)\" = 2 ] &&
	 [ \"\$(awk '\$1 == \"turnd_allocations\" {print \$2}' $T_DIR/m1)\" = 0 ]"
check "two Allocates succeeded" is "$T_DIR/m1" 'turnd_responses_total{method="allocate",code="0"}' 2
# Three 401 challenges (one per session) and one for the wrong password.
check "four Allocates answered 401" is "$T_DIR/m1" 'turnd_responses_total{method="allocate",code="401"}' 4
check "two CreatePermission, two ChannelBind, two Refresh answered" sh -c "
	for m in createpermission channelbind refresh; do
		[ \"\$(awk -v s=\"turnd_responses_total{method=\\\"\$m\\\",code=\\\"0\\\"}\" '\$1 == s {print \$2}' $T_DIR/m1)\" = 2 ] || exit 1
	done"
check "the Allocate histogram counts all six Allocates" is "$T_DIR/m1" 'turnd_allocate_seconds_count' 6
check "  ... and its +Inf bucket equals the count" is "$T_DIR/m1" \
	'turnd_allocate_seconds_bucket{le="+Inf"}' 6
check "one TCP connection accepted" is "$T_DIR/m1" 'turnd_tcp_connections_total' 1
check "no Redis series without Redis" sh -c "! grep -q '^turnd_redis' $T_DIR/m1"
# (The labels: a family may be named for users, turnd_user_channeldata_total.)
check "no label carries a username or an address" sh -c \
	"! grep -v '^#' $T_DIR/m1 | grep -o '{[^}]*}' | grep -Eq 'user|127\\.0\\.0\\.1'"
# The kernel fast path's families are there with it off (docs/OFFLOAD.md),
# and user space saw the UDP session's ChannelData.
check "kernel-offload = off: one line says so" \
	grep -q 'kernel-offload: off: kernel-offload = off; relaying in user space' "$T_DIR/turnd.log"
check "turnd_kernel_offload_loaded 0" is "$T_DIR/m1" turnd_kernel_offload_loaded 0
check "every kernel-offload family present, all 0" sh -c "
	for s in turnd_kernel_offload_interfaces turnd_kernel_offload_entries \
		'turnd_kernel_offload_packets_total{direction=\"to_peer\"}' \
		'turnd_kernel_offload_packets_total{direction=\"to_client\"}' \
		'turnd_kernel_offload_bytes_total{direction=\"to_peer\"}' \
		'turnd_kernel_offload_bytes_total{direction=\"to_client\"}' \
		'turnd_kernel_offload_passed_total{reason=\"expired\"}' \
		'turnd_kernel_offload_passed_total{reason=\"stale\"}' \
		'turnd_kernel_offload_passed_total{reason=\"malformed\"}' \
		'turnd_kernel_offload_passed_total{reason=\"padding\"}' \
		'turnd_kernel_offload_passed_total{reason=\"mtu\"}' \
		'turnd_kernel_offload_passed_total{reason=\"checksum\"}' \
		'turnd_kernel_offload_passed_total{reason=\"gso\"}' \
		turnd_kernel_offload_bandwidth_drops_total turnd_kernel_offload_errors_total \
		'turnd_kernel_offload_fallbacks_total{reason=\"map_full\"}' \
		'turnd_kernel_offload_fallbacks_total{reason=\"route\"}'; do
		[ \"\$(awk -v s=\"\$s\" '\$1 == s {print \$2}' $T_DIR/m1)\" = 0 ] ||
			{ echo \"  \$s: not 0\"; exit 1; }
	done"
check "user space handled the ChannelData (turnd_user_channeldata_total > 0)" sh -c \
	"[ \"\$(awk '\$1 == \"turnd_user_channeldata_total\" {print \$2}' $T_DIR/m1)\" -gt 0 ]"
check "no reload yet" sh -c "grep -q '^turnd_config_reloads_total{result=\"applied\"} 0\$' $T_DIR/m1 &&
	grep -q '^turnd_config_reloads_total{result=\"refused\"} 0\$' $T_DIR/m1"
# SIGHUP with the same file, then with a broken one: counted by result.
reloaded() { # reloaded SERIES WANT: wait for the count
	for _ in $(seq 1 30); do
		scrape "$T_DIR/m2" && [ "$(value "$T_DIR/m2" "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "  $1 = '$(value "$T_DIR/m2" "$1")', want $2"
	return 1
}
kill -HUP "$TURND_PID"
check "SIGHUP: turnd_config_reloads_total{result=applied} 1" \
	reloaded 'turnd_config_reloads_total{result="applied"}' 1
cp "$T_DIR/turnd.conf" "$T_DIR/good.conf"
echo "no-such-option = 1" >>"$T_DIR/turnd.conf"
kill -HUP "$TURND_PID"
check "SIGHUP with a broken file: turnd_config_reloads_total{result=refused} 1" \
	reloaded 'turnd_config_reloads_total{result="refused"}' 1
cp "$T_DIR/good.conf" "$T_DIR/turnd.conf"

# rx-coalesce-us, set by a reload: a worker relaying over 5,000 datagrams
# a second waits after its loop turns, and loses nothing by it. Before,
# with the light sessions above and no option, it never waited.
check "no rx-coalesce-us: no wait" is "$T_DIR/m2" turnd_rx_coalesce_waits_total 0
echo "rx-coalesce-us = 200" >>"$T_DIR/turnd.conf"
kill -HUP "$TURND_PID"
check "SIGHUP adding rx-coalesce-us = 200: applied" \
	reloaded 'turnd_config_reloads_total{result="applied"}' 2
TURNLOAD=${TURNLOAD:-${top_builddir:-.}/turnload}
coalesced_load() {
	timeout -k 2 30 "$TURNLOAD" --json -q -u user -w pass -e "127.0.0.1:$PEER_PORT" -n 4 \
		-l 120 -r 8000 -d 3 "127.0.0.1:$PORT" >"$T_DIR/load.json" 2>"$T_DIR/load.err" ||
		{ cat "$T_DIR/load.err"; return 1; }
	set -- $("$PYTHON3" -c 'import json, sys; j = json.load(open(sys.argv[1]))
print(j["received"], j["lost"])' "$T_DIR/load.json")
	sleep 1.2 # the counters are copied once a tick
	scrape "$T_DIR/m3"
	waits=$(value "$T_DIR/m3" turnd_rx_coalesce_waits_total)
	echo "  8,000 round trips/s for 3 s: $1 echoed, $2 lost; $waits waits"
	[ "${1:-0}" -ge 20000 ] && [ "$2" = 0 ] && [ "${waits:-0}" -gt 0 ]
}
check "16,000 datagrams/s with rx-coalesce-us: waits counted, none lost" coalesced_load
check "turnd stops cleanly" stop_turnd
finish
