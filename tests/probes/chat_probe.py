#!/usr/bin/python3
"""Guests of the chat service (plugins/chat/server/PROTOCOL.md), for the tests.

Two kinds of guest, as Tor Browser is one or the other:
  WsGuest:   the page with JavaScript: POST /join, then a WebSocket at /ws (python3-websockets).
  HtmlGuest: the page at "Safest" (no JavaScript): POST /join, GET /stream (one chunked HTML
             response that grows), POST /send and /rename with forms.
Every connection goes to TARGET: "HOST:PORT" directly, or "socks:SOCKSHOST:SOCKSPORT:ONION:PORT"
through a Tor SOCKS5 port (the onion name resolved by tor).

    chat_probe.py TARGET SCENARIO [ARG...]

prints one JSON object on stdout: {"checks": [[what, ok, detail], ...], ...}; exits 0 when every
check passed, 1 when one failed, 2 on a usage error. SCENARIO is one of room, limits, slow-reader,
idle SECONDS, history, say NAME TEXT... (see the functions of the same name). Nothing is written to disk.
"""

import asyncio
import html
import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tor-network"))
import torctl  # noqa: E402  pylint: disable=wrong-import-position

try:
    import websockets  # python3-websockets
except ImportError:  # pragma: no cover
    websockets = None

TIMEOUT = 90.0
STATUS_RE = re.compile(r'<p class="status">(.*?)</p>', re.S)
MESSAGE_RE = re.compile(r'<p class="message"><bdi class="from">(.*?)</bdi>: <bdi class="text">(.*?)</bdi></p>', re.S)


class Target:
    def __init__(self, text):
        parts = text.split(":")
        if parts[0] == "socks" and len(parts) == 5:
            self.socks = (parts[1], int(parts[2]))
            self.host, self.port = parts[3], int(parts[4])
        elif len(parts) == 2:
            self.socks = None
            self.host, self.port = parts[0], int(parts[1])
        else:
            raise ValueError("TARGET must be HOST:PORT or socks:SOCKSHOST:SOCKSPORT:ONION:PORT, not %r" % text)

    def connect(self):
        if self.socks:
            sock = torctl.socks5_connect(self.socks[1], self.host, self.port, timeout=TIMEOUT,
                                         socks_host=self.socks[0])
        else:
            sock = socket.create_connection((self.host, self.port), timeout=TIMEOUT)
        sock.settimeout(TIMEOUT)
        return sock

    def http(self):
        target = self

        class Connection(http.client.HTTPConnection):
            def connect(self):
                self.sock = target.connect()

        return Connection(self.host, self.port, timeout=TIMEOUT)


def request(target, method, path, cookie=None, form=None):
    """(status, headers dict (lower-case names), body str, set-cookie token or None)."""
    conn = target.http()
    headers = {"Host": target.host}
    body = None
    if cookie:
        headers["Cookie"] = "tschat=" + cookie
    if form is not None:
        body = urllib.parse.urlencode(form).encode("utf-8")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read().decode("utf-8", "replace")
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    token = None
    m = re.search(r"tschat=([0-9a-f]+)", hdrs.get("set-cookie", ""))
    if m:
        token = m.group(1)
    conn.close()
    return resp.status, hdrs, data, token


def join(target):
    """POST /join: (status, token, body)."""
    status, _, body, token = request(target, "POST", "/join", form={})
    return status, token, body


class HtmlGuest:
    """A guest without JavaScript: the stream is read by a thread into self.html."""

    def __init__(self, target):
        self.target = target
        self.html = ""
        self.status, self.token, self.join_body = join(target)
        self.headers = {}
        self.closed = False
        self._lock = threading.Lock()
        if self.token:
            self._conn = target.http()
            self._conn.request("GET", "/stream", headers={"Host": target.host, "Cookie": "tschat=" + self.token})
            self._resp = self._conn.getresponse()
            self.headers = {k.lower(): v for k, v in self._resp.getheaders()}
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            while True:
                chunk = self._resp.read1(65536)
                if not chunk:
                    break
                with self._lock:
                    self.html += chunk.decode("utf-8", "replace")
        except (OSError, http.client.HTTPException, ValueError):
            pass
        self.closed = True

    def text(self):
        with self._lock:
            return self.html

    def messages(self):
        return [(html.unescape(f), html.unescape(t)) for f, t in MESSAGE_RE.findall(self.text())]

    def statuses(self):
        return [html.unescape(s) for s in STATUS_RE.findall(self.text())]

    def post(self, path, **form):
        status, headers, _, _ = request(self.target, "POST", path, cookie=self.token, form=form)
        return status, headers.get("location", "")

    def say(self, text):
        return self.post("/send", text=text)

    def rename(self, name):
        return self.post("/rename", name=name)

    def close(self):
        try:
            self._conn.close()
        except Exception:  # pylint: disable=broad-except
            pass


