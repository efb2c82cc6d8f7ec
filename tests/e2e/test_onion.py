"""Tails Server's onion services end to end, through a real (private) Tor network, driven only
through the tails-server CLI.

Set-up (setUpModule): the build is staged with 'DESTDIR=TREE cmake --install BUILD --prefix
/usr' into a throwaway sandbox (tests/sandbox/sandbox); a private Tor network
(tests/tor-network/tornet: 1 authority, 5 relays, a client tor, a service tor) starts INSIDE
the sandbox's network namespace; tails-serverd is configured (/etc/tails-server/config.yaml:
tor_control, tor_cookie) to drive the service tor and started as its systemd unit. Then:
  nginx:  enable -> announcing -> online; client authorization is on by default, so a client
          without a credential gets SOCKS 0xF4; 'client add' gives a credential that the client
          tor accepts and the page comes back byte-exact; 'client remove' re-publishes without
          it, so the old credential fails; 'client-authorization false' (with a warning) opens
          it to everyone.
  mumble: enable -> online, 'client add', then the Mumble protocol over the onion (TLS, the
          right password gives ServerSync with the welcome text, a wrong one is rejected).
  Tor restart: the service tor restarts; with no tails-server command the daemon reconnects,
          re-adds the onions (same addresses) and both services come back online.
  connection-info mumble --qr: address, port, password, TLS fingerprint, instructions, a QR.
  The last client removed: client authorization stays on, nobody gets in.
Each test method first brings the services to the state it needs (installed, enabled, online,
the clients it expects), so that one failure does not cascade. Run by
tests/scenario/run-scenario (ctest: e2e-onion); skipped without root, tor or tor-gencert.
Every tor is stopped and the sandbox powered off at the end.
"""

import base64
import os
import random
import re
import shutil
import time

import os as _os
import sys as _sys

# sandbox_fixture: run-scenario puts tests/scenario on the path; this is for "python3 -m unittest".
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import (Sandbox, ScenarioCase, ScenarioError, TORNET, elapsed, hex_of,
                             indent, note, wait_until)

ONLINE_LIMIT = float(os.environ.get("E2E_ONLINE_LIMIT", "120"))        # enable -> "online"
REPUBLISH_LIMIT = float(os.environ.get("E2E_REPUBLISH_LIMIT", "45"))  # a client/option change -> "online"
TN = "/run/tails-server-e2e-tornet"  # the tornet DIR in the sandbox: not /tmp, the daemon has PrivateTmp=yes
ADD_LINE = re.compile(r"ONION_CLIENT_AUTH_ADD ([a-z2-7]{56}(?:\.onion)?) x25519:([A-Za-z0-9+/=]{43,44})")
TIMING_KEYS = ("network ready", "nginx enable->online", "nginx client add->online",
               "nginx client remove->online", "nginx client-authorization false->online",
               "nginx first fetch", "mumble enable->online", "mumble client add->online",
               "tor restart (restart-service-tor)", "tor restart->nginx online",
               "tor restart->mumble online", "total")


def skip_reason():
    for tool in ("tor", "tor-gencert"):
        if not shutil.which(tool):
            return "%s is missing" % tool
    return None


class World:
    sb = None
    net_ready = None
    tor_control = tor_cookie = ""
    timing = {}
    site_root = ""
    nginx_vport = "80"
    nginx_onion = ""
    alice_b64 = ""
    mumble = {}   # onion, vport, password, welcome, fpr


W = World


def timing(key, seconds):
    W.timing[key] = "%.1f" % seconds
    note("timing: %s = %.1f s" % (key, seconds))


def setUpModule():
    sb = W.sb = Sandbox(name="e2e")
    with sb.setting_up():
        _set_up(sb)


def _set_up(sb):
    sb.stage()
    sb.boot()
    W.net_ready, env = sb.start_tornet(TN, timeout=180)
    socket, cookie = env.get("SERVICE_CONTROL_SOCKET", ""), env.get("SERVICE_COOKIE", "")
    if not socket or not cookie:
        raise ScenarioError("%s/env has no SERVICE_CONTROL_SOCKET or SERVICE_COOKIE:\n%s" % (TN, sb.cat(TN + "/env")))
    W.tor_control, W.tor_cookie = "unix:" + socket, cookie
    sb.write_config('tor_control: "%s"\ntor_cookie: "%s"\n' % (W.tor_control, W.tor_cookie))
    sb.start_daemon()


