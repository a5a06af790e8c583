#!/usr/bin/env python3
"""A bounded DTLS ClientHello flood against a server's DTLS port.

From many source ports at once it sends, round robin: ClientHellos without
a cookie, ClientHellos with a made-up cookie, truncated ClientHellos,
records of other content types, and random bytes. It never returns a
cookie the server made, so a server that keeps no state before the cookie
comes back must end up with no session. It counts the HelloVerifyRequests
that come back (each proves the server answered statelessly) and prints:

    dtls_flood: sent N, hello_verify M, other K

Usage: dtls_flood.py HOST PORT [PACKETS] [SOCKETS]
"""
import os
import select
import socket
import struct
import sys
import time


def client_hello(cookie=b"", seq=0):
    """A DTLS 1.2 ClientHello in one record, with the given cookie."""
    body = struct.pack("!H", 0xFEFD) + os.urandom(32)
    body += b"\x00"  # no session id
    body += struct.pack("!B", len(cookie)) + cookie
    suites = [0xC02B, 0xC02F, 0xC02C, 0xC030]
    body += struct.pack("!H", 2 * len(suites)) + b"".join(struct.pack("!H", s) for s in suites)
    body += b"\x01\x00"  # compression: null
    n = len(body)
    # Handshake header: type 1, length, message_seq 0, offset 0, fragment length.
    hs = struct.pack("!B", 1) + n.to_bytes(3, "big") + struct.pack("!H", 0)
    hs += (0).to_bytes(3, "big") + n.to_bytes(3, "big") + body
    # Record header: handshake (22), DTLS 1.0 record version, epoch 0, seq.
    rec = struct.pack("!BHH", 22, 0xFEFF, 0) + seq.to_bytes(6, "big")
    return rec + struct.pack("!H", len(hs)) + hs


def packet(i):
    kind = i % 5
    if kind == 0:
        return client_hello(seq=i)
    if kind == 1:
        return client_hello(cookie=os.urandom(32), seq=i)
    if kind == 2:
        return client_hello(seq=i)[: 13 + (i % 40)]
    if kind == 3:  # application data in epoch 1 from an unknown address
        return struct.pack("!BHH", 23, 0xFEFD, 1) + i.to_bytes(6, "big") + b"\x00\x20" + os.urandom(32)
    return os.urandom(1 + (i * 37) % 300)


def is_hello_verify(data):
    return len(data) > 13 and data[0] == 22 and data[13] == 3


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    total = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    n_socks = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    for _ in range(n_socks):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((host, port))
        socks.append(s)
    hvr = other = sent = 0

    def drain(wait):
        nonlocal hvr, other
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            r, _, _ = select.select(socks, [], [], max(left, 0))
            if not r:
                return
            for s in r:
                try:
                    data = s.recv(4096)
                except OSError:
                    continue
                if is_hello_verify(data):
                    hvr += 1
                else:
                    other += 1

    for i in range(total):
        try:
            socks[i % n_socks].send(packet(i))
            sent += 1
        except OSError:
            pass  # ENOBUFS, or ECONNREFUSED from an earlier ICMP error
        if i % 200 == 199:
            drain(0.01)  # keep the receive buffers from overflowing
    drain(1.0)
    print("dtls_flood: sent %d, hello_verify %d, other %d" % (sent, hvr, other))
    for s in socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
