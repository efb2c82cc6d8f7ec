"""The icecast plugin end to end, through a real (private) Tor network, driven only through the
tails-server CLI (issue 13: "a source client streams a generated Ogg file to the mount with the
source password (a wrong password is refused), and a listener through Tor receives the same
bytes").

Set-up (setUpModule), as tests/e2e/test_onion.py: the build staged into a throwaway sandbox
(tests/sandbox/sandbox), the private Tor network (tests/tor-network/tornet) inside it, tails-serverd
driving its service tor. A two-second Ogg FLAC file (a tone with some noise, so that it is this
run's own) is made in the sandbox with python3 and flac; FLAC pages go through icecast byte for
byte (docs/services.md#icecast) and the file is smaller than icecast's 64 KiB burst, so a listener
gets all of it from its start. Then:
  icecast: install, a mount of our own (set-option mount), enable -> online; icecast2 runs as its
           account and listens on loopback only.
  client:  'client add icecast alice' gives a credential that the client tor then holds.
  connection-info icecast --json: the onion address, the port, the mount, the listen URL, the
           source URL and the source password (the option's).
  stream:  everything as the connection info says, through the client tor's SOCKS port to the
           onion (the connection info tells the source client to stream through Tor too): a wrong
           source password gets 401, and so does the right one at another mount; the right one at
           the mount 200, then a listener gets 200, application/ogg and exactly the bytes of the file.
  without the credential the client tor is refused (SOCKS 0xF4).
Run by tests/scenario/run-scenario (ctest: e2e-icecast); skipped without root, tor, tor-gencert,
icecast2 or flac. Every tor is stopped and the sandbox powered off at the end.
"""

import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import (PROBES, Sandbox, ScenarioCase, ScenarioError, elapsed, indent,  # noqa: E402
                             note)

ONLINE_LIMIT = float(os.environ.get("E2E_ONLINE_LIMIT", "120"))        # enable -> "online"
REPUBLISH_LIMIT = float(os.environ.get("E2E_REPUBLISH_LIMIT", "45"))  # a client change -> "online"
REACH_LIMIT = float(os.environ.get("E2E_REACH_LIMIT", "240"))         # retries until the onion answers
TN = "/run/tails-server-e2e-icecast-tornet"  # not /tmp: the daemon has PrivateTmp=yes
ADD_LINE = re.compile(r"ONION_CLIENT_AUTH_ADD ([a-z2-7]{56}(?:\.onion)?) x25519:([A-Za-z0-9+/=]{43,44})")
MOUNT = "/live/e2e-radio.ogg"
OGG = "/root/e2e-tone.oga"
PROBE = os.path.join(PROBES, "icecast_probe.py")
TONE = """import math, os, struct, sys, wave
w = wave.open(sys.argv[1], "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
noise = os.urandom(16000)
w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * 0.1)) + noise[i] - 128) for i in range(16000)))
w.close()
"""
TIMING_KEYS = ("network ready", "icecast enable->online", "icecast client add->online",
               "stream through the onion", "total")


def skip_reason():
    for tool in ("tor", "tor-gencert", "flac"):
        if not shutil.which(tool):
            return "%s is missing" % tool
    if not os.path.exists("/usr/bin/icecast2"):
        return "icecast2 is not installed"
    return None


class World:
    sb = None
    net_ready = None
    socks = ""
    timing = {}
    onion = ""
    vport = ""
    b64 = ""
    info = {}


W = World


def timing(key, seconds):
    W.timing[key] = "%.1f" % seconds
    note("timing: %s = %.1f s" % (key, seconds))


def setUpModule():
    sb = W.sb = Sandbox(name="e2e-icecast")
    with sb.setting_up():
        _set_up(sb)


def _set_up(sb):
    W.net_ready, W.socks = sb.start_onion_stack(TN)
    # Two seconds of a tone with some noise (this run's own bytes), as Ogg FLAC.
    r = sb.run("python3", "-c", TONE, OGG + ".wav")
    if r.returncode == 0:
        r = sb.run("flac", "--ogg", "-s", "-f", "-o", OGG, OGG + ".wav")
    if r.returncode != 0:
        raise ScenarioError("cannot make the Ogg FLAC file:\n" + r.stdout)


