// Logging to standard error with syslog priority prefixes, which journald
// reads when the daemon runs as a unit. Never log secrets or option values.
#pragma once

#include <systemd/sd-daemon.h>

#include <iostream>
#include <string_view>

namespace tails_server::daemon::log {

inline void write(const char* prefix, std::string_view message) {
  std::cerr << prefix << "tails-serverd: " << message << '\n';
}
inline void info(std::string_view message) { write(SD_INFO, message); }
inline void warning(std::string_view message) { write(SD_WARNING, message); }
inline void error(std::string_view message) { write(SD_ERR, message); }

}  // namespace tails_server::daemon::log
