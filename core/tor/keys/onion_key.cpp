#include "tor/keys/onion_key.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "host/atomic_file.h"
#include "util/no_follow.h"
#include "tor/keys/base32.h"

namespace tails_server::core {

namespace {

constexpr std::uint8_t kAddressVersion = 3;
constexpr std::size_t kAddressLength = 56;
constexpr std::string_view kChecksumPrefix = ".onion checksum";
constexpr std::size_t kHeaderSize = 32;

// Wipes a fixed-size secret buffer when it goes out of scope.
template <std::size_t N>
struct SecretBytes {
  std::array<std::uint8_t, N> bytes{};
  ~SecretBytes() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

// Wipes a vector that holds secret bytes when it goes out of scope.
struct SecretVector {
  std::vector<std::uint8_t> bytes;
  ~SecretVector() { wipe_secret(bytes); }
};

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

void digest(const EVP_MD* md, std::span<const std::span<const std::uint8_t>> parts, std::uint8_t* out) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  bool ok = ctx && md && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1;
  for (auto part : parts) ok = ok && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out, nullptr) == 1;
  if (!ok) throw OnionKeyError("OpenSSL could not compute a digest");
}

std::array<std::uint8_t, 2> address_checksum(const Ed25519PublicKey& public_key) {
  const std::uint8_t version = kAddressVersion;
  const std::span<const std::uint8_t> parts[] = {
      {reinterpret_cast<const std::uint8_t*>(kChecksumPrefix.data()), kChecksumPrefix.size()},
      public_key,
      {&version, 1}};
  std::uint8_t hash[32];
  digest(EVP_sha3_256(), parts, hash);
  return {hash[0], hash[1]};
}

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw OnionKeyError("libsodium could not be initialized");
}

// Shows a header for an error message: quoted if it looks like a tagged
// header (printable ASCII starting with "== "). Anything else could be key
// material (a file of another format), so it is only described.
std::string describe_header(std::string_view header) {
  std::string_view text = header.substr(0, header.find('\0'));
  std::string_view padding = header.substr(text.size());
  bool printable = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  bool nul_padded = padding.find_first_not_of('\0') == std::string_view::npos;
  if (!printable || !text.starts_with("== ")) return "32 bytes that are not a tor key header";
  return "\"" + std::string(text) + "\"" + (nul_padded ? "" : " followed by non-NUL bytes");
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

}  // namespace

std::string onion_address_from_public_key(const Ed25519PublicKey& public_key) {
  std::array<std::uint8_t, 35> raw{};
  std::copy(public_key.begin(), public_key.end(), raw.begin());
  auto checksum = address_checksum(public_key);
  raw[32] = checksum[0];
  raw[33] = checksum[1];
  raw[34] = kAddressVersion;
  return base32_encode(raw, Base32Case::lower);
}

Ed25519PublicKey onion_address_public_key(std::string_view address) {
  std::string_view bare = address;
  if (bare.size() > 6) {
    std::string suffix(bare.substr(bare.size() - 6));
    std::transform(suffix.begin(), suffix.end(), suffix.begin(), [](unsigned char c) { return std::tolower(c); });
    if (suffix == ".onion") bare.remove_suffix(6);
  }
  const std::string quoted = "\"" + std::string(address.substr(0, 80)) + (address.size() > 80 ? "...\"" : "\"");
  if (bare.size() != kAddressLength)
    throw OnionAddressError("invalid onion address " + quoted + ": expected 56 base32 characters (optionally followed "
                            "by \".onion\"), found " + std::to_string(bare.size()));
  std::vector<std::uint8_t> raw;
  try {
    raw = base32_decode(bare);
  } catch (const EncodingError& e) {
    throw OnionAddressError("invalid onion address " + quoted + ": " + e.what());
  }
  if (raw[34] != kAddressVersion)
    throw OnionAddressError("invalid onion address " + quoted + ": expected version 3, found version " +
                            std::to_string(raw[34]));
  Ed25519PublicKey public_key{};
  std::copy_n(raw.begin(), 32, public_key.begin());
  auto checksum = address_checksum(public_key);
  if (raw[32] != checksum[0] || raw[33] != checksum[1])
    throw OnionAddressError("invalid onion address " + quoted +
                            ": the checksum does not match the key (a mistyped character?)");
  return public_key;
}

std::string normalize_onion_address(std::string_view address) {
  return onion_address_from_public_key(onion_address_public_key(address));
}

bool is_valid_onion_address(std::string_view address) {
  try {
    onion_address_public_key(address);
    return true;
  } catch (const OnionAddressError&) {
    return false;
  }
}

OnionKey OnionKey::generate() {
  SecretBytes<kSeedSize> seed;
  if (RAND_bytes(seed.bytes.data(), static_cast<int>(seed.bytes.size())) != 1)
    throw OnionKeyError("cannot generate an onion key: OpenSSL's random generator failed");
  return from_seed(seed.bytes);
}

OnionKey OnionKey::from_seed(std::span<const std::uint8_t> seed) {
  if (seed.size() != kSeedSize)
    throw OnionKeyError("invalid ed25519 seed: expected 32 bytes, found " + std::to_string(seed.size()));
  SecretBytes<kExpandedSize> expanded;
  const std::span<const std::uint8_t> parts[] = {seed};
  digest(EVP_sha512(), parts, expanded.bytes.data());
  expanded.bytes[0] &= 248;
  expanded.bytes[31] &= 127;
  expanded.bytes[31] |= 64;
  return from_expanded(expanded.bytes);
}

