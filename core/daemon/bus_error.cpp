#include "bus_error.h"

#include "dbus/contract.h"

#include <cstring>

namespace tails_server::daemon {

int check(int r, std::string_view what) {
  if (r < 0) throw BusError(dbus::error::failed, std::string(what) + ": " + std::strerror(-r));
  return r;
}

const char* error_name(core::ErrorCode code) {
  switch (code) {
    case core::ErrorCode::NoSuchService: return dbus::error::no_such_service;
    case core::ErrorCode::NoSuchOption: return dbus::error::no_such_option;
    case core::ErrorCode::InvalidValue: return dbus::error::invalid_value;
    case core::ErrorCode::StateError: return dbus::error::state_error;
    case core::ErrorCode::NoSuchClient: return dbus::error::no_such_client;
    case core::ErrorCode::Failed: return dbus::error::failed;
  }
  return dbus::error::failed;  // a code without its own D-Bus name
}

const char* error_name(core::LifecycleErrorCode code) {
  switch (code) {
    case core::LifecycleErrorCode::Busy: return dbus::error::busy;
    case core::LifecycleErrorCode::NotInstalled: return dbus::error::not_installed;
    case core::LifecycleErrorCode::Failed: return dbus::error::failed;
  }
  return dbus::error::failed;
}

}  // namespace tails_server::daemon
