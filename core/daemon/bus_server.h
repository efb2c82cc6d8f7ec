// The org.boum.tails.Server1 interface: D-Bus methods over a ServiceManager
// and the services' Lifecycle.
#pragma once

#include "authorizer.h"
#include "lifecycle/lifecycle.h"
#include "sd_bus_ptr.h"
#include "services/service_manager.h"

#include <systemd/sd-bus.h>

#include <functional>
#include <string>

namespace tails_server::daemon {

// Emits StateChanged(service, state, percent, message) on `bus`; a failure
// is logged, never thrown. The daemon passes this, through a lambda, as the
// Lifecycle's Changed callback.
void emit_state_changed(sd_bus* bus, const core::StateChange& change) noexcept;

class BusServer {
 public:
  // Serves dbus_api::interface at dbus_api::object_path on `bus` until
  // destroyed. Requesting the bus name is left to the caller, so that no call
  // arrives before the object exists. Throws BusError.
  BusServer(sd_bus* bus, core::ServiceManager& manager, core::Lifecycle& lifecycle, Authorizer& authorizer);
  BusServer(const BusServer&) = delete;
  BusServer& operator=(const BusServer&) = delete;

 private:
  using Action = std::function<void(sd_bus_message* call)>;
  using Operation = void (core::Lifecycle::*)(const std::string& service, core::Lifecycle::Done done);

  // Runs `action` (which replies to `call`) once the caller is authorized,
  // or replies AccessDenied saying that `what` needs authorization and why.
  void when_authorized(sd_bus_message* call, std::string what, Action action);
  // Like when_authorized, but replies NoSuchService first if there is no
  // such service (before anyone is asked for a password).
  void when_authorized_for(sd_bus_message* call, const std::string& service, std::string what, Action action);
  void emit_option_changed(const std::string& service, const std::string& option);
  // After SetOption or ResetOption: publishes the service's onion again if
  // the option shapes it (ports, client authorization).
  void option_changed(const std::string& service, const std::string& option);
  // Throws Busy while an operation on the service runs (before an option changes).
  void refuse_while_busy(const std::string& service);
  // Replies (value, warning) to SetOption/ResetOption; for an enabled service
  // whose change needs it, only after Lifecycle::apply restarted it.
  void apply_then_reply(sd_bus_message* call, const std::string& service, const std::string& option,
                        const std::string& value, const std::string& warning);
  // Publishes the onion of an enabled service again (Lifecycle::refresh_onion);
  // a failure is logged, never thrown: the change it follows is stored.
  void refresh_onion(const std::string& service) noexcept;
  // Install, Enable, Disable and Uninstall: authorizes the caller, starts
  // `operation` and replies when it is done (an asynchronous reply).
  int start_operation(sd_bus_message* call, const char* verb, Operation operation);

  static int list_services(sd_bus_message* call, void* self, sd_bus_error* error);
  static int list_plugins(sd_bus_message* call, void* self, sd_bus_error* error);
  static int get_info(sd_bus_message* call, void* self, sd_bus_error* error);
  static int get_status(sd_bus_message* call, void* self, sd_bus_error* error);
  static int get_options(sd_bus_message* call, void* self, sd_bus_error* error);
  static int get_option(sd_bus_message* call, void* self, sd_bus_error* error);
  static int set_option(sd_bus_message* call, void* self, sd_bus_error* error);
  static int reset_option(sd_bus_message* call, void* self, sd_bus_error* error);
  static int autostart(sd_bus_message* call, void* userdata, sd_bus_error* error);
  static int reapply_firewall(sd_bus_message* call, void* userdata, sd_bus_error* error);
  static int configure(sd_bus_message* call, void* self, sd_bus_error* error);
  static int run_command(sd_bus_message* call, void* self, sd_bus_error* error);
  static int get_connection_info(sd_bus_message* call, void* self, sd_bus_error* error);
  static int add_client(sd_bus_message* call, void* self, sd_bus_error* error);
  static int remove_client(sd_bus_message* call, void* self, sd_bus_error* error);
  static int list_clients(sd_bus_message* call, void* self, sd_bus_error* error);
  static int import_key(sd_bus_message* call, void* self, sd_bus_error* error);
  static int install(sd_bus_message* call, void* self, sd_bus_error* error);
  static int enable(sd_bus_message* call, void* self, sd_bus_error* error);
  static int disable(sd_bus_message* call, void* self, sd_bus_error* error);
  static int uninstall(sd_bus_message* call, void* self, sd_bus_error* error);

  static const sd_bus_vtable vtable_[];

  sd_bus* bus_;
  core::ServiceManager& manager_;
  core::Lifecycle& lifecycle_;
  Authorizer& authorizer_;
  SlotPtr slot_;
};

}  // namespace tails_server::daemon
