#include <doctest/doctest.h>

#include <sodium.h>

#include "key_test_support.h"
#include "tor/keys/base32.h"
#include "tor/keys/client_auth.h"
#include "tor/keys/onion_key.h"

using namespace tails_server::core;
using namespace tails_server::test;
using namespace tails_server::test::keys;

namespace {

constexpr std::string_view kAddress = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";

// RFC 7748 §6.1: Alice's private key and public key.
constexpr std::string_view kAlicePrivate = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
constexpr std::string_view kAlicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";

std::string client_error(std::function<void()> f) { return error_of<ClientAuthError>(std::move(f)); }

}  // namespace

TEST_CASE("client key public key is X25519 of the private key (RFC 7748 vector)") {
  ClientKey key = ClientKey::from_private_key(from_hex(kAlicePrivate));
  CHECK(to_hex(key.public_key()) == kAlicePublic);
  CHECK(base32_decode(key.public_key_base32()) == from_hex(kAlicePublic));
  CHECK(base32_decode(key.private_key_base32()) == from_hex(kAlicePrivate));
  CHECK(base64_decode(key.private_key_base64()) == from_hex(kAlicePrivate));
}

TEST_CASE("generated client key derives its public key and has encodings of the right lengths") {
  ClientKey key = ClientKey::generate();
  ClientKey other = ClientKey::generate();
  CHECK(!(key == other));
  CHECK(key.public_key() != other.public_key());

  std::array<std::uint8_t, 32> expected{};
  auto priv = base32_decode(key.private_key_base32());
  REQUIRE(priv.size() == 32);
  REQUIRE(crypto_scalarmult_base(expected.data(), priv.data()) == 0);
  CHECK(key.public_key() == expected);
  CHECK(ClientKey::from_base32_private_key(key.private_key_base32()) == key);
  CHECK(ClientKey::from_base32_private_key(key.private_key_base32()).public_key() == key.public_key());

  CHECK(key.public_key_base32().size() == 52);
  CHECK(key.private_key_base32().size() == 52);
  CHECK(key.private_key_base64().size() == 44);
  CHECK(key.authorized_clients_line() == "descriptor:x25519:" + key.public_key_base32());
  CHECK(key.authorized_clients_line().size() == 18 + 52);
  CHECK(parse_client_public_key(key.public_key_base32()) == key.public_key());
  CHECK(parse_client_public_key(key.authorized_clients_line()) == key.public_key());
}

TEST_CASE("client credential lines have the forms tor reads") {
  ClientKey key = ClientKey::generate();
  std::string line = key.auth_private_line(kAddress);
  CHECK(line == std::string(kAddress) + ":descriptor:x25519:" + key.private_key_base32());
  CHECK(line.size() == 56 + 1 + 18 + 52);
  // The same with ".onion" or upper case: the line always has the bare address.
  std::string upper(kAddress);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(key.auth_private_line(upper + ".onion") == line);

  std::string command = key.onion_client_auth_add_command(std::string(kAddress) + ".onion");
  CHECK(command == "ONION_CLIENT_AUTH_ADD " + std::string(kAddress) + " x25519:" + key.private_key_base64());
  CHECK(command.size() == 22 + 56 + 8 + 44);

  std::string bad(kAddress);
  bad[0] = bad[0] == 'a' ? 'b' : 'a';
  CHECK(contains(error_of<OnionAddressError>([&] { key.auth_private_line(bad); }), "checksum"));
  CHECK(contains(error_of<OnionAddressError>([&] { key.onion_client_auth_add_command("example.onion"); }),
                 "expected 56 base32 characters"));
}

TEST_CASE("client names follow tor's ClientName rules") {
  for (std::string_view name : {"a", "alice", "Bob_2", "laptop-phone", "0123456789abcdef", "-_"}) {
    CAPTURE(name);
    CHECK(is_valid_client_name(name));
    CHECK(client_error([&] { validate_client_name(name); }).empty());
  }
  CHECK(!is_valid_client_name(""));
  CHECK(contains(client_error([] { validate_client_name(""); }), "expected 1 to 16 characters, found 0"));
  CHECK(!is_valid_client_name("0123456789abcdefg"));
  CHECK(contains(client_error([] { validate_client_name("0123456789abcdefg"); }), "found 17"));
  CHECK(!is_valid_client_name("al ice"));
  CHECK(contains(client_error([] { validate_client_name("al ice"); }), "found byte 0x20 at position 3"));
  CHECK(contains(client_error([] { validate_client_name("bob.laptop"); }), "found '.' at position 4"));
  CHECK(contains(client_error([] { validate_client_name("a/b"); }), "expected only letters A-Z a-z"));
  CHECK(!is_valid_client_name("caf\xc3\xa9"));
  CHECK(contains(client_error([] { validate_client_name("caf\xc3\xa9"); }), "found byte 0xc3 at position 4"));
}

TEST_CASE("bad client keys give errors naming what was expected and found") {
  CHECK(contains(client_error([] { ClientKey::from_private_key(std::vector<std::uint8_t>(31, 1)); }),
                 "expected 32 bytes, found 31"));
  CHECK(contains(client_error([] { ClientKey::from_private_key(std::vector<std::uint8_t>(32, 0)); }),
                 "all zero"));
  CHECK(contains(client_error([] { ClientKey::from_base32_private_key("ABC"); }),
                 "expected 52 base32 characters, found 3"));
  std::string bad_char(52, 'A');
  bad_char[7] = '8';
  CHECK(contains(client_error([&] { ClientKey::from_base32_private_key(bad_char); }), "position 8"));
  CHECK(contains(client_error([] { parse_client_public_key("descriptor:x25519:ABC"); }),
                 "expected 52 base32 characters, found 3"));
  CHECK(contains(client_error([] { parse_client_public_key(std::string(51, 'A') + "1"); }), "position 52"));
}
