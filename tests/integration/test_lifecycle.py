"""The whole life of the four services (mumble, prosody, gobby, nginx), driven only through
the tails-server CLI against tails-serverd running as a real systemd unit in a throwaway
sandbox (tests/sandbox/sandbox), with real apt, dpkg, systemd and the real programs.

For each service: install (through apt, offline from /var/cache/apt/archives: a package whose
.deb is cached is purged in the sandbox first, so that the install is real; one whose .deb is
not cached stays installed and the "already installed" path is checked instead; the unit is
left disabled, so it never starts at boot on its own), hostile option values, enable (127.0.0.1
only; the unit is disabled again if its package enabled it again), a protocol probe as the real
client would connect, allow-lan on and off while it runs (it restarts listening on every IPv4 and
IPv6 address, then on 127.0.0.1 only), disable, a SIGKILL of the service's main process (status and monitor must
tell the truth), uninstall (the confirmation, the data, the state, and only the packages we
installed). Then the failure paths: enable while not installed (10), two installs at once
(busy, 9), packages installed behind our back, a local user who is not root (7).

One sandbox for the whole module (setUpModule); each test method brings the service to the
state it needs first (installed, options set, enabled...), so that one failure does not
cascade. Run by tests/scenario/run-scenario (ctest: integration-lifecycle). Nothing reaches the
host: every write lands in the sandbox's tmpfs, which is powered off at the end.
"""

import re
import time

import os as _os
import sys as _sys

# sandbox_fixture: run-scenario puts tests/scenario on the path; this is for "python3 -m unittest".
_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import (LONG, UP_STATES, Sandbox, ScenarioCase, ScenarioError, hex_of,
                             indent, note, wait_until)

SERVICES = ("mumble", "prosody", "gobby", "nginx")
DEFAULT_PACKAGES = {"mumble": ["mumble-server"], "prosody": ["prosody", "prosody-modules"],
                    "gobby": ["infinoted"], "nginx": ["nginx"]}
DEFAULT_UNIT = {"mumble": "mumble-server.service", "prosody": "prosody.service",
                "gobby": "tails-server-infinoted.service", "nginx": "nginx.service"}
# What 'systemctl is-enabled' must say of each unit once installed, so that it never starts at boot
# on its own (the daemon starts it). The packages of prosody and nginx ship a unit with an [Install]
# section and enable it: the daemon disables it again. The plugins of mumble and gobby write a unit
# without one ("static"). mumble-server ships only a SysV script, which its package enables: until
# systemd reloads, the unit that systemd-sysv-generator made from it says "enabled-runtime" (a link
# under /run); once the plugin's unit is loaded it hides the generated one.
UNIT_FILE_STATE = {"mumble": "static", "prosody": "disabled", "gobby": "static", "nginx": "disabled"}
AFTER_INSTALL = {"mumble": ("static", "enabled-runtime")}

# Hostile values, each checked against what the real client sees.
MUMBLE_PASSWORD = '@pa,ss;wo"rd\\x'
MUMBLE_WELCOME = 'Hello, "friends"; welcome <b>here</b>\nsecond, line \\ @end'
GOBBY_PASSWORD = ' lead\\ing;#pw=x"q"'
PROSODY_MOTD = ('Hi "all" ]] ]==] \'); os.execute("touch /etc/tails-server-pwned") --\n'
                'second line \\ backslash \\n & <tag>')
PROSODY_ACCOUNT_PASSWORD = 'p@ss "w0rd"; ]]x\\'
NGINX_PASSWORD = 'p:a$s"w;rd\\ x{}'
NGINX_ROOT = "/srv/tails server site"
NGINX_PAGE = '<p>Tails "site" with $dollar & spaces</p>\n'
SECRET_OPTION = {"mumble": ("server-password", MUMBLE_PASSWORD), "gobby": ("password", GOBBY_PASSWORD),
                 "nginx": ("basic-auth-password", NGINX_PASSWORD)}

STATE_WORDS = re.compile(r"(not-installed|installing|installed|stopped-unexpectedly|stopped|starting|"
                         r"stopping|uninstalling|failed|running|announcing|online|tor-not-running)")
UP = "(%s)" % "|".join(UP_STATES)


class World:
    """What setUpModule found out, shared by every test."""
    sb = None
    setup_error = None
    started = None         # CompletedProcess of 'systemctl start tails-serverd'
    packages = {}          # svc -> [package]
    unit = {}              # svc -> systemd unit
    ours = {}              # svc -> True when its packages were purged: 'install' installs them
    info_ok = {}           # svc -> 'info --details' named its packages
    info_text = {}
    options_set = set()    # services whose hostile options are set


W = World


def setUpModule():
    sb = W.sb = Sandbox(name="lifecycle")
    with sb.setting_up():
        _set_up(sb)


