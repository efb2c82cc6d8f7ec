// SAFECOOKIE authentication math (control-spec §3.24): the HMAC-SHA256 hashes
// both sides compute from the cookie and the two nonces.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tails_server::core::safecookie {

using Hash = std::array<std::uint8_t, 32>;

inline constexpr std::string_view server_key = "Tor safe cookie authentication server-to-controller hash";
inline constexpr std::string_view client_key = "Tor safe cookie authentication controller-to-server hash";

// HMAC-SHA256(key, cookie | client_nonce | server_nonce). Throws
// std::runtime_error only if OpenSSL fails.
Hash compute(std::string_view key, std::span<const std::uint8_t> cookie,
             std::span<const std::uint8_t> client_nonce, std::span<const std::uint8_t> server_nonce);

// True when a and b are equal, in time independent of their contents.
bool equal_constant_time(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// Upper-case hex of the bytes.
std::string to_hex(std::span<const std::uint8_t> bytes);
// Decodes hex (either case) into `out`. Returns false when `hex` is not an
// even number of hex digits.
bool from_hex(std::string_view hex, std::vector<std::uint8_t>& out);

// `n` bytes from OpenSSL's RAND_bytes. Throws std::runtime_error on failure.
std::vector<std::uint8_t> random_bytes(std::size_t n);

}  // namespace tails_server::core::safecookie
