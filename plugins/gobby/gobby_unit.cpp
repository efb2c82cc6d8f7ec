#include "gobby_unit.h"

#include <tails_server/systemd_unit.h>

namespace tails_server_gobby {

using tails_server::escape::systemd_word;

std::string infinoted_unit_text(const GobbyUnitSettings& s) {
  std::string out;
  out += "# Written by Tails Server; changes here are overwritten.\n";
  out += "[Unit]\n";
  out += "Description=Gobby collaborative editing server (infinoted, Tails Server)\n";
  out += "After=network.target\n";
  out += "\n[Service]\n";
  out += "Type=simple\n";
  out += "ExecStart=/usr/bin/infinoted --config-file=" + systemd_word(s.config_file) + "\n";
  out += "User=" + systemd_word(s.user) + "\n";
  out += "Group=" + systemd_word(s.group) + "\n";
  out += "Environment=HOME=" + systemd_word(s.data_directory) + "\n";
  out += "WorkingDirectory=" + systemd_word(s.data_directory) + "\n";
  out += "Restart=on-failure\n";
  out += "UMask=0077\n";
  // No D-Bus: infinoted always tries to publish itself on the LAN via Avahi.
  out += tails_server::systemd::unit_hardening({s.data_directory});
  // infinoted names the host in the header of every XMPP stream it opens
  // (from="<host name>", GLib's g_get_host_name(); no option changes it).
  // Refuse uname(2), which gethostname(3) reads, with EPERM: GLib then falls
  // back to "localhost". (The errno applies to every refused call.)
  out += "SystemCallFilter=~uname\n";
  out += "SystemCallErrorNumber=EPERM\n";
  // No [Install] section: tails-serverd starts and stops the unit.
  return out;
}

}  // namespace tails_server_gobby
