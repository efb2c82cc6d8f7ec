// The chat server's configuration: a JSON file written by the plugin, read once at start.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tails_server::chat {

struct ListenAddress {
  std::string address;  // a loopback IP literal, or 0.0.0.0 or :: (allow-lan)
  std::uint16_t port = 0;
};

struct Config {
  std::vector<ListenAddress> listen;
  std::string title = "Chat";
  std::string motd;
  int max_users = 20;
  int history = 0;
  int max_message_bytes = 2000;
  int rate_per_minute = 60;
  int rate_burst = 10;
};

// A configuration that cannot be used; what() names the field, what is accepted and what was found.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses and validates a configuration. Throws ConfigError.
Config parse_config(const std::string& json_text);

// Reads and validates the file at `path`. Throws ConfigError (which names the file).
Config load_config(const std::string& path);

}  // namespace tails_server::chat
