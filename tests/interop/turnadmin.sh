#!/bin/sh
# turnadmin against a real redis-server on a free loopback port (no
# persistence): users and secrets added, listed and deleted in coturn's key
# schema; the stored keys equal md5sum and sha256sum of name:realm:password;
# a username such as 'a%s%n%x%p' is stored under its literal key; SCAN walks
# past 1,500 unrelated keys and a realm's glob characters match only
# themselves; ACL login, a wrong password, a dead server and bad arguments
# give exit 1 or 2 with a message. Then the `key` line goes into a real
# turnd's configuration and turnprobe allocates and echoes through turnpeer
# with that user and password. Bounded: every client run is under
# `timeout`. Fails without redis-server and redis-cli (make check installs them).
. "$top_srcdir/tests/interop/lib.sh"

: "${TURNPEER:?set by make check}"
# The sanitizer wrapper sets TURND_SANITIZED: use turnadmin-san then.
if [ -n "${TURND_SANITIZED:-}" ] && [ -x "${top_builddir:-.}/turnadmin-san" ]; then
	: "${TURNADMIN:=$top_builddir/turnadmin-san}"
fi
: "${TURNADMIN:=${top_builddir:-.}/turnadmin}"
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
REALM=example.org
ACL_PASS=adminpw
REDIS_PID=""
PEER_PID=""

for tool in "$REDIS_SERVER" "$REDIS_CLI"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "not ok - $tool not found (scripts/deps.sh installs redis-server)"; exit 1; }
done
[ -x "$TURNADMIN" ] || { not_ok "TURNADMIN=$TURNADMIN is not executable (build it first)"; finish; }
echo "# turnadmin: $TURNADMIN"

admin_cleanup() {
	for pid in "$REDIS_PID" "$PEER_PID"; do
		[ -n "$pid" ] || continue
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	cleanup
}
trap admin_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

RPORT=$(free_port) || { not_ok "a free port"; finish; }

# rcli ARGS...: redis-cli on the test's server, as the ACL user.
rcli() {
	timeout 10 "$REDIS_CLI" -h 127.0.0.1 -p "$RPORT" --user admin --pass "$ACL_PASS" \
		--no-auth-warning --raw "$@"
}

# The default user is off: every command must log in as "admin" (Redis 6
# ACL), which also checks --redis-user, -a and REDISCLI_AUTH.
start_redis() {
	"$REDIS_SERVER" --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$T_DIR" --unixsocket "$T_DIR/redis.sock" --unixsocketperm 700 \
		--user default off --user admin on ">$ACL_PASS" "~*" "+@all" \
		>"$T_DIR/redis.log" 2>&1 &
	REDIS_PID=$!
	for _ in $(seq 1 50); do
		[ "$(rcli PING 2>/dev/null)" = PONG ] && return 0
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "redis-server did not start:"; cat "$T_DIR/redis.log"
	return 1
}

# admin COMMAND ARGS...: turnadmin over TCP as the ACL user; stdout in
# $T_DIR/out, stderr in $T_DIR/err (shown indented).
admin() {
	REDISCLI_AUTH=$ACL_PASS timeout 20 "$TURNADMIN" "$@" -P "$RPORT" --redis-user admin \
		>"$T_DIR/out" 2>"$T_DIR/err"
	rc=$?
	sed 's/^/  /' "$T_DIR/err"
	return $rc
}

# bare ARGS...: turnadmin with no login; stdout and stderr as for admin.
bare() {
	env -u REDISCLI_AUTH timeout 20 "$TURNADMIN" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
	rc=$?
	sed 's/^/  /' "$T_DIR/err"
	return $rc
}

# bare_grep WORD ARGS...: bare ARGS, whose exit status it returns, and
# WORD must be in the message (otherwise 99).
bare_grep() {
	word=$1; shift
	bare "$@"
	rc=$?
	grep -q "$word" "$T_DIR/err" || return 99
	return $rc
}

stop_redis() {
	kill -TERM "$REDIS_PID"
	wait "$REDIS_PID"
	rc=$?
	REDIS_PID=""
	[ "$rc" -eq 0 ] || { echo "  redis-server exited with $rc"; tail -n 5 "$T_DIR/redis.log"; }
	[ "$rc" -eq 0 ]
}

# status WANT COMMAND...: COMMAND exits with WANT and, for WANT != 0,
# says something on stderr.
status() {
	want_rc=$1; shift
	"$@"
	rc=$?
	[ "$rc" -eq "$want_rc" ] || { echo "  exit $rc, expected $want_rc"; return 1; }
	[ "$want_rc" -eq 0 ] || [ -s "$T_DIR/err" ]
}

# same GOT WANT: equal, or both shown.
same() {
	[ "$1" = "$2" ] && return 0
	printf '  got:  %s\n  want: %s\n' "$1" "$2"
	return 1
}

