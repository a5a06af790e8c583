# Helpers for the TURN relay tests (tests/interop/turn_uclient.sh,
# tests/e2e/browser.sh): start the TURN server under test with long-term
# users and a TURN REST secret, and clean up everything the test started.
# Sourced after lib.sh.
#
# TURN_SERVER_IMPL selects the server:
#   turnd (default)  the turnd binary in $TURND, via start_turnd from lib.sh;
#                    one process serves both the static user and the REST
#                    secret, so REST_PORT = PORT.
#   coturn           Debian's /usr/bin/turnserver with equivalent options, to
#                    validate the harness itself. coturn cannot mix static
#                    users and --use-auth-secret in one process, so a second
#                    instance serves the REST secret on REST_PORT (started by
#                    start_rest_server).
#
# Credentials: user "user", password "pass", realm "turnd.test", REST
# secret "secret". Everything listens on 127.0.0.1 and ::1 only.

TURN_SERVER_IMPL=${TURN_SERVER_IMPL:-turnd}
TURN_USER=user
TURN_PASS=pass
TURN_REALM=turnd.test
TURN_SECRET=secret

T_BG_PIDS=""     # background helpers (peers, clients under timeout)
T_COTURN_PIDS="" # coturn instances

# Kill what this test started, then lib.sh's cleanup (turnd, $T_DIR).
# `timeout` passes the TERM on to the command it runs (browser_test.py
# then stops Chromium itself), so TERM first and give it up to 10 s.
turn_cleanup() {
	for p in $T_BG_PIDS $T_COTURN_PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $T_BG_PIDS $T_COTURN_PIDS; do
		for _ in $(seq 1 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	T_BG_PIDS=""
	T_COTURN_PIDS=""
	cleanup
}
trap turn_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# spawn CMD...: run CMD in the background and remember it for the
# cleanup; its pid is in $BG_PID.
spawn() {
	"$@" &
	BG_PID=$!
	T_BG_PIDS="$T_BG_PIDS $BG_PID"
}

# reap PID: wait for a spawned command, forget it, return its status.
reap() {
	wait "$1"
	rc=$?
	T_BG_PIDS=$(echo " $T_BG_PIDS " | sed "s/ $1 / /")
	return $rc
}

# pick_port VAR: set VAR to a free port (lib.sh's free_port) that is not
# within 1 of a port this test picked before, and whose +1 is free too:
# coturn also listens on listening-port + 1 (its RFC 5780 alternate
# port). Not in $(...): it remembers the ports in T_PORTS_TAKEN.
T_PORTS_TAKEN=""
pick_port() {
	for _ in $(seq 1 50); do
		p=$(free_port) || return 1
		clash=""
		for q in $T_PORTS_TAKEN; do
			if [ "$p" -ge $((q - 1)) ] && [ "$p" -le $((q + 1)) ]; then clash=1; fi
		done
		if [ -z "$clash" ] && ! ss -Hluntap 2>/dev/null | awk '{print $5}' | grep -q ":$((p + 1))\$"; then
			T_PORTS_TAKEN="$T_PORTS_TAKEN $p"
			eval "$1=$p"
			return 0
		fi
	done
	return 1
}

# relay_range: set MINPORT and MAXPORT to a random block of 250 ports in
# 10000-19999, below free_port's range and the kernel's ephemeral range,
# so a relay port rarely meets a port already in use, and two tests run
# at once (make -j) rarely share a block. turn_uclient.sh holds about 100
# relay ports at a time.
relay_range() {
	MINPORT=$(( 10000 + ($(od -An -N2 -tu2 /dev/urandom) % 40) * 250 ))
	MAXPORT=$((MINPORT + 249))
}

# wait_stun PORT PID NAME LOG: until the server answers Binding over UDP
# on both loopback addresses and over TCP (5 s at most).
wait_stun() {
	if [ ! -x "$TURNPROBE" ]; then
		echo "TURNPROBE=$TURNPROBE is not executable (build it first)"
		return 1
	fi
	for _ in $(seq 1 50); do
		if "$TURNPROBE" stun "127.0.0.1:$1" --timeout 200 >/dev/null 2>&1 &&
			"$TURNPROBE" stun "[::1]:$1" --timeout 200 >/dev/null 2>&1 &&
			"$TURNPROBE" stun "127.0.0.1:$1" --tcp --timeout 200 >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$2" 2>/dev/null; then
			echo "$3 exited at start:"; tail -n 30 "$4"
			return 1
		fi
		sleep 0.1
	done
	echo "$3 did not answer on port $1:"; tail -n 30 "$4"
	return 1
}

# start_coturn NAME PORT MIN MAX AUTH-OPTIONS...
start_coturn() {
	name=$1 port=$2 min=$3 max=$4
	shift 4
	turnserver -n --listening-ip 127.0.0.1 --listening-ip ::1 \
		--listening-port "$port" --relay-ip 127.0.0.1 --relay-ip ::1 \
		--min-port "$min" --max-port "$max" --realm "$TURN_REALM" "$@" \
		--allow-loopback-peers --no-tls --no-dtls --no-cli \
		--log-file stdout --pidfile "$T_DIR/$name.pid" --db "$T_DIR/$name.db" \
		>"$T_DIR/$name.log" 2>&1 &
	pid=$!
	T_COTURN_PIDS="$T_COTURN_PIDS $pid"
	wait_stun "$port" "$pid" "$name" "$T_DIR/$name.log"
}

# start_turn_server: picks PORT (and REST_PORT = PORT for turnd), relay
# ports MINPORT-MAXPORT, and starts the server with the static user and
# (turnd) the REST secret. TURN_LOG is the server's log. TURND_EXTRA_CONF:
# more turnd.conf lines (coturn ignores it).
start_turn_server() {
	pick_port PORT || return 1
	REST_PORT=$PORT
	relay_range
	case "$TURN_SERVER_IMPL" in
	coturn)
		TURN_LOG=$T_DIR/coturn.log
		start_coturn coturn "$PORT" "$MINPORT" "$MAXPORT" \
			--lt-cred-mech --user "$TURN_USER:$TURN_PASS"
		;;
	turnd)
		TURN_LOG=$T_DIR/turnd.log
		start_turnd "listening-ip = { \"127.0.0.1\", \"::1\" }
