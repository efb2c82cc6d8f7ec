#include "bus_server.h"

#include "bus_error.h"
#include "dbus_api.h"
#include "log.h"

#include <tails_server/standard_options.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tails_server::daemon {
namespace {

using MessageRef = std::shared_ptr<sd_bus_message>;

int reply_error(sd_bus_message* call, const char* name, const char* message) {
  sd_bus_error error = SD_BUS_ERROR_MAKE_CONST(name, message);
  int r = sd_bus_reply_method_error(call, &error);
  return r < 0 ? r : 1;
}

const char* member(sd_bus_message* call) {
  const char* name = sd_bus_message_get_member(call);
  return name ? name : "?";
}

// Runs `body`, which replies to `call`, and replies an error for anything it
// throws: nothing escapes into sd-bus, whatever a plugin does.
template <class Body>
int reply_guarded(sd_bus_message* call, Body&& body) noexcept {
  try {
    body();
    return 1;
  } catch (const core::ServiceError& e) {
    if (e.code() == core::ErrorCode::Failed || e.code() == core::ErrorCode::StateError)
      log::warning(std::string(member(call)) + " failed: " + e.what());
    return reply_error(call, error_name(e.code()), e.what());
  } catch (const core::LifecycleError& e) {
    if (e.code() == core::LifecycleErrorCode::Failed)
      log::warning(std::string(member(call)) + " failed: " + e.what());
    return reply_error(call, error_name(e.code()), e.what());
  } catch (const BusError& e) {
    if (e.name() != dbus_api::error::access_denied)
      log::warning(std::string(member(call)) + " failed: " + e.what());
    return reply_error(call, e.name().c_str(), e.what());
  } catch (const std::exception& e) {
    log::warning(std::string(member(call)) + " failed: " + e.what());
    return reply_error(call, dbus_api::error::failed, e.what());
  } catch (...) {
    log::error(std::string(member(call)) + " failed with an unknown exception");
    return reply_error(call, dbus_api::error::failed, "tails-serverd: internal error (unknown exception)");
  }
}

// Reads N string arguments.
template <std::size_t N>
std::array<std::string, N> read_strings(sd_bus_message* call) {
  std::array<std::string, N> strings;
  for (auto& string : strings) {
    const char* value = nullptr;
    check(sd_bus_message_read_basic(call, 's', &value), "cannot read the call's arguments");
    string = value;
  }
  return strings;
}

std::vector<std::string> read_string_array(sd_bus_message* call) {
  std::vector<std::string> strings;
  check(sd_bus_message_enter_container(call, 'a', "s"), "cannot read the call's arguments");
  const char* value = nullptr;
  while (check(sd_bus_message_read_basic(call, 's', &value), "cannot read the call's arguments") > 0)
    strings.emplace_back(value);
  check(sd_bus_message_exit_container(call), "cannot read the call's arguments");
  return strings;
}

// Builds and sends a method return.
class Reply {
 public:
  explicit Reply(sd_bus_message* call) {
    sd_bus_message* raw = nullptr;
    check(sd_bus_message_new_method_return(call, &raw), "cannot create a reply");
    message_.reset(raw);
  }
  sd_bus_message* get() { return message_.get(); }
  void open(char type, const char* contents) {
    check(sd_bus_message_open_container(get(), type, contents), "cannot build a reply");
  }
  void close() { check(sd_bus_message_close_container(get()), "cannot build a reply"); }
  void string(const std::string& value) {
    check(sd_bus_message_append_basic(get(), 's', value.c_str()), "cannot build a reply");
  }
  void boolean(bool value) {
    int b = value;
    check(sd_bus_message_append_basic(get(), 'b', &b), "cannot build a reply");
  }
  void uint16(std::uint16_t value) {
    check(sd_bus_message_append_basic(get(), 'q', &value), "cannot build a reply");
  }
  void strings(const std::vector<std::string>& values) {
    open('a', "s");
    for (const auto& value : values) string(value);
    close();
  }
  // One "{sv}" entry of an a{sv}; `append` writes the value of `signature`.
  template <class Append>
  void entry(const char* key, const char* signature, Append&& append) {
    open('e', "sv");
    string(key);
    open('v', signature);
    append();
    close();
    close();
  }
  void send() { check(sd_bus_send(nullptr, get(), nullptr), "cannot send the reply"); }

