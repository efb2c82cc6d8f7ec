// Runs a program by argv (no shell) to its end: its standard input from a
// string, its standard output and error captured together, a deadline.
// Used for the plugins' Host::run and for the firewall programs.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <vector>

namespace tails_server::core {

// The program could not be started, or overran its deadline (then it was
// killed). what() names the program and the reason.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Credentials {
  std::string user;  // for initgroups
  uid_t uid;
  gid_t gid;
};

struct ProgramRun {
  std::vector<std::string> argv;         // argv[0] is looked up in the environment's PATH
  std::vector<std::string> environment;  // exactly these "NAME=value" entries
  std::string input;                     // written to stdin, then closed
  std::optional<Credentials> as;         // else as the caller
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
};

struct ProgramResult {
  int exit_code = -1;  // the exit status, or 128 + signal number
  std::string output;  // standard output and standard error, interleaved
};

// The child starts with no blocked signals and default SIGPIPE. Throws
// RunError if the program cannot be started or overruns its timeout.
ProgramResult run_program(const ProgramRun& run);

}  // namespace tails_server::core
