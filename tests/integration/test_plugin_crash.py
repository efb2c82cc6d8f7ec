"""Plugins that crash tails-serverd, against the real unit in the sandbox's systemd: a plugin whose
static initializer faults costs one restart (Restart=on-failure), after which the daemon serves mumble
and lists the faulting file as crashed; a plugin whose configure hook aborts ends the CLI call with exit
code 12 and a message naming the plugin and step; `plugin retry` and a new file load a plugin again.
The crash records live in /run/tails-server (the unit's RuntimeDirectory=).

The service of a crashed plugin stays listed: `status` and `list` say `plugin-crashed` and name the
step, and its unit keeps running. With the faulting plugin beside it, mumble installs, enables and
reaches its onion through a private Tor network (tests/tor-network/tornet, started in the sandbox as
tests/e2e/test_onion.py does; skipped without tor). An enabled service whose plugin crashes keeps its
firewall rules across the daemon's restart (recorded in /run/tails-server/firewall.json).

Autostart after a reboot with a faulting plugin: tests/persistence/test_reboot.py (boot 2).
"""

import base64
import os as _os
import shutil
import sys as _sys

_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import Sandbox, ScenarioCase, ScenarioError, wait_until

PLUGIN_DIR = "/usr/lib/tails-server/plugins"
TN = "/run/tails-server-crash-tornet"  # not /tmp: the daemon has PrivateTmp=yes
ONLINE_LIMIT = 120  # enable -> online, as in tests/e2e/test_onion.py
# The fixture plugins' unit (tests/fixtures/fixture_service.h): a listener on their port 8080.
FIXTURE_UNIT = """[Unit]
Description=Tails Server fixture service (test_plugin_crash.py)
[Service]
ExecStart=/usr/bin/python3 -m http.server 8080 --bind 127.0.0.1
"""


class World:
    sb = None
    tornet = False


def setUpModule():
    sb = Sandbox(name="plugin-crash")
    with sb.setting_up():
        sb.stage()
        sb.boot()
        World.sb = sb


def tearDownModule():
    if World.sb:
        World.sb.cleanup()


