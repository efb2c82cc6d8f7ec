// Overwrites a buffer that held secret material (explicit_bzero: the
// compiler cannot drop it), then empties it. One copy for the daemon, the
// key code and the front ends. Included as "secret/wipe.h".
#pragma once

#include <cstdint>
#include <string.h>
#include <string>
#include <vector>

namespace tails_server {

inline void wipe_secret(std::string& buffer) noexcept {
  explicit_bzero(buffer.data(), buffer.size());
  buffer.clear();
}

inline void wipe_secret(std::vector<std::uint8_t>& buffer) noexcept {
  explicit_bzero(buffer.data(), buffer.size());
  buffer.clear();
}

}  // namespace tails_server
