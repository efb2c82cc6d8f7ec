// The text of the native systemd unit mumble-server.service that replaces
// the one systemd-sysv-generator makes from /etc/init.d/mumble-server (whose
// RemainAfterExit=yes keeps it "active" after murmurd died).
#pragma once

#include <string>

namespace tails_server_mumble {

struct MumbleUnitSettings {
  // Absolute paths as systemd must see them (already mapped by Host::path).
  std::string ini_file;
  std::string data_directory;
  std::string log_directory;
  std::string user = "mumble-server";
  std::string group = "mumble-server";
};

// Where the unit goes: a unit in /etc/systemd/system overrides the
// generator's unit of the same name.
inline constexpr const char* unit_file = "/etc/systemd/system/mumble-server.service";

// murmurd in the foreground (its log goes to the journal) as the service
// user, restarted on failure, with systemd's sandboxing: the whole file
// system read-only but the data and log directories, no devices, no new
// privileges, no D-Bus (no mDNS announcement through Avahi either).
// Throws std::invalid_argument for a path or name that a unit file could only
// hold quoted or with specifiers expanded (anything but [A-Za-z0-9/._+-]).
std::string mumble_unit_text(const MumbleUnitSettings& settings);

}  // namespace tails_server_mumble
