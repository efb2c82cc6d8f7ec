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
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from private_bus import PrivateBus  # noqa: E402


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def pseudo_language(build, work, env):
    """A catalogue "xx" whose every translation is the English text in ⟦ ⟧,
    made from the generated .pot, an en_US.UTF-8 locale in a private
    LOCPATH (gettext ignores LANGUAGE in the C locale), and the strings of
    the daemon's replies. Returns the environment that selects them."""
    locale_dir = os.path.join(work, "locale")
    mo_dir = os.path.join(locale_dir, "xx", "LC_MESSAGES")
    os.makedirs(mo_dir)
    pot = os.path.join(build, "po", "tails-server-gui.pot")
    english = subprocess.run(["msgen", pot], capture_output=True, text=True, check=True).stdout
    wrapped = subprocess.run(["msgfilter", "--keep-header", "sed", "-e", "1s/^/⟦/", "-e", "$s/$/⟧/"],
                             input=english, capture_output=True, text=True, check=True).stdout
    subprocess.run(["msgfmt", "-o", os.path.join(mo_dir, "tails-server-gui.mo"), "-"], input=wrapped, text=True,
                   check=True)
    locpath = os.path.join(work, "locpath")
    os.makedirs(locpath)
    subprocess.run(["localedef", "-i", "en_US", "-f", "UTF-8", os.path.join(locpath, "en_US.UTF-8")], check=True)
    strings = set()

    def collect(value):
        if isinstance(value, str):
            strings.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    def call(method, *args):
        out = subprocess.run(["busctl", "--json=short", "call", "org.boum.tails.Server", "/org/boum/tails/Server",
                              "org.boum.tails.Server1", method] + list(args), env=env, capture_output=True, text=True)
        if out.returncode == 0:
            collect(json.loads(out.stdout))
        return out.stdout

    call("ListServices")
    call("ListPlugins")
    for service in ("chat", "dokuwiki", "gobby", "icecast", "mumble", "nginx", "prosody", "ssh"):
        call("GetInfo", "s", service)
        call("DescribeOptions", "s", service)
    daemon_strings = os.path.join(work, "daemon-strings.json")
    with open(daemon_strings, "w") as f:
        json.dump(sorted(strings), f)
    return {"LANG": "en_US.UTF-8", "LANGUAGE": "xx", "LOCPATH": locpath, "TAILS_SERVER_LOCALE_DIR": locale_dir,
            "GUI_DAEMON_STRINGS": daemon_strings}


def main():
    if os.geteuid() != 0:
        skip("needs root (the daemon runs as root, the GUI as nobody)")
    for tool in ("Xvfb", "dbus-run-session", "zbarimg", "msgen", "busctl", "localedef"):
        if not shutil.which(tool):
            skip(tool + " is missing (scripts/install-deps installs it)")
    if not os.path.exists("/usr/lib/python3/dist-packages/dogtail"):
        skip("python3-dogtail is missing (scripts/install-deps installs it)")
    build = os.path.abspath(sys.argv[1])
    artifacts = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else os.path.join(build, "test-artifacts", "gui")
    fixture = os.path.join(build, "tests", "loader", "fixtures", "fixture-plugins", "wrong-major.so")
    bus = PrivateBus(build, [fixture])
    ack = os.path.join(bus.work, "ack")
    os.makedirs(ack)

    def status_field(service, field):
        out = subprocess.run([bus.cli, "--json", "status", service], env=bus.env, capture_output=True,
                             text=True).stdout
        return json.loads(out)[service][field] if out.strip() else "?"

    def clients(service):
        out = subprocess.run([bus.cli, "--json", "client", "list", service], env=bus.env, capture_output=True,
                             text=True).stdout
        return ",".join(json.loads(out)[service]["clients"] if out.strip() else ["?"])

    actions = {
        "stop-daemon": lambda: bus.stop_daemon() or "",
        "start-daemon": lambda: bus.start_daemon() or "",
        "status mumble enabled": lambda: str(status_field("mumble", "enabled")).lower(),
        "clients mumble": lambda: clients("mumble"),
    }
    gui_env = dict(bus.env, TAILS_SERVER_GUI=os.path.join(build, "frontends", "gtk", "tails-server-gui"),
                   GUI_HOST_ACK=ack)

    def run_driver(name, extra=None):
        driver = subprocess.Popen([os.path.join(HERE, "gui-session"), "nobody", artifacts, os.path.join(HERE, name)],
                                  env=dict(gui_env, **(extra or {})), stdout=subprocess.PIPE, text=True)
        for line in driver.stdout:
            print(line, end="", flush=True)
            if line.startswith("HOST "):
                _, number, action = line.rstrip("\n").split(" ", 2)
                answer = actions[action]()
                with open(os.path.join(ack, number), "w") as f:
                    f.write(answer)
        return driver.wait(timeout=60)

    status = 1
    try:
        bus.start_daemon()
        status = run_driver("drive_refusals.py")
        status = run_driver("drive_translated.py", pseudo_language(build, bus.work, bus.env)) or status
    finally:
        if status != 0:
            print("--- daemon log ---\n" + bus.daemon_log()[-4000:])
        bus.close()
    print("screenshots in " + artifacts)
    sys.exit(status)


if __name__ == "__main__":
    main()
