#!/bin/sh
# RFC 5780 NAT behaviour discovery against the real turnd listening on two
# loopback addresses (127.0.0.1 and 127.0.0.2) and two ports: coturn's
# turnutils_natdiscovery classifies mapping and filtering, tests/interop/
# nat_check.py checks every row of RFC 5780 table 1 on the wire (which
# socket answered, RESPONSE-ORIGIN, OTHER-ADDRESS, TCP, 420s), and
# turnprobe nat says the result in plain words. Loopback has no NAT, so
# both behaviours must come out endpoint-independent. A second turnd
# without alt-listening-ip must refuse CHANGE-REQUEST with 420.
. "$top_srcdir/tests/interop/lib.sh"

PY=${PYTHON3:-python3}
PORT=$(free_port)
ALT=$(free_port)
while [ "$ALT" = "$PORT" ]; do ALT=$(free_port); done
# The four addresses must all be free: the alternate port on both IPs.
start_turnd "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
alt-listening-ip = { \"127.0.0.2\" }
alt-listening-port = $ALT
relay-threads = 2
log-level = \"info\"" || exit 1

check "start-up names the discovery addresses" \
	grep -q "NAT discovery (RFC 5780): 127.0.0.1:$PORT with 127.0.0.2:$ALT" "$T_DIR/turnd.log"
check "listening on all four addresses (UDP)" sh -c \
	"ss -Hlun | awk '{print \$4}' | grep -E '^127\\.0\\.0\\.[12]:($PORT|$ALT)\$' | sort -u | wc -l | grep -qx 4"
check "listening on all four addresses (TCP)" sh -c \
	"ss -Hltn | awk '{print \$4}' | grep -E '^127\\.0\\.0\\.[12]:($PORT|$ALT)\$' | sort -u | wc -l | grep -qx 4"

# coturn's client: mapping and filtering discovery, both behaviours.
check "turnutils_natdiscovery -m -f exits 0" natdiscovery 127.0.0.1
check "turnutils_natdiscovery: endpoint-independent mapping" \
	grep -q "NAT with Endpoint Independent Mapping" "$T_DIR/nd.out"
check "turnutils_natdiscovery: endpoint-independent filtering" \
	grep -q "NAT with Endpoint Independent Filtering" "$T_DIR/nd.out"
# Its mapping test II goes to A2:P1 and test III to A2:P2; its filtering
# test II asks for an answer from A2:P2 (change IP and port).
check "turnutils_natdiscovery saw answers from 127.0.0.2:$PORT" \
	grep -q "Response origin: : 127.0.0.2:$PORT" "$T_DIR/nd.out"
check "turnutils_natdiscovery saw answers from 127.0.0.2:$ALT" \
	grep -q "Response origin: : 127.0.0.2:$ALT" "$T_DIR/nd.out"
check "turnutils_natdiscovery: OTHER-ADDRESS of 127.0.0.1:$PORT is 127.0.0.2:$ALT" \
	grep -q "Other addr: : 127.0.0.2:$ALT" "$T_DIR/nd.out"

# Every combination on the wire.
wire() {
	"$PY" "$top_srcdir/tests/interop/nat_check.py" "$@" >"$T_DIR/wire.out" 2>&1
	rc=$?
	grep -v '^ok - ' "$T_DIR/wire.out" | sed 's/^/  /'
	return $rc
}
check "nat_check.py on: table 1, RESPONSE-ORIGIN, OTHER-ADDRESS, TCP, 420" \
	wire on 127.0.0.1 "$PORT" 127.0.0.2 "$ALT"

# turnprobe nat, in plain words.
check "turnprobe nat exits 0" probe_nat "127.0.0.1:$PORT"
check "turnprobe nat: other address 127.0.0.2:$ALT" \
	grep -q "other address: 127.0.0.2:$ALT" "$T_DIR/probe.out"
check "turnprobe nat: no NAT on loopback" grep -q "the local address: no NAT" "$T_DIR/probe.out"
check "turnprobe nat: mapping endpoint-independent" \
	grep -q "^mapping: endpoint-independent" "$T_DIR/probe.out"
check "turnprobe nat: filtering endpoint-independent" \
	grep -q "^filtering: endpoint-independent" "$T_DIR/probe.out"

# Plain STUN and TURN keep working on the primary address.
check "turnprobe stun on the primary address" "$TURNPROBE" stun "127.0.0.1:$PORT"
check "turnd stops cleanly" stop_turnd

# Without a second address: CHANGE-REQUEST is refused, not ignored.
PORT=$(free_port)
start_turnd "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
relay-threads = 1" || exit 1
check "nat_check.py off: no OTHER-ADDRESS, CHANGE-REQUEST gets 420" wire off 127.0.0.1 "$PORT"
probe_off() {
	probe_nat "127.0.0.1:$PORT"
	[ $? -eq 1 ] && grep -q "NAT discovery: not supported" "$T_DIR/probe.out"
}
check "turnprobe nat without a second address: not supported, exit 1" probe_off
check "turnd stops cleanly" stop_turnd

# Configurations discovery cannot work with are refused, naming the option.
check "alt-listening-ip with a wildcard listening-ip is refused" config_refused alt-listening-ip \
	"listening-ip = { \"0.0.0.0\" }
alt-listening-ip = { \"127.0.0.2\" }"
check "alt-listening-ip equal to listening-ip is refused" config_refused alt-listening-ip \
	"listening-ip = { \"127.0.0.1\" }
alt-listening-ip = { \"127.0.0.1\" }"
check "alt-listening-port equal to listening-port is refused" config_refused alt-listening-port \
	"listening-ip = { \"127.0.0.1\" }
listening-port = 3478
alt-listening-ip = { \"127.0.0.2\" }
alt-listening-port = 3478"
finish
