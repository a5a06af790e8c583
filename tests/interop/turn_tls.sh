#!/bin/sh
# TURN over TLS and DTLS with real clients, on loopback, with a throwaway
# CA and server certificate (SAN IP:127.0.0.1, IP:::1) made here with the
# openssl command:
#   - openssl s_client: TLS 1.2, TLS 1.3 and DTLS 1.2 handshakes that
#     verify against the CA; ALPN "stun.turn" and "stun.nat-discovery"
#     selected when offered (RFC 7443), none for another label;
#   - a bounded DTLS ClientHello flood (dtls_flood.py: no cookie, made-up
#     cookies, truncated hellos, garbage, from 64 source ports) is answered
#     with HelloVerifyRequests only and leaves no session behind, and the
#     server still serves DTLS afterwards;
#   - coturn's turnutils_uclient over TLS (-t -S) and DTLS (-S), IPv4 and
#     IPv6, echoed by turnpeer: every packet comes back. (uclient also
#     tries TLS 1.0/1.1 and DTLS 1.0 on some connections; turnd refuses
#     those and uclient retries with another version.)
#   - SIGHUP with a new certificate: a new connection sees the new serial;
#     a broken one is refused, logged, and the old one stays;
#   - a certificate that does not load, or a key of another certificate,
#     is a start-up error naming the file.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}
M=${UCLIENT_M:-10}   # uclient clients
N=${UCLIENT_N:-200}  # messages per client, 20 ms apart
L=${UCLIENT_L:-120}  # payload bytes
CLIENT_TIMEOUT=40
UCLIENT="stdbuf -oL -eL turnutils_uclient"
FLOOD=${DTLS_FLOOD_PACKETS:-3000}

for tool in openssl turnutils_uclient; do
	command -v "$tool" >/dev/null 2>&1 || { not_ok "$tool installed (scripts/deps.sh)"; finish; }
done
if [ "$TURN_SERVER_IMPL" != turnd ]; then
	not_ok "this test runs turnd only (TURN_SERVER_IMPL=$TURN_SERVER_IMPL)"
	finish
fi

# ---- Certificates (turn_lib.sh: tls_certs, tls_cert) -----------------------

certs() { tls_certs && tls_cert second 0x2002; }
check "throwaway CA and server certificates made with openssl" certs

# ---- Start-up errors -------------------------------------------------------

# bad_start "description" "text the error must contain" CONFIG-LINES
bad_start() {
	p=$(free_port)
	printf 'listening-ip = 127.0.0.1\nlistening-port = %s\ntls-listening-port = %s\n%s\n' \
		"$p" "$((p + 1))" "$3" >"$T_DIR/bad.conf"
	timeout 10 "$TURND" -c "$T_DIR/bad.conf" >"$T_DIR/bad.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF -- "$2" "$T_DIR/bad.out"; then
		ok "$1"
	else
		not_ok "$1 (status $rc, wanted '$2'):"; sed 's/^/  | /' "$T_DIR/bad.out" | tail -n 5
	fi
}
bad_start "a certificate path that does not exist: start-up error naming it" \
	"$T_DIR/absent.pem" "cert = \"$T_DIR/absent.pem\"
pkey = \"$T_DIR/key.pem\""
printf 'not a certificate\n' >"$T_DIR/junk.pem"
bad_start "a file that is no certificate: start-up error naming it" \
	"$T_DIR/junk.pem" "cert = \"$T_DIR/junk.pem\"
pkey = \"$T_DIR/key.pem\""
bad_start "the key of another certificate: start-up error naming the key" \
	"$T_DIR/second.key does not match" "cert = \"$T_DIR/cert.pem\"
pkey = \"$T_DIR/second.key\""

# ---- The server ------------------------------------------------------------

