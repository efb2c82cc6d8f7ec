// What autostart does next with one service marked autostart: a pure
// decision, so that it is tested without apt, systemd or a clock.
#pragma once

namespace tails_server::core {

enum class AutostartStep {
  WaitForPackages,  // not installed yet: Additional Software may still install them
  GiveUp,           // not installed, and the wait is over: reported, left off
  SkipBusy,         // another operation (e.g. an overlapping autostart) is on it
  SkipRunning,      // it runs and is enabled already
  Start,            // enable it
};

struct AutostartFacts {
  bool packages_installed = false;
  bool before_deadline = false;  // the package wait is not over
  bool operation_running = false;
  bool running_and_enabled = false;
};

inline AutostartStep next_autostart_step(const AutostartFacts& facts) {
  if (!facts.packages_installed)
    return facts.before_deadline ? AutostartStep::WaitForPackages : AutostartStep::GiveUp;
  if (facts.operation_running) return AutostartStep::SkipBusy;
  if (facts.running_and_enabled) return AutostartStep::SkipRunning;
  return AutostartStep::Start;
}

}  // namespace tails_server::core
