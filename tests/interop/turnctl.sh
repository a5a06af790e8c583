#!/bin/sh
# turnctl and the control socket (daemon/control.c) against the real
# daemon, with two static users relaying through turnload and one through
# coturn's turnutils_uclient:
#   - the socket is 0600 and the service user's; turnctl's exit codes;
#   - sessions lists every allocation with counters that move while the
#     clients relay; users sums them; credentials make a REST login that
#     relays;
#   - kill ends exactly one session (its closing line says "killed by
#     operator"); kill-user ends exactly that user's allocations while the
#     other user's turnload keeps relaying with 0 loss; --ban refuses the
#     user (401) and then lets them back;
#   - a user neither root nor the service user is refused by its peer
#     credentials even when the file mode would let it in; the service user
#     (proc-user) is served;
#   - malformed and oversized requests get an error line and the daemon
#     serves on;
#   - 100 control clients at once while turnload relays at a fixed rate:
#     0 loss, and the latency p99 within the bound stated below.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
TURN_LOG=$T_DIR/turnd.log

TURNCTL=${TURNCTL:-${top_builddir:-.}/turnctl}
TURNLOAD=${TURNLOAD:-${top_builddir:-.}/turnload}
TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}
PYTHON3=${PYTHON3:-python3}
CLIENT_PY=$top_srcdir/tests/interop/control_client.py
LOAD_TIMEOUT=40

