#!/usr/bin/env python3
"""Mumble protocol probe: mumble_probe.py HOST PORT USER [PASSWORD]

PASSWORD "-" reads the password from standard input instead (all of it, as
UTF-8, without a trailing newline removed), so that it stays out of argv.

Connects with TLS (no certificate verification), reads the server's Version
message, sends Version and Authenticate, then reads until Reject or ServerSync.
Python standard library only; protobuf is encoded by hand.

Output (one "key: value" per line, for tests to parse):
  fingerprint: AA:BB:...          SHA-256 of the server certificate (DER)
  server_version: N               Version.version (e.g. 66308 = 1.3.4)
  server_release: 'text'|(none)   Version.release
  server_os: 'text'|(none)        Version.os
  reject_type: N                  on Reject
  reject_reason: text             on Reject
  session: N                      on ServerSync
  welcome_text: text              on ServerSync (newlines shown as \\n)
  welcome_text_hex: hex           the exact bytes of ServerSync.welcome_text
  max_users: N                    from ServerConfig, if it arrives within 3 s
  OK: authenticated

Exit status: 0 authenticated, 2 rejected, 1 any other failure (timeout 15 s).
"""

import hashlib
import socket
import ssl
import struct
import sys
import time

TIMEOUT = 15.0

VERSION, AUTHENTICATE, PING, REJECT, SERVER_SYNC = 0, 2, 3, 4, 5
SERVER_CONFIG = 24

MESSAGE_NAMES = {
    0: "Version", 1: "UDPTunnel", 2: "Authenticate", 3: "Ping", 4: "Reject", 5: "ServerSync",
    6: "ChannelRemove", 7: "ChannelState", 8: "UserRemove", 9: "UserState", 10: "BanList",
    11: "TextMessage", 12: "PermissionDenied", 13: "ACL", 14: "QueryUsers", 15: "CryptSetup",
    16: "ContextActionModify", 17: "ContextAction", 18: "UserList", 19: "VoiceTarget",
    20: "PermissionQuery", 21: "CodecVersion", 22: "UserStats", 23: "RequestBlob",
    24: "ServerConfig", 25: "SuggestConfig",
}


class ProbeError(Exception):
    pass


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3 | 0) + varint(value)


def field_bytes(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


def read_varint(data, pos):
    result, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ProbeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def decode(data):
    """Generic protobuf decoding: {field number: [values]}."""
    fields, pos = {}, 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 2:
            length, pos = read_varint(data, pos)
            value = data[pos:pos + length]
            if len(value) != length:
                raise ProbeError("truncated field")
            pos += length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ProbeError("unsupported wire type %d" % wire)
        fields.setdefault(number, []).append(value)
    return fields


class Connection:
    def __init__(self, host, port, deadline):
        self.deadline = deadline
        raw = socket.create_connection((host, port), timeout=self.remaining())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.sock = context.wrap_socket(raw)
        self.buffer = b""

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ProbeError("timed out after %g s" % TIMEOUT)
        return left

    def fingerprint(self):
        der = self.sock.getpeercert(binary_form=True)
        digest = hashlib.sha256(der).hexdigest().upper()
        return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))

    def send(self, kind, payload):
        self.sock.sendall(struct.pack(">HI", kind, len(payload)) + payload)

    def read_exact(self, count):
        while len(self.buffer) < count:
            self.sock.settimeout(self.remaining())
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise ProbeError("timed out after %g s" % TIMEOUT)
            if not chunk:
                raise ProbeError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self):
        kind, length = struct.unpack(">HI", self.read_exact(6))
        if length > 8 * 1024 * 1024:
            raise ProbeError("message too long (%d bytes)" % length)
        return kind, self.read_exact(length)


def text_or_none(fields, number):
    if number not in fields:
        return "(none)"
    return repr(fields[number][0].decode("utf-8", "replace"))


def probe(host, port, user, password):
    conn = Connection(host, port, time.monotonic() + TIMEOUT)
    print("fingerprint: %s" % conn.fingerprint(), flush=True)

    kind, payload = conn.receive()
    if kind != VERSION:
        raise ProbeError("expected Version first, got %s" % MESSAGE_NAMES.get(kind, kind))
    version = decode(payload)
    print("server_version: %s" % version.get(1, ["(none)"])[0])
    print("server_release: %s" % text_or_none(version, 2))
    print("server_os: %s" % text_or_none(version, 3), flush=True)

    conn.send(VERSION, field_varint(1, (1 << 16) | (3 << 8) | 4) +
              field_bytes(2, b"tails-server-probe") + field_bytes(3, b"probe") +
              field_bytes(4, b""))
    conn.send(AUTHENTICATE, field_bytes(1, user.encode("utf-8")) +
              field_bytes(2, password.encode("utf-8")) + field_varint(5, 1))

    while True:
        kind, payload = conn.receive()
        if kind == REJECT:
            reject = decode(payload)
            print("reject_type: %s" % reject.get(1, ["(none)"])[0])
            print("reject_reason: %s" % reject.get(2, [b""])[0].decode("utf-8", "replace"))
            return 2
        if kind == SERVER_SYNC:
            sync = decode(payload)
            welcome = sync.get(3, [b""])[0]
            print("session: %s" % sync.get(1, ["(none)"])[0])
            print("welcome_text: %s" % welcome.decode("utf-8", "replace").replace("\n", "\\n"))
            print("welcome_text_hex: %s" % welcome.hex(), flush=True)
            break
    # ServerConfig normally follows ServerSync at once; it is optional here.
    conn.deadline = min(conn.deadline, time.monotonic() + 3)
    try:
        while True:
            kind, payload = conn.receive()
            if kind == SERVER_CONFIG:
                config = decode(payload)
                if 6 in config:
                    print("max_users: %s" % config[6][0])
                break
    except ProbeError:
        pass
    print("OK: authenticated")
    return 0


def main(argv):
    if len(argv) not in (4, 5):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 1
    host, port, user = argv[1], int(argv[2]), argv[3]
    password = argv[4] if len(argv) == 5 else ""
    if password == "-":
        password = sys.stdin.buffer.read().decode("utf-8")
    try:
        return probe(host, port, user, password)
    except (OSError, ProbeError, struct.error) as error:
        print("ERROR: %s" % error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
