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
# About 10 s in all; each browser run is bounded by BROWSER_TIMEOUT
# (tests/e2e/browser_lib.sh, shared with the Firefox and cross tests).
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/e2e/browser_lib.sh"

need_chromium
start_browser_server

# browser TRANSPORT [PORT]: one Chromium run; its PASS/FAIL lines become
# ok/not ok.
browser() {
	# The python script kills Chromium itself; the outer timeout is a
	# backstop should the script hang.
	browser_run chromium "$T_DIR/browser-$1.out" $((BROWSER_TIMEOUT + 15)) \
		"${PYTHON3:-python3}" "$top_srcdir/tests/e2e/browser_test.py" \
		--turn "127.0.0.1:${2:-$PORT}" \
		--transport "$1" --user "$TURN_USER" --password "$TURN_PASS" \
		--messages 20 --timeout "$BROWSER_TIMEOUT" --tmpdir "$T_DIR"
}

start=$(date +%s)
browser udp
browser tcp
[ -n "$TLS_PORT" ] && browser tls "$TLS_PORT"
echo "  browser runs took $(( $(date +%s) - start )) s"

check "no Chromium process left behind" no_browser_left chromium
check "$TURN_SERVER_IMPL stops cleanly on SIGTERM" stop_turn_server
finish
