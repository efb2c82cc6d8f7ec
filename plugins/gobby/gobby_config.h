// The text of infinoted.conf (a GKeyFile), from the service's settings.
#pragma once

#include <cstdint>
#include <string>

namespace tails_server_gobby {

struct GobbySettings {
  // Absolute paths as infinoted must see them (already mapped by Host::path).
  std::string key_file;
  std::string certificate_file;
  std::string root_directory;
  std::string listen_address;
  std::uint16_t port = 6523;
  std::string password;
  std::int64_t autosave_interval = 60;
};

// Every string goes through tails_server::escape::gkeyfile_string. Throws
// tails_server::escape::EscapeError for a value the format cannot hold.
std::string infinoted_conf_text(const GobbySettings& settings);

}  // namespace tails_server_gobby