class WsGuest:
    """A guest with JavaScript: events are every JSON object received, in order."""

    def __init__(self, target, ping=True):
        self.target = target
        self.ping = ping
        self.events = []
        self.ws = None
        self.token = None
        self.welcome = None

    async def open(self):
        status, self.token, _ = await asyncio.to_thread(join, self.target)
        if status not in (200, 303) or not self.token:
            return status
        sock = await asyncio.to_thread(self.target.connect)
        sock.settimeout(None)
        sock.setblocking(False)
        uri = "ws://%s:%d/ws" % (self.target.host, self.target.port)
        self.ws = await websockets.connect(uri, sock=sock, extra_headers={"Cookie": "tschat=" + self.token},
                                           ping_interval=20 if self.ping else None, max_size=2 ** 20,
                                           open_timeout=TIMEOUT)
        asyncio.ensure_future(self._read())
        await self.wait(lambda e: e.get("type") == "welcome")
        self.welcome = next(e for e in self.events if e.get("type") == "welcome")
        return 101

    async def _read(self):
        try:
            async for frame in self.ws:
                self.events.append(json.loads(frame))
        except Exception:  # pylint: disable=broad-except
            pass

    async def wait(self, predicate, timeout=TIMEOUT):
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            for event in self.events:
                if predicate(event):
                    return event
            await asyncio.sleep(0.05)
        return None

    async def send(self, obj):
        await self.ws.send(json.dumps(obj))

    async def say(self, text):
        await self.send({"type": "message", "text": text})

    async def rename(self, name):
        await self.send({"type": "rename", "name": name})

    def messages(self):
        return [(e["from"], e["text"]) for e in self.events if e.get("type") == "message"]

    @property
    def name(self):
        return self.welcome["name"] if self.welcome else None

    async def close(self):
        if self.ws:
            await self.ws.close()


class Checks:
    def __init__(self):
        self.items = []
        self.extra = {}

    def add(self, what, ok, detail=""):
        self.items.append([what, bool(ok), detail if not ok else ""])

    def result(self):
        return {"checks": self.items, **self.extra}


async def wait_for(predicate, timeout=TIMEOUT):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


# Non-ASCII, HTML's specials and a script, in names and messages.
NAMES = ["Änne <&> \"q\"", "Bø'b", "Ca <i>rl</i>"]
TEXTS = ["héllo ☃ <b>bold</b> & \"quotes\" 'single'", "<script>alert('x')</script> from html ✓",
         "multi\nline & <tag> from bob"]