def tearDownModule():
    if W.sb:
        W.sb.cleanup()
    timing("total", elapsed())
    print("\nicecast-test: timings")
    for key in TIMING_KEYS:
        if key in W.timing:
            print("  %-42s %s s" % (key, W.timing[key]))


def fields(text):
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key not in out:
            out[key] = value
    return out


class IcecastCase(ScenarioCase):
    abstract = True

    @property
    def sb(self):
        return W.sb

    def ensure_icecast(self):
        """icecast installed with our mount, enabled, online, its address known."""
        sb = self.sb
        if sb.status_field("icecast", "installed") != "true":
            self.assertEqual(sb.ts("install", "icecast").returncode, 0, "precondition: install icecast")
        if sb.option("icecast", "mount") != MOUNT:
            sb.ts("set-option", "icecast", "mount", MOUNT)
        super().ensure_online("icecast", ONLINE_LIMIT)
        W.onion = W.onion or sb.address_of("icecast")
        W.vport = W.vport or sb.option("icecast", "virtual-port")
        self.assertTrue(W.onion and W.vport, "precondition: icecast has an onion address and a port")

    def ensure_credential(self):
        """A client of icecast whose key the client tor holds."""
        sb = self.sb
        self.ensure_icecast()
        if not W.b64:
            sb.ts("client", "remove", "icecast", "alice")
            r = sb.ts("client", "add", "icecast", "alice")
            m = ADD_LINE.search(r.stdout)
            self.assertTrue(r.returncode == 0 and m, "precondition: client add icecast alice\n" + r.stdout)
            W.b64 = m.group(2)
            sb.wait_state("icecast", "online", REPUBLISH_LIMIT)
        self.give_credential()

    def give_credential(self):
        """ONION_CLIENT_AUTH_ADD with Flags=Permanent (NEWNYM purges ephemeral credentials)."""
        r = self.sb.tornet("control", "client", "ONION_CLIENT_AUTH_ADD", W.onion[:-6], "x25519:" + W.b64,
                           "Flags=Permanent")
        self.sb.newnym()
        return r

    def ensure_info(self):
        self.ensure_credential()
        if not W.info:
            data = self.sb.tails_server("connection-info", "icecast") or {}
            W.info = data.get("icecast", {}) if isinstance(data, dict) else {}
        self.assertTrue(W.info.get("address") and W.info.get("mount") and W.info.get("source-password"),
                        "precondition: connection-info icecast --json gives address, mount, source-password")

    def admin_password(self):
        data = self.sb.tails_server("get-option", "icecast", "admin-password") or {}
        password = data.get("admin-password") if isinstance(data, dict) else None
        self.assertTrue(password, "precondition: get-option icecast admin-password gives it")
        return password

    def stream(self, password, output, limit=REACH_LIMIT, mount=None):
        """icecast_probe.py through the client tor's SOCKS port to the onion, as the connection
        info says; retried (NEWNYM between) while tor cannot reach the onion. (CompletedProcess
        with .fields, tries)."""
        sb, info = self.sb, W.info
        t, tries = time.monotonic(), 0
        while True:
            tries += 1
            r = sb.exec("python3", PROBE, info["address"], str(info["port"]), mount or info["mount"], OGG, output,
                        "--socks", W.socks, "--timeout", "120", input=password, timeout=600, merge=True)
            r.fields = fields(r.stdout)
            # 3: SOCKS refused or failed; 1 with no source status: the connection did not get through.
            unreached = r.returncode == 3 or (r.returncode == 1 and "source_status" not in r.fields)
            # 403: the mount is still held by the source of a try that failed afterwards.
            busy = r.fields.get("source_status") == "403"
            if not (unreached or busy) or time.monotonic() - t > limit:
                return r, tries
            note("try %d: exit %d: %s" % (tries, r.returncode, " | ".join(r.stdout.splitlines()[-2:])))
            sb.newnym()
            time.sleep(3)