OnionKey OnionKey::from_expanded(std::span<const std::uint8_t> expanded) {
  if (expanded.size() != kExpandedSize)
    throw OnionKeyError("invalid expanded ed25519 key: expected 64 bytes, found " + std::to_string(expanded.size()));
  OnionKey key;
  std::copy(expanded.begin(), expanded.end(), key.expanded_.begin());
  key.derive_public_key();
  return key;
}

void OnionKey::derive_public_key() {
  ensure_sodium();
  // Tor reduces the whole 256-bit scalar modulo the group order before
  // multiplying; libsodium's noclamp variant would drop bit 255 instead, so
  // reduce first. Clamped keys (all that tor generates) are unaffected.
  SecretBytes<64> wide;
  std::copy_n(expanded_.begin(), 32, wide.bytes.begin());
  SecretBytes<32> scalar;
  crypto_core_ed25519_scalar_reduce(scalar.bytes.data(), wide.bytes.data());
  if (crypto_scalarmult_ed25519_base_noclamp(public_key_.data(), scalar.bytes.data()) != 0)
    throw OnionKeyError("invalid expanded ed25519 key: the secret scalar is zero modulo the group order");
}

OnionKey OnionKey::from_add_onion_blob(std::string_view blob) {
  blob = trim(blob);
  if (!blob.starts_with(kBlobPrefix)) {
    // Only a key type ("RSA1024:", "NEW:") is shown, never key material.
    auto colon = blob.find(':');
    bool key_type = colon != std::string_view::npos && colon > 0 && colon <= 16 &&
                    std::all_of(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
                      return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
                    });
    throw OnionKeyError("invalid ADD_ONION key: expected it to start with \"ED25519-V3:\", found " +
                        (key_type ? "\"" + std::string(blob.substr(0, colon + 1)) + "\"" : std::string("no key type")));
  }
  SecretVector bytes;
  try {
    bytes.bytes = base64_decode(blob.substr(kBlobPrefix.size()));
  } catch (const EncodingError& e) {
    throw OnionKeyError(std::string("invalid ADD_ONION key: ") + e.what());
  }
  if (bytes.bytes.size() != kExpandedSize)
    throw OnionKeyError("invalid ADD_ONION key: expected 64 bytes after base64 decoding (88 characters), found " +
                        std::to_string(bytes.bytes.size()) + " bytes");
  return from_expanded(bytes.bytes);
}

OnionKey OnionKey::from_secret_key_file_contents(std::string_view contents) {
  if (contents.size() != kSecretKeyFileSize)
    throw OnionKeyError("invalid hs_ed25519_secret_key: expected 96 bytes (a 32-byte header and a 64-byte key), "
                        "found " + std::to_string(contents.size()) + " bytes");
  std::string expected(kSecretKeyFileHeader);
  expected.resize(kHeaderSize, '\0');
  std::string_view header = contents.substr(0, kHeaderSize);
  if (header != expected)
    throw OnionKeyError("invalid hs_ed25519_secret_key: expected the header " + describe_header(expected) +
                        " padded with NUL bytes, found " + describe_header(header));
  auto data = reinterpret_cast<const std::uint8_t*>(contents.data()) + kHeaderSize;
  return from_expanded({data, kExpandedSize});
}

OnionKey OnionKey::load(const std::filesystem::path& file) {
  // The key may lie on the Persistent Storage, which whoever holds the disk
  // can prepare: no link followed, no FIFO waited on, nothing beyond 96 bytes.
  std::optional<std::string> contents;
  try {
    contents = no_follow::read_small_file(file, kSecretKeyFileSize);
  } catch (const FileError& e) {
    throw OnionKeyError(std::string("cannot read onion key: ") + e.what() +
                        " (a tor hs_ed25519_secret_key file is 96 bytes)");
  }
  if (!contents) throw OnionKeyError("cannot read onion key " + file.string() + ": " + std::strerror(ENOENT));
  try {
    OnionKey key = from_secret_key_file_contents(*contents);
    wipe_secret(*contents);
    return key;
  } catch (const OnionKeyError& e) {
    wipe_secret(*contents);
    throw OnionKeyError(file.string() + ": " + e.what());
  }
}

OnionKey::~OnionKey() { OPENSSL_cleanse(expanded_.data(), expanded_.size()); }

void OnionKey::save(const std::filesystem::path& file) const {
  std::string contents = secret_key_file_contents();
  try {
    write_file_atomically(file, contents, 0600);
  } catch (...) {
    wipe_secret(contents);
    throw;
  }
  wipe_secret(contents);
}

std::string OnionKey::secret_key_file_contents() const {
  std::string contents;
  contents.reserve(kSecretKeyFileSize);
  contents.append(kSecretKeyFileHeader);
  contents.resize(kHeaderSize, '\0');
  contents.append(reinterpret_cast<const char*>(expanded_.data()), expanded_.size());
  return contents;
}

std::string OnionKey::add_onion_blob() const {
  std::string blob;
  blob.reserve(kBlobPrefix.size() + 88);
  blob.append(kBlobPrefix);
  std::string encoded = base64_encode(expanded_);
  blob.append(encoded);
  wipe_secret(encoded);
  return blob;
}

bool OnionKey::operator==(const OnionKey& other) const {
  return CRYPTO_memcmp(expanded_.data(), other.expanded_.data(), expanded_.size()) == 0;
}

}  // namespace tails_server::core