def _set_up(sb):
    try:
        sb.stage()
        sb.boot()
    except ScenarioError as e:
        W.setup_error = str(e)
        raise
    W.started = sb.run("systemctl", "start", "tails-serverd")
    if W.started.returncode != 0:
        W.setup_error = "systemctl start tails-serverd failed:\n%s\n%s" % (
            W.started.stdout, sb.journal("tails-serverd", lines=30))
        raise ScenarioError(W.setup_error)
    # Ask the daemon which packages each service has, then purge those whose .debs are cached.
    for svc in SERVICES:
        details = sb.exec("tails-server", "--json", "info", svc, "--details")
        W.info_text[svc] = details.stdout
        data = sb.tails_server("info", svc, "--details")
        entry = data.get(svc, {}) if isinstance(data, dict) else {}
        packages = entry.get("packages") if isinstance(entry, dict) else None
        unit = entry.get("unit") if isinstance(entry, dict) else None
        W.info_ok[svc] = bool(packages)
        W.packages[svc] = list(packages) if packages else DEFAULT_PACKAGES[svc]
        W.unit[svc] = unit if unit else DEFAULT_UNIT[svc]
        cached = True
        for p in W.packages[svc]:
            policy = sb.out("apt-cache", "policy", p)
            m = re.search(r"^ *Candidate: (.*)$", policy, re.M)
            version = m.group(1).strip() if m else ""
            if not version or version == "(none)" or not sb.ok(
                    "bash", "-c", 'compgen -G "/var/cache/apt/archives/$1_$2_*.deb" >/dev/null', "_",
                    p, version.replace(":", "%3a")):
                cached = False
        W.ours[svc] = False
        if cached:
            purge = sb.run("dpkg", "--purge", *W.packages[svc])
            if purge.returncode == 0:
                W.ours[svc] = True
                uris = sb.run("apt-get", "-qq", "--print-uris", "install", "--no-install-recommends",
                              *W.packages[svc]).stdout
                if uris.strip():
                    note("%s: apt would need to download:\n%s" % (svc, indent(uris)))
                note("%s: purged %s in the sandbox; 'install' must install them from the apt cache"
                     % (svc, " ".join(W.packages[svc])))
                continue
            note("%s: dpkg --purge failed:\n%s" % (svc, indent("\n".join(purge.stdout.splitlines()[-5:]))))
        note("%s: %s stay installed (no .deb cached); 'install' must recognise them"
             % (svc, " ".join(W.packages[svc])))


def tearDownModule():
    if W.sb:
        W.sb.cleanup()


# ---------------------------------------------------------------------------------------------
class Setup(ScenarioCase):
    """1. The staged install tree, the boot and the daemon."""

    def test_the_staged_unit_starts_the_staged_daemon(self):
        sb = W.sb
        ok = sb.exec_start_staged
        context = ""
        if not ok:
            context = ("ExecStart=%s, but the tree installed with --prefix /usr has %s; the rest "
                       "of the test runs with a drop-in that points ExecStart at /usr/sbin/tails-serverd"
                       % (sb.exec_start, " ".join(sb.staged_daemons()) or "no tails-serverd"))
        self.expect(ok, "the staged tails-serverd.service starts the staged daemon (%s)" % sb.exec_start,
                    context)

    def test_the_sandbox_boots_and_tails_serverd_starts(self):
        self.expect(W.sb.booted, "boot the sandbox", W.sb.boot_log)
        self.expect(W.started is not None and W.started.returncode == 0, "systemctl start tails-serverd",
                    W.started.stdout if W.started else "")

    def test_info_details_names_each_services_packages(self):
        for svc in SERVICES:
            self.expect(W.info_ok[svc], "tails-server --json info %s --details names its packages" % svc,
                        W.info_text[svc])


