"""A new user's whole scenario with tails-server-gui, in the sandbox.

Set-up (setUpModule): the build is staged and installed into a throwaway sandbox
(tests/sandbox/sandbox) with real systemd, polkit and the private Tor network
(tests/tor-network/tornet), as tests/e2e/test_onion.py does; a desktop user
`amnesia` gets a polkit rule that authorizes org.boum.tails.server.manage (on
Tails the administration password does that); nginx's packages are purged
when apt's cache holds them, so that the GUI adds them for real. Then
drive_new_user.py runs in the sandbox as amnesia through gui-session (Xvfb,
a session bus, AT-SPI, dogtail) against the installed tails-server-gui and
asks this module for what only root sees (HOST lines). Run by
tests/scenario/run-scenario (ctest: gui-sandbox). The screenshots and the
GUI's output are copied to $GUI_ARTIFACTS (default BUILD/test-artifacts/gui).
"""

import base64
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import SANDBOX, Sandbox, ScenarioCase, ScenarioError, note  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TN = "/run/tails-server-gui-tornet"
ARTIFACTS_IN = "/var/tmp/gui-artifacts"
ACK = "/run/gui-ack"
USER = "amnesia"
APT_GO = "/run/gui-test-apt-go"
HOLD_DPKG = "DPkg::Pre-Invoke {\"timeout 300 sh -c 'until [ -e %s ]; do sleep 0.2; done' || true\";};\n" % APT_GO
POLKIT_RULE = """// Test only: amnesia may manage Tails Server (Tails asks for the administration password).
polkit.addRule(function (action, subject) {
  if (action.id == "org.boum.tails.server.manage" && subject.user == "amnesia")
    return polkit.Result.YES;
});
"""


def skip_reason():
    for tool in ("tor", "tor-gencert", "Xvfb", "zbarimg"):
        if not shutil.which(tool):
            return "%s is missing" % tool
    if not os.path.exists("/usr/lib/python3/dist-packages/dogtail"):
        return "python3-dogtail is missing"
    return None


class World:
    sb = None


W = World


def setUpModule():
    sb = W.sb = Sandbox(name="gui")
    with sb.setting_up():
        sb.stage()
        sb.boot()
        _, env = sb.start_tornet(TN, timeout=180)
        socket, cookie = env.get("SERVICE_CONTROL_SOCKET", ""), env.get("SERVICE_COOKIE", "")
        if not socket or not cookie:
            raise ScenarioError("the Tor network gave no control socket or cookie:\n" + sb.cat(TN + "/env"))
        sb.write_config('tor_control: "unix:%s"\ntor_cookie: "%s"\n' % (socket, cookie))
        sb.start_daemon()
        r = sb.run("useradd", "--create-home", "--shell", "/bin/bash", USER)
        if r.returncode not in (0, 9):  # 9: exists
            raise ScenarioError("useradd %s failed: %s" % (USER, r.stdout))
        r = sb.sh("mkdir -p /etc/polkit-1/rules.d && cat >/etc/polkit-1/rules.d/50-tails-server-test.rules",
                  input=POLKIT_RULE)
        if r.returncode != 0:
            raise ScenarioError("cannot write the polkit rule: " + r.stdout)
        sb.sh("rm -rf %s %s && mkdir -p %s && chmod 755 %s" % (ARTIFACTS_IN, ACK, ACK, ACK))
        purge_nginx(sb)
        # apt installs from its cache in about 2 s; under load dogtail's first read of the row came
        # after that. Each dpkg run waits until the driver has seen the progress and asked for
        # "release-apt" (at most 300 s), so the check no longer depends on timing.
        sb.sh("cat >/etc/apt/apt.conf.d/99-gui-test-hold-dpkg", input=HOLD_DPKG)