 private:
  MessagePtr message_;
};

BusServer& server(void* userdata) { return *static_cast<BusServer*>(userdata); }

// Overwrites a secret before its memory is freed.
void wipe(std::string& secret) noexcept {
  explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

// Bytes that are wiped when the last holder goes (a key file on its way
// through an asynchronous authorization).
struct WipedString {
  std::string value;
  ~WipedString() { wipe(value); }
};

// What the user should know after an option took `value`; "" if nothing.
std::string option_warning(const std::string& service, const std::string& option, const std::string& value,
                           bool persistent) {
  if (option == standard_option::autostart && value == "true" && !persistent)
    return "Persistence is off for " + service + ": on Tails its settings, autostart included, are forgotten at "
           "the next reboot. Turn it on to keep them (tails-server set-option " + service + " persistence true).";
  if (option == standard_option::client_authorization && value == "false")
    return "Client authorization is off: anyone who learns the onion address of " + service +
           " can connect to it. Keep the address secret.";
  if (option == standard_option::allow_lan && value == "true")
    return "LAN access is on: devices on the local network can connect to " + service +
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

// Options whose change alters the published onion service.
bool shapes_onion(const std::string& option) {
  return option == standard_option::client_authorization || option == standard_option::virtual_port ||
         option == standard_option::local_port;
}

}  // namespace

const sd_bus_vtable BusServer::vtable_[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_NAMES("ListServices", "", , "a(ssbbbssss)", SD_BUS_PARAM(services),
                             &BusServer::list_services, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("ListPlugins", "", , "a(ssss)", SD_BUS_PARAM(plugins),
                             &BusServer::list_plugins, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("GetInfo", "s", SD_BUS_PARAM(service), "a{sv}", SD_BUS_PARAM(info),
                             &BusServer::get_info, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("GetStatus", "s", SD_BUS_PARAM(service), "bbbbssss",
                             SD_BUS_PARAM(installed) SD_BUS_PARAM(running) SD_BUS_PARAM(published)
                                 SD_BUS_PARAM(enabled) SD_BUS_PARAM(address) SD_BUS_PARAM(state)
                                     SD_BUS_PARAM(onion) SD_BUS_PARAM(tor),
                             &BusServer::get_status, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("GetOptions", "s", SD_BUS_PARAM(service), "a(sssssbbb)",
                             SD_BUS_PARAM(options), &BusServer::get_options, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("GetOption", "ss", SD_BUS_PARAM(service) SD_BUS_PARAM(option), "s",
                             SD_BUS_PARAM(value), &BusServer::get_option,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES("SetOption", "sss",
                             SD_BUS_PARAM(service) SD_BUS_PARAM(option) SD_BUS_PARAM(value), "ss",
                             SD_BUS_PARAM(canonical) SD_BUS_PARAM(warning), &BusServer::set_option,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES("ResetOption", "ss", SD_BUS_PARAM(service) SD_BUS_PARAM(option), "ss",
                             SD_BUS_PARAM(value) SD_BUS_PARAM(warning), &BusServer::reset_option,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES("Configure", "s", SD_BUS_PARAM(service), "", ,
                             &BusServer::configure, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("ReapplyFirewall", "", "", &BusServer::reapply_firewall, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Autostart", "", "", &BusServer::autostart, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("RunCommand", "ssass",
                             SD_BUS_PARAM(service) SD_BUS_PARAM(command) SD_BUS_PARAM(arguments)
                                 SD_BUS_PARAM(secret),
                             "s", SD_BUS_PARAM(message), &BusServer::run_command,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES("GetConnectionInfo", "s", SD_BUS_PARAM(service), "a(ss)s",
                             SD_BUS_PARAM(fields) SD_BUS_PARAM(instructions),
                             &BusServer::get_connection_info,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES("AddClient", "ss", SD_BUS_PARAM(service) SD_BUS_PARAM(name), "sssss",
                             SD_BUS_PARAM(name) SD_BUS_PARAM(address) SD_BUS_PARAM(tor_browser_key)
                                 SD_BUS_PARAM(auth_private) SD_BUS_PARAM(onion_client_auth_add),
                             &BusServer::add_client, SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES("RemoveClient", "ss", SD_BUS_PARAM(service) SD_BUS_PARAM(name), "", ,
                             &BusServer::remove_client, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("ListClients", "s", SD_BUS_PARAM(service), "as", SD_BUS_PARAM(names),
                             &BusServer::list_clients, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("ImportKey", "say", SD_BUS_PARAM(service) SD_BUS_PARAM(key_file), "s",
                             SD_BUS_PARAM(address), &BusServer::import_key,
                             SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_NAMES("Install", "s", SD_BUS_PARAM(service), "", , &BusServer::install,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("Enable", "s", SD_BUS_PARAM(service), "", , &BusServer::enable,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("Disable", "s", SD_BUS_PARAM(service), "", , &BusServer::disable,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("Uninstall", "s", SD_BUS_PARAM(service), "", , &BusServer::uninstall,
                             SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_NAMES("OptionChanged", "ss", SD_BUS_PARAM(service) SD_BUS_PARAM(option), 0),
    SD_BUS_SIGNAL_WITH_NAMES("StateChanged", "ssis",
                             SD_BUS_PARAM(service) SD_BUS_PARAM(state) SD_BUS_PARAM(percent)
                                 SD_BUS_PARAM(message),
                             0),
    SD_BUS_VTABLE_END,
};

void emit_state_changed(sd_bus* bus, const core::StateChange& change) noexcept {
  // Progress steps are many; the log keeps the transitions only.
  if (change.percent < 0)
    log::info(change.service + ": " + change.state + (change.message.empty() ? "" : " (" + change.message + ")"));
  int r = sd_bus_emit_signal(bus, dbus_api::object_path, dbus_api::interface, dbus_api::state_changed, "ssis",
                             change.service.c_str(), change.state.c_str(), change.percent,
                             change.message.c_str());
  if (r < 0)
    log::warning("cannot emit StateChanged for " + change.service + ": " + std::strerror(-r));
}

BusServer::BusServer(sd_bus* bus, core::ServiceManager& manager, core::Lifecycle& lifecycle,
                     Authorizer& authorizer)
    : bus_(bus), manager_(manager), lifecycle_(lifecycle), authorizer_(authorizer) {
  sd_bus_slot* slot = nullptr;
  check(sd_bus_add_object_vtable(bus_, &slot, dbus_api::object_path, dbus_api::interface, vtable_, this),
        std::string("cannot serve ") + dbus_api::interface + " at " + dbus_api::object_path);
  slot_.reset(slot);
}

void BusServer::when_authorized(sd_bus_message* call, std::string what, Action action) {
  MessageRef held(sd_bus_message_ref(call), sd_bus_message_unref);
  authorizer_.check(call, [held, what = std::move(what), action = std::move(action)](const Denial& denial) {
    reply_guarded(held.get(), [&] {
      if (denial)
        throw BusError(dbus_api::error::access_denied,
                       what + " needs root or polkit authorization for " + dbus_api::manage_action + " (" +
                           *denial + ")");
      action(held.get());
    });
  });
}

void BusServer::when_authorized_for(sd_bus_message* call, const std::string& service, std::string what,
                                    Action action) {
  manager_.info(service);  // NoSuchService before anyone is asked for a password
  when_authorized(call, std::move(what), std::move(action));
}

void BusServer::refresh_onion(const std::string& service) noexcept {
  try {
    lifecycle_.refresh_onion(service);
  } catch (const std::exception& e) {
    log::warning("cannot publish the onion of " + service + " again: " + e.what());
  } catch (...) {
    log::error("cannot publish the onion of " + service + " again (unknown exception)");
  }
}

void BusServer::option_changed(const std::string& service, const std::string& option) {
  bool port = false;
  try {
    for (const auto& view : manager_.options(service, /*reveal=*/false))
      if (view.name == option) port = view.type == "port";
  } catch (const std::exception&) {
  }
  if (port || shapes_onion(option)) refresh_onion(service);
  if (port || option == "allow-lan" || option == "allow-localhost") {
    try {
      lifecycle_.refresh_firewall(service);
    } catch (const std::exception& e) {
      log::error("cannot update the firewall rules of " + service + ": " + e.what());
    }
  }
  emit_option_changed(service, option);
}

void BusServer::refuse_while_busy(const std::string& service) {
  auto operation = lifecycle_.status(service).operation;
  if (!operation.empty())
    throw core::LifecycleError(core::LifecycleErrorCode::Busy,
                               "busy: " + service + " is " + operation + "; try again when it is done");
}

// An enabled service restarts so that the new value takes effect; the reply
// (value, warning) waits for that.
void BusServer::apply_then_reply(sd_bus_message* call, const std::string& service, const std::string& option,
                                 const std::string& value, const std::string& warning) {
  if (applies_without_restart(option) || !manager_.enabled(service)) {
    check(sd_bus_reply_method_return(call, "ss", value.c_str(), warning.c_str()), "cannot send the reply");
    return;
  }
  MessageRef held(sd_bus_message_ref(call), sd_bus_message_unref);
  log::info("restarting " + service + " to apply " + option);
  lifecycle_.apply(service, [held, service, option, value, warning](std::optional<core::LifecycleError> error) {
    int r = 0;
    if (error) {
      std::string message = "the option '" + option + "' is set, but " + service +
                            " did not restart with it: " + error->what();
      log::warning(message);
      r = reply_error(held.get(), error_name(error->code()), message.c_str());
    } else {
      r = sd_bus_reply_method_return(held.get(), "ss", value.c_str(), warning.c_str());
    }
    if (r < 0) log::warning("cannot reply after applying " + service + "/" + option);
  });
}

void BusServer::emit_option_changed(const std::string& service, const std::string& option) {
  int r = sd_bus_emit_signal(bus_, dbus_api::object_path, dbus_api::interface, dbus_api::option_changed, "ss",
                             service.c_str(), option.c_str());
  if (r < 0) log::warning("cannot emit OptionChanged for " + service + "/" + option);
}

int BusServer::list_services(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    Reply reply(call);
    reply.open('a', "(ssbbbssss)");
    for (const auto& name : self.manager_.service_names()) {
      core::ServiceInfo info = self.manager_.info(name);
      core::LifecycleStatus status = self.lifecycle_.status(name);
      reply.open('r', "ssbbbssss");
      reply.string(name);
      reply.string(info.description);
      reply.boolean(status.installed);
      reply.boolean(status.running);
      reply.boolean(status.published);
      reply.string(status.address);
      reply.string(status.state);
      reply.string(status.onion);
      reply.string(status.tor);
      reply.close();
    }
    reply.close();
    reply.send();
  });
}

int BusServer::list_plugins(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    Reply reply(call);
    reply.open('a', "(ssss)");
    for (const auto& record : self.manager_.plugins()) {
      reply.open('r', "ssss");
      reply.string(record.file.string());
      reply.string(record.name);
      reply.string(std::string(core::to_string(record.state)));
      reply.string(record.message);
      reply.close();
    }
    reply.close();
    reply.send();
  });
}

int BusServer::get_info(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service] = read_strings<1>(call);
    core::ServiceInfo info = self.manager_.info(service);
    core::LifecycleStatus status = self.lifecycle_.status(service);
    Reply reply(call);
    reply.open('a', "{sv}");
    auto text = [&](const char* key, const std::string& value) {
      reply.entry(key, "s", [&] { reply.string(value); });
    };
    auto flag = [&](const char* key, bool value) {
      reply.entry(key, "b", [&] { reply.boolean(value); });
    };
    text("name", info.name);
    text("name-in-gui", info.name_in_gui);
    text("description", info.description);
    text("client-application", info.client_application);
    text("client-application-in-gui", info.client_application_in_gui);
    text("documentation", info.documentation);
    text("icon-name", info.icon_name);
    text("systemd-service", info.systemd_service);
    reply.entry("packages", "as", [&] { reply.strings(info.packages); });
    reply.entry("persistent-paths", "as", [&] { reply.strings(info.persistent_paths); });
    reply.entry("local-port", "q", [&] { reply.uint16(info.local_port); });
    reply.entry("remote-port", "q", [&] { reply.uint16(info.remote_port); });
    reply.entry("commands", "a(ssasb)", [&] {
      reply.open('a', "(ssasb)");
      for (const auto& command : info.commands) {
        reply.open('r', "ssasb");
        reply.string(command.name);
        reply.string(command.description);
        reply.strings(command.arguments);
        reply.boolean(command.reads_secret);
        reply.close();
      }
      reply.close();
    });
    text("state-error", info.state_error);
    flag("installed", status.installed);
    flag("running", status.running);
    flag("published", status.published);
    flag("enabled", status.enabled);
    text("address", status.address);
    text("state", status.state);
    text("operation", status.operation);
    text("onion", status.onion);
    text("tor", status.tor);
    reply.close();
    reply.send();
  });
}

int BusServer::get_status(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service] = read_strings<1>(call);
    core::LifecycleStatus status = self.lifecycle_.status(service);
    Reply reply(call);
    reply.boolean(status.installed);
    reply.boolean(status.running);
    reply.boolean(status.published);
    reply.boolean(status.enabled);
    reply.string(status.address);
    reply.string(status.state);
    reply.string(status.onion);
    reply.string(status.tor);
    reply.send();
  });
}

int BusServer::get_options(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service] = read_strings<1>(call);
    Reply reply(call);
    reply.open('a', "(sssssbbb)");
    for (const auto& option : self.manager_.options(service, /*reveal=*/false)) {
      reply.open('r', "sssssbbb");
      reply.string(option.name);
      reply.string(option.type);
      reply.string(option.value);
      reply.string(option.description);
      reply.string(option.accepted);
      reply.boolean(option.secret);
      reply.boolean(option.read_only);
      reply.boolean(option.is_default);
      reply.close();
    }
    reply.close();
    reply.send();
  });
}

int BusServer::get_option(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service, option] = read_strings<2>(call);
    auto reply_value = [&self, service, option](sd_bus_message* call) {
      std::string value = self.manager_.get_option(service, option);
      check(sd_bus_reply_method_return(call, "s", value.c_str()), "cannot send the reply");
    };
    bool secret = false;
    for (const auto& view : self.manager_.options(service, /*reveal=*/false))
      if (view.name == option) secret = view.secret;
    if (!secret) return reply_value(call);
    self.when_authorized(call, "reading the secret option '" + option + "' of '" + service + "'",
                         reply_value);
  });
}

int BusServer::set_option(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service, option, value] = read_strings<3>(call);
    self.when_authorized(
        call, "changing the option '" + option + "' of '" + service + "'",
        [&self, service, option, value](sd_bus_message* call) {
          self.refuse_while_busy(service);
          std::string canonical = self.manager_.set_option(service, option, value);
          log::info("set option " + service + "/" + option);
          std::string warning = option_warning(service, option, canonical, self.manager_.persistent(service));
          if (!warning.empty()) log::warning(warning);
          self.option_changed(service, option);
          self.apply_then_reply(call, service, option, canonical, warning);
        });
  });
}

int BusServer::reset_option(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service, option] = read_strings<2>(call);
    self.when_authorized(call, "resetting the option '" + option + "' of '" + service + "'",
                         [&self, service, option](sd_bus_message* call) {
                           self.refuse_while_busy(service);
                           std::string value = self.manager_.reset_option(service, option);
                           log::info("reset option " + service + "/" + option);
                           std::string warning =
                               option_warning(service, option, value, self.manager_.persistent(service));
                           if (!warning.empty()) log::warning(warning);
                           self.option_changed(service, option);
                           self.apply_then_reply(call, service, option, value, warning);
                         });
  });
}