# ---------------------------------------------------------------------------------------------
class ServiceLifecycle:
    """2. The life of one service (SERVICE), in the order of its methods; each method first
    brings the service to the state it needs."""

    SERVICE = None

    # -- helpers --------------------------------------------------------------------------
    @property
    def sb(self):
        return W.sb

    @property
    def svc(self):
        return self.SERVICE

    def ports(self):
        ports = [self.sb.option(self.svc, "local-port")]
        if self.svc == "prosody":
            ports.append(self.sb.option("prosody", "s2s-port"))
        return [p for p in ports if p]

    def only_loopback(self, proto, port):
        addrs = self.sb.listeners(proto, port)
        return bool(addrs) and all(a == "127.0.0.1:%s" % port for a in addrs), \
            "listening on :%s (%s): %s" % (port, proto, " ".join(addrs) or "nothing")

    def dual_stack(self, proto, port):
        addrs = self.sb.listeners(proto, port)
        ok = addrs == ["0.0.0.0:%s" % port, "[::]:%s" % port] or addrs == ["*:%s" % port]
        return ok, "listening on :%s (%s): %s" % (port, proto, " ".join(addrs) or "nothing")

    def closed(self, port):
        addrs = self.sb.listeners("t", port)
        return not addrs, "listening on :%s: %s" % (port, " ".join(addrs) or "nothing")

    def ensure_installed(self):
        if self.sb.status_field(self.svc, "installed") != "true":
            r = self.sb.ts("install", self.svc)
            self.assertEqual(r.returncode, 0, "precondition: install %s\n%s" % (self.svc, r.stdout))

    def ensure_options(self):
        self.ensure_installed()
        if self.svc not in W.options_set:
            self.set_hostile_options(quiet=True)

    def ensure_enabled(self):
        self.ensure_options()
        if not self.sb.is_up(self.svc) or self.sb.status_field(self.svc, "enabled") != "true":
            r = self.sb.ts("enable", self.svc)
            self.assertEqual(r.returncode, 0, "precondition: enable %s\n%s" % (self.svc, r.stdout))
        if self.sb.option(self.svc, "allow-lan") == "true":
            self.sb.ts("set-option", self.svc, "allow-lan", "false")

    def unit_file_state(self):
        """What systemctl is-enabled says of the service's unit in the sandbox."""
        return self.sb.out("systemctl", "is-enabled", W.unit[self.svc]).strip()

    def ensure_disabled(self):
        if self.sb.status_field(self.svc, "enabled") == "true" or self.sb.is_up(self.svc):
            r = self.sb.ts("disable", self.svc)
            self.assertEqual(r.returncode, 0, "precondition: disable %s\n%s" % (self.svc, r.stdout))

    # -- hostile options --------------------------------------------------------------------
    def set_hostile_options(self, quiet=False):
        sb, svc = self.sb, self.svc
        expect = (lambda ok, what, context="": None) if quiet else self.expect
        out = lambda r: "exit %d\n%s" % (r.returncode, r.stdout)
        ok = True
        if svc == "mumble":
            r = sb.ts("set-option", "mumble", "server-password", input=MUMBLE_PASSWORD)
            ok &= r.returncode == 0
            expect(r.returncode == 0, 'mumble: set-option server-password (, " ; and a leading @) from stdin', out(r))
            got = sb.option("mumble", "server-password")
            expect(got == MUMBLE_PASSWORD, "mumble: get-option server-password gives it back exactly", "got: " + got)
            r = sb.ts("set-option", "mumble", "welcome-message", MUMBLE_WELCOME)
            ok &= r.returncode == 0
            expect(r.returncode == 0, "mumble: set-option welcome-message (commas, quotes, a newline)", out(r))
        elif svc == "gobby":
            r = sb.ts("set-option", "gobby", "password", input=GOBBY_PASSWORD)
            ok &= r.returncode == 0
            expect(r.returncode == 0, "gobby: set-option password (leading space, \\, ; and #) from stdin", out(r))
            got = sb.option("gobby", "password")
            expect(got == GOBBY_PASSWORD, "gobby: get-option password gives it back exactly", "got: [%s]" % got)
        elif svc == "prosody":
            r = sb.ts("set-option", "prosody", "motd", PROSODY_MOTD)
            ok &= r.returncode == 0
            expect(r.returncode == 0, "prosody: set-option motd (Lua-breaking quotes and brackets)", out(r))
        elif svc == "nginx":
            sb.exec("mkdir", "-p", NGINX_ROOT)
            sb.exec("tee", NGINX_ROOT + "/index.html", input=NGINX_PAGE)
            r = sb.ts("set-option", "nginx", "basic-auth", "true")
            ok &= r.returncode == 0
            expect(r.returncode == 0, "nginx: set-option basic-auth true", out(r))
            r = sb.ts("set-option", "nginx", "basic-auth-password", input=NGINX_PASSWORD)
            ok &= r.returncode == 0
            expect(r.returncode == 0, 'nginx: set-option basic-auth-password (: $ " ; \\ space {}) from stdin', out(r))
            r = sb.ts("set-option", "nginx", "site-root", NGINX_ROOT)
            ok &= r.returncode == 0
            expect(r.returncode == 0, "nginx: set-option site-root '%s'" % NGINX_ROOT, out(r))
        if ok:
            W.options_set.add(svc)

    # -- the real client ----------------------------------------------------------------------
    def probe(self):
        sb, port = self.sb, self.ports()[0]
        if self.svc == "mumble":
            r = sb.mumble_probe(port, MUMBLE_PASSWORD)
            self.expect(r.returncode == 0, "mumble: the probe authenticates with the password", r.stdout)
            self.expect_equal(r.fields.get("welcome_text_hex", ""), hex_of(MUMBLE_WELCOME),
                              "mumble: the welcome text is byte-exact", r.stdout)
            r = sb.mumble_probe(port, MUMBLE_PASSWORD + "x")
            self.expect(r.returncode == 2, "mumble: a wrong password is rejected (probe exit 2)", r.stdout)
            r = sb.mumble_probe(port)
            self.expect(r.returncode == 2, "mumble: no password is rejected (probe exit 2)", r.stdout)
        elif self.svc == "prosody":
            r = sb.ts("run", "prosody", "add-account", "alice", input=PROSODY_ACCOUNT_PASSWORD)
            self.expect(r.returncode == 0, "prosody: run prosody add-account alice (password from stdin)", r.stdout)
            domain = sb.xmpp_domain()
            note("prosody: XMPP domain %s" % domain)
            r = sb.xmpp_probe(port, domain, PROSODY_ACCOUNT_PASSWORD)
            self.expect(r.returncode == 0, "prosody: the XMPP probe logs in as alice", r.stderr)
            self.expect(r.stdout == PROSODY_MOTD, "prosody: the message of the day is exactly the value set",
                        "expected: %s\ngot:      %s" % (hex_of(PROSODY_MOTD), hex_of(r.stdout)))
            self.expect(not sb.exists("/etc/tails-server-pwned"),
                        "prosody: the MOTD's Lua did not run (no /etc/tails-server-pwned)")
            r = sb.xmpp_probe(port, domain, "wrong")
            self.expect(r.returncode == 2, "prosody: a wrong password is refused (probe exit 2)", r.stderr)
        elif self.svc == "gobby":
            r = sb.infinote_probe(port, GOBBY_PASSWORD)
            self.expect(r.returncode == 0, "gobby: the infinote probe authenticates with the password", r.stdout)
            r = sb.infinote_probe(port, GOBBY_PASSWORD[1:])
            self.expect(r.returncode == 2, "gobby: the password without its leading space is refused (probe exit 2)",
                        r.stdout)
        elif self.svc == "nginx":
            url = "http://127.0.0.1:%s/" % port
            curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"]
            code = sb.run(*curl, url).stdout
            self.expect(code == "401", "nginx: no credentials → 401 (got %s)" % code)
            code = sb.run(*curl, "-u", "tails:%sx" % NGINX_PASSWORD, url).stdout
            self.expect(code == "401", "nginx: a wrong password → 401 (got %s)" % code)
            code = sb.run(*curl, "-u", "tails:" + NGINX_PASSWORD, url).stdout
            self.expect(code == "200", "nginx: the right credentials → 200 (got %s)" % code)
            r = sb.sh('curl -s -u "$1" "http://127.0.0.1:$2/" | cmp - "$3/index.html"',
                      "tails:" + NGINX_PASSWORD, port, NGINX_ROOT)
            self.expect(r.returncode == 0, "nginx: the page is exactly the index.html in '%s'" % NGINX_ROOT, r.stdout)

    # -- the tests, in the order of a service's life -------------------------------------------
    def test_install_installs_the_packages_and_status_says_installed_and_stopped(self):
        sb, svc = self.sb, self.svc
        r = sb.ts("install", svc)
        self.expect(r.returncode == 0, "%s: tails-server install %s exits 0 (exit %d)" % (svc, svc, r.returncode),
                    r.stdout)
        if W.ours[svc]:
            self.expect(bool(re.search(r"(^|[^0-9])([1-9][0-9]?|100) ?%", r.stdout, re.M)),
                        "%s: install prints plain progress lines (a percentage between 1 and 100)" % svc, r.stdout)
        else:
            note("%s: install of packages already there said:\n%s" % (svc, indent(r.stdout)))
        for p in W.packages[svc]:
            self.expect(sb.pkg_installed(p), "%s: dpkg says %s is installed" % (svc, p))
        text = sb.run("tails-server", "status", svc).stdout
        self.expect(bool(re.search(r"^ *state: ", text, re.M) and re.search(r"^ *enabled: ", text, re.M)),
                    "%s: status (YAML) has 'state:' and 'enabled:' lines" % svc, text)
        s, i = sb.state_of(svc), sb.status_field(svc, "installed")
        self.expect("%s/%s" % (i, s) == "true/stopped",
                    "%s: status says installed and stopped (installed: %s, state: %s)" % (svc, i, s))
        got, want = self.unit_file_state(), AFTER_INSTALL.get(svc, (UNIT_FILE_STATE[svc],))
        self.expect(got in want, "%s: systemctl is-enabled %s says %s after the install (got %s)"
                    % (svc, W.unit[svc], " or ".join(want), got or "nothing"))

    def test_hostile_option_values_are_stored_exactly(self):
        self.ensure_installed()
        self.set_hostile_options()

    def test_enable_runs_it_listening_on_127_0_0_1_only(self):
        sb, svc = self.sb, self.svc
        self.ensure_options()
        ports = self.ports()
        r = sb.ts("enable", svc)
        self.expect(r.returncode == 0, "%s: tails-server enable %s exits 0 (exit %d)" % (svc, svc, r.returncode),
                    r.stdout)
        s, e, rn = sb.state_of(svc), sb.status_field(svc, "enabled"), sb.status_field(svc, "running")
        self.expect(s in UP_STATES and (rn, e) == ("true", "true"),
                    "%s: status says running, enabled (state: %s, running: %s, enabled: %s)" % (svc, s, rn, e),
                    sb.run("tails-server", "status", svc).stdout)
        for port in ports:
            ok, ctx = self.only_loopback("t", port)
            self.expect(ok, "%s: TCP port %s listens on 127.0.0.1 only" % (svc, port), ctx)
        if svc == "mumble":
            ok, ctx = self.only_loopback("u", ports[0])
            self.expect(ok, "mumble: UDP port %s is bound to 127.0.0.1 only" % ports[0], ctx)
        if svc == "nginx":
            addrs = sb.listeners("t", 80)
            self.expect(not addrs, "nginx: nothing listens on port 80 (Debian's default site)",
                        "listening on :80: " + " ".join(addrs))
        unit = W.unit[svc]
        got = "%s/%s" % (sb.out("systemctl", "is-active", unit).strip(), self.unit_file_state())
        self.expect(got == "active/" + UNIT_FILE_STATE[svc], "%s: %s is active and still %s (got %s)"
                    % (svc, unit, UNIT_FILE_STATE[svc], got))

    def test_enable_disables_the_unit_again_when_its_package_enabled_it_behind_our_back(self):
        # On Tails, Additional Software installs the packages again at every boot, and their
        # maintainer scripts enable the units again: the daemon must disable them before it starts them.
        sb, svc = self.sb, self.svc
        unit = W.unit[svc]
        if UNIT_FILE_STATE[svc] != "disabled":
            self.skipTest("%s has no [Install] section: nothing can enable it" % unit)
        self.ensure_options()
        self.ensure_disabled()
        # The links a fresh install's postinst makes (dh_installsystemd). Not through
        # deb-systemd-helper, which leaves alone a unit it enabled once and the sandbox disabled
        # (nginx-common stays installed here); SYSTEMCTL_SKIP_SYSV: update-rc.d refuses nginx's
        # init script, which has no runlevel links here.
        r = sb.run("env", "SYSTEMCTL_SKIP_SYSV=1", "systemctl", "enable", unit)
        self.require(r.returncode == 0 and self.unit_file_state() == "enabled",
                     "%s: systemctl enable %s in the sandbox as its package does (exit %d)"
                     % (svc, unit, r.returncode), r.stdout)
        r = sb.ts("enable", svc)
        self.expect(r.returncode == 0, "%s: tails-server enable %s exits 0 (exit %d)" % (svc, svc, r.returncode),
                    r.stdout)
        got = "%s/%s" % (sb.out("systemctl", "is-active", unit).strip(), self.unit_file_state())
        self.expect(got == "active/disabled", "%s: %s is active and disabled again (got %s)" % (svc, unit, got))
        wants = sb.sh('ls /etc/systemd/system/*.wants/ 2>/dev/null | grep -Fx -- "$1" || true', unit).stdout.strip()
        self.expect(not wants, "%s: no .wants symlink of %s is left in /etc/systemd/system" % (svc, unit), wants)

    def test_the_real_client_connects_and_sees_the_hostile_values(self):
        self.ensure_enabled()
        self.probe()

    def test_allow_lan_listens_on_every_address_then_on_127_0_0_1_again(self):
        sb, svc = self.sb, self.svc
        self.ensure_enabled()
        ports = self.ports()
        # Whatever happens, the next tests find allow-lan off.
        self.addCleanup(lambda: sb.option(svc, "allow-lan") == "false" or sb.ts("set-option", svc, "allow-lan", "false"))
        r = sb.ts("set-option", svc, "allow-lan", "true")
        self.expect(r.returncode == 0, "%s: set-option allow-lan true (enabled: it restarts) exits 0 (exit %d)"
                    % (svc, r.returncode), r.stdout)
        self.expect(bool(re.search("bypassing Tor", r.stdout, re.I)), "%s: ... and warns that LAN clients bypass Tor"
                    % svc, r.stdout)
        s = sb.state_of(svc)
        self.expect(s in UP_STATES, "%s: it is up again after the restart (state: %s)" % (svc, s), "state: " + s)
        for port in ports:
            ok, ctx = self.dual_stack("t", port)
            self.expect(ok, "%s: TCP port %s listens on every IPv4 and every IPv6 address" % (svc, port), ctx)
            self.expect(sb.connects(port, "::1"), "%s: TCP port %s accepts over IPv6 (::1)" % (svc, port))
        if svc == "mumble":
            ok, ctx = self.dual_stack("u", ports[0])
            self.expect(ok, "mumble: UDP port %s is bound to every IPv4 and IPv6 address" % ports[0], ctx)
        r = sb.ts("set-option", svc, "allow-lan", "false")
        self.expect(r.returncode == 0, "%s: set-option allow-lan false exits 0 (exit %d)" % (svc, r.returncode),
                    r.stdout)
        for port in ports:
            ok, ctx = self.only_loopback("t", port)
            self.expect(ok, "%s: TCP port %s listens on 127.0.0.1 only again" % (svc, port), ctx)

    def test_disable_closes_the_ports_and_status_says_stopped(self):
        sb, svc = self.sb, self.svc
        self.ensure_enabled()
        ports = self.ports()
        r = sb.ts("disable", svc)
        self.expect(r.returncode == 0, "%s: tails-server disable %s exits 0 (exit %d)" % (svc, svc, r.returncode),
                    r.stdout)
        for port in ports:
            ok, ctx = self.closed(port)
            self.expect(ok, "%s: port %s is closed after disable" % (svc, port), ctx)
        s, e = sb.state_of(svc), sb.status_field(svc, "enabled")
        self.expect("%s/%s" % (s, e) == "stopped/false",
                    "%s: status says stopped, not enabled (state: %s, enabled: %s)" % (svc, s, e))

    def test_status_and_monitor_tell_the_truth_when_the_main_process_is_killed(self):
        sb, svc = self.sb, self.svc
        self.ensure_options()
        self.ensure_disabled()
        ports = self.ports()
        port = ports[0]
        unit = W.unit[svc]
        r = sb.ts("enable", svc)
        self.require(r.returncode == 0, "%s: enable again exits 0 (exit %d)" % (svc, r.returncode), r.stdout)
        # The next test needs it disabled.
        self.addCleanup(lambda: sb.status_field(svc, "enabled") != "true" or sb.ts("disable", svc))

        restart = sb.unit_property(unit, "Restart")
        mon = sb.start_monitor(svc, "/root/monitor-%s.txt" % svc)
        self.addCleanup(mon.stop)
        time.sleep(1)
        pid = sb.unit_property(unit, "MainPID")
        self.require(pid not in ("", "0"), "%s: %s has a main PID to kill" % (svc, unit))
        sb.exec("kill", "-9", pid)
        note("%s: kill -9 %s (main PID of %s, Restart=%s)" % (svc, pid, unit, restart))

        # Sample status against the port until the service settles; a "running" with nothing
        # listening before and after it is a lie.
        lies, seen_unexpected, seen, t = 0, False, [], time.monotonic()
        for i in range(150):
            before = sb.listeners("t", port)
            s = sb.state_of(svc)
            after = sb.listeners("t", port)
            if not seen or seen[-1] != s:
                seen.append(s)
            if s in UP_STATES and not before and not after:
                lies += 1
            if s == "stopped-unexpectedly":
                seen_unexpected = True
            if restart == "no":
                if s == "stopped-unexpectedly" and not after:
                    break
            else:
                if s in UP_STATES and seen_unexpected:
                    break
                if i > 20 and s in UP_STATES and after:
                    break
            time.sleep(0.05)
        note("%s: status went through: %s (%.1f s)" % (svc, " ".join(seen), time.monotonic() - t))
        self.expect(lies == 0, "%s: after the kill, status never says running (%s) while nothing listens on %s"
                    % (svc, "|".join(UP_STATES), port))

        def monitor_states():
            return " ".join(STATE_WORDS.findall(mon.text()))
        came_back = r"(stopped-unexpectedly|stopped|starting|failed|stopping) .*" + UP
        if restart == "no":
            self.expect(seen_unexpected, "%s: status says stopped-unexpectedly (unit without Restart=)" % svc)
            left = sb.listeners("t", port)
            self.expect(not left, "%s: nothing listens on %s after the kill" % (svc, port), " ".join(left))
            time.sleep(0.5)
            states = monitor_states()
            self.expect("stopped-unexpectedly" in states, "%s: monitor reported stopped-unexpectedly (%s)"
                        % (svc, states), "monitor output:\n" + mon.text())
        else:
            if seen_unexpected:
                note("%s: status was seen saying stopped-unexpectedly before the restart" % svc)
            # systemd restarts it: wait for it to listen again.
            wait_until(lambda: sb.is_up(svc), 20, 0.2)
            s = sb.state_of(svc)
            self.expect(s in UP_STATES, "%s: systemd restarted %s (Restart=%s) and status says running again"
                        % (svc, unit, restart), "state: %s; %s" % (s, " ".join(sb.out(
                            "systemctl", "show", "-p", "NRestarts", "-p", "ActiveState", unit).split())))
            # The daemon reports "up" once the ports listen (checked every 0.1 s): give the
            # signal a few seconds to reach the monitor.
            states = wait_until(lambda: (lambda st: st if re.search(came_back, st) else None)(monitor_states()),
                                5, 0.1) or monitor_states()
            self.expect(bool(re.search(came_back, states)),
                        "%s: monitor saw a state other than running, then running again (%s)" % (svc, states),
                        "monitor output:\n" + mon.text())
            self.expect("stopped-unexpectedly" in states, "%s: monitor reported stopped-unexpectedly" % svc,
                        "monitor output:\n" + mon.text())

        r = sb.ts("disable", svc)
        self.expect(r.returncode == 0, "%s: disable after the kill exits 0 (exit %d)" % (svc, r.returncode), r.stdout)
        s = sb.state_of(svc)
        self.expect(s == "stopped", "%s: status says stopped (state: %s)" % (svc, s))
        for p in ports:
            ok, ctx = self.closed(p)
            self.expect(ok, "%s: port %s is closed" % (svc, p), ctx)

    def test_uninstall_asks_for_yes_then_removes_data_state_and_only_our_packages(self):
        sb, svc = self.sb, self.svc
        self.ensure_options()
        self.ensure_disabled()
        info = sb.info(svc)
        persistent = info.get("persistent-paths") or []
        for path in persistent:
            if not sb.exists(path):
                note("%s: %s does not exist before uninstall" % (svc, path))

        r = sb.ts("uninstall", svc)
        self.expect(r.returncode == 2, "%s: uninstall without --yes (stdin not a tty) exits 2 (exit %d)"
                    % (svc, r.returncode), r.stdout)
        self.expect(bool(re.search("--yes", r.stdout, re.I)), "%s: ... and names --yes" % svc, r.stdout)
        for p in W.packages[svc]:
            self.expect(sb.pkg_installed(p), "%s: ... and leaves %s installed" % (svc, p))

        r = sb.ts("uninstall", svc, "--yes")
        self.expect(r.returncode == 0, "%s: tails-server uninstall %s --yes exits 0 (exit %d)"
                    % (svc, svc, r.returncode), r.stdout)
        for path in persistent:
            self.expect(not sb.exists(path), "%s: %s is gone" % (svc, path))
        self.expect(bool(persistent), "%s: info names the persistent paths" % svc)
        for p in W.packages[svc]:
            if W.ours[svc]:
                self.expect(not sb.pkg_installed(p), "%s: %s, installed by us, is purged" % (svc, p))
            else:
                self.expect(sb.pkg_installed(p), "%s: %s, installed before us, is kept" % (svc, p))
        if svc in SECRET_OPTION:
            opt, old = SECRET_OPTION[svc]
            new = sb.option(svc, opt)
            self.expect(bool(new) and new != old, "%s: the state is gone: %s is a new generated one" % (svc, opt),
                        "%s now: [%s]" % (opt, new))
        if svc == "mumble":
            got = sb.option("mumble", "welcome-message")
            self.expect(got != MUMBLE_WELCOME, "mumble: welcome-message is back to its default",
                        "welcome-message: " + got)
        elif svc == "prosody":
            got = sb.option("prosody", "motd")
            self.expect(got != PROSODY_MOTD, "prosody: motd is back to its default", "motd: " + got)
        elif svc == "nginx":
            got = "%s/%s" % (sb.option("nginx", "basic-auth"), sb.option("nginx", "site-root"))
            self.expect(got == "false//var/www/tails-server",
                        "nginx: basic-auth and site-root are back to their defaults", "basic-auth/site-root: " + got)
        W.options_set.discard(svc)
        s, e = sb.state_of(svc), sb.status_field(svc, "enabled")
        want = "not-installed" if W.ours[svc] else "stopped"
        self.expect("%s/%s" % (s, e) == want + "/false",
                    "%s: status after uninstall says %s (state: %s, enabled: %s)" % (svc, want, s, e))


