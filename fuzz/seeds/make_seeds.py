#!/usr/bin/env python3
"""Write the seed corpora of the libFuzzer targets.

fuzz_stun_msg/: the published vectors (RFC 5769, RFC 8489 B.1 as corrected
by errata 6268) and synthesized STUN/TURN messages covering every attribute
the codec decodes, signed with the key fuzz/fuzz_stun_msg.c checks
("fuzz-key") so the fuzzer starts from messages that verify.
fuzz_chandata/: ChannelData datagrams and TCP streams mixing ChannelData and
STUN frames.
fuzz_turn_server/: programs for fuzz/fuzz_turn_server.c (five config
bytes, then operations: see that file), each a whole client session: UDP
Allocate, CreatePermission, ChannelBind, ChannelData, Send, peer data,
Refresh 0; the same over TCP with RFC 6062 Connect and ConnectionBind;
dual-stack, EVEN-PORT with a RESERVATION-TOKEN, and SHA-256.

Run from anywhere: python3 fuzz/seeds/make_seeds.py
"""
import hashlib
import hmac
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
COOKIE = 0x2112A442
KEY = b"fuzz-key"
TID = bytes.fromhex("0102030405060708090a0b0c")

VECTORS = {
    "rfc5769_request": (
        "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74"
        "002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836765920202000080014"
        "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf"),
    "rfc5769_response_v4": (
        "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200008"
        "0001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96"),
    "rfc5769_response_v6": (
        "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200014"
        "0002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275"
        "bfe3ed4180280004c8fb0b4c"),
    "rfc5769_long_term": (
        "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae38383e382afe3"
        "82b900000015001c662f2f3439396b39353464364f4c33346f4c394653547679363473410014000b"
        "6578616d706c652e6f72670000080014f67024656dd64a3e02b8e0712e85c9a28ca89666"),
    "rfc8489_sha256": (
        "000100902112a44278ad3433c6ad72c029da412e001e00204a3cf38fef6992bda952c6780417da0f"
        "24819415569e60b205c46e41407f1704001500296f624d61744a6f733241414143662f2f3439396b"
        "39353464364f4c33346f4c394653547679363473410000000014000b6578616d706c652e6f726700"
        "001d000400020000001c0020b5c7bf005b6c52a21c51c5e892f81924136296cb927c43149309278c"
        "c6518e65"),
}


def msg_type(method, cls):
    """RFC 8489 section 5: interleave method and class bits."""
    return ((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2)
            | ((cls & 1) << 4) | ((cls & 2) << 7))


class Msg:
    """A STUN message under construction; padding is zero."""

    def __init__(self, method, cls, tid=TID, cookie=True):
        self.type = msg_type(method, cls)
        self.prefix = struct.pack("!I", COOKIE) + tid if cookie else tid
        self.body = b""

    def header(self, extra=0):
        return struct.pack("!HH", self.type, len(self.body) + extra) + self.prefix

    def attr(self, atype, value):
        pad = (-len(value)) % 4
        self.body += struct.pack("!HH", atype, len(value)) + value + b"\0" * pad
        return self

    def mac(self, atype, digest, size):
        covered = self.header(4 + size) + self.body
        return self.attr(atype, hmac.new(KEY, covered, digest).digest()[:size])

    def integrity(self):
        return self.mac(0x0008, hashlib.sha1, 20)

    def integrity_sha256(self, size=32):
        return self.mac(0x001C, hashlib.sha256, size)

    def fingerprint(self):
        crc = zlib.crc32(self.header(8) + self.body) ^ 0x5354554E
        return self.attr(0x8028, struct.pack("!I", crc))

    def bytes(self):
        return self.header() + self.body


def addr(ip, port, xor=False, tid=TID):
    raw = bytes(int(x) for x in ip.split(".")) if "." in ip else bytes.fromhex(ip)
    family = 1 if len(raw) == 4 else 2
    if xor:
        port ^= COOKIE >> 16
        mask = struct.pack("!I", COOKIE) + tid
        raw = bytes(a ^ b for a, b in zip(raw, mask))
    return struct.pack("!BBH", 0, family, port) + raw


