// How the daemon answers: replies to method calls (guarded, so that nothing
// a handler or a plugin throws escapes into sd-bus) and signals, each body
// encoded by the D-Bus contract (dbus/codec.h).
#pragma once

#include "dbus/codec.h"
#include "dbus/sd_bus_ptr.h"
#include "lifecycle/lifecycle.h"

#include <systemd/sd-bus.h>

#include <functional>
#include <optional>
#include <string>

namespace tails_server::daemon {

// Runs `body`, which replies to `call`, and replies an error for anything it
// throws (ServiceError, LifecycleError and BusError with their names, any
// other exception as Failed), logging failures. Returns what an sd-bus
// method handler returns.
int reply_guarded(sd_bus_message* call, const std::function<void()>& body) noexcept;

// Replies the error `name` with `message`; returns sd-bus's result.
int reply_error(sd_bus_message* call, const char* name, const char* message);

// A new, empty method return for `call`. Throws BusError.
dbus::MessagePtr new_reply(sd_bus_message* call);
// Sends `message` on the bus of the call it replies to. Throws BusError.
void send_reply(sd_bus_message* message);

// Replies `value` (encoded as dbus::encode does), or nothing. Throw BusError
// or dbus::CodecError.
template <class T>
void reply(sd_bus_message* call, const T& value) {
  dbus::MessagePtr message = new_reply(call);
  dbus::encode(message.get(), value);
  send_reply(message.get());
}
void reply(sd_bus_message* call);

// After asynchronous work on behalf of `call`: replies `error`, or runs
// `success` (which replies). Never throws; a reply that cannot be sent is
// logged as "cannot reply after <what>".
void reply_after(sd_bus_message* call, const std::string& what, const std::optional<core::LifecycleError>& error,
                 const std::function<void(sd_bus_message* call)>& success) noexcept;

// A new signal `member` of dbus::interface at dbus::object_path, and sending
// it. Throw BusError.
dbus::MessagePtr new_signal(sd_bus* bus, const char* member);
void send_signal(sd_bus* bus, sd_bus_message* message);

// Emits the signal `member` with `body`. Throws BusError or dbus::CodecError.
template <class T>
void emit(sd_bus* bus, const char* member, const T& body) {
  dbus::MessagePtr message = new_signal(bus, member);
  dbus::encode(message.get(), body);
  send_signal(bus, message.get());
}

}  // namespace tails_server::daemon
