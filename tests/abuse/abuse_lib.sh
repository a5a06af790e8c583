# Shared helpers for the attack suite (tests/abuse/*.sh, and
# tests/interop/big_datagrams.sh): the figure line every test prints, what
# they read of turnd (its resident memory, its /metrics), the legitimate
# client each runs across its attack, and the configuration they start
# from. Sourced after tests/interop/lib.sh and tests/interop/turn_lib.sh.

PYTHON3=${PYTHON3:-python3}
TURNPEER=${TURNPEER:-${top_builddir:-.}/turnpeer}

# figure WHAT VALUE UNIT OP BOUND: print the figure line
#   figure: WHAT = VALUE UNIT (bound <= BOUND)      (OP le)
#   figure: WHAT = VALUE UNIT (bound >= BOUND)      (OP ge)
# and record it (lib.sh's ok / not_ok): ok when VALUE, a number, is at
# most (le) or at least (ge) BOUND. A VALUE that is not a number (empty,
# "none") fails. Returns 0 when ok.
figure() {
	case $4 in
	le) sym="<=" ;;
	ge) sym=">=" ;;
	*) not_ok "figure $1: OP must be le or ge, not '$4'"; return 1 ;;
	esac
	echo "figure: $1 = $2 $3 (bound $sym $5)"
	if awk -v v="$2" -v b="$5" -v op="$4" 'BEGIN {
		if (v !~ /^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)$/) exit 1
		exit !(op == "le" ? v + 0 <= b + 0 : v + 0 >= b + 0) }'; then
		ok "$1: $2 $3"
	else
		not_ok "$1: $2 $3, bound $sym $5"
		return 1
	fi
}

# turn_lib.sh's rss_kb: turnd's ($TURND_PID) resident memory now, in KiB
# (VmRSS); rss_mib: the same in MiB, one decimal. kb_to_mib KB [DECIMALS]: KiB to
# MiB, one decimal unless told.
kb_to_mib() { awk -v k="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, k / 1024 }'; }
rss_mib() { kb_to_mib "$(rss_kb)"; }

# san_kb KB: a memory bound in KiB, as it stands under the sanitizers
# (TURND_SANITIZED): freed memory waits in ASan's quarantine (256 MiB by
# default) before reuse, and redzones pad every block: x4 + 256 MiB.
san_kb() {
	if [ -n "${TURND_SANITIZED:-}" ]; then
		echo $(($1 * 4 + 256 * 1024))
	else
		echo "$1"
	fi
}

# lib.sh's metric NAME-AND-LABELS: its value in turnd's /metrics on
# 127.0.0.1:$METRICS_PORT.

# val KEY [FILE]: the value of a "KEY VALUE" line of an attack client's
# output ($T_DIR/attack.out unless told).
val() { sed -n "s/^$1 //p" "${2:-$T_DIR/attack.out}"; }

# need_tools TOOL...: each installed, else not ok and finish.
need_tools() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 ||
			{ not_ok "$tool installed (scripts/deps.sh)"; finish; }
	done
}

# The legitimate client (turn_lib.sh's uclient_run as $TURN_USER, M
# clients of N messages) across an attack:
#   legit_start NAME ARGS...   uclient_run NAME ARGS... in the background
#                              (spawn)
#   legit_running NAME         true while it runs
#   legit_check NAME WHAT      after the attack: wait for it, and check
#                              "WHAT" with uclient_lossless (0 loss)
#   legit NAME                 legit_start, paced, to 127.0.0.1:$PEER_PORT
legit_start() {
	spawn uclient_run "$@"
	eval "LEGIT_PID_$1=\$BG_PID"
}
legit_running() {
	eval "kill -0 \"\$LEGIT_PID_$1\"" 2>/dev/null
}
legit_check() {
	eval "reap \"\$LEGIT_PID_$1\""
	check "$2" uclient_lossless "$1" $?
}
# legit NAME: legit_start NAME paced (-z 20 ms) to the peer on
# 127.0.0.1:$PEER_PORT through turnd on 127.0.0.1:$PORT.
legit() {
	legit_start "$1" -z 20 -e 127.0.0.1 -r "$PEER_PORT" -p "$PORT" 127.0.0.1
}

# lib.sh's probe_user USER PASS: one allocation through turnd on
# 127.0.0.1:$PORT that relays 2 echoes to the peer on 127.0.0.1:$PEER_PORT
# (turnprobe turn), the tail of its output shown when it fails.
PROBE_COUNT=2
PROBE_TAIL=1

# abuse_conf [USERS [PEERS]]: the configuration lines every attack test
# starts from (the test adds its own after them): turnd on
# 127.0.0.1:$PORT (TLS on $TLS_PORT when set, else none), relay ports
# $MINPORT-$MAXPORT on 127.0.0.1, realm $TURN_REALM, USERS ('"name:pass",
# ...'; $TURN_USER:$TURN_PASS by default), relaying to PEERS
# ('"127.0.0.1"' by default) and to the host's own addresses, channel
# numbers up to 0x7FFF as turnutils_uclient draws them
# (LEGACY_CHANNELS=false leaves them at RFC 8656's).
abuse_conf() {
	conf_users=${1:-"\"$TURN_USER:$TURN_PASS\""}
	conf_peers=${2:-'"127.0.0.1"'}
	cat <<EOF
listening-ip = { "127.0.0.1" }
listening-port = $PORT
tls-listening-port = ${TLS_PORT:-0}
relay-ip = { "127.0.0.1" }
min-port = $MINPORT
max-port = $MAXPORT
realm = "$TURN_REALM"
user = { $conf_users }
allowed-peer-ip = { $conf_peers }
allow-own-peers = true
legacy-channel-numbers = ${LEGACY_CHANNELS:-true}
EOF
}

# start_hold_turnd OFF: the turnd of the connection-hold tests (tcp_hold,
# dtls_hold): a throwaway certificate, TCP/UDP on PORT and TLS/DTLS on
# TLS_PORT with OFF ("no-tls" or "no-dtls") turned off, metrics on
# METRICS_PORT, the test's deadlines FIRST and ALLOC, PEER_PORT picked.
start_hold_turnd() {
	check "throwaway CA and server certificate" tls_certs
	pick_port PORT && pick_port TLS_PORT && pick_port METRICS_PORT && pick_port PEER_PORT ||
		{ not_ok "free ports"; finish; }
	relay_range
	start_turnd "$(abuse_conf)
$1 = true
cert = \"$T_DIR/cert.pem\"
pkey = \"$T_DIR/key.pem\"
user-quota = 100
total-quota = 200
metrics-port = $METRICS_PORT
first-message-timeout = $FIRST
max-allocate-timeout = $ALLOC" || { not_ok "start turnd"; finish; }
}
