#!/usr/bin/env python3
"""Headless Firefox runs page.html (two RTCPeerConnections in one page,
the TURN server under test as their only ICE server, iceTransportPolicy
'relay') once per transport: udp, tcp, and tls (turns:). One Firefox,
driven over WebDriver BiDi (drivers.py), navigates to the page for each
run and awaits its result with script.evaluate; the checks are the
Chromium test's (e2e_lib.check_result).

Prints "PASS desc" / "FAIL desc" per assertion, diagnostics prefixed with
"# ", and exits 0 only when every assertion passed.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import drivers
import e2e_lib


def run_one(ff, state, http_port, args, t):
    """One page run over transport t; returns its checks."""
    turn = args.tls_turn if t == "tls" else args.turn
    page_timeout_ms = int(max(5.0, args.timeout - 6.0) * 1000)
    url = e2e_lib.page_url(http_port, turn=turn, transport=t, user=args.user,
                           **{"pass": args.password}, n=args.messages,
                           timeout=page_timeout_ms, turn2=turn)
    state.logs[:] = []
    t0 = time.monotonic()
    r = None
    try:
        ff.navigate(url, args.timeout)
        r = ff.evaluate_json("window.turndResult", args.timeout)
    except drivers.DriverError as e:
        print("# firefox %s: %s" % (t, e))
    print("# %s, %s page result after %.1fs: %s" % (
        ff.version, t, time.monotonic() - t0,
        json.dumps(r, sort_keys=True) if r else None))
    checks = e2e_lib.check_result(t, r, args.timeout)
    if not all(ok for ok, _ in checks):
        print("# page log:")
        for line in state.logs:
            print("#   " + line)
    return checks


def main():
    e2e_lib.catch_signals()
    ap = argparse.ArgumentParser()
    ap.add_argument("--turn", required=True, help="host:port of the TURN server (udp, tcp)")
    ap.add_argument("--tls-turn", default=None,
                    help="host:port for turns: (a host name: Firefox refuses TLS to an IP literal)")
    ap.add_argument("--ca", default=None, help="CA certificate (PEM) that signed the TLS server's")
    ap.add_argument("--transports", default="udp,tcp,tls")
    ap.add_argument("--user", default="user")
    ap.add_argument("--password", default="pass")
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=25.0, help="seconds for one page run")
    ap.add_argument("--start-timeout", type=float, default=45.0,
                    help="seconds for Firefox to start and open a session")
    ap.add_argument("--page", default=os.path.join(e2e_lib.HERE, "page.html"))
    ap.add_argument("--tmpdir", default=None)
    args = ap.parse_args()
    transports = [t for t in args.transports.split(",") if t]

    httpd, state, http_port = e2e_lib.serve_page(args.page)
    profile = tempfile.mkdtemp(prefix="turnd-e2e-firefox.", dir=args.tmpdir)
    ff = drivers.Firefox("firefox", profile, profile + ".log")
    checks = []
    t0 = time.monotonic()
    try:
        ff.start(args.ca)
        ff.connect(t0 + args.start_timeout)
        print("# %s up, session open after %.1fs" % (ff.version, time.monotonic() - t0))
        for t in transports:
            checks += run_one(ff, state, http_port, args, t)
    except (drivers.DriverError, OSError, KeyError, ValueError) as e:
        checks.append((False, "firefox started and answered WebDriver BiDi (%s)" % e))
    finally:
        ff.stop()
        shutil.rmtree(profile, ignore_errors=True)
        httpd.shutdown()
        httpd.server_close()
    failed = e2e_lib.print_checks(checks)
    if failed:
        e2e_lib.print_log_tail("firefox log", ff.log_path)
    try:
        os.unlink(ff.log_path)
    except OSError:
        pass
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
