#!/bin/sh
# turnd --self-check (turnd(8)) on good and bad configurations, its short
# form in the start-up log, and external-ip = auto:stun:HOST:PORT through
# a real NAT: three network namespaces this test creates and deletes,
#
#   inside 10.58.1.2 + .3 -- 10.58.1.1 router 198.18.58.1 + .5 + .9 -- 198.18.58.2 outside
#   (turnd, auto:stun)               (nft snat)                       (turnd as STUN server)
#
# The inside turnd listens on 10.58.1.2 and relays on 10.58.1.3; the
# router translates the relay address to 198.18.58.1 and anything else
# to 198.18.58.5, so a request not sent from the relay address would
# learn the wrong address. The inside turnd must learn 198.18.58.1 and
# tell it to clients in XOR-RELAYED-ADDRESS; when the NAT's address changes, a SIGHUP
# learns the new one; when the STUN server is gone, the start fails and a
# reload keeps what it had. 198.18.0.0/15 (RFC 2544) counts as public.
. "$top_srcdir/tests/interop/lib.sh"

TAG=$$
NS_C="selfcheck-in-$TAG" NS_R="selfcheck-r-$TAG" NS_S="selfcheck-out-$TAG"
HOLD_PID="" OUT_PID=""
PY=${PYTHON3:-python3}
stop_extra() {
	for p in $HOLD_PID $OUT_PID; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	HOLD_PID="" OUT_PID=""
}
trap 'stop_extra; netns_cleanup; cleanup' EXIT
inr() { ip netns exec "$NS_R" "$@"; }

# ---- helpers ----

# sc NAME CONF [PREFIX...]: turnd --self-check on the configuration CONF
# (run through PREFIX, a command, when given); its output in
# $T_DIR/NAME.out and its exit status in SC_RC.
sc() {
	name=$1 text=$2; shift 2
	printf '%s\n' "$text" >"$T_DIR/$name.conf"
	"$@" "$TURND" --self-check -c "$T_DIR/$name.conf" >"$T_DIR/$name.out" 2>&1
	SC_RC=$?
}
# has NAME REGEX: a line of NAME's output matches (grep -E); else it is shown.
has() {
	grep -qE -- "$2" "$T_DIR/$1.out" && return 0
	echo "  wanted /$2/ in:"; sed 's/^/  | /' "$T_DIR/$1.out"
	return 1
}
# rc_is NAME WANT: the last sc's exit status.
rc_is() {
	[ "$SC_RC" -eq "$2" ] && return 0
	echo "  exit $SC_RC, wanted $2:"; sed 's/^/  | /' "$T_DIR/$1.out"
	return 1
}

