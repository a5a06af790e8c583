# The kernel fast path's test bed (issue 15, tests/interop/offload_netns.sh):
# three network namespaces this file creates and deletes, joined by veth
# pairs, with turnd in the middle:
#
#   client 10.X.1.2 fdXX:1::2 -- 10.X.1.1 fdXX:1::1 server (turnd)
#                                10.X.2.1 fdXX:2::1 server -- 10.X.2.2 fdXX:2::2 peer
#
# X (and XX, its hex) comes from the test's pid, so two runs at once use
# other namespaces, interfaces and addresses. turnd listens on the client
# side and relays from the peer side: the TC program sits on the ingress of
# both of the server's veth ends. Sourced after lib.sh and turn_lib.sh.

TAG=$$
OFF_X=$((100 + TAG % 150))
OFF_XX=$(printf '%02x' "$OFF_X")
NS_C="offloadtest-c-$TAG" NS_S="offloadtest-s-$TAG" NS_P="offloadtest-p-$TAG"
# Interface names: at most 15 bytes.
IF_C="ofc$TAG" IF_SC="ofsc$TAG" IF_SP="ofsp$TAG" IF_P="ofp$TAG"
C4=10.$OFF_X.1.2 S4=10.$OFF_X.1.1 R4=10.$OFF_X.2.1 P4=10.$OFF_X.2.2
C6=fd$OFF_XX:1::2 S6=fd$OFF_XX:1::1 R6=fd$OFF_XX:2::1 P6=fd$OFF_XX:2::2
PORT=3478
METRICS_PORT=9641
METRICS_NS=$NS_S
TURN_LOG=$T_DIR/turnd.log

inp() { ip netns exec "$NS_P" "$@"; }

# offload_cleanup: the exit trap: what turn_lib.sh started, turnd, then the
# namespaces and what still runs in them (a clsact filter goes with them).
offload_cleanup() {
	turn_cleanup
	for ns in "$NS_C" "$NS_S" "$NS_P"; do netns_del "$ns"; done
}
trap offload_cleanup EXIT

# offload_veth NS_A IF_A NS_B IF_B ADDR4_A ADDR6_A ADDR4_B ADDR6_B: a veth
# pair between two namespaces, /24 and /64 on both ends, up. IPv6 without
# duplicate address detection: the addresses are usable at once.
offload_veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || return 1
	ip -n "$1" addr add "$5/24" dev "$2" && ip -n "$1" -6 addr add "$6/64" dev "$2" nodad &&
		ip -n "$3" addr add "$7/24" dev "$4" && ip -n "$3" -6 addr add "$8/64" dev "$4" nodad &&
		ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# offload_topology: the three namespaces, their links and addresses.
offload_topology() {
	ip netns add "$NS_C" && ip netns add "$NS_S" && ip netns add "$NS_P" || return 1
	for ns in "$NS_C" "$NS_S" "$NS_P"; do ip -n "$ns" link set lo up || return 1; done
	offload_veth "$NS_C" "$IF_C" "$NS_S" "$IF_SC" "$C4" "$C6" "$S4" "$S6" &&
		offload_veth "$NS_P" "$IF_P" "$NS_S" "$IF_SP" "$P4" "$P6" "$R4" "$R6" || return 1
	# A datagram a local socket sends on a veth leaves with its UDP
	# checksum not yet computed (CHECKSUM_PARTIAL: the "hardware" would
	# finish it), and the program hands such packets to user space. From
	# a real wire every packet arrives with its checksum final: turning
	# the client's and the peer's transmit checksum offload off makes
	# their kernels compute it, so the server sees what a NIC delivers.
	inc ethtool -K "$IF_C" tx off >/dev/null && inp ethtool -K "$IF_P" tx off >/dev/null
}

# offload_routes: the client reaches the peer's network through the
# server, and back (the Chromium test's second TURN server is there):
# forwarding on in the server's namespace, for that test only.
offload_routes() {
	ins sysctl -q -w net.ipv4.ip_forward=1 && ins sysctl -q -w net.ipv6.conf.all.forwarding=1 &&
		inc ip route add "10.$OFF_X.2.0/24" via "$S4" && inp ip route add "10.$OFF_X.1.0/24" via "$R4"
}

