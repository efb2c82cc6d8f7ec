// Text encodings of key material: RFC 4648 base32 without padding (onion
// addresses, client authorization keys) and RFC 4648 base64 (ADD_ONION key
// blobs, ONION_CLIENT_AUTH_ADD). Error messages never quote the input: it is
// often a secret key.
#pragma once

#include "secret/wipe.h"

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tails_server::core {

// Text that is not valid base32 or base64. what() says what was expected and
// what was found (position and kind of the fault, never the text itself).
class EncodingError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class Base32Case { upper, lower };

// RFC 4648 base32 of `bytes`, without "=" padding: ceil(8 * size / 5) chars.
std::string base32_encode(std::span<const std::uint8_t> bytes, Base32Case letter_case = Base32Case::upper);

// Decodes unpadded RFC 4648 base32, upper or lower case (mixed is fine).
// Throws EncodingError for a character outside the alphabet (including "="
// and whitespace), a length that no byte count encodes (length % 8 of 1, 3
// or 6), or non-zero unused bits in the last character.
std::vector<std::uint8_t> base32_decode(std::string_view text);

// RFC 4648 base64 of `bytes`, with "=" padding, no line breaks.
std::string base64_encode(std::span<const std::uint8_t> bytes);

// Decodes RFC 4648 base64 with or without "=" padding. Throws EncodingError
// for a character outside the alphabet (including whitespace), misplaced or
// excess padding, a length that no byte count encodes, or non-zero unused
// bits.
std::vector<std::uint8_t> base64_decode(std::string_view text);


}  // namespace tails_server::core
