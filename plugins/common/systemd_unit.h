// Pieces of the systemd units plugins write for their services.
#pragma once

#include <string>
#include <vector>

namespace tails_server::plugins {

// `value` itself, if a unit file takes it literally in any position (only
// [A-Za-z0-9/._+-]). Throws std::invalid_argument otherwise.
const std::string& unit_literal(const std::string& value);

// The [Service] sandboxing lines every service unit gets: no new privileges
// or capabilities, the file system read-only except `writable_paths`, no
// devices, kernel settings or namespaces, a system-call filter, and no D-Bus
// (so no RPC, and no mDNS announcement on the LAN through Avahi). Throws
// std::invalid_argument for a path unit_literal refuses.
std::string unit_hardening(const std::vector<std::string>& writable_paths);

}  // namespace tails_server::plugins
