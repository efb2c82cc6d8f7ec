// AptInstaller with real apt-get and dpkg, on the packages make-test-repo
// builds. Runs only inside the throwaway sandbox (run-in-sandbox prepares it
// and sets TAILS_SERVER_APT_SANDBOX=1): it installs and purges packages.
#define DOCTEST_CONFIG_IMPLEMENT
#include "apt/apt_installer.h"
#include "apt/policy_rc_d.h"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

using namespace tails_server::core;
using namespace std::chrono_literals;

namespace {

constexpr const char* policy_path = "/usr/sbin/policy-rc.d";

// Output of a shell command (test set-up and checks only).
std::string shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, got);
  ::pclose(pipe);
  return out;
}

std::string dpkg_status(const std::string& package) {
  std::string out = shell("dpkg-query -W -f='${Status}' " + package);
  return out.find("no packages found") != std::string::npos ? "" : out;
}

struct Loop {
  sd_event* event = nullptr;
  Loop() { REQUIRE(sd_event_new(&event) >= 0); }
  ~Loop() { sd_event_unref(event); }
  // Runs the loop until `done` or 120 s.
  void run_until(const bool& done) {
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (!done && std::chrono::steady_clock::now() < deadline) REQUIRE(sd_event_run(event, 100000) >= 0);
    REQUIRE_MESSAGE(done, "the operation did not finish within 120 s");
  }
};

struct Run {
  std::vector<AptProgress> progress;
  std::optional<AptResult> result;
  bool done = false;
  bool policy_seen = false;  // our policy-rc.d was in place during a progress report
};

AptInstaller::Options options() {
  AptInstaller::Options o;
  o.lock_timeout = 2s;
  return o;
}

bool ours_in_place() {
  std::ifstream in(policy_path);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  return is_our_policy_rc_d(text.str());
}

AptResult run_operation(AptInstaller& apt, Loop& loop, AptOperation operation, const std::vector<std::string>& packages,
                        Run& run, const AptRequestOptions& request = {"test-service", false}) {
  auto on_progress = [&run](const AptProgress& p) {
    run.progress.push_back(p);
    if (ours_in_place()) run.policy_seen = true;
  };
  auto on_done = [&run](const AptResult& r) {
    run.result = r;
    run.done = true;
  };
  if (operation == AptOperation::Install) apt.install(packages, on_progress, on_done, request);
  else apt.purge(packages, on_progress, on_done, request);
  CHECK(apt.busy());
  loop.run_until(run.done);
  CHECK_FALSE(apt.busy());
  CHECK_FALSE(std::filesystem::exists(policy_path));
  INFO("apt output:\n" << run.result->output);
  return *run.result;
}

AptResult install(AptInstaller& apt, Loop& loop, const std::vector<std::string>& packages) {
  Run run;
  return run_operation(apt, loop, AptOperation::Install, packages, run);
}

AptResult purge(AptInstaller& apt, Loop& loop, const std::vector<std::string>& packages) {
  Run run;
  return run_operation(apt, loop, AptOperation::Purge, packages, run);
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("installing reports progress up to 100 while the loop keeps serving and purge removes it") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  // A timer on the same loop stands for D-Bus: it must keep firing while apt runs.
  int ticks = 0;
  sd_event_source* timer = nullptr;
  REQUIRE(sd_event_add_time_relative(loop.event, &timer, CLOCK_MONOTONIC, 10000, 0,
                                     [](sd_event_source* s, uint64_t, void* data) {
                                       ++*static_cast<int*>(data);
                                       return sd_event_source_set_time_relative(s, 10000);
                                     },
                                     &ticks) >= 0);
  sd_event_source_set_enabled(timer, SD_EVENT_ON);

  Run run;
  auto result = run_operation(apt, loop, AptOperation::Install, {"tails-server-test-needs-hello"}, run);
  sd_event_source_disable_unref(timer);
  INFO(result.error);
  REQUIRE(result.ok());
  CHECK(result.installed == Names{"tails-server-test-needs-hello"});
  CHECK(result.dependencies == Names{"tails-server-test-hello"});
  CHECK(result.already_installed.empty());
  CHECK(ticks > 5);
  CHECK(run.policy_seen);

  std::vector<int> install_percents;
  bool saw_package = false;
  for (const auto& p : run.progress) {
    if (p.stage != AptStage::Install) continue;
    install_percents.push_back(p.percent);
    if (p.package == "tails-server-test-needs-hello") saw_package = true;
  }
  REQUIRE(install_percents.size() > 5);
  CHECK(install_percents.front() == 0);
  CHECK(install_percents.back() == 100);
  CHECK(std::is_sorted(install_percents.begin(), install_percents.end()));
  CHECK(saw_package);
  CHECK(dpkg_status("tails-server-test-needs-hello") == "install ok installed");
  CHECK(dpkg_status("tails-server-test-hello") == "install ok installed");
  CHECK(std::filesystem::exists("/usr/share/tails-server-test/needs-hello.txt"));

  Run purge_run;
  auto purged = run_operation(apt, loop, AptOperation::Purge,
                              {"tails-server-test-needs-hello", "tails-server-test-hello"}, purge_run);
  INFO(purged.error);
  REQUIRE(purged.ok());
  CHECK(purged.removed == Names{"tails-server-test-needs-hello", "tails-server-test-hello"});
  CHECK(!purge_run.progress.empty());
  CHECK(purge_run.progress.back().stage == AptStage::Remove);
  CHECK(purge_run.progress.back().percent == 100);
  CHECK(dpkg_status("tails-server-test-hello").find("ok installed") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists("/usr/share/tails-server-test/needs-hello.txt"));
}