md5_of() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }
sha256_of() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
ukey() { printf 'turn/realm/%s/user/%s/%s' "$1" "$2" "$3"; }

start_redis || { not_ok "redis-server on 127.0.0.1:$RPORT"; finish; }
ok "redis-server on 127.0.0.1:$RPORT"

# ------------------------------------------------------------------ users

check "add-user alice" status 0 admin add-user -r "$REALM" -u alice -p pass
check "key = md5sum of alice:$REALM:pass" \
	same "$(rcli GET "$(ukey "$REALM" alice key)")" "$(md5_of "alice:$REALM:pass")"
check "key-sha256 = sha256sum of alice:$REALM:pass" \
	same "$(rcli GET "$(ukey "$REALM" alice key-sha256)")" "$(sha256_of "alice:$REALM:pass")"

odd='a%s%n%x%p'
check "add-user '$odd'" status 0 admin add-user -r "$REALM" -u "$odd" -p pass
check "'$odd' stored under its literal key" \
	same "$(rcli GET "$(ukey "$REALM" "$odd" key)")" "$(md5_of "$odd:$REALM:pass")"
check "'$odd' key-sha256 under its literal key" \
	same "$(rcli GET "$(ukey "$REALM" "$odd" key-sha256)")" "$(sha256_of "$odd:$REALM:pass")"

check "add-user bob over the unix socket (-S)" status 0 env REDISCLI_AUTH="$ACL_PASS" \
	timeout 20 "$TURNADMIN" add-user -r "$REALM" -u bob -p builder -S "$T_DIR/redis.sock" \
	--redis-user admin
check "add-user carol with -a" status 0 timeout 20 "$TURNADMIN" add-user -r "$REALM" \
	-u carol -p tiger -P "$RPORT" --redis-user admin -a "$ACL_PASS"
check "add-user again replaces the key" status 0 admin add-user -r "$REALM" -u carol -p lion
check "carol's key is the new one" \
	same "$(rcli GET "$(ukey "$REALM" carol key)")" "$(md5_of "carol:$REALM:lion")"
name513=$(printf '%0513d' 0)
check "a 513-byte name is accepted" status 0 admin add-user -r "$REALM" -u "$name513" -p x
check "a realm with glob characters" status 0 admin add-user -r 'example.*' -u zed -p x

# 1,500 unrelated keys, so that SCAN (COUNT 1000) needs several rounds.
seq 1 1500 | sed 's/^/SET noise:/; s/$/ x/' | rcli >/dev/null
want=$(printf '%s\n' alice bob carol "$odd" "$name513" | LC_ALL=C sort)
admin list-users -r "$REALM"
check "list-users: every name, sorted, over several SCAN rounds" \
	same "$(cat "$T_DIR/out")" "$want"
admin list-users -r 'example.*'
check "list-users 'example.*' lists only its own user" same "$(cat "$T_DIR/out")" zed

check "del-user bob" status 0 admin del-user -r "$REALM" -u bob
check "both of bob's keys are gone" same "$(rcli EXISTS "$(ukey "$REALM" bob key)" \
	"$(ukey "$REALM" bob key-sha256)")" 0
check "del-user bob again: exit 1" status 1 admin del-user -r "$REALM" -u bob
admin list-users -r "$REALM"
check "list-users after the delete" same "$(cat "$T_DIR/out")" \
	"$(printf '%s\n' "$want" | grep -vx bob)"

# ---------------------------------------------------------------- secrets

check "add-secret s3cret" status 0 admin add-secret -r "$REALM" -s s3cret
check "add-secret 'two words'" status 0 admin add-secret -r "$REALM" -s 'two words'
check "add-secret twice is not an error" status 0 admin add-secret -r "$REALM" -s s3cret
check "secrets are a SET at turn/realm/$REALM/secret" \
	same "$(rcli SMEMBERS "turn/realm/$REALM/secret" | LC_ALL=C sort)" "$(printf 's3cret\ntwo words')"
admin list-secrets -r "$REALM"
check "list-secrets" same "$(cat "$T_DIR/out")" "$(printf 's3cret\ntwo words')"
check "del-secret s3cret" status 0 admin del-secret -r "$REALM" -s s3cret
check "del-secret s3cret again: exit 1" status 1 admin del-secret -r "$REALM" -s s3cret
admin list-secrets -r "$REALM"
check "list-secrets after the delete" same "$(cat "$T_DIR/out")" "two words"
rcli SET "turn/realm/wrong.type/secret" x >/dev/null
check "list-secrets on a key of the wrong type: exit 1" \
	status 1 admin list-secrets -r wrong.type

# ------------------------------------------------------------ the key line

check "key prints the turnd.conf line" same \
	"$(timeout 10 "$TURNADMIN" key -r "$REALM" -u alice -p pass)" \
	"user = { \"alice:0x$(md5_of "alice:$REALM:pass")\" }"
