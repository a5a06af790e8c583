#!/bin/sh
# turnload, the load generator of the benchmarks, against a real TURN server
# and turnpeer on loopback. Each mode must deliver every packet it sends
# (--json: received == sent, lost 0, no duplicates) and exit 0:
#   ChannelData to the echo peer, Send/Data indications (-s), client to
#   client through two relays (-y), TCP to the server (-t), TURN REST
#   credentials (-W);
# the allocation rate (-a) must allocate without failures, the hold mode
# (-m 20) must hold 20 allocations and delete them (turnd's log at stop:
# allocations 0), a wrong password must give exit status 1, a usage error
# 2, and --raw straight at turnpeer must lose nothing.
#
# TURN_SERVER_IMPL=coturn runs the same against Debian's turnserver (see
# turn_lib.sh); the check of turnd's closing log line is then skipped.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

TURNLOAD=${TURNLOAD:-${top_builddir:-.}/turnload}
TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}
LOAD_TIMEOUT=30 # seconds for one turnload run (a good one takes 1-2)

# turnload's sessions are all one user's allocations: set the quota (its
# default, 32, is for browsers) to what a load test needs.
TURND_EXTRA_CONF="user-quota = 0"
start_turn_server || { not_ok "start $TURN_SERVER_IMPL"; finish; }
ok "$TURN_SERVER_IMPL up on 127.0.0.1 port $PORT, relay ports $MINPORT-$MAXPORT"

pick_port PEER_PORT || { not_ok "no free port for turnpeer"; finish; }
spawn "$TURNPEER" -L "127.0.0.1:$PEER_PORT" >"$T_DIR/peer.out" 2>"$T_DIR/peer.err"
peer_up() {
	for _ in $(seq 1 50); do
		grep -q '^turnpeer: listening on ' "$T_DIR/peer.out" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$T_DIR/peer.err"
	return 1
}
check "turnpeer listening on 127.0.0.1:$PEER_PORT" peer_up

# load NAME ARGS...: one turnload --json run against the server (the last
# argument is the target); stdout in NAME.out, stderr in NAME.err, the
# exit status in RC.
load() {
	name=$1
	shift
	timeout -k 2 "$LOAD_TIMEOUT" "$TURNLOAD" --json "$@" >"$T_DIR/$name.out" 2>"$T_DIR/$name.err"
	RC=$?
}

# field NAME KEY: the value of a top-level KEY of the JSON object on the
# last line of NAME.out (latency_max: latency_us.max). turnload writes the
# object on one line, keys unique, so sed does (python3 takes a second to
# start on a busy machine).
field() {
	line=$(tail -n 1 "$T_DIR/$1.out")
	case "$2" in
	latency_max) echo "$line" | sed -n 's/.*,"latency_us":{[^}]*"max":\([0-9.]*\).*/\1/p' ;;
	*) echo "$line" | sed -n "s/.*[{,]\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" ;;
	esac
}

# show NAME WHY: what went wrong, and what turnload said.
show() {
	echo "  $2 (turnload exit $RC)"
	sed 's/^/  | /' "$T_DIR/$1.out" "$T_DIR/$1.err" | tail -n 20
	return 1
}

# expect NAME [RC=N] KEY=VALUE...: the exit status and each field as given.
expect() {
	name=$1
	shift
	for kv in "$@"; do
		key=${kv%%=*} want=${kv#*=}
		if [ "$key" = RC ]; then got=$RC; else got=$(field "$name" "$key"); fi
		[ "$got" = "$want" ] || { show "$name" "$key is '$got', wanted '$want'"; return; }
	done
}

# within NAME KEY MIN MAX: an integer field in [MIN, MAX].
within() {
	v=$(field "$1" "$2")
	case "$v" in '' | *[!0-9]*) show "$1" "$2 is '$v', not a whole number"; return ;; esac
	[ "$v" -ge "$3" ] && [ "$v" -le "$4" ] || show "$1" "$2 is $v, wanted $3..$4"
}

