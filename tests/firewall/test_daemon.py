"""The firewall rules of the real daemon, with real connections, in a sandboxed systemd
(tests/sandbox/sandbox). FIREWALL_BACKEND (run-scenario's NAME=VALUE argument) is iptables,
nftables (the daemon's two backends), or iptables-legacy (the iptables backend on a system whose
iptables is legacy, switched with update-alternatives inside the sandbox: no netlink
notification, the daemon's 5 s timer must notice a wipe).

  sandbox (Tails-like ruleset) ── veth ── "lan"
  10.99.0.1/24 fd99::1/64                 10.99.0.2 fd99::2

The build is staged with 'cmake --install --prefix /usr' into a sandbox;
/etc/tails-server/config.yaml says firewall_backend: BACKEND and tails-serverd runs as its
systemd unit. The sandbox's network namespace gets a ruleset modelled on Tails' (IPv4 and
IPv6: INPUT DROP except lo and established; OUTPUT on lo: only root may connect, everyone
else, tor's user included, is rejected), and a "LAN host" (a network namespace of its own)
joined to it by a veth pair. nginx is installed and enabled through the tails-server CLI;
then, with curl:
  2. tor's user (debian-tor) reaches nginx; nobody and the LAN (v4, v6) do not;
  3. allow-localhost true: nobody reaches it; false: refused again;
  4. allow-lan true (nginx restarts): the LAN reaches it (IPv4 and IPv6); over ::1 (nginx now
     also listens on [::]) tor's user does, nobody not;
  5. a reload of the base ruleset (iptables-restore without --noflush, as Tails'
     NetworkManager hook does) with no ReapplyFirewall: the daemon notices (nf_tables netlink,
     or its timer for iptables-legacy) and restores the rules within a bounded time; then
     ReapplyFirewall (D-Bus, and the installed NetworkManager hook) after a wipe; a stray rule
     added to TAILS-SERVER-IN while the daemon runs is removed by itself;
  6. disable: the LAN is refused, no rule of ours mentions the port;
  7. a crash between "state written" and "rules updated": the daemon is frozen and killed (-9)
     while enabled with allow-lan; meanwhile its state file says allow-lan false and a stale
     ACCEPT rule is planted in TAILS-SERVER-IN; systemd restarts it (Restart=on-failure): the
     LAN is refused though nginx still listens on every address, the stale rule is gone, tor's
     user still reaches nginx;
  8. uninstall of the enabled service with allow-lan removes every rule;
  9. nothing is left on the host (network namespace, veth, mounts, work dir).
Each method first brings nginx to the state it needs (installed, enabled, allow-lan...), so
that one failure does not cascade. Run by tests/scenario/run-scenario (ctest:
firewall-daemon-BACKEND); skipped without root or a tool. The host's own firewall is never
touched.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import os as _os
import sys as _sys

# sandbox_fixture: run-scenario puts tests/scenario on the path; this is for "python3 -m unittest".
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import Sandbox, ScenarioCase, ScenarioError, note, wait_until

BACKEND = os.environ.get("FIREWALL_BACKEND", "")
CONFIG_BACKEND, IPT, IP6T = {
    "iptables": ("iptables", "iptables", "ip6tables"),
    "nftables": ("nftables", "iptables", "ip6tables"),
    "iptables-legacy": ("iptables", "iptables-legacy", "ip6tables-legacy"),
}.get(BACKEND, ("", "", ""))
# How long the daemon may take to restore wiped rules by itself: nf_tables notifications are
# debounced by 0.3 s; iptables-legacy is checked every 5 s (core/firewall/service_firewall.h).
RESTORE_LIMIT = 12 if BACKEND == "iptables-legacy" else 5
STALE_PORT = 18999                     # the stale rule planted during the "crash"
LAN = "tsfwd-lan-%d" % os.getpid()     # the LAN host's network namespace
STATE_FILE = "/var/lib/tails-server/nginx.state.json"   # in the sandbox
HOOK = "/usr/lib/NetworkManager/dispatcher.d/90-tails-server-firewall"
CURL = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--connect-timeout", "2", "--max-time", "5"]


def skip_reason():
    if not CONFIG_BACKEND:
        print("usage: FIREWALL_BACKEND=iptables|nftables|iptables-legacy (got '%s')" % BACKEND)
        sys.exit(2)
    for tool in ("ip", IPT + "-restore", IP6T + "-restore", IPT + "-save", "nft", "curl", "runuser", "cmake",
                 "busctl", "ss", "unshare", "nsenter"):
        if not shutil.which(tool):
            return "%s is missing" % tool
    for user in ("debian-tor", "nobody"):
        if subprocess.run(["getent", "passwd", user], stdout=subprocess.DEVNULL, check=False).returncode:
            return "no %s user" % user
    return None


def base_rules(family):
    """Tails' model. IPv6 also lets ICMPv6 through (neighbour discovery on the veth)."""
    text = ("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n"
            "-A INPUT -i lo -j ACCEPT\n"
            "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
            "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
            "-A OUTPUT -o lo -m owner --uid-owner 0 -j ACCEPT\n"
            "-A OUTPUT -o lo -p tcp -j REJECT --reject-with tcp-reset\n"
            "-A OUTPUT -o lo -j DROP\n")
    if family == 6:
        text += "-I INPUT 1 -p ipv6-icmp -j ACCEPT\n-I OUTPUT 1 -p ipv6-icmp -j ACCEPT\n"
    return text + "COMMIT\n"


