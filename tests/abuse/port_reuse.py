#!/usr/bin/env python3
"""Relay port reuse (issue 13 item 6), against the real turnd.

usage: port_reuse.py PORT MINPORT MAXPORT CYCLES TRIALS PACE_MS

1. Leak: TRIALS times, alice allocates, permits a peer and deletes; bob
   allocates at once and permits the same peer, which then sends to
   alice's old relayed address (and, as a control, to bob's). Counts the
   datagrams meant for alice that bob received.
2. Churn: CYCLES allocate/delete cycles alternating alice and bob, PACE_MS
   apart (so that the range outlasts the quarantine). For
   every port handed out twice, the gap from the Refresh 0 that freed it
   being sent to the Allocate answer that handed it out again (an upper
   bound of the server's gap); the ports' spread over the range: distinct
   ports, and chi-square over 10 equal buckets.
Prints "NAME VALUE" lines for the shell test to judge.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "interop"))
import turn_client as tc  # noqa: E402

HOST = "127.0.0.1"
USERS = (("alice", "wonderland"), ("bob", "builder"))


def client(port, user):
    return tc.Client(tc.Conn(HOST, port, False), user[0], user[1])


def relayed(m):
    a = m.xor_addr(tc.A_RELAYED)
    return a[1] if a else None


def got_data(c, seconds):
    """Data indications c receives within seconds."""
    n = 0
    deadline = time.monotonic() + seconds
    while tc.wait_indication(c, deadline - time.monotonic()) is not None:
        n += 1
    return n


def leak_trial(port, peer):
    a, b = client(port, USERS[0]), client(port, USERS[1])
    peer_addr = (HOST, peer.getsockname()[1])
    ma = a.allocate()
    if ma.code != 0 or a.permission(peer_addr).code != 0 or a.delete().code != 0:
        raise RuntimeError("alice: allocate, permit, delete failed (%d)" % ma.code)
    mb = b.allocate()
    if mb.code != 0 or b.permission(peer_addr).code != 0:
        raise RuntimeError("bob: allocate or permit failed (%d)" % mb.code)
    old, new = relayed(ma), relayed(mb)
    peer.sendto(b"meant for alice", (HOST, old))
    leaked = got_data(b, 0.3)
    peer.sendto(b"meant for bob", (HOST, new))
    control = 1 if tc.wait_indication(b, 1.0) is not None else 0
    b.delete()
    a.conn.close()
    b.conn.close()
    return old == new, leaked, control


def churn(port, cycles, pace):
    cs = [client(port, u) for u in USERS]
    freed = {}  # port -> when the Refresh 0 that freed it was sent
    ports, gaps = [], []
    for i in range(cycles):
        c = cs[i % 2]
        m = c.allocate()
        handed = time.monotonic()
        if m.code != 0:
            raise RuntimeError("cycle %d: Allocate %d" % (i, m.code))
        p = relayed(m)
        if p in freed:
            gaps.append(handed - freed[p])
        ports.append(p)
        freed[p] = time.monotonic()
        if c.delete().code != 0:
            raise RuntimeError("cycle %d: Refresh 0 failed" % i)
        time.sleep(pace)
    return ports, gaps


def chi_square(ports, lo, hi, buckets=10):
    span = hi - lo + 1
    counts = [0] * buckets
    for p in ports:
        counts[(p - lo) * buckets // span] += 1
    want = len(ports) / buckets
    return sum((n - want) ** 2 / want for n in counts), max(counts)


def main():
    port, lo, hi, cycles, trials, pace_ms = (int(x) for x in sys.argv[1:7])
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((HOST, 0))
    same = leaked = control = 0
    for _ in range(trials):
        s, n, k = leak_trial(port, peer)
        same, leaked, control = same + s, leaked + n, control + k
    print("leak_same_address %d" % same)
    print("leak_received %d" % leaked)
    print("leak_control %d" % control)
    start = time.monotonic()
    ports, gaps = churn(port, cycles, pace_ms / 1000.0)
    took = time.monotonic() - start
    chi, top = chi_square(ports, lo, hi)
    outside = sum(1 for p in ports if p < lo or p > hi)
    print("churn_seconds %.2f" % took)
    print("churn_allocations %d" % len(ports))
    print("churn_outside_range %d" % outside)
    print("churn_distinct %d" % len(set(ports)))
    print("churn_reused %d" % len(gaps))
    print("churn_min_gap_ms %d" % (int(min(gaps) * 1000) if gaps else int(took * 1000)))
    print("churn_chi_square %.1f" % chi)
    print("churn_max_bucket %d" % top)


if __name__ == "__main__":
    main()
