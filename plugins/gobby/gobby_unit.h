// The text of tails-server-infinoted.service: infinoted ships no unit, no
// user and no config (docs/services.md#the-infinoted-unit-and-user).
#pragma once

#include <string>

namespace tails_server_gobby {

struct GobbyUnitSettings {
  // Absolute paths as systemd must see them (already mapped by Host::path).
  std::string config_file;
  std::string data_directory;  // also the service user's HOME
  std::string user = "tails-server-infinoted";
  std::string group = "tails-server-infinoted";
};

inline constexpr const char* unit_file = "/etc/systemd/system/tails-server-infinoted.service";

// infinoted in the foreground as the service user, reading its password from
// the 0600 config file (never from argv), HOME in the data directory (it
// caches DH parameters in $HOME/.infinoted), restarted on failure (not
// reloaded: SIGHUP ignores --config-file), with systemd's sandboxing: the
// whole file system read-only but the data directory, no devices, no new
// privileges, no D-Bus (so no mDNS announcement through Avahi, which
// infinoted cannot turn off itself).
// Throws std::invalid_argument for a path or name that a unit file could only
// hold quoted or with specifiers expanded (anything but [A-Za-z0-9/._+-]).
std::string infinoted_unit_text(const GobbyUnitSettings& settings);

}  // namespace tails_server_gobby
