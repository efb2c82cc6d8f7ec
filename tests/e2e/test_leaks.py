"""What the services reveal to their clients (DESIGN §12's anonymity goals, issue 15), looked at from
the outside: through the onion, as a client would connect.

Set-up (setUpModule): the build staged into a throwaway sandbox (tests/sandbox/sandbox) with a
distinctive host name (SANDBOX_HOSTNAME), a "LAN" interface with a private IPv4 and a global IPv6
address, and a distinctive time zone; the private Tor network (tests/tor-network/tornet) inside it;
tails-serverd driving its service tor. Then, for every installed plugin, through the table
LEAK_PROBES (keyed by plugin name: a plugin without an entry FAILS the test, it is not skipped):
the service is enabled, gets a client, and tests/probes/leak_probe.py connects to its onion through
the client tor's SOCKS port with that client's key, recording everything the service sends (stream
headers, banners, version and disco replies, TLS certificates, HTTP headers and error pages,
Mumble's Version message). None of it may hold the host name, an address of an interface other than
loopback, the OS or kernel (uname -r, "Debian", "Linux", "bookworm"), the time zone or the Tails
user's name (amnesia). Then: nothing that the services run listens beyond loopback (allow-lan is
off), nothing uses mDNS (UDP 5353, the mDNS groups, avahi, murmurd's bonjour), and murmurd wrote no
SuperUser password to the journal or its log on its first start.

Run by tests/scenario/run-scenario (ctest: e2e-leaks); skipped without root, tor or tor-gencert.
"""

import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import PROBES, Sandbox, ScenarioCase, ScenarioError, indent, note  # noqa: E402

ADD_LINE = re.compile(r"ONION_CLIENT_AUTH_ADD ([a-z2-7]{56}(?:\.onion)?) x25519:([A-Za-z0-9+/=]{43,44})")

ONLINE_LIMIT = float(os.environ.get("E2E_ONLINE_LIMIT", "120"))
REACH_LIMIT = float(os.environ.get("LEAK_REACH_LIMIT", "240"))  # the probe's retries through the onion
TN = "/run/tails-server-e2e-tornet"
HOSTNAME = "ts-leak-7c3q9"
TIME_ZONE = "Pacific/Chatham"  # +12:45, a name and offset no test data holds by chance
LAN_V4, LAN_V6 = "192.168.213.57", "2001:db8:4c:2::57"
PROSODY_ACCOUNT, PROSODY_PASSWORD = "leakprobe", "leak-probe-pw-7"
CLIENT = "leakprobe"


def skip_reason():
    for tool in ("tor", "tor-gencert", "openssl"):
        if not shutil.which(tool):
            return "%s is missing" % tool
    return None


class World:
    sb = None
    socks_port = ""
    secrets = []  # (label, text)


W = World


def setUpModule():
    os.environ["SANDBOX_HOSTNAME"] = HOSTNAME
    sb = W.sb = Sandbox(name="leaks")
    with sb.setting_up():
        sb.stage()
        sb.boot()
        r = sb.sh('ip link add lan0 type dummy && ip link set lan0 up || ip link set lo up; '
                  'dev=$(ip -o link show lan0 >/dev/null 2>&1 && echo lan0 || echo lo); '
                  'ip addr add "$1/24" dev "$dev" && ip -6 addr add "$2/64" dev "$dev" nodad',
                  LAN_V4, LAN_V6)
        if r.returncode != 0:
            raise ScenarioError("cannot give the sandbox a LAN address:\n" + r.stdout)
        r = sb.sh('ln -sfn "/usr/share/zoneinfo/$1" /etc/localtime && echo "$1" >/etc/timezone', TIME_ZONE)
        if r.returncode != 0:
            raise ScenarioError("cannot set the time zone:\n" + r.stdout)
        _took, env = sb.start_tornet(TN, timeout=180)
        socket_, cookie = env.get("SERVICE_CONTROL_SOCKET", ""), env.get("SERVICE_COOKIE", "")
        W.socks_port = env.get("SOCKS_PORT", "")
        if not socket_ or not cookie or not W.socks_port:
            raise ScenarioError("%s/env lacks SERVICE_CONTROL_SOCKET, SERVICE_COOKIE or SOCKS_PORT" % TN)
        sb.write_config('tor_control: "unix:%s"\ntor_cookie: "%s"\n' % (socket_, cookie))
        sb.start_daemon()
        W.secrets = secrets_of(sb)


