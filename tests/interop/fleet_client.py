#!/usr/bin/env python3
"""Steps of tests/interop/turn_fleet.sh: two turnd servers on one Redis.

usage: fleet_client.py [--redis-port P] STEP ARG...

Steps (ports are turnd's on 127.0.0.1; USER/PASS long-term credentials):
  quota PA PB USER PASS          user-quota 2 across both: one on each,
                                 a third on either is 486; after a delete
                                 the other server allocates again
  hold PORT USER PASS N          N allocations, left in place (not deleted)
  refused PORT USER PASS         Allocate: 486
  eventually PORT USER PASS S    Allocate succeeds within S seconds
  shed_count PA PB U1 P1 U2 P2   A at shed-allocations 2: the third gets
                                 300 with ALTERNATE-SERVER = B, and B takes it
  peer PORT USER PASS PEER CODE  CreatePermission to PEER answers CODE
  shed_bps PA PB USER PASS PEER  traffic through A over shed-bps: the next
                                 Allocate gets 300 to B; once it stops, 0
  events REALM USER              the Redis stream has created, refreshed and
                                 deleted events of USER, traffic counted
It prints what it saw and exits 0 when every expectation held.
"""
import argparse
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_client as tc  # noqa: E402
from turn_client import expect  # noqa: E402

A_ALTERNATE = 0x8023
A_DATA = 0x0013
SEND = 0x006


def client(port, user, password):
    return tc.Client(tc.Conn("127.0.0.1", int(port), False), user, password)


def allocate(port, user, password, want=0):
    c = client(port, user, password)
    m = c.allocate()
    expect(m.code == want, "Allocate as %s on :%s: %d (got %d)" % (user, port, want, m.code))
    return c, m


def allocate_soon(port, user, password, seconds=3.0):
    """Allocate, retried while it gets 486: a delete on another server
    reaches Redis on that server's own connection, a moment after its
    Refresh response reached us."""
    deadline = time.monotonic() + seconds
    while True:
        c = client(port, user, password)
        m = c.allocate()
        if m.code != 486 or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    expect(m.code == 0, "Allocate as %s on :%s once the delete is counted: 0 (got %d)" %
           (user, port, m.code))
    return c, m


def alternate_of(m):
    v = m.get(A_ALTERNATE)
    if v and len(v) == 8 and v[1] == 1:
        return "%s:%d" % (socket.inet_ntop(socket.AF_INET, v[4:8]),
                          struct.unpack("!H", v[2:4])[0])
    return None


def s_quota(pa, pb, user, password):
    a1, _ = allocate(pa, user, password)
    b1, _ = allocate(pb, user, password)
    allocate(pa, user, password, 486)
    allocate(pb, user, password, 486)
    expect(a1.delete().code == 0, "Refresh 0 on A: the fleet count drops")
    b2, _ = allocate_soon(pb, user, password)
    for c in (b1, b2):
        expect(c.delete().code == 0, "Refresh 0 on B")
    # Both gone: two fit again, one on each.
    a3, _ = allocate_soon(pa, user, password)
    b3, _ = allocate_soon(pb, user, password)
    for c in (a3, b3):
        c.delete()


def s_hold(port, user, password, n):
    for _ in range(int(n)):
        allocate(port, user, password)


def s_refused(port, user, password):
    allocate(port, user, password, 486)


def s_eventually(port, user, password, seconds):
    deadline = time.monotonic() + float(seconds)
    start = time.monotonic()
    code = None
    while time.monotonic() < deadline:
        c = client(port, user, password)
        code = c.allocate().code
        if code == 0:
            c.delete()
            break
        time.sleep(0.5)
    expect(code == 0, "Allocate as %s succeeds after %.1f s (last answer %s)" %
           (user, time.monotonic() - start, code))


def s_shed_count(pa, pb, u1, p1, u2, p2):
    first, _ = allocate(pa, u1, p1)
    second, _ = allocate(pa, u2, p2)
    c, m = allocate(pa, u2, p2, 300)
    got = alternate_of(m)
    want = "127.0.0.1:%s" % pb
    expect(got == want, "ALTERNATE-SERVER is the other server %s (got %s)" % (want, got))
    expect(m.integrity_ok(c.key), "the 300 carries MESSAGE-INTEGRITY")
    moved, _ = allocate(pb, u2, p2)
    for x in (first, second, moved):
        expect(x.delete().code == 0, "Refresh 0")


