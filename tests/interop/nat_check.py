#!/usr/bin/env python3
"""Raw RFC 5780 checks against the real turnd (tests/interop/nat_discovery.sh).

usage: nat_check.py on A1 P1 A2 P2    turnd listens on A1:P1 with
                                      alt-listening-ip A2, alt-listening-port P2
       nat_check.py off A1 P1         turnd without alt-listening-ip

"on": a Binding request to A1:P1 with each combination of CHANGE-REQUEST
flags is answered from the address RFC 5780 section 6.1 (table 1) says,
with RESPONSE-ORIGIN naming it and OTHER-ADDRESS = A2:P2; a request to
each of the other three addresses names the right other address; over TCP
a request without flags is answered and one with a flag gets 400;
RESPONSE-PORT gets 420.
"off": no RESPONSE-ORIGIN or OTHER-ADDRESS, and CHANGE-REQUEST gets 420
listing it in UNKNOWN-ATTRIBUTES.
"""
import os
import socket
import struct
import sys
import zlib

MAGIC = 0x2112A442
BINDING = 0x0001
SUCCESS = 0x0101
ERROR = 0x0111
MAPPED, CHANGE_REQUEST, ERROR_CODE, UNKNOWN = 0x0001, 0x0003, 0x0009, 0x000A
XOR_MAPPED, RESPONSE_PORT = 0x0020, 0x0027
RESPONSE_ORIGIN, OTHER_ADDRESS, FINGERPRINT = 0x802B, 0x802C, 0x8028
CHANGE_IP, CHANGE_PORT = 0x04, 0x02
WAIT = 1.0  # seconds: loopback answers at once, or never

passed = 0
failed = 0


def result(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what + (": " + detail if detail else ""))


def request(tid, attrs=b""):
    """A Binding request with FINGERPRINT."""
    body = attrs
    head = struct.pack("!HHI", BINDING, len(body) + 8, MAGIC) + tid
    crc = (zlib.crc32(head + body) & 0xFFFFFFFF) ^ 0x5354554E
    return head + body + struct.pack("!HHI", FINGERPRINT, 4, crc)


def u32_attr(t, v):
    return struct.pack("!HHI", t, 4, v)


def parse(data, tid):
    """(type, {attr type: value}) of a response to tid, or None."""
    if len(data) < 20:
        return None
    mtype, mlen, cookie = struct.unpack("!HHI", data[:8])
    if cookie != MAGIC or data[8:20] != tid or mlen != len(data) - 20:
        return None
    attrs, off = {}, 20
    while off + 4 <= len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        attrs.setdefault(t, data[off + 4:off + 4 + n])
        off += 4 + (n + 3) // 4 * 4
    return mtype, attrs


def addr(value, xor=False):
    """'ip:port' of an IPv4 address attribute value."""
    if value is None or len(value) != 8 or value[1] != 1:
        return None
    port = struct.unpack("!H", value[2:4])[0]
    ip = value[4:8]
    if xor:
        port ^= MAGIC >> 16
        ip = bytes(a ^ b for a, b in zip(ip, struct.pack("!I", MAGIC)))
    return "%s:%d" % (socket.inet_ntoa(ip), port)


