#include "icecast_config.h"

#include <tails_server/escape.h>
#include <tails_server/systemd_unit.h>

namespace tails_server_icecast {

using tails_server::escape::systemd_word;
using tails_server::escape::xml_text;

std::string icecast_xml_text(const IcecastSettings& s) {
  std::string out;
  auto element = [&out](const char* indent, const char* name, const std::string& value) {
    out += std::string(indent) + "<" + name + ">" + xml_text(value) + "</" + name + ">\n";
  };
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<!-- Written by Tails Server; changes here are overwritten.\n";
  out += "     Every value is XML text (see escape::xml_text). -->\n";
  out += "<icecast>\n";
  // Shown on the status page: nothing that names this machine or its owner.
  element("  ", "location", "Tails Server");
  element("  ", "admin", "nobody");
  // Used in playlist URLs; never the machine's own host name.
  element("  ", "hostname", s.hostname);
  // Server: header without the version.
  element("  ", "server-id", "Icecast");
  out += "  <limits>\n";
  // Every connection counts: listeners, the source and a few admin requests.
  element("    ", "clients", std::to_string(s.max_listeners + 4));
  element("    ", "sources", "1");
  out += "  </limits>\n";
  out += "  <authentication>\n";
  // No global <source-password>: the source password is the mount's own (below), so icecast
  // refuses a source at any other mount ("No source password set"), where max-listeners would
  // not hold.
  element("    ", "admin-user", s.admin_user);
  element("    ", "admin-password", s.admin_password);
  out += "  </authentication>\n";
  // No <directory>: the stream is never announced to a YP directory. No
  // <relay> or <master-server>: icecast fetches nothing from elsewhere.
  // icecast binds each socket alone (IPv6 ones dual-stack): "0.0.0.0" beside
  // "::" would fail with "address in use", so "::" stands for both.
  bool lan = false;
  for (const auto& address : s.listen_addresses) lan = lan || address == "::";
  for (const auto& address : s.listen_addresses) {
    if (lan && address != "::") continue;
    out += "  <listen-socket>\n";
    element("    ", "port", std::to_string(s.port));
    element("    ", "bind-address", address);
    out += "  </listen-socket>\n";
  }
  out += "  <mount type=\"normal\">\n";
  element("    ", "mount-name", s.mount);
  element("    ", "password", s.source_password);  // user "source"
  element("    ", "max-listeners", std::to_string(s.max_listeners));
  element("    ", "public", "0");
  out += "  </mount>\n";
  out += "  <fileserve>1</fileserve>\n";
  out += "  <paths>\n";
  element("    ", "basedir", "/usr/share/icecast2");
  // Relative to logdir: the access log (listeners' addresses) goes to /dev/null.
  element("    ", "logdir", "/dev");
  element("    ", "webroot", "/usr/share/icecast2/web");
  element("    ", "adminroot", "/usr/share/icecast2/admin");
  out += "  </paths>\n";
  out += "  <logging>\n";
  element("    ", "accesslog", "null");
  // "-" is standard error: the journal. 2: warnings and errors only.
  element("    ", "errorlog", "-");
  element("    ", "loglevel", "2");
  out += "  </logging>\n";
  out += "  <security>\n";
  element("    ", "chroot", "0");
  out += "  </security>\n";
  out += "</icecast>\n";
  return out;
}

std::string icecast_unit_text(const IcecastUnitSettings& s) {
  std::string out;
  out += "# Written by Tails Server; changes here are overwritten.\n";
  out += "# Replaces the unit systemd-sysv-generator makes from /etc/init.d/icecast2.\n";
  out += "[Unit]\n";
  out += "Description=Icecast streaming media server (Tails Server)\n";
  out += "After=network.target\n";
  out += "\n[Service]\n";
  out += "Type=simple\n";
  // Without -b icecast2 stays in the foreground; its error log is standard error.
  out += "ExecStart=/usr/bin/icecast2 -c " + systemd_word(s.config_file) + "\n";
  out += "User=" + systemd_word(s.user) + "\n";
  out += "Group=" + systemd_word(s.group) + "\n";
  // The status page shows the start time with the local UTC offset: say UTC, whatever the machine's zone.
  out += "Environment=TZ=UTC\n";
  out += "Restart=on-failure\n";
  out += "UMask=0027\n";
  // icecast writes no file: the access log goes to /dev/null (PrivateDevices keeps it).
  out += tails_server::systemd::unit_hardening({});
  // No [Install] section: tails-serverd starts and stops the unit.
  return out;
}

}  // namespace tails_server_icecast