def s_peer(port, user, password, peer, code):
    c, _ = allocate(port, user, password)
    m = c.permission(tc.parse_peer(peer))
    expect(m.code == int(code), "CreatePermission to %s: %s (got %d)" % (peer, code, m.code))
    c.delete()


def send_indication(c, peer, payload):
    tid = os.urandom(12)
    raw = tc.encode(tc.msg_type(SEND, 1), tid,
                    [(tc.A_PEER, tc.encode_xor(peer, tid)), (A_DATA, payload)])
    c.conn.sock.send(raw)


def drain(sock):
    sock.setblocking(False)
    try:
        while True:
            sock.recv(65536)
    except (BlockingIOError, ConnectionRefusedError):
        pass
    finally:
        sock.setblocking(True)


def s_shed_bps(pa, pb, user, password, peer_text):
    peer = tc.parse_peer(peer_text)
    c, _ = allocate(pa, user, password)
    expect(c.permission(peer).code == 0, "CreatePermission to the echo peer")
    payload = b"x" * 200
    # About 100 kB/s each way for 2.5 s: over shed-bps (20000).
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        for _ in range(20):
            send_indication(c, peer, payload)
        drain(c.conn.sock)
        time.sleep(0.04)
    other, m = allocate(pa, user, password, 300)
    got = alternate_of(m)
    expect(got == "127.0.0.1:%s" % pb, "ALTERNATE-SERVER is B (got %s)" % got)
    # Quiet for two ticks: the rate falls under the threshold.
    time.sleep(2.5)
    drain(c.conn.sock)
    again, _ = allocate(pa, user, password)
    m = c.request(tc.REFRESH, [(tc.A_LIFETIME, struct.pack("!I", 1200))])
    expect(m.code == 0, "Refresh 1200: success (got %d)" % m.code)
    for x in (again, c):
        expect(x.delete().code == 0, "Refresh 0")


# ---- A minimal RESP client, for reading the event stream.

def resp_read(f):
    line = f.readline()
    if not line:
        raise RuntimeError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-"):
        return rest.decode()
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [resp_read(f) for _ in range(n)]
    raise RuntimeError("bad RESP %r" % line)


def redis(*argv):
    s = socket.create_connection(("127.0.0.1", ARGS.redis_port), timeout=5)
    out = b"*%d\r\n" % len(argv)
    for a in argv:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)
    f = s.makefile("rb")
    r = resp_read(f)
    s.close()
    return r


def s_events(realm, user):
    entries = redis("XRANGE", "turn/realm/%s/events" % realm, "-", "+")
    seen = {}
    for _, fields in entries or []:
        e = dict(zip(fields[0::2], fields[1::2]))
        if e.get("user") == user:
            seen.setdefault(e["event"], []).append(e)
    print("    %d events in the stream, of %s: %s" %
          (len(entries or []), user, {k: len(v) for k, v in seen.items()}))
    expect(len(seen.get("created", [])) >= 1, "a created event of %s" % user)
    expect(len(seen.get("deleted", [])) >= 1, "a deleted event of %s" % user)
    expect(any(e["lifetime"] == "1200" for e in seen.get("refreshed", [])),
           "a refreshed event of %s with the new lifetime 1200" % user)
    moved = [e for e in seen.get("deleted", []) if int(e["client_to_peer_bytes"]) > 0 and
             int(e["peer_to_client_bytes"]) > 0 and int(e["client_to_peer_packets"]) > 0]
    expect(bool(moved), "a deleted event counts the bytes and packets relayed both ways")
    e = seen.get("created", [{}])[0]
    expect(all(k in e for k in ("node", "client", "relay", "transport", "lifetime")),
           "a created event names node, client, relay, transport and lifetime: %s" % e)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--redis-port", type=int, default=6379)
    p.add_argument("step")
    p.add_argument("args", nargs="*")
    ARGS = p.parse_args()
    step = globals().get("s_" + ARGS.step)
    if step is None:
        p.error("no step %r" % ARGS.step)
    try:
        step(*ARGS.args)
    except (OSError, RuntimeError, TypeError) as e:
        expect(False, "%s: %s" % (type(e).__name__, e))
    sys.exit(1 if tc.failures else 0)


if __name__ == "__main__":
    main()
