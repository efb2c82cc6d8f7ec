// The rules last applied, in the daemon's runtime directory (firewall.json,
// gone at reboot). A restarted daemon takes from it the rules of the services
// it can no longer ask, those of a plugin put aside after a crash, so that
// their units keep being reachable over their onions (plugins/quarantine.h).
#pragma once

#include "firewall/firewall.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace tails_server::core {

// The services of the record at `file`, by name. Empty if there is none; a
// record that is unreadable, too large or malformed is logged and ignored.
std::map<std::string, FirewallService> load_firewall_record(const std::filesystem::path& file);

// Replaces the record at `file` (a temporary file renamed over it, mode
// 0600). Failures are logged: the rules in the kernel are what counts.
void save_firewall_record(const std::filesystem::path& file, const std::vector<FirewallService>& services);

}  // namespace tails_server::core
