#!/bin/sh
# Configuration reload (SIGHUP) under load, with real clients:
#   - turnd starts with user alice, a denied peer range 198.51.100.0/24,
#     log level notice and relay-threads 2;
#   - coturn's turnutils_uclient relays as alice through turnutils_peer;
#     while it runs, the file gains user bob, denies 203.0.113.0/24
#     instead, goes to log level info and asks for relay-threads 3, and
#     turnd gets SIGHUP;
#   - the load finishes with every packet echoed (0 lost): allocations
#     survive the reload;
#   - bob now authenticates (turnprobe turn echoes), 203.0.113.5 gets 403
#     on CreatePermission and 198.51.100.5 no longer does; relay-threads
#     is reported as needing a restart;
#   - a file with a syntax error is refused on SIGHUP, the log naming the
#     file and line, and the server keeps serving with the previous
#     configuration (bob still works);
#   - a reload to user-quota 1 refuses alice's next allocation (486) while
#     her running one keeps relaying;
#   - the allocation log lines (info) carry the 5-tuple, the user, the
#     relayed address and the bytes and packets each way;
#   - with log-json, every line on stderr is a JSON object, the reload's
#     and the allocations' included.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

M=${UCLIENT_M:-10}  # clients
N=${UCLIENT_N:-300} # messages per session, 20 ms apart (~6 s, plus uclient's 1-6 s starts)
L=120
UCLIENT="stdbuf -oL -eL turnutils_uclient"

pick_port PORT || { not_ok "no free port"; finish; }
pick_port PEER_PORT || { not_ok "no free port for the peer"; finish; }
relay_range
CONF=$T_DIR/turnd.conf
TURN_LOG=$T_DIR/turnd.log

# conf USERS DENIED LEVEL THREADS: the configuration file's text.
conf() {
	loopback_conf turnd.test "$1"
	cat <<EOF
denied-peer-ip = { "$2" }
legacy-channel-numbers = true
log-level = $3
relay-threads = $4
EOF
}

start_turnd "$(conf '"alice:wonderland"' 198.51.100.0/24 notice 2)" ||
	{ not_ok "start turnd"; finish; }
ok "turnd up on 127.0.0.1:$PORT, relay ports $MINPORT-$MAXPORT"

spawn turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >"$T_DIR/peer.log" 2>&1
check "turnutils_peer listening on 127.0.0.1:$PEER_PORT" udp_bound "127.0.0.1:$PEER_PORT"

# lib.sh's probe NAME ARGS... and probe_fails NAME LINE ARGS... against
# turnd, with a short transaction timeout.
# echoes NAME USER PASS: a whole session through the peer, every echo back.
echoes() {
	probe "$1" "127.0.0.1:$PORT" --timeout 1000 -u "$2" -w "$3" --peer "127.0.0.1:$PEER_PORT" -n 3 &&
		grep -q "^3/3 echoed over" "$T_DIR/$1.out" && return 0
	sed 's/^/  | /' "$T_DIR/$1.out" "$T_DIR/$1.err"
	return 1
}
# permitted NAME PEER: CreatePermission towards PEER is granted (the peer
# does not answer: the echo is lost, and that is all).
permitted() {
	probe "$1" "127.0.0.1:$PORT" --timeout 1000 -u alice -w wonderland --peer "$2" -n 1
	! grep -q "CreatePermission" "$T_DIR/$1.err" && grep -q "^relayed address" "$T_DIR/$1.out" &&
		return 0
	sed 's/^/  | /' "$T_DIR/$1.out" "$T_DIR/$1.err"
	return 1
}

check "before the reload: bob is unknown (401)" \
	probe_fails bob0 "turnprobe: Allocate: 401 Unauthorized" "127.0.0.1:$PORT" --timeout 1000 -u bob -w builder --peer "127.0.0.1:$PEER_PORT"
check "before the reload: 198.51.100.5 is denied (403)" \
	probe_fails deny0 "turnprobe: CreatePermission: 403 Forbidden" "127.0.0.1:$PORT" --timeout 1000 -u alice -w wonderland --peer 198.51.100.5:9
check "before the reload: 203.0.113.5 is permitted" permitted allow0 203.0.113.5:9
check "at log level notice: no allocation lines" \
	sh -c "! grep -q 'allocation created' '$TURN_LOG'"

# ---- Reload during the load --------------------------------------------

spawn timeout -k 5 40 $UCLIENT -p "$PORT" -u alice -w wonderland -m "$M" -n "$N" -l "$L" \
	-e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1 >"$T_DIR/uc.out" 2>&1
