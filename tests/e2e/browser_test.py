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
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import e2e_lib


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


def chromium_env(profile):
    """Whatever --user-data-dir says, Chromium puts its crashpad database
    in $XDG_CONFIG_HOME/chromium (~/.config by default) and dconf files in
    $XDG_CACHE_HOME: keep them in the throwaway dir too. Then every process
    it starts, crashpad handlers included (they leave the process group),
    names that dir on its command line."""
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = os.path.join(profile, "xdg-config")
    env["XDG_CACHE_HOME"] = os.path.join(profile, "xdg-cache")
    return env


def chromium_cmd(chromium, profile, tls):
    """Chromium's command line, all but the URL; tls: accept the test
    CA's certificate for turns:."""
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
    if tls:
        # The test's certificate comes from a throwaway CA that Chromium
        # does not trust: without this its TURN client refuses it (the
        # server logs "alert certificate unknown").
        cmd.append("--ignore-certificate-errors")
    return cmd


def main():
    e2e_lib.catch_signals()
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
    ap.add_argument("--page", default=os.path.join(e2e_lib.HERE, "page.html"))
    ap.add_argument("--tmpdir", default=None,
                    help="where the fresh profile goes (default: $TMPDIR)")
    args = ap.parse_args()

    httpd, state, http_port = e2e_lib.serve_page(args.page)
    # The page's own ICE timeout leaves time to collect stats and report.
    page_timeout_ms = int(max(5.0, args.timeout - 6.0) * 1000)
    url = e2e_lib.page_url(
        http_port, turn=args.turn, transport=args.transport, user=args.user,
        **{"pass": args.password}, n=args.messages, timeout=page_timeout_ms,
        turn2=args.turn2 or args.turn)

    profile = tempfile.mkdtemp(prefix="turnd-e2e-chromium.", dir=args.tmpdir)
    chromium = find_chromium()
    cmd = chromium_cmd(chromium, profile, args.transport == "tls") + [url]
    log_path = profile + ".log"  # beside the profile, read after it is gone
    t0 = time.monotonic()
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT, env=chromium_env(profile),
                                start_new_session=True)
        try:
            state.event.wait(args.timeout)
        finally:
            e2e_lib.kill_browser(proc, profile)
            shutil.rmtree(profile, ignore_errors=True)
            httpd.shutdown()
            httpd.server_close()
    elapsed = time.monotonic() - t0

    r = state.result
    print("# chromium %s, page result after %.1fs: %s" % (
        chromium, elapsed, json.dumps(r, sort_keys=True) if r else None))
    failed = e2e_lib.print_checks(
        e2e_lib.check_result(args.transport, r, args.timeout))
    if failed:
        print("# page log:")
        for line in state.logs:
            print("#   " + line)
        # Chromium logs many D-Bus lines in a container: not the cause.
        e2e_lib.print_log_tail("chromium log", log_path, skip="dbus")
    try:
        os.unlink(log_path)
    except OSError:
        pass
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
