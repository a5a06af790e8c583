#!/bin/sh
# End to end with a real browser: headless Chromium opens a WebRTC data
# channel between two RTCPeerConnections of one page (tests/e2e/page.html),
# each with the TURN server under test as its only ICE server and
# iceTransportPolicy 'relay', once with turn:...?transport=udp, once
# with ?transport=tcp, and (turnd) once with turns:...?transport=tcp, TURN
# over TLS with a throwaway certificate that Chromium is told to accept
# (--ignore-certificate-errors). Messages must go both ways, and getStats() on both
# sides must show a selected candidate pair whose local candidate is
# 'relay' (see browser_test.py, which also records what Chromium needed).
#
# Server: turnd by default, TURN_SERVER_IMPL=coturn for Debian's
# turnserver (tests/interop/turn_lib.sh). Needs Debian's chromium
# (CHROMIUM=path to override), which scripts/deps.sh installs: a missing
# browser fails the test rather than skipping it.
# About 10 s in all; each browser run is bounded by BROWSER_TIMEOUT.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

BROWSER_TIMEOUT=25 # seconds for one browser run

if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/lib/chromium/chromium ] &&
	! command -v chromium >/dev/null 2>&1; then
	not_ok "chromium installed (scripts/deps.sh check installs it)"
	finish
fi

# turns: for turnd (the coturn harness runs coturn with --no-tls).
TLS_PORT=""
if [ "$TURN_SERVER_IMPL" = turnd ]; then
	if tls_certs && pick_port TLS_PORT; then
		TURND_EXTRA_CONF="tls-listening-port = $TLS_PORT
cert = \"$T_DIR/cert.pem\"
pkey = \"$T_DIR/key.pem\""
	else
		not_ok "throwaway TLS certificate made with openssl, and a port for it"
		TLS_PORT=""
	fi
fi
start_turn_server || { not_ok "start $TURN_SERVER_IMPL"; finish; }
ok "$TURN_SERVER_IMPL up on 127.0.0.1/[::1] port $PORT${TLS_PORT:+ (TLS $TLS_PORT)}, relay ports $MINPORT-$MAXPORT"

# browser TRANSPORT [PORT]: one Chromium run; its PASS/FAIL lines become
# ok/not ok.
browser() {
	# The python script kills Chromium itself; the outer timeout is a
	# backstop should the script hang.
	spawn timeout -k 5 $((BROWSER_TIMEOUT + 15)) "${PYTHON3:-python3}" \
		"$top_srcdir/tests/e2e/browser_test.py" --turn "127.0.0.1:${2:-$PORT}" \
		--transport "$1" --user "$TURN_USER" --password "$TURN_PASS" \
		--messages 20 --timeout "$BROWSER_TIMEOUT" --tmpdir "$T_DIR" \
		>"$T_DIR/browser-$1.out" 2>&1
	reap "$BG_PID"
	rc=$?
	n=0
	while IFS= read -r line; do
		case "$line" in
		"PASS "*) ok "chromium ${line#PASS }"; n=$((n + 1)) ;;
		"FAIL "*) not_ok "chromium ${line#FAIL }"; n=$((n + 1)) ;;
		"# chromium "*) echo "  ${line#\# }" | cut -c1-400 ;;
		*) echo "  $line" ;;
		esac
	done <"$T_DIR/browser-$1.out"
	if [ "$n" -eq 0 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; }; then
		not_ok "chromium $1: browser_test.py ended with status $rc"
	fi
	if [ "$rc" -ne 0 ]; then
		echo "  server log ($TURN_LOG), last lines:"
		tail -n 20 "$TURN_LOG" | sed 's/^/  | /'
	fi
}

start=$(date +%s)
browser udp
browser tcp
[ -n "$TLS_PORT" ] && browser tls "$TLS_PORT"
echo "  browser runs took $(( $(date +%s) - start )) s"

# Nothing of this test's Chromium (its profile is in $T_DIR) may outlive it.
no_chromium_left() {
	left=$(ps -eo pid=,stat=,args= | awk '$2 !~ /^Z/' | grep -F "$T_DIR/turnd-e2e-chromium." | grep -v grep)
	[ -z "$left" ] || { echo "$left"; return 1; }
}
check "no Chromium process left behind" no_chromium_left
check "$TURN_SERVER_IMPL stops cleanly on SIGTERM" stop_turn_server
finish
