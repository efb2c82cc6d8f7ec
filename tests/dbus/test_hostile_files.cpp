// Files the daemon did not write itself, made hostile by a service's account
// (its certificate) or by whoever prepared the disk (state files, onion
// keys): a FIFO must not hang the single-threaded daemon, a link to /dev/zero
// must not eat its memory. Each answer comes within 2 s, from a daemon that
// stays up.
#include "bus_harness.h"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <sys/stat.h>

using namespace tails_server::test;
namespace fs = std::filesystem;

namespace {

std::string explain(const RunResult& result, const BusHarness& harness) {
  return "exit " + std::to_string(result.exit_code) + "\nstdout:\n" + result.out + "\nstderr:\n" + result.err +
         "\ndaemon log:\n" + harness.daemon_log();
}

// Runs the CLI as nobody and returns its result and how long it took.
std::pair<RunResult, double> timed_as_nobody(BusHarness& harness, const std::vector<std::string>& args) {
  auto start = std::chrono::steady_clock::now();
  RunResult result = harness.cli_as_nobody(args);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return {result, took.count()};
}

void make_fifo(const fs::path& path) {
  fs::create_directories(path.parent_path());
  REQUIRE(::mkfifo(path.c_str(), 0666) == 0);
}

void check_alive(BusHarness& harness) {
  auto [list, seconds] = timed_as_nobody(harness, {"list"});
  INFO(explain(list, harness));
  CHECK(list.exit_code == exit_code::ok);
  CHECK(seconds < 2.0);
}

}  // namespace

TEST_CASE("a FIFO or a link to /dev/zero as a service's certificate gets an answer within 2 s") {
  for (const bool fifo : {true, false}) {
    CAPTURE(fifo);
    BusHarness harness;
    fs::path certificate = harness.dir() / "root/var/lib/mumble-server/tails-server/server.crt";
    if (fifo) {
      make_fifo(certificate);
    } else {
      fs::create_directories(certificate.parent_path());
      fs::create_symlink("/dev/zero", certificate);
    }
    harness.start_daemon();
    auto [result, seconds] = timed_as_nobody(harness, {"get-option", "mumble", "tls-fingerprint"});
    INFO(explain(result, harness));
    CHECK(seconds < 2.0);
    CHECK(result.exit_code != exit_code::ok);
    CHECK(result.err.find(certificate.string()) != std::string::npos);
    CHECK(result.err.find(fifo ? "not a regular file" : "symbolic link") != std::string::npos);
    check_alive(harness);
  }
}

TEST_CASE("a FIFO as a state file or an onion key neither hangs the daemon's start nor its answers") {
  BusHarness harness;
  make_fifo(harness.dir() / "state/mumble.state.json");
  make_fifo(harness.dir() / "state/gobby/hs_ed25519_secret_key");
  fs::create_directories(harness.dir() / "state/nginx");
  fs::create_symlink("/dev/zero", harness.dir() / "state/nginx.state.json");
  auto start = std::chrono::steady_clock::now();
  harness.start_daemon();  // throws if it does not own its name within 10 s
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  CHECK(took.count() < 2.0);
  CHECK(harness.daemon_log().find("not a regular file") != std::string::npos);
  CHECK(harness.daemon_log().find("symbolic link") != std::string::npos);

  auto [status, seconds] = timed_as_nobody(harness, {"status", "gobby"});
  INFO(explain(status, harness));
  CHECK(seconds < 2.0);
  check_alive(harness);
}
