"""Persistence and autostart across a "reboot" of a sandbox (tests/sandbox/sandbox) with a
persistent volume (--persistent HOSTDIR, mounted at /live/persistence/TailsData_unlocked).

Boot 1: tails-serverd as a real unit; nginx, gobby and prosody installed and enabled; real data
(a page in nginx's site root, a document in infinoted's root dir); persistence on for nginx and
gobby, autostart on for nginx only; an XMPP account made through `tails-server run prosody
add-account` (alice logs in); persistence on for prosody too; mumble stays amnesic with a
changed option. Power off.
Boot 2 (same HOSTDIR), with a plugin whose static initializer faults beside the others: the daemon
crashes once, is restarted and puts that plugin aside, and tails-server-autostart.service (enabled)
starts nginx again with its page and the same onion address; gobby keeps its document and address but stays stopped; prosody
keeps its address and, enabled again, lets alice log in; mumble has a new address and default
options.
Boot 3 (--locked: the volume is not there at boot, as on Tails before the Welcome Screen): nginx
is stopped; `sandbox unlock` mounts the volume, the daemon notices the mount and reads the state
it finds there; nginx's package is "unpacked" in dpkg's status (as before Tails' Additional
Software installed it), so the daemon waits, and starts nginx (autostart) with its page and
address once dpkg says it is installed; gobby (made autostart at the end of boot 2) never gets
infinoted, and the daemon gives up after autostart_package_wait (15 s here) and leaves it off.
Then persistence off for gobby leaves nothing of it under HOSTDIR; and a migration killed
half-way (kill -9 of the daemon during a slow copy) loses no file and leaves a consistent state
after the daemon's restart.

The story spans three boots, so each boot is a test class whose setUpClass (re)boots the
sandbox; a method that needs something an earlier method should have made (an onion address,
a page on the volume) is skipped, naming what is missing, instead of failing again. Run by
tests/scenario/run-scenario (ctest: persistence-reboot-sandbox). The sandbox is powered off at
the end, even on failure.
"""

import glob
import os
import re
import shutil
import subprocess
import time

import os as _os
import sys as _sys

# sandbox_fixture: run-scenario puts tests/scenario on the path; this is for "python3 -m unittest".
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import PERSISTENCE_MOUNT, Sandbox, ScenarioCase, note, wait_until

NGINX_ROOT = "/var/www/tails-server"
GOBBY_ROOT = "/var/lib/tails-server-infinoted"
ACCOUNT_PASSWORD = 'an XMPP "pass" \\ word'
MUMBLE_WELCOME = "forgotten at the reboot"
PAGE = "hello from boot 1"


class World:
    sb = None
    persist = ""
    autostart_enable = None  # (ok, output) of 'systemctl --root=TREE enable'
    addresses = {}           # boot 1's onion addresses
    boot_results = {}        # boot name -> (ok, log)
    big_sum = ""


W = World


def setUpModule():
    sb = W.sb = Sandbox(name="reboot")
    with sb.setting_up():
        _set_up(sb)


