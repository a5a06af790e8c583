#!/usr/bin/env python3
"""A small TURN client (RFC 8656 over RFC 8489) for turn_protocol.sh.

Each scenario runs one protocol exchange against the real turnd and checks
the one outcome the RFCs (and SECURITY.md) allow: an error code, the
attributes that must come with it, or a success. It prints what it saw and
exits 0 when every expectation held, 1 otherwise.

usage: turn_client.py --port PORT [--tcp] [--host ADDR] [--realm R] SCENARIO [ARG...]
       turn_client.py --port PORT [--tcp] [--host ADDR] [--realm R] --batch
With --batch, scenarios come from stdin, one a line:
"DESCRIPTION | SCENARIO ARG...", and each prints "ok - DESCRIPTION" or
"not ok - DESCRIPTION" after its details (one process for many cases:
python's start-up is the slow part of the test).

Scenarios (USER and PASS are long-term credentials the server knows):
  binding                              Binding is answered
  challenge                            401 + REALM, NONCE, PASSWORD-ALGORITHMS
  wrong_password USER PASS             401 after a wrong MESSAGE-INTEGRITY
  mismatch USER PASS                   retransmitted Allocate: same success;
                                       new Allocate on the 5-tuple: 437
  wrong_credentials U1 P1 U2 P2        U2's Refresh on U1's allocation: 441
  tcp_relay USER PASS USER2 PASS2      RFC 6062 with sockets: Connect, ConnectionBind,
                                       ConnectionAttempt, 446, 447, 441, 400, piping
  tcp_backpressure USER PASS PID       RFC 6062 pipe: a sender is held back while the
                                       peer does not read (turnd PID's memory bounded)
  tcp_bind_early USER PASS [WAIT]      RFC 6062: bytes right behind a ConnectionBind
  tcp_pipe_rate USER PASS BPS [PID CONF]  RFC 6062 pipe under max-bps; then a reload
  tcp_capacity_rate USER PASS BPS      RFC 6062 pipe under bps-capacity
                                       (SIGHUP to PID) that removes it from CONF
  tcp_bind_timeout USER PASS           RFC 6062: connections not bound within 30 s
                                       are closed (takes 30 s)
  tcp_fd_exhaustion USER PASS PID      peers connecting to a TCP relay while turnd (PID)
                                       is out of descriptors: refused, no busy loop
  transport_tcp USER PASS              REQUESTED-TRANSPORT TCP: 442 over UDP;
                                       over TCP granted, Connect 403, ConnectionBind 400
  peer_family USER PASS                IPv6 peer on an IPv4 allocation: 443
  forbidden USER PASS PEER...          CreatePermission, ChannelBind: 403
  permitted USER PASS PEER...          CreatePermission, ChannelBind: success
  channel_numbers USER PASS PEER       0x3FFF, 0x5000, 0xFFFF: 400; 0x4FFF ok
  unknown_attr USER PASS               unknown comprehension-required: 420
  lifetime USER PASS MAX               LIFETIME clamped; 0 deletes; then 437
  stale_nonce USER PASS                a nonce not ours: 438, retry succeeds
  rest SECRET USER                     TURN REST: valid succeeds, expired 401
  bad_usernames                        '%s%n' and 600-byte names: 401 or 400
  quota U1 P1 U2 P2 U3 P3              user-quota 1: 486; total-quota 2: 508
  retire_hold USER PASS PEER PEER2 READY GO
                                       an allocation across its listener's removal:
                                       relays, creates READY, waits for GO; then
                                       Refresh, CreatePermission, ChannelBind,
                                       ChannelData and Send work, a new Allocate
                                       gets 508, and it is deleted
  icmp USER PASS PEER                  PEER a closed UDP port: a Send indication
                                       and a ChannelData message to it each come
                                       back as a Data indication with ICMP
                                       port unreachable (RFC 8656 section 11.5)
"""
import argparse
import base64
import hashlib
import hmac
import ipaddress
import os
import signal
import socket
import struct
import sys
import threading
import time
import zlib

MAGIC = 0x2112A442
TIMEOUT = 3.0  # seconds for one transaction

# Methods and attributes (RFC 8489 section 18, RFC 8656 section 17).
BINDING, ALLOCATE, REFRESH = 0x001, 0x003, 0x004
CREATE_PERMISSION, CHANNEL_BIND = 0x008, 0x009
CONNECT, CONNECTION_BIND = 0x00A, 0x00B  # RFC 6062
A_CONNECTION_ID = 0x002A
A_USERNAME, A_MI, A_ERROR, A_UNKNOWN = 0x0006, 0x0008, 0x0009, 0x000A
A_CHANNEL, A_LIFETIME, A_PEER = 0x000C, 0x000D, 0x0012
A_REALM, A_NONCE, A_RELAYED = 0x0014, 0x0015, 0x0016
A_FAMILY, A_TRANSPORT, A_MAPPED = 0x0017, 0x0019, 0x0020
A_PWALG, A_PWALGS, A_FINGERPRINT = 0x001D, 0x8002, 0x8028
A_ADDITIONAL_FAMILY = 0x8000
SEND, DATA = 0x006, 0x007
A_DATA, A_ICMP = 0x0013, 0x8004
UNKNOWN_REQUIRED = 0x7F01  # comprehension-required, assigned to nothing
UDP, TCP = 17, 6

failures = 0


def expect(cond, what):
    global failures
    print(("  ok: " if cond else "  FAILED: ") + what)
    if not cond:
        failures += 1
    return cond


# ------------------------------------------------------------------ codec

def attr(t, value):
    n = len(value)
    return struct.pack("!HH", t, n) + value + b"\0" * ((4 - n % 4) % 4)


def set_length(m, extra):
    return m[:2] + struct.pack("!H", len(m) - 20 + extra) + m[4:]


def encode(mtype, tid, attrs, key=None, after=()):
    """attrs: list of (type, bytes). MESSAGE-INTEGRITY with key, then the
    attributes in after (which a server must ignore, RFC 8489 section
    14.5), then FINGERPRINT (section 14.7)."""
    body = b"".join(attr(t, v) for t, v in attrs)
    m = struct.pack("!HHI", mtype, len(body), MAGIC) + tid + body
    if key is not None:
        m = set_length(m, 24)
        m += attr(A_MI, hmac.new(key, m, hashlib.sha1).digest())
    m += b"".join(attr(t, v) for t, v in after)
    m = set_length(m, 8)
    crc = (zlib.crc32(m) & 0xFFFFFFFF) ^ 0x5354554E
    return m + attr(A_FINGERPRINT, struct.pack("!I", crc))


