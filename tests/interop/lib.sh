# Shared helpers for the integration tests: start the real turnd binary on
# a free loopback port with a config the test writes, and stop it.
# Sourced by each test; uses TURND, TURNPROBE, top_srcdir from make check.

set -u
: "${TURND:?set by make check}"
: "${TURNPROBE:?set by make check}"
: "${top_srcdir:=.}"

T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "/tmp/turnd-$T_NAME.XXXXXX")
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

# Print the closing line and exit with the test's result.
finish() {
	echo "$T_NAME: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ] && [ "$T_PASS" -gt 0 ]
	exit $?
}
