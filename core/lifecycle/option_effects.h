// What a changed option does to its service: which of the onion, the
// firewall rules and the running unit must follow, and what the user should
// be warned of. Pure: Lifecycle::change_option acts on it; tests call it
// directly.
#pragma once

#include <string>

namespace tails_server::core {

// The option that changed and the service it belongs to.
struct OptionFacts {
  std::string service;
  std::string option;
  std::string type;         // the option's type ("port", "boolean", ...), "" if unknown
  std::string value;        // its new canonical value
  bool persistent = false;  // the service's settings are on the Persistent Storage
  bool enabled = false;     // the service is enabled (should be running)
};

struct OptionEffects {
  bool republish_onion = false;   // the option shapes the onion (ports, client authorization)
  bool reapply_firewall = false;  // the option shapes the firewall rules (ports, allow-lan, allow-localhost)
  bool restart = false;           // an enabled service restarts with its configuration written anew
  std::string warning;            // for the user, or ""
  bool operator==(const OptionEffects&) const = default;
};

OptionEffects option_effects(const OptionFacts& facts);

}  // namespace tails_server::core
