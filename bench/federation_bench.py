#!/usr/bin/env python3
"""Federation round trip through Tor: median time from alice's message to a
peer server until that server's answer is back, warm and cold.

usage: federation_bench.py [--count N] [--cold-command CMD] HOST PORT DOMAIN USER PASSWORD_FILE TO

alice (USER@DOMAIN, logged in at HOST:PORT, her server's c2s port) sends a
chat message to TO, an account that does not exist on the peer server: the
peer answers with an error (service-unavailable), which travels back over the
server-to-server streams, through Tor both ways. tests/probes/xmpp_probe.py
reports the time from sending to that answer. This is a round trip (alice ->
peer server -> alice), not alice -> bob; half of it is a bound for one way.

warm: the servers' streams and Tor's circuits stay open between messages.
cold: before each message CMD runs (a shell command: close the streams, e.g.
`prosodyctl --config A shell "s2s:closeall('B.onion')"`, and SIGNAL NEWNYM on
the client tor, which also drops cached onion descriptors), so each message
builds a new stream over new circuits. Prints each sample and the medians.

Seen on 2026-12-06 (2 shared cores, tests/tor-network on 127.0.0.1, two
Prosody 0.12 servers configured as the plugin does with mod_onions, by hand,
not through tails-serverd; 20 messages each): warm median 0.015 s
(0.006-0.214), cold median 2.043 s (0.991-6.716).
"""
import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).resolve().parent.parent / "tests" / "probes" / "xmpp_probe.py"


def sample(args, password):
    run = subprocess.run([sys.executable, str(PROBE), "--timeout", "150", "--wait", "120", "--send-to", args.to,
                          args.host, str(args.port), args.domain, args.user, "-"],
                         input=password + "\n", capture_output=True, text=True, timeout=200)
    found = re.search(r"reply after ([0-9.]+) s", run.stderr)
    if run.returncode != 3 or not found:
        raise SystemExit("no answer from the peer: status %d, %s %s" % (run.returncode, run.stdout, run.stderr))
    return float(found.group(1)), run.stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--cold-command", required=True)
    for name in ("host", "port", "domain", "user", "password_file", "to"):
        parser.add_argument(name, type=int if name == "port" else str)
    args = parser.parse_args()
    password = Path(args.password_file).read_text().splitlines()[0]
    medians = {}
    for kind in ("cold", "warm"):
        times = []
        if kind == "warm":
            sample(args, password)  # opens the streams
        for i in range(args.count):
            if kind == "cold":
                subprocess.run(args.cold_command, shell=True, check=True, capture_output=True, timeout=60)
            seconds, answer = sample(args, password)
            times.append(seconds)
            print("%s %2d: %.3f s (%s)" % (kind, i + 1, seconds, answer), flush=True)
        medians[kind] = statistics.median(times)
    print("median round trip over %d messages: warm %.3f s, cold %.3f s" % (args.count, medians["warm"],
                                                                           medians["cold"]))


if __name__ == "__main__":
    main()
