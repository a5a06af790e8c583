#!/bin/sh
# Holding TCP and TLS connections open (issue 13, item 4), against the real
# turnd with the default caps (max-connections-per-ip 500, preauth-buffer
# 2048) and short deadlines (first-message-timeout 3, max-allocate-timeout
# 6) so that the run stays short:
#   1. 3,000 connections from 127.0.0.3, each sending 60 KiB of a frame
#      that claims 64 KiB: today's main buffered every byte (7 MB -> 206 MB
#      RSS); now a frame longer than preauth-buffer is refused before an
#      allocation, so turnd's resident memory barely moves.
#   2. 127.0.0.3 keeps as many of 600 connections open as it can
#      (reconnecting whatever is closed), each holding 2,047 bytes of a 2,048-byte frame:
#      the worst that preauth-buffer allows. It holds at most
#      max-connections-per-ip at once, and the RSS growth stays within
#      500 x (2 KiB of input in libevent's 4 KiB chain + ~1.5 KiB for the
#      connection) = 2.7 MiB, plus the client below. Meanwhile:
#      - from 127.0.0.4, one byte every second of a Binding request over
#        TCP, inside TLS, and in place of a TLS ClientHello: each closed at
#        first-message-timeout, which the bytes do not extend; and one
#        whole Binding then the trickle: closed at max-allocate-timeout;
#      - coturn's turnutils_uclient over TCP from 127.0.0.2 allocates and
#        relays with 0 loss.
#   3. 127.0.0.6 opens 1,000 connections to the TLS port and never starts
#      the handshake: at most 500 at once. Each costs ~41 KiB (OpenSSL's
#      SSL object and 16 KiB handshake buffer, libevent's bufferevent), so
#      the bound on this RSS growth is 500 x 64 KiB = 31.3 MiB: the cap,
#      not preauth-buffer, bounds TLS.
#   4. A reload lowers max-connections to 5: another source (127.0.0.7)
#      then holds at most 5, whatever the per-source cap.
# Figures: RSS growth in MiB for 1 and 2 (bound 5 MiB each) and 3 (31.3
# MiB), x4 + 256 MiB under the sanitizers (ASan's quarantine keeps freed
# memory, and redzones pad each block); connections one source held at once (bound 500);
# seconds each trickle stayed open (bound the deadline + 3 s, 4 under the
# sanitizers: the worker checks deadlines once a second).
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/abuse/abuse_lib.sh"

HOLD="$top_srcdir/tests/abuse/conn_hold.py"
CAP=500
FIRST=3
ALLOC=6
# Under the sanitizers (san_kb) freed memory waits in ASan's quarantine
# (256 MiB by default) before reuse, and every block has redzones: x4 +
# 256 MiB.
RSS_BOUND_KB=$(san_kb $((5 * 1024)))
TLS_BOUND_KB=$(san_kb $((CAP * 64)))
SLACK=3 # s past a deadline: the once-a-second check, a busy machine
[ -n "${TURND_SANITIZED:-}" ] && SLACK=4
M=5
N=100

need_tools openssl turnutils_uclient curl

# The attack needs thousands of descriptors on both ends; turnd inherits it.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
check "this test's descriptor limit raised to at least 4096 ($(ulimit -n))" \
	[ "$(ulimit -n)" -ge 4096 ]

status_field() { # status_field FILE FIELD: a number from conn_hold.py's status
	sed -n "s/.*$2 \([0-9]*\).*/\1/p" "$1" 2>/dev/null
}

start_hold_turnd no-dtls
ok "turnd up: TCP $PORT, TLS $TLS_PORT"
fds=$(awk '/^Max open files/ { print $4 }' "/proc/$TURND_PID/limits")
check "turnd may open $fds descriptors (enough for the attack: 4096)" [ "$fds" -ge 4096 ]

spawn "$TURNPEER" -q -L "127.0.0.1:$PEER_PORT" -L "127.0.0.1:$((PEER_PORT + 1))" \
	>"$T_DIR/peer.log" 2>&1
sleep 0.3

# ---- 1. 3,000 partial 64 KiB frames ---------------------------------------

base=$(rss_kb)
spawn "$PYTHON3" "$HOLD" hold 127.0.0.1 "$PORT" 127.0.0.3 3000 65535 61440 20 "$T_DIR/big"
big_pid=$BG_PID
peak=$base
for _ in $(seq 1 40); do
	r=$(rss_kb)
	[ "$r" -gt "$peak" ] && peak=$r
	# Every connect tried (or 3,000 open at once, as main allows).
	tries=$(status_field "$T_DIR/big" tries)
	[ "${tries:-0}" -ge 3000 ] && break
	sleep 0.5
done
sleep 1
r=$(rss_kb)
[ "$r" -gt "$peak" ] && peak=$r
touch "$T_DIR/big.stop"
reap "$big_pid"
echo "  attacker: $(cat "$T_DIR/big" 2>/dev/null)"
figure "turnd RSS growth under 3000 partial 64 KiB frames from one source" \
	"$(kb_to_mib $((peak - base)))" MiB le "$(kb_to_mib $RSS_BOUND_KB)"
refused=$(metric 'turnd_connections_closed_total{limit="preauth-buffer",transport="tcp"}')
check "frames longer than preauth-buffer refused before an allocation ($refused)" \
	[ "$refused" -gt 0 ]

# ---- 2. One source at its cap, trickles, and a legitimate client ----------

