#!/bin/sh
# The kernel fast path (issue 15) against the real daemon, in three network
# namespaces (tests/interop/offload_lib.sh: client -- server -- peer).
#
# For kernel-offload = off, then on (and once on with a clsact filter,
# TURND_OFFLOAD_ATTACH=tc), the same runs: coturn's turnutils_uclient with
# channels (IPv4 and IPv6) and turnload, 0 loss, and turnd's relayed
# counters agree with what the clients counted. On, the kernel carried the
# data (turnd_kernel_offload_packets_total) and user space saw next to no
# ChannelData; off, the kernel counters are 0 and user space counted it.
# Then offload_client.py, datagram by datagram: each removal path (Refresh
# 0, a reload that refuses the peer, drain, SIGKILL with either
# attachment) and each edge case (IPv6, padding, a length beyond the
# datagram, a channel not bound, an unknown peer port) does what user
# space does, and the kernel forwards nothing it should not.
# With bps-capacity set nothing is offloaded; a reload lifting it offloads
# again (issue 16).
# Last, the Chromium relay test across the namespaces with the offload on.
# About 3 minutes. OFFLOAD_SLOW=1 adds the expiry of a permission and of
# an allocation (RFC 8656: 300 s and 600 s, which no option shortens).
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/interop/offload_lib.sh"

TURNLOAD=${TURNLOAD:-${top_builddir:-.}/turnload}
TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}
PY=${PYTHON3:-python3}
DRIVER=$top_srcdir/tests/interop/offload_client.py

must "three namespaces joined by veth, tx checksum offload off on the client and peer ends" \
	offload_topology || finish

# The echo peers: coturn's for uclient on 3480, ours for turnload on 3481.
PEER_PORT=3480
spawn inp turnutils_peer -L "$P4" -p "$PEER_PORT" >"$T_DIR/peer4.log" 2>&1
spawn inp turnutils_peer -L "$P6" -p "$PEER_PORT" >"$T_DIR/peer6.log" 2>&1
spawn inp "$TURNPEER" -L "$P4:3481" >"$T_DIR/turnpeer.out" 2>"$T_DIR/turnpeer.err"
peers_bound() {
	for _ in $(seq 1 50); do
		b=$(inp ss -Hlun | awk '{print $4}')
		echo "$b" | grep -qxF "$P4:$PEER_PORT" && echo "$b" | grep -qxF "[$P6]:$PEER_PORT" &&
			echo "$b" | grep -qxF "$P4:3481" && return 0
		sleep 0.1
	done
	return 1
}
check "peers in the peer namespace: turnutils_peer on $P4 and [$P6] port $PEER_PORT, turnpeer on 3481" \
	peers_bound

# Before the daemon's side of issue 15 is merged turnd does not know the
# option: the "off" runs then use turnd as it is (user space only) and
# every "on" check fails.
if offload_option_known; then
	OFF_MODE=off
else
	not_ok "turnd knows kernel-offload (issue 15's daemon side): $(tail -n 1 "$T_DIR/probe-conf.out")"
	OFF_MODE=""
fi

UCLIENT="ip netns exec $NS_C stdbuf -oL -eL turnutils_uclient"
UC_PEER4=$P4 UC_SERVER4=$S4 UC_PEER6=$P6 UC_SERVER6=$S6
M=${OFFLOAD_UCLIENT_M:-6} N=${OFFLOAD_UCLIENT_N:-100} L=120
CLIENT_TIMEOUT=40

# agree MODE SENT RECV LEN SLACK: turnd's relayed counters moved by what
# the client sent and got back (SLACK more at most); on, the kernel carried
# all but SLACK and user space saw at most SLACK ChannelData; off, the
# kernel counted nothing and user space every ChannelData sent.
agree() {
	mode=$1 s=$2 r=$3 len=$4 slack=$5
	between "relayed packets to the peer" "$(delta rp_peer)" "$s" $((s + slack)) &&
		between "relayed packets to the client" "$(delta rp_client)" "$r" $((r + slack)) &&
		between "relayed bytes to the peer" "$(delta rb_peer)" $((s * len)) $(((s + slack) * len)) &&
		between "relayed bytes to the client" "$(delta rb_client)" $((r * len)) $(((r + slack) * len)) ||
		return 1
	if [ "$mode" = on ]; then
		between "turnd_kernel_offload_loaded" "$after_loaded" 1 1 &&
			between "turnd_kernel_offload_interfaces (the two veth ends)" "$after_ifs" 2 2 &&
			between "fallbacks, map full" "$(delta fb_full)" 0 0 &&
			between "fallbacks, no route" "$(delta fb_route)" 0 0 &&
			between "kernel packets to the peer" "$(delta kp_peer)" $((s - slack)) "$s" &&
			between "kernel packets to the client" "$(delta kp_client)" $((r - slack)) "$r" &&
			between "kernel bytes to the peer" "$(delta kb_peer)" $(((s - slack) * len)) $((s * len)) &&
			between "user-space ChannelData" "$(delta uc)" 0 "$slack"
	else
		between "turnd_kernel_offload_loaded" "$after_loaded" 0 0 &&
			between "kernel packets to the peer" "$after_kp_peer" 0 0 &&
			between "kernel packets to the client" "$after_kp_client" 0 0 &&
			between "user-space ChannelData" "$(delta uc)" "$s" $((s + r + slack))
	fi
}

