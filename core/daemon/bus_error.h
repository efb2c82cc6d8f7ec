// The one error type of the D-Bus layer, and the one place where sd-bus
// return codes become exceptions.
#pragma once

#include "lifecycle/lifecycle.h"
#include "services/service_manager.h"

#include <stdexcept>
#include <string>
#include <string_view>

namespace tails_server::daemon {

// An error to send back to a D-Bus caller: a D-Bus error name
// (dbus::error::*) and a message for the user.
class BusError : public std::runtime_error {
 public:
  BusError(std::string name, const std::string& message)
      : std::runtime_error(message), name_(std::move(name)) {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Throws BusError (Failed) saying "<what>: <strerror>" if `r` is negative;
// returns `r` otherwise. Every sd-bus and sd-event call goes through this.
int check(int r, std::string_view what);

// The D-Bus error name for a ServiceManager error code.
const char* error_name(core::ErrorCode code);
// The D-Bus error name for a Lifecycle error code.
const char* error_name(core::LifecycleErrorCode code);

}  // namespace tails_server::daemon
