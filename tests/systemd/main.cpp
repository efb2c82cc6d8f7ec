// The systemd integration tests run only inside the throwaway sandbox
// (tests/sandbox/sandbox): they write units to /etc/systemd/system, create
// system users and start services. run-in-sandbox boots it and runs them.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "bus_loop.h"

#include "systemd/port_wait.h"

#include <unistd.h>

#include <cstdio>

namespace tails_server::test {

std::optional<std::string> run_port_wait(BusLoop& loop, std::uint16_t port, std::chrono::milliseconds timeout) {
  bool finished = false;
  std::optional<std::string> error;
  auto wait = core::wait_for_port(loop.event(), port, timeout, [&](std::optional<std::string> e) {
    finished = true;
    error = std::move(e);
  });
  if (!loop.run_until([&] { return finished; }, timeout + std::chrono::seconds(5)))
    throw std::runtime_error("wait_for_port did not report within its time limit");
  return error;
}

}  // namespace tails_server::test

int main(int argc, char** argv) {
  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  std::string init = tails_server::test::read_text("/proc/1/comm");
  if (std::string(hostname) != "tails-sandbox" || init != "systemd\n" || ::geteuid() != 0) {
    std::fprintf(stderr,
                 "systemd-tests: run me as root inside the sandbox (tests/systemd/run-in-sandbox), "
                 "never on the host; skipped\n");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
