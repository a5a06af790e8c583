#!/bin/sh
# turnd behind a real HAProxy (Debian's haproxy, TCP mode, run in the
# foreground with its own configuration here; the Debian service is not
# used) that speaks the PROXY protocol, on loopback:
#   - HAProxy connects to turnd from 127.0.0.7 (trusted-proxy), clients
#     connect to HAProxy from 127.0.0.5: through send-proxy-v2 and
#     send-proxy (v1), over TCP and over TLS (pass-through: turnd ends
#     TLS), a Binding's XOR-MAPPED-ADDRESS is the client's own address and
#     port, never HAProxy's;
#   - coturn's turnutils_uclient over TCP (-t) and TLS (-t -S) through
#     HAProxy relays every packet, while malformed headers hit the same
#     listener; turnctl sessions and the allocation log show the client's
#     address, never 127.0.0.7;
#   - a proxy not in trusted-proxy (HAProxy from 127.0.0.9), a missing
#     header (HAProxy without send-proxy), malformed and oversized headers
#     and a header that never comes are closed, counted in /metrics and
#     logged; HAProxy's health checks (LOCAL) are taken;
#   - TCP and TLS on one port ("tcp,tls" listener) without a proxy;
#   - acme-redirect: an ACME challenge on the TCP port gets a 301 to the
#     URL and token, another HTTP request is closed;
#   - SIGHUP: a new trusted-proxy, proxy-protocol (listening-port's TCP
#     socket) and 'proxy' added to a listener (its socket replaced) apply
#     to new connections.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}
TURNCTL=${TURNCTL:-${top_builddir:-.}/turnctl}
PY="${PYTHON3:-python3}"
CLIENT="$top_srcdir/tests/interop/proxy_client.py"
M=${UCLIENT_M:-4}   # uclient clients per run
N=${UCLIENT_N:-100} # messages per client, 20 ms apart
L=${UCLIENT_L:-120} # payload bytes
CLIENT_TIMEOUT=30
UCLIENT="stdbuf -oL -eL turnutils_uclient"
CLIENT_IP=127.0.0.5 # where clients connect from
PROXY_IP=127.0.0.7  # where HAProxy connects to turnd from (trusted)
ROGUE_IP=127.0.0.9  # a proxy turnd does not trust
ACME_URL="http://acme.turnd.test/.well-known/acme-challenge/"
TOKEN=LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0
HAPROXY_PID=""

for tool in haproxy openssl turnutils_uclient curl; do
	command -v "$tool" >/dev/null 2>&1 || { not_ok "$tool installed (scripts/deps.sh)"; finish; }
done
if [ "$TURN_SERVER_IMPL" != turnd ]; then
	not_ok "this test runs turnd only (TURN_SERVER_IMPL=$TURN_SERVER_IMPL)"
	finish
fi

proxy_cleanup() {
	[ -z "$HAPROXY_PID" ] || { kill -TERM "$HAPROXY_PID" 2>/dev/null; wait "$HAPROXY_PID" 2>/dev/null; }
	turn_cleanup
}
trap proxy_cleanup EXIT

check "throwaway CA and server certificate made with openssl" tls_certs

# ---- turnd ------------------------------------------------------------------

for v in LP LB TLSP HP2 HP1 HPU HPN MP PEER_PORT; do
	pick_port "$v" || { not_ok "no free port for $v"; finish; }