pick_port TLS_PORT || { not_ok "no free port for TLS"; finish; }
TURND_EXTRA_CONF="legacy-channel-numbers = true
# Every uclient session is one allocation of the one user: more at once
# than the default user-quota (32) lets a user hold.
user-quota = 0
tls-listening-port = $TLS_PORT
cert = \"$T_DIR/cert.pem\"
pkey = \"$T_DIR/key.pem\"
log-level = info"
start_turn_server || { not_ok "start turnd"; finish; }
ok "turnd up on 127.0.0.1/[::1], port $PORT, TLS and DTLS port $TLS_PORT"
check "start-up log says TLS and DTLS are on" \
	grep -q "TLS (1.2, 1.3): on; DTLS (1.2; .*): on; port $TLS_PORT" "$TURN_LOG"

# s_client ARGS...: one handshake to the TLS port; output in $T_DIR/sc.out.
s_client() {
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$T_DIR/ca.pem" \
		-verify_return_error "$@" >"$T_DIR/sc.out" 2>&1
}
handshake() { # handshake PROTOCOL-FLAG PROTOCOL-NAME
	# TLS 1.3 prints no session block before the ticket: take either line.
	s_client "$1" && grep -qE "^New, $2, |Protocol *: *$2\$" "$T_DIR/sc.out" &&
		grep -q "Verify return code: 0 (ok)" "$T_DIR/sc.out" ||
		{ sed 's/^/  | /' "$T_DIR/sc.out" | tail -n 8; return 1; }
}
check "TLS 1.3 handshake, certificate verified against the CA" handshake -tls1_3 TLSv1.3
check "TLS 1.2 handshake, certificate verified against the CA" handshake -tls1_2 TLSv1.2
check "DTLS 1.2 handshake, certificate verified against the CA" handshake -dtls1_2 DTLSv1.2
alpn() { # alpn OFFERED EXPECTED [s_client flags]
	offer=$1 want=$2
	shift 2
	s_client -alpn "$offer" "$@" && grep -q "$want" "$T_DIR/sc.out" ||
		{ sed 's/^/  | /' "$T_DIR/sc.out" | grep -i alpn; return 1; }
}
check "ALPN stun.turn selected (TLS)" alpn stun.turn "ALPN protocol: stun.turn"
check "ALPN stun.nat-discovery selected (TLS)" alpn stun.nat-discovery \
	"ALPN protocol: stun.nat-discovery"
check "ALPN stun.turn chosen among h2, stun.turn" alpn h2,stun.turn "ALPN protocol: stun.turn"
check "another ALPN label: none selected, handshake done" alpn h2 "No ALPN negotiated"
check "ALPN stun.turn selected (DTLS)" alpn stun.turn "ALPN protocol: stun.turn" -dtls1_2

# ---- The flood -------------------------------------------------------------

sessions() { grep -c "dtls: new session" "$TURN_LOG"; }
before=$(sessions)
"${PYTHON3:-python3}" "$top_srcdir/tests/interop/dtls_flood.py" 127.0.0.1 "$TLS_PORT" \
	"$FLOOD" >"$T_DIR/flood1.out" 2>&1
rss1=$(rss_kb)
"${PYTHON3:-python3}" "$top_srcdir/tests/interop/dtls_flood.py" 127.0.0.1 "$TLS_PORT" \
	"$FLOOD" >"$T_DIR/flood2.out" 2>&1
rss2=$(rss_kb)
sleep 0.2
after=$(sessions)
cat "$T_DIR/flood1.out" "$T_DIR/flood2.out" | sed 's/^/  /'
echo "  turnd resident memory: ${rss1} kB after the first flood, ${rss2} kB after the second"
flood_answered() {
	for f in flood1 flood2; do
		grep -q "hello_verify [1-9][0-9]*, other 0" "$T_DIR/$f.out" || return 1
	done
}
check "flood: only HelloVerifyRequests came back, nothing for garbage" flood_answered
check "flood of $((2 * FLOOD)) datagrams left no DTLS session ($before before, $after after)" \
	[ "$before" -eq "$after" ]
