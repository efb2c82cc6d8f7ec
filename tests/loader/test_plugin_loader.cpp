// The plugin loader against real shared libraries: the fixture plugins in
// TAILS_SERVER_FIXTURE_DIR (one good one and one of each way to be refused)
// and the project's own plugins in TAILS_SERVER_PLUGIN_OUTPUT_DIR.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "loader_test_support.h"

#include <tails_server/version.h>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::vector<std::string> read_lines(const fs::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The context a service method needs; these tests call only run_command.
class FakeContext : public tails_server::ServiceContext {
 public:
  tails_server::Host& host() const override { throw std::logic_error("no host in this test"); }
  std::string option(std::string_view name) const override {
    throw tails_server::OptionError("no option " + std::string(name));
  }
  std::string onion_address() const override { return {}; }
  std::vector<std::string> listen_addresses() const override { return {"127.0.0.1"}; }
};

std::string ping(tails_server::TailsService& service) {
  FakeContext context;
  return service.run_command(context, "ping", {}, {});
}

const std::string kAbiTag = TAILS_SERVER_ABI_TAG;
const std::string kApi =
    std::to_string(TAILS_SERVER_API_MAJOR) + "." + std::to_string(TAILS_SERVER_API_MINOR);

}  // namespace

TEST_CASE("to_string gives every plugin state its documented name") {
  CHECK(to_string(PluginState::Loaded) == "loaded");
  CHECK(to_string(PluginState::NotAPlugin) == "not-a-plugin");
  CHECK(to_string(PluginState::Insecure) == "insecure");
  CHECK(to_string(PluginState::Unreadable) == "unreadable");
  CHECK(to_string(PluginState::Corrupt) == "corrupt");
  CHECK(to_string(PluginState::LoadFailed) == "load-failed");
  CHECK(to_string(PluginState::WrongApiVersion) == "wrong-api-version");
  CHECK(to_string(PluginState::WrongAbi) == "wrong-abi");
  CHECK(to_string(PluginState::NoFactory) == "no-factory");
  CHECK(to_string(PluginState::ConstructorFailed) == "constructor-failed");
  CHECK(to_string(PluginState::InvalidMetadata) == "invalid-metadata");
  CHECK(to_string(PluginState::Duplicate) == "duplicate");
  CHECK(to_string(PluginState::Crashed) == "crashed");
}

TEST_CASE("a good plugin is loaded and its service answers") {
  Scan scan({"good.so"});
  const PluginRecord& record = scan.only();
  INFO(record.message);
  REQUIRE(record.state == PluginState::Loaded);
  CHECK(record.name == "good");
  CHECK(record.message.empty());
  REQUIRE(record.service);
  CHECK(record.service->name == "good");
  CHECK(record.service->options.size() == 1);
  CHECK(record.service->options[0]->parse("true") == "true");
  CHECK(ping(*record.service) == "pong from good");
}

TEST_CASE("a shared library without the info symbol is not a plugin") {
  Scan scan({"not-a-plugin.so"});
  check_refused(scan.only(), PluginState::NotAPlugin,
                {"tails_server_plugin_info_v1", "not a Tails Server plugin"});
  CHECK(scan.only().name.empty());
}

TEST_CASE("a text file or an empty file named .so is not a plugin") {
  Scan scan({"text.so", "empty.so"});
  check_refused(scan.record("text.so"), PluginState::NotAPlugin, {"invalid ELF header"});
  check_refused(scan.record("empty.so"), PluginState::NotAPlugin, {"file too short"});
}

TEST_CASE("files not named .so and missing directories are skipped") {
  TempDir dir("tails-server-loader-test");
  copy_fixture("README.txt", dir.path());
  copy_fixture("good.so", dir.path(), "good.so.1");
  PluginLoader loader;
  CHECK(loader.load({dir / "missing", dir.path(), "/nonexistent/tails-server"}).empty());
}

TEST_CASE("a plugin built for another API major is refused before it is constructed") {
  // Its service aborts the program if it is ever constructed.
  Scan scan({"wrong-major.so"});
  check_refused(scan.only(), PluginState::WrongApiVersion,
                {"Wrong API version",
                 "built for " + std::to_string(TAILS_SERVER_API_MAJOR + 1) + ".0",
                 "this host supports " + kApi, "Rebuild it against this SDK"});
  CHECK(scan.only().name == "wrong-major");
  // The SDK version it was built against is recorded for list --all.
  CHECK(scan.only().sdk_version == std::to_string(TAILS_SERVER_API_MAJOR + 1) + ".0");
}

