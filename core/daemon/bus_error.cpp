#include "bus_error.h"

#include "dbus_api.h"

#include <cstring>

namespace tails_server::daemon {

int check(int r, std::string_view what) {
  if (r < 0) throw BusError(dbus_api::error::failed, std::string(what) + ": " + std::strerror(-r));
  return r;
}

const char* error_name(core::ErrorCode code) {
  switch (code) {
    case core::ErrorCode::NoSuchService: return dbus_api::error::no_such_service;
    case core::ErrorCode::NoSuchOption: return dbus_api::error::no_such_option;
    case core::ErrorCode::InvalidValue: return dbus_api::error::invalid_value;
    case core::ErrorCode::StateError: return dbus_api::error::state_error;
    case core::ErrorCode::NoSuchClient: return dbus_api::error::no_such_client;
    case core::ErrorCode::Failed: return dbus_api::error::failed;
  }
  return dbus_api::error::failed;  // a code without its own D-Bus name
}

const char* error_name(core::LifecycleErrorCode code) {
  switch (code) {
    case core::LifecycleErrorCode::Busy: return dbus_api::error::busy;
    case core::LifecycleErrorCode::NotInstalled: return dbus_api::error::not_installed;
    case core::LifecycleErrorCode::Failed: return dbus_api::error::failed;
  }
  return dbus_api::error::failed;
}

}  // namespace tails_server::daemon