# offload_conf MODE [more lines]: turnd's configuration for the server's
# namespace with kernel-offload = MODE (none: the line is left out).
offload_conf() {
	mode=$1
	shift
	cat <<EOF
listening-ip = { "$S4", "$S6" }
listening-port = $PORT
relay-ip = { "$R4", "$R6" }
min-port = 40000
max-port = 40999
tls-listening-port = 0
realm = "$TURN_REALM"
user = { "$TURN_USER:$TURN_PASS" }
allowed-peer-ip = { "$P4", "$P6" }
# turnutils_uclient draws channel numbers up to 0x7FFF; its and turnload's
# sessions are all one user's.
legacy-channel-numbers = true
user-quota = 0
metrics-port = $METRICS_PORT
log-level = "info"
control-socket = "$T_DIR/control"
${mode:+kernel-offload = $mode}
EOF
	for line in "$@"; do echo "$line"; done
}

# offload_start MODE [ATTACH] [more lines]: turnd in the server's namespace
# with offload_conf MODE (TURND_OFFLOAD_ATTACH=ATTACH in its environment if
# given), answering the client within 5 s. Its config is $T_DIR/turnd.conf.
offload_start() {
	mode=$1 attach=${2:-}
	shift
	[ $# -eq 0 ] || shift
	offload_conf "$mode" "$@" >"$T_DIR/turnd.conf"
	# Not through ins(): a function would run in a subshell and $! be that
	# subshell; ip netns exec and env exec turnd itself.
	ip netns exec "$NS_S" env ${attach:+TURND_OFFLOAD_ATTACH=$attach} \
		"$TURND" -c "$T_DIR/turnd.conf" >"$T_DIR/turnd.out" 2>>"$T_DIR/turnd.log" &
	TURND_PID=$!
	netns_up "$S4"
}

# offload_option_known: turnd has the kernel-offload option (the
# daemon's side of issue 15 is merged).
offload_option_known() {
	offload_conf off >"$T_DIR/probe.conf"
	"$TURND" --check-config -c "$T_DIR/probe.conf" >"$T_DIR/probe-conf.out" 2>&1
}

# snap NAME: the metrics the checks compare, saved as NAME_<series> shell
# variables (see offload_delta).
OFF_SERIES="turnd_relayed_packets_total{direction=\"to_peer\",transport=\"udp\"} rp_peer
turnd_relayed_packets_total{direction=\"to_client\",transport=\"udp\"} rp_client
turnd_relayed_bytes_total{direction=\"to_peer\",transport=\"udp\"} rb_peer
turnd_relayed_bytes_total{direction=\"to_client\",transport=\"udp\"} rb_client
turnd_kernel_offload_packets_total{direction=\"to_peer\"} kp_peer
turnd_kernel_offload_packets_total{direction=\"to_client\"} kp_client
turnd_kernel_offload_bytes_total{direction=\"to_peer\"} kb_peer
turnd_kernel_offload_bytes_total{direction=\"to_client\"} kb_client
turnd_user_channeldata_total uc
turnd_kernel_offload_loaded loaded
turnd_kernel_offload_interfaces ifs
turnd_kernel_offload_fallbacks_total{reason=\"map_full\"} fb_full
turnd_kernel_offload_fallbacks_total{reason=\"route\"} fb_route
turnd_kernel_offload_bandwidth_drops_total kbw
turnd_drops_total{reason=\"bandwidth\"} ubw"
snap() {
	page=$(ip netns exec "$NS_S" curl -sf "http://127.0.0.1:$METRICS_PORT/metrics") || return 1
	while read -r series short; do
		v=$(printf '%s\n' "$page" | awk -v m="$series" '$1 == m { v = $2 } END { print v + 0 }')
		eval "${1}_$short=\$v"
	done <<EOF
$OFF_SERIES
EOF
}

# delta SHORT: after_SHORT - before_SHORT (snap before; snap after).
delta() { eval "echo \$((after_$1 - before_$1))"; }

# moved: the deltas a run made, on one line for the log.
moved() {
	echo "  moved: relayed $(delta rp_peer)/$(delta rp_client) packets to peer/client," \
		"kernel $(delta kp_peer)/$(delta kp_client), user-space ChannelData $(delta uc)"
}

# must DESCRIPTION COMMAND...: lib.sh's check, returning the command's
# status (a test stops or skips what depends on it).
must() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; return 0; fi
	not_ok "$desc"
	return 1
}

# between WHAT V LO HI: LO <= V <= HI, else say so.
between() {
	[ "$2" -ge "$3" ] && [ "$2" -le "$4" ] && return 0
	echo "  $1 = $2, wanted $3..$4"
	return 1
}
