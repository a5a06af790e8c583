#!/usr/bin/env python3
"""The host's own addresses as peers (issue 13 item 1), for own_peers.sh.

usage: own_peers.py services UDP_PORT TCP_PORT COUNT_FILE
       own_peers.py attack --host A --port PORT --count COUNT_FILE
                           --conf CONF --pid PID --log LOG --ns NS
                           --unused-port P [--user U --password P]

services: a UDP service and a TCP service bound to 0.0.0.0 (what a host
runs and trusts loopback for), counting every datagram and connection
into COUNT_FILE as "udp N tcp M".

attack: a client of the turnd at A:PORT tries to reach those services
through the relay, on A, on 127.0.0.1 and on a relay port without an
allocation, by CreatePermission, ChannelBind, Send, ChannelData and an
RFC 6062 Connect; checks the hairpin between two allocations still works;
then reloads turnd (SIGHUP to PID, CONF rewritten) with allow-own-peers =
true and checks the services are reached (so the counting is shown to
work), and reloads back to check that Send, ChannelData and Connect are
refused again with the permission and channel still in place. NS is the
server's network namespace, where an address is added while turnd runs.
Prints "ok - " and "not ok - " lines for the shell test, and a
"measure<TAB>WHAT<TAB>VALUE<TAB>UNIT<TAB>le<TAB>BOUND" line for each figure,
which the shell test prints and checks (abuse_lib.sh's figure).
"""
import argparse
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import turn_client as tc  # noqa: E402

ROUNDS = 10  # datagrams per path; every one must stay out
passed = failed = 0


def check(cond, what):
    global passed, failed
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if cond:
        passed += 1
    else:
        failed += 1
    return cond


def figure(what, value, unit, bound):
    """One measured figure and its bound (value must not exceed it), for the
    shell test to print and check."""
    global passed, failed
    print("measure\t%s\t%s\t%s\tle\t%s" % (what, value, unit, bound), flush=True)
    if value <= bound:
        passed += 1
    else:
        failed += 1
    return value <= bound


# ------------------------------------------------------------ services

def services(udp_port, tcp_port, path):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", udp_port))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("0.0.0.0", tcp_port))
    t.listen(64)
    n = {"udp": 0, "tcp": 0}

    def save():
        with open(path + ".tmp", "w") as f:
            f.write("udp %d tcp %d\n" % (n["udp"], n["tcp"]))
        os.rename(path + ".tmp", path)

    save()
    deadline = time.monotonic() + 600  # bounded, whatever happens
    while time.monotonic() < deadline:
        ready, _, _ = select.select([u, t], [], [], 1.0)
        if u in ready:
            u.recv(65536)
            n["udp"] += 1
            save()
        if t in ready:
            s, _ = t.accept()
            s.close()
            n["tcp"] += 1
            save()


def counts():
    with open(ARGS.count) as f:
        w = f.read().split()
    return int(w[1]), int(w[3])


# ------------------------------------------------------------ client side

def client(tcp=False, user=None):
    return tc.Client(tc.Conn(ARGS.host, ARGS.port, tcp), user or ARGS.user, ARGS.password)


def allocated(c, transport=tc.UDP):
    m = c.allocate(transport=transport)
    ok = check(m.code == 0, "Allocate (%s): success (got %d)"
               % ("TCP" if transport == tc.TCP else "UDP", m.code))
    return m.xor_addrs(tc.A_RELAYED)[0] if ok else None


def send_indication(c, peer, payload):
    tid = os.urandom(12)
    c.conn.sock.sendall(tc.encode(tc.msg_type(tc.SEND, 1), tid,
                                  [(tc.A_PEER, tc.encode_xor(peer, tid)), (tc.A_DATA, payload)]))


def channel_data(c, number, payload):
    c.conn.sock.sendall(struct.pack("!HH", number, len(payload)) + payload)


def connect(c, peer):
    tid = os.urandom(12)
    return c.send_raw(c.build(tc.CONNECT, [(tc.A_PEER, tc.encode_xor(peer, tid))], tid))


