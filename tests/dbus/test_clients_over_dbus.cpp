// Client authorization, onion keys and connection info through the real CLI
// and the real daemon on a private bus (no systemd; Tor only where a test
// starts one itself).
#include "bus_harness.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

using namespace tails_server::test;

namespace {

std::string explain(const RunResult& result, const BusHarness& harness) {
  return "exit " + std::to_string(result.exit_code) + "\nstdout:\n" + result.out + "\nstderr:\n" + result.err +
         "\ndaemon log:\n" + harness.daemon_log();
}

std::size_t lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string info_address(BusHarness& harness, const std::string& service) {
  RunResult info = harness.cli({"--json", "info", service});
  REQUIRE(info.exit_code == exit_code::ok);
  nlohmann::json parsed = nlohmann::json::parse(info.out);
  return parsed[service]["address"].is_string() ? parsed[service]["address"].get<std::string>() : "";
}

std::vector<std::string> client_names(BusHarness& harness, const std::string& service) {
  RunResult list = harness.cli({"client", "list", service});
  INFO(explain(list, harness));
  REQUIRE(list.exit_code == exit_code::ok);
  return YAML::Load(list.out)[service]["clients"].as<std::vector<std::string>>();
}

// A QR code drawn with half blocks: lines of only "█", "▀", "▄" and spaces
// (at least one block). Returns how many such lines `text` has.
std::size_t qr_lines(const std::string& text) {
  std::size_t count = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    bool blocks = false, other = line.empty();
    for (std::size_t i = 0; i < line.size() && !other;) {
      if (line[i] == ' ') {
        ++i;
      } else if (line.compare(i, 3, "\u2588") == 0 || line.compare(i, 3, "\u2580") == 0 ||
                 line.compare(i, 3, "\u2584") == 0) {
        blocks = true;
        i += 3;
      } else {
        other = true;
      }
    }
    if (blocks && !other) ++count;
  }
  return count;
}

// A real tor that makes a v3 onion key in `dir` and nothing else (no
// network, no SOCKS port); stopped when this goes.
struct TorKeyMaker {
  std::unique_ptr<Process> tor;
  std::filesystem::path hs_dir;

  static std::string binary() {
    for (const char* path : {"/usr/sbin/tor", "/usr/bin/tor"})
      if (std::filesystem::exists(path)) return path;
    return "";
  }

  // Returns false if tor did not write hostname and hs_ed25519_secret_key.
  bool make(const std::filesystem::path& dir) {
    hs_dir = dir / "hs";
    std::filesystem::create_directories(hs_dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
    std::filesystem::permissions(hs_dir, std::filesystem::perms::owner_all);
    std::ofstream(dir / "torrc") << "DataDirectory " << (dir / "data").string() << "\n"
                                 << "DisableNetwork 1\nSocksPort 0\nControlPort 0\n"
                                 << "HiddenServiceDir " << hs_dir.string() << "\n"
                                 << "HiddenServicePort 80 127.0.0.1:8080\n";
    tor = std::make_unique<Process>(
        std::vector<std::string>{binary(), "-f", (dir / "torrc").string(), "--defaults-torrc", "/dev/null"},
        SpawnOptions{{}, {}, dir / "tor.log", dir / "tor.log"});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::filesystem::exists(hs_dir / "hs_ed25519_secret_key") &&
          read_file(hs_dir / "hostname").find('\n') != std::string::npos)
        break;
      if (tor->poll()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    tor->stop(SIGTERM, std::chrono::seconds(5));
    tor.reset();
    return std::filesystem::exists(hs_dir / "hs_ed25519_secret_key") &&
           read_file(hs_dir / "hostname").find('\n') != std::string::npos;
  }
};

}  // namespace

