// UnitControl, watch, wait_for_port and journal_tail against the sandbox's
// real systemd, with small test units.
#include <doctest/doctest.h>

#include "bus_loop.h"

#include "services/system_probe.h"
#include "systemd/journal.h"
#include "systemd/port_wait.h"
#include "systemd/unit_control.h"

#include <signal.h>

#include <set>
#include <vector>

using namespace tails_server;
using namespace std::chrono_literals;
using core::UnitControl;
using core::UnitState;
using test::BusLoop;
using test::run_job;
using test::run_port_wait;

namespace {

constexpr std::uint16_t ok_port = 18080;
constexpr std::uint16_t quiet_port = 18081;

// The test units, written once; systemd reloaded by each test through UnitControl.
void write_test_units() {
  static bool written = false;
  if (written) return;
  test::write_text("/etc/systemd/system/ts-test-ok.service",
                   "[Unit]\nDescription=Tails Server test: listens on 127.0.0.1:" + std::to_string(ok_port) +
                       "\n[Service]\nType=simple\nExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 " +
                       std::to_string(ok_port) + "\nWorkingDirectory=/var/empty\n");
  test::write_text("/etc/systemd/system/ts-test-fail.service",
                   "[Unit]\nDescription=Tails Server test: fails at once\n"
                   "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo ts-test-fail is about to fail; exit 3'\n");
  test::write_text("/etc/systemd/system/ts-test-quiet.service",
                   "[Unit]\nDescription=Tails Server test: runs and never listens\n"
                   "[Service]\nType=simple\nExecStart=/bin/sleep infinity\n");
  // Enabled by the test as a package's maintainer script would.
  test::write_text("/etc/systemd/system/ts-test-wanted.service",
                   "[Unit]\nDescription=Tails Server test: has an [Install] section\n"
                   "[Service]\nType=simple\nExecStart=/bin/sleep infinity\n"
                   "[Install]\nWantedBy=multi-user.target\n");
  // In /run, so that a mask in /etc can hide it.
  test::write_text("/run/systemd/system/ts-test-masked.service",
                   "[Unit]\nDescription=Tails Server test: masked\n"
                   "[Service]\nType=simple\nExecStart=/bin/sleep infinity\n"
                   "[Install]\nWantedBy=multi-user.target\n");
  std::filesystem::create_directories("/var/empty");
  written = true;
}

struct Fixture {
  BusLoop loop;
  UnitControl control{loop.bus()};
  Fixture() {
    write_test_units();
    auto error = run_job(loop, [&](core::JobDone done) { control.reload_daemon(std::move(done)); });
    REQUIRE_MESSAGE(!error, (error ? error->what() : ""));
  }
  std::optional<core::UnitError> start(const std::string& unit) {
    return run_job(loop, [&](core::JobDone done) { control.start(unit, std::move(done)); });
  }
  std::optional<core::UnitError> stop(const std::string& unit) {
    return run_job(loop, [&](core::JobDone done) { control.stop(unit, std::move(done)); });
  }
};

std::string message(const std::optional<core::UnitError>& error) { return error ? error->what() : "(success)"; }

}  // namespace

TEST_CASE_FIXTURE(Fixture, "a unit that starts gets success and its port listens; stop closes the port") {
  auto error = start("ts-test-ok.service");
  REQUIRE_MESSAGE(!error, message(error));
  auto port_error = run_port_wait(loop, ok_port, 20s);
  CHECK_MESSAGE(!port_error, port_error.value_or(""));
  CHECK(core::port_listening(ok_port));

  UnitState state = control.unit_state("ts-test-ok.service");
  CHECK(state.load_state == "loaded");
  CHECK(state.active_state == "active");
  CHECK(state.sub_state == "running");
  CHECK(state.main_pid > 0);
  CHECK(test::read_text("/proc/" + std::to_string(state.main_pid) + "/comm") == "python3\n");

  error = run_job(loop, [&](core::JobDone done) { control.restart("ts-test-ok.service", std::move(done)); });
  CHECK_MESSAGE(!error, message(error));
  CHECK(control.unit_state("ts-test-ok.service").main_pid != state.main_pid);

  error = stop("ts-test-ok.service");
  CHECK_MESSAGE(!error, message(error));
  CHECK_FALSE(core::port_listening(ok_port));
  state = control.unit_state("ts-test-ok.service");
  CHECK(state.active_state == "inactive");
  CHECK(state.main_pid == 0);
}

