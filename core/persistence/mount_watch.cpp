#include "persistence/mount_watch.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace tails_server::core {

MountWatch::MountWatch(sd_event* event, std::function<void()> on_change) : on_change_(std::move(on_change)) {
  fd_ = ::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open /proc/self/mountinfo");
  // The kernel reports a change once per poll (it remembers the last event
  // it reported), so nothing needs to be read to re-arm the watch.
  int r = sd_event_add_io(event, &source_, fd_, EPOLLPRI, &MountWatch::on_event, this);
  if (r < 0) {
    ::close(fd_);
    throw std::system_error(-r, std::generic_category(), "cannot watch /proc/self/mountinfo");
  }
}

MountWatch::~MountWatch() {
  sd_event_source_disable_unref(source_);
  ::close(fd_);
}

int MountWatch::on_event(sd_event_source*, int, std::uint32_t, void* userdata) {
  auto& self = *static_cast<MountWatch*>(userdata);
  try {
    self.on_change_();
  } catch (...) {
    // The callback reports its own errors; the watch goes on.
  }
  return 0;
}

}  // namespace tails_server::core
