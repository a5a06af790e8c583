# Shared helpers for the integration tests: start the real turnd binary on
# a free loopback port with a config the test writes, and stop it.
# Sourced by each test; uses TURND, TURNPROBE, top_srcdir from make check.

set -u
: "${TURND:?set by make check}"
: "${TURNPROBE:?set by make check}"
: "${top_srcdir:=.}"

T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "/tmp/turnd-$T_NAME.XXXXXX")
# turnd's default control socket goes in $RUNTIME_DIRECTORY: keep each
# test's in its own directory, not root's /run/turnd, since make check
# runs tests side by side.
# A directory of its own, as tests name "$T_DIR/control" for theirs.
RUNTIME_DIRECTORY=$T_DIR/run
mkdir -p "$RUNTIME_DIRECTORY"
export RUNTIME_DIRECTORY
T_PASS=0
T_FAIL=0
TURND_PID=""

cleanup() {
	if [ -n "$TURND_PID" ]; then
		kill -KILL "$TURND_PID" 2>/dev/null
		wait "$TURND_PID" 2>/dev/null
	fi
	rm -rf "$T_DIR"
}
trap cleanup EXIT

ok() { T_PASS=$((T_PASS + 1)); echo "ok - $*"; }
not_ok() { T_FAIL=$((T_FAIL + 1)); echo "not ok - $*"; }
check() { # check "description" command...
	desc=$1; shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# A port free for both UDP and TCP on loopback, from a range the tests own.
free_port() {
	for _ in $(seq 1 50); do
		p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000 ))
		if ! ss -Hluntap 2>/dev/null | awk '{print $5}' | grep -q ":$p\$"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# start_turnd CONFIG_TEXT [extra args]: writes the config, starts turnd in
# the background on $PORT and waits until it answers a Binding request.
start_turnd() {
	printf '%s\n' "$1" > "$T_DIR/turnd.conf"
	shift
	"$TURND" -c "$T_DIR/turnd.conf" "$@" >"$T_DIR/turnd.out" 2>"$T_DIR/turnd.log" &
	TURND_PID=$!
	for _ in $(seq 1 50); do
		if "$TURNPROBE" stun "127.0.0.1:$PORT" --timeout 200 >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$TURND_PID" 2>/dev/null; then
			echo "turnd exited at start:"; cat "$T_DIR/turnd.log"
			TURND_PID=""
			return 1
		fi
		sleep 0.1
	done
	echo "turnd did not answer on 127.0.0.1:$PORT"; cat "$T_DIR/turnd.log"
	return 1
}

# stop_turnd: SIGTERM, and the exit status must be 0 (a sanitizer report
# or a leak makes it non-zero).
stop_turnd() {
	kill -TERM "$TURND_PID"
	wait "$TURND_PID"
	rc=$?
	TURND_PID=""
	if [ "$rc" -ne 0 ]; then
		echo "turnd exited with status $rc:"; tail -n 60 "$T_DIR/turnd.log"
		return 1
	fi
	return 0
}

# ---- clients of the turnd under test ----

# batch_tally PREFIX FILE WANT: a batch client's output FILE, one ok or
# not ok per case: each becomes this test's, its description prefixed with
# PREFIX; other lines are shown indented; fewer than WANT cases is a failure.
batch_tally() {
	got=0
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) ok "$1: ${line#ok - }"; got=$((got + 1)) ;;
		"not ok - "*) not_ok "$1: ${line#not ok - }"; got=$((got + 1)) ;;
		*) printf '  %s\n' "$line" ;;
		esac
	done <"$2"
	[ "$got" -eq "$3" ] || not_ok "$1: $(($3 - got)) cases did not report"
}

# stun_ok: turnd still answers a Binding request on 127.0.0.1:$PORT.
stun_ok() { "$TURNPROBE" stun "127.0.0.1:$PORT" --timeout 1000 >/dev/null; }

# probe NAME ARGS...: turnprobe turn ARGS... (at most 40 s), its stdout in
# $T_DIR/NAME.out and its stderr in $T_DIR/NAME.err, both shown indented
# when PROBE_SHOW is set. Returns turnprobe's status, or 1 at once when
# the turnd this test started is gone (turnprobe would wait for it).
probe() {
	name=$1; shift
	if [ -n "$TURND_PID" ] && ! kill -0 "$TURND_PID" 2>/dev/null; then
		echo "  turnd is not running"
		return 1
	fi
	timeout 40 "$TURNPROBE" turn "$@" >"$T_DIR/$name.out" 2>"$T_DIR/$name.err"
	rc=$?
	[ -z "${PROBE_SHOW:-}" ] || sed 's/^/  /' "$T_DIR/$name.out" "$T_DIR/$name.err"
	return $rc
}

# probe_fails NAME LINE ARGS...: probe exits 1 and prints the line LINE
# (an error response, "turnprobe: Allocate: 401 Unauthorized"); else its
# status and output, unless PROBE_SHOW showed them already.
probe_fails() {
	name=$1 line=$2; shift 2
	probe "$name" "$@"
	rc=$?
	[ "$rc" -eq 1 ] && grep -qxF "$line" "$T_DIR/$name.err" && return 0
	echo "  exit $rc"
	[ -n "${PROBE_SHOW:-}" ] || sed 's/^/  | /' "$T_DIR/$name.out" "$T_DIR/$name.err"
	return 1
}

