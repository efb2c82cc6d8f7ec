"""Minimal Tor control-port client and SOCKS5 client for tests (Python stdlib only).

Control protocol facts: docs/tor.md#control-protocol (control-spec.txt sections 2-4).

    ctl = Controller.connect(("127.0.0.1", 9051))      # or Controller.connect("/path/control")
    ctl.authenticate(cookie_path)                       # SAFECOOKIE (HMAC-SHA256)
    code, lines = ctl.command("GETINFO status/bootstrap-phase")
    event = ctl.next_event(timeout=10)                  # "650 ..." lines, after SETEVENTS

    sock = socks5_connect(socks_port, "xyz.onion", 80)  # raises SocksError(code) on a SOCKS failure
"""

import hashlib
import hmac
import os
import socket
import struct
import time

SERVER_KEY = b"Tor safe cookie authentication server-to-controller hash"
CLIENT_KEY = b"Tor safe cookie authentication controller-to-server hash"


class ControlError(Exception):
    """A control-port reply with an error status, or a protocol/connection problem."""

    def __init__(self, message, code=None, lines=None):
        super().__init__(message)
        self.code = code
        self.lines = lines or []


class Controller:
    """One control connection. Replies are (status_code:int, [line, ...]) where each line is the
    text after the 4-character "NNN-"/"NNN "/"NNN+" prefix; data blocks are appended as one
    string joined with "\\n" (dot-unstuffed) to the line that introduced them."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.events = []  # queued async replies: lists of lines (first line starts with the event name)

    @classmethod
    def connect(cls, address, timeout=10.0):
        """address: (host, port) tuple or a unix socket path. Raises OSError when unreachable."""
        if isinstance(address, (tuple, list)):
            sock = socket.create_connection(tuple(address), timeout=timeout)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(address)
        sock.settimeout(None)
        return cls(sock)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- low level -------------------------------------------------------------------------------
    def _readline(self, deadline):
        while b"\n" not in self.buf:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError("timed out waiting for tor's reply")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("timed out waiting for tor's reply") from None
            if not chunk:
                raise ControlError("tor closed the control connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def _read_reply(self, deadline):
        """Returns (code, lines) of one complete reply (which may be an async 650 event)."""
        lines = []
        while True:
            line = self._readline(deadline)
            if len(line) < 4 or not line[:3].isdigit():
                raise ControlError("malformed reply line from tor: %r" % line)
            code, sep, text = int(line[:3]), line[3], line[4:]
            if sep == "+":
                data = []
                while True:
                    d = self._readline(deadline)
                    if d == ".":
                        break
                    data.append(d[1:] if d.startswith(".") else d)
                text = text + "\n".join(data) if text.endswith("=") else text + "\n" + "\n".join(data)
                lines.append(text)
            elif sep == "-":
                lines.append(text)
            elif sep == " ":
                lines.append(text)
                return code, lines
            else:
                raise ControlError("malformed reply line from tor: %r" % line)

    def command(self, cmd, timeout=30.0, check=True):
        """Sends one command line; returns (code, lines). Raises ControlError on codes >= 400 when
        check is true. Async events arriving meanwhile are queued for next_event()."""
        self.sock.sendall(cmd.encode("utf-8") + b"\r\n")
        deadline = time.monotonic() + timeout
        while True:
            code, lines = self._read_reply(deadline)
            if code == 650:
                self.events.append(lines)
                continue
            if check and code >= 400:
                raise ControlError("%s -> %d %s" % (cmd.split(" ", 1)[0], code, " | ".join(lines)), code, lines)
            return code, lines

    def next_event(self, timeout):
        """Returns the next async event's lines (first line e.g. "HS_DESC UPLOADED ..."), or None
        on timeout."""
        if self.events:
            return self.events.pop(0)
        try:
            code, lines = self._read_reply(time.monotonic() + timeout)
        except TimeoutError:
            return None
        if code != 650:
            raise ControlError("unexpected reply outside a command: %d %s" % (code, lines), code, lines)
        return lines

    # -- high level ------------------------------------------------------------------------------
    def authenticate(self, cookie_path=None):
        """SAFECOOKIE authentication with the 32-byte cookie file (PROTOCOLINFO's COOKIEFILE if
        cookie_path is None). Raises ControlError on failure."""
        _, lines = self.command("PROTOCOLINFO 1")
        if cookie_path is None:
            for line in lines:
                if line.startswith("AUTH ") and 'COOKIEFILE="' in line:
                    cookie_path = unescape(line.split('COOKIEFILE="', 1)[1].rsplit('"', 1)[0])
        if cookie_path is None:
            raise ControlError("tor offers no cookie file: %s" % lines)
        with open(cookie_path, "rb") as f:
            cookie = f.read()
        if len(cookie) != 32:
            raise ControlError("cookie file %s has %d bytes, expected 32" % (cookie_path, len(cookie)))
        client_nonce = os.urandom(32)
        _, lines = self.command("AUTHCHALLENGE SAFECOOKIE " + client_nonce.hex())
        fields = dict(kv.split("=", 1) for kv in lines[0].split()[1:] if "=" in kv)
        server_hash = bytes.fromhex(fields["SERVERHASH"])
        server_nonce = bytes.fromhex(fields["SERVERNONCE"])
        msg = cookie + client_nonce + server_nonce
        expected = hmac.new(SERVER_KEY, msg, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, server_hash):
            raise ControlError("tor's SERVERHASH does not match the cookie %s" % cookie_path)
        client_hash = hmac.new(CLIENT_KEY, msg, hashlib.sha256).hexdigest()
        self.command("AUTHENTICATE " + client_hash)

    def getinfo(self, key):
        """Returns the value of one GETINFO key (multi-line values joined with "\\n")."""
        _, lines = self.command("GETINFO " + key)
        for line in lines:
            if line.startswith(key + "="):
                return line[len(key) + 1:]
        raise ControlError("GETINFO %s: no value in %s" % (key, lines))

    def bootstrap_progress(self):
        """Returns (percent:int, phase_line:str) from GETINFO status/bootstrap-phase."""
        phase = self.getinfo("status/bootstrap-phase")
        for word in phase.split():
            if word.startswith("PROGRESS="):
                return int(word[9:]), phase
        return 0, phase


def unescape(s):
    """Decodes a control-spec CString body (section 2.1.1)."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n in "01234567":
                j = i + 1
                while j < len(s) and j < i + 4 and s[j] in "01234567":
                    j += 1
                out.append(chr(int(s[i + 1:j], 8)))
                i = j
                continue
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


