"""Run by bench/gui_bench.py inside gui-session: starts tails-server-gui N
times with TAILS_SERVER_GUI_EXIT_WHEN_FILLED=1 and prints the time from exec
to the first frame with a filled service list, and the GUI's RSS then."""

import os
import statistics
import subprocess
import sys
import time

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
times, rss = [], []
for _ in range(runs):
    started = time.monotonic()
    gui = subprocess.run([os.environ["TAILS_SERVER_GUI"]], env=dict(os.environ, TAILS_SERVER_GUI_EXIT_WHEN_FILLED="1"),
                         capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    line = next((l for l in gui.stdout.splitlines() if l.startswith("filled VmRSS:")), None)
    if line is None:
        sys.exit("the GUI never said its list was filled:\n" + gui.stdout + gui.stderr)
    times.append(took * 1000)
    rss.append(int(line.split()[2]) / 1024)
print("gui start-up to a filled service list: median %.0f ms (min %.0f, max %.0f, %d runs)"
      % (statistics.median(times), min(times), max(times), runs))
print("gui RSS with the list filled: median %.1f MB (min %.1f, max %.1f)"
      % (statistics.median(rss), min(rss), max(rss)))
