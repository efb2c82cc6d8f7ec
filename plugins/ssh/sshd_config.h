// The text of our own sshd's configuration and systemd unit. The system's
// ssh.service and /etc/ssh/sshd_config are never used
// (docs/services.md#ssh).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tails_server_ssh {

struct SshdSettings {
  // Absolute paths as sshd must see them (already mapped by Host::path).
  std::string host_key;
  std::string authorized_keys;
  std::vector<std::string> listen_addresses;  // IPv4 or IPv6 addresses
  std::uint16_t port = 2222;
  std::string admin_user;
};

// sshd_config: public-key login of `admin_user` only, from the one
// authorized_keys file Tails Server writes; no password, no root, no
// forwarding, tunnel, pty, agent, X11, user rc or environment, no sftp; no
// Debian version in the banner. Every path and name must match
// [A-Za-z0-9/._+-] and every address be an IP address, or it throws
// tails_server::escape::EscapeError: nothing in it needs quoting.
std::string sshd_config_text(const SshdSettings& settings);

inline constexpr const char* unit_file = "/etc/systemd/system/tails-server-sshd.service";

// The unit runs `/usr/sbin/sshd -D -f config_file` (checked first with
// sshd -t). Throws tails_server::escape::EscapeError for a path
// systemd_word refuses.
std::string sshd_unit_text(const std::string& config_file);

}  // namespace tails_server_ssh
