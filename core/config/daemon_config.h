// The daemon's configuration: /etc/tails-server/config.yaml.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace tails_server::core {

struct DaemonConfig {
  std::vector<std::filesystem::path> plugin_dirs{"/usr/lib/tails-server/plugins"};
  // System root the plugins write under. "/" except in tests.
  std::filesystem::path root = "/";
  std::filesystem::path state_dir = "/var/lib/tails-server";
  // Where the crash records live (plugins/quarantine.h): survives the
  // daemon's death, not a reboot. Empty: none are kept.
  std::filesystem::path runtime_dir;
  std::string tor_control = "unix:/run/tor/control";
  std::filesystem::path tor_cookie = "/run/tor/control.authcookie";
  // The SOCKS port of the same tor (tor_control's), for services that reach
  // other onions (Prosody's federation): a loopback IPv4 address and a port.
  // Tails' tor listens on 127.0.0.1:9050.
  std::string tor_socks_host = "127.0.0.1";
  std::uint16_t tor_socks_port = 9050;
  std::filesystem::path persistence_root = "/live/persistence/TailsData_unlocked";
  // "iptables", "nftables" or "none" (firewall_backend_none).
  std::string firewall_backend = "iptables";
  // How long autostart waits for a service's missing packages, in seconds
  // (on Tails, Additional Software installs them after the unlock).
  unsigned autostart_package_wait = 600;
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// firewall_backend: none leaves the host's firewall alone: no program runs
// and no service gets rules. For plugin development only (the harness).
inline constexpr const char* firewall_backend_none = "none";

inline constexpr const char* default_config_file = "/etc/tails-server/config.yaml";
// Colon-separated extra plugin directories, for development.
inline constexpr const char* plugin_path_variable = "TAILS_SERVER_PLUGIN_PATH";

// Set by systemd from the unit's RuntimeDirectory= (/run/tails-server).
inline constexpr const char* runtime_directory_variable = "RUNTIME_DIRECTORY";

// "127.0.0.1:9050" → host and port. Only a loopback IPv4 address
// (127.0.0.0/8, dotted quad) and a port 1-65535 are accepted: the firewall
// rules and the services' configuration take them as they are. Throws
// ConfigError saying what is accepted.
void parse_tor_socks(const std::string& text, std::string& host, std::uint16_t& port);

// Reads `file` (a missing file gives the defaults), takes runtime_dir from
// RUNTIME_DIRECTORY unless the file sets it, then appends the
// directories of TAILS_SERVER_PLUGIN_PATH. Throws ConfigError naming the file,
// the line and the key for malformed YAML, unknown keys or wrong types.
DaemonConfig load_daemon_config(const std::filesystem::path& file);

}  // namespace tails_server::core
