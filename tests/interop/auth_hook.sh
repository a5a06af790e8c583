#!/bin/sh
# Issue 16: the HTTP authorization hook (auth-url) against the running
# daemon. The application is tests/interop/auth_hook.py on loopback, which
# logs every request it gets (the JSON body as it parsed it) and answers
# as its mode says.
#
# - users the application knows allocate and relay (a password, a key),
#   one it refuses gets 401, a static user never reaches it, and the body
#   carries the realm, the client's and the listener's address, the
#   transport and the method;
# - hostile usernames (quotes, backslashes, non-ASCII, 513 bytes) arrive
#   exactly as the client sent them; a 600-byte one and one with a control
#   byte are refused before any backend and never arrive;
# - per-user limits: "lifetime" caps the granted lifetime, "quota" the
#   user's allocations, "max_bps" the user's bandwidth: turnload offering
#   twice it (4 sessions, over both workers) relays within 10% of it,
#   measured exactly (the allocations' closing log lines, less the
#   budget's initial burst, over turnload's traffic time), while a user
#   without one offering as much at once loses nothing;
# - N concurrent Allocates of one user cause one request per worker;
# - a forged nonce never reaches the application;
# - the hook slow (beyond auth-timeout), down (port closed), answering
#   junk or a huge body: turnd answers a Binding at once meanwhile, a
#   static user and a cached user still allocate, an unknown user is
#   refused (500) within a bounded time, and once the hook is back (after
#   the back-off) a new user allocates again;
# - /metrics counts the requests, the cache hits and the errors.
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"
. "$top_srcdir/tests/abuse/abuse_lib.sh"

HOOK="$top_srcdir/tests/interop/auth_hook.py"
TURNLOAD=${TURNLOAD:-${top_builddir:-.}/turnload}
HOOK_LOG="$T_DIR/hook.log"
HOOK_PID=""
WORKERS=2
pick_port PORT && pick_port TLS_PORT && pick_port PEER_PORT && pick_port HOOK_PORT &&
	pick_port METRICS_PORT || { not_ok "free ports"; finish; }
relay_range