# uclient_counted MODE KIND LABEL: uclient KIND (channels or ipv6), 0 loss,
# and the counters agree with it.
uclient_counted() {
	snap before || { not_ok "$3: /metrics"; return; }
	lines=$(wc -l <"$TURN_LOG")
	uclient_launch "$2"
	uclient_verify "$2" "$3"
	sleep 1.5 # turnd folds the kernel's counters in once a second
	snap after || { not_ok "$3: /metrics"; return; }
	moved
	check "$3: turnd's counters agree with uclient's $sent sent, $recv back" \
		agree "$1" "$sent" "$recv" "$L" "$M"
	check "$3: the allocations' log lines count $sent packets to the peer, $recv to the client" \
		logged "$lines" "$sent" "$recv"
}

# logged LINES SENT RECV: the "allocation deleted" lines after line LINES
# of turnd's log add up to SENT packets to the peer and RECV to the client
# (the kernel's share folded in).
logged() {
	set -- $(tail -n +$(($1 + 1)) "$TURN_LOG" | awk '/allocation deleted:/ {
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^to_peer_packets=/) { sub(/.*=/, "", $i); p += $i }
			if ($i ~ /^to_client_packets=/) { sub(/.*=/, "", $i); c += $i }
		}
	} END { print p + 0, c + 0 }') "$2" "$3"
	[ "$1" = "$3" ] && [ "$2" = "$4" ] && return 0
	echo "  logged $1 to the peer, $2 to the client"
	return 1
}

