// The real tails-server CLI driving the real tails-serverd on a private
// system bus, as root and as user nobody.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "bus_harness.h"

#include <doctest/doctest.h>
#include <tails_server/version.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <sstream>
#include <thread>

using namespace tails_server::test;

namespace {

// Details for a failed check: what the CLI printed and the daemon's log.
std::string explain(const RunResult& result, const BusHarness& harness) {
  return "exit " + std::to_string(result.exit_code) + "\nstdout:\n" + result.out + "\nstderr:\n" + result.err +
         "\ndaemon log:\n" + harness.daemon_log();
}

std::size_t lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) result.push_back(line);
  return result;
}

// A service whose packages this machine has already, so that installing it
// runs no apt-get (only the plugin's steps, in the harness's root); empty if
// there is none.
std::string installed_service(BusHarness& harness) {
  RunResult list = harness.cli({"--json", "list"});
  REQUIRE(list.exit_code == exit_code::ok);
  nlohmann::json services = nlohmann::json::parse(list.out);
  for (std::string service : {"mumble", "nginx", "prosody", "gobby"})
    if (services.contains(service) && services[service]["installed"] == true) return service;
  return "";
}

}  // namespace

TEST_CASE("list shows the bundled service plugins") {
  BusHarness harness;
  harness.start_daemon();
  RunResult result = harness.cli({"list"});
  INFO(explain(result, harness));
  REQUIRE(result.exit_code == exit_code::ok);
  YAML::Node list = YAML::Load(result.out);
  for (std::string service : {"mumble", "prosody", "gobby", "nginx", "dokuwiki", "icecast", "chat", "ssh"}) {
    CAPTURE(service);
    REQUIRE(list[service]);
    CHECK(list[service]["installed"].IsScalar());
    CHECK(list[service]["running"].IsScalar());
    CHECK(list[service]["published"].IsScalar());
    CHECK_FALSE(list[service]["state"].as<std::string>().empty());
  }
}

TEST_CASE("list --all also shows each plugin file") {
  BusHarness harness;
  harness.start_daemon();
  RunResult result = harness.cli({"list", "--all"});
  INFO(explain(result, harness));
  REQUIRE(result.exit_code == exit_code::ok);
  YAML::Node list = YAML::Load(result.out);
  REQUIRE(list["mumble"]);
  CHECK(list["mumble"]["plugin"].as<std::string>() == std::string(TAILS_SERVER_PLUGIN_OUTPUT_DIR) + "/mumble.so");
  // The SDK version each plugin was built against.
  for (const char* service : {"mumble", "prosody", "gobby", "nginx", "dokuwiki", "icecast", "chat", "ssh"})
    CHECK(list[service]["sdk-version"].as<std::string>() ==
          std::to_string(TAILS_SERVER_API_MAJOR) + "." + std::to_string(TAILS_SERVER_API_MINOR));
}

TEST_CASE("info prints YAML with the service's keys and masks the password") {
  BusHarness harness;
  harness.start_daemon();
  RunResult result = harness.cli({"info", "mumble"});
  INFO(explain(result, harness));
  REQUIRE(result.exit_code == exit_code::ok);
  YAML::Node info = YAML::Load(result.out)["mumble"];
  REQUIRE(info.IsMap());
  for (std::string key : {"description", "installed", "running", "published", "address", "local-port",
                          "virtual-port", "persistent-paths", "options"}) {
    CAPTURE(key);
    CHECK(info[key]);
  }
  CHECK(info["address"].IsNull());
  CHECK(info["local-port"].as<int>() == 64738);
  CHECK(info["persistent-paths"].IsSequence());
  CHECK(info["options"]["server-password"].as<std::string>() == "********");
  CHECK(info["options"]["local-port"].as<int>() == 64738);

  RunResult details = harness.cli({"info", "mumble", "--details"});
  INFO(explain(details, harness));
  REQUIRE(details.exit_code == exit_code::ok);
  YAML::Node more = YAML::Load(details.out)["mumble"];
  for (std::string key : {"client-application", "documentation", "packages", "unit", "commands"}) {
    CAPTURE(key);
    CHECK(more[key]);
  }
  YAML::Node password = more["options"]["server-password"];
  CHECK(password["value"].as<std::string>() == "********");
  CHECK(password["type"].as<std::string>() == "secret");
  CHECK(password["secret"].as<bool>());
  CHECK_FALSE(password["accepted"].as<std::string>().empty());
}

