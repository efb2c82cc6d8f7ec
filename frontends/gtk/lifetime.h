// Replies and signals from the daemon can arrive after the widget that asked
// is gone (the user left a service's page). A Lifetime, the last member of
// its owner, makes guard(f) a callback that does nothing once the owner is
// destroyed.
#pragma once

#include <memory>
#include <utility>

namespace tails_server::gui {

class Lifetime {
 public:
  Lifetime() = default;
  Lifetime(const Lifetime&) = delete;
  Lifetime& operator=(const Lifetime&) = delete;
  ~Lifetime() { *alive_ = false; }

  template <class F>
  auto guard(F f) const {
    return [alive = alive_, f = std::move(f)](auto&&... arguments) mutable {
      if (*alive) f(std::forward<decltype(arguments)>(arguments)...);
    };
  }
  // Ends the guarded callbacks before destruction (a window that is hidden).
  void end() { *alive_ = false; }

 private:
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tails_server::gui
