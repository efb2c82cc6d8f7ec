#!/usr/bin/env python3
"""Federation, one way: median time from alice (on Tails Server A) sending a chat message to
bob (on Tails Server B) receiving it, through a private Tor network, warm and cold.

usage: sudo bench/federation_bench.py [--count N] [BUILD_DIR]

The set-up is the e2e-federation scenario's (tests/e2e/test_federation.py): two sandboxed
machines, each with its tails-serverd, Prosody and tor, joined only by the Tor network; the
peers' keys exchanged with 'client add' and 'add-peer'; alice and bob logged in through Tor.
The time is taken on the host before alice's stanza is written, and by bob's client when his
arrives (both sandboxes share the host's clock).

warm: the server-to-server streams and Tor's circuits stay open between messages.
cold: before each message, both Prosodies close their server-to-server streams
      (prosodyctl shell "s2s:closeall(...)") and both machines' tors get SIGNAL NEWNYM (new
      circuits, onion descriptors fetched again; the daemons give tor the peers' keys again),
      so each message waits for a new stream over new circuits.
Prints each sample and the medians. Needs root, tor and tor-gencert; takes a few minutes.

Seen on 2026-12-06 (2 shared cores, the private Tor network over a veth pair, 20 messages each):
warm median 0.022 s (0.016-0.093), cold median 0.561 s (0.396-1.081).
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "scenario"))

import test_federation as F  # noqa: E402


def cold():
    F.close_streams()
    for sb in (F.W.a, F.W.b):
        sb.tornet("control", "service", "SIGNAL", "NEWNYM", timeout=60)
    time.sleep(2)  # the daemons see the NEWNYM event and give the keys back


def run(count, kind, alice, bob):
    samples = []
    for i in range(count):
        if kind == "cold":
            cold()
        body = "%s %d %f" % (kind, i, time.time())
        sent = time.time()
        alice.send("<message type='chat' to='%s'><body>%s</body></message>" % (bob.jid, body))
        got = bob.wait(F.message_from(alice.jid, body), 180, sent - 1)
        if not got:
            print("%s %2d: not received within 180 s" % (kind, i), flush=True)
            continue
        samples.append(got["t"] - sent)
        print("%s %2d: %.3f s" % (kind, i, samples[-1]), flush=True)
        time.sleep(0.5)
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("build", nargs="?")
    args = parser.parse_args()
    if args.build:
        os.environ["SCENARIO_BUILD_DIR"] = os.path.abspath(args.build)
    if os.geteuid() != 0:
        sys.exit("federation_bench.py: needs root (the sandboxes)")
    F.setUpModule()
    try:
        case = F.FederationCase()
        case.add_peers()
        alice, bob = case.user("a", "alice"), case.user("b", "bob")
        # The first message opens the streams; not counted.
        first, _, _, took = case.deliver(alice, bob, "hello", 300)
        if not first:
            sys.exit("federation_bench.py: alice's first message never reached bob (%.0f s)" % took)
        results = {kind: run(args.count, kind, alice, bob) for kind in ("warm", "cold")}
    finally:
        F.tearDownModule()
    for kind, samples in results.items():
        if samples:
            print("%s: median %.3f s over %d messages (min %.3f, max %.3f)" % (
                kind, statistics.median(samples), len(samples), min(samples), max(samples)))
        else:
            print("%s: no message arrived" % kind)


if __name__ == "__main__":
    main()
