#include "gobby_unit.h"

#include <stdexcept>

namespace tails_server_gobby {

namespace {

// `value` itself, if a unit file takes it literally in any position.
const std::string& plain(const std::string& value) {
  bool ok = !value.empty();
  for (char c : value) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                   c == '.' || c == '_' || c == '+' || c == '-';
    if (!allowed) ok = false;
  }
  if (!ok) throw std::invalid_argument("not usable in a systemd unit file: '" + value + "'");
  return value;
}

}  // namespace

std::string infinoted_unit_text(const GobbyUnitSettings& s) {
  std::string out;
  out += "# Written by Tails Server; changes here are overwritten.\n";
  out += "[Unit]\n";
  out += "Description=Gobby collaborative editing server (infinoted, Tails Server)\n";
  out += "After=network.target\n";
  out += "\n[Service]\n";
  out += "Type=simple\n";
  out += "ExecStart=/usr/bin/infinoted --config-file=" + plain(s.config_file) + "\n";
  out += "User=" + plain(s.user) + "\n";
  out += "Group=" + plain(s.group) + "\n";
  out += "Environment=HOME=" + plain(s.data_directory) + "\n";
  out += "WorkingDirectory=" + plain(s.data_directory) + "\n";
  out += "Restart=on-failure\n";
  out += "UMask=0077\n";
  out += "NoNewPrivileges=yes\n";
  out += "CapabilityBoundingSet=\n";
  out += "ProtectSystem=strict\n";
  out += "ReadWritePaths=" + plain(s.data_directory) + "\n";
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
  // No D-Bus: infinoted always tries to publish itself on the LAN via Avahi.
  out += "InaccessiblePaths=-/run/dbus/system_bus_socket\n";
  // No [Install] section: tails-serverd starts and stops the unit.
  return out;
}

}  // namespace tails_server_gobby