TEST_CASE("client add prints the credential once in the three forms for the service's address") {
  BusHarness harness;
  harness.start_daemon();
  RunResult add = harness.cli({"client", "add", "mumble", "alice"});
  INFO(explain(add, harness));
  REQUIRE(add.exit_code == exit_code::ok);
  YAML::Node credential = YAML::Load(add.out);
  for (std::string key : {"client", "address", "tor-browser-key", "auth-private", "onion-client-auth-add"}) {
    CAPTURE(key);
    REQUIRE(credential[key]);
  }
  std::string address = credential["address"].as<std::string>();
  std::string key = credential["tor-browser-key"].as<std::string>();
  std::string auth_private = credential["auth-private"].as<std::string>();
  std::string command = credential["onion-client-auth-add"].as<std::string>();
  CHECK(credential["client"].as<std::string>() == "alice");
  CHECK(std::regex_match(address, std::regex("[a-z2-7]{56}\\.onion")));
  CHECK(std::regex_match(key, std::regex("[A-Z2-7]{52}")));
  std::string bare = address.substr(0, 56);
  CHECK(std::regex_match(auth_private, std::regex(bare + ":descriptor:x25519:[A-Z2-7]{52}")));
  CHECK(auth_private.substr(auth_private.size() - 52) == key);
  CHECK(std::regex_match(command, std::regex("ONION_CLIENT_AUTH_ADD " + bare + " x25519:[A-Za-z0-9+/]{43}=")));
  // The note goes to standard error, the credential alone to standard output.
  CHECK(contains(add.err, "Give this to alice privately; it is not stored and cannot be shown again."));
  CHECK(contains(add.err, "Tor Browser asks for the key when it first opens the address."));
  // The address is the service's.
  CHECK(info_address(harness, "mumble") == address);
  // No key in the daemon's log.
  CHECK_FALSE(contains(harness.daemon_log(), key));
  CHECK_FALSE(contains(harness.daemon_log(), command.substr(command.size() - 44)));

  // --json prints the same keys as JSON.
  RunResult json = harness.cli({"--json", "client", "add", "mumble", "bob"});
  INFO(explain(json, harness));
  REQUIRE(json.exit_code == exit_code::ok);
  nlohmann::json parsed = nlohmann::json::parse(json.out);
  CHECK(parsed["client"] == "bob");
  CHECK(parsed["address"] == address);
  CHECK(parsed["tor-browser-key"].get<std::string>().size() == 52);
  CHECK(parsed["tor-browser-key"] != key);

  auto names = client_names(harness, "mumble");
  CHECK(std::find(names.begin(), names.end(), "alice") != names.end());
  CHECK(std::find(names.begin(), names.end(), "bob") != names.end());
  // The clients are kept across a restart of the daemon.
  CHECK(harness.stop_daemon() == 0);
  harness.start_daemon();
  CHECK(client_names(harness, "mumble").size() == 2);
}

TEST_CASE("client add refuses a taken name and a bad name and says which rule") {
  BusHarness harness;
  harness.start_daemon();
  REQUIRE(harness.cli({"client", "add", "mumble", "alice"}).exit_code == exit_code::ok);
  RunResult again = harness.cli({"client", "add", "mumble", "alice"});
  INFO(explain(again, harness));
  CHECK(again.exit_code == exit_code::invalid_value);
  CHECK(again.out.empty());
  CHECK(lines(again.err) == 1);
  CHECK(contains(again.err, "alice"));

  RunResult space = harness.cli({"client", "add", "mumble", "a b"});
  INFO(explain(space, harness));
  CHECK(space.exit_code == exit_code::invalid_value);
  CHECK(space.out.empty());
  CHECK(contains(space.err, "A-Z a-z, digits, '_' and '-'"));
  RunResult long_name = harness.cli({"client", "add", "mumble", std::string(17, 'x')});
  INFO(explain(long_name, harness));
  CHECK(long_name.exit_code == exit_code::invalid_value);
  CHECK(contains(long_name.err, "1 to 16 characters"));
  CHECK(client_names(harness, "mumble") == std::vector<std::string>{"alice"});

  CHECK(harness.cli({"client", "add", "no-such-thing", "alice"}).exit_code == exit_code::no_such_service);
  CHECK(harness.cli({"client", "frobnicate", "mumble"}).exit_code == exit_code::usage);
  CHECK(harness.cli({"client", "add", "mumble"}).exit_code == exit_code::usage);
  CHECK(harness.cli({"client", "list", "mumble", "alice"}).exit_code == exit_code::usage);
}

TEST_CASE("client remove takes a client away and an unknown client exits 11") {
  BusHarness harness;
  harness.start_daemon();
  REQUIRE(harness.cli({"client", "add", "mumble", "alice"}).exit_code == exit_code::ok);
  REQUIRE(harness.cli({"client", "add", "mumble", "bob"}).exit_code == exit_code::ok);

  RunResult unknown = harness.cli({"client", "remove", "mumble", "carol"});
  INFO(explain(unknown, harness));
  CHECK(unknown.exit_code == exit_code::no_such_client);
  CHECK(unknown.out.empty());
  CHECK(lines(unknown.err) == 1);
  CHECK(contains(unknown.err, "carol"));
  CHECK(contains(unknown.err, "alice"));  // it names the clients there are

  RunResult remove = harness.cli({"client", "remove", "mumble", "alice"});
  INFO(explain(remove, harness));
  CHECK(remove.exit_code == exit_code::ok);
  CHECK(client_names(harness, "mumble") == std::vector<std::string>{"bob"});
  CHECK(harness.cli({"client", "remove", "mumble", "alice"}).exit_code == exit_code::no_such_client);
  // The name is free again.
  CHECK(harness.cli({"client", "add", "mumble", "alice"}).exit_code == exit_code::ok);
}