start_hook() {
	"$PYTHON3" "$HOOK" --port "$HOOK_PORT" --log "$HOOK_LOG" --realm "$TURN_REALM" \
		>"$T_DIR/hook.out" 2>"$T_DIR/hook.err" &
	HOOK_PID=$!
	T_BG_PIDS="$T_BG_PIDS $HOOK_PID"
	for _ in $(seq 1 50); do
		grep -q listening "$T_DIR/hook.out" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
stop_hook() {
	kill -TERM "$HOOK_PID" 2>/dev/null
	wait "$HOOK_PID" 2>/dev/null
	HOOK_PID=""
}
hook_mode() { curl -sf "http://127.0.0.1:$HOOK_PORT/mode?$1" >/dev/null; }

# asked USER: how many requests the application got about USER.
asked() {
	"$PYTHON3" - "$HOOK_LOG" "$1" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    n += e.get("body", {}).get("username") == sys.argv[2]
print(n)
EOF
}
asked_total() { wc -l <"$HOOK_LOG" | tr -d ' '; }
# bad_requests: requests the application could not parse as turnd's body.
bad_requests() { grep -c '"bad"' "$HOOK_LOG"; }

# first_body USER: the first body about USER, its fields "k=v" sorted.
first_body() {
	"$PYTHON3" - "$HOOK_LOG" "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    b = e.get("body", {})
    if b.get("username") == sys.argv[2]:
        print("content_type=%s path=%s" % (e["content_type"], e["path"]))
        for k in sorted(b):
            if k != "username":
                print("%s=%s" % (k, b[k]))
        break
EOF
}

# body_has USER LINE: the first body about USER has the field LINE.
body_has() { first_body "$1" | grep -qx "$2"; }

# names_seen FILE: every name in FILE (one per line, bytes as the client
# sent them) is in the log exactly once as a parsed username; prints what
# is missing.
names_seen() {
	"$PYTHON3" - "$HOOK_LOG" "$1" <<'EOF'
import json, sys
seen = [json.loads(l).get("body", {}).get("username") for l in open(sys.argv[1], encoding="utf-8")]
ok = True
for raw in open(sys.argv[2], "rb").read().split(b"\n"):
    if raw:
        name = raw.decode("utf-8")
        if seen.count(name) != 1:
            print("  not seen exactly once (%d): %r" % (seen.count(name), name[:60]))
            ok = False
sys.exit(0 if ok else 1)
EOF
}

# never_seen FILE: no logged username shares a byte string with FILE's
# lines, nor is that long (decoded leniently: they may not be UTF-8).
never_seen() {
	"$PYTHON3" - "$HOOK_LOG" "$1" <<'EOF'
import json, sys
seen = {json.loads(l).get("body", {}).get("username") for l in open(sys.argv[1], encoding="utf-8")}
bad = [r for r in open(sys.argv[2], "rb").read().split(b"\n")
       if r and r.decode("utf-8", "replace") in seen]
long_names = [s for s in seen if s and len(s.encode()) > 513]
print("  reached the application: %d, longer than 513 bytes: %d" % (len(bad), len(long_names)))
sys.exit(1 if bad or long_names else 0)
EOF
}

# refused_within USER MS: an Allocate as USER is answered with an error
# (not a timeout) in at most MS milliseconds.
refused_within() {
	t0=$(date +%s%N)
	probe refused "127.0.0.1:$PORT" -u "$1" -w hookpass --timeout 5000
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "  $1: exit $rc after $ms ms: $(tail -n 1 "$T_DIR/refused.err")"
	[ "$rc" -ne 0 ] && grep -q "Allocate: 500\|Allocate: 401" "$T_DIR/refused.err" &&
		[ "$ms" -le "$2" ]
}

# binding_fast: a Binding is answered within 300 ms.
binding_fast() { "$TURNPROBE" stun "127.0.0.1:$PORT" --timeout 300 >/dev/null; }

# uclient_as USER MODE: turnutils_uclient (turn_lib.sh's MODE: tls, dtls)
# as USER, whom the application knows, relaying through turnpeer.
M=2 N=20 L=120 CLIENT_TIMEOUT=60 TURN_LOG="$T_DIR/turnd.log"
uclient_as() {
	saved_user=$TURN_USER saved_pass=$TURN_PASS
	TURN_USER=$1 TURN_PASS=hookpass
	uclient_launch "$2"
	TURN_USER=$saved_user TURN_PASS=$saved_pass
	uclient_verify "$2" "$1 over $2 (turnutils_uclient)"
}

# uclient's RTCP streams go to the peer port + 1.
spawn "$TURNPEER" -L "127.0.0.1:$PEER_PORT" -L "127.0.0.1:$((PEER_PORT + 1))" --max-seconds 300 -q
check "throwaway CA and server certificate" tls_certs
check "the application listens on 127.0.0.1:$HOOK_PORT" start_hook
start_turnd "$(abuse_conf)
cert = \"$T_DIR/cert.pem\"
pkey = \"$T_DIR/key.pem\"
relay-threads = $WORKERS
user-quota = 10
total-quota = 0
auth-url = \"http://127.0.0.1:$HOOK_PORT/turn\"
auth-timeout = 1000
auth-cache-ttl = 300
auth-negative-ttl = 30
log-level = info
metrics-ip = 127.0.0.1
metrics-port = $METRICS_PORT" || { not_ok "start turnd"; finish; }

# ---- users known, refused, static -------------------------------------------

check "alice (a password from the application) allocates and relays" probe_user alice hookpass
check "the application was asked once about alice" [ "$(asked alice)" -eq 1 ]
first_body alice >"$T_DIR/alice.body"
sed 's/^/  /' "$T_DIR/alice.body"
check "the request: POST application/json to the URL's path, with realm, addresses, udp, Allocate" \
	grep -qx "content_type=application/json path=/turn" "$T_DIR/alice.body"
check "  realm" grep -qx "realm=$TURN_REALM" "$T_DIR/alice.body"
check "  client address" grep -qx "client_ip=127.0.0.1" "$T_DIR/alice.body"
check "  client port" grep -qx "client_port=[1-9][0-9]*" "$T_DIR/alice.body"
check "  listener" grep -qx "listen_ip=127.0.0.1" "$T_DIR/alice.body"
check "  listener port" grep -qx "listen_port=$PORT" "$T_DIR/alice.body"
check "  transport" grep -qx "transport=udp" "$T_DIR/alice.body"
check "  method" grep -qx "method=Allocate" "$T_DIR/alice.body"
check "alice again: from the cache (no second request)" probe_user alice hookpass
check "  still asked once" [ "$(asked alice)" -eq 1 ]
check "a user over TCP allocates and relays" probe tcp "127.0.0.1:$PORT" -u tcpuser -w hookpass --tcp \
	--peer "127.0.0.1:$PEER_PORT"
check "  the hook was told tcp" body_has tcpuser "transport=tcp"
uclient_as tlsuser tls
check "  the hook was told tls" body_has tlsuser "transport=tls"
uclient_as dtlsuser dtls
check "  the hook was told dtls" body_has dtlsuser "transport=dtls"
check "  and the listener's port" body_has dtlsuser "listen_port=$TLS_PORT"
check "keyuser (a hex key from the application) allocates and relays" probe_user keyuser hookpass
check "keyuser with a wrong password is refused" \
	probe_fails wrong "turnprobe: Allocate: 401 Unauthorized" "127.0.0.1:$PORT" -u keyuser -w nope
check "refused1 (403 from the application) gets 401" \
	probe_fails refused "turnprobe: Allocate: 401 Unauthorized" "127.0.0.1:$PORT" -u refused1 -w hookpass
check "the static user allocates" probe_user "$TURN_USER" "$TURN_PASS"
check "  and never reaches the application" [ "$(asked "$TURN_USER")" -eq 0 ]

# ---- per-user limits -----------------------------------------------------------

check "short (lifetime 120) is granted 120 s" probe_user short hookpass
check "  LIFETIME 120" grep -qx "lifetime: 120 s" "$T_DIR/probe.out"
check "alice (no lifetime) is granted the default 600 s" probe_user alice hookpass
check "  LIFETIME 600" grep -qx "lifetime: 600 s" "$T_DIR/probe.out"
timeout 30 "$TURNLOAD" -u quota2 -w hookpass -n 3 -e "127.0.0.1:$PEER_PORT" -d 1 -r 30 \
	"127.0.0.1:$PORT" >"$T_DIR/quota.out" 2>&1
grep "^allocations\|486" "$T_DIR/quota.out" | sed 's/^/  /'
check "quota2 (quota 2) holds 2 allocations of 3 (user-quota is 10)" \
	grep -q "^allocations 2 failed 1 " "$T_DIR/quota.out"
check "  the third gets 486" grep -q "Allocate: 486 Allocation Quota Reached" "$T_DIR/quota.out"

# max_bps: "bps$BPS" is answered with "max_bps": BPS. 1000-byte datagrams
# at 400/s, echoed: 800,000 bytes/s both ways, twice the cap.
BPS=400000
load_as() {
	timeout -k 2 60 "$TURNLOAD" --json -u "$1" -w hookpass -n 4 -e "127.0.0.1:$PEER_PORT" \
		-l 1000 -r 400 -d 5 "127.0.0.1:$PORT" >"$T_DIR/$1.out" 2>"$T_DIR/$1.err"
}
# field NAME KEY: a top-level number of turnload NAME's JSON summary.
field() { tail -n 1 "$T_DIR/$1.out" | sed -n "s/.*[{,]\"$2\":\([0-9.]*\).*/\1/p"; }
# closed_bytes USER: "N BYTES", USER's allocations closed and the bytes
# they relayed both ways, from their closing log lines (exact).
closed_bytes() {
	awk -v u="user=$1" '/allocation deleted:/ && $0 ~ (" " u " ") {
		n++
		for (i = 1; i <= NF; i++)
			if ($i ~ /^to_(peer|client)_bytes=/) { sub(/.*=/, "", $i); b += $i }
	} END { print n + 0, b + 0 }' "$T_DIR/turnd.log"
}
# user_rate USER CAP: bytes a second USER relayed over turnload's traffic
# time, less the budget's initial burst (100 ms of CAP, at least 64 KiB:
# util/bw_share.h), once its 4 allocations are closed (within 5 s).
user_rate() {
	for _ in $(seq 1 50); do
		set -- "$1" "$2" $(closed_bytes "$1")
		[ "$3" -ge 4 ] && break
		sleep 0.1
	done
	echo "  $1: $3 allocations closed, $4 bytes, in $(field "$1" duration_s) s" >&2
	awk -v b="$4" -v cap="$2" -v d="$(field "$1" duration_s)" 'BEGIN {
		burst = cap / 10 < 65536 ? 65536 : cap / 10
		printf "%d\n", (d > 0 ? (b - burst) / d : 0) }'
}
load_as "bps$BPS" &
capped_pid=$!
load_as nobps
wait "$capped_pid"
r=$(user_rate "bps$BPS" "$BPS")
echo "  bps$BPS relayed $r bytes/s (max_bps $BPS); received $(field "bps$BPS" received) of" \
	"$(field "bps$BPS" sent)"
