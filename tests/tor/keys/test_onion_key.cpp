#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>

#include "temp_dir.h"
#include "key_test_support.h"
#include "tor/keys/base32.h"
#include "tor/keys/onion_key.h"

using namespace tails_server::core;
using namespace tails_server::test;
using namespace tails_server::test::keys;

namespace {

// RFC 8032 §7.1 TEST 1, expanded as tor does, and the address tor gave for
// it (docs/tor.md#test-vector).
constexpr std::string_view kSeedHex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view kExpandedHex =
    "307c83864f2833cb427a2ef1c00a013cfdff2768d980c0a3a520f006904de94f"
    "9b4f0afe280b746a778684e75442502057b7473a03f08f96f5a38e9287e01f8f";
constexpr std::string_view kPublicHex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view kBlob =
    "ED25519-V3:MHyDhk8oM8tCei7xwAoBPP3/J2jZgMCjpSDwBpBN6U+bTwr+KAt0aneGhOdUQlAgV7dHOgPwj5b1o46Sh+Afjw==";
constexpr std::string_view kAddress = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";

std::string header() {
  std::string h(OnionKey::kSecretKeyFileHeader);
  h.resize(32, '\0');
  return h;
}

std::string key_error(std::function<void()> f) { return error_of<OnionKeyError>(std::move(f)); }
std::string address_error(std::string_view address) {
  return error_of<OnionAddressError>([&] { onion_address_public_key(address); });
}

}  // namespace

TEST_CASE("onion key from the RFC 8032 test-1 seed matches tor's expanded key blob and address") {
  OnionKey key = OnionKey::from_seed(from_hex(kSeedHex));
  CHECK(to_hex(key.secret_key_file_contents().substr(32)) == kExpandedHex);
  CHECK(to_hex(key.public_key()) == kPublicHex);
  CHECK(key.add_onion_blob() == kBlob);
  CHECK(key.add_onion_blob().size() == 11 + 88);
  CHECK(key.address() == kAddress);
  CHECK(key.hostname() == std::string(kAddress) + ".onion");
}

TEST_CASE("onion address from the test-1 public key matches tor's unit test") {
  Ed25519PublicKey public_key{};
  auto raw = from_hex(kPublicHex);
  std::copy(raw.begin(), raw.end(), public_key.begin());
  CHECK(onion_address_from_public_key(public_key) == kAddress);
  CHECK(onion_address_public_key(kAddress) == public_key);
}

TEST_CASE("onion key imports the expanded key and the ADD_ONION blob") {
  OnionKey from_expanded = OnionKey::from_expanded(from_hex(kExpandedHex));
  CHECK(from_expanded.address() == kAddress);
  OnionKey from_blob = OnionKey::from_add_onion_blob(kBlob);
  CHECK(from_blob.address() == kAddress);
  CHECK(from_blob == from_expanded);
  // Unpadded and with surrounding whitespace, as users paste it.
  std::string unpadded(kBlob.substr(0, kBlob.size() - 2));
  CHECK(OnionKey::from_add_onion_blob(unpadded).address() == kAddress);
  CHECK(OnionKey::from_add_onion_blob("  " + std::string(kBlob) + "\n").address() == kAddress);
}

TEST_CASE("onion key imports an hs_ed25519_secret_key file's contents") {
  std::string contents = header() + bytes_string(from_hex(kExpandedHex));
  OnionKey key = OnionKey::from_secret_key_file_contents(contents);
  CHECK(key.address() == kAddress);
  CHECK(key.secret_key_file_contents() == contents);
  CHECK(key.secret_key_file_contents().size() == 96);
}

TEST_CASE("the rend-spec example addresses validate") {
  for (std::string_view address : {"pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd",
                                   "sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd",
                                   "xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd"}) {
    CAPTURE(address);
    CHECK(is_valid_onion_address(address));
    CHECK(address_error(address).empty());
    CHECK(is_valid_onion_address(std::string(address) + ".onion"));
    std::string upper(address);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(normalize_onion_address(upper + ".ONION") == address);
  }
}

TEST_CASE("bad onion addresses give errors naming what was expected and found") {
  std::string bad_checksum(kAddress);
  bad_checksum[10] = bad_checksum[10] == 'a' ? 'b' : 'a';
  CHECK(contains(address_error(bad_checksum), "checksum does not match"));
  CHECK(contains(address_error(bad_checksum), bad_checksum));
  CHECK(!is_valid_onion_address(bad_checksum));

  CHECK(contains(address_error(std::string(kAddress).substr(1)), "expected 56 base32 characters"));
  CHECK(contains(address_error(std::string(kAddress).substr(1)), "found 55"));
  CHECK(contains(address_error("duskgytldkxiuqc6.onion"), "found 16"));
  std::string bad_char(kAddress);
  bad_char[3] = '1';
  CHECK(contains(address_error(bad_char), "position 4"));

  // Same key with version byte 4 (and a checksum computed for version 4 or
  // not: the version is checked first).
  std::vector<std::uint8_t> raw = base32_decode(kAddress);
  raw[34] = 4;
  CHECK(contains(address_error(base32_encode(raw, Base32Case::lower)), "expected version 3, found version 4"));
}