# ---------------------------------------------------------------------------------------------
class Setup(IcecastCase):
    """1. Sandbox, private Tor network inside it, tails-serverd, the Ogg file."""

    def test_the_private_tor_network_is_ready_and_the_daemon_started(self):
        self.expect(self.sb.booted and "ActiveState=active" in self.sb.daemon_health(),
                    "sandbox booted, private Tor network ready in %.1f s, tails-serverd started" % W.net_ready,
                    self.sb.daemon_health())
        timing("network ready", W.net_ready)
        size = int(self.sb.out("stat", "-c", "%s", OGG).strip() or 0)
        self.expect(1000 < size < 65536, "the Ogg FLAC file is made and smaller than icecast's burst (%d bytes)"
                    % size)
        head = self.sb.out("head", "-c", "4", OGG)
        self.expect(head == "OggS", "... and it is an Ogg file", repr(head))


class Online(IcecastCase):
    """2. install, set-option mount, enable: online, as icecast2's account, on loopback only."""

    def test_enable_publishes_icecast_on_its_onion(self):
        sb = self.sb
        r = sb.ts("install", "icecast")
        self.expect(r.returncode == 0, "icecast: install exits 0 (exit %d)" % r.returncode, r.stdout)
        r = sb.ts("set-option", "icecast", "mount", MOUNT)
        self.expect(r.returncode == 0, "icecast: set-option mount %s exits 0 (exit %d)" % (MOUNT, r.returncode),
                    r.stdout)
        ca = sb.option("icecast", "client-authorization")
        self.expect(ca == "true", "icecast: client-authorization is on by default", "client-authorization: " + ca)
        t = time.monotonic()
        r = sb.ts("enable", "icecast")
        self.expect(r.returncode == 0, "icecast: enable exits 0 (exit %d)" % r.returncode, r.stdout)
        reached, seen = sb.wait_state("icecast", "online", ONLINE_LIMIT)
        self.expect(reached, "icecast: online within %d s of enable (seen: %s)" % (ONLINE_LIMIT, seen),
                    sb.run("tails-server", "status", "icecast").stdout + sb.journal("icecast2", lines=20))
        if reached:
            timing("icecast enable->online", time.monotonic() - t)
        W.onion = sb.address_of("icecast")
        W.vport = sb.option("icecast", "virtual-port")
        self.expect(bool(W.onion), "icecast: info shows a v3 onion address (%s)" % W.onion)
        self.expect(sb.unit_property("icecast2.service", "ActiveState") == "active", "icecast2.service is active")
        pid = sb.unit_property("icecast2.service", "MainPID")
        user = sb.out("ps", "-o", "user=", "-p", pid).strip() if pid not in ("", "0") else ""
        self.expect(user == "icecast2", "icecast2 runs as its account (%s)" % user)
        port = sb.option("icecast", "local-port")
        listening = sb.listeners("t", port)
        self.expect(listening == ["127.0.0.1:%s" % port], "icecast2 listens on loopback only (%s)"
                    % ", ".join(listening), sb.out("ss", "-ltnp"))
        mode = sb.out("stat", "-c", "%a %U %G", "/etc/icecast2/tails-server.xml").strip()
        self.expect(mode == "640 root icecast", "icecast.xml (it holds the passwords) is 0640 root:icecast (%s)"
                    % mode)
        # Where the passwords are written: icecast.xml, and the daemon's state (0600, root's).
        for option in ("source-password", "admin-password"):
            secret = sb.option("icecast", option)
            files = sb.sh('grep -rlF -- "$1" /etc /var/lib/tails-server /run/tails-server 2>/dev/null | sort; true',
                          secret).stdout.split()
            modes = {f: sb.out("stat", "-c", "%a %U %G", f).strip() for f in files}
            bad = {f: m for f, m in modes.items()
                   if not (f == "/etc/icecast2/tails-server.xml" and m == "640 root icecast")
                   and not (m == "600 root root" and f.startswith("/var/lib/tails-server/"))}
            self.expect(bool(secret) and "/etc/icecast2/tails-server.xml" in files and not bad,
                        "icecast: the %s is only in icecast.xml and 0600 files of the daemon (%s)"
                        % (option, ", ".join("%s %s" % fm for fm in sorted(modes.items()))), str(bad))


