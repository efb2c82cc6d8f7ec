#!/usr/bin/env python3
"""XMPP client session driven line by line: a user that a test scripts.

usage: xmpp_session.py [-v] [--socks HOST:PORT] [--timeout S] HOST PORT DOMAIN USER -

Logs in as USER@DOMAIN at HOST:PORT (through the SOCKS5 proxy with --socks: HOST is then
resolved by the proxy, e.g. an onion address and Tor's SOCKS port), with xmpp_probe.py's
login (STARTTLS, certificate not verified, SASL PLAIN, resource "session"). The password is
the first line of standard input. Then:

- each further line of standard input is a stanza (raw XML) sent as it is; "quit" (or the
  end of the input) closes the stream;
- each stanza received is a JSON line on standard output: {"t": time.time(), "name",
  "type", "from", "to", "id", "body", "subject", "error" ("condition: text"), "xml"}. The
  first line is {"ready": true, "jid": ...}, or {"failed": why} (exit 1); the last is
  {"closed": why}.

Roster pushes are answered with a result, other requests from the server with
service-unavailable, as a client does. Python standard library only, plus torctl.py of
tests/tor-network for SOCKS5.
"""

import argparse
import json
import os
import select
import socket
import ssl
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tor-network"))
import xmpp_probe  # noqa: E402
import torctl  # noqa: E402

CLIENT_NS = "{jabber:client}"
STREAM_HEADER = ("<stream:stream xmlns='jabber:client' xmlns:stream='" + xmpp_probe.STREAM_NS + "'>").encode()


def emit(obj):
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def describe(element):
    """The JSON event of a received stanza."""
    def text(tag):
        child = element.find(CLIENT_NS + tag)
        return None if child is None else (child.text or "")
    event = {"t": time.time(), "name": element.tag.split("}")[-1]}
    for key in ("type", "from", "to", "id"):
        event[key] = element.get(key)
    event["body"], event["subject"] = text("body"), text("subject")
    error = element.find(CLIENT_NS + "error")
    if error is not None:
        condition, why = "", ""
        for child in error:
            name = child.tag.split("}")[-1]
            if name == "text":
                why = child.text or ""
            else:
                condition = name
        event["error"] = condition + ": " + why
    event["xml"] = ET.tostring(element, encoding="unicode")
    return event


def answer_iq(conn, element, own):
    kind, sender, ident = element.get("type"), element.get("from"), element.get("id") or ""
    if kind not in ("get", "set"):
        return
    roster = element.find("{jabber:iq:roster}query")
    to = " to='" + xmpp_probe.xml_attr(sender) + "'" if sender else ""
    if roster is not None and kind == "set" and (not sender or sender == own):
        conn.send("<iq type='result' id='" + xmpp_probe.xml_attr(ident) + "'/>")
    else:
        conn.send("<iq type='error' id='" + xmpp_probe.xml_attr(ident) + "'" + to + "><error type='cancel'>"
                  "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")


def session(args, password):
    if args.socks:
        host, _, port = args.socks.rpartition(":")
        sock = torctl.socks5_connect(int(port), args.host, args.port, timeout=args.timeout, socks_host=host)
    else:
        sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    conn = xmpp_probe.login(sock, args.domain, args.user, password, args.verbose,
                            time.monotonic() + args.timeout, resource="session")
    own = args.user + "@" + args.domain
    emit({"ready": True, "jid": own + "/session"})
    parser = ET.XMLPullParser(events=("start", "end"))
    parser.feed(STREAM_HEADER + conn.buffer)
    conn.buffer = b""
    depth, pending = 0, b""
    conn.sock.settimeout(0.5)
    stdin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer

    def drain():
        nonlocal depth
        for kind, element in parser.read_events():
            if kind == "start":
                depth += 1
                continue
            depth -= 1
            if depth == 1:
                if element.tag == CLIENT_NS + "iq":
                    answer_iq(conn, element, own)
                emit(describe(element))
                element.clear()
            elif depth == 0:
                return "the server closed the stream"
        return None

    why = drain()
    while why is None:
        waiting = conn.sock.pending() > 0
        ready = [conn.sock] if waiting else select.select([conn.sock, stdin], [], [], 1.0)[0]
        if conn.sock in ready:
            try:
                chunk = conn.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                chunk = None
            if chunk == b"":
                why = "the connection closed"
                break
            if chunk:
                if args.verbose:
                    print("S: " + chunk.decode("utf-8", "replace"), file=sys.stderr)
                parser.feed(chunk)
                why = drain()
        if stdin in ready:
            data = os.read(stdin.fileno(), 65536)
            if not data:
                why = "end of input"
                break
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                line = line.decode("utf-8").strip()
                if line == "quit":
                    why = "quit"
                    break
                if line:
                    conn.send(line)
    try:
        conn.send("</stream:stream>")
        conn.sock.close()
    except OSError:
        pass
    emit({"closed": why})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--socks", help="HOST:PORT of a SOCKS5 proxy (Tor) to connect through")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for connecting and logging in")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("domain")
    parser.add_argument("user")
    parser.add_argument("password", choices=["-"], help='"-": the first line of standard input')
    args = parser.parse_args()
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            break
        line += byte
    password = line.rstrip(b"\n").decode("utf-8")
    try:
        session(args, password)
    except torctl.SocksError as error:
        emit({"failed": "SOCKS5: " + str(error)})
        return 1
    except (xmpp_probe.ProbeError, xmpp_probe.AuthError, OSError, ssl.SSLError, ET.ParseError) as error:
        emit({"failed": str(error)})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
