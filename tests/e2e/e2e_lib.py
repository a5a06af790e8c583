"""What the browser tests share (tests/e2e/browser_test.py for Chromium,
firefox_test.py for Firefox, cross_test.py for one of each): the tiny
HTTP server that serves page.html and takes its POSTed progress lines and
result, the checks made on a result, and stopping a browser so that none
of its processes survives. Standard library only: browser_test.py runs
under any python3.
"""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


class State:
    def __init__(self):
        self.result = None
        self.logs = []
        self.event = threading.Event()


def make_handler(page_bytes, state):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # keep stdout for results
            pass

        def do_GET(self):
            path = urllib.parse.urlparse(self.path).path
            if path == "/page.html":
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page_bytes)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(page_bytes)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode("utf-8", "replace")
            path = urllib.parse.urlparse(self.path).path
            if path == "/log":
                state.logs.append(body)
            elif path == "/result":
                try:
                    state.result = json.loads(body)
                except ValueError:
                    state.result = {"error": "unparsable result: " + body[:200]}
                state.event.set()
            self.send_response(204)
            self.end_headers()

    return Handler


def serve_page(page_path):
    """Serve page_path as /page.html on 127.0.0.1; returns (httpd, state,
    port). httpd.shutdown() and server_close() stop it."""
    with open(page_path, "rb") as f:
        page = f.read()
    state = State()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            make_handler(page, state))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, state, httpd.server_address[1]


def page_url(port, **params):
    return "http://127.0.0.1:%d/page.html?%s" % (
        port, urllib.parse.urlencode(params))


def procs_using(marker):
    """PIDs of processes whose command line or environment contains
    marker. The environment catches helpers that leave the process group
    and do not name the profile in their arguments (Firefox's crashhelper
    daemonizes; its XDG_* variables point into the profile)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        for part in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (d, part), "rb") as f:
                    if marker.encode() in f.read():
                        pids.append(int(d))
                        break
            except OSError:
                pass
    return pids


def kill_browser(proc, profile):
    """Stop a browser and every helper it started; nothing may survive."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    # Helpers (zygote, renderers, crashpad, content processes) normally
    # share the group; kill the group hard, then anything still naming our
    # fresh profile dir.
    for _ in range(20):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        left = procs_using(profile)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is not None and not left:
            break
        time.sleep(0.1)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def on_signal(signum, _frame):
    # Unwind through the finally blocks, which kill the browser: it runs in
    # a session of its own, so nothing else would. A second signal must not
    # interrupt that cleanup.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    sys.exit(128 + signum)


def catch_signals():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)


def check_result(t, r, timeout, protos=None):
    """The assertions on one run's result r (page.html's JSON, or the same
    shape put together from two browsers): (ok, description) pairs. t
    names the run; protos = (A's transport, B's transport), both t when
    not given."""
    pa, pb = protos or (t, t)
    checks = []

    def expect(cond, desc):
        checks.append((bool(cond), desc))

    if r is None:
        expect(False, "%s: page reported a result within %.0fs" % (t, timeout))
        return checks
    if "error" in r:
        expect(False, "%s: page ran without error (%s)" % (t, r["error"]))
        return checks
    n = r.get("sent_each_way")
    expect(not r.get("timed_out") and r.get("received_at_b") == n
           and r.get("a2b_in_order"),
           "%s: %s/%s data channel messages A->B, in order" % (t, r.get("received_at_b"), n))
    expect(not r.get("timed_out") and r.get("received_at_a") == n
           and r.get("b2a_in_order"),
           "%s: %s/%s data channel messages B->A, in order" % (t, r.get("received_at_a"), n))
    for side, proto in (("a", pa), ("b", pb)):
        p = r.get("pair_" + side) or {}
        loc = p.get("local") or {}
        rem = p.get("remote") or {}
        expect(p.get("found") and loc.get("candidateType") == "relay",
               "%s: side %s selected pair (%s) local candidate is %s" % (
                   t, side.upper(), p.get("how"), loc.get("candidateType")))
        # With policy 'relay' on both ends the remote is relayed too, and
        # the local relay candidate was allocated over the transport asked
        # for. The remote may be typed prflx (RFC 8445 s. 7.3.1.3) when the
        # other side's check, from its relayed address, came before its
        # trickled candidate: then it must be exactly the other side's
        # selected local relay candidate.
        other = ((r.get("pair_" + ("b" if side == "a" else "a")) or {}).get("local")
                 or {})
        kind = rem.get("candidateType")
        learnt = (kind == "prflx" and other.get("candidateType") == "relay"
                  and rem.get("address") and rem.get("port")
                  and (rem.get("address"), rem.get("port"))
                  == (other.get("address"), other.get("port")))
        if learnt:
            kind = "prflx = side %s's relay %s:%s" % (
                "B" if side == "a" else "A", rem.get("address"), rem.get("port"))
        expect((rem.get("candidateType") == "relay" or learnt)
               and loc.get("relayProtocol") in (None, proto),
               "%s: side %s remote candidate %s, relayProtocol %s" % (
                   t, side.upper(), kind, loc.get("relayProtocol")))
    return checks


def print_checks(checks):
    """PASS/FAIL lines (browser_lib.sh turns them into ok / not ok);
    returns the number that failed."""
    for ok, d in checks:
        print("%s %s" % ("PASS" if ok else "FAIL", d))
    return len([d for ok, d in checks if not ok])


def print_log_tail(title, path, skip=None, lines=80):
    print("# %s (tail):" % title)
    try:
        with open(path, "rb") as f:
            tail = f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return
    for line in tail:
        if not skip or skip not in line:
            print("#   " + line)
