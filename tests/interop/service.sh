#!/bin/sh
# Running as a service: systemd's notification protocol (READY, WATCHDOG,
# STOPPING) on a socket the test listens on; SIGUSR1 drains (healthz 503,
# new Allocates refused, the running allocation keeps relaying, exit when
# it is gone; drain-timeout bounds it); JSON log lines; the pid file; and
# dropping to an unprivileged user after binding. The unit file passes
# systemd-analyze verify once installed into a scratch root.
. "$top_srcdir/tests/interop/lib.sh"

PEER_PID=""
NOTIFY_PID=""
LOAD_PID=""
service_cleanup() {
	for p in $PEER_PID $NOTIFY_PID $LOAD_PID; do kill -KILL "$p" 2>/dev/null; done
	cleanup
}
trap service_cleanup EXIT

PORT=$(free_port)
MPORT=$(free_port)
PEER_PORT=$(free_port)
"$TURNPEER" -L "127.0.0.1:$PEER_PORT" --max-seconds 120 -q &
PEER_PID=$!
base="listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
relay-ip = { \"127.0.0.1\" }
realm = \"turnd.test\"
user = { \"user:pass\" }
allowed-peer-ip = { \"127.0.0.1\" }
allow-own-peers = true
metrics-port = $MPORT"

healthz() { # the HTTP status of /healthz
	timeout 5 "$PYTHON3" -c "
import urllib.request as u, urllib.error as e
try:
    print(u.urlopen('http://127.0.0.1:$MPORT/healthz', timeout=3).status)
except e.HTTPError as x:
    print(x.code)"
}
exited_within() { # exited_within SECONDS: turnd stopped by itself, status 0
	for _ in $(seq 1 $(($1 * 10))); do
		if ! kill -0 "$TURND_PID" 2>/dev/null; then
			wait "$TURND_PID"
			rc=$?
			TURND_PID=""
			[ "$rc" -eq 0 ] || { echo "  exit status $rc"; tail -n 20 "$T_DIR/turnd.log"; }
			return "$rc"
		fi
		sleep 0.1
	done
	echo "  still running after $1 s"
	return 1
}

# ---- The notification protocol, with a watchdog of 400 ms.
"$PYTHON3" - "$T_DIR/notify.sock" >"$T_DIR/notify.out" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1.0)
end = time.monotonic() + 40
while time.monotonic() < end:
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        continue
    for line in msg.split("\n"):
        print(line, flush=True)
    if "STOPPING=1" in msg:
        break
EOF
NOTIFY_PID=$!
for _ in $(seq 1 30); do [ -S "$T_DIR/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET="$T_DIR/notify.sock"
WATCHDOG_USEC=400000
export NOTIFY_SOCKET WATCHDOG_USEC
start_turnd "$base
log-json = true
pid-file = \"$T_DIR/turnd.pid\"" || exit 1
unset NOTIFY_SOCKET WATCHDOG_USEC
sleep 1.5
check "READY=1 sent to NOTIFY_SOCKET" grep -qx "READY=1" "$T_DIR/notify.out"
check "WATCHDOG=1 sent while the workers tick (several in 1.5 s)" \
	sh -c "[ \$(grep -cx 'WATCHDOG=1' '$T_DIR/notify.out') -ge 3 ]"
check "pid-file holds turnd's pid" sh -c "[ \"\$(cat '$T_DIR/turnd.pid')\" = '$TURND_PID' ]"
check "every log line is a JSON object with time, level and msg" "$PYTHON3" -c "
import json, sys
lines = open('$T_DIR/turnd.log').read().splitlines()
assert lines
for l in lines:
    d = json.loads(l)
    assert set(d) == {'time', 'level', 'msg'}, d
print(len(lines), 'lines')"
healthz_is() { [ "$(healthz)" = "$1" ]; }
check "healthz 200 before draining" healthz_is 200

# ---- SIGHUP: systemd sees "reloading" until the new configuration is in.
kill -HUP "$TURND_PID"
reload_notified() {
	for _ in $(seq 1 30); do
		grep -q "STATUS=configuration reloaded" "$T_DIR/notify.out" && break
		sleep 0.1
	done
	# RELOADING=1 and MONOTONIC_USEC, then READY=1 and the STATUS, in order.
	awk '/^RELOADING=1$/ { r = NR } /^MONOTONIC_USEC=[0-9]+$/ && r { m = NR }
		/^READY=1$/ && m { y = NR } /^STATUS=configuration reloaded$/ && y { s = 1 }
		END { exit !s }' "$T_DIR/notify.out"
}
check "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 and STATUS" reload_notified

# ---- SIGUSR1: drain. One allocation relays through it, held by turnload.
"$TURNLOAD" -m 1 -d 6 -u user -w pass -e "127.0.0.1:$PEER_PORT" "127.0.0.1:$PORT" \
	>"$T_DIR/hold.out" 2>&1 &
LOAD_PID=$!
for _ in $(seq 1 50); do grep -q "holding 1 allocations" "$T_DIR/hold.out" && break; sleep 0.1; done
kill -USR1 "$TURND_PID"
sleep 0.3
check "draining: healthz 503" healthz_is 503
"$TURNPROBE" turn "127.0.0.1:$PORT" -u user -w pass --peer "127.0.0.1:$PEER_PORT" -n 1 \
	>"$T_DIR/probe.out" 2>&1
check "draining: a new Allocate is refused with 508 (no alternate server)" \
	grep -q "508" "$T_DIR/probe.out"
wait "$LOAD_PID"
LOAD_PID=""
check "draining: the held allocation relayed with 0 loss to its end" \
	grep -Eq "lost 0 \(0.000%\)" "$T_DIR/hold.out"
check "drained: turnd exits by itself once the allocation is gone" exited_within 5
check "pid-file removed at the stop" test ! -e "$T_DIR/turnd.pid"
check "STOPPING=1 sent" sh -c "sleep 0.3; grep -qx 'STOPPING=1' '$T_DIR/notify.out'"
check "the log says why it stopped" grep -q "drained: 0 allocations left" "$T_DIR/turnd.log"

# ---- drain-timeout: an allocation that stays does not hold the stop.
start_turnd "$base
drain-timeout = 2" || exit 1
"$TURNLOAD" -m 1 -d 20 -u user -w pass -e "127.0.0.1:$PEER_PORT" "127.0.0.1:$PORT" \
	>"$T_DIR/hold2.out" 2>&1 &
LOAD_PID=$!
for _ in $(seq 1 50); do grep -q "holding 1 allocations" "$T_DIR/hold2.out" && break; sleep 0.1; done
kill -USR1 "$TURND_PID"
check "drain-timeout 2: stopped after it with the allocation still held" exited_within 6
check "  ... saying 1 allocation was left" grep -q "drained: 1 allocation left" "$T_DIR/turnd.log"
kill -TERM "$LOAD_PID" 2>/dev/null
wait "$LOAD_PID" 2>/dev/null
LOAD_PID=""

# ---- proc-user: bound as root, then running as nobody.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	start_turnd "$base
proc-user = nobody" || exit 1
	check "proc-user nobody: the process's uid is nobody's" sh -c \
		"awk '/^Uid:/ {print \$2, \$3, \$4, \$5}' /proc/$TURND_PID/status | grep -qx \"\$(id -u nobody) \$(id -u nobody) \$(id -u nobody) \$(id -u nobody)\""
	check "proc-user nobody: no capability left" sh -c \
		"grep -q '^CapEff:[[:space:]]*0000000000000000' /proc/$TURND_PID/status"
	check "proc-user nobody: still relays" "$TURNPROBE" turn "127.0.0.1:$PORT" -u user -w pass \
		--peer "127.0.0.1:$PEER_PORT" -n 3
	check "proc-user nobody: stops cleanly" stop_turnd

	# The pid file after the drop (issue 13 item 10): written as root, it
	# must still be removable by nobody at stop. In a sticky directory
	# anyone may write to (like /tmp), only the file's owner can remove it;
	# in a directory nobody owns (systemd's RuntimeDirectory), nobody can.
	chmod 0711 "$T_DIR"
	mkdir -m 1777 "$T_DIR/sticky"
	mkdir -m 0755 "$T_DIR/rundir" && chown nobody "$T_DIR/rundir"
	for d in sticky rundir; do
		start_turnd "$base
proc-user = nobody
pid-file = \"$T_DIR/$d/turnd.pid\"" || exit 1
		check "proc-user nobody, pid file in a $d directory: holds turnd's pid" \
			sh -c "[ \"\$(cat '$T_DIR/$d/turnd.pid')\" = '$TURND_PID' ]"
		check "proc-user nobody, pid file in a $d directory: stops cleanly" stop_turnd
		check "proc-user nobody, pid file in a $d directory: removed at the stop" \
			test ! -e "$T_DIR/$d/turnd.pid"
	done
fi

# ---- The pid file is never followed through a symlink (issue 13 item
# 10): turnd refuses to start, and the link's target is left as it was.
# refused_start CONF WORDS: turnd exits non-zero within 5 s, saying WORDS.
refused_start() {
	"$TURND" -c "$1" >"$T_DIR/refused.out" 2>"$T_DIR/refused.log" &
	p=$!
	for _ in $(seq 1 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		echo "  turnd started"
		kill -TERM "$p"
		wait "$p"
		return 1
	fi
	wait "$p" && { echo "  exit status 0"; return 1; }
	grep -q "$2" "$T_DIR/refused.log" || { cat "$T_DIR/refused.log"; return 1; }
}
pid_conf() { # pid_conf FILE PIDFILE: the base configuration with that pid file
	printf '%s\npid-file = "%s"\n' "$base" "$2" >"$1"
}
echo precious >"$T_DIR/victim"
ln -s "$T_DIR/victim" "$T_DIR/link.pid"
pid_conf "$T_DIR/link.conf" "$T_DIR/link.pid"
check "pid-file a symlink to a file: start refused" refused_start "$T_DIR/link.conf" "symbolic link"
check "  ... and the file it points to is untouched" grep -qx precious "$T_DIR/victim"
ln -s "$T_DIR/created-through-link" "$T_DIR/dangling.pid"
pid_conf "$T_DIR/dangling.conf" "$T_DIR/dangling.pid"
check "pid-file a dangling symlink: start refused" refused_start "$T_DIR/dangling.conf" "symbolic link"
check "  ... and nothing is created where it points" test ! -e "$T_DIR/created-through-link"
mkdir -m 0777 "$T_DIR/open"
pid_conf "$T_DIR/open.conf" "$T_DIR/open/turnd.pid"
check "pid-file in a directory everyone may write to (not sticky): start refused" \
	refused_start "$T_DIR/open.conf" "writable by everyone"

# A stale pid file (its process is gone) is replaced; a running turnd's
# is not.
sh -c 'echo $$' >"$T_DIR/stale.pid"
start_turnd "$base
pid-file = \"$T_DIR/stale.pid\"" || exit 1
check "a stale pid file is replaced" sh -c "[ \"\$(cat '$T_DIR/stale.pid')\" = '$TURND_PID' ]"
PORT2=$(free_port)
sed "s/^listening-port = .*/listening-port = $PORT2/; /^metrics-port/d" "$T_DIR/turnd.conf" \
	>"$T_DIR/second.conf"
check "a running turnd's pid file: a second turnd refuses to start" \
	refused_start "$T_DIR/second.conf" "names a turnd that is running"
check "  ... and the file still holds the first one's pid" \
	sh -c "[ \"\$(cat '$T_DIR/stale.pid')\" = '$TURND_PID' ]"
check "the first stops cleanly" stop_turnd
check "  ... and removes its pid file" test ! -e "$T_DIR/stale.pid"
check "an unknown proc-user is a start-up error naming it" sh -c \
	"printf 'listening-ip = { \"127.0.0.1\" }\nlistening-port = $PORT\nproc-user = no-such-user-here\n' > '$T_DIR/bad.conf';
	 ! '$TURND' -c '$T_DIR/bad.conf' 2>'$T_DIR/bad.log' && grep -q \"proc-user: no user 'no-such-user-here'\" '$T_DIR/bad.log'"

# ---- The unit file, pointing at the binary under test instead of the
# installed path (the only difference; man pages are not installed here).
if command -v systemd-analyze >/dev/null 2>&1; then
	verify() {
		sed "s|/usr/local/sbin/turnd|$TURND|g" "$top_srcdir/systemd/turnd.service" \
			>"$T_DIR/turnd.service"
		systemd-analyze verify --man=no "$T_DIR/turnd.service" >"$T_DIR/verify.out" 2>&1
		rc=$?
		cat "$T_DIR/verify.out"
		[ "$rc" -eq 0 ] && [ ! -s "$T_DIR/verify.out" ]
	}
	check "systemd-analyze verify systemd/turnd.service: no complaint" verify
fi
finish