def tearDownModule():
    if W.sb:
        W.sb.cleanup()
    timing("total", elapsed())
    print("\nonion-test: timings")
    for key in TIMING_KEYS:
        if key in W.timing:
            print("  %-42s %s s" % (key, W.timing[key]))


# -- helpers ----------------------------------------------------------------------------------
def credential(text):
    """Parses 'client add' output: dict(onion, b64, b32 (Tor Browser key), auth_private) or
    None when the ONION_CLIENT_AUTH_ADD line is missing."""
    m = ADD_LINE.search(text)
    if not m:
        return None
    b32 = re.search(r'^ *"?tor-browser-key"?: *"?([A-Za-z2-7]{52})"?,? *$', text, re.M)
    auth = re.search(r"[a-z2-7]{56}(?:\.onion)?:descriptor:x25519:[A-Za-z2-7]{52}", text)
    return {"onion": m.group(1), "b64": m.group(2), "b32": b32.group(1) if b32 else "",
            "auth_private": auth.group(0) if auth else ""}


def same_key(b64, browser, line):
    """The three forms carry the same 32-byte x25519 private key."""
    def b32d(text):
        text = text.upper()
        return base64.b32decode(text + "=" * (-len(text) % 8))
    try:
        k1, k2, k3 = base64.b64decode(b64), b32d(browser), b32d(line.rsplit(":", 1)[1])
    except Exception:  # pylint: disable=broad-except
        return False
    return len(k1) == 32 and k1 == k2 == k3


def norm(fpr):
    return re.sub(r"[: \n]", "", fpr).upper()


def fetch_body(file, onion, port, *args):
    """tornet fetch ONION PORT /index.html into FILE (in the sandbox): (exit status, stderr)."""
    r = W.sb.exec("bash", "-c", 'f=$1; shift; exec "$@" >"$f"', "_", file, TORNET, "fetch", TN, onion, port,
                  "/index.html", *args)
    return r.returncode, r.stderr


def give_credential(onion, b64):
    """ONION_CLIENT_AUTH_ADD on the client tor, with Flags=Permanent (kept in its
    ClientOnionAuthDir). Not 'tornet client-auth': tor 0.4.9's SIGNAL NEWNYM, which 'tornet
    fetch' sends before each retry, also purges ephemeral (non-Permanent) client credentials."""
    return W.sb.tornet("control", "client", "ONION_CLIENT_AUTH_ADD", onion[:-6] if onion.endswith(".onion")
                       else onion, "x25519:" + b64, "Flags=Permanent")


def fetch_until_ok(file, onion, port, limit):
    """fetch_body, and if the client is refused (0xF4/0xF5, e.g. a descriptor cached before a
    credential was added or an HSDir that still has the old one) NEWNYM and try again until
    limit seconds. (rc, stderr, attempts)."""
    t, attempts = time.monotonic(), 0
    while True:
        attempts += 1
        rc, err = fetch_body(file, onion, port, "--timeout", str(int(limit)))
        if rc == 0 or rc not in (44, 45) or time.monotonic() - t >= limit:
            return rc, err, attempts
        W.sb.newnym()
        time.sleep(2)


def fetch_until_refused(onion, port, limit):
    """For a credential that must no longer work: a fetch that succeeds is retried after NEWNYM
    until limit. (rc, stderr, attempts)."""
    t, attempts = time.monotonic(), 0
    while True:
        attempts += 1
        rc, err = fetch_body("/root/refused.html", onion, port, "--timeout", "60")
        if rc in (44, 45) or time.monotonic() - t >= limit:
            return rc, err, attempts
        W.sb.newnym()
        time.sleep(3)


def same_page(file):
    return W.sb.ok("cmp", "-s", file, W.site_root + "/index.html")


