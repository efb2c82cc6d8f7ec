#include "gobby_unit.h"

#include "common/systemd_unit.h"

namespace tails_server_gobby {

using tails_server::plugins::unit_literal;

std::string infinoted_unit_text(const GobbyUnitSettings& s) {
  std::string out;
  out += "# Written by Tails Server; changes here are overwritten.\n";
  out += "[Unit]\n";
  out += "Description=Gobby collaborative editing server (infinoted, Tails Server)\n";
  out += "After=network.target\n";
  out += "\n[Service]\n";
  out += "Type=simple\n";
  out += "ExecStart=/usr/bin/infinoted --config-file=" + unit_literal(s.config_file) + "\n";
  out += "User=" + unit_literal(s.user) + "\n";
  out += "Group=" + unit_literal(s.group) + "\n";
  out += "Environment=HOME=" + unit_literal(s.data_directory) + "\n";
  out += "WorkingDirectory=" + unit_literal(s.data_directory) + "\n";
  out += "Restart=on-failure\n";
  out += "UMask=0077\n";
  // No D-Bus: infinoted always tries to publish itself on the LAN via Avahi.
  out += tails_server::plugins::unit_hardening({s.data_directory});
  // No [Install] section: tails-serverd starts and stops the unit.
  return out;
}

}  // namespace tails_server_gobby