async def room(target, checks):
    """Three guests (two WebSocket, one without JavaScript) join, rename and talk."""
    a, b = WsGuest(target), WsGuest(target)
    checks.add("guest A (WebSocket) joins", await a.open() == 101)
    checks.add("guest B (WebSocket) joins", await b.open() == 101)
    c = await asyncio.to_thread(HtmlGuest, target)
    checks.add("guest C (no JavaScript) joins", c.token is not None, "POST /join: %s" % c.status)
    if not (a.welcome and b.welcome and c.token):
        return
    csp = c.headers.get("content-security-policy", "")
    checks.add("the stream has a strict CSP", "default-src 'none'" in csp and "script-src 'self'" in csp, csp)
    checks.add("the stream sets no cookie", "set-cookie" not in c.headers, str(c.headers))
    ok = await wait_for(lambda: "You are " in c.text() or "<p" in c.text(), 30)
    checks.add("guest C's stream has begun", ok, c.text()[-300:])
    c_name = await wait_for(lambda: any(e.get("type") == "status" and e.get("event") == "join" and e["name"] not in
                                        (a.name, b.name) for e in a.events), 30)
    checks.add("A sees C join", c_name)
    joined_c = next((e["name"] for e in a.events if e.get("type") == "status" and e.get("event") == "join"
                     and e["name"] not in (a.name, b.name)), None)
    checks.add("A sees B join", any(e.get("event") == "join" and e.get("name") == b.name for e in a.events))

    await a.rename(NAMES[0])
    await b.rename(NAMES[1])
    status, location = await asyncio.to_thread(c.rename, NAMES[2])
    checks.add("C's rename form answers 303 to /compose", status == 303 and "/compose" in location,
               "%s %s" % (status, location))
    for guest, label in ((a, "A"), (b, "B")):
        for old, new in ((a.name, NAMES[0]), (b.name, NAMES[1]), (joined_c, NAMES[2])):
            got = await guest.wait(lambda e, o=old, n=new: e.get("event") == "rename" and e.get("old_name") == o
                                   and e.get("name") == n, 30)
            checks.add("%s sees the rename %r -> %r" % (label, old, new), got is not None)
    for old, new in ((a.name, NAMES[0]), (b.name, NAMES[1])):
        want = "%s is now %s" % (old, new)
        checks.add("C sees the rename %r (escaped in HTML)" % want,
                   await wait_for(lambda w=want: w in c.statuses(), 30), c.text()[-500:])

    await a.say(TEXTS[0])
    await asyncio.sleep(0.5)
    status, _ = await asyncio.to_thread(c.say, TEXTS[1])
    checks.add("C's send form answers 303", status == 303, str(status))
    await asyncio.sleep(0.5)
    await b.say(TEXTS[2])
    want = [(NAMES[0], TEXTS[0]), (NAMES[2], TEXTS[1]), (NAMES[1], TEXTS[2])]
    for guest, label in ((a, "A"), (b, "B")):
        ok = await wait_for(lambda g=guest: len(g.messages()) >= 3, 60)
        checks.add("%s receives the three messages byte-exact, in order" % label, ok and guest.messages() == want,
                   repr(guest.messages()))
    ok = await wait_for(lambda: len(c.messages()) >= 3, 60)
    checks.add("C receives the three messages byte-exact, in order", ok and c.messages() == want, repr(c.messages()))
    raw = c.text()
    checks.add("the script in a message is escaped in the HTML", "<script>alert" not in raw and
               "&lt;script&gt;alert(" in raw, raw[-800:])
    checks.add("the HTML holds no raw tag from a name", "<i>rl</i>" not in raw)
    await a.close()
    left = await b.wait(lambda e: e.get("event") == "leave" and e.get("name") == NAMES[0], 30)
    checks.add("B sees A leave", left is not None)
    checks.add("C sees A leave", await wait_for(lambda: "%s left" % NAMES[0] in c.statuses(), 30), c.text()[-300:])
    c.close()
    await b.close()


async def limits(target, checks):
    """Size, rate, max-users (the room must allow exactly 3) and a guest that stops reading."""
    a, b = WsGuest(target), WsGuest(target)
    await a.open()
    await b.open()
    if not (a.welcome and b.welcome):
        checks.add("two guests join", False)
        return
    await a.say("x" * 5000)
    err = await a.wait(lambda e: e.get("type") == "error" and e.get("code") == "too-long", 30)
    checks.add("a message over the size limit is refused with error too-long", err is not None, repr(a.events[-3:]))
    await a.say("y" * 2000)
    got = await b.wait(lambda e: e.get("type") == "message" and e.get("text") == "y" * 2000, 30)
    checks.add("a message at the size limit (2000 bytes) passes", got is not None)

    # Flood: 60 messages at once; the server lets a burst through, then refuses.
    for i in range(60):
        await a.say("flood %d" % i)
    throttled = await a.wait(lambda e: e.get("type") == "error" and e.get("code") == "throttled", 30)
    checks.add("the flooding guest is throttled", throttled is not None)
    await b.say("still here")
    got = await a.wait(lambda e: e.get("type") == "message" and e.get("text") == "still here", 30)
    checks.add("another guest's message passes during the flood", got is not None)
    await asyncio.sleep(2)
    floods = [t for f, t in b.messages() if t.startswith("flood ")]
    checks.add("fewer flood messages reached the others than were sent", 0 < len(floods) < 60, str(len(floods)))

    # Room of 3: a third guest joins, a fourth is turned away politely.
    c = WsGuest(target)
    checks.add("guest 3 of 3 joins", await c.open() == 101)
    status, token, body = await asyncio.to_thread(join, target)
    checks.add("guest 4 of 3 is refused with 503 and a polite page", status == 503 and token is None and
               "full" in body, "%s %r" % (status, body[:200]))
    await c.close()
    await b.wait(lambda e: e.get("event") == "leave", 30)

    await a.close()
    await b.close()