class OnionCase(ScenarioCase):
    abstract = True

    @property
    def sb(self):
        return W.sb

    def ensure_online(self, svc, limit=ONLINE_LIMIT):
        """Installed, enabled and online (preconditions, not checks)."""
        super().ensure_online(svc, limit)

    def ensure_nginx(self):
        """nginx online with basic-auth off, its page written and its address known."""
        sb = self.sb
        if sb.status_field("nginx", "installed") != "true":
            self.assertEqual(sb.ts("install", "nginx").returncode, 0, "precondition: install nginx")
        if sb.option("nginx", "basic-auth") != "false":
            sb.ts("set-option", "nginx", "basic-auth", "false")
        if not W.site_root:
            self.write_page()
        self.ensure_online("nginx")
        W.nginx_onion = W.nginx_onion or sb.address_of("nginx")
        self.assertTrue(W.nginx_onion, "precondition: nginx has an onion address")

    def write_page(self):
        sb = self.sb
        W.site_root = sb.option("nginx", "site-root")
        W.nginx_vport = sb.option("nginx", "virtual-port") or "80"
        page = '<!doctype html><p>Tails Server e2e %016x "quoted" &amp;</p>\n' % random.getrandbits(64)
        sb.sh('mkdir -p "$1" && cat >"$1/index.html"', W.site_root, input=page)

    def ensure_client(self, svc, name):
        """NAME is a client of SVC (added, and its credential returned, if it was not)."""
        listing = self.sb.ts("client", "list", svc).stdout
        if re.search(r"(^|[^a-z])%s([^a-z]|$)" % name, listing):
            return None
        r = self.sb.ts("client", "add", svc, name)
        self.assertEqual(r.returncode, 0, "precondition: client add %s %s\n%s" % (svc, name, r.stdout))
        return credential(r.stdout)

    def ensure_mumble(self):
        """mumble online, its address and options known."""
        sb = self.sb
        self.ensure_online("mumble")
        m = W.mumble
        if not m.get("onion"):
            m["onion"] = sb.address_of("mumble")
            m["vport"] = sb.option("mumble", "virtual-port") or "64738"
            m["password"] = sb.option("mumble", "server-password")
            m["welcome"] = sb.option("mumble", "welcome-message")
            m["fpr"] = sb.option("mumble", "tls-fingerprint")
        self.assertTrue(m["onion"], "precondition: mumble has an onion address")

    def monitor(self, svc, name):
        mon = self.sb.start_monitor(svc, "/root/monitor-%s.txt" % name)
        self.addCleanup(mon.stop)
        time.sleep(0.3)
        return mon

    def wait_republished(self, svc, mon, since, label):
        """After a change that must re-publish the onion: a new "online" from monitor (a line
        after since), then status online."""
        at = mon.wait(svc, "online", since, REPUBLISH_LIMIT)
        if at:
            self.expect(True, "%s: %s re-published the onion: monitor says online again after %.1f s"
                        % (svc, label, at - since))
            timing("%s %s->online" % (svc, label), at - since)
        else:
            self.expect(False, "%s: %s re-published the onion (no new 'online' from monitor within %d s)"
                        % (svc, label, REPUBLISH_LIMIT),
                        "monitor output:\n" + "\n".join(mon.text().splitlines()[-15:]))
        self.sb.wait_state(svc, "online", REPUBLISH_LIMIT)


# ---------------------------------------------------------------------------------------------
class Setup(OnionCase):
    """1. Sandbox, private Tor network inside it, tails-serverd."""

    def test_the_private_tor_network_is_ready_and_the_daemon_started(self):
        self.expect(self.sb.booted and "ActiveState=active" in self.sb.daemon_health(),
                    "sandbox booted, private Tor network ready in %.1f s, tails-serverd started" % W.net_ready,
                    self.sb.daemon_health())
        timing("network ready", W.net_ready)
        note("daemon config: tor_control: %s, tor_cookie: %s" % (W.tor_control, W.tor_cookie))


