#!/bin/sh
# SECURITY.md bad-input classes that apply to STUN, over UDP and TCP,
# against the real turnd; then it must stop cleanly (no sanitizer report).
. "$top_srcdir/tests/interop/lib.sh"

PORT=$(free_port)
start_turnd "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
relay-threads = 2
# The 0xFFFF ChannelData framing case comes before any allocation, which
# the default preauth-buffer (2048) refuses (tests/abuse/tcp_hold.sh).
preauth-buffer = 65540" || exit 1

check "bad_input.py" "${PYTHON3:-python3}" "$top_srcdir/tests/interop/bad_input.py" "$PORT"
check "turnd stops cleanly after the bad input" stop_turnd
finish
