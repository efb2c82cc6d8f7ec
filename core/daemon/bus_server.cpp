#include "bus_server.h"

#include "bus_error.h"
#include "dbus/codec.h"
#include "dbus/contract.h"
#include "secret/wipe.h"
#include "util/log.h"
#include "replies.h"
#include "wire.h"

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tails_server::daemon {
namespace {

using MessageRef = std::shared_ptr<sd_bus_message>;

MessageRef hold(sd_bus_message* call) { return MessageRef(sd_bus_message_ref(call), sd_bus_message_unref); }

// Bytes that are wiped when the last holder goes (a key file on its way
// through an asynchronous authorization).
struct WipedString {
  std::string value;
  ~WipedString() { wipe_secret(value); }
};

// Refuses an argument beyond `max` bytes before anything else is done with
// the call (polkit is asked only afterwards).
void limit_size(const std::string& what, const std::string& value, std::size_t max) {
  if (value.size() > max)
    throw BusError(dbus::error::invalid_value, what + " has " + std::to_string(value.size()) +
                                                   " bytes; at most " + std::to_string(max) + " are accepted");
}

// Whom a pending authorization counts against: "uid N" from the bus
// driver, or the bus name if the driver cannot say.
std::string caller_key(sd_bus_message* call) {
  sd_bus_creds* creds = nullptr;
  uid_t uid = 0;
  bool known = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds) >= 0 &&
               sd_bus_creds_get_euid(creds, &uid) >= 0;
  sd_bus_creds_unref(creds);
  if (known) return "uid " + std::to_string(uid);
  const char* name = sd_bus_message_get_sender(call);
  return name ? name : "";
}

void limit_names(std::initializer_list<std::pair<const char*, const std::string*>> names) {
  for (const auto& [what, value] : names) limit_size(what, *value, dbus::max_name_size);
}

}  // namespace

template <BusServer::Method method>
int BusServer::handle(sd_bus_message* call, void* self, sd_bus_error*) {
  return reply_guarded(call, [&] { (static_cast<BusServer*>(self)->*method)(call); });
}

namespace signature = dbus::signature;
namespace method = dbus::method;

