#!/bin/sh
# The TLS policy (tls-min-version, cipher-list, ciphersuites, ecdh-curves,
# ca-file, client-cert) as clients see it, on loopback, with Debian's
# sslscan and openssl s_client, one turnd reloaded (SIGHUP) from policy to
# policy:
#   - the defaults (Mozilla "intermediate"), under an OpenSSL configuration
#     that would allow TLS 1.0 and every suite: sslscan finds exactly TLS
#     1.2 and 1.3, exactly the default TLS 1.2 suites that fit the ECDSA
#     certificate, the three TLS 1.3 suites and the three groups; TLS 1.0,
#     1.1 and DTLS 1.0 handshakes are refused;
#   - a certificate renewed on disk + SIGHUP while coturn's uclient relays
#     over TLS: 0 loss, and a new connection is served the new serial;
#   - a custom cipher-list (with a DHE suite, an RSA certificate),
#     ciphersuites and ecdh-curves: sslscan finds exactly those; s_client
#     with another group or suite is refused, over TLS and DTLS;
#   - tls-min-version = 1.3: only TLS 1.3 (DTLS stays 1.2);
#   - a bad value: --check-config and SIGHUP name file, line and option,
#     and the running policy stays;
#   - ca-file: a client certificate of that CA is accepted, one of another
#     CA refused, none refused (client-cert = required) or accepted
#     (optional), over TLS and DTLS; a ca-file that does not load refuses
#     the reload.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}
M=2 N=150 L=120   # uclient: 2 clients, 150 messages each, 20 ms apart
CLIENT_TIMEOUT=30
UCLIENT="stdbuf -oL -eL turnutils_uclient"

for tool in openssl sslscan turnutils_uclient; do
	command -v "$tool" >/dev/null 2>&1 || { not_ok "$tool installed (scripts/deps.sh)"; finish; }
done

# ---- Certificates ------------------------------------------------------------

# rsa_cert NAME SERIAL: an RSA-2048 server certificate of the test CA.
rsa_cert() {
	openssl req -newkey rsa:2048 -nodes -subj /CN=turnd-test-rsa -keyout "$T_DIR/$1.key" \
		-out "$T_DIR/$1.csr" >/dev/null 2>&1 &&
	openssl x509 -req -in "$T_DIR/$1.csr" -CA "$T_DIR/ca.pem" -CAkey "$T_DIR/ca.key" \
		-set_serial "$2" -days 2 -extfile "$T_DIR/san.cnf" -out "$T_DIR/$1.pem" >/dev/null 2>&1
}
# A client certificate of another CA, self-signed.
other_ca_client() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=other-ca -keyout "$T_DIR/other.key" -out "$T_DIR/other.pem" >/dev/null 2>&1
}
certs() {
	tls_certs && tls_cert second 0x2002 && tls_cert client 0x3003 && rsa_cert rsa 0x4004 &&
		other_ca_client
}
check "throwaway CA, server (ECDSA, RSA) and client certificates made with openssl" certs

# ---- The server ---------------------------------------------------------------

pick_port TLS_PORT || { not_ok "no free port for TLS"; finish; }
# uclient binds channels of RFC 5766's range.
TURND_EXTRA_CONF="legacy-channel-numbers = true
tls-listening-port = $TLS_PORT
cert = \"$T_DIR/cert.pem\"
pkey = \"$T_DIR/key.pem\"
log-level = info"
# turnd runs under an OpenSSL configuration that allows TLS 1.0 and every
# suite (as some systems' does): what it offers is then its policy's doing.
printf '%s\n' "openssl_conf = default_conf" "[default_conf]" "ssl_conf = ssl_sect" \
	"[ssl_sect]" "system_default = system_default_sect" "[system_default_sect]" \
	"MinProtocol = TLSv1" "CipherString = ALL:@SECLEVEL=0" >"$T_DIR/lax.cnf"
OPENSSL_CONF=$T_DIR/lax.cnf
export OPENSSL_CONF
start_turn_server || { not_ok "start turnd"; finish; }
unset OPENSSL_CONF
ok "turnd up, TLS and DTLS on port $TLS_PORT"
CONF=$T_DIR/turnd.conf
cp "$CONF" "$T_DIR/base.conf"
check "start-up log: the default policy" grep -q "TLS policy: TLS 1.2 and up (DTLS 1.2); TLS 1.2 and DTLS suites ECDHE-ECDSA-AES128-GCM-SHA256:.*; groups X25519:prime256v1:secp384r1; client certificates not asked for" "$TURN_LOG"

