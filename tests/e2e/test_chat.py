"""The ephemeral chat service end to end, through a real (private) Tor network.

Set-up as in test_onion.py: the build staged into a throwaway sandbox, tornet (a private Tor
network with a client tor and a service tor) inside it, tails-serverd driving the service tor.
The guests are tests/probes/chat_probe.py, run in the sandbox: they reach the onion through the
client tor's SOCKS port, as Tor Browser would, two with a WebSocket (JavaScript on) and one with
forms and the streamed HTML page only (Tor Browser at "Safest").
  install/enable: nothing for apt to fetch; the service comes online.
  client authorization: a guest without a key is refused (SOCKS 0xF4), one with a key joins.
  room:     three guests see each other's joins, renames and messages byte-exact.
  limits:   size, rate and max-users; a guest that stops reading is dropped.
  idle:     a WebSocket guest idle for IDLE_SECONDS (default 120), four times the client tor's
            MaxCircuitDirtiness (cut to 30 s), stays connected.
  nothing stored: after a session, no file written since it began and no journal line holds a
            message or a name; after a restart the history is empty.
  kill -9:  systemd restarts the server with an empty room; the daemon says what happened.
Run by tests/scenario/run-scenario (ctest: e2e-chat); skipped without root, tor, tor-gencert
or python3-websockets.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import PROBES, Sandbox, ScenarioCase, TORNET, note  # noqa: E402

ONLINE_LIMIT = float(os.environ.get("E2E_ONLINE_LIMIT", "120"))
IDLE_SECONDS = int(os.environ.get("IDLE_SECONDS", "120"))
IDLE_DIRTINESS = 30  # the client tor's MaxCircuitDirtiness while a guest is idle
TN = "/run/tails-server-e2e-tornet"
PROBE = os.path.join(PROBES, "chat_probe.py")
UNIT = "tails-server-chat.service"


def skip_reason():
    for tool in ("tor", "tor-gencert"):
        if not shutil.which(tool):
            return "%s is missing" % tool
    if subprocess.run(["/usr/bin/python3", "-c", "import websockets"], capture_output=True).returncode != 0:
        return "python3-websockets is missing"
    return None


class World:
    sb = None
    socks = ""
    key_b64 = ""


W = World


def setUpModule():
    sb = W.sb = Sandbox(name="chat")
    with sb.setting_up():
        _, W.socks = sb.start_onion_stack(TN)


def tearDownModule():
    if W.sb:
        W.sb.cleanup()


class ChatCase(ScenarioCase):
    @property
    def sb(self):
        return W.sb

    def target(self):
        address = self.sb.address_of("chat")
        return "socks:%s:%s:%s" % (W.socks, address, self.sb.option("chat", "virtual-port") or "80")

    def probe(self, scenario, *args, timeout=900):
        """Runs chat_probe.py in the sandbox through the client tor; each of its checks becomes
        one of ours. Returns the parsed result."""
        r = self.sb.exec("/usr/bin/python3", PROBE, self.target(), scenario, *args, timeout=timeout)
        try:
            result = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.require(False, "chat_probe.py %s printed its result" % scenario, r.stdout[-2000:] + r.stderr[-2000:])
        for what, ok, detail in result["checks"]:
            self.expect(ok, what, detail)
        return result

    def ensure_guest_key(self):
        """A client key for the guests, held by the client tor (Flags=Permanent)."""
        if W.key_b64:
            return
        r = self.sb.ts("client", "add", "chat", "guests")
        self.require(r.returncode == 0, "client add chat guests", r.stdout)
        m = re.search(r"ONION_CLIENT_AUTH_ADD ([a-z2-7]{56})(?:\.onion)? x25519:([A-Za-z0-9+/=]{43,44})", r.stdout)
        self.require(m is not None, "client add prints the credential for a tor client", r.stdout)
        W.key_b64 = m.group(2)
        r = self.sb.tornet("control", "client", "ONION_CLIENT_AUTH_ADD", m.group(1), "x25519:" + W.key_b64,
                           "Flags=Permanent")
        self.require(r.returncode == 0, "the client tor takes the key", r.stdout)
        self.ensure_online("chat", ONLINE_LIMIT)

    def ensure_room(self, **options):
        self.ensure_online("chat", ONLINE_LIMIT)
        changed = False
        for name, value in options.items():
            name = name.replace("_", "-")
            if self.sb.option("chat", name) != str(value):
                r = self.sb.ts("set-option", "chat", name, str(value))
                self.require(r.returncode == 0, "set-option chat %s %s" % (name, value), r.stdout)
                changed = True
        if changed:
            self.ensure_online("chat", ONLINE_LIMIT)
        self.ensure_guest_key()

    # -- the tests, in order ------------------------------------------------------------------
    def test_1_install_and_enable(self):
        sb = self.sb
        r = sb.ts("install", "chat")
        self.expect(r.returncode == 0, "install chat (nothing for apt to fetch)", r.stdout)
        self.expect(sb.status_field("chat", "installed") == "true", "chat counts as installed")
        r = sb.ts("enable", "chat")
        self.expect(r.returncode == 0, "enable chat", r.stdout)
        reached, seen = sb.wait_state("chat", "online", ONLINE_LIMIT)
        self.require(reached, "chat comes online", seen)
        info = sb.tails_server("connection-info", "chat") or {}
        text = json.dumps(info)
        address = sb.address_of("chat")
        self.expect(("http://%s/" % address) in text, "the connection info gives the URL", text)
        self.expect("Tor Browser" in text and "client add chat" in text,
                    "the connection info says how to open it and how to get a key", text)
        unit = sb.out("systemctl", "cat", UNIT)
        for line in ("DynamicUser=yes", "ProtectSystem=strict", "MemoryDenyWriteExecute=yes", "LimitCORE=0"):
            self.expect(line in unit, "the unit has " + line)
        user = sb.unit_property(UNIT, "User")
        pid = sb.unit_property(UNIT, "MainPID")
        ps_user = sb.out("ps", "-o", "user=", "-p", pid).strip()
        self.expect(ps_user not in ("root", "") and ps_user == user, "the server runs as its dynamic user",
                    "User=%s ps: %s" % (user, ps_user))

    def test_2_client_authorization(self):
        sb = self.sb
        self.ensure_online("chat", ONLINE_LIMIT)
        address = sb.address_of("chat")
        if not W.key_b64:
            r = sb.exec(TORNET, "fetch", TN, address, "80", "/", "--timeout", "90")
            self.expect(r.returncode == 44, "a guest without a key is refused (SOCKS 0xF4)",
                        "exit %d %s" % (r.returncode, r.stderr[-500:]))
        self.ensure_guest_key()
        t = time.monotonic()
        while True:
            r = sb.exec(TORNET, "fetch", TN, address, "80", "/", "--timeout", "90")
            if r.returncode == 0 or time.monotonic() - t > 120:
                break
            sb.newnym()
            time.sleep(2)
        self.expect(r.returncode == 0 and "Chat room" in r.stdout, "a guest with the key gets the page",
                    "exit %d %s" % (r.returncode, (r.stdout + r.stderr)[-800:]))

    def test_3_three_guests(self):
        self.ensure_room(history=0, max_users=20)
        self.probe("room")

    def test_4_limits(self):
        self.ensure_room(max_users=3)
        self.probe("limits")

    def test_5_slow_reader_is_dropped(self):
        self.ensure_room(max_users=20)
        got = self.probe("slow-reader")
        note("slow reader: %s" % got.get("slow_reader"))

    def test_6_idle_guest_stays(self):
        """Tor expires a circuit MaxCircuitDirtiness seconds after its last use (for onion services)
        unless a stream is open on it; the client tor's is cut to IDLE_DIRTINESS (default 10 min),
        and the guest stays idle for IDLE_SECONDS, longer."""
        sb = self.sb
        self.ensure_room(max_users=20)
        r = sb.tornet("control", "client", "SETCONF", "MaxCircuitDirtiness=%d" % IDLE_DIRTINESS)
        self.require(r.returncode == 0, "the client tor's MaxCircuitDirtiness is %d s" % IDLE_DIRTINESS, r.stdout)
        try:
            note("an idle WebSocket guest: %d s" % IDLE_SECONDS)
            self.probe("idle", str(IDLE_SECONDS))
        finally:
            sb.tornet("control", "client", "RESETCONF", "MaxCircuitDirtiness")

    def test_7_nothing_is_stored(self):
        sb = self.sb
        self.ensure_room(history=20, max_users=20)
        stamp = "/run/chat-nothing-stored.stamp"
        self.require(sb.ok("touch", stamp), "a time stamp before the session")
        time.sleep(1.1)
        marks = ["nm%s" % secrets.token_hex(8) for _ in range(3)]
        name = "nm" + secrets.token_hex(6)
        self.probe("say", name, *marks)
        got = self.probe("history")
        texts = [e.get("text") for e in got.get("history") or []]
        self.expect(all(m in texts for m in marks), "a new guest gets the history (it is in memory)", str(texts))
        # Every file written since the stamp, on every mount but /proc and /sys (the overlay's
        # upper layer, /run, /tmp, /dev/shm, the journal files), and the journal as text.
        script = ('find / \\( -path /proc -o -path /sys \\) -prune -o -type f -newer "$1" -print0 '
                  '| xargs -0r grep -lF -e "$2" -e "$3" -e "$4" -e "$5" 2>/dev/null; '
                  'journalctl -o export --no-pager | grep -caF -e "$2" -e "$3" -e "$4" -e "$5"')
        r = sb.exec("bash", "-c", script, "_", stamp, name, *marks, timeout=600)
        lines = r.stdout.strip().splitlines()
        files, journal_hits = lines[:-1], lines[-1] if lines else "?"
        self.expect(files == [], "no file written since the session began holds a message or a name",
                    "\n".join(files))
        self.expect(journal_hits == "0", "no journal entry holds a message or a name", r.stdout[-500:])
        written = sb.out("bash", "-c", 'find / \\( -path /proc -o -path /sys \\) -prune -o -type f -newer "$1" '
                                       '-print | wc -l', "_", stamp).strip()
        note("files written during the session (searched): %s" % written)
        r = sb.ts("disable", "chat")
        self.expect(r.returncode == 0, "disable chat", r.stdout)
        self.ensure_online("chat", ONLINE_LIMIT)
        got = self.probe("history")
        self.expect(got.get("history") == [], "after a restart the history is empty", str(got.get("history")))

    def test_8_kill_9(self):
        sb = self.sb
        self.ensure_room(history=20)
        self.probe("say", "before-kill", "said before the kill")
        monitor = sb.start_monitor("chat", "/run/chat-monitor.log")
        restarts = int(sb.unit_property(UNIT, "NRestarts") or "0")
        pid = sb.unit_property(UNIT, "MainPID")
        t = time.time()
        r = sb.run("kill", "-9", pid)
        self.require(r.returncode == 0, "kill -9 the chat server (PID %s)" % pid, r.stdout)
        reached = bool(self.wait(lambda: int(sb.unit_property(UNIT, "NRestarts") or "0") > restarts and
                                 sb.unit_property(UNIT, "MainPID") not in ("0", pid), 60))
        self.expect(reached, "systemd restarted the server", sb.journal(UNIT, lines=20))
        reached, seen = sb.wait_state("chat", "online", ONLINE_LIMIT)
        self.expect(reached, "chat is online again", seen)
        got = self.probe("history")
        others = set(got.get("guests") or []) - {got.get("name")}
        self.expect(got.get("history") == [] and not others, "the room is empty after the restart", json.dumps(got))
        log = sb.journal("tails-serverd", lines=200)
        self.expect("chat:" in log and "withdrawn" in log, "the daemon's log says the server stopped and its onion "
                    "was withdrawn until it listened again", log[-1500:])
        states = [s.rstrip(":") for s in monitor.states("chat", after=t)]
        monitor.stop()
        self.expect("stopped-unexpectedly" in states and states[-1] == "online",
                    "the monitor says the server stopped unexpectedly, then that it is online again", str(states))

    @staticmethod
    def wait(predicate, timeout):
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            if predicate():
                return True
            time.sleep(0.5)
        return False
