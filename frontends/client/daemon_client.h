// A typed, synchronous client (the CLI's) for tails-serverd's D-Bus API (docs/dbus-api.md).
#pragma once

#include "dbus/messages.h"
#include "dbus/sd_bus_ptr.h"
#include "error.h"

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tails_server::client {

// The messages, as the D-Bus contract defines them (dbus/messages.h).
using dbus::Command;
using dbus::ConnectionInfo;
using dbus::Credential;
using dbus::Option;
using dbus::OptionChange;
using dbus::PluginSummary;
using dbus::ServiceDetails;
using dbus::ServiceSummary;
using dbus::StateChange;
using dbus::Status;

class DaemonClient {
 public:
  // Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS if set). Throws
  // ClientError(unreachable).
  DaemonClient();
  ~DaemonClient();
  DaemonClient(const DaemonClient&) = delete;
  DaemonClient& operator=(const DaemonClient&) = delete;

  // Each throws ClientError with the exit code of the daemon's error.
  std::vector<ServiceSummary> list_services();
  std::vector<PluginSummary> list_plugins();
  // Takes a crashed plugin out of the quarantine; returns its new state.
  std::string retry_plugin(const std::string& plugin);
  ServiceDetails info(const std::string& service);
  Status status(const std::string& service);
  std::vector<Option> options(const std::string& service);
  std::string get_option(const std::string& service, const std::string& option);
  OptionChange set_option(const std::string& service, const std::string& option, const std::string& value);
  OptionChange reset_option(const std::string& service, const std::string& option);
  void configure(const std::string& service);
  std::string run_command(const std::string& service, const std::string& command,
                          const std::vector<std::string>& arguments, const std::string& secret);
  ConnectionInfo connection_info(const std::string& service);
  Credential add_client(const std::string& service, const std::string& name);
  void remove_client(const std::string& service, const std::string& name);
  std::vector<std::string> list_clients(const std::string& service);
  // Sends the contents of a key file; returns the service's new address.
  std::string import_key(const std::string& service, const std::string& key_file_contents);

  // Fails (unreachable) unless tails-serverd is on the bus.
  void ping();

  // Subscribes to StateChanged: from now on, `handler` sees every change
  // that arrives while this client waits in call_long() or monitor(). Call
  // it before anything whose changes matter, so that none is missed.
  using StateHandler = std::function<void(const StateChange&)>;
  void watch_states(StateHandler handler);
  // Calls `method(service)`, which replies when its long work ends, and
  // dispatches StateChanged meanwhile. Throws ClientError: the daemon's
  // error, or `interrupted` on SIGINT or SIGTERM.
  void call_long(const char* method, const std::string& service, std::chrono::seconds timeout);
  // Dispatches StateChanged until SIGINT or SIGTERM (then returns), or
  // until the bus goes (throws ClientError(unreachable)).
  void monitor();

 private:
  using MessagePtr = dbus::MessagePtr;

  MessagePtr new_call(const char* method);
  // Sends `call` and returns the reply, or throws ClientError.
  MessagePtr send(MessagePtr call, std::uint64_t timeout_usec = 0);
  // Calls `method` with `arguments` (a message of dbus/messages.h, or none)
  // and decodes its reply as a Reply (or ignores it: void). Throws
  // ClientError.
  template <class Reply, class... Arguments>
  Reply call(const char* method, std::uint64_t timeout_usec, const Arguments&... arguments);
  // The event loop of call_long() and monitor(), with the bus attached and
  // SIGINT/SIGTERM stopping it; created on first use.
  sd_event* event();
  // Runs the event loop until stop() (returns its code) or until the bus
  // goes (throws ClientError(unreachable)). sd_event_exit() is never used:
  // it would close the bus.
  int run_loop();
  void stop(int code) {
    stopped_ = true;
    stop_code_ = code;
  }

  sd_bus* bus_ = nullptr;
  sd_event* event_ = nullptr;
  sd_bus_slot* state_match_ = nullptr;
  sd_bus_slot* disconnect_filter_ = nullptr;
  bool stopped_ = false;
  int stop_code_ = 0;
  bool disconnected_ = false;
  StateHandler state_handler_;
};

}  // namespace tails_server::client
