// Tor v3 client authorization: x25519 key pairs for named clients and the
// forms of the credential that servers and clients use (rend-spec-v3 App.
// G.1, tor(1) "CLIENT AUTHORIZATION", control-spec ADD_ONION ClientAuthV3 and
// ONION_CLIENT_AUTH_ADD; docs/tor.md#client-authorization).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tails_server::core {

// A client key or client name that cannot be used. what() says what was
// expected and what was found (never quoting a private key).
class ClientAuthError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

using X25519PublicKey = std::array<std::uint8_t, 32>;

// Throws ClientAuthError unless `name` is 1 to 16 characters from
// [A-Za-z0-9_-] (tor's ClientName rules).
void validate_client_name(std::string_view name);
// True if validate_client_name would accept `name`.
bool is_valid_client_name(std::string_view name);

// Parses a client's public key as ADD_ONION's ClientAuthV3 or an
// authorized_clients/*.auth file gives it: the 52 base32 characters (either
// case), optionally preceded by "descriptor:x25519:". Throws ClientAuthError.
X25519PublicKey parse_client_public_key(std::string_view text);

// 52 upper-case base32 characters of `key`.
std::string client_public_key_base32(const X25519PublicKey& key);

class ClientKey {
 public:
  static constexpr std::size_t kKeySize = 32;

  // A new key pair from libsodium's CSPRNG.
  static ClientKey generate();
  // The key pair of a 32-byte x25519 private key. Throws ClientAuthError if
  // it is not 32 bytes or is all zero (tor refuses that).
  static ClientKey from_private_key(std::span<const std::uint8_t> private_key);
  // The key pair of a private key in base32 (52 characters, either case), as
  // a user pastes it from Tor Browser or an .auth_private file. Throws
  // ClientAuthError.
  static ClientKey from_base32_private_key(std::string_view text);

  ClientKey(const ClientKey&) = default;
  ClientKey& operator=(const ClientKey&) = default;
  ~ClientKey();

  const X25519PublicKey& public_key() const { return public_key_; }

  // --- Server side (public, may be stored and shown freely) ---
  // 52 upper-case base32 characters: the ADD_ONION ClientAuthV3= value.
  std::string public_key_base32() const { return client_public_key_base32(public_key_); }
  // "descriptor:x25519:<public_key_base32>", the line of an
  // authorized_clients/<name>.auth file.
  std::string authorized_clients_line() const;

  // --- Client side (secret: shown once to the user, wipe after use) ---
  // 52 upper-case base32 characters: what Tor Browser's key prompt asks for.
  std::string private_key_base32() const;
  // 44 base64 characters (with padding) of the private key.
  std::string private_key_base64() const;
  // "<56-char onion>:descriptor:x25519:<private_key_base32>", the content of
  // a ClientOnionAuthDir/*.auth_private file (without a newline). Throws
  // OnionAddressError if `onion_address` is not a valid v3 address (with or
  // without ".onion"); the line always has the bare lower-case address.
  std::string auth_private_line(std::string_view onion_address) const;
  // "ONION_CLIENT_AUTH_ADD <56-char onion> x25519:<private_key_base64>", the
  // control-port command (without CRLF). Throws OnionAddressError as above.
  std::string onion_client_auth_add_command(std::string_view onion_address) const;

  // Equal when the private keys are (compared in constant time).
  bool operator==(const ClientKey& other) const;

 private:
  ClientKey() = default;

  std::array<std::uint8_t, kKeySize> private_key_{};
  X25519PublicKey public_key_{};
};

}  // namespace tails_server::core
