#!/usr/bin/env python3
"""The chat server with 200 WebSocket guests in one room on loopback.

The guests are bench-chat-client (bench/chat_bench_client.cpp: Beast, one thread). Guest 0 sends a message
every 50 ms; the figure is the time from its send to the receive of the LAST of the 200 guests (its own copy
included), over 200 messages: median and 99th percentile. Also the server's RSS (VmRSS, and the peak VmHWM)
from /proc, and its CPU time per message. Targets: p99 under 50 ms, RSS under 30 MB.
Usage: chat_bench.py SERVER CLIENT [GUESTS] [MESSAGES]
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile

INTERVAL_MS = 50


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid):
    """The process's user + system CPU time."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid, key):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    server_binary, client_binary = sys.argv[1], sys.argv[2]
    guests = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    messages = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        config = os.path.join(directory, "chat.json")
        with open(config, "w") as file:
            json.dump({"listen": [{"address": "127.0.0.1", "port": port}], "max_users": guests,
                       "history": 0, "rate_per_minute": 60000, "rate_burst": 10000}, file)
        server = subprocess.Popen([server_binary, "--config", config], stderr=subprocess.PIPE, text=True)
        for line in server.stderr:
            if "listening on" in line:
                break
        idle = rss_mib(server.pid, "VmRSS")
        client = subprocess.Popen([client_binary, str(port), str(guests), str(messages), str(INTERVAL_MS)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdout.readline().strip() == "connected"
        connected = rss_mib(server.pid, "VmRSS")
        cpu_before = cpu_seconds(server.pid)
        result = json.loads(client.stdout.readline())
        cpu = cpu_seconds(server.pid) - cpu_before
        after = rss_mib(server.pid, "VmRSS")
        peak = rss_mib(server.pid, "VmHWM")
        client.communicate("\n")
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=10)

    latencies = sorted(result["latencies_ms"])
    p99 = latencies[max(0, int(round(0.99 * len(latencies))) - 1)]
    print(f"chat server: {guests} WebSocket guests in one room, {messages} messages of ~110 bytes, "
          f"one every {INTERVAL_MS} ms")
    print(f"  send -> last guest's receive: median {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, "
          f"max {latencies[-1]:.2f} ms (target: p99 < 50 ms); messages not seen by every guest: "
          f"{result['missing']}")
    print(f"  server RSS: idle {idle:.1f} MiB, with {guests} guests {connected:.1f} MiB, after the messages "
          f"{after:.1f} MiB, peak {peak:.1f} MiB (target: < 30 MB)")
    print(f"  server CPU time: {cpu * 1000 / messages:.2f} ms per message to {guests} guests")
    print(f"  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; server exit code on SIGTERM: {code}")
    return 0 if result["missing"] == 0 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
