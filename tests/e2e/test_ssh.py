"""Remote administration over the ssh service's onion, through a real (private) Tor network.

Set-up (setUpModule), as in test_onion.py: the build staged into a throwaway sandbox, a private
Tor network (tests/tor-network/tornet) inside it, tails-serverd driving its service tor. Then:
  ssh:   install, enable -> online; 'client add' gives the client tor a credential; an admin key
         made by ssh-keygen is added with 'run ssh add-admin' (the key on stdin).
  Login: ssh through the client tor's SOCKS port (ProxyCommand nc -X 5) to the onion, host key
         pinned to the connection info's known-hosts line, runs 'tails-server list' and
         'tails-server set-option nginx site-root ...' as tails-server-admin (polkit's rule, no
         prompt) and the option is set.
  Refused: an unknown key, a password, 'bash', 'tails-server list; id', forwarding (-W, -R).
  remove-admin: the key is locked out.
Run by tests/scenario/run-scenario (ctest: e2e-ssh); skipped without root, tor, tor-gencert or
ssh. Every tor is stopped and the sandbox powered off at the end.
"""

import os as _os
import re
import shutil
import sys as _sys
import time

_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import Sandbox, ScenarioCase  # noqa: E402

ONLINE_LIMIT = float(_os.environ.get("E2E_ONLINE_LIMIT", "120"))
TN = "/run/tails-server-e2e-tornet"  # not /tmp: the daemon has PrivateTmp=yes
KEYS = "/run/tails-server-e2e-ssh"   # the admin's side: keys, known_hosts, ssh_config
ADD_LINE = re.compile(r"ONION_CLIENT_AUTH_ADD ([a-z2-7]{56}(?:\.onion)?) x25519:([A-Za-z0-9+/=]{43,44})")


def skip_reason():
    for tool in ("tor", "tor-gencert", "ssh", "ssh-keygen", "nc"):
        if not shutil.which(tool):
            return "%s is missing" % tool
    if not _os.path.exists("/usr/sbin/sshd"):
        return "openssh-server is missing"
    return None


class World:
    sb = None
    socks = ""   # host:port of the client tor
    onion = ""
    ready = False        # client credential, ssh_config and known_hosts in place
    admin_added = False


W = World


def setUpModule():
    sb = W.sb = Sandbox(name="e2e-ssh")
    with sb.setting_up():
        _, W.socks = sb.start_onion_stack(TN)
        sb.sh('mkdir -p -m 700 "$1" && for k in admin stranger; do '
              'ssh-keygen -q -t ed25519 -N "" -C "$k@elsewhere" -f "$1/$k"; done', KEYS)


def tearDownModule():
    if W.sb:
        W.sb.cleanup()


class SshCase(ScenarioCase):
    abstract = True

    @property
    def sb(self):
        return W.sb

    def ensure_ssh(self):
        """ssh online, the client tor holding a credential, the admin key added, ssh_config and
        known_hosts written from the connection info."""
        sb = self.sb
        self.ensure_online("ssh", ONLINE_LIMIT)
        if not W.ready:
            W.onion = sb.address_of("ssh")
            self.assertTrue(W.onion, "precondition: ssh has an onion address")
            if "laptop" not in sb.ts("client", "list", "ssh").stdout:
                r = sb.ts("client", "add", "ssh", "laptop")
                m = ADD_LINE.search(r.stdout)
                self.assertTrue(m, "precondition: client add ssh laptop\n" + r.stdout)
                sb.tornet("control", "client", "ONION_CLIENT_AUTH_ADD", m.group(1)[:56], "x25519:" + m.group(2),
                          "Flags=Permanent")
                sb.wait_state("ssh", "online", ONLINE_LIMIT)  # re-published with the client
            info = (sb.tails_server("connection-info", "ssh") or {}).get("ssh", {})
            known = info.get("known-hosts-line", "")
            self.assertTrue(known.startswith(W.onion + " ssh-ed25519 "), "precondition: known-hosts-line\n%s" % info)
            sb.sh('cat >"$1/known_hosts"', KEYS, input=known + "\n")
            # The stanza the connection info gives, with the private network's SOCKS port.
            stanza = info.get("ssh-config", "").replace("127.0.0.1:9050", W.socks)
            self.assertIn("ProxyCommand nc -X 5 -x %s %%h %%p" % W.socks, stanza)
            sb.sh('cat >"$1/ssh_config"', KEYS, input=stanza + "    UserKnownHostsFile %s/known_hosts\n"
                  "    StrictHostKeyChecking yes\n    IdentitiesOnly yes\n    BatchMode yes\n"
                  "    ConnectTimeout 120\n" % KEYS)
            W.ready = True
        if not W.admin_added:
            r = sb.ts("run", "ssh", "add-admin", "alice", input=sb.cat(KEYS + "/admin.pub"))
            self.assertEqual(r.returncode, 0, "precondition: run ssh add-admin alice\n" + r.stdout)
            W.admin_added = True

    def ssh(self, key, *args, retries=5):
        """ssh -F our stanza with KEY to the onion; retried while Tor itself fails (exit 255 with
        no answer from sshd). A CompletedProcess, output merged."""
        for attempt in range(retries):
            r = self.sb.exec("ssh", "-F", KEYS + "/ssh_config", "-i", "%s/%s" % (KEYS, key), *args, merge=True)
            if r.returncode != 255 or "Permission denied" in r.stdout or "forwarding failed" in r.stdout \
                    or attempt == retries - 1:
                return r
            self.sb.newnym()
            time.sleep(3)
        return r


