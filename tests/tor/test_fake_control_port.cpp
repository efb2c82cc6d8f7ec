// What a real tor cannot do on demand: hold a reply, send an event in the
// middle, drop the connection, lie about the cookie, upload a descriptor.
#include "fake_control_port.h"
#include "loop.h"
#include "tor/control_connection.h"
#include "tor/onion_publisher.h"

#include <doctest/doctest.h>

#include <optional>

using namespace tails_server::core;
using namespace tails_server::test;
using namespace std::chrono_literals;

namespace {

const std::string key =
    "MHyDhk8oM8tCei7xwAoBPP3/J2jZgMCjpSDwBpBN6U+bTwr+KAt0aneGhOdUQlAgV7dHOgPwj5b1o46Sh+Afjw==";
const std::string id = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid";

struct Fixture {
  EventLoop loop = new_event_loop();
  FakeControlPort port{loop.get()};
  ControlConnection connection{loop.get()};
  bool ready = false;
  std::optional<std::string> lost;

  void start() {
    connection.connect(port.endpoint(), port.cookie_path(), [this] { ready = true; },
                       [this](const std::string& r) { lost = r; });
  }
  void connect() {
    start();
    wait();
  }
  void wait() {
    run_until(loop.get(), [&] { return ready || lost.has_value(); });
  }
  bool sent_any(const std::string& prefix) const {
    for (const auto& line : port.received)
      if (line.rfind(prefix, 0) == 0) return true;
    return false;
  }
};

}  // namespace

TEST_CASE("A command without a reply times out naming the command and closes the connection") {
  Fixture f;
  f.port.on_command = [](const std::string&) { return std::string(); };
  f.connect();
  REQUIRE(f.ready);
  std::optional<std::string> first, second;
  f.connection.add_onion(key, {{80, ""}}, {}, true, [&](const std::string& e, const std::string&) { first = e; },
                         200ms);
  f.connection.get_info("version", [&](const std::string& e, const std::string&) { second = e; }, 5000ms);
  REQUIRE(run_until(f.loop.get(), [&] { return first && second && f.lost; }, 3000ms));
  CHECK(*first == "ADD_ONION timed out after 200 ms waiting for Tor's reply");
  CHECK(*second == "GETINFO failed: lost the connection to Tor: ADD_ONION timed out after 200 ms waiting for Tor's reply");
  CHECK(*f.lost == *first);
  CHECK(first->find(key) == std::string::npos);
  CHECK_FALSE(f.connection.ready());
}

TEST_CASE("Losing the connection fails every pending command and calls on_disconnect once") {
  Fixture f;
  f.port.on_command = [](const std::string&) { return std::string(); };
  f.connect();
  REQUIRE(f.ready);
  std::vector<std::string> errors;
  for (int i = 0; i < 3; ++i)
    f.connection.command("GETINFO version", [&](const CommandResult& r) { errors.push_back(r.error); });
  REQUIRE(run_until(f.loop.get(), [&] { return f.port.received.size() >= 6; }));
  f.port.drop();
  REQUIRE(run_until(f.loop.get(), [&] { return f.lost.has_value(); }));
  CHECK(*f.lost == "Tor closed the control connection");
  REQUIRE(errors.size() == 3);
  for (const auto& e : errors) CHECK(e == "GETINFO failed: lost the connection to Tor: Tor closed the control connection");
  CHECK_THROWS_AS(f.connection.command("GETINFO version", [](const CommandResult&) {}), std::logic_error);
}

TEST_CASE("Events between a command and its reply go to the event callback") {
  Fixture f;
  f.port.on_command = [](const std::string& line) {
    if (line.rfind("ADD_ONION ", 0) == 0)
      return "650 HS_DESC CREATED " + id + " UNKNOWN UNKNOWN blinded\r\n" + "250-ServiceID=" + id +
             "\r\n250 OK\r\n650 HS_DESC UPLOAD " + id + " UNKNOWN $AA~r blinded HSDIR_INDEX=00\r\n";
    return std::string("250 OK\r\n");
  };
  std::vector<std::string> events;
  f.connection.on_event([&](const ControlReply& r) { events.push_back(r.lines[0].text); });
  f.connect();
  REQUIRE(f.ready);
  std::optional<std::string> got;
  f.connection.add_onion(key, {{80, ""}}, {}, true, [&](const std::string& e, const std::string& sid) {
    CHECK(e == "");
    got = sid;
  });
  REQUIRE(run_until(f.loop.get(), [&] { return got.has_value() && events.size() == 2; }));
  CHECK(*got == id);
  CHECK(events[0].rfind("HS_DESC CREATED", 0) == 0);
  CHECK(events[1].rfind("HS_DESC UPLOAD ", 0) == 0);
}

TEST_CASE("Commands issued before authentication wait for it") {
  Fixture f;
  std::optional<CommandResult> result;
  f.connection.connect(f.port.endpoint(), f.port.cookie_path(), [&] { f.ready = true; },
                       [&](const std::string& r) { f.lost = r; });
  f.connection.command("GETINFO version", [&](const CommandResult& r) { result = r; });
  REQUIRE(run_until(f.loop.get(), [&] { return result.has_value(); }));
  CHECK(result->ok());
  CHECK(f.ready);
  REQUIRE(f.port.received.size() == 4);
  CHECK(f.port.received[3] == "GETINFO version");
}

