#include "replies.h"

#include "bus_error.h"
#include "dbus/contract.h"
#include "util/log.h"
#include "services/service_manager.h"

#include <cstring>

namespace tails_server::daemon {
namespace {

const char* member(sd_bus_message* call) {
  const char* name = sd_bus_message_get_member(call);
  return name ? name : "?";
}

}  // namespace

int reply_error(sd_bus_message* call, const char* name, const char* message) {
  sd_bus_error error = SD_BUS_ERROR_MAKE_CONST(name, message);
  int r = sd_bus_reply_method_error(call, &error);
  return r < 0 ? r : 1;
}

int reply_guarded(sd_bus_message* call, const std::function<void()>& body) noexcept {
  try {
    body();
    return 1;
  } catch (const core::ServiceError& e) {
    if (e.code() == core::ErrorCode::Failed || e.code() == core::ErrorCode::StateError)
      log::warning(std::string(member(call)) + " failed: " + e.what());
    return reply_error(call, error_name(e.code()), e.what());
  } catch (const core::LifecycleError& e) {
    if (e.code() == core::LifecycleErrorCode::Failed)
      log::warning(std::string(member(call)) + " failed: " + e.what());
    return reply_error(call, error_name(e.code()), e.what());
  } catch (const BusError& e) {
    if (e.name() != dbus::error::access_denied)
      log::warning(std::string(member(call)) + " failed: " + e.what());
    return reply_error(call, e.name().c_str(), e.what());
  } catch (const std::exception& e) {
    log::warning(std::string(member(call)) + " failed: " + e.what());
    return reply_error(call, dbus::error::failed, e.what());
  } catch (...) {
    log::error(std::string(member(call)) + " failed with an unknown exception");
    return reply_error(call, dbus::error::failed, "tails-serverd: internal error (unknown exception)");
  }
}

dbus::MessagePtr new_reply(sd_bus_message* call) {
  sd_bus_message* raw = nullptr;
  check(sd_bus_message_new_method_return(call, &raw), "cannot create a reply");
  return dbus::MessagePtr(raw);
}

void send_reply(sd_bus_message* message) { check(sd_bus_send(nullptr, message, nullptr), "cannot send the reply"); }

void reply(sd_bus_message* call) { send_reply(new_reply(call).get()); }

void reply_after(sd_bus_message* call, const std::string& what, const std::optional<core::LifecycleError>& error,
                 const std::function<void(sd_bus_message* call)>& success) noexcept {
  try {
    if (!error) return success(call);
    int r = reply_error(call, error_name(error->code()), error->what());
    if (r < 0) log::warning("cannot reply after " + what + ": " + std::strerror(-r));
  } catch (const std::exception& e) {
    log::warning("cannot reply after " + what + ": " + e.what());
  } catch (...) {
    log::error("cannot reply after " + what);
  }
}

dbus::MessagePtr new_signal(sd_bus* bus, const char* member) {
  sd_bus_message* raw = nullptr;
  check(sd_bus_message_new_signal(bus, &raw, dbus::object_path, dbus::interface, member),
        std::string("cannot create the signal ") + member);
  return dbus::MessagePtr(raw);
}

void send_signal(sd_bus* bus, sd_bus_message* message) {
  check(sd_bus_send(bus, message, nullptr), "cannot send the signal");
}

}  // namespace tails_server::daemon
