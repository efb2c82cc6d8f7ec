#!/usr/bin/env python3
"""Infinote (infinoted / Gobby) protocol probe: infinote_probe.py HOST PORT USER PASSWORD

PASSWORD "-" reads the password from standard input instead (all of it, as
UTF-8, without a trailing newline removed), so that it stays out of argv.

Opens the XMPP-style XML stream, does STARTTLS (no certificate verification),
opens the stream again over TLS and authenticates with SASL PLAIN without an
initial response: the server answers <challenge/>, the probe sends
<response>base64(\\0USER\\0PASSWORD)</response>. Python standard library only.

Output (one "key: value" per line, for tests to parse):
  features: mechanism names offered before and after TLS
  tls: the TLS version
  fingerprint: AA:BB:...   SHA-256 of the server certificate (DER)
  failure: CONDITION TEXT  on <failure>
  OK: authenticated        on <success/>

Exit status: 0 on <success/>, 2 on <failure>, 1 any other failure (timeout 15 s).
"""

import base64
import hashlib
import socket
import ssl
import sys
import time
import xml.etree.ElementTree as ET

TIMEOUT = 15.0
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


class ProbeError(Exception):
    pass


def local(tag):
    return tag.rsplit("}", 1)[-1]


class Stream:
    """Reads the children of one <stream:stream> element as they complete."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.ready = []

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ProbeError("timed out after %g s" % TIMEOUT)
        return left

    def send(self, text):
        self.sock.sendall(text.encode("utf-8"))

    def next_element(self):
        while not self.ready:
            self.sock.settimeout(self.remaining())
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise ProbeError("timed out after %g s" % TIMEOUT)
            if not chunk:
                raise ProbeError("the server closed the connection")
            try:
                self.parser.feed(chunk)
                events = list(self.parser.read_events())
            except ET.ParseError as error:
                raise ProbeError("bad XML from the server: %s" % error)
            for event, element in events:
                if event == "start":
                    self.depth += 1
                    continue
                self.depth -= 1
                if self.depth == 1:
                    self.ready.append(element)
                elif self.depth == 0:
                    raise ProbeError("the server closed the stream")
        return self.ready.pop(0)


def open_stream(sock, host, deadline):
    stream = Stream(sock, deadline)
    stream.send('<?xml version="1.0"?><stream:stream version="1.0" xmlns="jabber:client" '
                'xmlns:stream="http://etherx.jabber.org/streams" to="%s">' % host)
    features = stream.next_element()
    if local(features.tag) == "error":
        raise ProbeError("stream error: %s" % ET.tostring(features, encoding="unicode"))
    if local(features.tag) != "features":
        raise ProbeError("expected <stream:features>, got <%s>" % local(features.tag))
    return stream, features


def describe(features):
    names = [local(child.tag) for child in features]
    mechanisms = [m.text for m in features.iter() if local(m.tag) == "mechanism"]
    return "%s mechanisms=%s" % (",".join(names), ",".join(mechanisms))


def probe(host, port, user, password):
    deadline = time.monotonic() + TIMEOUT
    raw = socket.create_connection((host, port), timeout=TIMEOUT)
    stream, features = open_stream(raw, host, deadline)
    print("features: %s" % describe(features), flush=True)
    if not any(local(child.tag) == "starttls" for child in features):
        raise ProbeError("the server does not offer STARTTLS")

    stream.send('<starttls xmlns="%s"/>' % NS_TLS)
    answer = stream.next_element()
    if local(answer.tag) != "proceed":
        raise ProbeError("STARTTLS refused: <%s>" % local(answer.tag))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw.settimeout(max(deadline - time.monotonic(), 0.1))
    tls = context.wrap_socket(raw)
    digest = hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest().upper()
    print("tls: %s" % tls.version())
    print("fingerprint: %s" % ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)), flush=True)

    stream, features = open_stream(tls, host, deadline)
    print("features: %s" % describe(features), flush=True)

    stream.send('<auth xmlns="%s" mechanism="PLAIN"/>' % NS_SASL)
    while True:
        answer = stream.next_element()
        kind = local(answer.tag)
        if kind == "challenge":
            token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" +
                                     password.encode("utf-8")).decode("ascii")
            stream.send('<response xmlns="%s">%s</response>' % (NS_SASL, token))
        elif kind == "success":
            print("OK: authenticated")
            return 0
        elif kind == "failure":
            conditions = [local(child.tag) for child in answer]
            text = " ".join(t.strip() for t in answer.itertext() if t.strip())
            print("failure: %s %s" % (",".join(conditions) or "(none)", text))
            return 2
        else:
            raise ProbeError("unexpected <%s> during SASL" % kind)


def main(argv):
    if len(argv) != 5:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 1
    host, port, user, password = argv[1], int(argv[2]), argv[3], argv[4]
    if password == "-":
        password = sys.stdin.buffer.read().decode("utf-8")
    try:
        return probe(host, port, user, password)
    except (OSError, ProbeError) as error:
        print("ERROR: %s" % error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
