#!/bin/sh
# The daemon's configuration and command line as an operator meets them:
# the sample file validates, every error names file, line and option, the
# embedded default runs and prints its demo user, signals behave.
. "$top_srcdir/tests/interop/lib.sh"

# expect_fail "description" "text the error must contain" turnd-args...
expect_fail() {
	desc=$1; want=$2; shift 2
	"$TURND" "$@" >"$T_DIR/out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -qF -- "$want" "$T_DIR/out"; then
		ok "$desc"
	else
		not_ok "$desc (status $rc, wanted '$want'):"; cat "$T_DIR/out"
	fi
}

# As shipped (and installed by the Debian package), the sample has no
# credential and sets require-credentials: refused until a user is set.
expect_fail "sample conf/turnd.conf refused: no credentials yet" \
	"turnd.conf: no credentials, and option 'require-credentials' is true" \
	--check-config -c "$top_srcdir/conf/turnd.conf"
{ cat "$top_srcdir/conf/turnd.conf"; echo 'user = "alice:wonderland"'; } >"$T_DIR/sample.conf"
check "sample conf/turnd.conf with a user validates" \
	"$TURND" --check-config -c "$T_DIR/sample.conf"

printf 'realm = "example.org"\n\nno-such-option = 1\n' > "$T_DIR/unknown.conf"
expect_fail "unknown option names file, line and option" "unknown.conf:3" \
	--check-config -c "$T_DIR/unknown.conf"
expect_fail "unknown option is named" "no-such-option" --check-config -c "$T_DIR/unknown.conf"

printf 'realm = "example.org"\nlistening-port = 70000\n' > "$T_DIR/port.conf"
expect_fail "bad port names line 2 and the option" "port.conf:2" \
	--check-config -c "$T_DIR/port.conf"
expect_fail "bad port names the option" "listening-port" --check-config -c "$T_DIR/port.conf"

printf 'listening-ip = { "127.0.0.1", "not-an-ip" }\n' > "$T_DIR/ip.conf"
expect_fail "bad listening-ip named" "listening-ip" --check-config -c "$T_DIR/ip.conf"

printf 'min-port = 60000\nmax-port = 50000\n' > "$T_DIR/range.conf"
expect_fail "min-port above max-port refused" "min-port" --check-config -c "$T_DIR/range.conf"

printf 'realm = "unterminated\n' > "$T_DIR/syntax.conf"
expect_fail "syntax error names the file" "syntax.conf" --check-config -c "$T_DIR/syntax.conf"

expect_fail "missing file is named" "$T_DIR/absent.conf" --check-config -c "$T_DIR/absent.conf"
expect_fail "unknown flag refused" "usage" --no-such-flag
expect_fail "port 0 refused" "--listening-port" -p 0
expect_fail "bad log level refused" "--log-level" -l loud

PORT=$(free_port)
expect_fail "an address this host does not have: bind error at start" "192.0.2.1" \
	-L 192.0.2.1 -p "$PORT"

# kernel-offload = on that cannot load (an interface this host does not
# have) refuses to start, saying why, as other start-up failures do.
printf 'listening-ip = { "127.0.0.1" }\nlistening-port = %s\nrelay-ip = { "127.0.0.1" }\nkernel-offload = on\nkernel-offload-interfaces = { "offsyncnone0" }\n' \
	"$PORT" >"$T_DIR/offload.conf"
expect_fail "kernel-offload = on that cannot load: refused at start" \
	"cannot start: kernel-offload = on:" -c "$T_DIR/offload.conf"

# The embedded default (no -c): runs and prints the demo user.
"$TURND" -L 127.0.0.1 -p "$PORT" >"$T_DIR/turnd.out" 2>"$T_DIR/turnd.log" &
TURND_PID=$!
answered=no
for _ in $(seq 1 50); do
	if "$TURNPROBE" stun "127.0.0.1:$PORT" --timeout 200 >/dev/null 2>&1; then answered=yes; break; fi
	sleep 0.1
done
check "embedded default answers Binding" [ "$answered" = yes ]
check "kernel-offload (auto): one line says whether it loaded" \
	grep -Eq "kernel-offload: (off: .*; relaying in user space|loaded on )" "$T_DIR/turnd.log"
check "embedded default prints the demo user" grep -q "demo user: demo  password: [A-Za-z0-9]\{16\}" "$T_DIR/turnd.out"
kill -HUP "$TURND_PID"
sleep 0.3
check "SIGHUP keeps the server running" "$TURNPROBE" stun "127.0.0.1:$PORT"
check "SIGHUP is logged" grep -q "SIGHUP" "$T_DIR/turnd.log"
kill -INT "$TURND_PID"
wait "$TURND_PID"
rc=$?
TURND_PID=""
check "SIGINT stops cleanly (status 0)" [ "$rc" -eq 0 ]

check "--version" sh -c "'$TURND' --version | grep -q '^turnd '"
check "--help lists --check-config" sh -c "'$TURND' --help | grep -q -- --check-config"
finish
