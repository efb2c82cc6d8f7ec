// ssh-admin-command NAME: the forced command of every admin key in the
// authorized_keys file the ssh plugin writes. It runs the tails-server CLI
// with the words of SSH_ORIGINAL_COMMAND, never a shell; an interactive login
// (no command) gets a short help text. NAME is the admin's name, for the
// greeting and the log.

#include "command_line.h"

#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifndef TAILS_SERVER_CLI
#error "TAILS_SERVER_CLI must name the tails-server program"
#endif

namespace {

// Exit status of a refused command (as a shell's "cannot execute").
constexpr int refused_status = 126;

bool valid_name(const char* name) {
  const std::size_t length = std::strlen(name);
  if (length == 0 || length > 32 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (const char* c = name; *c; ++c)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) return false;
  return true;
}

void print_help(const char* name) {
  std::printf(
      "Hello %s. This is Tails Server's remote administration: no shell, only the tails-server command.\n"
      "Run it as the command of ssh, for example:\n"
      "  ssh HOST tails-server list\n"
      "  ssh HOST tails-server status mumble\n"
      "  ssh HOST tails-server set-option nginx site-root /var/www/site\n"
      "  ssh HOST tails-server --help\n"
      "Quote a word with spaces in single quotes inside the command, e.g. \"tails-server set-option prosody motd "
      "'Hello all'\".\n",
      name);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || !valid_name(argv[1])) {
    std::fprintf(stderr, "usage: ssh-admin-command NAME (the forced command of an admin key)\n");
    return 2;
  }
  const char* name = argv[1];
  const char* requested = std::getenv("SSH_ORIGINAL_COMMAND");
  if (!requested || !*requested) {
    print_help(name);
    return 0;
  }
  tails_server_ssh::CommandLine line = tails_server_ssh::parse_admin_command(requested);
  if (!line.ok) {
    std::fprintf(stderr, "tails-server remote administration: refused: %s\n", line.error.c_str());
    return refused_status;
  }
  // Only the admin and a subcommand that is a plain word: the other words may hold secrets.
  std::string subcommand = line.words.size() > 1 ? line.words[1] : "";
  if (subcommand.size() > 40 || subcommand.find_first_not_of("abcdefghijklmnopqrstuvwxyz-") != std::string::npos)
    subcommand = "...";
  openlog("tails-server-ssh", LOG_PID, LOG_AUTHPRIV);
  syslog(LOG_INFO, "admin %s runs tails-server %s", name, subcommand.c_str());
  closelog();

  std::vector<char*> args;
  for (auto& word : line.words) args.push_back(word.data());
  args.push_back(nullptr);
  char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char lang[] = "LANG=C.UTF-8";
  char* environment[] = {path, lang, nullptr};
  ::execve(TAILS_SERVER_CLI, args.data(), environment);
  std::fprintf(stderr, "tails-server remote administration: cannot run %s: %s\n", TAILS_SERVER_CLI,
               std::strerror(errno));
  return refused_status;
}