TEST_CASE("a plugin built against SDK 1.x is refused before it is constructed") {
  // 2.0 changed MAJOR: a 1.x plugin's classes have another layout.
  Scan scan({"older-major.so"});
  check_refused(scan.only(), PluginState::WrongApiVersion,
                {"Wrong API version", "built for " + std::to_string(TAILS_SERVER_API_MAJOR - 1) + ".1",
                 "this host supports " + kApi});
  CHECK(scan.only().sdk_version == std::to_string(TAILS_SERVER_API_MAJOR - 1) + ".1");
}

TEST_CASE("a plugin built for a newer API minor is refused") {
  Scan scan({"newer-minor.so"});
  check_refused(scan.only(), PluginState::WrongApiVersion,
                {"built for " + std::to_string(TAILS_SERVER_API_MAJOR) + "." +
                     std::to_string(TAILS_SERVER_API_MINOR + 1),
                 "this host supports " + kApi,
                 "minor up to " + std::to_string(TAILS_SERVER_API_MINOR)});
}

TEST_CASE("a plugin with another ABI tag is refused naming both tags") {
  Scan scan({"wrong-abi.so", "no-abi-tag.so"});
  check_refused(scan.record("wrong-abi.so"), PluginState::WrongAbi,
                {"'tails-server-1;gxx-abi-1002;cxx11-abi-0'", "'" + kAbiTag + "'"});
  check_refused(scan.record("no-abi-tag.so"), PluginState::WrongAbi, {"(none)", kAbiTag});
}

TEST_CASE("an info symbol with the wrong magic number is not a plugin") {
  Scan scan({"bad-magic.so"});
  check_refused(scan.only(), PluginState::NotAPlugin, {"0x12345678", "0x54535031"});
}

TEST_CASE("a plugin without a factory is refused") {
  Scan scan({"no-factory.so"});
  check_refused(scan.only(), PluginState::NoFactory,
                {"tails_server_create_service", "TAILS_SERVER_PLUGIN("});
}

TEST_CASE("a plugin whose factory fails is refused with the reason") {
  Scan scan({"throws.so", "throws-int.so", "returns-null.so"});
  check_refused(scan.record("throws.so"), PluginState::ConstructorFailed,
                {"the fixture's constructor failed on purpose"});
  check_refused(scan.record("throws-int.so"), PluginState::ConstructorFailed,
                {"not a std::exception"});
  check_refused(scan.record("returns-null.so"), PluginState::ConstructorFailed,
                {"returned no service"});
}

TEST_CASE("a plugin with an undefined symbol fails to load with dlerror's text") {
  Scan scan({"undefined-symbol.so"});
  check_refused(scan.only(), PluginState::LoadFailed,
                {"undefined symbol: tails_server_fixture_missing_function"});
  CHECK_FALSE(contains(scan.only().message, "boost::dll"));
}

TEST_CASE("a second plugin of the same name is refused as a duplicate naming both files") {
  Scan scan({"good.so", "twin.so"});
  const PluginRecord& first = scan.record("good.so");
  const PluginRecord& twin = scan.record("twin.so");
  CHECK(first.state == PluginState::Loaded);
  check_refused(twin, PluginState::Duplicate, {"'good'", "'" + first.file.string() + "'"});
  CHECK(twin.name == "good");
}

TEST_CASE("a plugin that group or others can write is refused as insecure naming its mode") {
  TempDir dir("tails-server-loader-test");
  fs::permissions(copy_fixture("good.so", dir.path(), "group-writable.so"), fs::perms(0664));
  fs::permissions(copy_fixture("good.so", dir.path(), "world-writable.so"), fs::perms(0646));
  PluginLoader loader;
  const auto& records = loader.load({dir.path()});
  REQUIRE(records.size() == 2);
  check_refused(records[0], PluginState::Insecure, {"writable by group or others", "mode 0664",
                                                    "chmod go-w"});
  check_refused(records[1], PluginState::Insecure, {"mode 0646"});
  CHECK_FALSE(is_resident(records[0].file));
}

TEST_CASE("a plugin owned by another user is refused as insecure") {
  if (geteuid() != 0) {
    MESSAGE("skipped: only root can give a file to another user");
    return;
  }
  TempDir dir("tails-server-loader-test");
  fs::path file = copy_fixture("good.so", dir.path(), "nobody.so");
  REQUIRE(chown(file.c_str(), 65534, 65534) == 0);
  PluginLoader loader;
  const auto& records = loader.load({dir.path()});
  REQUIRE(records.size() == 1);
  check_refused(records[0], PluginState::Insecure, {"owned by uid 65534", "root (uid 0)"});
}