class NginxOnion(OnionCase):
    """2. nginx over its onion address, with client authorization."""

    def test_enable_announces_then_publishes_the_onion(self):
        sb = self.sb
        r = sb.ts("install", "nginx")
        self.expect(r.returncode == 0, "nginx: install exits 0 (exit %d)" % r.returncode, r.stdout)
        r = sb.ts("set-option", "nginx", "basic-auth", "false")
        self.expect(r.returncode == 0, "nginx: set-option basic-auth false (exit %d)" % r.returncode, r.stdout)
        ca = sb.option("nginx", "client-authorization")
        self.expect(ca == "true", "nginx: client-authorization is on by default", "client-authorization: " + ca)
        self.write_page()

        mon = self.monitor("nginx", "nginx")
        t = time.time()
        r = sb.ts("enable", "nginx")
        self.expect(r.returncode == 0, "nginx: enable exits 0 (exit %d)" % r.returncode, r.stdout)
        note("\n".join(r.stdout.splitlines()[:3]))
        at = mon.wait("nginx", "online", t, ONLINE_LIMIT)
        if at:
            self.expect(True, "nginx: monitor says online %.1f s after enable" % (at - t))
            timing("nginx enable->online", at - t)
        else:
            self.expect(False, "nginx: monitor says online within %d s of enable" % ONLINE_LIMIT,
                        "\n".join(mon.text().splitlines()[-15:]))
        text = mon.text()
        ann = text.find("nginx: announcing")
        self.expect(ann >= 0 and text.find("nginx: online", ann) >= 0,
                    "nginx: monitor reported announcing before online", text)
        _, seen = sb.wait_state("nginx", "online", 30)
        status_yaml = sb.run("tails-server", "status", "nginx").stdout
        self.expect(bool(re.search(r"^ *state: *online", status_yaml, re.M)),
                    "nginx: status says state: online (seen: %s)" % seen, status_yaml)
        W.nginx_onion = sb.address_of("nginx")
        ctx = "info address: '%s'\n%s" % (W.nginx_onion, status_yaml)
        self.expect(bool(W.nginx_onion), "nginx: info shows a v3 onion address (%s)" % W.nginx_onion, ctx)
        self.expect(bool(W.nginx_onion) and W.nginx_onion in status_yaml, "nginx: status shows the same address", ctx)
        self.expect(bool(re.search(r"^ *onion: ", status_yaml, re.M) and re.search(r"^ *tor: ", status_yaml, re.M)),
                    "nginx: status has onion: and tor: lines", ctx)

    def test_without_a_credential_the_client_tor_is_refused(self):
        self.ensure_nginx()
        t = time.monotonic()
        rc, err = fetch_body("/root/noauth.html", W.nginx_onion, W.nginx_vport, "--timeout", "120")
        timing("nginx first fetch", time.monotonic() - t)
        self.expect(rc == 44, "nginx: without a credential the client tor refuses: fetch exits 44, SOCKS 0xF4 "
                    "(exit %d)" % rc, err)
        if rc == 0:
            note("the page came back WITHOUT any client credential: the onion is public")

    def test_client_add_gives_a_credential_that_opens_the_page(self):
        sb = self.sb
        self.ensure_nginx()
        mon = self.monitor("nginx", "nginx-add")
        r = sb.ts("client", "list", "nginx")
        self.expect(r.returncode == 0, "nginx: client list exits 0 (exit %d)" % r.returncode, r.stdout)
        r = sb.ts("client", "add", "nginx", "alice")
        self.expect(r.returncode == 0, "nginx: client add nginx alice exits 0 (exit %d)" % r.returncode, r.stdout)
        add_out, t_add = r.stdout, time.time()
        cred = credential(add_out)
        if cred:
            self.expect(True, "nginx: client add prints an ONION_CLIENT_AUTH_ADD line")
            onion = cred["onion"] if cred["onion"].endswith(".onion") else cred["onion"] + ".onion"
            self.expect(onion == W.nginx_onion, "nginx: ... for the service's address", add_out)
            missing = [k for k in ("client", "address", "tor-browser-key", "auth-private", "onion-client-auth-add")
                       if not re.search(r'"?%s"?: ' % k, add_out)]
            self.expect(not missing, "nginx: client add prints the client name, address, tor-browser-key and "
                        "auth-private", add_out)
            ctx = "tor-browser-key: %s; auth-private: %s; base64: (hidden)" % (cred["b32"], cred["auth_private"])
            self.expect(cred["auth_private"].split(":")[0] == W.nginx_onion[:-6],
                        "nginx: the auth-private line is <onion>:descriptor:x25519:<base32> for this onion", ctx)
            self.expect(same_key(cred["b64"], cred["b32"], cred["auth_private"]),
                        "nginx: tor-browser-key, auth-private and ONION_CLIENT_AUTH_ADD hold the same key", ctx)
            W.alice_b64 = cred["b64"]
        else:
            self.expect(False, "nginx: client add prints an ONION_CLIENT_AUTH_ADD <onion> x25519:<base64> line",
                        add_out)
        r = sb.ts("client", "list", "nginx")
        self.expect(bool(re.search(r"(^|[^a-z])alice([^a-z]|$)", r.stdout, re.I | re.M)),
                    "nginx: client list shows alice", r.stdout)
        self.wait_republished("nginx", mon, t_add, "client add")
        if W.alice_b64:
            r = give_credential(W.nginx_onion, W.alice_b64)
            self.expect(r.returncode == 0, "client tor: ONION_CLIENT_AUTH_ADD with alice's credential (exit %d)"
                        % r.returncode, r.stdout)
            sb.newnym()
            rc, err, attempts = fetch_until_ok("/root/alice.html", W.nginx_onion, W.nginx_vport, 120)
            self.expect(rc == 0, "nginx: with alice's credential the fetch works (exit %d, %d attempt(s))"
                        % (rc, attempts), err)
            diff = sb.sh('diff <(od -c "$1") <(od -c "$2/index.html") | head -n 20', "/root/alice.html",
                         W.site_root).stdout
            self.expect(same_page("/root/alice.html"), "nginx: the page is exactly index.html", diff)

    def test_client_remove_republishes_and_the_old_credential_is_refused(self):
        sb = self.sb
        self.ensure_nginx()
        if sb.option("nginx", "client-authorization") != "true":
            sb.ts("set-option", "nginx", "client-authorization", "true")
        cred = self.ensure_client("nginx", "alice")
        if cred:
            W.alice_b64 = cred["b64"]
        mon = self.monitor("nginx", "nginx-remove")
        # Remove alice (carol stays, so the descriptor is still for authorized clients only):
        # the onion is re-published without her; her old credential no longer works.
        r = sb.ts("client", "add", "nginx", "carol")
        self.expect(r.returncode == 0, "nginx: client add nginx carol exits 0 (exit %d)" % r.returncode, r.stdout)
        time.sleep(2)
        t_rm = time.time()
        r = sb.ts("client", "remove", "nginx", "alice")
        self.expect(r.returncode == 0, "nginx: client remove nginx alice exits 0 (exit %d)" % r.returncode, r.stdout)
        listing = sb.run("tails-server", "client", "list", "nginx").stdout
        self.expect(not re.search(r"(^|[^a-z])alice([^a-z]|$)", listing, re.M)
                    and bool(re.search(r"(^|[^a-z])carol([^a-z]|$)", listing, re.M)),
                    "nginx: client list no longer shows alice, still carol", listing)
        self.wait_republished("nginx", mon, t_rm, "client remove")
        if W.alice_b64:
            r = sb.tornet("client-auth-remove", W.nginx_onion)
            self.expect(r.returncode == 0, "client tor: ONION_CLIENT_AUTH_REMOVE (exit %d)" % r.returncode, r.stdout)
            r = give_credential(W.nginx_onion, W.alice_b64)
            self.expect(r.returncode == 0, "client tor: alice's OLD credential added again (exit %d)" % r.returncode,
                        r.stdout)
            sb.newnym()
            rc, err, attempts = fetch_until_refused(W.nginx_onion, W.nginx_vport, 45)
            self.expect(rc in (44, 45), "nginx: alice's old credential is refused: fetch exits 44/45 (exit %d, "
                        "%d attempt(s))" % (rc, attempts), err)
            sb.tornet("client-auth-remove", W.nginx_onion)

    def test_client_authorization_off_opens_the_onion_to_everyone_with_a_warning(self):
        sb = self.sb
        self.ensure_nginx()
        # carol is a client, so that the descriptor must change.
        self.ensure_client("nginx", "carol")
        if sb.option("nginx", "client-authorization") != "true":
            sb.ts("set-option", "nginx", "client-authorization", "true")
            sb.wait_state("nginx", "online", REPUBLISH_LIMIT)
        mon = self.monitor("nginx", "nginx-open")
        t_off = time.time()
        r = sb.ts("set-option", "nginx", "client-authorization", "false")
        self.expect(r.returncode == 0, "nginx: set-option client-authorization false exits 0 (exit %d)"
                    % r.returncode, r.stdout)
        self.expect(bool(re.search("warn|secret|anyone|everyone", r.stdout, re.I)),
                    "nginx: ... and prints a warning to keep the address secret", r.stdout)
        note("\n".join(r.stdout.splitlines()[:4]))
        self.wait_republished("nginx", mon, t_off, "client-authorization false")
        sb.newnym()
        rc, err, attempts = fetch_until_ok("/root/open.html", W.nginx_onion, W.nginx_vport, 120)
        self.expect(rc == 0, "nginx: without client authorization, a fetch without credential works (exit %d, "
                    "%d attempt(s))" % (rc, attempts), err)
        self.expect(same_page("/root/open.html"), "nginx: ... and the page is exactly index.html")