def tearDownModule():
    if W.sb:
        W.sb.cleanup()


def secrets_of(sb):
    """What no client may learn: (label, text), matched case-insensitively."""
    out = [("the host name", sb.out("hostname").strip()), ("the kernel version", sb.out("uname", "-r").strip())]
    for line in sb.out("ip", "-o", "addr", "show").splitlines():
        m = re.search(r"\binet6? ([0-9a-f.:]+)/", line)
        if m and not (m.group(1).startswith("127.") or m.group(1) == "::1"):
            out.append(("an interface address", m.group(1)))
    out += [("the OS", word) for word in ("Debian", "bookworm", "Linux")]
    out += [("the time zone", TIME_ZONE), ("the time zone", TIME_ZONE.split("/")[1])]
    for fmt in ("%Z", "%z"):
        out.append(("the time zone's offset", sb.out("date", "+" + fmt).strip()))
    out.append(("the Tails user's name", "amnesia"))
    return [(label, text) for label, text in dict.fromkeys(out) if text]


# -- per-service probes: LEAK_PROBES --------------------------------------------------------------
def prepare_nginx(case):
    sb = case.sb
    if sb.option("nginx", "basic-auth") != "false":
        sb.ts("set-option", "nginx", "basic-auth", "false")
    return "", ""


def after_nginx(case):
    """A folder without an index file in the site (configure() made the site and its index.html)."""
    case.sb.sh('mkdir -p "$1/leak-probe-folder"', case.sb.option("nginx", "site-root"))
    return "/leak-probe-folder", ""


def prepare_dokuwiki(case):
    return "", ""


def check_dokuwiki(case, out):
    first = (out.get("records") or [{"text": ""}])[0]["text"]
    case.expect(first.startswith("HTTP/1.1 200"), "dokuwiki: GET / gives the start page (%s)" % first.split("\r\n")[0],
                first[:500])
    servers = out["fields"].get("server_headers", [])
    case.expect(bool(servers) and all(s == "nginx" for s in servers),
                "dokuwiki: every Server header is plain 'nginx', no version", str(servers))
    powered = out["fields"].get("powered_by", [])
    case.expect(not powered, "dokuwiki: no X-Powered-By header names PHP's version", str(powered))


def prepare_mumble(case):
    # A first start: no database from an earlier murmurd (the sandbox is an overlay of the host).
    if case.sb.status_field("mumble", "enabled") != "true":
        case.sb.sh("rm -f /var/lib/mumble-server/mumble-server.sqlite")
    return "", None  # the password once enabled


def prepare_prosody(case):
    return "", None


def prepare_gobby(case):
    return "", None


def prepare_ssh(case):
    return "", ""


def prepare_icecast(case):
    return "", None  # the source password once enabled


def after_icecast(case):
    return case.sb.option("icecast", "mount"), None


def after_prosody(case):
    sb = case.sb
    sb.ts("run", "prosody", "remove-account", PROSODY_ACCOUNT)
    r = sb.ts("run", "prosody", "add-account", PROSODY_ACCOUNT, input=PROSODY_PASSWORD)
    case.assertEqual(r.returncode, 0, "precondition: prosody add-account\n" + r.stdout)
    return sb.xmpp_domain(), PROSODY_ACCOUNT + " " + PROSODY_PASSWORD


def prepare_chat(case):
    return "", ""


def check_chat(case, out):
    case.expect(out["fields"].get("first_status", "").startswith("HTTP/1.1 200"),
                "chat: GET / gives the page (%s)" % out["fields"].get("first_status"))
    servers = out["fields"].get("server_headers", [])
    case.expect(all(s == "" for s in servers), "chat: no response has a Server header", str(servers))


def check_nginx(case, out):
    first = (out.get("records") or [{"text": ""}])[0]["text"]
    case.expect(first.startswith("HTTP/1.1 200"), "nginx: GET / gives the page (%s)" % first.split("\r\n")[0],
                first[:500])
    servers = out["fields"].get("server_headers", [])
    case.expect(bool(servers) and all(s == "nginx" for s in servers),
                "nginx: every Server header is plain 'nginx', no version (server_tokens off)", str(servers))
    locations = out["fields"].get("locations", [])
    case.expect(not any(re.match(r"[a-z]+://(127\.|\[::1\]|localhost)", loc) or ":%s" % case.local_port in loc
                        for loc in locations),
                "nginx: no redirect names the local address or port (%s)" % (", ".join(locations) or "none"),
                str(locations))


