"""XMPP federation between two Tails Servers through a private Tor network.

Two sandboxes, A and B (each its own systemd, tails-serverd, Prosody and tor, in its own network
namespace), joined only by a veth pair that carries the Tor network: A runs tornet's authority and
relays on its end (tornet --address), B's tors join it (tornet --join). Each machine's "service
tor" both publishes its onions and serves the SOCKS port that its Prosody uses (tor_socks), as the
one tor of a Tails does. The users are tests/probes/xmpp_session.py, run in their server's
sandbox, through that sandbox's client tor, with a client key of their server's onion.
  refused:  before add-peer, alice's message to bob comes back as an error that names the key.
  peers:    'client add' and 'add-peer' both ways, as the README says; presence subscription and
            messages both ways, byte-exact (non-ASCII, XML specials).
  room:     bob (on B) joins a room on A's rooms.<A> component; alice's and carol's groupchat
            messages reach him.
  only tor: Prosody's account made no connection but to its tor's SOCKS port (the firewall's
            counters); the server-to-server streams seen on lo carry neither host name nor the
            machines' addresses.
  offline:  B's prosody off while alice sends: an error at once; back on, the next one arrives.
  tor restart: B's tor restarts; federation comes back without anyone doing anything on A or B.
  remove:   remove-peer on A: alice's messages to bob fail again.
Run by tests/scenario/run-scenario (ctest: e2e-federation); skipped without root, tor or
tor-gencert.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import (PROBES, SANDBOX, Sandbox, ScenarioCase, link_sandboxes, note,  # noqa: E402
                             wait_until)

ONLINE_LIMIT = float(os.environ.get("E2E_ONLINE_LIMIT", "180"))
TN = "/run/tails-server-e2e-tornet"
JOIN = "/run/tails-server-e2e-join"
ADDRESS = {"a": "10.77.0.1", "b": "10.77.0.2"}
HOSTNAME = {"a": "tsfed-host-a", "b": "tsfed-host-b"}
SESSION = os.path.join(PROBES, "xmpp_session.py")
CAPTURE = os.path.join(PROBES, "lo_capture.py")
# Non-ASCII (accents, a snowman, a character outside the BMP, right-to-left) and XML specials.
TEXT_AB = "héllo bob ☃ 𝄞 <b>&amp;</b> 'single' \"double\" ]]> שלום"
TEXT_BA = "grüße alice — <x/> & &lt; 🎉"
PASSWORDS = {"alice": "alice pässword 1", "carol": "carol password 2", "bob": "bob password 3"}
KEY_LINE = re.compile(r"[a-z2-7]{56}(?:\.onion)?:descriptor:x25519:[A-Za-z2-7]{52}")
ADD_LINE = re.compile(r"ONION_CLIENT_AUTH_ADD ([a-z2-7]{56})(?:\.onion)? x25519:([A-Za-z0-9+/]{43}=)")


def skip_reason():
    for tool in ("tor", "tor-gencert", "ip"):
        if not shutil.which(tool):
            return "%s is missing" % tool
    return None


def x(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;"))


class World:
    a = None
    b = None
    socks = {}     # "a"/"b": the client tor's SOCKS address in that sandbox
    onion = {}     # "a"/"b": prosody's onion address
    vport = {}
    captures = {}  # "a"/"b": the capture file in that sandbox
    users = []


W = World


class User:
    """A running xmpp_session.py in its server's sandbox; its events collected by a thread."""

    def __init__(self, sb, side, name):
        self.name, self.side = name, side
        self.jid = "%s@%s" % (name, W.onion[side])
        self.events, self.lock = [], threading.Lock()
        self.proc = subprocess.Popen(
            [SANDBOX, "exec", sb.state, "--", "python3", SESSION, "--socks", W.socks[side], "--timeout", "150",
             W.onion[side], W.vport[side], W.onion[side], name, "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.proc.stdin.write((PASSWORDS[name] + "\n").encode())
        self.proc.stdin.flush()
        threading.Thread(target=self._read, daemon=True).start()
        W.users.append(self)

    def _read(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append(event)

    def ready(self, timeout=200):
        got = wait_until(lambda: self.find(lambda e: "ready" in e or "failed" in e), timeout, 0.2)
        return bool(got and got.get("ready")), got

    def send(self, xml):
        """Writes one stanza; False when the session has ended."""
        try:
            self.proc.stdin.write((xml.replace("\n", " ") + "\n").encode())
            self.proc.stdin.flush()
            return True
        except OSError:
            return False

    def find(self, predicate, after=0.0):
        with self.lock:
            for event in self.events:
                if event.get("t", after + 1) > after and predicate(event):
                    return event
        return None

    def wait(self, predicate, timeout, after=0.0):
        return wait_until(lambda: self.find(predicate, after), timeout, 0.2)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def transcript(self, limit=12):
        with self.lock:
            return "\n".join(json.dumps({k: v for k, v in e.items() if k != "xml"}, ensure_ascii=False)
                             for e in self.events[-limit:])


def message_from(jid, body=None, kind=None):
    def match(e):
        return (e.get("name") == "message" and (e.get("from") or "").split("/")[0] == jid
                and (body is None or e.get("body") == body) and (kind is None or e.get("type") == kind))
    return match


def error_reply(e):
    return e.get("name") == "message" and e.get("type") == "error"


def close_streams():
    """Both Prosodies close their server-to-server streams to each other."""
    for sb, other in ((W.a, W.onion["b"]), (W.b, W.onion["a"])):
        sb.run("prosodyctl", "--config", "/etc/prosody/prosody.cfg.lua", "shell", "s2s:closeall(%r)" % other,
               timeout=60)


def setUpModule():
    W.a, W.b = Sandbox(name="fed-a"), Sandbox(name="fed-b")
    with W.a.setting_up(), W.b.setting_up():
        for side, sb in (("a", W.a), ("b", W.b)):
            sb.stage()
            sb.boot(hostname=HOSTNAME[side])
        link_sandboxes(W.a, W.b, ADDRESS["a"], ADDRESS["b"])
        took, W.socks["a"] = W.a.start_onion_stack(TN, tornet_args=["--address", ADDRESS["a"], "--service-socks"],
                                                   booted=True, timeout=240)
        note("A: the Tor network (authority and relays on %s) ready in %.0f s" % (ADDRESS["a"], took))
        W.b.sh('cat >"$1"', JOIN, input=W.a.cat(TN + "/torrc-fragment"))
        took, W.socks["b"] = W.b.start_onion_stack(TN, tornet_args=["--join", JOIN, "--service-socks"],
                                                   booted=True, timeout=240)
        note("B: its tors joined A's network through the veth pair in %.0f s" % took)
        for side, sb in (("a", W.a), ("b", W.b)):
            for argv in (("install", "prosody"), ("set-option", "prosody", "federation", "true"),
                         ("enable", "prosody")):
                r = sb.ts(*argv)
                if r.returncode != 0:
                    raise AssertionError("%s: tails-server %s\n%s" % (side, " ".join(argv), r.stdout))
            W.onion[side] = sb.address_of("prosody")
            W.vport[side] = sb.option("prosody", "virtual-port") or "5222"
            for name in (("alice", "carol") if side == "a" else ("bob",)):
                r = sb.ts("run", "prosody", "add-account", name, input=PASSWORDS[name])
                if r.returncode != 0:
                    raise AssertionError("%s: add-account %s\n%s" % (side, name, r.stdout))
            # The users' own key for their server's onion, in their sandbox's client tor.
            r = sb.ts("client", "add", "prosody", "users")
            m = ADD_LINE.search(r.stdout)
            if not m:
                raise AssertionError("%s: client add prosody users\n%s" % (side, r.stdout))
            sb.tornet("control", "client", "ONION_CLIENT_AUTH_ADD", m.group(1), "x25519:" + m.group(2),
                      "Flags=Permanent")
            # Every payload to and from prosody's s2s port and the SOCKS port it uses.
            s2s = sb.option("prosody", "s2s-port")
            socks = sb.tornet_env["SERVICE_SOCKS_PORT"]
            W.captures[side] = "/run/tails-server-e2e-capture"
            sb.exec("bash", "-c", 'setsid python3 "$1" "$2" "$3" "$4" </dev/null >/dev/null 2>&1 &',
                    "_", CAPTURE, W.captures[side], s2s, socks)


def tearDownModule():
    for user in W.users:
        user.close()
    for sb in (W.b, W.a):
        if sb:
            sb.cleanup()


class FederationCase(ScenarioCase):
    sb = None

    def online(self, side, limit=ONLINE_LIMIT):
        sb = W.a if side == "a" else W.b
        reached, seen = sb.wait_state("prosody", "online", limit)
        self.assertTrue(reached, "precondition: %s's prosody online within %d s (seen: %s)" % (side, limit, seen))

    def user(self, side, name, fresh=False):
        """name logged in to their server (side) through Tor, with initial presence sent; with
        fresh, a new session (the old one may be dead without knowing it yet)."""
        for user in W.users:
            if user.name == name and user.proc.poll() is None and not user.find(lambda e: "closed" in e):
                if not fresh:
                    return user
                user.close()
        sb = W.a if side == "a" else W.b
        for attempt in range(3):
            user = User(sb, side, name)
            ok, event = user.ready()
            if ok:
                break
            # After the server's tor restarted, the user's own tor may stall on the old
            # introduction points (as A's did, tor/stalled_rendezvous.h): as a user would, a new
            # identity (NEWNYM; their key is Permanent and stays) and again.
            user.close()
            note("%s could not log in (%s); NEWNYM on the client tor and again" % (name, event))
            sb.newnym()
            time.sleep(2)
        self.assertTrue(ok, "precondition: %s logs in to %s through Tor: %s" % (name, side, event))
        # As a client does: the roster (so that the server pushes its changes), then presence.
        user.send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>")
        user.send("<presence/>")
        return user

    def deliver(self, sender, receiver, body, limit):
        """sender sends body to receiver (type chat) until it arrives or limit seconds pass; one
        new message each 30 s, as a user would resend. (event, tries, errors, seconds)."""
        t0, tries, errors = time.monotonic(), 0, []
        while time.monotonic() - t0 < limit and sender.proc.poll() is None:
            tries += 1
            sent = time.time()
            sender.send("<message type='chat' to='%s' id='m%d'><body>%s</body></message>"
                        % (x(receiver.jid), tries, x(body)))
            got = receiver.wait(message_from(sender.jid, body), min(30, limit - (time.monotonic() - t0)), sent)
            if got:
                return got, tries, errors, time.monotonic() - t0
            bounced = sender.find(error_reply, sent)
            if bounced:
                errors.append(bounced.get("error"))
        return None, tries, errors, time.monotonic() - t0

    def key_for(self, owner, peer_name):
        """'tails-server client add prosody server-X' on owner: the key line it prints."""
        sb = W.a if owner == "a" else W.b
        listing = sb.ts("client", "list", "prosody").stdout
        if peer_name in listing:
            sb.ts("client", "remove", "prosody", peer_name)
        r = sb.ts("client", "add", "prosody", peer_name)
        m = KEY_LINE.search(r.stdout)
        self.assertTrue(m, "precondition: client add prosody %s on %s\n%s" % (peer_name, owner, r.stdout))
        return m.group(0)

    def add_peers(self):
        """The README's flow both ways (once)."""
        if getattr(W, "peers", False):
            return
        for owner, other in (("a", "b"), ("b", "a")):
            line = self.key_for(owner, "server-" + other.upper())
            self.online(owner)
            sb = W.b if owner == "a" else W.a
            r = sb.ts("run", "prosody", "add-peer", W.onion[owner], input=line + "\n")
            self.require(r.returncode == 0, "%s: run prosody add-peer <%s's address> (key on stdin)"
                         % (other.upper(), owner.upper()), r.stdout)
        W.peers = True


class T1Refused(FederationCase):
    def test_refused_before_keys(self):
        self.online("a")
        self.online("b")
        alice = self.user("a", "alice")
        info = W.a.ts("connection-info", "prosody").stdout
        self.expect("alice@" not in info and "NAME@" + W.onion["a"] in info and "rooms." + W.onion["a"] in info
                    and "add-peer" in info, "connection info: the JID form, the rooms, the add-peer command", info)
        sent = time.time()
        alice.send("<message type='chat' to='bob@%s' id='early'><body>too early</body></message>" % W.onion["b"])
        bounced = alice.wait(error_reply, 200, sent)
        self.expect(bool(bounced), "before add-peer: alice's message to bob comes back as an error",
                    alice.transcript())
        why = (bounced or {}).get("error", "")
        self.expect(why.startswith("remote-server-not-found") and "key" in why,
                    "the error is remote-server-not-found and names the missing client key", why)


class T2Peers(FederationCase):
    def test_presence_and_messages_both_ways(self):
        self.online("a")
        self.online("b")
        self.add_peers()
        peers = W.a.ts("run", "prosody", "list-peers").stdout
        self.expect(W.onion["b"] in peers, "A: list-peers names B", peers)
        alice, bob = self.user("a", "alice"), self.user("b", "bob")
        sent = time.time()
        alice.send("<presence type='subscribe' to='%s'/>" % bob.jid)
        asked = bob.wait(lambda e: e.get("name") == "presence" and e.get("type") == "subscribe"
                         and (e.get("from") or "").startswith(alice.jid), 240, sent)
        if not asked:  # the first stream may still have been failing over from before the keys
            alice.send("<presence type='subscribe' to='%s'/>" % bob.jid)
            asked = bob.wait(lambda e: e.get("name") == "presence" and e.get("type") == "subscribe", 180, sent)
        self.require(bool(asked), "bob receives alice's subscription request (A to B through Tor)",
                     alice.transcript() + "\n--- bob:\n" + bob.transcript())
        bob.send("<presence type='subscribed' to='%s'/>" % alice.jid)
        bob.send("<presence type='subscribe' to='%s'/>" % alice.jid)
        # Prosody hands an approval to the client as a roster push (RFC 6121 3.1.6).
        got = alice.wait(lambda e: (e.get("name") == "iq" and bob.jid in e.get("xml", "")
                                    and re.search(r"subscription=.(to|both).", e.get("xml", "")))
                         or (e.get("type") == "subscribed" and (e.get("from") or "").startswith(bob.jid)), 180, sent)
        self.expect(bool(got), "alice receives bob's approval: bob is in her roster with a subscription "
                    "(B to A through Tor)", alice.transcript())
        got = alice.wait(lambda e: e.get("name") == "presence" and e.get("type") is None
                         and (e.get("from") or "").startswith(bob.jid + "/"), 120, sent)
        self.expect(bool(got), "alice then sees bob available", alice.transcript())
        if bob.wait(lambda e: e.get("type") == "subscribe" and (e.get("from") or "").startswith(alice.jid), 1):
            alice.send("<presence type='subscribed' to='%s'/>" % bob.jid)
        got, tries, errors, took = self.deliver(alice, bob, TEXT_AB, 180)
        self.expect(got is not None and got.get("body") == TEXT_AB,
                    "bob receives alice's message byte-exact (%d tries, %.1f s)" % (tries, took),
                    "errors: %s\n%s" % (errors, bob.transcript()))
        got, tries, errors, took = self.deliver(bob, alice, TEXT_BA, 180)
        self.expect(got is not None and got.get("body") == TEXT_BA,
                    "alice receives bob's answer byte-exact (%d tries, %.1f s)" % (tries, took),
                    "errors: %s\n%s" % (errors, alice.transcript()))


class T3Room(FederationCase):
    def test_bob_joins_a_room_on_a(self):
        self.add_peers()
        alice, carol, bob = self.user("a", "alice"), self.user("a", "carol"), self.user("b", "bob")
        room = "meeting@rooms." + W.onion["a"]
        sent = time.time()
        alice.send("<presence to='%s/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>" % room)
        created = alice.wait(lambda e: e.get("name") == "presence" and (e.get("from") or "") == room + "/alice",
                             60, sent)
        self.require(bool(created), "alice creates the room on A's rooms component", alice.transcript())
        alice.send("<iq type='set' to='%s' id='cfg'><query xmlns='http://jabber.org/protocol/muc#owner'>"
                   "<x xmlns='jabber:x:data' type='submit'/></query></iq>" % room)
        alice.wait(lambda e: e.get("name") == "iq" and e.get("id") == "cfg", 30, sent)
        carol.send("<presence to='%s/carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>" % room)
        carol.wait(lambda e: (e.get("from") or "") == room + "/carol", 60, sent)
        joined = None
        for _ in range(3):
            bob.send("<presence to='%s/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>" % room)
            joined = bob.wait(lambda e: e.get("name") == "presence" and (e.get("from") or "") == room + "/bob"
                              and e.get("type") is None, 90, sent)
            if joined:
                break
        self.require(bool(joined), "bob (on B) joins %s through Tor" % room, bob.transcript())
        joined_at = time.time()
        texts = {"alice": "alice to the room: <ok> & ☃", "carol": "carol to the room: ¿qué? \"yes\""}
        for user in (alice, carol):
            user.send("<message type='groupchat' to='%s'><body>%s</body></message>" % (room, x(texts[user.name])))
        for name, text in texts.items():
            got = bob.wait(lambda e, n=name, t=text: e.get("name") == "message" and e.get("type") == "groupchat"
                           and e.get("from") == room + "/" + n and e.get("body") == t, 120, joined_at)
            self.expect(bool(got), "bob receives %s's groupchat message byte-exact" % name, bob.transcript())


class T4OnlyTor(FederationCase):
    def test_prosody_reached_only_tor(self):
        self.add_peers()
        for side, sb in (("a", W.a), ("b", W.b)):
            rules = sb.out("iptables", "-w", "-L", "TAILS-SERVER-OUT", "-v", "-n", "-x")
            socks = sb.tornet_env["SERVICE_SOCKS_PORT"]
            # Prosody's account: the two rules before the others (core/firewall).
            owner = [line for line in rules.splitlines() if "owner UID match" in line][:2]
            accepted = [l for l in owner if l.split()[2] == "ACCEPT" and "dpt:%s " % socks in l + " "]
            rejected = [l for l in owner if l.split()[2] == "REJECT"]
            self.expect(len(accepted) == 1 and int(accepted[0].split()[0]) > 0,
                        "%s: prosody's account connected to its tor's SOCKS port (counter > 0)" % side.upper(), rules)
            self.expect(len(rejected) == 1 and int(rejected[0].split()[0]) == 0,
                        "%s: and made no other connection (REJECT counter 0)" % side.upper(), rules)
            lines = sb.out("cat", W.captures[side]).splitlines()
            data = b"".join(bytes.fromhex(l.split()[2]) for l in lines if len(l.split()) == 3)
            self.expect(b"<stream:stream" in data or b"jabber:server" in data,
                        "%s: the capture holds the server-to-server streams (%d bytes)" % (side.upper(), len(data)))
            leaks = [s for s in (HOSTNAME["a"], HOSTNAME["b"], ADDRESS["a"], ADDRESS["b"])
                     if s.encode() in data]
            self.expect(not leaks, "%s: they carry neither host name nor the machines' addresses" % side.upper(),
                        "found: %s" % leaks)


class T5Offline(FederationCase):
    def test_peer_offline_then_back(self):
        self.add_peers()
        alice = self.user("a", "alice")
        self.user("b", "bob")
        r = W.b.ts("disable", "prosody")
        self.require(r.returncode == 0, "B: disable prosody", r.stdout)
        sent = time.time()
        alice.send("<message type='chat' to='bob@%s' id='off'><body>are you there?</body></message>" % W.onion["b"])
        bounced = alice.wait(error_reply, 240, sent)
        took = time.time() - sent
        self.expect(bool(bounced) and (bounced.get("error") or "").startswith("remote-server-not-found"),
                    "B off: alice's message comes back as remote-server-not-found (after %.0f s), as the README "
                    "says" % took, alice.transcript())
        r = W.b.ts("enable", "prosody")
        self.require(r.returncode == 0, "B: enable prosody", r.stdout)
        self.online("b")
        bob = self.user("b", "bob")
        got, tries, errors, took = self.deliver(alice, bob, "back again? ✓", 300)
        self.expect(got is not None, "B back: alice's next message reaches bob (%d tries, %.0f s)" % (tries, took),
                    "errors: %s" % errors)


class T6TorRestart(FederationCase):
    def test_federation_recovers_after_b_tor_restarts(self):
        self.add_peers()
        r = W.b.tornet("restart-service-tor")
        self.require(r.returncode == 0, "B: its tor restarts", r.stdout)
        self.online("b", 240)
        journal = W.b.journal("tails-serverd", lines=200)
        self.expect("client key for " + W.onion["a"][:56] in journal or "client key for " + W.onion["a"] in journal,
                    "B's daemon gave A's key to the new tor", journal[-3000:])
        # bob's session went through B's onion: he logs in again, as his client would.
        alice, bob = self.user("a", "alice"), self.user("b", "bob", fresh=True)
        got, tries, errors, took = self.deliver(alice, bob, "after the restart 1", 360)
        note("A to B after B's tor restart: %s after %.0f s, %d tries, errors %s" % (
            "delivered" if got else "NOT delivered", took, tries, errors))
        if got is None:
            note(W.a.sh('grep -h "$1" "$2"/service/info.log "$2"/service/notice.log | tail -40', W.onion["b"][:20],
                        TN).stdout)
        self.expect(got is not None, "A to B works again without user action (%.0f s)" % took, bob.transcript())
        got, tries, errors, took = self.deliver(bob, alice, "after the restart 2", 240)
        self.expect(got is not None, "B to A works again (%.0f s)" % took, alice.transcript())


class T6bStalledRendezvous(FederationCase):
    def test_a_rendezvous_that_never_completes_is_closed(self):
        """B's tor freezes after A's tor fetched its descriptor, then is replaced: the introduction
        point acknowledges A's INTRODUCE1 (B's old introduction circuit is still up), the
        RENDEZVOUS2 never comes, and A's tor would attach every new stream for B to that circuit.
        A's daemon closes it (tor/stalled_rendezvous.h)."""
        self.add_peers()
        alice, bob = self.user("a", "alice"), self.user("b", "bob")
        got, _, _, _ = self.deliver(alice, bob, "before the freeze", 120)
        self.require(got is not None, "precondition: A to B works (A's tor holds B's descriptor)")
        close_streams()
        # A's tor would reuse its joined rendezvous circuit to B: close it, so it introduces anew.
        status = W.a.tornet("control", "service", "GETINFO", "circuit-status", timeout=30).stdout
        for line in status.splitlines():
            if "PURPOSE=HS_CLIENT_REND" in line and "REND_QUERY=" + W.onion["b"][:56] in line:
                W.a.tornet("control", "service", "CLOSECIRCUIT", line.split("=", 1)[-1].split()[0]
                           if line.startswith("250") else line.split()[0], timeout=30)
        tor = W.b.sh('sed -n "s/^service //p" "$1"/pids', TN).stdout.strip()
        self.require(tor.isdigit() and W.b.ok("kill", "-STOP", tor), "B's tor frozen (pid %s)" % tor)
        alice.send("<message type='chat' to='%s' id='frozen'><body>frozen</body></message>" % x(bob.jid))

        def waiting():
            status = W.a.tornet("control", "service", "GETINFO", "circuit-status", timeout=30).stdout
            return [l for l in status.splitlines() if "HSCR_ESTABLISHED_WAITING" in l and W.onion["b"][:56] in l]
        stalled = wait_until(waiting, 60, 1)
        self.require(bool(stalled), "A's tor got an INTRODUCE_ACK for B and waits for the rendezvous")
        W.b.run("kill", "-KILL", tor)
        r = W.b.tornet("restart-service-tor")
        self.require(r.returncode == 0, "B: a new tor replaces the frozen one", r.stdout)
        self.online("b", 240)
        bob = self.user("b", "bob", fresh=True)
        got, tries, errors, took = self.deliver(alice, bob, "after the stall", 150)
        journal = W.a.journal("tails-serverd", lines=200)
        self.expect("which waited for a peer's onion to answer" in journal,
                    "A's daemon closed the stalled rendezvous circuit", journal[-2000:])
        self.expect(got is not None, "A to B works again (%.0f s, %d tries)" % (took, tries), "errors: %s" % errors)


class T7RemovePeer(FederationCase):
    def test_remove_peer_stops_it(self):
        self.add_peers()
        r = W.a.ts("run", "prosody", "remove-peer", W.onion["b"])
        self.require(r.returncode == 0, "A: run prosody remove-peer <B's address>", r.stdout)
        peers = W.a.ts("run", "prosody", "list-peers").stdout
        self.expect(W.onion["b"] not in peers, "A: list-peers no longer names B", peers)
        alice = self.user("a", "alice")
        sent = time.time()
        alice.send("<message type='chat' to='bob@%s' id='gone'><body>still there?</body></message>" % W.onion["b"])
        bounced = alice.wait(error_reply, 240, sent)
        self.expect(bool(bounced) and "remote-server-not-found" in (bounced.get("error") or ""),
                    "after remove-peer: alice's message comes back as an error", alice.transcript())