int BusServer::configure(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service] = read_strings<1>(call);
    self.when_authorized(call, "configuring '" + service + "'", [&self, service](sd_bus_message* call) {
      self.manager_.configure(service);
      log::info("configured " + service);
      check(sd_bus_reply_method_return(call, ""), "cannot send the reply");
    });
  });
}

int BusServer::reapply_firewall(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    self.when_authorized(call, "re-applying the firewall rules", [&self](sd_bus_message* call) {
      try {
        self.lifecycle_.reapply_firewall();
      } catch (const core::LifecycleError& e) {
        throw BusError(dbus_api::error::failed, e.what());
      }
      check(sd_bus_reply_method_return(call, ""), "cannot send the reply");
    });
  });
}

int BusServer::autostart(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    self.when_authorized(call, "starting the services marked autostart", [&self](sd_bus_message* call) {
      MessageRef held(sd_bus_message_ref(call), sd_bus_message_unref);
      log::info("autostart");
      self.lifecycle_.autostart([held](std::optional<core::LifecycleError> error) {
        int r = error ? reply_error(held.get(), error_name(error->code()), error->what())
                      : sd_bus_reply_method_return(held.get(), "");
        if (r < 0) log::warning("cannot reply after autostart");
      });
    });
  });
}

int BusServer::run_command(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service, command] = read_strings<2>(call);
    std::vector<std::string> arguments = read_string_array(call);
    auto [secret] = read_strings<1>(call);
    self.when_authorized(call, "running the command '" + command + "' of '" + service + "'",
                         [&self, service, command, arguments, secret](sd_bus_message* call) {
                           log::info("running command " + service + "/" + command);
                           std::string message =
                               self.manager_.run_command(service, command, arguments, secret);
                           check(sd_bus_reply_method_return(call, "s", message.c_str()),
                                 "cannot send the reply");
                         });
  });
}