def _set_up(sb):
    W.persist = os.path.join(sb.work, "persist")
    sb.stage(drop_in=True, config="autostart_package_wait: 15\n", files={
        # The build dir may have another prefix: run what was staged under /usr.
        "/etc/systemd/system/tails-server-autostart.service.d/reboot-test.conf":
            "[Service]\nExecStart=\nExecStart=/usr/bin/tails-server autostart\n"})
    # Boot 3 waits for packages that never come (gobby's): give up after 15 s (config above).
    # As a package would: enable the autostart unit.
    r = subprocess.run(["systemctl", "--root=" + sb.tree, "enable", "tails-server-autostart.service"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    link = os.path.join(sb.tree, "etc/systemd/system/multi-user.target.wants/tails-server-autostart.service")
    W.autostart_enable = (r.returncode == 0 and os.path.islink(link), r.stdout)


def tearDownModule():
    if W.sb:
        W.sb.cleanup()


class RebootCase(ScenarioCase):
    abstract = True

    @property
    def sb(self):
        return W.sb

    @classmethod
    def reboot(cls, name, locked=False):
        """Powers the sandbox off (if it runs) and boots it again with the persistent volume."""
        sb = W.sb
        powered_off = sb.poweroff() if sb.booted else None
        try:
            sb.boot(persistent=W.persist, locked=locked)
            W.boot_results[name] = (True, sb.boot_log, powered_off)
        except Exception as e:  # pylint: disable=broad-except
            W.boot_results[name] = (False, str(e), powered_off)
            raise

    def needs(self, *keys):
        missing = [k for k in keys if not W.addresses.get(k)]
        if missing:
            self.skipTest("needs boot 1's %s (not recorded: an earlier method failed)" % ", ".join(missing))

    def status_field(self, svc, field):
        return self.sb.status_field(svc, field)

    def page(self):
        """curl of nginx's hello.html."""
        port = self.sb.option("nginx", "local-port")
        return self.sb.run("curl", "-fsS", "http://127.0.0.1:%s/hello.html" % port).stdout

    def start_daemon(self, when):
        r = self.sb.run("systemctl", "start", "tails-serverd")
        self.expect(r.returncode == 0, "tails-serverd starts (%s)" % when,
                    r.stdout + "\n" + self.sb.journal("tails-serverd", lines=30))

    def xmpp_login(self, password):
        port = self.sb.option("prosody", "local-port")
        return self.sb.xmpp_probe(port, self.sb.xmpp_domain(), password, timeout=60)

    def autostart_ended(self):
        v = self.sb.unit_property("tails-server-autostart", "ExecMainExitTimestampMonotonic")
        return int(v) if v.isdigit() else 0

    def wait_autostart(self, after=0):
        """Waits (120 s) until tails-server-autostart ended after AFTER (µs): (succeeded, status)."""
        wait_until(lambda: self.autostart_ended() > after, 120, 1)
        status = self.sb.run("systemctl", "status", "--no-pager", "-n", "20", "tails-server-autostart").stdout
        return (self.autostart_ended() > after
                and self.sb.unit_property("tails-server-autostart", "Result") == "success"), status

    def daemon_log(self):
        text = self.sb.run("journalctl", "-u", "tails-serverd", "--no-pager").stdout
        return "\n".join(l for l in text.splitlines() if re.search("Persistent Storage|autostart", l))

    def wait_log(self, needle, timeout):
        wait_until(lambda: needle in self.daemon_log(), timeout, 1)
        log = self.daemon_log()
        return needle in log, log

    def dpkg_status(self, package, old, new):
        """Rewrites the package's status word in dpkg's database."""
        self.sb.exec("perl", "-0pi", "-e", r"s/(Package: %s\nStatus: install ok) %s\n/$1 %s\n/" % (package, old, new),
                     "/var/lib/dpkg/status")

    def persisted(self, *parts):
        return os.path.join(W.persist, "tails-server", *parts)


# ---------------------------------------------------------------------------------------------
class Boot1(RebootCase):
    """Staging and first boot: services, real data, persistence on."""

    @classmethod
    def setUpClass(cls):
        cls.reboot("boot 1")
        r = W.sb.run("systemctl", "start", "tails-serverd")
        cls.daemon_started = r

    def test_the_autostart_unit_is_installed_and_enabled(self):
        ok, out = W.autostart_enable
        self.expect(ok, "tails-server-autostart.service is installed and enabled", out)

    def test_boot_1_starts_the_sandbox_and_the_daemon(self):
        ok, log, _ = W.boot_results["boot 1"]
        self.expect(ok, "boot the sandbox with the persistent volume (boot 1)", log)
        r = self.daemon_started
        self.expect(r.returncode == 0, "tails-serverd starts (boot 1)",
                    r.stdout + "\n" + self.sb.journal("tails-serverd", lines=30))

    def test_four_services_install_and_run(self):
        sb = self.sb
        for svc in ("nginx", "gobby", "prosody", "mumble"):
            r = sb.ts("install", svc)
            self.expect(r.returncode == 0, "install %s" % svc, r.stdout)
        for svc in ("nginx", "gobby", "prosody", "mumble"):
            r = sb.ts("enable", svc)
            ok = r.returncode == 0 and sb.wait_up(svc, 60, 1)
            self.expect(ok, "enable %s (%s)" % (svc, "" if ok else sb.state_of(svc)), r.stdout)

    def ensure_up(self, svc):
        if not self.sb.is_up(svc):
            if self.sb.status_field(svc, "installed") != "true":
                self.sb.ts("install", svc)
            self.sb.ts("enable", svc)
            self.assertTrue(self.sb.wait_up(svc, 60, 1), "precondition: %s runs" % svc)

    def test_real_data_an_xmpp_account_and_four_onion_addresses(self):
        sb = self.sb
        for svc in ("nginx", "gobby", "prosody", "mumble"):
            self.ensure_up(svc)
        sb.exec("sh", "-c", "printf '%s\\n' >%s/hello.html" % (PAGE, NGINX_ROOT))
        self.expect(PAGE in self.page(), "nginx serves the page written in its site root", self.page())
        sb.exec("sh", "-c", "printf 'a gobby document\\n' >%s/notes; chown --reference=%s %s/notes"
                % (GOBBY_ROOT, GOBBY_ROOT, GOBBY_ROOT))
        r = sb.ts("run", "prosody", "add-account", "alice", input=ACCOUNT_PASSWORD)
        self.expect(r.returncode == 0, "prosody: an XMPP account made with 'run prosody add-account alice'", r.stdout)
        r = self.xmpp_login(ACCOUNT_PASSWORD)
        self.expect(r.returncode == 0, "prosody: alice logs in (XMPP probe)", r.stdout + r.stderr)
        for svc in ("nginx", "gobby", "prosody", "mumble"):
            W.addresses[svc] = self.status_field(svc, "address")
        note("addresses: " + ", ".join("%s %s" % kv for kv in W.addresses.items()))
        self.expect(all(W.addresses.values()), "nginx, gobby, prosody and mumble have onion addresses")
        r = sb.ts("set-option", "mumble", "welcome-message", MUMBLE_WELCOME)
        self.expect(r.returncode == 0, "mumble (stays amnesic): welcome-message changed", r.stdout)

    def test_persistence_on_moves_data_keys_and_state_to_the_volume(self):
        sb = self.sb
        for svc, opt in (("nginx", "persistence"), ("gobby", "persistence"), ("prosody", "persistence"),
                         ("nginx", "autostart")):
            r = sb.ts("set-option", svc, opt, "true")
            self.expect(r.returncode == 0, "%s on for %s" % (opt, svc), r.stdout)
        listing = subprocess.run(["ls", "-la", self.persisted()], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, check=False).stdout
        try:
            st = os.stat(self.persisted())
            mode = "%o:%d" % (st.st_mode & 0o7777, st.st_uid)
        except OSError:
            mode = ""
        self.expect(mode == "700:0", "HOSTDIR/tails-server is 0700 root", listing)

        def has(path, text):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    return text in f.read()
            except OSError:
                return False
        self.expect(has(self.persisted("nginx", "data", "var%2Fwww%2Ftails-server", "hello.html"), PAGE),
                    "nginx's page is on the persistent volume", listing)
        self.expect(has(self.persisted("gobby", "data", "var%2Flib%2Ftails-server-infinoted", "notes"),
                        "a gobby document"), "gobby's document is on the persistent volume", listing)
        self.expect(os.path.isfile(self.persisted("nginx", "state", "hs_ed25519_secret_key"))
                    and os.path.isfile(self.persisted("nginx", "state.json")),
                    "nginx's onion key and state are on the persistent volume", listing)
        mnt = sb.run("findmnt", "-n", NGINX_ROOT).stdout
        self.expect(bool(mnt.strip()), "nginx's site root is a bind mount", mnt)
        self.expect(sb.wait_up("nginx", 30, 1), "nginx runs again after the migration")
        self.expect(PAGE in self.page(), "nginx serves its page from the persistent volume", self.page())


FAULTING = "usr/lib/tails-server/plugins/fault-in-initializer.so"


class Boot2(RebootCase):
    """Reboot: what persisted comes back, what did not is new; a faulting plugin costs one crash."""

    @classmethod
    def setUpClass(cls):
        fixture = os.path.join(W.sb.build, "tests", "loader", "fixtures", "fixture-plugins", "crashing",
                               "fault-in-initializer.so")
        shutil.copy(fixture, os.path.join(W.sb.tree, FAULTING))
        os.chmod(os.path.join(W.sb.tree, FAULTING), 0o644)
        cls.reboot("boot 2")

    def test_a_faulting_plugin_costs_one_crash_at_boot_and_is_put_aside(self):
        sb = self.sb
        self.wait_autostart(0)
        restarts = sb.unit_property("tails-serverd", "NRestarts")
        self.expect_equal(restarts, "1", "the faulting plugin cost the daemon exactly one restart at this boot")
        entry = (sb.tails_server("list", "--all") or {}).get("/" + FAULTING) or {}
        self.expect_equal(entry.get("state"), "crashed", "list --all names it as crashed", str(entry))

    def test_power_off_and_boot_2(self):
        ok, log, powered_off = W.boot_results["boot 2"]
        self.expect(bool(powered_off), "power off")
        self.expect(ok, "boot the sandbox with the persistent volume (boot 2)", log)

    def test_autostart_brings_nginx_back_with_its_page_address_and_options(self):
        sb = self.sb
        # The autostart unit starts the daemon and asks it to restore nginx.
        ok, status = self.wait_autostart(0)
        self.expect(ok, "tails-server-autostart.service ran at boot and succeeded", status)
        if sb.unit_property("tails-serverd", "ActiveState") != "active":
            self.start_daemon("boot 2")
        self.expect(sb.wait_up("nginx", 60, 1), "nginx runs again after the reboot (autostart)",
                    "nginx: " + sb.state_of("nginx"))
        self.expect(PAGE in self.page(), "nginx serves the page written before the reboot", self.page())
        self.needs("nginx")
        got = self.status_field("nginx", "address")
        self.expect(got == W.addresses["nginx"], "nginx has the same onion address", "nginx: " + got)
        opts = "%s:%s" % (sb.option("nginx", "persistence"), sb.option("nginx", "autostart"))
        self.expect(opts == "true:true", "nginx's options survived (persistence and autostart true)", opts)

    def test_gobby_keeps_its_document_and_address_but_stays_stopped(self):
        sb = self.sb
        self.needs("gobby")
        ctx = "gobby: %s enabled=%s" % (self.status_field("gobby", "state"), self.status_field("gobby", "enabled"))
        self.expect(self.status_field("gobby", "state") == "stopped", "gobby is stopped (not autostart)", ctx)
        self.expect(self.status_field("gobby", "address") == W.addresses["gobby"], "gobby has the same onion address",
                    ctx)
        doc = sb.run("cat", GOBBY_ROOT + "/notes").stdout
        self.expect("a gobby document" in doc, "gobby's document survived", doc)

    def test_prosody_keeps_its_address_and_alice_logs_in_again(self):
        sb = self.sb
        self.needs("prosody")
        got = "%s:%s" % (self.status_field("prosody", "state"), self.status_field("prosody", "address"))
        self.expect(got == "stopped:" + W.addresses["prosody"],
                    "prosody is stopped (not autostart) and has the same address", "prosody: " + got)
        r = sb.ts("enable", "prosody")
        self.expect(r.returncode == 0 and sb.wait_up("prosody", 60, 1), "enable prosody", r.stdout)
        r = self.xmpp_login(ACCOUNT_PASSWORD)
        self.expect(r.returncode == 0, "prosody: alice, made before the reboot, logs in (XMPP probe)", r.stdout + r.stderr)
        r = self.xmpp_login("wrong")
        self.expect(r.returncode == 2, "prosody: a wrong password is still refused", r.stdout + r.stderr)

    def test_mumble_without_persistence_has_a_new_address_and_default_options(self):
        sb = self.sb
        self.needs("mumble")
        got, welcome = self.status_field("mumble", "address"), sb.option("mumble", "welcome-message")
        ctx = "mumble: %s welcome-message=%s" % (got, welcome)
        self.expect(got != W.addresses["mumble"], "mumble (persistence off) has a new address", ctx)
        self.expect(welcome != MUMBLE_WELCOME, "mumble (persistence off) has its default options", ctx)

    def test_gobby_is_made_autostart_for_boot_3(self):
        r = self.sb.ts("set-option", "gobby", "autostart", "true")
        self.expect(r.returncode == 0, "autostart on for gobby (its package will not come in boot 3)", r.stdout)


class Boot3Locked(RebootCase):
    """Reboot with the Persistent Storage unlocked after boot (as on Tails)."""

    @classmethod
    def setUpClass(cls):
        os.remove(os.path.join(W.sb.tree, FAULTING))
        cls.reboot("boot 3", locked=True)

    def test_power_off_and_boot_3_locked(self):
        ok, log, powered_off = W.boot_results["boot 3"]
        self.expect(bool(powered_off), "power off")
        self.expect(ok, "boot the sandbox with the persistent volume (boot 3, locked)", log)

    def test_the_unlock_restores_nginx_once_its_package_is_installed_and_gives_up_on_gobby(self):
        sb = self.sb
        ok, status = self.wait_autostart(0)
        self.expect(ok, "tails-server-autostart.service ran at boot and succeeded (nothing to do yet)", status)
        ctx = "nginx: %s, address %s" % (self.status_field("nginx", "state"), self.status_field("nginx", "address"))
        self.expect(self.status_field("nginx", "state") == "stopped", "before the unlock, nginx is stopped", ctx)
        self.expect(self.status_field("nginx", "address") != W.addresses.get("nginx", ""),
                    "before the unlock, nginx does not have its persistent address", ctx)
        # On Tails, Additional Software installs the packages only after the unlock: here dpkg
        # says nginx and infinoted are unpacked, not installed; nginx's status is put back after
        # a while, infinoted's only after the daemon gave up on it.
        self.dpkg_status("nginx", "installed", "unpacked")
        self.dpkg_status("infinoted", "installed", "unpacked")
        got = sb.run("dpkg-query", "-W", "-f=${db:Status-Status} ", "nginx", "infinoted").stdout
        self.expect(got == "unpacked unpacked ", "dpkg says nginx and infinoted are not installed (unpacked) before "
                    "the unlock", got)
        r = sb.unlock()
        self.require(sb.ok("mountpoint", "-q", PERSISTENCE_MOUNT), "unlock: the volume is mounted at %s"
                     % PERSISTENCE_MOUNT, r.stdout)
        # No unit runs now: the daemon notices the new mount by itself.
        ok, log = self.wait_log("waiting for the packages of nginx", 60)
        self.expect(ok, "the daemon noticed the unlock and waits for nginx's packages (journal)", log)
        time.sleep(3)
        s = self.status_field("nginx", "state")
        self.expect(s == "not-installed", "nginx is not started while its packages are missing (not-installed)",
                    "nginx: " + s)
        self.dpkg_status("nginx", "unpacked", "installed")
        ok, log = self.wait_log("autostart: nginx started", 60)
        self.expect(ok, "once dpkg says nginx is installed, the daemon starts it (journal)", log)
        self.expect(sb.wait_up("nginx", 60, 1), "nginx runs after the unlock (autostart)",
                    "nginx: " + self.status_field("nginx", "state"))
        got = self.status_field("nginx", "address")
        self.expect(bool(got) and got == W.addresses.get("nginx"), "nginx has its persistent address again",
                    "nginx: %s (boot 1: %s)" % (got, W.addresses.get("nginx")))
        self.expect(PAGE in self.page(), "nginx serves the page written before the reboots", self.page())
        # infinoted's package never came: after autostart_package_wait (15 s) the daemon gives up.
        ok, log = self.wait_log("gobby is marked autostart but not installed", 40)
        self.expect(ok, "the daemon gave up waiting for gobby's packages (journal)", log)
        got = "%s:%s" % (self.status_field("gobby", "state"), self.status_field("gobby", "enabled"))
        self.expect(got == "not-installed:false", "gobby stays off (not-installed, not enabled)", "gobby: " + got)
        self.dpkg_status("infinoted", "unpacked", "installed")
        got = "%s:%s" % (self.status_field("gobby", "state"), self.status_field("gobby", "address"))
        self.expect(bool(W.addresses.get("gobby")) and got == "stopped:" + W.addresses["gobby"],
                    "with its package back, gobby is stopped (not started late) and has its persistent address",
                    "gobby: " + got)
        doc = sb.run("cat", GOBBY_ROOT + "/notes").stdout
        self.expect("a gobby document" in doc, "gobby's document is mounted back", doc)


class AfterTheUnlock(RebootCase):
    """Persistence off for gobby; a migration killed half-way (still boot 3)."""

    def setUp(self):
        if not self.sb.ok("mountpoint", "-q", PERSISTENCE_MOUNT):
            self.sb.unlock()
        for pkg in ("nginx", "infinoted"):  # if the previous test stopped half-way
            self.dpkg_status(pkg, "unpacked", "installed")

    def test_persistence_off_for_gobby_leaves_nothing_of_it_on_the_volume(self):
        sb = self.sb
        r = sb.ts("set-option", "gobby", "persistence", "false")
        self.expect(r.returncode == 0, "persistence off for gobby", r.stdout)
        left = glob.glob(self.persisted("gobby*")) + glob.glob(self.persisted("**", "gobby*"), recursive=True)
        self.expect(not left, "nothing of gobby remains under HOSTDIR/tails-server", "\n".join(left))
        doc = sb.run("cat", GOBBY_ROOT + "/notes").stdout
        self.expect("a gobby document" in doc, "gobby's document is back in the amnesic system", doc)
        mnt = sb.run("findmnt", "-n", GOBBY_ROOT).stdout
        self.expect(not mnt.strip(), "gobby's root is no longer mounted", mnt)
        got = self.status_field("gobby", "address")
        self.expect(bool(got) and got == W.addresses.get("gobby"), "gobby keeps its address",
                    "gobby: %s (boot 1: %s)" % (got, W.addresses.get("gobby")))

    def big_sum(self):
        return (self.sb.out("sha256sum", NGINX_ROOT + "/big").split() or [""])[0]

    def test_a_migration_killed_half_way_loses_no_file(self):
        sb = self.sb
        if sb.option("nginx", "persistence") != "true":
            r = sb.ts("set-option", "nginx", "persistence", "true")
            self.assertEqual(r.returncode, 0, "precondition: nginx's persistence on\n" + r.stdout)
        sb.exec("dd", "if=/dev/urandom", "of=%s/big" % NGINX_ROOT, "bs=1M", "count=2000", "status=none")
        big_sum = self.big_sum()
        pid = sb.unit_property("tails-serverd", "MainPID")
        proc = sb.spawn("tails-server", "set-option", "nginx", "persistence", "false", log=sb.work + "/killed.out")
        self.addCleanup(lambda: proc.poll() is not None or proc.kill())
        # Kill as soon as the journal appears: the copy of the big file is under way.
        journal = self.persisted("nginx.journal")
        wait_until(lambda: os.path.exists(journal), 10, 0.01)
        sb.exec("kill", "-9", pid)
        listing = subprocess.run(["ls", "-la", self.persisted()], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, check=False).stdout
        self.expect(os.path.exists(journal), "the daemon was killed while the journal was there (mid-migration)",
                    listing)
        time.sleep(2)
        if sb.unit_property("tails-serverd", "ActiveState") != "active":
            sb.run("systemctl", "reset-failed", "tails-serverd")
            self.start_daemon("after the kill")
        else:
            self.expect(True, "tails-serverd restarted after the kill")
        wait_until(lambda: not os.path.exists(journal), 30, 1)
        log = "\n".join([l for l in sb.journal("tails-serverd", lines=40).splitlines()
                         if re.search("rolled back|finished|persist", l, re.I)][-5:])
        self.expect(not os.path.exists(journal), "the restarted daemon finished or rolled back the migration "
                    "(no journal)", log)
        note(log)
        p = sb.option("nginx", "persistence")
        where = "true" if os.path.isfile(self.persisted("nginx", "state.json")) else "false"
        self.expect(p == where, "the state is consistent (option = where the state is)",
                    "option persistence=%s, state on the persistent volume: %s" % (p, where))
        ctx = sb.run("sh", "-c", "ls -la %s; ls -a /var/www" % NGINX_ROOT).stdout
        self.expect(sb.ok("grep", "-q", PAGE, NGINX_ROOT + "/hello.html"), "no file lost: the page is there", ctx)
        self.expect(self.big_sum() == big_sum, "no file lost: the big file is whole", ctx)
        temps = sb.out("sh", "-c", "ls -a /var/www | grep tails-server-")
        self.expect(not temps.strip(), "no temporary copies left", ctx)
        got = self.status_field("nginx", "address")
        self.expect(bool(got) and got == W.addresses.get("nginx"), "nginx has the same onion address",
                    "nginx: %s (boot 1: %s)" % (got, W.addresses.get("nginx")))
        # And the migration can be completed now.
        r = sb.ts("set-option", "nginx", "persistence", "false")
        self.expect(r.returncode == 0, "persistence off for nginx after the recovery", r.stdout)
        left = glob.glob(self.persisted("nginx*")) + glob.glob(self.persisted("**", "nginx*"), recursive=True)
        self.expect(not left, "nothing of nginx remains under HOSTDIR/tails-server", "\n".join(left))
        self.expect(self.big_sum() == big_sum, "no file lost after moving nginx back")
