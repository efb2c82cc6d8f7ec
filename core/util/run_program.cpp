#include "util/run_program.h"

#include "util/fd.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tails_server::core {

ProgramResult run_program(const ProgramRun& run) {
  if (run.argv.empty()) throw RunError("run: empty command");
  std::vector<char*> c_argv, c_env;
  for (const auto& a : run.argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  for (const auto& e : run.environment) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);

  // stdin is a memory file holding the input: nothing to feed while the
  // program runs, so no deadlock, and no SIGPIPE if it exits without reading.
  Fd input(::memfd_create("tails-server-input", MFD_CLOEXEC));
  if (!input) throw RunError(std::string("memfd_create: ") + std::strerror(errno));
  for (std::size_t done = 0; done < run.input.size();) {
    ssize_t n = ::write(input.get(), run.input.data() + done, run.input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw RunError(std::string("cannot buffer the input: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  ::lseek(input.get(), 0, SEEK_SET);
  int out_pipe[2], exec_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw RunError(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) throw RunError(std::string("pipe: ") + std::strerror(errno));

  pid_t pid = ::fork();
  if (pid < 0) throw RunError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(input.get(), 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(out_pipe[1], 2);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (run.as) {
      if (::initgroups(run.as->user.c_str(), run.as->gid) != 0 || ::setgid(run.as->gid) != 0 ||
          ::setuid(run.as->uid) != 0) {
        int error = errno;
        (void)!::write(exec_pipe[1], &error, sizeof error);
        ::_exit(127);
      }
    }
    ::execvpe(c_argv[0], c_argv.data(), c_env.data());
    int error = errno;
    (void)!::write(exec_pipe[1], &error, sizeof error);
    ::_exit(127);
  }
  input.reset();
  ::close(out_pipe[1]);
  ::close(exec_pipe[1]);

  auto reap = [pid]() {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  };

  int exec_error = 0;
  ssize_t got;
  while ((got = ::read(exec_pipe[0], &exec_error, sizeof exec_error)) < 0 && errno == EINTR) {
  }
  ::close(exec_pipe[0]);
  if (got == sizeof exec_error) {
    ::close(out_pipe[0]);
    reap();
    throw RunError("cannot run " + run.argv[0] + ": " + std::strerror(exec_error));
  }

  ProgramResult result;
  auto deadline = std::chrono::steady_clock::now() + run.timeout;
  bool timed_out = false;
  int out_fd = out_pipe[0];
  while (out_fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[1] = {{out_fd, POLLIN, 0}};
    int n = ::poll(fds, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[4096];
      ssize_t r = ::read(out_fd, buffer, sizeof buffer);
      if (r > 0) {
        result.output.append(buffer, static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(out_fd);
        out_fd = -1;
      }
    }
  }
  if (out_fd >= 0) ::close(out_fd);
  if (timed_out) {
    ::kill(pid, SIGKILL);
    reap();
    throw RunError(run.argv[0] + " did not finish within " + std::to_string(run.timeout.count()) +
                    " ms and was killed");
  }
  result.exit_code = reap();
  return result;
}

}  // namespace tails_server::core
