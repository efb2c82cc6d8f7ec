// Facts about the running system that status reports: read fresh each time,
// never cached beyond what the source itself proves unchanged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <sys/types.h>
#include <string>
#include <vector>

namespace tails_server::core {

// Whether dpkg records every one of `packages` as "install ok installed".
// Reads `status_file` again only when its modification time changed.
bool packages_installed(const std::vector<std::string>& packages,
                        const std::filesystem::path& status_file = "/var/lib/dpkg/status");

// A TCP socket listening on a port: its local address ("127.0.0.1", "::")
// and the uid that owns it.
struct Listener {
  std::string address;
  uid_t uid = 0;
};

// The TCP sockets listening on `port` (IPv4 and IPv6) in this network
// namespace: asked of the kernel over sock_diag netlink (idiag_uid), or read
// from /proc/net/tcp{,6} where netlink is unavailable.
std::vector<Listener> tcp_listeners(std::uint16_t port);
// Whether any TCP socket listens on `port`, whoever owns it.
bool port_listening(std::uint16_t port);

// Who holds a service's port, as Tor sees it: Tor connects to 127.0.0.1, so
// what counts is every listener that takes that connection (on 127.0.0.1,
// 0.0.0.0, :: or ::ffff:127.0.0.1), and each must be root's or the service's.
enum class PortHolder { Nobody, Service, Stranger };
struct PortCheck {
  PortHolder holder = PortHolder::Nobody;
  std::string stranger;  // "uid 65534 on 127.0.0.1" for a Stranger
};
PortCheck check_port_holder(const std::vector<Listener>& listeners, uid_t service_uid);

// The effective uid of process `pid` (from /proc/PID/status); nullopt if
// there is no such process or `pid` is 0.
std::optional<uid_t> process_uid(std::uint32_t pid);

}  // namespace tails_server::core