# Under AddressSanitizer freed memory is held in quarantine: no RSS check.
if [ -z "${TURND_SANITIZED:-}" ]; then
	check "second flood: resident memory grew by less than 2 MB ($((rss2 - rss1)) kB)" \
		[ $((rss2 - rss1)) -lt 2048 ]
fi
check "after the flood: DTLS 1.2 still served" handshake -dtls1_2 DTLSv1.2
check "after the flood: one more session, the real client's" [ "$(sessions)" -eq $((after + 1)) ]

# ---- uclient over TLS and DTLS ---------------------------------------------

pick_port PEER_PORT || { not_ok "no free port for the peer"; finish; }
# uclient's RTCP streams go to the peer port + 1.
spawn "$TURNPEER" -q -L "127.0.0.1:$PEER_PORT" -L "127.0.0.1:$((PEER_PORT + 1))" \
	-L "[::1]:$PEER_PORT" -L "[::1]:$((PEER_PORT + 1))" >"$T_DIR/peer.log" 2>&1
check "turnpeer echoing on 127.0.0.1 and [::1], ports $PEER_PORT and $((PEER_PORT + 1))" \
	udp_bound "127.0.0.1:$PEER_PORT" "127.0.0.1:$((PEER_PORT + 1))" "[::1]:$PEER_PORT" \
	"[::1]:$((PEER_PORT + 1))"

# turn_lib.sh: uclient_cmd, uclient_launch, uclient_verify, udp_drops.
MODES="tls dtls tls6 dtls6"
drops0=$(udp_drops)
start=$(date +%s)
for m in $MODES; do uclient_launch "$m"; done
for m in $MODES; do uclient_verify "$m" "uclient over $m"; done
echo "  uclient runs took $(( $(date +%s) - start )) s; kernel UDP receive-buffer drops meanwhile (machine-wide): $(( $(udp_drops) - drops0 ))"
established() { grep -q "dtls: session with .* established (DTLSv1.2, .*, ALPN stun.turn)" "$TURN_LOG"; }
check "log: DTLS sessions established with DTLS 1.2 and ALPN stun.turn" established
check "old protocol versions refused (uclient's TLS 1.0/1.1, DTLS 1.0 attempts)" \
	grep -q "unsupported protocol" "$TURN_LOG"

# ---- Certificate reload ----------------------------------------------------

serial() { # serial [s_client flags]: the serial of the certificate served now
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" "$@" 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null
}
check "before SIGHUP: serial 1001" [ "$(serial)" = "serial=1001" ]
cp "$T_DIR/second.pem" "$T_DIR/cert.pem"
cp "$T_DIR/second.key" "$T_DIR/key.pem"
kill -HUP "$TURND_PID"
sleep 0.5
check "SIGHUP: reload logged with the new serial" \
	grep -q "SIGHUP: TLS certificate reloaded for new connections: .*serial 0x2002" "$TURN_LOG"
check "after SIGHUP: a new TLS connection sees serial 2002" [ "$(serial)" = "serial=2002" ]
check "after SIGHUP: a new DTLS session sees serial 2002" [ "$(serial -dtls1_2)" = "serial=2002" ]
cp "$T_DIR/junk.pem" "$T_DIR/cert.pem"
kill -HUP "$TURND_PID"
sleep 0.5
check "SIGHUP with a broken certificate: refused, the reason logged" \
	grep -q "SIGHUP: the new configuration is refused; the running one stays: certificate: option 'cert'.*$T_DIR/cert.pem" "$TURN_LOG"
check "after the refused reload: still serial 2002" [ "$(serial)" = "serial=2002" ]
check "after the refused reload: TLS 1.3 still served" handshake -tls1_3 TLSv1.3

check "plain STUN still answered" stun_ok
check "turnd stops cleanly on SIGTERM" stop_turn_server
totals() { grep -q "tls: connections [1-9][0-9]* .*dtls: cookies sent [1-9]" "$TURN_LOG"; }
check "stop log: TLS and DTLS totals" totals
grep "tls: connections" "$TURN_LOG" | sed 's/^.*notice: /  /'
finish
