// What a changed option sets off (core/lifecycle/option_effects.h), without
// D-Bus or a running service.
#include "lifecycle/option_effects.h"

#include <doctest/doctest.h>

using namespace tails_server::core;

namespace {

OptionEffects effects(const std::string& option, const std::string& type, const std::string& value,
                      bool enabled = true, bool persistent = true) {
  OptionFacts facts;
  facts.service = "mumble";
  facts.option = option;
  facts.type = type;
  facts.value = value;
  facts.enabled = enabled;
  facts.persistent = persistent;
  return option_effects(facts);
}

}  // namespace

TEST_CASE("A port option republishes the onion and reapplies the firewall and restarts an enabled service") {
  OptionEffects e = effects("local-port", "port", "64740");
  CHECK(e.republish_onion);
  CHECK(e.reapply_firewall);
  CHECK(e.restart);
  CHECK(e.warning.empty());
  OptionEffects other_port = effects("web-port", "port", "8080");
  CHECK(other_port.republish_onion);
  CHECK(other_port.reapply_firewall);
  CHECK(other_port.restart);
}

TEST_CASE("The virtual port republishes the onion without a restart") {
  OptionEffects e = effects("virtual-port", "port", "80");
  CHECK(e.republish_onion);
  CHECK(e.reapply_firewall);
  CHECK_FALSE(e.restart);
}

TEST_CASE("Turning client authorization off republishes the onion and warns that the address must stay secret") {
  OptionEffects off = effects("client-authorization", "boolean", "false");
  CHECK(off.republish_onion);
  CHECK_FALSE(off.reapply_firewall);
  CHECK_FALSE(off.restart);
  CHECK(off.warning ==
        "Client authorization is off: anyone who learns the onion address of mumble can connect to it. Keep the "
        "address secret.");
  CHECK(effects("client-authorization", "boolean", "true").warning.empty());
}

TEST_CASE("Allowing the LAN reapplies the firewall and restarts and warns only when turned on") {
  OptionEffects on = effects("allow-lan", "boolean", "true");
  CHECK(on.reapply_firewall);
  CHECK_FALSE(on.republish_onion);
  CHECK(on.restart);
  CHECK(on.warning ==
        "LAN access is on: devices on the local network can connect to mumble directly, bypassing Tor, and see "
        "this computer's LAN address.");
  CHECK(effects("allow-lan", "boolean", "false").warning.empty());
}

TEST_CASE("Allowing localhost reapplies the firewall without a restart") {
  OptionEffects e = effects("allow-localhost", "boolean", "true");
  CHECK(e.reapply_firewall);
  CHECK_FALSE(e.republish_onion);
  CHECK_FALSE(e.restart);
  CHECK(e.warning.empty());
}

TEST_CASE("Autostart without persistence warns that the setting is forgotten and restarts nothing") {
  OptionEffects e = effects("autostart", "boolean", "true", /*enabled=*/true, /*persistent=*/false);
  CHECK_FALSE(e.restart);
  CHECK_FALSE(e.republish_onion);
  CHECK_FALSE(e.reapply_firewall);
  CHECK(e.warning ==
        "Persistence is off for mumble: on Tails its settings, autostart included, are forgotten at the next "
        "reboot. Turn it on to keep them (tails-server set-option mumble persistence true).");
  CHECK(effects("autostart", "boolean", "true", true, /*persistent=*/true).warning.empty());
  CHECK(effects("autostart", "boolean", "false", true, /*persistent=*/false).warning.empty());
}

TEST_CASE("Persistence never restarts the service") {
  CHECK(effects("persistence", "boolean", "true") == OptionEffects{});
}

TEST_CASE("Any other option restarts an enabled service only") {
  OptionEffects enabled = effects("server-password", "secret", "s3cret", /*enabled=*/true);
  CHECK(enabled.restart);
  CHECK_FALSE(enabled.republish_onion);
  CHECK_FALSE(enabled.reapply_firewall);
  CHECK(effects("server-password", "secret", "s3cret", /*enabled=*/false) == OptionEffects{});
}
