#!/bin/sh
# Large datagrams through the real turnd (issue 13 item 9): peer datagrams
# over about 4,060 bytes were silently dropped, even towards TCP and TLS
# clients, whose framing carries 65,535. tests/interop/big_datagrams.py,
# once over UDP and once over TCP: 8,000 and 60,000 bytes each way, in
# Data/Send indications and on a channel; 65,507 bytes to a TCP client;
# what the client's transport cannot carry dropped and counted in
# turnd_relay_oversize_dropped_total. Bounded: every client under timeout.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/abuse/abuse_lib.sh"

pick_port PORT || { not_ok "no free port"; finish; }
pick_port METRICS_PORT || { not_ok "no free port"; finish; }
relay_range
# Channel numbers as RFC 8656 has them, the default (big_datagrams.py binds 0x4000).
start_turnd "$(LEGACY_CHANNELS=false abuse_conf '"alice:wonderland"')
metrics-ip = 127.0.0.1
metrics-port = $METRICS_PORT" || { not_ok "start turnd"; finish; }

for t in udp tcp; do
	tcp=""
	[ "$t" = tcp ] && tcp=--tcp
	timeout -k 5 60 "$PYTHON3" "$top_srcdir/tests/interop/big_datagrams.py" --port "$PORT" $tcp \
		--metrics "$METRICS_PORT" alice wonderland >"$T_DIR/$t.out" 2>&1
	rc=$?
	sed 's/^/  | /' "$T_DIR/$t.out"
	check "big datagrams over a $t client: every check held" [ "$rc" -eq 0 ]
done
check "turnd stops cleanly" stop_turnd
finish
