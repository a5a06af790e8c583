#!/bin/sh
# turnadmin against a real redis-server on a free loopback port (no
# persistence): users and secrets added, listed and deleted in coturn's key
# schema; the stored keys equal md5sum and sha256sum of name:realm:password;
# a username such as 'a%s%n%x%p' is stored under its literal key; SCAN walks
# past 1,500 unrelated keys and a realm's glob characters match only
# themselves; ACL login, a wrong password, a dead server and bad arguments
# give exit 1 or 2 with a message. The realm's settings: set-limit writes
# and deletes coturn's limit keys, add/del-peer-range change the range
# sets, bad numbers and ranges are refused; show-realm prints limits,
# ranges, a live node and a user's allocation count over live nodes only;
# events prints stream entries written with redis-cli. Then the `key` line
# goes into a real turnd's configuration and turnprobe allocates and echoes
# through turnpeer with that user and password; and a turnd with Redis
# events shows, through turnadmin, its liveness key and the events of a
# real allocation. Bounded: every client run is under `timeout`. Fails
# without redis-server and redis-cli (make check installs them).
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

. "$top_srcdir/tests/interop/redis_lib.sh"
# redis_lib.sh's rcli ARGS...: redis-cli on the test's server, as the ACL
# user.
RCLI_OPTS="--user admin --pass $ACL_PASS --no-auth-warning --raw"

