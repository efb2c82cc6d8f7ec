// Waiting, on the daemon's event loop, until a service listens on its port.
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace tails_server::core {

// Called once: with nothing when the port listens, or with an error message
// ("nothing listens on TCP port 64738 after 30 s") when the time is up.
// The message says nothing of the unit: the caller appends its journal tail.
using PortDone = std::function<void(std::optional<std::string> error)>;

// A wait in progress. Destroying it cancels the wait (`done` is then never
// called). Movable, not copyable.
class PortWait {
 public:
  PortWait();
  ~PortWait();
  PortWait(PortWait&&) noexcept;
  PortWait& operator=(PortWait&&) noexcept;

  // Whether `done` has not been called yet.
  bool pending() const;

  struct State;

 private:
  friend PortWait wait_for_port(sd_event*, std::uint16_t, std::chrono::milliseconds, PortDone,
                                std::chrono::milliseconds);
  std::unique_ptr<State> state_;
};

// Checks now, then every `interval` on `loop`, whether a TCP socket listens
// on `port` in this network namespace (core::port_listening: /proc/net/tcp
// and tcp6), for at most `timeout`. `done` runs from the loop, never from
// inside this call. Throws std::system_error if the timer cannot be added.
[[nodiscard]] PortWait wait_for_port(sd_event* loop, std::uint16_t port, std::chrono::milliseconds timeout,
                                     PortDone done,
                                     std::chrono::milliseconds interval = std::chrono::milliseconds(100));

}  // namespace tails_server::core