def udp(dst, attrs=b""):
    """Send one request from a fresh socket: (source of the answer, type,
    attrs, our address), or None without an answer."""
    tid = os.urandom(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(WAIT)
        s.sendto(request(tid, attrs), dst)
        try:
            while True:
                data, src = s.recvfrom(2048)
                r = parse(data, tid)
                if r:
                    me = "%s:%d" % s.getsockname()
                    return "%s:%d" % src, r[0], r[1], me
        except socket.timeout:
            return None


def tcp(dst, attrs=b""):
    """One request over a TCP connection: (type, attrs, our address)."""
    tid = os.urandom(12)
    with socket.create_connection(dst, timeout=WAIT) as s:
        s.sendall(request(tid, attrs))
        data = b""
        while len(data) < 20 or len(data) < 20 + struct.unpack("!H", data[2:4])[0]:
            chunk = s.recv(2048)
            if not chunk:
                break
            data += chunk
        me = "%s:%d" % s.getsockname()
        r = parse(data, tid)
        return (r[0], r[1], me) if r else None


def error_code(attrs):
    v = attrs.get(ERROR_CODE)
    return (v[2] & 7) * 100 + v[3] if v and len(v) >= 4 else None


def check_on(a1, p1, a2, p2):
    four = {(0, 0): (a1, p1), (0, 1): (a1, p2), (1, 0): (a2, p1), (1, 1): (a2, p2)}
    name = {k: "%s:%d" % v for k, v in four.items()}
    other_of = {k: name[(1 - k[0], 1 - k[1])] for k in four}
    # Table 1, from the primary address: the flags pick the origin.
    for ip, port in ((0, 0), (0, 1), (1, 0), (1, 1)):
        flags = (CHANGE_IP if ip else 0) | (CHANGE_PORT if port else 0)
        what = "UDP to %s, CHANGE-REQUEST 0x%02x" % (name[(0, 0)], flags)
        got = udp(four[(0, 0)], u32_attr(CHANGE_REQUEST, flags))
        if not got:
            result(False, what, "no answer")
            continue
        src, mtype, attrs, me = got
        want = name[(ip, port)]
        result(mtype == SUCCESS and src == want,
               what + ": answered from " + want, "type 0x%04x from %s" % (mtype, src))
        result(addr(attrs.get(RESPONSE_ORIGIN)) == want,
               what + ": RESPONSE-ORIGIN " + want, str(addr(attrs.get(RESPONSE_ORIGIN))))
        result(addr(attrs.get(OTHER_ADDRESS)) == other_of[(0, 0)],
               what + ": OTHER-ADDRESS " + other_of[(0, 0)],
               str(addr(attrs.get(OTHER_ADDRESS))))
        result(addr(attrs.get(XOR_MAPPED), True) == me and addr(attrs.get(MAPPED)) == me,
               what + ": XOR-MAPPED-ADDRESS and MAPPED-ADDRESS " + me)
    # Each of the four addresses answers, naming itself and its other.
    for k in four:
        got = udp(four[k])
        ok = bool(got) and got[0] == name[k] and \
            addr(got[2].get(RESPONSE_ORIGIN)) == name[k] and \
            addr(got[2].get(OTHER_ADDRESS)) == other_of[k]
        result(ok, "UDP to %s: origin %s, OTHER-ADDRESS %s" % (name[k], name[k], other_of[k]),
               repr(got))
    # TCP: the mapping tests work over TCP; a change cannot be made.
    for k in four:
        got = tcp(four[k])
        ok = bool(got) and got[0] == SUCCESS and \
            addr(got[1].get(RESPONSE_ORIGIN)) == name[k] and \
            addr(got[1].get(OTHER_ADDRESS)) == other_of[k] and \
            addr(got[1].get(XOR_MAPPED), True) == got[2]
        result(ok, "TCP to %s: answered, OTHER-ADDRESS %s" % (name[k], other_of[k]), repr(got))
    got = tcp(four[(0, 0)], u32_attr(CHANGE_REQUEST, CHANGE_IP))
    result(bool(got) and got[0] == ERROR and error_code(got[1]) == 400,
           "TCP with CHANGE-REQUEST change-IP: 400", repr(got))
    got = udp(four[(0, 0)], u32_attr(RESPONSE_PORT, 40000 << 16))
    result(bool(got) and got[1] == ERROR and error_code(got[2]) == 420 and
           got[2].get(UNKNOWN) == struct.pack("!H", RESPONSE_PORT),
           "RESPONSE-PORT: 420 listing it", repr(got))


def check_off(a1, p1):
    dst = (a1, p1)
    got = udp(dst)
    result(bool(got) and got[1] == SUCCESS and OTHER_ADDRESS not in got[2] and
           RESPONSE_ORIGIN not in got[2],
           "without alt-listening-ip: no OTHER-ADDRESS, no RESPONSE-ORIGIN", repr(got))
    for flags in (0, CHANGE_IP | CHANGE_PORT):
        got = udp(dst, u32_attr(CHANGE_REQUEST, flags))
        result(bool(got) and got[0] == "%s:%d" % dst and got[1] == ERROR and
               error_code(got[2]) == 420 and
               got[2].get(UNKNOWN) == struct.pack("!H", CHANGE_REQUEST),
               "without alt-listening-ip: CHANGE-REQUEST 0x%02x gets 420 listing it" % flags,
               repr(got))


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "on":
        check_on(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) == 4 and sys.argv[1] == "off":
        check_off(sys.argv[2], int(sys.argv[3]))
    else:
        print(__doc__)
        return 2
    print("nat_check: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
