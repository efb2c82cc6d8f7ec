#include "lifecycle/option_effects.h"

#include <tails_server/standard_options.h>

namespace tails_server::core {
namespace {

// What the user should know after an option took its value; "" if nothing.
std::string warning(const OptionFacts& f) {
  if (f.option == standard_option::autostart && f.value == "true" && !f.persistent)
    return "Persistence is off for " + f.service + ": on Tails its settings, autostart included, are forgotten at "
           "the next reboot. Turn it on to keep them (tails-server set-option " + f.service + " persistence true).";
  if (f.option == standard_option::client_authorization && f.value == "false")
    return "Client authorization is off: anyone who learns the onion address of " + f.service +
           " can connect to it. Keep the address secret.";
  if (f.option == standard_option::allow_lan && f.value == "true")
    return "LAN access is on: devices on the local network can connect to " + f.service +
           " directly, bypassing Tor, and see this computer's LAN address.";
  return "";
}

// Options that take effect without restarting the service: the firewall
// (allow-localhost), the onion (client-authorization, virtual-port), and the
// daemon's own (persistence migrates with the unit stopped; autostart).
bool applies_without_restart(const std::string& option) {
  return option == standard_option::allow_localhost || option == standard_option::client_authorization ||
         option == standard_option::virtual_port || option == standard_option::persistence ||
         option == standard_option::autostart;
}

}  // namespace

OptionEffects option_effects(const OptionFacts& f) {
  bool port = f.type == "port";
  OptionEffects effects;
  effects.republish_onion = port || f.option == standard_option::client_authorization ||
                            f.option == standard_option::virtual_port || f.option == standard_option::local_port;
  effects.reapply_firewall =
      port || f.option == standard_option::allow_lan || f.option == standard_option::allow_localhost;
  effects.restart = f.enabled && !applies_without_restart(f.option);
  effects.warning = warning(f);
  return effects;
}

}  // namespace tails_server::core