TEST_CASE("set-option refuses a bad value and names the option and what is accepted") {
  BusHarness harness;
  harness.start_daemon();
  RunResult result = harness.cli({"set-option", "mumble", "local-port", "99999"});
  INFO(explain(result, harness));
  CHECK(result.exit_code == exit_code::invalid_value);
  CHECK(result.out.empty());
  CHECK(lines(result.err) == 1);
  CHECK(result.err.rfind("tails-server: ", 0) == 0);
  CHECK(result.err.find("local-port") != std::string::npos);
  CHECK(result.err.find("65535") != std::string::npos);
}

TEST_CASE("an option set through the CLI survives a restart of the daemon") {
  BusHarness harness;
  harness.start_daemon();
  RunResult set = harness.cli({"set-option", "mumble", "virtual-port", "8064"});
  INFO(explain(set, harness));
  REQUIRE(set.exit_code == exit_code::ok);
  CHECK(YAML::Load(set.out)["virtual-port"].as<int>() == 8064);

  CHECK(harness.stop_daemon() == 0);  // SIGTERM ends it cleanly
  RunResult down = harness.cli({"get-option", "mumble", "virtual-port"});
  CHECK(down.exit_code == exit_code::unreachable);

  harness.start_daemon();
  RunResult get = harness.cli({"get-option", "mumble", "virtual-port"});
  INFO(explain(get, harness));
  REQUIRE(get.exit_code == exit_code::ok);
  CHECK(YAML::Load(get.out)["virtual-port"].as<int>() == 8064);
}

TEST_CASE("a secret set from standard input is never echoed and reads back for root") {
  BusHarness harness;
  harness.start_daemon();
  RunResult set = harness.cli({"set-option", "mumble", "server-password"}, "correct horse battery\n");
  INFO(explain(set, harness));
  REQUIRE(set.exit_code == exit_code::ok);
  CHECK(set.out.find("correct horse") == std::string::npos);
  CHECK(YAML::Load(set.out)["server-password"].as<std::string>() == "********");
  RunResult get = harness.cli({"get-option", "mumble", "server-password"});
  REQUIRE(get.exit_code == exit_code::ok);
  CHECK(YAML::Load(get.out)["server-password"].as<std::string>() == "correct horse battery");
  CHECK(harness.daemon_log().find("correct horse") == std::string::npos);
}

TEST_CASE("a value of several lines from standard input arrives whole") {
  BusHarness harness;
  harness.start_daemon();
  RunResult set = harness.cli({"set-option", "mumble", "welcome-message"}, "<b>Welcome</b>\nsecond line\n");
  INFO(explain(set, harness));
  REQUIRE(set.exit_code == exit_code::ok);
  RunResult get = harness.cli({"get-option", "mumble", "welcome-message", "--json"});
  REQUIRE(get.exit_code == exit_code::ok);
  CHECK(nlohmann::json::parse(get.out)["welcome-message"] == "<b>Welcome</b>\nsecond line");
}

TEST_CASE("a value that is not UTF-8 text is refused as an invalid value (6) naming what is accepted") {
  BusHarness harness;
  harness.start_daemon();
  RunResult result = harness.cli({"set-option", "mumble", "welcome-message", "caf\xe9"});
  INFO(explain(result, harness));
  CHECK(result.exit_code == exit_code::invalid_value);
  CHECK(result.err.find("UTF-8") != std::string::npos);
}

