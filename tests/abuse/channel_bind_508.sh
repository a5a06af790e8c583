#!/bin/sh
# ChannelBind past max-permissions (issue 13 item 8): a ChannelBind
# answered 508 (max-permissions reached) left its channel bound, so
# ChannelData reached a peer without a permission, past the limit. Against
# the real turnd (tests/abuse/channel_bind_508.py): an allocation holding
# max-permissions (4) permissions sends 50 ChannelBinds to other peers,
# each followed by ChannelData on its number: every bind gets 508, no peer
# receives a datagram; a permitted peer on a channel does (the control).
# coturn's turnutils_uclient relays with 0 loss meanwhile.
set -u
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

MAXPERM=4
ROUNDS=50

# figure WHAT VALUE UNIT OP BOUND: print the figure; fail unless VALUE
# (a number) is at most (OP le) or at least (OP ge) BOUND.
figure() {
	sym="<="; [ "$4" = ge ] && sym=">="
	echo "figure: $1 = $2 $3 (bound $sym $5)"
	if awk -v v="$2" -v b="$5" -v op="$4" 'BEGIN {
		if (v !~ /^[0-9]+(\.[0-9]+)?$/) exit 1
		exit !(op == "le" ? v + 0 <= b + 0 : v + 0 >= b + 0) }'; then
		ok "$1: $2 $3"
	else
		not_ok "$1: $2 $3, bound $sym $5"
	fi
}
val() { sed -n "s/^$1 //p" "$T_DIR/attack.out"; }

pick_port PORT || { not_ok "no free port"; finish; }
pick_port PEER_PORT || { not_ok "no free port"; finish; }
relay_range
start_turnd "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
relay-ip = { \"127.0.0.1\" }
min-port = $MINPORT
max-port = $MAXPORT
tls-listening-port = 0
realm = \"$TURN_REALM\"
user = { \"$TURN_USER:$TURN_PASS\", \"mallory:evil\" }
allowed-peer-ip = { \"127.0.0.0/8\" }
allow-own-peers = true
legacy-channel-numbers = true
max-permissions = $MAXPERM" || { not_ok "start turnd"; finish; }

spawn turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >"$T_DIR/peer.log" 2>&1
sleep 0.3
spawn uclient_run legit -p "$PORT" -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1
UC=$BG_PID

timeout -k 5 60 python3 "$top_srcdir/tests/abuse/channel_bind_508.py" "$PORT" mallory evil \
	"$MAXPERM" "$ROUNDS" >"$T_DIR/attack.out" 2>&1
rc=$?
sed 's/^/  | /' "$T_DIR/attack.out"
check "channel_bind_508.py ran to the end" [ "$rc" -eq 0 ]
figure "ChannelData datagrams that reached a peer without a permission" "$(val leaked)" \
	datagrams le 0
figure "ChannelBinds past max-permissions answered 508" "$(val bind_508)" binds ge "$ROUNDS"
figure "ChannelData datagrams that reached the permitted peer (control)" "$(val control)" \
	datagrams ge 1

reap "$UC"
check "uclient relayed across the attack with 0 loss" uclient_lossless legit $?
check "turnd stops cleanly" stop_turnd
finish
