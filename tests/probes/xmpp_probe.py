#!/usr/bin/env python3
"""XMPP client probe: log in and print the server's message of the day.

usage: xmpp_probe.py [-v] [--timeout SECONDS] HOST PORT DOMAIN USER PASSWORD

Opens a client stream to HOST:PORT for DOMAIN, does STARTTLS (the
certificate is not verified), SASL PLAIN as USER, binds a resource, sends
initial presence and waits for the first <message> with a <body> (Prosody's
mod_motd sends it right after the presence). Its body, XML-unescaped, is
written to standard output as UTF-8 with nothing added (no newline).

PASSWORD "-" reads the password from the first line of standard input, so
that it does not show in the process list.

With --send-to JID (and --body TEXT), after the message of the day the probe
sends a chat message to JID and waits --wait seconds for an error in reply:
if one comes, its condition and text ("remote-server-not-found: ...") are
written instead of the message of the day and the exit status is 3; if none
comes, nothing is written and the status is 0.

Exit status: 0 logged in and got the message; 2 authentication refused;
1 anything else (connection, TLS, protocol error, timeout, no message).
Diagnostics go to standard error (the whole exchange with -v).
Python standard library only.
"""

import argparse
import base64
import re
import socket
import ssl
import sys
import time
import xml.etree.ElementTree as ET

STREAM_NS = "http://etherx.jabber.org/streams"
TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"


class ProbeError(Exception):
    pass


class AuthError(Exception):
    pass


def xml_attr(value):
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;"))


class Connection:
    def __init__(self, sock, verbose, deadline):
        self.sock = sock
        self.verbose = verbose
        self.deadline = deadline
        self.buffer = b""

    def send(self, text):
        if self.verbose:
            print("C: " + text, file=sys.stderr)
        self.sock.sendall(text.encode("utf-8"))

    def read_until(self, pattern, what):
        """Reads until the bytes regex `pattern` matches; returns and consumes
        everything up to the end of the match."""
        regex = re.compile(pattern, re.S)
        while True:
            match = regex.search(self.buffer)
            if match:
                data = self.buffer[:match.end()]
                self.buffer = self.buffer[match.end():]
                if self.verbose:
                    print("S: " + data.decode("utf-8", "replace"), file=sys.stderr)
                return data
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeError("timed out waiting for " + what + "; got: " +
                                 self.buffer[-500:].decode("utf-8", "replace"))
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise ProbeError("the server closed the connection while waiting for " + what +
                                 "; got: " + self.buffer[-500:].decode("utf-8", "replace"))
            self.buffer += chunk

    def open_stream(self, domain):
        self.send("<?xml version='1.0'?><stream:stream to='" + xml_attr(domain) +
                  "' xmlns='jabber:client' xmlns:stream='" + STREAM_NS + "' version='1.0'>")
        data = self.read_until(rb"</stream:features>|<stream:features\s*/>|</stream:stream>",
                               "stream features")
        if b"<stream:error" in data or data.endswith(b"</stream:stream>"):
            raise ProbeError("stream error: " + data.decode("utf-8", "replace"))
        return data


def parse_element(data):
    """Parses one top-level stanza (bytes) whose default namespace is
    jabber:client inherited from the stream."""
    return ET.fromstring(data)


