#include "tor/keys/client_auth.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <sodium.h>

#include "tor/keys/base32.h"
#include "tor/keys/onion_key.h"

namespace tails_server::core {

namespace {

constexpr std::string_view kDescriptorPrefix = "descriptor:x25519:";
constexpr std::size_t kBase32KeyLength = 52;

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw ClientAuthError("libsodium could not be initialized");
}

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

void validate_client_name(std::string_view name) {
  if (name.empty() || name.size() > 16)
    throw ClientAuthError("invalid client name: expected 1 to 16 characters, found " + std::to_string(name.size()));
  auto bad = std::find_if_not(name.begin(), name.end(), is_name_char);
  if (bad != name.end()) {
    auto byte = static_cast<unsigned char>(*bad);
    std::string shown = byte >= 0x21 && byte < 0x7f ? "'" + std::string(1, *bad) + "'"
                                                    : "byte 0x" + std::string{"0123456789abcdef"[byte >> 4]} +
                                                          "0123456789abcdef"[byte & 15];
    throw ClientAuthError("invalid client name: expected only letters A-Z a-z, digits, '_' and '-', found " + shown +
                          " at position " + std::to_string(bad - name.begin() + 1));
  }
}

bool is_valid_client_name(std::string_view name) {
  return !name.empty() && name.size() <= 16 && std::all_of(name.begin(), name.end(), is_name_char);
}

X25519PublicKey parse_client_public_key(std::string_view text) {
  if (text.starts_with(kDescriptorPrefix)) text.remove_prefix(kDescriptorPrefix.size());
  if (text.size() != kBase32KeyLength)
    throw ClientAuthError("invalid client public key: expected 52 base32 characters, found " +
                          std::to_string(text.size()));
  std::vector<std::uint8_t> raw;
  try {
    raw = base32_decode(text);
  } catch (const EncodingError& e) {
    throw ClientAuthError(std::string("invalid client public key: ") + e.what());
  }
  X25519PublicKey key{};
  std::copy(raw.begin(), raw.end(), key.begin());
  return key;
}

std::string client_public_key_base32(const X25519PublicKey& key) { return base32_encode(key, Base32Case::upper); }

ClientKey ClientKey::generate() {
  ensure_sodium();
  ClientKey key;
  do {
    randombytes_buf(key.private_key_.data(), key.private_key_.size());
  } while (sodium_is_zero(key.private_key_.data(), key.private_key_.size()));
  if (crypto_scalarmult_base(key.public_key_.data(), key.private_key_.data()) != 0)
    throw ClientAuthError("cannot derive an x25519 public key");
  return key;
}

ClientKey ClientKey::from_private_key(std::span<const std::uint8_t> private_key) {
  ensure_sodium();
  if (private_key.size() != kKeySize)
    throw ClientAuthError("invalid client private key: expected 32 bytes, found " +
                          std::to_string(private_key.size()));
  if (sodium_is_zero(private_key.data(), private_key.size()))
    throw ClientAuthError("invalid client private key: expected a random key, found all zero bytes");
  ClientKey key;
  std::copy(private_key.begin(), private_key.end(), key.private_key_.begin());
  if (crypto_scalarmult_base(key.public_key_.data(), key.private_key_.data()) != 0)
    throw ClientAuthError("invalid client private key: cannot derive its public key");
  return key;
}

ClientKey ClientKey::from_base32_private_key(std::string_view text) {
  if (text.size() != kBase32KeyLength)
    throw ClientAuthError("invalid client private key: expected 52 base32 characters, found " +
                          std::to_string(text.size()));
  std::vector<std::uint8_t> raw;
  try {
    raw = base32_decode(text);
  } catch (const EncodingError& e) {
    throw ClientAuthError(std::string("invalid client private key: ") + e.what());
  }
  try {
    ClientKey key = from_private_key(raw);
    wipe_secret(raw);
    return key;
  } catch (...) {
    wipe_secret(raw);
    throw;
  }
}

ClientKey::~ClientKey() { OPENSSL_cleanse(private_key_.data(), private_key_.size()); }

std::string ClientKey::authorized_clients_line() const { return std::string(kDescriptorPrefix) + public_key_base32(); }

std::string ClientKey::private_key_base32() const { return base32_encode(private_key_, Base32Case::upper); }

std::string ClientKey::private_key_base64() const { return base64_encode(private_key_); }

std::string ClientKey::auth_private_line(std::string_view onion_address) const {
  std::string address = normalize_onion_address(onion_address);
  std::string secret = private_key_base32();
  std::string line;
  line.reserve(address.size() + 1 + kDescriptorPrefix.size() + secret.size());
  line.append(address).append(":").append(kDescriptorPrefix).append(secret);
  wipe_secret(secret);
  return line;
}

std::string ClientKey::onion_client_auth_add_command(std::string_view onion_address) const {
  std::string address = normalize_onion_address(onion_address);
  std::string secret = private_key_base64();
  std::string command;
  constexpr std::string_view kCommand = "ONION_CLIENT_AUTH_ADD ";
  command.reserve(kCommand.size() + address.size() + 8 + secret.size());
  command.append(kCommand).append(address).append(" x25519:").append(secret);
  wipe_secret(secret);
  return command;
}

bool ClientKey::operator==(const ClientKey& other) const {
  return CRYPTO_memcmp(private_key_.data(), other.private_key_.data(), private_key_.size()) == 0;
}

}  // namespace tails_server::core