class Login(SshCase):
    """1. The admin runs the tails-server CLI over the onion."""

    def test_the_admin_lists_the_services_through_tor(self):
        self.ensure_ssh()
        r = self.ssh("admin", "tails-server", "tails-server", "list")
        self.expect(r.returncode == 0 and "nginx" in r.stdout and "ssh" in r.stdout,
                    "ssh through Tor runs 'tails-server list' (exit %d)" % r.returncode, r.stdout)

    def test_the_admin_sets_an_option_without_a_password_prompt(self):
        self.ensure_ssh()
        root = "/srv/e2e-ssh-site"
        r = self.ssh("admin", "tails-server", "tails-server", "set-option", "nginx", "site-root", root)
        self.expect(r.returncode == 0, "ssh through Tor runs 'tails-server set-option nginx site-root' "
                    "(polkit's rule for tails-server-admin; exit %d)" % r.returncode, r.stdout)
        got = self.sb.option("nginx", "site-root")
        self.expect(got == root, "the daemon has the new site-root", "site-root: %r" % got)

    def test_a_login_without_a_command_gets_the_help_text(self):
        self.ensure_ssh()
        r = self.ssh("admin", "-T", "tails-server")
        self.expect(r.returncode == 0 and "Hello alice." in r.stdout and "uid=" not in r.stdout,
                    "a plain login prints the help text, no shell (exit %d)" % r.returncode, r.stdout)


class Refusals(SshCase):
    """2. Nothing else gets in or through."""

    def test_an_unknown_key_and_a_password_are_refused(self):
        self.ensure_ssh()
        r = self.ssh("stranger", "tails-server", "tails-server", "list")
        self.expect(r.returncode == 255 and "Permission denied (publickey)" in r.stdout,
                    "an unknown key is refused (exit %d)" % r.returncode, r.stdout)
        r = self.ssh("admin", "-o", "PreferredAuthentications=password,keyboard-interactive", "-o",
                     "PasswordAuthentication=yes", "tails-server", "tails-server", "list")
        self.expect(r.returncode == 255 and "Permission denied (publickey)" in r.stdout,
                    "a password login is refused (exit %d)" % r.returncode, r.stdout)

    def test_other_commands_are_refused(self):
        self.ensure_ssh()
        for command in ("bash", "tails-server list; id", "tails-server $(id)"):
            r = self.ssh("admin", "tails-server", command)
            self.expect(r.returncode == 126 and "refused" in r.stdout and "uid=" not in r.stdout,
                        "ssh ... %r is refused (exit %d)" % (command, r.returncode), r.stdout)

    def test_no_forwarding_reaches_a_local_port(self):
        self.ensure_ssh()
        # The daemon's sshd port on loopback, which listens.
        port = self.sb.option("ssh", "local-port") or "2222"
        r = self.ssh("admin", "-W", "127.0.0.1:" + port, "tails-server")
        self.expect(r.returncode == 255 and "forwarding failed" in r.stdout,
                    "ssh -W 127.0.0.1:%s fails (exit %d)" % (port, r.returncode), r.stdout)
        r = self.ssh("admin", "-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:" + port, "tails-server")
        self.expect(r.returncode == 255 and "forwarding failed" in r.stdout,
                    "ssh -R fails (exit %d)" % r.returncode, r.stdout)


class RemoveAdmin(SshCase):
    """3. remove-admin locks the key out."""

    def test_remove_admin_locks_the_key_out(self):
        self.ensure_ssh()
        sb = self.sb
        # A connection the admin holds open (ssh -M): sshd checks keys only at login.
        master = "/run/e2e-ssh-master"
        sb.exec("rm", "-f", master)
        r = self.ssh("admin", "-M", "-S", master, "-o", "ControlPersist=300", "-f", "-N", "tails-server")
        self.require(r.returncode == 0, "the admin holds a master connection open (exit %d)" % r.returncode,
                     r.stdout)
        r = sb.exec("ssh", "-S", master, "-O", "check", "tails-server", merge=True)
        self.require(r.returncode == 0, "the master connection is up", r.stdout)
        r = self.sb.ts("run", "ssh", "remove-admin", "alice")
        self.expect(r.returncode == 0, "run ssh remove-admin alice (exit %d)" % r.returncode, r.stdout)
        W.admin_added = False
        r = self.ssh("admin", "tails-server", "tails-server", "list")
        self.expect(r.returncode == 255 and "Permission denied (publickey)" in r.stdout,
                    "the removed key is refused (exit %d)" % r.returncode, r.stdout)
        r = sb.exec("ssh", "-S", master, "-o", "ConnectTimeout=20", "tails-server", "tails-server", "list",
                    merge=True, timeout=60)
        self.expect(r.returncode != 0 and "nginx" not in r.stdout,
                    "the connection held open before remove-admin runs nothing after it (exit %d)" % r.returncode,
                    r.stdout)
