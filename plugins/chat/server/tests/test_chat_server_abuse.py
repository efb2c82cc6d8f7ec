#!/usr/bin/python3
"""The chat server against guests that try to crowd others out or pass for them (the binary on
loopback; shares test_chat_server.py's helpers). Usage: test_chat_server_abuse.py BINARY"""

import asyncio
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_chat_server as base  # noqa: E402  (exits 77 without python3-websockets)


class AbuseTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            self.assertEqual(server.stop(), 0, "SIGTERM must exit 0")

    def start(self, **options):
        server = base.Server(**options)
        self.servers.append(server)
        return server

    async def ws_guest(self, server, token=None):
        return await base.WsGuest().open(server.port, token or server.join())

    @staticmethod
    async def next_error(guest):
        while True:
            frame = json.loads(await asyncio.wait_for(guest.ws.recv(), 5))
            if frame.get("type") == "error":
                return frame

    async def test_one_guest_holds_at_most_four_connections(self):
        server = self.start(max_users=20)
        token = server.join()
        guests = [await self.ws_guest(server, token) for _ in range(4)]
        with self.assertRaises(base.websockets.exceptions.ConnectionClosed):
            await self.ws_guest(server, token)  # the fifth is closed at once: no welcome
        other = await self.ws_guest(server)  # another guest still gets in
        await guests[0].send({"type": "message", "text": "still four"})
        await other.wait_for(base.message(guests[0].welcome["name"], "still four"))
        for guest in guests + [other]:
            await guest.close()

    async def test_guests_that_never_connect_cannot_fill_the_room(self):
        server = self.start(max_users=20)  # at most max(4, 20 / 4) = 5 waiting
        for _ in range(5):
            server.join()
        response, _ = server.request("POST", "/join")
        self.assertEqual(response.status, 503)
        self.assertIn(b"refused a guest: too many guests that never connected", server.log())

    async def test_names_with_invisible_or_bidi_characters_are_refused(self):
        server = self.start()
        alice = await self.ws_guest(server)
        for name in ("otter\u200b", "\u202eretto", "ot\u00adter", "\ufeffotter", "ot\u2066ter"):
            with self.subTest(name=repr(name)):
                await alice.send({"type": "rename", "name": name})
                self.assertEqual((await self.next_error(alice))["code"], "bad-name")
        await alice.send({"type": "rename", "name": "Ötter ✓"})
        await alice.wait_for({"type": "status", "event": "rename", "name": "Ötter ✓",
                              "old_name": alice.welcome["name"]})
        await alice.close()

    async def test_bidi_controls_in_a_message_stay_inside_it(self):
        # Allowed in messages (right-to-left languages need them), but the stream isolates the name and the
        # text in <bdi> elements: a message cannot reorder its sender's name to pass for someone else.
        server = self.start()
        alice = await self.ws_guest(server)
        bob = await base.StreamGuest().open(server.port, server.join())
        text = "\u202egnirts\u202c \u05e9\u05dc\u05d5\u05dd \u2067rtl\u2069"
        await alice.send({"type": "message", "text": text})
        await alice.wait_for(base.message(alice.welcome["name"], text))
        await bob.wait_for(f'<p class="message"><bdi class="from">{alice.welcome["name"]}</bdi>: '
                           f'<bdi class="text">{text}</bdi></p>')
        bob.close()
        await alice.close()
        _, script = server.request("GET", "/chat.js")
        self.assertIn(b"['bdi', 'from', event.from]", script)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    base.BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
