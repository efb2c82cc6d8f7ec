#include "services/service_manager.h"

#include "host/system_host.h"
#include "sample_fixture.h"
#include "temp_dir.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sys/stat.h>

using namespace tails_server;
using namespace tails_server::core;
using tails_server::test::TempDir;

namespace {

struct Fixture : tails_server::test::SampleFixture {};

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ServiceError& error) {
    return error.code();
  }
  FAIL("no ServiceError");
  return ErrorCode::Failed;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& error) {
    return error.what();
  }
  return {};
}

}  // namespace

TEST_CASE("The manager loads the plugins and adds the standard options") {
  Fixture f;
  ServiceManager manager(f.config(), f.host);
  // Files load in name order, and "sample-two.so" sorts before "sample.so".
  CHECK(manager.service_names() == std::vector<std::string>{"sample-two", "sample"});
  auto options = manager.options("sample");
  std::vector<std::string> names;
  for (const auto& o : options) names.push_back(o.name);
  CHECK(names == std::vector<std::string>{"virtual-port", "local-port", "persistence", "autostart",
                                          "allow-localhost", "allow-lan", "client-authorization", "password",
                                          "motd", "max-users", "mode", "extra-port", "motd-length"});
  CHECK(manager.get_option("sample", "client-authorization") == "true");
  CHECK(manager.get_option("sample", "persistence") == "false");
  auto info = manager.info("sample");
  CHECK(info.local_port == 7000);
  CHECK(info.virtual_port == 7000);
  CHECK(info.persistent_paths == std::vector<std::string>{"/var/lib/sample"});
}

