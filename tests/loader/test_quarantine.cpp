// Plugins that crash the process: each costs one crash, after which the next
// loader (the restarted daemon) finds the crash record, puts the plugin
// aside as "crashed" with the step it died in, and loads the others. The
// crashing fixtures run in a child process, as the daemon would die.
#include "loader_test_support.h"

#include "host/system_host.h"
#include "services/service_manager.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>

using tails_server::core::Quarantine;

namespace {

// Runs `work` in a child process; returns the signal that ended it, or 0 if
// it exited.
int signal_ending(const std::function<void()>& work) {
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Die as the daemon would, not through doctest's crash report.
    for (int fatal : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE}) std::signal(fatal, SIG_DFL);
    work();
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

fs::path copy_crashing(const std::string& fixture, const fs::path& directory, const std::string& as = {}) {
  return copy_fixture("crashing/" + fixture, directory, as.empty() ? fixture : as);
}

const PluginRecord& record_of(const PluginLoader& loader, const std::string& file_name) {
  for (const auto& record : loader.records())
    if (record.file.filename() == file_name) return record;
  FAIL("no record for " << file_name);
  throw std::logic_error("unreachable");
}

// A plugin directory and a runtime directory, loaded like a daemon start.
struct Restarts {
  TempDir plugins{"tails-server-loader-test"};
  TempDir runtime{"tails-server-runtime-test"};

  // A daemon start that is expected to die: the signal it died of.
  int crashing_start() {
    return signal_ending([&] {
      Quarantine quarantine(runtime.path());
      PluginLoader loader(&quarantine);
      loader.load({plugins.path()});
    });
  }
};

}  // namespace

TEST_CASE("a plugin whose initializer faults costs one crash and is then put aside while the others load") {
  Restarts daemon;
  copy_fixture("good.so", daemon.plugins.path());
  fs::path bad = copy_crashing("fault-in-initializer.so", daemon.plugins.path());
  CHECK(daemon.crashing_start() == SIGSEGV);
  // The restarted daemon, and any later start: no crash, the others load.
  CHECK(daemon.crashing_start() == 0);
  Quarantine quarantine(daemon.runtime.path());
  PluginLoader loader(&quarantine);
  loader.load({daemon.plugins.path()});
  check_refused(record_of(loader, "fault-in-initializer.so"), PluginState::Crashed,
                {"tails-serverd died while running its load step", "put aside",
                 "tails-server plugin retry fault-in-initializer.so", "journalctl -u tails-serverd"});
  CHECK(record_of(loader, "fault-in-initializer.so").name.empty());
  CHECK(record_of(loader, "good.so").state == PluginState::Loaded);
  CHECK_FALSE(is_resident(bad));
}

TEST_CASE("a plugin whose factory faults is put aside naming its create step and its name") {
  Restarts daemon;
  copy_fixture("good.so", daemon.plugins.path());
  copy_crashing("fault-in-factory.so", daemon.plugins.path());
  CHECK(daemon.crashing_start() == SIGSEGV);
  Quarantine quarantine(daemon.runtime.path());
  PluginLoader loader(&quarantine);
  loader.load({daemon.plugins.path()});
  const PluginRecord& crashed = record_of(loader, "fault-in-factory.so");
  check_refused(crashed, PluginState::Crashed, {"its create step", "tails-server plugin retry fault-in-factory"});
  CHECK(crashed.name == "fault-in-factory");
  CHECK(record_of(loader, "good.so").state == PluginState::Loaded);
}

TEST_CASE("a crashed plugin is tried again when its file changes") {
  Restarts daemon;
  copy_crashing("fault-in-factory.so", daemon.plugins.path(), "plugin.so");
  CHECK(daemon.crashing_start() == SIGSEGV);
  {
    Quarantine quarantine(daemon.runtime.path());
    PluginLoader loader(&quarantine);
    CHECK(loader.load({daemon.plugins.path()}).at(0).state == PluginState::Crashed);
  }
  // A new version: another file under the same name.
  fs::path replacement = copy_fixture("good.so", daemon.plugins.path(), "plugin.tmp");
  fs::rename(replacement, daemon.plugins / "plugin.so");
  Quarantine quarantine(daemon.runtime.path());
  PluginLoader loader(&quarantine);
  const PluginRecord& record = loader.load({daemon.plugins.path()}).at(0);
  INFO(record.message);
  CHECK(record.state == PluginState::Loaded);
  CHECK(quarantine.crashes().empty());
}

