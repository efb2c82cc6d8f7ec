#!/usr/bin/env python3
"""What a service tells a client: leak_probe.py KIND SOCKS_PORT ONION PORT [ARG]

Connects to ONION:PORT through the Tor client's SOCKS5 port on 127.0.0.1 (tests/tor-network/
torctl.py; the client tor must hold the client-authorization key) as a client of KIND would, and
records everything the service sends: stream headers, banners, version replies, the TLS
certificate (subject, issuer, SANs and `openssl x509 -text`), HTTP headers and error pages.
A secret (a password) is read from standard input, first line, never from argv.

KIND and ARG:
  nginx   ARG = a folder of the site with no index file (for a 403)
  dokuwiki (nothing): the start page, a login form, a missing page, the denied data folder
  mumble  the server password on stdin
  prosody ARG = the XMPP domain; "USER PASSWORD" (an account) on stdin
  gobby   the server password on stdin
  chat    (nothing)
  ssh     nothing: the banner and key exchange offer before any login
  icecast ARG = the mount; the source password on stdin (a source streams while a listener asks)

Output: one JSON object on stdout: {"records": [{"what": ..., "text": ...}], "certificates":
[{"subject", "issuer", "san", "text"}], "fields": {...}}. Exit status 0; 44/45 SOCKS 0xF4/0xF5
(no or wrong client authorization); 40 another SOCKS failure; 1 a protocol failure (the JSON
holds what was recorded until then, and "error"). Python standard library and openssl(1).
"""

import base64
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tor-network"))
import torctl  # noqa: E402  pylint: disable=wrong-import-position

TIMEOUT = 60.0
OUT = {"records": [], "certificates": [], "fields": {}}


class ProbeError(Exception):
    pass


def record(what, data):
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    OUT["records"].append({"what": what, "text": text})


class SocksFailure(Exception):
    pass


def connect(args):
    try:
        return torctl.socks5_connect(args.socks_port, args.onion, args.port, timeout=TIMEOUT)
    except (OSError, ConnectionError) as error:
        raise SocksFailure("SOCKS5 connection: %s" % (error or type(error).__name__))


def unverified_tls(sock, server_name=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    tls = context.wrap_socket(sock, server_hostname=server_name)
    der = tls.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-nameopt", "RFC2253"], input=pem,
                          capture_output=True, text=True).stdout
    field = lambda name: subprocess.run(["openssl", "x509", "-noout", "-" + name, "-nameopt", "RFC2253"],
                                        input=pem, capture_output=True, text=True).stdout.strip()
    san = re.search(r"Subject Alternative Name:[^\n]*\n\s*([^\n]*)", text)
    OUT["certificates"].append({"subject": field("subject"), "issuer": field("issuer"),
                                "san": san.group(1).strip() if san else "", "text": text})
    return tls


def read_for(sock, seconds, until=None):
    """Everything sock sends within seconds (or until the bytes regex `until` matches)."""
    data, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            break
        except OSError:
            break
        if not chunk:
            break
        data += chunk
        if until and re.search(until, data, re.S):
            break
    return data


