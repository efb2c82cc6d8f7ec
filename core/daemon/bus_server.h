// The org.boum.tails.Server1 interface: a thin adapter that decodes each call
// (dbus/codec.h), authorizes the caller, calls the ServiceManager or the
// Lifecycle, and encodes the reply.
#pragma once

#include "authorizer.h"
#include "dbus/sd_bus_ptr.h"
#include "lifecycle/lifecycle.h"
#include "services/service_manager.h"

#include <systemd/sd-bus.h>

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace tails_server::daemon {

// Emits StateChanged(service, state, percent, message) on `bus`; a failure
// is logged, never thrown. The daemon passes this, through a lambda, as the
// Lifecycle's Changed callback.
void emit_state_changed(sd_bus* bus, const core::StateChange& change) noexcept;

class BusServer {
 public:
  // Serves dbus::interface at dbus::object_path on `bus` until destroyed.
  // Requesting the bus name is left to the caller, so that no call arrives
  // before the object exists. Throws BusError.
  BusServer(sd_bus* bus, core::ServiceManager& manager, core::Lifecycle& lifecycle, Authorizer& authorizer);
  BusServer(const BusServer&) = delete;
  BusServer& operator=(const BusServer&) = delete;

 private:
  using Action = std::function<void(sd_bus_message* call)>;
  using Operation = void (core::Lifecycle::*)(const std::string& service, core::Lifecycle::Done done);
  using Method = void (BusServer::*)(sd_bus_message* call);

  // The sd-bus handler of every method: runs `method` guarded (reply_guarded).
  template <Method method>
  static int handle(sd_bus_message* call, void* self, sd_bus_error* error);

  // Runs `action` (which replies to `call`) once the caller is authorized,
  // or replies AccessDenied saying that `what` needs authorization and why.
  // Throws Busy (nobody is asked) when the caller's user has
  // dbus::max_pending_authorizations checks pending already.
  void when_authorized(sd_bus_message* call, std::string what, Action action);
  // Like when_authorized, but replies NoSuchService first if there is no
  // such service (before anyone is asked for a password).
  void when_authorized_for(sd_bus_message* call, const std::string& service, std::string what, Action action);
  // SetOption (`value`) and ResetOption: Lifecycle::change_option, then
  // OptionChanged, and the reply once a restart it needs is done.
  void change_option(sd_bus_message* call, const std::string& service, const std::string& option,
                     const std::optional<std::string>& value);
  // Install, Enable, Disable and Uninstall: authorizes the caller, starts
  // `operation` and replies when it is done (an asynchronous reply).
  void start_operation(sd_bus_message* call, const char* verb, Operation operation);

  void list_services(sd_bus_message* call);
  void list_plugins(sd_bus_message* call);
  // RetryPlugin: [manage] ServiceManager::retry_plugin, then Lifecycle::adopt.
  void retry_plugin(sd_bus_message* call);
  void get_info(sd_bus_message* call);
  void get_status(sd_bus_message* call);
  void get_options(sd_bus_message* call);
  void describe_options(sd_bus_message* call);
  void get_option(sd_bus_message* call);
  void set_option(sd_bus_message* call);
  void reset_option(sd_bus_message* call);
  void autostart(sd_bus_message* call);
  void reapply_firewall(sd_bus_message* call);
  void configure(sd_bus_message* call);
  void run_command(sd_bus_message* call);
  void get_connection_info(sd_bus_message* call);
  void add_client(sd_bus_message* call);
  void remove_client(sd_bus_message* call);
  void list_clients(sd_bus_message* call);
  void import_key(sd_bus_message* call);
  void install(sd_bus_message* call);
  void enable(sd_bus_message* call);
  void disable(sd_bus_message* call);
  void uninstall(sd_bus_message* call);

  static const sd_bus_vtable vtable_[];

  sd_bus* bus_;
  core::ServiceManager& manager_;
  core::Lifecycle& lifecycle_;
  Authorizer& authorizer_;
  dbus::SlotPtr slot_;
  // Authorization checks pending per user (capped: max_pending_authorizations).
  std::map<std::string, unsigned> pending_authorizations_;
};

}  // namespace tails_server::daemon