# hup: SIGHUP on the file as it is, and wait for the outcome: 0 when every
# worker took it, 1 when refused. reload [CONFIG-LINES]: the base file
# plus these lines, then hup.
hup() {
	done0=$(grep -c "SIGHUP: every worker runs the new configuration" "$TURN_LOG")
	refused0=$(grep -c "SIGHUP: the new configuration is refused" "$TURN_LOG")
	kill -HUP "$TURND_PID"
	for _ in $(seq 1 50); do
		[ "$(grep -c "SIGHUP: every worker runs the new configuration" "$TURN_LOG")" -gt "$done0" ] &&
			return 0
		[ "$(grep -c "SIGHUP: the new configuration is refused" "$TURN_LOG")" -gt "$refused0" ] &&
			return 1
		sleep 0.1
	done
	return 1
}
reload() {
	{ cat "$T_DIR/base.conf"; printf '%s\n' "${1:-}"; } >"$CONF"
	hup
}

# scan: sslscan of the TLS port into $T_DIR/scan.out; then
#   versions          the enabled SSL/TLS versions, one a line
#   suites VERSION    the accepted suites of TLSv1.2 or TLSv1.3, sorted
#   groups            the key exchange groups found for TLS 1.3, sorted
scan() {
	timeout 20 sslscan --no-colour --no-heartbleed "127.0.0.1:$TLS_PORT" >"$T_DIR/scan.out" 2>&1
}
versions() { sed -n 's/^\(SSLv[23]\|TLSv1\.[0-3]\) *enabled$/\1/p' "$T_DIR/scan.out" | tr '\n' ' '; }
suites() { awk -v v="$1" '($1 == "Preferred" || $1 == "Accepted") && $2 == v { print $5 }' \
	"$T_DIR/scan.out" | sort | tr '\n' ' '; }
groups() { sed -n '/Server Key Exchange Group/,/^$/p' "$T_DIR/scan.out" |
	awk '$1 == "TLSv1.3" { print $4 }' | sort | tr '\n' ' '; }
# same WHAT GOT WANT: equal, else both shown.
same() {
	[ "$2" = "$3" ] && return 0
	echo "  $1: found '$2', configured '$3'"
	return 1
}
sorted() { echo "$1" | tr ':' '\n' | sort | tr '\n' ' '; }

# s_client ARGS...: one handshake to the TLS port, the server's certificate
# verified; status 0 only when the handshake completed (a TLS 1.3 client
# certificate is refused after it: binding below checks those).
s_client() {
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$T_DIR/ca.pem" \
		-verify_return_error "$@" >"$T_DIR/sc.out" 2>&1
}
refused() { ! s_client "$@"; }
# lax_refused ARGS...: refused, by a client that would speak TLS 1.0 too.
lax_refused() {
	OPENSSL_CONF=$T_DIR/lax.cnf
	export OPENSSL_CONF
	refused "$@"
	r=$?
	unset OPENSSL_CONF
	return $r
}
# bindings CASE...: a STUN Binding request over TLS 1.3 for each case
# ("none", or "CERT,KEY" of a client certificate), with tls_binding.py,
# into $T_DIR/binding.out: what proves a TLS 1.3 client certificate
# accepted, since a TLS 1.3 server refuses one after the handshake.
# served CASE / unanswered CASE read the outcome of one case.
bindings() {
	"${PYTHON3:-python3}" "$top_srcdir/tests/interop/tls_binding.py" 127.0.0.1 "$TLS_PORT" \
		"$T_DIR/ca.pem" 1.3 "$@" >"$T_DIR/binding.out" 2>&1
}
outcome() { grep -F "$1 " "$T_DIR/binding.out" | sed 's/^/  /'; }
served() { outcome "$1"; grep -qxF "$1 served" "$T_DIR/binding.out"; }
unanswered() { outcome "$1"; grep -qF "$1 refused: " "$T_DIR/binding.out"; }

DEFAULT_12="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"
DEFAULT_13="TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

scan
check "defaults: sslscan finds exactly TLS 1.2 and 1.3" same versions "$(versions)" "TLSv1.2 TLSv1.3 "
check "defaults: TLS 1.2 suites are the default cipher-list's ECDSA ones" \
	same "TLS 1.2 suites" "$(suites TLSv1.2)" "$(sorted "$DEFAULT_12")"
