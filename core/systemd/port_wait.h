// Waiting, on the daemon's event loop, until a service listens on its port.
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>

namespace tails_server::core {

// Called once: with nothing when the port listens, or with an error message
// ("nothing listens on TCP port 64738 after 30 s") when the time is up.
// The message says nothing of the unit: the caller appends its journal tail.
using PortDone = std::function<void(std::optional<std::string> error)>;

// The uid the service's main process runs as, asked at each check; nullopt
// while it is not known (the unit has no main process yet).
using PortOwner = std::function<std::optional<uid_t>()>;

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
                                std::chrono::milliseconds, PortOwner);
  std::unique_ptr<State> state_;
};

// Checks now, then every `interval` on `loop`, whether a TCP socket listens
// on `port` in this network namespace (core::tcp_listeners), for at most
// `timeout`. With `owner`, only the service's own sockets count
// (core::check_port_holder): a socket of anyone else that would take Tor's
// connections ends the wait at once with an error naming its uid and
// address. `done` runs from the loop, never from inside this call. Throws
// std::system_error if the timer cannot be added.
[[nodiscard]] PortWait wait_for_port(sd_event* loop, std::uint16_t port, std::chrono::milliseconds timeout,
                                     PortDone done,
                                     std::chrono::milliseconds interval = std::chrono::milliseconds(100),
                                     PortOwner owner = {});

}  // namespace tails_server::core
