// Tests of the chat plugin: its JSON and unit text, and the configuration it
// writes through the real core, read by the real chat server (--check-config,
// then served over HTTP).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "chat_config.h"
#include "service_process.h"
#include "temp_dir.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace tails_server;
using namespace std::chrono_literals;
using tails_server::test::DaemonProcess;
using tails_server_chat::chat_config_text;
using tails_server_chat::chat_unit_text;
using tails_server_chat::ChatSettings;
using tails_server_chat::ChatUnitSettings;

namespace {

// Quotes, backslashes, markup, a comment, UTF-8 and JSON's own syntax.
const std::string hostile_title = "</title><script>alert(\"x\")</script> \\\" {}, // é ☃";
const std::string hostile_motd = "line one\nline <b>two</b> & \"three\"\n#not a comment\n}";

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

unsigned mode_of(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

struct Core {
  test::TempDir tmp{"tails-server-chat"};
  core::SystemHost host{tmp.path()};
  core::DaemonConfig config;
  std::unique_ptr<core::ServiceManager> manager;
  Core() {
    fs::create_directory(tmp / "etc");
    config.plugin_dirs = {TAILS_SERVER_PLUGIN_OUTPUT_DIR};
    config.root = tmp.path();
    config.state_dir = tmp / "state";
    manager = std::make_unique<core::ServiceManager>(config, host);
  }
};

}  // namespace

TEST_CASE("chat_config_text writes every value so that JSON reads it back exactly") {
  ChatSettings s;
  s.listen = {{"127.0.0.1", 8990}, {"192.168.1.5", 8990}};
  s.title = hostile_title;
  s.motd = hostile_motd;
  s.max_users = 7;
  s.history = 3;
  auto json = nlohmann::json::parse(chat_config_text(s));
  CHECK(json.at("title") == hostile_title);
  CHECK(json.at("motd") == hostile_motd);
  CHECK(json.at("max_users") == 7);
  CHECK(json.at("history") == 3);
  CHECK(json.at("listen").size() == 2);
  CHECK(json.at("listen")[1].at("address") == "192.168.1.5");
  CHECK(json.at("listen")[1].at("port") == 8990);
  s.title = std::string("bad \xff byte");
  CHECK_THROWS_AS(chat_config_text(s), std::invalid_argument);
}

TEST_CASE("the chat unit keeps nothing: a dynamic user and no writable path") {
  std::string unit = chat_unit_text({"/usr/libexec/tails-server/tails-server-chat", "/etc/tails-server/chat.json"});
  for (const char* line : {"DynamicUser=yes\n", "ProtectSystem=strict\n", "PrivateTmp=yes\n",
                           "MemoryDenyWriteExecute=yes\n", "LimitCORE=0\n", "MemorySwapMax=0\n", "Restart=on-failure\n",
                           "ReadWritePaths=\n", "ExecStart=/usr/libexec/tails-server/tails-server-chat --config "
                                                "/etc/tails-server/chat.json\n"})
    CHECK_MESSAGE(unit.find(line) != std::string::npos, line);
  CHECK(unit.find("StateDirectory") == std::string::npos);
  CHECK(unit.find("[Install]") == std::string::npos);
  CHECK_THROWS(chat_unit_text({"/usr/libexec/x y\nz", "/etc/tails-server/chat.json"}));
}

TEST_CASE("the chat plugin lists no package and refuses hostile option values naming what it accepts") {
  Core c;
  const auto& service = c.manager->service("chat");
  CHECK(service.packages.empty());
  CHECK(service.persistent_paths.empty());
  CHECK_THROWS_WITH(c.manager->set_option("chat", "title", "two\nlines"), doctest::Contains("title"));
  CHECK_THROWS(c.manager->set_option("chat", "title", std::string(201, 'a')));
  CHECK_THROWS(c.manager->set_option("chat", "title", std::string("bad \xff byte")));
  CHECK_THROWS(c.manager->set_option("chat", "motd", std::string("bell \a")));
  CHECK_THROWS(c.manager->set_option("chat", "motd", std::string(2001, 'a')));
  CHECK_THROWS_WITH(c.manager->set_option("chat", "max-users", "0"), doctest::Contains("1"));
  CHECK_THROWS(c.manager->set_option("chat", "max-users", "1001"));
  CHECK_THROWS(c.manager->set_option("chat", "history", "-1"));
  CHECK_THROWS(c.manager->set_option("chat", "history", "501"));
  CHECK(c.manager->set_option("chat", "title", std::string(200, 'a')) == std::string(200, 'a'));
}

TEST_CASE("the real chat server reads the configuration the plugin wrote and shows the hostile title escaped") {
  Core c;
  const std::uint16_t port = test::free_port();
  REQUIRE(c.manager->set_option("chat", "title", hostile_title) == hostile_title);
  REQUIRE(c.manager->set_option("chat", "motd", hostile_motd) == hostile_motd);
  REQUIRE(c.manager->set_option("chat", "max-users", "3") == "3");
  REQUIRE(c.manager->set_option("chat", "history", "10") == "10");
  REQUIRE(c.manager->set_option("chat", "local-port", std::to_string(port)) == std::to_string(port));
  c.manager->configure("chat");

  fs::path config = c.tmp / "etc/tails-server/chat.json";
  fs::path unit = c.tmp / "etc/systemd/system/tails-server-chat.service";
  REQUIRE(fs::exists(config));
  CHECK(mode_of(config) == 0644);
  CHECK(mode_of(unit) == 0644);
  auto json = nlohmann::json::parse(read_text(config));
  CHECK(json.at("title") == hostile_title);
  CHECK(json.at("motd") == hostile_motd);
  CHECK(json.at("max_users") == 3);
  CHECK(json.at("history") == 10);
  CHECK(json.at("listen") == nlohmann::json::parse(R"([{"address": "127.0.0.1", "port": )" +
                                                   std::to_string(port) + "}]"));
  CHECK(read_text(unit).find("--config " + config.string() + "\n") != std::string::npos);

  auto check = test::run_program({TAILS_SERVER_CHAT_SERVER, "--check-config", config.string()}, "", 30s);
  CHECK_MESSAGE(check.exit_code == 0, check.output);

  DaemonProcess server({TAILS_SERVER_CHAT_SERVER, "--config", config.string()}, c.tmp / "server.log");
  REQUIRE_MESSAGE(test::wait_for_port(port, server, 20s), server.log());
  auto page = test::run_program({"curl", "-sS", "--max-time", "10", "http://127.0.0.1:" + std::to_string(port) + "/"},
                                "", 30s);
  REQUIRE_MESSAGE(page.exit_code == 0, page.output);
  CHECK(page.output.find("&lt;/title&gt;&lt;script&gt;alert(") != std::string::npos);
  CHECK(page.output.find("<script>alert(") == std::string::npos);
  CHECK(page.output.find("line <b>two</b>") == std::string::npos);
  server.stop();
  // The server logs no title, motd or anything a guest said.
  CHECK(server.log().find("alert") == std::string::npos);
}

TEST_CASE("with allow-lan the real chat server listens on every IPv4 and every IPv6 address") {
  Core c;
  const std::uint16_t port = test::free_port();
  REQUIRE(c.manager->set_option("chat", "local-port", std::to_string(port)) == std::to_string(port));
  REQUIRE(c.manager->set_option("chat", "allow-lan", "true") == "true");
  c.manager->configure("chat");
  fs::path config = c.tmp / "etc/tails-server/chat.json";
  auto json = nlohmann::json::parse(read_text(config));
  CHECK(json.at("listen").size() == 2);
  DaemonProcess server({TAILS_SERVER_CHAT_SERVER, "--config", config.string()}, c.tmp / "server.log");
  REQUIRE_MESSAGE(test::wait_for_port(port, server, 20s), server.log());
  CHECK(test::listening_addresses(port) == std::set<std::string>{"0.0.0.0", "::"});
}
