#!/bin/sh
# turnpeer, the echo peer behind the relay in the tests and benchmarks:
# every datagram, 1 to 1400 bytes, comes back unchanged to its sender over
# IPv4 and IPv6, one at a time and in a burst; the counters add up; SIGTERM
# ends it with status 0 (a sanitizer report makes it non-zero).
. "$top_srcdir/tests/interop/lib.sh"

TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}
PEER_PID=""

trap peer_cleanup EXIT

# wait_listening N: until turnpeer has announced N addresses.
wait_listening() {
	for _ in $(seq 1 50); do
		n=$(grep -c '^turnpeer: listening on ' "$T_DIR/peer.out")
		[ "$n" -eq "$1" ] && return 0
		if ! kill -0 "$PEER_PID" 2>/dev/null; then
			echo "turnpeer exited at start:"; cat "$T_DIR/peer.err"
			PEER_PID=""
			return 1
		fi
		sleep 0.1
	done
	echo "turnpeer did not start listening:"; cat "$T_DIR/peer.out" "$T_DIR/peer.err"
	return 1
}

# echo_check HOST MODE: 100 datagrams of 1..1400 bytes of random content to
# HOST:PORT; each must come back byte for byte, from HOST:PORT. MODE "one"
# waits for each echo before the next; "burst" sends all 100 first.
echo_check() {
	"${PYTHON3:-python3}" - "$1" "$PORT" "$2" <<'EOF'
import os, socket, sys

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
sock = socket.socket(family, socket.SOCK_DGRAM)
sock.settimeout(2.0)
sizes = [1 + i * 1399 // 99 for i in range(100)]
sent = [os.urandom(n) for n in sizes]

def receive():
    data, src = sock.recvfrom(65536)
    if src[0] != host or src[1] != port:
        sys.exit("echo came from %s, not %s:%d" % (src, host, port))
    return data

try:
    if mode == "one":
        for d in sent:
            sock.sendto(d, (host, port))
            got = receive()
            if got != d:
                sys.exit("sent %d bytes, got back %d different bytes" % (len(d), len(got)))
    else:
        for d in sent:
            sock.sendto(d, (host, port))
        got = sorted(receive() for _ in sent)
        if got != sorted(sent):
            sys.exit("the burst did not come back unchanged")
except socket.timeout:
    sys.exit("no echo within 2 s")
EOF
}

# lib.sh's stop_peer: SIGTERM, and the exit status must be 0.

PORT=$(free_port)
"$TURNPEER" -L 127.0.0.1 -L ::1 -p "$PORT" --max-seconds 20 \
	>"$T_DIR/peer.out" 2>"$T_DIR/peer.err" &
PEER_PID=$!
if wait_listening 2; then
	ok "turnpeer listens on 127.0.0.1 and ::1 port $PORT"
else
	not_ok "turnpeer listens on 127.0.0.1 and ::1 port $PORT"
	finish
fi
check "listening line names 127.0.0.1:$PORT" \
	grep -qx "turnpeer: listening on 127.0.0.1:$PORT" "$T_DIR/peer.out"
check "listening line names [::1]:$PORT" \
	grep -qxF "turnpeer: listening on [::1]:$PORT" "$T_DIR/peer.out"

for host in 127.0.0.1 ::1; do
	check "$host: 100 datagrams of 1..1400 bytes echoed unchanged" echo_check "$host" one
	check "$host: a burst of 100 datagrams echoed unchanged" echo_check "$host" burst
done

check "turnpeer stops with status 0 on SIGTERM" stop_peer
check "totals: rx 400 tx 400 drops 0" \
	grep -qx "turnpeer: rx 400 tx 400 drops 0" "$T_DIR/peer.out"
finish