class MumbleOnion(OnionCase):
    """3. mumble over its onion address (TLS, password, welcome text)."""

    def bridge_probe(self, password):
        """One mumble probe through a 'tornet socks-connect --listen --once' bridge; retried
        (after NEWNYM) when the bridge could not connect. (CompletedProcess, tries)."""
        sb, m = self.sb, W.mumble
        r = None
        for attempt in range(1, 5):
            sb.sh('setsid "$1" socks-connect "$2" "$3" "$4" --listen --once --timeout 90 '
                  '>/root/bridge.out 2>/root/bridge.err </dev/null &', TORNET, TN, m["onion"], m["vport"])
            lport = wait_until(lambda: (lambda s: s if re.fullmatch(r"[0-9]+", s) else None)(
                sb.out("head", "-n", "1", "/root/bridge.out").strip()), 5, 0.1)
            if not lport:
                r = sb.run("true")
                r.returncode, r.stdout, r.fields = 1, "socks-connect printed no port: " + sb.cat("/root/bridge.err"), {}
                return r, attempt
            r = sb.mumble_probe(lport, password)
            if r.returncode in (0, 2):
                return r, attempt
            note("probe attempt %d: exit %d: %s; bridge: %s" % (
                attempt, r.returncode, (r.stdout.splitlines() or [""])[-1],
                (sb.cat("/root/bridge.err").splitlines() or [""])[-1]))
            sb.newnym()
            time.sleep(3)
        return r, 4

    def test_enable_publishes_mumble_on_its_own_onion(self):
        sb = self.sb
        r = sb.ts("install", "mumble")
        self.expect(r.returncode == 0, "mumble: install exits 0 (exit %d)" % r.returncode, r.stdout)
        mon = self.monitor("mumble", "mumble")
        t = time.time()
        r = sb.ts("enable", "mumble")
        self.expect(r.returncode == 0, "mumble: enable exits 0 (exit %d)" % r.returncode, r.stdout)
        at = mon.wait("mumble", "online", t, ONLINE_LIMIT)
        if at:
            self.expect(True, "mumble: monitor says online %.1f s after enable" % (at - t))
            timing("mumble enable->online", at - t)
        else:
            self.expect(False, "mumble: monitor says online within %d s of enable" % ONLINE_LIMIT,
                        "\n".join(mon.text().splitlines()[-15:]))
        sb.wait_state("mumble", "online", 30)
        W.mumble = {}
        self.ensure_mumble()
        onion = W.mumble["onion"]
        nginx_onion = W.nginx_onion or sb.address_of("nginx")
        self.expect(bool(onion) and onion != nginx_onion, "mumble: its own onion address (%s)" % onion,
                    "mumble: '%s', nginx: '%s'" % (onion, nginx_onion))
        self.expect(bool(W.mumble["password"]), "mumble: get-option server-password gives a password",
                    "password length %d" % len(W.mumble["password"]))

    def test_client_add_gives_bob_a_credential_for_mumble(self):
        sb = self.sb
        self.ensure_mumble()
        if re.search(r"(^|[^a-z])bob([^a-z]|$)", sb.ts("client", "list", "mumble").stdout):
            sb.ts("client", "remove", "mumble", "bob")
            sb.wait_state("mumble", "online", REPUBLISH_LIMIT)
        mon = self.monitor("mumble", "mumble-add")
        t_add = time.time()
        r = sb.ts("client", "add", "mumble", "bob")
        self.expect(r.returncode == 0, "mumble: client add mumble bob exits 0 (exit %d)" % r.returncode, r.stdout)
        cred = credential(r.stdout)
        W.mumble["bob_b64"] = cred["b64"] if cred else ""
        self.expect(bool(cred), "mumble: client add prints bob's ONION_CLIENT_AUTH_ADD line", r.stdout)
        self.wait_republished("mumble", mon, t_add, "client add")
        mon.stop()
        if W.mumble["bob_b64"]:
            r = give_credential(W.mumble["onion"], W.mumble["bob_b64"])
            self.expect(r.returncode == 0, "client tor: ONION_CLIENT_AUTH_ADD with bob's credential (exit %d)"
                        % r.returncode, r.stdout)
        sb.newnym()

    def test_the_mumble_protocol_works_through_the_onion(self):
        sb = self.sb
        self.ensure_mumble()
        if not W.mumble.get("bob_b64"):
            cred = self.ensure_client("mumble", "bob")
            self.assertTrue(cred, "precondition: a credential for mumble (bob)")
            W.mumble["bob_b64"] = cred["b64"]
            sb.wait_state("mumble", "online", REPUBLISH_LIMIT)
            give_credential(W.mumble["onion"], cred["b64"])
            sb.newnym()
        m = W.mumble
        r, tries = self.bridge_probe(m["password"])
        self.expect(r.returncode == 0, "mumble: through the onion, TLS + the right password gives ServerSync "
                    "(probe exit %d, try %d)" % (r.returncode, tries), r.stdout)
        got_welcome = r.fields.get("welcome_text_hex", "")
        self.expect(bool(got_welcome) and got_welcome == hex_of(m["welcome"]),
                    "mumble: the welcome text is the welcome-message option",
                    r.stdout + "\nexpected welcome hex: " + hex_of(m["welcome"]))
        got_fpr = r.fields.get("fingerprint", "")
        self.expect(bool(got_fpr) and norm(got_fpr) == norm(m["fpr"]),
                    "mumble: the certificate's SHA-256 is the tls-fingerprint option",
                    "probe: %s\ntls-fingerprint option: %s" % (got_fpr, m["fpr"]))
        r, tries = self.bridge_probe(m["password"] + "wrong")
        self.expect(r.returncode == 2, "mumble: through the onion, a wrong password is rejected (probe exit %d)"
                    % r.returncode, r.stdout)


