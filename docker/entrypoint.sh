#!/bin/sh
# The container's entrypoint (Dockerfile), as /usr/bin/turnd-entrypoint.
#
#   turnd-entrypoint [TURND-OPTIONS...]   start turnd in the foreground
#   turnd-entrypoint health                the HEALTHCHECK: GET /healthz
#   turnd-entrypoint COMMAND [ARGS...]     run COMMAND (turnprobe, sh, ...)
#
# Configuration: a file mounted at /etc/turnd/turnd.conf (TURND_CONF names
# another) is used as it is. Without one, a file is written from these
# environment variables (see the README's "Install" section):
#   TURND_USERS          "user:password,user2:password2" (long-term users)
#   TURND_SECRET         TURN REST shared secret(s), comma-separated
#                        (at least one of TURND_USERS and TURND_SECRET)
#   TURND_REALM          realm (default turnd)
#   TURND_EXTERNAL_IP    public address, or "public/private" pairs,
#                        comma-separated (NAT in front of the host)
#   TURND_LISTENING_IP   addresses to listen on, comma-separated (all)
#   TURND_LISTENING_PORT STUN/TURN port over UDP and TCP (3478)
#   TURND_RELAY_IP       relay addresses, comma-separated (all)
#   TURND_MIN_PORT, TURND_MAX_PORT   relay port range (49152-65535)
#   TURND_CERT, TURND_PKEY  certificate and key files (mounted): TLS on
#                        TURND_TLS_LISTENING_PORT (5349) and DTLS
#   TURND_METRICS_PORT   /metrics and /healthz port on TURND_METRICS_IP
#                        (9641 on 127.0.0.1; the HEALTHCHECK needs it)
#   TURND_LOG_LEVEL      error, warn, notice (default), info or debug
#   TURND_OPTIONS        more turnd.conf(5) settings, verbatim
#                        ("user-quota = 64 max-bps = 1000000")
set -eu

conf=${TURND_CONF:-/etc/turnd/turnd.conf}
generated=/var/lib/turnd/turnd.conf

die() {
	echo "turnd-entrypoint: $*" >&2
	exit 1
}

# quote VALUE: VALUE as a libconfuse string, with \ and " escaped.
quote() {
	printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# list VALUES: a comma-separated VALUES as a turnd.conf list of strings.
list() {
	out="" old_ifs=$IFS
	IFS=,
	for v in $1; do
		[ -n "$v" ] && out="${out:+$out, }$(quote "$v")"
	done
	IFS=$old_ifs
	printf '{ %s }' "$out"
}

# number NAME VALUE: VALUE must be a decimal number.
number() {
	case "$2" in
	'' | *[!0-9]*) die "$1 must be a number, not '$2'" ;;
	esac
	printf '%s' "$2"
}

# write_conf FILE: the configuration made from the TURND_* variables.
write_conf() {
	if [ -z "${TURND_USERS:-}" ] && [ -z "${TURND_SECRET:-}" ]; then
		die "no users and no secret: set TURND_USERS (\"user:password,...\") or TURND_SECRET, or mount a configuration file at $conf"
	fi
	{
		echo "# Written by turnd-entrypoint from the TURND_* environment variables."
		echo "realm = $(quote "${TURND_REALM:-turnd}")"
		[ -z "${TURND_USERS:-}" ] || echo "user = $(list "$TURND_USERS")"
		[ -z "${TURND_SECRET:-}" ] || echo "static-auth-secret = $(list "$TURND_SECRET")"
		[ -z "${TURND_EXTERNAL_IP:-}" ] || echo "external-ip = $(list "$TURND_EXTERNAL_IP")"
		[ -z "${TURND_LISTENING_IP:-}" ] || echo "listening-ip = $(list "$TURND_LISTENING_IP")"
		[ -z "${TURND_RELAY_IP:-}" ] || echo "relay-ip = $(list "$TURND_RELAY_IP")"
		echo "listening-port = $(number TURND_LISTENING_PORT "${TURND_LISTENING_PORT:-3478}")"
		echo "min-port = $(number TURND_MIN_PORT "${TURND_MIN_PORT:-49152}")"
		echo "max-port = $(number TURND_MAX_PORT "${TURND_MAX_PORT:-65535}")"
		if [ -n "${TURND_CERT:-}" ] || [ -n "${TURND_PKEY:-}" ]; then
			echo "cert = $(quote "${TURND_CERT:?TURND_CERT needs TURND_PKEY too}")"
			echo "pkey = $(quote "${TURND_PKEY:?TURND_PKEY needs TURND_CERT too}")"
			echo "tls-listening-port = $(number TURND_TLS_LISTENING_PORT "${TURND_TLS_LISTENING_PORT:-5349}")"
		fi
		echo "metrics-ip = $(quote "${TURND_METRICS_IP:-127.0.0.1}")"
		echo "metrics-port = $(number TURND_METRICS_PORT "${TURND_METRICS_PORT:-9641}")"
		echo "log-level = $(quote "${TURND_LOG_LEVEL:-notice}")"
		[ -z "${TURND_OPTIONS:-}" ] || printf '%s\n' "$TURND_OPTIONS"
	} >"$1"
}

# setting NAME FILE: the value of a "NAME = value" line of FILE, unquoted.
setting() {
	sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\{0,1\}\([^\"[:space:]]*\).*/\1/p" "$2" | tail -n 1
}

# health: 0 when /healthz of the configuration in use answers 200, with
# bash's /dev/tcp (the slim image has no HTTP client; turnd's listener is
# libevent's evhttp, which answers HTTP/1.0).
health() {
	file=$conf
	[ -f "$file" ] || file=$generated
	port=$(setting metrics-port "$file")
	ip=$(setting metrics-ip "$file")
	case "$port" in
	'' | 0) die "health: no metrics-port in $file: /healthz is off" ;;
	esac
	case "$ip" in
	'' | 0.0.0.0) ip=127.0.0.1 ;;
	::) ip=::1 ;;
	esac
	status=$(timeout 4 bash -c 'exec 3<>"/dev/tcp/$0/$1" &&
		printf "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 &&
		IFS= read -r line <&3 && printf "%s\n" "${line%$'\r'}"' "$ip" "$port") ||
		die "health: no answer from $ip port $port"
	case "$status" in
	"HTTP/1."?" 200 "*) echo "turnd healthy: $status" ;;
	*) die "health: $ip port $port: $status" ;;
	esac
}

case "${1:-}" in
health)
	health
	exit
	;;
'' | -*) ;;
*) exec "$@" ;;
esac

if [ ! -f "$conf" ]; then
	write_conf "$generated"
	echo "turnd-entrypoint: no $conf mounted: $generated written from the environment" >&2
	conf=$generated
fi
turnd --check-config -c "$conf" >&2 || die "turnd --check-config refused $conf"
exec turnd --foreground -c "$conf" "$@"
