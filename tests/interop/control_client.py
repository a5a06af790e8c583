#!/usr/bin/env python3
"""Raw clients of turnd's control socket, for tests/interop/turnctl.sh.

  control_client.py hostile PATH
      malformed and oversized requests: each must get an error line, the
      connection kept (a bad line) or closed cleanly (no end of line within
      the limit), and a good request afterwards must be answered.
  control_client.py crowd PATH CLIENTS REQUESTS
      CLIENTS connections at once, each sending REQUESTS requests (status,
      sessions, users in turn) and checking every answer; prints the
      answers counted and the most control connections status reported.

Every step is bounded in time; exit 0 when every check held.
"""
import json
import socket
import sys
import threading
import time

TIMEOUT = 15.0
MAX_CONNS = 32  # daemon/control_int.h CONTROL_MAX_CONNS: served at once


def connect(path):
    # A blocking connect, as turnctl's: on a unix socket it waits for room
    # in the listen backlog (with a timeout set it would fail at once with
    # EAGAIN), then every read and write is bounded.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(TIMEOUT)
    return s


def read_line(s, buf):
    """One answer line from s (buf: bytes already read); (line, rest),
    line None at end of stream."""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None, buf
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    return line, rest


def ask(s, buf, request):
    s.sendall(request)
    line, buf = read_line(s, buf)
    if line is None:
        return None, buf
    return json.loads(line.decode()), buf


def hostile(path):
    failures = []

    def expect_error(what, answer, words):
        if not answer or answer.get("ok") is not False or words not in answer.get("error", ""):
            failures.append("%s: %r" % (what, answer))
        else:
            print("ok: %s -> %s" % (what, answer["error"]))

    s = connect(path)
    buf = b""
    for what, req, words in [
        ("not JSON", b"{bad\n", "malformed request"),
        ("not an object", b"[1,2]\n", "expected an object"),
        ("no cmd", b"{\"user\":\"x\"}\n", "expected an object"),
        ("unknown command", b"{\"cmd\":\"reboot\"}\n", "unknown command"),
        ("raw control byte", b"{\"cmd\":\"st\x01atus\"}\n", "control byte"),
        ("NUL escape", b"{\"cmd\":\"status\\u0000\"}\n", "bad escape"),
        ("deep nesting", b"{\"cmd\":" + b"[" * 40 + b"]" * 40 + b"}\n", "nested too deep"),
        ("kill without id", b"{\"cmd\":\"kill\"}\n", "not a session id"),
        ("kill of a worker that is not", b"{\"cmd\":\"kill\",\"session\":\"99-1\"}\n",
         "not a session id"),
        ("ban of -5 s", b"{\"cmd\":\"kill-user\",\"user\":\"x\",\"ban\":-5}\n", "ban:"),
        ("line of 5000 bytes", b"{\"cmd\":\"" + b"a" * 5000 + b"\"}\n", "too long"),
    ]:
        answer, buf = ask(s, buf, req)
        expect_error(what, answer, words)
    # The same connection still serves a good request.
    answer, buf = ask(s, buf, b"{\"cmd\":\"status\"}\n")
    if not answer or answer.get("ok") is not True:
        failures.append("status after the bad lines: %r" % (answer,))
    else:
        print("ok: the connection still answers status after the bad lines")
    # No end of line within the limit: an error line, then the end.
    s.sendall(b"x" * 6000)
    line, buf = read_line(s, buf)
    answer = json.loads(line.decode()) if line else None
    expect_error("6000 bytes without an end of line", answer, "too long")
    line, buf = read_line(s, buf)
    if line is not None:
        failures.append("connection not closed after the oversized request: %r" % line)
    else:
        print("ok: the connection was closed after it")
    s.close()
    # A request and the end of file at once (printf ... | nc -U): the
    # answers still come, a worker job's too, then the end.
    s = connect(path)
    s.sendall(b"{\"cmd\":\"status\"}\n{\"cmd\":\"sessions\"}\n")
    s.shutdown(socket.SHUT_WR)
    a1, buf = read_line(s, b"")
    a2, buf = read_line(s, buf)
    end, _ = read_line(s, buf)
    s.close()
    if not a1 or not a2 or b'"ok":true' not in a1 or b'"sessions"' not in a2 or end is not None:
        failures.append("requests before the end of file: %r %r %r" % (a1, a2, end))
    else:
        print("ok: requests sent with the end of file are answered, then the end")
    # A client that goes away mid-line leaves the daemon unaffected.
    s = connect(path)
    s.sendall(b"{\"cmd\":\"sess")
    s.close()
    s = connect(path)
    answer, _ = ask(s, b"", b"{\"cmd\":\"status\"}\n")
    s.close()
    if not answer or answer.get("ok") is not True:
        failures.append("status on a new connection: %r" % (answer,))
    else:
        print("ok: a new connection is served")
    for f in failures:
        print("FAIL: " + f)
    return 0 if not failures else 1


def crowd(path, clients, requests):
    cmds = [b"{\"cmd\":\"status\"}\n", b"{\"cmd\":\"sessions\"}\n", b"{\"cmd\":\"users\"}\n"]
    lock = threading.Lock()
    tally = {"answers": 0, "bad": 0, "max_conns": 0}
    start = threading.Barrier(clients)

    def client(i):
        ok = 0
        most = 0
        try:
            start.wait(TIMEOUT)
            s = connect(path)
            buf = b""
            for k in range(requests):
                answer, buf = ask(s, buf, cmds[(i + k) % len(cmds)])
                if not answer or answer.get("ok") is not True:
                    break
                ok += 1
                most = max(most, answer.get("control_connections", 0))
            s.close()
        except (OSError, ValueError, threading.BrokenBarrierError) as e:
            print("client %d: %s" % (i, e))
        with lock:
            tally["answers"] += ok
            tally["bad"] += requests - ok
            tally["max_conns"] = max(tally["max_conns"], most)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 4)
    print("answers %d bad %d max_control_connections %d seconds %.2f" %
          (tally["answers"], tally["bad"], tally["max_conns"], time.monotonic() - t0))
    # The daemon serves at most MAX_CONNS at once (the rest wait in the
    # backlog), and the crowd was big enough to reach that bound.
    bounded = tally["max_conns"] <= MAX_CONNS and (clients < 2 * MAX_CONNS or tally["max_conns"] > 1)
    if not bounded:
        print("FAIL: %d control connections served at once (bound %d)" % (tally["max_conns"], MAX_CONNS))
    return 0 if tally["bad"] == 0 and tally["answers"] == clients * requests and bounded else 1


def main(argv):
    if len(argv) >= 3 and argv[1] == "hostile":
        return hostile(argv[2])
    if len(argv) >= 5 and argv[1] == "crowd":
        return crowd(argv[2], int(argv[3]), int(argv[4]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
