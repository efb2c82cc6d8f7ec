#include "bus_harness.h"

#include <systemd/sd-bus.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace tails_server::test {
namespace {

constexpr const char* bus_config = R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=@SOCKET@</listen>
  <auth>EXTERNAL</auth>
@POLICY@
</busconfig>
)";

constexpr const char* permissive_policy = R"(  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>)";

// The default policy of Debian's /usr/share/dbus-1/system.conf.
constexpr const char* system_policy = R"(  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>)" TAILS_SERVER_SOURCE_DIR R"(/data/org.boum.tails.Server.conf</include>)";

void replace(std::string& text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
}

template <class Ready>
bool wait_until(Ready ready, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ready();
}

}  // namespace

BusHarness::BusHarness(BusPolicy policy) {
  std::string config = bus_config;
  replace(config, "@SOCKET@", (dir_ / "bus").string());
  replace(config, "@POLICY@", policy == BusPolicy::Shipped ? system_policy : permissive_policy);
  std::ofstream(dir_ / "bus.conf") << config;
  std::ofstream(dir_ / "config.yaml") << "plugin_dirs: [" << TAILS_SERVER_PLUGIN_OUTPUT_DIR << "]\n"
                                      << "root: " << (dir_ / "root").string() << "\n"
                                      << "state_dir: " << (dir_ / "state").string() << "\n";
  std::filesystem::create_directories(dir_ / "root");

  bus_ = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/dbus-daemon", "--config-file=" + (dir_ / "bus.conf").string(),
                               "--print-address", "--nofork"},
      SpawnOptions{{}, {}, dir_ / "bus.address", dir_ / "bus.log"});
  // dbus-daemon prints its address once it listens.
  if (!wait_until([&] { return read_file(dir_ / "bus.address").find('\n') != std::string::npos; },
                  std::chrono::seconds(10)))
    throw std::runtime_error("dbus-daemon did not start: " + read_file(dir_ / "bus.log"));
}

BusHarness::~BusHarness() {
  daemon_.reset();
  bus_.reset();
}

bool BusHarness::name_has_owner() {
  sd_bus* bus = nullptr;
  if (sd_bus_new(&bus) < 0) return false;
  bool owned = false;
  if (sd_bus_set_address(bus, bus_address().c_str()) >= 0 && sd_bus_set_bus_client(bus, 1) >= 0 &&
      sd_bus_start(bus) >= 0) {
    sd_bus_message* reply = nullptr;
    if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "NameHasOwner", nullptr, &reply, "s", "org.boum.tails.Server") >= 0) {
      int has = 0;
      owned = sd_bus_message_read(reply, "b", &has) >= 0 && has;
      sd_bus_message_unref(reply);
    }
  }
  sd_bus_flush_close_unref(bus);
  return owned;
}

void BusHarness::start_daemon() {
  daemon_.reset();
  daemon_ = std::make_unique<Process>(
      std::vector<std::string>{TAILS_SERVERD, "--config", (dir_ / "config.yaml").string()},
      SpawnOptions{{"DBUS_SYSTEM_BUS_ADDRESS=" + bus_address()}, {}, {}, dir_ / "daemon.log"});
  if (!wait_until([&] { return daemon_->poll() || name_has_owner(); }, std::chrono::seconds(10)) ||
      daemon_->poll())
    throw std::runtime_error("tails-serverd did not come up; its log:\n" + daemon_log());
}

int BusHarness::stop_daemon() {
  if (!daemon_) return -1;
  auto status = daemon_->stop(SIGTERM, std::chrono::seconds(10));
  daemon_.reset();
  return status ? *status : -1;
}

std::string BusHarness::daemon_log() const { return read_file(dir_ / "daemon.log"); }

RunResult BusHarness::cli(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv{TAILS_SERVER_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {"DBUS_SYSTEM_BUS_ADDRESS=" + bus_address()}, input, dir_.path());
}

RunResult BusHarness::cli_as_nobody(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv{"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                TAILS_SERVER_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {"DBUS_SYSTEM_BUS_ADDRESS=" + bus_address()}, input, dir_.path());
}

std::unique_ptr<Process> BusHarness::cli_in_background(const std::vector<std::string>& args,
                                                      const std::filesystem::path& stdout_file,
                                                      const std::filesystem::path& stderr_file, bool as_nobody) {
  std::vector<std::string> argv;
  if (as_nobody) argv = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"};
  argv.push_back(TAILS_SERVER_CLI);
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<Process>(argv,
                                   SpawnOptions{{"DBUS_SYSTEM_BUS_ADDRESS=" + bus_address()}, {}, stdout_file, stderr_file});
}

}  // namespace tails_server::test
