"""Browsers driven by script over their own remote protocols, for the
browser tests that need a driver (firefox_test.py, cross_test.py): headless
Firefox over WebDriver BiDi, which it speaks natively with
--remote-debugging-port, and headless Chromium over the DevTools protocol.
No WebDriver binary (geckodriver, chromedriver) is involved. The websocket
client is Debian's python3-websocket (websocket-client), importable by
Debian's /usr/bin/python3; browser_lib.sh picks a python3 that has it.

Firefox findings (Firefox ESR 153 from Debian 12, headless, root):
- session.new answers only after Firefox's "browser-idle-startup-tasks-
  finished" notification: 11-24 s here (two cores at load 12-14). It is
  the slowest step, so one Firefox serves every run of a test (a
  navigation per run gives fresh RTCPeerConnections), and FIREFOX_PREFS
  trims what Firefox does while it starts.
- Firefox refuses turns: with an IP literal, silently: no candidate, no
  icecandidateerror, "relay only option is set without any TURN server
  configured" in its ICE log (NrIceStunServer::ToNicerStunStruct, "Refuse
  to try TLS without an FQDN"). With turns:localhost it connects, checks
  the certificate (name and CA) and gives up on a CA it does not know
  (turnd logs "tlsv1 alert unknown ca"; the page sees icecandidateerror
  701). So the test's certificate names DNS:localhost, and the test CA is
  put into the fresh profile's certificate database with certutil
  (libnss3-tools): Firefox trusts it, nothing in the server is weakened.
  localhost resolves to ::1 and 127.0.0.1 and Firefox allocates over both.
- Firefox binds its TURN client sockets to the interfaces' addresses, not
  to the any address: turnd sees clients such as 192.0.2.2 (eth0) even for
  a server on 127.0.0.1. media.peerconnection.ice.loopback lets it use lo
  as well, for machines whose only interface is lo.
- The remote agent sets many "recommended preferences" itself (no update
  checks, telemetry, safe browsing...), but only once it runs; the
  profile's user.js sets them (and the ones it does not: Remote Settings,
  Nimbus, OpenH264 download, captive portal and connectivity checks, DoH)
  from the first instant.
- The websocket client must send no Origin header: the remote agent
  refuses origins it was not told about (so does Chromium's DevTools).
"""

import json
import os
import shutil
import subprocess
import time

import e2e_lib

# user.js of the throwaway Firefox profile: what a test machine without a
# network and without a camera needs. Data channels need no permission.
FIREFOX_PREFS = {
    # WebDriver BiDi only (no CDP).
    "remote.active-protocols": 1,
    # The TURN server is on 127.0.0.1 / localhost: gather on lo too.
    "media.peerconnection.ice.loopback": True,
    # No mDNS names for host candidates (none are signalled with policy
    # 'relay' anyway; this keeps Firefox from resolving .local names).
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    # Start on about:blank, no first-run pages or default-browser check.
    "browser.startup.page": 0,
    "browser.startup.homepage": "about:blank",
    "browser.startup.homepage_override.mstone": "ignore",
    "startup.homepage_welcome_url": "about:blank",
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.sessionstore.resume_from_crash": False,
    # Nothing sent off the machine: no updates, telemetry, studies,
    # Remote Settings, safe browsing, captive portal or connectivity
    # checks, DNS over HTTPS, speculative connections, plugin downloads.
    "app.update.disabledForTesting": True,
    "app.update.auto": False,
    "app.normandy.enabled": False,
    "app.shield.optoutstudies.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "services.settings.server": "data:,#remote-settings-dummy/v1",
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.server": "",
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "extensions.update.enabled": False,
    "extensions.blocklist.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-manager.url": "",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.trr.mode": 5,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.http.speculative-parallel-limit": 0,
    "network.proxy.type": 0,
    "dom.push.connection.enabled": False,
    "browser.ping-centre.telemetry": False,
    "browser.region.network.url": "",
    "geo.provider.network.url": "",
    "browser.search.geoip.url": "",
    "extensions.systemAddon.update.enabled": False,
    "network.predictor.enabled": False,
    # Less work while it starts, on machines with two cores that run other
    # tests too: session.new waits for the idle start-up tasks (a mean
    # of 17.8 s without these lines, 13.0 s with them, five starts each at
    # load 12). One content process, no preloaded ones, no new-tab feeds,
    # no translation or machine-learning engines.
    "fission.autostart": False,
    "dom.ipc.processCount": 1,
    "dom.ipc.processPrelaunch.enabled": False,
    "browser.startup.preXulSkeletonUI": False,
    "browser.newtabpage.activity-stream.enabled": False,
    "browser.newtabpage.activity-stream.feeds.system.topsites": False,
    "browser.newtabpage.activity-stream.feeds.section.topstories": False,
    "browser.places.importBookmarksHTML": False,
    "browser.translations.enable": False,
    "browser.ml.enable": False,
}


