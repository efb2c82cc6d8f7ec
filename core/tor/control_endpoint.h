// Where Tor's control port is, and its cookie: the parts of connecting to it
// that are not the protocol (core/tor/control_connection.cpp).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tails_server::core {

// A socket address parsed from an endpoint string. Numeric addresses only:
// a controller must never resolve names.
struct ControlEndpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
};

// "unix:/run/tor/control", "127.0.0.1:9051" or "[::1]:9051". Throws
// std::invalid_argument naming what was wrong and what is accepted.
ControlEndpoint parse_control_endpoint(const std::string& endpoint);

// Reads the 32-byte control cookie. Returns an error text, or "" on success.
// The file must be a regular file of exactly 32 bytes; opened without
// blocking. On error `cookie` is wiped and cleared.
std::string read_control_cookie(const std::string& path, std::vector<std::uint8_t>& cookie);

}  // namespace tails_server::core
