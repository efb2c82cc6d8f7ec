// Test helpers: a daemon started in the foreground and stopped by its PID
// when the guard goes out of scope, free loopback ports, small file and TCP
// helpers. Used by the nginx and prosody plugins' tests.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace plugin_test {

// A process started with fork/exec (no shell), output to `log`, optionally
// as `user` (its uid, primary gid and groups). The destructor stops it:
// SIGTERM, then SIGKILL after 10 s.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& argv, const std::filesystem::path& log, const std::string& user = {}) {
    uid_t uid = 0;
    gid_t gid = 0;
    if (!user.empty()) {
      struct passwd* entry = ::getpwnam(user.c_str());
      if (!entry) throw std::runtime_error("no user " + user);
      uid = entry->pw_uid;
      gid = entry->pw_gid;
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (out < 0 || in < 0) ::_exit(126);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      if (!user.empty()) {
        if (::initgroups(user.c_str(), gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(126);
      }
      if (::chdir("/") != 0) ::_exit(126);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Daemon() { stop(); }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  pid_t pid() const { return pid_; }

  // Whether it still runs (reaps it if it ended).
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t got = ::waitpid(pid_, &status, WNOHANG);
    if (got == pid_) {
      status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }

  // Stops it (SIGTERM, SIGKILL after 10 s) and returns its wait status.
  int stop(int signal = SIGTERM) {
    if (pid_ <= 0) return status_;
    ::kill(pid_, signal);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (running()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// A TCP connection to address:port, or -1.
inline int connect_tcp(const std::string& address, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool port_accepts(const std::string& address, std::uint16_t port) {
  int fd = connect_tcp(address, port);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Waits until 127.0.0.1:port accepts connections while `daemon` runs.
inline bool wait_for_port(Daemon& daemon, std::uint16_t port,
                          std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!daemon.running()) return false;
    if (port_accepts("127.0.0.1", port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Waits until `file` exists (a daemon writes its pid file a moment after it
// starts listening).
inline bool wait_for_file(const std::filesystem::path& file,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!std::filesystem::exists(file)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// A loopback port nothing listens on right now.
inline std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = 0;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof sa;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &length) != 0)
    throw std::runtime_error("cannot find a free port");
  std::uint16_t port = ntohs(sa.sin_port);
  ::close(fd);
  return port;
}

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void write_file(const std::filesystem::path& file, const std::string& content) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

struct FileInfo {
  mode_t mode = 0;
  std::string owner;
  std::string group;
};

inline FileInfo file_info(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + file.string());
  FileInfo info;
  info.mode = st.st_mode & 07777;
  if (auto* pw = ::getpwuid(st.st_uid)) info.owner = pw->pw_name;
  if (auto* gr = ::getgrgid(st.st_gid)) info.group = gr->gr_name;
  return info;
}

}  // namespace plugin_test
