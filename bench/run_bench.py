#!/usr/bin/env python3
"""Tails Server benchmarks. Prints medians.

- CLI round trip: the whole `tails-server status mumble` and `tails-server list`
  process (start, D-Bus call, YAML output), and for scale `/bin/true`.
- Daemon start-up: from exec until the daemon owns its bus name and says so,
  with no plugin, the real plugins and 200 generated ones. "Per plugin" is
  (200 plugins - no plugin) / 200: the loader's cost, without the fixed part.
- The floor under it: the CPU time of dlopen and dlsym of the same 200 files
  and nothing else (bench/dlopen_floor.cpp), so the loader's own checks are
  the difference.
- The daemon's CPU time (user + system, from its rusage) from exec to its
  exit after SIGTERM at "serving": unlike wall time, it hardly moves when
  the machine is busy with other work.
- Daemon RSS after start-up.

Runs on a private dbus-daemon in a temporary directory; needs nothing else.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path={path}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>
<allow receive_sender="*"/></policy></busconfig>
"""


def median_ms(samples):
    return statistics.median(samples) * 1000.0


def timed_runs(argv, runs, env):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return samples


class Daemon:
    def __init__(self, binary, config, env):
        self.start = time.perf_counter()
        self.process = subprocess.Popen([binary, "--config", config], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in self.process.stderr:
            if "serving " in line:
                self.ready = time.perf_counter() - self.start
                break
        else:
            raise RuntimeError("tails-serverd exited before serving")

    def rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        """Stops it; returns the CPU time (user + system, s) it used in all, from its rusage."""
        self.process.terminate()
        _, _, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = 0
        return usage.ru_utime + usage.ru_stime


def startup(binary, plugin_dir, work, name, runs, env):
    config = os.path.join(work, f"{name}.yaml")
    with open(config, "w") as f:
        f.write(f"plugin_dirs: [{plugin_dir}]\nroot: {work}/root-{name}\nstate_dir: {work}/state-{name}\n")
    times, rss, cpu = [], [], []
    for _ in range(runs):
        daemon = Daemon(binary, config, env)
        times.append(daemon.ready)
        rss.append(daemon.rss_kib())
        cpu.append(daemon.stop())
    return times, rss, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--daemon", required=True)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--plugins", required=True, help="directory of the real plugins")
    parser.add_argument("--generated", required=True, help="the generated bench plugin .so")
    parser.add_argument("--dlopen-floor", required=True, help="bench/dlopen_floor.cpp's program")
    parser.add_argument("--runs", type=int, default=51, help="CLI runs per measurement")
    parser.add_argument("--starts", type=int, default=11, help="daemon starts per measurement")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="tails-server-bench-")
    bus_path = os.path.join(work, "bus")
    with open(os.path.join(work, "bus.conf"), "w") as f:
        f.write(BUS_CONF.format(path=bus_path))
    bus = subprocess.Popen(["dbus-daemon", "--config-file", os.path.join(work, "bus.conf"), "--nofork"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The crash records (plugins/quarantine.h) on a tmpfs, as in /run/tails-server: written
    # around every plugin step, so they are part of what start-up costs.
    runtime = tempfile.mkdtemp(prefix="tails-server-bench-run-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={bus_path}", RUNTIME_DIRECTORY=runtime)
    env.pop("TAILS_SERVER_PLUGIN_PATH", None)
    try:
        for _ in range(100):
            if os.path.exists(bus_path):
                break
            time.sleep(0.02)
        many = os.path.join(work, "generated")
        os.makedirs(many)
        for i in range(1, 201):
            shutil.copy(args.generated, os.path.join(many, f"bench-{i:03d}.so"))
            os.chmod(os.path.join(many, f"bench-{i:03d}.so"), 0o644)
        real_count = len([n for n in os.listdir(args.plugins) if n.endswith(".so")])

        empty = os.path.join(work, "empty")
        os.makedirs(empty)
        files = sorted(os.path.join(many, name) for name in os.listdir(many))

        rows = []
        t0, _, cpu0 = startup(args.daemon, empty, work, "empty", args.starts, env)
        t4, rss4, _ = startup(args.daemon, args.plugins, work, "real", args.starts, env)
        t200, rss200, cpu200 = startup(args.daemon, many, work, "generated", args.starts, env)
        floor = statistics.median(
            float(subprocess.run([args.dlopen_floor, *files], check=True, capture_output=True, text=True).stdout)
            for _ in range(args.starts))
        per_plugin = (median_ms(t200) - median_ms(t0)) / 200
        rows.append(("daemon start-up, no plugin", f"{median_ms(t0):.1f} ms", ""))
        rows.append((f"daemon start-up, {real_count} plugins", f"{median_ms(t4):.1f} ms", ""))
        rows.append(("daemon start-up, 200 plugins", f"{median_ms(t200):.1f} ms",
                     f"{per_plugin:.3f} ms/plugin over no plugin"))
        cpu_per_plugin = (median_ms(cpu200) - median_ms(cpu0)) / 200
        rows.append(("daemon CPU time, no plugin", f"{median_ms(cpu0):.1f} ms", "user + system, start to stop"))
        rows.append(("daemon CPU time, 200 plugins", f"{median_ms(cpu200):.1f} ms",
                     f"{cpu_per_plugin:.3f} ms/plugin over no plugin"))
        rows.append(("dlopen+dlsym only, 200 plugins", f"{floor:.1f} ms",
                     f"{floor / 200:.3f} ms/plugin CPU time (the floor)"))
        rows.append((f"daemon RSS, {real_count} plugins", f"{statistics.median(rss4) / 1024:.1f} MiB", ""))
        rows.append(("daemon RSS, 200 plugins", f"{statistics.median(rss200) / 1024:.1f} MiB", ""))

        daemon = Daemon(args.daemon, os.path.join(work, "real.yaml"), env)
        try:
            true_ms = median_ms(timed_runs(["/bin/true"], args.runs, env))
            status_ms = median_ms(timed_runs([args.cli, "status", "mumble"], args.runs, env))
            list_ms = median_ms(timed_runs([args.cli, "list"], args.runs, env))
        finally:
            daemon.stop()
        rows.append(("CLI round trip: status mumble", f"{status_ms:.2f} ms", f"({status_ms - true_ms:.2f} ms over /bin/true)"))
        rows.append(("CLI round trip: list", f"{list_ms:.2f} ms", f"({list_ms - true_ms:.2f} ms over /bin/true)"))
        rows.append(("process start: /bin/true", f"{true_ms:.2f} ms", ""))

        print(f"Tails Server benchmarks (medians; {args.runs} CLI runs, {args.starts} daemon starts)")
        for name, value, extra in rows:
            print(f"  {name:<36} {value:>10}  {extra}")
    finally:
        bus.terminate()
        bus.wait()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
