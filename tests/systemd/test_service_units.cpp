// The units the mumble and gobby plugins write, configured through the real
// core (ServiceManager, SystemHost on "/") and run by the sandbox's systemd
// with UnitControl.
#include <doctest/doctest.h>

#include "bus_loop.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"
#include "services/system_probe.h"
#include "systemd/journal.h"
#include "systemd/unit_control.h"

#include <grp.h>
#include <signal.h>

using namespace tails_server;
using namespace std::chrono_literals;
using core::UnitControl;
using core::UnitState;
using test::BusLoop;
using test::run_job;
using test::run_port_wait;

namespace {

std::string message(const std::optional<core::UnitError>& error) { return error ? error->what() : "(success)"; }

struct ServiceFixture {
  core::SystemHost host{"/"};
  core::DaemonConfig config = [] {
    core::DaemonConfig c;
    c.plugin_dirs = {TAILS_SERVER_PLUGIN_OUTPUT_DIR};
    c.root = "/";
    c.state_dir = "/var/lib/tails-server-test";
    return c;
  }();
  core::ServiceManager manager{config, host};
  BusLoop loop;
  UnitControl control{loop.bus()};

  void reload() {
    auto error = run_job(loop, [&](core::JobDone done) { control.reload_daemon(std::move(done)); });
    REQUIRE_MESSAGE(!error, message(error));
  }

  // Listening sockets on `port`, as "address:port" lines from ss.
  static std::string listeners(std::uint16_t port) {
    return test::sh("ss -Hltn 'sport = :" + std::to_string(port) + "' | awk '{print $4}'");
  }

  // Kills the unit's main process with SIGKILL while Restart= is off (a
  // runtime drop-in), and checks that systemd and `systemctl is-active` say
  // "failed" (the LSB unit of mumble-server said "active" forever).
  void check_truthful_after_kill(const std::string& unit) {
    const std::filesystem::path dropin = "/run/systemd/system/" + unit + ".d/50-ts-test-no-restart.conf";
    test::write_text(dropin, "[Service]\nRestart=no\n");
    reload();
    std::vector<UnitState> seen;
    auto watch = control.watch(unit, [&](const UnitState& state) { seen.push_back(state); });
    REQUIRE(watch.state().active_state == "active");
    const auto pid = watch.state().main_pid;
    REQUIRE(pid > 0);
    REQUIRE(::kill(static_cast<pid_t>(pid), SIGKILL) == 0);
    CHECK(loop.run_until([&] { return watch.state().active_state == "failed"; }, 20s));
    std::string states;
    for (const auto& state : seen) states += state.active_state + "/" + state.sub_state + " ";
    MESSAGE(unit << " states after kill -9: " << states);
    CHECK(test::sh("systemctl is-active " + unit) == "failed\n");
    std::filesystem::remove(dropin);
    reload();
  }
};

}  // namespace

TEST_CASE_FIXTURE(ServiceFixture, "the mumble plugin's unit runs murmurd as mumble-server and systemd tells the truth") {
  manager.configure("mumble");
  reload();
  const auto port = static_cast<std::uint16_t>(std::stoi(manager.get_option("mumble", "local-port")));
  REQUIRE(port == 64738);
  // Our unit, not the one systemd-sysv-generator makes from the LSB script.
  CHECK(test::sh("systemctl show -P FragmentPath mumble-server.service") ==
        "/etc/systemd/system/mumble-server.service\n");
  CHECK(test::sh("systemctl show -P RemainAfterExit mumble-server.service") == "no\n");

  auto error = run_job(loop, [&](core::JobDone done) { control.start("mumble-server.service", std::move(done)); });
  REQUIRE_MESSAGE(!error, message(error));
  auto port_error = run_port_wait(loop, port, 60s);
  REQUIRE_MESSAGE(!port_error, port_error.value_or("") << "\n" << core::journal_tail_text("mumble-server.service"));
  CHECK(listeners(port) == "127.0.0.1:64738\n");

  UnitState state = control.unit_state("mumble-server.service");
  CHECK(state.active_state == "active");
  CHECK(test::process_user(state.main_pid) == "mumble-server");
  CHECK(test::read_text("/proc/" + std::to_string(state.main_pid) + "/comm") == "murmurd\n");

  SUBCASE("Restart=on-failure brings murmurd back after kill -9") {
    std::vector<UnitState> seen;
    auto watch = control.watch("mumble-server.service", [&](const UnitState& s) { seen.push_back(s); });
    REQUIRE(::kill(static_cast<pid_t>(state.main_pid), SIGKILL) == 0);
    bool back = loop.run_until(
        [&] {
          return watch.state().active_state == "active" && watch.state().main_pid != 0 &&
                 watch.state().main_pid != state.main_pid;
        },
        20s);
    std::string states;
    for (const auto& s : seen) states += s.active_state + "/" + s.sub_state + " ";
    MESSAGE("states after kill -9: " << states);
    CHECK(back);
    bool restarting = false;
    for (const auto& s : seen) restarting = restarting || s.sub_state == "auto-restart";
    CHECK(restarting);
    auto again = run_port_wait(loop, port, 60s);
    CHECK_MESSAGE(!again, again.value_or(""));
  }
  SUBCASE("without Restart= is-active says failed after kill -9") { check_truthful_after_kill("mumble-server.service"); }

  error = run_job(loop, [&](core::JobDone done) { control.stop("mumble-server.service", std::move(done)); });
  CHECK_MESSAGE(!error, message(error));
  CHECK_FALSE(core::port_listening(port));
}

TEST_CASE_FIXTURE(ServiceFixture, "the gobby plugin's unit runs infinoted as its own system user") {
  manager.configure("gobby");
  REQUIRE_MESSAGE(::getpwnam("tails-server-infinoted") != nullptr, "configure() did not create the user");
  reload();
  const auto port = static_cast<std::uint16_t>(std::stoi(manager.get_option("gobby", "local-port")));
  REQUIRE(port == 6523);

  auto error = run_job(loop, [&](core::JobDone done) {
    control.start("tails-server-infinoted.service", std::move(done));
  });
  REQUIRE_MESSAGE(!error, message(error));
  // The first start generates Diffie-Hellman parameters.
  auto port_error = run_port_wait(loop, port, 120s);
  REQUIRE_MESSAGE(!port_error, port_error.value_or("") << "\n" << core::journal_tail_text("tails-server-infinoted.service"));
  CHECK(listeners(port) == "127.0.0.1:6523\n");

  UnitState state = control.unit_state("tails-server-infinoted.service");
  CHECK(state.active_state == "active");
  CHECK(test::process_user(state.main_pid) == "tails-server-infinoted");
  // The password stays in the 0600 config file, out of argv.
  std::string cmdline = test::read_text("/proc/" + std::to_string(state.main_pid) + "/cmdline");
  CHECK(cmdline.find("password") == std::string::npos);
  CHECK(cmdline.find("--config-file=/etc/tails-server/infinoted.conf") != std::string::npos);
  CHECK(test::sh("stat -c '%U:%G %a' /etc/tails-server/infinoted.conf") ==
        "tails-server-infinoted:tails-server-infinoted 600\n");
  // HOME is the data directory: infinoted cached its DH parameters there.
  CHECK(std::filesystem::exists("/var/lib/tails-server-infinoted/.infinoted"));

  check_truthful_after_kill("tails-server-infinoted.service");

  error = run_job(loop, [&](core::JobDone done) {
    control.stop("tails-server-infinoted.service", std::move(done));
  });
  CHECK_MESSAGE(!error, message(error));
}