int BusServer::get_connection_info(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service] = read_strings<1>(call);
    self.when_authorized(call, "reading the connection information of '" + service + "'",
                         [&self, service](sd_bus_message* call) {
                           ConnectionInfo info = self.manager_.connection_info(service);
                           Reply reply(call);
                           reply.open('a', "(ss)");
                           for (const auto& [label, value] : info.fields) {
                             reply.open('r', "ss");
                             reply.string(label);
                             reply.string(value);
                             reply.close();
                           }
                           reply.close();
                           reply.string(info.instructions);
                           reply.send();
                         });
  });
}

int BusServer::add_client(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service, name] = read_strings<2>(call);
    self.when_authorized_for(
        call, service, "adding a client to '" + service + "'", [&self, service, name](sd_bus_message* call) {
          core::ServiceManager::ClientCredential credential = self.manager_.add_client(service, name);
          log::info("added client " + name + " to " + service);  // never the key
          self.refresh_onion(service);
          int r = sd_bus_reply_method_return(call, "sssss", credential.name.c_str(), credential.address.c_str(),
                                             credential.private_key_base32.c_str(),
                                             credential.auth_private_line.c_str(),
                                             credential.control_command.c_str());
          wipe(credential.private_key_base32);
          wipe(credential.auth_private_line);
          wipe(credential.control_command);
          check(r, "cannot send the reply");
        });
  });
}

