// Lifecycle::change_option and apply_option: SetOption and ResetOption, and
// what follows them (option_effects.h).
#include "lifecycle/lifecycle.h"
#include "lifecycle/option_effects.h"
#include "util/log.h"


namespace tails_server::core {
namespace {

// The option's type ("port", ...), or "" if it cannot be told.
std::string option_type(const ServiceManager& manager, const std::string& service, const std::string& option) {
  std::string type;
  try {
    for (const auto& view : manager.options(service, /*reveal=*/false))
      if (view.name == option) type = view.type;
  } catch (const std::exception&) {
  }
  return type;
}

}  // namespace

Lifecycle::OptionResult Lifecycle::change_option(const std::string& service, const std::string& option,
                                                 const std::optional<std::string>& value) {
  refuse_while_busy(service);
  OptionFacts facts;
  facts.service = service;
  facts.option = option;
  facts.value = value ? manager_.set_option(service, option, *value) : manager_.reset_option(service, option);
  log::info(std::string(value ? "set" : "reset") + " option " + service + "/" + option);
  facts.type = option_type(manager_, service, option);
  facts.persistent = manager_.persistent(service);
  facts.enabled = manager_.enabled(service);
  OptionEffects effects = option_effects(facts);
  if (!effects.warning.empty()) log::warning(effects.warning);
  if (effects.republish_onion) refresh_onion(service);
  if (effects.reapply_firewall) {
    try {
      refresh_firewall(service);
    } catch (const std::exception& e) {
      log::error("cannot update the firewall rules of " + service + ": " + e.what());
    }
  }
  return {facts.value, effects.warning, effects.restart};
}

void Lifecycle::apply_option(const std::string& service, const std::string& option, Done done) {
  log::info("restarting " + service + " to apply " + option);
  apply(service, [service, option, done = std::move(done)](std::optional<LifecycleError> error) {
    if (!error) return done(std::nullopt);
    std::string message =
        "the option '" + option + "' is set, but " + service + " did not restart with it: " + error->what();
    log::warning(message);
    done(LifecycleError(error->code(), message));
  });
}

}  // namespace tails_server::core
