#include "apt/child_process.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace tails_server::core {

namespace {

// A line longer than this (no newline in sight) is delivered in pieces.
constexpr std::size_t max_line = 64 * 1024;

std::string errno_text(int error) { return std::system_category().message(error); }

}  // namespace

ChildProcess::ChildProcess(sd_event* event, const std::vector<std::string>& argv,
                           const std::vector<std::string>& environment, LineHandler on_output,
                           LineHandler on_status, ExitHandler on_exit)
    : event_(event), on_exit_(std::move(on_exit)) {
  if (argv.empty()) throw std::runtime_error("no command to run");
  output_.owner = status_.owner = this;
  output_.on_line = std::move(on_output);
  output_.split_at_cr = true;
  status_.on_line = std::move(on_status);

  // Everything the child needs is prepared before fork().
  std::vector<char*> c_argv, c_env;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  for (const auto& e : environment) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);

  int out_pipe[2] = {-1, -1}, status_pipe[2] = {-1, -1}, exec_pipe[2] = {-1, -1};
  auto close_all = [&]() {
    for (int fd : {out_pipe[0], out_pipe[1], status_pipe[0], status_pipe[1], exec_pipe[0], exec_pipe[1]})
      if (fd >= 0) ::close(fd);
  };
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || (status_.on_line && ::pipe2(status_pipe, O_CLOEXEC) != 0) ||
      ::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    int error = errno;
    close_all();
    throw std::runtime_error("cannot create a pipe: " + errno_text(error));
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  pid_t pid = ::fork();
  if (pid < 0) {
    int error = errno;
    close_all();
    if (null_fd >= 0) ::close(null_fd);
    throw std::runtime_error("cannot fork: " + errno_text(error));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::setpgid(0, 0);
    for (int signal = 1; signal < NSIG; ++signal) ::signal(signal, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(out_pipe[1], 2);
    if (status_pipe[1] >= 0) {
      if (status_pipe[1] == 3) ::fcntl(3, F_SETFD, 0);
      else ::dup2(status_pipe[1], 3);
    }
    ::execvpe(c_argv[0], c_argv.data(), c_env.data());
    int error = errno;
    (void)!::write(exec_pipe[1], &error, sizeof error);
    ::_exit(127);
  }
  pid_ = pid;
  if (null_fd >= 0) ::close(null_fd);
  ::close(out_pipe[1]);
  if (status_pipe[1] >= 0) ::close(status_pipe[1]);
  ::close(exec_pipe[1]);

  int exec_error = 0;
  ssize_t got;
  while ((got = ::read(exec_pipe[0], &exec_error, sizeof exec_error)) < 0 && errno == EINTR) {
  }
  ::close(exec_pipe[0]);
  if (got == sizeof exec_error) {
    ::close(out_pipe[0]);
    if (status_pipe[0] >= 0) ::close(status_pipe[0]);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    throw std::runtime_error("cannot run " + argv[0] + ": " + errno_text(exec_error));
  }

  int r = sd_event_add_child(event_, &child_source_, pid_, WEXITED, on_child, this);
  if (r < 0) {
    ::close(out_pipe[0]);
    if (status_pipe[0] >= 0) ::close(status_pipe[0]);
    ::kill(-pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    throw std::runtime_error("cannot watch " + argv[0] + " on the event loop: " + errno_text(-r) +
                             (r == -EBUSY ? " (SIGCHLD must be blocked)" : ""));
  }
  watch(output_, out_pipe[0]);
  if (status_pipe[0] >= 0) watch(status_, status_pipe[0]);
}

ChildProcess::~ChildProcess() {
  output_.on_line = status_.on_line = nullptr;
  close_stream(output_);
  close_stream(status_);
  sd_event_source_disable_unref(child_source_);
  sd_event_source_disable_unref(defer_source_);
  if (pid_ > 0 && !exited_) {
    ::kill(-pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(-pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

void ChildProcess::watch(Stream& stream, int fd) {
  stream.fd = fd;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int r = sd_event_add_io(event_, &stream.source, fd, EPOLLIN, on_io, &stream);
  if (r < 0) {
    // Without a watch the output is still read when the child exits.
    stream.source = nullptr;
  }
}

void ChildProcess::read_stream(Stream& stream) {
  char buffer[16384];
  while (stream.fd >= 0) {
    ssize_t got = ::read(stream.fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) return;
    if (got <= 0) {
      close_stream(stream);
      return;
    }
    for (ssize_t i = 0; i < got; ++i) {
      char c = buffer[i];
      if (c == '\n' || (stream.split_at_cr && c == '\r')) {
        if (!stream.partial.empty() && stream.on_line) stream.on_line(stream.partial);
        stream.partial.clear();
      } else {
        stream.partial += c;
        if (stream.partial.size() >= max_line) {
          if (stream.on_line) stream.on_line(stream.partial);
          stream.partial.clear();
        }
      }
    }
  }
}

void ChildProcess::close_stream(Stream& stream) {
  if (!stream.partial.empty() && stream.on_line) stream.on_line(stream.partial);
  stream.partial.clear();
  stream.source = sd_event_source_disable_unref(stream.source);
  if (stream.fd >= 0) ::close(stream.fd);
  stream.fd = -1;
}

int ChildProcess::on_io(sd_event_source*, int, uint32_t, void* data) {
  auto* stream = static_cast<Stream*>(data);
  stream->owner->read_stream(*stream);
  return 0;
}

int ChildProcess::on_child(sd_event_source*, const siginfo_t* info, void* data) {
  auto* self = static_cast<ChildProcess*>(data);
  self->exited_ = true;
  self->exit_status_ = info->si_code == CLD_EXITED ? info->si_status : -info->si_status;
  // What the child wrote before it exited is in the pipes. A grandchild may
  // still hold them open (a daemon a script started): read what is there, no more.
  self->read_stream(self->output_);
  self->read_stream(self->status_);
  self->close_stream(self->output_);
  self->close_stream(self->status_);
  // Report from a later iteration: sd-event reaps the child after this
  // callback, and the handler may destroy this object.
  int r = sd_event_add_defer(self->event_, &self->defer_source_, on_deferred, self);
  if (r < 0) {
    auto on_exit = std::move(self->on_exit_);
    if (on_exit) on_exit(self->exit_status_);
  }
  return 0;
}

int ChildProcess::on_deferred(sd_event_source* source, void* data) {
  auto* self = static_cast<ChildProcess*>(data);
  sd_event_source_set_enabled(source, SD_EVENT_OFF);
  auto on_exit = std::move(self->on_exit_);
  if (on_exit) on_exit(self->exit_status_);  // may destroy self
  return 0;
}

}  // namespace tails_server::core
