// Child processes for the D-Bus tests: started with posix_spawn, their
// output in files, and always killed when the guard goes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tails_server::test {

struct SpawnOptions {
  std::vector<std::string> environment;  // "NAME=value" entries added to ours
  std::filesystem::path stdin_file;      // /dev/null when empty
  std::filesystem::path stdout_file;     // /dev/null when empty
  std::filesystem::path stderr_file;     // /dev/null when empty
};

// A running child. The destructor sends SIGTERM, waits a moment, then
// SIGKILLs and reaps it.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const SpawnOptions& options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // The exit status if the child has ended (128 + signal if killed).
  std::optional<int> poll();
  // Sends `signal` and waits up to `timeout` for the exit status; nullopt if
  // it is still running then.
  std::optional<int> stop(int signal, std::chrono::milliseconds timeout);
  // Waits for the exit status.
  int wait();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` to its end (killed after 30 s), feeding it `input`.
RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
              const std::string& input, const std::filesystem::path& scratch_dir);

std::string read_file(const std::filesystem::path& file);

}  // namespace tails_server::test
