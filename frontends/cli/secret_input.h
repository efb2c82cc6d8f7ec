// Reading a secret (a password) from standard input, never from argv.
#pragma once

#include <string>

namespace tails_server::cli {

// On a terminal: prints `prompt` on standard error, reads a line without
// echo, asks again to confirm and throws std::runtime_error if the two
// differ. Otherwise reads one line from standard input (the pipe). The line
// ending is removed. Throws std::runtime_error at end of input.
std::string read_secret(const std::string& prompt);

}  // namespace tails_server::cli
