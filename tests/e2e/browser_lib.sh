# What the browser tests share (tests/e2e/browser.sh for Chromium,
# browser_firefox.sh for Firefox, browser_cross.sh for one of each): the
# TURN server under test with a TLS listener, running a driver script and
# turning its PASS/FAIL lines into ok / not ok, and checking that no
# browser process outlives the test. Sourced after lib.sh and turn_lib.sh.

BROWSER_TIMEOUT=25 # seconds for one browser run (one page, one transport)
# The driver scripts import each other: no __pycache__ in the source tree.
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

# The test certificate also names localhost: Firefox takes turns: with a
# host name only (see drivers.py). Chromium is told to accept any.
TLS_CERT_SAN="DNS:localhost, IP:127.0.0.1, IP:::1"

# need_chromium: fail (not skip) without Debian's chromium.
need_chromium() {
	if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/lib/chromium/chromium ] &&
		! command -v chromium >/dev/null 2>&1; then
		not_ok "chromium installed (scripts/deps.sh check installs it)"
		finish
	fi
}

# need_firefox: fail (not skip) without Debian's firefox-esr, certutil
# (libnss3-tools) and a python3 that imports websocket (python3-websocket,
# which only Debian's /usr/bin/python3 sees when a pyenv or venv python3
# comes first on PATH). Sets BIDI_PYTHON.
need_firefox() {
	missing=""
	if [ -z "${FIREFOX:-}" ] && ! command -v firefox-esr >/dev/null 2>&1; then
		missing="$missing firefox-esr"
	fi
	command -v certutil >/dev/null 2>&1 || missing="$missing libnss3-tools"
	BIDI_PYTHON=""
	for py in "${PYTHON3:-python3}" /usr/bin/python3; do
		if "$py" -c 'import websocket' 2>/dev/null; then
			BIDI_PYTHON=$py
			break
		fi
	done
	[ -n "$BIDI_PYTHON" ] || missing="$missing python3-websocket"
	if [ -n "$missing" ]; then
		not_ok "installed:$missing (scripts/deps.sh check installs them)"
		finish
	fi
}

# start_browser_server: the TURN server under test on PORT and, for
# turnd, TLS on TLS_PORT with a certificate from the test CA
# ($T_DIR/ca.pem); coturn runs with --no-tls here, so TLS_PORT is empty.
start_browser_server() {
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
}

# browser_run LABEL OUT SECONDS CMD...: run a driver script (at most
# SECONDS, a backstop: the scripts bound themselves and kill their
# browsers) with its output in OUT; its "PASS x" / "FAIL x" lines become
# ok / not ok "LABEL x", its "# LABEL ..." lines are shown cut short.
browser_run() {
	label=$1 out=$2 secs=$3
	shift 3
	spawn timeout -k 5 "$secs" "$@" >"$out" 2>&1
	reap "$BG_PID"
	rc=$?
	n=0
	while IFS= read -r line; do
		case "$line" in
		"PASS "*) ok "$label ${line#PASS }"; n=$((n + 1)) ;;
		"FAIL "*) not_ok "$label ${line#FAIL }"; n=$((n + 1)) ;;
		"# $label "*) echo "  ${line#\# }" | cut -c1-400 ;;
		*) echo "  $line" ;;
		esac
	done <"$out"
	if [ "$n" -eq 0 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; }; then
		not_ok "$label $(basename "$out" .out): $(basename "$2") ended with status $rc"
	fi
	if [ "$rc" -ne 0 ]; then
		echo "  server log ($TURN_LOG), last lines:"
		tail -n 20 "$TURN_LOG" | sed 's/^/  | /'
	fi
}

# no_browser_left NAME: nothing of this test's browser NAME (its profile
# is $T_DIR/turnd-e2e-NAME.*, named on the command line or, for helpers
# such as Firefox's crashhelper, in XDG_* of the environment) may outlive
# it.
no_browser_left() {
	left=$(ps -eo pid=,stat=,args= | awk '$2 !~ /^Z/' | grep -F "$T_DIR/turnd-e2e-$1." | grep -v grep)
	for f in $(grep -l -F "$T_DIR/turnd-e2e-$1." /proc/[0-9]*/environ 2>/dev/null); do
		left="$left${left:+
}$(ps -o pid=,args= -p "$(basename "$(dirname "$f")")")"
	done
	[ -z "$left" ] || { echo "$left"; return 1; }
}
