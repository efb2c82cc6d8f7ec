#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace tails_server::test {
namespace {

int decode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

void redirect(posix_spawn_file_actions_t* actions, int fd, const std::filesystem::path& file, int flags) {
  std::string path = file.empty() ? "/dev/null" : file.string();
  posix_spawn_file_actions_addopen(actions, fd, path.c_str(), flags, 0644);
}

}  // namespace

Process::Process(const std::vector<std::string>& argv, const SpawnOptions& options) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry; ++entry) environment.emplace_back(*entry);
  for (const auto& extra : options.environment) {
    std::string name = extra.substr(0, extra.find('=') + 1);
    std::erase_if(environment, [&](const std::string& e) { return e.rfind(name, 0) == 0; });
    environment.push_back(extra);
  }
  std::vector<char*> c_argv, c_env;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  for (const auto& e : environment) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  redirect(&actions, 0, options.stdin_file, O_RDONLY);
  redirect(&actions, 1, options.stdout_file, O_WRONLY | O_CREAT | O_TRUNC);
  redirect(&actions, 2, options.stderr_file, O_WRONLY | O_CREAT | O_TRUNC);
  // The child starts with no blocked signals, whatever the test runner did.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  int r = posix_spawn(&pid_, c_argv[0], &actions, &attributes, c_argv.data(), c_env.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (r != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(r));
}

Process::~Process() {
  if (!stop(SIGTERM, std::chrono::seconds(3))) {
    kill(pid_, SIGKILL);
    wait();
  }
}

std::optional<int> Process::poll() {
  if (status_) return status_;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = decode(status);
  return status_;
}

std::optional<int> Process::stop(int signal, std::chrono::milliseconds timeout) {
  if (poll()) return status_;
  kill(pid_, signal);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (poll()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

int Process::wait() {
  if (status_) return *status_;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = decode(status);
  return *status_;
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
              const std::string& input, const std::filesystem::path& scratch_dir) {
  static int counter = 0;
  std::string stem = (scratch_dir / ("run-" + std::to_string(++counter))).string();
  SpawnOptions options{environment, stem + ".in", stem + ".out", stem + ".err"};
  std::ofstream(options.stdin_file) << input;
  // Readable by a CLI that runs as nobody.
  std::filesystem::permissions(options.stdin_file, std::filesystem::perms(0644));
  Process process(argv, options);
  RunResult result;
  auto status = process.stop(0, std::chrono::seconds(30));  // signal 0: just wait
  result.exit_code = status ? *status : -1;
  result.out = read_file(options.stdout_file);
  result.err = read_file(options.stderr_file);
  return result;
}

}  // namespace tails_server::test
