#!/usr/bin/env python3
"""One STUN Binding request over TLS (RFC 8489 section 6.2.2): exit 0 when
the server answers it, 1 when the handshake fails or the server closes
first. A TLS 1.3 server refuses a client certificate after the client's
Finished, so only an answer proves the connection was served.

usage: tls_binding.py HOST PORT CAFILE VERSION [CERT KEY]
VERSION: 1.2 or 1.3 (the only version offered)."""
import os
import socket
import ssl
import struct
import sys


def main():
    host, port, cafile, version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    ctx.check_hostname = False
    v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    if len(sys.argv) > 6:
        ctx.load_cert_chain(sys.argv[5], sys.argv[6])
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
                        print("closed by the server before an answer")
                        return 1
                    head += chunk
    except (OSError, ssl.SSLError) as e:
        print("refused: %s" % e)
        return 1
    mtype, _, cookie = struct.unpack("!HHI", head[:8])
    if mtype != 0x0101 or cookie != 0x2112A442 or head[8:20] != tid:
        print("not a Binding success response: %s" % head.hex())
        return 1
    print("served: Binding answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
