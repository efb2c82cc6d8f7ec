// Our keys against a real tor (offline: DisableNetwork 1, SocksPort 0).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include "temp_dir.h"
#include "key_test_support.h"
#include "tor/keys/client_auth.h"
#include "tor/keys/onion_key.h"
#include "offline_tor.h"

using namespace tails_server::core;
using namespace tails_server::test;
using namespace tails_server::test::keys;

namespace {

std::string trim_newline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

TEST_CASE("a key that tor generated imports to the address in tor's hostname file") {
  TempDir dir("tails-server-tor-keys");
  auto hs = dir / "hs";
  OfflineTor tor(dir.path(), {"HiddenServiceDir " + hs.string(), "HiddenServicePort 80 127.0.0.1:9"}, false);
  tor.wait_for_file(hs / "hostname");
  tor.wait_for_file(hs / "hs_ed25519_public_key");

  OnionKey key = OnionKey::load(hs / "hs_ed25519_secret_key");
  CHECK(key.hostname() == trim_newline(read_file(hs / "hostname")));
  std::string public_file = read_file(hs / "hs_ed25519_public_key");
  REQUIRE(public_file.size() == 64);
  CHECK(to_hex(public_file.substr(32)) == to_hex(key.public_key()));
  // What we would write is byte for byte what tor wrote.
  CHECK(key.secret_key_file_contents() == read_file(hs / "hs_ed25519_secret_key"));
}

TEST_CASE("tor serves our generated key at our address") {
  TempDir dir("tails-server-tor-keys");
  auto hs = dir / "hs";
  std::filesystem::create_directory(hs);
  std::filesystem::permissions(hs, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
  OnionKey key = OnionKey::generate();
  key.save(hs / "hs_ed25519_secret_key");
  std::string written = read_file(hs / "hs_ed25519_secret_key");

  OfflineTor tor(dir.path(), {"HiddenServiceDir " + hs.string(), "HiddenServicePort 80 127.0.0.1:9"}, false);
  tor.wait_for_file(hs / "hostname");
  CHECK(trim_newline(read_file(hs / "hostname")) == key.hostname());
  // Tor kept our key.
  CHECK(read_file(hs / "hs_ed25519_secret_key") == written);
}

TEST_CASE("tor accepts our onion key blob and client keys over the control port") {
  TempDir dir("tails-server-tor-keys");
  // A credential in ClientOnionAuthDir, in the .auth_private form.
  OnionKey stored_for = OnionKey::generate();
  ClientKey stored = ClientKey::generate();
  auto auth_dir = dir / "onion_auth";
  std::filesystem::create_directory(auth_dir);
  std::filesystem::permissions(auth_dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
  write_file(auth_dir / "friend.auth_private", stored.auth_private_line(stored_for.hostname()) + "\n");

  OfflineTor tor(dir.path(), {"ClientOnionAuthDir " + auth_dir.string()}, true);
  TorControlClient control(tor);

  // Server side: ADD_ONION with our key blob and our client's public key.
  OnionKey key = OnionKey::generate();
  ClientKey client = ClientKey::generate();
  auto reply = control.command("ADD_ONION " + key.add_onion_blob() +
                               " Flags=V3Auth Port=80,127.0.0.1:9 ClientAuthV3=" + client.public_key_base32());
  INFO(reply_text(reply));
  REQUIRE(reply_code(reply) == 250);
  CHECK(reply.front() == "250-ServiceID=" + key.address());
  CHECK(reply_text(reply).find("ClientAuthV3=" + client.public_key_base32()) != std::string::npos);

  // And with a new key from tor, as the brief's exchange does.
  auto fresh = control.command("ADD_ONION NEW:ED25519-V3 Flags=V3Auth Port=80,127.0.0.1:9 ClientAuthV3=" +
                               client.public_key_base32());
  INFO(reply_text(fresh));
  CHECK(reply_code(fresh) == 250);
  // Tor's returned key imports to the ServiceID it gave.
  std::string service_id, private_key;
  for (const auto& line : fresh) {
    if (line.starts_with("250-ServiceID=")) service_id = line.substr(14);
    if (line.starts_with("250-PrivateKey=")) private_key = line.substr(15);
  }
  REQUIRE(!private_key.empty());
  CHECK(OnionKey::from_add_onion_blob(private_key).address() == service_id);

  // Client side: ONION_CLIENT_AUTH_ADD exactly as we show it.
  auto added = control.command(client.onion_client_auth_add_command(key.address()));
  INFO(reply_text(added));
  CHECK(reply_code(added) == 250);
  auto view = control.command("ONION_CLIENT_AUTH_VIEW " + key.address());
  INFO(reply_text(view));
  CHECK(reply_code(view) == 250);
  CHECK(reply_text(view).find("CLIENT " + key.address() + " x25519:" + client.private_key_base64()) !=
        std::string::npos);

  // The .auth_private line tor read at startup holds the same private key.
  auto stored_view = control.command("ONION_CLIENT_AUTH_VIEW " + stored_for.address());
  INFO(reply_text(stored_view));
  CHECK(reply_code(stored_view) == 250);
  CHECK(reply_text(stored_view).find("CLIENT " + stored_for.address() + " x25519:" + stored.private_key_base64()) !=
        std::string::npos);

  // A wrong key is refused, so the 250s above mean something.
  auto wrong = control.command("ADD_ONION NEW:ED25519-V3 Flags=V3Auth Port=80,127.0.0.1:9 ClientAuthV3=" +
                               client.authorized_clients_line());
  CHECK(reply_code(wrong) == 512);
}
