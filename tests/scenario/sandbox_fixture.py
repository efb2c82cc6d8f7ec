"""Shared fixture of the sandbox scenarios (tests/scenario/run-scenario runs them).

A scenario drives the real tails-serverd and tails-server CLI inside a throwaway systemd
(tests/sandbox/sandbox) on an amnesic overlay of /. This module holds what every scenario
needs, written once:

    sb = Sandbox(build_dir, name="lifecycle")   # a work directory under /tmp
    sb.stage(config="firewall_backend: nftables\\n")   # DESTDIR=... cmake --install BUILD
    sb.boot(persistent=None, locked=False)
    sb.start_daemon()
    sb.run("ss", "-ltn")                        # CompletedProcess, stdout+stderr merged
    sb.tails_server("status", "nginx")          # the parsed --json output
    sb.poweroff(); sb.cleanup()

plus wait_until(), the protocol probes (tests/probes/*.py, run inside the sandbox's network
namespace), a 'tails-server monitor' recorder and the private Tor network (tests/tor-network/
tornet, started inside the sandbox). ScenarioCase is the TestCase base class: it counts
assertions and offers check() (a subTest: one failed check does not hide the next ones).

Python 3 standard library only (Debian 12). Needs root, as the sandbox does.
"""

import json as jsonlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE_DIR = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SANDBOX = os.path.join(SOURCE_DIR, "tests", "sandbox", "sandbox")
TORNET = os.path.join(SOURCE_DIR, "tests", "tor-network", "tornet")
MONITOR_TS = os.path.join(SOURCE_DIR, "tests", "e2e", "monitor-ts")
# The sandbox is an overlay of the host's /: the source tree is at the same path inside it
# (tests/sandbox/sandbox bind-mounts it when it lies under /tmp or /run).
PROBES = os.path.join(SOURCE_DIR, "tests", "probes")
PERSISTENCE_MOUNT = "/live/persistence/TailsData_unlocked"

LONG = 300  # seconds allowed for one command in the sandbox (as the bash scenarios had)

# The states of a service whose unit is active and whose ports listen: "running", or, when its
# onion is wanted, "announcing", "online" or "tor-not-running" (core/lifecycle).
UP_STATES = ("running", "announcing", "online", "tor-not-running")

T0 = time.monotonic()


def build_dir():
    """The build directory: $SCENARIO_BUILD_DIR (set by run-scenario), $BUILD_DIR, or the
    project's ./build."""
    return os.environ.get("SCENARIO_BUILD_DIR") or os.environ.get("BUILD_DIR") or os.path.join(SOURCE_DIR, "build")


def elapsed(since=None):
    return time.monotonic() - (T0 if since is None else since)


def note(text):
    """A line of context in the test output (indented, as the bash scenarios' notes were)."""
    for line in str(text).splitlines() or [""]:
        print("      " + line, file=sys.stderr, flush=True)


def indent(text, limit=40):
    lines = str(text).splitlines()
    more = len(lines) - limit
    lines = ["      | " + line for line in lines[:limit]]
    if more > 0:
        lines.append("      | ... (%d more lines)" % more)
    return "\n".join(lines)


def wait_until(predicate, timeout, interval=0.1):
    """Calls predicate() until it returns something true or timeout seconds have passed;
    returns its last value (true on success). Exceptions from predicate count as false."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # pylint: disable=broad-except
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def jq_tostring(value):
    """jq's 'tostring' of a JSON value, as the bash scenarios printed fields."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return jsonlib.dumps(value, separators=(",", ":"))


def hex_of(text):
    return text.encode("utf-8", "surrogateescape").hex()


class ScenarioError(Exception):
    """The fixture could not do what a scenario needs (not a failed check)."""