TEST_CASE("a caller who is not root may read but not change options or read secrets") {
  BusHarness harness;
  harness.start_daemon();

  RunResult list = harness.cli_as_nobody({"list"});
  INFO(explain(list, harness));
  CHECK(list.exit_code == exit_code::ok);
  RunResult info = harness.cli_as_nobody({"info", "mumble"});
  CHECK(info.exit_code == exit_code::ok);
  CHECK(YAML::Load(info.out)["mumble"]["options"]["server-password"].as<std::string>() == "********");
  RunResult plain = harness.cli_as_nobody({"get-option", "mumble", "local-port"});
  CHECK(plain.exit_code == exit_code::ok);

  for (const auto& args : std::vector<std::vector<std::string>>{
           {"set-option", "mumble", "local-port", "6000"},
           {"get-option", "mumble", "server-password"},
           {"reset-option", "mumble", "server-password"},
           {"connection-info", "mumble"}}) {
    RunResult refused = harness.cli_as_nobody(args);
    INFO((args[0] + "\n" + explain(refused, harness)));
    CHECK(refused.exit_code == exit_code::access_denied);
    CHECK(refused.out.empty());
    CHECK(lines(refused.err) == 1);
    CHECK(refused.err.find("needs root or polkit authorization for org.boum.tails.server.manage") !=
          std::string::npos);
  }
  // Nothing changed.
  RunResult port = harness.cli({"get-option", "mumble", "local-port"});
  CHECK(YAML::Load(port.out)["local-port"].as<int>() == 64738);
}

TEST_CASE("an unknown service or option gives its own exit code and one line") {
  BusHarness harness;
  harness.start_daemon();
  RunResult service = harness.cli({"info", "no-such-thing"});
  INFO(explain(service, harness));
  CHECK(service.exit_code == exit_code::no_such_service);
  CHECK(lines(service.err) == 1);
  CHECK(service.err.find("no-such-thing") != std::string::npos);
  RunResult option = harness.cli({"get-option", "mumble", "no-such-option"});
  CHECK(option.exit_code == exit_code::no_such_option);
  CHECK(option.err.find("no-such-option") != std::string::npos);
}

