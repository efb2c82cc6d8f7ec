// A typed client for tails-serverd's D-Bus API (docs/dbus-api.md).
#pragma once

#include "exit_codes.h"

#include <systemd/sd-bus.h>

#include <cstdint>
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
  std::string address;
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
  std::string set_option(const std::string& service, const std::string& option, const std::string& value);
  std::string reset_option(const std::string& service, const std::string& option);
  void configure(const std::string& service);
  std::string run_command(const std::string& service, const std::string& command,
                          const std::vector<std::string>& arguments, const std::string& secret);
  Connection connection_info(const std::string& service);

 private:
  struct MessageUnref {
    void operator()(sd_bus_message* message) const { sd_bus_message_unref(message); }
  };
  using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

  MessagePtr new_call(const char* method);
  // Sends `call` and returns the reply, or throws ClientError.
  MessagePtr send(MessagePtr call, std::uint64_t timeout_usec = 0);

  sd_bus* bus_ = nullptr;
};

}  // namespace tails_server::cli