def _run_host(argv, input=None, timeout=LONG, merge=True, env=None):
    """Runs argv on the host. On timeout, SIGTERMs its process group (as timeout(1) would the
    command) and returns exit status 124. Output is text (UTF-8, undecodable bytes kept)."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        start_new_session=True, env=env)
    try:
        out, err = proc.communicate(
            input.encode("utf-8", "surrogateescape") if input is not None else None, timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        rc = 124
    dec = lambda b: b.decode("utf-8", "surrogateescape") if b is not None else ""
    return subprocess.CompletedProcess(argv, rc, dec(out), dec(err))


class Sandbox:
    """One throwaway sandbox, its staged install tree and its work directory on the host."""

    def __init__(self, build=None, name="scenario"):
        self.build = build or build_dir()
        self.name = name
        self.work = tempfile.mkdtemp(prefix="tails-server-%s." % name, dir="/tmp")
        self.state = os.path.join(self.work, "machine")
        self.tree = os.path.join(self.work, "install")
        self.extra = os.path.join(self.work, "extra")
        self.exec_start = ""
        self.exec_start_staged = False
        self.booted = False
        self.tornet_dir = None
        self.tornet_env = {}  # DIR/env of the network start_tornet started
        self.boot_log = ""

    # -- the install tree ---------------------------------------------------------------------
    def stage(self, config=None, drop_in=None, files=None):
        """DESTDIR=TREE cmake --install BUILD --prefix /usr, and an extra tree with
        /etc/tails-server/config.yaml (config), other files ({path: text}) and, when the unit's
        ExecStart is not in the staged tree (drop_in None) or always (drop_in True), a drop-in
        that starts /usr/sbin/tails-serverd."""
        if not os.access(os.path.join(self.build, "core", "daemon", "tails-serverd"), os.X_OK):
            raise ScenarioError("no build in %s (run ./scripts/build)" % self.build)
        env = dict(os.environ, DESTDIR=self.tree)
        r = _run_host(["cmake", "--install", self.build, "--prefix", "/usr"], env=env)
        if r.returncode != 0:
            raise ScenarioError("cmake --install %s failed:\n%s" % (self.build, r.stdout[-3000:]))
        os.makedirs(self.extra, exist_ok=True)
        unit = None
        for root, _dirs, names in os.walk(self.tree):
            if "tails-serverd.service" in names and root.endswith("systemd/system"):
                unit = os.path.join(root, "tails-serverd.service")
                break
        if unit:
            with open(unit, encoding="utf-8") as f:
                for line in f:
                    if line.startswith("ExecStart="):
                        self.exec_start = line[len("ExecStart="):].strip()
                        break
        program = self.exec_start.split(" ")[0] if self.exec_start else ""
        self.exec_start_staged = bool(program) and os.access(self.tree + program, os.X_OK)
        if drop_in or (drop_in is None and not self.exec_start_staged):
            self.write_extra("/etc/systemd/system/tails-serverd.service.d/%s.conf" % self.name,
                             "[Service]\nExecStart=\nExecStart=/usr/sbin/tails-serverd\n")
        if config is not None:
            self.write_extra("/etc/tails-server/config.yaml", config)
        for path, text in (files or {}).items():
            self.write_extra(path, text)

    def write_extra(self, path, text):
        full = self.extra + path
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)

    def staged_daemons(self):
        """The tails-serverd programs of the staged tree (for a failure's message)."""
        found = []
        for d in ("usr/sbin", "usr/bin"):
            if os.path.exists(os.path.join(self.tree, d, "tails-serverd")):
                found.append("/" + d + "/tails-serverd")
        return found

    # -- boot, exec, poweroff -----------------------------------------------------------------
    def boot(self, persistent=None, locked=False, timeout=LONG, hostname=None):
        """tests/sandbox/sandbox boot STATE [--persistent DIR [--locked]] --install TREE
        --install EXTRA (host name: hostname, or the sandbox's default). Raises ScenarioError
        (with the boot log) on failure."""
        argv = [SANDBOX, "boot", self.state]
        if persistent:
            argv += ["--persistent", persistent]
            if locked:
                argv.append("--locked")
        for tree in (self.tree, self.extra):
            if os.path.isdir(tree):
                argv += ["--install", tree]
        env = dict(os.environ, SANDBOX_HOSTNAME=hostname) if hostname else None
        r = _run_host(argv, timeout=timeout, env=env)
        self.boot_log = r.stdout
        if r.returncode != 0:
            raise ScenarioError("sandbox boot failed (exit %d):\n%s" % (r.returncode, r.stdout[-4000:]))
        self.booted = True
        return r

    def exec(self, *cmd, input=None, timeout=LONG, merge=False):
        """Runs cmd in the sandbox (tests/sandbox/sandbox exec); stdin is input (a str, nothing
        added) or nothing. A CompletedProcess: stdout, stderr (merged into stdout with merge),
        returncode (124 on timeout)."""
        return _run_host([SANDBOX, "exec", self.state, "--"] + [str(c) for c in cmd],
                         input=input, timeout=timeout, merge=merge)

    def run(self, *cmd, input=None, timeout=LONG):
        """exec() with standard output and error merged (the bash scenarios' OUT)."""
        return self.exec(*cmd, input=input, timeout=timeout, merge=True)

    def out(self, *cmd, input=None, timeout=LONG):
        """Standard output of cmd in the sandbox (stderr dropped), whatever its exit status."""
        return self.exec(*cmd, input=input, timeout=timeout).stdout

    def ok(self, *cmd, input=None, timeout=LONG):
        return self.exec(*cmd, input=input, timeout=timeout).returncode == 0

    def sh(self, script, *args, input=None, timeout=LONG, merge=True):
        """bash -c SCRIPT _ ARGS... in the sandbox."""
        return self.exec("bash", "-c", script, "_", *args, input=input, timeout=timeout, merge=merge)

    def spawn(self, *cmd, log=None):
        """Starts cmd in the sandbox in the background (on the host: a Popen; output to the
        host file log, or dropped)."""
        out = open(log, "wb") if log else subprocess.DEVNULL
        try:
            return subprocess.Popen([SANDBOX, "exec", self.state, "--"] + [str(c) for c in cmd],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        finally:
            if log:
                out.close()

    def is_running(self):
        return _run_host([SANDBOX, "status", self.state], timeout=60).returncode == 0

    def unlock(self):
        return _run_host([SANDBOX, "unlock", self.state], timeout=60)

    def pid(self):
        with open(os.path.join(self.state, "pid"), encoding="ascii") as f:
            return int(f.read().strip())

    def poweroff(self):
        """Stops the Tor network if one runs, then powers the sandbox off. True on success."""
        if self.tornet_dir and self.booted:
            self.run(TORNET, "stop", self.tornet_dir, timeout=60)
            self.tornet_dir = None
        self.booted = False
        if not os.path.isdir(self.state):
            return True
        return _run_host([SANDBOX, "poweroff", self.state], timeout=LONG).returncode == 0

    def setting_up(self):
        """with sb.setting_up(): ... in setUpModule: if the set-up fails, the sandbox is powered
        off and the work directory removed (unittest runs no tearDownModule then)."""
        return _CleanupOnError(self)

    def mounts_left(self):
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            return [line for line in f if self.work + "/" in line]

    def cleanup(self):
        """poweroff, then removes the work directory (unless something is still mounted under
        it, or KEEP=1)."""
        self.poweroff()
        if self.mounts_left():
            note("kept %s: mounts remain under it" % self.work)
        elif os.environ.get("KEEP") == "1":
            note("kept %s (KEEP=1)" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    # -- the daemon ---------------------------------------------------------------------------
    def write_config(self, text):
        """/etc/tails-server/config.yaml in the running sandbox."""
        r = self.sh('mkdir -p /etc/tails-server && cat >/etc/tails-server/config.yaml', input=text)
        if r.returncode != 0:
            raise ScenarioError("cannot write the daemon config: " + r.stdout)

    def start_daemon(self):
        """systemctl start tails-serverd; raises ScenarioError with its journal on failure."""
        r = self.run("systemctl", "start", "tails-serverd")
        if r.returncode != 0:
            raise ScenarioError("systemctl start tails-serverd failed (exit %d):\n%s\n%s" % (
                r.returncode, r.stdout, self.journal("tails-serverd", lines=30)))
        return r

    def journal(self, unit, lines=None, priority=None):
        cmd = ["journalctl", "-u", unit, "--no-pager"]
        if lines:
            cmd += ["-n", str(lines)]
        if priority:
            cmd += ["-p", priority, "-q"]
        return self.run(*cmd).stdout

    def unit_property(self, unit, prop):
        return self.out("systemctl", "show", "-p", prop, "--value", unit).strip()

    def daemon_health(self):
        """'ActiveState=... NRestarts=...' of tails-serverd."""
        return " ".join(self.out("systemctl", "show", "-p", "ActiveState", "-p", "NRestarts",
                                 "tails-serverd").split())

    # -- the CLI ------------------------------------------------------------------------------
    def ts(self, *args, input=None, timeout=LONG):
        """tails-server ARGS: a CompletedProcess, stdout and stderr merged."""
        return self.run("tails-server", *args, input=input, timeout=timeout)

    def tails_server(self, *args, json=True, input=None, timeout=LONG):
        """tails-server [--json] ARGS. With json: the parsed output (None when the command
        fails or prints no JSON); without: the CompletedProcess (stdout and stderr merged)."""
        if not json:
            return self.ts(*args, input=input, timeout=timeout)
        r = self.exec("tails-server", "--json", *args, input=input, timeout=timeout)
        if r.returncode != 0:
            return None
        try:
            return jsonlib.loads(r.stdout)
        except ValueError:
            return None

    def status(self, svc):
        """The object of 'tails-server --json status SVC' ({} when absent)."""
        data = self.tails_server("status", svc)
        if not isinstance(data, dict):
            return {}
        if svc in data and isinstance(data[svc], dict):
            return data[svc]
        return data

    def status_field(self, svc, field):
        """A field of the service's status, as text ("" if absent)."""
        st = self.status(svc)
        return jq_tostring(st[field]) if field in st else ""

    def state_of(self, svc):
        return self.status_field(svc, "state")

    def is_up(self, svc):
        return self.state_of(svc) in UP_STATES

    def wait_up(self, svc, timeout, interval=0.2):
        return bool(wait_until(lambda: self.is_up(svc), timeout, interval))

    def wait_state(self, svc, want, timeout, interval=0.1):
        """Polls status until SVC is in state want. Returns (reached, seen): seen is the
        distinct states seen, in order."""
        seen = []
        def probe():
            s = self.state_of(svc) or "?"
            if not seen or seen[-1] != s:
                seen.append(s)
            return s == want
        return bool(wait_until(probe, timeout, interval)), " ".join(seen)

    def option(self, svc, opt):
        """An option's value, exactly, as text ("" on failure). Root may read secrets."""
        data = self.tails_server("get-option", svc, opt)
        if not isinstance(data, dict) or opt not in data:
            return ""
        return jq_tostring(data[opt])

    def info(self, svc, *more):
        """The object of 'tails-server --json info SVC [MORE]' ({} on failure)."""
        data = self.tails_server("info", svc, *more)
        if isinstance(data, dict) and isinstance(data.get(svc), dict):
            return data[svc]
        return data if isinstance(data, dict) else {}

    def address_of(self, svc):
        """The onion address 'tails-server info SVC' shows (its address: line), or ""."""
        text = self.out("tails-server", "info", svc)
        for line in text.splitlines():
            m = re.match(r'^ *address: *"?([a-z2-7]{56}\.onion)"? *$', line)
            if m:
                return m.group(1)
        return ""

    # -- the system ---------------------------------------------------------------------------
    def pkg_installed(self, pkg):
        return self.out("dpkg-query", "-W", "-f=${db:Status-Status}", pkg) == "installed"

    def listeners(self, proto, port):
        """The local addresses listening on port (proto "t" or "u"), sorted, distinct."""
        text = self.out("ss", "-Hln" + proto, "sport = :%s" % port)
        return sorted({line.split()[3] for line in text.splitlines() if len(line.split()) > 3})

    def connects(self, port, address):
        """A TCP connection to address:port succeeds in the sandbox (5 s)."""
        return self.exec("timeout", "5", "bash", "-c", 'exec 3<>"/dev/tcp/$1/$2"', "_",
                         address, str(port)).returncode == 0

    def exists(self, path):
        return self.ok("test", "-e", path)

    def cat(self, path):
        return self.out("cat", path)

    # -- protocol probes (tests/probes, run in the sandbox's network namespace) -------------
    def mumble_probe(self, port, password=None, user="alice", host="127.0.0.1"):
        """mumble_probe.py; password on stdin ("-") when given. CompletedProcess + .fields."""
        cmd = ["python3", os.path.join(PROBES, "mumble_probe.py"), host, str(port), user]
        if password is not None:
            cmd.append("-")
        return self._fields(self.run(*cmd, input=password))

    def infinote_probe(self, port, password, user="alice", host="127.0.0.1"):
        return self._fields(self.run("python3", os.path.join(PROBES, "infinote_probe.py"),
                                     host, str(port), user, "-", input=password))

    def xmpp_probe(self, port, domain, password, user="alice", host="127.0.0.1", timeout=LONG):
        """xmpp_probe.py, password on stdin (one line): stdout is the MOTD, exactly; stderr
        the diagnostics."""
        return self.exec("python3", os.path.join(PROBES, "xmpp_probe.py"), host, str(port),
                         domain, user, "-", input=password + "\n", timeout=timeout)

    def xmpp_domain(self):
        text = self.out("sed", "-n", r's/^VirtualHost "\(.*\)"$/\1/p', "/etc/prosody/prosody.cfg.lua")
        return text.splitlines()[0] if text.strip() else ""

    @staticmethod
    def _fields(r):
        r.fields = {}
        for line in r.stdout.splitlines():
            key, sep, value = line.partition(": ")
            if sep and key not in r.fields:
                r.fields[key] = value
        return r

    # -- 'tails-server monitor' recorded in the sandbox ----------------------------------------
    def start_monitor(self, svc, path):
        """'tails-server monitor [SVC]' in the background in the sandbox, into path; each line
        prefixed with its wall-clock time (the host's clock too: time.time())."""
        self.exec("bash", "-c", 'setsid "$0" ${1:+"$1"} >"$2" 2>&1 </dev/null & echo $! >"$2.pid"',
                  MONITOR_TS, svc or "", path)
        return Monitor(self, path)

    # -- the private Tor network (tests/tor-network/tornet, inside the sandbox) ---------------
    def start_tornet(self, directory, timeout=180, args=()):
        """tornet start DIR --client --service-tor ARGS in the sandbox. Returns (seconds, env):
        env is DIR/env as a dict. Raises ScenarioError on failure."""
        t = time.monotonic()
        self.tornet_dir = directory
        r = self.run(TORNET, "start", directory, "--client", "--service-tor", "--timeout",
                     str(timeout), *args, timeout=LONG)
        if r.returncode != 0:
            raise ScenarioError("tornet start failed (in the sandbox):\n" + r.stdout[-4000:])
        took = time.monotonic() - t
        env = {}
        for line in self.cat(directory + "/env").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                env[key.strip()] = value.strip().strip("'\"")
        self.tornet_env = env
        return took, env

    def start_onion_stack(self, directory, timeout=180, tornet_args=(), booted=False):
        """stage and boot (unless booted), start_tornet(directory, tornet_args), the daemon
        configured to drive the service tor (and to use its SOCKS port, tornet's
        --service-socks, as tor_socks), and the daemon started. Returns (seconds the network
        took, "SOCKSHOST:PORT" of the client tor). Raises ScenarioError when DIR/env lacks the
        service tor or the SOCKS port."""
        if not booted:
            self.stage()
            self.boot()
        took, env = self.start_tornet(directory, timeout=timeout, args=tornet_args)
        socket, cookie = env.get("SERVICE_CONTROL_SOCKET", ""), env.get("SERVICE_COOKIE", "")
        if not socket or not cookie or not env.get("SOCKS_PORT"):
            raise ScenarioError("%s/env lacks SERVICE_CONTROL_SOCKET, SERVICE_COOKIE or SOCKS_PORT:\n%s"
                                % (directory, self.cat(directory + "/env")))
        config = 'tor_control: "unix:%s"\ntor_cookie: "%s"\n' % (socket, cookie)
        if env.get("SERVICE_SOCKS_PORT"):
            config += 'tor_socks: "127.0.0.1:%s"\n' % env["SERVICE_SOCKS_PORT"]
        self.write_config(config)
        self.start_daemon()
        return took, "%s:%s" % (env.get("SOCKS_HOST") or "127.0.0.1", env["SOCKS_PORT"])

    def tornet(self, verb, *args, timeout=LONG):
        """tornet VERB DIR ARGS in the sandbox (merged output)."""
        return self.run(TORNET, verb, self.tornet_dir, *args, timeout=timeout)

    def newnym(self):
        self.tornet("control", "client", "SIGNAL", "NEWNYM", timeout=60)


def link_sandboxes(a, b, address_a, address_b, prefix=24):
    """A veth pair between two booted sandboxes' network namespaces: address_a/prefix on A's
    end, address_b/prefix on B's, both up. It goes when either sandbox powers off."""
    names = ("tsv%da" % a.pid(), "tsv%db" % a.pid())
    steps = [["ip", "link", "add", names[0], "type", "veth", "peer", "name", names[1]],
             ["ip", "link", "set", names[0], "netns", str(a.pid())],
             ["ip", "link", "set", names[1], "netns", str(b.pid())]]
    for argv in steps:
        r = _run_host(argv, timeout=30)
        if r.returncode != 0:
            _run_host(["ip", "link", "del", names[0]], timeout=30)
            raise ScenarioError("%s failed: %s" % (" ".join(argv), r.stdout))
    for sb, name, address in ((a, names[0], address_a), (b, names[1], address_b)):
        r = sb.sh('ip addr add "$1" dev "$2" && ip link set "$2" up', "%s/%d" % (address, prefix), name)
        if r.returncode != 0:
            raise ScenarioError("cannot configure %s in %s: %s" % (name, sb.name, r.stdout))
    return names


class _CleanupOnError:
    def __init__(self, sb):
        self.sb = sb

    def __enter__(self):
        return self.sb

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.sb.cleanup()
        return False


class Monitor:
    """The output of a 'tails-server monitor' started by Sandbox.start_monitor."""

    def __init__(self, sb, path):
        self.sb = sb
        self.path = path

    def text(self):
        return self.sb.cat(self.path)

    def lines(self):
        """(time, rest) of each line."""
        out = []
        for line in self.text().splitlines():
            t, _, rest = line.partition(" ")
            try:
                out.append((float(t), rest))
            except ValueError:
                continue
        return out

    def first_after(self, svc, want, after):
        """The time of the first line '<time> SVC: WANT...' with time > after, or None."""
        pattern = "%s: %s" % (svc, want)
        for t, rest in self.lines():
            if t > after and (" " + rest).find(" " + pattern) >= 0:
                return t
        return None

    def wait(self, svc, want, after, timeout):
        return wait_until(lambda: self.first_after(svc, want, after), timeout, 0.2)

    def states(self, svc=None, after=0.0):
        """The state words of the lines (for svc, after a time), in order."""
        out = []
        for t, rest in self.lines():
            parts = rest.split()
            if t <= after or len(parts) < 2:
                continue
            if svc and parts[0] != svc + ":":
                continue
            out.append(parts[1])
        return out

    def stop(self):
        self.sb.exec("bash", "-c", 'kill -- "-$(cat "$1.pid")" 2>/dev/null; true', "_", self.path)


class ScenarioCase(unittest.TestCase):
    """Base class of the scenarios' test cases: counts the assertions it makes (reported by
    run-scenario) and offers check(DESCRIPTION), a subTest, so that one failed check inside a
    method does not hide the next ones."""

    assertions = 0
    _depth = 0
    maxDiff = 4000

    def check(self, what):
        return self.subTest(what)

    def expect(self, ok, what, context=""):
        """One check that does not end the method when it fails (a subTest): prints
        PASS/FAIL WHAT (and the context, indented, on failure), as the bash scenarios did."""
        with self.subTest(what):
            if ok:
                print("PASS  " + what, file=sys.stderr, flush=True)
            else:
                print("FAIL  " + what, file=sys.stderr, flush=True)
                if context:
                    print(indent(context), file=sys.stderr, flush=True)
            self.assertTrue(ok, what + ("\n" + indent(context) if context else ""))

    def expect_equal(self, got, want, what, context=""):
        """expect(got == want): the failure shows both."""
        shown = "got:  %r\nwant: %r" % (got, want)
        self.expect(got == want, what, shown + ("\n" + context if context else ""))

    def ensure_online(self, svc, limit):
        """Precondition (not a check): SVC installed, enabled and online within LIMIT s, on
        self.sb."""
        sb = self.sb
        if sb.status_field(svc, "installed") != "true":
            r = sb.ts("install", svc)
            self.assertEqual(r.returncode, 0, "precondition: install %s\n%s" % (svc, r.stdout))
        if sb.status_field(svc, "enabled") != "true":
            r = sb.ts("enable", svc)
            self.assertEqual(r.returncode, 0, "precondition: enable %s\n%s" % (svc, r.stdout))
        reached, seen = sb.wait_state(svc, "online", limit)
        self.assertTrue(reached, "precondition: %s online within %d s (seen: %s)" % (svc, limit, seen))

    def require(self, ok, what, context=""):
        """A check the rest of the method depends on: ends the method when it fails."""
        print(("PASS  " if ok else "FAIL  ") + what, file=sys.stderr, flush=True)
        if not ok and context:
            print(indent(context), file=sys.stderr, flush=True)
        self.assertTrue(ok, "cannot go on: " + what + ("\n" + indent(context) if context else ""))


def _counting(name, method):
    def wrapper(self, *args, **kwargs):
        if ScenarioCase._depth == 0:
            ScenarioCase.assertions += 1
        ScenarioCase._depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            ScenarioCase._depth -= 1
    wrapper.__name__ = name
    wrapper.__doc__ = method.__doc__
    return wrapper


for _name in dir(unittest.TestCase):
    if _name.startswith("assert") and not _name.startswith(("assertRaises", "assertWarns", "assertLogs", "assertNoLogs")) \
            and "_" not in _name and callable(getattr(unittest.TestCase, _name)):
        setattr(ScenarioCase, _name, _counting(_name, getattr(unittest.TestCase, _name)))
ScenarioCase.fail = _counting("fail", unittest.TestCase.fail)
