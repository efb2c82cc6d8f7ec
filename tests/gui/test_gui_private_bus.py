#!/usr/bin/python3
"""tails-server-gui against the real tails-serverd on a private system bus,
as user nobody, whom polkit refuses (no polkit runs on this bus, so the
daemon refuses every change from anyone but root): drive_refusals.py.

Usage: test_gui_private_bus.py BUILD_DIR [ARTIFACTS]. Needs root, Xvfb,
python3-dogtail and at-spi2-core; exits 77 (skipped) without them.
Screenshots go to ARTIFACTS (default BUILD_DIR/test-artifacts/gui).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
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


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def main():
    if os.geteuid() != 0:
        skip("needs root (the daemon runs as root, the GUI as nobody)")
    for tool in ("Xvfb", "dbus-run-session", "zbarimg"):
        if not shutil.which(tool):
            skip(tool + " is missing (scripts/install-deps installs it)")
    if not os.path.exists("/usr/lib/python3/dist-packages/dogtail"):
        skip("python3-dogtail is missing (scripts/install-deps installs it)")
    build = os.path.abspath(sys.argv[1])
    artifacts = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else os.path.join(build, "test-artifacts", "gui")
    work = tempfile.mkdtemp(prefix="tails-server-gui-test.")
    os.chmod(work, 0o755)
    bus_path = os.path.join(work, "bus")
    with open(os.path.join(work, "bus.conf"), "w") as f:
        f.write(BUS_CONFIG % bus_path)
    refused_dir = os.path.join(work, "refused-plugins")
    os.makedirs(refused_dir)
    fixture = os.path.join(build, "tests", "loader", "fixtures", "fixture-plugins", "wrong-major.so")
    shutil.copy(fixture, refused_dir)
    os.chmod(os.path.join(refused_dir, "wrong-major.so"), 0o644)
    plugins = os.path.join(build, "lib", "tails-server", "plugins")
    with open(os.path.join(work, "config.yaml"), "w") as f:
        f.write("plugin_dirs: [%s, %s]\nroot: %s/root\nstate_dir: %s/state\n" % (plugins, refused_dir, work, work))
    os.makedirs(os.path.join(work, "root"))
    ack = os.path.join(work, "ack")
    os.makedirs(ack)
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + bus_path)
    cli = os.path.join(build, "frontends", "cli", "tails-server")

    bus = subprocess.Popen(["dbus-daemon", "--config-file=" + os.path.join(work, "bus.conf"), "--nofork",
                            "--print-address"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    bus.stdout.readline()
    daemon = [None]

    def start_daemon():
        log = open(os.path.join(work, "daemon.log"), "ab")
        daemon[0] = subprocess.Popen([os.path.join(build, "core", "daemon", "tails-serverd"), "--config",
                                      os.path.join(work, "config.yaml")], env=env, stdout=log, stderr=log)
        for _ in range(100):
            if subprocess.run([cli, "list"], env=env, capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("tails-serverd did not come up")

    def stop_daemon():
        daemon[0].send_signal(signal.SIGTERM)
        daemon[0].wait(timeout=20)

    def status_field(service, field):
        out = subprocess.run([cli, "--json", "status", service], env=env, capture_output=True, text=True).stdout
        return json.loads(out)[service][field] if out.strip() else "?"

    def clients(service):
        out = subprocess.run([cli, "--json", "client", "list", service], env=env, capture_output=True,
                             text=True).stdout
        value = json.loads(out)[service]["clients"] if out.strip() else ["?"]
        return ",".join(value)

    actions = {
        "stop-daemon": lambda: stop_daemon() or "",
        "start-daemon": lambda: start_daemon() or "",
        "status mumble enabled": lambda: str(status_field("mumble", "enabled")).lower(),
        "clients mumble": lambda: clients("mumble"),
    }
    status = 1
    try:
        start_daemon()
        driver_env = dict(env, TAILS_SERVER_GUI=os.path.join(build, "frontends", "gtk", "tails-server-gui"),
                          GUI_HOST_ACK=ack)
        driver = subprocess.Popen([os.path.join(HERE, "gui-session"), "nobody", artifacts,
                                   os.path.join(HERE, "drive_refusals.py")], env=driver_env,
                                  stdout=subprocess.PIPE, text=True)
        for line in driver.stdout:
            print(line, end="", flush=True)
            if line.startswith("HOST "):
                _, number, action = line.rstrip("\n").split(" ", 2)
                answer = actions[action]()
                with open(os.path.join(ack, number), "w") as f:
                    f.write(answer)
        status = driver.wait(timeout=60)
    finally:
        if daemon[0] and daemon[0].poll() is None:
            stop_daemon()
        bus.terminate()
        bus.wait()
        if status != 0:
            print("--- daemon log ---\n" + open(os.path.join(work, "daemon.log")).read()[-4000:])
        shutil.rmtree(work, ignore_errors=True)
    print("screenshots in " + artifacts)
    sys.exit(status)


if __name__ == "__main__":
    main()
