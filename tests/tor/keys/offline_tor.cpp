#include "offline_tor.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tails_server::test::keys {

namespace {

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string tail(const std::string& text, std::size_t count = 2000) {
  return text.size() <= count ? text : "..." + text.substr(text.size() - count);
}

}  // namespace

OfflineTor::OfflineTor(const std::filesystem::path& dir, const std::vector<std::string>& extra_config,
                       bool control)
    : dir_(dir) {
  std::filesystem::create_directories(dir_ / "data");
  std::filesystem::permissions(dir_ / "data", std::filesystem::perms::owner_all);
  std::ofstream torrc(dir_ / "torrc");
  torrc << "DataDirectory " << (dir_ / "data").string() << "\n"
        << "SocksPort 0\n"
        << "DisableNetwork 1\n"
        << "Log notice file " << (dir_ / "tor.log").string() << "\n";
  if (control)
    torrc << "ControlSocket " << control_socket().string() << "\n"
          << "CookieAuthentication 1\n";
  for (const auto& line : extra_config) torrc << line << "\n";
  torrc.close();
  if (!torrc) throw std::runtime_error("cannot write " + (dir_ / "torrc").string());

  const char* tor = std::getenv("TOR");
  std::string program = tor && *tor ? tor : "tor";
  std::string torrc_path = (dir_ / "torrc").string();
  std::string output = (dir_ / "tor.out").string();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid_ == 0) {
    int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execlp(program.c_str(), program.c_str(), "-f", torrc_path.c_str(), "--RunAsDaemon", "0",
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
}

OfflineTor::~OfflineTor() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

std::string OfflineTor::log() const {
  return read_file(dir_ / "tor.out") + read_file(dir_ / "tor.log");
}

void OfflineTor::wait_for_file(const std::filesystem::path& file, int seconds) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code error;
    if (std::filesystem::file_size(file, error) > 0 && !error) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      const_cast<OfflineTor*>(this)->pid_ = -1;
      throw std::runtime_error("tor exited (status " + std::to_string(status) + ") before writing " +
                               file.string() + "; its log:\n" + tail(log()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("tor did not write " + file.string() + " within " + std::to_string(seconds) +
                           " s; its log:\n" + tail(log()));
}

TorControlClient::TorControlClient(const OfflineTor& tor) {
  tor.wait_for_file(tor.cookie_file());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = tor.control_socket().string();
  if (path.size() >= sizeof address.sun_path) throw std::runtime_error("control socket path too long: " + path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) break;
    int error = errno;
    ::close(fd_);
    fd_ = -1;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("cannot connect to " + path + ": " + std::strerror(error) + "; tor's log:\n" +
                               tail(tor.log()));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  timeval timeout{30, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  auto info = command("PROTOCOLINFO 1");
  if (reply_code(info) != 250) throw std::runtime_error("PROTOCOLINFO failed: " + reply_text(info));
  std::string cookie = read_file(tor.cookie_file());
  std::string hex;
  for (unsigned char c : cookie) {
    hex.push_back("0123456789ABCDEF"[c >> 4]);
    hex.push_back("0123456789ABCDEF"[c & 15]);
  }
  auto auth = command("AUTHENTICATE " + hex);
  if (reply_code(auth) != 250) throw std::runtime_error("AUTHENTICATE failed: " + reply_text(auth));
}

TorControlClient::~TorControlClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::string TorControlClient::read_line() {
  while (true) {
    auto end = buffer_.find("\r\n");
    if (end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      return line;
    }
    char chunk[4096];
    ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw std::runtime_error(got == 0 ? "tor closed the control connection"
                                        : std::string("reading from tor: ") + std::strerror(errno));
    buffer_.append(chunk, static_cast<std::size_t>(got));
  }
}

std::vector<std::string> TorControlClient::command(const std::string& line) {
  std::string data = line + "\r\n";
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("writing to tor: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  std::vector<std::string> reply;
  bool in_data = false;
  while (true) {
    std::string got = read_line();
    reply.push_back(got);
    if (in_data) {
      if (got == ".") in_data = false;
      continue;
    }
    if (got.size() >= 4 && got[3] == '+') in_data = true;
    if (got.size() >= 4 && got[3] == ' ') return reply;
  }
}

int reply_code(const std::vector<std::string>& reply) {
  if (reply.empty() || reply.back().size() < 3) return -1;
  return std::atoi(reply.back().substr(0, 3).c_str());
}

std::string reply_text(const std::vector<std::string>& reply) {
  std::string out;
  for (const auto& line : reply) out += (out.empty() ? "" : " | ") + line;
  return out;
}

}  // namespace tails_server::test::keys