TEST_CASE_FIXTURE(Fixture, "a failing unit's error names the result failed and holds its journal lines") {
  auto error = start("ts-test-fail.service");
  REQUIRE(error.has_value());
  MESSAGE("the error: " << std::string(error->what()));
  CHECK(error->unit() == "ts-test-fail.service");
  CHECK(error->result() == "failed");
  CHECK(error->bus_error().empty());
  std::string text = error->what();
  CHECK(text.find("ts-test-fail.service") != std::string::npos);
  CHECK(text.find("'failed'") != std::string::npos);
  // The unit's own output and systemd's words about it.
  CHECK(text.find("ts-test-fail is about to fail") != std::string::npos);
  CHECK(text.find("systemd[1]: ") != std::string::npos);
  CHECK(control.unit_state("ts-test-fail.service").active_state == "failed");

  auto lines = core::journal_tail("ts-test-fail.service", 3);
  CHECK(lines.size() == 3);
  CHECK(core::journal_tail("ts-test-fail.service", 0).empty());
}

TEST_CASE_FIXTURE(Fixture, "a unit that never listens times out in wait_for_port with a clear error") {
  auto error = start("ts-test-quiet.service");
  REQUIRE_MESSAGE(!error, message(error));
  auto started = std::chrono::steady_clock::now();
  auto port_error = run_port_wait(loop, quiet_port, 1500ms);
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(port_error.has_value());
  MESSAGE("the error: " << *port_error);
  CHECK(*port_error == "nothing listens on TCP port 18081 after 1500 ms");
  CHECK(took >= 1500ms);
  CHECK(took < 3s);
  CHECK_MESSAGE(!stop("ts-test-quiet.service"), "stop failed");

  // `done` never runs from inside wait_for_port, only from the loop.
  bool called_inside = true;
  bool finished = false;
  auto wait = core::wait_for_port(loop.event(), 1, 1s, [&](std::optional<std::string>) { finished = true; });
  called_inside = finished;
  CHECK_FALSE(called_inside);
  CHECK(wait.pending());
  // Destroying the wait cancels it: the callback never runs.
  { auto gone = std::move(wait); }
  loop.run_until([] { return false; }, 1200ms);
  CHECK_FALSE(finished);
}

TEST_CASE_FIXTURE(Fixture, "watch reports the unit leaving active after kill -9 of its main process") {
  REQUIRE_MESSAGE(!start("ts-test-ok.service"), "start failed");
  std::vector<UnitState> seen;
  auto watch = control.watch("ts-test-ok.service", [&](const UnitState& state) { seen.push_back(state); });
  REQUIRE(watch.state().active_state == "active");
  const std::uint32_t pid = watch.state().main_pid;
  REQUIRE(pid > 0);
  REQUIRE(::kill(static_cast<pid_t>(pid), SIGKILL) == 0);

  // Only signals drive the loop here: no timer polls the unit.
  const std::set<std::string> gone = {"deactivating", "failed", "activating", "inactive"};
  bool left = loop.run_until(
      [&] {
        for (const auto& state : seen)
          if (gone.count(state.active_state)) return true;
        return false;
      },
      10s);
  std::string states;
  for (const auto& state : seen) states += state.active_state + "/" + state.sub_state + " ";
  MESSAGE("states seen: " << states);
  CHECK(left);
  // The watcher ends with the final state: failed (killed by a signal, no Restart=).
  loop.run_until([&] { return watch.state().active_state == "failed"; }, 10s);
  CHECK(watch.state().active_state == "failed");
  CHECK(watch.state().main_pid == 0);
  CHECK(test::sh("systemctl is-active ts-test-ok.service") == "failed\n");

  // After the watch is gone, nothing more is reported.
  watch = core::UnitWatch();
  std::size_t count = seen.size();
  REQUIRE_MESSAGE(!start("ts-test-ok.service"), "start after the kill failed");
  CHECK(seen.size() == count);
  CHECK_MESSAGE(!stop("ts-test-ok.service"), "stop failed");
}

TEST_CASE_FIXTURE(Fixture, "a nonexistent unit gives a clear not found error") {
  auto error = start("ts-test-nonexistent.service");
  REQUIRE(error.has_value());
  MESSAGE("the error: " << std::string(error->what()));
  CHECK(std::string(error->what()) == "cannot start ts-test-nonexistent.service: Unit ts-test-nonexistent.service not found.");
  CHECK(error->bus_error() == "org.freedesktop.systemd1.NoSuchUnit");
  CHECK(error->result().empty());

  UnitState state = control.unit_state("ts-test-nonexistent.service");
  CHECK(state.load_state == "not-found");
  CHECK(state.active_state == "inactive");
  CHECK(state.main_pid == 0);
}