TEST_CASE("a plugin with invalid metadata is refused naming the field") {
  const std::map<std::string, std::vector<std::string>> expected = {
      {"bad-name", {"name 'Bad_Name'", "[a-z][a-z0-9-]{0,31}"}},
      {"name-mismatch", {"name 'another-name'", "'invalid-name-mismatch'"}},
      {"bad-package", {"packages[1] 'Not A Package'", "Debian package name"}},
      {"port-zero", {"default_local_port is 0", "1 to 65535"}},
      {"standard-option", {"options[1] name 'persistence'", "standard option"}},
      {"duplicate-option", {"options[1] name 'verbose'", "unique"}},
      {"bad-option-name", {"options[1] name 'Quiet_Mode'", "[a-z][a-z0-9-]*"}},
      {"null-option", {"options[1] is null"}},
      {"relative-path", {"persistent_paths[1] 'var/lib/relative'", "absolute"}},
      {"duplicate-command", {"commands[1] name 'ping'", "unique"}},
      {"empty-description", {"description must not be empty"}},
      {"empty-unit", {"systemd_service must not be empty"}},
  };
  for (const auto& [kind, parts] : expected) {
    SUBCASE(kind.c_str()) {
      Scan scan({"invalid-" + kind + ".so"});
      check_refused(scan.only(), PluginState::InvalidMetadata, parts);
      CHECK(contains(scan.only().message, "Invalid metadata"));
    }
  }
}

TEST_CASE("a plugin that lists no package loads: its program ships with Tails Server") {
  Scan scan({"no-packages.so"});
  REQUIRE(scan.only().state == PluginState::Loaded);
  CHECK(scan.only().service->packages.empty());
}

TEST_CASE("the good plugin loads alongside every bad one in one directory scan") {
  TempDir dir("tails-server-loader-test");
  std::size_t candidates = 0;
  for (const auto& entry : fs::directory_iterator(kFixtureDir)) {
    if (!entry.is_regular_file()) continue;
    copy_fixture(entry.path().filename().string(), dir.path());
    if (entry.path().extension() == ".so") ++candidates;
  }
  fs::permissions(copy_fixture("good.so", dir.path(), "zz-group-writable.so"), fs::perms(0664));
  ++candidates;

  PluginLoader loader;
  const auto& records = loader.load({dir.path()});
  CHECK(records.size() == candidates);
  std::map<std::string, PluginState> states;
  for (const auto& record : records) states[record.file.filename().string()] = record.state;

  CHECK(states["good.so"] == PluginState::Loaded);
  CHECK(states["also-good.so"] == PluginState::Loaded);
  CHECK(states["no-packages.so"] == PluginState::Loaded);
  CHECK(states["old-sdk.so"] == PluginState::Loaded);  // built against the SDK 2.0 headers
  CHECK(states["twin.so"] == PluginState::Duplicate);
  CHECK(states["text.so"] == PluginState::NotAPlugin);
  CHECK(states["not-a-plugin.so"] == PluginState::NotAPlugin);
  CHECK(states["wrong-major.so"] == PluginState::WrongApiVersion);
  CHECK(states["older-major.so"] == PluginState::WrongApiVersion);
  CHECK(states["newer-minor.so"] == PluginState::WrongApiVersion);
  CHECK(states["wrong-abi.so"] == PluginState::WrongAbi);
  CHECK(states["no-factory.so"] == PluginState::NoFactory);
  CHECK(states["throws.so"] == PluginState::ConstructorFailed);
  CHECK(states["undefined-symbol.so"] == PluginState::LoadFailed);
  CHECK(states["invalid-port-zero.so"] == PluginState::InvalidMetadata);
  CHECK(states["zz-group-writable.so"] == PluginState::Insecure);
  CHECK(states.count("README.txt") == 0);

  std::size_t loaded = 0;
  for (const auto& record : records) {
    INFO(record.file.string() << ": " << record.message);
    CHECK((record.state == PluginState::Loaded) == static_cast<bool>(record.service));
    CHECK((record.state == PluginState::Loaded) == record.message.empty());
    if (record.state == PluginState::Loaded) ++loaded;
  }
  CHECK(loaded == 4);  // good, also-good, no-packages, old-sdk

  // Libraries stay loaded after load() returns, whatever the others did.
  for (const auto& record : records)
    if (record.state == PluginState::Loaded) {
      CHECK(is_resident(record.file));
      CHECK(ping(*record.service) == "pong from " + record.name);
    }
}

