#include "tor/keys/base32.h"

#include <array>

#include <openssl/crypto.h>

namespace tails_server::core {

namespace {

constexpr std::string_view kBase32Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view kBase32Lower = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base32_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Describes a character for an error message without quoting key material:
// only characters that cannot belong to a key are shown.
std::string describe(char c) {
  auto byte = static_cast<unsigned char>(c);
  if (c == '=') return "'='";
  if (c == ' ') return "a space";
  if (c == '\n' || c == '\r' || c == '\t') return "whitespace";
  if (byte < 0x20 || byte >= 0x7f) return "byte 0x" + std::string{"0123456789abcdef"[byte >> 4]} +
                                          "0123456789abcdef"[byte & 15];
  return "a character outside the alphabet";
}

// Wipes the bit accumulator on every exit path.
struct Bits {
  std::uint32_t value = 0;
  int count = 0;
  ~Bits() { OPENSSL_cleanse(&value, sizeof value); }
};

}  // namespace

std::string base32_encode(std::span<const std::uint8_t> bytes, Base32Case letter_case) {
  std::string_view alphabet = letter_case == Base32Case::upper ? kBase32Upper : kBase32Lower;
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  Bits bits;
  for (std::uint8_t byte : bytes) {
    bits.value = (bits.value << 8) | byte;
    bits.count += 8;
    while (bits.count >= 5) {
      bits.count -= 5;
      out.push_back(alphabet[(bits.value >> bits.count) & 31]);
    }
  }
  if (bits.count > 0) out.push_back(alphabet[(bits.value << (5 - bits.count)) & 31]);
  return out;
}

std::vector<std::uint8_t> base32_decode(std::string_view text) {
  std::size_t rest = text.size() % 8;
  if (rest == 1 || rest == 3 || rest == 6)
    throw EncodingError("invalid base32: expected a length whose remainder modulo 8 is 0, 2, 4, 5 or 7, found " +
                        std::to_string(text.size()) + " characters");
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 5 / 8);
  Bits bits;
  for (std::size_t i = 0; i < text.size(); ++i) {
    int v = base32_value(text[i]);
    if (v < 0) {
      wipe_secret(out);
      throw EncodingError("invalid base32: expected A-Z, a-z or 2-7, found " + describe(text[i]) + " at position " +
                          std::to_string(i + 1));
    }
    bits.value = (bits.value << 5) | static_cast<std::uint32_t>(v);
    bits.count += 5;
    if (bits.count >= 8) {
      bits.count -= 8;
      out.push_back(static_cast<std::uint8_t>(bits.value >> bits.count));
    }
  }
  if ((bits.value & ((1u << bits.count) - 1)) != 0) {
    wipe_secret(out);
    throw EncodingError("invalid base32: expected the unused low bits of the last character to be zero, found them set");
  }
  return out;
}

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  Bits bits;
  for (; i + 3 <= bytes.size(); i += 3) {
    bits.value = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out.push_back(kBase64[(bits.value >> 18) & 63]);
    out.push_back(kBase64[(bits.value >> 12) & 63]);
    out.push_back(kBase64[(bits.value >> 6) & 63]);
    out.push_back(kBase64[bits.value & 63]);
  }
  std::size_t left = bytes.size() - i;
  if (left > 0) {
    bits.value = std::uint32_t{bytes[i]} << 16;
    if (left == 2) bits.value |= std::uint32_t{bytes[i + 1]} << 8;
    out.push_back(kBase64[(bits.value >> 18) & 63]);
    out.push_back(kBase64[(bits.value >> 12) & 63]);
    out.push_back(left == 2 ? kBase64[(bits.value >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::vector<std::uint8_t> base64_decode(std::string_view text) {
  std::size_t data_length = text.size();
  while (data_length > 0 && text[data_length - 1] == '=') --data_length;
  std::size_t padding = text.size() - data_length;
  if (padding > 0 && (padding > 2 || text.size() % 4 != 0 || (data_length + padding) % 4 != 0 ||
                      (4 - data_length % 4) % 4 != padding))
    throw EncodingError("invalid base64: expected padding that completes a group of 4 characters, found " +
                        std::to_string(padding) + " '=' after " + std::to_string(data_length) + " characters");
  if (data_length % 4 == 1)
    throw EncodingError("invalid base64: expected a length whose remainder modulo 4 is 0, 2 or 3, found " +
                        std::to_string(data_length) + " characters");
  std::vector<std::uint8_t> out;
  out.reserve(data_length * 3 / 4);
  Bits bits;
  for (std::size_t i = 0; i < data_length; ++i) {
    int v = base64_value(text[i]);
    if (v < 0) {
      wipe_secret(out);
      throw EncodingError("invalid base64: expected A-Z, a-z, 0-9, '+' or '/', found " + describe(text[i]) +
                          " at position " + std::to_string(i + 1));
    }
    bits.value = (bits.value << 6) | static_cast<std::uint32_t>(v);
    bits.count += 6;
    if (bits.count >= 8) {
      bits.count -= 8;
      out.push_back(static_cast<std::uint8_t>(bits.value >> bits.count));
    }
  }
  if ((bits.value & ((1u << bits.count) - 1)) != 0) {
    wipe_secret(out);
    throw EncodingError("invalid base64: expected the unused low bits of the last character to be zero, found them set");
  }
  return out;
}

}  // namespace tails_server::core
