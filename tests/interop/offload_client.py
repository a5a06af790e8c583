#!/usr/bin/env python3
"""The kernel fast path (issue 15) driven datagram by datagram, for
offload_netns.sh: one process holds the TURN client's sockets in the
client's network namespace, a counting peer's in the peer's, and reads
turnd's /metrics in the server's (setns(2) per socket: a socket stays in
the namespace it was made in).

Each scenario sends a few datagrams with unique tokens and checks where
they went: what the peer received, what came back to the client, and how
turnd's counters moved. With --kernel on, a bound channel's datagrams must
be carried by the kernel (turnd_kernel_offload_packets_total) and after
each removal path the kernel must carry nothing more; with --kernel off,
the kernel counters stay 0 and user space counts the ChannelData. In both
modes the peer and the client see what user space has always done.

usage: offload_client.py --kernel on|off --client-ns NS --server-ns NS
           --peer-ns NS --server4 A --server6 A --peer4 A --peer6 A
           --pid PID --conf FILE --log FILE SCENARIO...
Prints "ok - DESCRIPTION" or "not ok - DESCRIPTION" per scenario after its
details, and exits 1 when one failed.

Scenarios:
  refresh0      a channel both ways (IPv4), then Refresh LIFETIME 0
  ipv6          a channel both ways over IPv6, then Refresh LIFETIME 0
  padding       1-3 bytes of padding (kernel trims), 4 bytes (user space)
  malformed     a length beyond the datagram: nothing reaches the peer
  unbound       a channel number not bound: nothing reaches the peer
  unknown_port  the peer's IP, another port: a Data indication from user space
  reload_deny   SIGHUP with denied-peer-ip covering the peer: nothing reaches it
  drain         SIGUSR1: user space relays both ways
  expiry        the permission lapses (300 s), then the allocation (600 s)
  sigkill       SIGKILL: nothing reaches the peer (--stale: after the 3 s
                heartbeat, for a TC filter that outlives the process)
"""
import argparse
import ctypes
import os
import signal
import socket
import struct
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import turn_client as tc  # noqa: E402 (after the path)

LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
PEER_PORT = 3490  # the counting peer; PEER_PORT + 1 is its "unknown" port
CHAN = 0x4000
SETTLE = 1.2  # s: turnd folds the kernel's counters into its own once a second
A = None


def enter(ns):
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if LIBC.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
    finally:
        os.close(fd)


def expect(cond, what):
    return tc.expect(cond, what)


# ------------------------------------------------------------ metrics

KERNEL = {
    "kp_peer": 'turnd_kernel_offload_packets_total{direction="to_peer"}',
    "kp_client": 'turnd_kernel_offload_packets_total{direction="to_client"}',
    "kb_peer": 'turnd_kernel_offload_bytes_total{direction="to_peer"}',
    "kb_client": 'turnd_kernel_offload_bytes_total{direction="to_client"}',
    "user_cd": "turnd_user_channeldata_total",
    "loaded": "turnd_kernel_offload_loaded",
    "entries": "turnd_kernel_offload_entries",
    "rp_peer": 'turnd_relayed_packets_total{direction="to_peer",transport="udp"}',
    "rp_client": 'turnd_relayed_packets_total{direction="to_client",transport="udp"}',
    "pass_padding": 'turnd_kernel_offload_passed_total{reason="padding"}',
    "pass_malformed": 'turnd_kernel_offload_passed_total{reason="malformed"}',
}


def snap(settle=True):
    """The series of KERNEL (0 when absent), after SETTLE seconds."""
    if settle:
        time.sleep(SETTLE)
    enter(A.server_ns)
    url = "http://127.0.0.1:%d/metrics" % A.metrics_port
    text = urllib.request.urlopen(url, timeout=3).read().decode()
    series = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            series[name] = float(value)
    return {k: int(series.get(v, 0)) for k, v in KERNEL.items()}


def moved(before, after, key):
    return after[key] - before[key]