TEST_CASE("an already installed package is reported as such and not as ours") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  auto result = install(apt, loop, {"coreutils", "tails-server-test-hello"});
  INFO(result.error);
  REQUIRE(result.ok());
  CHECK(result.already_installed == Names{"coreutils"});
  CHECK(result.installed == Names{"tails-server-test-hello"});

  auto again = install(apt, loop, {"coreutils", "tails-server-test-hello"});
  REQUIRE(again.ok());
  CHECK(again.already_installed == Names{"coreutils", "tails-server-test-hello"});
  CHECK(again.installed.empty());
  CHECK(purge(apt, loop, {"tails-server-test-hello"}).ok());
}

TEST_CASE("a failing postinst is reported with apt's message and rolled back") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  auto result = install(apt, loop, {"tails-server-test-badpostinst"});
  MESSAGE(result.error);
  CHECK(result.error_kind == AptErrorKind::Failed);
  CHECK(result.error.find("tails-server-test-badpostinst") != std::string::npos);
  CHECK(result.error.find("installed tails-server-test-badpostinst package post-installation script subprocess "
                          "returned error exit status 1") != std::string::npos);
  CHECK(result.error.find("left half-installed") != std::string::npos);
  CHECK(result.error.find("rolled back") != std::string::npos);
  CHECK(result.installed.empty());
  CHECK(result.dependencies.empty());
  CHECK(result.removed == Names{"tails-server-test-badpostinst"});
  CHECK(result.left_broken.empty());
  std::string status = dpkg_status("tails-server-test-badpostinst");
  CHECK(status.find("ok installed") == std::string::npos);
  CHECK(status.find("half") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists("/usr/share/tails-server-test/badpostinst.txt"));
  // Nothing half-configured is left to break the next install.
  auto next = install(apt, loop, {"tails-server-test-hello"});
  CHECK(next.ok());
  CHECK(purge(apt, loop, {"tails-server-test-hello"}).ok());
}

TEST_CASE("a failure in one package of several rolls back the ones this call installed") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  auto result = install(apt, loop, {"coreutils", "tails-server-test-hello", "tails-server-test-badpostinst"});
  MESSAGE(result.error);
  CHECK_FALSE(result.ok());
  CHECK(result.installed.empty());
  CHECK(result.already_installed == Names{"coreutils"});
  CHECK(result.removed.size() == 2);
  CHECK(dpkg_status("tails-server-test-hello").find("ok installed") == std::string::npos);
  CHECK(dpkg_status("coreutils") == "install ok installed");
}

TEST_CASE("a missing package is not available from the configured apt sources") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  auto result = install(apt, loop, {"tails-server-test-missing"});
  CHECK(result.error_kind == AptErrorKind::NotAvailable);
  CHECK(result.error == "package tails-server-test-missing is not available from the configured apt sources");
  CHECK(result.installed.empty());
}

TEST_CASE("a second operation while one runs fails at once with busy") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  Run run;
  apt.install({"tails-server-test-hello"}, nullptr, [&run](const AptResult& r) {
    run.result = r;
    run.done = true;
  }, {"prosody", false});
  CHECK(apt.current_operation() == "installing tails-server-test-hello for prosody");
  try {
    apt.install({"tails-server-test-needs-hello"}, nullptr, nullptr, {"nginx", false});
    FAIL("no busy error");
  } catch (const AptError& e) {
    CHECK(e.kind() == AptErrorKind::Busy);
    CHECK(std::string(e.what()) == "busy: installing tails-server-test-hello for prosody");
  }
  CHECK_THROWS_WITH_AS(apt.purge({"tails-server-test-hello"}, nullptr, nullptr),
                       "busy: installing tails-server-test-hello for prosody", AptError);
  loop.run_until(run.done);
  CHECK(run.result->ok());
  CHECK(purge(apt, loop, {"tails-server-test-hello"}).ok());
}