check "defaults: TLS 1.3 suites are the three defaults" \
	same "TLS 1.3 suites" "$(suites TLSv1.3)" "$(sorted "$DEFAULT_13")"
check "defaults: groups X25519, P-256, P-384" same groups "$(groups)" "secp256r1 secp384r1 x25519 "
check "defaults: a TLS 1.1 handshake is refused" lax_refused -tls1_1
check "defaults: a TLS 1.0 handshake is refused" lax_refused -tls1
check "defaults: a DTLS 1.0 handshake is refused" lax_refused -dtls1
check "defaults: DTLS 1.2 served" s_client -dtls1_2

# ---- Certificate renewal under relayed TLS traffic ------------------------------

pick_port PEER_PORT || { not_ok "no free port for the peer"; finish; }
spawn "$TURNPEER" -q -L "127.0.0.1:$PEER_PORT" -L "127.0.0.1:$((PEER_PORT + 1))" \
	>"$T_DIR/peer.log" 2>&1
check "turnpeer echoing on 127.0.0.1:$PEER_PORT" udp_bound "127.0.0.1:$PEER_PORT" \
	"127.0.0.1:$((PEER_PORT + 1))"
serial() { echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" "$@" 2>/dev/null |
	openssl x509 -noout -serial 2>/dev/null; }
check "before the renewal: serial 1001" [ "$(serial)" = "serial=1001" ]
uclient_launch tls
sleep 1.5
check "uclient over TLS still running when the certificate is renewed" kill -0 "$UC_PID_tls"
cp "$T_DIR/second.pem" "$T_DIR/cert.pem"
cp "$T_DIR/second.key" "$T_DIR/key.pem"
check "renewal: SIGHUP taken" reload
check "renewal: a new TLS connection is served serial 2002" [ "$(serial)" = "serial=2002" ]
check "renewal: a new DTLS session is served serial 2002" [ "$(serial -dtls1_2)" = "serial=2002" ]
uclient_verify tls "uclient over TLS across the renewal"

# ---- A custom policy ------------------------------------------------------------

CUSTOM_12="ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256"
CUSTOM="cipher-list = \"$CUSTOM_12\"
ciphersuites = \"TLS_AES_256_GCM_SHA384\"
ecdh-curves = \"secp384r1\""
cp "$T_DIR/rsa.pem" "$T_DIR/cert.pem"
cp "$T_DIR/rsa.key" "$T_DIR/key.pem"
check "custom policy and an RSA certificate: SIGHUP taken" reload "$CUSTOM"
check "custom: the reload lists the changed options" grep -q \
	"changed: cipher-list, ciphersuites, ecdh-curves;" "$TURN_LOG"
scan
check "custom: TLS 1.2 suites are exactly cipher-list's" \
	same "TLS 1.2 suites" "$(suites TLSv1.2)" "$(sorted "$CUSTOM_12")"
check "custom: TLS 1.3 suites are exactly ciphersuites'" \
	same "TLS 1.3 suites" "$(suites TLSv1.3)" "TLS_AES_256_GCM_SHA384 "
check "custom: the only group is secp384r1" same groups "$(groups)" "secp384r1 "
check "custom: DHE uses a 2048-bit group (ffdhe2048)" \
	grep -q "DHE-RSA-AES128-GCM-SHA256 *DHE 2048 bits" "$T_DIR/scan.out"
check "custom: TLS 1.3 with group X25519 only is refused" refused -tls1_3 -groups X25519
check "custom: TLS 1.3 with group P-384 is served" s_client -tls1_3 -groups P-384
check "custom: DTLS with a suite outside cipher-list is refused" \
	refused -dtls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
check "custom: DTLS with a suite of cipher-list is served" \
	s_client -dtls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
check "custom: DTLS with group X25519 only is refused" \
	refused -dtls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384 -groups X25519

check "tls-min-version = 1.3: SIGHUP taken" reload "$CUSTOM
tls-min-version = 1.3"
scan
check "tls-min-version = 1.3: sslscan finds only TLS 1.3" same versions "$(versions)" "TLSv1.3 "
check "tls-min-version = 1.3: a TLS 1.2 handshake is refused" refused -tls1_2
check "tls-min-version = 1.3: DTLS 1.2 still served" \
	s_client -dtls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384