const sd_bus_vtable BusServer::vtable_[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_NAMES(method::list_services, signature::none, , signature::service_list,
                             SD_BUS_PARAM(services), &handle<&BusServer::list_services>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::list_plugins, signature::none, , signature::plugin_list, SD_BUS_PARAM(plugins),
                             &handle<&BusServer::list_plugins>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::retry_plugin, signature::service_call, SD_BUS_PARAM(plugin), signature::text,
                             SD_BUS_PARAM(state), &handle<&BusServer::retry_plugin>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::get_info, signature::service_call, SD_BUS_PARAM(service),
                             signature::service_details, SD_BUS_PARAM(info), &handle<&BusServer::get_info>,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::get_status, signature::service_call, SD_BUS_PARAM(service), signature::status,
                             SD_BUS_PARAM(installed) SD_BUS_PARAM(running) SD_BUS_PARAM(published)
                                 SD_BUS_PARAM(enabled) SD_BUS_PARAM(address) SD_BUS_PARAM(state)
                                     SD_BUS_PARAM(onion) SD_BUS_PARAM(tor),
                             &handle<&BusServer::get_status>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::get_options, signature::service_call, SD_BUS_PARAM(service),
                             signature::option_list, SD_BUS_PARAM(options), &handle<&BusServer::get_options>,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::describe_options, signature::service_call, SD_BUS_PARAM(service),
                             signature::option_forms, SD_BUS_PARAM(options),
                             &handle<&BusServer::describe_options>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::get_option, signature::option_call, SD_BUS_PARAM(service) SD_BUS_PARAM(option),
                             signature::text, SD_BUS_PARAM(value), &handle<&BusServer::get_option>,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES(method::set_option, signature::set_option_call,
                             SD_BUS_PARAM(service) SD_BUS_PARAM(option) SD_BUS_PARAM(value), signature::option_change,
                             SD_BUS_PARAM(canonical) SD_BUS_PARAM(warning), &handle<&BusServer::set_option>,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES(method::reset_option, signature::option_call,
                             SD_BUS_PARAM(service) SD_BUS_PARAM(option), signature::option_change,
                             SD_BUS_PARAM(value) SD_BUS_PARAM(warning), &handle<&BusServer::reset_option>,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES(method::configure, signature::service_call, SD_BUS_PARAM(service), signature::none, ,
                             &handle<&BusServer::configure>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD(method::reapply_firewall, signature::none, signature::none, &handle<&BusServer::reapply_firewall>,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD(method::autostart, signature::none, signature::none, &handle<&BusServer::autostart>,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::run_command, signature::run_command_call,
                             SD_BUS_PARAM(service) SD_BUS_PARAM(command) SD_BUS_PARAM(arguments)
                                 SD_BUS_PARAM(secret),
                             signature::text, SD_BUS_PARAM(message), &handle<&BusServer::run_command>,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES(method::get_connection_info, signature::service_call, SD_BUS_PARAM(service),
                             signature::connection_info, SD_BUS_PARAM(fields) SD_BUS_PARAM(instructions),
                             &handle<&BusServer::get_connection_info>,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES(method::add_client, signature::client_call, SD_BUS_PARAM(service) SD_BUS_PARAM(name),
                             signature::credential,
                             SD_BUS_PARAM(name) SD_BUS_PARAM(address) SD_BUS_PARAM(tor_browser_key)
                                 SD_BUS_PARAM(auth_private) SD_BUS_PARAM(onion_client_auth_add),
                             &handle<&BusServer::add_client>, SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES(method::remove_client, signature::client_call,
                             SD_BUS_PARAM(service) SD_BUS_PARAM(name), signature::none, ,
                             &handle<&BusServer::remove_client>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::list_clients, signature::service_call, SD_BUS_PARAM(service), signature::names,
                             SD_BUS_PARAM(names), &handle<&BusServer::list_clients>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::import_key, signature::import_key_call,
                             SD_BUS_PARAM(service) SD_BUS_PARAM(key_file), signature::text, SD_BUS_PARAM(address),
                             &handle<&BusServer::import_key>, SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES(method::install, signature::service_call, SD_BUS_PARAM(service), signature::none, ,
                             &handle<&BusServer::install>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::enable, signature::service_call, SD_BUS_PARAM(service), signature::none, ,
                             &handle<&BusServer::enable>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::disable, signature::service_call, SD_BUS_PARAM(service), signature::none, ,
                             &handle<&BusServer::disable>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES(method::uninstall, signature::service_call, SD_BUS_PARAM(service), signature::none, ,
                             &handle<&BusServer::uninstall>, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_NAMES(dbus::signal::option_changed, signature::option_changed,
                             SD_BUS_PARAM(service) SD_BUS_PARAM(option), 0),
    SD_BUS_SIGNAL_WITH_NAMES(dbus::signal::state_changed, signature::state_change,
                             SD_BUS_PARAM(service) SD_BUS_PARAM(state) SD_BUS_PARAM(percent)
                                 SD_BUS_PARAM(message),
                             0),
    SD_BUS_VTABLE_END,
};

void emit_state_changed(sd_bus* bus, const core::StateChange& change) noexcept {
  // Progress steps are many; the log keeps the transitions only.
  if (change.percent < 0)
    log::info(change.service + ": " + change.state + (change.message.empty() ? "" : " (" + change.message + ")"));
  try {
    emit(bus, dbus::signal::state_changed, wire::state_change(change));
  } catch (const std::exception& e) {
    log::warning("cannot emit StateChanged for " + change.service + ": " + e.what());
  }
}

BusServer::BusServer(sd_bus* bus, core::ServiceManager& manager, core::Lifecycle& lifecycle,
                     Authorizer& authorizer)
    : bus_(bus), manager_(manager), lifecycle_(lifecycle), authorizer_(authorizer) {
  sd_bus_slot* slot = nullptr;
  check(sd_bus_add_object_vtable(bus_, &slot, dbus::object_path, dbus::interface, vtable_, this),
        std::string("cannot serve ") + dbus::interface + " at " + dbus::object_path);
  slot_.reset(slot);
}

void BusServer::when_authorized(sd_bus_message* call, std::string what, Action action) {
  MessageRef held = hold(call);
  // Per user, not per connection: one user may open many connections.
  std::string sender = caller_key(call);
  if (pending_authorizations_[sender] >= dbus::max_pending_authorizations)
    throw BusError(dbus::error::busy,
                   "busy: " + what + " waits, because " + std::to_string(dbus::max_pending_authorizations) +
                       " authorization checks of this user are pending already (the most at once); answer "
                       "the authentication dialogs, or try again once they are done");
  ++pending_authorizations_[sender];
  authorizer_.check(call, [this, sender, held, what = std::move(what),
                           action = std::move(action)](const Denial& denial) {
    if (--pending_authorizations_[sender] == 0) pending_authorizations_.erase(sender);
    reply_guarded(held.get(), [&] {
      if (denial)
        throw BusError(dbus::error::access_denied,
                       what + " needs root or polkit authorization for " + dbus::manage_action + " (" + *denial +
                           ")");
      action(held.get());
    });
  });
}

void BusServer::when_authorized_for(sd_bus_message* call, const std::string& service, std::string what,
                                    Action action) {
  manager_.info(service);  // NoSuchService before anyone is asked for a password
  when_authorized(call, std::move(what), std::move(action));
}

void BusServer::list_services(sd_bus_message* call) {
  dbus::ServiceList services;
  for (const auto& name : manager_.service_names())
    services.push_back(wire::summary(name, manager_.info(name), lifecycle_.status(name)));
  for (const auto& crashed : manager_.crashed_services())
    services.push_back(wire::crashed_summary(crashed, lifecycle_.status(crashed.name)));
  reply(call, services);
}

void BusServer::list_plugins(sd_bus_message* call) { reply(call, wire::plugins(manager_.plugins())); }

void BusServer::retry_plugin(sd_bus_message* call) {
  auto [plugin] = dbus::decode<dbus::ServiceCall>(call);
  when_authorized(call, "retrying the crashed plugin '" + plugin + "'", [this, plugin](sd_bus_message* call) {
    const core::PluginRecord& record = manager_.retry_plugin(plugin);
    if (record.state != core::PluginState::Loaded) {
      log::warning("retried plugin " + record.file.string() + " is refused: " + record.message);
      throw BusError(dbus::error::failed, record.message);
    }
    log::info("retried plugin '" + record.name + "' from " + record.file.string() + " is loaded");
    lifecycle_.adopt(record.name);
    reply(call, std::string(core::to_string(record.state)));
  });
}

void BusServer::get_info(sd_bus_message* call) {
  auto [service] = dbus::decode<dbus::ServiceCall>(call);
  core::ServiceInfo info = manager_.info(service);
  reply(call, wire::details(info, lifecycle_.status(service)));
}

void BusServer::get_status(sd_bus_message* call) {
  auto [service] = dbus::decode<dbus::ServiceCall>(call);
  reply(call, wire::status(lifecycle_.status(service)));
}

void BusServer::get_options(sd_bus_message* call) {
  auto [service] = dbus::decode<dbus::ServiceCall>(call);
  reply(call, wire::options(manager_.options(service, /*reveal=*/false)));
}

void BusServer::describe_options(sd_bus_message* call) {
  auto [service] = dbus::decode<dbus::ServiceCall>(call);
  reply(call, wire::option_forms(manager_.options(service, /*reveal=*/false)));
}

void BusServer::get_option(sd_bus_message* call) {
  auto [service, option] = dbus::decode<dbus::OptionCall>(call);
  auto reply_value = [this, service, option](sd_bus_message* call) {
    reply(call, manager_.get_option(service, option));
  };
  bool secret = false;
  for (const auto& view : manager_.options(service, /*reveal=*/false))
    if (view.name == option) secret = view.secret;
  if (!secret) return reply_value(call);
  when_authorized(call, "reading the secret option '" + option + "' of '" + service + "'", reply_value);
}

void BusServer::set_option(sd_bus_message* call) {
  auto [service, option, value] = dbus::decode<dbus::SetOptionCall>(call);
  limit_names({{"the service name", &service}, {"the option name", &option}});
  limit_size("the value of option '" + option + "'", value, dbus::max_value_size);
  change_option(call, service, option, value);
}

void BusServer::reset_option(sd_bus_message* call) {
  auto [service, option] = dbus::decode<dbus::OptionCall>(call);
  limit_names({{"the service name", &service}, {"the option name", &option}});
  change_option(call, service, option, std::nullopt);
}

void BusServer::change_option(sd_bus_message* call, const std::string& service, const std::string& option,
                              const std::optional<std::string>& value) {
  std::string what =
      std::string(value ? "changing" : "resetting") + " the option '" + option + "' of '" + service + "'";
  when_authorized(call, what, [this, service, option, value](sd_bus_message* call) {
    core::Lifecycle::OptionResult result = lifecycle_.change_option(service, option, value);
    try {
      emit(bus_, dbus::signal::option_changed, dbus::OptionChanged{service, option});
    } catch (const std::exception&) {
      log::warning("cannot emit OptionChanged for " + service + "/" + option);
    }
    dbus::OptionChange change{result.value, result.warning};
    if (!result.restart) return reply(call, change);
    // An enabled service restarts so that the new value takes effect; the
    // reply waits for that.
    lifecycle_.apply_option(service, option, [held = hold(call), service, option, change](auto error) {
      reply_after(held.get(), "applying " + service + "/" + option, error,
                  [&](sd_bus_message* call) { reply(call, change); });
    });
  });
}

void BusServer::configure(sd_bus_message* call) {
  auto [service] = dbus::decode<dbus::ServiceCall>(call);
  when_authorized(call, "configuring '" + service + "'", [this, service](sd_bus_message* call) {
    manager_.configure(service);
    log::info("configured " + service);
    reply(call);
  });
}

void BusServer::reapply_firewall(sd_bus_message* call) {
  when_authorized(call, "re-applying the firewall rules", [this](sd_bus_message* call) {
    try {
      lifecycle_.reapply_firewall();
    } catch (const core::LifecycleError& e) {
      throw BusError(dbus::error::failed, e.what());
    }
    reply(call);
  });
}

void BusServer::autostart(sd_bus_message* call) {
  when_authorized(call, "starting the services marked autostart", [this](sd_bus_message* call) {
    log::info("autostart");
    lifecycle_.autostart([held = hold(call)](std::optional<core::LifecycleError> error) {
      reply_after(held.get(), "autostart", error, [](sd_bus_message* call) { reply(call); });
    });
  });
}

void BusServer::run_command(sd_bus_message* call) {
  auto args = dbus::decode<dbus::RunCommandCall>(call);
  limit_names({{"the service name", &args.service}, {"the command name", &args.command}});
  if (args.arguments.size() > dbus::max_command_arguments)
    throw BusError(dbus::error::invalid_value, "the command '" + args.command + "' got " +
                                                   std::to_string(args.arguments.size()) + " arguments; at most " +
                                                   std::to_string(dbus::max_command_arguments) + " are accepted");
  for (const auto& argument : args.arguments)
    limit_size("an argument of '" + args.command + "'", argument, dbus::max_value_size);
  limit_size("the secret for '" + args.command + "'", args.secret, dbus::max_value_size);
  when_authorized(call, "running the command '" + args.command + "' of '" + args.service + "'",
                  [this, args](sd_bus_message* call) {
                    log::info("running command " + args.service + "/" + args.command);
                    reply(call, manager_.run_command(args.service, args.command, args.arguments, args.secret));
                  });
}

void BusServer::get_connection_info(sd_bus_message* call) {
  auto [service] = dbus::decode<dbus::ServiceCall>(call);
  when_authorized(call, "reading the connection information of '" + service + "'",
                  [this, service](sd_bus_message* call) {
                    reply(call, wire::connection_info(manager_.connection_info(service)));
                  });
}

void BusServer::add_client(sd_bus_message* call) {
  auto [service, name] = dbus::decode<dbus::ClientCall>(call);
  limit_names({{"the service name", &service}, {"the client name", &name}});
  when_authorized_for(
      call, service, "adding a client to '" + service + "'", [this, service, name](sd_bus_message* call) {
        lifecycle_.refuse_while_busy(service);  // an enable publishes the onion with the clients it read
        core::ServiceManager::ClientCredential c = manager_.add_client(service, name);
        log::info("added client " + name + " to " + service);  // never the key
        lifecycle_.refresh_onion(service);
        dbus::Credential credential{c.name, c.address, c.private_key_base32, c.auth_private_line, c.control_command};
        auto wipe_all = [&] {
          for (std::string* secret : {&c.private_key_base32, &c.auth_private_line, &c.control_command,
                                      &credential.tor_browser_key, &credential.auth_private,
                                      &credential.onion_client_auth_add})
            wipe_secret(*secret);
        };
        try {
          reply(call, credential);
        } catch (...) {
          wipe_all();
          throw;
        }
        wipe_all();
      });
}

void BusServer::remove_client(sd_bus_message* call) {
  auto [service, name] = dbus::decode<dbus::ClientCall>(call);
  limit_names({{"the service name", &service}, {"the client name", &name}});
  when_authorized_for(call, service, "removing a client of '" + service + "'",
                      [this, service, name](sd_bus_message* call) {
                        lifecycle_.refuse_while_busy(service);
                        manager_.remove_client(service, name);
                        log::info("removed client " + name + " of " + service);
                        lifecycle_.refresh_onion(service);
                        reply(call);
                      });
}

void BusServer::list_clients(sd_bus_message* call) {
  auto [service] = dbus::decode<dbus::ServiceCall>(call);
  when_authorized_for(call, service, "listing the clients of '" + service + "'",
                      [this, service](sd_bus_message* call) { reply(call, manager_.clients(service)); });
}

void BusServer::import_key(sd_bus_message* call) {
  auto key = std::make_shared<WipedString>();
  std::string service;
  {
    dbus::ImportKeyCall args = dbus::decode<dbus::ImportKeyCall>(call);
    service = args.service;
    key->value.swap(args.key_file);
    wipe_secret(args.key_file);
  }
  limit_names({{"the service name", &service}});
  std::size_t size = key->value.size();
  if (size > dbus::max_key_file_size)
    throw BusError(dbus::error::invalid_value,
                   "the key file has " + std::to_string(size) + " bytes, more than an onion key can have (at most " +
                       std::to_string(dbus::max_key_file_size) +
                       "); accepted: a tor hs_ed25519_secret_key file or an ED25519-V3:<base64> key");
  when_authorized_for(call, service, "importing an onion key for '" + service + "'",
                      [this, service, key](sd_bus_message* call) {
                        // An enable meanwhile would configure the service
                        // (Prosody's domain) for the old address.
                        lifecycle_.refuse_while_busy(service);
                        std::string address = manager_.import_onion_key(service, key->value);
                        wipe_secret(key->value);
                        log::info("imported an onion key for " + service);
                        reply(call, address);
                      });
}

void BusServer::start_operation(sd_bus_message* call, const char* verb, Operation operation) {
  auto [service] = dbus::decode<dbus::ServiceCall>(call);
  manager_.info(service);  // NoSuchService before anyone is asked for a password
  when_authorized(call, std::string(verb) + " '" + service + "'",
                  [this, verb, service, operation](sd_bus_message* call) {
                    // The reply waits for the operation's end; if the caller
                    // leaves meanwhile, the operation still completes.
                    std::string what = std::string(verb) + " " + service;
                    log::info(what);
                    (lifecycle_.*operation)(service, [held = hold(call), what](auto error) {
                      if (error)
                        log::warning(what + " failed: " + error->what());
                      else
                        log::info(what + ": done");
                      reply_after(held.get(), what, error, [](sd_bus_message* call) { reply(call); });
                    });
                  });
}

void BusServer::install(sd_bus_message* call) { start_operation(call, "installing", &core::Lifecycle::install); }
void BusServer::enable(sd_bus_message* call) { start_operation(call, "enabling", &core::Lifecycle::enable); }
void BusServer::disable(sd_bus_message* call) { start_operation(call, "disabling", &core::Lifecycle::disable); }
void BusServer::uninstall(sd_bus_message* call) {
  start_operation(call, "uninstalling", &core::Lifecycle::uninstall);
}

}  // namespace tails_server::daemon