class DriverError(Exception):
    pass


class WsRpc:
    """Commands {id, method, params} over a websocket and their answers,
    skipping events: what WebDriver BiDi and the DevTools protocol share."""

    def __init__(self, url, timeout):
        import websocket  # Debian's python3-websocket

        self.ws = websocket.create_connection(url, timeout=timeout,
                                              suppress_origin=True)
        self.next_id = 0

    def call(self, method, params, timeout):
        self.next_id += 1
        want = self.next_id
        self.ws.send(json.dumps({"id": want, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DriverError("%s: no answer within %.0fs" % (method, timeout))
            self.ws.settimeout(left)
            try:
                msg = json.loads(self.ws.recv())
            except Exception as e:  # websocket timeout or close
                raise DriverError("%s: %s: %s" % (method, type(e).__name__, e))
            if msg.get("id") != want:
                continue  # an event
            if "error" in msg:
                raise DriverError("%s: %s %s" % (method, msg["error"], msg.get("message", "")))
            return msg.get("result") or {}

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


def wait_file(path, proc, deadline):
    """The contents of path once a starting browser has written it."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DriverError("browser exited at start (status %s)" % proc.returncode)
        try:
            with open(path) as f:
                text = f.read()
            if text.strip():
                return text
        except OSError:
            pass
        time.sleep(0.1)
    raise DriverError("browser did not write %s in time" % path)


def find_firefox():
    env = os.environ.get("FIREFOX")
    if env:
        return env
    # /usr/bin/firefox-esr is a link to the real binary in Debian.
    for p in ("/usr/lib/firefox-esr/firefox-esr", "/usr/bin/firefox-esr",
              "/usr/bin/firefox"):
        if os.access(p, os.X_OK):
            return p
    return shutil.which("firefox-esr") or "firefox-esr"


def firefox_profile(profile, ca_pem):
    """A fresh profile: FIREFOX_PREFS in user.js and, when ca_pem, the
    test CA trusted for TLS servers in its certificate database."""
    with open(os.path.join(profile, "user.js"), "w") as f:
        for k, v in sorted(FIREFOX_PREFS.items()):
            f.write("user_pref(%s, %s);\n" % (json.dumps(k), json.dumps(v)))
    if ca_pem:
        db = "sql:" + profile
        subprocess.run(["certutil", "-N", "-d", db, "--empty-password"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["certutil", "-A", "-d", db, "-n", "turnd-test-ca",
                        "-t", "C,,", "-i", ca_pem], check=True)


class Browser:
    """One headless browser process in a fresh profile dir; stop() kills
    every process of it (e2e_lib.kill_browser)."""

    def __init__(self, name, profile, log_path):
        self.name = name
        self.profile = profile
        self.log_path = log_path
        self.proc = None
        self.rpc = None

    def spawn(self, cmd, env):
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True)

    def stop(self):
        if self.rpc:
            self.rpc.close()
        if self.proc:
            e2e_lib.kill_browser(self.proc, self.profile)

    def evaluate_json(self, expr, timeout):
        """Evaluate JS expression expr in the page, awaiting it when it is
        a promise; its value crosses as JSON."""
        return json.loads(self.evaluate_str(
            "Promise.resolve(%s).then((v) => JSON.stringify(v))" % expr, timeout))


class Firefox(Browser):
    def start(self, ca_pem):
        firefox_profile(self.profile, ca_pem)
        env = dict(os.environ)
        env["MOZ_CRASHREPORTER_DISABLE"] = "1"
        # Release and ESR builds ignore services.settings.server (and look
        # up firefox.settings.services.mozilla.com, seen with strace)
        # unless this is set.
        env["MOZ_REMOTE_SETTINGS_DEVTOOLS"] = "1"
        env["XDG_CONFIG_HOME"] = os.path.join(self.profile, "xdg-config")
        env["XDG_CACHE_HOME"] = os.path.join(self.profile, "xdg-cache")
        # Port 0: the remote agent picks a free one and writes it into the
        # profile (WebDriverBiDiServer.json).
        self.spawn([find_firefox(), "--headless", "--no-remote",
                    "--remote-debugging-port=0", "--profile", self.profile], env)

    def connect(self, deadline):
        info = json.loads(wait_file(
            os.path.join(self.profile, "WebDriverBiDiServer.json"), self.proc, deadline))
        url = "ws://%s:%d/session" % (info["ws_host"], info["ws_port"])
        self.rpc = WsRpc(url, max(1.0, deadline - time.monotonic()))
        caps = self.rpc.call("session.new", {"capabilities": {}},
                             deadline - time.monotonic())
        c = caps.get("capabilities", {})
        self.version = "%s %s" % (c.get("browserName"), c.get("browserVersion"))
        tree = self.rpc.call("browsingContext.getTree", {}, 10)
        self.context = tree["contexts"][0]["context"]

    def navigate(self, url, timeout):
        self.rpc.call("browsingContext.navigate",
                      {"context": self.context, "url": url, "wait": "complete"}, timeout)

    def evaluate_str(self, expr, timeout):
        r = self.rpc.call("script.evaluate", {
            "expression": expr, "target": {"context": self.context},
            "awaitPromise": True, "resultOwnership": "none"}, timeout)
        if r.get("type") != "success":
            raise DriverError("script threw: %s" % json.dumps(r.get("exceptionDetails"))[:500])
        return r["result"].get("value")

    def stop(self):
        # A clean exit first: it ends every content process with it.
        if self.rpc:
            try:
                self.rpc.call("browser.close", {}, 5)
            except DriverError:
                pass
        Browser.stop(self)


class Chromium(Browser):
    def start(self, cmd, env):
        # Port 0: Chromium picks one and writes it into DevToolsActivePort.
        self.spawn(cmd + ["--remote-debugging-port=0", "about:blank"], env)

    def connect(self, deadline):
        text = wait_file(os.path.join(self.profile, "DevToolsActivePort"),
                         self.proc, deadline)
        port = int(text.split()[0])
        import urllib.request
        page = None
        while page is None and time.monotonic() < deadline:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port,
                                        timeout=5) as f:
                targets = json.load(f)
            page = next((t for t in targets if t.get("type") == "page"), None)
            if page is None:
                time.sleep(0.1)
        if page is None:
            raise DriverError("chromium: no page target")
        self.rpc = WsRpc(page["webSocketDebuggerUrl"], max(1.0, deadline - time.monotonic()))
        v = self.rpc.call("Browser.getVersion", {}, 10)
        self.version = v.get("product", "chromium")

    def navigate(self, url, timeout):
        self.rpc.call("Page.navigate", {"url": url}, timeout)
        # Page.navigate returns once the navigation committed: wait for the
        # page's script to have run.
        deadline = time.monotonic() + timeout
        while self.evaluate_str("document.readyState", timeout) != "complete":
            if time.monotonic() > deadline:
                raise DriverError("chromium: %s did not load" % url)
            time.sleep(0.05)

    def evaluate_str(self, expr, timeout):
        r = self.rpc.call("Runtime.evaluate", {
            "expression": expr, "awaitPromise": True, "returnByValue": True}, timeout)
        if "exceptionDetails" in r:
            raise DriverError("script threw: %s" % json.dumps(r["exceptionDetails"])[:500])
        return r["result"].get("value")
