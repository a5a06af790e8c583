#!/bin/sh
# A Chromium peer and a Firefox peer relay to each other through the TURN
# server under test, relay only (tests/e2e/cross_test.py): each browser
# holds one RTCPeerConnection of tests/e2e/page.html (mode=peer), and the
# test is their signalling channel, passing the offer, the answer and the
# candidates from one to the other through its driver calls (DevTools
# protocol for Chromium, WebDriver BiDi for Firefox). Chromium offers over
# udp to Firefox over udp; then (turnd) Firefox offers over turns: to
# Chromium over tcp. Each run: messages both ways in order, both ends'
# selected pair relayed on both sides, over the transport each asked for.
#
# Server: turnd by default, TURN_SERVER_IMPL=coturn (udp run only). Needs
# chromium, firefox-esr, libnss3-tools and python3-websocket
# (scripts/deps.sh). About 25 s, 60 s at most.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/e2e/browser_lib.sh"

need_chromium
need_firefox
start_browser_server

# Both browsers start at once; Firefox's session opens after its idle
# start-up tasks (30 s on a loaded machine: --start-timeout 40). A run
# takes 1-3 s; a refused allocation fails it at once (cross_test.py).
start=$(date +%s)
browser_run cross "$T_DIR/cross.out" 58 \
	"$BIDI_PYTHON" "$top_srcdir/tests/e2e/cross_test.py" \
	--turn "127.0.0.1:$PORT" \
	${TLS_PORT:+--tls-turn "localhost:$TLS_PORT" --chromium-tls-turn "127.0.0.1:$TLS_PORT" --ca "$T_DIR/ca.pem"} \
	--user "$TURN_USER" --password "$TURN_PASS" \
	--messages 20 --timeout 15 --start-timeout 40 --tmpdir "$T_DIR"
echo "  cross runs took $(( $(date +%s) - start )) s"

check "no Chromium process left behind" no_browser_left chromium
check "no Firefox process left behind" no_browser_left firefox
check "$TURN_SERVER_IMPL stops cleanly on SIGTERM" stop_turn_server
finish