# A certificate for example.org (or CN) valid for DAYS days, or with
# explicit dates through 'openssl ca' (OpenSSL 3.0's req has no past
# dates): cert NAME CN DAYS | cert NAME CN START END.
cert() {
	if [ $# -eq 3 ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$T_DIR/$1.key" -out "$T_DIR/$1.pem" -days "$3" -subj "/CN=$2" \
			-addext "subjectAltName=DNS:$2" 2>/dev/null
		return
	fi
	ca=$T_DIR/ca-$1
	mkdir -p "$ca" && : >"$ca/index.txt" && echo 01 >"$ca/serial"
	printf '[ca]\ndefault_ca = d\n[d]\ndir = %s\ndatabase = %s/index.txt\nserial = %s/serial\nnew_certs_dir = %s\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' \
		"$ca" "$ca" "$ca" "$ca" >"$ca/ca.cnf"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$T_DIR/$1.key" -subj "/CN=$2" -out "$ca/r.csr" 2>/dev/null &&
		openssl ca -batch -config "$ca/ca.cnf" -selfsign -keyfile "$T_DIR/$1.key" \
			-in "$ca/r.csr" -startdate "$3" -enddate "$4" -out "$T_DIR/$1.pem" \
			-notext >/dev/null 2>&1
}

# ---- on loopback ----

PORT=$(free_port) MPORT=$(free_port) TPORT=$(free_port) RMIN=$(free_port)
RMAX=$((RMIN + 9))
if cert good example.org 90 && cert soon example.org 5 && cert other other.example 90 &&
	cert expired example.org 20200101000000Z 20200201000000Z; then
	ok "certificates made with openssl"
else
	not_ok "certificates made with openssl"
fi
# base CERT KEY: a configuration that works here (the relay on loopback is
# a warning: only this host's clients can use it).
base() {
	printf '%s\n' "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
tls-listening-port = $TPORT
relay-ip = { \"127.0.0.1\" }
min-port = $RMIN
max-port = $RMAX
total-quota = 8
relay-threads = 1
realm = \"example.org\"
user = { \"u:p\" }
metrics-port = $MPORT
control-socket = \"$T_DIR/control\"
cert = \"$T_DIR/$1.pem\"
pkey = \"$T_DIR/$2.key\""
}

sc good "$(base good good)"
check "good: exit 0" rc_is good 0
check "good: the closing line says the server would work" \
	has good "^turnd: self-check: [0-9]+ ok, 1 warning, 0 failures: the server would work$"
check "good: the clock" has good "^ok   clock: 20[0-9-]+ "
check "good: loopback relay is a warning, with what to change" \
	has good "^warn relay: 127.0.0.1 is loopback: only clients on this host can use it; set relay-ip"
check "good: all 10 relay ports can be bound" \
	has good "^ok   relay-ports: 127.0.0.1: all 10 ports of $RMIN-$RMAX can be bound$"
check "good: descriptors, with the formula" \
	has good "^ok   descriptors: the hard limit [0-9]+ covers the 100 needed \(total-quota 8 x 2 \+ 1 workers x \(4 listening \+ 16\) \+ 64\)$"
check "good: certificate loads and its key matches" \
	has good "^ok   certificate: .*good.pem loads, and the key in .*good.key matches$"
check "good: certificate expires in 89 or 90 days" has good "^ok   certificate: expires in (89|90) days$"
check "good: certificate names the realm" has good "^ok   certificate: names the realm example.org$"
check "good: listening ports, TLS port, metrics, control socket" sh -c "
	grep -q '^ok   listening: 127.0.0.1:$PORT/udp can be bound' '$T_DIR/good.out' &&
	grep -q '^ok   listening: 127.0.0.1:$PORT/tcp can be bound' '$T_DIR/good.out' &&
	grep -q '^ok   listening: 127.0.0.1:$TPORT/tcp can be bound' '$T_DIR/good.out' &&
	grep -q '^ok   metrics: 127.0.0.1:$MPORT/tcp can be bound' '$T_DIR/good.out' &&
	grep -q '^ok   control-socket: $T_DIR/control can be made' '$T_DIR/good.out'"

# A relay address this host does not have.
if ip -br addr | grep -q '203\.0\.113\.254/'; then not_ok "203.0.113.254 is on this host"; fi
sc missing "$(base good good | sed 's/^relay-ip = .*/relay-ip = { "203.0.113.254" }/')"
check "missing relay address: exit 1" rc_is missing 1
check "missing relay address: FAIL, with what to change" \
	has missing "^FAIL relay: 203.0.113.254 is on no interface of this host: every Allocate would fail; set relay-ip"
check "missing relay address: the closing line says it would not work" \
	has missing "1 failure: the server would NOT work as configured$"

# Ports held by another process: three relay ports, the UDP listening
# port and the metrics port.
"$PY" -c '
import socket, sys, time
lo, port, mport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
held = []
for p in list(range(lo, lo + 3)) + [port]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", p)); held.append(s)
t = socket.socket(); t.bind(("127.0.0.1", mport)); t.listen(1); held.append(t)
print("ready", flush=True)
time.sleep(60)
' "$RMIN" "$PORT" "$MPORT" >"$T_DIR/hold.out" 2>&1 &
HOLD_PID=$!
for _ in $(seq 1 50); do grep -q ready "$T_DIR/hold.out" && break; sleep 0.1; done
sc held "$(base good good)"
stop_extra
check "held ports: exit 1" rc_is held 1
check "held ports: 7 of 10 relay ports, the held ones named (warn: 7 < total-quota 8)" \
	has held "^warn relay-ports: 127.0.0.1: 7 of 10 ports of $RMIN-$RMAX can be bound; held by other sockets: $RMIN, $((RMIN + 1)), $((RMIN + 2)) \(see ss -uanp\)"
check "held ports: the UDP listening port is held (FAIL)" \
	has held "^FAIL listening: 127.0.0.1:$PORT/udp is held by another process"
check "held ports: the TCP listening port is free" \
	has held "^ok   listening: 127.0.0.1:$PORT/tcp can be bound"
check "held ports: the metrics port is held (FAIL)" \
	has held "^FAIL metrics: 127.0.0.1:$MPORT/tcp is held by another process"

# Too few descriptors for total-quota (ulimit -n sets both limits).
sc ulimit "$(base good good)" sh -c 'ulimit -n 64 && exec "$@"' sh
check "ulimit -n 64: exit 1" rc_is ulimit 1
check "ulimit -n 64: FAIL, the formula's figure and the allocations it holds" \
	has ulimit "^FAIL descriptors: the hard limit \(ulimit -Hn\) is 64, but 100 are needed \(total-quota 8 x 2 .*\): raise it \(LimitNOFILE=100\) or lower total-quota to 0$"

# Certificates: expired, key of another certificate, another name, soon.
sc expired "$(base expired expired)"
check "expired certificate: exit 1" rc_is expired 1
check "expired certificate: FAIL with its age" \
	has expired "^FAIL certificate: expired [0-9]+ days ago: renew it$"
sc mismatch "$(base good other)"
check "key of another certificate: exit 1" rc_is mismatch 1
check "key of another certificate: FAIL" \
	has mismatch "^FAIL certificate: the key in .*other.key does not match the certificate in .*good.pem"
sc name "$(base other other)"
check "certificate for another name: exit 0 (a warning)" rc_is name 0
check "certificate for another name: warn, naming the realm and the subject" \
	has name "^warn certificate: does not name the realm example.org \(subject /CN=other.example\)"
sc soon "$(base soon soon)"
check "certificate expiring in 5 days: warn" has soon "^warn certificate: expires in [45] days: renew it now$"

# Redis on a closed loopback port: FAIL within the 2 s timeout.
RPORT=$(free_port)
sc redis "$(base good good)
redis = true
redis-port = $RPORT"
check "unreachable Redis: exit 1" rc_is redis 1
check "unreachable Redis: FAIL with what to change" \
	has redis "^FAIL redis: 127.0.0.1:$RPORT: Connection refused: start Redis, or fix redis-host"

# The short form at start-up: a warning in the log, and the server starts.
start_turnd "$(base good good)
external-ip = \"10.1.2.3\"" &&
	check "start-up: the short self-check logs a private external-ip at warn level" \
		grep -q "warn: self-check: external-ip: 10.1.2.3 is private" "$T_DIR/turnd.log" &&
	check "start-up: no port sweep in the short form" \
		sh -c "! grep -q 'relay-ports' '$T_DIR/turnd.log'" &&
	check "start-up: turnd stops cleanly" stop_turnd ||
	not_ok "turnd starts with the short self-check"

# ---- a NAT in network namespaces ----

setup() {
	ip netns add "$NS_C" && ip netns add "$NS_R" && ip netns add "$NS_S" || return 1
	ip link add "sci$TAG" netns "$NS_C" type veth peer name "sri$TAG" netns "$NS_R" || return 1
	ip link add "sco$TAG" netns "$NS_S" type veth peer name "sro$TAG" netns "$NS_R" || return 1
	inc ip addr add 10.58.1.2/24 dev "sci$TAG" && inc ip addr add 10.58.1.3/24 dev "sci$TAG" &&
		inc ip link set "sci$TAG" up &&
		inc ip link set lo up && inc ip route add default via 10.58.1.1 &&
		inr ip addr add 10.58.1.1/24 dev "sri$TAG" && inr ip link set "sri$TAG" up &&
		inr ip addr add 198.18.58.1/24 dev "sro$TAG" &&
		inr ip addr add 198.18.58.5/24 dev "sro$TAG" &&
		inr ip addr add 198.18.58.9/24 dev "sro$TAG" && inr ip link set "sro$TAG" up &&
		inr ip link set lo up && inr sysctl -q -w net.ipv4.ip_forward=1 &&
		ins ip addr add 198.18.58.2/24 dev "sco$TAG" && ins ip link set "sco$TAG" up &&
		ins ip link set lo up
}
# nat_to ADDR: the router translates the relay address 10.58.1.3 to ADDR,
# every other inside address to 198.18.58.5.
nat_to() {
	inr nft flush ruleset 2>/dev/null
	inr nft -f - <<EOF
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "sro$TAG" ip saddr 10.58.1.3 snat to $1
		oifname "sro$TAG" snat to 198.18.58.5
	}
}
EOF
}
check "three namespaces, veth links and addresses" setup
check "router translates the relay address to 198.18.58.1, the rest to .5" nat_to 198.18.58.1

# The STUN server outside: a plain turnd.
SPORT=$(free_port)
printf '%s\n' "listening-ip = { \"198.18.58.2\" }
listening-port = $SPORT
relay-threads = 1
realm = \"example.org\"
user = { \"u:p\" }
control-socket = \"\"" >"$T_DIR/outside.conf"
ip netns exec "$NS_S" "$TURND" -c "$T_DIR/outside.conf" >"$T_DIR/outside.out" 2>"$T_DIR/outside.log" &
OUT_PID=$!
outside_up() {
	for _ in $(seq 1 50); do
		inc "$TURNPROBE" stun "198.18.58.2:$SPORT" --timeout 200 >"$T_DIR/stun.out" 2>&1 &&
			return 0
		sleep 0.1
	done
	cat "$T_DIR/outside.log"; return 1
}
check "the outside turnd answers the inside through the NAT" outside_up
check "its XOR-MAPPED-ADDRESS (from 10.58.1.2) is the router's other address" \
	grep -q "198.18.58.5:" "$T_DIR/stun.out"

# inside CONF-EXTRA: the inside turnd's configuration.
inside() {
	printf '%s\n' "listening-ip = { \"10.58.1.2\" }
listening-port = $PORT
relay-ip = { \"10.58.1.3\" }
min-port = $RMIN
max-port = $RMAX
total-quota = 8
relay-threads = 1
realm = \"example.org\"
user = { \"u:p\" }
control-socket = \"\"
log-level = \"info\"
$1"
}
sc private "$(inside "")" ip netns exec "$NS_C"
check "private relay without external-ip: exit 0 (a warning)" rc_is private 0
check "private relay without external-ip: warned unreachable, with what to change" \
	has private "^warn relay: 10.58.1.3 is private .* and has no external-ip: it is unreachable from the internet; behind a NAT set external-ip = PUBLIC/10.58.1.3 \(or auto:stun:HOST:PORT\)"

AUTO="external-ip = \"auto:stun:198.18.58.2:$SPORT\""
sc auto "$(inside "$AUTO")" ip netns exec "$NS_C"
check "self-check auto:stun: exit 0" rc_is auto 0
check "self-check auto:stun: reports the learnt mapping" \
	has auto "^ok   external-ip: auto:stun:198.18.58.2:$SPORT: relay address 10.58.1.3 is 198.18.58.1 \(public\)$"

printf '%s\n' "$(inside "$AUTO")" >"$T_DIR/turnd.conf"
ip netns exec "$NS_C" "$TURND" -c "$T_DIR/turnd.conf" >"$T_DIR/turnd.out" 2>"$T_DIR/turnd.log" &
TURND_PID=$!
check "the inside turnd starts" netns_up 10.58.1.2
check "start-up log: the relay address's public address, learnt by STUN" \
	grep -q "external-ip auto:stun: relay address 10.58.1.3 is 198.18.58.1 on the internet" \
	"$T_DIR/turnd.log"
# relayed N ADDR: an allocation from the inside gets ADDR in
# XOR-RELAYED-ADDRESS (turnprobe prints it before its echoes).
relayed() {
	inc timeout 10 "$TURNPROBE" turn "10.58.1.2:$PORT" -u u -w p -n 1 --timeout 300 \
		>"$T_DIR/relay$1.out" 2>&1
	grep -q "^relayed address: $2:" "$T_DIR/relay$1.out" && return 0
	sed 's/^/  | /' "$T_DIR/relay$1.out"; return 1
}
check "XOR-RELAYED-ADDRESS is the NAT's outside address" relayed 1 198.18.58.1

# The NAT's address changes; a SIGHUP asks again.
check "router translates the relay address to 198.18.58.9 now" nat_to 198.18.58.9
# wait_log TEXT: the inside turnd's log has TEXT within 8 s.
wait_log() {
	for _ in $(seq 1 80); do grep -qF -- "$1" "$T_DIR/turnd.log" && return 0; sleep 0.1; done
	tail -n 20 "$T_DIR/turnd.log" | sed 's/^/  | /'; return 1
}
kill -HUP "$TURND_PID"
check "SIGHUP: the new public address is learnt and logged" \
	wait_log "SIGHUP: external-ip auto:stun: relay address 10.58.1.3 is now 198.18.58.9 (was 198.18.58.1)"
check "after SIGHUP: XOR-RELAYED-ADDRESS is the new address" relayed 2 198.18.58.9

# The STUN server goes: a reload keeps the mapping, a start fails.
kill -TERM "$OUT_PID"; wait "$OUT_PID"; OUT_RC=$?; OUT_PID=""
check "the outside turnd stops cleanly" test "$OUT_RC" -eq 0
kill -HUP "$TURND_PID"
check "SIGHUP without an answer: logged, the previous address kept" \
	wait_log "relay address 10.58.1.3: STUN server 198.18.58.2:$SPORT: no answer after 3 tries of 1000 ms; clients are still told 198.18.58.9"
check "after that SIGHUP: XOR-RELAYED-ADDRESS is still 198.18.58.9" relayed 3 198.18.58.9
check "the inside turnd stops cleanly" stop_turnd
ip netns exec "$NS_C" "$TURND" -c "$T_DIR/turnd.conf" >"$T_DIR/fail.out" 2>&1
check "a start without an answer fails (exit 1)" test $? -eq 1
check "... and says why and what to change" grep -q \
	"auto:stun:198.18.58.2:$SPORT: relay address 10.58.1.3: STUN server 198.18.58.2:$SPORT: no answer after 3 tries of 1000 ms (fix the server, or set external-ip to the public address)" \
	"$T_DIR/fail.out"
finish
