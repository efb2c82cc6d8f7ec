// The record of the rules applied (core/firewall/rules_record.h): what a
// restarted daemon reads back for the services of crashed plugins.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "firewall/rules_record.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

using namespace tails_server::core;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "rules-record-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

}  // namespace

TEST_CASE("a saved record reads back the same rules with mode 0600") {
  TempDir dir;
  fs::path file = dir.path / "firewall.json";
  save_firewall_record(file, {{"mumble", {64738}, false, true}, {"gobby", {6523, 6524}, true, false}});
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(fs::exists(dir.path / "firewall.json.new"));
  auto services = load_firewall_record(file);
  REQUIRE(services.size() == 2);
  CHECK(services["mumble"].ports == std::vector<std::uint16_t>{64738});
  CHECK(services["mumble"].allow_lan);
  CHECK_FALSE(services["mumble"].allow_localhost);
  CHECK(services["gobby"].ports == std::vector<std::uint16_t>{6523, 6524});
  CHECK(services["gobby"].allow_localhost);
  CHECK(services["gobby"].tor_only_user.empty());
  // A tor-only account's rules come back too; a record without them (older) reads as none.
  save_firewall_record(file, {{"prosody", {5222}, false, false, "prosody", "127.0.0.1", 9050}});
  services = load_firewall_record(file);
  CHECK(services["prosody"].tor_only_user == "prosody");
  CHECK(services["prosody"].tor_socks_host == "127.0.0.1");
  CHECK(services["prosody"].tor_socks_port == 9050);
  save_firewall_record(file, {});
  CHECK(load_firewall_record(file).empty());
}

TEST_CASE("no record or a malformed one or a port out of range or a link gives no rules") {
  TempDir dir;
  fs::path file = dir.path / "firewall.json";
  CHECK(load_firewall_record(file).empty());
  write(file, "[{\"name\": \"mumble\", \"ports\": [64738]");
  CHECK(load_firewall_record(file).empty());
  write(file, "[{\"name\": \"mumble\", \"ports\": [70000], \"allow_localhost\": false, \"allow_lan\": false}]");
  CHECK(load_firewall_record(file).empty());
  write(dir.path / "elsewhere.json",
        "[{\"name\": \"mumble\", \"ports\": [64738], \"allow_localhost\": false, \"allow_lan\": false}]");
  fs::remove(file);
  fs::create_symlink(dir.path / "elsewhere.json", file);
  CHECK(load_firewall_record(file).empty());
}
