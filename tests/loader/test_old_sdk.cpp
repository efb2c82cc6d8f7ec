// A plugin built against an older SDK minor: old-sdk.so, built against the
// SDK 2.0 headers kept verbatim in tests/fixtures/sdk-2.0, loads in this
// daemon and works through the core, so the Host, ServiceContext and
// TailsService vtables and layouts it was compiled against are still ours.
#include "loader_test_support.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"

#include <tails_server/version.h>

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using tails_server::core::ServiceError;

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string field(const tails_server::ConnectionInfo& info, const std::string& label) {
  for (const auto& [key, value] : info.fields)
    if (key == label) return value;
  return "(no field " + label + ")";
}

// A daemon's service manager over a temporary root, with only old-sdk.so in
// its plugin directory.
struct OldSdkDaemon {
  TempDir plugins{"tails-server-loader-test"};
  TempDir root{"tails-server-root-test"};
  tails_server::core::SystemHost host{root.path()};
  tails_server::core::DaemonConfig config;

  OldSdkDaemon() {
    copy_fixture("old-sdk.so", plugins.path());
    fs::create_directory(root / "etc");
    config.plugin_dirs = {plugins.path()};
    config.root = root.path();
    config.state_dir = root / "state";
  }
};

}  // namespace

TEST_CASE("a plugin built against the SDK 2.0 headers loads in this daemon recording its SDK version") {
  // This daemon is newer: the fixture tests a lower minor only while there is one.
  static_assert(TAILS_SERVER_API_MAJOR == 2 && TAILS_SERVER_API_MINOR > 0);
  Scan scan({"old-sdk.so"});
  const PluginRecord& record = scan.only();
  INFO(record.message);
  REQUIRE(record.state == PluginState::Loaded);
  CHECK(record.message.empty());
  CHECK(record.name == "old-sdk");
  CHECK(record.sdk_version == "2.0");
  // Lower than this daemon's own version, which it still loads.
  CHECK(record.sdk_version != std::to_string(TAILS_SERVER_API_MAJOR) + "." + std::to_string(TAILS_SERVER_API_MINOR));
  REQUIRE(record.service);
  CHECK(record.service->name == "old-sdk");
  CHECK(record.service->packages == std::vector<std::string>{"python3"});
  CHECK(record.service->default_local_port == 8091);
  // A field appended after 2.0's would read past the end of its object: none is.
  CHECK(record.service->keep_unit_disabled);
  REQUIRE(record.service->options.size() == 2);
  CHECK(record.service->options[0]->type_name() == "string");
  CHECK(record.service->options[1]->type_name() == "integer");
}

TEST_CASE("a plugin built against the SDK 2.0 headers runs its options and hooks and command through the core") {
  OldSdkDaemon daemon;
  tails_server::core::ServiceManager manager(daemon.config, daemon.host);
  REQUIRE(manager.service_names() == std::vector<std::string>{"old-sdk"});
  CHECK(manager.plugins().at(0).sdk_version == "2.0");

  // Its own options with 2.0's rules, next to the standard ones the core adds.
  CHECK(manager.get_option("old-sdk", "greeting") == "hello");
  CHECK(manager.get_option("old-sdk", "local-port") == "8091");
  CHECK_THROWS_AS(manager.set_option("old-sdk", "greeting", "#comment"), ServiceError);
  CHECK_THROWS_AS(manager.set_option("old-sdk", "greeting", "two\nlines"), ServiceError);
  CHECK_THROWS_AS(manager.set_option("old-sdk", "greeting", std::string(65, 'x')), ServiceError);
  try {
    manager.set_option("old-sdk", "greeting", " padded");
    FAIL("a value with a leading space was accepted");
  } catch (const ServiceError& error) {
    // StringRules::check refused it, and accepted() names check_accepts.
    CHECK(contains(error.what(), "no space at either end"));
  }
  CHECK(manager.get_option("old-sdk", "greeting") == "hello");
  CHECK_THROWS_AS(manager.set_option("old-sdk", "repeat", "6"), ServiceError);

  const std::string greeting = "@say \"hi\"; back\\slash";
  CHECK(manager.set_option("old-sdk", "greeting", greeting) == greeting);
  CHECK(manager.set_option("old-sdk", "repeat", "2") == "2");

  // configure() writes through Host with the system path, escaped with qsettings_ini.
  manager.configure("old-sdk");
  const fs::path conf = daemon.root / "etc/old-sdk.conf";
  REQUIRE(fs::exists(conf));
  struct stat st {};
  REQUIRE(::stat(conf.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(read_text(conf) ==
        "[old-sdk]\n"
        "greeting=\"@@say \\\"hi\\\"; back\\\\slash\"\n"
        "repeat=2\n"
        "listen=127.0.0.1\n");

  // Its commands, through ServiceContext and Host.
  CHECK(manager.run_command("old-sdk", "ping", {}, {}) == "pong from old-sdk");
  CHECK(manager.run_command("old-sdk", "greet", {"Alice"}, {}) == greeting + ", Alice!" + greeting + ", Alice!");
  CHECK_THROWS_AS(manager.run_command("old-sdk", "greet", {}, {}), ServiceError);

  // Its connection_info override.
  const std::string address = manager.ensure_onion_key("old-sdk");
  REQUIRE(!address.empty());
  tails_server::ConnectionInfo info = manager.connection_info("old-sdk");
  CHECK(field(info, "address") == address);
  CHECK(field(info, "port") == "8091");
  CHECK(field(info, "greeting") == greeting);
  CHECK(info.instructions == "curl --socks5-hostname 127.0.0.1:9050 http://" + address + "/");
}
