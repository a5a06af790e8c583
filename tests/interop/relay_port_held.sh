#!/bin/sh
# A relay port that another process holds. With every other port of the
# range in quarantine (issue 13 item 6), a port whose bind failed used to
# go back as free at once, so each of relay_open's tries picked it again
# and the Allocate got 508 although quarantined ports could be handed out
# early. Here: a range of 4 ports, one held by this test's socket, a
# 60 s quarantine, and 12 allocate/delete cycles: every one must succeed,
# and none on the held port.
set -u
. "$top_srcdir/tests/interop/lib.sh"
. "$top_srcdir/tests/interop/turn_lib.sh"

PYTHON3=${PYTHON3:-python3}
pick_port PORT || { not_ok "no free port"; finish; }
relay_range
MAXPORT=$((MINPORT + 3))
HELD=$((MINPORT + 2))
start_turnd "listening-ip = { \"127.0.0.1\" }
listening-port = $PORT
relay-ip = { \"127.0.0.1\" }
min-port = $MINPORT
max-port = $MAXPORT
tls-listening-port = 0
realm = \"$TURN_REALM\"
user = { \"$TURN_USER:$TURN_PASS\" }
relay-port-quarantine = 60" || { not_ok "start turnd"; finish; }

timeout -k 5 60 "$PYTHON3" - "$PORT" "$HELD" "$TURN_USER" "$TURN_PASS" >"$T_DIR/cycles.out" 2>&1 <<'PY'
import os, socket, sys
sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests", "interop"))
import turn_client as tc
port, held, user, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
hold = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
hold.bind(("127.0.0.1", held))
ok = on_held = 0
for i in range(12):
    c = tc.Client(tc.Conn("127.0.0.1", port, False), user, pw)
    m = c.allocate()
    if m.code == 0:
        ok += 1
        a = m.xor_addr(tc.A_RELAYED)
        on_held += a is not None and a[1] == held
        c.delete()
    else:
        print("cycle %d: Allocate answered %d" % (i, m.code))
print("allocated %d" % ok)
print("on_held %d" % on_held)
PY
sed 's/^/  | /' "$T_DIR/cycles.out"
check "12 allocate/delete cycles over 4 ports, one held elsewhere: all 12 allocated" \
	grep -qx "allocated 12" "$T_DIR/cycles.out"
check "none on the held port" grep -qx "on_held 0" "$T_DIR/cycles.out"
check "turnd stops cleanly" stop_turnd
finish
