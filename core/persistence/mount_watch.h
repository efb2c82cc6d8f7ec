// Calls back, on the daemon's event loop, whenever the mount table of the
// daemon's mount namespace changes (the kernel flags /proc/self/mountinfo
// with POLLPRI). Tails mounts the Persistent Storage when the user unlocks it
// in the Welcome Screen, after the daemon started; the lifecycle uses this to
// notice it.
#pragma once

#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>

namespace tails_server::core {

class MountWatch {
 public:
  // Throws std::system_error if /proc/self/mountinfo cannot be watched.
  MountWatch(sd_event* event, std::function<void()> on_change);
  ~MountWatch();
  MountWatch(const MountWatch&) = delete;
  MountWatch& operator=(const MountWatch&) = delete;

 private:
  static int on_event(sd_event_source* source, int fd, std::uint32_t events, void* userdata);
  int fd_ = -1;
  sd_event_source* source_ = nullptr;
  std::function<void()> on_change_;
};

}  // namespace tails_server::core
