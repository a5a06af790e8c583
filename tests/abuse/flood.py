#!/usr/bin/env python3
"""UDP floods for the attack suite (tests/abuse/reflection.sh,
tests/abuse/spoof_flood.sh). python3 only, no pip.

usage: flood.py reflect HOST PORT KIND COUNT SECONDS
           one source socket sends COUNT prebuilt requests of KIND
           (allocate: a 20-byte header-only Allocate; binding: a 20-byte
           Binding) spread over about SECONDS, reading every answer while
           it sends; prints "sent BYTES_IN answers N bytes_out BYTES_OUT"
       flood.py steady HOST PORT COUNT RATE SRC
           a source under the limit: COUNT Binding requests from SRC at
           RATE a second, each with its own transaction id; prints
           "sent N answered M" (M counts distinct transaction ids answered)
       flood.py authed HOST PORT USER PASS SRC COUNT
           one client on SRC allocates (401, then with credentials), spends
           its source's budget with 3,000 header-only Bindings, then sends
           COUNT authenticated Refresh requests at once; prints "bindings
           answered B refreshes N answered M"
       flood.py spoof HOST PORT SOURCES SECONDS
           from SOURCES different addresses in 127.16.0.0/12 (each its own
           socket bound there, closed at once, as a spoofed source never
           reads): a header-only Allocate and an Allocate with a made-up
           USERNAME, REALM, NONCE and MESSAGE-INTEGRITY; stops after SECONDS;
           prints "sources N datagrams D"
"""
import hashlib
import hmac
import os
import select
import socket
import struct
import sys
import time

MAGIC = 0x2112A442
BINDING, ALLOCATE = 0x0001, 0x0003
A_USERNAME, A_MI, A_REALM, A_NONCE, A_TRANSPORT = 0x0006, 0x0008, 0x0014, 0x0015, 0x0019


def header(mtype, body=b"", tid=None):
    tid = tid if tid is not None else os.urandom(12)
    return struct.pack("!HHI", mtype, len(body), MAGIC) + tid + body


def attr(t, value):
    n = len(value)
    return struct.pack("!HH", t, n) + value + b"\0" * ((4 - n % 4) % 4)


def forged_allocate(i):
    """An Allocate with credentials nobody issued: its own USERNAME and
    NONCE per source, and a MESSAGE-INTEGRITY over them with a made-up
    key."""
    body = attr(A_TRANSPORT, bytes([17, 0, 0, 0]))
    body += attr(A_USERNAME, b"spoof-%d" % i)
    body += attr(A_REALM, b"turnd.test")
    body += attr(A_NONCE, b"obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA%06d" % i)
    m = header(ALLOCATE, body + b"\0" * 24)
    mac = hmac.new(b"made-up-key", m[:-24], hashlib.sha1).digest()
    return m[:-24] + attr(A_MI, mac)


def drain(s, got):
    while True:
        try:
            data = s.recv(65535)
        except BlockingIOError:
            return
        got[0] += 1
        got[1] += len(data)


def reflect(host, port, kind, count, seconds):
    mtype = ALLOCATE if kind == "allocate" else BINDING
    datagrams = [header(mtype) for _ in range(count)]  # prebuilt
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.connect((host, port))
    s.setblocking(False)
    got = [0, 0]
    sent = 0
    chunk = 250
    pause = seconds / (count / chunk)
    start = time.monotonic()
    for i in range(0, count, chunk):
        for d in datagrams[i:i + chunk]:
            try:
                sent += s.send(d)
            except BlockingIOError:
                select.select([], [s], [], 0.1)
            except ConnectionRefusedError:
                pass
        drain(s, got)
        # Pace to about count/seconds a second, so the server reads most of
        # the flood instead of the kernel dropping it.
        late = start + (i + chunk) / chunk * pause - time.monotonic()
        if late > 0:
            time.sleep(late)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        select.select([s], [], [], 0.1)
        drain(s, got)
    print("sent %d answers %d bytes_out %d seconds %.1f"
          % (sent, got[0], got[1], time.monotonic() - start))


