#!/bin/sh
# 'listener' entries added and removed by a reload (SIGHUP), no restart:
#   - turnd starts with listener A (UDP, TCP) and a certificate, but no
#     TLS port; the file gains B (UDP, TCP), C (TLS) and D (UDP), SIGHUP:
#     ss shows their sockets, one per worker, the log names them, and
#     coturn's turnutils_uclient relays through B over UDP and C over TLS
#     with 0 lost;
#   - refused reloads keep the old listeners: a TLS listener without a
#     certificate, and a listener on a port another process holds (the
#     log names the address and the error);
#   - a uclient load runs through B, and a python client holds an
#     allocation on D; mid-run B, C and D leave the file, SIGHUP: B's TCP
#     and C's TLS listening sockets are gone at once, the UDP ones stay
#     (retired): the load ends with 0 lost; on D, Refresh,
#     CreatePermission, ChannelBind, ChannelData and Send keep working,
#     and a new Allocate gets 508 (as when draining; also on B), while
#     Binding is still answered; once D's allocation is deleted, D's UDP
#     sockets close, the log and turnd_listeners_retired say so;
#   - uclient leaves one allocation per client in place (until its
#     lifetime ends), so B is still retired: B added back takes its
#     retired UDP sockets back (no second set), and allocates again;
#   - turnd stops cleanly (sanitizers: nothing leaked).
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}
M=${UCLIENT_M:-5}
N=${UCLIENT_N:-100}
THREADS=2

check "throwaway CA and server certificate" tls_certs
pick_port PORT && pick_port PA && pick_port PB && pick_port PC && pick_port PD &&
	pick_port PEER_PORT && pick_port METRICS_PORT ||
	{ not_ok "free ports"; finish; }
relay_range
CONF=$T_DIR/turnd.conf
TURN_LOG=$T_DIR/turnd.log

# conf LISTENERS [MORE]: the file, with 'listener = { LISTENERS }'.
conf() {
	loopback_conf "$TURN_REALM" "\"$TURN_USER:$TURN_PASS\""
	cat <<EOF
relay-threads = $THREADS
log-level = notice
legacy-channel-numbers = true
# uclient leaves allocations of the one user behind on every listener:
# more than the default user-quota (32).
user-quota = 0
metrics-ip = 127.0.0.1
metrics-port = $METRICS_PORT
listener = { $1 }
${2:-cert = "$T_DIR/cert.pem"
pkey = "$T_DIR/key.pem"}
EOF
}
A="\"127.0.0.1:$PA/udp,tcp\""
B="\"127.0.0.1:$PB/udp,tcp\""
C="\"127.0.0.1:$PC/tls\""
D="\"127.0.0.1:$PD/udp\""

