#include "config/daemon_config.h"

#include "temp_dir.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

using namespace tails_server::core;
using tails_server::test::TempDir;

namespace {
std::string error_of(const std::filesystem::path& file) {
  try {
    load_daemon_config(file);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return {};
}
}  // namespace

TEST_CASE("A missing config file gives the defaults") {
  ::unsetenv(plugin_path_variable);
  auto config = load_daemon_config("/nonexistent/config.yaml");
  REQUIRE(config.plugin_dirs.size() == 1);
  CHECK(config.plugin_dirs[0] == "/usr/lib/tails-server/plugins");
  CHECK(config.tor_control == "unix:/run/tor/control");
  CHECK(config.persistence_root == "/live/persistence/TailsData_unlocked");
  CHECK(config.autostart_package_wait == 600);
}

TEST_CASE("Settings in the config file and the plugin path variable are read") {
  TempDir tmp;
  std::ofstream(tmp / "c.yaml") << "plugin_dirs: [/opt/a, /opt/b]\nstate_dir: /x/state\nfirewall_backend: nftables\n"
                                   "autostart_package_wait: 20\n";
  ::setenv(plugin_path_variable, "/dev/plugins:/more", 1);
  auto config = load_daemon_config(tmp / "c.yaml");
  ::unsetenv(plugin_path_variable);
  REQUIRE(config.plugin_dirs.size() == 4);
  CHECK(config.plugin_dirs[1] == "/opt/b");
  CHECK(config.plugin_dirs[3] == "/more");
  CHECK(config.state_dir == "/x/state");
  CHECK(config.firewall_backend == "nftables");
  CHECK(config.autostart_package_wait == 20);
}

TEST_CASE("The firewall backend none is accepted for plugin development") {
  TempDir tmp;
  std::ofstream(tmp / "none.yaml") << "firewall_backend: none\n";
  CHECK(load_daemon_config(tmp / "none.yaml").firewall_backend == firewall_backend_none);
}

TEST_CASE("An error in the config names the file and the line and says what is accepted") {
  TempDir tmp;
  std::ofstream(tmp / "unknown.yaml") << "root: /\nplugins_dir: /x\n";
  auto message = error_of(tmp / "unknown.yaml");
  CHECK(message.find("unknown.yaml:2") != std::string::npos);
  CHECK(message.find("unknown setting 'plugins_dir'") != std::string::npos);

  std::ofstream(tmp / "relative.yaml") << "state_dir: var/lib\n";
  CHECK(error_of(tmp / "relative.yaml").find("absolute path") != std::string::npos);

  std::ofstream(tmp / "syntax.yaml") << "root: [unclosed\n";
  CHECK(error_of(tmp / "syntax.yaml").find("syntax.yaml:") != std::string::npos);

  std::ofstream(tmp / "firewall.yaml") << "firewall_backend: ufw\n";
  CHECK(error_of(tmp / "firewall.yaml").find("iptables, nftables or none") != std::string::npos);

  for (const char* bad : {"-1", "ten", "86401", "5s"}) {
    CAPTURE(bad);
    std::ofstream(tmp / "wait.yaml") << "autostart_package_wait: " << bad << "\n";
    auto wait_error = error_of(tmp / "wait.yaml");
    CHECK(wait_error.find("'autostart_package_wait' must be a number of seconds from 0 to 86400, got '" +
                          std::string(bad) + "'") != std::string::npos);
  }
}

TEST_CASE("tor_socks is Tails' 127.0.0.1:9050 by default and takes only a loopback IPv4 address and a port") {
  TempDir tmp;
  auto defaults = load_daemon_config(tmp / "missing.yaml");
  CHECK(defaults.tor_socks_host == "127.0.0.1");
  CHECK(defaults.tor_socks_port == 9050);

  std::ofstream(tmp / "socks.yaml") << "tor_socks: 127.0.0.2:19050\n";
  auto config = load_daemon_config(tmp / "socks.yaml");
  CHECK(config.tor_socks_host == "127.0.0.2");
  CHECK(config.tor_socks_port == 19050);

  for (const char* bad : {"10.0.0.1:9050", "localhost:9050", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000",
                          "127.0.0.1:90x", "\"[::1]:9050\"", "127.0.0.1.5:9050", "127.0.0.256:9050",
                          "\"127.0.0.1:9050 -j ACCEPT\""}) {
    std::ofstream(tmp / "bad.yaml") << "tor_socks: " << bad << "\n";
    auto message = error_of(tmp / "bad.yaml");
    INFO(std::string(bad));
    CHECK(message.find("bad.yaml:1") != std::string::npos);
    CHECK(message.find("accepted: a loopback IPv4 address and a port") != std::string::npos);
  }
}
