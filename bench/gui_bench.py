#!/usr/bin/python3
"""GUI bench: from exec to a window whose service list is filled (the four
services), and the GUI's RSS then, as medians. The real tails-serverd runs on
a private system bus; the GUI runs as nobody in Xvfb with a session bus and
AT-SPI, as in the GUI tests. With FLOOR (bench-gui-floor, an empty gtkmm
window), the same for it, so that the GUI's own cost shows. GTK draws with
cairo here (GSK_RENDERER=cairo unless set): Xvfb only has Mesa's software GL,
which costs about 3 s and 100 MB more per start and says nothing of a real
desktop. Usage: gui_bench.py BUILD_DIR [RUNS [FLOOR]]. Needs root."""

import os
import subprocess
import sys

SOURCE = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "gui"))
from private_bus import PrivateBus  # noqa: E402

build = os.path.abspath(sys.argv[1])
runs = sys.argv[2] if len(sys.argv) > 2 else "15"
programs = [("tails-server-gui", os.path.join(build, "frontends", "gtk", "tails-server-gui"))]
if len(sys.argv) > 3:
    programs.append(("an empty gtkmm window (the floor)", os.path.abspath(sys.argv[3])))
bus = PrivateBus(build)
status = 0
try:
    bus.start_daemon()
    for name, program in programs:
        print("== " + name, flush=True)
        env = dict(bus.env, TAILS_SERVER_GUI=program, GSK_RENDERER=os.environ.get("GSK_RENDERER", "cairo"))
        status = subprocess.run([os.path.join(SOURCE, "tests", "gui", "gui-session"), "nobody",
                                 os.path.join(bus.work, "artifacts"),
                                 os.path.join(SOURCE, "bench", "gui_bench_driver.py"), runs], env=env).returncode or status
finally:
    bus.close()
sys.exit(status)