# reload TEXT: the file becomes TEXT, then SIGHUP; waits for the verdict
# (the Nth "reloading" line has its outcome after it).
RELOADS=0
reload() {
	printf '%s\n' "$1" >"$CONF.new" && mv "$CONF.new" "$CONF"
	RELOADS=$((RELOADS + 1))
	kill -HUP "$TURND_PID"
	for _ in $(seq 1 50); do
		n=$(grep -c "SIGHUP: every worker runs the new configuration\|SIGHUP: the new configuration is refused" "$TURN_LOG")
		[ "$n" -ge "$RELOADS" ] && return 0
		sleep 0.1
	done
	echo "  no verdict on reload $RELOADS"; tail -n 10 "$TURN_LOG" | sed 's/^/  | /'
	return 1
}
# count PROTO PORT: listening sockets on 127.0.0.1:PORT (one per worker).
count() {
	ss -Hl"$1"n | awk '{print $4}' | grep -cx "127.0.0.1:$2"
}
# until_count PROTO PORT N: wait (up to 10 s) for N sockets.
until_count() {
	for _ in $(seq 1 100); do
		[ "$(count "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	echo "  $(count "$1" "$2") $1 sockets on $2, not $3"
	return 1
}
logged() { grep -qF -- "$1" "$TURN_LOG" || { echo "  not in the log: $1"; return 1; }; }

start_turnd "$(conf "$A")" || { not_ok "start turnd"; finish; }
ok "turnd up: 127.0.0.1:$PORT and listener A 127.0.0.1:$PA/udp,tcp"
spawn "$TURNPEER" -q -L "127.0.0.1:$PEER_PORT" -L "127.0.0.1:$((PEER_PORT + 1))" \
	>"$T_DIR/peer.log" 2>&1
check "before: nothing listens on B ($PB) or C ($PC)" \
	[ "$(count u "$PB")$(count t "$PB")$(count t "$PC")" = 000 ]

# ---- a. Added ------------------------------------------------------------------

check "reload adding B (udp,tcp), C (tls) and D (udp)" reload "$(conf "$A, $B, $C, $D")"
check "the log names what was added" sh -c \
	"grep -qF 'SIGHUP: listener 127.0.0.1:$PB/udp,tcp added' '$TURN_LOG' &&
	 grep -qF 'SIGHUP: listener 127.0.0.1:$PC/tls added' '$TURN_LOG' &&
	 grep -qF 'changed: listener' '$TURN_LOG'"
check "ss: B's UDP and TCP sockets, one per worker" \
	[ "$(count u "$PB") $(count t "$PB")" = "$THREADS $THREADS" ]
check "ss: C's TLS (TCP) sockets, no UDP" \
	[ "$(count t "$PC") $(count u "$PC")" = "$THREADS 0" ]
check "ss: D's UDP sockets, no TCP" [ "$(count u "$PD") $(count t "$PD")" = "$THREADS 0" ]
check "A still has its sockets" [ "$(count u "$PA") $(count t "$PA")" = "$THREADS $THREADS" ]
check "uclient over UDP through the added B: 0 lost" \
	uclient b-udp -p "$PB" -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1
check "uclient over TLS through the added C: 0 lost" \
	uclient c-tls -p "$PC" -t -S -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1

# ---- c. Refused: the old listeners stay -----------------------------------------

check "reload with a TLS listener but no certificate: refused" \
	reload "$(conf "$A, $B, $C, $D" "# no cert")"
check "  the log says why" \
	logged "asks for TLS or DTLS without options 'cert' and 'pkey'"
check "reload adding a listener on a port turnpeer holds: refused" \
	reload "$(conf "$A, $B, $C, $D, \"127.0.0.1:$PEER_PORT/udp\"")"
check "  the log names the listener and the error" \
	logged "option 'listener' (udp): UDP 127.0.0.1:$PEER_PORT: Address already in use"
check "after the refusals: A, B and C keep their sockets" \
	[ "$(count u "$PA") $(count u "$PB") $(count t "$PB") $(count t "$PC")" = \
		"$THREADS $THREADS $THREADS $THREADS" ]
# relays PORT: a turnprobe session there echoes everything.
relays() {
	"$TURNPROBE" turn "127.0.0.1:$1" -u "$TURN_USER" -w "$TURN_PASS" \
		--peer "127.0.0.1:$PEER_PORT" -n 2 --timeout 1000 >"$T_DIR/relays.out" 2>&1 &&
		grep -q "^2/2 echoed" "$T_DIR/relays.out" ||
		{ sed 's/^/  | /' "$T_DIR/relays.out" | tail -n 3; return 1; }
}
check "  and B still relays" relays "$PB"

# ---- b. Removed under load ----------------------------------------------------------