TEST_CASE("without a daemon the CLI prints one line and exits 3") {
  BusHarness harness;  // the bus, but no tails-serverd on it
  RunResult result = harness.cli({"list"});
  CHECK(result.exit_code == exit_code::unreachable);
  CHECK(result.out.empty());
  CHECK(lines(result.err) == 1);
  CHECK(result.err.find("cannot reach tails-serverd on the system bus") != std::string::npos);
  CHECK(result.err.find("sudo systemctl start tails-serverd") != std::string::npos);

  // No bus at all.
  std::vector<std::string> argv{TAILS_SERVER_CLI, "list"};
  RunResult no_bus = run(argv, {"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + (harness.dir() / "none").string()}, "",
                         harness.dir().path());
  CHECK(no_bus.exit_code == exit_code::unreachable);
  CHECK(lines(no_bus.err) == 1);
}

TEST_CASE("--json output parses as JSON") {
  BusHarness harness;
  harness.start_daemon();
  for (const auto& args : std::vector<std::vector<std::string>>{{"--json", "list"},
                                                                {"list", "--all", "--json"},
                                                                {"--json", "info", "mumble", "--details"},
                                                                {"--json", "status", "mumble"}}) {
    RunResult result = harness.cli(args);
    INFO((args[1] + "\n" + explain(result, harness)));
    REQUIRE(result.exit_code == exit_code::ok);
    nlohmann::json parsed = nlohmann::json::parse(result.out);
    CHECK(parsed.is_object());
  }
  nlohmann::json info = nlohmann::json::parse(harness.cli({"--json", "info", "mumble"}).out);
  CHECK(info["mumble"]["options"]["server-password"] == "********");
  CHECK(info["mumble"]["installed"].is_boolean());
  CHECK(info["mumble"]["virtual-port"].is_number_integer());
  CHECK(info["mumble"]["options"]["virtual-port"].is_number_integer());
  RunResult connection = harness.cli({"--json", "connection-info", "mumble"});
  INFO(explain(connection, harness));
  REQUIRE(connection.exit_code == exit_code::ok);
  nlohmann::json fields = nlohmann::json::parse(connection.out)["mumble"];
  CHECK(fields["port"].is_number_integer());  // as in info, not "64738"
  CHECK(fields["instructions"].is_string());
}

TEST_CASE("usage errors exit 2 and --help documents the exit codes") {
  BusHarness harness;
  RunResult bad = harness.cli({"frobnicate"});
  CHECK(bad.exit_code == exit_code::usage);
  CHECK(lines(bad.err) == 1);
  RunResult missing = harness.cli({"set-option", "mumble"});
  CHECK(missing.exit_code == exit_code::usage);
  // Each flag goes with the verbs of the table that take it, and says which.
  for (const auto& [args, text] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"list", "--details"}, "--details goes with info only"},
           {{"status", "mumble", "--all"}, "--all goes with list only"},
           {{"info", "mumble", "--yes"}, "--yes goes with uninstall only"},
           {{"status", "mumble", "--qr"}, "--qr goes with connection-info only"},
           {{"connection-info", "mumble", "--dark-terminal"}, "--dark-terminal goes with connection-info --qr only"}}) {
    RunResult misplaced = harness.cli(args);
    CAPTURE(text);
    CHECK(misplaced.exit_code == exit_code::usage);
    CHECK(misplaced.err.find(text) != std::string::npos);
  }
  RunResult help = harness.cli({"--help"});
  CHECK(help.exit_code == exit_code::ok);
  for (std::string text : {"Exit status", "3  tails-serverd cannot be reached", "7  access denied", "9  busy",
                           "10  the service is not installed", "install SVC", "enable SVC", "disable SVC",
                           "uninstall SVC [--yes]", "monitor [SVC]", "11  no such client",
                           "client add|remove|list SVC [NAME]", "import-key SVC FILE",
                           "connection-info SVC [--qr"}) {
    CAPTURE(text);
    CHECK(help.out.find(text) != std::string::npos);
  }
}

TEST_CASE("with the shipped D-Bus policy anyone may call the daemon and it alone decides") {
  BusHarness harness(BusPolicy::Shipped);
  harness.start_daemon();  // root may own org.boum.tails.Server
  RunResult list = harness.cli_as_nobody({"list"});
  INFO(explain(list, harness));
  CHECK(list.exit_code == exit_code::ok);
  RunResult info = harness.cli_as_nobody({"--json", "info", "mumble"});
  CHECK(info.exit_code == exit_code::ok);
  RunResult set = harness.cli_as_nobody({"set-option", "mumble", "local-port", "6000"});
  CHECK(set.exit_code == exit_code::access_denied);
  CHECK(set.err.find("org.boum.tails.server.manage") != std::string::npos);
  RunResult root = harness.cli({"set-option", "mumble", "local-port", "6000"});
  CHECK(root.exit_code == exit_code::ok);
}

TEST_CASE("status shows the state and whether the service is enabled") {
  BusHarness harness;
  harness.start_daemon();
  RunResult result = harness.cli({"status", "mumble"});
  INFO(explain(result, harness));
  REQUIRE(result.exit_code == exit_code::ok);
  YAML::Node status = YAML::Load(result.out)["mumble"];
  for (std::string key : {"state", "installed", "running", "published", "enabled", "address"}) {
    CAPTURE(key);
    CHECK(status[key]);
  }
  CHECK_FALSE(status["enabled"].as<bool>());  // nothing was enabled on this bus
  std::string state = status["state"].as<std::string>();
  CHECK((state == "not-installed" || state == "stopped"));
  nlohmann::json info = nlohmann::json::parse(harness.cli({"--json", "info", "mumble"}).out);
  CHECK(info["mumble"]["state"] == state);
  CHECK(info["mumble"]["enabled"] == false);
}