def kernel_carried(before, after, to_peer, to_client, nbytes=None):
    """With the offload on, the kernel relayed exactly these datagrams (and
    user space saw no ChannelData); off, the kernel did nothing and user
    space counted the ChannelData the client sent. In both, turnd's
    relayed counters took them all."""
    d = {k: moved(before, after, k) for k in KERNEL}
    ok = expect(d["rp_peer"] == to_peer and d["rp_client"] == to_client,
                "relayed counters moved by %d to the peer, %d to the client (got %d, %d)"
                % (to_peer, to_client, d["rp_peer"], d["rp_client"]))
    if A.kernel == "on":
        ok &= expect(d["kp_peer"] == to_peer and d["kp_client"] == to_client,
                     "the kernel carried %d to the peer, %d to the client (got %d, %d)"
                     % (to_peer, to_client, d["kp_peer"], d["kp_client"]))
        if nbytes is not None:
            ok &= expect(d["kb_peer"] == nbytes, "kernel bytes to the peer %d (got %d)"
                         % (nbytes, d["kb_peer"]))
        ok &= expect(d["user_cd"] == 0, "user space saw no ChannelData (got %d)" % d["user_cd"])
        return ok & expect(after["loaded"] == 1, "turnd_kernel_offload_loaded 1")
    ok &= expect(after["kp_peer"] == 0 and after["kp_client"] == 0 and after["loaded"] == 0,
                 "offload off: kernel counters 0, loaded 0 (got %d, %d, %d)"
                 % (after["kp_peer"], after["kp_client"], after["loaded"]))
    return ok & expect(d["user_cd"] >= to_peer, "user space counted the %d ChannelData (got %d)"
                       % (to_peer, d["user_cd"]))


def entries(what, want_on, within=0.0):
    """turnd_kernel_offload_entries: want_on channels installed with the
    offload on, none off; polled for up to within seconds (0: now)."""
    want = want_on if A.kernel == "on" else 0
    deadline = time.monotonic() + within
    while True:
        got = snap(False)["entries"]
        if got == want or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return expect(got == want, "%s: turnd_kernel_offload_entries %d%s (got %d)"
                  % (what, want, " within %.1f s" % within if within else "", got))


def kernel_still(before, after, what):
    """The kernel forwarded nothing in either direction."""
    dp, dc = moved(before, after, "kp_peer"), moved(before, after, "kp_client")
    return expect(dp == 0 and dc == 0, "%s: the kernel forwarded nothing (moved %d, %d)"
                  % (what, dp, dc))


# ------------------------------------------------------------ the peer

