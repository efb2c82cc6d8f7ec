// Federation of the Prosody plugin: our Prosody module that guards
// server-to-server traffic, and the checks of a peer's address and key.
#pragma once

#include <string>
#include <string_view>

namespace prosody_federation {

// Our own Prosody module (federation guard), in a directory of its own.
inline constexpr std::string_view module_directory = "/usr/local/lib/tails-server/prosody-modules";
inline constexpr std::string_view guard_module_file =
    "/usr/local/lib/tails-server/prosody-modules/mod_tails_federation.lua";
// Our copy of mod_onions, which reads Tor's SOCKS5 reply (onions_module.cpp).
inline constexpr std::string_view onions_module_file =
    "/usr/local/lib/tails-server/prosody-modules/mod_tails_onions.lua";
// The multi-user chat component: rooms.<onion address>.
inline constexpr std::string_view muc_prefix = "rooms.";
inline constexpr std::string_view federation_option = "federation";

// The Lua sources of mod_tails_federation and mod_tails_onions.
extern const std::string_view guard_module;
extern const std::string_view onions_module;

// Throws OptionError unless `address` is "<56 lower-case base32 characters>.onion".
void check_peer_address(const std::string& address);
// The base32 private key in `secret` (see federation.cpp); throws OptionError.
std::string peer_key(const std::string& address, const std::string& secret);

}  // namespace prosody_federation
