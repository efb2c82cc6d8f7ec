"""A private D-Bus system bus with the real tails-serverd on it (as
tests/dbus/bus_harness does for the C++ tests): for the GUI tests and the GUI
bench. No polkit runs there, so the daemon refuses changes from anyone but
root. Needs root."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    def __init__(self, build, extra_plugins=()):
        """A bus and a daemon config in a new directory (readable by every
        user). `extra_plugins`: plugin files copied into a second plugin
        directory (for example a fixture the loader refuses)."""
        self.build = build
        self.work = tempfile.mkdtemp(prefix="tails-server-gui-test.")
        os.chmod(self.work, 0o755)
        self.bus_path = os.path.join(self.work, "bus")
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + self.bus_path)
        self.cli = os.path.join(build, "frontends", "cli", "tails-server")
        with open(os.path.join(self.work, "bus.conf"), "w") as f:
            f.write(BUS_CONFIG % self.bus_path)
        plugin_dirs = [os.path.join(build, "lib", "tails-server", "plugins")]
        if extra_plugins:
            extra = os.path.join(self.work, "extra-plugins")
            os.makedirs(extra)
            for plugin in extra_plugins:
                shutil.copy(plugin, extra)
                os.chmod(os.path.join(extra, os.path.basename(plugin)), 0o644)
            plugin_dirs.append(extra)
        os.makedirs(os.path.join(self.work, "root"))
        with open(os.path.join(self.work, "config.yaml"), "w") as f:
            f.write("plugin_dirs: [%s]\nroot: %s/root\nstate_dir: %s/state\n"
                    % (", ".join(plugin_dirs), self.work, self.work))
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file=" + os.path.join(self.work, "bus.conf"),
                                     "--nofork", "--print-address"], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
        self.bus.stdout.readline()  # it prints its address once it listens
        self.daemon = None

    def start_daemon(self):
        log = open(os.path.join(self.work, "daemon.log"), "ab")
        self.daemon = subprocess.Popen([os.path.join(self.build, "core", "daemon", "tails-serverd"), "--config",
                                        os.path.join(self.work, "config.yaml")], env=self.env, stdout=log,
                                       stderr=log)
        for _ in range(100):
            if subprocess.run([self.cli, "list"], env=self.env, capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("tails-serverd did not come up:\n" + self.daemon_log())

    def stop_daemon(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(timeout=20)

    def daemon_log(self):
        with open(os.path.join(self.work, "daemon.log")) as f:
            return f.read()

    def close(self):
        self.stop_daemon()
        self.bus.terminate()
        self.bus.wait()
        shutil.rmtree(self.work, ignore_errors=True)
