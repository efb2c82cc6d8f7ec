// Randomness from the kernel (getrandom): session tokens and name picks.
#pragma once

#include <cstdint>
#include <string>

namespace tails_server::chat {

// 32 lower-case hex digits (128 bits): a guest's session token.
std::string random_token();

// A uniform number in 0..bound-1 (bound > 0).
std::uint32_t random_below(std::uint32_t bound);

}  // namespace tails_server::chat
