#include <doctest/doctest.h>

#include "key_test_support.h"
#include "tor/keys/base32.h"

using namespace tails_server::core;
using namespace tails_server::test;
using namespace tails_server::test::keys;

namespace {

std::vector<std::uint8_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

}  // namespace

TEST_CASE("base32 encodes the RFC 4648 test vectors without padding") {
  CHECK(base32_encode(bytes("")) == "");
  CHECK(base32_encode(bytes("f")) == "MY");
  CHECK(base32_encode(bytes("fo")) == "MZXQ");
  CHECK(base32_encode(bytes("foo")) == "MZXW6");
  CHECK(base32_encode(bytes("foob")) == "MZXW6YQ");
  CHECK(base32_encode(bytes("fooba")) == "MZXW6YTB");
  CHECK(base32_encode(bytes("foobar")) == "MZXW6YTBOI");
  CHECK(base32_encode(bytes("foobar"), Base32Case::lower) == "mzxw6ytboi");
}

TEST_CASE("base32 decodes upper and lower case and round-trips every length") {
  CHECK(base32_decode("MZXW6YTBOI") == bytes("foobar"));
  CHECK(base32_decode("mzxw6ytboi") == bytes("foobar"));
  CHECK(base32_decode("MzXw6YtBoI") == bytes("foobar"));
  CHECK(base32_decode("").empty());
  std::vector<std::uint8_t> data;
  for (int n = 0; n < 70; ++n) {
    CHECK(base32_decode(base32_encode(data)) == data);
    CHECK(base32_decode(base32_encode(data, Base32Case::lower)) == data);
    data.push_back(static_cast<std::uint8_t>(n * 37 + 11));
  }
  CHECK(base32_encode(std::vector<std::uint8_t>(32)).size() == 52);
  CHECK(base32_encode(std::vector<std::uint8_t>(35)).size() == 56);
}

TEST_CASE("base32 refuses bad characters and lengths with a clear error") {
  auto error = [](std::string_view text) { return error_of<EncodingError>([&] { base32_decode(text); }); };
  CHECK(contains(error("MZXW6YT1"), "expected A-Z, a-z or 2-7, found a character outside the alphabet at position 8"));
  CHECK(contains(error("MZXW6YTBOI======"), "found '='"));
  CHECK(contains(error("MZXW 6YT"), "found a space at position 5"));
  CHECK(contains(error("MZX"), "found 3 characters"));
  CHECK(contains(error("M"), "remainder modulo 8 is 0, 2, 4, 5 or 7"));
  CHECK(contains(error("MZXW6Y"), "found 6 characters"));
  // "MZ" holds 10 bits: 8 of data, 2 that must be zero.
  CHECK(contains(error("MZ"), "unused low bits"));
  CHECK(error("MY").empty());
}

TEST_CASE("base64 encodes and decodes the RFC 4648 test vectors") {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    CHECK(base64_encode(bytes(plain)) == encoded);
    CHECK(base64_decode(encoded) == bytes(plain));
  }
  // Without padding too, as tor accepts.
  CHECK(base64_decode("Zm9vYg") == bytes("foob"));
  CHECK(base64_decode("Zm9vYmE") == bytes("fooba"));
}

TEST_CASE("base64 refuses bad characters and padding with a clear error") {
  auto error = [](std::string_view text) { return error_of<EncodingError>([&] { base64_decode(text); }); };
  CHECK(contains(error("Zm9v*mFy"), "found a character outside the alphabet at position 5"));
  CHECK(contains(error("Zm9v\nYmF"), "found whitespace at position 5"));
  CHECK(contains(error("Zm9vY"), "remainder modulo 4 is 0, 2 or 3"));
  CHECK(contains(error("Zg="), "padding"));
  CHECK(contains(error("Zm8=="), "padding"));
  CHECK(contains(error("Zh=="), "unused low bits"));
  CHECK(contains(error("Zm=9"), "found '=' at position 3"));
}

TEST_CASE("wipe_secret clears the buffer") {
  std::string text = "secret";
  tails_server::wipe_secret(text);
  CHECK(text.empty());
  std::vector<std::uint8_t> data = {1, 2, 3};
  tails_server::wipe_secret(data);
  CHECK(data.empty());
}
