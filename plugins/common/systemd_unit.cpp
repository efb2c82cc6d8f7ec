#include "systemd_unit.h"

#include <stdexcept>

namespace tails_server::plugins {

const std::string& unit_literal(const std::string& value) {
  bool ok = !value.empty();
  for (char c : value) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                   c == '.' || c == '_' || c == '+' || c == '-';
    if (!allowed) ok = false;
  }
  if (!ok) throw std::invalid_argument("not usable in a systemd unit file: '" + value + "'");
  return value;
}

std::string unit_hardening(const std::vector<std::string>& writable_paths) {
  std::string out;
  out += "NoNewPrivileges=yes\n";
  out += "CapabilityBoundingSet=\n";
  out += "ProtectSystem=strict\n";
  out += "ReadWritePaths=";
  for (std::size_t i = 0; i < writable_paths.size(); ++i)
    out += (i ? " " : "") + unit_literal(writable_paths[i]);
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

}  // namespace tails_server::plugins