# turnload_counted MODE LABEL: turnload, 4 sessions x 300 to turnpeer, all
# back, and the counters agree.
turnload_counted() {
	snap before || { not_ok "$2: /metrics"; return; }
	inc timeout -k 2 30 "$TURNLOAD" --json -u "$TURN_USER" -w "$TURN_PASS" -e "$P4:3481" \
		-n 4 -c 300 "$S4:$PORT" >"$T_DIR/load.out" 2>"$T_DIR/load.err"
	rc=$?
	set -- "$1" "$2" $("$PY" -c 'import json, sys
j = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print(j["sent"], j["received"], j["lost"], j["duplicates"])' "$T_DIR/load.out" 2>/dev/null)
	if [ "$rc" -eq 0 ] && [ "${3:-}" = 1200 ] && [ "${4:-}" = 1200 ] && [ "${5:-}" = 0 ]; then
		ok "$2: turnload 1200 sent, 1200 back, 0 lost"
	else
		not_ok "$2: turnload 1200 sent, 1200 back, 0 lost (exit $rc: ${3:-?} ${4:-?} ${5:-?})"
		sed 's/^/  | /' "$T_DIR/load.out" "$T_DIR/load.err" | tail -n 10
		return
	fi
	sleep 1.5
	snap after || { not_ok "$2: /metrics"; return; }
	moved
	check "$2: turnd's counters agree with turnload's 1200 sent, 1200 back" \
		agree "$1" 1200 1200 120 4
}

# capped MODE: max-bps with the offload MODE (the kernel's bucket in
# offload_buckets, or user space's turn_bandwidth_take). One allocation,
# turnload offering 200 datagrams/s of 200 bytes for 4 s, each echoed: 80,000
# bytes/s both ways together against a cap of 20,000. Both ways share the
# allocation's bucket, which starts full (one second's worth), so what is
# relayed both ways is about CAP x (4 + 1): at most that and 10% (turnload's
# 4 s are not exact), at least CAP x 4 x 0.9.
CAP=20000
capped() {
	must "offload $1, max-bps = $CAP: turnd up" offload_start "$1" "" "max-bps = $CAP" ||
		{ killed_turnd; return; }
	snap before || { not_ok "offload $1, max-bps: /metrics"; return; }
	inc timeout -k 2 30 "$TURNLOAD" --json -q -u "$TURN_USER" -w "$TURN_PASS" -e "$P4:3481" \
		-n 1 -l 200 -r 200 -d 4 "$S4:$PORT" >"$T_DIR/capped.out" 2>"$T_DIR/capped.err"
	sleep 1.5 # the kernel's counters are folded in once a second
	snap after || { not_ok "offload $1, max-bps: /metrics"; return; }
	moved
	sent=$("$PY" -c 'import json, sys
print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["sent"])' "$T_DIR/capped.out" 2>/dev/null)
	check "offload $1, max-bps = $CAP: turnload offered about 800 datagrams (${sent:-none})" \
		between "datagrams turnload sent" "${sent:-0}" 780 820
	bytes=$(($(delta rb_peer) + $(delta rb_client)))
	check "offload $1, max-bps = $CAP: $bytes bytes relayed both ways in 4 s, within the cap" \
		between "bytes relayed both ways" "$bytes" $((CAP * 4 * 9 / 10)) $((CAP * 5 * 11 / 10))
	if [ "$1" = on ]; then
		check "offload $1, max-bps: the kernel carried it and dropped the excess" \
			capped_in_kernel
	else
		check "offload $1, max-bps: user space dropped the excess" \
			between "turnd_drops_total{reason=bandwidth}" "$(delta ubw)" 1 1000
	fi
	check "offload $1, max-bps: turnd stops cleanly" stop_turnd
}

# capped_in_kernel: the datagrams turnd relayed went through the kernel,
# which dropped what the bucket refused; user space saw at most the 4 a
# client may send before its entry is in (as agree's slack).
capped_in_kernel() {
	between "kernel packets to the peer" "$(delta kp_peer)" $(($(delta rp_peer) - 4)) "$(delta rp_peer)" &&
		between "kernel packets to the client" "$(delta kp_client)" $(($(delta rp_client) - 4)) "$(delta rp_client)" &&
		between "turnd_kernel_offload_bandwidth_drops_total" "$(delta kbw)" 1 1000 &&
		between "user-space ChannelData" "$(delta uc)" 0 4
}

# turnctl_live MODE LABEL: while turnload relays (2 sessions, 400 packets a
# second), turnctl's sessions count what the allocations relayed so far,
# the kernel's share folded in: with the offload on, user space sees next
# to none of it, so counters without the fold would stay near 0.
turnctl_live() {
	TURNCTL=${TURNCTL:-${top_builddir:-.}/turnctl}
	inc timeout -k 2 30 "$TURNLOAD" --json -u "$TURN_USER" -w "$TURN_PASS" -e "$P4:3481" \
		-n 2 -r 400 -d 5 "$S4:$PORT" >"$T_DIR/live.out" 2>"$T_DIR/live.err" &
	live=$!
	sleep 3
	snap before || true
	# turnload's are the sessions of this run (at most 4 s old): earlier
	# clients may have left some of theirs.
	got=$("$TURNCTL" -s "$T_DIR/control" --json sessions | "$PY" -c 'import json, sys
j = [s for s in json.load(sys.stdin)["sessions"] if s["age_s"] <= 4]
print(len(j), sum(s["to_peer_packets"] for s in j), sum(s["to_client_packets"] for s in j))')
	wait "$live"
	rc=$?
	# The workers' counters reach /metrics at their next tick: the
	# scenarios after this one compare /metrics before and after.
	sleep 1.5
	set -- "$1" "$2" $got
	echo "  turnctl after 3 s: ${3:-?} sessions, ${4:-?} packets to the peer, ${5:-?} to the client;" \
		"the kernel's so far $before_kp_peer/$before_kp_client, user-space ChannelData $before_uc"
	# About 1,000 datagrams each way by then (turnload starts within 0.5 s);
	# 800 leaves room for a slow start.
	check "$2: turnctl sessions while turnload relays count both ways (kernel traffic folded in)" \
		test "$rc" -eq 0 -a "${3:-0}" -eq 2 -a "${4:-0}" -ge 800 -a "${5:-0}" -ge 800
}

# driver MODE LABEL [--stale] SCENARIO...: offload_client.py's scenarios
# against the running turnd, each line ok or not ok.
driver() {
	mode=$1 label=$2
	shift 2
	if ! kill -0 "$TURND_PID" 2>/dev/null; then
		not_ok "$label: turnd is running"
		return
	fi
	limit=120
	[ -z "${OFFLOAD_SLOW:-}" ] || limit=820 # the expiry waits 615 s
	timeout -k 2 "$limit" "$PY" "$DRIVER" --kernel "$mode" --client-ns "$NS_C" --server-ns "$NS_S" \
		--peer-ns "$NS_P" --server4 "$S4" --server6 "$S6" --peer4 "$P4" --peer6 "$P6" \
		--pid "$TURND_PID" --conf "$T_DIR/turnd.conf" --log "$T_DIR/turnd.log" \
		--metrics-port "$METRICS_PORT" --port "$PORT" "$@" >"$T_DIR/driver.out" 2>&1
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) ok "$label: ${line#ok - }" ;;
		"not ok - "*) not_ok "$label: ${line#not ok - }" ;;
		*) printf '  %s\n' "$line" ;;
		esac
	done <"$T_DIR/driver.out"
	grep -q "^ok - \|^not ok - " "$T_DIR/driver.out" || not_ok "$label: offload_client.py ran"
}