class Client(IcecastCase):
    """3. client add: a credential for the client tor."""

    def test_client_add_gives_a_credential(self):
        sb = self.sb
        self.ensure_icecast()
        sb.ts("client", "remove", "icecast", "alice")
        sb.wait_state("icecast", "online", REPUBLISH_LIMIT)
        t = time.monotonic()
        r = sb.ts("client", "add", "icecast", "alice")
        self.expect(r.returncode == 0, "icecast: client add icecast alice exits 0 (exit %d)" % r.returncode,
                    r.stdout)
        m = ADD_LINE.search(r.stdout)
        self.expect(bool(m), "icecast: client add prints an ONION_CLIENT_AUTH_ADD line", r.stdout)
        if m:
            onion = m.group(1) if m.group(1).endswith(".onion") else m.group(1) + ".onion"
            self.expect(onion == W.onion, "icecast: ... for the service's address", r.stdout)
            W.b64 = m.group(2)
        time.sleep(1)
        reached, seen = sb.wait_state("icecast", "online", REPUBLISH_LIMIT)
        self.expect(reached, "icecast: online again after client add (seen: %s)" % seen)
        if reached:
            timing("icecast client add->online", time.monotonic() - t)
        if W.b64:
            r = self.give_credential()
            self.expect(r.returncode == 0, "client tor: ONION_CLIENT_AUTH_ADD with alice's credential (exit %d)"
                        % r.returncode, r.stdout)


class ConnectionInfo(IcecastCase):
    """4. connection-info icecast --json: what a source client and a listener use."""

    def test_connection_info_names_the_onion_the_mount_and_the_source_password(self):
        sb = self.sb
        self.ensure_icecast()
        r = sb.exec("tails-server", "--json", "connection-info", "icecast")
        self.expect(r.returncode == 0, "connection-info icecast --json exits 0 (exit %d)" % r.returncode,
                    r.stdout + r.stderr)
        data = sb.tails_server("connection-info", "icecast") or {}
        info = W.info = data.get("icecast", {}) if isinstance(data, dict) else {}
        password = sb.option("icecast", "source-password")
        url = "http://%s:%s%s" % (W.onion, W.vport, MOUNT)
        self.expect(info.get("address") == W.onion, "connection-info: address is the onion (%s)"
                    % info.get("address"))
        self.expect(str(info.get("port")) == W.vport, "connection-info: port is the virtual port (%s)"
                    % info.get("port"))
        self.expect(info.get("mount") == MOUNT, "connection-info: mount is the option's (%s)" % info.get("mount"))
        self.expect(info.get("listen-url") == url, "connection-info: listen-url is %s" % url,
                    "listen-url: %s" % info.get("listen-url"))
        self.expect(len(password) >= 8 and info.get("source-password") == password,
                    "connection-info: source-password is the option's (generated, %d characters)" % len(password))
        self.expect(info.get("source-user") == "source", "connection-info: source-user is 'source'")
        source_url = info.get("source-url", "")
        self.expect(source_url.startswith("icecast://source:") and source_url.endswith(
            "@%s:%s%s" % (W.onion, W.vport, MOUNT)), "connection-info: source-url names the onion, port and mount",
            re.sub(r"source:[^@]*@", "source:<password>@", source_url))
        instructions = info.get("instructions", "")
        self.expect(url in instructions and re.search("torsocks|tor", instructions, re.I) is not None,
                    "connection-info: the instructions give the listen URL and say to go through Tor",
                    instructions.replace(password, "<password>") if password else instructions)
        shown = sb.run("tails-server", "connection-info", "icecast").stdout
        admin = (sb.tails_server("get-option", "icecast", "admin-password") or {}).get("admin-password")
        self.expect(bool(admin) and admin not in shown and "admin-password" not in info,
                    "connection-info, given to sources and listeners, does not show the admin password")
        for secret, mask in ((password, "<password>"), (admin, "<admin password>")):
            shown = shown.replace(secret, mask) if secret else shown
        print(indent(shown, 30))