UC_PID=$BG_PID
# Until every session relays (uclient starts them over up to 6 s), then
# a little more: the reload lands in the middle of the traffic.
sleep 7
conf '"alice:wonderland", "bob:builder"' 203.0.113.0/24 info 3 >"$CONF.new" &&
	mv "$CONF.new" "$CONF"
kill -HUP "$TURND_PID"
applied() {
	for _ in $(seq 1 50); do
		grep -q "SIGHUP: every worker runs the new configuration" "$TURN_LOG" && return 0
		sleep 0.1
	done
	tail -n 20 "$TURN_LOG" | sed 's/^/  | /'
	return 1
}
check "SIGHUP: every worker took the new configuration" applied
check "SIGHUP: the changes are listed" \
	grep -q "SIGHUP: configuration reloaded from $CONF; changed: user, denied-peer-ip, log-level; now 2 users, 0 secrets, 1 allowed and 1 denied peer range, log level info" "$TURN_LOG"
check "SIGHUP: relay-threads needs a restart, and says so" \
	grep -q "SIGHUP: option 'relay-threads' changed in $CONF, but it takes effect only at a restart" "$TURN_LOG"
uc_still_running() { kill -0 "$UC_PID" 2>/dev/null; }
check "the load was still running at the reload" uc_still_running

# The load, as turn_uclient.sh reads it: every packet echoed.
reap "$UC_PID"
rc=$?
set -- $(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\).*/\1 \2/p' "$T_DIR/uc.out" | tail -n 1)
sent=${1:-none} recv=${2:-none}
set -- $(sed -n 's/.*Total lost packets \([0-9]*\) .*total send dropped \([0-9]*\) .*/\1 \2/p' "$T_DIR/uc.out" | tail -n 1)
lost=${1:-none} dropped=${2:-none}
desc="uclient as alice across the reload: $recv/$sent echoed, $lost lost, $dropped send dropped"
if [ "$rc" -eq 0 ] && [ "$lost" = 0 ] && [ "$dropped" = 0 ] && [ "$sent" != none ] &&
	[ "$sent" -ge $((M * N)) ] && [ "$recv" = "$sent" ]; then
	ok "$desc"
else
	not_ok "$desc (exit $rc)"
	sed 's/^/  | /' "$T_DIR/uc.out" | tail -n 20
	tail -n 20 "$TURN_LOG" | sed 's/^/  | /'
fi

check "after the reload: bob authenticates, 3/3 echoed" echoes bob1 bob builder
check "after the reload: alice still authenticates" echoes alice1 alice wonderland
check "after the reload: 203.0.113.5 is denied (403)" \
	probe_fails deny1 "turnprobe: CreatePermission: 403 Forbidden" "127.0.0.1:$PORT" --timeout 1000 -u alice -w wonderland --peer 203.0.113.5:9
check "after the reload: 198.51.100.5 is permitted" permitted allow1 198.51.100.5:9

# ---- The allocation log lines (info since the reload) --------------------

created="allocation created: user=bob client=127\.0\.0\.1:[0-9]* server=127\.0\.0\.1:$PORT transport=udp relay=127\.0\.0\.1:[0-9]* lifetime=[0-9]*"
deleted="allocation deleted: user=bob client=127\.0\.0\.1:[0-9]* server=127\.0\.0\.1:$PORT transport=udp relay=127\.0\.0\.1:[0-9]* to_peer_bytes=[1-9][0-9]* to_peer_packets=3 to_client_bytes=[1-9][0-9]* to_client_packets=3"
check "log: allocation created with the 5-tuple, user and relay" grep -q "$created" "$TURN_LOG"
check "log: allocation deleted with the bytes and packets each way" grep -q "$deleted" "$TURN_LOG"
grep -m 2 "allocation .*: user=bob" "$TURN_LOG" | sed 's/^/  /'

# ---- A broken file is refused ---------------------------------------------

printf 'realm = "turnd.test"\nuser = { "alice:wonderland"\nlog-level = debug\n' >"$CONF"
kill -HUP "$TURND_PID"
refused_logged() {
	for _ in $(seq 1 50); do
		grep -q "SIGHUP: the new configuration is refused; the running one stays: $CONF:[0-9]*: " \
			"$TURN_LOG" && return 0
		sleep 0.1
	done
	tail -n 10 "$TURN_LOG" | sed 's/^/  | /'
	return 1
}
check "SIGHUP with a syntax error: refused, the log names file and line" refused_logged
grep "SIGHUP: the new configuration is refused" "$TURN_LOG" | sed 's/^/  /'
check "after the refused reload: bob still authenticates" echoes bob2 bob builder
check "after the refused reload: the log level is still info" \
	sh -c "[ \$(grep -c 'allocation created: user=bob' '$TURN_LOG') -ge 2 ]"
