#!/bin/sh
# The relay-only browser test of tests/e2e/browser.sh, in Firefox: Debian's
# firefox-esr, headless, driven over WebDriver BiDi (no geckodriver:
# tests/e2e/drivers.py speaks the protocol Firefox serves with
# --remote-debugging-port). One Firefox loads tests/e2e/page.html once per
# transport: turn:...?transport=udp, ?transport=tcp and (turnd) turns:
# TURN over TLS. Firefox takes turns: only with a host name and checks the
# certificate: the URL names localhost, the certificate names it too, and
# the test CA is trusted in the throwaway profile (certutil). Each run:
# messages both ways in order, and getStats() on both sides shows a
# selected pair whose candidates are both relayed, over the transport
# asked for (tests/e2e/firefox_test.py).
#
# Server: turnd by default, TURN_SERVER_IMPL=coturn for Debian's
# turnserver (no TLS then). Needs firefox-esr, libnss3-tools and
# python3-websocket (scripts/deps.sh): missing, the test fails. About 25 s
# (Firefox's start is most of it), 120 s at most.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/e2e/browser_lib.sh"

need_firefox
start_browser_server

# Firefox's session opens after its idle start-up tasks: seconds on an
# idle machine, 30 s on a loaded one (--start-timeout); each page run takes
# 1-3 s of its 20 (the page gives up after 14). The 115 s backstop is
# above what a failing run takes (about 70 s).
start=$(date +%s)
browser_run firefox "$T_DIR/firefox.out" 115 \
	"$BIDI_PYTHON" "$top_srcdir/tests/e2e/firefox_test.py" \
	--turn "127.0.0.1:$PORT" ${TLS_PORT:+--tls-turn "localhost:$TLS_PORT" --ca "$T_DIR/ca.pem"} \
	--transports "udp,tcp${TLS_PORT:+,tls}" --user "$TURN_USER" --password "$TURN_PASS" \
	--messages 20 --timeout 20 --start-timeout 50 --tmpdir "$T_DIR"
echo "  firefox runs took $(( $(date +%s) - start )) s"

check "no Firefox process left behind" no_browser_left firefox
check "$TURN_SERVER_IMPL stops cleanly on SIGTERM" stop_turn_server
finish