int BusServer::remove_client(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service, name] = read_strings<2>(call);
    self.when_authorized_for(call, service, "removing a client of '" + service + "'",
                             [&self, service, name](sd_bus_message* call) {
                               self.manager_.remove_client(service, name);
                               log::info("removed client " + name + " of " + service);
                               self.refresh_onion(service);
                               check(sd_bus_reply_method_return(call, ""), "cannot send the reply");
                             });
  });
}

int BusServer::list_clients(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service] = read_strings<1>(call);
    self.when_authorized_for(call, service, "listing the clients of '" + service + "'",
                             [&self, service](sd_bus_message* call) {
                               Reply reply(call);
                               reply.strings(self.manager_.clients(service));
                               reply.send();
                             });
  });
}

int BusServer::import_key(sd_bus_message* call, void* userdata, sd_bus_error*) {
  auto& self = server(userdata);
  return reply_guarded(call, [&] {
    auto [service] = read_strings<1>(call);
    const void* bytes = nullptr;
    std::size_t size = 0;
    check(sd_bus_message_read_array(call, 'y', &bytes, &size), "cannot read the call's arguments");
    if (size > dbus_api::max_key_file_size)
      throw BusError(dbus_api::error::invalid_value,
                     "the key file has " + std::to_string(size) + " bytes, more than an onion key can have (at most " +
                         std::to_string(dbus_api::max_key_file_size) +
                         "); accepted: a tor hs_ed25519_secret_key file or an ED25519-V3:<base64> key");
    auto key = std::make_shared<WipedString>();
    if (size > 0) key->value.assign(static_cast<const char*>(bytes), size);
    self.when_authorized_for(call, service, "importing an onion key for '" + service + "'",
                             [&self, service, key](sd_bus_message* call) {
                               std::string address = self.manager_.import_onion_key(service, key->value);
                               wipe(key->value);
                               log::info("imported an onion key for " + service);
                               check(sd_bus_reply_method_return(call, "s", address.c_str()),
                                     "cannot send the reply");
                             });
  });
}