TEST_CASE("install and enable and disable and uninstall of an unknown service exit 4 with one line") {
  BusHarness harness;
  harness.start_daemon();
  for (const auto& args : std::vector<std::vector<std::string>>{{"install", "no-such-thing"},
                                                                {"enable", "no-such-thing"},
                                                                {"disable", "no-such-thing"},
                                                                {"uninstall", "no-such-thing", "--yes"},
                                                                {"monitor", "no-such-thing"}}) {
    RunResult result = harness.cli(args);
    INFO((args[0] + "\n" + explain(result, harness)));
    CHECK(result.exit_code == exit_code::no_such_service);
    CHECK(result.out.empty());
    CHECK(lines(result.err) == 1);
    CHECK(result.err.rfind("tails-server: ", 0) == 0);
    CHECK(result.err.find("no-such-thing") != std::string::npos);
  }
}

TEST_CASE("a caller who is not root may not install or enable or disable or uninstall") {
  BusHarness harness;
  harness.start_daemon();
  std::string before = harness.cli({"--json", "status", "mumble"}).out;
  for (const auto& args : std::vector<std::vector<std::string>>{{"install", "mumble"},
                                                                {"enable", "mumble"},
                                                                {"disable", "mumble"},
                                                                {"uninstall", "mumble", "--yes"}}) {
    RunResult refused = harness.cli_as_nobody(args);
    INFO((args[0] + "\n" + explain(refused, harness)));
    CHECK(refused.exit_code == exit_code::access_denied);
    CHECK(refused.out.empty());
    CHECK(lines(refused.err) == 1);
    CHECK(refused.err.find("needs root or polkit authorization for org.boum.tails.server.manage") !=
          std::string::npos);
    CHECK(refused.err.find("mumble") != std::string::npos);
  }
  CHECK(harness.cli({"--json", "status", "mumble"}).out == before);
  CHECK(harness.daemon_log().find("installing mumble") == std::string::npos);
}

TEST_CASE("uninstall without --yes and without a terminal is a usage error that says to pass --yes") {
  BusHarness harness;
  harness.start_daemon();
  std::string before = harness.cli({"--json", "status", "mumble"}).out;
  RunResult result = harness.cli({"uninstall", "mumble"}, "y\n");  // standard input is a file
  INFO(explain(result, harness));
  CHECK(result.exit_code == exit_code::usage);
  CHECK(result.out.empty());
  CHECK(lines(result.err) == 1);
  CHECK(result.err.find("--yes") != std::string::npos);
  CHECK(harness.cli({"--json", "status", "mumble"}).out == before);
  CHECK(harness.daemon_log().find("uninstalling") == std::string::npos);
  // --yes belongs to uninstall only.
  CHECK(harness.cli({"install", "mumble", "--yes"}).exit_code == exit_code::usage);
}