# probe_user USER PASS: a TURN session as USER through turnd on
# 127.0.0.1:$PORT to the echo peer on 127.0.0.1:$PEER_PORT, PROBE_COUNT
# echoes (default 3), all back; both outputs in $T_DIR/probe.out, its tail
# shown on failure when PROBE_TAIL is set.
probe_user() {
	probe probe "127.0.0.1:$PORT" -u "$1" -w "$2" --peer "127.0.0.1:$PEER_PORT" \
		-n "${PROBE_COUNT:-3}"
	rc=$?
	cat "$T_DIR/probe.err" >>"$T_DIR/probe.out" 2>/dev/null
	[ "$rc" -eq 0 ] && return 0
	[ -z "${PROBE_TAIL:-}" ] || tail -n 5 "$T_DIR/probe.out" | sed 's/^/  | /'
	return 1
}

# probe_nat TARGET ARGS...: turnprobe nat (RFC 5780 discovery), run in the
# network namespace PROBE_NS if set; its output in $T_DIR/probe.out and
# shown indented. Returns its status.
probe_nat() {
	# shellcheck disable=SC2086 # the prefix is a command with arguments
	${PROBE_NS:+ip netns exec $PROBE_NS} "$TURNPROBE" nat "$@" >"$T_DIR/probe.out" 2>&1
	rc=$?
	sed 's/^/  /' "$T_DIR/probe.out"
	return $rc
}

# natdiscovery ADDR: coturn's turnutils_natdiscovery -m -f (mapping and
# filtering) against ADDR:$PORT, in PROBE_NS if set, at most 60 s; its
# output in $T_DIR/nd.out, the verdicts and addresses shown. Returns its
# status.
natdiscovery() {
	# shellcheck disable=SC2086 # the prefix is a command with arguments
	timeout 60 ${PROBE_NS:+ip netns exec $PROBE_NS} turnutils_natdiscovery -m -f -p "$PORT" \
		"$1" >"$T_DIR/nd.out" 2>&1
	rc=$?
	sed -n '/NAT with\|Response origin\|Other addr\|reflexive/p' "$T_DIR/nd.out" | sed 's/^/  /'
	return $rc
}

# metric NAME-AND-LABELS: its value in turnd's /metrics on
# 127.0.0.1:$METRICS_PORT (in the network namespace METRICS_NS if set), 0
# when absent; nothing (and false) when the page cannot be read.
metric() {
	# shellcheck disable=SC2086 # the prefix is a command with arguments
	metrics_page=$(${METRICS_NS:+ip netns exec $METRICS_NS} curl -sf \
		"http://127.0.0.1:$METRICS_PORT/metrics") || return 1
	printf '%s\n' "$metrics_page" | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'
}

# config_refused WANT CONFIG: turnd --check-config refuses the
# configuration CONFIG and says WANT (a fixed string); else what it said.
config_refused() {
	printf '%s\n' "$2" >"$T_DIR/bad.conf"
	if "$TURND" --check-config -c "$T_DIR/bad.conf" >"$T_DIR/bad.out" 2>&1; then
		echo "  accepted"
		return 1
	fi
	grep -qF -- "$1" "$T_DIR/bad.out" && return 0
	echo "  wanted '$1':"; sed 's/^/  | /' "$T_DIR/bad.out"
	return 1
}

# ---- turnpeer, the echo peer ----
#
# A test starts "$TURNPEER" in the background with its pid in PEER_PID,
# its output in $T_DIR/peer.out and peer.err.

# stop_peer: SIGTERM, and turnpeer must exit 0 (a sanitizer report makes
# it non-zero); what it printed is shown indented when PEER_SHOW is set.
stop_peer() {
	kill -TERM "$PEER_PID"
	wait "$PEER_PID"
	rc=$?
	PEER_PID=""
	[ -z "${PEER_SHOW:-}" ] || sed 's/^/  /' "$T_DIR/peer.out"
	[ "$rc" -eq 0 ] && return 0
	echo "turnpeer exited with status $rc:"; tail -n 60 "$T_DIR/peer.err"
	return 1
}

# peer_cleanup: the exit trap of a test with a turnpeer: kill it, then
# cleanup (turnd, $T_DIR).
peer_cleanup() {
	if [ -n "${PEER_PID:-}" ]; then
		kill -KILL "$PEER_PID" 2>/dev/null
		wait "$PEER_PID" 2>/dev/null
		PEER_PID=""
	fi
	cleanup
}

# ---- network namespaces (tests run as root) ----
#
# A test sets NS_C (the client's namespace), NS_S (the server's) and, if
# it has one, NS_R (a router's); inc and ins run a command in them.
inc() { ip netns exec "$NS_C" "$@"; }
ins() { ip netns exec "$NS_S" "$@"; }

# netns_del NS: kill what still runs in NS, then delete it. Deleting alone
# would leave a process started with 'ip netns exec' (a peer a subshell
# spawned) running, and the namespace with it.
netns_del() {
	for pid in $(ip netns pids "$1" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
	ip netns del "$1" 2>/dev/null
}

# netns_cleanup: delete the test's namespaces and what runs in them.
netns_cleanup() {
	for ns in "$NS_C" ${NS_R:+"$NS_R"} "$NS_S"; do netns_del "$ns"; done
}

# netns_up ADDR: the turnd started in NS_S (TURND_PID) answers a Binding
# request on ADDR:$PORT from NS_C, within 5 s; else its log.
netns_up() {
	for _ in $(seq 1 50); do
		inc "$TURNPROBE" stun "$1:$PORT" --timeout 200 >/dev/null 2>&1 && return 0
		kill -0 "$TURND_PID" 2>/dev/null || { cat "$T_DIR/turnd.log"; return 1; }
		sleep 0.1
	done
	cat "$T_DIR/turnd.log"
	return 1
}

# Print the closing line and exit with the test's result.
finish() {
	echo "$T_NAME: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ] && [ "$T_PASS" -gt 0 ]
	exit $?
}