within10() { [ "$1" -ge $(($2 * 90 / 100)) ] && [ "$1" -le $(($2 * 110 / 100)) ]; }
check "bps$BPS (max_bps $BPS) offered twice it relays within 10% of it" within10 "$r" "$BPS"
echo "  nobps: sent $(field nobps sent) received $(field nobps received) lost $(field nobps lost)"
all_back() {
	[ "$(field "$1" sent)" -gt 1500 ] && [ "$(field "$1" received)" = "$(field "$1" sent)" ]
}
check "nobps (no max_bps) offering as much at the same time loses nothing" all_back nobps
r=$(user_rate nobps "$BPS")
check "  and relays all of it: over twice bps$BPS's cap" [ "$r" -gt $((BPS * 2 * 90 / 100)) ]

# ---- hostile usernames -------------------------------------------------------

long=$(printf '%0512d' 0 | tr 0 x)
printf '%s\n' 'q"uo\te "x" \\ \u00e9' "\"$long" "caf$(printf '\303\251') \\\"" >"$T_DIR/names.ok"
n=0
while IFS= read -r name; do
	n=$((n + 1))
	check "hostile name $n ($(printf '%s' "$name" | wc -c) bytes) allocates" \
		probe "hostile$n" "127.0.0.1:$PORT" -u "$name" -w hookpass --peer "127.0.0.1:$PEER_PORT"
