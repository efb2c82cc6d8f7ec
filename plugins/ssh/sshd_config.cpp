#include "sshd_config.h"

#include <tails_server/escape.h>

namespace tails_server_ssh {
namespace {

using tails_server::escape::EscapeError;
using tails_server::escape::systemd_word;

// An IPv4 or IPv6 address as ListenAddress takes it ("[::]" for IPv6).
std::string listen_address(const std::string& address, std::uint16_t port) {
  if (address.empty() || address.find_first_not_of("0123456789abcdefABCDEF.:") != std::string::npos)
    throw EscapeError("not an IP address for sshd: '" + address + "'");
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace

std::string sshd_config_text(const SshdSettings& s) {
  std::string out;
  auto line = [&out](const char* key, const std::string& value) { out += std::string(key) + " " + value + "\n"; };
  out += "# Written by Tails Server from the options of the \"ssh\" service; changes here are overwritten.\n";
  out += "# The system's /etc/ssh/sshd_config is not read.\n";
  for (const auto& address : s.listen_addresses) line("ListenAddress", listen_address(address, s.port));
  line("HostKey", systemd_word(s.host_key));
  line("PidFile", "none");
  line("LogLevel", "INFO");
  line("SyslogFacility", "AUTH");
  // Who and how: one account, its keys from our file only.
  line("AllowUsers", systemd_word(s.admin_user));
  line("PermitRootLogin", "no");
  line("AuthenticationMethods", "publickey");
  line("PubkeyAuthentication", "yes");
  line("AuthorizedKeysFile", systemd_word(s.authorized_keys));
  line("AuthorizedKeysCommand", "none");
  line("AuthorizedPrincipalsFile", "none");
  line("PasswordAuthentication", "no");
  line("PermitEmptyPasswords", "no");
  line("KbdInteractiveAuthentication", "no");
  line("HostbasedAuthentication", "no");
  line("GSSAPIAuthentication", "no");
  line("UsePAM", "no");
  line("StrictModes", "yes");
  line("MaxAuthTries", "3");
  line("MaxSessions", "4");
  line("LoginGraceTime", "30");
  // Nothing but the forced command: no forwarding of any kind, no pty.
  line("DisableForwarding", "yes");
  line("AllowTcpForwarding", "no");
  line("AllowStreamLocalForwarding", "no");
  line("AllowAgentForwarding", "no");
  line("X11Forwarding", "no");
  line("PermitTunnel", "no");
  line("PermitListen", "none");
  line("PermitOpen", "none");
  line("GatewayPorts", "no");
  line("PermitTTY", "no");
  line("PermitUserRC", "no");
  line("PermitUserEnvironment", "no");
  // Nothing about this machine to clients.
  line("DebianBanner", "no");
  line("VersionAddendum", "none");
  line("Banner", "none");
  line("PrintMotd", "no");
  line("PrintLastLog", "no");
  line("ClientAliveInterval", "60");
  return out;
}

std::string sshd_unit_text(const std::string& config_file) {
  const std::string config = systemd_word(config_file);
  std::string out;
  out += "# Written by Tails Server; changes here are overwritten.\n";
  out += "[Unit]\n";
  out += "Description=OpenSSH server for the remote administration of Tails Server\n";
  out += "After=network.target\n";
  out += "\n[Service]\n";
  // Debian's sshd tells systemd when it listens.
  out += "Type=notify\n";
  out += "ExecStartPre=/usr/sbin/sshd -t -f " + config + "\n";
  out += "ExecStart=/usr/sbin/sshd -D -f " + config + "\n";
  // Sessions end with the service: disabling it locks every admin out.
  out += "KillMode=control-group\n";
  out += "Restart=on-failure\n";
  // sshd's privilege separation directory.
  out += "RuntimeDirectory=sshd\n";
  out += "RuntimeDirectoryMode=0755\n";
  // sshd runs as root and changes to the admin account; the tails-server CLI
  // it runs needs the system bus, so only these protections apply.
  out += "ProtectSystem=full\n";
  out += "ProtectHome=yes\n";
  out += "PrivateTmp=yes\n";
  out += "PrivateDevices=yes\n";
  out += "ProtectKernelTunables=yes\n";
  out += "ProtectKernelModules=yes\n";
  out += "ProtectControlGroups=yes\n";
  out += "NoNewPrivileges=yes\n";
  // No [Install] section: tails-serverd starts and stops the unit.
  return out;
}

}  // namespace tails_server_ssh