class World:
    sb = None
    setup = {}       # what setUpModule did: name -> (ok, context)
    port = ""
    lan_made = False


W = World


def setUpModule():
    sb = W.sb = Sandbox(name="fwd")
    try:
        with sb.setting_up():
            _set_up(sb)
    except BaseException:
        if W.lan_made:
            host("ip", "netns", "del", LAN)
        raise


def _set_up(sb):
    note("daemon-test: backend %s (config firewall_backend: %s), build %s, work %s"
         % (BACKEND, CONFIG_BACKEND, sb.build, sb.work))
    sb.stage(drop_in=True, config="firewall_backend: %s\n" % CONFIG_BACKEND)
    sb.boot()
    m = re.search(r"after [0-9.]* s", sb.boot_log)
    W.setup["boot"] = (True, m.group(0) if m else "")
    if BACKEND == "iptables-legacy":
        r = sb.run("bash", "-c", "update-alternatives --set iptables /usr/sbin/iptables-legacy && "
                   "update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy && iptables --version")
        W.setup["legacy"] = ("legacy" in r.stdout, r.stdout)
    sb.exec("tee", "/run/fwd-base4", input=base_rules(4))
    sb.exec("tee", "/run/fwd-base6", input=base_rules(6))
    left = load_base_both()
    W.setup["base"] = (left == "0", left)
    text = rules_text()
    W.setup["policies"] = (len(re.findall(r"^:(INPUT|OUTPUT) DROP|hook (input|output) priority filter; policy drop;",
                                          text, re.M)) == 4, text)
    # The LAN host: its own network namespace, a veth pair created directly in both namespaces
    # (the host's namespace never holds either end).
    if host("ip", "netns", "add", LAN).returncode == 0:
        W.lan_made = True
        if host("ip", "link", "add", "v-tails", "netns", str(sb.pid()), "type", "veth", "peer", "name", "v-lan",
                "netns", LAN).returncode == 0:
            sb.exec("ip", "addr", "add", "10.99.0.1/24", "dev", "v-tails")
            sb.exec("ip", "addr", "add", "fd99::1/64", "dev", "v-tails", "nodad")
            sb.exec("ip", "link", "set", "v-tails", "up")
            lan = ["ip", "netns", "exec", LAN]
            host(*lan, "ip", "link", "set", "lo", "up")
            host(*lan, "ip", "addr", "add", "10.99.0.2/24", "dev", "v-lan")
            host(*lan, "ip", "addr", "add", "fd99::2/64", "dev", "v-lan", "nodad")
            host(*lan, "ip", "link", "set", "v-lan", "up")
    text = sb.run("ip", "-br", "addr", "show", "dev", "v-tails").stdout + \
        host("ip", "netns", "exec", LAN, "ip", "-br", "addr", "show", "dev", "v-lan").stdout
    W.setup["veth"] = (len(re.findall(r"10\.99\.0\.[12]/24.*fd99::[12]/64", text)) == 2, text)
    r = sb.run("systemctl", "start", "tails-serverd")
    W.setup["daemon"] = (r.returncode == 0, r.stdout + "\n" + sb.journal("tails-serverd", lines=30))
    if r.returncode != 0:
        raise ScenarioError("tails-serverd does not start:\n" + W.setup["daemon"][1])
    W.setup["clean"] = (no_trace_of_ours(), rules_text())


def tearDownModule():
    if W.sb:
        W.sb.cleanup()
    if W.lan_made:
        host("ip", "netns", "del", LAN)


def host(*argv, timeout=60):
    return subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=False)


