#!/usr/bin/env python3
"""Bad input against the real turnd (SECURITY.md, "Bad input").

Every case goes over UDP and over TCP. Each has one allowed outcome: a silent
drop, an error code, or a normal answer. After every case the server must
still answer a well-formed Binding request. Over TCP a valid request is also
split at every byte boundary, and a 0xFFFF-byte ChannelData frame arrives
in pieces before a Binding request on the same connection.

usage: bad_input.py PORT
"""
import os
import socket
import struct
import sys
import time
import zlib

MAGIC = 0x2112A442
HOST = "127.0.0.1"
PORT = int(sys.argv[1])
QUIET = 0.25  # seconds to wait before deciding "no answer"

passed = 0
failed = 0


def result(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what)


def attr(t, value, pad=b"\0"):
    n = len(value)
    return struct.pack("!HH", t, n) + value + pad * ((4 - n % 4) % 4)


def msg(mtype, attrs=b"", tid=None, cookie=MAGIC, length=None):
    tid = tid or os.urandom(12)
    n = len(attrs) if length is None else length
    return struct.pack("!HHI", mtype, n, cookie) + tid + attrs


def with_fingerprint(m):
    m = m[:2] + struct.pack("!H", len(m) - 20 + 8) + m[4:]
    crc = (zlib.crc32(m) & 0xFFFFFFFF) ^ 0x5354554E
    return m + attr(0x8028, struct.pack("!I", crc))


BINDING = 0x0001
BIND_OK = 0x0101
BIND_ERR = 0x0111


def decode(data):
    """-> (type, tid, {attr: [values]}) or None."""
    if len(data) < 20:
        return None
    t, n, c = struct.unpack("!HHI", data[:8])
    attrs, off = {}, 20
    while off + 4 <= 20 + n:
        at, al = struct.unpack("!HH", data[off:off + 4])
        attrs.setdefault(at, []).append(data[off + 4:off + 4 + al])
        off += 4 + al + (4 - al % 4) % 4
    return t, data[8:20], attrs


def error_code(attrs):
    v = attrs.get(0x0009, [b"\0\0\0\0"])[0]
    return v[2] * 100 + v[3]


# ---------------------------------------------------------------- transports

def udp_exchange(payload, wait=QUIET):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    s.sendto(payload, (HOST, PORT))
    try:
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()


def tcp_connect():
    s = socket.create_connection((HOST, PORT), timeout=2)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def tcp_read_msg(s, wait=QUIET):
    """One STUN message, None on silence, b"" when the server closed."""
    s.settimeout(wait)
    buf = b""
    try:
        while len(buf) < 20:
            chunk = s.recv(20 - len(buf))
            if not chunk:
                return b""
            buf += chunk
        need = 20 + struct.unpack("!H", buf[2:4])[0]
        s.settimeout(2)
        while len(buf) < need:
            chunk = s.recv(need - len(buf))
            if not chunk:
                return b""
            buf += chunk
        return buf
    except socket.timeout:
        return None if not buf else b"partial"
    except ConnectionResetError:
        return b""


def tcp_exchange(payload, wait=QUIET):
    s = tcp_connect()
    try:
        s.sendall(payload)
        return tcp_read_msg(s, wait)
    finally:
        s.close()


def binding_ok(data, tid):
    d = data and decode(data)
    return bool(d) and d[0] == BIND_OK and d[1] == tid and 0x0020 in d[2]


def alive(transport):
    tid = os.urandom(12)
    req = with_fingerprint(msg(BINDING, tid=tid))
    xch = udp_exchange if transport == "udp" else tcp_exchange
    return binding_ok(xch(req, wait=2), tid)


# ---------------------------------------------------------------- the cases
# Each case: (name, payload, expect) where expect is "drop", "ok" (a Binding
# success), or an error code. "drop" over TCP accepts silence or a close.

