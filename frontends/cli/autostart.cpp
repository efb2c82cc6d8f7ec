#include "autostart.h"

#include "crashed_plugins.h"
#include "daemon_client.h"

#include "dbus/contract.h"

#include <iostream>
#include <thread>

namespace tails_server::cli {

using namespace tails_server::client;
using Clock = std::chrono::steady_clock;

namespace {

// A plugin crashes the daemon at most once per boot before it is put aside,
// so a few stops in one autostart mean something else is wrong.
constexpr int kMaxStops = 3;
constexpr std::chrono::milliseconds kPoll{250};

void ask(std::chrono::seconds timeout) {
  DaemonClient client;
  client.watch_states([](const StateChange& change) {
    std::cout << change.service << ": " << change.state << (change.message.empty() ? "" : " " + change.message)
              << std::endl;
  });
  client.call_long(dbus::method::autostart, "", timeout);
}

}  // namespace

void run_autostart(std::chrono::seconds daemon_wait, std::chrono::seconds timeout) {
  auto deadline = Clock::now() + daemon_wait;
  bool waiting = false;
  for (int stops = 0;;) {
    try {
      ask(timeout);
      std::cout << "autostart: done" << std::endl;
      return;
    } catch (const ClientError& error) {
      if (error.kind() == ErrorKind::daemon_stopped && ++stops <= kMaxStops) {
        std::cout << "autostart: " << explain_stop("") << "; asking again" << std::endl;
        deadline = Clock::now() + daemon_wait;
        continue;
      }
      if (error.kind() != ErrorKind::unreachable || Clock::now() >= deadline) throw;
      if (!waiting)
        std::cout << "autostart: waiting up to " << daemon_wait.count() << " s for tails-serverd (" << error.what()
                  << ")" << std::endl;
      waiting = true;
      std::this_thread::sleep_for(kPoll);
    }
  }
}

}  // namespace tails_server::cli