# -- the rules -------------------------------------------------------------------------------
def load_base_both():
    """The whole table, as Tails' NetworkManager hook reloads it (no --noflush): IPv4 then IPv6
    in one sandbox command; how many lines of the filter tables name TAILS-SERVER right after
    ("99": the reload failed)."""
    return W.sb.sh('''
        "$1-restore" <"$3" && "$2-restore" <"$4" || exit 99
        n=0
        if [[ $5 == nftables ]]; then
          n=$( { nft list table ip filter; nft list table ip6 filter; } 2>/dev/null | grep -c TAILS-SERVER)
        else
          n=$( { "$1-save" -t filter; "$2-save" -t filter; } 2>/dev/null | grep -c TAILS-SERVER)
        fi
        echo "$n"''', IPT, IP6T, "/run/fwd-base4", "/run/fwd-base6", BACKEND).stdout.strip() or "99"


def rules_text():
    """The filter tables as the backend's tool shows them (IPv4, then IPv6)."""
    sb = W.sb
    if BACKEND == "nftables":
        return sb.run("nft", "list", "table", "ip", "filter").stdout + sb.run("nft", "list", "table", "ip6", "filter").stdout
    return sb.run(IPT + "-save", "-t", "filter").stdout + sb.run(IP6T + "-save", "-t", "filter").stdout


def our_rules():
    """The rules of our chains (both families), one per line."""
    sb, lines = W.sb, []
    if BACKEND == "nftables":
        for fam in ("ip", "ip6"):
            for chain in ("TAILS-SERVER-IN", "TAILS-SERVER-OUT"):
                text = sb.out("nft", "list", "chain", fam, "filter", chain)
                inside = False
                for line in text.splitlines():
                    if re.match(r"^\s*chain ", line):
                        inside = True
                        continue
                    if inside and not re.match(r"^\s*(chain |\}|$)", line):
                        lines.append("%s %s: %s" % (fam, chain, line.strip()))
    else:
        text = sb.out(IPT + "-save", "-t", "filter") + sb.out(IP6T + "-save", "-t", "filter")
        lines = [l for l in text.splitlines() if l.startswith("-A TAILS-SERVER-")]
    return "\n".join(lines)


def no_trace_of_ours():
    return "TAILS-SERVER" not in rules_text()


def dport(port):
    return re.compile(r"dport %s( |$)" % port)


def tor_rule_for(port):
    """tor's user may reach port, in both families."""
    return len([l for l in our_rules().splitlines() if dport(port).search(l) and re.search("uid-owner|skuid", l)]) == 2


# The sources allow-lan accepts (core/firewall: lan_sources), IPv4 and IPv6.
LAN_SOURCES = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fe80::/10", "fc00::/7"}


def lan_rule_for(port):
    """One rule per local-network source for the port, and none without a source."""
    lines = [l for l in our_rules().splitlines() if dport(port).search(l) and "TAILS-SERVER-IN" in l]
    sources = set()
    for line in lines:
        found = re.search(r"(?:-s |saddr )(\S+)", line)
        if not found:
            return False
        sources.add(found.group(1))
    return len(lines) == len(LAN_SOURCES) and sources == LAN_SOURCES


def no_lan_rule_for(port, rules):
    return not re.search(r"TAILS-SERVER-IN.*dport %s( |$)" % port, rules, re.M)


def hooks_once():
    """Our jumps are first in INPUT and OUTPUT exactly once (IPv4 and IPv6)."""
    sb = W.sb
    if BACKEND == "nftables":
        for fam in ("ip", "ip6"):
            for chain, ours in (("INPUT", "TAILS-SERVER-IN"), ("OUTPUT", "TAILS-SERVER-OUT")):
                r = sb.exec("nft", "list", "chain", fam, "filter", chain)
                if r.returncode != 0:
                    return False
                body = [l.strip() for l in r.stdout.splitlines() if not re.match(r"^\s*(table |chain |type |\}|$)", l)]
                if not body or body[0] != "jump " + ours:
                    return False
                if len([l for l in r.stdout.splitlines() if re.search(r"jump %s$" % ours, l)]) != 1:
                    return False
        return True
    for save in (IPT + "-save", IP6T + "-save"):
        r = sb.exec(save, "-t", "filter")
        if r.returncode != 0:
            return False
        lines = r.stdout.splitlines()
        if len([l for l in lines if l.endswith("-j TAILS-SERVER-IN")]) != 1:
            return False
        if len([l for l in lines if l.endswith("-j TAILS-SERVER-OUT")]) != 1:
            return False
        if next((l for l in lines if l.startswith("-A INPUT ")), "") != "-A INPUT -j TAILS-SERVER-IN":
            return False
        if next((l for l in lines if l.startswith("-A OUTPUT ")), "") != "-A OUTPUT -j TAILS-SERVER-OUT":
            return False
    return True