check "after the refused reload: 203.0.113.5 still denied (403)" \
	probe_fails deny2 "turnprobe: CreatePermission: 403 Forbidden" "127.0.0.1:$PORT" --timeout 1000 -u alice -w wonderland --peer 203.0.113.5:9

# ---- A lower quota: new allocations meet it, running ones keep going ---------

spawn timeout -k 5 30 $UCLIENT -p "$PORT" -u alice -w wonderland -m 1 -n 250 -l "$L" \
	-e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1 >"$T_DIR/uc2.out" 2>&1
UC_PID=$BG_PID
sleep 2
conf '"alice:wonderland", "bob:builder"' 203.0.113.0/24 info 2 >"$CONF" &&
	echo "user-quota = 1" >>"$CONF"
kill -HUP "$TURND_PID"
quota_applied() {
	for _ in $(seq 1 50); do
		grep -q "SIGHUP: configuration reloaded from $CONF; changed: user-quota;" "$TURN_LOG" &&
			[ "$(grep -c 'SIGHUP: every worker runs the new configuration' "$TURN_LOG")" -eq 2 ] &&
			return 0
		sleep 0.1
	done
	tail -n 10 "$TURN_LOG" | sed 's/^/  | /'
	return 1
}
check "SIGHUP: user-quota 1 applied by every worker" quota_applied
check "user-quota 1: alice, holding an allocation, gets 486" \
	probe_fails quota1 "turnprobe: Allocate: 486 Allocation Quota Reached" "127.0.0.1:$PORT" --timeout 1000 -u alice -w wonderland --peer "127.0.0.1:$PEER_PORT"
check "user-quota 1: bob, holding none, relays" echoes bob3 bob builder
uclient_clean() {
	reap "$UC_PID"
	rc=$?
	[ "$rc" -eq 0 ] && grep -q "Total lost packets 0 (" "$T_DIR/uc2.out" &&
		grep -Eq "tot_send_msgs=([1-9][0-9]*), tot_recv_msgs=\1$" "$T_DIR/uc2.out" && return 0
	echo "  exit $rc"; tail -n 5 "$T_DIR/uc2.out" | sed 's/^/  | /'
	return 1
}
check "alice's running allocation relayed on across the lower quota, 0 lost" uclient_clean

check "turnd stops cleanly" stop_turnd
# uclient's sessions, created before the reload and deleted after it:
# each line counts every packet both ways, across the reload.
across() {
	n=$(grep -c "allocation deleted: user=alice client=127\.0\.0\.1:[0-9]* server=127\.0\.0\.1:$PORT transport=udp relay=127\.0\.0\.1:[0-9]* to_peer_bytes=$((N * L)) to_peer_packets=$N to_client_bytes=$((N * L)) to_client_packets=$N reason=\"[a-z 0]*\"\$" "$TURN_LOG")
	echo "  $n of $M uclient allocations logged with $N packets each way"
	[ "$n" -eq "$M" ]
}
check "log: uclient's allocations deleted with their bytes and packets" across

# ---- JSON lines ---------------------------------------------------------------

conf '"alice:wonderland"' 203.0.113.0/24 info 1 >"$CONF" && echo "log-json = true" >>"$CONF"
"$TURND" -c "$CONF" >"$T_DIR/json.out" 2>"$T_DIR/json.log" &
TURND_PID=$!
TURN_LOG=$T_DIR/json.log
for _ in $(seq 1 50); do
	"$TURNPROBE" stun "127.0.0.1:$PORT" --timeout 200 >/dev/null 2>&1 && break
	sleep 0.1
done
check "log-json: a session as alice" echoes json1 alice wonderland
kill -HUP "$TURND_PID"
sleep 0.5
check "log-json: a session as alice after a reload" echoes json2 alice wonderland
check "turnd (log-json) stops cleanly" stop_turnd
json_lines() {
	python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert set(o) == {"time", "level", "msg"}, o
    n += 1
text = open(sys.argv[1]).read()
assert text.count("allocation deleted: user=alice") >= 2, "allocation lines"
assert "SIGHUP: configuration reloaded" in text, "reload line"
print("  %d JSON lines" % n)
' "$T_DIR/json.log" || { tail -n 5 "$T_DIR/json.log"; return 1; }
}
check "log-json: every line is a JSON object, allocation lines included" json_lines
finish