done
# uclient binds channels in RFC 5766's range (0x4000-0x7FFF).
TURND_EXTRA_CONF="legacy-channel-numbers = true
user-quota = 0
cert = \"$T_DIR/cert.pem\"
pkey = \"$T_DIR/key.pem\"
tls-listening-port = $TLSP
no-dtls = true
trusted-proxy = { \"$PROXY_IP\", \"127.0.0.10/31\" }
listener = { \"127.0.0.1:$LP/tcp,tls,proxy\", \"127.0.0.1:$LB/tcp,tls\" }
acme-redirect = \"$ACME_URL\"
first-message-timeout = 2
control-socket = \"$T_DIR/ctl.sock\"
metrics-port = $MP
log-level = info"
start_turn_server || { not_ok "start turnd"; finish; }
ok "turnd up: port $PORT, listeners $LP/tcp,tls,proxy and $LB/tcp,tls"
check "start-up log names the proxy listener" \
	grep -q "listening on 127.0.0.1:$LP tcp tls proxy (listener)" "$TURN_LOG"

# ---- HAProxy ------------------------------------------------------------------

# backend NAME PORT SERVER-OPTIONS: a frontend on PORT to turnd's proxy
# listener through a backend with those server options.
backend() {
	printf 'frontend %s\n\tbind 127.0.0.1:%s\n\tdefault_backend %s\nbackend %s\n\tserver turnd 127.0.0.1:%s %s\n' \
		"$1" "$2" "$1" "$1" "$LP" "$3"
}
{
	printf 'global\n\tmaxconn 512\ndefaults\n\tmode tcp\n\ttimeout connect 5s\n'
	printf '\ttimeout client 60s\n\ttimeout server 60s\n'
	backend v2 "$HP2" "send-proxy-v2 source $PROXY_IP check inter 1s check-send-proxy"
	backend v1 "$HP1" "send-proxy source $PROXY_IP"
	backend rogue "$HPU" "send-proxy-v2 source $ROGUE_IP"
	backend noheader "$HPN" "source $PROXY_IP"
} >"$T_DIR/haproxy.cfg"
haproxy -db -f "$T_DIR/haproxy.cfg" >"$T_DIR/haproxy.log" 2>&1 &
HAPROXY_PID=$!
haproxy_up() {
	for _ in $(seq 1 50); do
		ss -Hltn 2>/dev/null | grep -q "127.0.0.1:$HPN " && return 0
		kill -0 "$HAPROXY_PID" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/  | /' "$T_DIR/haproxy.log"
	return 1
}
check "HAProxy $(haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p') up: v2 :$HP2, v1 :$HP1, untrusted source :$HPU, no header :$HPN" haproxy_up

# batch PREFIX: proxy_client.py cases on stdin ("DESCRIPTION | ARGS"), in
# one python process; each line becomes one ok or not ok.
batch() {
	prefix=$1
	cat >"$T_DIR/batch-$prefix.in"
	want=$(grep -c '|' "$T_DIR/batch-$prefix.in")
	timeout 50 "$PY" "$CLIENT" --batch <"$T_DIR/batch-$prefix.in" >"$T_DIR/batch-$prefix.out" 2>&1
	batch_tally "$prefix" "$T_DIR/batch-$prefix.out" "$want"
}

# ---- Headers turnd must refuse, sent while uclient relays ----------------------

hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
SIG=0d0a0d0a000d0a515549540a
ADDR4=7f0000057f0000019c40$(printf %04x "$LP")
BAD="--bind $PROXY_IP 127.0.0.1 $LP"
cat >"$T_DIR/bad.in" <<EOF
no header at all (a STUN request first) | $BAD closed -
an HTTP request instead of a header | $BAD closed $(hex 'GET / HTTP/1.1')0d0a0d0a
v2: a wrong signature byte | $BAD closed 0d0a0d0a000d0a515549540b2111000c$ADDR4
v2: version 1 in the binary form | $BAD closed ${SIG}1111000c$ADDR4
v2: command 2 | $BAD closed ${SIG}2211000c$ADDR4
v2: AF_UNIX | $BAD closed ${SIG}2131000c$ADDR4
v2: UDP | $BAD closed ${SIG}2112000c$ADDR4
v2: IPv6 family in a 12-byte block | $BAD closed ${SIG}2121000c$ADDR4
v2: 65535 bytes announced (oversize) | $BAD closed ${SIG}2111ffff$ADDR4
v1: TCP5 | $BAD closed $(hex 'PROXY TCP5 1.2.3.4 5.6.7.8 1 2')0d0a
v1: LF without CR | $BAD closed $(hex 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2')0a
v1: port 65536 | $BAD closed $(hex 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2')0d0a
v1: no CR LF within 107 bytes | $BAD closed $(hex "PROXY UNKNOWN $(printf '%0100d' 0)")0d0a
a header that never comes: closed at first-message-timeout (2 s) | $BAD silent
EOF

# ---- uclient through HAProxy, malformed headers beside it ----------------------

spawn "$TURNPEER" -q -L "127.0.0.1:$PEER_PORT" -L "127.0.0.1:$((PEER_PORT + 1))" \
	>"$T_DIR/peer.log" 2>&1
check "turnpeer echoing on 127.0.0.1, ports $PEER_PORT and $((PEER_PORT + 1))" \
	udp_bound "127.0.0.1:$PEER_PORT" "127.0.0.1:$((PEER_PORT + 1))"

# uclient_via MODE PORT EXTRA: uclient from $CLIENT_IP to HAProxy's PORT.
uclient_via() {
	# shellcheck disable=SC2086 # word splitting of the argument list
	spawn timeout -k 5 "$CLIENT_TIMEOUT" $UCLIENT -p "$2" -L "$CLIENT_IP" -u "$TURN_USER" \
		-w "$TURN_PASS" -m "$M" -n "$N" -l "$L" $3 -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1 \
		>"$T_DIR/uc-$1.out" 2>&1
	eval "UC_PID_$1=\$BG_PID"
}
# turn_lib.sh's uclient_verify reads the command back from uclient_cmd.
uclient_cmd() {
	case "$1" in
	v2tcp) echo "-p $HP2 -L $CLIENT_IP -t ..." ;;
	v2tls) echo "-p $HP2 -L $CLIENT_IP -t -S ..." ;;
	v1tcp) echo "-p $HP1 -L $CLIENT_IP -t ..." ;;
	esac
}
uclient_via v2tcp "$HP2" -t
uclient_via v2tls "$HP2" "-t -S"
uclient_via v1tcp "$HP1" -t

# While they relay: turnctl lists their sessions with the client's address.
sessions_seen() {
	for _ in $(seq 1 40); do
		"$TURNCTL" -s "$T_DIR/ctl.sock" sessions >"$T_DIR/sessions.out" 2>&1
		[ "$(grep -c "$CLIENT_IP:" "$T_DIR/sessions.out")" -ge "$((3 * M))" ] && break
		sleep 0.1
	done
	sed 's/^/  | /' "$T_DIR/sessions.out" | head -n 4
	[ "$(grep -c "$CLIENT_IP:" "$T_DIR/sessions.out")" -ge "$((3 * M))" ] &&
		! grep -q "$PROXY_IP:" "$T_DIR/sessions.out"
}
check "turnctl sessions: $((3 * M)) sessions from $CLIENT_IP, none from HAProxy's $PROXY_IP" \
	sessions_seen
batch "bad header closed, uclient unharmed" <"$T_DIR/bad.in"
uclient_verify v2tcp "uclient -t through HAProxy send-proxy-v2"
uclient_verify v2tls "uclient -t -S (TLS pass-through) through HAProxy send-proxy-v2"
uclient_verify v1tcp "uclient -t through HAProxy send-proxy (v1)"
created() { grep "allocation created: .*transport=tcp" "$TURN_LOG"; }
check "log: uclient's allocations are from $CLIENT_IP ($(created | grep -c "client=$CLIENT_IP:") of them), none from $PROXY_IP" \
	sh -c "[ \$(grep 'allocation created: .*transport=tcp' '$TURN_LOG' | grep -c 'client=$CLIENT_IP:') -ge $((3 * M)) ] &&
		! grep -q 'client=$PROXY_IP:' '$TURN_LOG'"

# ---- The client's address through HAProxy, and the refusals ---------------------

VIA="--bind $CLIENT_IP --expect local 127.0.0.1"
batch "through HAProxy" <<EOF
send-proxy-v2, TCP: XOR-MAPPED-ADDRESS is the client's own address | $VIA $HP2 mapped
send-proxy-v2, TLS: XOR-MAPPED-ADDRESS is the client's own address | --tls $T_DIR/ca.pem $VIA $HP2 mapped
send-proxy (v1), TCP: XOR-MAPPED-ADDRESS is the client's own address | $VIA $HP1 mapped
send-proxy (v1), TLS: XOR-MAPPED-ADDRESS is the client's own address | --tls $T_DIR/ca.pem $VIA $HP1 mapped
a proxy not in trusted-proxy ($ROGUE_IP): closed | --bind $CLIENT_IP 127.0.0.1 $HPU closed -
a trusted proxy without send-proxy (no header): closed | --bind $CLIENT_IP 127.0.0.1 $HPN closed -
EOF
batch "direct" <<EOF
a trusted source's v2 header names 203.0.113.9:4444: that is the client | --bind $PROXY_IP --expect 203.0.113.9:4444 127.0.0.1 $LP mapped ${SIG}2111000ccb007109$(printf %08x 2130706433)115c$(printf %04x "$LP")
v2 LOCAL (a health check): the connection's own address stands | --bind $PROXY_IP --expect local 127.0.0.1 $LP mapped ${SIG}20000000
the same v1 header from a source not in trusted-proxy: closed | --bind $ROGUE_IP 127.0.0.1 $LP closed $(hex "PROXY TCP4 203.0.113.9 127.0.0.1 4444 $LP")0d0a
tcp,tls listener without proxy: plain TCP | --expect local 127.0.0.1 $LB mapped
tcp,tls listener without proxy: TLS on the same port | --tls $T_DIR/ca.pem --expect local 127.0.0.1 $LB mapped
acme-redirect: a challenge on listening-port gets a 301 to the URL and token | --expect $ACME_URL$TOKEN 127.0.0.1 $PORT http /.well-known/acme-challenge/$TOKEN
acme-redirect: the same on the tcp,tls listener | --expect $ACME_URL$TOKEN 127.0.0.1 $LB http /.well-known/acme-challenge/$TOKEN
acme-redirect: another path is closed without an answer | 127.0.0.1 $PORT nohttp /index.html
acme-redirect: another method is closed without an answer | 127.0.0.1 $PORT nohttp /.well-known/acme-challenge/$TOKEN POST
acme-redirect: a token with a slash is closed without an answer | 127.0.0.1 $PORT nohttp /.well-known/acme-challenge/../etc
plain STUN on listening-port still answered | --expect local 127.0.0.1 $PORT mapped
EOF
acme_curl() {
	curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' \
		"http://127.0.0.1:$PORT/.well-known/acme-challenge/$TOKEN" >"$T_DIR/curl.out"
	echo "  curl: $(cat "$T_DIR/curl.out")"
	[ "$(cat "$T_DIR/curl.out")" = "301 $ACME_URL$TOKEN" ]
}
check "acme-redirect: curl gets 301 and Location $ACME_URL$TOKEN" acme_curl

# ---- Counters and log lines -------------------------------------------------

# The workers' counters reach /metrics once a second: wait for the last
# case's (the third redirect).
metric() { sed -n "s/^turnd_$1 //p" "$T_DIR/metrics.out"; }
for _ in $(seq 1 30); do
	curl -s "http://127.0.0.1:$MP/metrics" >"$T_DIR/metrics.out"
	[ "$(metric 'acme_requests_total{result="redirected"}')" = 3 ] && break
	sleep 0.2
done
grep -E '^turnd_(proxy_protocol|acme_requests)_total' "$T_DIR/metrics.out" | sed 's/^/  /'
check "metrics: PROXY headers with a client counted" [ "$(metric 'proxy_protocol_total{result="client"}')" -ge $((3 * M + 5)) ]
check "metrics: HAProxy's LOCAL health checks counted" [ "$(metric 'proxy_protocol_total{result="local"}')" -ge 2 ]
# HAProxy may try its server again after a reset: at least.
check "metrics: untrusted proxies counted (2 or more)" [ "$(metric 'proxy_protocol_total{result="untrusted"}')" -ge 2 ]
check "metrics: missing and malformed headers counted (14 or more)" [ "$(metric 'proxy_protocol_total{result="malformed"}')" -ge 14 ]
check "metrics: a header that never came counted (1)" [ "$(metric 'proxy_protocol_total{result="timeout"}')" -eq 1 ]
check "metrics: ACME challenges redirected (3), other requests refused (3)" \
	[ "$(metric 'acme_requests_total{result="redirected"}') $(metric 'acme_requests_total{result="refused"}')" = "3 3" ]
check "log: untrusted proxy refused at info" grep -q "info: proxy: connection from $ROGUE_IP:[0-9]* refused: not in trusted-proxy" "$TURN_LOG"
check "log: malformed header closed with its reason" grep -q "info: proxy: connection from $PROXY_IP:[0-9]* closed: version 2: longer than 1040 bytes" "$TURN_LOG"
check "log: late header closed" grep -q "closed: no whole PROXY header within first-message-timeout" "$TURN_LOG"

# ---- SIGHUP: trusted-proxy and proxy-protocol for new connections ------------

# And the tcp,tls listener gains proxy: its socket is replaced live.
sed -e "s|^trusted-proxy = .*|trusted-proxy = { \"$PROXY_IP\", \"$ROGUE_IP\" }\nproxy-protocol = true|" \
	-e "s|127.0.0.1:$LB/tcp,tls\\\"|127.0.0.1:$LB/tcp,tls,proxy\\\"|" \
	"$T_DIR/turnd.conf" >"$T_DIR/turnd.conf.new" && mv "$T_DIR/turnd.conf.new" "$T_DIR/turnd.conf"
kill -HUP "$TURND_PID"
reloaded() {
	for _ in $(seq 1 50); do
		grep -q "SIGHUP: every worker runs the new configuration" "$TURN_LOG" && return 0
		sleep 0.1
	done
	return 1
}
check "SIGHUP: trusted-proxy and proxy-protocol reloaded" reloaded
check "SIGHUP: the log lists them as changed" \
	grep -q "SIGHUP: configuration reloaded from .*changed: listener, trusted-proxy, proxy-protocol" "$TURN_LOG"
check "SIGHUP: the tcp,tls listener's socket replaced by a tcp,tls,proxy one" sh -c \
	"grep -q 'SIGHUP: listener 127.0.0.1:$LB/tcp,tls,proxy added' '$TURN_LOG' &&
	 grep -q 'SIGHUP: listener 127.0.0.1:$LB/tcp,tls removed' '$TURN_LOG'"
V1=$(hex "PROXY TCP4 198.51.100.1 127.0.0.1 1000 $PORT")0d0a
batch "after SIGHUP" <<EOF
$ROGUE_IP, now in trusted-proxy: its header is believed | --bind $ROGUE_IP --expect 203.0.113.9:4444 127.0.0.1 $LP mapped ${SIG}2111000ccb007109$(printf %08x 2130706433)115c$(printf %04x "$LP")
proxy-protocol: listening-port's TCP socket takes a header | --bind $PROXY_IP --expect 198.51.100.1:1000 127.0.0.1 $PORT mapped $V1
proxy-protocol: listening-port's TCP socket closes a client without one | 127.0.0.1 $PORT closed -
the listener with proxy now: a header from a trusted source is taken | --bind $PROXY_IP --expect 198.51.100.1:1000 127.0.0.1 $LB mapped $V1
the listener with proxy now: a client without one is closed | 127.0.0.1 $LB closed -
EOF

check "turnd stops cleanly on SIGTERM" stop_turn_server
finish