def check_mumble(case, out):
    f = out["fields"]
    case.expect(all(f.get(k) in ("(none)", "") for k in ("release", "os", "os_version")),
                "mumble: the Version message has no release, os or os_version (%s)"
                % ", ".join("%s=%r" % (k, f.get(k)) for k in ("release", "os", "os_version")))


def check_prosody(case, out):
    version = out["fields"].get("iq version", "")
    case.expect("<os>" not in version and "<os/>" not in version,
                "prosody: jabber:iq:version tells no OS", version)
    for qid, what in (("last", "when it started (jabber:iq:last)"), ("time", "its clock (urn:xmpp:time)")):
        reply = out["fields"].get("iq " + qid, "")
        case.expect("type='error'" in reply or 'type="error"' in reply, "prosody: tells no client %s" % what, reply)


def check_gobby(case, out):
    for key, when in (("stream_header", "before TLS"), ("stream_header_tls", "after STARTTLS"),
                      ("stream_header_authenticated", "after SASL")):
        header = out["fields"].get(key, "")
        if key == "stream_header_authenticated" and not header:
            note("gobby: no stream header after SASL")
            continue
        sender = re.search(r"""\sfrom=['"]([^'"]*)['"]""", header)
        case.expect(bool(header) and (not sender or sender.group(1) == "localhost"),
                    "gobby: infinoted's stream header %s names no host (from=%s)"
                    % (when, sender.group(1) if sender else "none"), header)


def check_ssh(case, out):
    banner = out["fields"].get("banner", "")
    case.expect(banner.startswith("SSH-2.0-OpenSSH_") and " " not in banner,
                "ssh: the version banner names no distribution (DebianBanner no): %r" % banner)


def check_icecast(case, out):
    first = (out.get("records") or [{"text": ""}])[0]["text"]
    case.expect(first.startswith("HTTP/1."), "icecast: GET / answers (%s)" % first.split("\r\n")[0], first[:500])
    servers = out["fields"].get("server_headers", [])
    case.expect(bool(servers) and all(s == "Icecast" for s in servers),
                "icecast: every Server header is plain 'Icecast', no version (server-id)", str(servers))
    texts = [r["text"] for r in out.get("records", [])]
    streamed = [t for t in texts if "source PUT" not in t]
    case.expect(not any(re.search(r"2\.4\.[0-9]", t) for t in streamed),
                "icecast: no page names its version (2.4.x)",
                "\n".join(l for t in texts for l in t.splitlines() if re.search(r"2\.4\.[0-9]", l))[:2000])
    locations = out["fields"].get("locations", [])
    case.expect(not any(re.match(r"[a-z]+://(127\.|\[::1\]|localhost)", loc) or ":%s" % case.local_port in loc
                        for loc in locations),
                "icecast: no redirect names the local address or port (%s)" % (", ".join(locations) or "none"),
                str(locations))


class Probe:
    def __init__(self, unit, prepare, after_enable=None, check=None, secret_option=None):
        self.unit, self.prepare, self.after_enable = unit, prepare, after_enable
        self.check, self.secret_option = check, secret_option


# Every plugin must have an entry: the test fails for an installed plugin without one.
LEAK_PROBES = {
    "nginx": Probe("nginx.service", prepare_nginx, after_nginx, check=check_nginx),
    "dokuwiki": Probe("nginx.service", prepare_dokuwiki, check=check_dokuwiki),
    "mumble": Probe("mumble-server.service", prepare_mumble, check=check_mumble, secret_option="server-password"),
    "prosody": Probe("prosody.service", prepare_prosody, after_prosody, check=check_prosody),
    "gobby": Probe("tails-server-infinoted.service", prepare_gobby, check=check_gobby, secret_option="password"),
    "chat": Probe("tails-server-chat.service", prepare_chat, check=check_chat),
    "ssh": Probe("tails-server-sshd.service", prepare_ssh, check=check_ssh),
    "icecast": Probe("icecast2.service", prepare_icecast, after_icecast, check=check_icecast,
                     secret_option="source-password"),
}


def haystack(out):
    parts = [r["what"] + ": " + r["text"] for r in out.get("records", [])]
    for c in out.get("certificates", []):
        parts.append("certificate: subject=%s issuer=%s san=%s\n%s" % (c["subject"], c["issuer"], c["san"], c["text"]))
    return "\n".join(parts)


