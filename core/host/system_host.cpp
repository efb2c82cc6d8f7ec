#include "host/system_host.h"

#include "host/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <system_error>

namespace tails_server::core {

namespace {

struct Account {
  uid_t uid;
  gid_t gid;  // primary group
  std::string home;
};

Account lookup_user(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  int error = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (error != 0 || !found)
    throw HostError("user '" + name + "' does not exist (is the service's package installed?)");
  return {found->pw_uid, found->pw_gid, found->pw_dir ? found->pw_dir : "/"};
}

gid_t lookup_group(const std::string& name) {
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  int error = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (error != 0 || !found)
    throw HostError("group '" + name + "' does not exist (is the service's package installed?)");
  return found->gr_gid;
}

std::string errno_text(int error) { return std::system_category().message(error); }

// Creates the missing directories of `directory` root:root 0755, whatever
// the umask, so services can reach the files below.
void make_parents(const std::filesystem::path& directory) {
  if (directory.empty() || std::filesystem::exists(directory)) return;
  make_parents(directory.parent_path());
  if (::mkdir(directory.c_str(), 0755) != 0 && errno != EEXIST)
    throw HostError("cannot create directory " + directory.string() + ": " + errno_text(errno));
  ::chmod(directory.c_str(), 0755);
}

}  // namespace

std::string random_bytes(std::size_t count) {
  std::string out(count, '\0');
  std::size_t done = 0;
  while (done < count) {
    ssize_t got = ::getrandom(out.data() + done, count - done, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw HostError("getrandom failed: " + errno_text(errno));
    }
    done += static_cast<std::size_t>(got);
  }
  return out;
}

SystemHost::SystemHost(std::filesystem::path root) : root_(std::move(root)) {}

std::filesystem::path SystemHost::path(std::string_view absolute) const {
  std::filesystem::path p(absolute);
  if (!p.is_absolute()) throw HostError("not an absolute path: '" + std::string(absolute) + "'");
  if (root_.empty() || root_ == "/") return p.lexically_normal();
  return (root_ / p.relative_path()).lexically_normal();
}

void SystemHost::write_file(const std::filesystem::path& file, std::string_view content,
                            const FileSpec& spec) {
  uid_t uid = lookup_user(spec.owner).uid;
  gid_t gid = lookup_group(spec.group);
  make_parents(file.parent_path());
  try {
    write_file_atomically(file, content, spec.mode, uid, gid);
  } catch (const std::system_error& error) {
    throw HostError(error.what());
  }
}

void SystemHost::make_directory(const std::filesystem::path& directory, const FileSpec& spec) {
  uid_t uid = lookup_user(spec.owner).uid;
  gid_t gid = lookup_group(spec.group);
  make_parents(directory);
  if (::chown(directory.c_str(), uid, gid) != 0 || ::chmod(directory.c_str(), spec.mode) != 0)
    throw HostError("cannot set owner or mode of " + directory.string() + ": " + errno_text(errno));
}

void SystemHost::remove_file(const std::filesystem::path& file) {
  if (::unlink(file.c_str()) != 0 && errno != ENOENT)
    throw HostError("cannot remove " + file.string() + ": " + errno_text(errno));
}

RunResult SystemHost::run(const std::vector<std::string>& argv, const RunOptions& options) {
  if (argv.empty()) throw HostError("run: empty command");
  std::optional<Account> account;
  if (!options.user.empty()) account = lookup_user(options.user);

  std::vector<std::string> environment = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                          "LANG=C.UTF-8"};
  environment.push_back("HOME=" + (account ? account->home : std::string("/root")));
  for (const auto& entry : options.environment) environment.push_back(entry);
  std::vector<char*> c_argv, c_env;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  for (const auto& e : environment) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);

  int in_pipe[2], out_pipe[2], exec_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) throw HostError("pipe: " + errno_text(errno));
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw HostError("pipe: " + errno_text(errno));
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) throw HostError("pipe: " + errno_text(errno));

  pid_t pid = ::fork();
  if (pid < 0) throw HostError("fork: " + errno_text(errno));
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(out_pipe[1], 2);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (account) {
      if (::initgroups(options.user.c_str(), account->gid) != 0 || ::setgid(account->gid) != 0 ||
          ::setuid(account->uid) != 0) {
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
  ::close(in_pipe[0]);
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
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    reap();
    throw HostError("cannot run " + argv[0] + ": " + errno_text(exec_error));
  }

  RunResult result;
  std::size_t written = 0;
  int in_fd = in_pipe[1];
  if (options.input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool timed_out = false;
  int out_fd = out_pipe[0];
  while (out_fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
    int n = ::poll(fds, in_fd >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    if (in_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in_fd, options.input.data() + written, options.input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) written = options.input.size();
      if (written >= options.input.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
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
  if (in_fd >= 0) ::close(in_fd);
  if (out_fd >= 0) ::close(out_fd);
  if (timed_out) {
    ::kill(pid, SIGKILL);
    reap();
    throw HostError(argv[0] + " did not finish within " + std::to_string(options.timeout.count()) +
                    " ms and was killed");
  }
  result.exit_code = reap();
  return result;
}

std::string SystemHost::random_password(std::size_t length) {
  static constexpr std::string_view alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  // Rejection sampling keeps every character equally likely.
  constexpr unsigned limit = 256 - 256 % alphabet.size();
  std::string out;
  while (out.size() < length) {
    for (unsigned char byte : random_bytes(length * 2)) {
      if (byte >= limit) continue;
      out += alphabet[byte % alphabet.size()];
      if (out.size() == length) break;
    }
  }
  return out;
}

void SystemHost::log(LogLevel level, std::string_view message) {
  // sd-daemon(3) priority prefixes, understood by journald.
  int priority = level == LogLevel::Error ? 3 : level == LogLevel::Warning ? 4 : level == LogLevel::Info ? 6 : 7;
  std::fprintf(stderr, "<%d>%.*s\n", priority, static_cast<int>(message.size()), message.data());
}

}  // namespace tails_server::core
