// Why a call to tails-serverd failed, for every front end: one kind per
// D-Bus error of the contract (docs/dbus-api.md), and the daemon's message.
#pragma once

#include <systemd/sd-bus.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace tails_server::client {

enum class ErrorKind {
  failed,           // the daemon or a plugin failed; anything else
  unreachable,      // tails-serverd is not on the system bus
  no_such_service,
  no_such_option,
  invalid_value,    // a value or argument was refused
  access_denied,    // needs root or polkit authorization
  state_error,      // the service's state file is unreadable
  busy,             // another operation runs on the service
  not_installed,    // the service's packages are not installed
  no_such_client,
  daemon_stopped,   // tails-serverd died during the call (a plugin crashed it)
  interrupted,      // SIGINT or SIGTERM while waiting (the daemon goes on)
};

// A call failed. what() is the daemon's message (a sentence for the user),
// or why the daemon cannot be reached.
class ClientError : public std::runtime_error {
 public:
  ClientError(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// The kind of a D-Bus error name sent by the daemon or the bus.
ErrorKind error_kind_for(std::string_view dbus_error_name);

// The ClientError for a failed call: `error` as the daemon or the bus sent
// it (may be null), and `errno_value` (positive) when it has no name.
ClientError error_from_bus(const sd_bus_error* error, int errno_value);

// "cannot reach tails-serverd on the system bus (REASON); start it with: …"
std::string unreachable_message(std::string_view reason);

}  // namespace tails_server::client