class TorRestart(OnionCase):
    """4. The service tor restarts: the daemon re-adds the onions by itself."""

    def test_the_daemon_re_adds_the_same_onions_after_a_tor_restart(self):
        sb = self.sb
        self.ensure_nginx()
        self.ensure_mumble()
        if sb.option("nginx", "client-authorization") != "false":  # the fetch below needs no credential
            sb.ts("set-option", "nginx", "client-authorization", "false")
            sb.wait_state("nginx", "online", REPUBLISH_LIMIT)
        mon = self.monitor("", "all")
        before = {svc: sb.address_of(svc) for svc in ("nginx", "mumble")}
        t, t_wall = time.monotonic(), time.time()
        r = sb.tornet("restart-service-tor")
        self.expect(r.returncode == 0, "tornet restart-service-tor (exit %d)" % r.returncode, r.stdout)
        timing("tor restart (restart-service-tor)", time.monotonic() - t)
        note("right after the restart: nginx %s, mumble %s" % (sb.state_of("nginx"), sb.state_of("mumble")))
        for svc in ("nginx", "mumble"):
            reached, seen = sb.wait_state(svc, "online", ONLINE_LIMIT)
            if reached:
                self.expect(True, "%s: back online with no tails-server command (%.1f s after the restart began; "
                            "status seen: %s)" % (svc, time.monotonic() - t, seen))
                timing("tor restart->%s online" % svc, time.monotonic() - t)
            else:
                self.expect(False, "%s: back online within %d s of the tor restart (status seen: %s)"
                            % (svc, ONLINE_LIMIT, seen), sb.run("tails-server", "status", svc).stdout)
        time.sleep(0.5)
        mon_all = mon.text()
        mon.stop()
        for svc in ("nginx", "mumble"):
            states = " ".join(mon.states(svc, after=t_wall))
            self.expect(bool(re.search("(tor-not-running|announcing).*online", states)),
                        "%s: monitor went through tor-not-running/announcing to online (%s)" % (svc, states),
                        "monitor:\n" + mon_all)
            if "tor-not-running" not in states:
                note("%s: monitor did not show tor-not-running" % svc)
        for svc in ("nginx", "mumble"):
            after = sb.address_of(svc)
            self.expect(bool(after) and after == before[svc], "%s: the same address after the tor restart" % svc,
                        "%s: %s -> %s" % (svc, before[svc], after))
        r = sb.tornet("control", "service", "GETINFO", "onions/detached")
        self.expect(W.nginx_onion[:-6] in r.stdout and W.mumble["onion"][:-6] in r.stdout,
                    "service tor: both onions are detached onions again", r.stdout)
        sb.newnym()
        rc, err, attempts = fetch_until_ok("/root/after.html", W.nginx_onion, W.nginx_vport, 120)
        self.expect(rc == 0, "nginx: a fetch works again after the tor restart (exit %d, %d attempt(s))"
                    % (rc, attempts), err)
        self.expect(same_page("/root/after.html"), "nginx: ... and the page is exactly index.html")


