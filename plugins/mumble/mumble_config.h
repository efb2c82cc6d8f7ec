// The text of /etc/mumble-server.ini, from the service's settings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tails_server_mumble {

struct MumbleSettings {
  // Absolute paths as murmurd must see them (already mapped by Host::path).
  std::string database;
  std::string log_file;
  std::string pid_file;
  std::string certificate_file;
  std::string key_file;
  std::vector<std::string> listen_addresses;  // murmurd binds each one
  std::uint16_t port = 64738;
  std::string server_password;
  std::string welcome_text;
  std::int64_t max_users = 100;
  std::string user = "mumble-server";
};

// Every value goes through tails_server::escape::qsettings_ini (always quoted).
// Throws tails_server::escape::EscapeError for a value the format cannot hold.
std::string mumble_ini_text(const MumbleSettings& settings);

}  // namespace tails_server_mumble
