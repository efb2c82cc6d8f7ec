#include "random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <stdexcept>

namespace tails_server::chat {
namespace {

void fill(void* buffer, std::size_t size) {
  auto* bytes = static_cast<unsigned char*>(buffer);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = getrandom(bytes + done, size - done, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    done += static_cast<std::size_t>(got);
  }
}

}  // namespace

std::string random_token() {
  unsigned char bytes[16];
  fill(bytes, sizeof bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char byte : bytes) {
    token += kHex[byte >> 4];
    token += kHex[byte & 0xF];
  }
  return token;
}

std::uint32_t random_below(std::uint32_t bound) {
  // Rejection sampling: no modulo bias.
  const std::uint32_t limit = UINT32_MAX - UINT32_MAX % bound;
  std::uint32_t value = 0;
  do {
    fill(&value, sizeof value);
  } while (value >= limit);
  return value % bound;
}

}  // namespace tails_server::chat