def purge_nginx(sb):
    """Purges nginx's packages if apt's cache can install them again offline."""
    info = sb.tails_server("info", "nginx", "--details") or {}
    packages = (info.get("nginx") or {}).get("packages") or ["nginx"]
    for p in packages:
        policy = sb.out("apt-cache", "policy", p)
        m = re.search(r"^ *Candidate: (.*)$", policy, re.M)
        version = m.group(1).strip() if m else ""
        if not version or not sb.ok("bash", "-c", 'compgen -G "/var/cache/apt/archives/$1_$2_*.deb" >/dev/null',
                                    "_", p, version.replace(":", "%3a")):
            note("nginx: %s is not in apt's cache: it stays installed, and the GUI cannot add it" % p)
            return
    r = sb.run("dpkg", "--purge", *packages)
    note("nginx: purged %s in the sandbox (exit %d)" % (" ".join(packages), r.returncode))


def tearDownModule():
    if W.sb:
        W.sb.cleanup()


class NewUser(ScenarioCase):
    def host_action(self, action):
        """What the driver asks of root in the sandbox; returns the answer text."""
        sb = W.sb
        words = action.split()
        if words[0] == "option":
            value = (sb.tails_server("get-option", words[1], words[2]) or {}).get(words[2])
            return str(value).lower() if isinstance(value, bool) else str(value)
        if words[0] == "status":
            return sb.status_field(words[1], words[2])
        if words[0] == "clients":
            listed = sb.tails_server("client", "list", words[1]) or {}
            return ",".join((listed.get(words[1]) or {}).get("clients") or [])
        if words == ["release-apt"]:
            return str(sb.exec("touch", APT_GO).returncode)
        if words[0] == "enable":
            return str(sb.ts("enable", words[1]).returncode)
        if words[:2] == ["kill", "-9"]:
            unit = (sb.tails_server("info", words[2], "--details") or {}).get(words[2], {}).get("unit", "")
            pid = sb.unit_property(unit, "MainPID")
            note("kill -9 %s (main PID of %s)" % (pid, unit))
            return str(sb.exec("kill", "-9", pid).returncode)
        if words[0] == "prosody" and words[1] == "account":
            r = sb.sh('compgen -G "/var/lib/prosody/*/accounts/$1.dat" >/dev/null', words[2])
            return "yes" if r.returncode == 0 else "no"
        raise ValueError("unknown host action " + action)

    def test_a_new_user_adds_shares_and_removes_a_service_with_the_gui_alone(self):
        sb = W.sb
        gui = "/usr/bin/tails-server-gui"
        self.require(sb.ok("test", "-x", gui), "the GUI is installed in the sandbox at " + gui)
        driver = subprocess.Popen(
            [SANDBOX, "exec", sb.state, "--", "env", "GUI_HOST_ACK=" + ACK, "TAILS_SERVER_GUI=" + gui,
             os.path.join(HERE, "gui-session"), USER, ARTIFACTS_IN, os.path.join(HERE, "drive_new_user.py")],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in driver.stdout:
            print(line, end="", file=sys.stderr, flush=True)
            lines.append(line)
            if line.startswith("HOST "):
                _, number, action = line.rstrip("\n").split(" ", 2)
                try:
                    answer = self.host_action(action)
                except Exception as error:  # pylint: disable=broad-except
                    answer = "error: %s" % error
                sb.sh('cat >"$1.tmp" && mv "$1.tmp" "$1"', "%s/%s" % (ACK, number), input=answer)
        status = driver.wait(timeout=120)
        self.copy_screenshots()
        failures = [l for l in lines if l.startswith("FAIL")]
        passes = [l for l in lines if l.startswith("PASS")]
        self.expect(status == 0 and not failures and passes,
                    "the GUI scenario ran to its end: %d checks passed, %d failed (exit %d)"
                    % (len(passes), len(failures), status), "".join(failures + lines[-20:]))

    def copy_screenshots(self):
        sb = W.sb
        target = os.environ.get("GUI_ARTIFACTS") or os.path.join(sb.build, "test-artifacts", "gui")
        os.makedirs(target, exist_ok=True)
        names = sb.out("bash", "-c", 'cd "$1" 2>/dev/null && ls *.png *.log 2>/dev/null', "_", ARTIFACTS_IN).split()
        for name in names:
            data = sb.out("base64", "-w0", "%s/%s" % (ARTIFACTS_IN, name))
            with open(os.path.join(target, name), "wb") as f:
                f.write(base64.b64decode(data))
        note("%d screenshots and logs in %s" % (len(names), target))