def found_lines(text, needle):
    return [line for line in text.splitlines() if needle.lower() in line.lower()][:8]


class LeakCase(ScenarioCase):
    abstract = True
    local_port = ""

    @property
    def sb(self):
        return W.sb

    def ensure_online(self, svc):
        super().ensure_online(svc, ONLINE_LIMIT)

    def give_client(self, svc, onion):
        """A client for svc whose key the client tor holds (Flags=Permanent, as test_onion.py)."""
        sb = self.sb
        sb.ts("client", "remove", svc, CLIENT)
        r = sb.ts("client", "add", svc, CLIENT)
        m = ADD_LINE.search(r.stdout)
        self.assertTrue(r.returncode == 0 and m, "precondition: client add %s %s\n%s" % (svc, CLIENT, r.stdout))
        sb.wait_state(svc, "online", ONLINE_LIMIT)
        sb.tornet("control", "client", "ONION_CLIENT_AUTH_ADD", onion[:-6], "x25519:" + m.group(2),
                  "Flags=Permanent")
        sb.newnym()

    def probe(self, svc, onion, port, arg, stdin):
        """leak_probe.py through the onion, retried (NEWNYM between) while tor cannot reach it."""
        t, tries, out, r = time.monotonic(), 0, {}, None
        while True:
            tries += 1
            argv = ["python3", os.path.join(PROBES, "leak_probe.py"), svc, W.socks_port, onion, port]
            r = self.sb.exec(*(argv + ([arg] if arg else [])), input=(stdin or "") + "\n", timeout=600)
            try:
                out = json.loads(r.stdout)
            except ValueError:
                out = {"error": "no JSON: " + r.stdout[-500:] + r.stderr[-500:]}
            if r.returncode not in (40, 44, 45) or time.monotonic() - t > REACH_LIMIT:
                return r.returncode, out, tries
            self.sb.newnym()
            time.sleep(3)

    def run_leak_probe(self, svc):
        sb, p = self.sb, LEAK_PROBES[svc]
        arg, stdin = p.prepare(self)
        self.ensure_online(svc)
        self.assertNotEqual(sb.option(svc, "allow-lan"), "true", "precondition: %s allow-lan off" % svc)
        if p.after_enable:
            arg, stdin = p.after_enable(self)
        if p.secret_option:
            stdin = sb.option(svc, p.secret_option)
        LeakCase.local_port = sb.option(svc, "local-port")
        onion, port = sb.address_of(svc), sb.option(svc, "virtual-port")
        self.assertTrue(onion and port, "precondition: %s has an onion address and a port" % svc)
        self.give_client(svc, onion)
        rc, out, tries = self.probe(svc, onion, port, arg, stdin)
        text = haystack(out)
        self.require(rc == 0, "%s: the probe talked to the service through its onion (exit %d, %d tries)"
                     % (svc, rc, tries), out.get("error", "") + "\n" + text[-3000:])
        note("%s: what it told the client:" % svc)
        note(indent(text, 400))
        for c in out.get("certificates", []):
            note("%s certificate: subject %r, issuer %r, SAN %r" % (svc, c["subject"], c["issuer"], c["san"]))
        for label, secret in W.secrets:
            lines = found_lines(text, secret)
            self.expect(not lines, "%s: nothing it sends names %s (%s)" % (svc, label, secret), "\n".join(lines))
        if p.check:
            p.check(self, out)


class EveryPlugin(LeakCase):
    """1. Every installed plugin runs through the leak test."""

    def test_every_installed_plugin_has_a_leak_probe(self):
        listed = self.sb.tails_server("list") or {}
        self.require(bool(listed), "tails-server list names the installed plugins (%s)" % ", ".join(sorted(listed)))
        missing = sorted(set(listed) - set(LEAK_PROBES))
        self.expect(not missing, "every installed plugin has an entry in LEAK_PROBES (missing: %s)"
                    % (", ".join(missing) or "none"))
        note("secrets looked for: " + "; ".join("%s %r" % s for s in W.secrets))


class ThroughTheOnion(LeakCase):
    """2. Each service, through its onion, as a client connects (methods made from LEAK_PROBES)."""


def _leak_method(svc):
    def method(self):
        self.run_leak_probe(svc)
    method.__name__ = "test_%s_reveals_nothing_through_its_onion" % svc
    method.__doc__ = "%s: what it sends a client names no host, address, OS, time zone or user" % svc
    return method


