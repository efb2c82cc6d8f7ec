// The client side of Tor's client authorization on the control port
// (control-spec §3.30, §3.31; docs/tor.md#client-side): the command lines
// that give Tor, or take from it, the key for reaching another onion service.
#pragma once

#include <string>
#include <string_view>

namespace tails_server::core {

// "ONION_CLIENT_AUTH_ADD <service_id> x25519:<key>". `service_id` is the
// 56 lower-case base32 characters of the address (no ".onion"), `key` the
// 44-character padded base64 x25519 private key (a secret). Throws
// std::invalid_argument naming the bad part, never quoting the key.
std::string onion_client_auth_add_line(std::string_view service_id, std::string_view key);
// "ONION_CLIENT_AUTH_REMOVE <service_id>". Throws std::invalid_argument.
std::string onion_client_auth_remove_line(std::string_view service_id);

}  // namespace tails_server::core
