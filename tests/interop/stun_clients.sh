#!/bin/sh
# STUN Binding against the real turnd with real clients: coturn's
# turnutils_stunclient (UDP; strace shows the port the client really used)
# and turnprobe (UDP and TCP), over IPv4 and IPv6 loopback. The mapped
# address must be the client's own address and port.
. "$top_srcdir/tests/interop/lib.sh"

PORT=$(free_port)
start_turnd "listening-ip = { \"127.0.0.1\", \"::1\" }
listening-port = $PORT
relay-threads = 2
log-level = \"info\"" || exit 1

# stunclient_mapped HOST: run turnutils_stunclient under strace; print
# "REFLEXIVE LOCALPORT".
stunclient_mapped() {
	strace -f -qq -e trace=getsockname -o "$T_DIR/strace" \
		turnutils_stunclient -p "$PORT" "$1" >"$T_DIR/sc.out" 2>&1 || return 1
	refl=$(sed -n 's/.*UDP reflexive addr: \(.*\)$/\1/p' "$T_DIR/sc.out" | head -n 1)
	lport=$(sed -n 's/.*sin6\{0,1\}_port=htons(\([0-9]*\)).*/\1/p' "$T_DIR/strace" | head -n 1)
	echo "$refl $lport"
}

for host in 127.0.0.1 ::1; do
	set -- $(stunclient_mapped "$host")
	case "$host" in *:*) want="[$host]:${2:-x}" ;; *) want="$host:${2:-x}" ;; esac
	# turnutils_stunclient prints IPv6 without brackets: normalise.
	got=$1
	case "$got" in *:*:*) got="[${got%:*}]:${got##*:}" ;; esac
	check "turnutils_stunclient $host: mapped $got == client's own $want" [ "$got" = "$want" ]
done

probe_matches() { # probe_matches TARGET [--tcp]
	"$TURNPROBE" stun "$@" >"$T_DIR/probe.out" 2>&1 || { cat "$T_DIR/probe.out"; return 1; }
	local_a=$(sed -n 's/^local address: //p' "$T_DIR/probe.out")
	mapped=$(sed -n 's/^mapped address: //p' "$T_DIR/probe.out")
	echo "  local $local_a mapped $mapped"
	[ -n "$mapped" ] && [ "$mapped" = "$local_a" ]
}

check "turnprobe udp 127.0.0.1" probe_matches "127.0.0.1:$PORT"
check "turnprobe tcp 127.0.0.1" probe_matches "127.0.0.1:$PORT" --tcp
check "turnprobe udp ::1" probe_matches "[::1]:$PORT"
check "turnprobe tcp ::1" probe_matches "[::1]:$PORT" --tcp

# Several clients at once land on different workers (SO_REUSEPORT) and all
# get answers.
many() {
	for i in $(seq 1 20); do "$TURNPROBE" stun "127.0.0.1:$PORT" >/dev/null 2>&1 & done
	fails=0
	for job in $(jobs -p); do
		[ "$job" = "$TURND_PID" ] && continue
		wait "$job" || fails=$((fails + 1))
	done
	[ "$fails" -eq 0 ]
}
check "20 concurrent turnprobe clients answered" many

# A short bounded load: the answers keep coming under a burst.
check "stun-load 2000 requests, window 16" \
	"$TURNPROBE" stun-load "127.0.0.1:$PORT" -n 2000 -w 16 -s 10

check "turnd stops cleanly on SIGTERM" stop_turnd
check "stop logged" grep -q "stopping" "$T_DIR/turnd.log"
finish
