#!/usr/bin/env python3
"""The application behind turnd's HTTP authorization hook, for
tests/interop/auth_hook.sh: an HTTP/1.1 server (keep-alive, one thread per
connection) on loopback that records every request it gets and answers as
its mode says.

usage: auth_hook.py --port PORT --log FILE [--realm R]

POST /turn: the body must be a JSON object with exactly the fields turnd
sends (else 400, and the request is logged with "bad"); it is logged as
one JSON line {"path", "content_type", "body": the object}. The answer:
  mode ok      a user named "refused..." gets 403; "quota2" {"password",
               "quota": 2}; "short" {"password", "lifetime": 120};
               "keyuser" {"key": MD5(keyuser:realm:hookpass)};
               "bpsN..." (N digits) {"password", "max_bps": N}; anyone
               else {"password": "hookpass"}
  mode slow    as ok, after sleeping 3 s (beyond auth-timeout)
  mode delay   as ok, after sleeping 0.5 s (lookups pile up meanwhile)
  mode junk    200 with a body that is not JSON
  mode huge    200 with a 1 MiB body of JSON
GET /mode?MODE: switch mode (answers 200 "MODE").
"""
import argparse
import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIELDS = {"username", "realm", "client_ip", "client_port", "transport", "listen_ip",
          "listen_port", "method"}
STATE = {"mode": "ok"}
LOCK = threading.Lock()


def answer(user, realm):
    if user.startswith("refused"):
        return 403, None
    if user == "quota2":
        return 200, {"password": "hookpass", "quota": 2}
    if user == "short":
        return 200, {"password": "hookpass", "lifetime": 120}
    bps = re.match(r"bps([0-9]+)", user)
    if bps:
        return 200, {"password": "hookpass", "max_bps": int(bps.group(1))}
    if user == "keyuser":
        key = hashlib.md5(f"{user}:{realm}:hookpass".encode()).hexdigest()
        return 200, {"key": key}
    return 200, {"password": "hookpass"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/mode?"):
            STATE["mode"] = self.path[len("/mode?"):]
            self.reply(200, STATE["mode"].encode(), "text/plain")
        else:
            self.reply(404, b"")

    def record(self, entry):
        with LOCK, open(self.server.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        entry = {"path": self.path, "content_type": self.headers.get("Content-Type")}
        try:
            body = json.loads(raw.decode("utf-8"))
            if not isinstance(body, dict) or set(body) != FIELDS:
                raise ValueError("fields")
            entry["body"] = body
        except ValueError as e:
            entry["bad"] = f"{e}: {raw[:200]!r}"
            self.record(entry)
            self.reply(400, b"")
            return
        self.record(entry)
        mode = STATE["mode"]
        if mode == "slow":
            time.sleep(3)
        elif mode == "delay":
            time.sleep(0.5)
        if mode == "junk":
            self.reply(200, b"<html>this is not JSON</html>")
            return
        if mode == "huge":
            self.reply(200, b'{"password":"' + b"x" * (1 << 20) + b'"}')
            return
        code, obj = answer(body["username"], self.server.realm)
        self.reply(code, json.dumps(obj).encode() if obj else b"")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--realm", default="turnd.test")
    a = p.parse_args()
    ThreadingHTTPServer.request_queue_size = 64  # every worker's connections at once
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.log = a.log
    srv.realm = a.realm
    print("listening", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
