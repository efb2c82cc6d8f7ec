// The controller and the publisher against a real tor (DisableNetwork 1:
// ADD_ONION works, descriptors are never uploaded; the end-to-end test on a
// private Tor network is separate).
#include "loop.h"
#include "tor/control_connection.h"
#include "tor/onion_publisher.h"
#include "tor_process.h"

#include <doctest/doctest.h>

#include <fstream>
#include <optional>
#include <set>

using namespace tails_server::core;
using namespace tails_server::test;
using namespace std::chrono_literals;

namespace {

// RFC 8032 test 1, expanded to tor's form (docs/tor.md#test-vector).
const std::string rfc8032_key =
    "MHyDhk8oM8tCei7xwAoBPP3/J2jZgMCjpSDwBpBN6U+bTwr+KAt0aneGhOdUQlAgV7dHOgPwj5b1o46Sh+Afjw==";
const std::string rfc8032_id = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";
const std::string client_key = "R6BPP6WD4HWKC6ZKMAPXSHEMXN4GCFSO5YXST6NQJXIIWEPT3RTQ";

// A connection that is authenticated, or the test fails with the reason.
struct Controller {
  EventLoop loop = new_event_loop();
  ControlConnection connection{loop.get()};
  bool ready = false;
  std::optional<std::string> lost;