class Peer:
    """UDP sockets in the peer's namespace on PEER_PORT (the channel's
    peer) and PEER_PORT + 1, both families; what they receive is kept."""

    def __init__(self):
        enter(A.peer_ns)
        self.socks = {}
        for fam, host in ((socket.AF_INET, A.peer4), (socket.AF_INET6, A.peer6)):
            for port in (PEER_PORT, PEER_PORT + 1):
                s = socket.socket(fam, socket.SOCK_DGRAM)
                s.bind((host, port))
                s.setblocking(False)
                self.socks[(host, port)] = s
        self.got = []  # (peer address it came to, source, payload)

    def poll(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for addr, s in self.socks.items():
                try:
                    data, src = s.recvfrom(65536)
                    self.got.append((addr, src[:2], data))
                except BlockingIOError:
                    pass
            time.sleep(0.005)

    def received(self, token, seconds=0.6):
        """The payloads that held token, after waiting up to seconds for one."""
        deadline = time.monotonic() + seconds
        while True:
            hits = [g for g in self.got if token in g[2]]
            if hits or time.monotonic() >= deadline:
                self.poll(0.1 if hits else 0.05)
                return [g for g in self.got if token in g[2]]
            self.poll(0.05)

    def send(self, frm, to, data):
        self.socks[frm].sendto(data, to)


def token():
    return b"tok-" + os.urandom(6).hex().encode()


# ------------------------------------------------------------ the client

class Session:
    """An allocation with a permission and a channel to the peer."""

    def __init__(self, v6=False):
        enter(A.client_ns)
        self.v6 = v6
        self.peer = (A.peer6 if v6 else A.peer4, PEER_PORT)
        conn = tc.Conn(A.server6 if v6 else A.server4, A.port, False)
        self.c = tc.Client(conn, A.user, A.password)
        extra = [(tc.A_FAMILY, bytes([2, 0, 0, 0]))] if v6 else []
        m = self.c.allocate(extra)
        self.ok = expect(m.code == 0, "Allocate%s: success (got %d)" % (" IPv6" if v6 else "",
                                                                        m.code))
        self.relay = m.xor_addrs(tc.A_RELAYED)[0] if self.ok else None
        if self.ok:
            self.ok = expect(self.c.permission(self.peer).code == 0,
                             "CreatePermission %s" % tc.fmt(self.peer)) and \
                expect(self.c.channel_bind(CHAN, self.peer).code == 0,
                       "ChannelBind 0x%04X %s" % (CHAN, tc.fmt(self.peer)))

    def channel_data(self, payload, channel=CHAN, pad=b"", length=None):
        n = len(payload) if length is None else length
        self.c.conn.sock.send(struct.pack("!HH", channel, n) + payload + pad)

    def inbox(self, seconds):
        """Every datagram from the server within seconds."""
        out, deadline = [], time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            self.c.conn.sock.settimeout(left)
            try:
                out.append(self.c.conn.sock.recv(65536))
            except socket.timeout:
                return out
            except ConnectionRefusedError:
                continue

    def delete(self):
        return expect(self.c.delete().code == 0, "Refresh LIFETIME 0: deleted")


def both_ways(peer, s, n=3):
    """n ChannelData to the peer, each echoed by the peer back to the relay:
    every one arrives once, exactly, at each end."""
    ok, sizes = True, 0
    for _ in range(n):
        t = token()
        s.channel_data(t)
        sizes += len(t)
        hits = peer.received(t)
        ok &= expect([h[2] for h in hits] == [t], "the peer got %s once, as sent" % t.decode())
        peer.send(s.peer, s.relay, t)
        back = [d for d in s.inbox(0.6) if t in d]
        want = struct.pack("!HH", CHAN, len(t)) + t
        ok &= expect(back == [want], "the client got it back in ChannelData 0x%04X, unpadded"
                     % CHAN)
    return ok, sizes


def nothing_relayed(peer, s, what, to_client=True):
    """A ChannelData reaches no peer; a datagram from the peer (if
    to_client) reaches no client."""
    t = token()
    s.channel_data(t)
    ok = expect(not peer.received(t, 1.0), "%s: nothing reached the peer" % what)
    if to_client:
        t = token()
        peer.send(s.peer, s.relay, t)
        ok &= expect(not [d for d in s.inbox(0.8) if t in d],
                     "%s: nothing from the peer reached the client" % what)
    return ok


# ------------------------------------------------------------ scenarios

def s_refresh0(peer, v6=False):
    s = Session(v6)
    if not s.ok:
        return
    entries("after ChannelBind", 1)
    before = snap(False)
    ok, nbytes = both_ways(peer, s)
    kernel_carried(before, snap(), 3, 3, nbytes)
    s.delete()
    entries("after Refresh 0", 0)
    before = snap(False)
    nothing_relayed(peer, s, "after Refresh 0")
    kernel_still(before, snap(), "after Refresh 0")


def s_ipv6(peer):
    s_refresh0(peer, True)


def s_padding(peer):
    s = Session()
    if not s.ok:
        return
    before = snap(False)
    for pad in (1, 2, 3):
        t = token()
        data = t
        while (len(data) + pad) % 4:  # the data and the padding end on 4 bytes
            data += b"y"
        s.channel_data(data, pad=b"\0" * pad)
        hits = peer.received(t)
        expect([h[2] for h in hits] == [data], "%d bytes of padding: the peer got the %d "
               "bytes of data only" % (pad, len(data)))
    after = snap()
    if A.kernel == "on":
        expect(moved(before, after, "kp_peer") == 3, "the kernel trimmed and carried the 3 "
               "(moved %d)" % moved(before, after, "kp_peer"))
    else:
        kernel_carried(before, after, 3, 0)
    # More than 3 bytes after the data: the kernel hands it up, and user
    # space relays the data (what follows it is padding, RFC 8656 12.5).
    before = after
    t = token()
    s.channel_data(t, pad=b"\0" * 8)
    hits = peer.received(t)
    expect([h[2] for h in hits] == [t], "8 bytes after the data: the peer got the data only")
    after = snap()
    kernel_still(before, after, "8 bytes after the data")
    if A.kernel == "on":
        expect(moved(before, after, "pass_padding") == 1, "passed_total{reason=padding} +1")
    s.delete()


def s_malformed(peer):
    s = Session()
    if not s.ok:
        return
    before = snap(False)
    t = token()
    s.channel_data(t, length=len(t) + 40)
    expect(not peer.received(t, 1.0), "a length 40 bytes beyond the datagram: nothing "
           "reached the peer")
    after = snap()
    kernel_still(before, after, "a length beyond the datagram")
    if A.kernel == "on":
        expect(moved(before, after, "pass_malformed") == 1, "passed_total{reason=malformed} +1")
    s.delete()


def s_unbound(peer):
    s = Session()
    if not s.ok:
        return
    before = snap(False)
    t = token()
    s.channel_data(t, channel=CHAN + 1)
    expect(not peer.received(t, 1.0), "channel 0x%04X, not bound: nothing reached the peer"
           % (CHAN + 1))
    kernel_still(before, snap(), "a channel not bound")
    s.delete()


def s_unknown_port(peer):
    s = Session()
    if not s.ok:
        return
    before = snap(False)
    other = (s.peer[0], PEER_PORT + 1)
    t = token()
    peer.send(other, s.relay, t)
    got = None
    for d in s.inbox(1.0):
        if len(d) >= 20 and d[0] < 0x40:
            m = tc.Msg(d)
            if m.type == tc.msg_type(tc.DATA, 1) and m.get(tc.A_DATA) == t:
                got = m
    expect(got is not None, "from %s (the permission is per IP, the channel per port): "
           "a Data indication" % tc.fmt(other))
    expect(got is not None and got.xor_addr(tc.A_PEER) == other,
           "its XOR-PEER-ADDRESS is %s" % tc.fmt(other))
    after = snap()
    kernel_still(before, after, "from an unknown port")
    expect(moved(before, after, "rp_client") == 1, "user space relayed it (relayed to_client +1)")
    s.delete()


def signal_and_wait(sig, line):
    """Send sig to turnd and wait (5 s at most) for one more log line
    containing line."""
    with open(A.log, "rb") as f:
        had = f.read().count(line.encode())
    os.kill(A.pid, sig)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(A.log, "rb") as f:
            if f.read().count(line.encode()) > had:
                time.sleep(0.3)  # the workers take the new state
                return True
        time.sleep(0.05)
    return False


def s_reload_deny(peer):
    s = Session()
    if not s.ok:
        return
    both_ways(peer, s, 1)
    with open(A.conf) as f:
        conf = f.read()
    denied = conf.replace('allowed-peer-ip = { "%s", "%s" }' % (A.peer4, A.peer6),
                          'denied-peer-ip = { "%s" }' % A.peer4)
    with open(A.conf, "w") as f:
        f.write(denied)
    # "every worker runs the new configuration": each worker has swept
    # its allocations, and the sweep removed the entries there and then.
    ok = expect(denied != conf and
                signal_and_wait(signal.SIGHUP, "every worker runs the new configuration"),
                "SIGHUP with denied-peer-ip %s: reloaded" % A.peer4)
    if ok:
        entries("after the reload refused the peer", 0)
        before = snap(False)
        nothing_relayed(peer, s, "after the reload refused the peer", to_client=False)
        kernel_still(before, snap(), "after the reload refused the peer")
    with open(A.conf, "w") as f:
        f.write(conf)
    expect(signal_and_wait(signal.SIGHUP, "configuration reloaded"), "SIGHUP: the peer allowed "
           "again")
    s.delete()


def s_drain(peer):
    s = Session()
    if not s.ok:
        return
    both_ways(peer, s, 1)
    if not expect(signal_and_wait(signal.SIGUSR1, "SIGUSR1: draining"), "SIGUSR1: draining"):
        return
    # The drain clears the kernel's entries on the signal, not at a tick.
    entries("draining", 0)
    before = snap(False)
    ok, _ = both_ways(peer, s, 2)
    after = snap()
    kernel_still(before, after, "draining")
    expect(moved(before, after, "user_cd") >= 2, "draining: user space counted the ChannelData "
           "(moved %d)" % moved(before, after, "user_cd"))
    s.delete()


def s_expiry(peer):
    """RFC 8656 sections 9 and 7: a permission lasts 300 s, an allocation
    at least 600 s (max-allocate-lifetime cannot go below 600): slow."""
    s = Session()
    if not s.ok:
        return
    both_ways(peer, s, 1)
    time.sleep(305)
    before = snap(False)
    t = token()
    peer.send(s.peer, s.relay, t)
    expect(not [d for d in s.inbox(1.0) if t in d], "permission expired: nothing from the "
           "peer reached the client")
    kernel_still(before, snap(), "after the permission expired")
    time.sleep(310)  # 615 s after the Allocate: its 600 s, and the reaper's tick
    before = snap(False)
    nothing_relayed(peer, s, "after the allocation expired", to_client=False)
    kernel_still(before, snap(), "after the allocation expired")


def wait_dead(pid, seconds=2.0):
    """True once every thread of pid has exited (the shell, its parent,
    reaps it): kill(2) only starts that, and the descriptors, a tcx link's
    among them, close as the last thread goes."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            tasks = os.listdir("/proc/%d/task" % pid)
        except FileNotFoundError:
            return True  # reaped
        states = []
        for t in tasks:
            try:
                with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                    states.append(f.read().rpartition(")")[2].split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass  # that thread is gone
        if all(st in ("Z", "X") for st in states):
            time.sleep(0.1)
            return True
        time.sleep(0.02)
    return False


def s_sigkill(peer):
    s = Session()
    if not s.ok:
        return
    before = snap(False)
    ok, _ = both_ways(peer, s, 2)
    kernel_carried(before, snap(), 2, 2)
    os.kill(A.pid, signal.SIGKILL)
    expect(wait_dead(A.pid), "turnd's threads are gone (zombies at most) within 2 s")
    if A.stale:
        time.sleep(3.5)  # the heartbeat's 3 s, and a little
    nothing_relayed(peer, s, "after SIGKILL" + (" and 3.5 s" if A.stale else ""))


SCENARIOS = {n[2:]: f for n, f in globals().items() if n.startswith("s_")}


def main():
    global A
    p = argparse.ArgumentParser()
    for name in ("client-ns", "server-ns", "peer-ns", "server4", "server6", "peer4", "peer6",
                 "conf", "log"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--kernel", choices=("on", "off"), required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--port", type=int, default=3478)
    p.add_argument("--metrics-port", type=int, required=True)
    p.add_argument("--user", default="user")
    p.add_argument("--password", default="pass")
    p.add_argument("--stale", action="store_true")
    p.add_argument("scenarios", nargs="+")
    A = p.parse_args()
    peer = Peer()
    for name in A.scenarios:
        before = tc.failures
        print("# " + name, flush=True)
        try:
            SCENARIOS[name](peer)
        except (OSError, RuntimeError, KeyError) as e:
            expect(False, "%s: %s" % (type(e).__name__, e))
        print(("ok - " if tc.failures == before else "not ok - ") + name, flush=True)
    sys.exit(1 if tc.failures else 0)


if __name__ == "__main__":
    main()