class ConnectionInfo(OnionCase):
    """5. connection-info mumble --qr."""

    def test_connection_info_gives_address_port_password_fingerprint_instructions_and_a_qr(self):
        sb = self.sb
        self.ensure_mumble()
        m = W.mumble
        r = sb.ts("connection-info", "mumble", "--qr")
        ci = r.stdout
        self.expect(r.returncode == 0, "connection-info mumble --qr exits 0 (exit %d)" % r.returncode, ci)
        self.expect(m["onion"] in ci, "connection-info: the onion address", ci)
        self.expect(bool(re.search(r"(^|[^0-9])%s([^0-9]|$)" % re.escape(m["vport"]), ci, re.M)),
                    "connection-info: the port (%s)" % m["vport"], ci)
        self.expect(bool(m["password"]) and m["password"] in ci, "connection-info: the server password", ci)
        plain = norm(m["fpr"])
        self.expect(bool(plain) and plain in re.sub(r"[: ]", "", ci).upper(), "connection-info: the TLS fingerprint", ci)
        self.expect(bool(re.search("socks ?5", ci, re.I)), "connection-info: Mumble instructions mention SOCKS5", ci)
        self.expect(bool(re.search("tcp", ci, re.I)), "connection-info: ... and TCP mode", ci)
        qr_lines = len(re.findall(r"^.*[█▀▄]{4,}.*$", ci, re.M))
        self.expect(qr_lines >= 10, "connection-info: a QR block (%d lines of block characters)" % qr_lines, ci)
        shown = ci.replace(m["password"], "<password>") if m["password"] else ci
        print(indent(shown, 60))