class Msg:
    def __init__(self, raw):
        self.raw = raw
        self.type, n, _ = struct.unpack("!HHI", raw[:8])
        self.tid = raw[8:20]
        self.attrs = []  # (type, value, offset of the attribute)
        off = 20
        while off + 4 <= 20 + n:
            t, ln = struct.unpack("!HH", raw[off:off + 4])
            self.attrs.append((t, raw[off + 4:off + 4 + ln], off))
            off += 4 + ln + (4 - ln % 4) % 4

    def get(self, t):
        for at, v, _ in self.attrs:
            if at == t:
                return v
        return None

    def all(self, t):
        return [v for at, v, _ in self.attrs if at == t]

    @property
    def cls(self):
        return ((self.type >> 7) & 2) | ((self.type >> 4) & 1)

    @property
    def code(self):
        """0 for a success, the ERROR-CODE otherwise."""
        if self.cls == 2:
            return 0
        v = self.get(A_ERROR) or b"\0\0\0\0"
        return (v[2] & 7) * 100 + v[3]

    def integrity_ok(self, key):
        for at, v, off in self.attrs:
            if at == A_MI:
                m = set_length(self.raw[:off], 24)
                return hmac.compare_digest(hmac.new(key, m, hashlib.sha1).digest(), v)
        return False

    def xor_addr(self, t):
        v = self.get(t)
        return decode_xor(v, self.tid) if v else None

    def xor_addrs(self, t):
        return [decode_xor(v, self.tid) for v in self.all(t)]


def msg_type(method, cls):
    return ((method & 0xF80) << 2) | ((method & 0x70) << 1) | (method & 0xF) | \
        ((cls & 2) << 7) | ((cls & 1) << 4)


def encode_xor(addr, tid):
    """addr: (ip text, port) -> XOR-*-ADDRESS value (RFC 8489 section 14.2)."""
    ip = ipaddress.ip_address(addr[0])
    port = addr[1] ^ (MAGIC >> 16)
    mask = struct.pack("!I", MAGIC) + tid
    raw = bytes(a ^ b for a, b in zip(ip.packed, mask))
    return struct.pack("!BBH", 0, 1 if ip.version == 4 else 2, port) + raw


def decode_xor(v, tid):
    fam, port = v[1], struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
    mask = struct.pack("!I", MAGIC) + tid
    n = 4 if fam == 1 else 16
    ip = ipaddress.ip_address(bytes(a ^ b for a, b in zip(v[4:4 + n], mask)))
    return (str(ip), port)


def parse_peer(text):
    """'1.2.3.4:5' or '[::1]:5' -> (ip, port)."""
    host, _, port = text.rpartition(":")
    return (host.strip("[]"), int(port))


def fmt(addr):
    return "[%s]:%d" % addr if ":" in addr[0] else "%s:%d" % addr


# ------------------------------------------------------------ transports