def gone_warnings():
    """How many times the daemon said it restored wiped rules."""
    text = W.sb.out("journalctl", "-u", "tails-serverd", "--no-pager", "-o", "cat")
    return text.count("rules of the services are gone")


def plant_stale():
    """An ACCEPT rule for STALE_PORT in TAILS-SERVER-IN (IPv4 and IPv6), not ours."""
    if BACKEND == "nftables":
        return W.sb.sh('for f in ip ip6; do nft add rule $f filter TAILS-SERVER-IN iifname != \\"lo\\" '
                       'tcp dport %d accept || exit 1; done' % STALE_PORT)
    return W.sb.sh('"$1" -w -A TAILS-SERVER-IN ! -i lo -p tcp -m tcp --dport "$3" -j ACCEPT && '
                   '"$2" -w -A TAILS-SERVER-IN ! -i lo -p tcp -m tcp --dport "$3" -j ACCEPT', IPT, IP6T, str(STALE_PORT))


def stale_gone():
    return not dport(STALE_PORT).search(our_rules())


# -- connections -----------------------------------------------------------------------------
def reach(who):
    """(reached, text): tor nobody (127.0.0.1), tor6 nobody6 (::1), lan4 lan6. Any HTTP answer,
    401 included, is a reach."""
    sb, port = W.sb, W.port
    url = {"tor": "http://127.0.0.1:%s/", "nobody": "http://127.0.0.1:%s/", "tor6": "http://[::1]:%s/",
           "nobody6": "http://[::1]:%s/", "lan4": "http://10.99.0.1:%s/", "lan6": "http://[fd99::1]:%s/"}[who] % port
    if who.startswith("lan"):
        r = subprocess.run(["ip", "netns", "exec", LAN] + CURL + [url], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, check=False, timeout=60)
    else:
        user = "debian-tor" if who.startswith("tor") else "nobody"
        r = sb.exec("runuser", "-u", user, "--", *CURL, url)
    ok = r.returncode == 0 and bool(re.fullmatch(r"[1-5][0-9][0-9]", r.stdout))
    return ok, ("reaches it (HTTP %s)" % r.stdout) if ok else ("is refused (curl exit %d)" % r.returncode)


def listeners():
    return " ".join(W.sb.listeners("t", W.port))


class FirewallCase(ScenarioCase):
    abstract = True

    @property
    def sb(self):
        return W.sb

    def on_failure(self):
        note("rules and journal (the method failed):")
        for line in rules_text().splitlines():
            note("fw| " + line)
        for line in self.sb.journal("tails-serverd", lines=25).splitlines():
            note("journal| " + line)

    def see(self, who, want, context):
        """A real connection: who reaches nginx (want True) or is refused (want False)."""
        ok, got = reach(who)
        if ok == want:
            self.expect(True, "%s: %s %s" % (context, who, got))
        else:
            self.expect(False, "%s: %s expected to %s, but %s" % (context, who, "reach" if want else "be refused", got))

    def see_all(self, context, tor, nobody, lan):
        self.see("tor", tor, context)
        self.see("nobody", nobody, context)
        self.see("lan4", lan, context)
        self.see("lan6", lan, context)

    def wait_for(self, limit, predicate):
        """(ok, seconds waited): polls predicate every 0.1 s."""
        t = time.monotonic()
        ok = bool(wait_until(predicate, limit, 0.1))
        return ok, time.monotonic() - t

    def ensure(self, enabled=True, allow_lan=None):
        """Preconditions: nginx installed, enabled (or not), allow-lan as asked, allow-localhost off."""
        sb = self.sb
        if sb.status_field("nginx", "installed") != "true":
            r = sb.ts("install", "nginx")
            self.assertEqual(r.returncode, 0, "precondition: install nginx\n" + r.stdout)
        if sb.option("nginx", "allow-localhost") == "true":
            sb.ts("set-option", "nginx", "allow-localhost", "false")
        if allow_lan is not None and sb.option("nginx", "allow-lan") != ("true" if allow_lan else "false"):
            r = sb.ts("set-option", "nginx", "allow-lan", "true" if allow_lan else "false")
            self.assertEqual(r.returncode, 0, "precondition: allow-lan %s\n%s" % (allow_lan, r.stdout))
        is_enabled = sb.status_field("nginx", "enabled") == "true"
        if enabled and not is_enabled:
            r = sb.ts("enable", "nginx")
            self.assertEqual(r.returncode, 0, "precondition: enable nginx\n" + r.stdout)
        elif not enabled and is_enabled:
            r = sb.ts("disable", "nginx")
            self.assertEqual(r.returncode, 0, "precondition: disable nginx\n" + r.stdout)
        if enabled:
            self.assertTrue(sb.wait_up("nginx", 30), "precondition: nginx runs")
        W.port = W.port or sb.option("nginx", "local-port")
        self.assertTrue(re.fullmatch("[0-9]+", W.port or ""), "precondition: nginx's local-port is a number")

    @staticmethod
    def settle():
        """Each change of ours makes the daemon look again 0.3 s later (nf_tables notifications):
        let those checks pass first, so that a reload meets an idle daemon."""
        time.sleep(1)


