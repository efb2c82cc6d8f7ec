#include "federation.h"

#include <tails_server/option.h>

namespace prosody_federation {

// mod_tails_federation: runs before mod_tails_onions on every stanza for another
// server. With federation off it refuses them all; with it on, any server
// that is not a .onion (whose last label is 56 base32 characters). Each
// refusal is a warning in Prosody's log and an error stanza to the sender.
const std::string_view guard_module = R"lua(-- Written by Tails Server (prosody plugin). Changes are overwritten.
local st = require "util.stanza";
local federation = module:get_option_boolean("tails_federation", false);

local function refuse(event, why)
  local stanza = event.stanza;
  module:log("warn", "Refused to send a stanza from %s to %s: %s", tostring(event.from_host),
    tostring(event.to_host), why);
  local kind = stanza.attr.type;
  if (stanza.name == "message" or stanza.name == "presence" or stanza.name == "iq")
      and kind ~= "error" and kind ~= "result" then
    module:send(st.error_reply(stanza, "cancel", "remote-server-not-found", why));
  end
  return true;
end

local function is_onion(host)
  local label = host:match("([a-z2-7]+)%.onion$");
  return label ~= nil and #label == 56 and host:match("^[a-z0-9.-]+$") ~= nil;
end

module:hook("route/remote", function (event)
  if not federation then
    return refuse(event, "federation with other servers is off on this server (Tails Server option 'federation')");
  end
  if not is_onion(event.to_host) then
    return refuse(event, event.to_host .. " is not an onion address: this server federates only with .onion "
      .. "servers, through Tor");
  end
end, 300);
)lua";

// A peer's onion address: "<56 lower-case base32 characters>.onion".
void check_peer_address(const std::string& address) {
  bool ok = address.size() == 62 && address.compare(56, 6, ".onion") == 0;
  for (std::size_t i = 0; ok && i < 56; ++i)
    if (!((address[i] >= 'a' && address[i] <= 'z') || (address[i] >= '2' && address[i] <= '7'))) ok = false;
  if (!ok)
    throw tails_server::OptionError("invalid peer address '" + address.substr(0, 80) +
                                    "': give the other server's onion address, 56 lower-case characters a-z and "
                                    "2-7 followed by \".onion\"");
}

// The client key given on stdin: the 52 base32 characters that `tails-server
// client add` prints as the private key, or its "<address>:descriptor:x25519:
// <key>" line, whose address must be `address`. The daemon checks the key.
std::string peer_key(const std::string& address, const std::string& secret) {
  std::string text = secret;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  std::size_t start = text.find_first_not_of(" \t");
  text = start == std::string::npos ? std::string() : text.substr(start);
  const std::string prefix = address.substr(0, 56) + ":descriptor:x25519:";
  if (text.find(':') != std::string::npos) {
    if (text.rfind(prefix, 0) != 0)
      throw tails_server::OptionError("the key line is not for " + address +
                                      "; give the key that the owner of " + address +
                                      " made with 'tails-server client add prosody NAME'");
    text = text.substr(prefix.size());
  }
  if (text.empty())
    throw tails_server::OptionError("no client key given; give on standard input the private key that the owner "
                                    "of " + address + " made with 'tails-server client add prosody NAME'");
  return text;
}

}  // namespace prosody_federation
