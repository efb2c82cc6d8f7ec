#include "state/state_store.h"

#include "temp_dir.h"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <sys/stat.h>

using namespace tails_server::core;
using tails_server::test::TempDir;

namespace {
std::string read(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write(const std::filesystem::path& file, const std::string& text) { std::ofstream(file) << text; }
std::vector<std::filesystem::path> kept_aside(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> found;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().find(".unreadable-") != std::string::npos) found.push_back(e.path());
  return found;
}
}  // namespace

TEST_CASE("State round-trips and is readable only by root") {
  TempDir tmp;
  StateStore store(tmp / "state");
  CHECK_FALSE(store.load("mumble").has_value());
  ServiceState state;
  state.options = {{"server-password", "p,w\"d"}, {"max-users", "7"}};
  state.packages_installed_by_us = {"mumble-server"};
  state.enabled = true;
  state.onion_client_keys = {{"25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid",
                              "R6BPP6WD4HWKC6ZKMAPXSHEMXN4GCFSO5YXST6NQJXIIWEPT3RTQ"}};
  store.save("mumble", state);
  auto loaded = store.load("mumble");
  REQUIRE(loaded.has_value());
  CHECK(*loaded == state);
  struct stat st {};
  REQUIRE(::stat(store.file("mumble").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  REQUIRE(::stat(store.directory().c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
}

TEST_CASE("Saving leaves no temporary files") {
  TempDir tmp;
  StateStore store(tmp / "state");
  for (int i = 0; i < 3; ++i) store.save("nginx", ServiceState{{{"n", std::to_string(i)}}, {}, false, {}, {}});
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(store.directory())) {
    (void)e;
    ++files;
  }
  CHECK(files == 1);
  CHECK(store.load("nginx")->options.at("n") == "2");
}

TEST_CASE("Corrupt state is kept aside with a clear error") {
  TempDir tmp;
  StateStore store(tmp / "state");
  write(store.file("prosody"), "{ this is not json");
  std::string message;
  try {
    store.load("prosody");
  } catch (const StateError& error) {
    message = error.what();
  }
  CHECK(message.find(store.file("prosody").string()) != std::string::npos);
  CHECK(message.find("unreadable") != std::string::npos);
  auto aside = kept_aside(store.directory());
  REQUIRE(aside.size() == 1);
  CHECK(read(aside[0]) == "{ this is not json");
  CHECK(message.find(aside[0].string()) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(store.file("prosody")));
}

TEST_CASE("State from a newer version is refused and kept aside") {
  TempDir tmp;
  StateStore store(tmp / "state");
  store.save("gobby", ServiceState{{{"password", "x"}}, {}, false, {}, {}});
  std::string text = read(store.file("gobby"));
  auto at = text.find("\"cereal_class_version\": 3");
  REQUIRE(at != std::string::npos);
  text.replace(at, std::string("\"cereal_class_version\": 3").size(), "\"cereal_class_version\": 9");
  write(store.file("gobby"), text);
  std::string message;
  try {
    store.load("gobby");
  } catch (const StateError& error) {
    message = error.what();
  }
  CHECK(message.find("newer Tails Server (state version 9") != std::string::npos);
  CHECK(kept_aside(store.directory()).size() == 1);
}

TEST_CASE("A version 1 state file loads with no clients") {
  TempDir tmp;
  StateStore store(tmp / "state");
  write(store.file("mumble"), R"({
    "service": {
        "cereal_class_version": 1,
        "options": [{"key": "max-users", "value": "7"}],
        "packages_installed_by_us": ["mumble-server"],
        "enabled": true
    }
})");
  auto state = store.load("mumble");
  REQUIRE(state.has_value());
  CHECK(state->options.at("max-users") == "7");
  CHECK(state->packages_installed_by_us == std::vector<std::string>{"mumble-server"});
  CHECK(state->enabled);
  CHECK(state->clients.empty());
  CHECK(state->onion_client_keys.empty());
}

TEST_CASE("A FIFO or a link to /dev/zero as a state file is refused at once and left alone") {
  TempDir tmp;
  StateStore store(tmp / "state");
  REQUIRE(::mkfifo((tmp / "state/mumble.state.json").c_str(), 0600) == 0);
  std::filesystem::create_symlink("/dev/zero", tmp / "state/nginx.state.json");
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(store.load("mumble"), doctest::Contains("not a regular file"), StateError);
  CHECK_THROWS_WITH_AS(store.load("nginx"), doctest::Contains("symbolic link"), StateError);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(kept_aside(tmp / "state").empty());
}

TEST_CASE("A state file beyond 1 MiB is refused without being read whole") {
  TempDir tmp;
  StateStore store(tmp / "state");
  write(tmp / "state/mumble.state.json", std::string((1 << 20) + 1, ' '));
  CHECK_THROWS_WITH_AS(store.load("mumble"), doctest::Contains("larger than 1048576 bytes"), StateError);
}

TEST_CASE("A state file with a fraction or an exponent is refused before rapidjson reads the number") {
  TempDir tmp;
  StateStore store(tmp / "state");
  write(store.file("mumble"), R"({"service": {"cereal_class_version": 0E53, "options": []}})");
  CHECK_THROWS_WITH_AS(store.load("mumble"), doctest::Contains("a fraction or an exponent"), StateError);
  CHECK(kept_aside(tmp / "state").size() == 1);
  // The same characters inside a string are a value like any other.
  CHECK(parse_state(R"({"service": {"cereal_class_version": 2, "options": [{"key": "motd", "value": "1.5e3"}],
      "packages_installed_by_us": [], "enabled": false, "clients": []}})").options.at("motd") == "1.5e3");
}