def error(code, reason, first=0):
    return struct.pack("!BBBB", first, 0, code // 100, code % 100) + reason.encode()


V6 = "20010db8000000000000000000000001"


def stun_seeds():
    seeds = {name: bytes.fromhex(h) for name, h in VECTORS.items()}
    seeds["header_only"] = Msg(0x001, 0).bytes()
    seeds["binding_rfc3489"] = Msg(0x001, 0, tid=bytes(range(16)), cookie=False).bytes()

    m = Msg(0x003, 0)
    m.attr(0x0019, b"\x11\0\0\0").attr(0x000D, struct.pack("!I", 600))
    m.attr(0x001A, b"").attr(0x0018, b"\x80").attr(0x0017, b"\x02\0\0\0")
    m.attr(0x8000, b"\x02\0\0\0").attr(0x0006, b"alice").attr(0x0014, b"example.org")
    m.attr(0x0015, b"obMatJos2AAACnonce").attr(0x001D, b"\0\x02\0\0")
    m.attr(0x0024, struct.pack("!I", 0x6E0001FF)).attr(0x0025, b"")
    m.attr(0x802A, bytes(8)).attr(0x0003, b"\0\0\0\x06").attr(0x0027, b"\x0d\x96\0\0")
    seeds["allocate_request"] = m.integrity().fingerprint().bytes()

    m = Msg(0x003, 2)
    m.attr(0x0016, addr("203.0.113.5", 49152, True)).attr(0x0016, addr(V6, 49153, True))
    m.attr(0x0020, addr("198.51.100.7", 40000, True)).attr(0x000D, struct.pack("!I", 600))
    m.attr(0x0022, bytes(range(8))).attr(0x8022, b"turnd")
    m.attr(0x802B, addr("192.0.2.1", 3478)).attr(0x802C, addr(V6, 3479))
    m.attr(0x8027, struct.pack("!I", 60)).attr(0x8029, bytes(range(8)))
    seeds["allocate_success"] = m.integrity_sha256(16).fingerprint().bytes()

    m = Msg(0x003, 3)
    m.attr(0x0009, error(401, "Unauthorized")).attr(0x0014, b"example.org")
    m.attr(0x0015, b"nonce-value").attr(0x8002, b"\0\x02\0\0\0\x01\0\0")
    m.attr(0x000A, struct.pack("!HHH", 0x7FFF, 0x0002, 0x0031))
    m.attr(0x8023, addr("192.0.2.2", 3478)).attr(0x8003, b"turn.example.org")
    m.attr(0x0001, addr("192.0.2.3", 1234))
    seeds["error_401"] = m.fingerprint().bytes()

    m = Msg(0x006, 1)
    m.attr(0x0012, addr("203.0.113.9", 5000, True)).attr(0x0013, b"payload")
    m.attr(0x8004, b"\0\0\x03\x0d\0\0\x05\xdc")
    m.attr(0x8001, error(440, "Address Family not Supported", first=2))
    m.attr(0x002A, struct.pack("!I", 7))
    seeds["send_indication"] = m.fingerprint().bytes()

    m = Msg(0x009, 0)
    m.attr(0x000C, b"\x40\x01\0\0").attr(0x0012, addr(V6, 6000, True))
    m.attr(0x0006, b"bob").attr(0x0014, b"r").attr(0x0015, b"n")
    seeds["channel_bind"] = m.integrity().integrity_sha256().fingerprint().bytes()

    m = Msg(0x001, 0)
    m.attr(0x7FFF, b"x").attr(0xC001, b"yy").attr(0x0002, b"").attr(0x0026, bytes(7))
    seeds["unknown_attrs"] = m.bytes()

    m = Msg(0x004, 0)
    m.attr(0x0006, b"alice").integrity().attr(0x000D, struct.pack("!I", 0))
    seeds["lifetime_after_mi"] = m.fingerprint().bytes()
    return seeds


def chandata(channel, data, pad=True):
    raw = struct.pack("!HH", channel, len(data)) + data
    return raw + b"\0" * ((-len(raw)) % 4 if pad else 0)


def chandata_seeds():
    v4 = bytes.fromhex(VECTORS["rfc5769_response_v4"])
    return {
        "chan_small": chandata(0x4000, b"hello"),
        "chan_empty": chandata(0x4FFF, b""),
        "chan_unpadded": chandata(0x4001, b"abc", pad=False),
        "chan_udp_trailing": chandata(0x4002, b"a", pad=False) + b"\xff\xff\xff",
        "chan_4k": chandata(0x4ABC, bytes(range(256)) * 16),
        "chan_ffff_header": b"\x40\x00\xff\xff" + b"\x5a" * 60,
        "chan_bad_channel": chandata(0x5000, b"data"),
        "stream_mixed": v4 + chandata(0x4001, b"hello") + chandata(0x4002, b"")
        + bytes.fromhex(VECTORS["rfc5769_response_v6"]) + chandata(0x4003, b"xyz"),
        "stream_invalid_tail": chandata(0x4001, b"ok") + b"\x80\0\0\0",
        "stream_stun_odd_len": v4 + b"\x00\x01\x00\x05" + bytes(5),
    }


def write(subdir, seeds):
    path = os.path.join(HERE, subdir)
    os.makedirs(path, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(path, name + ".bin"), "wb") as f:
            f.write(data)


# fuzz_turn_server: operation codes (low nibble) of fuzz_turn_server.c;
# the high nibble picks the client (0, 1 UDP alice; 2 TCP bob; 3 UDP IPv6
# bob; 4 TCP bob, a data connection).
(OP_ALLOCATE, OP_REFRESH, OP_PERMISSION, OP_CHANNEL_BIND, OP_SEND, OP_CHANDATA,
 OP_PEER_DATA, OP_ADVANCE, OP_CONNECT, OP_TCP_EVENT, OP_CONNECTION_BIND,
 OP_CLIENT_CLOSED, OP_BINDING, OP_RAW, OP_SIGNED_RAW, OP_ICMP) = range(16)
NO_LIMITS = bytes(5)


def op(code, client=0, *args):
    out = bytes([client << 4 | code])
    for a in args:
        out += a if isinstance(a, bytes) else bytes([a])
    return out


def u16(v):
    return struct.pack("!H", v)


def udp_session(client=0, auth=0):
    """Allocate, CreatePermission, ChannelBind, ChannelData, Send, peer
    data on the channel and off it, Refresh 0."""
    return (op(OP_ALLOCATE, client, 0, 0, auth) + op(OP_PERMISSION, client, 1, 0, auth)
            + op(OP_CHANNEL_BIND, client, 0, 0, 0, auth) + op(OP_CHANDATA, client, 0, u16(100))
            + op(OP_SEND, client, 0, 0, u16(50)) + op(OP_PEER_DATA, client, 0, u16(20))
            + op(OP_PEER_DATA, client, 1, u16(20)) + op(OP_ICMP, client, 0, 3, 4)
            + op(OP_REFRESH, client, 3, auth))


def turn_server_seeds():
    tcp = (op(OP_ALLOCATE, 2, 1, 0, 0) + op(OP_PERMISSION, 2, 1, 0, 0) + op(OP_CONNECT, 2, 0, 0)
           + op(OP_TCP_EVENT, 2, 1, 0) + op(OP_CONNECTION_BIND, 4, 0, 0)
           + op(OP_TCP_EVENT, 2, 0, 1) + op(OP_CONNECTION_BIND, 4, 1, 0)
           + op(OP_TCP_EVENT, 2, 2, 0) + op(OP_CLIENT_CLOSED, 2))
    reserve = (op(OP_ALLOCATE, 0, 0x18, 0, 0) + op(OP_ALLOCATE, 1, 0x20, 0, 0)
               + op(OP_ADVANCE, 0, 0x41) + op(OP_REFRESH, 1, 1, u16(1200), 0))
    dual = (op(OP_ALLOCATE, 3, 0x06, 0, 0) + op(OP_ALLOCATE, 0, 0x06 | 0x80, 0, u16(900), 0)
            + op(OP_PERMISSION, 0, 2, 0, 4, 0) + op(OP_CHANNEL_BIND, 0, 0, 1, 5, 0)
            + op(OP_PEER_DATA, 0, 5, u16(8)) + op(OP_ADVANCE, 0, 0xC1))
    expiry = (udp_session(0)[:-3] + op(OP_ADVANCE, 0, 0x8A) + op(OP_CHANDATA, 0, 0, u16(10))
              + op(OP_ADVANCE, 0, 0x8A) + op(OP_PEER_DATA, 0, 0, u16(10)))
    binding = Msg(0x001, 0).fingerprint().bytes()
    return {
        "udp_session": NO_LIMITS + udp_session(0),
        "udp_session_sha256": NO_LIMITS + udp_session(1, 4),
        "udp_relay_tcp_client": NO_LIMITS + udp_session(2),
        "shutdown_with_allocations": bytes([0, 0, 0, 0, 2]) + udp_session(0)[:-3]
        + op(OP_ALLOCATE, 2, 1, 0, 0) + op(OP_PERMISSION, 2, 1, 0, 0) + op(OP_CONNECT, 2, 0, 0),
        "reload_lowers_limits": NO_LIMITS + udp_session(0)[:-3] + op(OP_CLIENT_CLOSED, 1, 0x09)
        + op(OP_PERMISSION, 0, 1, 2, 0) + op(OP_CHANNEL_BIND, 0, 0, 1, 2, 0)
        + op(OP_CLIENT_CLOSED, 1, 0x89) + op(OP_CHANDATA, 0, 0, u16(10))
        + op(OP_SEND, 0, 0, 0, u16(10)),
        "udp_two_clients_limits": bytes([0, 0x0A, 0x06, 0, 0]) + udp_session(0) + udp_session(1),
        "tcp_session": NO_LIMITS + tcp,
        "reservation": NO_LIMITS + reserve,
        "dual_stack": NO_LIMITS + dual,
        "expiry": NO_LIMITS + expiry,
        "raw_binding": NO_LIMITS + op(OP_RAW, 0, u16(len(binding))) + binding,
    }


if __name__ == "__main__":
    write("fuzz_stun_msg", stun_seeds())
    write("fuzz_chandata", chandata_seeds())
    write("fuzz_turn_server", turn_server_seeds())
