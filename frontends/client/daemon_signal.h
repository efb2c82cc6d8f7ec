// Handing a signal of the daemon to its handler, for both clients.
#pragma once

#include "dbus/codec.h"

#include <systemd/sd-bus.h>

namespace tails_server::client {

// Decodes the body of `m` as a T and calls `handler` with it (if it is set).
// A body of another signature is not the signal we asked for: ignored.
template <class T, class Handler>
int dispatch_signal(sd_bus_message* m, const Handler& handler) {
  T value;
  try {
    dbus::decode(m, value);
  } catch (const dbus::CodecError&) {
    return 0;
  }
  if (handler) handler(value);
  return 0;
}

}  // namespace tails_server::client