# -- SOCKS5 -----------------------------------------------------------------------------------------
# RFC 1928 reply codes plus proposal 304 extended errors (SocksPort ... ExtendedErrors).
SOCKS_REPLIES = {
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
    0xF0: "onion service descriptor can not be found",
    0xF1: "onion service descriptor is invalid",
    0xF2: "onion service introduction failed",
    0xF3: "onion service rendezvous failed",
    0xF4: "onion service missing client authorization",
    0xF5: "onion service wrong client authorization",
    0xF6: "onion service invalid address",
    0xF7: "onion service introduction timed out",
}


class SocksError(Exception):
    """The SOCKS5 server answered with a non-zero REP code (self.code)."""

    def __init__(self, code):
        super().__init__("SOCKS5 reply 0x%02X (%s)" % (code, SOCKS_REPLIES.get(code, "unknown")))
        self.code = code


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("SOCKS server closed the connection during the handshake")
        data += chunk
    return data


def socks5_connect(socks_port, host, port, timeout=120.0, socks_host="127.0.0.1"):
    """Opens a TCP stream to host:port through the SOCKS5 proxy, resolving the name at the proxy
    (ATYP 3, like curl --socks5-hostname). Returns the connected socket (blocking, no timeout).
    Raises SocksError with the REP code, or OSError/ConnectionError/socket.timeout."""
    sock = socket.create_connection((socks_host, socks_port), timeout=timeout)
    try:
        sock.sendall(b"\x05\x01\x00")
        ver, method = _recv_exact(sock, 2)
        if ver != 5 or method != 0:
            raise ConnectionError("SOCKS5 server refused no-auth method (%d, %d)" % (ver, method))
        name = host.encode("ascii")
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
        ver, rep, _, atyp = _recv_exact(sock, 4)
        if rep != 0:
            raise SocksError(rep)
        if atyp == 1:
            _recv_exact(sock, 4 + 2)
        elif atyp == 4:
            _recv_exact(sock, 16 + 2)
        elif atyp == 3:
            _recv_exact(sock, _recv_exact(sock, 1)[0] + 2)
        sock.settimeout(None)
        return sock
    except BaseException:
        sock.close()
        raise
