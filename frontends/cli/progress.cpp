#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace tails_server::cli {

std::string one_line(const std::string& text) {
  std::string line = text;
  for (char& c : line)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return line;
}

std::string describe(const StateChange& change) {
  std::string line = one_line(change.service) + ": " + one_line(change.state);
  if (change.percent >= 0) line += " " + std::to_string(change.percent) + "%";
  if (!change.message.empty()) line += (change.percent >= 0 ? " " : ": ") + one_line(change.message);
  return line;
}

Document change_document(const StateChange& change) {
  return {{"service", change.service},
          {"state", change.state},
          {"percent", change.percent >= 0 ? Document(change.percent) : Document(nullptr)},
          {"message", change.message}};
}

Progress::Progress(const std::string& service, Format format)
    : service_(service), quiet_(format == Format::Json), terminal_(isatty(STDOUT_FILENO) == 1) {}

void Progress::update(const StateChange& change) {
  if (quiet_ || change.service != service_) return;
  if (terminal_) return draw(change);
  int bucket = change.percent < 0 ? -1 : change.percent / 10;
  if (change.state == state_ && change.message == message_ && bucket == bucket_) return;
  state_ = change.state;
  message_ = change.message;
  bucket_ = bucket;
  std::cout << describe(change) << std::endl;
}

void Progress::clear() {
  if (!drawn_) return;
  std::cout << "\r\033[K" << std::flush;
  drawn_ = false;
}

void Progress::draw(const StateChange& change) {
  std::string line;
  if (change.percent >= 0) {
    constexpr int width = 20;
    int percent = std::clamp(change.percent, 0, 100);
    int filled = (percent * width + 50) / 100;
    std::string number = std::to_string(percent);
    line = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] " +
           std::string(3 - number.size(), ' ') + number + "% " + one_line(change.message);
  } else {
    line = describe(change);
  }
  winsize size{};
  std::size_t columns = ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1 ? size.ws_col - 1 : 79;
  if (line.size() > columns) {
    std::size_t cut = columns;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 characters
    line.resize(cut);
  }
  std::cout << "\r" << line << "\033[K" << std::flush;
  drawn_ = true;
}

}  // namespace tails_server::cli