for _svc in LEAK_PROBES:
    setattr(ThroughTheOnion, "test_%s_reveals_nothing_through_its_onion" % _svc, _leak_method(_svc))


class OnTheMachine(LeakCase):
    """3. Listeners, mDNS, the journal (with every service enabled)."""

    LISTENERS = ('ss -Hltunp | while read -r line; do '
                 'for p in $(grep -o "pid=[0-9]*" <<<"$line" | cut -d= -f2 | sort -u); do '
                 'printf "%s\\t%s\\t%s\\n" "$(sed -n "s/^0:://p" /proc/$p/cgroup 2>/dev/null)" '
                 '"$(stat -c %U /proc/$p 2>/dev/null)" "$line"; done; done')

    def ensure_all(self):
        for svc in LEAK_PROBES:
            if self.sb.state_of(svc) != "online":
                self.ensure_online(svc)

    def test_nothing_the_services_run_listens_beyond_loopback(self):
        self.ensure_all()
        rows = self.sb.sh(self.LISTENERS).stdout.splitlines()
        for svc, p in LEAK_PROBES.items():
            mine = [row for row in rows if row.split("\t")[0].endswith("/" + p.unit)]
            outside = []
            for row in mine:
                local = row.split("\t")[2].split()[4]
                host = local.rsplit(":", 1)[0].split("%")[0]
                if not (host.startswith("127.") or host == "[::1]"):
                    outside.append(row)
            self.expect(bool(mine) and not outside, "%s: %d socket(s) of %s, all on loopback (allow-lan off)"
                        % (svc, len(mine), p.unit), "\n".join(outside or rows))
        others = [row for row in rows if not re.search(r"(127\.[0-9.]+|\[::1\])(%\w+)?:[0-9]+ ",
                                                       row.split("\t")[2] + " ")]
        if others:
            note("other listeners beyond loopback in the sandbox:\n" + "\n".join(others))

    def test_no_service_uses_mdns(self):
        sb = self.sb
        self.ensure_all()
        bound = sb.out("ss", "-Hlunp", "sport = :5353").strip()
        self.expect(not bound, "nothing is bound to UDP 5353 (mDNS)", bound)
        igmp = sb.cat("/proc/net/igmp") + sb.cat("/proc/net/igmp6")
        self.expect("FB0000E0" not in igmp.upper() and "ff0200000000000000000000000000fb" not in igmp,
                    "no socket joined the mDNS groups 224.0.0.251 / ff02::fb", igmp)
        avahi = sb.run("pgrep", "-a", "avahi-daemon")
        self.expect(avahi.returncode == 1, "no avahi-daemon runs", avahi.stdout)
        ini = sb.cat("/etc/mumble-server.ini")
        self.expect(bool(re.search(r'^bonjour="?false"?$', ini, re.M)), "murmurd's bonjour is off in its ini",
                    ini)
        said = "\n".join(line for line in sb.journal("mumble-server").splitlines() if "onjour" in line)
        self.expect("Bonjour: Successfully registered" not in said, "murmurd registered nothing with Bonjour", said)

    def test_murmurd_wrote_no_superuser_password_on_its_first_start(self):
        sb = self.sb
        if sb.state_of("mumble") != "online":
            LEAK_PROBES["mumble"].prepare(self)
            self.ensure_online("mumble")
        journal = sb.out("journalctl", "-b", "--no-pager", "-o", "cat")
        log = sb.cat("/var/log/mumble-server/mumble-server.log")
        lines = [line for line in (journal + "\n" + log).splitlines() if "superuser" in line.lower()]
        note("murmurd's SuperUser lines: " + (" | ".join(lines) or "none"))
        leaked = [line for line in lines if re.search(r"password for 'superuser' set to", line, re.I)]
        self.expect(not leaked, "murmurd wrote no SuperUser password to the journal or its log", "\n".join(leaked))
        self.expect(sb.exists("/var/lib/mumble-server/mumble-server.sqlite"),
                    "... and its database exists (murmurd did start)")


class TheEnd(LeakCase):
    """4. The daemon stayed up; every tor stops and the sandbox powers off."""

    def test_the_daemon_stayed_up_and_the_sandbox_powers_off(self):
        health = self.sb.daemon_health()
        self.expect("NRestarts=0" in health and "ActiveState=active" in health,
                    "tails-serverd is active and never restarted (%s)" % health)
        self.expect(self.sb.poweroff(), "every tor stopped and the sandbox powered off")