# ---------------------------------------------------------------------------------------------
class Setup(FirewallCase):
    """1. Sandbox with Tails' base ruleset and a LAN host."""

    def test_the_sandbox_has_tails_base_ruleset_a_lan_host_and_the_daemon(self):
        self.expect(W.setup["boot"][0], "boot the sandbox (%s)" % W.setup["boot"][1])
        if "legacy" in W.setup:
            ok, out = W.setup["legacy"]
            self.expect(ok, "iptables is legacy in the sandbox (%s)" % (out.strip().splitlines() or [""])[-1], out)
        self.expect(W.setup["base"][0], "Tails' base ruleset loaded (IPv4 and IPv6)", W.setup["base"][1])
        self.expect(W.setup["policies"][0], "the sandbox's INPUT and OUTPUT policies are DROP", W.setup["policies"][1])
        self.expect(W.setup["veth"][0], "veth between the sandbox (10.99.0.1, fd99::1) and the LAN host "
                    "(10.99.0.2, fd99::2)", W.setup["veth"][1])
        self.expect(W.setup["daemon"][0], "tails-serverd starts as a unit (firewall_backend: %s)" % CONFIG_BACKEND,
                    W.setup["daemon"][1])
        self.expect(W.setup["clean"][0], "no service enabled: nothing of ours in the firewall", W.setup["clean"][1])


