// A typed client for tails-serverd's D-Bus API (docs/dbus-api.md).
#pragma once

#include "exit_codes.h"

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

namespace tails_server::cli {

// A call failed. `code` is the exit code to end with; what() is the daemon's
// message (or why the daemon cannot be reached).
class ClientError : public std::runtime_error {
 public:
  ClientError(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

struct ServiceSummary {
  std::string name;
  std::string description;
  bool installed = false;
  bool running = false;
  bool published = false;
  std::string address;
  std::string state;  // "running", "stopped-unexpectedly", ... (docs/dbus-api.md)
  std::string onion;  // "", "pending", "announcing", "published" or "error: ..."
  std::string tor;    // "connected", "connecting" or "not running: ..."
};

struct PluginSummary {
  std::string file;
  std::string name;
  std::string state;
  std::string message;
};

struct Status {
  bool installed = false;
  bool running = false;
  bool published = false;
  bool enabled = false;
  std::string address;
  std::string state;
  std::string onion;  // as in ServiceSummary
  std::string tor;
};

// One StateChanged signal.
struct StateChange {
  std::string service;
  std::string state;
  int percent = -1;  // 0..100, or -1 when the step has no progress
  std::string message;
};

struct Command {
  std::string name;
  std::string description;
  std::vector<std::string> arguments;
  bool reads_secret = false;
};

struct Details {
  std::string name;
  std::string description;
  std::string client_application;
  std::string documentation;
  std::string systemd_service;
  std::vector<std::string> packages;
  std::vector<std::string> persistent_paths;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  std::vector<Command> commands;
  std::string state_error;
  Status status;
};

struct Option {
  std::string name;
  std::string type;
  std::string value;  // masked for secrets
  std::string description;
  std::string accepted;
  bool secret = false;
  bool read_only = false;
  bool is_default = true;
};

// The reply of SetOption and ResetOption.
struct OptionChange {
  std::string value;    // canonical
  std::string warning;  // for the user, or empty
};

// A client's credential, shown once (AddClient).
struct Credential {
  std::string name;
  std::string address;
  std::string tor_browser_key;
  std::string auth_private;
  std::string onion_client_auth_add;
};

struct Connection {
  std::vector<std::pair<std::string, std::string>> fields;
  std::string instructions;
};

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
  Details info(const std::string& service);
  Status status(const std::string& service);
  std::vector<Option> options(const std::string& service);
  std::string get_option(const std::string& service, const std::string& option);
  OptionChange set_option(const std::string& service, const std::string& option, const std::string& value);
  OptionChange reset_option(const std::string& service, const std::string& option);
  void configure(const std::string& service);
  std::string run_command(const std::string& service, const std::string& command,
                          const std::vector<std::string>& arguments, const std::string& secret);
  Connection connection_info(const std::string& service);
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
  struct MessageUnref {
    void operator()(sd_bus_message* message) const { sd_bus_message_unref(message); }
  };
  using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

  MessagePtr new_call(const char* method);
  // Sends `call` and returns the reply, or throws ClientError.
  MessagePtr send(MessagePtr call, std::uint64_t timeout_usec = 0);
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

}  // namespace tails_server::cli