class MumbleLifecycle(ServiceLifecycle, ScenarioCase):
    SERVICE = "mumble"


class ProsodyLifecycle(ServiceLifecycle, ScenarioCase):
    SERVICE = "prosody"


class GobbyLifecycle(ServiceLifecycle, ScenarioCase):
    SERVICE = "gobby"


class NginxLifecycle(ServiceLifecycle, ScenarioCase):
    SERVICE = "nginx"


# ---------------------------------------------------------------------------------------------
class FailurePaths(ScenarioCase):
    """3. What must be refused, and the daemon's health at the end."""

    def purge(self, svc):
        for p in W.packages[svc]:
            if W.sb.pkg_installed(p):
                W.sb.run("dpkg", "--purge", p)

    def uninstalled(self, svc):
        if W.sb.status_field(svc, "installed") == "true":
            W.sb.ts("uninstall", svc, "--yes")

    def test_enable_while_not_installed_exits_10_and_says_to_install(self):
        sb = W.sb
        self.uninstalled("gobby")
        self.purge("gobby")
        r = sb.ts("enable", "gobby")
        self.expect(r.returncode == 10, "enable gobby while not installed exits 10 (exit %d)" % r.returncode, r.stdout)
        self.expect(bool(re.search("tails-server install gobby", r.stdout, re.I)), "... and tells to install it",
                    r.stdout)

    def test_a_second_install_while_one_runs_is_refused_as_busy(self):
        sb = W.sb
        pair = [svc for svc in SERVICES if W.ours[svc]]
        if len(pair) < 2:
            self.skipTest("two installs at once need two services whose .debs are cached (have: %s)"
                          % (" ".join(pair) or "none"))
        first, second = pair[0], pair[1]
        for svc in (first, second):
            self.uninstalled(svc)
            self.purge(svc)
        log = sb.work + "/first-install.log"
        proc = sb.spawn("tails-server", "install", first, log=log)
        try:
            wait_until(lambda: sb.state_of(first) == "installing", 5, 0.05)
            s = sb.state_of(first)
            self.expect(s == "installing", "install %s is under way (state installing)" % first, "%s state: %s" % (first, s))
            r = sb.ts("install", second)
            self.expect(r.returncode == 9, "a second install (%s) while %s installs exits 9, busy (exit %d)"
                        % (second, first, r.returncode), r.stdout)
            r = sb.ts("install", first)
            self.expect(r.returncode == 9, "install %s again while it installs exits 9, busy (exit %d)"
                        % (first, r.returncode), r.stdout)
        finally:
            rc = proc.wait(timeout=LONG)
        with open(log, encoding="utf-8", errors="replace") as f:
            first_out = f.read()
        self.expect(rc == 0, "the first install (%s) still succeeds (exit %d)" % (first, rc), first_out)
        for p in W.packages[second]:
            self.expect(not sb.pkg_installed(p), "%s's %s was not installed by the refused install" % (second, p))

    def test_packages_installed_behind_our_back_are_recognised_and_kept(self):
        sb, pre = W.sb, "nginx"
        if not W.ours[pre]:
            self.skipTest("%s's packages were there before the test (no .deb cached)" % pre)
        self.uninstalled(pre)
        r = sb.run("apt-get", "install", "-y", "-q", "--no-install-recommends", *W.packages[pre])
        self.expect(r.returncode == 0, "apt-get install %s in the sandbox, behind tails-serverd's back (exit %d)"
                    % (" ".join(W.packages[pre]), r.returncode), r.stdout)
        r = sb.ts("install", pre)
        self.expect(r.returncode == 0, "install %s with its packages already there exits 0 (exit %d)"
                    % (pre, r.returncode), r.stdout)
        note("it said:\n" + indent(r.stdout))
        s = sb.state_of(pre)
        self.expect(s == "stopped", "%s: status says stopped (state: %s)" % (pre, s))
        r = sb.ts("uninstall", pre, "--yes")
        self.expect(r.returncode == 0, "uninstall %s --yes exits 0 (exit %d)" % (pre, r.returncode), r.stdout)
        for p in W.packages[pre]:
            self.expect(sb.pkg_installed(p), "%s: %s, there before the install, is kept by uninstall" % (pre, p))

    def test_a_local_user_who_is_not_root_may_read_but_not_change(self):
        sb = W.sb
        self.uninstalled("gobby")
        self.purge("gobby")
        r = sb.run("runuser", "-u", "nobody", "--", "tails-server", "status", "mumble")
        self.expect(r.returncode == 0, "nobody: tails-server status mumble exits 0 (exit %d)" % r.returncode, r.stdout)
        for verb in ("install", "enable"):
            r = sb.run("runuser", "-u", "nobody", "--", "tails-server", verb, "gobby")
            self.expect(r.returncode == 7, "nobody: tails-server %s gobby is refused with exit 7 (exit %d)"
                        % (verb, r.returncode), r.stdout)
        for p in W.packages["gobby"]:
            self.expect(not sb.pkg_installed(p), "nobody's install did not install %s" % p)

    def test_the_daemon_stayed_up_all_along(self):
        health = W.sb.daemon_health()
        self.expect("NRestarts=0" in health and "ActiveState=active" in health,
                    "tails-serverd is active and never restarted (%s)" % health)