class Stream(IcecastCase):
    """5. A source client streams through the onion; a listener through Tor gets the same bytes."""

    def test_a_wrong_source_password_is_refused_through_the_onion(self):
        self.ensure_info()
        password = W.info["source-password"]
        for label, wrong in (("another password", "wrong-password"), ("the password and one more character",
                             password + "x"), ("the password without its first character", password[1:]),
                             ("the admin password", self.admin_password())):
            r, tries = self.stream(wrong, "/root/refused.oga")
            self.expect(r.returncode == 2 and r.fields.get("source_status") == "401",
                        "icecast: through the onion, %s as source password gets 401 (probe exit %d, source "
                        "status %s, %d tries)" % (label, r.returncode, r.fields.get("source_status"), tries), r.stdout)

    def test_the_source_password_opens_no_other_mount(self):
        self.ensure_info()
        for other in ("/stream.ogg", MOUNT + "2", "/other.ogg"):
            r, tries = self.stream(W.info["source-password"], "/root/refused.oga", mount=other)
            self.expect(r.returncode == 2 and r.fields.get("source_status") == "401",
                        "icecast: through the onion, the source password at another mount (%s) gets 401 (probe "
                        "exit %d, source status %s, %d tries)" % (other, r.returncode, r.fields.get("source_status"),
                                                                  tries), r.stdout)

    def test_the_listener_through_tor_receives_the_same_bytes(self):
        sb = self.sb
        self.ensure_info()
        t = time.monotonic()
        r, tries = self.stream(W.info["source-password"], "/root/received.oga")
        timing("stream through the onion", time.monotonic() - t)
        f = r.fields
        self.expect(r.returncode == 0 and f.get("source_status") == "200",
                    "icecast: through the onion, the source password gets 200 (probe exit %d, %d tries)"
                    % (r.returncode, tries), r.stdout)
        self.expect(f.get("listener_status") == "200" and f.get("listener_content_type") == "application/ogg",
                    "icecast: a listener through Tor gets 200 application/ogg", r.stdout)
        size = sb.out("stat", "-c", "%s", OGG).strip()
        self.expect(f.get("listener_bytes") == size, "icecast: ... and as many bytes as the file (%s of %s)"
                    % (f.get("listener_bytes"), size), r.stdout)
        diff = sb.sh('cmp "$1" "$2" 2>&1 | head -n 3', OGG, "/root/received.oga").stdout
        self.expect(sb.ok("cmp", "-s", OGG, "/root/received.oga"),
                    "icecast: the listener received exactly the bytes of the Ogg file", diff)
        self.expect(f.get("second_listener_status") == "200",
                    "icecast: a second listener is let in (max-listeners %s)" % self.sb.option("icecast",
                                                                                             "max-listeners"),
                    r.stdout)
        errors = sb.journal("icecast2", priority="err")
        self.expect(W.info["source-password"] not in sb.journal("icecast2"),
                    "icecast2's journal does not hold the source password")
        if errors.strip():
            note("icecast2 logged errors:\n" + indent(errors))

    def test_without_the_credential_the_client_tor_is_refused(self):
        sb = self.sb
        self.ensure_info()
        sb.tornet("client-auth-remove", W.onion)
        sb.newnym()
        t, tries = time.monotonic(), 0
        while True:  # until tor has the descriptor and says why it cannot use it
            tries += 1
            r = sb.exec("python3", PROBE, W.info["address"], str(W.info["port"]), W.info["mount"], OGG,
                        "/root/noauth.oga", "--socks", W.socks, "--timeout", "120", input=W.info["source-password"],
                        timeout=600, merge=True)
            reply = fields(r.stdout).get("socks_reply")
            if r.returncode != 3 or reply == "0xF4" or time.monotonic() - t > 90:
                break
            sb.newnym()
            time.sleep(3)
        self.expect(r.returncode == 3 and reply == "0xF4",
                    "icecast: without a credential the client tor refuses: SOCKS 0xF4 (probe exit %d, %d tries)"
                    % (r.returncode, tries), r.stdout)
        self.give_credential()


class TheEnd(IcecastCase):
    """6. The daemon stayed up; every tor stops and the sandbox powers off."""

    def test_the_daemon_stayed_up(self):
        health = self.sb.daemon_health()
        self.expect("NRestarts=0" in health and "ActiveState=active" in health,
                    "tails-serverd is active and never restarted (%s)" % health)

    def test_every_tor_stops_and_the_sandbox_powers_off(self):
        self.expect(self.sb.poweroff(), "every tor stopped and the sandbox powered off")
