// The text of icecast.xml and of the icecast2 unit, from the service's settings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tails_server_icecast {

struct IcecastSettings {
  std::string hostname;  // the onion address, or "localhost" before there is one
  std::vector<std::string> listen_addresses;  // from ServiceContext::listen_addresses()
  std::uint16_t port = 8000;
  std::string source_password;
  std::string admin_user = "admin";
  std::string admin_password;
  std::string mount = "/stream.ogg";
  std::int64_t max_listeners = 20;
};

// Every value goes through tails_server::escape::xml_text. Throws
// tails_server::escape::EscapeError for a value XML cannot hold.
std::string icecast_xml_text(const IcecastSettings& settings);

// Where the unit goes: it overrides the one systemd-sysv-generator makes from
// /etc/init.d/icecast2.
inline constexpr const char* unit_file = "/etc/systemd/system/icecast2.service";

struct IcecastUnitSettings {
  std::string config_file;  // as systemd must see it (already mapped by Host::path)
  std::string user = "icecast2";
  std::string group = "icecast";
};

// icecast2 in the foreground as its user, with systemd's sandboxing and
// nothing writable. Throws std::invalid_argument for a path or name a unit
// could only hold quoted.
std::string icecast_unit_text(const IcecastUnitSettings& settings);

}  // namespace tails_server_icecast
