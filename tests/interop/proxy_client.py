#!/usr/bin/env python3
"""STUN over TCP and TLS with what a load balancer puts first, for
proxy_haproxy.sh.

usage: proxy_client.py [--bind ADDR] [--tls CAFILE] [--expect E] HOST PORT SCENARIO [ARG]
       proxy_client.py --batch
With --batch, cases come from stdin, one a line "DESCRIPTION | ARGS" (ARGS
as on the command line), and each prints its details, then "ok -
DESCRIPTION" or "not ok - DESCRIPTION" (one python process for many
cases: its start-up is the slow part).

Scenarios:
  mapped [HEADER]   send HEADER (hex digits, "-" for none), then a Binding request;
                    print "mapped ADDR:PORT" (its XOR-MAPPED-ADDRESS) and
                    "local ADDR:PORT" (this socket's own address); exit 0
                    when the answer came and, with --expect local, names
                    this socket's own address (with --expect ADDR:PORT,
                    that one)
  closed HEADER     send HEADER (hex), then a Binding request: exit 0 when
                    the server closes the connection without an answer
                    (within 15 s)
  silent            send nothing: exit 0 when the server closes the
                    connection by itself (within 15 s); prints how long it took
  http PATH [METHOD]  send "METHOD PATH HTTP/1.1" (GET by default) with a
                    Host header, as Let's Encrypt's validation does; print
                    the answer's status line and Location; exit 0 when it
                    is a 301 (with --expect URL: to URL) and the server
                    then closes; exit 1 when it closes without an answer
  nohttp PATH [METHOD]  the same request: exit 0 when the server closes
                    the connection without an answer
"""
import argparse
import os
import socket
import ssl
import struct
import sys
import time

MAGIC = 0x2112A442


def binding():
    tid = os.urandom(12)
    return struct.pack("!HHI", 0x0001, 0, MAGIC) + tid, tid


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def xor_mapped(msg, tid):
    off = 20
    while off + 4 <= len(msg):
        t, n = struct.unpack("!HH", msg[off:off + 4])
        v = msg[off + 4:off + 4 + n]
        if t == 0x0020:
            fam, xport = struct.unpack("!xBH", v[:4])
            port = xport ^ (MAGIC >> 16)
            if fam == 1:
                ip = bytes(a ^ b for a, b in zip(v[4:8], struct.pack("!I", MAGIC)))
                return "%s:%d" % (socket.inet_ntop(socket.AF_INET, ip), port)
            key = struct.pack("!I", MAGIC) + tid
            ip = bytes(a ^ b for a, b in zip(v[4:20], key))
            return "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, ip), port)
        off += 4 + ((n + 3) & ~3)
    return None


def fmt(addr):
    host, port = addr[0], addr[1]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def connect(args):
    fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(15)
    if args.bind:
        s.bind((args.bind, 0))
    s.connect((args.host, args.port))
    local = fmt(s.getsockname())
    return s, local


def wrap(args, s):
    if not args.tls:
        return s
    ctx = ssl.create_default_context(cafile=args.tls)
    return ctx.wrap_socket(s, server_hostname=args.host)


def closed_by_server(s):
    """True when the server ends the connection (FIN or reset)."""
    try:
        while True:
            if not s.recv(4096):
                return True
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def hexbytes(text):
    """HEADER as given: hex digits, "-" for none."""
    return b"" if text == "-" else bytes.fromhex(text)


def s_mapped(args, header="-"):
    s, local = connect(args)
    s.sendall(hexbytes(header))
    s = wrap(args, s)
    req, tid = binding()
    s.sendall(req)
    head = recv_exact(s, 20)
    body = recv_exact(s, struct.unpack("!H", head[2:4])[0])
    mapped = xor_mapped(head + body, tid)
    print("local %s" % local)
    print("mapped %s" % mapped)
    want = local if args.expect == "local" else args.expect
    if want and mapped != want:
        print("expected mapped %s" % want)
        return 1
    return 0 if struct.unpack("!H", head[:2])[0] == 0x0101 else 1


def s_closed(args, header):
    req, _ = binding()
    try:
        s, _ = connect(args)
        s.sendall(hexbytes(header) + req)
    except (ConnectionResetError, BrokenPipeError):
        print("closed (reset at once)")
        return 0
    if closed_by_server(s):
        print("closed")
        return 0
    print("still open after 15 s")
    return 1


def s_silent(args):
    s, _ = connect(args)
    start = time.monotonic()
    if closed_by_server(s):
        print("closed after %.1f s" % (time.monotonic() - start))
        return 0
    print("still open after 15 s")
    return 1


def s_http(args, path, method="GET"):
    s, _ = connect(args)
    s.sendall(("%s %s HTTP/1.1\r\nHost: turnd.test\r\nUser-Agent: proxy_client\r\n"
               "Accept: */*\r\nConnection: close\r\n\r\n" % (method, path)).encode())
    answer = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    except ConnectionResetError:
        pass
    lines = answer.decode(errors="replace").split("\r\n")
    print("status %s" % (lines[0] if answer else "(none: closed)"))
    location = None
    for line in lines[1:]:
        if line.lower().startswith("location:"):
            location = line.split(":", 1)[1].strip()
            print("location %s" % location)
    if args.expect and location != args.expect:
        return 1
    return 0 if lines[0].startswith("HTTP/1.1 301 ") else 1


def s_nohttp(args, path, method="GET"):
    rc = s_http(args, path, method)
    return 1 if rc == 0 else 0


def parser():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind")
    ap.add_argument("--tls")
    ap.add_argument("--expect")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("scenario", choices=["mapped", "closed", "silent", "http", "nohttp"])
    ap.add_argument("arg", nargs="*")
    return ap


def run(argv):
    args = parser().parse_args(argv)
    fn = {"mapped": s_mapped, "closed": s_closed, "silent": s_silent, "http": s_http,
          "nohttp": s_nohttp}
    try:
        return fn[args.scenario](args, *args.arg)
    except (OSError, EOFError, ssl.SSLError) as e:
        print("error: %s" % e)
        return 1


def batch():
    failed = 0
    for line in sys.stdin:
        if "|" not in line:
            continue
        desc, argv = line.split("|", 1)
        rc = run(argv.split())
        print("%s - %s" % ("ok" if rc == 0 else "not ok", desc.strip()), flush=True)
        failed += rc != 0
    return 1 if failed else 0


def main():
    if sys.argv[1:] == ["--batch"]:
        return batch()
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