def cases():
    c = []
    good = msg(BINDING)
    c.append(("0 bytes (UDP only)", b"", "drop"))
    c.append(("1 byte", b"\x00", "drop"))
    c.append(("19 bytes", good[:19], "drop"))
    c.append(("20-byte header with length 4 but no body", msg(BINDING, length=4), "drop"))
    c.append(("length field 8 with 4 bytes of body",
              msg(BINDING, attr(0x8022, b""), length=8), "drop"))
    c.append(("length not a multiple of 4",
              msg(BINDING, attr(0x8022, b"abc", pad=b""), length=7), "drop"))
    c.append(("first two bits not zero", msg(0xC001), "drop"))
    c.append(("wrong magic cookie on an Allocate", msg(0x0003, cookie=0xDEADBEEF), "drop"))
    c.append(("a Binding success response sent to the server", msg(BIND_OK), "drop"))
    c.append(("a Binding error response sent to the server", msg(BIND_ERR), "drop"))
    c.append(("unknown method 0x0FF", msg(0x00FF), "drop"))
    c.append(("attribute length running past the end",
              msg(BINDING, struct.pack("!HH", 0x8022, 40) + b"abcd"), "drop"))
    c.append(("attribute length 0xFFFF",
              msg(BINDING, struct.pack("!HH", 0x8022, 0xFFFF) + b"abcd"), "drop"))
    c.append(("attribute header cut short",
              msg(BINDING, struct.pack("!HH", 0x8022, 0) + b"\x80\x22"), "drop"))
    c.append(("zero-length attribute", msg(BINDING, attr(0x8022, b"")), "ok"))
    c.append(("odd lengths at odd offsets",
              msg(BINDING, attr(0x8022, b"a") + attr(0xC0DE, b"xyz") + attr(0x8022, b"hello")), "ok"))
    c.append(("non-zero padding is accepted",
              msg(BINDING, attr(0x8022, b"ab", pad=b"\xff")), "ok"))
    c.append(("duplicated attributes", msg(BINDING, attr(0x8022, b"a") * 3), "ok"))
    c.append(("unknown comprehension-required attribute", msg(BINDING, attr(0x7FF1, b"1234")), 420))
    c.append(("unknown comprehension-optional attribute", msg(BINDING, attr(0xC001, b"1234")), "ok"))
    mi = attr(0x0008, os.urandom(20))
    c.append(("attribute after MESSAGE-INTEGRITY is ignored (no 420)",
              msg(BINDING, mi + attr(0x7FF1, b"1234")), "ok"))
    fp = with_fingerprint(msg(BINDING))
    bad_fp = fp[:-1] + bytes([fp[-1] ^ 1])
    c.append(("wrong FINGERPRINT", bad_fp, "drop"))
    c.append(("FINGERPRINT not last",
              fp[:2] + struct.pack("!H", len(fp) - 20 + 8) + fp[4:] + attr(0x8022, b"late!!!!"), "drop"))
    c.append(("too many attributes (200 x SOFTWARE)", msg(BINDING, attr(0x8022, b"x") * 200), "drop"))
    c.append(("ChannelData on an unbound channel", struct.pack("!HH", 0x4000, 4) + b"data", "drop"))
    c.append(("ChannelData longer than the datagram (UDP only)",
              struct.pack("!HH", 0x4001, 400) + b"data", "drop"))
    c.append(("ChannelData on channel 0x5000", struct.pack("!HH", 0x5000, 4) + b"data", "drop"))
    c.append(("ChannelData on channel 0x7FFF", struct.pack("!HH", 0x7FFF, 0), "drop"))
    c.append(("RFC 3489 Binding request (no cookie) gets MAPPED-ADDRESS",
              struct.pack("!HHI", BINDING, 0, 0x01020304) + os.urandom(12), "classic"))
    return c


def outcome_ok(expect, reply, req):
    if expect == "drop":
        return reply is None or reply == b""
    d = reply and decode(reply)
    if not d:
        return False
    if expect == "ok":
        return d[0] == BIND_OK and d[1] == req[8:20] and 0x0020 in d[2]
    if expect == "classic":
        return d[0] == BIND_OK and reply[4:20] == req[4:20] and 0x0001 in d[2]
    return d[0] == BIND_ERR and error_code(d[2]) == expect and d[1] == req[8:20]


def run_cases():
    for name, payload, expect in cases():
        for transport in ("udp", "tcp"):
            if transport == "tcp" and ("UDP only" in name or payload == b""):
                continue
            if transport == "udp" and "TCP only" in name:
                continue
            xch = udp_exchange if transport == "udp" else tcp_exchange
            reply = xch(payload)
            result(outcome_ok(expect, reply, payload),
                   "%s %s -> %s" % (transport, name, expect))
            result(alive(transport), "%s alive after: %s" % (transport, name))


def tcp_splits():
    """A valid request split at every byte boundary is answered."""
    tid = os.urandom(12)
    req = with_fingerprint(msg(BINDING, attr(0x8022, b"split me"), tid=tid))
    bad = []
    for k in range(1, len(req)):
        s = tcp_connect()
        s.sendall(req[:k])
        time.sleep(0.005)
        s.sendall(req[k:])
        if not binding_ok(tcp_read_msg(s, 2), tid):
            bad.append(k)
        s.close()
    result(not bad, "tcp: Binding split at each of %d boundaries answered (failed at %s)"
           % (len(req) - 1, bad))


def tcp_stream_framing():
    """Back-to-back frames on one connection: a 0xFFFF ChannelData frame in
    pieces (dropped: no channel), then a request, then two requests in one
    write. Every request is answered in order."""
    s = tcp_connect()
    big = struct.pack("!HH", 0x4000, 0xFFFF) + os.urandom(0xFFFF) + b"\0"  # padded to 4
    for i in range(0, len(big), 7919):
        s.sendall(big[i:i + 7919])
        time.sleep(0.001)
    tids = [os.urandom(12) for _ in range(3)]
    s.sendall(msg(BINDING, tid=tids[0]))
    ok = binding_ok(tcp_read_msg(s, 2), tids[0])
    s.sendall(msg(BINDING, tid=tids[1]) + with_fingerprint(msg(BINDING, tid=tids[2])))
    ok = ok and binding_ok(tcp_read_msg(s, 2), tids[1]) and binding_ok(tcp_read_msg(s, 2), tids[2])
    s.close()
    result(ok, "tcp: 0xFFFF ChannelData in pieces, then pipelined requests, framed right")


def tcp_bad_framing_closes():
    """First two bits 10 or 11 are neither STUN nor ChannelData: the stream
    cannot be framed, so the server closes it."""
    for lead in (b"\x80", b"\xc0"):
        s = tcp_connect()
        s.sendall(lead + b"\x01\x00\x00" + b"\0" * 16)
        r = tcp_read_msg(s, 2)
        s.close()
        result(r == b"", "tcp: first byte %s closes the connection" % lead.hex())
    result(alive("tcp"), "tcp alive after bad framing")


def main():
    if not alive("udp"):
        print("server not answering at start")
        return 1
    run_cases()
    tcp_splits()
    tcp_stream_framing()
    tcp_bad_framing_closes()
    result(alive("udp") and alive("tcp"), "server answers at the end")
    print("bad_input: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