CTL_DIR=$T_DIR/ctl
SOCK=$CTL_DIR/control
mkdir -p "$CTL_DIR"
pick_port PORT || { not_ok "no free port"; finish; }
relay_range
start_turnd "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
relay-ip = { \"127.0.0.1\" }
min-port = $MINPORT
max-port = $((MINPORT + 199))
realm = \"turnd.test\"
user = { \"alice:pass\", \"bob:pass\", \"user:pass\" }
static-auth-secret = { \"secret\" }
allowed-peer-ip = { \"127.0.0.1\" }
allow-own-peers = true
legacy-channel-numbers = true
user-quota = 0
relay-threads = 2
log-level = info
control-socket = \"$SOCK\"" || { not_ok "start turnd"; finish; }
ok "turnd up on 127.0.0.1:$PORT, control socket $SOCK"

ctl() { "$TURNCTL" -s "$SOCK" "$@"; }
# jq-like: the Python expression E over the JSON on stdin (as j).
js() { "$PYTHON3" -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# ---- the socket file and turnctl's exit codes ----
check "socket is mode 600 and root's (the service user: no proc-user)" \
	test "$(stat -c '%a %U %F' "$SOCK")" = "600 root socket"
status_ok() {
	out=$(ctl --json status) || return 1
	want=$("$TURND" -V | sed 's/^turnd //')
	[ "$(echo "$out" | js 'j["version"], j["workers"], j["redis"], j["ok"]')" = "$want 2 off True" ] && return 0
	echo "  $out"
	return 1
}
check "status: version, 2 workers, Redis off" status_ok
check "status for people: one 'key: value' line each" sh -c \
	"'$TURNCTL' -s '$SOCK' status | grep -q '^uptime_s: [0-9]'"
exit_code() { # exit_code WANT turnctl-args...
	want=$1; shift
	"$TURNCTL" "$@" >/dev/null 2>&1
	rc=$?
	[ "$rc" -eq "$want" ] && return 0
	echo "  turnctl $*: exit $rc, not $want"
	return 1
}
usage_codes() {
	exit_code 2 -s "$SOCK" reboot && exit_code 2 -s "$SOCK" status --ban 3 &&
		exit_code 2 -s "$SOCK" kill
}
check "exit 2 on a usage error (unknown command, another command's option, no argument)" \
	usage_codes
check "exit 3 when nothing listens" exit_code 3 -s "$T_DIR/none" status
check "exit 1 when the daemon says error (no such session)" exit_code 1 -s "$SOCK" kill 0-999999

# ---- clients ----
pick_port PEER_PORT || { not_ok "no free port for turnpeer"; finish; }
spawn "$TURNPEER" -L "127.0.0.1:$PEER_PORT" >"$T_DIR/peer.out" 2>"$T_DIR/peer.err"
pick_port UC_PEER_PORT || { not_ok "no free port for turnutils_peer"; finish; }
spawn turnutils_peer -L 127.0.0.1 -p "$UC_PEER_PORT" >"$T_DIR/ucpeer.log" 2>&1
check "echo peers bound" udp_bound "127.0.0.1:$PEER_PORT" "127.0.0.1:$UC_PEER_PORT"

# load NAME ARGS...: turnload in the background, its JSON in NAME.out.
load() {
	name=$1; shift
	spawn timeout -k 2 "$LOAD_TIMEOUT" "$TURNLOAD" --json -q -e "127.0.0.1:$PEER_PORT" "$@" \
		"127.0.0.1:$PORT" >"$T_DIR/$name.out" 2>"$T_DIR/$name.err"
	eval "PID_$name=\$BG_PID"
}
# loaded NAME KEY: KEY of NAME's JSON summary.
loaded() { tail -n 1 "$T_DIR/$1.out" | js "j$2"; }

load alice -u alice -w pass -n 2 -r 100 -d 15
load bob -u bob -w pass -n 2 -r 100 -d 15
# uclient starts its session 1-6 s late, then sends every 20 ms (12 s).
spawn timeout -k 2 "$LOAD_TIMEOUT" turnutils_uclient -u user -w pass -m 1 -n 600 -l 120 \
	-e 127.0.0.1 -r "$UC_PEER_PORT" -p "$PORT" 127.0.0.1 >"$T_DIR/uclient.out" 2>&1
PID_uclient=$BG_PID

# sessions_of USER: how many sessions USER has now.
sessions_of() { ctl --json sessions --user "$1" | js 'j["count"]'; }
# uclient makes 3 allocations for -m 1: an idle first one, then the two
# it relays on (RTP and RTCP); the second of those starts late.
UC_ALLOCS=3
all_up() {
	for _ in $(seq 1 100); do
		[ "$(sessions_of alice) $(sessions_of bob) $(sessions_of user)" = "2 2 $UC_ALLOCS" ] &&
			return 0
		sleep 0.1
	done
	ctl sessions
	return 1
}
check "sessions: alice 2, bob 2 (turnload), user $UC_ALLOCS (uclient)" all_up
ctl sessions | sed 's/^/  | /'
# Every turnload session: the right user, realm and transport, one
# relayed address, the peer's permission and one channel.
shape_ok() {
	ctl --json sessions | js '"\n".join("%s %s %s %d %s %d" % (s["user"], s["realm"], s["transport"],
		len(s["relayed"]), ",".join(s["permissions"]), len(s["channels"])) for s in j["sessions"] if s["user"] != "user")' |
		sort >"$T_DIR/shape"
	printf '%s\n' "alice turnd.test udp 1 127.0.0.1 1" "alice turnd.test udp 1 127.0.0.1 1" \
		"bob turnd.test udp 1 127.0.0.1 1" "bob turnd.test udp 1 127.0.0.1 1" | diff - "$T_DIR/shape"
}
check "sessions: user, realm, transport, relayed address, permission and channel of each" shape_ok
# counters: id user to_peer_packets to_client_packets, one session a line.
counters() {
	ctl --json sessions | js '"\n".join("%s %s %d %d" % (s["id"], s["user"], s["to_peer_packets"], s["to_client_packets"]) for s in j["sessions"])' | sort
}
# Every turnload session's counters move both ways, and those of one at
# least of uclient's (its idle one never moves, its last starts late).
moving() {
	for _ in 1 2 3 4 5 6; do
		counters >"$T_DIR/c1"
		sleep 1
		counters >"$T_DIR/c2"
		join "$T_DIR/c1" "$T_DIR/c2" | awk '$3 > 0 && $6 > $3 && $7 > $4 { m[$2]++ } END { exit !(m["alice"] == 2 && m["bob"] == 2 && m["user"] >= 1) }' &&
			return 0
	done
	paste "$T_DIR/c1" "$T_DIR/c2" | sed 's/^/  | /'
	return 1
}
check "sessions: packets each way move while turnload and uclient relay" moving
users_ok() {
	out=$(ctl --json users)
	echo "$out" | js '" ".join("%s:%d" % (u["user"], u["allocations"]) for u in j["users"])' >"$T_DIR/users"
	[ "$(cat "$T_DIR/users")" = "alice:2 bob:2 user:$UC_ALLOCS" ] || { echo "  $out"; return 1; }
	# The sums cover at least what the sessions showed a moment before.
	a=$(awk '{ s += $3 } END { print s + 0 }' "$T_DIR/c2")
	u=$(echo "$out" | js 'sum(x["to_peer_packets"] for x in j["users"])')
	[ "$u" -ge "$a" ] || { echo "  users sum $u < sessions' $a"; return 1; }
}
check "users: allocations by user, packets summed" users_ok
# user_of USER KEY: KEY of USER's row in users (none: -1).
user_of() {
	ctl --json users | js '([u["'"$2"'"] for u in j["users"] if u["user"] == "'"$1"'"] + [-1])[0]'
}
alice_pkts=$(user_of alice to_peer_packets)
ALL=$((4 + UC_ALLOCS))
check "sessions --peer 127.0.0.1: all $ALL; --peer 192.0.2.1: none" sh -c \
	"[ \"\$('$TURNCTL' -s '$SOCK' --json sessions --peer 127.0.0.1 | grep -o '\"id\"' | wc -l)\" = $ALL ] &&
	 '$TURNCTL' -s '$SOCK' --json sessions --peer 192.0.2.1 | grep -q '\"count\":0'"

# ---- kill: exactly one session ----
victim=$(ctl --json sessions --user alice | js 'j["sessions"][0]["id"]')
vrelay=$(ctl --json sessions --user alice | js 'j["sessions"][0]["relayed"][0]')
# relay_socket ADDR:PORT: a UDP socket of this machine is bound there.
relay_socket() { ss -Huan 2>/dev/null | awk '{print $4}' | grep -qxF "$1"; }
check "the session's relay socket $vrelay is open" relay_socket "$vrelay"
check "kill $victim: done" sh -c "'$TURNCTL' -s '$SOCK' kill '$victim' | grep -q '^killed: 1'"
killed_lines() { grep -c "allocation deleted: user=$1 .*reason=\"killed by operator\"" "$TURN_LOG"; }
after_kill() {
	got="$(sessions_of alice) $(sessions_of bob) $(killed_lines alice) $(killed_lines bob)"
	[ "$got" = "1 2 1 0" ] && return 0
	echo "  alice's sessions, bob's, alice's killed lines, bob's: $got"
	return 1
}
check "kill: alice has 1 session left, bob 2, and one closing line says killed by operator" after_kill
check "kill of the same session again: exit 1, no such session" exit_code 1 -s "$SOCK" kill "$victim"
relay_closed() { ! relay_socket "$vrelay" && ! ctl --json sessions | grep -q "\"$victim\""; }
check "kill: its relay socket is closed and it is no longer listed" relay_closed

# ---- kill-user with a ban, while bob relays on ----
BAN=4
ban_t0=$(date +%s.%N)
check "kill-user alice --ban $BAN: 1 allocation" sh -c \
	"'$TURNCTL' -s '$SOCK' kill-user alice --ban $BAN | grep -q '^killed: 1'"
after_kill_user() {
	got="$(sessions_of alice) $(sessions_of bob) $(killed_lines alice) $(killed_lines bob)"
	[ "$got" = "0 2 2 0" ] && return 0
	echo "  alice's sessions, bob's, alice's killed lines, bob's: $got"
	return 1
}
check "kill-user: alice 0 sessions, bob still 2, 2 alice lines and no bob line killed" after_kill_user
# Her totals outlive her allocations (user-usage-linger): listed with 0
# allocations, at least what they were before the kill, 2 allocations
# ever (both killed: one by kill, one by kill-user).
lingers() {
	got="$(user_of alice allocations) $(user_of alice allocations_total) $(user_of alice to_peer_packets)"
	set -- $got
	[ "$1" = 0 ] && [ "$2" = 2 ] && [ "$3" -ge "$alice_pkts" ] && [ "$alice_pkts" -gt 0 ] && return 0
	echo "  alice: allocations, allocations_total, to_peer_packets: $got (before the kill: $alice_pkts)"
	return 1
}
check "users: alice lingers after kill-user, 0 allocations, her totals kept" lingers
refused() {
	timeout -k 2 10 "$TURNLOAD" --json -q -u alice -w pass -n 1 -c 5 -e "127.0.0.1:$PEER_PORT" \
		"127.0.0.1:$PORT" >"$T_DIR/banned.out" 2>"$T_DIR/banned.err"
	grep -q "401" "$T_DIR/banned.err" && [ "$(tail -n 1 "$T_DIR/banned.out" | js 'j["allocations"]')" = 0 ] &&
		return 0
	sed 's/^/  | /' "$T_DIR/banned.out" "$T_DIR/banned.err"
	return 1
}
check "banned: alice's new Allocate gets 401" refused
# Until the ban is over (BAN s after it began), then once more.
wait_s=$(awk -v t0="$ban_t0" -v ban="$BAN" -v now="$(date +%s.%N)" \
	'BEGIN { w = t0 + ban + 0.5 - now; printf "%.2f", (w > 0 ? w : 0) }')
sleep "$wait_s"
back() {
	timeout -k 2 10 "$TURNLOAD" --json -q -u alice -w pass -n 1 -c 50 -e "127.0.0.1:$PEER_PORT" \
		"127.0.0.1:$PORT" >"$T_DIR/back.out" 2>"$T_DIR/back.err"
	[ "$(tail -n 1 "$T_DIR/back.out" | js 'j["allocations"], j["received"], j["lost"]')" = "1 50 0" ] &&
		return 0
	sed 's/^/  | /' "$T_DIR/back.out" "$T_DIR/back.err"
	return 1
}
check "after $BAN s the ban is over: alice relays 50 of 50" back
bob_clean() {
	reap "$PID_bob"
	rc=$?
	[ "$rc" -eq 0 ] && [ "$(loaded bob '["lost"]')" = 0 ] && [ "$(loaded bob '["sent"]')" -ge 1400 ] &&
		return 0
	echo "  exit $rc"; sed 's/^/  | /' "$T_DIR/bob.out" "$T_DIR/bob.err" | tail -n 5
	return 1
}
check "bob's turnload relayed across the kills with 0 loss" bob_clean
reap "$PID_alice" # its sessions were killed: its figures are not judged
uclient_clean() {
	reap "$PID_uclient"
	rc=$?
	[ "$rc" -eq 0 ] && grep -q "Total lost packets 0 (" "$T_DIR/uclient.out" && return 0
	echo "  exit $rc"; tail -n 5 "$T_DIR/uclient.out" | sed 's/^/  | /'
	return 1
}
check "uclient's session relayed to its end with 0 lost" uclient_clean

# ---- credentials ----
creds_relay() {
	out=$(ctl --json credentials --user carol --ttl 600)
	name=$(echo "$out" | js 'j["username"]')
	pass=$(echo "$out" | js 'j["password"]')
	# (name and pass stay set for the next check.)
	expr "$name" : '[0-9]*:carol$' >/dev/null || { echo "  $out"; return 1; }
	timeout -k 2 10 "$TURNLOAD" --json -q -u "$name" -w "$pass" -n 1 -c 20 \
		-e "127.0.0.1:$PEER_PORT" "127.0.0.1:$PORT" >"$T_DIR/rest.out" 2>"$T_DIR/rest.err"
	[ "$(tail -n 1 "$T_DIR/rest.out" | js 'j["received"], j["lost"]')" = "20 0" ] && return 0
	sed 's/^/  | /' "$T_DIR/rest.out" "$T_DIR/rest.err"
	return 1
}
check "credentials --user carol: a REST name and password that relay" creds_relay
# A REST login is its user's: sessions --user and kill-user name carol.
rest_name=$name
load carol -u "$rest_name" -w "$pass" -n 1 -r 50 -d 8
rest_user() {
	for _ in $(seq 1 50); do
		[ "$(sessions_of carol)" = 1 ] && break
		sleep 0.1
	done
	[ "$(sessions_of carol)" = 1 ] && ctl kill-user carol | grep -q '^killed: 1' &&
		[ "$(sessions_of carol)" = 0 ] && return 0
	ctl sessions
	return 1
}
check "carol's REST login ($rest_name) is listed and killed under carol" rest_user
reap "$PID_carol" # killed: its figures are not judged

# ---- reload and drain, as SIGHUP and SIGUSR1 ----
check "reload: applied, as SIGHUP" sh -c \
	"'$TURNCTL' -s '$SOCK' reload | grep -q '^reloaded: yes' && grep -q 'SIGHUP: configuration reloaded' '$TURN_LOG'"
cp "$T_DIR/turnd.conf" "$T_DIR/turnd.conf.good"
echo "max-port = nonsense" >>"$T_DIR/turnd.conf"
reload_refused() {
	"$TURNCTL" -s "$SOCK" reload >/dev/null 2>"$T_DIR/reload.err"
	rc=$?
	[ "$rc" -eq 1 ] && grep -q "reload refused" "$T_DIR/reload.err" && return 0
	echo "  exit $rc"; sed 's/^/  | /' "$T_DIR/reload.err"
	return 1
}
check "reload of a file that does not load: exit 1, refused, the daemon serves on" reload_refused
cp "$T_DIR/turnd.conf.good" "$T_DIR/turnd.conf"

# ---- who may talk to it ----
# Widen the file mode and the directories: only the peer credentials
# stand between nobody and the daemon now.
chmod 755 "$T_DIR" "$CTL_DIR"
chmod 666 "$SOCK"
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$TURNCTL" -s "$SOCK" status \
		>"$T_DIR/nobody.out" 2>"$T_DIR/nobody.err"
	rc=$?
	[ "$rc" -eq 1 ] && grep -q "permission denied" "$T_DIR/nobody.err" &&
		grep -q "control: refused a connection from uid 65534" "$TURN_LOG" && return 0
	echo "  exit $rc"; sed 's/^/  | /' "$T_DIR/nobody.out" "$T_DIR/nobody.err"
	return 1
}
check "nobody, through a socket opened to everyone: refused by its peer credentials" as_nobody
chmod 600 "$SOCK"

# ---- malformed and oversized requests ----
check "malformed and oversized requests: error lines, the daemon serves on" \
	"$PYTHON3" "$CLIENT_PY" hostile "$SOCK"
check "the daemon still answers Binding and status" sh -c \
	"'$TURNPROBE' stun 127.0.0.1:$PORT --timeout 500 >/dev/null && '$TURNCTL' -s '$SOCK' status >/dev/null"

# ---- 100 control clients while turnload relays at a fixed rate ----
# Two runs of the same paced load (4 sessions, 400 packets/s, 6 s): alone,
# then with 100 control clients asking 20 times each (status, sessions,
# users: 2,000 answers; at most 32 connections served at once, the others
# wait in the backlog). The bound: 0 loss in both runs, and the p99
# latency with the clients at most twice the quiet run's plus 5 ms; a pair
# that misses it is run once more, and the second pair decides.
# Why robust: on this 2-core machine shared with other jobs, a quiet run's
# p99 alone moves between about 2 and 7 ms with what else runs, so the
# bound scales with it and a second pair absorbs one unlucky spike; the
# control socket runs on the main thread, and a sessions or users job
# costs each worker one walk of a few allocations between two events.
# What it catches: a control path on the workers' threads that blocks
# them, or a lock on the packet path held while answering, makes 2,000
# requests cost the relay tens of milliseconds in both pairs; a crash or
# stall shows as loss. Under the sanitizers every request costs the
# daemon several times the CPU, on the same 2 cores as the relay: the
# bound is three times the quiet p99 plus 10 ms there.
if [ -n "${TURND_SANITIZED:-}" ]; then P99_TIMES=3 P99_PLUS=10000; else P99_TIMES=2 P99_PLUS=5000; fi
within_bound() {
	awk -v b="$b99" -v q="$q99" -v t="$P99_TIMES" -v p="$P99_PLUS" 'BEGIN { exit !(b <= t * q + p) }'
}
crowd_pair() {
	load quiet -u bob -w pass -n 4 -r 400 -d 6
	reap "$PID_quiet"
	load busy -u bob -w pass -n 4 -r 400 -d 6
	sleep 1
	"$PYTHON3" "$CLIENT_PY" crowd "$SOCK" 100 20 >"$T_DIR/crowd.out" 2>&1
	CROWD_RC=$?
	reap "$PID_busy"
	q99=$(loaded quiet '["latency_us"]["p99"]')
	b99=$(loaded busy '["latency_us"]["p99"]')
	echo "  p99 quiet ${q99} us, with the clients ${b99} us; lost $(loaded quiet '["lost"]') and $(loaded busy '["lost"]')"
	within_bound
}
crowd_pair || crowd_pair
sed 's/^/  /' "$T_DIR/crowd.out"
check "100 control clients at once, 20 requests each: every answer ok, at most 32 served at once" \
	test "$CROWD_RC" -eq 0
crowd_ok() {
	[ "$(loaded quiet '["lost"]')" = 0 ] && [ "$(loaded busy '["lost"]')" = 0 ] &&
		[ "$(loaded busy '["sent"]')" -ge 2000 ] &&
		within_bound
}
check "the relay under 100 control clients: 0 loss, p99 within $P99_TIMES x the quiet run's + $((P99_PLUS / 1000)) ms" crowd_ok

# ---- the service user (proc-user) owns the socket and may use it ----
pick_port PORT2 || { not_ok "no free port"; finish; }
CTL2=$T_DIR/ctl2
mkdir -p "$CTL2"
chmod 755 "$CTL2"
printf '%s\n' "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT2
relay-ip = { \"127.0.0.1\" }
min-port = $((MINPORT + 200))
max-port = $((MINPORT + 249))
realm = \"turnd.test\"
user = { \"user:pass\" }
proc-user = \"daemon\"
control-socket = \"$CTL2/control\"" >"$T_DIR/turnd2.conf"
spawn "$TURND" -c "$T_DIR/turnd2.conf" >"$T_DIR/turnd2.out" 2>"$T_DIR/turnd2.log"
PID2=$BG_PID
up2() {
	for _ in $(seq 1 50); do
		"$TURNPROBE" stun "127.0.0.1:$PORT2" --timeout 200 >/dev/null 2>&1 && [ -S "$CTL2/control" ] &&
			return 0
		sleep 0.1
	done
	cat "$T_DIR/turnd2.log"
	return 1
}
check "a second turnd with proc-user = daemon" up2
check "its socket is mode 600 and the service user's (daemon)" \
	test "$(stat -c '%a %U' "$CTL2/control")" = "600 daemon"
check "the service user (daemon) is served" sh -c \
	"setpriv --reuid=daemon --regid=daemon --clear-groups -- '$TURNCTL' -s '$CTL2/control' status | grep -q '^workers: '"
chmod 666 "$CTL2/control"
check "nobody is refused there too, by peer credentials" sh -c \
	"! setpriv --reuid=nobody --regid=nogroup --clear-groups -- '$TURNCTL' -s '$CTL2/control' status 2>&1 | grep -q '^workers: ' &&
	 grep -q 'refused a connection from uid 65534' '$T_DIR/turnd2.log'"
# drain as the service user: with no allocation the server stops at once.
drain2() {
	setpriv --reuid=daemon --regid=daemon --clear-groups -- "$TURNCTL" -s "$CTL2/control" drain |
		grep -q '^draining: yes' || return 1
	for _ in $(seq 1 50); do
		kill -0 "$PID2" 2>/dev/null || break
		sleep 0.1
	done
	reap "$PID2" && grep -q "drained: 0 allocations left; stopping" "$T_DIR/turnd2.log"
}
check "drain (as SIGUSR1) from the service user: the idle second turnd stops cleanly" drain2

check "turnd stops cleanly" stop_turnd
check "turnd removed its socket at the stop" test ! -e "$SOCK"
finish