class Firewall(FirewallCase):
    def test_enabled_nginx_is_reached_by_tors_user_only(self):
        """2. nginx installed and enabled: only tor's user reaches it."""
        sb = self.sb
        r = sb.ts("install", "nginx")
        self.require(r.returncode == 0, "install nginx (its packages are in the sandbox's copy of the host's /; "
                     "no network)", r.stdout)
        info = sb.run("tails-server", "info", "nginx").stdout
        note("nginx options: " + " ".join(" ".join(l.split()) for l in info.splitlines()
                                          if re.match(r"^ *(basic-auth|allow-lan|allow-localhost|local-port):", l)))
        r = sb.ts("enable", "nginx")
        ok = r.returncode == 0 and sb.wait_up("nginx", 30)
        self.require(ok, "enable nginx (%s)" % sb.state_of("nginx"), r.stdout)
        W.port = sb.option("nginx", "local-port")
        self.require(bool(re.fullmatch("[0-9]+", W.port)), "nginx's local-port is a number ('%s')" % W.port)
        note("nginx's local port: %s; listening on: %s" % (W.port, listeners()))
        self.see_all("enabled", True, False, False)
        rules = our_rules()
        self.expect(tor_rule_for(W.port), "a rule lets tor's user reach port %s (IPv4 and IPv6)" % W.port, rules)
        self.expect(no_lan_rule_for(W.port, rules), "no LAN rule for port %s" % W.port, rules)
        self.expect(hooks_once(), "one jump each at the top of INPUT and OUTPUT (IPv4 and IPv6)", rules_text())

    def test_allow_localhost_lets_local_users_in_then_out_again(self):
        """3. allow-localhost."""
        sb = self.sb
        self.ensure(enabled=True, allow_lan=False)
        self.addCleanup(lambda: sb.option("nginx", "allow-localhost") == "false"
                        or sb.ts("set-option", "nginx", "allow-localhost", "false"))
        r = sb.ts("set-option", "nginx", "allow-localhost", "true")
        self.expect(r.returncode == 0, "set-option nginx allow-localhost true", r.stdout)
        self.see_all("allow-localhost", True, True, False)
        r = sb.ts("set-option", "nginx", "allow-localhost", "false")
        self.expect(r.returncode == 0, "set-option nginx allow-localhost false", r.stdout)
        self.see_all("allow-localhost off again", True, False, False)

    def test_allow_lan_lets_the_lan_in_over_ipv4_and_ipv6(self):
        """4. allow-lan on the running service (the daemon restarts it)."""
        sb = self.sb
        self.ensure(enabled=True, allow_lan=False)
        r = sb.ts("set-option", "nginx", "allow-lan", "true")
        self.expect(r.returncode == 0, "set-option nginx allow-lan true", r.stdout)
        note(" ".join(r.stdout.splitlines()[:3]))
        self.expect(sb.wait_up("nginx", 30), "nginx is up after the restart")
        note("listening on: " + listeners())
        self.see_all("allow-lan", True, False, True)
        # nginx listens on [::] too now: IPv6 loopback follows the same rules.
        self.see("tor6", True, "allow-lan, over ::1")
        self.see("nobody6", False, "allow-lan, over ::1")
        rules = our_rules()
        self.expect(lan_rule_for(W.port), "a LAN rule for port %s in TAILS-SERVER-IN (IPv4 and IPv6)" % W.port, rules)
        self.expect(hooks_once(), "one jump each at the top of INPUT and OUTPUT", rules_text())

    def test_the_daemon_restores_rules_wiped_by_a_reload_by_itself(self):
        """5. A reload of Tails' firewall wipes our rules; the daemon restores them by itself."""
        sb = self.sb
        self.ensure(enabled=True, allow_lan=True)
        self.settle()
        before = gone_warnings()
        t = time.monotonic()
        left = load_base_both()
        self.expect(left not in ("", "99"), "the reload ran (iptables-restore and ip6tables-restore, no --noflush)",
                    left)
        # Whether the count right after the reload is 0 depends on whether a check of the
        # daemon's happened to come in between; the journal below is the proof.
        note("lines naming TAILS-SERVER right after the reload: %s (0: wiped; they were 12)" % left)
        ok, _ = self.wait_for(RESTORE_LIMIT, hooks_once)
        if ok:
            self.expect(True, "the daemon put our rules back %.1f s after the reload, with no ReapplyFirewall "
                        "(limit %d s)" % (time.monotonic() - t, RESTORE_LIMIT))
        else:
            self.expect(False, "the daemon put our rules back within %d s of the reload, with no ReapplyFirewall"
                        % RESTORE_LIMIT, rules_text())
        ok, _ = self.wait_for(RESTORE_LIMIT, lambda: reach("lan4")[0] and reach("lan6")[0])
        if ok:
            self.expect(True, "the LAN reaches nginx again (IPv4 and IPv6) %.1f s after the reload"
                        % (time.monotonic() - t))
        else:
            self.expect(False, "the LAN reaches nginx again within %d s of the reload" % RESTORE_LIMIT)
        self.expect(lan_rule_for(W.port), "the LAN rule is back", our_rules())
        self.see_all("restored by the daemon", True, False, True)
        journal = "\n".join([l for l in sb.out("journalctl", "-u", "tails-serverd", "--no-pager", "-o", "cat")
                             .splitlines() if "rules of the services are gone" in l][-2:])
        watch = "5 s timer" if BACKEND == "iptables-legacy" else "nf_tables netlink"
        self.expect(gone_warnings() > before, "the reload wiped them and the daemon noticed by itself (its journal; "
                    "watch: %s)" % watch, journal)

    def test_reapply_firewall_and_the_networkmanager_hook_restore_wiped_rules(self):
        """5. ReapplyFirewall (what Tails' NetworkManager hook calls): right after a wipe; then
        the installed hook itself."""
        sb = self.sb
        self.ensure(enabled=True, allow_lan=True)
        self.settle()
        before = gone_warnings()
        r = sb.sh('''
          t0=$EPOCHREALTIME
          "$1-restore" <"$3" && "$2-restore" <"$4" || exit 99
          busctl --system --timeout=10 call org.boum.tails.Server /org/boum/tails/Server \\
            org.boum.tails.Server1 ReapplyFirewall || exit 98
          awk -v a="$t0" -v b="$EPOCHREALTIME" "BEGIN {printf \\"%.3f\\", b - a}"''',
                  IPT, IP6T, "/run/fwd-base4", "/run/fwd-base6")
        self.expect(r.returncode == 0, "ReapplyFirewall over D-Bus succeeds right after a wipe (wipe + call took "
                    "%s s)" % r.stdout.strip(), r.stdout)
        self.expect(hooks_once(), "our rules are back when ReapplyFirewall returns", rules_text())
        self.see_all("after ReapplyFirewall", True, False, True)
        time.sleep(1)
        if gone_warnings() == before:
            note("ReapplyFirewall restored the rules before the daemon's own watch looked")
        else:
            note("the daemon's watch restored the rules before ReapplyFirewall ran (it then re-applied them)")

        # The installed NetworkManager hook, as NetworkManager runs it after Tails' own.
        self.settle()
        r = sb.run("test", "-x", HOOK)
        self.expect(r.returncode == 0, "the NetworkManager hook is installed (%s)" % HOOK, r.stdout)
        r = sb.sh('"$1-restore" <"$3" && "$2-restore" <"$4" && "$5" v-tails up', IPT, IP6T, "/run/fwd-base4",
                  "/run/fwd-base6", HOOK)
        self.expect(r.returncode == 0, "reload + the hook (%s v-tails up)" % HOOK, r.stdout)
        self.expect(hooks_once(), "our rules are back when the hook returns", rules_text())
        self.see("lan4", True, "after the hook")

    def test_a_stray_rule_added_to_our_chain_is_removed_by_the_daemon(self):
        """5. A rule someone else adds to our chain while the daemon runs is noticed too. (With
        nf_tables the daemon may remove it before anything here reads the chain again: that
        the commands succeeded is the proof it was added.)"""
        self.ensure(enabled=True, allow_lan=True)
        r = plant_stale()
        self.expect(r.returncode == 0, "a stray ACCEPT rule for port %d added to TAILS-SERVER-IN while the daemon runs"
                    % STALE_PORT, r.stdout)
        ok, waited = self.wait_for(12, stale_gone)
        if ok:
            self.expect(True, "the daemon removed the stray rule by itself after %.1f s" % waited)
        else:
            self.expect(False, "the daemon removed the stray rule by itself within 12 s", our_rules())
        self.see("lan4", True, "after the stray rule went")

    def test_disable_removes_every_rule(self):
        """6. disable: the rules go."""
        sb = self.sb
        self.ensure(enabled=True)
        r = sb.ts("disable", "nginx")
        self.expect(r.returncode == 0, "disable nginx", r.stdout)
        self.see_all("disabled", False, False, False)
        rules = our_rules()
        self.expect(not dport(W.port).search(rules), "no rule of ours mentions port %s (tor's rule is gone)" % W.port,
                    rules)
        self.expect(no_trace_of_ours(), "nothing of ours is left (no TAILS-SERVER chain or jump, IPv4 and IPv6)",
                    rules_text())

    def test_a_crash_between_state_written_and_rules_updated_is_repaired_at_restart(self):
        """7. A crash between 'state written' and 'rules updated'."""
        sb = self.sb
        self.ensure(enabled=False, allow_lan=True)
        r = sb.ts("enable", "nginx")
        ok = r.returncode == 0 and sb.wait_up("nginx", 30)
        self.expect(ok, "enable nginx (allow-lan %s)" % sb.option("nginx", "allow-lan"), r.stdout)
        self.see("lan4", True, "enabled with allow-lan")
        self.see("lan6", True, "enabled with allow-lan")
        pid = sb.unit_property("tails-serverd", "MainPID")
        # Frozen first (SIGSTOP), so that systemd's Restart= does not start a new daemon before
        # the crash window is set up; then killed. Whatever happens, it is not left frozen.
        self.addCleanup(lambda: sb.exec("kill", "-CONT", pid))
        r = sb.run("kill", "-STOP", pid)
        self.require(r.returncode == 0, "tails-serverd (PID %s) frozen" % pid, r.stdout)
        r = sb.run("test", "-f", STATE_FILE)
        self.expect(r.returncode == 0, "nginx's state file is %s" % STATE_FILE, r.stdout)
        mode_before = sb.out("stat", "-c", "%a", STATE_FILE).strip()
        edited, context = self.edit_allow_lan_false()
        self.expect(edited, "the state file now says allow-lan false", context)
        mode_after = sb.out("stat", "-c", "%a", STATE_FILE).strip()
        self.expect(mode_after == "600", "the state file keeps mode 0600",
                    "mode before %s, after %s" % (mode_before, mode_after))
        plant_stale()
        rules = our_rules()
        self.expect(len(re.findall(r"TAILS-SERVER-IN.*dport %d( |$)" % STALE_PORT, rules, re.M)) == 2,
                    "a stale ACCEPT rule for port %d planted in TAILS-SERVER-IN" % STALE_PORT, rules)
        r = sb.run("kill", "-9", pid)
        self.expect(r.returncode == 0, "tails-serverd killed (kill -9)", r.stdout)
        t = time.monotonic()

        def daemon_back():
            p = sb.unit_property("tails-serverd", "MainPID")
            return p not in ("", "0", pid) and sb.out("systemctl", "is-active", "tails-serverd").strip() == "active"
        ok, _ = self.wait_for(20, daemon_back)
        if ok:
            self.expect(True, "systemd restarted tails-serverd by itself (Restart=on-failure) after %.1f s"
                        % (time.monotonic() - t))
        else:
            self.expect(False, "systemd restarted tails-serverd by itself within 20 s")
            sb.run("systemctl", "reset-failed", "tails-serverd")
            r = sb.run("systemctl", "start", "tails-serverd")
            self.expect(r.returncode == 0, "systemctl start tails-serverd", r.stdout)
        ok, _ = self.wait_for(10, stale_gone)
        self.expect(ok, "the stale rule for port %d is gone" % STALE_PORT, our_rules())
        rules = our_rules()
        self.expect(no_lan_rule_for(W.port, rules), "no LAN rule for port %s (the recorded allow-lan is false)"
                    % W.port, rules)
        self.expect(tor_rule_for(W.port), "tor's rule for port %s is there" % W.port, rules)
        self.expect(hooks_once(), "one jump each at the top of INPUT and OUTPUT", rules_text())
        got = "%s:%s" % (sb.option("nginx", "allow-lan"), sb.status_field("nginx", "enabled"))
        self.expect(got == "false:true", "the daemon reads allow-lan false; nginx is still enabled",
                    "allow-lan:enabled = %s, state: %s" % (got, sb.state_of("nginx")))
        lst = listeners()
        note("listening on: " + lst)
        self.expect(bool(re.search(r"0\.0\.0\.0:|\*:", lst)),
                    "nginx still listens on every address (so the firewall is what refuses the LAN)", lst)
        self.see_all("after the crash and restart", True, False, False)
        self.see("tor6", True, "after the crash and restart, over ::1")
        self.see("nobody6", False, "after the crash and restart, over ::1")

    def edit_allow_lan_false(self):
        """Rewrites the allow-lan value(s) in the frozen daemon's state file from "true" to
        "false" (in place: cat > keeps its mode). (ok, context)."""
        sb = self.sb
        text = sb.cat(STATE_FILE)
        try:
            data = json.loads(text)
        except ValueError:
            return False, "not JSON:\n" + text

        def values(node, found):
            if isinstance(node, dict):
                if node.get("key") == "allow-lan" and "value" in node:
                    found.append(node)
                for v in node.values():
                    values(v, found)
            elif isinstance(node, list):
                for v in node:
                    values(v, found)
            return found
        found = values(data, [])
        if [n["value"] for n in found] != ["true"]:
            return False, "allow-lan is not \"true\" in %s:\n%s" % (STATE_FILE, text)
        for n in found:
            n["value"] = "false"
        r = sb.sh('cat >"$1"', STATE_FILE, input=json.dumps(data, indent=2) + "\n")
        after = sb.cat(STATE_FILE)
        try:
            ok = r.returncode == 0 and [n["value"] for n in values(json.loads(after), [])] == ["false"]
        except ValueError:
            ok = False
        return ok, after

    def test_uninstall_of_an_enabled_service_with_allow_lan_removes_every_rule(self):
        """8. uninstall of an enabled service with allow-lan: the rules go."""
        sb = self.sb
        self.ensure(enabled=True)
        r = sb.ts("set-option", "nginx", "allow-lan", "true")
        self.expect(r.returncode == 0, "set-option nginx allow-lan true (nginx restarts)", r.stdout)
        sb.wait_up("nginx", 30)
        self.see("lan4", True, "allow-lan again")
        r = sb.ts("uninstall", "nginx", "--yes")
        self.expect(r.returncode == 0, "uninstall nginx --yes", r.stdout)
        self.see_all("uninstalled", False, False, False)
        self.expect(no_trace_of_ours(), "nothing of ours is left after uninstall (no TAILS-SERVER chain or jump, "
                    "IPv4 and IPv6)", rules_text())


class CleanUp(FirewallCase):
    """9. Clean-up: nothing left on the host."""

    def test_nothing_is_left_on_the_host(self):
        sb = self.sb
        sb.poweroff()
        self.expect(not sb.is_running(), "the sandbox is powered off")
        host("ip", "netns", "del", LAN)
        W.lan_made = False
        netns = host("ip", "netns", "list").stdout
        self.expect(not re.search(r"(^|\s)%s(\s|$)" % re.escape(LAN), netns), "no network namespace %s left" % LAN)
        links = host("ip", "-o", "link", "show").stdout
        self.expect(not re.search(r": (v-tails|v-lan)[@:]", links), "no veth of the test on the host")
        mounts = sb.mounts_left()
        self.expect(not mounts, "no mounts left under %s" % sb.work, "".join(mounts[:10]))
        if not mounts:
            shutil.rmtree(sb.work, ignore_errors=True)
            self.expect(not os.path.exists(sb.work), "the work directory is removed")

    def on_failure(self):
        pass
