// A real tor for tests: private DataDirectory, no SOCKS, no network, cookie
// authentication, control on a loopback TCP port or a unix socket. Stopped
// by its PID, never by name.
#pragma once

#include "temp_dir.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace tails_server::test {

// A loopback TCP port nobody listens on right now.
inline std::uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof in;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof in) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&in), &length) != 0)
    throw std::runtime_error("cannot find a free TCP port");
  ::close(fd);
  return ntohs(in.sin_port);
}

class TorProcess {
 public:
  enum class Control { Tcp, Unix };

  // Writes the torrc; start() runs tor. With `socks`, a SOCKS port too (tor
  // is then a client: SIGNAL NEWNYM takes effect).
  explicit TorProcess(Control control, bool socks = false) : control_(control), dir_("tails-server-tor") {
    std::filesystem::create_directories(dir_ / "data");
    std::filesystem::permissions(dir_ / "data", std::filesystem::perms(0700));
    std::filesystem::create_directories(dir_ / "run");
    std::filesystem::permissions(dir_ / "run", std::filesystem::perms(0700));
    if (control == Control::Tcp) port_ = free_tcp_port();
    std::ofstream torrc(dir_ / "torrc");
    torrc << "DataDirectory " << (dir_ / "data").string() << "\n"
          << "SocksPort " << (socks ? "127.0.0.1:" + std::to_string(free_tcp_port()) : std::string("0")) << "\n"
          << "CookieAuthentication 1\n"
          << "DisableNetwork 1\n"
          << "Log notice file " << (dir_ / "tor.log").string() << "\n";
    if (control == Control::Tcp) torrc << "ControlPort 127.0.0.1:" << port_ << "\n";
    else torrc << "ControlSocket " << (dir_ / "run" / "control").string() << "\n";
  }
  ~TorProcess() { stop(); }
  TorProcess(const TorProcess&) = delete;
  TorProcess& operator=(const TorProcess&) = delete;

  // Starts tor and waits until its control port accepts connections.
  void start() {
    if (pid_ > 0) return;
    std::error_code ignored;
    std::filesystem::remove(cookie(), ignored);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      std::string torrc = (dir_ / "torrc").string();
      ::execl("/usr/sbin/tor", "tor", "-f", torrc.c_str(), "--RunAsDaemon", "0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!accepting()) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("tor exited at start; its log:\n" + log());
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("tor's control port did not open in 30 s; its log:\n" + log());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // Stops tor (SIGTERM to its PID, then SIGKILL after 10 s) and waits for it.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string endpoint() const {
    if (control_ == Control::Tcp) return "127.0.0.1:" + std::to_string(port_);
    return "unix:" + (dir_ / "run" / "control").string();
  }
  std::string cookie() const { return (dir_ / "data" / "control_auth_cookie").string(); }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::string log() const {
    std::ifstream in(dir_ / "tor.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  bool accepting() const {
    struct stat st {};
    if (::stat(cookie().c_str(), &st) != 0 || st.st_size != 32) return false;
    int fd = -1;
    bool ok = false;
    if (control_ == Control::Tcp) {
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in in{};
      in.sin_family = AF_INET;
      in.sin_port = htons(port_);
      in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok = ::connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof in) == 0;
    } else {
      fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un un{};
      un.sun_family = AF_UNIX;
      std::string path = (dir_ / "run" / "control").string();
      std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
      ok = ::connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un) == 0;
    }
    ::close(fd);
    return ok;
  }

  Control control_;
  TempDir dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace tails_server::test