# The default user is off: every command must log in as "admin" (Redis 6
# ACL), which also checks --redis-user, -a and REDISCLI_AUTH.
start_acl_redis() {
	start_redis --dir "$T_DIR" --unixsocket "$T_DIR/redis.sock" --unixsocketperm 700 \
		--user default off --user admin on ">$ACL_PASS" "~*" "+@all"
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

# admin_grep WORD ARGS...: admin ARGS, whose exit status it returns, and
# WORD must be in the message (otherwise 99).
admin_grep() {
	word=$1; shift
	admin "$@"
	rc=$?
	grep -qF -- "$word" "$T_DIR/err" || return 99
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

start_acl_redis || { not_ok "redis-server on 127.0.0.1:$RPORT"; finish; }
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

# ---------------------------------------------------- the realm's settings

FR=fleet.example
rkey() { printf 'turn/realm/%s/%s' "$FR" "$1"; }

check "set-limit --user-quota 10 --max-bps 500000" \
	status 0 admin set-limit -r "$FR" --user-quota 10 --max-bps 500000
check "user-quota is the string 10" same "$(rcli GET "$(rkey user-quota)")" 10
check "max-bps is the string 500000" same "$(rcli GET "$(rkey max-bps)")" 500000
check "total-quota was not written" same "$(rcli EXISTS "$(rkey total-quota)")" 0
check "set-limit --total-quota 007" status 0 admin set-limit -r "$FR" --total-quota 007
check "total-quota is written as 7" same "$(rcli GET "$(rkey total-quota)")" 7
check "set-limit --max-bps unset --user-quota 3" \
	status 0 admin set-limit -r "$FR" --max-bps unset --user-quota 3
check "unset deleted max-bps, user-quota is 3" \
	same "$(rcli EXISTS "$(rkey max-bps)") $(rcli GET "$(rkey user-quota)")" "0 3"
check "set-limit --total-quota unset" status 0 admin set-limit -r "$FR" --total-quota unset
check "total-quota deleted" same "$(rcli EXISTS "$(rkey total-quota)")" 0
check "unset of an absent key is not an error" \
	status 0 admin set-limit -r "$FR" --total-quota unset
check "set-limit --user-quota 12x: exit 2 naming it" \
	status 2 admin_grep "'12x'" set-limit -r "$FR" --user-quota 12x
check "set-limit --max-bps -1: exit 2 naming it" \
	status 2 admin_grep "'-1'" set-limit -r "$FR" --max-bps -1
check "set-limit --total-quota 2147483648 (over turnd.conf's bound): exit 2" \
	status 2 admin_grep "2147483648" set-limit -r "$FR" --total-quota 2147483648
check "set-limit without a limit: exit 2" status 2 admin set-limit -r "$FR"
check "set-limit --user-quota 4 --max-bps x writes nothing" \
	status 2 admin set-limit -r "$FR" --user-quota 4 --max-bps x
check "the refused set-limits left user-quota 3" same "$(rcli GET "$(rkey user-quota)")" 3

check "add-peer-range --allowed 127.0.0.1" \
	status 0 admin add-peer-range -r "$FR" --allowed 127.0.0.1
check "add-peer-range --denied 10.0.0.0/8" \
	status 0 admin add-peer-range -r "$FR" --denied 10.0.0.0/8
check "add-peer-range 2001:db8::1-2001:db8::ff --denied (operand first)" \
	status 0 admin add-peer-range -r "$FR" 2001:db8::1-2001:db8::ff --denied
check "add-peer-range twice is not an error" \
	status 0 admin add-peer-range -r "$FR" --denied 10.0.0.0/8
check "allowed-peer-ip is the set {127.0.0.1}" \
	same "$(rcli SMEMBERS "$(rkey allowed-peer-ip)")" 127.0.0.1
check "denied-peer-ip is the set {10.0.0.0/8, 2001:db8::1-2001:db8::ff}" \
	same "$(rcli SMEMBERS "$(rkey denied-peer-ip)" | LC_ALL=C sort)" \
	"$(printf '10.0.0.0/8\n2001:db8::1-2001:db8::ff')"
check "a bad range (10.0.0.0/33): exit 2 naming it" \
	status 2 admin_grep "'10.0.0.0/33'" add-peer-range -r "$FR" --denied 10.0.0.0/33
check "a range with lo > hi: exit 2 naming it" \
	status 2 admin_grep "'192.0.2.9-192.0.2.1'" add-peer-range -r "$FR" --denied 192.0.2.9-192.0.2.1
check "a host name is not a range: exit 2" \
	status 2 admin_grep "'example.com'" del-peer-range -r "$FR" --denied example.com
check "--allowed with --denied: exit 2" \
	status 2 admin add-peer-range -r "$FR" --allowed --denied 192.0.2.1
check "neither --allowed nor --denied: exit 2" status 2 admin add-peer-range -r "$FR" 192.0.2.1
check "no RANGE: exit 2" status 2 admin add-peer-range -r "$FR" --allowed
check "two RANGEs: exit 2" status 2 admin add-peer-range -r "$FR" --allowed 192.0.2.1 192.0.2.2
check "the refused ranges were not added" \
	same "$(rcli SCARD "$(rkey denied-peer-ip)") $(rcli SCARD "$(rkey allowed-peer-ip)")" "2 1"
check "del-peer-range --denied 10.1.2.3/8 deletes 10.0.0.0/8, the same range" \
	status 0 admin del-peer-range -r "$FR" --denied 10.1.2.3/8
check "denied-peer-ip after the delete" \
	same "$(rcli SMEMBERS "$(rkey denied-peer-ip)")" 2001:db8::1-2001:db8::ff
check "del-peer-range of a range not in the set: exit 1" \
	status 1 admin_grep "no range" del-peer-range -r "$FR" --denied 10.0.0.0/8
check "del-peer-range --allowed of a denied range: exit 1" \
	status 1 admin del-peer-range -r "$FR" --allowed 2001:db8::1-2001:db8::ff

# A live node n1 and one (n2) whose liveness key is gone: alice's total
# counts n1's 2 allocations only. A realm with a glob character sees none
# of it.
rcli SET "$(rkey node/n1)" "pid 1" EX 60 >/dev/null
rcli HSET "$(rkey user/alice/allocations)" n1 "5:2" n2 "3:1" >/dev/null
check "show-realm" status 0 admin show-realm -r "$FR"
sed 's/^/  | /' "$T_DIR/out"
check "show-realm: the limits, (config) for those unset" \
	same "$(sed -n '2,4p' "$T_DIR/out")" "$(printf 'max-bps (config)\nuser-quota 3\ntotal-quota (config)')"
check "show-realm: the ranges" \
	same "$(grep -E '^(allowed|denied)-peer-ip ' "$T_DIR/out")" \
	"$(printf 'allowed-peer-ip 127.0.0.1\ndenied-peer-ip 2001:db8::1-2001:db8::ff')"
check "show-realm: node n1 with its TTL (1-60 s) and value" \
	grep -Eqx 'node n1 ttl ([1-9]|[1-5][0-9]|60) pid 1' "$T_DIR/out"
check "show-realm: alice's 2 allocations on n1, n2 (not live) shown but not counted" \
	grep -qx 'user alice allocations 2: n1 2, n2 1 (not live)' "$T_DIR/out"
check "show-realm: the whole output" same "$(sed 's/ ttl [0-9]* / ttl T /' "$T_DIR/out")" \
	"realm $FR
max-bps (config)
user-quota 3
total-quota (config)
allowed-peer-ip 127.0.0.1
denied-peer-ip 2001:db8::1-2001:db8::ff
node n1 ttl T pid 1
user alice allocations 2: n1 2, n2 1 (not live)"
check "show-realm 'fleet.*' sees nothing of $FR" status 0 admin show-realm -r 'fleet.*'
check "  ... nodes (none), users (none)" \
	same "$(grep -E '^(node|user) ' "$T_DIR/out")" "$(printf 'node (none)\nuser (none)')"

# Three events, one with a space in the user name (escaped as \x20).
ev() { # ev EVENT USER BYTES: XADD of an event; prints its id
	rcli XADD "$(rkey events)" '*' event "$1" node n1 user "$2" transport udp \
		client 192.0.2.1:5000 relay 192.0.2.2:6000 lifetime 600 \
		client_to_peer_bytes "$3" peer_to_client_bytes "$(($3 * 2))" \
		client_to_peer_packets 3 peer_to_client_packets 4
}
id1=$(ev created alice 0)
id2=$(ev deleted alice 100)
id3=$(ev created 'b b' 7)
line() { # line ID EVENT USER BYTES
	printf '%s %s user=%s node=n1 transport=udp client=192.0.2.1:5000 relay=192.0.2.2:6000 lifetime=600 to-peer=%s/3 from-peer=%s/4' \
		"$1" "$2" "$3" "$4" "$(($4 * 2))"
}
check "events" status 0 admin events -r "$FR"
sed 's/^/  | /' "$T_DIR/out"
check "events: every entry, oldest first, one line each" same "$(cat "$T_DIR/out")" \
	"$(line "$id1" created alice 0)
$(line "$id2" deleted alice 100)
$(line "$id3" created 'b\x20b' 7)"
admin events -r "$FR" -c 2
check "events -c 2: the last two, oldest first" same "$(cut -d' ' -f1 "$T_DIR/out" | tr '\n' ' ')" \
	"$id2 $id3 "
check "events of a realm without a stream: nothing, exit 0" status 0 admin events -r nowhere
check "  ... prints nothing" same "$(cat "$T_DIR/out")" ""
check "events -c 0: exit 2" status 2 admin events -r "$FR" -c 0
check "events -u: exit 2 (an option it does not use)" status 2 admin events -r "$FR" -u alice

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
allow-own-peers = true
$line1
$line2
log-level = \"info\"" || { not_ok "turnd with the key lines"; finish; }
ok "turnd accepts the lines of turnadmin key"

# lib.sh's probe and probe_fails show what turnprobe printed.
PROBE_SHOW=1
# echoed NAME ARGS...: turnprobe turn through turnpeer, 5 echoes back.
echoed() {
	name=$1; shift
	probe "$name" "127.0.0.1:$PORT" --peer "127.0.0.1:$PEER_PORT" "$@" &&
		grep -q '^5/5 echoed over' "$T_DIR/$name.out"
}

# probe_refused ARGS...: turnprobe turn exits 1 on a 401.
probe_refused() {
	probe_fails refused "turnprobe: Allocate: 401 Unauthorized" "127.0.0.1:$PORT" \
		--peer "127.0.0.1:$PEER_PORT" "$@"
}
check "turnprobe turn as alice, with the key line" echoed alice -u alice -w pass
check "turnprobe turn as '$weird' (quotes, backslash, \${...} kept literally)" \
	echoed weird -u "$weird" -w 'pa ss'
check "turnprobe turn as alice, wrong password: 401" probe_refused -u alice -w nope
check "turnd stops cleanly" stop_turnd

# ---------------- a turnd with Redis events, read back through turnadmin

# alice's key is in Redis (add-user above); node-id t1, events on.
start_turnd "listening-ip = \"127.0.0.1\"
listening-port = $PORT
relay-ip = \"127.0.0.1\"
min-port = $MINPORT
max-port = $((MINPORT + 249))
realm = \"$REALM\"
allowed-peer-ip = \"127.0.0.1\"
allow-own-peers = true
redis = true
redis-port = $RPORT
redis-user = \"admin\"
redis-password = \"$ACL_PASS\"
redis-events = true
redis-poll-interval = 1
node-id = \"t1\"
log-level = \"info\"" || { not_ok "turnd with redis-events"; finish; }
ok "turnd with redis = true and redis-events = true"
# wait_node: up to 10 s for turnd's first liveness key (its first tick
# with Redis connected).
wait_node() {
	for _ in $(seq 1 100); do
		[ "$(rcli EXISTS "turn/realm/$REALM/node/t1")" = 1 ] && return 0
		sleep 0.1
	done
	tail -n 20 "$T_DIR/turnd.log"
	return 1
}
check "turnd wrote its liveness key turn/realm/$REALM/node/t1" wait_node
check "turnprobe turn as alice, her key in Redis" echoed redis_alice -u alice -w pass

# wait_events: up to 5 s for turnd's deleted event to be in the stream.
wait_events() {
	for _ in $(seq 1 50); do
		admin events -r "$REALM" >/dev/null 2>&1 && grep -q ' deleted ' "$T_DIR/out" && return 0
		sleep 0.1
	done
	cat "$T_DIR/out"
	return 1
}
check "turnadmin events shows turnd's deleted event" wait_events
sed 's/^/  | /' "$T_DIR/out"
check "  ... and its created event, from node t1 on loopback" grep -Eq \
	'^[0-9]+-[0-9]+ created user=alice node=t1 transport=udp client=127\.0\.0\.1:[0-9]+ relay=127\.0\.0\.1:[0-9]+ lifetime=[1-9][0-9]* ' \
	"$T_DIR/out"
check "  ... the deleted event carries the echoed traffic both ways" grep -Eq \
	'^[0-9]+-[0-9]+ deleted user=alice node=t1 .* to-peer=[1-9][0-9]*/[1-9][0-9]* from-peer=[1-9][0-9]*/[1-9][0-9]*$' \
	"$T_DIR/out"
check "show-realm" status 0 admin show-realm -r "$REALM"
sed 's/^/  | /' "$T_DIR/out"
check "show-realm: turnd's liveness key, node t1 with its pid" \
	grep -Eqx "node t1 ttl [0-9]+ pid $TURND_PID" "$T_DIR/out"
check "turnd with Redis stops cleanly" stop_turnd
check "redis-server stops on SIGTERM" stop_redis
kill -TERM "$PEER_PID" 2>/dev/null
wait "$PEER_PID" 2>/dev/null
PEER_PID=""
finish