TEST_CASE("a caller who is not root may not manage clients or keys or read connection info") {
  BusHarness harness;
  harness.start_daemon();
  REQUIRE(harness.cli({"client", "add", "mumble", "alice"}).exit_code == exit_code::ok);
  std::string address = info_address(harness, "mumble");
  std::vector<std::pair<std::vector<std::string>, std::string>> calls = {
      {{"client", "add", "mumble", "mallory"}, ""},
      {{"client", "remove", "mumble", "alice"}, ""},
      {{"client", "list", "mumble"}, ""},
      {{"import-key", "mumble", "-"}, "ED25519-V3:" + std::string(88, 'A') + "\n"},
      {{"connection-info", "mumble"}, ""},
      {{"connection-info", "mumble", "--qr"}, ""},
  };
  for (const auto& [args, input] : calls) {
    RunResult refused = harness.cli_as_nobody(args, input);
    INFO((args[0] + " " + args[1] + "\n" + explain(refused, harness)));
    CHECK(refused.exit_code == exit_code::access_denied);
    CHECK(refused.out.empty());
    CHECK(lines(refused.err) == 1);
    CHECK(contains(refused.err, "needs root or polkit authorization for org.boum.tails.server.manage"));
  }
  // Nothing changed.
  CHECK(client_names(harness, "mumble") == std::vector<std::string>{"alice"});
  CHECK(info_address(harness, "mumble") == address);
}

TEST_CASE("import-key takes the onion address of a key file that tor made") {
  std::string tor = TorKeyMaker::binary();
  if (tor.empty()) {
    MESSAGE("skipped: tor is not installed");
    return;
  }
  BusHarness harness;
  harness.start_daemon();
  TempDir tor_dir("tails-server-tor-key");
  TorKeyMaker maker;
  REQUIRE_MESSAGE(maker.make(tor_dir.path()), read_file(tor_dir / "tor.log"));
  std::string hostname = read_file(maker.hs_dir / "hostname");
  hostname.erase(hostname.find_last_not_of("\n") + 1);
  REQUIRE(hostname.size() == 62);

  RunResult import = harness.cli({"import-key", "mumble", (maker.hs_dir / "hs_ed25519_secret_key").string()});
  INFO(explain(import, harness));
  REQUIRE(import.exit_code == exit_code::ok);
  CHECK(YAML::Load(import.out)["address"].as<std::string>() == hostname);
  CHECK(info_address(harness, "mumble") == hostname);
  RunResult status = harness.cli({"status", "mumble"});
  CHECK(YAML::Load(status.out)["mumble"]["address"].as<std::string>() == hostname);
  // A client's credential is for the imported address.
  RunResult add = harness.cli({"client", "add", "mumble", "alice"});
  REQUIRE(add.exit_code == exit_code::ok);
  CHECK(YAML::Load(add.out)["address"].as<std::string>() == hostname);

  // The same file through standard input, for another service.
  RunResult piped = harness.cli({"--json", "import-key", "nginx", "-"},
                                read_file(maker.hs_dir / "hs_ed25519_secret_key"));
  INFO(explain(piped, harness));
  CHECK(piped.exit_code == exit_code::ok);
  CHECK(nlohmann::json::parse(piped.out)["address"] == hostname);
}

TEST_CASE("import-key refuses a file that is no onion key and leaves the address alone") {
  BusHarness harness;
  harness.start_daemon();
  REQUIRE(harness.cli({"client", "add", "mumble", "alice"}).exit_code == exit_code::ok);
  std::string address = info_address(harness, "mumble");

  auto garbage = harness.dir() / "garbage";
  std::ofstream(garbage) << "this is not a key\n";
  RunResult bad = harness.cli({"import-key", "mumble", garbage.string()});
  INFO(explain(bad, harness));
  CHECK(bad.exit_code == exit_code::invalid_value);
  CHECK(bad.out.empty());
  CHECK(lines(bad.err) == 1);
  CHECK(contains(bad.err, "hs_ed25519_secret_key"));

  auto large = harness.dir() / "large";
  std::ofstream(large) << std::string(4097, 'A');
  RunResult too_large = harness.cli({"import-key", "mumble", large.string()});
  INFO(explain(too_large, harness));
  CHECK(too_large.exit_code == exit_code::invalid_value);
  CHECK(contains(too_large.err, "4 KiB"));

  RunResult missing = harness.cli({"import-key", "mumble", (harness.dir() / "none").string()});
  CHECK(missing.exit_code == exit_code::failed);
  CHECK(contains(missing.err, "cannot open"));
  CHECK(harness.cli({"import-key", "no-such-thing", garbage.string()}).exit_code == exit_code::no_such_service);
  CHECK(info_address(harness, "mumble") == address);
}

