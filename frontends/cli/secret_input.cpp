#include "secret_input.h"

#include "daemon_client.h"
#include "dbus/contract.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace tails_server::cli {

using client::ClientError;
using client::ErrorKind;
namespace {

// Turns off echo on standard input while alive.
class EchoOff {
 public:
  EchoOff() {
    if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    active_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (active_) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

std::string read_line() {
  std::string line;
  if (!std::getline(std::cin, line)) throw std::runtime_error("no secret on standard input");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// All of a pipe, so that a value of several lines is never cut; one final
// line ending is removed. Larger than the daemon takes: refused here.
std::string read_all() {
  std::string text;
  char buffer[4096];
  while (std::cin.read(buffer, sizeof buffer) || std::cin.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(std::cin.gcount()));
    if (text.size() > dbus::max_value_size)
      throw ClientError(ErrorKind::invalid_value, "the value on standard input is larger than " +
                                                      std::to_string(dbus::max_value_size) + " bytes");
  }
  if (text.empty()) throw std::runtime_error("no value on standard input (end of input before any byte)");
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

}  // namespace

std::string read_secret(const std::string& prompt) {
  if (!isatty(STDIN_FILENO)) return read_all();
  EchoOff echo_off;
  std::cerr << prompt << ": " << std::flush;
  std::string first = read_line();
  std::cerr << "Repeat " << prompt << ": " << std::flush;
  std::string second = read_line();
  if (first != second) throw std::runtime_error("the two entries differ; nothing was changed");
  return first;
}

std::string read_key_file(const std::string& path) {
  int fd = path == "-" ? STDIN_FILENO : open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  std::string shown = path == "-" ? "standard input" : path;
  if (fd < 0) throw ClientError(ErrorKind::failed, "cannot open " + shown + ": " + std::strerror(errno));
  std::string data;
  char buffer[1024];
  int error = 0;
  while (data.size() <= dbus::max_key_file_size) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error = errno;
    if (n <= 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  explicit_bzero(buffer, sizeof buffer);
  if (fd != STDIN_FILENO) close(fd);
  if (error) {
    wipe_secret(data);
    throw ClientError(ErrorKind::failed, "cannot read " + shown + ": " + std::strerror(error));
  }
  if (data.size() > dbus::max_key_file_size) {
    wipe_secret(data);
    throw ClientError(ErrorKind::invalid_value, shown + " is larger than 4 KiB, so it is not an onion key; accepted: a "
                                               "tor hs_ed25519_secret_key file or an ED25519-V3:<base64> key");
  }
  return data;
}

}  // namespace tails_server::cli