check "key is the key add-user stored" same \
	"$(timeout 10 "$TURNADMIN" key -r "$REALM" -u alice -p pass | sed 's/.*:0x\([0-9a-f]*\)".*/\1/')" \
	"$(rcli GET "$(ukey "$REALM" alice key)")"

# ----------------------------------------------------------------- errors

check "wrong Redis password: exit 1, WRONGPASS" status 1 bare_grep WRONGPASS list-users \
	-r "$REALM" -P "$RPORT" --redis-user admin -a wrong
check "no login (default user off): exit 1, NOAUTH" status 1 bare_grep NOAUTH list-users \
	-r "$REALM" -P "$RPORT"
DEAD=$(free_port)
check "no Redis on the port: exit 1" status 1 bare list-users -r "$REALM" -P "$DEAD"
check "list-users without -r: exit 2" status 2 admin list-users
check "an empty name: exit 2" status 2 admin add-user -r "$REALM" -u "" -p x
check "a 514-byte name: exit 2" status 2 admin add-user -r "$REALM" -u "${name513}1" -p x
check "a name with a tab: exit 2" status 2 admin add-user -r "$REALM" -u "$(printf 'a\tb')" -p x
check "a password SASLprep refuses: exit 2" status 2 admin add-user -r "$REALM" -u d \
	-p "$(printf '\377')"
check "-u for list-secrets: exit 2" status 2 admin list-secrets -r "$REALM" -u alice
check "key with ':' in the name: exit 2" status 2 bare key -r "$REALM" -u a:b -p x
check "key with a connection option: exit 2" status 2 bare key -r "$REALM" -u a -p x -P 1
check "an unknown command: exit 2" status 2 bare frob
check "nothing was written for the refused names" \
	same "$(rcli --scan --pattern 'turn/realm/example.org/user/*' | wc -l | tr -d ' ')" 8

check "redis-server stops on SIGTERM" stop_redis

# ---------------------------------- the key line in a real turnd's config

PORT=$(free_port) || { not_ok "a free port"; finish; }
PEER_PORT=$(free_port)
while [ "$PEER_PORT" = "$PORT" ]; do PEER_PORT=$(free_port); done
MINPORT=$(( 10000 + ($(od -An -N2 -tu2 /dev/urandom) % 40) * 250 ))
weird='we"ir\d${HOME}x'
line1=$(timeout 10 "$TURNADMIN" key -r "$REALM" -u alice -p pass)
line2=$(timeout 10 "$TURNADMIN" key -r "$REALM" -u "$weird" -p 'pa ss' | sed 's/^user = /user += /')

"$TURNPEER" -L 127.0.0.1 -p "$PEER_PORT" >"$T_DIR/peer.out" 2>"$T_DIR/peer.err" &
PEER_PID=$!
start_turnd "listening-ip = \"127.0.0.1\"
listening-port = $PORT
relay-ip = \"127.0.0.1\"
min-port = $MINPORT
max-port = $((MINPORT + 249))
realm = \"$REALM\"
allowed-peer-ip = \"127.0.0.1\"
$line1
$line2
log-level = \"info\"" || { not_ok "turnd with the key lines"; finish; }
ok "turnd accepts the lines of turnadmin key"

# probe NAME ARGS...: turnprobe turn through turnpeer, 5 echoes back.
probe() {
	name=$1; shift
	timeout 40 "$TURNPROBE" turn "127.0.0.1:$PORT" --peer "127.0.0.1:$PEER_PORT" "$@" \
		>"$T_DIR/$name.out" 2>"$T_DIR/$name.err"
	rc=$?
	sed 's/^/  /' "$T_DIR/$name.out" "$T_DIR/$name.err"
	[ "$rc" -eq 0 ] && grep -q '^5/5 echoed over' "$T_DIR/$name.out"
}

# probe_refused ARGS...: turnprobe turn exits 1 on a 401.
probe_refused() {
	timeout 40 "$TURNPROBE" turn "127.0.0.1:$PORT" --peer "127.0.0.1:$PEER_PORT" "$@" \
		>"$T_DIR/refused.out" 2>&1
	rc=$?
	sed 's/^/  /' "$T_DIR/refused.out"
	[ "$rc" -eq 1 ] && grep -q 'Allocate: 401 Unauthorized' "$T_DIR/refused.out"
}
check "turnprobe turn as alice, with the key line" probe alice -u alice -w pass
check "turnprobe turn as '$weird' (quotes, backslash, \${...} kept literally)" \
	probe weird -u "$weird" -w 'pa ss'
check "turnprobe turn as alice, wrong password: 401" probe_refused -u alice -w nope
check "turnd stops cleanly" stop_turnd
kill -TERM "$PEER_PID" 2>/dev/null
wait "$PEER_PID" 2>/dev/null
PEER_PID=""
finish