TEST_CASE("monitor prints one line per StateChanged and install reports progress and a summary") {
  BusHarness harness;
  harness.start_daemon();
  std::string service = installed_service(harness);
  if (service.empty()) {
    MESSAGE("skipped: no service's packages are installed here, and this test never runs apt-get");
    return;
  }
  CAPTURE(service);
  auto text = harness.dir() / "monitor.out";
  auto json = harness.dir() / "monitor.json";
  auto one = harness.dir() / "monitor-one.out";
  // Anyone may monitor.
  auto monitor = harness.cli_in_background({"monitor"}, text, harness.dir() / "monitor.err", true);
  auto monitor_json = harness.cli_in_background({"--json", "monitor"}, json, harness.dir() / "monitor-json.err");
  auto monitor_other = harness.cli_in_background({"monitor", service == "mumble" ? "nginx" : "mumble"}, one,
                                                 harness.dir() / "monitor-one.err");

  // The monitors subscribe as they start: install until both saw it.
  RunResult install;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    install = harness.cli({"install", service});
    INFO(explain(install, harness));
    REQUIRE(install.exit_code == exit_code::ok);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while ((read_file(text).find(service + ": installing") == std::string::npos ||
            read_file(json).find("\"installing\"") == std::string::npos) &&
           std::chrono::steady_clock::now() < deadline);

  // install: plain progress lines (standard output is no terminal), then the summary.
  INFO(explain(install, harness));
  std::vector<std::string> out = split_lines(install.out);
  REQUIRE_FALSE(out.empty());
  CHECK(out.back() == service + ": installed");
  CHECK(install.err.empty());
  CHECK(install.out.find('\r') == std::string::npos);
  CHECK(install.out.find(service + ": installing") != std::string::npos);

  // --json install prints the status afterwards, and no progress.
  RunResult install_json = harness.cli({"--json", "install", service});
  REQUIRE(install_json.exit_code == exit_code::ok);
  nlohmann::json status = nlohmann::json::parse(install_json.out);
  CHECK(status[service]["installed"] == true);

  CHECK(monitor->stop(SIGINT, std::chrono::seconds(5)) == exit_code::ok);
  CHECK(monitor_json->stop(SIGTERM, std::chrono::seconds(5)) == exit_code::ok);
  CHECK(monitor_other->stop(SIGINT, std::chrono::seconds(5)) == exit_code::ok);

  std::vector<std::string> printed = split_lines(read_file(text));
  INFO((std::string("monitor printed:\n") + read_file(text) + "\nmonitor errors:\n" +
        read_file(harness.dir() / "monitor.err")));
  REQUIRE_FALSE(printed.empty());
  for (const auto& line : printed) {
    CAPTURE(line);
    CHECK(line.rfind(service + ": ", 0) == 0);
  }
  CHECK(std::any_of(printed.begin(), printed.end(),
                    [&](const std::string& line) { return line.rfind(service + ": installing", 0) == 0; }));

  std::vector<std::string> objects = split_lines(read_file(json));
  REQUIRE_FALSE(objects.empty());
  for (const auto& line : objects) {
    CAPTURE(line);
    nlohmann::json change = nlohmann::json::parse(line);
    CHECK(change["service"] == service);
    CHECK(change["state"].is_string());
    CHECK((change["percent"].is_null() || change["percent"].is_number_integer()));
    CHECK(change["message"].is_string());
  }
  // A monitor of another service saw nothing.
  CHECK(read_file(one).empty());
}

TEST_CASE("enable without systemd fails with one line and leaves the service disabled") {
  BusHarness harness;
  harness.start_daemon();
  std::string service = installed_service(harness);
  if (service.empty()) {
    MESSAGE("skipped: no service's packages are installed here");
    return;
  }
  CAPTURE(service);
  RunResult enable = harness.cli({"enable", service});
  INFO(explain(enable, harness));
  CHECK(enable.exit_code == exit_code::failed);
  CHECK(lines(enable.err) == 1);
  CHECK(enable.err.rfind("tails-server: ", 0) == 0);
  YAML::Node status = YAML::Load(harness.cli({"status", service}).out)[service];
  CHECK_FALSE(status["enabled"].as<bool>());
  CHECK_FALSE(status["running"].as<bool>());
}

TEST_CASE("monitor without a daemon exits 3") {
  BusHarness harness;
  RunResult result = harness.cli({"monitor"});
  CHECK(result.exit_code == exit_code::unreachable);
  CHECK(lines(result.err) == 1);
  RunResult install = harness.cli({"install", "mumble"});
  CHECK(install.exit_code == exit_code::unreachable);
  CHECK(lines(install.err) == 1);
}
