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
. "$top_srcdir/tests/abuse/abuse_lib.sh"

MAXPERM=4
ROUNDS=50

pick_port PORT || { not_ok "no free port"; finish; }
pick_port PEER_PORT || { not_ok "no free port"; finish; }
relay_range
start_turnd "$(abuse_conf "\"$TURN_USER:$TURN_PASS\", \"mallory:evil\"" '"127.0.0.0/8"')
max-permissions = $MAXPERM" || { not_ok "start turnd"; finish; }

spawn turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >"$T_DIR/peer.log" 2>&1
sleep 0.3
legit_start legit -p "$PORT" -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1

timeout -k 5 60 "$PYTHON3" "$top_srcdir/tests/abuse/channel_bind_508.py" "$PORT" mallory evil \
	"$MAXPERM" "$ROUNDS" >"$T_DIR/attack.out" 2>&1
rc=$?
sed 's/^/  | /' "$T_DIR/attack.out"
check "channel_bind_508.py ran to the end" [ "$rc" -eq 0 ]
figure "ChannelData datagrams that reached a peer without a permission" "$(val leaked)" \
	datagrams le 0
figure "ChannelBinds past max-permissions answered 508" "$(val bind_508)" binds ge "$ROUNDS"
figure "ChannelData datagrams that reached the permitted peer (control)" "$(val control)" \
	datagrams ge 1

legit_check legit "uclient relayed across the attack with 0 loss"
check "turnd stops cleanly" stop_turnd
finish
