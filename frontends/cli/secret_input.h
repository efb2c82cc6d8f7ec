// Secrets on the CLI's side: a password read from standard input (never
// from argv), an onion key file read with the caller's rights, and wiping
// them.
#pragma once

#include "secret/wipe.h"

#include <string>

namespace tails_server::cli {

// On a terminal: prints `prompt` on standard error, reads a line without
// echo, asks again to confirm and throws std::runtime_error if the two
// differ. Otherwise reads all of standard input (the pipe), so that a value
// of several lines arrives whole; one final line ending is removed. Throws
// std::runtime_error if there is nothing, ClientError (invalid_value) if it
// is larger than the daemon takes.
std::string read_secret(const std::string& prompt);

// Reads a key file (or standard input for "-") as the user who runs the CLI:
// the root daemon never opens a path a caller chose. Throws ClientError:
// failed if it cannot be read, invalid_value if it is larger than an onion
// key can be (dbus::max_key_file_size).
std::string read_key_file(const std::string& path);

// wipe_secret (secret/wipe.h) overwrites a secret before its memory is freed.
using tails_server::wipe_secret;

}  // namespace tails_server::cli