sleep 1
base=$(rss_kb)
spawn "$PYTHON3" "$HOLD" hold 127.0.0.1 "$PORT" 127.0.0.3 600 2044 2047 30 "$T_DIR/hold"
hold_pid=$BG_PID
for mode in tcp tls raw-tls after-binding; do
	port=$PORT
	case $mode in *tls) port=$TLS_PORT ;; esac
	spawn sh -c "'$PYTHON3' '$HOLD' trickle 127.0.0.1 $port 127.0.0.4 1 15 $mode \
		>'$T_DIR/trickle-$mode' 2>&1"
	eval "trickle_$(echo $mode | tr - _)=\$BG_PID"
done
# Wait until the attacker holds its full share, then run the client.
for _ in $(seq 1 40); do
	a=$(status_field "$T_DIR/hold" alive)
	[ "${a:-0}" -ge "$CAP" ] && break
	sleep 0.25
done
echo "  attacker before the client: $(cat "$T_DIR/hold" 2>/dev/null)"
peak=$(rss_kb)
legit_start tcp -t -L 127.0.0.2 -e 127.0.0.1 -r "$PEER_PORT" -p "$PORT" 127.0.0.1
low=$CAP
while legit_running tcp; do
	r=$(rss_kb)
	[ "$r" -gt "$peak" ] && peak=$r
	a=$(status_field "$T_DIR/hold" alive)
	[ "${a:-0}" -lt "$low" ] && low=${a:-0}
	sleep 0.2
done
echo "  attacker during the client: at least $low open (re-opened as deadlines close them)"
legit_check tcp "uclient over TCP from 127.0.0.2: 0 lost during the hold"
for mode in tcp tls raw_tls after_binding; do
	eval "reap \$trickle_$mode"
done
touch "$T_DIR/hold.stop"
reap "$hold_pid"
echo "  attacker (TCP): $(cat "$T_DIR/hold")"
figure "turnd RSS growth while one source holds its share of partial 2 KiB frames" \
	"$(kb_to_mib $((peak - base)))" MiB le "$(kb_to_mib $RSS_BOUND_KB)"
figure "TCP connections one source held at once" "$(status_field "$T_DIR/hold" most)" \
	connections le "$CAP"
trickle_secs() { # "closed after X s" -> X; "open after" -> the limit
	sed -n 's/trickle: closed after \([0-9.]*\) s.*/\1/p; s/trickle: open after \([0-9]*\) s.*/\1/p' \
		"$T_DIR/trickle-$1"
}
for mode in tcp tls raw-tls; do
	cat "$T_DIR/trickle-$mode" | sed 's/^/  /'
	figure "seconds a one-byte-a-second trickle ($mode) stayed open" \
		"$(trickle_secs $mode)" s le $((FIRST + SLACK))
done
sed 's/^/  /' "$T_DIR/trickle-after-binding"
figure "seconds a trickle after one Binding stayed open" "$(trickle_secs after-binding)" s \
	le $((ALLOC + SLACK))
# ---- 3. TLS connections that never handshake ------------------------------

sleep 1
base=$(rss_kb)
spawn "$PYTHON3" "$HOLD" hold 127.0.0.1 "$TLS_PORT" 127.0.0.6 1000 0 0 8 "$T_DIR/tls"
tls_pid=$BG_PID
peak=$base
while kill -0 "$tls_pid" 2>/dev/null; do
	r=$(rss_kb)
	[ "$r" -gt "$peak" ] && peak=$r
	sleep 0.25
done
reap "$tls_pid"
echo "  attacker (TLS): $(cat "$T_DIR/tls")"
figure "TLS connections one source held at once" "$(status_field "$T_DIR/tls" most)" \
	connections le "$CAP"
figure "turnd RSS growth while one source holds its share of TLS connections" \
	"$(kb_to_mib $((peak - base)))" MiB le "$(kb_to_mib $TLS_BOUND_KB)"

# ---- 4. The total cap, lowered by a reload ---------------------------------

printf 'max-connections = 5\n' >>"$T_DIR/turnd.conf"
kill -HUP "$TURND_PID"
for _ in $(seq 1 25); do
	[ "$(metric 'turnd_config_reloads_total{result="applied"}')" -ge 1 ] && break
	sleep 0.2
done
"$PYTHON3" "$HOLD" hold 127.0.0.1 "$PORT" 127.0.0.7 10 0 0 2 "$T_DIR/total"
echo "  another source after max-connections = 5: $(cat "$T_DIR/total")"
figure "connections held at once under max-connections = 5 (reloaded)" \
	"$(status_field "$T_DIR/total" most)" connections le 5
v=$(metric 'turnd_connections_refused_total{cap="max-connections",transport="tcp"}')
check "refusals for max-connections counted ($v)" [ "$v" -gt 0 ]

for m in 'turnd_connections_refused_total{cap="max-connections-per-ip",transport="tcp"}' \
	'turnd_connections_refused_total{cap="max-connections-per-ip",transport="tls"}' \
	'turnd_connections_closed_total{limit="first-message-timeout",transport="tcp"}' \
	'turnd_connections_closed_total{limit="first-message-timeout",transport="tls"}' \
	'turnd_connections_closed_total{limit="max-allocate-timeout",transport="tcp"}'; do
	v=$(metric "$m")
	check "metric $m counted ($v)" [ "$v" -gt 0 ]
done
check "turnd still running" kill -0 "$TURND_PID"
# Under the sanitizers a report (a leak among them) makes the exit status non-zero.
check "turnd stops cleanly" stop_turnd
finish