# lib.sh's metric NAME: its value from /metrics.
until_metric() { # until_metric NAME VALUE: within 5 s
	for _ in $(seq 1 50); do
		[ "$(metric "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "  $1 is $(metric "$1"), not $2"
	return 1
}
check "turnd_listeners_retired 0 before" until_metric turnd_listeners_retired 0
N=400 # 20 ms apart: 8 s, after uclient's 1-6 s of starts
uclient_run load -p "$PB" -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1 &
LOAD_PID=$!
T_BG_PIDS="$T_BG_PIDS $LOAD_PID"
"$PYTHON3" "$top_srcdir/tests/interop/turn_client.py" --port "$PD" retire_hold \
	"$TURN_USER" "$TURN_PASS" "127.0.0.1:$PEER_PORT" "127.0.0.1:$((PEER_PORT + 1))" \
	"$T_DIR/ready" "$T_DIR/go" \
	>"$T_DIR/hold.out" 2>&1 &
HOLD_PID=$!
T_BG_PIDS="$T_BG_PIDS $HOLD_PID"
sleep 7
check "the allocation on D relays before the reload" test -e "$T_DIR/ready"
check "reload removing B, C and D while they carry traffic" reload "$(conf "$A")"
check "the log names what was removed" sh -c \
	"grep -qF 'SIGHUP: listener 127.0.0.1:$PB/udp,tcp removed' '$TURN_LOG' &&
	 grep -qF 'SIGHUP: listener 127.0.0.1:$PC/tls removed' '$TURN_LOG' &&
	 grep -qF 'SIGHUP: listener 127.0.0.1:$PD/udp removed' '$TURN_LOG'"
check "ss: B's TCP and C's TLS listening sockets are gone at once" \
	[ "$(count t "$PB") $(count t "$PC")" = "0 0" ]
check "ss: B's and D's UDP sockets stay while their allocations run" \
	[ "$(count u "$PB") $(count u "$PD")" = "$THREADS $THREADS" ]
check "turnd_listeners_retired $((2 * THREADS))" until_metric turnd_listeners_retired $((2 * THREADS))
retired_allocate() {
	"$TURNPROBE" turn "127.0.0.1:$PB" -u "$TURN_USER" -w "$TURN_PASS" \
		--peer "127.0.0.1:$PEER_PORT" -n 1 --timeout 1000 >"$T_DIR/retired.out" 2>&1
	rc=$?
	sed 's/^/  | /' "$T_DIR/retired.out" | tail -n 1
	[ "$rc" -ne 0 ] && grep -q "Allocate: 508" "$T_DIR/retired.out"
}
check "a new Allocate on retired B gets 508, as when draining" retired_allocate
check "Binding on retired B is still answered" sh -c "'$TURNPROBE' stun 127.0.0.1:$PB >/dev/null"
load_running() { kill -0 "$LOAD_PID" 2>/dev/null; }
check "the load was still running after the reload" load_running
touch "$T_DIR/go"
reap "$HOLD_PID"
hold_rc=$?
sed 's/^/  /' "$T_DIR/hold.out"
check "D's allocation: Refresh, CreatePermission, ChannelBind, ChannelData, Send after" \
	[ "$hold_rc" -eq 0 ]
reap "$LOAD_PID"
check "uclient load through B across its removal: 0 lost" uclient_lossless load $?
N=100
check "ss: D's UDP sockets close once its last allocation is gone" until_count u "$PD" 0
check "  and the log says so" \
	logged "listener 127.0.0.1:$PD/udp removed: its last allocation ended; its sockets close"
check "  and turnd_listeners_retired is $THREADS (B's)" until_metric turnd_listeners_retired "$THREADS"
check "ss: B's UDP sockets stay: uclient left allocations there" \
	[ "$(count u "$PB")" = "$THREADS" ]
check "A serves on: uclient over UDP, 0 lost" \
	uclient a-udp -p "$PA" -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1

# ---- Added back while still retired ---------------------------------------------------

check "reload adding B back" reload "$(conf "$A, $B")"
check "ss: B's retired UDP sockets taken back (no second set), TCP open again" \
	[ "$(count u "$PB") $(count t "$PB")" = "$THREADS $THREADS" ]
check "turnd_listeners_retired 0" until_metric turnd_listeners_retired 0
check "a new Allocate on B works again" relays "$PB"
check "uclient over UDP through B again: 0 lost" \
	uclient b-again -p "$PB" -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1

check "turnd stops cleanly" stop_turnd
finish