done <"$T_DIR/names.ok"
check "each reached the application exactly as sent (parsed JSON equals the name)" \
	names_seen "$T_DIR/names.ok"
long600=$(printf '%0600d' 0 | tr 0 y)
printf '%s\n' "$long600" "ctl$(printf '\001')x" "tab$(printf '\t')x" "del$(printf '\177')x" \
	>"$T_DIR/names.bad"
n=0
while IFS= read -r name; do
	n=$((n + 1))
	probe "bad$n" "127.0.0.1:$PORT" -u "$name" -w hookpass --timeout 2000
	check "bad name $n is refused" [ $? -ne 0 ]
done <"$T_DIR/names.bad"
check "600 bytes and control bytes never reach the application" never_seen "$T_DIR/names.bad"
check "every request the application got was turnd's JSON body" [ "$(bad_requests)" -eq 0 ]

# ---- coalescing -----------------------------------------------------------------

hook_mode delay
timeout 30 "$TURNLOAD" -u coal -w hookpass -n 8 -e "127.0.0.1:$PEER_PORT" -d 1 -r 80 \
	"127.0.0.1:$PORT" >"$T_DIR/coal.out" 2>&1
grep "^allocations" "$T_DIR/coal.out" | sed 's/^/  /'
check "8 concurrent sessions of one user allocate" grep -q "^allocations 8 failed 0 " "$T_DIR/coal.out"
c=$(asked coal)
echo "  requests about coal: $c (workers: $WORKERS)"
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
check "at most one request per worker for them" between "$c" 1 "$WORKERS"
hook_mode ok

# ---- a forged nonce ---------------------------------------------------------------