TEST_CASE("bad secret key files give errors naming what was expected and found") {
  std::string good = header() + bytes_string(from_hex(kExpandedHex));

  std::string short_file = good.substr(0, 50);
  CHECK(contains(key_error([&] { OnionKey::from_secret_key_file_contents(short_file); }),
                 "expected 96 bytes (a 32-byte header and a 64-byte key), found 50 bytes"));
  CHECK(contains(key_error([&] { OnionKey::from_secret_key_file_contents(good + "x"); }), "found 97 bytes"));

  std::string public_header = good;
  public_header.replace(0, 29, "== ed25519v1-public: type0 ==");
  std::string message = key_error([&] { OnionKey::from_secret_key_file_contents(public_header); });
  CHECK(contains(message, "expected the header \"== ed25519v1-secret: type0 ==\""));
  CHECK(contains(message, "found \"== ed25519v1-public: type0 ==\""));

  std::string bad_padding = good;
  bad_padding[30] = 'x';
  CHECK(contains(key_error([&] { OnionKey::from_secret_key_file_contents(bad_padding); }),
                 "found \"== ed25519v1-secret: type0 ==\" followed by non-NUL bytes"));

  // The whole file as the 96 bytes of an RFC 8032 key pair, no header.
  std::string no_header = bytes_string(from_hex(kSeedHex)) + bytes_string(from_hex(kExpandedHex));
  message = key_error([&] { OnionKey::from_secret_key_file_contents(no_header); });
  CHECK(contains(message, "expected the header"));
  // Binary data might be key material: it is described, never shown.
  CHECK(contains(message, "found 32 bytes that are not a tor key header"));
}

TEST_CASE("bad ADD_ONION blobs give errors naming what was expected and found") {
  std::string blob(kBlob);
  CHECK(contains(key_error([&] { OnionKey::from_add_onion_blob(blob.substr(11)); }),
                 "expected it to start with \"ED25519-V3:\", found no key type"));
  CHECK(contains(key_error([&] { OnionKey::from_add_onion_blob("RSA1024:" + blob.substr(11)); }),
                 "found \"RSA1024:\""));
  CHECK(contains(key_error([&] { OnionKey::from_add_onion_blob("ED25519-V3:MHyD*k8o"); }),
                 "invalid base64: expected A-Z, a-z, 0-9, '+' or '/', found a character outside the alphabet at "
                 "position 5"));
  // 48 bytes instead of 64.
  std::string short_blob = "ED25519-V3:" + blob.substr(11, 64);
  CHECK(contains(key_error([&] { OnionKey::from_add_onion_blob(short_blob); }),
                 "expected 64 bytes after base64 decoding (88 characters), found 48 bytes"));
  CHECK(contains(key_error([&] { OnionKey::from_seed(from_hex("0011")); }), "expected 32 bytes, found 2"));
  CHECK(contains(key_error([&] { OnionKey::from_expanded(from_hex(kSeedHex)); }), "expected 64 bytes, found 32"));
  CHECK(contains(key_error([&] { OnionKey::from_expanded(std::vector<std::uint8_t>(64)); }), "zero"));
  // Errors never quote the key.
  CHECK(!contains(key_error([&] { OnionKey::from_add_onion_blob(short_blob); }), blob.substr(11, 20)));
}

TEST_CASE("generated onion keys differ and have valid addresses") {
  OnionKey a = OnionKey::generate();
  OnionKey b = OnionKey::generate();
  CHECK(!(a == b));
  CHECK(a.address() != b.address());
  CHECK(a.address().size() == 56);
  CHECK(is_valid_onion_address(a.address()));
  CHECK(a.add_onion_blob().size() == 99);
  CHECK(OnionKey::from_add_onion_blob(a.add_onion_blob()) == a);
  // Tor's clamping of the scalar.
  std::string secret = a.secret_key_file_contents();
  CHECK((static_cast<unsigned char>(secret[32]) & 7) == 0);
  CHECK((static_cast<unsigned char>(secret[63]) & 0xc0) == 0x40);
}

TEST_CASE("onion key round trip through a key file keeps address and blob with mode 0600") {
  TempDir dir;
  OnionKey key = OnionKey::generate();
  auto file = dir / "hs_ed25519_secret_key";
  ::umask(022);
  key.save(file);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(std::filesystem::file_size(file) == 96);
  CHECK(read_file(file).substr(0, 32) == header());
  OnionKey loaded = OnionKey::load(file);
  CHECK(loaded == key);
  CHECK(loaded.address() == key.address());
  CHECK(loaded.add_onion_blob() == key.add_onion_blob());
  // Saving again replaces the file atomically, still 0600.
  OnionKey other = OnionKey::generate();
  other.save(file);
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(OnionKey::load(file).address() == other.address());
}

TEST_CASE("loading a bad key file names the file and the fault") {
  TempDir dir;
  auto missing = dir / "missing";
  std::string message = key_error([&] { OnionKey::load(missing); });
  CHECK(contains(message, missing.string()));
  CHECK(contains(message, "No such file"));

  auto big = dir / "big";
  write_file(big, std::string(4096, 'x'));
  message = key_error([&] { OnionKey::load(big); });
  CHECK(contains(message, big.string()));
  CHECK(contains(message, "larger than 96 bytes"));

  auto small = dir / "small";
  write_file(small, header());
  message = key_error([&] { OnionKey::load(small); });
  CHECK(contains(message, small.string()));
  CHECK(contains(message, "found 32 bytes"));
}

TEST_CASE("an onion key that is a FIFO or a link to /dev/zero is refused at once") {
  TempDir dir;
  auto fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto start = std::chrono::steady_clock::now();
  std::string message = key_error([&] { OnionKey::load(fifo); });
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(contains(message, fifo.string()));
  CHECK(contains(message, "not a regular file"));

  auto zero = dir / "zero";
  std::filesystem::create_symlink("/dev/zero", zero);
  message = key_error([&] { OnionKey::load(zero); });
  CHECK(contains(message, "symbolic link"));
}