# all_back NAME N: exit 0, N packets sent and every one back once, the 4
# allocations made.
all_back() {
	expect "$1" RC=0 sent="$2" received="$2" lost=0 duplicates=0 allocations=4 alloc_failed=0
}

LT="-u $TURN_USER -w $TURN_PASS"
PEER="-e 127.0.0.1:$PEER_PORT"
SERVER="127.0.0.1:$PORT"

load channel $LT $PEER -n 4 -c 200 "$SERVER"
check "channels (UDP): 4 sessions x 200 sent, all 800 back" all_back channel 800
load send $LT $PEER -s -n 4 -c 200 "$SERVER"
check "Send/Data indications (-s): all 800 back" all_back send 800
load c2c $LT -y -n 4 -c 200 "$SERVER"
check "client to client (-y): all 800 back through two relays" all_back c2c 800
load tcp $LT $PEER -t -n 4 -c 200 "$SERVER"
check "TCP to the server (-t): all 800 back" all_back tcp 800
load tcp_send $LT $PEER -t -s -n 4 -c 100 -l 121 "$SERVER"
check "TCP with indications, 121-byte payloads (-t -s -l 121): all 400 back" all_back tcp_send 400
if [ "$TURN_SERVER_IMPL" = turnd ]; then
	load rest -W "$TURN_SECRET" -u "$TURN_USER" $PEER -n 4 -c 100 "$SERVER"
	check "TURN REST credential (-W): all 400 back" all_back rest 400
fi
load paced $LT $PEER -n 4 -r 2000 -d 1 "$SERVER"
paced_ok() {
	expect paced RC=0 lost=0 && within paced sent 1500 2200 &&
		{ [ "$(field paced latency_max)" != 0.0 ] || show paced "no latency measured"; }
}
check "paced at 2000/s for 1 s: about 2000 sent, none lost" paced_ok

# coturn keeps a deleted allocation's relay port for a while: within the
# test's 250 ports, stop at 200 allocations.
ALLOC_CAP=""
[ "$TURN_SERVER_IMPL" = coturn ] && ALLOC_CAP="-c 100"
load alloc $LT -a -n 2 -d 1 $ALLOC_CAP "$SERVER"
alloc_ok() { expect alloc RC=0 mode=alloc alloc_failed=0 && within alloc allocations 10 100000000; }
check "allocation rate (-a -n 2 -d 1): allocations made, none failed" alloc_ok

load hold $LT $PEER -m 20 -d 1 "$SERVER"
hold_ok() {
	{ grep -qx "holding 20 allocations" "$T_DIR/hold.out" || show hold "no 'holding 20 allocations'"; } &&
		expect hold RC=0 mode=hold sessions=20 allocations=20 alloc_failed=0 lost=0 &&
		within hold sent 1 1000
}
check "hold (-m 20): 'holding 20 allocations', each echoed, then deleted" hold_ok

load badpass -u "$TURN_USER" -w wrong $PEER -n 2 -c 10 "$SERVER"
badpass_ok() {
	expect badpass RC=1 allocations=0 alloc_failed=2 received=0 &&
		{ grep -q "Allocate: 401" "$T_DIR/badpass.err" || show badpass "no 'Allocate: 401'"; }
}
check "wrong password: exit 1, Allocate: 401" badpass_ok

load usage $LT -y -n 3 "$SERVER"
check "usage error (-y with an odd -n): exit 2" test "$RC" -eq 2

load raw --raw -n 4 -c 1000 "127.0.0.1:$PEER_PORT"
raw_ok() { expect raw RC=0 mode=raw sent=4000 received=4000 lost=0; }
check "--raw straight at turnpeer: all 4000 back" raw_ok

check "$TURN_SERVER_IMPL stops cleanly on SIGTERM" stop_turn_server
if [ "$TURN_SERVER_IMPL" = turnd ]; then
	check "turnd at stop: every allocation deleted (allocations 0)" \
		grep -q "at stop: allocations 0," "$TURN_LOG"
fi
finish
