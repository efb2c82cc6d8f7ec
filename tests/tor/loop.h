// Runs an sd-event loop in a test until a condition holds.
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>

namespace tails_server::test {

struct EventDeleter {
  void operator()(sd_event* e) const { sd_event_unref(e); }
};
using EventLoop = std::unique_ptr<sd_event, EventDeleter>;

inline EventLoop new_event_loop() {
  sd_event* e = nullptr;
  if (sd_event_new(&e) < 0) throw std::runtime_error("sd_event_new failed");
  return EventLoop(e);
}

// Runs `event` until `done()` is true; returns false if `timeout` passed first.
inline bool run_until(sd_event* event, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (sd_event_run(event, 20000) < 0) throw std::runtime_error("sd_event_run failed");
  }
  return true;
}

// Runs `event` for `duration`, whatever happens.
inline void run_for(sd_event* event, std::chrono::milliseconds duration) {
  auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) sd_event_run(event, 20000);
}

}  // namespace tails_server::test