# -- nginx ------------------------------------------------------------------------------------
def probe_nginx(args):
    host = args.onion
    folder = (args.arg or "/").rstrip("/")
    requests = [
        ("GET /", "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host),
        ("404", "GET /tails-server-leak-probe-missing HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host),
        ("403", "GET %s/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (folder, host)),
        ("301 (a folder without its '/')", "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
         % (folder, host)),
        ("301 without Host (HTTP/1.0)", "GET %s HTTP/1.0\r\n\r\n" % folder),
        ("405", "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % host),
        ("400 (no Host)", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"),
        ("400 (garbage)", "\x01\x02 nonsense\r\n\r\n"),
        ("414/400 (a long URI)", "GET /%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % ("a" * 9000, host)),
    ]
    for head in http_heads(args, "nginx", requests, 20):
        location = re.search(r"^Location: *(.*?)\s*$", head, re.M | re.I)
        if location:
            OUT["fields"].setdefault("locations", []).append(location.group(1))


def http_heads(args, service, requests, seconds):
    """Sends each (what, request) on a connection of its own, records the reply, notes its Server
    header in the server_headers field, and yields its head."""
    for what, request in requests:
        sock = connect(args)
        sock.sendall(request.encode("latin-1"))
        reply = read_for(sock, seconds)
        sock.close()
        if not reply:
            raise ProbeError("%s sent nothing for %s" % (service, what))
        record("%s %s" % (service, what), reply)
        head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        server = re.search(r"^Server: *(.*?)\s*$", head, re.M | re.I)
        OUT["fields"].setdefault("server_headers", []).append(server.group(1) if server else "")
        yield head


# -- dokuwiki ---------------------------------------------------------------------------------
def probe_dokuwiki(args):
    host = args.onion
    get = "GET %s HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
    requests = [
        ("GET /", get % "/"),
        ("the login form", get % "/doku.php?id=start&do=login"),
        ("a missing page", get % "/doku.php?id=tails_server_leak_probe_missing"),
        ("a missing PHP file", get % "/tails-server-leak-probe.php"),
        ("the denied data folder", get % "/data/pages/start.txt"),
        ("400 (garbage)", "\x01\x02 nonsense\r\n\r\n"),
    ]
    for head in http_heads(args, "dokuwiki", requests, 30):
        powered = re.search(r"^X-Powered-By: *(.*?)\s*$", head, re.M | re.I)
        if powered:
            OUT["fields"].setdefault("powered_by", []).append(powered.group(1))


# -- chat -------------------------------------------------------------------------------------
def probe_chat(args):
    host = args.onion
    get = "GET %s HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
    requests = [
        ("GET /", get % "/"),
        ("POST /join", "POST /join HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % host),
        ("GET /chat.js", get % "/chat.js"),
        ("404", get % "/tails-server-leak-probe-missing"),
        ("/ws without a guest", get % "/ws"),
        ("/stream without a guest", get % "/stream"),
        ("400 (no Host)", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"),
        ("400 (garbage)", "\x01\x02 nonsense\r\n\r\n"),
        ("a long URI", get % ("/" + "a" * 9000)),
    ]
    for what, request in requests:
        sock = connect(args)
        sock.sendall(request.encode("latin-1"))
        reply = read_for(sock, 20)
        sock.close()
        record("chat " + what, reply)
        head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        server = re.search(r"^Server: *(.*?)\s*$", head, re.M | re.I)
        OUT["fields"].setdefault("server_headers", []).append(server.group(1) if server else "")
        if what == "GET /":
            OUT["fields"]["first_status"] = head.split("\r\n")[0]


# -- mumble -----------------------------------------------------------------------------------
MUMBLE_NAMES = {0: "Version", 1: "UDPTunnel", 2: "Authenticate", 3: "Ping", 4: "Reject", 5: "ServerSync",
                7: "ChannelState", 9: "UserState", 15: "CryptSetup", 20: "PermissionQuery",
                21: "CodecVersion", 24: "ServerConfig", 25: "SuggestConfig"}


def varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pb_bytes(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


def read_varint(data, pos):
    """The protobuf varint at data[pos]: (value, position after it)."""
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def pb_decode(data):
    fields, pos = {}, 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 2:
            length, pos = read_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ProbeError("protobuf wire type %d" % wire)
        fields.setdefault(number, []).append(value)
    return fields


def probe_mumble(args):
    password = sys.stdin.readline().rstrip("\n")
    tls = unverified_tls(connect(args))
    buffer = b""
    messages = []

    def receive(seconds):
        nonlocal buffer
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if len(buffer) >= 6:
                kind, length = struct.unpack(">HI", buffer[:6])
                if len(buffer) >= 6 + length:
                    payload, buffer = buffer[6:6 + length], buffer[6 + length:]
                    return kind, payload
            tls.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                more = tls.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                break
            if not more:
                break
            buffer += more
        return None, b""

    kind, payload = receive(20)
    if kind != 0:
        raise ProbeError("expected Version first, got %s" % kind)
    version = pb_decode(payload)
    text = lambda f, n: f.get(n, [b""])[0].decode("utf-8", "replace") if n in f else "(none)"
    OUT["fields"].update({"version": version.get(1, [0])[0], "release": text(version, 2), "os": text(version, 3),
                          "os_version": text(version, 4)})
    record("mumble Version", "version=%s release=%r os=%r os_version=%r" % (
        OUT["fields"]["version"], OUT["fields"]["release"], OUT["fields"]["os"], OUT["fields"]["os_version"]))
    tls.sendall(struct.pack(">HI", 0, 0))
    auth = pb_bytes(1, b"leakprobe") + pb_bytes(2, password.encode("utf-8"))
    tls.sendall(struct.pack(">HI", 2, len(auth)) + auth)
    deadline = time.monotonic() + 20
    synced = None
    while time.monotonic() < deadline:
        kind, payload = receive(3 if synced else deadline - time.monotonic())
        if kind is None:
            break
        name = MUMBLE_NAMES.get(kind, str(kind))
        messages.append(name)
        if name in ("CryptSetup", "UDPTunnel", "Ping"):
            continue  # keys and nonces: random bytes
        try:
            fields = pb_decode(payload)
        except (IndexError, ProbeError):
            fields = {}
        strings = ["%d=%s" % (n, v.decode("utf-8", "replace")) for n, vs in sorted(fields.items()) for v in vs
                   if isinstance(v, bytes)]
        numbers = ["%d=%s" % (n, v) for n, vs in sorted(fields.items()) for v in vs if isinstance(v, int)]
        record("mumble " + name, " ".join(strings + numbers))
        if name == "Reject":
            raise ProbeError("rejected: " + " ".join(strings + numbers))
        if name == "ServerSync":
            synced = time.monotonic()
    OUT["fields"]["messages"] = messages
    if synced is None:
        raise ProbeError("no ServerSync (got %s)" % messages)


# -- XMPP (prosody) and infinote (gobby) --------------------------------------------------------
STREAM = ("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
FEATURES = rb"</stream:features>|<stream:features\s*/>|</stream:stream>|<stream:error"


def xmpp_stream(sock, domain, what):
    sock.sendall((STREAM % domain).encode())
    data = read_for(sock, 30, FEATURES)
    record(what, data)
    if b"features" not in data:
        raise ProbeError("%s: no stream features: %r" % (what, data[-300:]))
    return data


def starttls(sock, domain, what):
    sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    data = read_for(sock, 20, rb"<proceed[^>]*>|<failure")
    record(what + " STARTTLS", data)
    if b"<proceed" not in data:
        raise ProbeError("STARTTLS refused: %r" % data)
    return unverified_tls(sock, domain if "." in domain else None)


def probe_prosody(args):
    domain = args.arg
    user, _, password = sys.stdin.readline().rstrip("\n").partition(" ")
    sock = connect(args)
    xmpp_stream(sock, domain, "prosody stream header and features (before TLS)")
    tls = starttls(sock, domain, "prosody")
    xmpp_stream(tls, domain, "prosody stream header and features (TLS)")
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    tls.sendall(("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>" % token).encode())
    data = read_for(tls, 20, rb"<success|</failure>|<failure[^>]*/>")
    record("prosody SASL", data)
    if b"<success" not in data:
        raise ProbeError("SASL failed: %r" % data)
    xmpp_stream(tls, domain, "prosody stream header and features (authenticated)")
    tls.sendall(b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                b"<resource>probe</resource></bind></iq>")
    record("prosody bind", read_for(tls, 20, rb"id=['\"]bind['\"].*?(/>|</iq>)"))
    queries = {"version": "jabber:iq:version", "disco-info": "http://jabber.org/protocol/disco#info",
               "disco-items": "http://jabber.org/protocol/disco#items", "last": "jabber:iq:last",
               "time": "urn:xmpp:time", "vcard": "vcard-temp"}
    for qid, ns in queries.items():
        element = "time" if ns == "urn:xmpp:time" else ("vCard" if ns == "vcard-temp" else "query")
        tls.sendall(("<iq type='get' to='%s' id='%s'><%s xmlns='%s'/></iq>" % (domain, qid, element, ns)).encode())
        reply = read_for(tls, 15, (r"<iq[^>]*id=['\"]%s['\"]([^>]*/>|.*?</iq>)" % qid).encode())
        record("prosody iq %s (%s)" % (qid, ns), reply)
        m = re.search((r"<iq[^>]*id=['\"]%s['\"]([^>]*/>|.*?</iq>)" % qid).encode(), reply, re.S)
        OUT["fields"]["iq " + qid] = m.group(0).decode("utf-8", "replace") if m else "(no answer)"
    tls.sendall(b"<presence/>")
    record("prosody after presence", read_for(tls, 5))
    tls.sendall(b"</stream:stream>")


def probe_gobby(args):
    password = sys.stdin.readline().rstrip("\n")
    sock = connect(args)
    header = xmpp_stream(sock, args.onion, "infinoted stream header and features (before TLS)")
    m = re.search(rb"<stream:stream[^>]*>", header)
    OUT["fields"]["stream_header"] = m.group(0).decode("utf-8", "replace") if m else ""
    tls = starttls(sock, args.onion, "infinoted")
    header = xmpp_stream(tls, args.onion, "infinoted stream header and features (TLS)")
    m = re.search(rb"<stream:stream[^>]*>", header)
    OUT["fields"]["stream_header_tls"] = m.group(0).decode("utf-8", "replace") if m else ""
    tls.sendall(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>")
    data = read_for(tls, 20, rb"<challenge|</failure>|<failure[^>]*/>")
    record("infinoted SASL", data)
    if b"<challenge" in data:
        token = base64.b64encode(b"\0leakprobe\0" + password.encode()).decode()
        tls.sendall(("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>" % token).encode())
        data = read_for(tls, 20, rb"<success|</failure>|<failure[^>]*/>")
        record("infinoted SASL response", data)
    if b"<success" not in data:
        raise ProbeError("SASL failed: %r" % data)
    # The stream restarts after SASL; then infinoted greets the client's directory (<welcome/>).
    tls.sendall((STREAM % args.onion).encode())
    data = read_for(tls, 10, rb"<welcome[^>]*>")
    record("infinoted stream header and what follows (authenticated)", data)
    m = re.search(rb"<stream:stream[^>]*>", data)
    OUT["fields"]["stream_header_authenticated"] = m.group(0).decode("utf-8", "replace") if m else ""
    tls.sendall(b"<group name='InfDirectory' publisher='you'><explore-node id='0' seq='1'/></group>")
    record("infinoted directory", read_for(tls, 5))


def probe_ssh(args):
    """The version banner and the key exchange offer (SSH_MSG_KEXINIT) an SSH client sees before
    it authenticates."""
    sock = connect(args)
    banner = read_for(sock, 30, rb"\n")
    record("sshd version banner", banner)
    OUT["fields"]["banner"] = banner.split(b"\r\n")[0].decode("utf-8", "replace")
    sock.sendall(b"SSH-2.0-leakprobe\r\n")
    data = read_for(sock, 20, rb"ssh-ed25519")
    # The name-lists of KEXINIT are readable text: algorithms only.
    record("sshd key exchange offer", re.sub(rb"[^\x20-\x7e]+", b" ", data))
    sock.close()


# -- icecast ----------------------------------------------------------------------------------
def probe_icecast(args):
    host, mount = args.onion, args.arg or "/stream.ogg"

    def ask(what, request, required=True):
        sock = connect(args)
        sock.sendall(request.encode("latin-1"))
        reply = read_for(sock, 20)
        sock.close()
        if not reply and required:
            raise ProbeError("icecast sent nothing for " + what)
        record("icecast " + what, reply)
        if not reply:
            return
        head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        server = re.search(r"^Server: *(.*?)\s*$", head, re.M | re.I)
        OUT["fields"].setdefault("server_headers", []).append(server.group(1) if server else "")
        location = re.search(r"^Location: *(.*?)\s*$", head, re.M | re.I)
        if location:
            OUT["fields"].setdefault("locations", []).append(location.group(1))

    get = lambda path: "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)
    for what, path in (("GET /", "/"), ("status page (JSON)", "/status-json.xsl"), ("status page", "/status.xsl"),
                       ("version page", "/server_version.xsl"), ("404", "/tails-server-leak-probe-missing"),
                       ("401 (admin without password)", "/admin/stats"), ("the mount without a source", mount)):
        ask(what, get(path))
    ask("garbage (icecast closes the connection)", "\x01\x02 nonsense\r\n\r\n", required=False)
    password = sys.stdin.readline().rstrip("\n")
    if password:
        source = connect(args)
        credentials = base64.b64encode(("source:" + password).encode("utf-8")).decode("ascii")
        source.sendall(("PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n"
                        "Content-Type: application/ogg\r\nIce-Public: 0\r\n\r\n"
                        % (mount, host, credentials)).encode("latin-1"))
        reply = read_for(source, 20, until=rb"\r\n\r\n")
        record("icecast source PUT", reply)
        if not reply.startswith(b"HTTP/1.") or b" 200 " not in reply.split(b"\r\n", 1)[0]:
            raise ProbeError("icecast refused the source: %r" % reply[:200])
        ask("the status page while a source streams", get("/status-json.xsl"))
        listener = connect(args)
        listener.sendall(get(mount).encode("latin-1"))
        reply = read_for(listener, 5, until=rb"\r\n\r\n")
        listener.close()
        record("icecast the mount's listener headers", reply.split(b"\r\n\r\n", 1)[0])
        if reply:  # icecast may hold a listener's answer until the source sends its first pages
            head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            server = re.search(r"^Server: *(.*?)\s*$", head, re.M | re.I)
            OUT["fields"].setdefault("server_headers", []).append(server.group(1) if server else "")
        source.close()


PROBES = {"nginx": probe_nginx, "dokuwiki": probe_dokuwiki, "mumble": probe_mumble, "prosody": probe_prosody, "gobby": probe_gobby,
          "chat": probe_chat, "ssh": probe_ssh, "icecast": probe_icecast}


class Args:
    def __init__(self, argv):
        self.kind, self.socks_port, self.onion, self.port = argv[1], int(argv[2]), argv[3], int(argv[4])
        self.arg = argv[5] if len(argv) > 5 else ""


def main(argv):
    if len(argv) not in (5, 6) or argv[1] not in PROBES:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 1
    args = Args(argv)
    code = 0
    try:
        PROBES[args.kind](args)
    except torctl.SocksError as error:
        OUT["error"] = str(error)
        code = {0xF4: 44, 0xF5: 45}.get(error.code, 40)
    except SocksFailure as error:
        OUT["error"] = str(error)
        code = 40
    except (OSError, ProbeError, ssl.SSLError, struct.error, IndexError) as error:
        OUT["error"] = "%s: %s" % (type(error).__name__, error)
        code = 1
    print(json.dumps(OUT, indent=1))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
