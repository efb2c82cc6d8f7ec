#include "mumble_unit.h"

#include <tails_server/systemd_unit.h>

namespace tails_server_mumble {

using tails_server::escape::systemd_word;

std::string mumble_unit_text(const MumbleUnitSettings& s) {
  std::string out;
  out += "# Written by Tails Server; changes here are overwritten.\n";
  out += "# Replaces the unit systemd-sysv-generator makes from /etc/init.d/mumble-server,\n";
  out += "# whose RemainAfterExit=yes reports \"active\" after murmurd died.\n";
  out += "[Unit]\n";
  out += "Description=Mumble voice chat server (Tails Server)\n";
  out += "After=network.target\n";
  out += "\n[Service]\n";
  out += "Type=simple\n";
  // -fg: no fork, log to standard output (the journal). Started as the
  // service user, murmurd's uname= switch is a no-op.
  out += "ExecStart=/usr/sbin/murmurd -fg -ini " + systemd_word(s.ini_file) + "\n";
  out += "User=" + systemd_word(s.user) + "\n";
  out += "Group=" + systemd_word(s.group) + "\n";
  out += "RuntimeDirectory=mumble-server\n";
  out += "Restart=on-failure\n";
  out += "UMask=0027\n";
  // No D-Bus: no RPC, and no mDNS announcement on the LAN through Avahi.
  out += tails_server::systemd::unit_hardening({s.data_directory, s.log_directory});
  // No [Install] section: tails-serverd starts and stops the unit.
  return out;
}

}  // namespace tails_server_mumble