TEST_CASE("Secrets are generated once and masked and kept across restarts") {
  Fixture f;
  std::string password;
  {
    ServiceManager manager(f.config(), f.host);
    password = manager.get_option("sample", "password");
    CHECK(password.size() == 16);
    for (const auto& o : manager.options("sample"))
      if (o.name == "password") CHECK(o.value == "********");
  }
  ServiceManager again(f.config(), f.host);
  CHECK(again.get_option("sample", "password") == password);
  struct stat st {};
  REQUIRE(::stat((f.tmp / "state/sample.state.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
}

TEST_CASE("Setting an option validates and stores it and resetting restores the default") {
  Fixture f;
  {
    ServiceManager manager(f.config(), f.host);
    CHECK(manager.set_option("sample", "max-users", "10") == "10");
    CHECK(manager.set_option("sample", "motd", "a,\"b\"\nc") == "a,\"b\"\nc");
    CHECK(code_of([&] { manager.set_option("sample", "max-users", "11"); }) == ErrorCode::InvalidValue);
    CHECK(message_of([&] { manager.set_option("sample", "max-users", "11"); })
              .find("a whole number from 1 to 10") != std::string::npos);
    CHECK(code_of([&] { manager.set_option("sample", "nope", "1"); }) == ErrorCode::NoSuchOption);
    CHECK(code_of([&] { manager.set_option("nope", "max-users", "1"); }) == ErrorCode::NoSuchService);
    CHECK(code_of([&] { manager.set_option("sample", "motd-length", "3"); }) == ErrorCode::InvalidValue);
    CHECK(manager.get_option("sample", "motd-length") == "7");
  }
  ServiceManager manager(f.config(), f.host);
  CHECK(manager.get_option("sample", "max-users") == "10");
  CHECK(manager.get_option("sample", "motd") == "a,\"b\"\nc");
  CHECK(manager.reset_option("sample", "max-users") == "5");
  ServiceManager after_reset(f.config(), f.host);
  CHECK(after_reset.get_option("sample", "max-users") == "5");
}

TEST_CASE("Local ports may not clash between or within services") {
  Fixture f;
  ServiceManager manager(f.config(), f.host);
  auto message = message_of([&] { manager.set_option("sample", "local-port", "7100"); });
  CHECK(message.find("already used by option 'local-port' of 'sample-two'") != std::string::npos);
  CHECK(code_of([&] { manager.set_option("sample", "local-port", "7001"); }) == ErrorCode::InvalidValue);
  // A virtual port is per onion address and may equal another service's.
  CHECK(manager.set_option("sample", "virtual-port", "7100") == "7100");
  CHECK(manager.set_option("sample", "local-port", "7002") == "7002");
  CHECK(manager.get_option("sample", "local-port") == "7002");
}

TEST_CASE("A corrupt state file is reported and kept aside") {
  Fixture f;
  std::filesystem::create_directories(f.tmp / "state");
  std::ofstream(f.tmp / "state/sample.state.json") << "garbage";
  ServiceManager manager(f.config(), f.host);
  auto info = manager.info("sample");
  CHECK(info.state_error.find("unreadable") != std::string::npos);
  bool kept = false;
  for (const auto& e : std::filesystem::directory_iterator(f.tmp / "state"))
    if (e.path().filename().string().rfind("sample.state.json.unreadable-", 0) == 0) kept = true;
  CHECK(kept);
  CHECK(manager.get_option("sample", "max-users") == "5");
}

TEST_CASE("Configure writes through the host under the root") {
  Fixture f;
  ServiceManager manager(f.config(), f.host);
  manager.set_option("sample", "motd", "hi there");
  manager.configure("sample");
  std::ifstream in(f.tmp / "etc/sample/sample.conf");
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "motd=hi there\n");
}

TEST_CASE("Commands check their arguments and plugin failures become errors") {
  Fixture f;
  ServiceManager manager(f.config(), f.host);
  CHECK(manager.run_command("sample", "echo", {"word"}, "secret") == "echo word 6");
  CHECK(code_of([&] { manager.run_command("sample", "echo", {}, "s"); }) == ErrorCode::InvalidValue);
  CHECK(code_of([&] { manager.run_command("sample", "echo", {"w"}, ""); }) == ErrorCode::InvalidValue);
  CHECK(code_of([&] { manager.run_command("sample", "nope", {}, ""); }) == ErrorCode::InvalidValue);
  auto message = message_of([&] { manager.run_command("sample", "echo", {"fail"}, "s"); });
  CHECK(message.find("asked to fail") != std::string::npos);
  CHECK(code_of([&] { manager.run_command("sample", "echo", {"fail"}, "s"); }) == ErrorCode::Failed);
}

TEST_CASE("A Persistent Storage unlocked while a service runs with amnesic state never gets that state saved over it") {
  Fixture f;
  DaemonConfig config = f.config();
  config.persistence_root = f.tmp / "persistence";  // locked: not there yet
  ServiceManager manager(config, f.host);
  const std::string amnesic_address = manager.ensure_onion_key("sample");
  manager.set_option("sample", "motd", "amnesic");
  manager.set_enabled("sample", true);

  // The unlock: the saved state of an earlier session appears, with its own key.
  DaemonConfig earlier = f.config();
  earlier.state_dir = f.tmp / "earlier";
  ServiceManager earlier_manager(earlier, f.host);
  const std::string saved_address = earlier_manager.ensure_onion_key("sample");
  earlier_manager.set_option("sample", "motd", "saved");
  const auto saved = config.persistence_root / "tails-server/sample";
  std::filesystem::create_directories(saved / "state");
  std::filesystem::copy_file(earlier.state_dir / "sample.state.json", saved / "state.json");
  std::filesystem::copy_file(earlier.state_dir / "sample/hs_ed25519_secret_key", saved / "state/hs_ed25519_secret_key");
  auto read = [](const std::filesystem::path& file) {
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string saved_json = read(saved / "state.json");

  CHECK(manager.load_persistent_state().empty());  // it runs: its state is not replaced
  manager.set_enabled("sample", false);
  manager.set_option("sample", "motd", "changed while amnesic");
  CHECK(read(saved / "state.json") == saved_json);
  CHECK(read(config.state_dir / "sample.state.json").find("changed while amnesic") != std::string::npos);
  CHECK(manager.onion_address("sample") == amnesic_address);
  CHECK(manager.onion_address("sample") != saved_address);
  CHECK_FALSE(manager.persistent("sample"));
  // Turning persistence on now would mix the two: refused, saying how to choose.
  CHECK(message_of([&] { manager.set_option("sample", "persistence", "true"); }).find("kept apart") !=
        std::string::npos);
  CHECK(read(saved / "state.json") == saved_json);
}

TEST_CASE("Packages a state file lists beyond the plugin's own are never given to uninstall to purge") {
  Fixture f;
  {
    ServiceManager manager(f.config(), f.host);
    manager.add_packages_installed_by_us("sample", {"coreutils"});
  }
  // Someone who could write the state file adds the system's packages.
  std::string path = (f.tmp / "state/sample.state.json").string();
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto at = text.find("\"coreutils\"");
  REQUIRE(at != std::string::npos);
  text.insert(at, "\"openssh-server\", \"libc6\", ");
  std::ofstream(path) << text;

  ServiceManager manager(f.config(), f.host);
  CHECK(manager.packages_installed_by_us("sample") == std::vector<std::string>{"coreutils"});
}
