// What autostart does with a service marked autostart (autostart_step.h).
#include "lifecycle/autostart_step.h"

#include <doctest/doctest.h>

using tails_server::core::AutostartFacts;
using tails_server::core::AutostartStep;
using tails_server::core::next_autostart_step;

TEST_CASE("Autostart waits for missing packages until the deadline then gives up") {
  CHECK(next_autostart_step({.packages_installed = false, .before_deadline = true}) == AutostartStep::WaitForPackages);
  CHECK(next_autostart_step({.packages_installed = false, .before_deadline = false}) == AutostartStep::GiveUp);
  // Missing packages decide before anything else: nothing of the service can run.
  CHECK(next_autostart_step({.packages_installed = false, .before_deadline = false, .operation_running = true}) ==
        AutostartStep::GiveUp);
}

TEST_CASE("Autostart skips a service that an operation is changing or that runs already") {
  CHECK(next_autostart_step({.packages_installed = true, .operation_running = true}) == AutostartStep::SkipBusy);
  CHECK(next_autostart_step({.packages_installed = true, .operation_running = true, .running_and_enabled = true}) ==
        AutostartStep::SkipBusy);
  CHECK(next_autostart_step({.packages_installed = true, .running_and_enabled = true}) == AutostartStep::SkipRunning);
}

TEST_CASE("Autostart starts an installed idle service whether or not the deadline passed") {
  CHECK(next_autostart_step({.packages_installed = true, .before_deadline = true}) == AutostartStep::Start);
  CHECK(next_autostart_step({.packages_installed = true, .before_deadline = false}) == AutostartStep::Start);
}