TEST_CASE("A peer without SAFECOOKIE is refused before any command") {
  Fixture f;
  f.port.offer_safecookie = false;
  f.start();
  std::optional<std::string> add_error;
  f.connection.add_onion(key, {{80, ""}}, {}, true, [&](const std::string& e, const std::string&) { add_error = e; });
  f.wait();
  REQUIRE(add_error);
  CHECK(add_error->rfind("ADD_ONION failed: lost the connection to Tor: ", 0) == 0);
  CHECK_FALSE(f.ready);
  REQUIRE(f.lost);
  CHECK(f.lost->find("does not offer SAFECOOKIE authentication (METHODS=\"NULL\")") != std::string::npos);
  CHECK_FALSE(f.sent_any("ADD_ONION"));
  CHECK_FALSE(f.sent_any("AUTHENTICATE"));
}

TEST_CASE("A peer that does not know the cookie never gets ADD_ONION or AUTHENTICATE") {
  Fixture f;
  f.port.know_cookie = false;
  f.start();
  std::optional<std::string> add_error;
  f.connection.add_onion(key, {{80, ""}}, {}, true, [&](const std::string& e, const std::string&) { add_error = e; });
  f.wait();
  REQUIRE(add_error);
  CHECK(add_error->rfind("ADD_ONION failed: lost the connection to Tor: ", 0) == 0);
  CHECK_FALSE(f.ready);
  REQUIRE(f.lost);
  CHECK(f.lost->find("server hash does not match the cookie") != std::string::npos);
  CHECK_FALSE(f.sent_any("ADD_ONION"));
  CHECK_FALSE(f.sent_any("AUTHENTICATE"));
}

TEST_CASE("A hostile peer's endless line closes the connection with a protocol error") {
  Fixture f;
  f.port.on_command = [](const std::string&) { return "250-" + std::string(100000, 'A'); };
  f.connect();
  REQUIRE(f.ready);
  std::optional<std::string> error;
  f.connection.command("GETINFO version", [&](const CommandResult& r) { error = r.error; });
  REQUIRE(run_until(f.loop.get(), [&] { return f.lost.has_value(); }));
  CHECK(f.lost->find("expected a control-port line of at most 65536 bytes") != std::string::npos);
  REQUIRE(error);
}

TEST_CASE("A reply with no command waiting closes the connection") {
  Fixture f;
  f.connect();
  REQUIRE(f.ready);
  f.port.send("250 OK\r\n");
  REQUIRE(run_until(f.loop.get(), [&] { return f.lost.has_value(); }));
  CHECK(*f.lost == "Tor's control port sent a reply while no command was waiting: 250 OK");
}

TEST_CASE("Commands with CR or LF are refused") {
  Fixture f;
  f.connect();
  CHECK_THROWS_AS(f.connection.command("GETINFO version\r\nSIGNAL HALT", [](const CommandResult&) {}),
                  std::invalid_argument);
  CHECK_THROWS_AS(f.connection.add_onion(key, {{80, "127.0.0.1:1 Port=22"}}, {}, true,
                                         [](const std::string&, const std::string&) {}),
                  std::invalid_argument);
  CHECK_THROWS_WITH_AS(f.connection.add_onion("bad key\r\n", {{80, ""}}, {}, true,
                                              [](const std::string&, const std::string&) {}),
                       doctest::Contains("(the key is not shown)"), std::invalid_argument);
}

TEST_CASE("The publisher marks a service published at the first HS_DESC UPLOADED for its address") {
  auto loop = new_event_loop();
  FakeControlPort port(loop.get());
  port.on_command = [](const std::string& line) {
    if (line == "GETINFO onions/detached") return std::string("250-onions/detached=\r\n250 OK\r\n");
    if (line.rfind("ADD_ONION ", 0) == 0) return "250-ServiceID=" + id + "\r\n250 OK\r\n";
    return std::string("250 OK\r\n");
  };
  std::vector<OnionState> states;
  OnionPublisher publisher(loop.get(), OnionPublisher::Options{port.endpoint(), port.cookie_path(), 50ms, 200ms, 2000ms},
                           [](TorState, const std::string&) {},
                           [&](const std::string& name, const OnionStatus& s) {
                             CHECK(name == "web");
                             states.push_back(s.state);
                           });
  publisher.start();
  publisher.set("web", OnionSpec{key, {{80, "127.0.0.1:8080"}}, {}, ""});
  REQUIRE(run_until(loop.get(), [&] { return publisher.status("web")->state == OnionState::Announcing; }));
  CHECK(publisher.status("web")->service_id == id);
  // Events for other addresses or other actions change nothing.
  port.send("650 HS_DESC UPLOADED " + std::string(56, 'a') + " UNKNOWN $AA~relay\r\n");
  port.send("650 HS_DESC UPLOAD " + id + " UNKNOWN $AA~relay blinded HSDIR_INDEX=00\r\n");
  port.send("650 HS_DESC garbage\r\n");
  run_for(loop.get(), 200ms);
  CHECK(publisher.status("web")->state == OnionState::Announcing);
  port.send("650 HS_DESC UPLOADED " + id + " UNKNOWN $AA~relay\r\n");
  REQUIRE(run_until(loop.get(), [&] { return publisher.status("web")->state == OnionState::Published; }));
  CHECK(states == std::vector<OnionState>{OnionState::Pending, OnionState::Announcing, OnionState::Published});
  bool subscribed = false;
  for (const auto& line : port.received) subscribed |= line == "SETEVENTS HS_DESC SIGNAL";
  CHECK(subscribed);

  // Tor goes away: pending again, and re-added when it is back.
  port.drop();
  REQUIRE(run_until(loop.get(), [&] { return publisher.tor_state() == TorState::NotRunning; }));
  CHECK(publisher.status("web")->state == OnionState::Pending);
  REQUIRE(run_until(loop.get(), [&] { return publisher.status("web")->state == OnionState::Announcing; }));
  CHECK(port.connections() == 2);
}
