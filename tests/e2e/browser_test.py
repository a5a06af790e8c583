#!/usr/bin/env python3
"""Headless Chromium opens a WebRTC data channel between two
RTCPeerConnections in one page, with the TURN server under test as the
only ICE server and iceTransportPolicy 'relay'.

Standard library only: no WebDriver. The page (page.html) is served by a
tiny HTTP server on 127.0.0.1 that this script runs, and the page POSTs
its result back to it as JSON; Chromium is started directly and killed
(its whole process group, then anything still using our profile dir).
Why no Selenium: Debian's python3-selenium is only importable by
/usr/bin/python3 (not by a pyenv/venv python3 first on PATH), and
chromium-driver must match chromium exactly; neither is needed to load
one page and read one answer.

Prints one "PASS desc" / "FAIL desc" line per assertion (browser.sh turns
them into ok / not ok), diagnostics prefixed with "# ", and exits 0 only
when every assertion passed.

Chromium findings (Chromium 156 from Debian 12, new headless mode, root):
- Relaying through a TURN server on 127.0.0.1 needs no special flag. With
  no camera/microphone permission WebRTC does not enumerate adapters: it
  gathers on the "any address" network (sockets bound to 0.0.0.0, "raddr
  0.0.0.0 ... network-cost 999" in the candidates), so the TURN traffic
  goes 127.0.0.1 -> 127.0.0.1 (checked with ss and strace).
- mDNS host-candidate obfuscation does not matter: with policy 'relay'
  no host candidates are signalled. Its responder still opens a socket on
  224.0.0.251:5353; --disable-features=WebRtcHideLocalIpsWithMdns stops
  that.
- Chromium drops TURN servers on ports below 1024 other than 53, 80 and
  443 silently (no candidate, no icecandidateerror): turn:127.0.0.1:1000
  gathers nothing. Free ports here are 20000-39999, and 3478 is fine.
- --no-sandbox is needed as root (here and in CI).
- Even with --disable-background-networking, --disable-component-update
  and --disable-sync, Chromium resolves clients2.google.com,
  update.googleapis.com and accounts.google.com through the system
  resolver (seen with strace). --host-resolver-rules="MAP * ~NOTFOUND"
  stops every lookup; after it, strace shows no packet sent anywhere but
  127.0.0.1. What is left are UDP connect() calls without any send to
  8.8.8.8:53 and [2001:4860:4860::8888]:53/443: WebRTC and the network
  stack ask the kernel for the default route's source address that way.
- chrome_crashpad_handler starts despite --disable-crash-reporter and
  --disable-breakpad, leaves Chromium's process group, and keeps its
  database in $XDG_CONFIG_HOME/chromium ("~/.config/chromium/Crash
  Reports"), not in --user-data-dir; GTK adds ~/.cache/dconf. Both XDG
  dirs point into the throwaway profile here, so nothing is left in $HOME
  and every helper can be found (and killed) by that path.
- Chromium logs many "Failed to connect to the bus" lines (no D-Bus in a
  container): harmless, and filtered from the failure output here.
- The page is served over http://127.0.0.1 (a secure context, which
  RTCPeerConnection does not even need) so that it can POST its result.
"""

import argparse
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


def find_chromium():
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    # Debian's /usr/bin/chromium is a shell wrapper that adds its own flags
    # (--enable-remote-extensions, --load-extension=..., GPU rasterization)
    # from /etc/chromium.d; the real binary takes exactly ours.
    for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium",
              "/usr/bin/chromium-browser"):
        if os.access(p, os.X_OK):
            return p
    return shutil.which("chromium") or "chromium"


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


def procs_using(marker):
    """PIDs of processes whose command line contains marker."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if marker.encode() in f.read():
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def kill_browser(proc, profile):
    """Stop Chromium and every helper it started; nothing may survive."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    # Helpers (zygote, renderers, crashpad) normally share the group; kill
    # the group hard, then anything still naming our fresh profile dir.
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
    # Unwind through the finally blocks, which kill Chromium: it runs in a
    # session of its own, so nothing else would. A second signal must not
    # interrupt that cleanup.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    sys.exit(128 + signum)


