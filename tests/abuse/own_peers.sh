#!/bin/sh
# Attack: the host's own addresses as peers (issue 13 item 1; SECURITY.md
# "Where a relay may send"; the class of coturn's CVE-2020-26262).
#
# Two network namespaces this test creates and deletes, joined by a veth
# pair (documentation addresses, outside the default-deny table, so only
# the own-address rule can refuse them):
#
#   client 203.0.113.2 ---- 203.0.113.1 turnd (listening and relaying),
#                                      UDP service 0.0.0.0:5555,
#                                      TCP service 0.0.0.0:6380
#
# The services stand for what a host runs and trusts loopback for. A
# client tries to reach them through the relay on A = 203.0.113.1, on
# 127.0.0.1 and 127.0.0.2 (allowed-peer-ip names 127.0.0.0/8: an explicit
# allow must not open them), on 0.0.0.0, and on a relay port without an
# allocation: CreatePermission and ChannelBind must get 403, Send and
# ChannelData never arrive, and an RFC 6062 Connect gets 403 with no
# connection made. The hairpin between two allocations still works, an
# address added while turnd runs is refused too, and allow-own-peers
# (reloaded in) opens them, which shows the counting would see a leak;
# reloaded out again, data over the permission and channel made meanwhile
# stops. turnutils_uclient relays to a peer on the client's side, and
# client to client through two relays (the hairpin), meanwhile: 0 loss.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/abuse/abuse_lib.sh"

TAG=$$
NS_S="turnd-ops-$TAG" NS_C="turnd-opc-$TAG"
A=203.0.113.1 C=203.0.113.2
PORT=3478 MINPORT=40000 MAXPORT=49999 PEER_PORT=7000
trap 'turn_cleanup; netns_cleanup' EXIT

setup() {
	ip netns add "$NS_S" && ip netns add "$NS_C" || return 1
	ip link add "os$TAG" netns "$NS_S" type veth peer name "oc$TAG" netns "$NS_C" || return 1
	ins ip addr add "$A/24" dev "os$TAG" && ins ip link set "os$TAG" up &&
		ins ip link set lo up &&
		inc ip addr add "$C/24" dev "oc$TAG" && inc ip link set "oc$TAG" up &&
		inc ip link set lo up
}
check "two namespaces, a veth pair, turnd's side $A, the client's $C" setup || finish

# A wide relay range: the port "without an allocation" is picked from it
# while uclient allocates at random.
printf '%s\n' "listening-ip = { \"$A\" }
listening-port = $PORT
relay-ip = { \"$A\" }
min-port = $MINPORT
max-port = $MAXPORT
tls-listening-port = 0
realm = \"$TURN_REALM\"
user = { \"$TURN_USER:$TURN_PASS\" }
allowed-peer-ip = { \"127.0.0.0/8\" }
legacy-channel-numbers = true
relay-threads = 2" >"$T_DIR/turnd.conf"
# Not through ins(): $! must be turnd itself (ip netns exec execs it).
ip netns exec "$NS_S" "$TURND" -c "$T_DIR/turnd.conf" >"$T_DIR/turnd.out" 2>"$T_DIR/turnd.log" &
TURND_PID=$!
check "turnd answers on $A:$PORT from the client's namespace" netns_up "$A" || finish

spawn ip netns exec "$NS_S" "$PYTHON3" "$top_srcdir/tests/abuse/own_peers.py" services 5555 6380 \
	"$T_DIR/count"
spawn ip netns exec "$NS_C" turnutils_peer -L "$C" -p "$PEER_PORT" >"$T_DIR/peer.log" 2>&1
listening() {
	for _ in $(seq 1 50); do
		[ -s "$T_DIR/count" ] && inc ss -Hlun | awk '{print $4}' | grep -qx "$C:$PEER_PORT" &&
			return 0
		sleep 0.1
	done
	return 1
}
check "services on 0.0.0.0:5555/udp and 0.0.0.0:6380/tcp, turnutils_peer on $C:$PEER_PORT" \
	listening || finish

# A relay port nothing holds: the highest one no socket is bound to.
UNUSED=$(ins ss -Huan | awk '{print $4}' | sed -n "s/^$A://p" | sort -n |
	awk -v p="$MAXPORT" '$1 == p { p-- } END { print p }')

# The legitimate clients, during the whole attack.
UCLIENT="ip netns exec $NS_C stdbuf -oL -eL turnutils_uclient"
legit_start peer -p "$PORT" -e "$C" -r "$PEER_PORT" "$A"
legit_start c2c -p "$PORT" -y "$A"

inc "$PYTHON3" "$top_srcdir/tests/abuse/own_peers.py" attack --host "$A" --port "$PORT" \
	--count "$T_DIR/count" --conf "$T_DIR/turnd.conf" --pid "$TURND_PID" \
	--log "$T_DIR/turnd.log" --ns "$NS_S" --unused-port "$UNUSED" \
	--user "$TURN_USER" --password "$TURN_PASS" >"$T_DIR/attack.out" 2>&1
echo "  (relay port without an allocation: $A:$UNUSED)"
# The attack client's lines, in order: its ok / not ok counted, its
# measures (TAB-separated) printed and checked by figure.
tab=$(printf '\t')
passed_before=$T_PASS
while IFS= read -r line; do
	case $line in
	"measure$tab"*)
		IFS=$tab read -r _ what value unit op bound <<EOF
$line
EOF
		figure "$what" "$value" "$unit" "$op" "$bound"
		;;
	"ok - "*) T_PASS=$((T_PASS + 1)); printf '%s\n' "$line" ;;
	"not ok - "*) T_FAIL=$((T_FAIL + 1)); printf '%s\n' "$line" ;;
	*) printf '%s\n' "$line" ;;
	esac
done <"$T_DIR/attack.out"
[ "$T_PASS" -gt "$passed_before" ] || not_ok "the attack client ran (see above)"

legit_check peer "uclient to a peer on the client's side during the attack: 0 loss"
legit_check c2c "uclient client to client through two relays (hairpin) during the attack: 0 loss"
check "turnd stops cleanly" stop_turnd
finish