listening-port = $PORT
relay-ip = { \"127.0.0.1\", \"::1\" }
min-port = $MINPORT
max-port = $MAXPORT
realm = \"$TURN_REALM\"
user = { \"$TURN_USER:$TURN_PASS\" }
static-auth-secret = { \"$TURN_SECRET\" }
allowed-peer-ip = { \"127.0.0.1\", \"::1\" }
allow-own-peers = true
${TURND_EXTRA_CONF:-}"
		;;
	*)
		echo "TURN_SERVER_IMPL must be turnd or coturn, not '$TURN_SERVER_IMPL'"
		return 1
		;;
	esac
}

# start_rest_server: make REST_PORT serve the REST secret. turnd already
# does on PORT; coturn needs its own instance (own relay ports too).
start_rest_server() {
	[ "$TURN_SERVER_IMPL" = coturn ] || return 0
	pick_port REST_PORT || return 1
	REST_LOG=$T_DIR/coturn-rest.log
	rest_min=$(( 10000 + (MINPORT - 10000 + 250) % 10000 ))
	start_coturn coturn-rest "$REST_PORT" "$rest_min" $((rest_min + 249)) \
		--use-auth-secret --static-auth-secret "$TURN_SECRET"
}

# stop_turn_server: turnd must exit 0 on SIGTERM (lib.sh's stop_turnd:
# sanitizer reports and leaks fail it); coturn is just stopped.
stop_turn_server() {
	if [ "$TURN_SERVER_IMPL" = turnd ]; then
		stop_turnd
		return
	fi
	for p in $T_COTURN_PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $T_COTURN_PIDS; do wait "$p" 2>/dev/null; done
	T_COTURN_PIDS=""
	return 0
}

# tls_cert NAME SERIAL: a P-256 key and a certificate signed by the test
# CA (tls_certs), SAN IP:127.0.0.1 and IP:::1 (TLS_CERT_SAN to change):
# $T_DIR/NAME.pem, NAME.key.
tls_cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=turnd-test \
		-keyout "$T_DIR/$1.key" -out "$T_DIR/$1.csr" >/dev/null 2>&1 &&
	printf 'subjectAltName = %s\n' "${TLS_CERT_SAN:-IP:127.0.0.1, IP:::1}" >"$T_DIR/san.cnf" &&
	openssl x509 -req -in "$T_DIR/$1.csr" -CA "$T_DIR/ca.pem" -CAkey "$T_DIR/ca.key" \
		-set_serial "$2" -days 2 -extfile "$T_DIR/san.cnf" -out "$T_DIR/$1.pem" >/dev/null 2>&1
}

# tls_certs: a throwaway CA ($T_DIR/ca.pem) and, from it, the server's
# certificate $T_DIR/cert.pem and key $T_DIR/key.pem (serial 0x1001), made
# with the openssl command for TURN over TLS and DTLS (turnd's cert, pkey).
tls_certs() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=turnd-test-ca -keyout "$T_DIR/ca.key" -out "$T_DIR/ca.pem" >/dev/null 2>&1 &&
	tls_cert server 0x1001 &&
	cp "$T_DIR/server.pem" "$T_DIR/cert.pem" && cp "$T_DIR/server.key" "$T_DIR/key.pem"
}

