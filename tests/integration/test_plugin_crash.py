"""Plugins that crash tails-serverd, against the real unit in the sandbox's systemd: a plugin whose
static initializer faults costs one restart (Restart=on-failure), after which the daemon serves mumble
and lists the faulting file as crashed; a plugin whose configure hook aborts ends the CLI call with exit
code 12 and a message naming the plugin and step; `plugin retry` and a new file load a plugin again.
The crash records live in /run/tails-server (the unit's RuntimeDirectory=).

Not covered here (see the loader tests for the crash records themselves): mumble's install, enable and
onion with the faulting plugin beside it, and autostart after a reboot.
"""

import base64
import os as _os
import sys as _sys

_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import Sandbox, ScenarioCase, wait_until

PLUGIN_DIR = "/usr/lib/tails-server/plugins"


class World:
    sb = None


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
