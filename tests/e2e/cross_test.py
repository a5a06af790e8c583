#!/usr/bin/env python3
"""A Chromium peer and a Firefox peer relay to each other through the TURN
server under test, relay only. Each browser loads page.html in mode=peer
(one RTCPeerConnection, the TURN server its only ICE server); this script
is their signalling channel: it carries the offer, the answer and the
trickled candidates from one browser to the other through its driver
calls (DevTools protocol for Chromium, WebDriver BiDi for Firefox: see
drivers.py). Two runs with the roles swapped: Chromium offers over udp to
a Firefox answering over udp, then Firefox offers over tls (turns:) to a
Chromium answering over tcp. The checks are the one-browser tests'
(e2e_lib.check_result) on the two ends' results put together.

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

import browser_test
import drivers
import e2e_lib


def peer_url(http_port, args, name, t):
    """page.html in mode=peer for browser name over transport t: Firefox
    takes turns: by host name only, Chromium resolves no names here."""
    turn = args.turn
    if t == "tls":
        turn = args.tls_turn if name == "firefox" else args.chromium_tls_turn
    return e2e_lib.page_url(http_port, mode="peer", turn=turn, transport=t,
                            user=args.user, **{"pass": args.password},
                            n=args.messages)


def signal_between(a, b, timeout):
    """Offer from a, answer from b, then candidates both ways until both
    ends finished gathering."""
    offer = a.evaluate_json("turndPeer.offer()", timeout)
    answer = b.evaluate_json("turndPeer.answer(%s)" % json.dumps(offer), timeout)
    a.evaluate_json("turndPeer.accept(%s)" % json.dumps(answer), timeout)
    deadline = time.monotonic() + timeout
    done = {a.name: False, b.name: False}
    sent = {a.name: 0, b.name: 0}
    while not all(done.values()):
        if time.monotonic() > deadline:
            raise drivers.DriverError("candidate gathering did not end in %.0fs (%s)" % (
                timeout, json.dumps(done)))
        for src, dst in ((a, b), (b, a)):
            c = src.evaluate_json("turndPeer.candidates()", timeout)
            if c["list"]:
                dst.evaluate_json("turndPeer.addCandidates(%s)" % json.dumps(c["list"]), timeout)
                sent[src.name] += len(c["list"])
            done[src.name] = c["done"]
        time.sleep(0.05)
    return sent


def run_one(http_port, args, run):
    """run = ((browser, transport) of A, (browser, transport) of B)."""
    (a, ta), (b, tb) = run
    label = "A=%s %s, B=%s %s" % (a.name, ta, b.name, tb)
    t0 = time.monotonic()
    r = None
    try:
        for br, t, role in ((a, ta, "offerer"), (b, tb, "answerer")):
            br.navigate(peer_url(http_port, args, br.name, t), args.timeout)
            br.evaluate_json("turndPeer.open(%s)" % json.dumps(role), args.timeout)
        sent = signal_between(a, b, args.timeout)
        # A's result waits for B's last echo, so B has every message by
        # then: B waits no more. An end that gathered no relay candidate
        # (a refused allocation) cannot connect: no waiting at all.
        ms = int(max(5.0, args.timeout - 6.0) * 1000) if all(sent.values()) else 0
        ra = a.evaluate_json("turndPeer.result(%d)" % ms, args.timeout)
        rb = b.evaluate_json("turndPeer.result(%d)" % min(ms, 500), args.timeout)
        r = {"timed_out": ra["timed_out"] or rb["timed_out"],
             "sent_each_way": args.messages,
             "received_at_b": rb["received"], "received_at_a": ra["received"],
             "a2b_in_order": rb["in_order"], "b2a_in_order": ra["in_order"],
             "ice_a": ra["ice"], "ice_b": rb["ice"],
             "candidates_signalled": sent,
             "pair_a": ra["pair"], "pair_b": rb["pair"]}
    except drivers.DriverError as e:
        print("# cross %s: %s" % (label, e))
    print("# cross %s, result after %.1fs: %s" % (
        label, time.monotonic() - t0, json.dumps(r, sort_keys=True) if r else None))
    return e2e_lib.check_result(label, r, args.timeout, (ta, tb))


def start_both(chromium, firefox, args, deadline):
    cmd = browser_test.chromium_cmd(browser_test.find_chromium(), chromium.profile, True)
    chromium.start(cmd, browser_test.chromium_env(chromium.profile))
    firefox.start(args.ca)
    chromium.connect(deadline)
    firefox.connect(deadline)


def main():
    e2e_lib.catch_signals()
    ap = argparse.ArgumentParser()
    ap.add_argument("--turn", required=True, help="host:port of the TURN server (udp, tcp)")
    ap.add_argument("--tls-turn", default=None,
                    help="host:port for Firefox's turns: (a host name)")
    ap.add_argument("--chromium-tls-turn", default=None,
                    help="host:port for Chromium's turns: (an IP: it resolves no names here)")
    ap.add_argument("--ca", default=None, help="CA certificate (PEM) for Firefox's profile")
    ap.add_argument("--user", default="user")
    ap.add_argument("--password", default="pass")
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds for one step")
    ap.add_argument("--start-timeout", type=float, default=45.0)
    ap.add_argument("--page", default=os.path.join(e2e_lib.HERE, "page.html"))
    ap.add_argument("--tmpdir", default=None)
    args = ap.parse_args()

    httpd, state, http_port = e2e_lib.serve_page(args.page)
    cp = tempfile.mkdtemp(prefix="turnd-e2e-chromium.", dir=args.tmpdir)
    fp = tempfile.mkdtemp(prefix="turnd-e2e-firefox.", dir=args.tmpdir)
    chromium = drivers.Chromium("chromium", cp, cp + ".log")
    firefox = drivers.Firefox("firefox", fp, fp + ".log")
    runs = [((chromium, "udp"), (firefox, "udp"))]
    if args.tls_turn and args.chromium_tls_turn:
        runs.append(((firefox, "tls"), (chromium, "tcp")))
    checks = []
    t0 = time.monotonic()
    try:
        start_both(chromium, firefox, args, t0 + args.start_timeout)
        print("# cross %s and %s up after %.1fs" % (
            chromium.version, firefox.version, time.monotonic() - t0))
        for run in runs:
            checks += run_one(http_port, args, run)
    except (drivers.DriverError, OSError, KeyError, ValueError) as e:
        checks.append((False, "chromium and firefox started and answered their drivers (%s)" % e))
    finally:
        for br in (firefox, chromium):
            br.stop()
        shutil.rmtree(cp, ignore_errors=True)
        shutil.rmtree(fp, ignore_errors=True)
        httpd.shutdown()
        httpd.server_close()
    failed = e2e_lib.print_checks(checks)
    if failed:
        print("# page log:")
        for line in state.logs:
            print("#   " + line)
        e2e_lib.print_log_tail("chromium log", chromium.log_path, skip="dbus", lines=40)
        e2e_lib.print_log_tail("firefox log", firefox.log_path, lines=40)
    for br in (chromium, firefox):
        try:
            os.unlink(br.log_path)
        except OSError:
            pass
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
