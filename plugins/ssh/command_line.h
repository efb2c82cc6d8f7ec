// The command line an SSH admin asked for (SSH_ORIGINAL_COMMAND), split into
// words without a shell. Used by ssh-admin-command, the forced command of
// every admin key (ssh_admin_command.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tails_server_ssh {

// Words are separated by spaces or tabs. A word is made of unquoted parts,
// taken only from [A-Za-z0-9_./:=@%+,-], and single-quoted parts '...',
// which hold any printable character but "'" (UTF-8 included) and mean
// exactly that text: "a'b c'd" is the one word "ab cd". Anything else (a shell
// metacharacter such as ; & | ` $ ( ) < > * ? " \ or a control character
// such as a line break) refuses the whole line.
struct CommandLine {
  bool ok = false;
  std::vector<std::string> words;
  std::string error;  // why it was refused, for the admin
};

inline constexpr std::size_t command_line_max_length = 8192;

CommandLine split_command_line(std::string_view line);

// The words if the line is "tails-server ARGS...": ok is false otherwise,
// with a message that says what is allowed.
CommandLine parse_admin_command(std::string_view line);

}  // namespace tails_server_ssh
