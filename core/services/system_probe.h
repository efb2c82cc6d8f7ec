// Facts about the running system that status reports: read fresh each time,
// never cached beyond what the source itself proves unchanged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tails_server::core {

// Whether dpkg records every one of `packages` as "install ok installed".
// Reads `status_file` again only when its modification time changed.
bool packages_installed(const std::vector<std::string>& packages,
                        const std::filesystem::path& status_file = "/var/lib/dpkg/status");

// Whether a TCP socket listens on `port` (any address, IPv4 or IPv6) in this
// network namespace: asked of the kernel over sock_diag netlink, or read from
// /proc/net/tcp{,6} where netlink is unavailable.
bool port_listening(std::uint16_t port);

}  // namespace tails_server::core