# ---- Bad values -----------------------------------------------------------------

# bad_value LINE OPTION: --check-config and SIGHUP both refuse the running
# policy's file with LINE added at its end, naming file:line: option; the
# running policy stays.
bad_value() {
	{ cat "$T_DIR/base.conf"; printf '%s\n' "$CUSTOM" "tls-min-version = 1.3" "$1"; } >"$CONF"
	at="$CONF:$(wc -l <"$CONF"): option '$2'"
	"$TURND" --check-config -c "$CONF" >"$T_DIR/check.out" 2>&1 &&
		{ echo "  --check-config accepted it"; return 1; }
	grep -qF "$at" "$T_DIR/check.out" || { sed 's/^/  | /' "$T_DIR/check.out"; return 1; }
	hup && { echo "  SIGHUP took it"; return 1; }
	grep -qF "refused; the running one stays: $at" "$TURN_LOG" ||
		{ grep "refused" "$TURN_LOG" | tail -n 1 | sed 's/^/  | /'; return 1; }
}
check "a cipher-list that matches nothing: refused by --check-config and SIGHUP" \
	bad_value 'cipher-list = "NOPE-AES-GCM"' cipher-list
check "an unknown curve: refused by --check-config and SIGHUP" \
	bad_value 'ecdh-curves = "X25519:P-999"' ecdh-curves
check "tls-min-version = 1.1: refused by --check-config and SIGHUP" \
	bad_value 'tls-min-version = 1.1' tls-min-version
check "after the refused reloads: TLS 1.2 still refused" refused -tls1_2
check "after the refused reloads: TLS 1.3 with P-384 still served" s_client -tls1_3 -groups P-384

# ---- Client certificates --------------------------------------------------------

cp "$T_DIR/second.pem" "$T_DIR/cert.pem"
cp "$T_DIR/second.key" "$T_DIR/key.pem"
check "ca-file (client-cert = required): SIGHUP taken" reload "ca-file = \"$T_DIR/ca.pem\""
CLIENT="-cert $T_DIR/client.pem -key $T_DIR/client.key"
OTHER="-cert $T_DIR/other.pem -key $T_DIR/other.key"
C13="$T_DIR/client.pem,$T_DIR/client.key"
O13="$T_DIR/other.pem,$T_DIR/other.key"
bindings "$C13" "$O13" none
# shellcheck disable=SC2086 # $CLIENT and $OTHER are option lists
{
	check "required: a client with a certificate of the CA is served (TLS 1.3, Binding answered)" \
		served "$C13"
	check "required: ... and over TLS 1.2" s_client -tls1_2 $CLIENT
	check "required: ... and over DTLS 1.2" s_client -dtls1_2 $CLIENT
	check "required: a client of another CA is refused (TLS 1.3, no answer)" unanswered "$O13"
	check "required: a client of another CA is refused (TLS 1.2)" refused -tls1_2 $OTHER
	check "required: a client of another CA is refused (DTLS 1.2)" refused -dtls1_2 $OTHER
	check "required: a client without a certificate is refused (TLS 1.3, no answer)" \
		unanswered none
	check "required: a client without a certificate is refused (TLS 1.2)" refused -tls1_2
	check "required: a client without a certificate is refused (DTLS 1.2)" refused -dtls1_2
	check "client-cert = optional: SIGHUP taken" reload "ca-file = \"$T_DIR/ca.pem\"
client-cert = optional"
	bindings none "$O13"
	check "optional: a client without a certificate is served (TLS 1.3, Binding answered)" \
		served none
	check "optional: a client of another CA is still refused (TLS 1.3, no answer)" \
		unanswered "$O13"
	check "optional: a client of the CA is served" s_client -tls1_2 $CLIENT
}
absent_ca() {
	reload "ca-file = \"$T_DIR/absent.pem\"" && { echo "  SIGHUP took it"; return 1; }
	grep -qF "refused; the running one stays: certificate: option 'ca-file': cannot load the CA certificates $T_DIR/absent.pem" \
		"$TURN_LOG" || { grep "refused" "$TURN_LOG" | tail -n 1 | sed 's/^/  | /'; return 1; }
}
check "a ca-file that does not load: SIGHUP refused, the log names option and file" absent_ca
check "after it: client-cert = optional still in force (TLS 1.2, no certificate)" s_client -tls1_2

check "turnd stops cleanly on SIGTERM" stop_turn_server
finish
