#!/bin/sh
# A spoofed-source Allocate flood (issue 13): 50,000 source addresses in
# 127.16.0.0/12 (Linux answers for all of 127.0.0.0/8, so a socket may
# bind any of them), each sending a header-only Allocate and an Allocate
# with a made-up USERNAME, NONCE and MESSAGE-INTEGRITY. Nothing is stored
# for a request that has not authenticated, and nothing is allocated per
# datagram, so turnd's resident memory stays flat (VmRSS growth under
# 2 MiB, also under AddressSanitizer, whose quarantine turns any per-datagram
# malloc into growth); a legitimate client on 127.0.0.2 relays with 0 loss
# meanwhile, and a Binding from 127.0.0.3 is answered.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/abuse/abuse_lib.sh"

FLOOD="$top_srcdir/tests/abuse/flood.py"
SOURCES=50000
BOUND_KIB=2048

TURND_EXTRA_CONF="legacy-channel-numbers = true"
start_turn_server || { not_ok "start turnd"; finish; }
ok "turnd up on port $PORT"
pick_port PEER_PORT || { not_ok "no free port for the peer"; finish; }
spawn turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >"$T_DIR/peer.log" 2>&1

spoof() { # spoof N: N sources, 60 s at most
	timeout 90 "$PYTHON3" "$FLOOD" spoof 127.0.0.1 "$PORT" "$1" 60 >"$T_DIR/spoof-$1.out" 2>&1
	echo "  spoofed flood: $(cat "$T_DIR/spoof-$1.out")"
	grep -q "^sources $1 datagrams $(($1 * 2))\$" "$T_DIR/spoof-$1.out"
}

# Warm up what a steady server holds anyway: a short flood (the limiter's
# table pages, the allocator's arenas) and one relaying client.
check "warm-up: 5,000 spoofed sources" spoof 5000
M=2 N=20
check "warm-up: a client relays" uclient warmup -p "$PORT" -L 127.0.0.2 -e 127.0.0.1 \
	-r "$PEER_PORT" 127.0.0.1
unset M N
sleep 1
rss0=$(rss_kb)

legit_start legit -p "$PORT" -L 127.0.0.2 -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1
# Binding from a third address, 5 a second through the flood.
spawn sh -c "timeout 30 '$PYTHON3' '$FLOOD' steady 127.0.0.1 '$PORT' 20 5 127.0.0.3 >'$T_DIR/binding.out' 2>&1"
BINDING=$BG_PID
sleep 1
check "$SOURCES spoofed sources, two Allocates each" spoof "$SOURCES"
reap "$BINDING"
echo "  127.0.0.3: $(cat "$T_DIR/binding.out")"
check "Binding from 127.0.0.3 during the flood: every one answered" \
	grep -qx "sent 20 answered 20" "$T_DIR/binding.out"
legit_check legit "uclient from 127.0.0.2 during the flood: 0 loss"
sleep 1
rss1=$(rss_kb)

growth=$((rss1 - rss0))
echo "  VmRSS ${rss0} KiB before, ${rss1} KiB after"
figure "turnd RSS growth over a flood from $SOURCES spoofed sources" \
	"$(kb_to_mib "$growth" 2)" MiB le "$(kb_to_mib "$BOUND_KIB" 0)"
check "turnd stops cleanly" stop_turn_server
finish
