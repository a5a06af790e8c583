#!/bin/sh
# Relay port reuse (issue 13 item 6): a freed relay port went straight to
# the next allocation, whose client then received what a peer still sent
# to the last owner. Against the real turnd (tests/abuse/port_reuse.py):
#   - 20 times, alice deletes an allocation whose peer bob also permits,
#     bob allocates at once, the peer sends to alice's old address: bob
#     receives none of it (and does receive what is sent to his own);
#   - 1,000 allocate/delete cycles between alice and bob: no port handed
#     out again within relay-port-quarantine (measured from the Refresh 0
#     sent to the Allocate answered, an upper bound of the server's gap),
#     none handed out early (turnd_relay_port_quarantine_early_total), and
#     the ports spread over the range: distinct ports, chi-square over ten
#     equal buckets under 27.9 (9 degrees of freedom, p = 0.001);
#   - coturn's turnutils_uclient relays with 0 loss throughout.
# Bounded: every client under `timeout`.
set -u
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/abuse/abuse_lib.sh"

QUARANTINE=1 # seconds; small, so that 1,000 cycles see ports come back
PACE_MS=3    # between cycles: about 300 a second, well under the range
CYCLES=1000
TRIALS=20
SPAN=1000

pick_port PORT || { not_ok "no free port"; finish; }
pick_port PEER_PORT || { not_ok "no free port"; finish; }
pick_port METRICS_PORT || { not_ok "no free port"; finish; }
# 1,000 ports in 10000-19999, as relay_range (turn_lib.sh) but wider.
MINPORT=$(( 10000 + ($(od -An -N2 -tu2 /dev/urandom) % 9) * SPAN ))
MAXPORT=$((MINPORT + SPAN - 1))
start_turnd "$(abuse_conf "\"$TURN_USER:$TURN_PASS\", \"alice:wonderland\", \"bob:builder\"")
relay-port-quarantine = $QUARANTINE
metrics-ip = 127.0.0.1
metrics-port = $METRICS_PORT" || { not_ok "start turnd"; finish; }

spawn turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >"$T_DIR/peer.log" 2>&1
sleep 0.3
# The legitimate client, across the attack (about 12 s).
legit_start legit -p "$PORT" -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1

timeout -k 5 120 "$PYTHON3" "$top_srcdir/tests/abuse/port_reuse.py" "$PORT" "$MINPORT" "$MAXPORT" \
	"$CYCLES" "$TRIALS" "$PACE_MS" >"$T_DIR/attack.out" 2>&1
rc=$?
sed 's/^/  | /' "$T_DIR/attack.out"
check "port_reuse.py ran to the end" [ "$rc" -eq 0 ]

figure "datagrams bob received that a peer sent to alice's freed address" \
	"$(val leak_received)" datagrams le 0
figure "trials where bob got alice's freed relayed address" "$(val leak_same_address)" \
	trials le 0
figure "datagrams bob received on his own address (control)" "$(val leak_control)" \
	datagrams ge "$TRIALS"
figure "allocate/delete cycles in $(val churn_seconds) s" "$(val churn_allocations)" cycles \
	ge "$CYCLES"
figure "ports handed out outside $MINPORT-$MAXPORT" "$(val churn_outside_range)" ports le 0
figure "shortest gap before a port was handed out again ($(val churn_reused) times)" \
	"$(val churn_min_gap_ms)" ms ge $((QUARANTINE * 1000))
figure "distinct ports in $CYCLES allocations over $SPAN" "$(val churn_distinct)" ports ge 500
figure "spread of the ports over 10 equal buckets" "$(val churn_chi_square)" chi-square le 27.9
figure "allocations in the fullest of 10 buckets (100 expected)" "$(val churn_max_bucket)" \
	allocations le 140
early=$(metric turnd_relay_port_quarantine_early_total)
figure "ports handed out inside their quarantine (metric)" "${early:-none}" ports le 0

legit_check legit "uclient relayed across the attack with 0 loss"
check "turnd stops cleanly" stop_turnd
finish