def settle_udp(before):
    """Datagrams the UDP service got since before, once in-flight ones
    had half a second to land."""
    time.sleep(0.5)
    return counts()[0] - before


def refused_udp(c, peer, channel):
    """CreatePermission and ChannelBind 403, and ROUNDS Send indications
    and ChannelData messages that never reach the UDP service."""
    m = c.permission(peer)
    check(m.code == 403, "CreatePermission %s: 403 (got %d)" % (tc.fmt(peer), m.code))
    m = c.channel_bind(channel, peer)
    check(m.code == 403, "ChannelBind 0x%04X %s: 403 (got %d)" % (channel, tc.fmt(peer), m.code))
    before = counts()[0]
    for _ in range(ROUNDS):
        send_indication(c, peer, b"send to an own address")
        channel_data(c, channel, b"channel data to an own address")
    return settle_udp(before)


def refused_connect(c, peer):
    """CreatePermission and Connect 403, and no connection reaches the TCP
    service."""
    before = counts()[1]
    m = c.permission(peer)
    check(m.code == 403, "TCP allocation: CreatePermission %s: 403 (got %d)"
          % (tc.fmt(peer), m.code))
    m = connect(c, peer)
    check(m.code == 403, "Connect %s: 403 (got %d)" % (tc.fmt(peer), m.code))
    time.sleep(0.5)
    return counts()[1] - before


