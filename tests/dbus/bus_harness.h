// A private D-Bus system bus with the real tails-serverd on it, and the real
// tails-server CLI to drive it.
#pragma once

#include "process.h"
#include "temp_dir.h"

#include <memory>
#include <string>
#include <vector>

namespace tails_server::test {

// The CLI's exit codes (frontends/cli/exit_codes.h), as the tests expect them.
namespace exit_code {
inline constexpr int ok = 0, failed = 1, usage = 2, unreachable = 3, no_such_service = 4,
                     no_such_option = 5, invalid_value = 6, access_denied = 7, state_error = 8, busy = 9,
                     not_installed = 10, no_such_client = 11, interrupted = 130;
}

// The bus's policy: everything allowed, or a Debian system bus's default
// policy plus our data/org.boum.tails.Server.conf.
enum class BusPolicy { Permissive, Shipped };

class BusHarness {
 public:
  // Starts a private dbus-daemon in a new temporary directory (reachable by
  // user nobody) and writes the daemon's config.yaml there. Throws.
  explicit BusHarness(BusPolicy policy = BusPolicy::Permissive);
  ~BusHarness();

  // Starts tails-serverd and waits until it owns org.boum.tails.Server.
  // Throws with the daemon's log if it does not within 10 s.
  void start_daemon();
  // Sends SIGTERM and returns the daemon's exit status (-1 if it hung).
  int stop_daemon();
  std::string daemon_log() const;

  // Runs the CLI with `args`, as root or as nobody:nogroup, with `input` on
  // standard input.
  RunResult cli(const std::vector<std::string>& args, const std::string& input = "");
  RunResult cli_as_nobody(const std::vector<std::string>& args, const std::string& input = "");
  // Starts the CLI (as root, or as nobody) and leaves it running, its output
  // in `stdout_file` and `stderr_file` (e.g. for monitor).
  std::unique_ptr<Process> cli_in_background(const std::vector<std::string>& args,
                                             const std::filesystem::path& stdout_file,
                                             const std::filesystem::path& stderr_file, bool as_nobody = false);

  std::string bus_address() const { return "unix:path=" + (dir_ / "bus").string(); }
  const TempDir& dir() const { return dir_; }

 private:
  bool name_has_owner();

  TempDir dir_{"tails-server-dbus"};
  std::unique_ptr<Process> bus_;
  std::unique_ptr<Process> daemon_;
};

}  // namespace tails_server::test