TEST_CASE("turning client authorization off warns on standard error to keep the address secret") {
  BusHarness harness;
  harness.start_daemon();
  RunResult off = harness.cli({"set-option", "mumble", "client-authorization", "false"});
  INFO(explain(off, harness));
  CHECK(off.exit_code == exit_code::ok);
  CHECK(YAML::Load(off.out)["client-authorization"].as<bool>() == false);
  CHECK(contains(off.err, "Client authorization is off: anyone who learns the onion address of mumble can "
                          "connect to it. Keep the address secret."));

  RunResult on = harness.cli({"set-option", "mumble", "client-authorization", "true"});
  CHECK(on.exit_code == exit_code::ok);
  CHECK(on.err.empty());
  RunResult reset = harness.cli({"reset-option", "mumble", "client-authorization"});
  CHECK(reset.exit_code == exit_code::ok);
  CHECK(reset.err.empty());
  RunResult port = harness.cli({"set-option", "mumble", "virtual-port", "8064"});
  CHECK(port.exit_code == exit_code::ok);
  CHECK(port.err.empty());
}

TEST_CASE("connection-info --qr draws the address and port but never the password") {
  BusHarness harness;
  harness.start_daemon();
  RunResult early = harness.cli({"connection-info", "mumble", "--qr"});
  INFO(explain(early, harness));
  CHECK(early.exit_code == exit_code::failed);  // no onion address yet
  CHECK(contains(early.err, "no onion address yet"));

  REQUIRE(harness.cli({"client", "add", "mumble", "alice"}).exit_code == exit_code::ok);
  std::string address = info_address(harness, "mumble");
  RunResult plain = harness.cli({"connection-info", "mumble"});
  INFO(explain(plain, harness));
  REQUIRE(plain.exit_code == exit_code::ok);
  CHECK(YAML::Load(plain.out)["mumble"]["address"].as<std::string>() == address);
  CHECK(qr_lines(plain.out) == 0);

  RunResult qr = harness.cli({"connection-info", "mumble", "--qr"});
  INFO(explain(qr, harness));
  REQUIRE(qr.exit_code == exit_code::ok);
  CHECK(contains(qr.out, address));
  CHECK(contains(qr.out, "QR code of " + address + ":64738"));
  CHECK(qr_lines(qr.out) >= 12);
  CHECK(contains(qr.out, "The password is shown above; share it separately."));
  // The YAML before the code still parses and holds the password.
  std::string yaml = qr.out.substr(0, qr.out.find("\nQR code of"));
  CHECK_FALSE(YAML::Load(yaml)["mumble"]["password"].as<std::string>().empty());

  RunResult dark = harness.cli({"connection-info", "mumble", "--qr", "--dark-terminal"});
  REQUIRE(dark.exit_code == exit_code::ok);
  CHECK(qr_lines(dark.out) >= 12);
  CHECK(dark.out != qr.out);

  RunResult json = harness.cli({"--json", "connection-info", "mumble", "--qr"});
  REQUIRE(json.exit_code == exit_code::ok);
  nlohmann::json parsed = nlohmann::json::parse(json.out);
  CHECK(parsed["mumble"]["qr-text"] == address + ":64738");
  CHECK(qr_lines(parsed["mumble"]["qr"].get<std::string>()) >= 12);

  CHECK(harness.cli({"status", "mumble", "--qr"}).exit_code == exit_code::usage);
  CHECK(harness.cli({"connection-info", "mumble", "--dark-terminal"}).exit_code == exit_code::usage);
}

TEST_CASE("status and info show the onion and Tor") {
  BusHarness harness;
  harness.start_daemon();
  RunResult status = harness.cli({"status", "mumble"});
  INFO(explain(status, harness));
  REQUIRE(status.exit_code == exit_code::ok);
  YAML::Node node = YAML::Load(status.out)["mumble"];
  REQUIRE(node["onion"]);
  REQUIRE(node["tor"]);
  CHECK(node["onion"].IsNull());  // nothing is enabled, so no onion is wanted
  // No Tor control socket in the harness's configuration.
  std::string tor = node["tor"].as<std::string>();
  CHECK((tor == "connected" || tor == "connecting" || tor.rfind("not running", 0) == 0));

  nlohmann::json info = nlohmann::json::parse(harness.cli({"--json", "info", "mumble"}).out);
  CHECK(info["mumble"].contains("onion"));
  CHECK(info["mumble"]["tor"].is_string());
  nlohmann::json list = nlohmann::json::parse(harness.cli({"--json", "list"}).out);
  CHECK(list["mumble"].contains("onion"));
}