# uclient_run NAME ARGS...: coturn's turnutils_uclient as TURN_USER, M
# clients of N messages (defaults 5 and 100), output in
# $T_DIR/uc-NAME.out; uclient_lossless NAME RC reads it: exit 0, every
# message echoed and 0 lost, else the output's tail. uclient NAME ARGS...
# does both.
UCLIENT="stdbuf -oL -eL turnutils_uclient"
uclient_run() {
	name=$1
	shift
	# shellcheck disable=SC2086 # $UCLIENT is a command with arguments
	timeout -k 5 60 $UCLIENT -u "$TURN_USER" -w "$TURN_PASS" -m "${M:-5}" -n "${N:-100}" \
		-l 120 "$@" >"$T_DIR/uc-$name.out" 2>&1
}
uclient_lossless() {
	name=$1 rc=$2
	set -- $(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\).*/\1 \2/p' \
		"$T_DIR/uc-$name.out" | tail -n 1)
	sent=${1:-none} recv=${2:-none}
	lost=$(sed -n 's/.*Total lost packets \([0-9]*\) .*/\1/p' "$T_DIR/uc-$name.out" | tail -n 1)
	echo "  $name: $recv/$sent echoed, ${lost:-?} lost, exit $rc"
	[ "$rc" -eq 0 ] && [ "${lost:-x}" = 0 ] && [ "$sent" != none ] &&
		[ "$sent" -ge $((${M:-5} * ${N:-100})) ] && [ "$recv" = "$sent" ] ||
		{ tail -n 15 "$T_DIR/uc-$name.out" | sed 's/^/  | /'; return 1; }
}
uclient() {
	uclient_run "$@"
	uclient_lossless "$1" $?
}

# udp_bound ADDR:PORT...: every one of them has a UDP socket bound (ss),
# within 5 s ("[::1]:3480" for IPv6).
udp_bound() {
	for _ in $(seq 1 50); do
		b=$(ss -Hlun 2>/dev/null | awk '{print $4}')
		missing=0
		for a in "$@"; do
			echo "$b" | grep -qxF "$a" || missing=1
		done
		[ "$missing" -eq 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# udp_drops: kernel UDP receive-buffer drops (IPv4 + IPv6, the whole
# machine) so far. When packets are lost, the difference over a run tells
# an overloaded machine (drops counted here) from a server that lost them
# itself (no drops).
udp_drops() {
	a=$(awk '/^Udp:/ { if (h) print $6; h = 1 }' /proc/net/snmp 2>/dev/null)
	b=$(awk '$1 == "Udp6RcvbufErrors" { print $2 }' /proc/net/snmp6 2>/dev/null)
	echo $(( ${a:-0} + ${b:-0} ))
}

# rss_kb: turnd's resident memory in KiB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$TURND_PID/status"; }

# uclient_cmd MODE: the turnutils_uclient arguments of one mode, as TURN_USER
# with M clients of N messages of L bytes, to the echo peer on PEER_PORT
# (peer and server on loopback, else UC_PEER4/UC_SERVER4, UC_PEER6/UC_SERVER6):
#   channels, send (-s), c2c (-y), tcp (-t), ipv6 (-x), rest (-W on
#   REST_PORT), badpass, badsecret: on PORT (turn_uclient.sh);
#   tls (-t -S), dtls (-S), tls6, dtls6: on TLS_PORT (turn_tls.sh);
#   relay_tcp, relay_tcp6 (-T: TCP relay, RFC 6062, no peer),
#   relay_tls (-T -S on TLS_PORT) (turn_tcp_relay.sh).
uclient_cmd() {
	common="-m $M -n $N -l $L"
	lt="-u $TURN_USER -w $TURN_PASS"
	peer4="-e ${UC_PEER4:-127.0.0.1} -r ${PEER_PORT:-} ${UC_SERVER4:-127.0.0.1}"
	peer6="-e ${UC_PEER6:-::1} -r ${PEER_PORT:-} ${UC_SERVER6:-::1}"
	case "$1" in
	channels) echo "-p $PORT $lt $common $peer4" ;;
	send)     echo "-p $PORT $lt $common -s $peer4" ;;
	c2c)      echo "-p $PORT $lt $common -y 127.0.0.1" ;;
	tcp)      echo "-p $PORT $lt $common -t $peer4" ;;
	ipv6)     echo "-p $PORT $lt $common -x $peer6" ;;
	rest)     echo "-p $REST_PORT -W $TURN_SECRET -u $TURN_USER $common $peer4" ;;
	badpass)  echo "-p $PORT -u $TURN_USER -w wrong -m 1 -n 5 $peer4" ;;
	badsecret) echo "-p $REST_PORT -W wrong -u $TURN_USER -m 1 -n 5 $peer4" ;;
	tls)      echo "-p $TLS_PORT $lt $common -t -S $peer4" ;;
	dtls)     echo "-p $TLS_PORT $lt $common -S $peer4" ;;
	dtls6)    echo "-p $TLS_PORT $lt $common -S -x $peer6" ;;
	tls6)     echo "-p $TLS_PORT $lt $common -t -S -x $peer6" ;;
	relay_tcp) echo "-p $PORT $lt $common -T 127.0.0.1" ;;
	relay_tcp6) echo "-p $PORT $lt $common -T -x ::1" ;;
	relay_tls) echo "-p $TLS_PORT $lt $common -T -S 127.0.0.1" ;;
	esac
}

