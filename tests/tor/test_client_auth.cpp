// The client side of client authorization: the command lines, and the
// publisher keeping a real tor's credentials (ONION_CLIENT_AUTH_VIEW) across
// tor's restarts.
#include "loop.h"
#include "tor/control_connection.h"
#include "tor/onion_client_auth.h"
#include "tor/onion_publisher.h"
#include "tor_process.h"

#include <doctest/doctest.h>

#include <optional>
#include <stdexcept>

using namespace tails_server::core;
using namespace tails_server::test;
using namespace std::chrono_literals;

namespace {

const std::string peer_id = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";
const std::string peer_key = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";  // bytes 1..32
const std::string other_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";  // bytes 32..63

// What tor holds now: the whole ONION_CLIENT_AUTH_VIEW reply, one line each.
std::string credentials_in(const TorProcess& tor) {
  EventLoop loop = new_event_loop();
  ControlConnection connection(loop.get());
  bool ready = false;
  std::optional<std::string> lost;
  connection.connect(tor.endpoint(), tor.cookie(), [&] { ready = true; }, [&](const std::string& r) { lost = r; });
  REQUIRE(run_until(loop.get(), [&] { return ready || lost; }));
  REQUIRE(ready);
  std::optional<CommandResult> out;
  connection.command("ONION_CLIENT_AUTH_VIEW", [&](const CommandResult& r) { out = r; });
  REQUIRE(run_until(loop.get(), [&] { return out.has_value(); }));
  REQUIRE(out->ok());
  std::string text;
  for (const auto& line : out->reply.lines) text += line.text + "\n";
  return text;
}

}  // namespace

TEST_CASE("ONION_CLIENT_AUTH lines take only a 56-character address and a 44-character base64 key") {
  CHECK(onion_client_auth_add_line(peer_id, peer_key) == "ONION_CLIENT_AUTH_ADD " + peer_id + " x25519:" + peer_key);
  CHECK(onion_client_auth_remove_line(peer_id) == "ONION_CLIENT_AUTH_REMOVE " + peer_id);
  CHECK_THROWS_AS(onion_client_auth_add_line(peer_id + ".onion", peer_key), std::invalid_argument);
  CHECK_THROWS_AS(onion_client_auth_add_line(peer_id.substr(1), peer_key), std::invalid_argument);
  CHECK_THROWS_AS(onion_client_auth_add_line("25NJQAMCWEFLPVKL73J4SZAHHIHOC4XT3KTCGJNPAINGR5YHKENL5SID", peer_key),
                  std::invalid_argument);
  CHECK_THROWS_AS(onion_client_auth_add_line(peer_id, peer_key + " Flags=Permanent"), std::invalid_argument);
  CHECK_THROWS_AS(onion_client_auth_add_line(peer_id, peer_key.substr(0, 43)), std::invalid_argument);
  CHECK_THROWS_AS(onion_client_auth_remove_line(peer_id + "\r\nSIGNAL HALT"), std::invalid_argument);
  try {
    onion_client_auth_add_line(peer_id, "x" + peer_key.substr(1, 42) + "\n");
    FAIL("a bad key was accepted");
  } catch (const std::invalid_argument& error) {
    CHECK(std::string(error.what()).find(peer_key.substr(1, 20)) == std::string::npos);  // never quoted
  }
}

TEST_CASE("The publisher gives tor the client keys again after tor restarts and takes back a removed one") {
  TorProcess tor(TorProcess::Control::Tcp);
  tor.start();
  EventLoop loop = new_event_loop();
  OnionPublisher publisher(loop.get(), OnionPublisher::Options{tor.endpoint(), "", 100ms, 400ms, 5000ms}, nullptr,
                           nullptr);
  publisher.set_client_auth({{peer_id, peer_key}});  // before connecting: sent once connected
  publisher.start();
  auto holds = [&](const std::string& key) {
    run_for(loop.get(), 300ms);
    // Tor may echo the key without its "=" padding.
    return credentials_in(tor).find("CLIENT " + peer_id + " x25519:" + key.substr(0, 43)) != std::string::npos;
  };
  REQUIRE(run_until(loop.get(), [&] { return publisher.tor_state() == TorState::Connected; }));
  CHECK(holds(peer_key));

  // Tor forgets them when it restarts; the publisher adds them again.
  tor.stop();
  REQUIRE(run_until(loop.get(), [&] { return publisher.tor_state() == TorState::NotRunning; }));
  tor.start();
  REQUIRE(run_until(loop.get(), [&] { return publisher.tor_state() == TorState::Connected; }));
  CHECK(holds(peer_key));

  // A new key replaces the old one.
  publisher.set_client_auth({{peer_id, other_key}});
  CHECK(holds(other_key));
  CHECK_FALSE(holds(peer_key));

  // Removed: tor no longer holds it.
  publisher.set_client_auth({});
  run_for(loop.get(), 300ms);
  CHECK(credentials_in(tor).find(peer_id) == std::string::npos);
  CHECK(tor.log().find("Bug:") == std::string::npos);
}

// SIGNAL NEWNYM (Tor Browser's "New Identity" on Tails) also purges tor's
// ephemeral client keys; the publisher gives them back.
TEST_CASE("The publisher gives tor the client keys again after SIGNAL NEWNYM") {
  TorProcess tor(TorProcess::Control::Tcp, true);
  tor.start();
  EventLoop loop = new_event_loop();
  OnionPublisher publisher(loop.get(), OnionPublisher::Options{tor.endpoint(), "", 100ms, 400ms, 5000ms}, nullptr,
                           nullptr);
  publisher.set_client_auth({{peer_id, peer_key}});
  publisher.start();
  REQUIRE(run_until(loop.get(), [&] { return publisher.tor_state() == TorState::Connected; }));
  const std::string held = "CLIENT " + peer_id + " x25519:" + peer_key.substr(0, 43);
  REQUIRE(run_until(loop.get(), [&] { return credentials_in(tor).find(held) != std::string::npos; }, 5s));

  ControlConnection other(loop.get());
  bool ready = false;
  other.connect(tor.endpoint(), tor.cookie(), [&] { ready = true; }, [](const std::string&) {});
  REQUIRE(run_until(loop.get(), [&] { return ready; }));
  std::optional<CommandResult> newnym;
  other.command("SIGNAL NEWNYM", [&](const CommandResult& r) { newnym = r; });
  REQUIRE(run_until(loop.get(), [&] { return newnym.has_value(); }));
  REQUIRE(newnym->ok());
  run_for(loop.get(), 500ms);
  CHECK(credentials_in(tor).find(held) != std::string::npos);
  CHECK(publisher.tor_state() == TorState::Connected);
}
