#!/bin/sh
# RFC 5780 discovery through a real NAT: three network namespaces this
# test creates and deletes, a client, a Linux router that masquerades (nft)
# and a server running turnd on two addresses:
#
#   client 10.57.1.2 -- 10.57.1.1 router 10.57.2.1 -- 10.57.2.2 + .3 turnd
#
# Linux NAT keeps a flow's mapping for every destination (endpoint-
# independent mapping) and lets in only answers from the address and port
# the flow went to (address and port-dependent filtering); with
# "masquerade fully-random" every new destination gets a new port
# (address and port-dependent mapping). coturn's turnutils_natdiscovery
# and turnprobe nat must both tell these apart.
. "$top_srcdir/tests/interop/lib.sh"

TAG=$$
NS_C="turnd-c-$TAG" NS_R="turnd-r-$TAG" NS_S="turnd-s-$TAG"
trap 'netns_cleanup; cleanup' EXIT
inr() { ip netns exec "$NS_R" "$@"; }

setup() {
	ip netns add "$NS_C" && ip netns add "$NS_R" && ip netns add "$NS_S" || return 1
	ip link add "tc$TAG" netns "$NS_C" type veth peer name "rc$TAG" netns "$NS_R" || return 1
	ip link add "ts$TAG" netns "$NS_S" type veth peer name "rs$TAG" netns "$NS_R" || return 1
	inc ip addr add 10.57.1.2/24 dev "tc$TAG" && inc ip link set "tc$TAG" up &&
		inc ip link set lo up && inc ip route add default via 10.57.1.1 &&
		inr ip addr add 10.57.1.1/24 dev "rc$TAG" && inr ip link set "rc$TAG" up &&
		inr ip addr add 10.57.2.1/24 dev "rs$TAG" && inr ip link set "rs$TAG" up &&
		inr ip link set lo up && inr sysctl -q -w net.ipv4.ip_forward=1 &&
		ins ip addr add 10.57.2.2/24 dev "ts$TAG" && ins ip addr add 10.57.2.3/24 dev "ts$TAG" &&
		ins ip link set "ts$TAG" up && ins ip link set lo up
}
# nat_rule [fully-random]: the router's masquerade towards the server.
nat_rule() {
	inr nft flush ruleset 2>/dev/null
	inr nft -f - <<EOF
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "rs$TAG" masquerade $1
	}
}
EOF
	return 0
}
check "three namespaces, veth links and addresses" setup
check "router masquerades towards the server" nat_rule ""

PORT=3478
ALT=3479
printf '%s\n' "listening-ip = { \"10.57.2.2\" }
listening-port = $PORT
alt-listening-ip = { \"10.57.2.3\" }
alt-listening-port = $ALT
relay-threads = 1
log-level = \"info\"" >"$T_DIR/turnd.conf"
# Not through ins(): a function would run in a subshell and $! be that
# subshell; ip netns exec execs turnd itself.
ip netns exec "$NS_S" "$TURND" -c "$T_DIR/turnd.conf" >"$T_DIR/turnd.out" 2>"$T_DIR/turnd.log" &
TURND_PID=$!
check "turnd in the server namespace answers the client through the NAT" \
	netns_up 10.57.2.2 || finish
check "start-up hint names the listening address" \
	grep -q "try: turnprobe stun 10.57.2.2:$PORT" "$T_DIR/turnd.log"

# lib.sh's natdiscovery (coturn's client) and probe_nat (turnprobe nat)
# run from the client's namespace.
PROBE_NS=$NS_C

# Linux NAT as it comes: endpoint-independent mapping, address and
# port-dependent filtering.
natdiscovery 10.57.2.2
check "natdiscovery: the reflexive address is the router's" \
	grep -q "UDP reflexive addr: 10.57.2.1:" "$T_DIR/nd.out"
check "natdiscovery: endpoint-independent mapping" \
	grep -q "NAT with Endpoint Independent Mapping" "$T_DIR/nd.out"
check "natdiscovery: address and port-dependent filtering" \
	grep -q "NAT with Address and Port Dependent Filtering" "$T_DIR/nd.out"
probe_nat "10.57.2.2:$PORT" --timeout 500
check "turnprobe nat: mapped address is the router's, not local" \
	grep -q "^mapped address: 10.57.2.1:" "$T_DIR/probe.out"
check "turnprobe nat: mapping endpoint-independent" \
	grep -q "^mapping: endpoint-independent" "$T_DIR/probe.out"
check "turnprobe nat: filtering address and port-dependent" \
	grep -q "^filtering: address and port-dependent" "$T_DIR/probe.out"

# A NAT that picks a new random port for every new destination.
check "router masquerades fully-random" nat_rule "fully-random"
natdiscovery 10.57.2.2
check "natdiscovery, fully-random: address and port-dependent mapping" \
	grep -q "NAT with Address and Port Dependent Mapping" "$T_DIR/nd.out"
probe_nat "10.57.2.2:$PORT" --timeout 500
check "turnprobe nat, fully-random: mapping address and port-dependent" \
	grep -q "^mapping: address and port-dependent" "$T_DIR/probe.out"

check "turnd stops cleanly" stop_turnd
finish
