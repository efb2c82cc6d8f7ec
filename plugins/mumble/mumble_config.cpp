#include "mumble_config.h"

#include <tails_server/escape.h>

namespace tails_server_mumble {

std::string mumble_ini_text(const MumbleSettings& s) {
  using tails_server::escape::qsettings_ini;
  std::string out;
  auto line = [&out](const char* key, const std::string& value) {
    out += key;
    out += '=';
    out += qsettings_ini(value);
    out += '\n';
  };
  out += "; Written by Tails Server; changes here are overwritten.\n";
  out += "; Keys are case-sensitive; every value is quoted (see escape::qsettings_ini).\n";
  line("database", s.database);
  line("logfile", s.log_file);
  line("pidfile", s.pid_file);
  line("uname", s.user);
  // murmurd splits `host` at white space and binds every address in it.
  std::string hosts;
  for (const auto& address : s.listen_addresses) hosts += (hosts.empty() ? "" : " ") + address;
  line("host", hosts);
  line("port", std::to_string(s.port));
  line("serverpassword", s.server_password);
  line("welcometext", s.welcome_text);
  line("users", std::to_string(s.max_users));
  line("sslCert", s.certificate_file);
  line("sslKey", s.key_file);
  // No mDNS announcement on the LAN (murmurd's default is true).
  line("bonjour", "false");
  // Over the onion service every client comes from 127.0.0.1, so murmurd's
  // per-address autoban would let anyone lock everybody out: turn it off.
  line("autobanAttempts", "0");
  // No RPC interfaces.
  line("ice", "");
  line("icesecretwrite", "");
  line("dbus", "");
  // Do not tell clients the host's OS and version, do not answer
  // unauthenticated UDP pings, and keep no connection log in the (persistent)
  // database; obfuscate addresses in the (amnesic) log file.
  line("sendversion", "false");
  line("allowping", "false");
  line("logdays", "-1");
  line("obfuscate", "true");
  return out;
}

}  // namespace tails_server_mumble