int BusServer::start_operation(sd_bus_message* call, const char* verb, Operation operation) {
  return reply_guarded(call, [&] {
    auto [service] = read_strings<1>(call);
    manager_.info(service);  // NoSuchService before anyone is asked for a password
    when_authorized(call, std::string(verb) + " '" + service + "'",
                    [this, verb, service, operation](sd_bus_message* call) {
                      // The reply waits for the operation's end; if the caller
                      // leaves meanwhile, the operation still completes.
                      MessageRef held(sd_bus_message_ref(call), sd_bus_message_unref);
                      std::string what = std::string(verb) + " " + service;
                      log::info(what);
                      (lifecycle_.*operation)(service, [held, what](std::optional<core::LifecycleError> error) {
                        try {
                          int r = 0;
                          if (error) {
                            log::warning(what + " failed: " + error->what());
                            r = reply_error(held.get(), error_name(error->code()), error->what());
                          } else {
                            log::info(what + ": done");
                            r = sd_bus_reply_method_return(held.get(), "");
                          }
                          if (r < 0) log::warning("cannot reply after " + what + ": " + std::strerror(-r));
                        } catch (...) {
                          log::error("cannot reply after " + what);
                        }
                      });
                    });
  });
}

int BusServer::install(sd_bus_message* call, void* userdata, sd_bus_error*) {
  return server(userdata).start_operation(call, "installing", &core::Lifecycle::install);
}

int BusServer::enable(sd_bus_message* call, void* userdata, sd_bus_error*) {
  return server(userdata).start_operation(call, "enabling", &core::Lifecycle::enable);
}

int BusServer::disable(sd_bus_message* call, void* userdata, sd_bus_error*) {
  return server(userdata).start_operation(call, "disabling", &core::Lifecycle::disable);
}

int BusServer::uninstall(sd_bus_message* call, void* userdata, sd_bus_error*) {
  return server(userdata).start_operation(call, "uninstalling", &core::Lifecycle::uninstall);
}

}  // namespace tails_server::daemon
