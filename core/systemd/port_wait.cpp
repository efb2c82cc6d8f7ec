#include "systemd/port_wait.h"

#include "services/system_probe.h"

#include <system_error>

namespace tails_server::core {

struct PortWait::State {
  sd_event_source* timer = nullptr;
  std::uint16_t port = 0;
  std::chrono::milliseconds timeout{};
  std::chrono::milliseconds interval{};
  std::chrono::steady_clock::time_point deadline;
  PortDone done;
  PortOwner owner;

  ~State() { sd_event_source_disable_unref(timer); }

  // Stops the timer and calls `done` (at most once).
  void finish(std::optional<std::string> error) {
    timer = sd_event_source_disable_unref(timer);
    PortDone call = std::move(done);
    done = nullptr;
    if (call) call(std::move(error));
  }

  static int on_timer(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<State*>(userdata);
    if (!self->owner) {
      if (port_listening(self->port)) {
        self->finish(std::nullopt);
        return 0;
      }
    } else if (auto uid = self->owner()) {
      PortCheck check = check_port_holder(tcp_listeners(self->port), *uid);
      if (check.holder == PortHolder::Stranger) {
        self->finish("TCP port " + std::to_string(self->port) + " is held by a socket of " + check.stranger +
                     ", not by the service (uid " + std::to_string(*uid) +
                     "): another local user took the port, so the onion is not published to it");
        return 0;
      }
      if (check.holder == PortHolder::Service) {
        self->finish(std::nullopt);
        return 0;
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= self->deadline) {
      auto ms = self->timeout.count();
      std::string span = ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
      self->finish("nothing listens on TCP port " + std::to_string(self->port) + " after " + span);
      return 0;
    }
    auto next = std::min(self->interval, std::chrono::duration_cast<std::chrono::milliseconds>(self->deadline - now));
    if (next.count() < 1) next = std::chrono::milliseconds(1);
    sd_event_source_set_time_relative(self->timer, static_cast<uint64_t>(next.count()) * 1000);
    sd_event_source_set_enabled(self->timer, SD_EVENT_ONESHOT);
    return 0;
  }
};

PortWait::PortWait() = default;
PortWait::~PortWait() = default;
PortWait::PortWait(PortWait&&) noexcept = default;
PortWait& PortWait::operator=(PortWait&&) noexcept = default;

bool PortWait::pending() const { return state_ && state_->done; }

PortWait wait_for_port(sd_event* loop, std::uint16_t port, std::chrono::milliseconds timeout, PortDone done,
                       std::chrono::milliseconds interval, PortOwner owner) {
  PortWait wait;
  wait.state_ = std::make_unique<PortWait::State>();
  auto& state = *wait.state_;
  state.port = port;
  state.timeout = timeout;
  state.interval = interval.count() > 0 ? interval : std::chrono::milliseconds(100);
  state.deadline = std::chrono::steady_clock::now() + timeout;
  state.done = std::move(done);
  state.owner = std::move(owner);
  // The first check runs from the loop at once (relative time 0), so that
  // `done` is never called from inside this function.
  int r = sd_event_add_time_relative(loop, &state.timer, CLOCK_MONOTONIC, 0, 0, &PortWait::State::on_timer,
                                     &state);
  if (r < 0) throw std::system_error(-r, std::generic_category(), "cannot add a timer to the event loop");
  return wait;
}

}  // namespace tails_server::core
