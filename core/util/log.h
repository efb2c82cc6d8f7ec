// The daemon's one logger: a line on standard error with its sd-daemon(3)
// priority prefix, which journald reads when the daemon runs as a unit.
// Never log secrets or option values.
#pragma once

#include <systemd/sd-daemon.h>

#include <cstdio>
#include <string_view>

namespace tails_server::log {

inline void write(const char* prefix, std::string_view message) {
  std::fprintf(stderr, "%s%.*s\n", prefix, static_cast<int>(message.size()), message.data());
}
inline void debug(std::string_view message) { write(SD_DEBUG, message); }
inline void info(std::string_view message) { write(SD_INFO, message); }
inline void notice(std::string_view message) { write(SD_NOTICE, message); }
inline void warning(std::string_view message) { write(SD_WARNING, message); }
inline void error(std::string_view message) { write(SD_ERR, message); }

}  // namespace tails_server::log