# killed_turnd: turnd is gone (SIGKILL by the driver); forget it.
killed_turnd() {
	kill -KILL "$TURND_PID" 2>/dev/null
	wait "$TURND_PID" 2>/dev/null
	TURND_PID=""
}

# one_mode MODE CONF_MODE: turnd with kernel-offload = CONF_MODE (empty:
# the option left out), the client runs, the scenarios, a clean stop.
one_mode() {
	must "kernel-offload = ${2:-(unset)}: turnd up in the server namespace" \
		offload_start "$2" || { killed_turnd; return; }
	uclient_counted "$1" channels "offload $1: uclient channels, IPv4"
	uclient_counted "$1" ipv6 "offload $1: uclient channels, IPv6 (-x)"
	turnload_counted "$1" "offload $1"
	turnctl_live "$1" "offload $1"
	set -- "$1" "offload $1" refresh0 ipv6 padding malformed unbound unknown_port reload_deny
	# Drain last: turnd stops once its last allocation is gone.
	[ -z "${OFFLOAD_SLOW:-}" ] || set -- "$@" expiry
	driver "$@" drain
	check "offload $1: turnd stops cleanly" stop_turnd
	: >>"$T_DIR/turnd.log"
}

# killed MODE ATTACH LABEL [--stale]: turnd with the offload, a channel,
# SIGKILL: nothing more reaches the peer.
killed() {
	must "$3: turnd up" offload_start on "$2" || { killed_turnd; return; }
	driver on "$3" ${4:-} sigkill
	killed_turnd
}

# The sanitizer twin (TURND_SANITIZED=1) runs what exercises the fast
# path's own code in turnd: the "on" half and the two SIGKILLs. The "off"
# half, the clsact uclient run and Chromium add no code of turnd's that
# the other sanitized tests do not run, and cost a minute of make check.
[ -n "${TURND_SANITIZED:-}" ] || one_mode off "$OFF_MODE"
one_mode on on
[ -n "${TURND_SANITIZED:-}" ] || capped off
capped on

# bps-capacity or user-max-bps (issue 16) are budgets shared with user
# space that the kernel cannot draw from: while either is set nothing is
# offloaded (one line says so) and user space relays every ChannelData; a
# reload that lifts the cap offloads the next channels again.
in_user_space() {
	between "kernel packets to the peer" "$(delta kp_peer)" 0 0 &&
		between "kernel packets to the client" "$(delta kp_client)" 0 0 &&
		between "turnd_kernel_offload_loaded" "$after_loaded" 1 1 &&
		between "user-space ChannelData" "$(delta uc)" "$sent" $((sent + recv + M))
}
capped_mode() {
	must "offload on, bps-capacity set: turnd up" \
		offload_start on "" "bps-capacity = 100000000" || { killed_turnd; return; }
	check "bps-capacity: one line says nothing is offloaded" grep -q \
		'kernel-offload: no channel is offloaded while bps-capacity or user-max-bps is set' \
		"$T_DIR/turnd.log"
	snap before || { not_ok "bps-capacity: /metrics"; return; }
	uclient_launch channels
	uclient_verify channels "offload on, bps-capacity set: uclient channels, IPv4"
	sleep 1.5
	snap after || { not_ok "bps-capacity: /metrics"; return; }
	moved
	check "bps-capacity set: user space relayed every ChannelData, the kernel none" in_user_space
	sed -i '/^bps-capacity/d' "$T_DIR/turnd.conf"
	kill -HUP "$TURND_PID"
	lifted() {
		for _ in $(seq 1 50); do
			grep -q 'kernel-offload: bps-capacity and user-max-bps are off' "$T_DIR/turnd.log" &&
				return 0
			sleep 0.1
		done
		return 1
	}
	check "a reload lifting bps-capacity: one line says channels are offloaded again" lifted
	uclient_counted on channels "offload on, bps-capacity lifted: uclient channels, IPv4"
	check "offload on, bps-capacity: turnd stops cleanly" stop_turnd
	: >>"$T_DIR/turnd.log"
}
capped_mode
killed on "" "offload on, tcx link, SIGKILL"
# A clsact filter outlives the process: the heartbeat ends it 3 s later.
killed on tc "offload on, clsact filter (TURND_OFFLOAD_ATTACH=tc), SIGKILL" --stale
if [ -n "${TURND_SANITIZED:-}" ]; then
	:
elif must "offload on, clsact filter: turnd up" offload_start on tc; then
	uclient_counted on channels "offload on, clsact filter: uclient channels, IPv4"
	check "offload on, clsact filter: turnd stops cleanly" stop_turnd
else
	killed_turnd
fi

# Chromium in the client namespace, two peer connections relay-only: A
# through turnd here (offload on), B through a second turnd in the peer
# namespace (its relay address is the peer's), so the relay-to-relay
# traffic crosses the server<->peer veth. The client reaches the second
# server through the server namespace: forwarding on there, for this test
# only. The default route in the client namespace leads nowhere further:
# Chromium only asks the kernel for its source address with it.
browser_conf() {
	cat <<EOF
listening-ip = { "$P4" }
listening-port = $PORT
relay-ip = { "$P4" }
min-port = 41000
max-port = 41999
tls-listening-port = 0
realm = "$TURN_REALM"
user = { "$TURN_USER:$TURN_PASS" }
allowed-peer-ip = { "$R4" }
EOF
}
browser_up() {
	offload_routes && inc ip route add default via "$S4" || return 1
	browser_conf >"$T_DIR/turnd2.conf"
	spawn ip netns exec "$NS_P" "$TURND" -c "$T_DIR/turnd2.conf" \
		>"$T_DIR/turnd2.out" 2>"$T_DIR/turnd2.log"
	for _ in $(seq 1 50); do
		inc "$TURNPROBE" stun "$P4:$PORT" --timeout 200 >/dev/null 2>&1 && break
		sleep 0.1
	done
	inc "$TURNPROBE" stun "$P4:$PORT" --timeout 500 >/dev/null 2>&1 &&
		offload_start on
}
# kernel_both_ways: the kernel counters moved both ways between snaps.
kernel_both_ways() {
	[ "$(delta kp_peer)" -gt 0 ] && [ "$(delta kp_client)" -gt 0 ] && return 0
	echo "  kernel packets moved $(delta kp_peer) to the peer, $(delta kp_client) to the client"
	return 1
}
chromium_relay() {
	snap before || return 1
	inc timeout -k 5 45 "$PY" "$top_srcdir/tests/e2e/browser_test.py" --turn "$S4:$PORT" \
		--turn2 "$P4:$PORT" --transport udp --user "$TURN_USER" --password "$TURN_PASS" \
		--messages 20 --timeout 25 --tmpdir "$T_DIR" >"$T_DIR/browser.out" 2>&1
	rc=$?
	n=0
	while IFS= read -r line; do
		case "$line" in
		"PASS "*) ok "chromium, offload on: ${line#PASS }"; n=$((n + 1)) ;;
		"FAIL "*) not_ok "chromium, offload on: ${line#FAIL }"; n=$((n + 1)) ;;
		*) echo "  $line" | cut -c1-400 ;;
		esac
	done <"$T_DIR/browser.out"
	[ "$n" -gt 0 ] && [ "$rc" -le 1 ] || not_ok "chromium: browser_test.py ended with status $rc"
	sleep 1.5
	snap after || return 1
	moved
	check "chromium, offload on: the kernel carried relay traffic both ways" kernel_both_ways
}
if [ -n "${TURND_SANITIZED:-}" ]; then
	:
elif must "chromium: routes through the server, a second turnd in the peer namespace, turnd (offload on)" \
	browser_up; then
	chromium_relay
	check "chromium: turnd stops cleanly" stop_turnd
else
	killed_turnd
fi
finish
