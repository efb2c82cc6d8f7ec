// Helpers for tests that run a real service daemon and a protocol probe:
// a daemon guard that always stops what it started (by PID), a program runner
// with standard input and a timeout, free ports and listening addresses.
// Used by the mumble and gobby plugins' tests.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tails_server::test {

namespace process_detail {

inline std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& arg : argv) out.push_back(const_cast<char*>(arg.c_str()));
  out.push_back(nullptr);
  return out;
}

inline std::string join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) out += (out.empty() ? "" : " ") + arg;
  return out;
}

}  // namespace process_detail

// A daemon started in the foreground, its output going to `log_file`.
// Stopped (SIGTERM, then SIGKILL after 10 s) when the guard is destroyed.
class DaemonProcess {
 public:
  DaemonProcess(const std::vector<std::string>& argv, std::filesystem::path log_file)
      : log_file_(std::move(log_file)), command_(process_detail::join(argv)) {
    int log = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log < 0) throw std::runtime_error("cannot create " + log_file_.string());
    auto args = process_detail::c_argv(argv);
    pid_ = ::fork();
    if (pid_ < 0) {
      ::close(log);
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(log);
  }
  ~DaemonProcess() { stop(); }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& command() const { return command_; }

  // Whether the process still runs; records its status if it has ended.
  bool running() {
    if (exited_) return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = status;
      return false;
    }
    return r == 0;
  }

  // Stops the process (by its PID only) and waits for it. Idempotent.
  void stop() {
    if (!running()) return;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (running()) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      exited_ = true;
      status_ = status;
    }
  }

  std::string log() const {
    std::ifstream in(log_file_, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

 private:
  std::filesystem::path log_file_;
  std::string command_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

struct ProgramResult {
  int exit_code = -1;  // 128 + signal if killed
  std::string output;  // stdout and stderr
};

// Runs argv (no shell), writes `input` to its standard input, collects its
// output; kills it after `timeout`.
inline ProgramResult run_program(const std::vector<std::string>& argv, const std::string& input,
                                 std::chrono::seconds timeout) {
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  auto args = process_detail::c_argv(argv);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(out_pipe[1], 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::signal(SIGPIPE, SIG_IGN);
  std::size_t written = 0;
  while (written < input.size()) {
    ssize_t n = ::write(in_pipe[1], input.data() + written, input.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  ::close(in_pipe[1]);

  ProgramResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd fd{out_pipe[0], POLLIN, 0};
    int r = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buffer[4096];
    ssize_t n = ::read(out_pipe[0], buffer, sizeof buffer);
    if (n <= 0) break;
    result.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  if (killed) result.output += "\n(killed after the timeout)";
  return result;
}

// The value of the first "key: value" line of a probe's output.
inline std::optional<std::string> probe_value(const std::string& output, const std::string& key) {
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ": ", 0) == 0) return line.substr(key.size() + 2);
  return std::nullopt;
}

inline std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// A port free for TCP and UDP on 127.0.0.1 (murmurd binds both).
inline std::uint16_t free_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (::bind(tcp, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(tcp, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ::close(tcp);
      continue;
    }
    int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool udp_free = ::bind(udp, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(udp);
    ::close(tcp);
    if (udp_free) return ntohs(address.sin_port);
  }
  throw std::runtime_error("no free port on 127.0.0.1");
}

// Whether something accepts TCP connections on 127.0.0.1:port.
inline bool port_accepts(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// The local addresses in LISTEN state on TCP `port` (from /proc/net/tcp and
// tcp6), as text: "127.0.0.1", "0.0.0.0", "::1", "::".
inline std::set<std::string> listening_addresses(std::uint16_t port) {
  std::set<std::string> out;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state != "0A") continue;
      auto colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
      std::string hex = local.substr(0, colon);
      if (hex.size() == 8) {
        std::uint32_t raw = static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16));
        in_addr address{};
        address.s_addr = raw;  // /proc prints the address in host order of the bytes
        char text[INET_ADDRSTRLEN];
        ::inet_ntop(AF_INET, &address, text, sizeof text);
        out.insert(text);
      } else if (hex.size() == 32) {
        in6_addr address{};  // four 32-bit words, each in host byte order
        for (int word = 0; word < 4; ++word) {
          std::uint32_t raw = static_cast<std::uint32_t>(std::stoul(hex.substr(word * 8, 8), nullptr, 16));
          std::memcpy(address.s6_addr + word * 4, &raw, 4);
        }
        char text[INET6_ADDRSTRLEN];
        ::inet_ntop(AF_INET6, &address, text, sizeof text);
        out.insert(text);
      }
    }
  }
  return out;
}

// Waits until 127.0.0.1:port accepts connections, while `daemon` runs.
inline bool wait_for_port(std::uint16_t port, DaemonProcess& daemon, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!daemon.running()) return false;
    if (!listening_addresses(port).empty() && port_accepts(port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace tails_server::test
