// mod_tails_onions: our copy of prosody-modules' mod_onions (MIT), which
// sends server-to-server connections to .onion peers through Tor's SOCKS
// port. Upstream's test of the SOCKS5 reply, `not status == 0x00`, is always
// false in Lua, so a refusal by Tor (such as 0xF4: the peer needs a client
// key) went unnoticed. This copy reads the reply code and, on failure, logs
// a warning naming the peer and what the code means, and bounces the queued
// stanzas with the same text. Only .onion peers, always port 5269. It also
// pings a quiet stream before using it, and closes it if the peer is silent
// (a stream over a Tor circuit that died with the peer's tor).
#include "federation.h"

namespace prosody_federation {

const std::string_view onions_module = R"lua(-- Written by Tails Server (prosody plugin). Changes are overwritten.
-- A patched copy of mod_onions from prosody-modules (https://hg.prosody.im/prosody-modules/).
-- Copyright (C) 2009-2018 Various Contributors (prosody-modules)
--
-- Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
-- associated documentation files (the "Software"), to deal in the Software without restriction,
-- including without limitation the rights to use, copy, modify, merge, publish, distribute,
-- sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
-- furnished to do so, subject to the following conditions:
--
-- The above copyright notice and this permission notice shall be included in all copies or
-- substantial portions of the Software.
--
-- THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
-- NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
-- NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
-- DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
-- OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
--
-- Changes by Tails Server: the SOCKS5 reply code is read (upstream's `not status == 0x00` is
-- always false); a failure is a warning naming the peer and the code's meaning, and the queued
-- stanzas bounce with that text; only .onion peers, on port 5269 (no onions_map); a quiet stream is
-- pinged before use and closed if the peer stays silent.

local st = require "util.stanza";
local addclient = require "net.server".addclient;
local s2smanager = require "core.s2smanager";
local portmanager = require "core.portmanager";
local new_id = require "util.id".short;
local now = require "util.time".now;
local core_process_stanza = prosody.core_process_stanza;
local byte, char = string.byte, string.char;

module:depends("s2s");

local proxy_ip = module:get_option_string("onions_socks5_host", "127.0.0.1");
local proxy_port = module:get_option_number("onions_socks5_port", 9050);
-- Seconds without an answer from the peer before the next stanza goes with a ping, and for
-- the answer (see watch()).
local quiet_after = module:get_option_number("tails_onions_quiet_after", 15);
local answer_timeout = module:get_option_number("tails_onions_answer_timeout", 30);

local sessions = module:shared("sessions");

-- SOCKS5 reply codes (RFC 1928), and Tor's with SocksPort ExtendedErrors (0xF0-0xF7).
local meanings = {
  [0x01] = "general failure", [0x02] = "not allowed by Tor", [0x03] = "network unreachable",
  [0x04] = "host unreachable", [0x05] = "connection refused", [0x06] = "TTL expired",
  [0x07] = "command not supported", [0x08] = "address type not supported",
  [0xF0] = "onion service descriptor not found", [0xF1] = "onion service descriptor invalid",
  [0xF2] = "onion service introduction failed", [0xF3] = "onion service rendezvous failed",
  [0xF4] = "onion service needs client authorization", [0xF5] = "wrong client key",
  [0xF6] = "bad onion address", [0xF7] = "onion service introduction timed out",
};

-- What the user reads for the SOCKS reply `code` about `host`.
local function failure_text(host, code)
  local peer = host:match("([a-z2-7]+%.onion)$") or host;
  local reply = ("SOCKS reply 0x%02X: %s"):format(code, meanings[code] or "unknown");
  local add = "tails-server run prosody add-peer " .. peer;
  if code == 0xF4 then
    return peer .. " requires a client key: ask its owner for one (tails-server client add prosody NAME on "
      .. "their server) and add it here with " .. add .. " (" .. reply .. ")";
  elseif code == 0xF5 then
    return peer .. " refused the client key this server holds for it: ask its owner for a new one (tails-server "
      .. "client add prosody NAME on their server) and add it here with " .. add .. " (" .. reply .. ")";
  elseif code == 0xF6 then
    return host .. " is not a valid onion address (" .. reply .. ")";
  elseif code >= 0xF0 and code <= 0xF7 then
    return "could not reach " .. host .. " through Tor (" .. reply .. "); it may be offline";
  end
  return "could not reach " .. host .. " through Tor (" .. reply .. "); it may be offline, or this server "
    .. "lacks its client key (" .. add .. ")";
end

local bouncy_stanzas = { message = true, presence = true, iq = true };
-- An error reply, with `reason` as its text, for each stanza queued on `session`.
local function bounce_sendq(session, reason)
  local sendq = session.sendq;
  if not sendq then return; end
  session.sendq = nil;
  local dummy = { type = "s2sin"; dummy = true; send = function () end; close = function () end; };
  for _, data in ipairs(sendq) do
    local reply = data[2];
    if reply and not reply.attr.xmlns and bouncy_stanzas[reply.name] then
      reply.attr.type = "error";
      reply:tag("error", { type = "cancel", by = session.from_host })
        :tag("remote-server-not-found", { xmlns = "urn:ietf:params:xml:ns:xmpp-stanzas" }):up();
      if reason then
        reply:tag("text", { xmlns = "urn:ietf:params:xml:ns:xmpp-stanzas" })
          :text("Server-to-server connection failed: " .. reason):up();
      end
      core_process_stanza(dummy, reply);
    end
  end
end

-- Gives up on `session`: a warning, its queue bounced with `why`, the connection closed.
local function fail(session, conn, why)
  module:log("warn", "Connection from %s to %s failed: %s", session.from_host, session.to_host, why);
  if conn then sessions[conn] = nil; end
  s2smanager.destroy_session(session, why);
  if conn then conn:close(); end
end

-- Tor's reply to CONNECT: VER REP RSV ATYP BND.ADDR BND.PORT (returns `data` while not whole).
local function on_connect_reply(conn, session, data)
  if #data < 5 then return data; end
  local code = byte(data, 2);
  if byte(data, 1) ~= 5 or code ~= 0x00 then
    return fail(session, conn, failure_text(session.to_host, byte(data, 1) == 5 and code or 0x01));
  end
  local atyp = byte(data, 4);
  local length = atyp == 1 and 10 or atyp == 4 and 22 or atyp == 3 and 7 + byte(data, 5) or nil;
  if not length then return fail(session, conn, "Tor's SOCKS port sent a malformed reply"); end
  if #data < length then return data; end
  -- Connected: mod_s2s's listener takes the connection over (stream, TLS, dialback).
  module:log("debug", "SOCKS5 connection to %s ready", session.to_host);
  sessions[conn] = nil;
  local listener = portmanager.get_service("s2s").listener;
  session.version = 1;
  conn:setlistener(listener);
  listener.register_outgoing(conn, session);
  session.tails_heard = now(); -- the stream is new: no ping for `quiet_after` seconds
  listener.onconnect(conn);
end

-- Tor's reply to the greeting: VER METHOD; then CONNECT to the peer's port 5269.
local function on_greeting_reply(conn, session, data)
  if #data < 2 then return data; end
  if byte(data, 1) ~= 5 or byte(data, 2) ~= 0x00 then
    return fail(session, conn, ("Tor's SOCKS port at %s:%d refused the handshake"):format(proxy_ip, proxy_port));
  end
  local host = session.to_host;
  conn:write(char(5, 1, 0, 3, #host) .. host .. char(0x14, 0x95)); -- CONNECT host:5269
  session.socks5_step = on_connect_reply;
end

local socks5listener = { default_port = proxy_port, default_mode = "*a", default_interface = "*" };

function socks5listener.onconnect(conn)
  local session = sessions[conn];
  if not session then return; end
  conn:write(char(5, 1, 0)); -- version 5, one method: no authentication
  session.socks5_step = on_greeting_reply;
end

function socks5listener.onincoming(conn, data)
  local session = sessions[conn];
  if not session or not session.socks5_step then return; end
  -- A step returns the data it keeps for later: a reply not yet whole.
  session.socks5_buffer = session.socks5_step(conn, session, (session.socks5_buffer or "") .. data);
end

function socks5listener.ondisconnect(conn, err)
  local session = sessions[conn];
  if not session then return; end
  sessions[conn] = nil;
  fail(session, nil, ("Tor's SOCKS port at %s:%d closed the connection (%s); is Tor running?")
    :format(proxy_ip, proxy_port, tostring(err or "closed")));
end

-- A stream through Tor outlives the circuit under it when the peer's tor restarts: until the
-- relays tear the circuit down, Tor takes what we send and nothing comes back, and no stanza
-- bounces. So a stanza for a stream whose peer has not answered a ping for `quiet_after`
-- seconds goes with a ping (its answer comes back on the peer's own stream to us); without an
-- answer within `answer_timeout`, the stream is closed, the stanzas sent meanwhile bounce with
-- the reason, and the next one opens a new stream.
local function watch(session, stanza)
  local reply = stanza.attr.type ~= "error" and stanza.attr.type ~= "result" and st.reply(stanza);
  local pending = session.tails_watch;
  if pending then table.insert(pending.sent, { tostring(stanza), reply }); return; end
  if now() - (session.tails_heard or 0) < quiet_after then return; end
  local id = new_id();
  pending = { sent = { { tostring(stanza), reply } } };
  session.tails_watch = pending;
  local events = { "iq-result/host/" .. id, "iq-error/host/" .. id };
  local function done()
    for _, name in ipairs(events) do module:unhook(name, pending.answered); end
    if session.tails_watch == pending then session.tails_watch = nil; end
  end
  function pending.answered()
    session.tails_heard = now();
    done();
    return true;
  end
  for _, name in ipairs(events) do module:hook(name, pending.answered); end
  session.sends2s(st.iq({ type = "get", id = id, from = session.from_host, to = session.to_host })
    :tag("ping", { xmlns = "urn:xmpp:ping" }));
  module:add_timer(answer_timeout, function ()
    if session.tails_watch ~= pending then return; end
    done();
    if session.destroyed then return; end
    local why = session.to_host .. " did not answer for " .. answer_timeout .. " s through Tor (the connection to "
      .. "it was lost, for example its Tor restarted); send the message again";
    module:log("warn", "Closing the stream from %s to %s: %s", session.from_host, session.to_host, why);
    session.sendq = pending.sent;
    session:close({ condition = "connection-timeout", text = why }, nil, why);
  end);
end

-- Every stanza to a .onion server without a session: a new session through Tor.
module:hook("route/remote", function (event)
  local from_host, to_host, stanza = event.from_host, event.to_host, event.stanza;
  if not to_host:find("%.onion$") then return false; end
  local existing = hosts[from_host].s2sout[to_host];
  if existing then -- mod_s2s queues or sends on it
    if existing.type == "s2sout" and existing.bounce_sendq == bounce_sendq and hosts[from_host].type == "local" then
      watch(existing, stanza);
    end
    return;
  end
  local session = s2smanager.new_outgoing(from_host, to_host);
  session.bounce_sendq = bounce_sendq;
  session.sendq = { { tostring(stanza), stanza.attr.type ~= "error" and stanza.attr.type ~= "result"
    and st.reply(stanza) } };
  local conn, err = addclient(proxy_ip, proxy_port, socks5listener, "*a");
  if not conn then
    fail(session, nil, ("cannot connect to Tor's SOCKS port at %s:%d: %s"):format(proxy_ip, proxy_port, tostring(err)));
    return true;
  end
  session.conn = conn;
  sessions[conn] = session;
  return true;
end, 200);

-- Onion peers are authenticated by their address (dialback through Tor), not by a certificate.
module:hook_global("s2s-check-certificate", function (event)
  if event.host and event.host:find("%.onion$") then return true; end
end);
)lua";

}  // namespace prosody_federation
