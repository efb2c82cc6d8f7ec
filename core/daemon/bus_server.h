// The org.boum.tails.Server1 interface: D-Bus methods over a ServiceManager.
#pragma once

#include "authorizer.h"
#include "sd_bus_ptr.h"
#include "services/service_manager.h"

#include <systemd/sd-bus.h>

#include <functional>
#include <string>

namespace tails_server::daemon {

class BusServer {
 public:
  // Serves dbus_api::interface at dbus_api::object_path on `bus` until
  // destroyed. Requesting the bus name is left to the caller, so that no call
  // arrives before the object exists. Throws BusError.
  BusServer(sd_bus* bus, core::ServiceManager& manager, Authorizer& authorizer);
  BusServer(const BusServer&) = delete;
  BusServer& operator=(const BusServer&) = delete;

 private:
  using Action = std::function<void(sd_bus_message* call)>;

  // Runs `action` (which replies to `call`) once the caller is authorized,
  // or replies AccessDenied saying that `what` needs authorization and why.
  void when_authorized(sd_bus_message* call, std::string what, Action action);
  void emit_option_changed(const std::string& service, const std::string& option);

  static int list_services(sd_bus_message* call, void* self, sd_bus_error* error);
  static int list_plugins(sd_bus_message* call, void* self, sd_bus_error* error);
  static int get_info(sd_bus_message* call, void* self, sd_bus_error* error);
  static int get_status(sd_bus_message* call, void* self, sd_bus_error* error);
  static int get_options(sd_bus_message* call, void* self, sd_bus_error* error);
  static int get_option(sd_bus_message* call, void* self, sd_bus_error* error);
  static int set_option(sd_bus_message* call, void* self, sd_bus_error* error);
  static int reset_option(sd_bus_message* call, void* self, sd_bus_error* error);
  static int configure(sd_bus_message* call, void* self, sd_bus_error* error);
  static int run_command(sd_bus_message* call, void* self, sd_bus_error* error);
  static int get_connection_info(sd_bus_message* call, void* self, sd_bus_error* error);

  static const sd_bus_vtable vtable_[];

  sd_bus* bus_;
  core::ServiceManager& manager_;
  Authorizer& authorizer_;
  SlotPtr slot_;
};

}  // namespace tails_server::daemon