  Controller(const std::string& endpoint, const std::string& cookie) {
    connection.connect(endpoint, cookie, [this] { ready = true; }, [this](const std::string& r) { lost = r; });
  }
  bool wait_ready() {
    run_until(loop.get(), [&] { return ready || lost; });
    if (lost) MESSAGE("connection lost: " << *lost);
    return ready;
  }
  // Runs a command to its end; returns {error, value}.
  std::pair<std::string, std::string> get_info(const std::string& key) {
    std::optional<std::pair<std::string, std::string>> out;
    connection.get_info(key, [&](const std::string& e, const std::string& v) { out.emplace(e, v); });
    REQUIRE(run_until(loop.get(), [&] { return out.has_value(); }));
    return *out;
  }
  std::pair<std::string, std::string> add_onion(const std::string& key, const std::vector<std::string>& clients = {},
                                                bool detach = true) {
    std::optional<std::pair<std::string, std::string>> out;
    connection.add_onion(key, {{80, "127.0.0.1:18080"}}, clients, detach,
                         [&](const std::string& e, const std::string& id) { out.emplace(e, id); });
    REQUIRE(run_until(loop.get(), [&] { return out.has_value(); }));
    return *out;
  }
  std::string del_onion(const std::string& id) {
    std::optional<std::string> out;
    connection.del_onion(id, [&](const std::string& e) { out = e; });
    REQUIRE(run_until(loop.get(), [&] { return out.has_value(); }));
    return *out;
  }
};

std::set<std::string> lines_of(const std::string& text) {
  std::set<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.insert(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

void check_safecookie(TorProcess::Control kind) {
  TorProcess tor(kind);
  tor.start();
  // No cookie path: the COOKIEFILE from PROTOCOLINFO is used.
  Controller c(tor.endpoint(), "");
  REQUIRE(c.wait_ready());
  CHECK(c.connection.tor_version().rfind("0.4", 0) == 0);
  auto [error, version] = c.get_info("version");
  CHECK(error == "");
  CHECK(version.find(c.connection.tor_version()) == 0);
}

// The publisher with one onion, and the states it reported.
struct Publisher {
  EventLoop loop = new_event_loop();
  std::vector<std::pair<TorState, std::string>> tor_states;
  std::vector<OnionStatus> onion_states;
  OnionPublisher publisher;

  explicit Publisher(const TorProcess& tor)
      : publisher(loop.get(), OnionPublisher::Options{tor.endpoint(), "", 100ms, 400ms, 5000ms},
                  [this](TorState s, const std::string& d) { tor_states.emplace_back(s, d); },
                  [this](const std::string&, const OnionStatus& s) { onion_states.push_back(s); }) {}

  bool wait_onion(OnionState state) {
    return run_until(loop.get(), [&] {
      auto s = publisher.status("web");
      return s && s->state == state;
    });
  }
};

std::set<std::string> detached_now(const TorProcess& tor) {
  Controller c(tor.endpoint(), tor.cookie());
  REQUIRE(c.wait_ready());
  auto [error, list] = c.get_info("onions/detached");
  REQUIRE(error == "");
  return lines_of(list);
}

void check_publisher_survives_restart(TorProcess::Control kind) {
  TorProcess tor(kind);
  tor.start();
  Publisher p(tor);
  p.publisher.start();
  p.publisher.set("web", OnionSpec{rfc8032_key, {{80, "127.0.0.1:18080"}}, {}, rfc8032_id});
  REQUIRE(p.wait_onion(OnionState::Announcing));
  CHECK(p.publisher.tor_state() == TorState::Connected);
  CHECK(p.publisher.status("web")->service_id == rfc8032_id);
  CHECK(detached_now(tor).count(rfc8032_id) == 1);

  tor.stop();
  REQUIRE(run_until(p.loop.get(), [&] { return p.publisher.tor_state() == TorState::NotRunning; }));
  CHECK(p.publisher.status("web")->state == OnionState::Pending);
  // It stays "not running" while retrying against the closed port.
  run_for(p.loop.get(), 1000ms);
  CHECK(p.publisher.tor_state() == TorState::NotRunning);
  CHECK_FALSE(p.tor_states.back().second.empty());
  MESSAGE("while tor is down: " << p.tor_states.back().second);

  tor.start();  // same port or socket, a new cookie, no detached onions
  REQUIRE(p.wait_onion(OnionState::Announcing));
  CHECK(p.publisher.tor_state() == TorState::Connected);
  CHECK(detached_now(tor).count(rfc8032_id) == 1);
  CHECK(tor.log().find("Bug:") == std::string::npos);
}

}  // namespace

TEST_CASE("SAFECOOKIE authentication works with a real tor on a TCP control port") {
  check_safecookie(TorProcess::Control::Tcp);
}

TEST_CASE("SAFECOOKIE authentication works with a real tor on a unix control socket") {
  check_safecookie(TorProcess::Control::Unix);
}

TEST_CASE("A wrong cookie fails authentication with a clear error") {
  TorProcess tor(TorProcess::Control::Tcp);
  tor.start();
  TempDir dir;
  std::string zeros = (dir / "zeros").string();
  std::ofstream(zeros) << std::string(32, '\0');
  Controller c(tor.endpoint(), zeros);
  CHECK_FALSE(c.wait_ready());
  REQUIRE(c.lost);
  CHECK(c.lost->find("server hash does not match the cookie in " + zeros) != std::string::npos);
}

TEST_CASE("A cookie file of the wrong size is refused") {
  TorProcess tor(TorProcess::Control::Tcp);
  tor.start();
  TempDir dir;
  std::string short_cookie = (dir / "short").string();
  std::ofstream(short_cookie) << std::string(31, 'x');
  Controller c(tor.endpoint(), short_cookie);
  CHECK_FALSE(c.wait_ready());
  REQUIRE(c.lost);
  CHECK(*c.lost == "the control cookie " + short_cookie + " holds 31 bytes, expected 32");
}

TEST_CASE("ADD_ONION with the RFC 8032 key gives its known address and Detach outlives the connection") {
  TorProcess tor(TorProcess::Control::Tcp);
  tor.start();
  {
    Controller c(tor.endpoint(), tor.cookie());
    REQUIRE(c.wait_ready());
    auto [error, id] = c.add_onion("ED25519-V3:" + rfc8032_key);
    CHECK(error == "");
    CHECK(id == rfc8032_id);
    auto [e2, current] = c.get_info("onions/current");
    CHECK(e2 == "");
    CHECK(current == "");  // detached onions are not this connection's
  }
  Controller c(tor.endpoint(), tor.cookie());
  REQUIRE(c.wait_ready());
  auto [error, list] = c.get_info("onions/detached");
  CHECK(error == "");
  CHECK(lines_of(list).count(rfc8032_id) == 1);

  CHECK(c.del_onion(rfc8032_id) == "");
  auto [e3, after] = c.get_info("onions/detached");
  CHECK(lines_of(after).count(rfc8032_id) == 0);
  std::string again = c.del_onion(rfc8032_id);
  CHECK(again.rfind("DEL_ONION failed: 552 ", 0) == 0);
  MESSAGE(again);
}

TEST_CASE("An onion without Detach goes away with its connection") {
  TorProcess tor(TorProcess::Control::Unix);
  tor.start();
  {
    Controller c(tor.endpoint(), tor.cookie());
    REQUIRE(c.wait_ready());
    auto [error, id] = c.add_onion(rfc8032_key, {}, false);
    CHECK(error == "");
    auto [e2, current] = c.get_info("onions/current");
    CHECK(current == rfc8032_id);
  }
  CHECK(detached_now(tor).empty());
}

TEST_CASE("An invalid key gives Tor's 512 error naming ADD_ONION and not the key") {
  TorProcess tor(TorProcess::Control::Tcp);
  tor.start();
  Controller c(tor.endpoint(), tor.cookie());
  REQUIRE(c.wait_ready());
  auto [error, id] = c.add_onion("AAAAsecretish");
  CHECK(error == "ADD_ONION failed: 512 Failed to decode ED25519-V3 key");
  CHECK(id == "");
  // The connection is still usable.
  CHECK(c.get_info("version").first == "");
}

TEST_CASE("V3Auth with a ClientAuthV3 key is accepted by tor") {
  TorProcess tor(TorProcess::Control::Tcp);
  tor.start();
  Controller c(tor.endpoint(), tor.cookie());
  REQUIRE(c.wait_ready());
  std::optional<CommandResult> raw;
  c.connection.add_onion(rfc8032_key, {{80, ""}, {443, "unix:/tmp/none.sock"}}, {client_key}, true,
                         [&](const std::string& e, const std::string& id) {
                           CHECK(e == "");
                           CHECK(id == rfc8032_id);
                           raw.emplace();
                         });
  REQUIRE(run_until(c.loop.get(), [&] { return raw.has_value(); }));
  CHECK(c.del_onion(rfc8032_id) == "");
  // And a malformed client key is refused before anything is sent.
  CHECK_THROWS_AS(c.connection.add_onion(rfc8032_key, {{80, ""}}, {"descriptor:x25519:" + client_key}, true,
                                         [](const std::string&, const std::string&) {}),
                  std::invalid_argument);
}

TEST_CASE("The publisher re-adds its onion after tor restarts on the same TCP port") {
  check_publisher_survives_restart(TorProcess::Control::Tcp);
}

TEST_CASE("The publisher re-adds its onion after tor restarts on the same unix socket") {
  check_publisher_survives_restart(TorProcess::Control::Unix);
}

TEST_CASE("The publisher replaces a detached onion left by an earlier run without a collision") {
  TorProcess tor(TorProcess::Control::Tcp);
  tor.start();
  {
    Controller c(tor.endpoint(), tor.cookie());
    REQUIRE(c.wait_ready());
    REQUIRE(c.add_onion(rfc8032_key).first == "");
  }
  Publisher p(tor);
  p.publisher.start();
  p.publisher.set("web", OnionSpec{rfc8032_key, {{80, "127.0.0.1:18081"}}, {client_key}, rfc8032_id});
  REQUIRE(p.wait_onion(OnionState::Announcing));
  CHECK(detached_now(tor).count(rfc8032_id) == 1);
  CHECK(tor.log().find("Bug:") == std::string::npos);
  CHECK(tor.log().find("collision") == std::string::npos);

  // Updating the clients is DEL_ONION + ADD_ONION with the same key.
  p.publisher.set("web", OnionSpec{rfc8032_key, {{80, "127.0.0.1:18081"}}, {}, rfc8032_id});
  REQUIRE(p.wait_onion(OnionState::Announcing));
  run_for(p.loop.get(), 200ms);
  CHECK(p.publisher.status("web")->state == OnionState::Announcing);

  p.publisher.remove("web");
  REQUIRE(run_until(p.loop.get(), [&] { return detached_now(tor).empty(); }));
  CHECK_FALSE(p.publisher.status("web"));
}

TEST_CASE("The publisher reports an onion tor refuses as an error") {
  TorProcess tor(TorProcess::Control::Tcp);
  tor.start();
  Publisher p(tor);
  p.publisher.start();
  p.publisher.set("web", OnionSpec{"Zm9v", {{80, ""}}, {}, ""});
  REQUIRE(p.wait_onion(OnionState::Error));
  CHECK(p.publisher.status("web")->error == "ADD_ONION failed: 512 Failed to decode ED25519-V3 key");
  // A corrected spec is tried at once.
  p.publisher.set("web", OnionSpec{rfc8032_key, {{80, ""}}, {}, ""});
  REQUIRE(p.wait_onion(OnionState::Announcing));
  CHECK(p.publisher.status("web")->service_id == rfc8032_id);
  CHECK(p.publisher.status("web")->error == "");
}

TEST_CASE("The publisher reports tor not running when nothing listens") {
  auto loop = new_event_loop();
  std::vector<std::pair<TorState, std::string>> states;
  OnionPublisher publisher(loop.get(),
                           OnionPublisher::Options{"127.0.0.1:" + std::to_string(free_tcp_port()), "", 50ms, 100ms,
                                                   1000ms},
                           [&](TorState s, const std::string& d) { states.emplace_back(s, d); },
                           [](const std::string&, const OnionStatus&) {});
  publisher.start();
  REQUIRE(run_until(loop.get(), [&] { return publisher.tor_state() == TorState::NotRunning && !states.empty(); }));
  run_for(loop.get(), 500ms);
  REQUIRE(states.size() >= 2);
  CHECK(states[0].first == TorState::Connecting);
  CHECK(states[1].first == TorState::NotRunning);
  CHECK(states[1].second.find("Connection refused") != std::string::npos);
  // Retries do not flicker between "connecting" and "not running".
  for (std::size_t i = 1; i < states.size(); ++i) CHECK(states[i].first == TorState::NotRunning);
}
