#!/usr/bin/env python3
"""A flood of Allocate requests for the tests in tests/abuse/ (issue 13,
items 2 and 3): prebuilt datagrams, sent from SOURCES loopback addresses
(127.2.0.1 and up, so that a limit per source address, such as the one
on answers to unauthenticated requests, does not stand in for the one
under test), with the answers read back and counted.

usage: auth_flood.py --port PORT --count N --mode MODE [--realm R] [--pid PID]
                     [--sources K (500)] [--source ADDR] [--nonce NONCE]
--source: every request from ADDR instead (badmac: the nonce's address).

MODE:
  plain   an Allocate with REQUESTED-TRANSPORT and nothing else (401)
  forged  USERNAME of the TURN REST form "<expiry>:flood<i>" (a new name
          each time), REALM, a made-up NONCE with our cookie, and a
          MESSAGE-INTEGRITY under a made-up password (438)
  badmac  the same with a real NONCE (--nonce, got by the caller from a
          401 to the same source address) and a wrong password (401)

Prints "sent N answered M codes {code: count}" and, with --pid, the CPU
time turnd (PID) used meanwhile: "cpu_ms X" (every thread's time on CPU
from /proc/PID/task/*/schedstat, or utime + stime from /proc/PID/stat). Exits 0 when at least half of the requests were
answered (the kernel may drop some under a flood; turnd answers all it
reads).
"""
import argparse
import base64
import hashlib
import hmac
import os
import select
import socket
import struct
import time
import zlib

MAGIC = 0x2112A442
ALLOCATE = 0x003
A_USERNAME, A_MI, A_ERROR, A_REALM, A_NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
A_TRANSPORT, A_FINGERPRINT = 0x0019, 0x8028
BATCH = 64


def attr(t, value):
    n = len(value)
    return struct.pack("!HH", t, n) + value + b"\0" * ((4 - n % 4) % 4)


def encode(attrs, key=None):
    body = b"".join(attr(t, v) for t, v in attrs)
    m = struct.pack("!HHI", ALLOCATE, len(body), MAGIC) + os.urandom(12) + body
    if key is not None:
        m = m[:2] + struct.pack("!H", len(m) - 20 + 24) + m[4:]
        m += attr(A_MI, hmac.new(key, m, hashlib.sha1).digest())
    m = m[:2] + struct.pack("!H", len(m) - 20 + 8) + m[4:]
    crc = (zlib.crc32(m) & 0xFFFFFFFF) ^ 0x5354554E
    return m + attr(A_FINGERPRINT, struct.pack("!I", crc))


def made_up_nonce():
    """Our wire form (turn/nonce.h): cookie, features, 32 base64url
    characters of time and MAC; here random, so the MAC is wrong."""
    tail = base64.urlsafe_b64encode(os.urandom(24)).rstrip(b"=")
    return b"obMatJos2" + b"AAAB" + tail


def requests(args):
    transport = (A_TRANSPORT, bytes([17, 0, 0, 0]))
    realm = args.realm.encode()
    expiry = int(time.time()) + 86400
    out = []
    for i in range(args.count):
        if args.mode == "plain":
            out.append(encode([transport]))
            continue
        user = b"%d:flood%d" % (expiry, i)
        nonce = args.nonce.encode() if args.mode == "badmac" else made_up_nonce()
        key = hashlib.md5(user + b":" + realm + b":made-up").digest()
        out.append(encode([transport, (A_USERNAME, user), (A_REALM, realm),
                           (A_NONCE, nonce)], key))
    return out


def cpu_ms(pid):
    """CPU time of every thread of PID: the nanoseconds on CPU from
    /proc/PID/task/*/schedstat where the kernel has it, else utime +
    stime from /proc/PID/stat (in clock ticks, 10 ms: coarse)."""
    try:
        ns = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns += int(f.read().split()[0])
        return ns / 1e6
    except (OSError, ValueError, IndexError):
        pass
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks * 1000.0 / os.sysconf("SC_CLK_TCK")


def code_of(raw):
    if len(raw) < 20:
        return None
    mtype = struct.unpack("!H", raw[:2])[0]
    if mtype & 0x0110 != 0x0110:
        return 0
    pos = 20
    while pos + 4 <= len(raw):
        t, n = struct.unpack("!HH", raw[pos:pos + 4])
        if t == A_ERROR and n >= 4:
            return raw[pos + 6] * 100 + raw[pos + 7]
        pos += 4 + n + (4 - n % 4) % 4
    return -1


def drain(socks, codes, wait):
    got = 0
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select(socks, [], [], max(0.0, left))
        if not ready:
            return got
        for s in ready:
            while True:
                try:
                    raw = s.recv(2048)
                except BlockingIOError:
                    break
                c = code_of(raw)
                codes[c] = codes.get(c, 0) + 1
                got += 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--mode", choices=("plain", "forged", "badmac"), required=True)
    p.add_argument("--realm", default="turnd.test")
    p.add_argument("--nonce", default="")
    p.add_argument("--pid", type=int)
    p.add_argument("--sources", type=int, default=500)
    p.add_argument("--source", default="")
    args = p.parse_args()

    dgrams = requests(args)
    socks = []
    for i in range(1 if args.source else args.sources):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((args.source or "127.2.%d.%d" % (i // 250 % 250, 1 + i % 250), 0))
        s.connect((args.host, args.port))
        s.setblocking(False)
        socks.append(s)
    codes = {}
    answered = 0
    cpu0 = cpu_ms(args.pid) if args.pid else 0
    t0 = time.monotonic()
    for i in range(0, len(dgrams), BATCH):
        for j, d in enumerate(dgrams[i:i + BATCH]):
            try:
                socks[(i + j) % len(socks)].send(d)
            except (BlockingIOError, ConnectionRefusedError):
                pass
        # Read what came back so far: keeps the flood paced by turnd's
        # answers rather than by the kernel's buffers.
        answered += drain(socks, codes, 0.002)
    answered += drain(socks, codes, 0.5)
    elapsed = time.monotonic() - t0
    cpu = cpu_ms(args.pid) - cpu0 if args.pid else 0
    print("sent %d answered %d codes %s in %.2f s" % (len(dgrams), answered,
                                                     dict(sorted(codes.items(), key=str)), elapsed))
    if args.pid:
        print("cpu_ms %.1f" % cpu)
    return 0 if answered * 2 >= len(dgrams) else 1


if __name__ == "__main__":
    raise SystemExit(main())
