// Tor v3 onion service keys (ed25519) and addresses, in the formats tor uses:
// the 64-byte expanded secret key of ADD_ONION ("ED25519-V3:<base64>") and of
// HiddenServiceDir's hs_ed25519_secret_key file. See rend-spec-v3 §6 and
// App. F, and docs/tor.md#keys-and-addresses.
//
// Secret key material never appears in an error message; buffers that held
// it are wiped.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tails_server::core {

// A key that cannot be imported or loaded. what() says what was expected and
// what was found, and names the file when there is one.
class OnionKeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A string that is not a valid v3 onion address. what() quotes the address
// (it is public) and says what is wrong with it.
class OnionAddressError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

using Ed25519PublicKey = std::array<std::uint8_t, 32>;

// The 56-character lower-case address (without ".onion") of the onion service
// whose master public key is `public_key`:
// base32(pubkey | SHA3-256(".onion checksum" | pubkey | 0x03)[:2] | 0x03).
std::string onion_address_from_public_key(const Ed25519PublicKey& public_key);

// The public key inside a v3 onion address. Accepts the 56 characters in
// upper or lower case, with or without a ".onion" suffix. Throws
// OnionAddressError for a wrong length, a character outside base32, a version
// byte other than 3, or a checksum that does not match.
Ed25519PublicKey onion_address_public_key(std::string_view address);

// The address in canonical form (56 lower-case characters, no ".onion").
// Throws OnionAddressError as onion_address_public_key does.
std::string normalize_onion_address(std::string_view address);

// True if onion_address_public_key would accept `address`.
bool is_valid_onion_address(std::string_view address);

class OnionKey {
 public:
  static constexpr std::size_t kExpandedSize = 64;
  static constexpr std::size_t kSeedSize = 32;
  static constexpr std::size_t kSecretKeyFileSize = 96;
  // The NUL-padded 32-byte header of hs_ed25519_secret_key, without padding.
  static constexpr std::string_view kSecretKeyFileHeader = "== ed25519v1-secret: type0 ==";
  static constexpr std::string_view kBlobPrefix = "ED25519-V3:";

  // A new key from 32 bytes of OpenSSL's CSPRNG, expanded as tor does.
  // Throws OnionKeyError if the random generator fails.
  static OnionKey generate();

  // Expands an RFC 8032 seed (SHA-512, then clamp the scalar). Throws
  // OnionKeyError if `seed` is not 32 bytes.
  static OnionKey from_seed(std::span<const std::uint8_t> seed);

  // Takes tor's 64-byte expanded secret key (scalar, then PRF secret). Throws
  // OnionKeyError if it is not 64 bytes or the scalar is zero modulo the
  // group order.
  static OnionKey from_expanded(std::span<const std::uint8_t> expanded);

  // Parses an ADD_ONION key blob "ED25519-V3:<base64 of 64 bytes>" (padded
  // or not; surrounding whitespace ignored). Throws OnionKeyError for a
  // missing prefix, bad base64, or a decoded length other than 64.
  static OnionKey from_add_onion_blob(std::string_view blob);

  // Parses the contents of an hs_ed25519_secret_key file: exactly 96 bytes,
  // the header kSecretKeyFileHeader NUL-padded to 32 bytes, then the 64-byte
  // expanded key. Throws OnionKeyError saying what was expected and found.
  static OnionKey from_secret_key_file_contents(std::string_view contents);

  // Reads an hs_ed25519_secret_key file (ours or tor's). Throws
  // OnionKeyError naming the file if it cannot be read or is malformed.
  static OnionKey load(const std::filesystem::path& file);

  OnionKey(const OnionKey&) = default;
  OnionKey& operator=(const OnionKey&) = default;
  ~OnionKey();

  // Writes the key as an hs_ed25519_secret_key file, mode 0600, atomically
  // (temporary file, fsync, rename). The directory must exist. Throws
  // std::system_error naming the file and the failed step.
  void save(const std::filesystem::path& file) const;

  // The 96 bytes of an hs_ed25519_secret_key file. Secret: wipe it after use.
  std::string secret_key_file_contents() const;

  // "ED25519-V3:" + base64 of the expanded key (88 base64 characters with
  // padding, no newline), for ADD_ONION. Secret: wipe it after use.
  std::string add_onion_blob() const;

  const Ed25519PublicKey& public_key() const { return public_key_; }
  // 56 lower-case characters, without ".onion" (ADD_ONION's ServiceID).
  std::string address() const { return onion_address_from_public_key(public_key_); }
  // address() + ".onion", as in tor's hostname file (without the newline).
  std::string hostname() const { return address() + ".onion"; }

  // Keys are equal when their secret keys are (compared in constant time).
  bool operator==(const OnionKey& other) const;

 private:
  OnionKey() = default;
  void derive_public_key();

  std::array<std::uint8_t, kExpandedSize> expanded_{};
  Ed25519PublicKey public_key_{};
};

}  // namespace tails_server::core
