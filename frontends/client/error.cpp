#include "error.h"

#include "dbus/contract.h"

#include <systemd/sd-bus.h>

#include <cstring>

namespace tails_server::client {

ErrorKind error_kind_for(std::string_view name) {
  namespace error = dbus::error;
  if (name == error::no_such_service) return ErrorKind::no_such_service;
  if (name == error::no_such_option) return ErrorKind::no_such_option;
  if (name == error::invalid_value) return ErrorKind::invalid_value;
  if (name == error::state_error) return ErrorKind::state_error;
  if (name == error::busy) return ErrorKind::busy;
  if (name == error::not_installed) return ErrorKind::not_installed;
  if (name == error::no_such_client) return ErrorKind::no_such_client;
  if (name == error::access_denied || name == SD_BUS_ERROR_ACCESS_DENIED) return ErrorKind::access_denied;
  if (name == SD_BUS_ERROR_SERVICE_UNKNOWN || name == SD_BUS_ERROR_NAME_HAS_NO_OWNER)
    return ErrorKind::unreachable;
  return ErrorKind::failed;
}

ClientError error_from_bus(const sd_bus_error* error, int errno_value) {
  std::string name = error && error->name ? error->name : "";
  std::string message = error && error->message ? error->message : std::strerror(errno_value);
  ErrorKind kind = error_kind_for(name);
  // The bus's answer when the daemon's connection closed before it replied.
  if (name == SD_BUS_ERROR_NO_REPLY && message.find("disconnected") != std::string::npos)
    return ClientError(ErrorKind::daemon_stopped, "tails-serverd stopped while handling the call (" + message + ")");
  if (kind == ErrorKind::unreachable || name.empty() || name == SD_BUS_ERROR_DISCONNECTED)
    return ClientError(ErrorKind::unreachable, unreachable_message(message));
  return ClientError(kind, message);
}

std::string unreachable_message(std::string_view reason) {
  return "cannot reach tails-serverd on the system bus (" + std::string(reason) +
         "); start it with: sudo systemctl start tails-serverd";
}

}  // namespace tails_server::client