TEST_CASE("invalid requests are refused before apt runs") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  CHECK_THROWS_AS(apt.install({}, nullptr, nullptr), AptError);
  CHECK_THROWS_WITH_AS(apt.install({"-oAPT::Get::Purge=1"}, nullptr, nullptr),
                       "'-oAPT::Get::Purge=1' is not a Debian package name", AptError);
  CHECK_FALSE(apt.busy());
}

TEST_CASE("dpkg's lock held by another program gives an error naming the lock and its holder") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  // dpkg and apt take fcntl locks (flock(1) would not conflict with them).
  pid_t holder = ::fork();
  REQUIRE(holder >= 0);
  if (holder == 0) {
    ::execlp("python3", "python3", "-c",
             "import fcntl, time\n"
             "f = open('/var/lib/dpkg/lock-frontend', 'w')\n"
             "fcntl.lockf(f, fcntl.LOCK_EX)\n"
             "open('/run/apt-test-locked', 'w').close()\n"
             "time.sleep(60)\n",
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 100 && !std::filesystem::exists("/run/apt-test-locked"); ++i) ::usleep(50000);
  REQUIRE(std::filesystem::exists("/run/apt-test-locked"));
  auto result = install(apt, loop, {"tails-server-test-hello"});
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  std::filesystem::remove("/run/apt-test-locked");
  MESSAGE(result.error);
  CHECK(result.error_kind == AptErrorKind::Locked);
  CHECK(result.error.find("/var/lib/dpkg/lock-frontend") != std::string::npos);
  CHECK(result.error.find("It is held by process " + std::to_string(holder) + " (python3)") != std::string::npos);
  CHECK(result.installed.empty());
  CHECK(dpkg_status("tails-server-test-hello").find("ok installed") == std::string::npos);
}

TEST_CASE("purging a package that is not installed does nothing") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  auto result = purge(apt, loop, {"tails-server-test-hello"});
  CHECK(result.ok());
  CHECK(result.removed.empty());
}

TEST_CASE("package scripts cannot start daemons while we install") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  auto result = install(apt, loop, {"tails-server-test-service"});
  INFO(result.output);
  REQUIRE(result.ok());
  CHECK(result.output.find("policy-rc.d denied execution of start") != std::string::npos);
  CHECK(shell("systemctl is-active tails-server-test-svc.service") == "inactive\n");
  CHECK(purge(apt, loop, {"tails-server-test-service"}).ok());
}

TEST_CASE("a policy-rc.d that is not ours is used and left in place") {
  Loop loop;
  AptInstaller apt(loop.event, options());
  { std::ofstream(policy_path) << "#!/bin/sh\n# the administrator's\nexit 101\n"; }
  std::filesystem::permissions(policy_path, std::filesystem::perms(0755));
  Run run;
  apt.install({"tails-server-test-hello"}, nullptr, [&run](const AptResult& r) {
    run.result = r;
    run.done = true;
  });
  loop.run_until(run.done);
  CHECK(run.result->ok());
  REQUIRE(std::filesystem::exists(policy_path));
  std::ifstream in(policy_path);
  std::ostringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "#!/bin/sh\n# the administrator's\nexit 101\n");
  std::filesystem::remove(policy_path);
  CHECK(purge(apt, loop, {"tails-server-test-hello"}).ok());
}

TEST_CASE("a policy-rc.d left by a crashed daemon is removed at the next start") {
  { std::ofstream(policy_path) << policy_rc_d_script(); }
  Loop loop;
  AptInstaller apt(loop.event, options());
  CHECK_FALSE(std::filesystem::exists(policy_path));
}

TEST_CASE("update first refreshes the package lists then installs") {
  Loop loop;
  auto o = options();
  o.apt_arguments = {"-o", "Dir::Etc::sourcelist=/etc/apt/sources.list.d/tails-server-test.list", "-o",
                     "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0"};
  AptInstaller apt(loop.event, o);
  Run run;
  auto result = run_operation(apt, loop, AptOperation::Install, {"tails-server-test-hello"}, run,
                              {"test-service", true});
  INFO(result.error);
  REQUIRE(result.ok());
  CHECK(result.output.find("$ apt-get update") != std::string::npos);
  CHECK(result.installed == Names{"tails-server-test-hello"});
  CHECK(purge(apt, loop, {"tails-server-test-hello"}).ok());
}

int main(int argc, char** argv) {
  if (std::getenv("TAILS_SERVER_APT_SANDBOX") == nullptr) {
    std::fprintf(stderr,
                 "apt-sandbox-tests installs and purges packages: run it inside the sandbox with "
                 "tests/apt/run-in-sandbox\n");
    return 2;
  }
  // As the daemon must: sd-event watches apt through SIGCHLD.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGCHLD);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  doctest::Context context(argc, argv);
  return context.run();
}