class Conn:
    """One 5-tuple: a connected UDP socket or one TCP connection."""

    def __init__(self, host, port, tcp):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.tcp = tcp
        self.sock = socket.socket(fam, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((host, port))
        self.buf = b""

    def close(self):
        self.sock.close()

    def recv_msg(self, deadline):
        """The next STUN message, or None at the deadline."""
        while True:
            if self.tcp and len(self.buf) >= 4:
                first, n = struct.unpack("!HH", self.buf[:4])
                flen = 20 + n if first < 0x4000 else 4 + n + (4 - n % 4) % 4
                if len(self.buf) >= flen:
                    frame, self.buf = self.buf[:flen], self.buf[flen:]
                    if first < 0x4000:
                        return Msg(frame)
                    continue
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                continue
            if self.tcp:
                if not data:
                    return None
                self.buf += data
            elif len(data) >= 20 and data[0] < 0x40:
                return Msg(data)

    def transact(self, raw):
        """Send a request; over UDP once more after 1 s of silence. The
        first response with the request's transaction ID, or None."""
        tid = raw[8:20]
        start = time.monotonic()
        self.sock.sendall(raw)
        resent = self.tcp
        while True:
            wait = start + (TIMEOUT if resent else 1.0)
            m = self.recv_msg(wait)
            if m is not None and m.tid == tid:
                return m
            if m is None and resent:
                return None
            if m is None:
                self.sock.sendall(raw)
                resent = True


class Client:
    """Long-term credential client state on one connection (RFC 8489
    section 9.2.5): the first request goes without credentials, a 401 or
    438 sets realm and nonce, and the request is sent again."""

    def __init__(self, conn, user=None, password=None):
        self.conn, self.user, self.password = conn, user, password
        self.realm = self.nonce = self.key = None
        self.pwalgs = None
        self.last_raw = None

    def take_challenge(self, m):
        self.realm = m.get(A_REALM) or self.realm
        self.nonce = m.get(A_NONCE)
        self.pwalgs = m.get(A_PWALGS)
        if self.user is not None and self.realm is not None:
            self.key = long_term_key(self.user, self.realm, self.password)

    def build(self, method, attrs, tid=None, nonce=None, after=()):
        tid = tid or os.urandom(12)
        attrs = list(attrs)
        if self.key is None:
            return encode(msg_type(method, 0), tid, attrs)
        user = self.user.encode() if isinstance(self.user, str) else self.user
        attrs += [(A_USERNAME, user), (A_REALM, self.realm), (A_NONCE, nonce or self.nonce)]
        if self.pwalgs:
            attrs += [(A_PWALGS, self.pwalgs), (A_PWALG, struct.pack("!HH", 1, 0))]
        return encode(msg_type(method, 0), tid, attrs, self.key, after)

    def send_raw(self, raw):
        self.last_raw = raw
        m = self.conn.transact(raw)
        if m is None:
            raise RuntimeError("no response from the server")
        return m

    def request(self, method, attrs=()):
        """With retries for the challenge; returns the final response."""
        for _ in range(3):
            had_key = self.key is not None
            m = self.send_raw(self.build(method, attrs))
            if (m.code == 401 and not had_key and self.user is not None) or m.code == 438:
                self.take_challenge(m)
                continue
            if m.code == 0 and self.key is not None and not m.integrity_ok(self.key):
                raise RuntimeError("success response fails MESSAGE-INTEGRITY")
            return m
        return m

    def allocate(self, extra=(), transport=UDP):
        return self.request(ALLOCATE, [(A_TRANSPORT, bytes([transport, 0, 0, 0]))] + list(extra))

    def delete(self):
        return self.request(REFRESH, [(A_LIFETIME, struct.pack("!I", 0))])

    def permission(self, peer):
        tid = os.urandom(12)
        return self.send_raw(self.build(CREATE_PERMISSION, [(A_PEER, encode_xor(peer, tid))], tid))

    def channel_bind(self, number, peer):
        tid = os.urandom(12)
        return self.send_raw(self.build(CHANNEL_BIND, [(A_CHANNEL, struct.pack("!HH", number, 0)),
                                                       (A_PEER, encode_xor(peer, tid))], tid))


def long_term_key(user, realm, password):
    """MD5(username ":" realm ":" password) (RFC 8489 section 9.2.2); the
    passwords used here need no SASLprep."""
    u = user.encode() if isinstance(user, str) else user
    return hashlib.md5(u + b":" + realm + b":" + password.encode()).digest()


# ------------------------------------------------------------ scenarios

def new_client(user=None, password=None):
    return Client(Conn(ARGS.host, ARGS.port, ARGS.tcp), user, password)


def allocated(c, extra=()):
    m = c.allocate(extra)
    ok = expect(m.code == 0, "Allocate as %s: success (got %d)" % (c.user, m.code))
    if ok:
        print("    relayed %s" % ", ".join(fmt(a) for a in m.xor_addrs(A_RELAYED)))
    return ok


def s_binding():
    c = new_client()
    m = c.send_raw(encode(msg_type(BINDING, 0), os.urandom(12), []))
    return expect(m.code == 0 and m.xor_addr(A_MAPPED) is not None,
                  "Binding answered with XOR-MAPPED-ADDRESS")


def s_challenge():
    c = new_client()
    m = c.allocate()
    expect(m.code == 401, "unauthenticated Allocate: 401 (got %d)" % m.code)
    expect(m.get(A_REALM) == ARGS.realm.encode(), "REALM %r" % m.get(A_REALM))
    expect(m.get(A_NONCE) is not None and len(m.get(A_NONCE)) > 0, "NONCE present")
    algs = m.get(A_PWALGS) or b""
    listed = [struct.unpack("!H", algs[i:i + 2])[0] for i in range(0, len(algs) - 3, 4)]
    expect(1 in listed and 2 in listed, "PASSWORD-ALGORITHMS lists MD5 and SHA-256 (%s)" % listed)
    expect(m.get(A_MI) is None, "no MESSAGE-INTEGRITY on the challenge")
    # Unknown attributes are reported only after authentication.
    m = c.allocate([(UNKNOWN_REQUIRED, b"\0\0\0\0")])
    expect(m.code == 401, "unauthenticated Allocate with an unknown attribute: 401 (got %d)"
           % m.code)


def s_wrong_password(user, password):
    c = new_client(user, password + "-wrong")
    m = c.allocate()
    expect(m.code == 401, "Allocate with a wrong password: 401 (got %d)" % m.code)
    expect(m.get(A_NONCE) is not None and m.get(A_REALM) is not None,
           "the 401 carries a fresh REALM and NONCE")


def s_mismatch(user, password):
    c = new_client(user, password)
    first = c.allocate()
    if not expect(first.code == 0, "Allocate: success (got %d)" % first.code):
        return
    raw = c.last_raw
    again = c.send_raw(raw)
    expect(again.code == 0, "retransmission (same transaction): success (got %d)" % again.code)
    expect(again.xor_addrs(A_RELAYED) == first.xor_addrs(A_RELAYED),
           "same XOR-RELAYED-ADDRESS %s" % [fmt(a) for a in again.xor_addrs(A_RELAYED)])
    m = c.allocate()
    expect(m.code == 437, "second Allocate (new transaction), same 5-tuple: 437 (got %d)" % m.code)
    expect(c.delete().code == 0, "Refresh 0: deleted")


def s_wrong_credentials(user, password, user2, password2):
    c = new_client(user, password)
    if not allocated(c):
        return
    other = Client(c.conn, user2, password2)
    m = other.request(REFRESH, [(A_LIFETIME, struct.pack("!I", 600))])
    expect(m.code == 441, "Refresh by %s on %s's allocation: 441 (got %d)" % (user2, user, m.code))
    m = other.permission(("127.0.0.1", 9))
    expect(m.code == 441, "CreatePermission by %s: 441 (got %d)" % (user2, m.code))
    m = c.request(REFRESH, [(A_LIFETIME, struct.pack("!I", 600))])
    expect(m.code == 0, "Refresh by %s still succeeds (got %d)" % (user, m.code))
    expect(c.delete().code == 0, "Refresh 0: deleted")


def s_transport_tcp(user, password):
    """RFC 6062: a TCP relay over UDP is 442; over TCP it is granted, and
    Connect refuses a peer the policy denies, or one without a permission,
    with 403 (no connection is attempted), and ConnectionBind without
    CONNECTION-ID is 400."""
    c = new_client(user, password)
    m = c.allocate(transport=TCP)
    if not ARGS.tcp:
        expect(m.code == 442, "REQUESTED-TRANSPORT TCP over UDP: 442 (got %d)" % m.code)
        return
    expect(m.code == 0, "REQUESTED-TRANSPORT TCP over TCP: success (got %d)" % m.code)
    for peer, why in ((("10.0.0.1", 9), "a denied peer"), (("127.0.0.1", 9), "no permission")):
        tid = os.urandom(12)
        m = c.send_raw(c.build(CONNECT, [(A_PEER, encode_xor(peer, tid))], tid))
        expect(m.code == 403, "Connect to %s (%s): 403 (got %d)" % (fmt(peer), why, m.code))
    m = c.request(CONNECTION_BIND)
    expect(m.code == 400, "ConnectionBind without CONNECTION-ID: 400 (got %d)" % m.code)
    expect(c.delete().code == 0, "Refresh 0: deleted")


def method_of(m):
    return ((m.type & 0x3E00) >> 2) | ((m.type & 0xE0) >> 1) | (m.type & 0xF)


def recv_exact(sock, n):
    """n bytes from sock, or what came before EOF or the timeout."""
    data = b""
    sock.settimeout(TIMEOUT)
    try:
        while len(data) < n:
            more = sock.recv(n - len(data))
            if not more:
                break
            data += more
    except socket.timeout:
        pass
    return data


def bound_data_connection(user, password, cid, what):
    """A new TCP connection to the server with a ConnectionBind for cid."""
    d = Client(Conn(ARGS.host, ARGS.port, True), user, password)
    m = d.request(CONNECTION_BIND, [(A_CONNECTION_ID, cid)])
    expect(m.code == 0, "ConnectionBind %s: success (got %d)" % (what, m.code))
    return d


def pipe_works(d, ps, what):
    """Bytes both ways between data connection d and peer socket ps."""
    d.conn.sock.sendall(b"client to peer")
    expect(recv_exact(ps, 14) == b"client to peer", "%s: client to peer" % what)
    ps.sendall(b"peer to client")
    expect(recv_exact(d.conn.sock, 14) == b"peer to client", "%s: peer to client" % what)


def s_tcp_relay(user, password, user2, password2):
    """RFC 6062 with real sockets, over TCP: Connect to a listening peer
    (success with CONNECTION-ID, from the relayed address), 446 for it
    again, 447 for a closed port; ConnectionBind 441 for another user, 400
    for an unknown id, success, then bytes both ways; a peer connecting to
    the relayed address gets a ConnectionAttempt, bound and piped the same
    way; Refresh 0 closes every connection."""
    if not ARGS.tcp:
        expect(True, "TCP relays are for TCP and TLS clients: skipped over UDP")
        return
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    lst.settimeout(TIMEOUT)
    peer = lst.getsockname()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()
    closed.close()
    c = new_client(user, password)
    m = c.allocate(transport=TCP)
    if not expect(m.code == 0, "TCP allocation: success (got %d)" % m.code):
        return
    relayed = m.xor_addr(A_RELAYED)
    expect(c.permission(peer).code == 0, "CreatePermission 127.0.0.1")
    thief = socket.socket()
    thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        thief.bind(relayed)
        taken = False
    except OSError:
        taken = True
    thief.close()
    expect(taken, "another socket cannot bind the relayed port, SO_REUSEPORT or not")

    def connect(addr):
        tid = os.urandom(12)
        return c.send_raw(c.build(CONNECT, [(A_PEER, encode_xor(addr, tid))], tid))

    m = connect(peer)
    cid = m.get(A_CONNECTION_ID)
    expect(m.code == 0 and cid is not None and m.integrity_ok(c.key),
           "Connect to a listening peer: success with CONNECTION-ID and MI (got %d)" % m.code)
    ps, src = lst.accept()
    expect(src == relayed, "the peer's connection comes from the relayed address %s (got %s)"
           % (fmt(relayed), fmt(src)))
    expect(connect(peer).code == 446, "Connect to it again: 446")
    m = connect(closed_port)
    expect(m.code == 447, "Connect to a closed port: 447 (got %d)" % m.code)
    m = Client(Conn(ARGS.host, ARGS.port, True), user2, password2).request(
        CONNECTION_BIND, [(A_CONNECTION_ID, cid)])
    expect(m.code == 441, "ConnectionBind by %s: 441 (got %d)" % (user2, m.code))
    m = Client(Conn(ARGS.host, ARGS.port, True), user, password).request(
        CONNECTION_BIND, [(A_CONNECTION_ID, bytes(a ^ 0xFF for a in cid))])
    expect(m.code == 400, "ConnectionBind for an unknown CONNECTION-ID: 400 (got %d)" % m.code)
    d = bound_data_connection(user, password, cid, "for the Connect")
    pipe_works(d, ps, "Connect's pipe")
    # The other way round: a peer connects to the relayed address.
    p2 = socket.create_connection(relayed, timeout=TIMEOUT)
    ind = c.conn.recv_msg(time.monotonic() + TIMEOUT)
    ok = expect(ind is not None and method_of(ind) == 0x00C and ind.cls == 1 and
                ind.xor_addr(A_PEER) == p2.getsockname(),
                "a peer connecting to the relayed address: ConnectionAttempt naming it")
    if ok:
        d2 = bound_data_connection(user, password, ind.get(A_CONNECTION_ID), "for the peer")
        pipe_works(d2, p2, "the peer's pipe")
    expect(c.delete().code == 0, "Refresh 0: deleted")
    expect(recv_exact(ps, 1) == b"" and recv_exact(d.conn.sock, 1) == b"",
           "the allocation gone, its connections close")
    for s in (ps, p2, lst):
        s.close()


def connected_peer(user, password):
    """A TCP allocation Connected to a listening peer: (client, listening
    socket, the peer's accepted socket, CONNECTION-ID), or None."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    lst.settimeout(TIMEOUT)
    peer = lst.getsockname()
    c = new_client(user, password)
    m = c.allocate(transport=TCP)
    if not expect(m.code == 0, "TCP allocation: success (got %d)" % m.code):
        return None
    expect(c.permission(peer).code == 0, "CreatePermission 127.0.0.1")
    tid = os.urandom(12)
    m = c.send_raw(c.build(CONNECT, [(A_PEER, encode_xor(peer, tid))], tid))
    cid = m.get(A_CONNECTION_ID)
    if not expect(m.code == 0 and cid is not None, "Connect: success (got %d)" % m.code):
        return None
    ps, _ = lst.accept()
    return c, lst, ps, cid


def s_tcp_bind_early(user, password, wait="0"):
    """RFC 6062 section 5.4: a client may send its first bytes right
    behind its ConnectionBind, in the same segment, even while turnd still
    fetches the user's credential (from Redis: WAIT seconds let the cached
    one expire). They reach the peer once the bind succeeds, unchanged and
    not read as a frame (they start with 0xFF, which no frame does), and
    then the pipe works both ways."""
    if not ARGS.tcp:
        expect(True, "TCP relays are for TCP and TLS clients: skipped over UDP")
        return
    conn = connected_peer(user, password)
    if conn is None:
        return
    c, lst, ps, cid = conn
    time.sleep(float(wait))
    d = Client(Conn(ARGS.host, ARGS.port, True), user, password)
    m = d.send_raw(d.build(CONNECTION_BIND, [(A_CONNECTION_ID, cid)]))
    expect(m.code == 401, "ConnectionBind without credentials: 401 (got %d)" % m.code)
    d.take_challenge(m)
    raw = d.build(CONNECTION_BIND, [(A_CONNECTION_ID, cid)])
    early = b"\xff early bytes, no frame \x00"
    d.conn.sock.sendall(raw + early)
    m = d.conn.recv_msg(time.monotonic() + TIMEOUT)
    expect(m is not None and m.tid == raw[8:20] and m.code == 0,
           "ConnectionBind with bytes right behind it: success (got %s)"
           % ("nothing" if m is None else m.code))
    expect(recv_exact(ps, len(early)) == early, "the bytes behind it reach the peer unchanged")
    pipe_works(d, ps, "then the pipe")
    expect(c.delete().code == 0, "Refresh 0: deleted")
    for s in (ps, lst):
        s.close()


def piped_bytes(src, dst, n):
    """Seconds for n bytes to cross a pipe from socket src to socket dst,
    and whether they arrived unchanged."""
    data = os.urandom(n)
    start = time.monotonic()
    sender = threading.Thread(target=src.sendall, args=(data,))
    sender.start()
    got = recv_exact(dst, n)
    elapsed = time.monotonic() - start
    sender.join()
    return elapsed, got == data


def pipe_at_rate(user, password, bps, what):
    """3 x BPS bytes from the peer through a new RFC 6062 pipe under a cap
    of BPS (WHAT names it): about 2 s (max-bps's bucket holds one second's
    worth, bps-capacity's budget 64 KiB at this rate), whole and unchanged
    (held back, not dropped). Returns what the caller closes, or None."""
    conn = connected_peer(user, password)
    if conn is None:
        return None
    c, lst, ps, cid = conn
    d = bound_data_connection(user, password, cid, "for the Connect")
    elapsed, whole = piped_bytes(ps, d.conn.sock, 3 * bps)
    expect(whole, "%d bytes peer to client: all there, unchanged" % (3 * bps))
    expect(1.5 <= elapsed <= 6, "%s %d: they took %.2f s (about 2 s)" % (what, bps, elapsed))
    return c, lst, ps, d


def s_tcp_capacity_rate(user, password, bps):
    """bps-capacity on an RFC 6062 pipe: the server's budget holds the
    pipe's bytes back as it caps datagrams (pipe_at_rate)."""
    if not ARGS.tcp:
        expect(True, "TCP relays are for TCP and TLS clients: skipped over UDP")
        return
    got = pipe_at_rate(user, password, int(bps), "bps-capacity")
    if got is None:
        return
    c, lst, ps, _ = got
    expect(c.delete().code == 0, "Refresh 0: deleted")
    for s in (ps, lst):
        s.close()


def s_tcp_pipe_rate(user, password, bps, pid=None, conf=None):
    """max-bps on an RFC 6062 pipe (pipe_at_rate). With PID and CONF:
    max-bps is then removed from CONF, turnd (PID) gets SIGHUP, and the
    same pipe is unlimited."""
    if not ARGS.tcp:
        expect(True, "TCP relays are for TCP and TLS clients: skipped over UDP")
        return
    bps = int(bps)
    got = pipe_at_rate(user, password, bps, "max-bps")
    if got is None:
        return
    c, lst, ps, d = got
    if pid is not None:
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write("".join(l for l in text.splitlines(True) if not l.startswith("max-bps")))
        os.kill(int(pid), signal.SIGHUP)
        time.sleep(1.0)
        elapsed, whole = piped_bytes(d.conn.sock, ps, 3 * bps)
        expect(whole and elapsed < 1.0,
               "after a reload without max-bps, the same pipe client to peer: %d bytes in "
               "%.2f s, whole: %s" % (3 * bps, elapsed, whole))
    expect(c.delete().code == 0, "Refresh 0: deleted")
    for s in (ps, lst):
        s.close()


def rss_kib(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def s_tcp_backpressure(user, password, pid):
    """RFC 6062 piping holds a fast sender back while the peer does not
    read: the client's sends stall long before 96 MiB, turnd's memory
    grows by far less than what was sent, and every byte then reaches the
    peer in order."""
    if not ARGS.tcp:
        expect(True, "TCP relays are for TCP and TLS clients: skipped over UDP")
        return
    total = 96 << 20
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    lst.settimeout(TIMEOUT)
    c = new_client(user, password)
    if not expect(c.allocate(transport=TCP).code == 0, "TCP allocation"):
        return
    expect(c.permission(lst.getsockname()).code == 0, "CreatePermission 127.0.0.1")
    tid = os.urandom(12)
    m = c.send_raw(c.build(CONNECT, [(A_PEER, encode_xor(lst.getsockname(), tid))], tid))
    if not expect(m.code == 0, "Connect (got %d)" % m.code):
        return
    ps, _ = lst.accept()
    d = bound_data_connection(user, password, m.get(A_CONNECTION_ID), "")
    sock = d.conn.sock
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    rss0 = rss_kib(pid)
    block = os.urandom(1 << 16)
    digest = hashlib.sha256()
    sent = 0
    sock.setblocking(False)
    stalled_since = None
    while sent < total:
        try:
            n = sock.send(block)
            digest.update(block[:n])
            sent += n
            stalled_since = None
        except BlockingIOError:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 1.0:
                break
            time.sleep(0.01)
    grown = rss_kib(pid) - rss0
    expect(sent < total, "the sender stalls while the peer does not read (%d MiB sent of %d)"
           % (sent >> 20, total >> 20))
    expect(grown < 32 * 1024, "turnd grew by %d KiB meanwhile (under 32 MiB)" % grown)
    got = hashlib.sha256()
    n = 0
    ps.settimeout(TIMEOUT)
    try:
        while n < sent:
            chunk = ps.recv(1 << 20)
            if not chunk:
                break
            got.update(chunk)
            n += len(chunk)
    except socket.timeout:
        pass
    expect(n == sent and got.digest() == digest.digest(),
           "the peer then reads every byte in order (%d of %d)" % (n, sent))
    expect(c.delete().code == 0, "Refresh 0: deleted")
    for s in (ps, lst, sock):
        s.close()


def s_tcp_bind_timeout(user, password):
    """RFC 6062 sections 5.2 and 5.3: a connection the client does not bind
    within 30 s is closed, one made by Connect and one a peer opened (after
    its ConnectionAttempt); the allocation lives on, and a late
    ConnectionBind gets 400."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    lst.settimeout(TIMEOUT)
    c = new_client(user, password)
    m = c.allocate(transport=TCP)
    if not expect(m.code == 0, "TCP allocation (got %d)" % m.code):
        return
    relayed = m.xor_addr(A_RELAYED)
    expect(c.permission(lst.getsockname()).code == 0, "CreatePermission 127.0.0.1")
    tid = os.urandom(12)
    m = c.send_raw(c.build(CONNECT, [(A_PEER, encode_xor(lst.getsockname(), tid))], tid))
    cid = m.get(A_CONNECTION_ID)
    if not expect(m.code == 0 and cid, "Connect (got %d)" % m.code):
        return
    start = time.monotonic()
    ps, _ = lst.accept()
    p2 = socket.create_connection(relayed, timeout=TIMEOUT)
    ind = c.conn.recv_msg(time.monotonic() + TIMEOUT)
    expect(ind is not None and method_of(ind) == 0x00C, "ConnectionAttempt for a peer")
    closed = []
    for s, what in ((ps, "Connect's"), (p2, "the peer's")):
        s.settimeout(max(0.1, start + 40 - time.monotonic()))
        try:
            eof = s.recv(1) == b""
        except socket.timeout:
            eof = False
        except ConnectionResetError:
            eof = True
        closed.append((what, eof, time.monotonic() - start))
    for what, eof, t in closed:
        expect(eof and 28 <= t <= 36, "%s connection, never bound, closed after %.1f s (30)"
               % (what, t))
    m = c.request(REFRESH, [(A_LIFETIME, struct.pack("!I", 600))])
    expect(m.code == 0, "the allocation lives on (Refresh: %d)" % m.code)
    m = Client(Conn(ARGS.host, ARGS.port, True), user, password).request(
        CONNECTION_BIND, [(A_CONNECTION_ID, cid)])
    expect(m.code == 400, "a ConnectionBind after the 30 s: 400 (got %d)" % m.code)
    expect(c.delete().code == 0, "Refresh 0: deleted")
    for s in (ps, p2, lst):
        s.close()


def cpu_ticks(pid):
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def s_tcp_fd_exhaustion(user, password, pid):
    """Peers connect to a TCP allocation's relayed address after turnd has
    run out of descriptors (its limit lowered by the caller): they are
    refused, turnd does not spin on the listening socket, and the
    allocation still answers."""
    c = new_client(user, password)
    m = c.allocate(transport=TCP)
    if not expect(m.code == 0, "TCP allocation (got %d)" % m.code):
        return
    relayed = m.xor_addr(A_RELAYED)
    expect(c.permission(("127.0.0.1", 1)).code == 0, "CreatePermission 127.0.0.1")
    socks = []
    for _ in range(100):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(relayed)
        socks.append(s)
    time.sleep(1.0)
    before = cpu_ticks(pid)
    time.sleep(2.0)
    spent = cpu_ticks(pid) - before
    expect(spent < 50, "no busy loop while out of descriptors (%d ticks in 2 s)" % spent)
    m = c.request(REFRESH, [(A_LIFETIME, struct.pack("!I", 600))])
    expect(m.code == 0, "the allocation still answers a Refresh (got %d)" % m.code)
    expect(c.delete().code == 0, "Refresh 0: deleted")
    for s in socks:
        s.close()


def s_peer_family(user, password):
    c = new_client(user, password)
    if not allocated(c):
        return
    peer = ("2001:db8::10", 3480)
    m = c.permission(peer)
    expect(m.code == 443, "CreatePermission %s on an IPv4 allocation: 443 (got %d)"
           % (fmt(peer), m.code))
    m = c.channel_bind(0x4000, peer)
    expect(m.code == 443, "ChannelBind %s on an IPv4 allocation: 443 (got %d)"
           % (fmt(peer), m.code))
    expect(c.delete().code == 0, "Refresh 0: deleted")


def client_for(peers, user, password):
    """One allocation with a relay of each family the peers need: both
    families at once with ADDITIONAL-ADDRESS-FAMILY (RFC 8656 section
    7.2), so that it counts once against a user quota."""
    families = {6 if ":" in p[0] else 4 for p in peers}
    extra = []
    if families == {6}:
        extra = [(A_FAMILY, bytes([2, 0, 0, 0]))]
    elif families == {4, 6}:
        extra = [(A_ADDITIONAL_FAMILY, bytes([2, 0, 0, 0]))]
    c = new_client(user, password)
    m = c.allocate(extra)
    relayed = m.xor_addrs(A_RELAYED) if m.code == 0 else []
    got = {6 if ":" in a[0] else 4 for a in relayed}
    ok = expect(m.code == 0 and got == families, "Allocate as %s, relays %s: success (got %d, %s)"
                % (user, sorted(families), m.code, ", ".join(fmt(a) for a in relayed)))
    return c if ok else None


def s_peers(user, password, texts, want):
    peers = [parse_peer(t) for t in texts]
    c = client_for(peers, user, password)
    if c is None:
        return
    what = "success" if want == 0 else str(want)
    for i, peer in enumerate(peers):
        m = c.permission(peer)
        expect(m.code == want, "CreatePermission %s: %s (got %d)" % (fmt(peer), what, m.code))
        m = c.channel_bind(0x4000 + i, peer)
        expect(m.code == want, "ChannelBind 0x%04X %s: %s (got %d)"
               % (0x4000 + i, fmt(peer), what, m.code))
    expect(c.delete().code == 0, "Refresh 0: deleted")


def s_forbidden(user, password, *peers):
    s_peers(user, password, peers, 403)


def s_permitted(user, password, *peers):
    s_peers(user, password, peers, 0)


def s_channel_numbers(user, password, peer):
    c = new_client(user, password)
    if not allocated(c):
        return
    peer = parse_peer(peer)
    for number in (0x3FFF, 0x5000, 0x7FFF, 0xFFFF):
        m = c.channel_bind(number, peer)
        expect(m.code == 400, "ChannelBind 0x%04X: 400 (got %d)" % (number, m.code))
    m = c.channel_bind(0x4FFF, peer)
    expect(m.code == 0, "ChannelBind 0x4FFF: success (got %d)" % m.code)
    m = c.channel_bind(0x4FFF, peer)
    expect(m.code == 0, "ChannelBind 0x4FFF again, same peer (a refresh): success (got %d)"
           % m.code)
    other = (peer[0], peer[1] + 1)
    m = c.channel_bind(0x4FFF, other)
    expect(m.code == 400, "ChannelBind 0x4FFF to another peer: 400 (got %d)" % m.code)
    m = c.channel_bind(0x4001, peer)
    expect(m.code == 400, "ChannelBind another channel to the bound peer: 400 (got %d)" % m.code)
    expect(c.delete().code == 0, "Refresh 0: deleted")


def s_unknown_attr(user, password):
    c = new_client(user, password)
    m = c.allocate([(UNKNOWN_REQUIRED, b"\0\0\0\0")])
    expect(m.code == 420, "authenticated Allocate with attribute 0x%04X: 420 (got %d)"
           % (UNKNOWN_REQUIRED, m.code))
    listed = m.get(A_UNKNOWN) or b""
    expect(listed[:2] == struct.pack("!H", UNKNOWN_REQUIRED),
           "UNKNOWN-ATTRIBUTES lists it (%s)" % listed.hex())
    # Nothing was allocated: a normal Allocate on the 5-tuple succeeds.
    if allocated(c):
        expect(c.delete().code == 0, "Refresh 0: deleted")


def lifetime_of(m):
    v = m.get(A_LIFETIME)
    return struct.unpack("!I", v)[0] if v else None


def s_lifetime(user, password, maximum):
    maximum = int(maximum)
    c = new_client(user, password)
    big = [(A_LIFETIME, struct.pack("!I", 100000))]
    m = c.allocate(big)
    if not expect(m.code == 0, "Allocate LIFETIME 100000: success (got %d)" % m.code):
        return
    expect(lifetime_of(m) == maximum, "granted %s = max-allocate-lifetime %d"
           % (lifetime_of(m), maximum))
    m = c.request(REFRESH, big)
    expect(m.code == 0 and lifetime_of(m) == maximum,
           "Refresh LIFETIME 100000: %s granted (got %d)" % (lifetime_of(m), m.code))
    m = c.send_raw(c.build(REFRESH, [(A_LIFETIME, struct.pack("!I", 700))],
                           after=[(A_LIFETIME, struct.pack("!I", 0))]))
    expect(m.code == 0 and lifetime_of(m) == 700,
           "Refresh LIFETIME 700 + LIFETIME 0 after MESSAGE-INTEGRITY: 700 (got %d, %s)"
           % (m.code, lifetime_of(m)))
    m = c.delete()
    expect(m.code == 0 and lifetime_of(m) == 0, "Refresh LIFETIME 0: success, LIFETIME 0")
    m = c.request(REFRESH, [])
    expect(m.code == 437, "Refresh after the delete: 437 (got %d)" % m.code)
    m = c.permission(("127.0.0.1", 9))
    expect(m.code == 437, "CreatePermission after the delete: 437 (got %d)" % m.code)
    if allocated(c):
        expect(c.delete().code == 0, "the 5-tuple is free again; Refresh 0: deleted")


def s_stale_nonce(user, password):
    c = new_client(user, password)
    m = c.send_raw(c.build(ALLOCATE, [(A_TRANSPORT, bytes([UDP, 0, 0, 0]))]))
    c.take_challenge(m)
    for name, nonce in (("a nonce that is not ours", b"obMatJos2AAAB" + b"x" * 32),
                        ("a nonce with a bad MAC", c.nonce[:-4] + b"AAAA")):
        raw = c.build(ALLOCATE, [(A_TRANSPORT, bytes([UDP, 0, 0, 0]))], nonce=nonce)
        m = c.send_raw(raw)
        expect(m.code == 438, "%s: 438 (got %d)" % (name, m.code))
        expect(m.get(A_NONCE) not in (None, nonce) and m.get(A_REALM) is not None,
               "the 438 carries a fresh NONCE and the REALM")
    c.take_challenge(m)
    if allocated(c):
        expect(c.delete().code == 0, "Refresh 0: deleted")


def rest_password(secret, username):
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
                            ).decode()


def s_rest(secret, user):
    good = "%d:%s" % (int(time.time()) + 600, user)
    c = new_client(good, rest_password(secret, good))
    if allocated(c):
        expect(c.delete().code == 0, "Refresh 0: deleted")
    old = "%d:%s" % (int(time.time()) - 10, user)
    c = new_client(old, rest_password(secret, old))
    m = c.allocate()
    expect(m.code == 401, "expired REST username %s: 401 (got %d)" % (old, m.code))
    c = new_client(good, rest_password(secret + "x", good))
    m = c.allocate()
    expect(m.code == 401, "REST password from another secret: 401 (got %d)" % m.code)


def s_bad_usernames():
    for name in (b"a%s%n%x%p", b"a" * 600, b"%s%s%s%s%s%s%s%s%n%n%n%n"):
        c = new_client(name, "pass")
        m = c.allocate()
        shown = name if len(name) < 40 else b"%d bytes" % len(name)
        expect(m.code in (400, 401), "username %r: 401 or 400 (got %d)" % (shown, m.code))
    s_binding()


def s_quota(u1, p1, u2, p2, u3, p3):
    first = new_client(u1, p1)
    allocated(first)
    m = new_client(u1, p1).allocate()
    expect(m.code == 486, "second allocation of %s (another 5-tuple): 486 (got %d)" % (u1, m.code))
    second = new_client(u2, p2)
    allocated(second)
    third = new_client(u3, p3)
    m = third.allocate()
    expect(m.code == 508, "third allocation in all (total-quota 2): 508 (got %d)" % m.code)
    expect(first.delete().code == 0, "Refresh 0 on %s's allocation" % u1)
    # The quota came back with the delete.
    allocated(third)
    for c in (second, third):
        expect(c.delete().code == 0, "Refresh 0: deleted")


def s_shed(u1, p1, u2, p2, alternate):
    """shed-allocations 1: the next Allocate is sent to the alternate."""
    first = new_client(u1, p1)
    allocated(first)
    c = new_client(u2, p2)
    m = c.allocate()
    expect(m.code == 300, "over the threshold: 300 Try Alternate (got %d)" % m.code)
    v = m.get(0x8023)
    got = None
    if v and len(v) == 8 and v[1] == 1:
        got = "%s:%d" % (socket.inet_ntop(socket.AF_INET, v[4:8]), struct.unpack("!H", v[2:4])[0])
    expect(got == alternate, "ALTERNATE-SERVER %s (got %s)" % (alternate, got))
    expect(m.integrity_ok(c.key), "the 300 carries MESSAGE-INTEGRITY: the redirection is trusted")
    expect(first.delete().code == 0, "Refresh 0 on the first allocation")
    allocated(c)
    expect(c.delete().code == 0, "below the threshold again: allocated, then deleted")


def wait_indication(c, seconds):
    """The next Data indication on c's 5-tuple, or None."""
    deadline = time.monotonic() + seconds
    while True:
        m = c.conn.recv_msg(deadline)
        if m is None or m.type == msg_type(DATA, 1):
            return m


def s_icmp(user, password, peer_text):
    peer = parse_peer(peer_text)
    c = client_for([peer], user, password)
    if c is None:
        return
    expect(c.permission(peer).code == 0, "CreatePermission %s: success" % fmt(peer))
    # Port unreachable: ICMP type 3 code 3, ICMPv6 type 1 code 4.
    want = (1, 4) if ":" in peer[0] else (3, 3)
    for how in ("Send indication", "ChannelData"):
        if how == "Send indication":
            tid = os.urandom(12)
            c.conn.sock.sendall(encode(msg_type(SEND, 1), tid, [(A_PEER, encode_xor(peer, tid)),
                                                                 (A_DATA, b"ping")]))
        else:
            expect(c.channel_bind(0x4001, peer).code == 0, "ChannelBind 0x4001: success")
            frame = struct.pack("!HH", 0x4001, 4) + b"ping"
            c.conn.sock.sendall(frame)
        m = wait_indication(c, 2.0)
        if not expect(m is not None, "%s to closed %s: a Data indication comes back"
                      % (how, fmt(peer))):
            continue
        icmp = m.get(A_ICMP)
        got = (icmp[2], icmp[3]) if icmp and len(icmp) == 8 else None
        expect(got == want, "%s: ICMP attribute type %d code %d (got %s)" % (how, want[0],
                                                                             want[1], got))
        expect(m.xor_addr(A_PEER) == peer, "%s: XOR-PEER-ADDRESS %s (got %s)"
               % (how, fmt(peer), m.xor_addr(A_PEER) and fmt(m.xor_addr(A_PEER))))
        expect(m.get(A_DATA) is None, "%s: no DATA attribute" % how)
    expect(c.delete().code == 0, "Refresh 0: deleted")


def echoed(c, how, peer, channel=None):
    """One datagram to the echoing PEER by Send indication or on channel,
    and its echo back (Data indication or ChannelData)."""
    payload = os.urandom(16)
    if channel is None:
        tid = os.urandom(12)
        c.conn.sock.sendall(encode(msg_type(SEND, 1), tid, [(A_PEER, encode_xor(peer, tid)),
                                                             (A_DATA, payload)]))
    else:
        c.conn.sock.sendall(struct.pack("!HH", channel, len(payload)) + payload)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        c.conn.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = c.conn.sock.recv(65536)
        except socket.timeout:
            break
        # With a channel bound to the peer, the echo of a Send comes back
        # on the channel too (RFC 8656 section 12.7).
        if len(data) >= 4 and data[0] >= 0x40 and data[4:4 + len(payload)] == payload:
            return expect(True, "%s: echoed in ChannelData 0x%04X"
                          % (how, struct.unpack("!H", data[:2])[0]))
        if channel is None and len(data) >= 20 and data[0] < 0x40:
            m = Msg(data)
            if m.type == msg_type(DATA, 1) and m.get(A_DATA) == payload:
                return expect(True, "%s: echoed in a Data indication" % how)
    return expect(False, "%s: echoed (nothing came back)" % how)


def s_retire_hold(user, password, peer_text, peer2_text, ready, go):
    """An allocation on a listener a reload removes (retires): it relays
    before; then READY is created and, once GO exists, Refresh,
    CreatePermission, ChannelBind, ChannelData and Send all still work, and
    a new Allocate from another 5-tuple gets 508 (as when draining)."""
    peer, peer2 = parse_peer(peer_text), parse_peer(peer2_text)
    c = client_for([peer], user, password)
    if c is None:
        return
    expect(c.permission(peer).code == 0, "CreatePermission %s: success" % fmt(peer))
    echoed(c, "before: Send indication", peer)
    expect(c.channel_bind(0x4000, peer).code == 0, "ChannelBind 0x4000: success")
    echoed(c, "before: ChannelData 0x4000", peer, 0x4000)
    open(ready, "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not expect(os.path.exists(go), "the test said go"):
        return
    m = c.request(REFRESH, [(A_LIFETIME, struct.pack("!I", 600))])
    expect(m.code == 0, "retired: Refresh: success (got %d)" % m.code)
    expect(c.permission(peer2).code == 0, "retired: CreatePermission %s: success" % fmt(peer2))
    echoed(c, "retired: Send indication", peer2)
    expect(c.channel_bind(0x4001, peer2).code == 0, "retired: ChannelBind 0x4001: success")
    echoed(c, "retired: ChannelData 0x4000", peer, 0x4000)
    echoed(c, "retired: ChannelData 0x4001", peer2, 0x4001)
    other = new_client(user, password)
    m = other.allocate()
    expect(m.code == 508, "retired: a new Allocate: 508 (got %d)" % m.code)
    other.conn.close()
    expect(c.delete().code == 0, "retired: Refresh 0: deleted")


SCENARIOS = {name[2:]: f for name, f in globals().items() if name.startswith("s_")}


def server_answers():
    try:
        c = Conn(ARGS.host, ARGS.port, ARGS.tcp)
        c.sock.sendall(encode(msg_type(BINDING, 0), os.urandom(12), []))
        m = c.recv_msg(time.monotonic() + 1.0)
        c.close()
        return m is not None
    except OSError:
        return False


def run_one(words):
    """Run one scenario; True if every expectation held."""
    before = failures
    if words[0] not in SCENARIOS:
        expect(False, "no scenario %r" % words[0])
        return False
    try:
        SCENARIOS[words[0]](*words[1:])
    except (OSError, RuntimeError, TypeError) as e:
        expect(False, "%s: %s" % (type(e).__name__, e))
    return failures == before


def run_batch(lines):
    """Lines "DESCRIPTION | SCENARIO ARG...", each reported as "ok - " or
    "not ok - " DESCRIPTION after its details. Once the server stops
    answering, the rest fail at once instead of each waiting it out."""
    global failures
    dead = False
    for line in lines:
        desc, bar, cmd = line.strip().partition("|")
        if not bar:
            continue
        if dead:
            print("not ok - %s (not run: the server stopped answering)" % desc.strip())
            failures += 1
            continue
        good = run_one(cmd.split())
        print(("ok - " if good else "not ok - ") + desc.strip(), flush=True)
        dead = not good and not server_answers()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tcp", action="store_true")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--realm", default="turnd.test")
    p.add_argument("--batch", action="store_true",
                   help='scenarios from stdin, one a line: "DESCRIPTION | SCENARIO ARG..."')
    p.add_argument("words", nargs="*", metavar="SCENARIO [ARG...]")
    ARGS = p.parse_args()
    if ARGS.batch:
        run_batch(sys.stdin)
    elif not ARGS.words:
        p.error("a scenario, or --batch")
    else:
        run_one(ARGS.words)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