TEST_CASE("directories are scanned in the order given with each one's files sorted by name") {
  TempDir first("tails-server-loader-test"), second("tails-server-loader-test");
  copy_fixture("twin.so", first.path());  // declares "good" too
  copy_fixture("good.so", second.path());
  copy_fixture("also-good.so", second.path());
  PluginLoader loader;
  const auto& records = loader.load({first.path(), second.path()});
  REQUIRE(records.size() == 3);
  CHECK(records[0].file == first / "twin.so");
  CHECK(records[0].state == PluginState::Loaded);
  CHECK(records[1].file == second / "also-good.so");
  CHECK(records[2].file == second / "good.so");
  check_refused(records[2], PluginState::Duplicate, {(first / "twin.so").string()});
}

TEST_CASE("libraries refused before their factory ran are unloaded but loaded ones are not") {
  Scan scan({"good.so", "wrong-major.so", "no-factory.so", "not-a-plugin.so", "throws.so"});
  CHECK(is_resident(scan.record("good.so").file));
  CHECK_FALSE(is_resident(scan.record("wrong-major.so").file));
  CHECK_FALSE(is_resident(scan.record("no-factory.so").file));
  CHECK_FALSE(is_resident(scan.record("not-a-plugin.so").file));
  // Its code ran, so it stays until the loader goes.
  CHECK(is_resident(scan.record("throws.so").file));
}

TEST_CASE("the loader destroys services in reverse load order and then unloads the libraries") {
  TempDir dir("tails-server-loader-test");
  fs::path log = dir / "events.log";
  setenv("TAILS_SERVER_FIXTURE_LOG", log.c_str(), 1);
  fs::path good = copy_fixture("good.so", dir.path());
  fs::path also_good = copy_fixture("also-good.so", dir.path());
  {
    PluginLoader loader;
    const auto& records = loader.load({dir.path()});
    REQUIRE(records.size() == 2);
    CHECK(records[0].name == "also-good");  // sorted by file name
    CHECK(records[1].name == "good");
    for (const auto& record : records) CHECK(record.state == PluginState::Loaded);
    CHECK(is_resident(good));
  }
  unsetenv("TAILS_SERVER_FIXTURE_LOG");
  CHECK(read_lines(log) == std::vector<std::string>{"destroy good", "destroy also-good",
                                                    "unload good", "unload also-good"});
  CHECK_FALSE(is_resident(good));
  CHECK_FALSE(is_resident(also_good));
}

TEST_CASE("a service kept after the loader is gone keeps its library loaded") {
  TempDir dir("tails-server-loader-test");
  fs::path file = copy_fixture("good.so", dir.path());
  std::shared_ptr<tails_server::TailsService> kept;
  {
    PluginLoader loader;
    kept = loader.load({dir.path()}).at(0).service;
  }
  REQUIRE(kept);
  CHECK(is_resident(file));
  CHECK(ping(*kept) == "pong from good");
  kept.reset();
  CHECK_FALSE(is_resident(file));
}

TEST_CASE("every plugin built into the plugin output directory loads") {
  const fs::path output_dir = TAILS_SERVER_PLUGIN_OUTPUT_DIR;
  TempDir dir("tails-server-loader-test");
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(output_dir, error))
    if (entry.path().extension() == ".so" && entry.is_regular_file()) {
      fs::copy_file(entry.path(), dir / entry.path().filename().string());
      fs::permissions(dir / entry.path().filename().string(), fs::perms(0644));
      found.push_back(entry.path().filename().string());
    }
  if (found.empty()) {
    MESSAGE("no plugin is built in " << output_dir << " yet; nothing to check");
    return;
  }
  PluginLoader loader;
  const auto& records = loader.load({dir.path()});
  CHECK(records.size() == found.size());
  for (const auto& record : records) {
    INFO(record.file.filename().string());
    CHECK_MESSAGE(record.state == PluginState::Loaded,
                  to_string(record.state) << ": " << record.message);
    if (record.state == PluginState::Loaded) {
      CHECK(record.service->name == record.name);
      MESSAGE("loaded " << record.name << " from " << record.file.filename().string());
    }
  }
}