def login(sock, domain, user, password, verbose=False, deadline=None, resource="probe"):
    """STARTTLS (certificate not verified), SASL PLAIN as user, resource binding on the
    connected socket sock. Returns the Connection (its socket wrapped in TLS)."""
    conn = Connection(sock, verbose, deadline if deadline is not None else time.monotonic() + 20)
    features = conn.open_stream(domain)
    if b"<starttls" not in features:
        raise ProbeError("the server does not offer STARTTLS: " + features.decode("utf-8", "replace"))
    conn.send("<starttls xmlns='" + TLS_NS + "'/>")
    answer = conn.read_until(rb"<proceed[^>]*/>|<proceed[^>]*>.*?</proceed>|<failure[^>]*/>|</failure>",
                             "STARTTLS answer")
    if b"<proceed" not in answer:
        raise ProbeError("STARTTLS refused: " + answer.decode("utf-8", "replace"))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn.sock = context.wrap_socket(sock, server_hostname=domain)
    conn.buffer = b""
    if verbose:
        print("TLS: " + str(conn.sock.version()), file=sys.stderr)

    features = conn.open_stream(domain)
    if b"<mechanism>PLAIN</mechanism>" not in features:
        raise ProbeError("the server does not offer SASL PLAIN: " + features.decode("utf-8", "replace"))
    credentials = b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")
    conn.send("<auth xmlns='" + SASL_NS + "' mechanism='PLAIN'>" +
              base64.b64encode(credentials).decode("ascii") + "</auth>")
    answer = conn.read_until(rb"<success[^>]*/>|</success>|<failure[^>]*/>|</failure>", "SASL answer")
    if b"<failure" in answer:
        raise AuthError("authentication failed: " + answer.decode("utf-8", "replace"))

    features = conn.open_stream(domain)
    if b"<bind" not in features:
        raise ProbeError("the server does not offer resource binding")
    conn.send("<iq type='set' id='bind1'><bind xmlns='" + BIND_NS + "'><resource>" + xml_attr(resource) +
              "</resource></bind></iq>")
    answer = conn.read_until(rb"<iq[^>]*id=['\"]bind1['\"][^>]*(/>|>.*?</iq>)", "bind result")
    bound = parse_element(answer[answer.rfind(b"<iq"):])
    if bound.get("type") != "result":
        raise ProbeError("bind failed: " + answer.decode("utf-8", "replace"))
    jid = bound.find(".//{" + BIND_NS + "}jid")
    if verbose and jid is not None:
        print("bound as " + str(jid.text), file=sys.stderr)
    return conn


def probe(args, password):
    deadline = time.monotonic() + args.timeout
    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    conn = login(sock, args.domain, args.user, password, args.verbose, deadline)

    conn.send("<presence/>")
    while True:
        data = conn.read_until(rb"<message\b.*?</message>|<message\b[^>]*/>", "the message of the day")
        element = parse_element(data[data.rfind(b"<message"):])
        body = element.find("{jabber:client}body")
        if body is None:
            body = element.find("body")
        if body is not None:
            break

    result = body.text or ""
    if args.send_to:
        sent_at = time.monotonic()
        conn.send("<message type='chat' id='sent1' to='" + xml_attr(args.send_to) + "'><body>" +
                  xml_attr(args.body) + "</body></message>")
        conn.deadline = time.monotonic() + args.wait
        result = ""
        try:
            while True:
                data = conn.read_until(rb"<message\b.*?</message>|<message\b[^>]*/>", "an error reply")
                element = parse_element(data[data.rfind(b"<message"):])
                if element.get("type") != "error":
                    continue
                error = element.find("{jabber:client}error")
                if error is None:
                    error = element.find("error")
                condition, text = "", ""
                for child in (error if error is not None else []):
                    name = child.tag.split("}")[-1]
                    if name == "text":
                        text = child.text or ""
                    else:
                        condition = name
                result = condition + ": " + text
                print("xmpp_probe: reply after %.3f s" % (time.monotonic() - sent_at), file=sys.stderr)
                break
        except ProbeError:
            pass  # no error within the wait
        conn.deadline = time.monotonic() + 5

    try:
        conn.send("</stream:stream>")
        conn.sock.close()
    except OSError:
        pass
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--send-to", help="after logging in, send a chat message to this JID")
    parser.add_argument("--body", default="hello", help="the body of that message")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait for an error reply")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("domain")
    parser.add_argument("user")
    parser.add_argument("password", help='the password, or "-" to read it from standard input')
    args = parser.parse_args()

    password = args.password
    if password == "-":
        line = sys.stdin.buffer.readline()
        password = line.rstrip(b"\n").decode("utf-8")

    try:
        body = probe(args, password)
    except AuthError as error:
        print("xmpp_probe: " + str(error), file=sys.stderr)
        return 2
    except (ProbeError, OSError, ssl.SSLError, ET.ParseError) as error:
        print("xmpp_probe: " + str(error), file=sys.stderr)
        return 1
    sys.stdout.buffer.write(body.encode("utf-8"))
    sys.stdout.buffer.flush()
    return 3 if args.send_to and body else 0


if __name__ == "__main__":
    sys.exit(main())