def reload_turnd(allow_own):
    """Rewrite CONF with allow-own-peers, SIGHUP turnd, and wait until
    every worker runs the new configuration."""
    with open(ARGS.conf) as f:
        lines = [ln for ln in f if not ln.startswith("allow-own-peers")]
    word = "true" if allow_own else "false"
    lines.append("allow-own-peers = %s\n" % word)
    with open(ARGS.conf, "w") as f:
        f.writelines(lines)
    done = "every worker runs the new configuration"
    with open(ARGS.log) as f:
        seen = f.read().count(done)
    os.kill(ARGS.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(ARGS.log) as f:
            if f.read().count(done) > seen:
                return check(True, "reload with allow-own-peers = %s applied" % word)
        time.sleep(0.05)
    return check(False, "reload with allow-own-peers = %s applied" % word)


def hairpin():
    """Two allocations of this server reach each other (the exception)."""
    h1, h2 = client(), client()
    r1, r2 = allocated(h1), allocated(h2)
    if r1 is None or r2 is None:
        return
    m1, m2 = h1.permission(r2), h2.permission(r1)
    check(m1.code == 0 and m2.code == 0, "hairpin: CreatePermission for the other allocation's "
          "relayed address %s and %s: success (got %d, %d)"
          % (tc.fmt(r2), tc.fmt(r1), m1.code, m2.code))
    check(h1.channel_bind(0x4001, r2).code == 0, "hairpin: ChannelBind 0x4001 to %s: success"
          % tc.fmt(r2))
    got = 0
    for i in range(ROUNDS):
        payload = b"hairpin %d" % i
        if i % 2:
            send_indication(h1, r2, payload)
        else:
            channel_data(h1, 0x4001, payload)
        m = h2.conn.recv_msg(time.monotonic() + 2.0)
        if m is not None and m.get(tc.A_DATA) == payload and m.xor_addr(tc.A_PEER) == r1:
            got += 1
    check(got == ROUNDS, "hairpin: %d/%d Send and ChannelData reached the other allocation, "
          "from %s" % (got, ROUNDS, tc.fmt(r1)))
    for h in (h1, h2):
        h.delete()
        h.conn.close()


def new_address_refused():
    """An address added to the host while turnd runs is refused too (the
    netlink watch): 403 within 2 s."""
    extra = "203.0.113.77"
    subprocess.run(["ip", "netns", "exec", ARGS.ns, "ip", "addr", "add", extra + "/32",
                    "dev", "lo"], check=True)
    c = client()
    if allocated(c) is None:
        return
    code, start = 0, time.monotonic()
    while time.monotonic() - start < 2.0:
        code = c.permission((extra, 5555)).code
        if code == 403:
            break
        time.sleep(0.1)
    check(code == 403, "an address added at run time (%s:5555): 403 within 2 s (got %d after "
          "%.1f s)" % (extra, code, time.monotonic() - start))
    c.delete()
    c.conn.close()


def attack():
    a = ARGS.host
    own_udp = [(a, 5555), ("127.0.0.1", 5555), ("127.0.0.2", 5555), ("0.0.0.0", 5555),
               (a, ARGS.unused_port)]
    c = client()
    if allocated(c) is None:
        return
    leaked = 0
    for i, peer in enumerate(own_udp):
        leaked += refused_udp(c, peer, 0x4010 + i)
    figure("datagrams reaching the host's UDP service through the relay "
           "(%d Send + %d ChannelData to each of %d own addresses)"
           % (ROUNDS, ROUNDS, len(own_udp)), leaked, "datagrams", 0)
    t = client(tcp=True)
    conns = 0
    if allocated(t, tc.TCP) is not None:
        for peer in ((a, 6380), ("127.0.0.1", 6380), ("0.0.0.0", 6380)):
            conns += refused_connect(t, peer)
    figure("connections reaching the host's TCP service through RFC 6062 Connect",
           conns, "connections", 0)
    hairpin()
    new_address_refused()

    # allow-own-peers opens them: the same services are reached, which
    # shows the counting above would have seen a leak.
    if not reload_turnd(True):
        return
    m = c.permission((a, 5555))
    check(m.code == 0, "allow-own-peers: CreatePermission %s:5555: success (got %d)" % (a, m.code))
    check(c.channel_bind(0x4020, (a, 5555)).code == 0, "allow-own-peers: ChannelBind: success")
    before = counts()[0]
    send_indication(c, (a, 5555), b"allowed")
    channel_data(c, 0x4020, b"allowed")
    check(settle_udp(before) == 2, "allow-own-peers: a Send and a ChannelData reach the service")
    ok = t.permission((a, 6380)).code == 0 and t.permission(("127.0.0.1", 6380)).code == 0
    check(ok, "allow-own-peers: TCP allocation: CreatePermission %s:6380 and 127.0.0.1:6380: "
          "success" % a)
    before = counts()[1]
    m = connect(t, ("127.0.0.1", 6380))
    time.sleep(0.5)
    check(m.code == 0 and counts()[1] - before == 1,
          "allow-own-peers: Connect 127.0.0.1:6380: success (got %d), the service sees it" % m.code)

    # And off again: the permission and channel stay, the data does not
    # pass, and Connect attempts nothing.
    if not reload_turnd(False):
        return
    before = counts()[0]
    for _ in range(ROUNDS):
        send_indication(c, (a, 5555), b"after the reload")
        channel_data(c, 0x4020, b"after the reload")
    figure("datagrams reaching the service over a permission and channel made before "
           "allow-own-peers was turned off", settle_udp(before), "datagrams", 0)
    before = counts()[1]
    m = connect(t, (a, 6380))
    check(m.code == 403, "Connect %s:6380 with a permission made before the reload: 403 "
          "(got %d)" % (a, m.code))
    time.sleep(0.5)
    figure("connections reaching the TCP service after the reload", counts()[1] - before,
           "connections", 0)
    for x in (c, t):
        x.delete()
        x.conn.close()


def main():
    global ARGS
    if len(sys.argv) == 5 and sys.argv[1] == "services":
        services(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["attack"])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", required=True)
    p.add_argument("--conf", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--ns", required=True)
    p.add_argument("--unused-port", type=int, required=True)
    p.add_argument("--user", default="user")
    p.add_argument("--password", default="pass")
    ARGS = p.parse_args()
    tc.ARGS = argparse.Namespace(host=ARGS.host, port=ARGS.port, tcp=False)
    try:
        attack()
    except (OSError, RuntimeError) as e:
        check(False, "%s: %s" % (type(e).__name__, e))
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