TEST_CASE("retrying a crashed plugin loads it again and a second crash puts it aside again") {
  Restarts daemon;
  copy_crashing("fault-in-factory.so", daemon.plugins.path());
  CHECK(daemon.crashing_start() == SIGSEGV);
  int signal = signal_ending([&] {
    Quarantine quarantine(daemon.runtime.path());
    PluginLoader loader(&quarantine);
    loader.load({daemon.plugins.path()});
    if (loader.records().at(0).state != PluginState::Crashed) ::_exit(3);
    if (!quarantine.forget("fault-in-factory")) ::_exit(4);
    loader.reload(loader.records().at(0).file);  // dies
  });
  CHECK(signal == SIGSEGV);
  Quarantine quarantine(daemon.runtime.path());
  PluginLoader loader(&quarantine);
  check_refused(loader.load({daemon.plugins.path()}).at(0), PluginState::Crashed, {"its create step"});
  CHECK_FALSE(quarantine.forget("no-such-plugin"));
}

TEST_CASE("a plugin whose configure hook aborts is put aside with that step while the others keep serving") {
  Restarts daemon;
  TempDir root("tails-server-root-test");
  tails_server::core::SystemHost host(root.path());
  tails_server::core::DaemonConfig config;
  config.plugin_dirs = {daemon.plugins.path()};
  config.root = root.path();
  config.state_dir = root / "state";
  config.runtime_dir = daemon.runtime.path();
  copy_fixture("good.so", daemon.plugins.path());
  copy_crashing("abort-in-configure.so", daemon.plugins.path());

  int signal = signal_ending([&] {
    tails_server::core::ServiceManager manager(config, host);
    manager.configure("abort-in-configure");
  });
  CHECK(signal == SIGABRT);

  tails_server::core::ServiceManager manager(config, host);
  CHECK(manager.service_names() == std::vector<std::string>{"good"});
  const PluginRecord* crashed = nullptr;
  for (const auto& record : manager.plugins())
    if (record.file.filename() == "abort-in-configure.so") crashed = &record;
  REQUIRE(crashed);
  check_refused(*crashed, PluginState::Crashed,
                {"its configure step", "tails-server plugin retry abort-in-configure"});
  CHECK(crashed->name == "abort-in-configure");

  // An administrator's retry loads it: it crashes only when configured.
  const PluginRecord& retried = manager.retry_plugin("abort-in-configure");
  CHECK(retried.state == PluginState::Loaded);
  CHECK(manager.service_names() == std::vector<std::string>{"good", "abort-in-configure"});
}

TEST_CASE("the service of a crashed plugin stays known as crashed with its step and its files only read") {
  Restarts daemon;
  TempDir root("tails-server-root-test");
  tails_server::core::SystemHost host(root.path());
  tails_server::core::DaemonConfig config;
  config.plugin_dirs = {daemon.plugins.path()};
  config.root = root.path();
  config.state_dir = root / "state";
  config.runtime_dir = daemon.runtime.path();
  copy_fixture("good.so", daemon.plugins.path());
  copy_crashing("abort-in-configure.so", daemon.plugins.path());

  std::string address;
  {
    tails_server::core::ServiceManager manager(config, host);
    address = manager.ensure_onion_key("abort-in-configure");
    manager.set_enabled("abort-in-configure", true);
    CHECK(manager.crashed_services().empty());
  }
  CHECK(signal_ending([&] {
          tails_server::core::ServiceManager manager(config, host);
          manager.configure("abort-in-configure");
        }) == SIGABRT);

  tails_server::core::ServiceManager manager(config, host);
  auto crashed = manager.crashed_services();
  REQUIRE(crashed.size() == 1);
  CHECK(crashed[0].name == "abort-in-configure");
  CHECK(crashed[0].step == "configure");
  CHECK(crashed[0].enabled);
  CHECK(crashed[0].address == address);
  CHECK(crashed[0].message.find("tails-server plugin retry abort-in-configure") != std::string::npos);
  CHECK_FALSE(manager.crashed_service("good"));
  // Every call on it says why it is not served, not only that it is unknown.
  CHECK_THROWS_WITH_AS(manager.info("abort-in-configure"),
                       doctest::Contains("is not served: its plugin is put aside after a crash"),
                       tails_server::core::ServiceError);

  manager.retry_plugin("abort-in-configure");
  CHECK(manager.crashed_services().empty());
  CHECK(manager.enabled("abort-in-configure"));
}