class PluginCrash(ScenarioCase):
    def setUp(self):
        self.sb = World.sb
        # Each method restarts the daemon a few times: keep systemd's start rate limit
        # (5 starts in 10 s) from refusing the automatic restart under test.
        self.sb.run("systemctl", "reset-failed", "tails-serverd")

    def put(self, fixture, name):
        path = _os.path.join(self.sb.build, "tests", "loader", "fixtures", "fixture-plugins", fixture)
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        target = PLUGIN_DIR + "/" + name
        r = self.sb.sh('base64 -d > "$1.new" && chmod 644 "$1.new" && mv "$1.new" "$1"', target, input=data)
        self.require(r.returncode == 0, "installed %s as %s" % (fixture, target), r.stdout)
        return target

    def restarts(self):
        return int(self.sb.unit_property("tails-serverd", "NRestarts") or 0)

    def serving(self):
        return self.sb.tails_server("list") is not None

    def entry(self, path):
        return (self.sb.tails_server("list", "--all") or {}).get(path)

    def test_1_faulting_plugin_costs_one_restart(self):
        self.sb.run("systemctl", "stop", "tails-serverd")
        self.sb.run("rm", "-rf", "/run/tails-server")
        bad = self.put("crashing/fault-in-initializer.so", "fault-in-initializer.so")
        before = self.restarts()
        self.sb.run("systemctl", "start", "tails-serverd")
        self.require(wait_until(self.serving, 60), "tails-serverd serves again after the crash",
                     self.sb.journal("tails-serverd", lines=30))
        self.expect_equal(self.restarts() - before, 1, "the faulting plugin cost exactly one restart")
        listed = self.sb.tails_server("list") or {}
        self.expect("mumble" in listed, "mumble is served beside it", str(listed))
        entry = self.entry(bad) or {}
        self.expect_equal(entry.get("state"), "crashed", "list --all names the faulting file as crashed")
        self.expect("its load step" in entry.get("message", ""), "the message names the load step", str(entry))
        journal = self.sb.journal("tails-serverd", priority="err")
        self.expect("died while running" in journal and bad in journal, "the journal names the file at error level",
                    journal)
        # Another start (NRestarts counts the automatic restarts since it): no second crash.
        self.sb.run("systemctl", "restart", "tails-serverd")
        self.require(wait_until(self.serving, 60), "tails-serverd restarts")
        self.expect_equal(self.restarts(), 0, "no crash loop: a later start does not crash")
        self.expect_equal((self.entry(bad) or {}).get("state"), "crashed", "still put aside")
        # A good build under the same name: loaded at the next start.
        self.put("good.so", "fault-in-initializer.so")
        self.sb.run("systemctl", "restart", "tails-serverd")
        self.require(wait_until(self.serving, 60), "tails-serverd restarts with the new file")
        self.expect_equal((self.sb.tails_server("list", "--all") or {}).get("good", {}).get("plugin"), bad,
                          "the replaced file is loaded (it declares the plugin 'good')")
        self.sb.run("rm", "-f", bad)

    def test_2_configure_abort_ends_the_call_with_12_and_retry_loads_it(self):
        self.put("crashing/abort-in-configure.so", "abort-in-configure.so")
        self.sb.run("systemctl", "restart", "tails-serverd")
        self.require(wait_until(self.serving, 60), "tails-serverd serves with abort-in-configure")
        before = self.restarts()
        r = self.sb.ts("configure", "abort-in-configure", timeout=120)
        self.expect_equal(r.returncode, 12, "the CLI exits 12 when the daemon died during its call", r.stdout)
        self.expect("abort-in-configure" in r.stdout and "configure step" in r.stdout
                    and "journalctl -u tails-serverd" in r.stdout,
                    "the CLI names the plugin, the step and where to look", r.stdout)
        self.require(wait_until(self.serving, 60), "tails-serverd serves again",
                     self.sb.journal("tails-serverd", lines=40) + self.sb.daemon_health())
        self.expect_equal(self.restarts() - before, 1, "one restart")
        listed = self.sb.tails_server("list") or {}
        crashed = listed.get("abort-in-configure") or {}
        self.expect(crashed.get("state") == "plugin-crashed" and "configure step" in crashed.get("message", "")
                    and "mumble" in listed,
                    "the crashed plugin's service is listed as plugin-crashed in its configure step, "
                    "mumble is served", str(listed))
        r = self.sb.ts("plugin", "retry", "abort-in-configure")
        self.expect(r.returncode == 0 and "loaded" in r.stdout, "plugin retry loads it again", r.stdout)
        self.expect("abort-in-configure" in (self.sb.tails_server("list") or {}), "its service is back")
        r = self.sb.ts("plugin", "retry", "abort-in-configure")
        self.expect_equal(r.returncode, 4, "retrying a plugin that is not put aside: no such service (4)")
        self.sb.run("rm", "-f", PLUGIN_DIR + "/abort-in-configure.so")

    def test_3_the_service_of_a_crashed_plugin_says_plugin_crashed_and_its_unit_keeps_running(self):
        sb = self.sb
        sb.sh('cat >/etc/systemd/system/tails-server-fixture.service', input=FIXTURE_UNIT)
        sb.run("systemctl", "daemon-reload")
        r = sb.run("systemctl", "start", "tails-server-fixture.service")
        self.require(r.returncode == 0, "the fixture's unit starts", r.stdout)
        pid = sb.unit_property("tails-server-fixture.service", "MainPID")
        self.put("crashing/abort-in-configure.so", "abort-in-configure.so")
        sb.run("systemctl", "restart", "tails-serverd")
        self.require(wait_until(self.serving, 60), "tails-serverd serves with abort-in-configure")
        r = sb.ts("configure", "abort-in-configure", timeout=120)
        self.require(r.returncode == 12, "the configure abort crashes the daemon (exit 12)", r.stdout)
        self.require(wait_until(self.serving, 60), "tails-serverd serves again", sb.journal("tails-serverd", lines=40))

        r = sb.ts("status", "abort-in-configure")
        self.expect(r.returncode == 0 and "plugin-crashed" in r.stdout and "configure step" in r.stdout,
                    "status of the crashed plugin's service says plugin-crashed and names the step", r.stdout)
        listed = sb.tails_server("list") or {}
        entry = listed.get("abort-in-configure", {})
        self.expect_equal(entry.get("state"), "plugin-crashed", "list shows its service as plugin-crashed",
                          str(listed))
        self.expect("configure step" in entry.get("message", ""), "list's message names the step", str(entry))
        self.expect("mumble" in listed and listed["mumble"].get("state") != "plugin-crashed",
                    "mumble is served as before", str(listed))
        self.expect(sb.unit_property("tails-server-fixture.service", "ActiveState") == "active"
                    and sb.unit_property("tails-server-fixture.service", "MainPID") == pid,
                    "its unit keeps running, the same process (MainPID %s)" % pid,
                    sb.out("systemctl", "status", "tails-server-fixture.service"))
        r = sb.ts("enable", "abort-in-configure")
        self.expect(r.returncode == 4 and "put aside after a crash" in r.stdout,
                    "enable of it is refused naming the crash (exit 4)", r.stdout)

        sb.run("systemctl", "stop", "tails-server-fixture.service")
        sb.run("rm", "-f", PLUGIN_DIR + "/abort-in-configure.so", "/etc/systemd/system/tails-server-fixture.service")
        sb.run("systemctl", "daemon-reload")

    def ensure_tornet(self):
        """The private Tor network runs and the daemon drives its service tor."""
        if World.tornet:
            return
        seconds, env = self.sb.start_tornet(TN, timeout=180)
        socket, cookie = env.get("SERVICE_CONTROL_SOCKET", ""), env.get("SERVICE_COOKIE", "")
        if not socket or not cookie:
            raise ScenarioError("%s/env has no SERVICE_CONTROL_SOCKET or SERVICE_COOKIE" % TN)
        self.sb.write_config('tor_control: "unix:%s"\ntor_cookie: "%s"\n' % (socket, cookie))
        World.tornet = True

    def test_4_beside_a_faulting_plugin_mumble_installs_enables_and_reaches_its_onion(self):
        if not (shutil.which("tor") and shutil.which("tor-gencert")):
            self.skipTest("tor or tor-gencert is missing")
        sb = self.sb
        self.ensure_tornet()
        sb.run("systemctl", "stop", "tails-serverd")
        sb.run("rm", "-rf", "/run/tails-server")
        bad = self.put("crashing/fault-in-initializer.so", "fault-in-initializer.so")
        before = self.restarts()
        sb.run("systemctl", "start", "tails-serverd")
        self.require(wait_until(self.serving, 60), "tails-serverd serves after the crash",
                     sb.journal("tails-serverd", lines=30))
        self.expect_equal(self.restarts() - before, 1, "the faulting plugin cost one restart")
        self.expect_equal((self.entry(bad) or {}).get("state"), "crashed", "list --all names the faulting file")
        r = sb.ts("install", "mumble", timeout=600)
        self.expect(r.returncode == 0, "mumble installs beside it (exit %d)" % r.returncode, r.stdout)
        r = sb.ts("enable", "mumble", timeout=300)
        self.expect(r.returncode == 0, "mumble enables beside it (exit %d)" % r.returncode, r.stdout)
        reached, seen = sb.wait_state("mumble", "online", ONLINE_LIMIT)
        self.expect(reached, "mumble reaches its onion: online within %d s" % ONLINE_LIMIT, "seen: %s" % seen)
        self.expect(bool(sb.address_of("mumble")), "mumble has an onion address")
        self.expect_equal(self.restarts() - before, 1, "no further restart")
        sb.run("rm", "-f", bad)

    def firewall_ports(self):
        """The destination ports of our output chain (tor's user reaching the services)."""
        text = self.sb.out("iptables-save", "-t", "filter")
        return [line for line in text.splitlines() if line.startswith("-A TAILS-SERVER-OUT")], text

    def test_5_an_enabled_service_whose_plugin_crashes_keeps_its_firewall_rules(self):
        sb = self.sb
        sb.sh('cat >/etc/systemd/system/tails-server-fixture.service', input=FIXTURE_UNIT)
        sb.run("systemctl", "daemon-reload")
        self.put("crashing/abort-when-verbose.so", "abort-when-verbose.so")
        sb.run("systemctl", "restart", "tails-serverd")
        self.require(wait_until(self.serving, 60), "tails-serverd serves with abort-when-verbose")
        r = sb.ts("install", "abort-when-verbose", timeout=300)
        self.require(r.returncode == 0, "abort-when-verbose installs", r.stdout)
        r = sb.ts("enable", "abort-when-verbose", timeout=300)
        self.require(r.returncode == 0, "abort-when-verbose enables (its configure is harmless yet)", r.stdout)
        rules, text = self.firewall_ports()
        self.require(any("--dport 8080" in line for line in rules), "tor's user may reach its port 8080", text)
        pid = sb.unit_property("tails-server-fixture.service", "MainPID")

        before = self.restarts()
        r = sb.ts("set-option", "abort-when-verbose", "verbose", "true", timeout=120)
        self.expect_equal(r.returncode, 12, "its configure aborts: the CLI exits 12", r.stdout)
        self.require(wait_until(self.serving, 60), "tails-serverd serves again", sb.journal("tails-serverd", lines=40))
        self.expect_equal(self.restarts() - before, 1, "one restart")
        self.expect_equal(sb.state_of("abort-when-verbose"), "plugin-crashed", "its service is plugin-crashed")
        self.expect(sb.unit_property("tails-server-fixture.service", "MainPID") == pid,
                    "its unit keeps running, the same process (MainPID %s)" % pid)
        rules, text = self.firewall_ports()
        self.expect(any("--dport 8080" in line for line in rules),
                    "after the restart, tor's user may still reach its port 8080", text)

        r = sb.ts("plugin", "retry", "abort-when-verbose")
        self.expect(r.returncode == 0, "plugin retry loads it again", r.stdout)
        r = sb.ts("disable", "abort-when-verbose", timeout=120)
        self.expect(r.returncode == 0, "disable (stops its unit; no configure)", r.stdout)
        rules, text = self.firewall_ports()
        self.expect(not any("--dport 8080" in line for line in rules), "disabled: its rules are gone", text)
        sb.run("systemctl", "stop", "tails-server-fixture.service")
        sb.run("rm", "-f", PLUGIN_DIR + "/abort-when-verbose.so", "/etc/systemd/system/tails-server-fixture.service")
        sb.run("systemctl", "daemon-reload")