# uclient_launch MODE: uclient_cmd MODE in the background (spawn), at most
# CLIENT_TIMEOUT s, output in $T_DIR/uc-MODE.out, its pid in UC_PID_MODE.
uclient_launch() {
	# shellcheck disable=SC2046 # word splitting of the argument list
	spawn timeout -k 5 "$CLIENT_TIMEOUT" $UCLIENT $(uclient_cmd "$1") \
		>"$T_DIR/uc-$1.out" 2>&1
	eval "UC_PID_$1=\$BG_PID"
}

# uclient_verify MODE LABEL: wait for uclient_launch MODE; ok "LABEL: R/S
# echoed, 0 lost, 0 send dropped" when it exited 0 and every message it
# sent (at least M x N) came back, else not ok with the command, its
# output's tail and the server log's (TURN_LOG, or REST_LOG for rest; each
# log once).
uclient_verify() {
	eval "pid=\$UC_PID_$1"
	reap "$pid"
	rc=$?
	mode=$1 label=$2 out=$T_DIR/uc-$1.out
	# shellcheck disable=SC2046 # the fields of the last report line
	set -- $(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\).*/\1 \2/p' "$out" | tail -n 1)
	sent=${1:-none} recv=${2:-none}
	# shellcheck disable=SC2046
	set -- $(sed -n 's/.*Total lost packets \([0-9]*\) .*total send dropped \([0-9]*\) .*/\1 \2/p' "$out" | tail -n 1)
	lost=${1:-none} dropped=${2:-none}
	desc="$label: $recv/$sent echoed, $lost lost, $dropped send dropped"
	[ "$rc" -eq 124 ] && desc="$desc (timed out after ${CLIENT_TIMEOUT}s)"
	if [ "$rc" -eq 0 ] && [ "$lost" = 0 ] && [ "$dropped" = 0 ] &&
		[ "$sent" != none ] && [ "$sent" -ge $((M * N)) ] && [ "$recv" = "$sent" ]; then
		ok "$desc"
		return
	fi
	not_ok "$desc (exit $rc)"
	echo "  turnutils_uclient $(uclient_cmd "$mode")"
	sed 's/^/  | /' "$out" | tail -n 25
	log=$TURN_LOG
	[ "$mode" = rest ] && log=${REST_LOG:-$TURN_LOG}
	case " ${LOGS_SHOWN:-} " in
	*" $log "*) ;; # once is enough
	*)
		LOGS_SHOWN="${LOGS_SHOWN:-} $log"
		echo "  server log ($log), last lines:"
		tail -n 25 "$log" | sed 's/^/  | /'
		;;
	esac
}

# loopback_conf REALM USERS: the start of a configuration file for reload
# tests: 127.0.0.1:$PORT, relay ports $MINPORT-$MAXPORT on 127.0.0.1, no
# TLS port, USERS ('"name:password", ...'), relaying to loopback peers.
loopback_conf() {
	cat <<EOF
listening-ip = { "127.0.0.1" }
listening-port = $PORT
relay-ip = { "127.0.0.1" }
min-port = $MINPORT
max-port = $MAXPORT
tls-listening-port = 0
realm = "$1"
user = { $2 }
allowed-peer-ip = { "127.0.0.1" }
allow-own-peers = true
EOF
}