class Hardening(ScenarioCase):
    """3b. A local user's socket on a service's port, and key or client changes during an enable."""

    def ready(self, svc):
        sb = W.sb
        if sb.status_field(svc, "installed") != "true":
            r = sb.ts("install", svc)
            self.require(r.returncode == 0, "precondition: install %s (exit %d)" % (svc, r.returncode), r.stdout)
        if sb.status_field(svc, "enabled") == "true" or sb.is_up(svc):
            r = sb.ts("disable", svc)
            self.require(r.returncode == 0, "precondition: disable %s (exit %d)" % (svc, r.returncode), r.stdout)

    def test_a_port_taken_by_a_local_user_fails_the_enable_and_publishes_nothing(self):
        sb, svc = W.sb, "mumble"
        self.ready(svc)
        port = sb.option(svc, "local-port")
        log = sb.work + "/squatter.log"
        squatter = sb.spawn("runuser", "-u", "nobody", "--", "python3", "-c",
                            "import socket, time\n"
                            "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                            "s.bind(('127.0.0.1', %s)); s.listen(); print('listening', flush=True)\n"
                            "time.sleep(600)\n" % port, log=log)
        try:
            self.require(wait_until(lambda: "listening" in open(log, encoding="utf-8").read(), 10),
                         "nobody listens on 127.0.0.1:%s" % port)
            started = time.time()
            r = sb.ts("enable", svc)
            self.expect(r.returncode != 0, "enable %s while nobody holds its port fails (exit %d)"
                        % (svc, r.returncode), r.stdout)
            self.expect("held by a socket of uid 65534 on 127.0.0.1" in r.stdout,
                        "... and the error names the port's holder and says nothing is published", r.stdout)
            self.expect(time.time() - started < 30, "... within 30 s (took %.1f s)" % (time.time() - started))
            status = sb.status(svc)
            self.expect(status.get("enabled") is False and not status.get("onion"),
                        "%s stays disabled and no onion was added for it" % svc, str(status))
            log_lines = sb.journal("tails-serverd", lines=40)
            self.expect("adding the onion" not in log_lines and "announcing" not in log_lines,
                        "the daemon never asked Tor to publish it", log_lines)
        finally:
            sb.run("pkill", "-u", "nobody", "python3")  # the squatter, the only program of nobody's
            squatter.wait(timeout=LONG)
        wait_until(lambda: not sb.listeners("t", port), 10)
        r = sb.ts("enable", svc)
        self.expect(r.returncode == 0, "once the port is free, enable %s works (exit %d)" % (svc, r.returncode),
                    r.stdout)
        sb.ts("disable", svc)

    def test_import_key_and_client_changes_are_busy_while_an_enable_runs(self):
        sb, svc = W.sb, "prosody"
        self.ready(svc)
        sb.sh("head -c 96 /dev/zero | tr '\\0' x > /tmp/garbage-key")
        # A unit that takes 8 s to start keeps the enable under way (the enable reloads systemd).
        slow = "/run/systemd/system/%s.d/slow-start.conf" % W.unit[svc]
        sb.sh('mkdir -p "$(dirname "$1")" && printf "[Service]\\nExecStartPre=/bin/sleep 8\\n" > "$1"', slow)
        log = sb.work + "/busy-enable.log"
        proc = sb.spawn("tails-server", "enable", svc, log=log)
        try:
            wait_until(lambda: sb.state_of(svc) == "starting", 10, 0.05)
            self.require(sb.state_of(svc) == "starting", "enable %s is under way (state starting)" % svc)
            for args in (("import-key", svc, "/tmp/garbage-key"), ("client", "add", svc, "bob"),
                         ("client", "remove", svc, "bob")):
                r = sb.ts(*args)
                self.expect(r.returncode == 9, "tails-server %s during the enable exits 9, busy (exit %d)"
                            % (" ".join(args), r.returncode), r.stdout)
        finally:
            rc = proc.wait(timeout=LONG)
            sb.run("rm", "-f", slow)
            sb.run("systemctl", "daemon-reload")
        self.expect(rc == 0, "the enable itself succeeds (exit %d)" % rc)
        clients = sb.ts("client", "list", svc).stdout
        self.expect("bob" not in clients, "no client bob was added", clients)
        sb.ts("disable", svc)


class PowerOff(ScenarioCase):
    """4. Power off."""

    def test_the_sandbox_powers_off(self):
        self.expect(W.sb.poweroff(), "sandbox powered off")
