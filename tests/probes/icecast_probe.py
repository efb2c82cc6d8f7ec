#!/usr/bin/env python3
"""Icecast source and listener probe:
icecast_probe.py HOST PORT MOUNT FILE OUTPUT [--socks SOCKS_HOST:SOCKS_PORT] [--timeout SECONDS]

The source password is read from standard input (all of it, as UTF-8, no
trailing newline removed), so that it stays out of argv.

As a source client, sends HTTP PUT MOUNT (Basic auth "source:PASSWORD",
Content-Type application/ogg) and, if icecast answers 200, the bytes of FILE;
the source connection stays open. Then, as a listener, sends GET MOUNT and
writes the body it receives (up to the size of FILE, or what arrived within
10 s) to OUTPUT. Python standard library only.

With --socks, every connection (the source's and the listeners') goes through
that SOCKS5 proxy (no authentication), HOST given to it as a name: e.g. an
onion address through Tor's SOCKS port. --timeout (default 10, or 120 with
--socks) bounds each connection's set-up and reads.

Output (one "key: value" per line, for tests to parse):
  socks_reply: 0xNN         the SOCKS5 reply code when the proxy refused a connection
  source_status: N          icecast's answer to the PUT
  listener_status: N        icecast's answer to the GET (if the PUT was accepted)
  listener_content_type: T  the listener's Content-Type
  listener_bytes: N         how many body bytes the listener received
  second_listener_status: N icecast's answer to a second listener's GET

Exit status: 0 streamed and listened, 2 the source was refused, 3 the SOCKS5
proxy refused or failed a connection, 1 any other failure.
"""

import base64
import socket
import struct
import sys
import time


class SocksError(Exception):
    def __init__(self, code, text):
        super().__init__(text)
        self.code = code


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SocksError(-1, "the SOCKS5 proxy closed the connection")
        data += chunk
    return data


def connect(host, port, socks, timeout):
    """A TCP connection to host:port, directly or through the SOCKS5 proxy socks ((host, port))."""
    if socks is None:
        return socket.create_connection((host, port), timeout=timeout)
    sock = socket.create_connection(socks, timeout=timeout)
    try:
        sock.sendall(b"\x05\x01\x00")
        if recv_exactly(sock, 2) != b"\x05\x00":
            raise SocksError(-1, "the SOCKS5 proxy wants authentication")
        name = host.encode("ascii")
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
        version, reply, _, atyp = recv_exactly(sock, 4)
        if version != 5:
            raise SocksError(-1, "not a SOCKS5 reply")
        if reply != 0:
            raise SocksError(reply, "SOCKS5 reply 0x%02X" % reply)
        if atyp == 1:
            recv_exactly(sock, 4 + 2)
        elif atyp == 4:
            recv_exactly(sock, 16 + 2)
        else:
            recv_exactly(sock, recv_exactly(sock, 1)[0] + 2)
    except BaseException:
        sock.close()
        raise
    return sock


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


def probe(host, port, mount, payload, password, socks, timeout, output):
    credentials = base64.b64encode(("source:" + password).encode("utf-8")).decode("ascii")
    source = connect(host, port, socks, timeout)
    source.sendall(("PUT %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Basic %s\r\n"
                    "Content-Type: application/ogg\r\nIce-Public: 0\r\n\r\n"
                    % (mount, host, port, credentials)).encode("ascii"))
    status, _, _ = read_head(source)
    print("source_status: %d" % status, flush=True)
    if status != 200:
        return 2
    source.sendall(payload)
    time.sleep(1)  # icecast reads the pages into its queue

    listener = connect(host, port, socks, timeout)
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
    second = connect(host, port, socks, timeout)
    second.sendall(("GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n" % (mount, host, port)).encode("ascii"))
    print("second_listener_status: %d" % read_head(second)[0])
    second.close()
    listener.close()
    source.close()
    return 0 if status == 200 else 1


def main():
    args, socks, timeout = [], None, None
    argv = sys.argv[1:]
    while argv:
        arg = argv.pop(0)
        if arg == "--socks" and argv:
            socks_host, _, socks_port = argv.pop(0).rpartition(":")
            socks = (socks_host, int(socks_port))
        elif arg == "--timeout" and argv:
            timeout = float(argv.pop(0))
        else:
            args.append(arg)
    if len(args) != 5:
        print(__doc__.splitlines()[1], file=sys.stderr)
        return 1
    host, port, mount, file_name, output = args
    if timeout is None:
        timeout = 120.0 if socks else 10.0
    password = sys.stdin.buffer.read().decode("utf-8")
    with open(file_name, "rb") as f:
        payload = f.read()
    try:
        return probe(host, int(port), mount, payload, password, socks, timeout, output)
    except SocksError as e:
        if e.code >= 0:
            print("socks_reply: 0x%02X" % e.code)
        print("error: %s" % e, flush=True)
        return 3
    except OSError as e:
        print("error: %s" % (e or type(e).__name__), flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