before=$(asked_total)
timeout 60 "$PYTHON3" "$top_srcdir/tests/abuse/auth_flood.py" --port "$PORT" --realm "$TURN_REALM" \
	--mode forged --count 300 --sources 20 >"$T_DIR/flood.out" 2>&1
sed 's/^/  /' "$T_DIR/flood.out"
check "300 Allocates with a forged nonce are answered" grep -q "^sent 300 answered" "$T_DIR/flood.out"
check "  and none reached the application" [ "$(asked_total)" -eq "$before" ]

# ---- the hook failing ---------------------------------------------------------------

# still_serving WHAT: what must hold whatever the hook does.
still_serving() {
	check "$1: a Binding is answered within 300 ms" binding_fast
	check "$1: the static user allocates" probe_user "$TURN_USER" "$TURN_PASS"
	check "$1: alice (cached) allocates and relays" probe_user alice hookpass
}
# back USER: once the back-off is over (at most 16 s), a user the hook
# has not seen allocates.
allocates_soon() {
	for _ in $(seq 1 20); do
		probe_user "$1" hookpass && return 0
		sleep 1
	done
	return 1
}
back() { check "hook back: $1 allocates" allocates_soon "$1"; }

hook_mode slow
spawn sh -c "'$TURNPROBE' turn 127.0.0.1:$PORT -u slow1 -w hookpass --timeout 5000 \
	>'$T_DIR/slow1.out' 2>&1"
slow_pid=$BG_PID
sleep 0.3
still_serving "slow hook (3 s, auth-timeout 1 s)"
reap "$slow_pid"
check "slow: the user waiting on it is refused" [ $? -ne 0 ]
check "slow: an unknown user is refused" refused_within slow2 1500
hook_mode ok
back after-slow

stop_hook
check "down: an unknown user is refused within 1.5 s" refused_within down1 1500
still_serving "hook down (port closed)"
check "down: another unknown user is refused at once (backing off)" refused_within down2 700
check "the application is back" start_hook
back after-down

hook_mode junk
check "junk: an unknown user is refused" refused_within junk1 1500
still_serving "hook answering junk"
hook_mode ok
back after-junk

hook_mode huge
check "huge body: an unknown user is refused" refused_within huge1 1500
still_serving "hook answering 1 MiB"
hook_mode ok
back after-huge

# ---- metrics ------------------------------------------------------------------------

sleep 1.2 # the workers' counters are copied once a second
grep "auth-url" "$T_DIR/turnd.log" | sed 's/^/  log: /'
for why in "no answer in time" "connection failed" "answer 200 without a valid key or password" \
	"answer body too long"; do
	check "logged: $why" grep -q "auth-url .*: $why; users not cached are refused" \
		"$T_DIR/turnd.log"
done
# Once per back-off, not once per request: the slow phase alone refused
# several requests.
check "at most 6 failure lines in the log" \
	[ "$(grep -c "users not cached are refused" "$T_DIR/turnd.log")" -le 6 ]
req=$(metric turnd_auth_http_requests_total)
echo "  requests $req (the application logged $(asked_total)), errors" \
	"$(metric turnd_auth_http_errors_total), cache hits $(metric turnd_auth_http_cache_hits_total)," \
	"refused $(metric turnd_auth_http_refused_total), failed closed" \
	"$(metric turnd_auth_http_failed_closed_total), in flight $(metric turnd_auth_http_in_flight)"
# The application logs a request when it reads it; one it never read (the
# port closed) is counted by turnd only.
check "/metrics: requests counted (at least those the application read)" \
	[ "$req" -ge "$(asked_total)" ]
check "/metrics: errors counted (slow, down, junk, huge)" \
	[ "$(metric turnd_auth_http_errors_total)" -ge 4 ]
check "/metrics: cache hits counted" [ "$(metric turnd_auth_http_cache_hits_total)" -ge 1 ]
check "/metrics: refusals counted" [ "$(metric turnd_auth_http_refused_total)" -ge 1 ]
check "/metrics: nothing in flight now" [ "$(metric turnd_auth_http_in_flight)" -eq 0 ]

check "turnd exits cleanly" stop_turnd
finish