def main():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    ap = argparse.ArgumentParser()
    ap.add_argument("--turn", required=True, help="host:port of the TURN server")
    ap.add_argument("--turn2", default=None,
                    help="host:port of the second connection's TURN server (default --turn)")
    # tls: a turns: URL (TURN over TLS on TCP).
    ap.add_argument("--transport", choices=("udp", "tcp", "tls"), default="udp")
    ap.add_argument("--user", default="user")
    ap.add_argument("--password", default="pass")
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=25.0,
                    help="seconds for the whole browser run")
    ap.add_argument("--page", default=os.path.join(HERE, "page.html"))
    ap.add_argument("--tmpdir", default=None,
                    help="where the fresh profile goes (default: $TMPDIR)")
    args = ap.parse_args()

    with open(args.page, "rb") as f:
        page = f.read()
    state = State()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            make_handler(page, state))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    http_port = httpd.server_address[1]

    # The page's own ICE timeout leaves time to collect stats and report.
    page_timeout_ms = int(max(5.0, args.timeout - 6.0) * 1000)
    query = urllib.parse.urlencode({
        "turn": args.turn, "transport": args.transport, "user": args.user,
        "pass": args.password, "n": args.messages, "timeout": page_timeout_ms,
        "turn2": args.turn2 or args.turn,
    })
    url = "http://127.0.0.1:%d/page.html?%s" % (http_port, query)

    profile = tempfile.mkdtemp(prefix="turnd-e2e-chromium.", dir=args.tmpdir)
    # Whatever --user-data-dir says, Chromium puts its crashpad database in
    # $XDG_CONFIG_HOME/chromium (~/.config by default) and dconf files in
    # $XDG_CACHE_HOME: keep them in the throwaway dir too. Then every
    # process it starts, crashpad handlers included (they leave the
    # process group), names that dir on its command line.
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = os.path.join(profile, "xdg-config")
    env["XDG_CACHE_HOME"] = os.path.join(profile, "xdg-cache")
    chromium = find_chromium()
    cmd = [
        chromium,
        "--headless",  # = the new headless mode in current Chromium
        "--no-sandbox",  # running as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-breakpad",
        "--disable-crash-reporter",
        "--disable-dev-shm-usage",
        "--metrics-recording-only",
        "--password-store=basic",
        "--use-mock-keychain",
        "--user-data-dir=" + profile,
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--no-pings",
        "--no-proxy-server",
        # Chromium still looks up clients2.google.com, update.googleapis.com
        # and accounts.google.com with the flags above (seen with strace):
        # make every host name fail at once, so it sends nothing at all
        # off the machine. The test uses IP literals only.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        # No mDNS responder (it listens on 224.0.0.251:5353 otherwise);
        # with policy 'relay' there are no host candidates to hide anyway.
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--enable-logging=stderr",
        "--v=0",
    ]
    if args.transport == "tls":
        # The test's certificate comes from a throwaway CA that Chromium
        # does not trust: without this its TURN client refuses it (the
        # server logs "alert certificate unknown").
        cmd.append("--ignore-certificate-errors")
    cmd.append(url)
    log_path = profile + ".log"  # beside the profile, read after it is gone
    t0 = time.monotonic()
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            state.event.wait(args.timeout)
        finally:
            kill_browser(proc, profile)
            shutil.rmtree(profile, ignore_errors=True)
            httpd.shutdown()
            httpd.server_close()
    elapsed = time.monotonic() - t0

    r = state.result
    checks = []

    def expect(cond, desc):
        checks.append((bool(cond), desc))

    t = args.transport
    print("# chromium %s, page result after %.1fs: %s" % (
        chromium, elapsed, json.dumps(r, sort_keys=True) if r else None))
    if r is None:
        expect(False, "%s: page reported a result within %.0fs" % (t, args.timeout))
    elif "error" in r:
        expect(False, "%s: page ran without error (%s)" % (t, r["error"]))
    else:
        n = r.get("sent_each_way")
        expect(not r.get("timed_out") and r.get("received_at_b") == n
               and r.get("a2b_in_order"),
               "%s: %s/%s data channel messages A->B, in order" % (t, r.get("received_at_b"), n))
        expect(not r.get("timed_out") and r.get("received_at_a") == n
               and r.get("b2a_in_order"),
               "%s: %s/%s data channel messages B->A, in order" % (t, r.get("received_at_a"), n))
        for side in ("a", "b"):
            p = r.get("pair_" + side) or {}
            loc = p.get("local") or {}
            rem = p.get("remote") or {}
            expect(p.get("found") and loc.get("candidateType") == "relay",
                   "%s: side %s selected pair (%s) local candidate is %s" % (
                       t, side.upper(), p.get("how"), loc.get("candidateType")))
            # With policy 'relay' on both ends the remote is relayed too,
            # and the local relay candidate was allocated over the
            # transport we asked for.
            expect(rem.get("candidateType") == "relay"
                   and loc.get("relayProtocol") in (None, t),
                   "%s: side %s remote candidate %s, relayProtocol %s" % (
                       t, side.upper(), rem.get("candidateType"), loc.get("relayProtocol")))
    failed = [d for ok, d in checks if not ok]
    for ok, d in checks:
        print("%s %s" % ("PASS" if ok else "FAIL", d))
    if failed:
        print("# page log:")
        for line in state.logs:
            print("#   " + line)
        print("# chromium log (tail):")
        try:
            with open(log_path, "rb") as f:
                tail = f.read().decode("utf-8", "replace").splitlines()[-80:]
            for line in tail:
                if "dbus" not in line:
                    print("#   " + line)
        except OSError:
            pass
    try:
        os.unlink(log_path)
    except OSError:
        pass
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
