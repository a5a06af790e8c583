#!/usr/bin/env python3
"""Large datagrams through the real turnd (issue 13 item 9).

usage: big_datagrams.py --port PORT [--tcp] --metrics MPORT USER PASS

Over a UDP or TCP client: a peer's datagrams of 8,000 and 60,000 bytes
come to the client in Data indications, and 60,000 bytes on a channel;
the client's 8,000 and 60,000 bytes in Send indications and 60,000 on the
channel reach the peer whole. Then what the client's transport cannot
carry: over UDP, a peer's 65,507-byte datagram (a Data indication or
ChannelData of it is over the largest UDP payload) is dropped and counted
in turnd_relay_oversize_dropped_total{direction="to_client"}; over TCP the
same datagram arrives, and a 65,520-byte ChannelData from the client (over
the largest UDP payload) is counted with direction "to_peer".
Prints ok/not ok lines; exits 0 when every check held.
"""
import argparse
import os
import re
import socket
import struct
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_client as tc  # noqa: E402

HOST = "127.0.0.1"
CHANNEL = 0x4000
FAILED = []


def check(cond, what):
    print("%s - %s" % ("ok" if cond else "not ok", what))
    if not cond:
        FAILED.append(what)
    return cond


def next_frame(conn, deadline):
    """The next STUN message or ChannelData from the server, raw."""
    while True:
        if conn.tcp and len(conn.buf) >= 4:
            first, n = struct.unpack("!HH", conn.buf[:4])
            flen = 20 + n if first < 0x4000 else 4 + n + (4 - n % 4) % 4
            if len(conn.buf) >= flen:
                frame, conn.buf = conn.buf[:flen], conn.buf[flen:]
                return frame
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        conn.sock.settimeout(left)
        try:
            data = conn.sock.recv(1 << 17)
        except socket.timeout:
            return None
        if not conn.tcp:
            return data
        if not data:
            return None
        conn.buf += data


def payload_of(frame):
    """(kind, data) of a Data indication or ChannelData frame."""
    if frame[0] >= 0x40:
        n = struct.unpack("!H", frame[2:4])[0]
        return "ChannelData", frame[4:4 + n]
    m = tc.Msg(frame)
    if m.type == tc.msg_type(tc.DATA, 1):
        return "Data indication", m.get(tc.A_DATA)
    return None, None


def to_client(c, peer, relayed, size, want_kind, seconds=3.0):
    """The peer sends size bytes to relayed: do they come whole, as want_kind?"""
    data = os.urandom(size)
    peer.sendto(data, relayed)
    deadline = time.monotonic() + seconds
    while True:
        frame = next_frame(c.conn, deadline)
        if frame is None:
            return None
        kind, got = payload_of(frame)
        if got == data:
            return kind == want_kind


def to_peer(c, peer, size, channel):
    """The client sends size bytes to the peer: do they arrive whole?"""
    data = os.urandom(size)
    me = peer.getsockname()
    if channel:
        pad = b"\0" * ((4 - size % 4) % 4) if c.conn.tcp else b""
        c.conn.sock.sendall(struct.pack("!HH", CHANNEL, size) + data + pad)
    else:
        tid = os.urandom(12)
        c.conn.sock.sendall(tc.encode(tc.msg_type(tc.SEND, 1), tid,
                                      [(tc.A_PEER, tc.encode_xor(me, tid)), (tc.A_DATA, data)]))
    peer.settimeout(3.0)
    try:
        got, _ = peer.recvfrom(1 << 17)
    except socket.timeout:
        return False
    return got == data


def oversize(mport, direction):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=3).read()
    m = re.search(r'^turnd_relay_oversize_dropped_total\{direction="%s"\} (\d+)$' % direction,
                  text.decode(), re.M)
    return int(m.group(1)) if m else None


def counted(mport, direction, before):
    """Metrics are copied from the workers once a second: wait for it."""
    for _ in range(30):
        now = oversize(mport, direction)
        if now is not None and before is not None and now > before:
            return now - before
        time.sleep(0.1)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tcp", action="store_true")
    ap.add_argument("--metrics", type=int, required=True)
    ap.add_argument("user")
    ap.add_argument("password")
    a = ap.parse_args()
    how = "TCP" if a.tcp else "UDP"
    c = tc.Client(tc.Conn(HOST, a.port, a.tcp), a.user, a.password)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((HOST, 0))
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    m = c.allocate()
    if not check(m.code == 0, "%s: Allocate (got %d)" % (how, m.code)):
        return 1
    relayed = m.xor_addr(tc.A_RELAYED)
    check(c.permission(peer.getsockname()).code == 0, "%s: CreatePermission" % how)
    for size in (8000, 60000):
        check(to_client(c, peer, relayed, size, "Data indication"),
              "%s client: a peer's %d bytes arrive whole in a Data indication" % (how, size))
        check(to_peer(c, peer, size, False),
              "%s client: %d bytes in a Send indication reach the peer whole" % (how, size))
    check(c.channel_bind(CHANNEL, peer.getsockname()).code == 0, "%s: ChannelBind" % how)
    check(to_client(c, peer, relayed, 60000, "ChannelData"),
          "%s client: a peer's 60000 bytes arrive whole on the channel" % how)
    check(to_peer(c, peer, 60000, True),
          "%s client: 60000 bytes of ChannelData reach the peer whole" % how)
    if a.tcp:
        check(to_client(c, peer, relayed, 65507, "ChannelData"),
              "TCP client: a peer's 65507 bytes (the largest UDP payload) arrive whole")
        before = oversize(a.metrics, "to_peer")
        check(not to_peer(c, peer, 65520, True),
              "TCP client: 65520 bytes of ChannelData (over a UDP payload) do not reach the peer")
        n = counted(a.metrics, "to_peer", before)
        print("figure: oversize datagrams to the peer counted = %d datagrams (bound >= 1)" % n)
        check(n == 1, "counted in turnd_relay_oversize_dropped_total{direction=\"to_peer\"}")
    else:
        before = oversize(a.metrics, "to_client")
        check(to_client(c, peer, relayed, 65507, "ChannelData", 1.0) is None,
              "UDP client: a peer's 65507 bytes (too large with a header) do not arrive")
        n = counted(a.metrics, "to_client", before)
        print("figure: oversize datagrams to the client counted = %d datagrams (bound >= 1)" % n)
        check(n == 1, "counted in turnd_relay_oversize_dropped_total{direction=\"to_client\"}")
        check(to_client(c, peer, relayed, 60000, "ChannelData"),
              "UDP client: and the next 60000 bytes still arrive")
    check(c.delete().code == 0, "%s: Refresh 0" % how)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
