#!/usr/bin/python3
"""GUI bench: from exec to a window whose service list is filled (the four
services), and the GUI's RSS then, as medians. The real tails-serverd runs on
a private system bus; the GUI runs as nobody in Xvfb with a session bus and
AT-SPI, as in the GUI tests. Usage: gui_bench.py BUILD_DIR [RUNS]. Needs root."""

import os
import subprocess
import sys

SOURCE = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "gui"))
from private_bus import PrivateBus  # noqa: E402

build = os.path.abspath(sys.argv[1])
runs = sys.argv[2] if len(sys.argv) > 2 else "15"
bus = PrivateBus(build)
try:
    bus.start_daemon()
    env = dict(bus.env, TAILS_SERVER_GUI=os.path.join(build, "frontends", "gtk", "tails-server-gui"))
    status = subprocess.run([os.path.join(SOURCE, "tests", "gui", "gui-session"), "nobody",
                             os.path.join(bus.work, "artifacts"), os.path.join(SOURCE, "bench", "gui_bench_driver.py"),
                             runs], env=env).returncode
finally:
    bus.close()
sys.exit(status)