async def slow_reader(target, checks, senders=8):
    """A guest that stops reading while SENDERS guests talk as fast as the rate limit lets them
    (a burst, then one message a second each): it is dropped, and the others receive every
    message meanwhile. About 750 kB must pile up first: Tor's stream window (500 cells), the
    kernel's buffers and the server's queue (256 KiB)."""
    talkers = [WsGuest(target) for _ in range(senders)]
    for g in talkers:
        await g.open()
    if not all(g.welcome for g in talkers):
        checks.add("%d guests join" % senders, False)
        return
    stuck = await asyncio.to_thread(join, target)
    raw = await asyncio.to_thread(target.connect)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                 "Cookie: tschat=%s\r\n\r\n" % (target.host, stuck[1])).encode())
    names = {g.name for g in talkers}
    joined = await talkers[0].wait(lambda e: e.get("event") == "join" and e.get("name") not in names, 60)
    checks.add("the guest that will stop reading joins", joined is not None)
    stuck_name = joined["name"] if joined else None
    big = "z" * 1900
    t = time.monotonic()

    def dropped():
        return any(e.get("event") == "leave" and e.get("name") == stuck_name for e in talkers[0].events)

    async def talk(index, guest):
        n = 0
        for i in range(120):
            if dropped():
                break
            await guest.say("%02d-%03d%s" % (index, i, big))
            n += 1
            await asyncio.sleep(0.05 if i < 9 else 1.0)
        return n

    sent = sum(await asyncio.gather(*(talk(i, g) for i, g in enumerate(talkers))))
    ok = await wait_for(dropped, 60)
    checks.add("the guest that stopped reading is dropped", ok)
    await asyncio.sleep(3)
    passed = sent - sum(1 for g in talkers for e in g.events if e.get("code") == "throttled")
    received = [len([1 for _, text in g.messages() if text.endswith(big)]) for g in talkers]
    checks.extra["slow_reader"] = {"sent": sent, "broadcast": passed, "received": received,
                                   "seconds": round(time.monotonic() - t, 1)}
    checks.add("every other guest received every message meanwhile", all(n == passed for n in received),
               str(checks.extra["slow_reader"]))
    raw.close()
    for g in talkers:
        await g.close()


async def idle(target, checks, seconds):
    """A WebSocket guest that sends nothing (no client pings) for SECONDS still receives."""
    quiet, talker = WsGuest(target, ping=False), WsGuest(target)
    await quiet.open()
    checks.add("the quiet guest joins", quiet.welcome is not None)
    await asyncio.sleep(seconds)
    await talker.open()
    await talker.say("after the silence ✓")
    got = await quiet.wait(lambda e: e.get("text") == "after the silence ✓", 60)
    checks.add("after %d idle seconds the quiet guest still receives" % seconds, got is not None)
    await quiet.say("and can still send")
    got = await talker.wait(lambda e: e.get("text") == "and can still send", 60)
    checks.add("and can still send", got is not None)
    await quiet.close()
    await talker.close()


async def history(target, checks):
    """A new guest: how much history its welcome brings."""
    g = WsGuest(target)
    checks.add("a guest joins", await g.open() == 101)
    checks.extra["history"] = g.welcome.get("history", []) if g.welcome else None
    checks.extra["guests"] = g.welcome.get("guests", []) if g.welcome else None
    checks.extra["name"] = g.name
    await g.close()


async def say(target, checks, texts):
    """One guest renames to texts[0] and says each of texts[1:]; another guest checks they arrive."""
    a, b = WsGuest(target), WsGuest(target)
    await a.open()
    await b.open()
    await a.rename(texts[0])
    for text in texts[1:]:
        await a.say(text)
    for text in texts[1:]:
        got = await b.wait(lambda e, t=text: e.get("type") == "message" and e.get("text") == t, 30)
        checks.add("a message arrives", got is not None)
    await a.close()
    await b.close()


def main(argv):
    if len(argv) < 3 or websockets is None:
        print(__doc__ if websockets else "python3-websockets is missing", file=sys.stderr)
        return 2
    target, scenario, args = Target(argv[1]), argv[2], argv[3:]
    checks = Checks()
    runs = {"room": lambda: room(target, checks), "limits": lambda: limits(target, checks),
            "idle": lambda: idle(target, checks, int(args[0]) if args else 120),
            "slow-reader": lambda: slow_reader(target, checks),
            "history": lambda: history(target, checks), "say": lambda: say(target, checks, args)}
    if scenario not in runs:
        print("unknown scenario %r; one of %s" % (scenario, ", ".join(runs)), file=sys.stderr)
        return 2
    try:
        asyncio.run(asyncio.wait_for(runs[scenario](), 900))
    except Exception as e:  # pylint: disable=broad-except
        checks.add("the scenario ran to its end", False, "%s: %s" % (type(e).__name__, e))
    print(json.dumps(checks.result(), ensure_ascii=False))
    return 0 if all(ok for _, ok, _ in checks.items) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
