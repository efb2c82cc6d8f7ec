// What a caller who is not root can hold before polkit answers: sizes are
// checked before polkit is asked, and each user has at most
// dbus::max_pending_authorizations checks pending. A polkit that never
// answers (as one waiting for the user's password) stands in for the real
// one on the private bus, and counts what it is asked.
#include "bus_harness.h"

#include "dbus/contract.h"

#include <doctest/doctest.h>
#include <systemd/sd-bus.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

using namespace tails_server::test;

namespace {

std::string explain(const RunResult& result, const BusHarness& harness) {
  return "exit " + std::to_string(result.exit_code) + "\nstdout:\n" + result.out + "\nstderr:\n" + result.err +
         "\ndaemon log:\n" + harness.daemon_log();
}

// Owns org.freedesktop.PolicyKit1 on the harness's bus and never answers.
class SilentPolkit {
 public:
  explicit SilentPolkit(const std::string& address) {
    REQUIRE(sd_bus_new(&bus_) >= 0);
    REQUIRE(sd_bus_set_address(bus_, address.c_str()) >= 0);
    REQUIRE(sd_bus_set_bus_client(bus_, 1) >= 0);
    REQUIRE(sd_bus_start(bus_) >= 0);
    REQUIRE(sd_bus_add_object_vtable(bus_, nullptr, "/org/freedesktop/PolicyKit1/Authority",
                                     "org.freedesktop.PolicyKit1.Authority", vtable, this) >= 0);
    REQUIRE(sd_bus_request_name(bus_, "org.freedesktop.PolicyKit1", 0) >= 0);
    thread_ = std::thread([this] {
      while (!stop_) {
        int r = sd_bus_process(bus_, nullptr);
        if (r == 0) sd_bus_wait(bus_, 50'000);
      }
    });
  }
  ~SilentPolkit() {
    stop_ = true;
    thread_.join();
    for (auto* call : held_) sd_bus_message_unref(call);
    sd_bus_flush_close_unref(bus_);
  }
  int asked() const { return asked_; }

 private:
  static int on_check(sd_bus_message* call, void* self, sd_bus_error*) {
    auto* polkit = static_cast<SilentPolkit*>(self);
    polkit->held_.push_back(sd_bus_message_ref(call));
    ++polkit->asked_;
    return 1;  // handled; the reply never comes
  }
  static const sd_bus_vtable vtable[];

  sd_bus* bus_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> asked_{0};
  std::vector<sd_bus_message*> held_;
};

const sd_bus_vtable SilentPolkit::vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", &SilentPolkit::on_check, 0),
    SD_BUS_VTABLE_END,
};

template <class Ready>
bool wait_until(Ready ready, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ready();
}

}  // namespace

TEST_CASE("a value beyond the size limit is refused before polkit is asked") {
  BusHarness harness;
  SilentPolkit polkit(harness.bus_address());
  harness.start_daemon();
  std::string huge(tails_server::dbus::max_value_size + 1, 'x');
  auto start = std::chrono::steady_clock::now();
  RunResult result = harness.cli_as_nobody({"set-option", "mumble", "welcome-message", huge});
  INFO(explain(result, harness));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(result.exit_code == exit_code::invalid_value);
  CHECK(result.err.find("at most 65536") != std::string::npos);
  CHECK(polkit.asked() == 0);
}

TEST_CASE("a user's authorization checks beyond the cap are answered busy over all their connections") {
  BusHarness harness;
  SilentPolkit polkit(harness.bus_address());
  harness.start_daemon();
  const int cap = static_cast<int>(tails_server::dbus::max_pending_authorizations);
  std::vector<std::unique_ptr<Process>> waiting;
  for (int i = 0; i < cap; ++i)  // each CLI is a connection of its own
    waiting.push_back(harness.cli_in_background({"set-option", "mumble", "welcome-message", "hello"},
                                                harness.dir() / ("out" + std::to_string(i)),
                                                harness.dir() / ("err" + std::to_string(i)), /*as_nobody=*/true));
  REQUIRE(wait_until([&] { return polkit.asked() == cap; }, std::chrono::seconds(10)));

  auto start = std::chrono::steady_clock::now();
  RunResult result = harness.cli_as_nobody({"set-option", "mumble", "welcome-message", "one more"});
  INFO(explain(result, harness));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK(result.exit_code == exit_code::busy);
  CHECK(result.err.find("authorization checks") != std::string::npos);
  CHECK(polkit.asked() == cap);
  // Root is never asked about, so never held up.
  CHECK(harness.cli({"set-option", "mumble", "welcome-message", "from root"}).exit_code == exit_code::ok);
  for (auto& process : waiting) process->stop(SIGKILL, std::chrono::seconds(5));
}