class LastClientRemoved(OnionCase):
    """6. The last client removed: client authorization stays on, nobody gets in."""

    def test_removing_the_last_client_keeps_authorization_on_and_refuses_everyone(self):
        sb = self.sb
        self.ensure_mumble()
        self.ensure_client("mumble", "bob")
        sb.wait_state("mumble", "online", REPUBLISH_LIMIT)
        mon = self.monitor("mumble", "mumble-last")
        t_rm = time.time()
        r = sb.ts("client", "remove", "mumble", "bob")
        self.expect(r.returncode == 0, "mumble: client remove mumble bob exits 0 (exit %d)" % r.returncode, r.stdout)
        ca = sb.option("mumble", "client-authorization")
        self.expect(ca == "true", "mumble: client-authorization is still true", "client-authorization: " + ca)
        if mon.wait("mumble", "", t_rm, 20):
            note("mumble after the last client's removal: %s" % (mon.text().splitlines() or [""])[-1].partition(" ")[2])
        sb.wait_state("mumble", "online", 20)
        mon.stop()
        sb.tornet("client-auth-remove", W.mumble["onion"])
        sb.newnym()
        # Without --listen, socks-connect bridges stdin/stdout; 44 = SOCKS 0xF4 before any byte.
        # If tor connects instead, the Mumble server waits for the client's TLS hello until the
        # timeout (124).
        r = sb.exec("timeout", "30", TORNET, "socks-connect", TN, W.mumble["onion"], W.mumble["vport"],
                    "--timeout", "25")
        self.expect(r.returncode == 44, "mumble: no clients left: a client without credential is refused with "
                    "SOCKS 0xF4 (exit %d)" % r.returncode, r.stderr)
        if r.returncode in (124, 0):
            note("the client tor CONNECTED to mumble's onion without any credential: the onion is public")


class TheEnd(OnionCase):
    """7. The daemon stayed up; every tor stops and the sandbox powers off."""

    def test_the_daemon_stayed_up(self):
        health = self.sb.daemon_health()
        self.expect("NRestarts=0" in health and "ActiveState=active" in health,
                    "tails-serverd is active and never restarted (%s)" % health)
        errors = "\n".join(self.sb.journal("tails-serverd", priority="err").splitlines()[-10:])
        if errors.strip():
            note("tails-serverd logged errors:\n" + indent(errors))

    def test_every_tor_stops_and_the_sandbox_powers_off(self):
        self.expect(self.sb.poweroff(), "every tor stopped and the sandbox powered off")