TEST_CASE_FIXTURE(Fixture, "disable_unit_file disables an enabled unit and leaves static and masked units alone") {
  auto disable = [&](const std::string& unit) {
    return run_job(loop, [&](core::JobDone done) { control.disable_unit_file(unit, std::move(done)); });
  };
  auto enablement = [](const std::string& unit) { return test::sh("systemctl is-enabled " + unit + " 2>&1"); };
  auto wanted_by_target = [] { return test::sh("systemctl show -p Wants --value multi-user.target"); };

  test::sh("systemctl enable ts-test-wanted.service 2>&1");
  REQUIRE(enablement("ts-test-wanted.service") == "enabled\n");
  REQUIRE(wanted_by_target().find("ts-test-wanted.service") != std::string::npos);
  auto error = disable("ts-test-wanted.service");
  CHECK_MESSAGE(!error, message(error));
  CHECK(enablement("ts-test-wanted.service") == "disabled\n");
  CHECK_FALSE(std::filesystem::exists("/etc/systemd/system/multi-user.target.wants/ts-test-wanted.service"));
  // systemd reloaded: the target it was linked into no longer wants it.
  CHECK(wanted_by_target().find("ts-test-wanted.service") == std::string::npos);
  error = disable("ts-test-wanted.service");  // nothing to do
  CHECK_MESSAGE(!error, message(error));
  CHECK(enablement("ts-test-wanted.service") == "disabled\n");

  error = disable("ts-test-ok.service");  // no [Install] section
  CHECK_MESSAGE(!error, message(error));
  CHECK(enablement("ts-test-ok.service") == "static\n");

  test::sh("systemctl mask ts-test-masked.service 2>&1");
  REQUIRE(enablement("ts-test-masked.service") == "masked\n");
  error = disable("ts-test-masked.service");
  CHECK_MESSAGE(!error, message(error));
  CHECK(enablement("ts-test-masked.service") == "masked\n");
  test::sh("systemctl unmask ts-test-masked.service 2>&1");

  error = disable("ts-test-nonexistent.service");
  REQUIRE(error.has_value());
  MESSAGE("the error: " << std::string(error->what()));
  CHECK(std::string(error->what()).find("ts-test-nonexistent.service") != std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "many jobs at once each report exactly once") {
  // Jobs that end at once (start of an active unit) race their own method
  // reply: JobRemoved may come first, and must still be matched.
  REQUIRE_MESSAGE(!start("ts-test-ok.service"), "start failed");
  constexpr int count = 40;
  std::vector<int> calls(count, 0);
  std::vector<std::optional<core::UnitError>> errors(count);
  for (int i = 0; i < count; ++i)
    control.start("ts-test-ok.service", [&, i](std::optional<core::UnitError> e) {
      ++calls[i];
      errors[i] = std::move(e);
    });
  bool all = loop.run_until(
      [&] {
        for (int c : calls)
          if (c == 0) return false;
        return true;
      },
      30s);
  CHECK(all);
  for (int i = 0; i < count; ++i) {
    CAPTURE(i);
    CHECK(calls[i] == 1);
    CHECK_MESSAGE(!errors[i], message(errors[i]));
  }

  // Restarts queued together are merged into one job (or a replaced one ends
  // "canceled"): each caller hears once, and the last one succeeds.
  std::vector<int> restart_calls(5, 0);
  std::vector<std::string> results(5);
  for (int i = 0; i < 5; ++i)
    control.restart("ts-test-ok.service", [&, i](std::optional<core::UnitError> e) {
      ++restart_calls[i];
      results[i] = e ? e->result() : "done";
    });
  loop.run_until(
      [&] {
        for (int c : restart_calls)
          if (c == 0) return false;
        return true;
      },
      30s);
  std::string all_results;
  for (int i = 0; i < 5; ++i) {
    CHECK(restart_calls[i] == 1);
    all_results += results[i] + " ";
  }
  MESSAGE("restart results: " << all_results);
  CHECK(results.back() == "done");
  CHECK(control.unit_state("ts-test-ok.service").active_state == "active");
  CHECK_MESSAGE(!stop("ts-test-ok.service"), "stop failed");
}

TEST_CASE("destroying UnitControl cancels its callbacks") {
  write_test_units();
  BusLoop loop;
  bool called = false;
  {
    UnitControl control(loop.bus());
    control.start("ts-test-quiet.service", [&](std::optional<core::UnitError>) { called = true; });
  }
  loop.run_until([] { return false; }, 500ms);
  CHECK_FALSE(called);
  UnitControl control(loop.bus());
  CHECK_MESSAGE(!run_job(loop, [&](core::JobDone done) { control.stop("ts-test-quiet.service", std::move(done)); }),
                "stop failed");
}
