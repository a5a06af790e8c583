#!/usr/bin/env python3
"""ChannelBind past max-permissions (issue 13 item 8), against the real turnd.

usage: channel_bind_508.py PORT USER PASS MAX_PERMISSIONS ROUNDS

One allocation permits MAX_PERMISSIONS peers (127.0.0.10 and on: a
permission is for an IP address); then, ROUNDS times, a
ChannelBind to one more peer (a new number each time), which must get 508,
and ChannelData on that number, which must reach no peer. A peer it holds
a permission for, bound on a channel, gets its ChannelData (the control).
Prints "NAME VALUE" lines for the shell test.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "interop"))
import turn_client as tc  # noqa: E402

HOST = "127.0.0.1"


def peer_socket(i):
    """A peer on 127.0.0.(10 + i): permissions go by IP address."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.%d" % (10 + i), 0))
    s.setblocking(False)
    return s


def drain(socks):
    n = 0
    for s in socks:
        while True:
            try:
                s.recv(65536)
                n += 1
            except BlockingIOError:
                break
    return n


def main():
    port, user, password, max_perm, rounds = sys.argv[1], sys.argv[2], sys.argv[3], \
        int(sys.argv[4]), int(sys.argv[5])
    c = tc.Client(tc.Conn(HOST, int(port), False), user, password)
    if c.allocate().code != 0:
        print("allocate_failed 1")
        return 1
    held = [peer_socket(i) for i in range(max_perm)]
    for s in held:
        if c.permission(s.getsockname()).code != 0:
            print("permission_failed 1")
            return 1
    extra = [peer_socket(max_perm + i) for i in range(rounds)]
    codes = {}
    for i, s in enumerate(extra):
        number = 0x4001 + i
        m = c.channel_bind(number, s.getsockname())
        codes[m.code] = codes.get(m.code, 0) + 1
        c.conn.sock.send(struct.pack("!HH", number, 4) + b"leak")
    time.sleep(0.5)
    leaked = drain(extra)
    # Control: a peer with a permission, on a channel, gets its data.
    ok = c.channel_bind(0x4000, held[0].getsockname()).code == 0
    c.conn.sock.send(struct.pack("!HH", 0x4000, 4) + b"ping")
    time.sleep(0.3)
    control = drain(held[:1]) if ok else 0
    print("bind_508 %d" % codes.get(508, 0))
    print("bind_other %d" % (rounds - codes.get(508, 0)))
    print("leaked %d" % leaked)
    print("control %d" % control)
    c.delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
