#!/usr/bin/env python3
"""The chat server (tails-server-chat) against real sockets on loopback.

Each test starts the built binary with a temporary JSON config on a free port, talks to it as guests do
(HTTP forms, the no-JavaScript chunked stream, WebSocket with python3-websockets) and stops it with
SIGTERM, which must exit 0. Usage: test_chat_server.py PATH-TO-tails-server-chat [unittest args].
Exits 77 (skipped) when python3-websockets is missing.
"""
import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import websockets
except ImportError:
    print("SKIP: python3-websockets is not installed (apt-get install python3-websockets)")
    sys.exit(77)

BINARY = None
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-src 'self'; "
       "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; img-src 'self'")
TRICKY = "<script>alert(1)</script> & \"double\" 'single' — ünïcödé ✓ 🙂\n\tsecond line"


def html_escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("'", "&#39;"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """The binary on a free loopback port with `options` over a minimal config."""

    def __init__(self, **options):
        self.dir = tempfile.TemporaryDirectory(prefix="chat-server-test-")
        self.port = free_port()
        config = {"listen": [{"address": "127.0.0.1", "port": self.port}], "title": "Test room", "motd": "",
                  "max_users": 20, "history": 0}
        config.update(options)
        self.config_path = os.path.join(self.dir.name, "chat.json")
        with open(self.config_path, "w", encoding="utf-8") as file:
            json.dump(config, file, ensure_ascii=False)
        self.log_path = os.path.join(self.dir.name, "stderr")
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen([BINARY, "--config", self.config_path], stderr=self.log_file)
        deadline = time.monotonic() + 10
        while b"listening on" not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start: " + self.log().decode(errors="replace"))
            time.sleep(0.02)

    def log(self):
        with open(self.log_path, "rb") as file:
            return file.read()

    def stop(self):
        """SIGTERM; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=10)
        self.log_file.close()
        self.dir.cleanup()
        return code

    def request(self, method, path, token=None, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        all_headers = {"Host": "abcdefghij.onion"}
        if token:
            all_headers["Cookie"] = "tschat=" + token
        if body is not None:
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        all_headers.update(headers or {})
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response, data

    def join(self):
        response, _ = self.request("POST", "/join")
        assert response.status == 303, response.status
        match = re.fullmatch(r"tschat=([0-9a-f]{32}); Path=/; HttpOnly; SameSite=Strict",
                             response.getheader("Set-Cookie"))
        assert match, response.getheader("Set-Cookie")
        return match.group(1)

    def post_form(self, path, token, **fields):
        from urllib.parse import urlencode
        response, _ = self.request("POST", path, token, urlencode(fields).encode())
        return response.status, response.getheader("Location")


class StreamGuest:
    """GET /stream read incrementally: the chunked HTML of a guest without JavaScript."""

    async def open(self, port, token):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(f"GET /stream HTTP/1.1\r\nHost: abcdefghij.onion\r\nCookie: tschat={token}\r\n\r\n"
                          .encode())
        self.head = (await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)).decode()
        self.body = ""
        self.raw = b""
        return self

    async def read_chunk(self):
        size = int((await self.reader.readline()).strip(), 16)
        data = await self.reader.readexactly(size + 2)
        self.raw += data[:-2]
        self.body = self.raw.decode("utf-8")

    async def wait_for(self, needle, timeout=5):
        deadline = time.monotonic() + timeout
        while needle not in self.body:
            await asyncio.wait_for(self.read_chunk(), max(0.01, deadline - time.monotonic()))

    def close(self):
        self.writer.close()


class WsGuest:
    """A WebSocket guest (what chat.js does)."""

    async def open(self, port, token):
        self.ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", extra_headers={"Cookie": "tschat=" + token},
                                           max_queue=None, max_size=None)
        self.welcome = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        self.received = []
        return self

    async def send(self, obj):
        await self.ws.send(json.dumps(obj, ensure_ascii=False))

    async def wait_for(self, expected, timeout=5):
        """Receives until `expected` (a dict) comes; returns what came before it."""
        deadline = time.monotonic() + timeout
        before = []
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - time.monotonic())))
            self.received.append(frame)
            if frame == expected:
                return before
            before.append(frame)

    async def close(self):
        await self.ws.close()


def message(sender, text):
    return {"type": "message", "from": sender, "text": text}


def message_html(sender, text):
    return f'<p class="message"><bdi class="from">{html_escape(sender)}</bdi>: <bdi class="text">{html_escape(text)}' \
           '</bdi></p>'


class ConfigTest(unittest.TestCase):
    def check(self, config, *fragments):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
            file.write(config if isinstance(config, str) else json.dumps(config))
            file.flush()
            for flag in ("--check-config", "--config"):
                result = subprocess.run([BINARY, flag, file.name], capture_output=True, text=True, timeout=10)
                self.assertEqual(result.returncode, 2, result.stderr)
                for fragment in fragments:
                    self.assertIn(fragment, result.stderr)

    def test_bad_configs_exit_2_naming_the_field(self):
        listen = [{"address": "127.0.0.1", "port": 8990}]
        self.check({"listen": listen, "max_user": 20}, 'unknown key "max_user"')
        self.check({"listen": listen, "max_users": 0}, '"max_users" must be an integer from 1 to 1000, found 0')
        self.check({"listen": listen, "max_users": "20"}, '"max_users" must be an integer', 'found "20"')
        self.check({"listen": listen, "history": 501}, '"history" must be an integer from 0 to 500, found 501')
        self.check({"listen": listen, "max_message_bytes": 65537}, '"max_message_bytes"', "found 65537")
        self.check({"listen": listen, "rate_burst": 0}, '"rate_burst"')
        self.check({"listen": listen, "title": "a\u0007b"}, '"title"', "control character")
        self.check({"listen": listen, "title": "x" * 201}, '"title"', "found 201 bytes")
        self.check({"listen": listen, "motd": "x" * 2001}, '"motd"')
        self.check({"listen": [{"address": "192.168.1.5", "port": 8990}]}, '"listen"', "loopback", "0.0.0.0 or ::")
        self.check({"listen": [{"address": "localhost", "port": 8990}]}, '"listen"', "loopback")
        self.check({"listen": [{"address": "127.0.0.1", "port": 0}]}, '"listen"')
        self.check({"title": "Chat"}, '"listen"', "found nothing")
        self.check("{not json", "not valid JSON")

    def test_check_config_accepts_a_good_config(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
            json.dump({"listen": [{"address": "127.0.0.1", "port": 8990}, {"address": "::1", "port": 8990}],
                       "title": "Chat", "motd": "Line one\nline two", "max_users": 20, "history": 0,
                       "max_message_bytes": 2000, "rate_per_minute": 60, "rate_burst": 10}, file)
            file.flush()
            result = subprocess.run([BINARY, "--check-config", file.name], capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("valid", result.stdout)


class ServerTest(unittest.IsolatedAsyncioTestCase):
    def start(self, **options):
        server = Server(**options)
        self.servers.append(server)
        return server

    def setUp(self):
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            self.assertEqual(server.stop(), 0, "SIGTERM must exit 0")

    async def ws_guest(self, server, token=None):
        return await WsGuest().open(server.port, token or server.join())

    async def stream_guest(self, server, token=None):
        return await StreamGuest().open(server.port, token or server.join())

    async def test_every_response_carries_the_security_headers(self):
        server = self.start(max_message_bytes=100)
        token = server.join()
        requests = [("GET", "/", None, None), ("GET", "/", token, None), ("GET", "/room", token, None),
                    ("GET", "/room", None, None), ("GET", "/compose", token, None), ("GET", "/chat.js", None, None),
                    ("GET", "/chat.css", None, None), ("GET", "/nothing", None, None),
                    ("POST", "/send", token, b"text=" + b"x" * 2000), ("PUT", "/", None, None),
                    ("GET", "/ws", None, None), ("POST", "/join", None, b"")]
        for method, path, cookie, body in requests:
            response, _ = server.request(method, path, cookie, body)
            with self.subTest(method=method, path=path, status=response.status):
                self.assertEqual(response.getheader("Content-Security-Policy"), CSP)
                self.assertEqual(response.getheader("X-Content-Type-Options"), "nosniff")
                self.assertEqual(response.getheader("Referrer-Policy"), "no-referrer")
                self.assertEqual(response.getheader("Cache-Control"), "no-store")
                self.assertEqual(response.getheader("X-Frame-Options"), "SAMEORIGIN")
                self.assertIsNone(response.getheader("Server"))
        self.assertEqual(server.request("POST", "/send", token, b"text=" + b"x" * 2000)[0].status, 413)
        self.assertEqual(server.request("GET", "/", None, None, {"X-Big": "y" * 9000})[0].status, 413)
        stream = await self.stream_guest(server, token)
        self.assertIn("Content-Security-Policy: " + CSP, stream.head)
        self.assertIn("Transfer-Encoding: chunked", stream.head)
        stream.close()

    async def test_join_gives_a_cookie_and_a_name(self):
        server = self.start()
        token = server.join()
        response, _ = server.request("GET", "/", token)
        self.assertEqual((response.status, response.getheader("Location")), (303, "/room"))
        response, page = server.request("GET", "/room", token)
        page = page.decode()
        self.assertIn('<iframe name="stream" src="/stream"', page)
        self.assertIn('<iframe name="compose" src="/compose"', page)
        self.assertIn('<script src="/chat.js"', page)
        self.assertNotRegex(page, r"<script>|<style>| on\w+=")
        response, script = server.request("GET", "/chat.js")
        self.assertEqual(response.getheader("Content-Type"), "text/javascript; charset=utf-8")
        for unsafe in (b"innerHTML", b"outerHTML", b"insertAdjacentHTML", b"document.write", b"eval("):
            self.assertNotIn(unsafe, script)  # guests' text goes through textContent only
        _, compose = server.request("GET", "/compose", token)
        name = re.search(r'<input name="name" maxlength="32" value="([a-z]+-[a-z]+)"', compose.decode()).group(1)
        guest = await self.ws_guest(server, token)
        self.assertEqual(guest.welcome["name"], name)
        self.assertEqual(guest.welcome["guests"], [name])
        await guest.wait_for({"type": "status", "event": "join", "name": name})
        self.assertEqual(guest.ws.response_headers["Content-Security-Policy"], CSP)
        self.assertEqual(guest.ws.response_headers["Cache-Control"], "no-store")
        self.assertEqual(guest.ws.response_headers["Server"], "")  # Beast would name itself and its version
        # /ws without the cookie of a guest is refused, and so is another origin.
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as refused:
            await websockets.connect(f"ws://127.0.0.1:{server.port}/ws", origin="http://evil.example",
                                     extra_headers={"Cookie": "tschat=" + token})
        self.assertEqual(refused.exception.status_code, 403)
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as refused:
            await websockets.connect(f"ws://127.0.0.1:{server.port}/ws")
        self.assertEqual(refused.exception.status_code, 403)
        await guest.close()

    async def test_javascript_and_no_javascript_guests_see_each_other_byte_exact(self):
        server = self.start(title="Room <b>&</b>", motd="Be kind.\n<i>Really</i>")
        alice = await self.ws_guest(server)
        a = alice.welcome["name"]
        self.assertEqual((alice.welcome["title"], alice.welcome["motd"]), ("Room <b>&</b>", "Be kind.\n<i>Really</i>"))
        await alice.wait_for({"type": "status", "event": "join", "name": a})
        bob_token = server.join()
        bob = await self.stream_guest(server, bob_token)
        await bob.wait_for("You are <b>")
        b = re.search(r"You are <b>([^<]*)</b>", bob.body).group(1)
        self.assertIn("<h1>Room &lt;b&gt;&amp;&lt;/b&gt;</h1>", bob.body)
        self.assertIn('<p class="motd">Be kind.\n&lt;i&gt;Really&lt;/i&gt;</p>', bob.body)
        await alice.wait_for({"type": "status", "event": "join", "name": b})
        await bob.wait_for(f'<p class="status">{b} joined</p>')

        await alice.send({"type": "message", "text": TRICKY})
        await alice.wait_for(message(a, TRICKY))
        await bob.wait_for(message_html(a, TRICKY))

        status, location = server.post_form("/send", bob_token, text=TRICKY.replace("\n", "\r\n"))
        self.assertEqual((status, location), (303, "/compose"))
        await alice.wait_for(message(b, TRICKY))
        await bob.wait_for(message_html(b, TRICKY))

        new_b = "Zoë <b>&\"'"
        self.assertEqual(server.post_form("/rename", bob_token, name=new_b), (303, "/compose"))
        await alice.wait_for({"type": "status", "event": "rename", "name": new_b, "old_name": b})
        await bob.wait_for(f'<p class="status">{b} is now {html_escape(new_b)}</p>')
        await alice.send({"type": "rename", "name": "ALICE 🙂"})
        await alice.wait_for({"type": "status", "event": "rename", "name": "ALICE 🙂", "old_name": a})
        await bob.wait_for(f'<p class="status">{a} is now ALICE 🙂</p>')
        # Names are unique, ignoring ASCII case; the rules are checked.
        self.assertEqual(server.post_form("/rename", bob_token, name="alice 🙂"), (303, "/compose?error=name-taken"))
        await alice.send({"type": "rename", "name": " padded"})
        await alice.wait_for({"type": "error", "code": "bad-name", "text":
                              "Names have 1 to 32 characters, without spaces at either end."})
        _, page = server.request("GET", "/compose?error=name-taken", bob_token)
        self.assertIn("That name is already taken.", page.decode())
        _, page = server.request("GET", "/compose?error=<script>", bob_token)
        self.assertNotIn("script", page.decode())

        self.assertEqual(server.post_form("/leave", bob_token), (303, "/"))
        await alice.wait_for({"type": "status", "event": "leave", "name": new_b})
        self.assertNotIn("<script>", bob.body)
        bob.close()
        await alice.close()
        log = server.log()
        for secret in (TRICKY, a, b, new_b, "ALICE", bob_token, "second line", "alert"):
            self.assertNotIn(secret.encode(), log)
        self.assertIn(b"2 guests", log)

    async def test_a_message_over_the_limit_is_refused(self):
        server = self.start(max_message_bytes=10)
        alice = await self.ws_guest(server)
        await alice.send({"type": "message", "text": "é" * 6})  # 12 bytes
        await alice.wait_for({"type": "error", "code": "too-long", "text": "The message is too long."})
        await alice.send({"type": "message", "text": "é" * 5})
        await alice.wait_for(message(alice.welcome["name"], "é" * 5))
        token = server.join()
        stream = await self.stream_guest(server, token)
        self.assertEqual(server.post_form("/send", token, text="x" * 11), (303, "/compose?error=too-long"))
        _, page = server.request("GET", "/compose?error=too-long", token)
        self.assertIn("The message is too long.", page.decode())
        await alice.send({"type": "message", "text": "a\u0001b"})
        await alice.wait_for({"type": "error", "code": "bad-request",
                              "text": "The server could not understand the request."})
        await alice.ws.send("not json")
        before = await alice.wait_for({"type": "error", "code": "bad-request",
                                       "text": "The server could not understand the request."})
        self.assertFalse([frame for frame in before if frame.get("type") == "message"])
        stream.close()
        await alice.close()

    async def test_a_flooding_guest_is_throttled_and_the_others_go_on(self):
        server = self.start(rate_per_minute=60, rate_burst=3)
        flooder = await self.ws_guest(server)
        other = await self.ws_guest(server)
        listener = await self.ws_guest(server)
        for n in range(20):
            await flooder.send({"type": "message", "text": f"flood {n}"})
        await other.send({"type": "message", "text": "still here"})
        before = await listener.wait_for(message(other.welcome["name"], "still here"))
        flood = [frame for frame in before if frame.get("type") == "message"]
        self.assertLessEqual(len(flood), 4)
        await flooder.wait_for({"type": "error", "code": "throttled", "text": "You are sending too fast; wait a little."})
        for guest in (flooder, other, listener):
            await guest.close()

    async def test_guest_max_users_plus_one_is_refused(self):
        server = self.start(max_users=2)
        server.join()
        server.join()
        response, page = server.request("POST", "/join")
        self.assertEqual(response.status, 503)
        self.assertIn("The room is full (2 guests). Try again later.", page.decode())
        self.assertIsNone(response.getheader("Set-Cookie"))
        self.assertIn(b"refused a guest: room full (max-users 2)", server.log())

    async def test_a_guest_that_stops_reading_is_dropped_and_the_others_go_on(self):
        server = self.start(rate_per_minute=60000, rate_burst=10000, max_message_bytes=4000)
        sender = await self.ws_guest(server)
        reader = await self.ws_guest(server)
        token = server.join()
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(f"GET /stream HTTP/1.1\r\nHost: x.onion\r\nCookie: tschat={token}\r\n\r\n".encode())
        _, compose = server.request("GET", "/compose", token)
        stalled_name = re.search(r'name="name" maxlength="32" value="([^"]+)"', compose.decode()).group(1)
        await reader.wait_for({"type": "status", "event": "join", "name": stalled_name})
        count = 400
        started = time.monotonic()
        for n in range(count):
            await sender.send({"type": "message", "text": f"{n:04} " + "y" * 3000})
            await asyncio.sleep(0)  # the guests' own reading goes on meanwhile (websockets reads in a task)
        for n in range(count):
            await reader.wait_for(message(sender.welcome["name"], f"{n:04} " + "y" * 3000), timeout=10)
        self.assertLess(time.monotonic() - started, 10)
        await reader.wait_for({"type": "status", "event": "leave", "name": stalled_name}, timeout=15)
        self.assertIn(b"dropped a stream connection: its outgoing queue is full", server.log())
        stalled.close()
        await sender.close()
        await reader.close()

    async def test_sigterm_closes_live_guests_and_exits_0(self):
        server = self.start(history=5)
        alice = await self.ws_guest(server)
        stream = await self.stream_guest(server)
        await stream.wait_for("joined</p>")
        await alice.send({"type": "message", "text": "bye"})
        await alice.wait_for(message(alice.welcome["name"], "bye"))
        self.assertEqual(server.stop(), 0)
        self.servers.remove(server)
        with self.assertRaises(websockets.exceptions.ConnectionClosed):
            await asyncio.wait_for(alice.ws.recv(), 5)
        await asyncio.wait_for(stream.reader.read(), 5)  # up to the end: the server closed it

    async def test_slow_requests_time_out_and_connections_are_capped(self):
        server = self.start(max_users=1)  # at most 1 * 4 + 16 = 20 connections
        slow = []
        for _ in range(20):
            connection = socket.create_connection(("127.0.0.1", server.port))
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x.onion\r\n")  # and never the end of the headers
            slow.append(connection)
        await asyncio.sleep(0.3)
        with socket.create_connection(("127.0.0.1", server.port)) as refused:
            refused.settimeout(5)
            try:
                refused.sendall(b"GET / HTTP/1.1\r\nHost: x.onion\r\n\r\n")
                self.assertEqual(refused.recv(100), b"")
            except ConnectionResetError:
                pass  # closed before it read the request
        self.assertIn(b"refused a connection: too many connections (20)", server.log())
        started = time.monotonic()
        for connection in slow:
            connection.settimeout(40)
            # Closed by the server's request timeout (read in a thread: the event loop stays free).
            self.assertEqual(await asyncio.to_thread(connection.recv, 100), b"")
            connection.close()
        self.assertLess(time.monotonic() - started, 35)
        response, _ = server.request("GET", "/")
        self.assertEqual(response.status, 200)

    async def test_history_zero_shows_nothing_old(self):
        server = self.start(history=0)
        alice = await self.ws_guest(server)
        for n in range(3):
            await alice.send({"type": "message", "text": f"old {n}"})
            await alice.wait_for(message(alice.welcome["name"], f"old {n}"))
        late = await self.ws_guest(server)
        self.assertEqual(late.welcome["history"], [])
        stream = await self.stream_guest(server)
        await stream.wait_for("You are <b>")
        await stream.wait_for("joined</p>")
        self.assertNotIn("old 0", stream.body + "".join(json.dumps(f) for f in late.received))
        stream.close()
        await alice.close()
        await late.close()

    async def test_history_n_shows_the_last_n(self):
        server = self.start(history=2)
        alice = await self.ws_guest(server)
        a = alice.welcome["name"]
        for n in range(3):
            await alice.send({"type": "message", "text": f"old <{n}>"})
            await alice.wait_for(message(a, f"old <{n}>"))
        late = await self.ws_guest(server)
        self.assertEqual(late.welcome["history"], [message(a, "old <1>"), message(a, "old <2>")])
        stream = await self.stream_guest(server)
        await stream.wait_for(message_html(a, "old <2>"))
        self.assertIn(message_html(a, "old <1>"), stream.body)
        self.assertNotIn("old &lt;0&gt;", stream.body)
        stream.close()
        await alice.close()
        await late.close()

    async def test_a_long_history_reaches_new_guests_whole(self):
        server = self.start(history=300, rate_per_minute=60000, rate_burst=10000)
        alice = await self.ws_guest(server)
        a = alice.welcome["name"]
        for n in range(300):
            await alice.send({"type": "message", "text": f"{n:03} " + "h" * 1990})
            await asyncio.sleep(0)
        await alice.wait_for(message(a, "299 " + "h" * 1990))
        # About 600 KB of history: more than a connection's queue may hold later, not too much for its welcome.
        late = await self.ws_guest(server)
        self.assertEqual([frame["text"][:3] for frame in late.welcome["history"]], [f"{n:03}" for n in range(300)])
        stream = await self.stream_guest(server)
        await stream.wait_for(message_html(a, "299 " + "h" * 1990))
        self.assertIn(message_html(a, "000 " + "h" * 1990), stream.body)
        stream.close()
        await alice.close()
        await late.close()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
