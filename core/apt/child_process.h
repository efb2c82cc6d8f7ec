// A child process on an sd-event loop: its output (stdout and stderr
// together) and an optional status pipe (fd 3 in the child) arrive line by
// line through the loop; its exit is reported once, from the loop.
// Private to core/apt.
#pragma once

#include <systemd/sd-event.h>

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tails_server::core {

class ChildProcess {
 public:
  using LineHandler = std::function<void(std::string_view line)>;
  // Exit status (0-255), or minus the signal that killed it.
  using ExitHandler = std::function<void(int status)>;

  // Forks and executes `argv` (argv[0] looked up in PATH; no shell) with
  // exactly `environment`, stdin from /dev/null, in its own process group.
  // `on_status` null: no status pipe. Otherwise the child's fd 3 is a pipe
  // whose lines go to `on_status`. `on_exit` is called once, from a later
  // loop iteration, after the remaining output was delivered; the
  // ChildProcess may be destroyed inside it. SIGCHLD must be blocked.
  // Throws std::runtime_error when the program cannot be started.
  ChildProcess(sd_event* event, const std::vector<std::string>& argv, const std::vector<std::string>& environment,
               LineHandler on_output, LineHandler on_status, ExitHandler on_exit);
  // A child still running gets SIGTERM (its process group), SIGKILL after
  // 10 s, and is reaped.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

 private:
  struct Stream {
    ChildProcess* owner = nullptr;
    int fd = -1;
    sd_event_source* source = nullptr;
    std::string partial;
    bool split_at_cr = false;  // apt rewrites progress lines with '\r'
    LineHandler on_line;
  };

  void watch(Stream& stream, int fd);
  // Reads what is available now; closes the stream at end of file.
  void read_stream(Stream& stream);
  void close_stream(Stream& stream);
  static int on_io(sd_event_source* source, int fd, uint32_t revents, void* data);
  static int on_child(sd_event_source* source, const siginfo_t* info, void* data);
  static int on_deferred(sd_event_source* source, void* data);

  sd_event* event_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_status_ = 0;
  Stream output_;
  Stream status_;
  sd_event_source* child_source_ = nullptr;
  sd_event_source* defer_source_ = nullptr;
  ExitHandler on_exit_;
};

}  // namespace tails_server::core