def steady(host, port, count, rate, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.connect((host, port))
    s.setblocking(False)
    tids = set()
    answered = set()
    for _ in range(count):
        tid = os.urandom(12)
        tids.add(tid)
        s.send(header(BINDING, tid=tid))
        end = time.monotonic() + 1.0 / rate
        while time.monotonic() < end:
            select.select([s], [], [], max(0, end - time.monotonic()))
            try:
                data = s.recv(65535)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            if len(data) >= 20 and data[8:20] in tids:
                answered.add(data[8:20])
    end = time.monotonic() + 1.0
    while time.monotonic() < end and len(answered) < count:
        select.select([s], [], [], 0.1)
        try:
            data = s.recv(65535)
        except (BlockingIOError, ConnectionRefusedError):
            continue
        if len(data) >= 20 and data[8:20] in tids:
            answered.add(data[8:20])
    print("sent %d answered %d" % (count, len(answered)))


def authed(host, port, user, password, src, count):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "interop"))
    import turn_client as tc
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((src, 0))
    s.connect((host, port))
    s.settimeout(3)

    def ask(raw):
        s.send(raw)
        while True:
            m = tc.Msg(s.recv(65535))
            if m.tid == raw[8:20]:
                return m

    alloc = [(tc.A_TRANSPORT, bytes([tc.UDP, 0, 0, 0]))]
    m = ask(tc.encode(tc.msg_type(tc.ALLOCATE, 0), os.urandom(12), alloc))
    realm, nonce = m.get(tc.A_REALM), m.get(tc.A_NONCE)
    key = tc.long_term_key(user, realm, password)
    cred = [(tc.A_USERNAME, user.encode()), (tc.A_REALM, realm), (tc.A_NONCE, nonce)]
    m = ask(tc.encode(tc.msg_type(tc.ALLOCATE, 0), os.urandom(12), alloc + cred, key))
    if m.code != 0:
        sys.exit("Allocate with credentials: %d" % m.code)
    # The same 5-tuple, so the same worker and bucket: empty it.
    got = [0, 0]
    s.setblocking(False)
    for i in range(3000):
        s.send(header(BINDING))
        if i % 100 == 99:
            time.sleep(0.002)
            drain(s, got)
    time.sleep(0.2)
    drain(s, got)
    bindings = got[0]
    tids = set()
    lifetime = [(tc.A_LIFETIME, struct.pack("!I", 600))]
    for _ in range(count):
        tid = os.urandom(12)
        tids.add(tid)
        s.send(tc.encode(tc.msg_type(tc.REFRESH, 0), tid, lifetime + cred, key))
    answered = 0
    end = time.monotonic() + 2
    while time.monotonic() < end and answered < count:
        select.select([s], [], [], 0.1)
        try:
            data = s.recv(65535)
        except BlockingIOError:
            continue
        m = tc.Msg(data)
        if m.tid in tids and m.code == 0:
            tids.discard(m.tid)
            answered += 1
    s.setblocking(True)
    ask(tc.encode(tc.msg_type(tc.REFRESH, 0), os.urandom(12),
                  [(tc.A_LIFETIME, struct.pack("!I", 0))] + cred, key))
    print("bindings answered %d refreshes %d answered %d" % (bindings, count, answered))


def spoof(host, port, sources, seconds):
    end = time.monotonic() + seconds
    sent = n = 0
    plain = header(ALLOCATE)
    for n in range(sources):
        if time.monotonic() > end:
            break
        # 127.16.0.1 upwards: clear of 127.0.0.x, where the test's server
        # and legitimate client live.
        a = 16 + (n >> 16)
        src = "127.%d.%d.%d" % (a, (n >> 8) & 0xFF, n & 0xFF)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((src, 0))
            s.sendto(plain, (host, port))
            s.sendto(forged_allocate(n), (host, port))
            sent += 2
        except OSError:
            pass
        s.close()
        if n % 500 == 499:
            time.sleep(0.005)  # let the server read; the kernel drops the rest
    print("sources %d datagrams %d" % (n + 1, sent))


def main():
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "reflect":
        reflect(host, port, sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
    elif cmd == "steady":
        steady(host, port, int(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
    elif cmd == "authed":
        authed(host, port, sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7]))
    elif cmd == "spoof":
        spoof(host, port, int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
