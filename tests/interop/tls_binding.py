#!/usr/bin/env python3
"""STUN Binding requests over TLS (RFC 8489 section 6.2.2), one connection
per case: a case is served when the server answers its request, refused
when the handshake fails or the server closes first. A TLS 1.3 server
refuses a client certificate after the client's Finished, so only an
answer proves the connection was served. One process for several cases:
Python's start is most of the cost.

usage: tls_binding.py HOST PORT CAFILE VERSION CASE...
VERSION: 1.2 or 1.3 (the only version offered). CASE: "none" (no client
certificate) or "CERT,KEY". Prints "CASE served" or "CASE refused: why"
for each case; exits 0 when every case ran."""
import os
import socket
import ssl
import struct
import sys


def context(cafile, version, case):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    ctx.check_hostname = False
    v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    if case != "none":
        cert, key = case.split(",", 1)
        ctx.load_cert_chain(cert, key)
    return ctx


def binding(host, port, ctx):
    """None when the Binding request is answered, else why not."""
    tid = os.urandom(12)
    request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid
    try:
        with socket.create_connection((host, port), timeout=5) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(request)
                head = b""
                while len(head) < 20:
                    chunk = s.recv(20 - len(head))
                    if not chunk:
                        return "closed by the server before an answer"
                    head += chunk
    except (OSError, ssl.SSLError) as e:
        return str(e)
    mtype, _, cookie = struct.unpack("!HHI", head[:8])
    if mtype != 0x0101 or cookie != 0x2112A442 or head[8:20] != tid:
        return "not a Binding success response: %s" % head.hex()
    return None


def main():
    host, port, cafile, version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    for case in sys.argv[5:]:
        why = binding(host, port, context(cafile, version, case))
        print("%s %s" % (case, "served" if why is None else "refused: " + why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
