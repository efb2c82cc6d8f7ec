// The sandboxing a service's systemd unit should have, for plugins that
// write their own unit (mumble and gobby do, so that the service runs with
// the config file Tails Server writes). Put every value of the unit through
// escape::systemd_word.
#pragma once

#include <tails_server/escape.h>

#include <string>
#include <vector>

namespace tails_server::systemd {

// The [Service] lines every service unit gets: no new privileges or
// capabilities, the file system read-only except `writable_paths`, no
// devices, kernel settings or namespaces, a system-call filter, and no D-Bus
// (so no RPC, and no mDNS announcement on the LAN through Avahi). Throws
// escape::EscapeError for a path systemd_word refuses.
inline std::string unit_hardening(const std::vector<std::string>& writable_paths) {
  std::string out;
  out += "NoNewPrivileges=yes\n";
  out += "CapabilityBoundingSet=\n";
  out += "ProtectSystem=strict\n";
  out += "ReadWritePaths=";
  for (std::size_t i = 0; i < writable_paths.size(); ++i)
    out += (i ? " " : "") + escape::systemd_word(writable_paths[i]);
  out += "\n";
  out += "ProtectHome=yes\n";
  out += "PrivateTmp=yes\n";
  out += "PrivateDevices=yes\n";
  out += "ProtectKernelTunables=yes\n";
  out += "ProtectKernelModules=yes\n";
  out += "ProtectKernelLogs=yes\n";
  out += "ProtectControlGroups=yes\n";
  out += "ProtectClock=yes\n";
  out += "ProtectHostname=yes\n";
  out += "RestrictNamespaces=yes\n";
  out += "RestrictRealtime=yes\n";
  out += "RestrictSUIDSGID=yes\n";
  out += "LockPersonality=yes\n";
  out += "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n";
  out += "SystemCallArchitectures=native\n";
  out += "SystemCallFilter=@system-service\n";
  out += "InaccessiblePaths=-/run/dbus/system_bus_socket\n";
  return out;
}

}  // namespace tails_server::systemd
