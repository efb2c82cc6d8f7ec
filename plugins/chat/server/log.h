// The chat server's logger: one line on standard error with its sd-daemon(3) priority prefix, for journald.
// Only counts and kinds of events: never a message, a name, a token or an address.
#pragma once

#include <cstdio>
#include <string_view>

namespace tails_server::chat::log {

inline void write(const char* prefix, std::string_view message) {
  std::fprintf(stderr, "%s%.*s\n", prefix, static_cast<int>(message.size()), message.data());
}
inline void info(std::string_view message) { write("<6>", message); }
inline void notice(std::string_view message) { write("<5>", message); }
inline void warning(std::string_view message) { write("<4>", message); }
inline void error(std::string_view message) { write("<3>", message); }

}  // namespace tails_server::chat::log
