#include "secret_input.h"

#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <stdexcept>

namespace tails_server::cli {
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

}  // namespace

std::string read_secret(const std::string& prompt) {
  if (!isatty(STDIN_FILENO)) return read_line();
  EchoOff echo_off;
  std::cerr << prompt << ": " << std::flush;
  std::string first = read_line();
  std::cerr << "Repeat " << prompt << ": " << std::flush;
  std::string second = read_line();
  if (first != second) throw std::runtime_error("the two entries differ; nothing was changed");
  return first;
}

}  // namespace tails_server::cli
