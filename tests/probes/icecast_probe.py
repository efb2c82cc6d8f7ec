#!/usr/bin/env python3
"""Icecast source and listener probe:
icecast_probe.py HOST PORT MOUNT FILE OUTPUT

The source password is read from standard input (all of it, as UTF-8, no
trailing newline removed), so that it stays out of argv.

As a source client, sends HTTP PUT MOUNT (Basic auth "source:PASSWORD",
Content-Type application/ogg) and, if icecast answers 200, the bytes of FILE;
the source connection stays open. Then, as a listener, sends GET MOUNT and
writes the body it receives (up to the size of FILE, or what arrived within
10 s) to OUTPUT. Python standard library only.

Output (one "key: value" per line, for tests to parse):
  source_status: N          icecast's answer to the PUT
  listener_status: N        icecast's answer to the GET (if the PUT was accepted)
  listener_content_type: T  the listener's Content-Type
  listener_bytes: N         how many body bytes the listener received
  second_listener_status: N icecast's answer to a second listener's GET

Exit status: 0 streamed and listened, 2 the source was refused, 1 any other failure.
"""

import base64
import socket
import sys
import time


def read_head(sock):
    """Reads up to the end of the HTTP head; returns (status, headers, rest)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, rest


def main():
    host, port, mount, file_name, output = sys.argv[1:6]
    password = sys.stdin.buffer.read().decode("utf-8")
    with open(file_name, "rb") as f:
        payload = f.read()
    credentials = base64.b64encode(("source:" + password).encode("utf-8")).decode("ascii")
    source = socket.create_connection((host, int(port)), timeout=10)
    source.sendall(("PUT %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Basic %s\r\n"
                    "Content-Type: application/ogg\r\nIce-Public: 0\r\n\r\n"
                    % (mount, host, port, credentials)).encode("ascii"))
    status, _, _ = read_head(source)
    print("source_status: %d" % status, flush=True)
    if status != 200:
        return 2
    source.sendall(payload)
    time.sleep(1)  # icecast reads the pages into its queue

    listener = socket.create_connection((host, int(port)), timeout=10)
    listener.sendall(("GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n" % (mount, host, port)).encode("ascii"))
    status, headers, body = read_head(listener)
    print("listener_status: %d" % status)
    print("listener_content_type: %s" % headers.get("content-type", "(none)"))
    deadline = time.monotonic() + 10
    listener.settimeout(1)
    while len(body) < len(payload) and time.monotonic() < deadline:
        try:
            chunk = listener.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        body += chunk
    with open(output, "wb") as f:
        f.write(body)
    print("listener_bytes: %d" % len(body))
    # A second listener while the first still plays (the mount's max-listeners).
    second = socket.create_connection((host, int(port)), timeout=10)
    second.sendall(("GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n" % (mount, host, port)).encode("ascii"))
    print("second_listener_status: %d" % read_head(second)[0])
    second.close()
    listener.close()
    source.close()
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
